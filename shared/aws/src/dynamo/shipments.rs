//! [`DynamoShipmentStore`]: recorded shipments in ShipmentsTable and the `ByState` listing.
//!
//! ShipmentsTable (`pk`, `sk`; index [`SHIPMENTS_BY_STATE_INDEX`] on `gsi1pk`, `gsi1sk`):
//!
//! | `pk` | `sk` | `gsi1pk` | `gsi1sk` | Other attributes |
//! |---|---|---|---|---|
//! | `SELLER#<seller>` | `SHIPMENT#<order id>#<shipment id>` | `<seller>#<state name>` | `<revised at, UTC, yyyy-mm-ddThh:mm:ss.nnnnnnnnnZ>#<order id>#<shipment id>` | `amazon_order_id`, `shipment_id`, `marketplace_id`, `state`, `revision`, `version`, `recorded_at`, `revised_at`, `body` |
//!
//! The state index moves with the shipment: every write recomputes `gsi1pk` from the state, so
//! a shipment is listed under its current state only. The tracking number is in `body` alone,
//! never in a top-level attribute.

use async_trait::async_trait;
use spsync_domain::{AmazonOrderId, SellerId, Shipment};
use spsync_workflow::{ShipmentStore, StoreError};
use tracing::instrument;

use super::item::{
    decode_page_token, encode_page_token, key, order_shipments_prefix, s, shipment_from_item,
    shipment_item, shipment_pk, shipment_sk, shipment_state_pk, versioned,
};
use crate::error::store_error;

/// Name of the ShipmentsTable index listing a seller's shipments in a state, oldest revision
/// first.
pub const SHIPMENTS_BY_STATE_INDEX: &str = "ByState";

/// Largest page `shipments_in_state` asks for.
const MAX_PAGE: usize = 1000;

/// The attributes of a `ByState` LastEvaluatedKey: the table's key and the index's.
const PAGE_KEY_ATTRIBUTES: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];

/// ShipmentsTable adapter: implements [`ShipmentStore`].
///
/// Creating a shipment requires it to be absent, replacing one requires the stored version.
/// Reads by key and by order are strongly consistent; the `ByState` listing reads the index,
/// which DynamoDB keeps eventually consistent (a shipment just written may show a moment
/// later, or still under its previous state).
#[derive(Debug, Clone)]
pub struct DynamoShipmentStore {
    /// DynamoDB client.
    pub client: aws_sdk_dynamodb::Client,
    /// ShipmentsTable's name.
    pub table: String,
}

