//! Amazon's token-bucket throttling model, as plain data plus a clock passed in.

use std::time::Duration;

/// Upper bound on any wait the bucket reports.
///
/// A rate of zero (or a nonsensical header value) would otherwise mean "wait forever"; an hour
/// is far beyond any SP-API usage plan and still fits every caller's arithmetic.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Why a usage plan could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsagePlanError {
    /// "`n` requests per 0 seconds" is an infinite rate.
    #[error("a usage plan period must be longer than zero seconds")]
    ZeroPeriod,
}

/// An SP-API usage plan: `rate` tokens are added per second, the bucket holds `burst` tokens.
///
/// This is the vocabulary of Amazon's "Usage Plans and Rate Limits" page (and of governor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsagePlan {
    /// Tokens restored per second (requests per second once the burst is spent).
    pub rate: f64,
    /// Bucket size: how many requests may be sent back to back from a full bucket.
    pub burst: u32,
}

impl UsagePlan {
    /// A plan of `rate` tokens per second and a bucket of `burst` tokens.
    pub const fn new(rate: f64, burst: u32) -> Self {
        Self { rate, burst }
    }

    /// A plan stated as "`count` requests per `period_secs` seconds" with the given burst,
    /// e.g. JSON_LISTINGS_FEED's "5 submissions per 5 minutes".
    ///
    /// A period of zero seconds would mean an infinite rate and is refused.
    ///
    /// ```
    /// use spsync_domain::{UsagePlan, UsagePlanError};
    ///
    /// let plan = UsagePlan::per_period(5, 300, 5)?;
    /// assert!((plan.rate - 1.0 / 60.0).abs() < 1e-12);
    /// assert_eq!(UsagePlan::per_period(5, 0, 5), Err(UsagePlanError::ZeroPeriod));
    /// # Ok::<(), UsagePlanError>(())
    /// ```
    pub const fn per_period(
        count: u32,
        period_secs: u32,
        burst: u32,
    ) -> Result<Self, UsagePlanError> {
        if period_secs == 0 {
            return Err(UsagePlanError::ZeroPeriod);
        }
        Ok(Self {
            rate: count as f64 / period_secs as f64,
            burst,
        })
    }

    /// Time needed to restore one token at this plan's rate (capped at [`MAX_WAIT`]).
    pub fn refill_interval(&self) -> Duration {
        seconds_to_wait(1.0, self.rate)
    }
}

/// Float slack when comparing token counts: sleeping exactly the wait the bucket returned must
/// be enough, even though `Duration` has nanosecond resolution and `f64` maths rounds.
const TOKEN_EPSILON: f64 = 1e-6;

/// `deficit` tokens at `rate` tokens per second, as a duration capped at [`MAX_WAIT`].
fn seconds_to_wait(deficit: f64, rate: f64) -> Duration {
    if deficit <= 0.0 {
        return Duration::ZERO;
    }
    if !(rate.is_finite() && rate > 0.0) {
        return MAX_WAIT;
    }
    Duration::try_from_secs_f64(deficit / rate)
        .map(|wait| wait.min(MAX_WAIT))
        .unwrap_or(MAX_WAIT)
}

/// A token bucket driven by a caller-supplied monotonic clock.
///
/// `now` is a [`Duration`] since an arbitrary origin chosen by the caller (for instance
/// `Instant::now() - origin`); the bucket never reads a clock and never sleeps, so it can be
/// tested with a table of instants. A clock that goes backwards is treated as "no time passed".
///
/// The bucket starts full, like Amazon's. It can be adjusted from what Amazon says: an observed
/// `x-amzn-RateLimit-Limit` header overrides the rate ([`TokenBucket::observe_rate`]) and a 429
/// drains the bucket ([`TokenBucket::on_throttled`]), because Amazon's bucket is evidently empty
/// even if ours is not (other containers share the same quota).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    plan: UsagePlan,
    rate_override: Option<f64>,
    tokens: f64,
    last: Duration,
    throttle_streak: u32,
}

impl TokenBucket {
    /// A full bucket for `plan`, as of `now`.
    pub fn new(plan: UsagePlan, now: Duration) -> Self {
        Self {
            plan,
            rate_override: None,
            tokens: f64::from(plan.burst.max(1)),
            last: now,
            throttle_streak: 0,
        }
    }

    /// The plan this bucket was created with.
    pub fn plan(&self) -> UsagePlan {
        self.plan
    }

    /// The rate in use: the observed header rate if any, else the plan's.
    pub fn rate(&self) -> f64 {
        self.rate_override.unwrap_or(self.plan.rate)
    }

    fn capacity(&self) -> f64 {
        f64::from(self.plan.burst.max(1))
    }

