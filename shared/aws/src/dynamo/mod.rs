//! DynamoDB adapters: [`DynamoJobStore`] (JobsTable: jobs, active-job slots, cursors, the
//! seller registry) and [`DynamoOrderStore`] (OrdersTable with its `ByStatus` index).
//!
//! Every item has a few top-level attributes for keys, conditions and people reading the
//! table in the console, plus `body`: the serde JSON of the whole domain value, which is what
//! the adapters read back (simple and lossless; the top-level copies are never trusted on
//! read). Item ↔ domain conversion lives in [`item`]; key spellings below.
//!
//! JobsTable (`pk`, `sk`; TTL attribute [`TTL_ATTRIBUTE`]):
//!
//! | Item | `pk` | `sk` | Other attributes |
//! |---|---|---|---|
//! | report job | `SELLER#<seller>#<marketplace>` | `JOB#<job id>` | `job_id`, `state`, `report_type`, `report_id`, `version`, `created_at`, `updated_at`, `body`, `ttl` once terminal (90 days) |
//! | active-job slot | `SELLER#<seller>#<marketplace>` | `ACTIVE#<report type>` | `job_id` |
//! | cursor | `SELLER#<seller>#<marketplace>` | `CURSOR#<name>` | `value` (RFC 3339) |
//! | seller | `SELLERS` | `SELLER#<seller>` | `seller_id`, `enabled`, `body` |
//!
//! OrdersTable (`pk`, `sk`; index [`ORDERS_BY_STATUS_INDEX`] on `gsi1pk`, `gsi1sk`):
//!
//! | `pk` | `sk` | `gsi1pk` | `gsi1sk` | Other attributes |
//! |---|---|---|---|---|
//! | `SELLER#<seller>` | `ORDER#<order id>` | `<seller>#<status>` | `<purchase date, UTC, yyyy-mm-ddThh:mm:ssZ>#<order id>` | `amazon_order_id`, `marketplace_id`, `status`, `amazon_status`, `fulfillment_channel`, `needs_enrichment`, `version`, `purchase_date`, `last_updated`, `updated_at`, `body` |
//!
//! Job ids start with their creation time, so `JOB#` sort keys sort by time and the newest
//! jobs are a backwards Query. The purchase date in `gsi1sk` has a fixed width (whole seconds,
//! UTC) so that the index sorts by time whatever precision Amazon gave.

use spsync_domain::JobId;
use spsync_workflow::StoreError;

mod feeds;
pub mod item;
mod jobs;
mod orders;
mod sellers;
mod shipments;

pub use feeds::DynamoFeedJobStore;
pub use jobs::DynamoJobStore;
pub use orders::DynamoOrderStore;
pub use shipments::{DynamoShipmentStore, SHIPMENTS_BY_STATE_INDEX};

/// Name of the OrdersTable index listing a seller's orders in a status by purchase date.
pub const ORDERS_BY_STATUS_INDEX: &str = "ByStatus";

/// JobsTable's TTL attribute (epoch seconds): terminal jobs expire after [`JOB_RETENTION`].
pub const TTL_ATTRIBUTE: &str = "ttl";

/// How long a terminal job stays in JobsTable.
pub const JOB_RETENTION: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// A Query's `Limit` never asks for more than this per page.
const MAX_QUERY_LIMIT: usize = 1000;

/// The newest `limit` items of partition `pk` whose sort keys start with `prefix` (sort keys
/// that sort by time, e.g. job ids), newest first, each decoded; consistent reads.
pub(crate) async fn newest_in_partition<T>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    prefix: &str,
    limit: usize,
    what: &'static str,
    decode: impl Fn(&item::Item) -> Result<T, spsync_workflow::StoreError>,
) -> Result<Vec<T>, spsync_workflow::StoreError> {
    let mut found = Vec::new();
    let mut start = None;
    while found.len() < limit {
        let page = (limit - found.len()).min(MAX_QUERY_LIMIT);
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", item::s(pk.clone()))
            .expression_attribute_values(":prefix", item::s(prefix))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(page).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::error::store_error("Query", what, e))?;
        for item in out.items() {
            found.push(decode(item)?);
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// GetItem with a consistent read.
pub(crate) async fn get_consistent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    sk: String,
    what: String,
) -> Result<Option<item::Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(item::key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| crate::error::store_error("GetItem", what, e))?;
    Ok(out.item)
}

/// A "one job at a time" slot (`pk`, `sk`) holding a job id in `job_id`: report jobs'
/// active slot, fulfilment feeds' live-feed slot, the read-back chain.
pub(crate) struct Slot<'a> {
    pub(crate) client: &'a aws_sdk_dynamodb::Client,
    pub(crate) table: &'a str,
    pub(crate) pk: String,
    pub(crate) sk: String,
    /// How errors name the slot (`active slot <type>`, `live feed slot <type>`).
    pub(crate) what: String,
}

impl Slot<'_> {
    /// The job the slot holds, if any.
    pub(crate) async fn holder(self) -> Result<Option<JobId>, StoreError> {
        let item = get_consistent(self.client, self.table, self.pk, self.sk, self.what).await?;
        item.map(|i| {
            item::get_s(&i, "job_id")
                .map(JobId::new)
                .ok_or_else(|| crate::error::decode("GetItem", "slot", "no job_id attribute"))
        })
        .transpose()
    }

    /// Points the slot at `job` if it is free (`previous: None`) or still holds `previous`;
    /// `ConditionFailed` otherwise.
    pub(crate) async fn claim(
        self,
        job: &JobId,
        previous: Option<&JobId>,
    ) -> Result<(), StoreError> {
        let mut slot = item::key(self.pk, self.sk);
        slot.insert("job_id".into(), item::s(job.as_str()));
        let request = self
            .client
            .put_item()
            .table_name(self.table)
            .set_item(Some(slot));
        let request = match previous {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(p) => request
                .condition_expression("job_id = :previous")
                .expression_attribute_values(":previous", item::s(p.as_str())),
        };
        request
            .send()
            .await
            .map_err(|e| crate::error::store_error("PutItem", self.what, e))?;
        Ok(())
    }

    /// Frees the slot if it holds `job` (no error when it does not).
    pub(crate) async fn release(self, job: &JobId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table)
            .set_key(Some(item::key(self.pk, self.sk)))
            .condition_expression("job_id = :job")
            .expression_attribute_values(":job", item::s(job.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match crate::error::store_error("DeleteItem", self.what, e) {
                // The slot is free or holds another job: nothing of ours to release.
                StoreError::ConditionFailed { .. } => Ok(()),
                other => Err(other),
            },
        }
    }
}
