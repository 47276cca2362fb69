//! Per-operation usage plans and the [`Limiter`] that paces calls against them.
//!
//! The plans are Amazon's published defaults (each model's "Usage Plan" table). Selling partners
//! may get higher dynamic plans; the client learns those from `x-amzn-RateLimit-Limit` and feeds
//! them to the limiter. The limiter never sleeps: it answers `Ok` or "wait this long" and the
//! client decides whether the wait is short enough to sleep through in-process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use spsync_domain::{TokenBucket, UsagePlan};

/// [getReports](https://developer-docs.amazon.com/sp-api/reference/getreports) usage plan
/// (Reports API v2021-06-30).
pub const GET_REPORTS: UsagePlan = UsagePlan::new(0.0222, 10);
/// [createReport](https://developer-docs.amazon.com/sp-api/reference/createreport) usage plan
/// (Reports API v2021-06-30).
pub const CREATE_REPORT: UsagePlan = UsagePlan::new(0.0167, 15);
/// [getReport](https://developer-docs.amazon.com/sp-api/reference/getreport) usage plan
/// (Reports API v2021-06-30).
pub const GET_REPORT: UsagePlan = UsagePlan::new(2.0, 15);
/// [cancelReport](https://developer-docs.amazon.com/sp-api/reference/cancelreport) usage plan
/// (Reports API v2021-06-30).
pub const CANCEL_REPORT: UsagePlan = UsagePlan::new(0.0222, 10);
/// [getReportDocument](https://developer-docs.amazon.com/sp-api/reference/getreportdocument)
/// usage plan (Reports API v2021-06-30).
pub const GET_REPORT_DOCUMENT: UsagePlan = UsagePlan::new(0.0167, 15);
/// [createFeedDocument](https://developer-docs.amazon.com/sp-api/reference/createfeeddocument)
/// usage plan (Feeds API v2021-06-30).
pub const CREATE_FEED_DOCUMENT: UsagePlan = UsagePlan::new(0.5, 15);
/// [createFeed](https://developer-docs.amazon.com/sp-api/reference/createfeed) usage plan
/// (Feeds API v2021-06-30), for every feed type except `JSON_LISTINGS_FEED`.
pub const CREATE_FEED: UsagePlan = UsagePlan::new(0.0083, 15);
/// createFeed for `JSON_LISTINGS_FEED`: 5 submissions per 5 minutes per region, burst 5
/// ([SP-API changelog, 2025-05-06](https://developer-docs.amazon.com/sp-api/changelog), and the
/// [Building Listings Management Workflows Guide](https://developer-docs.amazon.com/sp-api/docs/building-listings-management-workflows-guide)
/// that the createFeed reference points to).
pub const CREATE_FEED_JSON_LISTINGS: UsagePlan = match UsagePlan::per_period(5, 300, 5) {
    Ok(plan) => plan,
    Err(_) => panic!("a positive period"),
};

/// Largest `x-amzn-RateLimit-Limit` value (requests per second) taken seriously. No SP-API
/// operation this client calls is anywhere near it; a larger value (`1e12` has been seen from
/// proxies and test doubles) would turn the limiter off, so it is ignored.
pub const MAX_PLAUSIBLE_RATE: f64 = 100.0;
/// [getFeed](https://developer-docs.amazon.com/sp-api/reference/getfeed) usage plan
/// (Feeds API v2021-06-30).
pub const GET_FEED: UsagePlan = UsagePlan::new(2.0, 15);
/// [getFeeds](https://developer-docs.amazon.com/sp-api/reference/getfeeds) usage plan
/// (Feeds API v2021-06-30).
pub const GET_FEEDS: UsagePlan = UsagePlan::new(0.0222, 10);
/// [cancelFeed](https://developer-docs.amazon.com/sp-api/reference/cancelfeed) usage plan
/// (Feeds API v2021-06-30).
pub const CANCEL_FEED: UsagePlan = UsagePlan::new(2.0, 15);
/// [getFeedDocument](https://developer-docs.amazon.com/sp-api/reference/getfeeddocument)
/// usage plan (Feeds API v2021-06-30).
pub const GET_FEED_DOCUMENT: UsagePlan = UsagePlan::new(0.0222, 10);
/// [searchOrders](https://developer-docs.amazon.com/sp-api/reference/searchorders) usage plan
/// (Orders API v2026-01-01).
pub const SEARCH_ORDERS: UsagePlan = UsagePlan::new(0.0056, 20);
/// [getOrder](https://developer-docs.amazon.com/sp-api/reference/getorder) usage plan
/// (Orders API v2026-01-01, `GET /orders/2026-01-01/orders/{orderId}`).
pub const GET_ORDER: UsagePlan = UsagePlan::new(0.5, 30);

