//! Item ↔ domain conversion and key spellings (see the table in [`super`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spsync_domain::{AmazonOrderId, JobId, MarketplaceId, Order, ReportJob, SellerId};
use spsync_domain::{FeedJob, Shipment};
use spsync_workflow::{SellerAccount, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{JOB_RETENTION, TTL_ATTRIBUTE};
use crate::error::decode;
use crate::error::{AdapterError, permanent};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Partition key of everything about one seller in one marketplace (jobs, slots, cursors).
pub fn job_pk(seller: &SellerId, marketplace: &MarketplaceId) -> String {
    format!("SELLER#{seller}#{marketplace}")
}

/// Sort key of a job.
pub fn job_sk(job: &JobId) -> String {
    format!("JOB#{job}")
}

/// Sort-key prefix of jobs.
pub const JOB_SK_PREFIX: &str = "JOB#";

/// Sort key of the active-job slot of a report type.
pub fn active_sk(report_type: &str) -> String {
    format!("ACTIVE#{report_type}")
}

/// Sort key of a named cursor.
pub fn cursor_sk(name: &str) -> String {
    format!("CURSOR#{name}")
}

/// Partition key of the seller registry.
pub const SELLERS_PK: &str = "SELLERS";

/// Sort key of a seller in the registry.
pub fn seller_sk(seller: &SellerId) -> String {
    format!("SELLER#{seller}")
}

/// Partition key of a seller's orders.
pub fn order_pk(seller: &SellerId) -> String {
    format!("SELLER#{seller}")
}

/// Sort key of an order.
pub fn order_sk(id: &AmazonOrderId) -> String {
    format!("ORDER#{id}")
}

/// `ByStatus` partition key: a seller's orders in one status.
pub fn status_pk(seller: &SellerId, status: spsync_domain::OrderStatus) -> String {
    format!("{seller}#{}", status.as_str())
}

/// `ByStatus` sort key: purchase date (fixed width, UTC, whole seconds) then order id.
pub fn status_sk(purchase_date: OffsetDateTime, id: &AmazonOrderId) -> String {
    format!("{}#{id}", sortable_utc(purchase_date))
}

/// `yyyy-mm-ddThh:mm:ssZ` in UTC: one width for every value, so strings sort as times.
pub fn sortable_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The primary key of an item.
pub fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute of an item, if present and a string.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// RFC 3339 in UTC, lossless (used for timestamps that are read back).
pub fn rfc3339(t: OffsetDateTime) -> String {
    // Formatting a UTC value with a 4-digit year cannot fail; the fallback keeps the code total.
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| sortable_utc(t))
}

fn encode_body<T: Serialize>(
    operation: &'static str,
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| {
        decode(
            operation,
            what,
            format!("body does not encode: {:?}", e.classify()),
        )
    })
}