    fn refill(&mut self, now: Duration) {
        // A clock that went backwards adds nothing; we only move `last` forward.
        if let Some(elapsed) = now.checked_sub(self.last) {
            let rate = self.rate();
            if rate.is_finite() && rate > 0.0 {
                self.tokens = (self.tokens + elapsed.as_secs_f64() * rate).min(self.capacity());
            }
            self.last = now;
        }
    }

    /// Tokens available at `now` (fractional).
    pub fn available(&mut self, now: Duration) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Takes one token at `now`, or says how long to wait until one is available.
    ///
    /// On `Err(wait)` nothing is consumed; call again after `wait`.
    pub fn try_acquire(&mut self, now: Duration) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 - TOKEN_EPSILON {
            self.tokens = (self.tokens - 1.0).max(0.0);
            Ok(())
        } else {
            // Never answer "wait 0" while refusing: round a sub-nanosecond deficit up.
            Err(seconds_to_wait(1.0 - self.tokens, self.rate()).max(Duration::from_nanos(1)))
        }
    }

    /// How long a caller would wait for one token at `now`, without taking it.
    pub fn wait_time(&mut self, now: Duration) -> Duration {
        self.refill(now);
        seconds_to_wait(1.0 - self.tokens, self.rate())
    }

    /// Uses `rate` (from an `x-amzn-RateLimit-Limit` header, requests per second) instead of the
    /// plan's rate from now on. Non-finite or non-positive values are ignored.
    pub fn observe_rate(&mut self, rate: f64, now: Duration) {
        if rate.is_finite() && rate > 0.0 {
            // Settle the tokens earned at the old rate before switching.
            self.refill(now);
            self.rate_override = Some(rate);
        }
    }

    /// Records that Amazon answered 429 at `now`: the bucket is emptied, so the next token
    /// comes one refill interval later, and the run of consecutive 429s grows by one.
    pub fn on_throttled(&mut self, now: Duration) {
        self.refill(now);
        self.tokens = 0.0;
        self.throttle_streak = self.throttle_streak.saturating_add(1);
    }

    /// Records that Amazon accepted a call: the run of consecutive 429s is over.
    pub fn on_success(&mut self) {
        self.throttle_streak = 0;
    }

    /// How many 429s Amazon answered in a row (since the last success). Because the bucket
    /// outlives one call (it lives as long as the warm container), this keeps growing across the
    /// SQS retries of one step, so the backoff it feeds grows too.
    pub fn throttle_streak(&self) -> u32 {
        self.throttle_streak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn ms(m: u64) -> Duration {
        Duration::from_millis(m)
    }

    /// Small tolerance for float rounding in waits.
    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) <= Duration::from_micros(10)
    }

    #[test]
    fn acquire_sequences_follow_rate_and_burst() {
        // (plan, acquisitions at instants, expected outcome per acquisition)
        type Case = (UsagePlan, Vec<(Duration, Result<(), Duration>)>);
        let cases: Vec<Case> = vec![
            // burst 2, one token per 2 s
            (
                UsagePlan::new(0.5, 2),
                vec![
                    (secs(0), Ok(())),
                    (secs(0), Ok(())),
                    (secs(0), Err(secs(2))),
                    (secs(1), Err(secs(1))),
                    (secs(2), Ok(())),
                    (secs(2), Err(secs(2))),
                ],
            ),
            // getReport-like: 2 per second, burst 3
            (
                UsagePlan::new(2.0, 3),
                vec![
                    (secs(0), Ok(())),
                    (secs(0), Ok(())),
                    (secs(0), Ok(())),
                    (secs(0), Err(ms(500))),
                    (ms(250), Err(ms(250))),
                    (ms(500), Ok(())),
                ],
            ),
            // a long idle period refills only up to the burst
            (
                UsagePlan::new(1.0, 2),
                vec![
                    (secs(0), Ok(())),
                    (secs(0), Ok(())),
                    (secs(1000), Ok(())),
                    (secs(1000), Ok(())),
                    (secs(1000), Err(secs(1))),
                ],
            ),
            // burst 0 is treated as 1, otherwise nothing could ever pass
            (
                UsagePlan::new(1.0, 0),
                vec![(secs(0), Ok(())), (secs(0), Err(secs(1)))],
            ),
            // a zero rate is capped at MAX_WAIT instead of "forever"
            (
                UsagePlan::new(0.0, 1),
                vec![(secs(0), Ok(())), (secs(5), Err(MAX_WAIT))],
            ),
        ];
        for (i, (plan, steps)) in cases.iter().enumerate() {
            let mut bucket = TokenBucket::new(*plan, Duration::ZERO);
            for (j, (now, expected)) in steps.iter().enumerate() {
                let got = bucket.try_acquire(*now);
                let ok = match (&got, expected) {
                    (Ok(()), Ok(())) => true,
                    (Err(a), Err(b)) => close(*a, *b),
                    _ => false,
                };
                assert!(ok, "case {i} step {j}: got {got:?}, expected {expected:?}");
            }
        }
    }

    #[test]
    fn sleeping_exactly_the_returned_wait_is_enough() {
        for rate in [
            0.0222,
            0.0167,
            0.0083,
            0.0056,
            0.5,
            2.0,
            1.0 / 60.0,
            3.0,
            7.3,
        ] {
            let mut bucket = TokenBucket::new(UsagePlan::new(rate, 1), secs(100));
            let mut now = secs(100);
            assert_eq!(bucket.try_acquire(now), Ok(()));
            for round in 0..50 {
                let wait = bucket.try_acquire(now).unwrap_err();
                now += wait;
                assert_eq!(bucket.try_acquire(now), Ok(()), "rate {rate} round {round}");
            }
        }
    }

    #[test]
    fn clock_going_backwards_adds_no_tokens() {
        let mut bucket = TokenBucket::new(UsagePlan::new(1.0, 1), secs(10));
        assert_eq!(bucket.try_acquire(secs(10)), Ok(()));
        // An earlier instant must not be read as a huge elapsed time.
        assert!(bucket.try_acquire(secs(5)).is_err());
        assert!(close(bucket.wait_time(secs(10)), secs(1)));
        assert_eq!(bucket.try_acquire(secs(11)), Ok(()));
    }

    #[test]
    fn throttled_drains_the_bucket() {
        // createReport plan: 0.0167 rps, burst 15
        let plan = UsagePlan::new(0.0167, 15);
        let mut bucket = TokenBucket::new(plan, Duration::ZERO);
        assert!(bucket.available(Duration::ZERO) >= 15.0);
        bucket.on_throttled(Duration::ZERO);
        let wait = bucket.try_acquire(Duration::ZERO).unwrap_err();
        assert!(close(wait, plan.refill_interval()), "{wait:?}");
        assert!(wait > secs(59) && wait < secs(61), "{wait:?}");
    }

    #[test]
    fn observed_rate_overrides_plan_and_bad_values_are_ignored() {
        let cases: &[(f64, f64)] = &[
            (5.0, 5.0),
            (0.5, 0.5),
            (0.0, 0.0222),
            (-1.0, 0.0222),
            (f64::NAN, 0.0222),
            (f64::INFINITY, 0.0222),
        ];
        for &(header, expected_rate) in cases {
            let mut bucket = TokenBucket::new(UsagePlan::new(0.0222, 10), Duration::ZERO);
            bucket.observe_rate(header, Duration::ZERO);
            assert_eq!(bucket.rate(), expected_rate, "header {header}");
            bucket.on_throttled(Duration::ZERO);
            let wait = bucket.wait_time(Duration::ZERO);
            let expected = Duration::from_secs_f64(1.0 / expected_rate);
            assert!(
                close(wait, expected),
                "header {header}: {wait:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn tokens_earned_before_a_rate_change_are_kept() {
        let mut bucket = TokenBucket::new(UsagePlan::new(1.0, 10), Duration::ZERO);
        bucket.on_throttled(Duration::ZERO);
        // 2 s at 1 rps = 2 tokens, then the header says 10 rps.
        bucket.observe_rate(10.0, secs(2));
        assert!((bucket.available(secs(2)) - 2.0).abs() < 1e-9);
        assert!((bucket.available(ms(2100)) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_zero_period_is_refused_instead_of_an_infinite_rate() {
        assert_eq!(
            UsagePlan::per_period(5, 0, 5),
            Err(UsagePlanError::ZeroPeriod)
        );
        assert_eq!(
            UsagePlan::per_period(0, 0, 1),
            Err(UsagePlanError::ZeroPeriod)
        );
    }

    #[test]
    fn consecutive_throttles_are_counted_until_a_success() {
        let mut bucket = TokenBucket::new(UsagePlan::new(1.0, 1), Duration::ZERO);
        assert_eq!(bucket.throttle_streak(), 0);
        bucket.on_throttled(secs(1));
        bucket.on_throttled(secs(5));
        bucket.on_throttled(secs(9));
        assert_eq!(bucket.throttle_streak(), 3);
        bucket.on_success();
        assert_eq!(bucket.throttle_streak(), 0);
        bucket.on_throttled(secs(20));
        assert_eq!(bucket.throttle_streak(), 1);
    }

    #[test]
    fn per_period_and_refill_interval() {
        let cases: &[(UsagePlan, Duration)] = &[
            (UsagePlan::per_period(5, 300, 5).unwrap(), secs(60)),
            (UsagePlan::new(2.0, 15), ms(500)),
            (UsagePlan::new(0.0, 15), MAX_WAIT),
            (UsagePlan::new(1e-9, 1), MAX_WAIT),
        ];
        for (plan, expected) in cases {
            assert!(
                close(plan.refill_interval(), *expected),
                "{plan:?}: {:?}",
                plan.refill_interval()
            );
        }
    }
}
