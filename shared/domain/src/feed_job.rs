//! A fulfilment feed job (issue 4): one POST_FLAT_FILE_FULFILLMENT_DATA submission of a
//! seller, from claiming the queued shipments to applying Amazon's processing report.
//!
//! States, in order: `Claiming` (job written, slot taken, shipments being claimed) → `Built`
//! (document and its record map in S3) → `DocumentCreated` (createFeedDocument answered; the
//! presigned URL lives 5 minutes) → `Uploaded` → `Submitting` (createFeed about to be called:
//! a retry first looks for a feed created since, so a lost answer never sends the file twice) →
//! `Submitted` (polling getFeed) → `Applied` / `Cancelled` / `Fatal` / `Abandoned`.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::orders::{MarketplaceId, SellerId};
use crate::report_job::JobId;

/// A presigned upload URL is good for 5 minutes (spapi-facts §3); after 4 we ask for a new
/// document rather than race the expiry.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::minutes(4);

/// At most this many lines go in one feed (well under the 10 MiB guidance: ~120 bytes a
/// line); the rest wait for the next feed.
pub const MAX_FEED_LINES: usize = 5_000;

/// getFeed poll delays after the first poll, seconds; the last repeats.
const POLL_DELAYS: [u64; 6] = [30, 30, 60, 120, 300, 600];

/// Where a feed job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum FeedJobState {
    /// Job written and slot taken; shipments being claimed.
    Claiming,
    /// The document and its record map are in S3.
    Built,
    /// createFeedDocument answered.
    DocumentCreated {
        /// Amazon's document id.
        feed_document_id: String,
        /// The presigned upload URL.
        url: String,
        /// When it was issued.
        #[serde(with = "time::serde::rfc3339")]
        issued_at: OffsetDateTime,
    },
    /// The bytes are uploaded.
    Uploaded {
        /// Amazon's document id.
        feed_document_id: String,
    },
    /// createFeed is being called (claimed before the call).
    Submitting {
        /// Amazon's document id.
        feed_document_id: String,
        /// When the claim was written: a feed created since then is this job's.
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// Amazon has the feed.
    Submitted {
        /// Amazon's feed id.
        feed_id: String,
    },
    /// The processing report is applied to the shipments.
    Applied {
        /// Amazon's feed id.
        feed_id: String,
    },
    /// Amazon cancelled the feed; its shipments went back to the queue.
    Cancelled {
        /// Amazon's feed id.
        feed_id: String,
    },
    /// Amazon ended the feed FATAL (or processed nothing); its shipments were queued again.
    Fatal {
        /// Amazon's feed id.
        feed_id: String,
        /// Why.
        reason: String,
    },
    /// Given up before Amazon had it (stalled without progress); shipments queued again.
    Abandoned {
        /// Why.
        reason: String,
    },
}

impl FeedJobState {
    /// The state's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Claiming => "Claiming",
            Self::Built => "Built",
            Self::DocumentCreated { .. } => "DocumentCreated",
            Self::Uploaded { .. } => "Uploaded",
            Self::Submitting { .. } => "Submitting",
            Self::Submitted { .. } => "Submitted",
            Self::Applied { .. } => "Applied",
            Self::Cancelled { .. } => "Cancelled",
            Self::Fatal { .. } => "Fatal",
            Self::Abandoned { .. } => "Abandoned",
        }
    }

    /// Ended: the slot is free and nothing more happens to the job.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Applied { .. }
                | Self::Cancelled { .. }
                | Self::Fatal { .. }
                | Self::Abandoned { .. }
        )
    }

    /// Amazon's feed id, once known.
    pub fn feed_id(&self) -> Option<&str> {
        match self {
            Self::Submitted { feed_id }
            | Self::Applied { feed_id }
            | Self::Cancelled { feed_id }
            | Self::Fatal { feed_id, .. } => Some(feed_id),
            _ => None,
        }
    }
}

/// Line counts of an applied feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCounts {
    /// Lines in the feed.
    pub lines: u32,
    /// Shipments in the feed.
    pub shipments: u32,
    /// Lines applied without remark.
    pub accepted: u32,
    /// Lines applied with a warning.
    pub warned: u32,
    /// Lines refused.
    pub rejected: u32,
}

/// One fulfilment feed of a seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedJob {
    /// Seller.
    pub seller_id: SellerId,
    /// The job.
    pub job_id: JobId,
    /// Amazon feed type.
    pub feed_type: String,
    /// Marketplaces of the orders in the feed.
    pub marketplaces: Vec<MarketplaceId>,
    /// State.
    pub state: FeedJobState,
    /// `<order>/<shipment>` of every shipment claimed (to release them if the job ends early).
    pub shipments: Vec<String>,
    /// S3 key of the feed document (its record map is beside it, `.records.json`).
    pub document_key: String,
    /// S3 key of Amazon's processing report, once stored.
    pub report_key: Option<String>,
    /// Line counts.
    pub counts: FeedCounts,
    /// What in the report did not fit the feed (kept for people).
    pub discrepancies: Vec<String>,
    /// Seconds to wait before the first getFeed (learned from the seller's previous feed).
    pub first_poll_seconds: u64,
    /// getFeed polls made.
    pub polls: u32,
    /// createFeedDocument calls made (an upload URL refused again and again ends the job).
    #[serde(default)]
    pub document_attempts: u32,
    /// createFeed attempts made (each claims the job first, see `Submitting`).
    #[serde(default)]
    pub submit_attempts: u32,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last state change (a stalled job is nudged or given up from here).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Submitted to Amazon (createFeed answered or adopted).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    /// Ended.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// Optimistic-locking version (0 before the first write).
    pub version: u64,
}