fn decode_body<T: DeserializeOwned>(
    operation: &'static str,
    what: &'static str,
    item: &Item,
) -> Result<T, StoreError> {
    let body = get_s(item, "body").ok_or_else(|| decode(operation, what, "no body attribute"))?;
    // serde's messages can quote stored values (PII): keep only the kind and the position.
    serde_json::from_str(body).map_err(|e| {
        decode(
            operation,
            what,
            format!(
                "body is not a {what}: {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        )
    })
}

/// The JobsTable item of a job; terminal jobs carry a TTL counted from their last change.
pub fn job_item(job: &ReportJob) -> Result<Item, StoreError> {
    let mut item = key(
        job_pk(&job.seller_id, &job.marketplace_id),
        job_sk(&job.job_id),
    );
    item.insert("job_id".into(), s(job.job_id.as_str()));
    item.insert("state".into(), s(job.state.as_str()));
    item.insert("report_type".into(), s(&job.report_type));
    if let Some(id) = &job.report_id {
        item.insert("report_id".into(), s(id));
    }
    item.insert("version".into(), n(job.version));
    item.insert("created_at".into(), s(rfc3339(job.created_at)));
    item.insert("updated_at".into(), s(rfc3339(job.updated_at)));
    item.insert("body".into(), s(encode_body("PutItem", "job", job)?));
    if job.state.is_terminal() {
        let expires = job.updated_at + JOB_RETENTION;
        item.insert(TTL_ATTRIBUTE.into(), n(expires.unix_timestamp()));
    }
    Ok(item)
}

/// A job from its item.
pub fn job_from_item(operation: &'static str, item: &Item) -> Result<ReportJob, StoreError> {
    decode_body(operation, "job", item)
}

/// The OrdersTable item of an order.
pub fn order_item(order: &Order) -> Result<Item, StoreError> {
    let id = &order.amazon_order_id;
    let mut item = key(order_pk(&order.seller_id), order_sk(id));
    item.insert(
        "gsi1pk".into(),
        s(status_pk(&order.seller_id, order.status)),
    );
    item.insert("gsi1sk".into(), s(status_sk(order.purchase_date, id)));
    item.insert("amazon_order_id".into(), s(id.as_str()));
    item.insert("marketplace_id".into(), s(order.marketplace_id.as_str()));
    item.insert("status".into(), s(order.status.as_str()));
    item.insert("amazon_status".into(), s(order.amazon_status.as_str()));
    item.insert(
        "fulfillment_channel".into(),
        s(order.fulfillment_channel.as_str()),
    );
    item.insert(
        "needs_enrichment".into(),
        AttributeValue::Bool(order.needs_enrichment()),
    );
    item.insert("version".into(), n(order.version));
    item.insert("purchase_date".into(), s(rfc3339(order.purchase_date)));
    item.insert("last_updated".into(), s(rfc3339(order.last_updated)));
    item.insert("updated_at".into(), s(rfc3339(order.updated_at)));
    item.insert("body".into(), s(encode_body("PutItem", "order", order)?));
    Ok(item)
}

/// An order from its item.
pub fn order_from_item(operation: &'static str, item: &Item) -> Result<Order, StoreError> {
    decode_body(operation, "order", item)
}

/// The JobsTable item of a registered seller.
pub fn seller_item(account: &SellerAccount) -> Result<Item, StoreError> {
    let mut item = key(SELLERS_PK.to_owned(), seller_sk(&account.seller_id));
    item.insert("seller_id".into(), s(account.seller_id.as_str()));
    item.insert("enabled".into(), AttributeValue::Bool(account.enabled));
    item.insert("body".into(), s(encode_body("PutItem", "seller", account)?));
    Ok(item)
}

/// A seller from its item.
pub fn seller_from_item(operation: &'static str, item: &Item) -> Result<SellerAccount, StoreError> {
    decode_body(operation, "seller", item)
}

/// A cursor value from its item.
pub fn cursor_from_item(
    operation: &'static str,
    item: &Item,
) -> Result<OffsetDateTime, StoreError> {
    let value =
        get_s(item, "value").ok_or_else(|| decode(operation, "cursor", "no value attribute"))?;
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| decode(operation, "cursor", "value is not RFC 3339"))
}

/// Makes a PutItem conditional the way every versioned write in spsync is: `None` creates
/// (fails if the item exists), `Some(v)` replaces only the item stored at version `v`.
pub(crate) fn versioned(
    request: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    expected_version: Option<u64>,
) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
    match expected_version {
        None => request.condition_expression("attribute_not_exists(pk)"),
        Some(v) => request
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(v)),
    }
}

/// Partition key of a seller's shipments (ShipmentsTable).
pub fn shipment_pk(seller: &SellerId) -> String {
    format!("SELLER#{seller}")
}

/// Sort-key prefix of one order's shipments. The `#` after the order id keeps order
/// `111-1` from matching the shipments of order `111-12`.
pub fn order_shipments_prefix(order: &AmazonOrderId) -> String {
    format!("SHIPMENT#{order}#")
}

/// Sort key of a shipment: `SHIPMENT#<order>#<shipment id>`.
pub fn shipment_sk(order: &AmazonOrderId, shipment_id: &str) -> String {
    format!("{}{shipment_id}", order_shipments_prefix(order))
}

