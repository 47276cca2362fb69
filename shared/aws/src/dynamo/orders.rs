//! [`DynamoOrderStore`]: orders in OrdersTable and the `ByStatus` listing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use spsync_domain::{AmazonOrderId, Order, OrderStatus, SellerId};
use spsync_workflow::{OrderStore, StoreError};
use tracing::instrument;

use super::ORDERS_BY_STATUS_INDEX;
use super::item::{
    Item, get_s, key, order_from_item, order_item, order_pk, order_sk, s, status_pk,
};
use crate::error::{AdapterError, permanent, store_error};

/// BatchGetItem takes at most 100 keys a call.
const BATCH_GET_MAX: usize = 100;

/// Calls per batch of keys before unprocessed keys become a transient error (the first call
/// included); between them a short exponential backoff, as DynamoDB's BatchGetItem page asks.
const BATCH_GET_ROUNDS: u32 = 5;

/// First backoff between BatchGetItem rounds (doubles each round: 25, 50, 100, 200 ms).
const BATCH_GET_BACKOFF: Duration = Duration::from_millis(25);

/// Largest page `orders_by_status` asks for.
const MAX_PAGE: usize = 1000;

/// The attributes of a `ByStatus` LastEvaluatedKey: the table's key and the index's.
const PAGE_KEY_ATTRIBUTES: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];

/// OrdersTable adapter: implements [`OrderStore`].
///
/// Creating an order requires it to be absent, replacing one requires the stored version.
/// Reads by key are strongly consistent; the `ByStatus` listing reads the index, which
/// DynamoDB keeps eventually consistent (an order just written may show a moment later).
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    /// DynamoDB client.
    pub client: aws_sdk_dynamodb::Client,
    /// OrdersTable's name.
    pub table: String,
}

impl DynamoOrderStore {
    /// An adapter over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One BatchGetItem call and its rounds of unprocessed keys, for at most 100 keys.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Order>, StoreError> {
        let mut orders = Vec::with_capacity(keys.len());
        let mut pending = keys;
        for round in 0..BATCH_GET_ROUNDS {
            if round > 0 {
                tokio::time::sleep(BATCH_GET_BACKOFF * 2u32.pow(round - 1)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| permanent("BatchGetItem", AdapterError::Build(e.to_string())))?;
            let mut out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| store_error("BatchGetItem", "orders", e))?;
            if let Some(items) = out.responses.as_mut().and_then(|r| r.remove(&self.table)) {
                for item in &items {
                    orders.push(order_from_item("BatchGetItem", item)?);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(orders);
            }
            tracing::debug!(
                unprocessed = pending.len(),
                round,
                "batch get left keys unprocessed"
            );
        }
        Err(StoreError::Transient {
            operation: "BatchGetItem",
            source: Box::new(AdapterError::UnprocessedKeys {
                remaining: pending.len(),
                rounds: BATCH_GET_ROUNDS,
            }),
        })
    }
}

