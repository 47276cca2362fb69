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
