//! EventBridge schedule expressions, as far as the runner drives them: `rate(N unit)`.
//!
//! EventBridge's rules ("Schedule types on EventBridge Scheduler", rate-based schedules): the
//! value is a positive whole number and the unit is `minute`, `hour` or `day`, singular when
//! the value is 1 and plural otherwise (`rate(1 hours)` and `rate(5 hour)` are refused by
//! AWS, so they are refused here too). `cron(...)` expressions are valid in AWS but the
//! runner does not evaluate them: it says so instead of silently never firing.

use std::time::Duration;

use time::OffsetDateTime;

/// A schedule expression the runner cannot drive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A `cron(...)` expression: valid in AWS, not evaluated by the local runner.
    #[error(
        "schedule `{expression}`: cron expressions are not supported by the local runner; use rate(N minutes|hours|days)"
    )]
    CronUnsupported {
        /// The expression as written.
        expression: String,
    },
    /// Not a rate expression AWS would accept.
    #[error("schedule `{expression}`: {reason}")]
    Malformed {
        /// The expression as written.
        expression: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A parsed `rate(N unit)` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSchedule {
    /// Time between two firings.
    pub every: Duration,
}

impl RateSchedule {
    /// Parses `rate(N minute|minutes|hour|hours|day|days)`.
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let malformed = |reason| ScheduleError::Malformed {
            expression: expression.to_owned(),
            reason,
        };
        let trimmed = expression.trim();
        if trimmed.starts_with("cron(") {
            return Err(ScheduleError::CronUnsupported {
                expression: expression.to_owned(),
            });
        }
        let inner = trimmed
            .strip_prefix("rate(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(|| malformed("expected rate(N unit)"))?;
        let mut parts = inner.split_whitespace();
        let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed("expected a value and a unit, e.g. rate(2 hours)"));
        };
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("the value must be a positive whole number"));
        }
        let value: u64 = value
            .parse()
            .map_err(|_| malformed("the value must be a positive whole number"))?;
        if value == 0 {
            return Err(malformed("the value must be a positive whole number"));
        }
        let (seconds, singular) = match unit {
            "minute" => (60, true),
            "minutes" => (60, false),
            "hour" => (3_600, true),
            "hours" => (3_600, false),
            "day" => (86_400, true),
            "days" => (86_400, false),
            _ => return Err(malformed("the unit must be minute(s), hour(s) or day(s)")),
        };
        if singular != (value == 1) {
            return Err(malformed(
                "the unit is singular for a value of 1 and plural otherwise",
            ));
        }
        let every = value
            .checked_mul(seconds)
            .map(Duration::from_secs)
            .ok_or_else(|| malformed("the period is too long"))?;
        Ok(Self { every })
    }
}

/// When a rate schedule fires next, in simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleTimer {
    rate: RateSchedule,
    next: OffsetDateTime,
}

impl ScheduleTimer {
    /// A timer whose first firing is at `start` (the runner fires every schedule at start-up).
    pub fn new(rate: RateSchedule, start: OffsetDateTime) -> Self {
        Self { rate, next: start }
    }

    /// The next firing.
    pub fn next(&self) -> OffsetDateTime {
        self.next
    }

    /// How many firings fell due up to `now` (inclusive); the timer moves past them. More
    /// than one only when a tick is longer than the rate: each period fires, as EventBridge
    /// would have.
    pub fn take_due(&mut self, now: OffsetDateTime) -> u32 {
        let mut due = 0;
        while self.next <= now {
            due += 1;
            self.next += self.rate.every;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rate_expressions_parse_to_their_period() {
        let cases = [
            ("rate(1 minute)", 60),
            ("rate(5 minutes)", 300),
            ("rate(1 hour)", 3_600),
            ("rate(2 hours)", 7_200),
            ("rate(1 day)", 86_400),
            ("rate(3 days)", 259_200),
            ("  rate(30   minutes) ", 1_800),
        ];
        for (expression, seconds) in cases {
            assert_eq!(
                RateSchedule::parse(expression),
                Ok(RateSchedule {
                    every: Duration::from_secs(seconds)
                }),
                "{expression}"
            );
        }
    }

    #[test]
    fn cron_is_refused_with_a_clear_error() {
        let err = RateSchedule::parse("cron(0 12 * * ? *)").unwrap_err();
        assert!(matches!(err, ScheduleError::CronUnsupported { .. }));
        assert!(
            err.to_string()
                .contains("cron expressions are not supported"),
            "{err}"
        );
    }

    #[test]
    fn what_aws_refuses_is_refused() {
        for expression in [
            "rate(1 hours)",
            "rate(5 hour)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(1.5 hours)",
            "rate(2 weeks)",
            "rate(2)",
            "rate(2 hours extra)",
            "rate 2 hours",
            "rate(99999999999999999999 days)",
            "at(2026-11-20T12:00:00)",
            "",
        ] {
            assert!(
                matches!(
                    RateSchedule::parse(expression),
                    Err(ScheduleError::Malformed { .. })
                ),
                "{expression}"
            );
        }
    }

    #[test]
    fn timer_fires_at_start_then_every_period() {
        let start = datetime!(2026-11-20 12:00 UTC);
        let mut timer = ScheduleTimer::new(RateSchedule::parse("rate(2 hours)").unwrap(), start);

        assert_eq!(timer.take_due(start), 1);
        assert_eq!(timer.take_due(start), 0);
        assert_eq!(timer.take_due(datetime!(2026-11-20 13:59:59 UTC)), 0);
        assert_eq!(timer.take_due(datetime!(2026-11-20 14:00 UTC)), 1);
        assert_eq!(timer.next(), datetime!(2026-11-20 16:00 UTC));
    }

    #[test]
    fn a_tick_longer_than_the_rate_fires_each_missed_period() {
        let start = datetime!(2026-11-20 12:00 UTC);
        let mut timer = ScheduleTimer::new(RateSchedule::parse("rate(1 minute)").unwrap(), start);

        assert_eq!(timer.take_due(datetime!(2026-11-20 12:02:30 UTC)), 3);
        assert_eq!(timer.next(), datetime!(2026-11-20 12:03 UTC));
    }
}