#[async_trait]
impl OrderStore for DynamoOrderStore {
    /// Any number of ids (duplicates ignored), 100 per BatchGetItem; orders come back in the
    /// order of `ids`.
    #[instrument(skip_all, fields(operation = "BatchGetItem", seller_id = %seller, ids = ids.len()))]
    async fn get_orders(
        &self,
        seller: &SellerId,
        ids: &[AmazonOrderId],
    ) -> Result<Vec<Order>, StoreError> {
        // BatchGetItem refuses a request that names one key twice.
        let mut seen = HashSet::new();
        let unique: Vec<&AmazonOrderId> = ids.iter().filter(|id| seen.insert(*id)).collect();
        let mut found: HashMap<AmazonOrderId, Order> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let keys = chunk
                .iter()
                .map(|id| key(order_pk(seller), order_sk(id)))
                .collect();
            for order in self.batch_get(keys).await? {
                found.insert(order.amazon_order_id.clone(), order);
            }
        }
        Ok(unique
            .into_iter()
            .filter_map(|id| found.remove(id))
            .collect())
    }

    #[instrument(skip_all, fields(operation = "GetItem", seller_id = %seller, amazon_order_id = %id))]
    async fn get_order(
        &self,
        seller: &SellerId,
        id: &AmazonOrderId,
    ) -> Result<Option<Order>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(order_pk(seller), order_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", format!("order {id}"), e))?;
        out.item.map(|i| order_from_item("GetItem", &i)).transpose()
    }

    #[instrument(skip_all, fields(operation = "PutItem", seller_id = %order.seller_id, amazon_order_id = %order.amazon_order_id, version = order.version))]
    async fn put_order(
        &self,
        order: &Order,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(order_item(order)?));
        let request = super::item::versioned(request, expected_version);
        request
            .send()
            .await
            .map_err(|e| store_error("PutItem", format!("order {}", order.amazon_order_id), e))?;
        Ok(())
    }

    /// A page of at most `limit` orders (1 to 1000) by purchase date, oldest first. The page
    /// token is the JSON of DynamoDB's LastEvaluatedKey (string attributes only); a token this
    /// adapter did not issue for the same seller and status is a permanent error.
    #[instrument(skip_all, fields(operation = "Query", seller_id = %seller, status = %status, limit = limit))]
    async fn orders_by_status(
        &self,
        seller: &SellerId,
        status: OrderStatus,
        page: Option<String>,
        limit: usize,
    ) -> Result<(Vec<Order>, Option<String>), StoreError> {
        let partition = status_pk(seller, status);
        let start = page
            .map(|t| decode_page_token(&t, &partition))
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ORDERS_BY_STATUS_INDEX)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(partition))
            .limit(i32::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error("Query", "orders by status", e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .map(encode_page_token)
            .transpose()?;
        let mut orders = Vec::with_capacity(out.items().len());
        // An index projecting keys only (not ours, but possible) has no body: fetch those.
        let mut without_body = Vec::new();
        for item in out.items() {
            if item.contains_key("body") {
                orders.push(Some(order_from_item("Query", item)?));
            } else {
                let id = get_s(item, "sk")
                    .and_then(|sk| sk.strip_prefix("ORDER#"))
                    .ok_or_else(|| {
                        crate::error::decode("Query", "order", "index item without sk")
                    })?;
                without_body.push((orders.len(), AmazonOrderId::new(id)));
                orders.push(None);
            }
        }
        if !without_body.is_empty() {
            let ids: Vec<AmazonOrderId> = without_body.iter().map(|(_, id)| id.clone()).collect();
            let mut fetched: HashMap<AmazonOrderId, Order> = self
                .get_orders(seller, &ids)
                .await?
                .into_iter()
                .map(|o| (o.amazon_order_id.clone(), o))
                .collect();
            for (slot, id) in without_body {
                orders[slot] = fetched.remove(&id);
            }
        }
        Ok((orders.into_iter().flatten().collect(), next))
    }
}

fn encode_page_token(last: &Item) -> Result<String, StoreError> {
    let mut map = BTreeMap::new();
    for (name, value) in last {
        match value {
            AttributeValue::S(v) => map.insert(name.as_str(), v.as_str()),
            _ => return Err(permanent("Query", AdapterError::PageToken)),
        };
    }
    serde_json::to_string(&map).map_err(|_| permanent("Query", AdapterError::PageToken))
}

fn decode_page_token(token: &str, partition: &str) -> Result<Item, StoreError> {
    let bad = || permanent("Query", AdapterError::PageToken);
    let map: BTreeMap<String, String> = serde_json::from_str(token).map_err(|_| bad())?;
    let well_formed = map.len() == PAGE_KEY_ATTRIBUTES.len()
        && PAGE_KEY_ATTRIBUTES.iter().all(|a| map.contains_key(*a))
        && map.get("gsi1pk").map(String::as_str) == Some(partition);
    if !well_formed {
        return Err(bad());
    }
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_key() -> Item {
        HashMap::from([
            ("pk".to_owned(), s("SELLER#A1")),
            ("sk".to_owned(), s("ORDER#111-1")),
            ("gsi1pk".to_owned(), s("A1#ORDER_NEW")),
            ("gsi1sk".to_owned(), s("2026-11-20T10:00:00Z#111-1")),
        ])
    }

    #[test]
    fn page_tokens_round_trip() {
        let token = encode_page_token(&last_key()).unwrap();

        assert_eq!(
            decode_page_token(&token, "A1#ORDER_NEW").unwrap(),
            last_key()
        );
    }

    #[test]
    fn foreign_or_garbled_page_tokens_are_permanent_errors() {
        let token = encode_page_token(&last_key()).unwrap();
        let mut extra = last_key();
        extra.insert("x".into(), s("y"));
        let extra = encode_page_token(&extra).unwrap();

        for (t, partition) in [
            (token.as_str(), "A1#ORDER_CANCELED"),
            (token.as_str(), "B2#ORDER_NEW"),
            ("not json", "A1#ORDER_NEW"),
            ("{}", "A1#ORDER_NEW"),
            (extra.as_str(), "A1#ORDER_NEW"),
        ] {
            let err = decode_page_token(t, partition).unwrap_err();
            assert!(
                matches!(err, StoreError::Permanent { .. }),
                "{t} {partition}: {err}"
            );
        }
    }
}
