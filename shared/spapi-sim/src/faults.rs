//! Injected faults: what the simulator does wrong on purpose.
//!
//! Tests and demos set faults through the control API (`/_sim/faults`) or the library. A
//! rule applies to one operation (or all) and can be limited to a number of calls, so "the
//! next 5 getReport calls are throttled" and "10 % of all calls fail with 503" are both one
//! rule. Report outcomes (FATAL, CANCELLED, stuck) and verbatim documents are queued per
//! report type and consumed by the next createReport of that type.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::state::{PlannedOutcome, Rng, VerbatimDocument};

/// One fault rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FaultRule {
    /// Operation name (`getReport`, `createFeed`, `lwaToken`, ...); `None` for every operation.
    pub operation: Option<String>,
    /// Share of calls answered 429 QuotaExceeded (0..1).
    pub throttle_ratio: f64,
    /// Share of calls answered 500/503 (0..1).
    pub error_ratio: f64,
    /// Extra latency added before answering, in real milliseconds.
    pub latency_ms: u64,
    /// Leave `x-amzn-RateLimit-Limit` out of throttled and successful answers.
    pub omit_rate_limit_header: bool,
    /// Answer every matching call with this error status (400, 403, 404, 500, 503, ...) and
    /// the body Amazon sends for it, e.g. 403 for a seller whose authorisation was revoked.
    pub status: Option<u16>,
    /// How many matching calls the rule still applies to (`None`: forever).
    pub remaining: Option<u32>,
}

/// What a rule decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultDecision {
    /// Answer 429.
    pub throttle: bool,
    /// Answer 5xx with this status.
    pub server_error: Option<u16>,
    /// Sleep this long (real ms) first.
    pub latency_ms: u64,
    /// Leave out the rate-limit header.
    pub omit_rate_limit_header: bool,
    /// Answer with this error status.
    pub forced_status: Option<u16>,
}

/// All injected faults.
#[derive(Debug, Default)]
pub struct Faults {
    /// Rules, first match wins.
    pub rules: Vec<FaultRule>,
    /// Scripted outcomes of the next reports, by report type.
    pub report_outcomes: HashMap<String, VecDeque<PlannedOutcome>>,
    /// Scripted outcomes of the next feeds, by feed type.
    pub feed_outcomes: HashMap<String, VecDeque<PlannedOutcome>>,
    /// Documents to serve verbatim for the next report of a type.
    pub verbatim_documents: HashMap<String, VecDeque<VerbatimDocument>>,
}

impl Faults {
    /// Rolls the dice for one call of `operation`.
    pub fn decide(&mut self, operation: &str, rng: &mut Rng) -> FaultDecision {
        let Some(index) = self
            .rules
            .iter()
            .position(|r| r.operation.as_deref().is_none_or(|op| op == operation))
        else {
            return FaultDecision::default();
        };
        let rule = &mut self.rules[index];
        let throttle = rng.chance(rule.throttle_ratio);
        let server_error = (!throttle && rng.chance(rule.error_ratio))
            .then(|| if rng.chance(0.5) { 500 } else { 503 });
        let decision = FaultDecision {
            throttle,
            server_error,
            latency_ms: rule.latency_ms,
            omit_rate_limit_header: rule.omit_rate_limit_header,
            forced_status: rule.status,
        };
        if let Some(left) = rule.remaining.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.rules.remove(index);
            }
        }
        decision
    }

    /// The scripted outcome for the next report of `report_type`.
    pub fn next_report_outcome(&mut self, report_type: &str) -> PlannedOutcome {
        self.report_outcomes
            .get_mut(report_type)
            .and_then(VecDeque::pop_front)
            .unwrap_or(PlannedOutcome::Normal)
    }

    /// The scripted outcome for the next feed of `feed_type`.
    pub fn next_feed_outcome(&mut self, feed_type: &str) -> PlannedOutcome {
        self.feed_outcomes
            .get_mut(feed_type)
            .and_then(VecDeque::pop_front)
            .unwrap_or(PlannedOutcome::Normal)
    }

    /// The verbatim document queued for the next report of `report_type`.
    pub fn next_verbatim_document(&mut self, report_type: &str) -> Option<VerbatimDocument> {
        self.verbatim_documents
            .get_mut(report_type)
            .and_then(VecDeque::pop_front)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rule_applies_then_disappears() {
        let mut faults = Faults::default();
        faults.rules.push(FaultRule {
            operation: Some("getReport".into()),
            throttle_ratio: 1.0,
            remaining: Some(2),
            ..FaultRule::default()
        });
        let mut rng = Rng::new(1);

        let other = faults.decide("createReport", &mut rng);
        let first = faults.decide("getReport", &mut rng);
        let second = faults.decide("getReport", &mut rng);
        let third = faults.decide("getReport", &mut rng);

        assert!(!other.throttle);
        assert!(first.throttle && second.throttle);
        assert!(!third.throttle);
        assert!(faults.rules.is_empty());
    }

    #[test]
    fn error_ratio_yields_5xx_statuses_only() {
        let mut faults = Faults::default();
        faults.rules.push(FaultRule {
            error_ratio: 1.0,
            ..FaultRule::default()
        });
        let mut rng = Rng::new(9);

        let statuses: Vec<u16> = (0..50)
            .filter_map(|_| faults.decide("getFeed", &mut rng).server_error)
            .collect();

        assert_eq!(statuses.len(), 50);
        assert!(statuses.iter().all(|s| *s == 500 || *s == 503));
        assert!(statuses.contains(&500) && statuses.contains(&503));
    }
}
