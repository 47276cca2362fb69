//! Report jobs: one request of an Amazon report, from createReport to imported rows.
//!
//! The state machine and the poll schedule are pure: the workflow asks [`next_poll`] what to
//! do with the processing status Amazon answered and gets a [`PollDecision`] back.
//!
//! ```text
//! Requested ──createReport──▶ InProgress ──DONE──▶ Stored ──import──▶ Imported
//!     │                          │  ├─CANCELLED──▶ Cancelled (no data)
//!     │                          │  ├─FATAL──────▶ Failed (reason kept; the next schedule retries)
//!     │                          │  └─stuck──────▶ Failed (cancelled at Amazon, a new job replaces it)
//!     └─permanent error──────────┴───────────────▶ Failed
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{MarketplaceId, ProcessingStatus, SellerId};

/// The order report spsync imports.
pub const ORDERS_REPORT_TYPE: &str = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL";

/// Id of one report job, unique per seller and marketplace; sortable by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// Wraps a stored id.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A new id: creation time (UTC, second precision, sortable) and a random suffix.
    pub fn generate(now: OffsetDateTime, random: u64) -> Self {
        let now = now.to_offset(time::UtcOffset::UTC);
        Self(format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:08x}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            random as u32
        ))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// When a [`JobId::generate`]d id was made (`None` for an id of another shape).
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        let stamp = self.0.get(..16)?;
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        time::PrimitiveDateTime::parse(stamp, &format)
            .ok()
            .map(time::PrimitiveDateTime::assume_utc)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a report job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Recorded; createReport not yet accepted by Amazon.
    Requested,
    /// Amazon has the report (IN_QUEUE or IN_PROGRESS); polling.
    InProgress,
    /// The raw document is in S3; import pending.
    Stored,
    /// Rows imported. Terminal.
    Imported,
    /// Amazon cancelled the report (no data). Terminal.
    Cancelled,
    /// FATAL at Amazon, stuck, or a permanent error. Terminal; the reason is kept.
    Failed,
}

impl JobState {
    /// Terminal states end the job and free the seller's slot for a new one.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Imported | Self::Cancelled | Self::Failed)
    }

    /// Storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Stored => "STORED",
            Self::Imported => "IMPORTED",
            Self::Cancelled => "CANCELLED",
            Self::Failed => "FAILED",
        }
    }
}

/// Counts of one import, kept on the job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    /// Data rows read.
    pub rows: u64,
    /// Orders (row groups) read.
    pub orders: u64,
    /// Orders created.
    pub created: u64,
    /// Orders updated.
    pub updated: u64,
    /// Orders unchanged (no write).
    pub unchanged: u64,
    /// Rows older than what we hold (no write).
    pub stale: u64,
    /// Orders never seen before that arrived already Cancelled or Shipped.
    pub skipped_closed: u64,
    /// FBA orders among those read.
    pub fba: u64,
    /// Malformed rows.
    pub malformed_rows: u64,
    /// Orders not imported because one of their rows was malformed (an order is never
    /// stored with an item missing).
    #[serde(default)]
    pub held_back: u64,
    /// Orders the store refused for good (e.g. over the item size limit); listed in
    /// `row_errors`, the rest of the report is imported.
    #[serde(default)]
    pub failed_orders: u64,
    /// Columns of the header spsync does not know.
    pub unknown_columns: Vec<String>,
    /// The first malformed rows, `line: reason` (at most [`MAX_KEPT_ROW_ERRORS`]).
    pub row_errors: Vec<String>,
}

/// How many malformed-row messages a job keeps (all are logged and counted).
pub const MAX_KEPT_ROW_ERRORS: usize = 50;