impl FeedJob {
    /// A new job in `Claiming`.
    pub fn new(
        seller_id: SellerId,
        job_id: JobId,
        feed_type: &str,
        document_key: String,
        first_poll_seconds: u64,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            seller_id,
            job_id,
            feed_type: feed_type.to_owned(),
            marketplaces: Vec::new(),
            state: FeedJobState::Claiming,
            shipments: Vec::new(),
            document_key,
            report_key: None,
            counts: FeedCounts::default(),
            discrepancies: Vec::new(),
            first_poll_seconds,
            polls: 0,
            document_attempts: 0,
            submit_attempts: 0,
            created_at: now,
            updated_at: now,
            submitted_at: None,
            ended_at: None,
            version: 0,
        }
    }

    /// Delay before the next getFeed, given the polls made so far.
    pub fn next_poll_delay(&self) -> std::time::Duration {
        let secs = if self.polls == 0 {
            self.first_poll_seconds
        } else {
            let i = (self.polls as usize - 1).min(POLL_DELAYS.len() - 1);
            POLL_DELAYS[i]
        };
        std::time::Duration::from_secs(secs)
    }

    /// First-poll delay for the seller's next feed, learned from this (ended) job: how long
    /// Amazon took from submission to the end, clamped to 30 s … 10 min. `None` when the job
    /// was never submitted or has not ended.
    pub fn observed_seconds(&self) -> Option<u64> {
        let took = self.ended_at? - self.submitted_at?;
        Some(took.whole_seconds().clamp(30, 600) as u64)
    }

    /// S3 key of the record map beside the document.
    pub fn records_key(&self) -> String {
        format!("{}.records.json", self.document_key)
    }
}

/// S3 key of a feed document: `feeds/<seller>/<feed type>/<yyyy-mm-dd>/<job>.tsv`.
pub fn feed_document_key(
    seller: &SellerId,
    feed_type: &str,
    job: &JobId,
    now: OffsetDateTime,
) -> String {
    let d = now.to_offset(time::UtcOffset::UTC).date();
    format!(
        "feeds/{seller}/{feed_type}/{:04}-{:02}-{:02}/{job}.tsv",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}

/// S3 key of a feed's processing report, beside its document.
pub fn processing_report_key(document_key: &str) -> String {
    let stem = document_key.strip_suffix(".tsv").unwrap_or(document_key);
    format!("{stem}.processing-report.raw")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn job() -> FeedJob {
        FeedJob::new(
            SellerId::new("S1"),
            JobId::new("J1"),
            "POST_FLAT_FILE_FULFILLMENT_DATA",
            "feeds/S1/POST_FLAT_FILE_FULFILLMENT_DATA/2026-11-22/J1.tsv".into(),
            150,
            datetime!(2026-11-22 10:00 UTC),
        )
    }

    #[test]
    fn polls_start_at_the_learned_delay_then_follow_the_schedule() {
        let mut j = job();
        let delays: Vec<u64> = (0..9)
            .map(|n| {
                j.polls = n;
                j.next_poll_delay().as_secs()
            })
            .collect();
        assert_eq!(delays, vec![150, 30, 30, 60, 120, 300, 600, 600, 600]);
    }

    #[test]
    fn observed_seconds_are_clamped_and_need_both_ends() {
        let mut j = job();
        assert_eq!(j.observed_seconds(), None);
        j.submitted_at = Some(datetime!(2026-11-22 10:00 UTC));
        j.ended_at = Some(datetime!(2026-11-22 10:02:40 UTC));
        assert_eq!(j.observed_seconds(), Some(160));
        j.ended_at = Some(datetime!(2026-11-22 10:00:05 UTC));
        assert_eq!(j.observed_seconds(), Some(30));
        j.ended_at = Some(datetime!(2026-11-22 13:00 UTC));
        assert_eq!(j.observed_seconds(), Some(600));
    }

    #[test]
    fn keys_are_dated_and_the_report_sits_beside_the_document() {
        let key = feed_document_key(
            &SellerId::new("S1"),
            "POST_FLAT_FILE_FULFILLMENT_DATA",
            &JobId::new("J9"),
            datetime!(2026-11-22 23:59 -01:00),
        );
        assert_eq!(
            key,
            "feeds/S1/POST_FLAT_FILE_FULFILLMENT_DATA/2026-11-23/J9.tsv"
        );
        assert_eq!(
            processing_report_key(&key),
            "feeds/S1/POST_FLAT_FILE_FULFILLMENT_DATA/2026-11-23/J9.processing-report.raw"
        );
        assert_eq!(
            job().records_key(),
            format!("{}.records.json", job().document_key)
        );
    }

    #[test]
    fn terminal_states_and_feed_ids() {
        assert!(!FeedJobState::Claiming.is_terminal());
        assert!(
            !FeedJobState::Submitted {
                feed_id: "1".into()
            }
            .is_terminal()
        );
        let fatal = FeedJobState::Fatal {
            feed_id: "7".into(),
            reason: "x".into(),
        };
        assert!(fatal.is_terminal());
        assert_eq!(fatal.feed_id(), Some("7"));
        assert_eq!(FeedJobState::Built.feed_id(), None);
    }
}