/// The SP-API operations this client calls; each has one usage plan and one bucket per seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Reports: getReports.
    GetReports,
    /// Reports: createReport.
    CreateReport,
    /// Reports: getReport.
    GetReport,
    /// Reports: cancelReport.
    CancelReport,
    /// Reports: getReportDocument.
    GetReportDocument,
    /// Feeds: createFeedDocument.
    CreateFeedDocument,
    /// Feeds: createFeed (any feed type but `JSON_LISTINGS_FEED`).
    CreateFeed,
    /// Feeds: createFeed with feed type `JSON_LISTINGS_FEED`, which Amazon meters separately.
    CreateJsonListingsFeed,
    /// Feeds: getFeed.
    GetFeed,
    /// Feeds: getFeeds.
    GetFeeds,
    /// Feeds: cancelFeed.
    CancelFeed,
    /// Feeds: getFeedDocument.
    GetFeedDocument,
    /// Orders v2026-01-01: searchOrders.
    SearchOrders,
    /// Orders v2026-01-01: getOrder.
    GetOrder,
}

impl Operation {
    /// Every operation, for tables and tests.
    pub const ALL: [Operation; 14] = [
        Self::GetReports,
        Self::CreateReport,
        Self::GetReport,
        Self::CancelReport,
        Self::GetReportDocument,
        Self::CreateFeedDocument,
        Self::CreateFeed,
        Self::CreateJsonListingsFeed,
        Self::GetFeed,
        Self::GetFeeds,
        Self::CancelFeed,
        Self::GetFeedDocument,
        Self::SearchOrders,
        Self::GetOrder,
    ];

    /// Amazon's operation id, as used in errors and the `sp_operation` tracing field.
    pub const fn name(self) -> &'static str {
        match self {
            Self::GetReports => "getReports",
            Self::CreateReport => "createReport",
            Self::GetReport => "getReport",
            Self::CancelReport => "cancelReport",
            Self::GetReportDocument => "getReportDocument",
            Self::CreateFeedDocument => "createFeedDocument",
            Self::CreateFeed | Self::CreateJsonListingsFeed => "createFeed",
            Self::GetFeed => "getFeed",
            Self::GetFeeds => "getFeeds",
            Self::CancelFeed => "cancelFeed",
            Self::GetFeedDocument => "getFeedDocument",
            Self::SearchOrders => "searchOrders",
            Self::GetOrder => "getOrder",
        }
    }

    /// Whether sending the same request twice has the effect of sending it once, so a request
    /// that may have reached Amazon can be repeated in-process. `false` for createReport and
    /// createFeed (a repeat creates a second report or feed and spends scarce quota) and for
    /// cancelReport and cancelFeed (a repeat of a cancel that worked answers 400, which would
    /// turn a success into a permanent failure). createFeedDocument is `true`: an extra unused
    /// document is harmless.
    pub const fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Self::CreateReport
                | Self::CreateFeed
                | Self::CreateJsonListingsFeed
                | Self::CancelReport
                | Self::CancelFeed
        )
    }

    /// Whether the operation only reads (a `GET`).
    pub const fn is_read_only(self) -> bool {
        matches!(
            self,
            Self::GetReports
                | Self::GetReport
                | Self::GetReportDocument
                | Self::GetFeed
                | Self::GetFeeds
                | Self::GetFeedDocument
                | Self::SearchOrders
                | Self::GetOrder
        )
    }

    /// Amazon's default usage plan for this operation.
    pub const fn usage_plan(self) -> UsagePlan {
        match self {
            Self::GetReports => GET_REPORTS,
            Self::CreateReport => CREATE_REPORT,
            Self::GetReport => GET_REPORT,
            Self::CancelReport => CANCEL_REPORT,
            Self::GetReportDocument => GET_REPORT_DOCUMENT,
            Self::CreateFeedDocument => CREATE_FEED_DOCUMENT,
            Self::CreateFeed => CREATE_FEED,
            Self::CreateJsonListingsFeed => CREATE_FEED_JSON_LISTINGS,
            Self::GetFeed => GET_FEED,
            Self::GetFeeds => GET_FEEDS,
            Self::CancelFeed => CANCEL_FEED,
            Self::GetFeedDocument => GET_FEED_DOCUMENT,
            Self::SearchOrders => SEARCH_ORDERS,
            Self::GetOrder => GET_ORDER,
        }
    }
}

#[derive(Debug, Default)]
struct LimiterState {
    origin: Option<Instant>,
    buckets: HashMap<(String, Operation), TokenBucket>,
}

impl LimiterState {
    /// `now` as a duration since the first instant this limiter saw.
    fn since_origin(&mut self, now: Instant) -> Duration {
        let origin = *self.origin.get_or_insert(now);
        now.saturating_duration_since(origin)
    }

