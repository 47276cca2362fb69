//! The step messages: the SQS wire schema of every flow, versioned.
//!
//! A message names the step to run and the job it belongs to; all state lives in the stores,
//! so a duplicate or late message is harmless (the step reads the job and sees it has moved on).
//! `not_before` lets a wait longer than SQS's 15-minute delay be chained: the queue adapter
//! clamps the delay and the consumer re-sends an early arrival (see [`StepMessage::due_in`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use spsync_domain::{JobId, MarketplaceId, SellerId};
use time::OffsetDateTime;

/// Version of the message schema this build writes. Readers accept this version only; a
/// message of another version is a permanent error (it goes to the DLQ for a human).
pub const MESSAGE_VERSION: u32 = 1;

/// Names one report job.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobKey {
    /// Seller.
    pub seller_id: SellerId,
    /// Marketplace.
    pub marketplace_id: MarketplaceId,
    /// Job.
    pub job_id: JobId,
}

/// The step a message asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step")]
pub enum Step {
    /// Create the report if not yet created, else getReport and decide (poll-report).
    PollReport {
        /// The job.
        job: JobKey,
    },
    /// Import the stored raw document into orders (import-report).
    ImportReport {
        /// The job.
        job: JobKey,
    },
    /// Complete orders through Orders API v2026-01-01 (enrich-orders).
    EnrichOrders {
        /// Seller.
        seller_id: SellerId,
        /// Marketplace.
        marketplace_id: MarketplaceId,
        /// searchOrders page token when a throttle interrupted a pass.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page_token: Option<String>,
        /// The `lastUpdatedAfter` the interrupted pass searched with: a page token is only
        /// valid with the query it came from, even if another pass moved the cursor since.
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        updated_after: Option<OffsetDateTime>,
    },
    /// Moves a fulfilment feed job one step (document, upload, createFeed, poll, apply).
    FeedStep {
        /// Seller.
        seller_id: SellerId,
        /// The feed job.
        job_id: JobId,
    },
    /// Starts the seller's next fulfilment feed when shipments are queued and no feed is live
    /// (sent when a feed ends, delayed to respect createFeed's usage plan).
    SendShipments {
        /// Seller.
        seller_id: SellerId,
    },
    /// The closed loop: reads back orders whose shipments Amazon accepted.
    ConfirmShipments {
        /// Seller.
        seller_id: SellerId,
        /// Passes made by this chain so far (spaces the next one).
        #[serde(default)]
        pass: u32,
        /// The chain: one runs per seller (a newer one replaces it; the older stops at its
        /// next delivery).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chain: Option<JobId>,
        /// Where the chain's searches start (lastUpdatedAfter): each pass moves it to just
        /// before its own start, so a pass reads only what changed since the last one.
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        since: Option<OffsetDateTime>,
        /// The search this delivery continues (a pass reads one page per delivery).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<ConfirmSearch>,
    },
}

impl Step {
    /// Short name for logs and metrics (`PollReport`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::PollReport { .. } => "PollReport",
            Self::ImportReport { .. } => "ImportReport",
            Self::EnrichOrders { .. } => "EnrichOrders",
            Self::FeedStep { .. } => "FeedStep",
            Self::SendShipments { .. } => "SendShipments",
            Self::ConfirmShipments { .. } => "ConfirmShipments",
        }
    }

    /// The queue this step is consumed from.
    pub fn queue(&self) -> QueueName {
        match self {
            Self::PollReport { .. } => QueueName::PollReport,
            Self::ImportReport { .. } => QueueName::ImportReport,
            Self::EnrichOrders { .. } => QueueName::EnrichOrders,
            Self::FeedStep { .. } | Self::SendShipments { .. } | Self::ConfirmShipments { .. } => {
                QueueName::FeedSteps
            }
        }
    }
}

/// Where a read-back pass is in its searchOrders pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmSearch {
    /// The marketplace searched.
    pub marketplace_id: MarketplaceId,
    /// The search's lastUpdatedAfter.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_after: OffsetDateTime,
    /// The next page, if this is not the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// When the pass began (the next pass searches from just before it).
    #[serde(with = "time::serde::rfc3339")]
    pub pass_started: OffsetDateTime,
}

/// The step queues of template.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QueueName {
    /// PollReportQueue → poll-report.
    PollReport,
    /// ImportReportQueue → import-report.
    ImportReport,
    /// EnrichOrdersQueue → enrich-orders.
    EnrichOrders,
    /// FeedStepsQueue → feed-steps (fulfilment feeds and their closed loop).
    FeedSteps,
}