/// One report job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportJob {
    /// Job id.
    pub job_id: JobId,
    /// Seller.
    pub seller_id: SellerId,
    /// Marketplace the report covers.
    pub marketplace_id: MarketplaceId,
    /// Amazon report type.
    pub report_type: String,
    /// State.
    pub state: JobState,
    /// Start of the data window (purchase date).
    #[serde(with = "time::serde::rfc3339")]
    pub data_start: OffsetDateTime,
    /// End of the data window.
    #[serde(with = "time::serde::rfc3339")]
    pub data_end: OffsetDateTime,
    /// Amazon's report id once createReport succeeded.
    pub report_id: Option<String>,
    /// Amazon's report document id once DONE.
    pub report_document_id: Option<String>,
    /// S3 key of the raw document once stored.
    pub document_key: Option<String>,
    /// getReport calls made so far.
    pub polls: u32,
    /// createReport calls started for this job. More than one means an earlier call may have
    /// reached Amazon without us learning its report id: the next attempt first looks for that
    /// report (getReports) instead of creating a second one.
    #[serde(default)]
    pub create_attempts: u32,
    /// Last processing status Amazon answered.
    pub last_status: Option<ProcessingStatus>,
    /// Why the job failed (FATAL, stuck, permanent error).
    pub failure: Option<String>,
    /// The job this one replaces (after a stuck report was cancelled).
    pub replaces: Option<JobId>,
    /// Import counts once imported.
    pub stats: Option<ImportStats>,
    /// When the job was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Storage version; every transition is a conditional write on it.
    pub version: u64,
}

impl ReportJob {
    /// A new job for a report over `[now - lookback, now]`.
    pub fn new(
        job_id: JobId,
        seller_id: SellerId,
        marketplace_id: MarketplaceId,
        report_type: impl Into<String>,
        lookback: Duration,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            job_id,
            seller_id,
            marketplace_id,
            report_type: report_type.into(),
            state: JobState::Requested,
            data_start: now - lookback,
            data_end: now,
            report_id: None,
            report_document_id: None,
            document_key: None,
            polls: 0,
            create_attempts: 0,
            last_status: None,
            failure: None,
            replaces: None,
            stats: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// The S3 key of the raw document:
    /// `reports/<seller>/<report type>/<yyyy-mm-dd of data end>/<report id>.raw`.
    pub fn document_key_for(&self, report_id: &str) -> String {
        let d = self.data_end.to_offset(time::UtcOffset::UTC).date();
        format!(
            "reports/{}/{}/{:04}-{:02}-{:02}/{}.raw",
            self.seller_id,
            self.report_type,
            d.year(),
            u8::from(d.month()),
            d.day(),
            report_id
        )
    }
}

/// What to do after a getReport answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollDecision {
    /// Not ready: poll again after this delay.
    PollAgainAfter(Duration),
    /// DONE: fetch this document.
    Fetch {
        /// Amazon's report document id.
        report_document_id: String,
    },
    /// DONE without a document id: Amazon broke its contract; fail the job.
    DoneWithoutDocument,
    /// CANCELLED: no data; end the job.
    Cancelled,
    /// FATAL: fail the job with this reason.
    Fatal,
    /// Still not done past the limit: cancel at Amazon and start a replacement.
    Stuck,
}

/// The poll schedule: how long to wait before poll number `polls + 1`.
///
/// An order report over three days usually takes one to three minutes: the first poll waits a
/// minute (an earlier one would almost always be wasted), the next ones a minute apart, later ones
/// back off to [`MAX_POLL_DELAY`] so a slow report costs few getReport calls.
pub fn poll_delay(polls: u32) -> Duration {
    const SCHEDULE: [u64; 6] = [60, 60, 60, 120, 240, 480];
    let secs = SCHEDULE
        .get(polls as usize)
        .copied()
        .unwrap_or(MAX_POLL_DELAY.as_secs());
    Duration::from_secs(secs).min(MAX_POLL_DELAY)
}

/// Longest wait between two polls of one report.
pub const MAX_POLL_DELAY: Duration = Duration::from_secs(600);