    fn bucket(&mut self, account: &str, operation: Operation, now: Duration) -> &mut TokenBucket {
        self.buckets
            .entry((account.to_owned(), operation))
            .or_insert_with(|| TokenBucket::new(operation.usage_plan(), now))
    }
}

/// Token buckets keyed by (seller account, operation). Never sleeps; thread-safe.
///
/// Buckets live as long as the limiter, i.e. per warm Lambda container when the limiter sits in
/// a static client: the real ceiling across containers is the function's concurrency, and a 429
/// from Amazon drains the local bucket so one container learns what the others spent.
///
/// ```
/// use std::time::{Duration, Instant};
/// use spsync_spapi::limits::{Limiter, Operation};
///
/// let limiter = Limiter::new();
/// let t0 = Instant::now();
/// for _ in 0..15 {
///     assert!(limiter.acquire("seller-1", Operation::GetReport, t0).is_ok());
/// }
/// // burst of 15 spent: the 16th call must wait one refill interval (1 / 2 rps)
/// let wait = limiter.acquire("seller-1", Operation::GetReport, t0).unwrap_err();
/// assert_eq!(wait, Duration::from_millis(500));
/// // other sellers and other operations have their own buckets
/// assert!(limiter.acquire("seller-2", Operation::GetReport, t0).is_ok());
/// ```
#[derive(Debug, Default)]
pub struct Limiter {
    state: Mutex<LimiterState>,
}