/// One SQS message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMessage {
    /// Schema version ([`MESSAGE_VERSION`]).
    pub v: u32,
    /// The step.
    #[serde(flatten)]
    pub step: Step,
    /// How many times this step has been re-sent after a wait (throttle, not ready).
    #[serde(default)]
    pub attempt: u32,
    /// Do not run before this instant (chained waits beyond the queue's maximum delay).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
    /// W3C trace parent of the step that sent this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_parent: Option<String>,
    /// The job version the sender wrote just before sending. A message whose job has moved
    /// to another version since is a leftover of a duplicate chain and is dropped, so two
    /// chains of one job never both run (SQS is at-least-once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_version: Option<u64>,
}

/// A message body that is not a step message of this version.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not JSON of the expected shape.
    #[error("step message is malformed: {0}")]
    Malformed(#[source] serde_json::Error),
    /// Another schema version.
    #[error("step message version {found} is not supported (this build reads {MESSAGE_VERSION})")]
    Version {
        /// Version found.
        found: u32,
    },
}

impl StepMessage {
    /// A first message for a step.
    pub fn new(step: Step) -> Self {
        Self {
            v: MESSAGE_VERSION,
            step,
            attempt: 0,
            not_before: None,
            trace_parent: None,
            job_version: None,
        }
    }

    /// The same message, bound to the job version its sender just wrote.
    pub fn for_version(mut self, version: u64) -> Self {
        self.job_version = Some(version);
        self
    }

    /// The same step, one attempt later.
    pub fn next_attempt(&self) -> Self {
        Self {
            attempt: self.attempt.saturating_add(1),
            not_before: None,
            ..self.clone()
        }
    }

    /// Encodes the body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("step message encodes: {e}"))
    }

    /// Decodes and checks the version.
    pub fn from_json(body: &str) -> Result<Self, MessageError> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version = serde_json::from_str(body).map_err(MessageError::Malformed)?;
        if version.v != MESSAGE_VERSION {
            return Err(MessageError::Version { found: version.v });
        }
        serde_json::from_str(body).map_err(MessageError::Malformed)
    }

    /// How long until the message is due (`None` when it is due now).
    pub fn due_in(&self, now: OffsetDateTime) -> Option<Duration> {
        let not_before = self.not_before?;
        let left = not_before - now;
        (left > time::Duration::ZERO).then(|| left.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn poll() -> StepMessage {
        StepMessage::new(Step::PollReport {
            job: JobKey {
                seller_id: SellerId::new("A1"),
                marketplace_id: MarketplaceId::new("ATVPDKIKX0DER"),
                job_id: JobId::new("20261120T100000Z-0000002a"),
            },
        })
    }

    #[test]
    fn wire_shape_is_stable() {
        let json: serde_json::Value = serde_json::from_str(&poll().to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 1, "step": "PollReport", "attempt": 0,
                "job": {"seller_id": "A1", "marketplace_id": "ATVPDKIKX0DER", "job_id": "20261120T100000Z-0000002a"}
            })
        );
    }

    #[test]
    fn round_trips_with_not_before_and_page_token() {
        let mut m = StepMessage::new(Step::EnrichOrders {
            seller_id: SellerId::new("A1"),
            marketplace_id: MarketplaceId::new("M"),
            page_token: Some("tok".into()),
            updated_after: None,
        });
        m.not_before = Some(datetime!(2026-11-20 10:00 UTC));
        m.attempt = 4;
        assert_eq!(StepMessage::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let body = poll().to_json().replace("\"v\":1", "\"v\":2");
        assert!(matches!(
            StepMessage::from_json(&body),
            Err(MessageError::Version { found: 2 })
        ));
        assert!(matches!(
            StepMessage::from_json("{}"),
            Err(MessageError::Malformed(_))
        ));
        assert!(matches!(
            StepMessage::from_json(r#"{"v":1,"step":"Nope"}"#),
            Err(MessageError::Malformed(_))
        ));
    }

    #[test]
    fn due_in_counts_down_to_not_before() {
        let mut m = poll();
        let now = datetime!(2026-11-20 10:00 UTC);
        assert_eq!(m.due_in(now), None);
        m.not_before = Some(now + time::Duration::minutes(20));
        assert_eq!(m.due_in(now), Some(Duration::from_secs(1200)));
        assert_eq!(m.due_in(now + time::Duration::minutes(20)), None);
    }
}