/// Decides the next step from Amazon's answer to getReport.
pub fn next_poll(
    job: &ReportJob,
    status: ProcessingStatus,
    report_document_id: Option<&str>,
    now: OffsetDateTime,
    stuck_after: Duration,
) -> PollDecision {
    match status {
        ProcessingStatus::Done => match report_document_id {
            Some(id) if !id.is_empty() => PollDecision::Fetch {
                report_document_id: id.to_owned(),
            },
            _ => PollDecision::DoneWithoutDocument,
        },
        ProcessingStatus::Cancelled => PollDecision::Cancelled,
        ProcessingStatus::Fatal => PollDecision::Fatal,
        ProcessingStatus::InQueue | ProcessingStatus::InProgress => {
            if now - job.created_at >= stuck_after {
                PollDecision::Stuck
            } else {
                PollDecision::PollAgainAfter(poll_delay(job.polls))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn job(polls: u32) -> ReportJob {
        let mut j = ReportJob::new(
            JobId::new("j"),
            SellerId::new("S"),
            MarketplaceId::new("M"),
            ORDERS_REPORT_TYPE,
            Duration::from_secs(3 * 86_400),
            datetime!(2026-11-20 10:00 UTC),
        );
        j.polls = polls;
        j
    }

    #[test]
    fn poll_delay_grows_and_is_capped() {
        let delays: Vec<u64> = (0..10).map(|p| poll_delay(p).as_secs()).collect();
        assert_eq!(delays, [60, 60, 60, 120, 240, 480, 600, 600, 600, 600]);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn next_poll_follows_the_processing_status() {
        let now = datetime!(2026-11-20 10:05 UTC);
        let stuck = Duration::from_secs(7200);
        let cases = [
            (
                ProcessingStatus::InQueue,
                None,
                PollDecision::PollAgainAfter(Duration::from_secs(120)),
            ),
            (
                ProcessingStatus::InProgress,
                None,
                PollDecision::PollAgainAfter(Duration::from_secs(120)),
            ),
            (
                ProcessingStatus::Done,
                Some("doc-1"),
                PollDecision::Fetch {
                    report_document_id: "doc-1".into(),
                },
            ),
            (
                ProcessingStatus::Done,
                None,
                PollDecision::DoneWithoutDocument,
            ),
            (ProcessingStatus::Cancelled, None, PollDecision::Cancelled),
            (
                ProcessingStatus::Fatal,
                Some("doc-err"),
                PollDecision::Fatal,
            ),
        ];
        for (status, doc, want) in cases {
            assert_eq!(
                next_poll(&job(3), status, doc, now, stuck),
                want,
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_report_still_queued_past_the_limit_is_stuck() {
        let j = job(20);
        let limit = Duration::from_secs(7200);
        assert_eq!(
            next_poll(
                &j,
                ProcessingStatus::InQueue,
                None,
                j.created_at + limit,
                limit
            ),
            PollDecision::Stuck
        );
        assert!(matches!(
            next_poll(
                &j,
                ProcessingStatus::InQueue,
                None,
                j.created_at + limit - Duration::from_secs(1),
                limit
            ),
            PollDecision::PollAgainAfter(_)
        ));
    }

    #[test]
    fn document_key_names_seller_type_date_and_report() {
        assert_eq!(
            job(0).document_key_for("5012345"),
            "reports/S/GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL/2026-11-20/5012345.raw"
        );
    }

    #[test]
    fn job_ids_sort_by_creation_time() {
        let a = JobId::generate(datetime!(2026-11-20 09:59:59 UTC), u64::MAX);
        let b = JobId::generate(datetime!(2026-11-20 10:00:00 UTC), 0);
        assert!(a < b, "{a} < {b}");
        assert_eq!(b.as_str(), "20261120T100000Z-00000000");
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = [
            JobState::Requested,
            JobState::InProgress,
            JobState::Stored,
            JobState::Imported,
            JobState::Cancelled,
            JobState::Failed,
        ]
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
        assert_eq!(
            terminal,
            [JobState::Imported, JobState::Cancelled, JobState::Failed]
        );
    }
}

#[cfg(test)]
mod job_id_tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_generated_id_tells_when_it_was_made() {
        let at = datetime!(2026-11-22 03:04:05 UTC);
        assert_eq!(JobId::generate(at, 42).created_at(), Some(at));
        assert_eq!(JobId::new("not-a-job-id").created_at(), None);
    }
}
