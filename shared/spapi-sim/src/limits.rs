//! Amazon's usage plans, as the simulator enforces them.
//!
//! The simulator keeps its own table (not our client's): a token bucket per (seller,
//! operation) with Amazon's default rate and burst, refilled in simulated time. The numbers
//! come from the "Usage Plan" tables in each API model's operation description
//! (reports_2021-06-30.json, feeds_2021-06-30.json, orders_2026-01-01.json) and, for
//! JSON_LISTINGS_FEED's own createFeed limit (5 per 5 minutes per region), from the
//! 2025-05-06 SP-API changelog.

use std::collections::HashMap;

use time::OffsetDateTime;

/// An operation the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /auth/o2/token` (not usage-planned by SP-API).
    LwaToken,
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
    /// Feeds: createFeed (every feed type but JSON_LISTINGS_FEED).
    CreateFeed,
    /// Feeds: createFeed for JSON_LISTINGS_FEED (its own, lower limit).
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
    /// Tokens: createRestrictedDataToken.
    CreateRestrictedDataToken,
    /// Document download or upload on a presigned URL (S3 in real life: not usage-planned).
    Document,
}

impl Operation {
    /// The operation id as Amazon's models spell it (used in stats and fault rules).
    pub fn name(self) -> &'static str {
        match self {
            Self::LwaToken => "lwaToken",
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
            Self::CreateRestrictedDataToken => "createRestrictedDataToken",
            Self::Document => "document",
        }
    }

    /// Amazon's default usage plan, `None` for calls outside SP-API's usage plans.
    pub fn usage_plan(self) -> Option<UsagePlan> {
        let plan = |rate, burst| Some(UsagePlan { rate, burst });
        match self {
            Self::LwaToken | Self::Document => None,
            Self::GetReports => plan(0.0222, 10),
            Self::CreateReport => plan(0.0167, 15),
            Self::GetReport => plan(2.0, 15),
            Self::CancelReport => plan(0.0222, 10),
            Self::GetReportDocument => plan(0.0167, 15),
            Self::CreateFeedDocument => plan(0.5, 15),
            Self::CreateFeed => plan(0.0083, 15),
            // 5 submissions per 5 minutes.
            Self::CreateJsonListingsFeed => plan(5.0 / 300.0, 5),
            Self::GetFeed => plan(2.0, 15),
            Self::GetFeeds => plan(0.0222, 10),
            Self::CancelFeed => plan(2.0, 15),
            Self::GetFeedDocument => plan(0.0222, 10),
            Self::SearchOrders => plan(0.0056, 20),
            Self::GetOrder => plan(0.5, 30),
            Self::CreateRestrictedDataToken => plan(1.0, 10),
        }
    }

    /// Whether Amazon sends `x-amzn-RateLimit-Limit` on answers of this operation.
    pub fn sends_rate_limit_header(self) -> bool {
        self.usage_plan().is_some()
    }
}

/// Rate (tokens per second) and burst (bucket size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsagePlan {
    /// Tokens added per second.
    pub rate: f64,
    /// Bucket size.
    pub burst: u32,
}

impl UsagePlan {
    /// The header value Amazon sends: the rate in requests per second.
    pub fn header_value(self) -> String {
        // Amazon prints the rate as a Java double would: "2.0", "0.5", "0.0167".
        let s = format!("{:.4}", self.rate);
        let s = s.trim_end_matches('0');
        if s.ends_with('.') {
            format!("{s}0")
        } else {
            s.to_string()
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
}

/// Token buckets per (seller, operation), refilled in simulated time.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: HashMap<(String, Operation), Bucket>,
    /// When false, usage plans are not enforced (control API switch).
    pub disabled: bool,
}

impl Limiter {
    /// Takes a token for `op`; false when the bucket is empty (answer 429).
    pub fn try_take(&mut self, seller_id: &str, op: Operation, now: OffsetDateTime) -> bool {
        let Some(plan) = op.usage_plan() else {
            return true;
        };
        if self.disabled {
            return true;
        }
        let bucket = self
            .buckets
            .entry((seller_id.to_string(), op))
            .or_insert(Bucket {
                tokens: f64::from(plan.burst),
                at: now,
            });
        let elapsed = (now - bucket.at).as_seconds_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * plan.rate).min(f64::from(plan.burst));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets every bucket (all full again).
    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn burst_then_refill_at_rate() {
        let mut limiter = Limiter::default();
        let t0 = datetime!(2026-11-20 00:00 UTC);

        let burst: usize = (0..20)
            .filter(|_| limiter.try_take("S", Operation::CreateReport, t0))
            .count();
        // createReport refills 0.0167 tokens/s: one token after 60 s, not after 50 s.
        let after_50 = limiter.try_take(
            "S",
            Operation::CreateReport,
            t0 + time::Duration::seconds(50),
        );
        let after_60 = limiter.try_take(
            "S",
            Operation::CreateReport,
            t0 + time::Duration::seconds(60),
        );

        assert_eq!(burst, 15);
        assert!(!after_50);
        assert!(after_60);
    }

    #[test]
    fn buckets_are_per_seller_and_operation() {
        let mut limiter = Limiter::default();
        let t0 = datetime!(2026-11-20 00:00 UTC);
        for _ in 0..5 {
            assert!(limiter.try_take("S1", Operation::CreateJsonListingsFeed, t0));
        }

        assert!(!limiter.try_take("S1", Operation::CreateJsonListingsFeed, t0));
        assert!(limiter.try_take("S2", Operation::CreateJsonListingsFeed, t0));
        assert!(limiter.try_take("S1", Operation::CreateFeed, t0));
    }

    #[test]
    fn header_value_is_the_rate_in_requests_per_second() {
        assert_eq!(
            Operation::GetReport.usage_plan().unwrap().header_value(),
            "2.0"
        );
        assert_eq!(
            Operation::CreateReport.usage_plan().unwrap().header_value(),
            "0.0167"
        );
        assert_eq!(
            Operation::SearchOrders.usage_plan().unwrap().header_value(),
            "0.0056"
        );
    }
}
