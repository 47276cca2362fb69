//! Pure domain model of spsync.
//!
//! Owns the decisions that must be testable without IO: usage-plan maths (token buckets that
//! answer "wait this long" instead of sleeping), retry backoff, orders and what a report row
//! does to them. Parsing and decoding work over any `std::io::Read` handed in; the crate
//! itself never opens a file or a socket, never depends on async runtimes or SDKs.
//!
//! Main types:
//! * [`UsagePlan`] and [`TokenBucket`]: Amazon's throttling model (rate = tokens per second,
//!   burst = bucket size). The bucket is told "now" and answers `Ok(())` or `Err(wait)`.
//! * [`full_jitter_backoff`] and [`SplitMix64`]: capped exponential backoff with full jitter,
//!   a pure function of `(attempt, base, cap, random)`, plus a tiny deterministic PRNG to feed it.
//! * [`ProcessingStatus`]: the processing state shared by SP-API reports and feeds.
//! * Orders: [`Order`] and its ids and parts, [`Order::missing`] / [`Order::apply_enrichment`]
//!   for the Orders API enrichment, [`OrderReportReader`] (streaming parser of the All Orders
//!   flat-file report into [`ReportOrder`]s), [`decide_import`] (create / update / unchanged /
//!   stale / skipped, pure) and [`text::decode_reader`] (gzip + charset to UTF-8, streamed).
//!
//! ```
//! use std::time::Duration;
//! use spsync_domain::{TokenBucket, UsagePlan};
//!
//! let plan = UsagePlan::new(0.5, 2); // one token every 2 s, bucket of 2
//! let mut bucket = TokenBucket::new(plan, Duration::ZERO);
//! assert_eq!(bucket.try_acquire(Duration::ZERO), Ok(()));
//! assert_eq!(bucket.try_acquire(Duration::ZERO), Ok(()));
//! assert_eq!(bucket.try_acquire(Duration::ZERO), Err(Duration::from_secs(2)));
//! assert_eq!(bucket.try_acquire(Duration::from_secs(2)), Ok(()));
//! ```
#![warn(missing_docs)]

mod backoff;
mod carriers;
mod feed_job;
mod fulfillment_feed;
mod order_import;
mod order_report;
mod orders;
mod processing;
mod report_job;
mod shipment_record;
mod shipments;
pub mod text;
mod usage_plan;

pub use backoff::{SplitMix64, full_jitter_backoff};
pub use carriers::{
    Carrier, CarrierChoice, CarrierError, MAX_CARRIER_NAME, OTHER_CARRIER_CODE, carriers,
    resolve_carrier,
};
pub use feed_job::{
    FeedCounts, FeedJob, FeedJobState, MAX_FEED_LINES, UPLOAD_URL_LIFETIME, feed_document_key,
    processing_report_key,
};
pub use fulfillment_feed::{
    ErrorKind, FEED_CONTENT_TYPE, FEED_HEADER, FULFILLMENT_FEED_TYPE, FeedLine, FeedRenderError,
    FeedValueProblem, LineOutcome, LineVerdict, ProcessingReport, ProcessingReportError, RecordRef,
    RecordResult, RenderedFeed, apply_report, lines_from_shipment, parse_processing_report,
    render_feed, report_discrepancies,
};
pub use order_import::{ImportDecision, SkipReason, decide_import, order_status_for};
pub use order_report::{
    OrderReportReader, ReportOrder, ReportParseError, ReportRowError, RowError,
};
pub use orders::{
    Address, AmazonOrderId, AmazonOrderStatus, Buyer, EnrichedItem, Enrichment, FulfillmentChannel,
    MarketplaceId, Missing, Order, OrderLine, OrderStatus, SellerId,
};
pub use processing::ProcessingStatus;
pub use report_job::{
    ImportStats, JobId, JobState, MAX_KEPT_ROW_ERRORS, MAX_POLL_DELAY, ORDERS_REPORT_TYPE,
    PollDecision, ReportJob, next_poll, poll_delay,
};
pub use shipment_record::{
    Correction, CorrectionRefused, FeedAttempt, MAX_FATAL_ATTEMPTS, MAX_SHIPMENT_ID,
    OrderShipmentsSeen, PackageSeen, Shipment, ShipmentState, all_items_confirmed, package_shows,
    shipped_quantities,
};
pub use shipments::{
    CheckedShipment, SHIP_DATE_CLOCK_SKEW, SHIP_METHOD_REQUIRED_IN, ShipmentItem, ShipmentProblem,
    ShipmentRequest, TrackingCheck, TrackingError, check_shipment, check_tracking_format,
    normalize_tracking, s10_check_digit,
};
pub use usage_plan::{MAX_WAIT, TokenBucket, UsagePlan, UsagePlanError};
