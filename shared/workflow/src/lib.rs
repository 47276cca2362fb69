//! spsync's flows, independent of AWS and HTTP.
//!
//! Owns the step messages ([`message`]), the ports the flows need ([`ports`]), the error
//! classes that cross them ([`error`]), and the use cases, generic over the ports:
//! [`start_report`] / [`start_reports`] (scheduled), [`poll_report`], [`import_report`] and
//! [`enrich_orders`] (SQS steps). Every step reads the state from the stores, acts once, and
//! writes the next state with a conditional write, so a duplicate or late message is
//! harmless. Waiting is a delayed message ([`send_step`]), never a sleep.
//!
//! Must not depend on the AWS SDK, reqwest or lambda_runtime.
#![warn(missing_docs)]

pub mod error;
pub mod message;
pub mod ports;

mod enrich;
mod feeds;
mod import;
mod report;
mod shipments;

use std::time::Duration;

pub use enrich::{EnrichPorts, EnrichSummary, enrich_orders, schedule_enrichment};
pub use error::{ApiError, BoxError, QueueError, Retryability, StoreError, WorkflowError};
pub use feeds::{
    ConfirmSummary, FeedPorts, FeedSettings, FeedStart, UNVERIFIED_CODE, confirm_shipments,
    feed_step, start_feed, start_feeds,
};
pub use import::{ImportPorts, import_report};
pub use message::{ConfirmSearch, JobKey, MessageError, QueueName, Step, StepMessage};
pub use ports::*;
pub use report::{ReportPorts, StartOutcome, poll_report, start_report, start_reports};
pub use shipments::{
    RecordError, Recorded, ShipmentPorts, check_shipment_id, correct_shipment, record_shipment,
    requeue_shipment,
};

/// SQS's longest per-message delay.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

/// Settings of the flows (from each function's environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSettings {
    /// How far back the order report reaches (purchase date).
    pub lookback: Duration,
    /// A report not DONE this long after its creation is cancelled and recreated.
    pub stuck_after: Duration,
    /// At most this many getOrder calls per enrichment pass (stragglers).
    pub max_get_order_per_pass: usize,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self {
            lookback: Duration::from_secs(3 * 86_400),
            stuck_after: Duration::from_secs(2 * 3600),
            max_get_order_per_pass: 20,
        }
    }
}

/// What a step did, for logs, metrics and the local runner's transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The job moved on (the next step was sent).
    Advanced(&'static str),
    /// The same step was sent again to run after this delay (not ready, throttled).
    Requeued(Duration),
    /// The job reached a terminal state.
    Finished(spsync_domain::JobState),
    /// Nothing to do: a duplicate or late message, or a job that already moved on.
    Ignored(&'static str),
}

/// Sends `message` to run after `delay`. Waits longer than [`MAX_QUEUE_DELAY`] are chained:
/// the message carries `not_before` and the consumer re-sends it when it arrives early.
pub async fn send_step(
    queue: &dyn StepQueue,
    clock: &dyn Clock,
    mut message: StepMessage,
    delay: Duration,
) -> Result<(), QueueError> {
    if delay > MAX_QUEUE_DELAY {
        message.not_before = Some(clock.now() + delay);
        queue.send(&message, MAX_QUEUE_DELAY).await
    } else {
        message.not_before = None;
        queue.send(&message, delay).await
    }
}

/// For a message that arrived before its `not_before`: sends it again for the time left and
/// returns the outcome; `None` when the message is due and should run.
pub async fn defer_if_early(
    queue: &dyn StepQueue,
    clock: &dyn Clock,
    message: &StepMessage,
) -> Result<Option<StepOutcome>, QueueError> {
    let Some(left) = message.due_in(clock.now()) else {
        return Ok(None);
    };
    let mut again = message.clone();
    let delay = left.min(MAX_QUEUE_DELAY);
    if left <= MAX_QUEUE_DELAY {
        again.not_before = None;
    }
    queue.send(&again, delay).await?;
    Ok(Some(StepOutcome::Requeued(left)))
}