impl Limiter {
    /// An empty limiter; buckets are created full on first use.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_bucket<T>(
        &self,
        account: &str,
        operation: Operation,
        now: Instant,
        f: impl FnOnce(&mut TokenBucket, Duration) -> T,
    ) -> T {
        // A poisoned lock only means another thread panicked mid-update of plain numbers;
        // the buckets are still usable.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = state.since_origin(now);
        f(state.bucket(account, operation, now), now)
    }

    /// Takes a token for one call of `operation` on behalf of `account` at `now`, or returns
    /// how long to wait (nothing is consumed then).
    pub fn acquire(
        &self,
        account: &str,
        operation: Operation,
        now: Instant,
    ) -> Result<(), Duration> {
        self.with_bucket(account, operation, now, |bucket, now| {
            bucket.try_acquire(now)
        })
    }

    /// Records the rate Amazon applied (`x-amzn-RateLimit-Limit`, requests per second).
    /// Returns `false`, changing nothing, for a value that is not a plausible rate (not
    /// positive, not finite, or above [`MAX_PLAUSIBLE_RATE`]).
    pub fn observe_rate_limit(
        &self,
        account: &str,
        operation: Operation,
        rate: f64,
        now: Instant,
    ) -> bool {
        if !(rate.is_finite() && rate > 0.0 && rate <= MAX_PLAUSIBLE_RATE) {
            return false;
        }
        self.with_bucket(account, operation, now, |bucket, now| {
            bucket.observe_rate(rate, now)
        });
        true
    }

    /// Records a 429: drains the bucket and returns the wait until the next token. The run of
    /// consecutive 429s ([`Limiter::throttle_streak`]) grows by one.
    pub fn on_throttled(&self, account: &str, operation: Operation, now: Instant) -> Duration {
        self.with_bucket(account, operation, now, |bucket, now| {
            bucket.on_throttled(now);
            bucket.wait_time(now)
        })
    }

    /// Records that Amazon accepted a call: ends the run of consecutive 429s.
    pub fn on_success(&self, account: &str, operation: Operation, now: Instant) {
        self.with_bucket(account, operation, now, |bucket, _| bucket.on_success());
    }

    /// Consecutive 429s Amazon answered for `(account, operation)` since the last success. It
    /// outlives single calls (as long as the limiter, i.e. the warm container), which is what
    /// lets the 429 backoff grow across the SQS retries of one step.
    pub fn throttle_streak(&self, account: &str, operation: Operation) -> u32 {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .buckets
            .get(&(account.to_owned(), operation))
            .map_or(0, TokenBucket::throttle_streak)
    }

    /// The rate currently used for `(account, operation)`: observed or default.
    pub fn current_rate(&self, account: &str, operation: Operation) -> f64 {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .buckets
            .get(&(account.to_owned(), operation))
            .map_or(operation.usage_plan().rate, TokenBucket::rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_match_the_fact_sheet() {
        // (operation, name, rate, burst) from spapi-facts.md sections 2, 3 and 4b.
        let table: &[(Operation, &str, f64, u32)] = &[
            (Operation::GetReports, "getReports", 0.0222, 10),
            (Operation::CreateReport, "createReport", 0.0167, 15),
            (Operation::GetReport, "getReport", 2.0, 15),
            (Operation::CancelReport, "cancelReport", 0.0222, 10),
            (
                Operation::GetReportDocument,
                "getReportDocument",
                0.0167,
                15,
            ),
            (Operation::CreateFeedDocument, "createFeedDocument", 0.5, 15),
            (Operation::CreateFeed, "createFeed", 0.0083, 15),
            (
                Operation::CreateJsonListingsFeed,
                "createFeed",
                1.0 / 60.0,
                5,
            ),
            (Operation::GetFeed, "getFeed", 2.0, 15),
            (Operation::GetFeeds, "getFeeds", 0.0222, 10),
            (Operation::CancelFeed, "cancelFeed", 2.0, 15),
            (Operation::GetFeedDocument, "getFeedDocument", 0.0222, 10),
            (Operation::SearchOrders, "searchOrders", 0.0056, 20),
            (Operation::GetOrder, "getOrder", 0.5, 30),
        ];
        assert_eq!(table.len(), Operation::ALL.len());
        for &(op, name, rate, burst) in table {
            assert_eq!(op.name(), name);
            let plan = op.usage_plan();
            assert!((plan.rate - rate).abs() < 1e-12, "{name}: {}", plan.rate);
            assert_eq!(plan.burst, burst, "{name}");
        }
    }

    #[test]
    fn limiter_keys_by_account_and_operation() {
        let limiter = Limiter::new();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(limiter.acquire("a", Operation::GetReports, t0).is_ok());
        }
        let wait = limiter.acquire("a", Operation::GetReports, t0).unwrap_err();
        let expected = Duration::from_secs_f64(1.0 / 0.0222);
        assert!(
            wait.abs_diff(expected) < Duration::from_millis(1),
            "{wait:?}"
        );
        assert!(limiter.acquire("b", Operation::GetReports, t0).is_ok());
        assert!(limiter.acquire("a", Operation::CancelReport, t0).is_ok());
        // time passing refills
        assert!(
            limiter
                .acquire("a", Operation::GetReports, t0 + expected)
                .is_ok()
        );
    }

    #[test]
    fn absurd_rate_headers_are_ignored() {
        let limiter = Limiter::new();
        let t0 = Instant::now();
        for rate in [1e12, f64::INFINITY, 0.0, -1.0, 101.0] {
            assert!(
                !limiter.observe_rate_limit("a", Operation::GetReport, rate, t0),
                "{rate}"
            );
            assert_eq!(
                limiter.current_rate("a", Operation::GetReport),
                2.0,
                "{rate}"
            );
        }
        assert!(limiter.observe_rate_limit("a", Operation::GetReport, 100.0, t0));
        assert_eq!(limiter.current_rate("a", Operation::GetReport), 100.0);
    }

    #[test]
    fn idempotency_and_read_only_flags() {
        let not_idempotent: Vec<_> = Operation::ALL
            .iter()
            .filter(|op| !op.is_idempotent())
            .map(|op| op.name())
            .collect();
        assert_eq!(
            not_idempotent,
            [
                "createReport",
                "cancelReport",
                "createFeed",
                "createFeed",
                "cancelFeed"
            ]
        );
        for op in Operation::ALL {
            if op.is_read_only() {
                assert!(op.is_idempotent(), "{op:?}");
            }
        }
        assert!(Operation::CreateFeedDocument.is_idempotent());
        assert!(!Operation::CreateFeedDocument.is_read_only());
    }

    #[test]
    fn throttle_streak_counts_until_success() {
        let limiter = Limiter::new();
        let t0 = Instant::now();
        assert_eq!(limiter.throttle_streak("a", Operation::GetReport), 0);
        limiter.on_throttled("a", Operation::GetReport, t0);
        limiter.on_throttled("a", Operation::GetReport, t0);
        assert_eq!(limiter.throttle_streak("a", Operation::GetReport), 2);
        assert_eq!(limiter.throttle_streak("b", Operation::GetReport), 0);
        limiter.on_success("a", Operation::GetReport, t0);
        assert_eq!(limiter.throttle_streak("a", Operation::GetReport), 0);
    }

    #[test]
    fn throttle_and_observed_rate() {
        let limiter = Limiter::new();
        let t0 = Instant::now();
        // the header says this seller has 10 rps for getFeed, then Amazon throttles
        limiter.observe_rate_limit("a", Operation::GetFeed, 10.0, t0);
        assert_eq!(limiter.current_rate("a", Operation::GetFeed), 10.0);
        assert_eq!(limiter.current_rate("b", Operation::GetFeed), 2.0);
        let wait = limiter.on_throttled("a", Operation::GetFeed, t0);
        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(
            limiter.acquire("a", Operation::GetFeed, t0),
            Err(Duration::from_millis(100))
        );
        assert!(
            limiter
                .acquire("a", Operation::GetFeed, t0 + Duration::from_millis(100))
                .is_ok()
        );
    }
}