/// `ByState` partition key: a seller's shipments in one state ([`ShipmentState::name`]).
pub fn shipment_state_pk(seller: &SellerId, state: &str) -> String {
    format!("{seller}#{state}")
}

/// `ByState` sort key: revision time (fixed width, UTC, nanoseconds) then order and shipment
/// id, so the index lists the oldest revision first and two shipments never tie.
pub fn shipment_state_sk(
    revised_at: OffsetDateTime,
    order: &AmazonOrderId,
    shipment_id: &str,
) -> String {
    format!("{}#{order}#{shipment_id}", sortable_utc_nanos(revised_at))
}

/// `yyyy-mm-ddThh:mm:ss.nnnnnnnnnZ` in UTC: RFC 3339 with a fraction of one width, so strings
/// sort as times at full precision (a variable-width fraction would not: `.` sorts before `Z`).
pub fn sortable_utc_nanos(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}.{:09}Z",
        sortable_utc(t).trim_end_matches('Z'),
        t.nanosecond()
    )
}

/// The ShipmentsTable item of a shipment, with its `ByState` keys.
pub fn shipment_item(shipment: &Shipment) -> Result<Item, StoreError> {
    let order = &shipment.amazon_order_id;
    let id = shipment.shipment_id.as_str();
    let state = shipment.state.name();
    let mut item = key(shipment_pk(&shipment.seller_id), shipment_sk(order, id));
    item.insert(
        "gsi1pk".into(),
        s(shipment_state_pk(&shipment.seller_id, state)),
    );
    item.insert(
        "gsi1sk".into(),
        s(shipment_state_sk(shipment.revised_at, order, id)),
    );
    item.insert("amazon_order_id".into(), s(order.as_str()));
    item.insert("shipment_id".into(), s(id));
    item.insert("marketplace_id".into(), s(shipment.marketplace_id.as_str()));
    item.insert("state".into(), s(state));
    item.insert("revision".into(), n(shipment.revision));
    item.insert("version".into(), n(shipment.version));
    item.insert("recorded_at".into(), s(rfc3339(shipment.recorded_at)));
    item.insert("revised_at".into(), s(rfc3339(shipment.revised_at)));
    item.insert(
        "body".into(),
        s(encode_body("PutItem", "shipment", shipment)?),
    );
    Ok(item)
}

/// A shipment from its item.
pub fn shipment_from_item(operation: &'static str, item: &Item) -> Result<Shipment, StoreError> {
    decode_body(operation, "shipment", item)
}

/// Partition key of a seller's feed jobs and live-feed slots (JobsTable).
pub fn feeds_pk(seller: &SellerId) -> String {
    format!("FEEDS#{seller}")
}

/// Sort key of the live-feed slot of a feed type.
pub fn live_feed_sk(feed_type: &str) -> String {
    format!("LIVE#{feed_type}")
}

/// The JobsTable item of a feed job; terminal jobs carry a TTL counted from their last change.
pub fn feed_job_item(job: &FeedJob) -> Result<Item, StoreError> {
    let mut item = key(feeds_pk(&job.seller_id), job_sk(&job.job_id));
    item.insert("seller_id".into(), s(job.seller_id.as_str()));
    item.insert("job_id".into(), s(job.job_id.as_str()));
    item.insert("state".into(), s(job.state.name()));
    item.insert("feed_type".into(), s(&job.feed_type));
    if let Some(id) = job.state.feed_id() {
        item.insert("feed_id".into(), s(id));
    }
    item.insert("version".into(), n(job.version));
    item.insert("created_at".into(), s(rfc3339(job.created_at)));
    item.insert("updated_at".into(), s(rfc3339(job.updated_at)));
    item.insert("body".into(), s(encode_body("PutItem", "feed job", job)?));
    if job.state.is_terminal() {
        let expires = job.updated_at + JOB_RETENTION;
        item.insert(TTL_ATTRIBUTE.into(), n(expires.unix_timestamp()));
    }
    Ok(item)
}

/// A feed job from its item.
pub fn feed_job_from_item(operation: &'static str, item: &Item) -> Result<FeedJob, StoreError> {
    decode_body(operation, "feed job", item)
}