impl DynamoShipmentStore {
    /// An adapter over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl ShipmentStore for DynamoShipmentStore {
    #[instrument(skip_all, fields(operation = "GetItem", seller_id = %seller, amazon_order_id = %order, shipment_id = %shipment_id))]
    async fn get_shipment(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
        shipment_id: &str,
    ) -> Result<Option<Shipment>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                shipment_pk(seller),
                shipment_sk(order, shipment_id),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", format!("shipment {order}/{shipment_id}"), e))?;
        out.item
            .map(|i| shipment_from_item("GetItem", &i))
            .transpose()
    }

    /// Every page of the order's sort-key range, by shipment id.
    #[instrument(skip_all, fields(operation = "Query", seller_id = %seller, amazon_order_id = %order))]
    async fn shipments_of_order(
        &self,
        seller: &SellerId,
        order: &AmazonOrderId,
    ) -> Result<Vec<Shipment>, StoreError> {
        let mut shipments = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(shipment_pk(seller)))
                .expression_attribute_values(":prefix", s(order_shipments_prefix(order)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", format!("shipments of order {order}"), e))?;
            for item in out.items() {
                shipments.push(shipment_from_item("Query", item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(shipments);
            }
        }
    }

    #[instrument(skip_all, fields(operation = "PutItem", seller_id = %shipment.seller_id, shipment_ref = %shipment.reference(), state = shipment.state.name(), version = shipment.version))]
    async fn put_shipment(
        &self,
        shipment: &Shipment,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(shipment_item(shipment)?));
        versioned(request, expected_version)
            .send()
            .await
            .map_err(|e| store_error("PutItem", format!("shipment {}", shipment.reference()), e))?;
        Ok(())
    }

    /// A page of at most `limit` shipments (1 to 1000) by revision time, oldest first. The
    /// page token is the JSON of DynamoDB's LastEvaluatedKey (string attributes only); a token
    /// this adapter did not issue for the same seller and state is a permanent error.
    #[instrument(skip_all, fields(operation = "Query", seller_id = %seller, state = %state, limit = limit))]
    async fn shipments_in_state(
        &self,
        seller: &SellerId,
        state: &str,
        page: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Shipment>, Option<String>), StoreError> {
        let partition = shipment_state_pk(seller, state);
        let start = page
            .map(|t| decode_page_token("Query", &t, &PAGE_KEY_ATTRIBUTES, &partition))
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SHIPMENTS_BY_STATE_INDEX)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(partition))
            .scan_index_forward(true)
            .limit(i32::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error("Query", "shipments by state", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .map(|k| encode_page_token("Query", k))
            .transpose()?;
        let shipments = out
            .items()
            .iter()
            .map(|item| shipment_from_item("Query", item))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((shipments, next))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;
    use spsync_domain::{CheckedShipment, JobId, MarketplaceId, ShipmentItem, ShipmentState};
    use time::macros::datetime;

    use super::super::item::{get_s, sortable_utc_nanos};
    use super::*;

    fn shipment() -> Shipment {
        let at = datetime!(2026-11-22 10:00:00.25 UTC);
        Shipment {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
            amazon_order_id: AmazonOrderId::new("111-1234567-1234567"),
            shipment_id: "pkg-1".into(),
            details: CheckedShipment {
                amazon_order_id: AmazonOrderId::new("111-1234567-1234567"),
                carrier_code: "UPS".into(),
                carrier_name: "UPS".into(),
                tracking_number: Some("1Z999AA10123456784".into()),
                ship_date: datetime!(2026-11-22 09:00 UTC),
                ship_method: Some("Ground".into()),
                items: vec![ShipmentItem {
                    order_item_id: "12345678901234".into(),
                    quantity: 1,
                }],
                hurts_vtr: false,
            },
            revision: 1,
            sent_revision: None,
            accepted_revision: None,
            accepted_items: Vec::new(),
            state: ShipmentState::Queued,
            warning: None,
            source: "api".into(),
            recorded_at: at,
            revised_at: at,
            confirm_seconds: None,
            fatal_attempts: 0,
            history: Vec::new(),
            version: 0,
        }
    }

    #[test]
    fn a_shipment_round_trips_through_its_item_with_its_state_keys() {
        let mut sh = shipment();
        sh.state = ShipmentState::InFeed {
            feed_job: JobId::new("20261122T100500Z-0000000a"),
        };
        sh.version = 2;

        let item = shipment_item(&sh).unwrap();

        assert_eq!(get_s(&item, "pk"), Some("SELLER#A1"));
        assert_eq!(
            get_s(&item, "sk"),
            Some("SHIPMENT#111-1234567-1234567#pkg-1")
        );
        assert_eq!(get_s(&item, "gsi1pk"), Some("A1#InFeed"));
        assert_eq!(
            get_s(&item, "gsi1sk"),
            Some("2026-11-22T10:00:00.250000000Z#111-1234567-1234567#pkg-1")
        );
        assert_eq!(item.get("version"), Some(&AttributeValue::N("2".into())));
        assert_eq!(shipment_from_item("GetItem", &item).unwrap(), sh);
    }

    #[test]
    fn no_top_level_attribute_carries_the_tracking_number() {
        let item = shipment_item(&shipment()).unwrap();

        let exposed: Vec<&String> = item
            .iter()
            .filter(|(name, v)| {
                name.as_str() != "body" && v.as_s().is_ok_and(|t| t.contains("1Z999AA10123456784"))
            })
            .map(|(name, _)| name)
            .collect();
        assert!(exposed.is_empty(), "{exposed:?}");
    }

    #[test]
    fn state_sort_keys_sort_as_revision_times_at_full_precision() {
        let times = [
            datetime!(2026-11-22 10:00:00 UTC),
            datetime!(2026-11-22 10:00:00.000001 UTC),
            datetime!(2026-11-22 10:00:00.5 UTC),
            datetime!(2026-11-22 12:00:01 +02:00),
            datetime!(2026-11-22 10:00:02 UTC),
        ];

        let keys: Vec<String> = times.iter().map(|t| sortable_utc_nanos(*t)).collect();

        assert_eq!(keys[0], "2026-11-22T10:00:00.000000000Z");
        assert_eq!(keys[3], "2026-11-22T10:00:01.000000000Z");
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert!(keys.iter().all(|k| k.len() == keys[0].len()));
    }

    #[test]
    fn an_order_prefix_does_not_cover_an_order_whose_id_extends_it() {
        let short = AmazonOrderId::new("111-1234567-123456");
        let long = AmazonOrderId::new("111-1234567-1234567");

        assert!(!shipment_sk(&long, "pkg-1").starts_with(&order_shipments_prefix(&short)));
        assert!(shipment_sk(&short, "pkg-1").starts_with(&order_shipments_prefix(&short)));
    }

    fn last_key() -> super::super::item::Item {
        HashMap::from([
            ("pk".to_owned(), s("SELLER#A1")),
            ("sk".to_owned(), s("SHIPMENT#111-1#pkg-1")),
            ("gsi1pk".to_owned(), s("A1#Queued")),
            (
                "gsi1sk".to_owned(),
                s("2026-11-22T10:00:00.000000000Z#111-1#pkg-1"),
            ),
        ])
    }

    #[test]
    fn page_tokens_round_trip_and_foreign_ones_are_permanent_errors() {
        let token = encode_page_token("Query", &last_key()).unwrap();

        assert_eq!(
            decode_page_token("Query", &token, &PAGE_KEY_ATTRIBUTES, "A1#Queued").unwrap(),
            last_key()
        );
        for (t, partition) in [
            (token.as_str(), "A1#InFeed"),
            (token.as_str(), "B2#Queued"),
            ("not json", "A1#Queued"),
            ("{}", "A1#Queued"),
        ] {
            let err = decode_page_token("Query", t, &PAGE_KEY_ATTRIBUTES, partition).unwrap_err();
            assert!(
                matches!(err, StoreError::Permanent { .. }),
                "{t} {partition}: {err}"
            );
        }
    }
}