/// A listing's page token: the JSON of DynamoDB's LastEvaluatedKey (string attributes only).
pub(crate) fn encode_page_token(
    operation: &'static str,
    last: &Item,
) -> Result<String, StoreError> {
    let mut map = std::collections::BTreeMap::new();
    for (name, value) in last {
        match value {
            AttributeValue::S(v) => map.insert(name.as_str(), v.as_str()),
            _ => return Err(permanent(operation, AdapterError::PageToken)),
        };
    }
    serde_json::to_string(&map).map_err(|_| permanent(operation, AdapterError::PageToken))
}

/// The ExclusiveStartKey of a page token, if it is one this adapter issued for an index
/// listing: exactly `attributes`, with `partition` as the index's partition key (`gsi1pk`).
/// Anything else is a permanent error.
pub(crate) fn decode_page_token(
    operation: &'static str,
    token: &str,
    attributes: &[&str],
    partition: &str,
) -> Result<Item, StoreError> {
    let bad = || permanent(operation, AdapterError::PageToken);
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_str(token).map_err(|_| bad())?;
    let well_formed = map.len() == attributes.len()
        && attributes.iter().all(|a| map.contains_key(*a))
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
    use spsync_domain::{JobState, ORDERS_REPORT_TYPE};
    use time::macros::datetime;

    fn job() -> ReportJob {
        ReportJob::new(
            JobId::new("20261120T100000Z-0000002a"),
            SellerId::new("A1"),
            MarketplaceId::new("ATVPDKIKX0DER"),
            ORDERS_REPORT_TYPE,
            std::time::Duration::from_secs(3 * 86_400),
            datetime!(2026-11-20 10:00 UTC),
        )
    }

    #[test]
    fn a_job_round_trips_through_its_item() {
        let mut j = job();
        j.report_id = Some("5012".into());
        j.version = 3;

        let item = job_item(&j).unwrap();

        assert_eq!(get_s(&item, "pk"), Some("SELLER#A1#ATVPDKIKX0DER"));
        assert_eq!(get_s(&item, "sk"), Some("JOB#20261120T100000Z-0000002a"));
        assert_eq!(get_s(&item, "state"), Some("REQUESTED"));
        assert_eq!(item.get("version"), Some(&AttributeValue::N("3".into())));
        assert!(!item.contains_key(TTL_ATTRIBUTE));
        assert_eq!(job_from_item("GetItem", &item).unwrap(), j);
    }

    #[test]
    fn terminal_jobs_expire_90_days_after_their_last_change() {
        let mut j = job();
        j.state = JobState::Imported;
        j.updated_at = datetime!(2026-11-21 00:00 UTC);

        let item = job_item(&j).unwrap();

        let want = datetime!(2027-02-19 00:00 UTC).unix_timestamp();
        assert_eq!(
            item.get(TTL_ATTRIBUTE),
            Some(&AttributeValue::N(want.to_string()))
        );
    }

    #[test]
    fn sortable_times_have_one_width_and_sort_as_times() {
        let a = datetime!(2026-11-20 10:00:00 UTC);
        let b = datetime!(2026-11-20 10:00:00.5 UTC);
        let c = datetime!(2026-11-20 12:00:01 +02:00);

        assert_eq!(sortable_utc(a), "2026-11-20T10:00:00Z");
        assert_eq!(sortable_utc(b), sortable_utc(a));
        assert_eq!(sortable_utc(c), "2026-11-20T10:00:01Z");
        assert!(sortable_utc(a) < sortable_utc(c));
    }

    #[test]
    fn an_unreadable_body_is_permanent_and_does_not_echo_the_stored_value() {
        let mut item = job_item(&job()).unwrap();
        item.insert("body".into(), s(r#"{"version": "Jane Doe, 1 Main St"}"#));

        let err = job_from_item("GetItem", &item).unwrap_err();

        assert!(matches!(
            err,
            StoreError::Permanent {
                operation: "GetItem",
                ..
            }
        ));
        let text = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(!text.contains("Jane"), "{text}");
    }
}
