//! In-process retry policy and pacing: which failures may be retried inside one call, jittered
//! backoff for transient failures and for 429s, and the one loop that LWA exchanges and
//! presigned transfers share. The arithmetic (token buckets, full-jitter backoff) lives in
//! `spsync_domain`; the SP-API loop in `client.rs` asks this module what to do.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spsync_domain::{SplitMix64, full_jitter_backoff};
use tokio::time::Instant;

use crate::config::BackoffSettings;
use crate::error::{Retryability, SpApiError};

/// How many times one call may sleep in-process for the limiter before giving the wait back to
/// the caller as `Throttled`, even when each wait is under the threshold.
pub(crate) const MAX_IN_PROCESS_THROTTLE_WAITS: u32 = 3;

/// How many 429s from Amazon one call sleeps through in-process. A second 429 in the same call
/// means the quota is contended: the wait goes back to the caller (an SQS delay, not billed).
pub(crate) const MAX_IN_PROCESS_429_WAITS: u32 = 1;

/// A shared source of jitter.
#[derive(Debug)]
pub(crate) struct Jitter(Mutex<SplitMix64>);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Self(Mutex::new(SplitMix64::new(seed)))
    }

    fn next(&self) -> u64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).next_u64()
    }

    /// Full-jitter backoff for retry number `attempt` (0-based).
    pub(crate) fn backoff(&self, attempt: u32, settings: BackoffSettings) -> Duration {
        full_jitter_backoff(attempt, settings.base, settings.cap, self.next())
    }

    /// `wait` plus up to a tenth of it, so callers told "wait N" by the same empty bucket do
    /// not all come back at the same instant.
    pub(crate) fn spread(&self, wait: Duration) -> Duration {
        let extra = wait / 10;
        wait + full_jitter_backoff(0, extra, extra, self.next())
    }

    /// The wait after Amazon's 429; see [`throttle_wait`].
    pub(crate) fn throttle_wait(
        &self,
        refill: Duration,
        streak: u32,
        header_rate_known: bool,
        settings: BackoffSettings,
    ) -> Duration {
        throttle_wait(refill, streak, header_rate_known, settings, self.next())
    }
}

/// A jitter seed that differs per process and per client: wall-clock nanoseconds, the process
/// id and a counter. A fixed default would make every Lambda container jitter in lockstep,
/// which is exactly what jitter is there to prevent.
pub(crate) fn default_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut mix = SplitMix64::new(
        nanos ^ (u64::from(std::process::id()) << 32) ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    mix.next_u64()
}

/// The wait after a 429, before the caller's 1 s floor.
///
/// `refill` is the time until the (drained) bucket has a token again. `streak` is the number of
/// consecutive 429s for this seller and operation, this one included: it lives in the limiter's
/// bucket, so it keeps growing across the SQS retries of a step until a call succeeds. With a
/// rate header the first 429 waits exactly one refill; every 429 without it, and every repeated
/// one, adds full-jitter backoff whose window doubles with the streak.
pub(crate) fn throttle_wait(
    refill: Duration,
    streak: u32,
    header_rate_known: bool,
    settings: BackoffSettings,
    random: u64,
) -> Duration {
    let attempt = streak.saturating_sub(1);
    if header_rate_known && attempt == 0 {
        return refill;
    }
    refill + full_jitter_backoff(attempt, settings.base, settings.cap, random)
}

/// Whether a transport failure of an SP-API call may be retried in-process. A request that
/// may have reached Amazon is retried only when the operation is idempotent; a connect error
/// means nothing was sent.
pub(crate) fn may_retry_transport(idempotent: bool, error: &reqwest::Error) -> bool {
    !error.is_builder() && (idempotent || error.is_connect())
}

/// Whether an SP-API error status may be retried in-process (408 and 5xx, idempotent only).
pub(crate) fn may_retry_status(idempotent: bool, status: u16) -> bool {
    idempotent && matches!(status, 408 | 500..=599)
}

/// A short name for what went wrong in transit, for the `error_kind` tracing field.
pub(crate) fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "other"
    }
}

/// Settings of [`retry_transient`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct TransientRetry {
    pub max_retries: u32,
    pub backoff: BackoffSettings,
}

/// Runs `attempt(remaining)` until it succeeds, fails with an error `retry` refuses, runs out
/// of retries, or reaches `deadline`. `remaining` is the time left until the deadline, for the
/// attempt's own timeout: the whole loop is bounded, not each attempt. Used by the LWA exchange
/// and by presigned transfers; SP-API calls have their own loop (429s and token refreshes).
pub(crate) async fn retry_transient<T, F, Fut>(
    operation: &'static str,
    policy: TransientRetry,
    jitter: &Jitter,
    deadline: Instant,
    mut attempt: F,
    retry: impl Fn(&SpApiError) -> bool,
) -> Result<T, SpApiError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, SpApiError>>,
{
    let mut retries = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let error = match attempt(remaining).await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let delay = jitter.backoff(retries, policy.backoff);
        let in_time = Instant::now() + delay < deadline;
        if retries >= policy.max_retries || !in_time || !retry(&error) {
            return Err(error);
        }
        retries += 1;
        tracing::warn!(
            sp_operation = operation,
            attempt = retries,
            delay_ms = delay.as_millis() as u64,
            error_kind = error_kind(&error),
            "retrying after a transient failure"
        );
        tokio::time::sleep(delay).await;
    }
}

/// `error_kind` tracing field of an error.
pub(crate) fn error_kind(error: &SpApiError) -> &'static str {
    match error {
        SpApiError::Transport { source, .. } => transport_kind(source),
        SpApiError::Api { .. } | SpApiError::Auth { .. } | SpApiError::DocumentHttp { .. } => {
            "status"
        }
        other => match other.retryability() {
            Retryability::Throttled { .. } => "throttled",
            Retryability::Transient => "transient",
            Retryability::Permanent => "permanent",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn throttle_backoff_window_grows_with_the_streak() {
        let settings = BackoffSettings {
            base: s(1),
            cap: s(60),
        };
        let refill = Duration::from_millis(500);
        // (streak, header known, expected with the largest random)
        let cases: &[(u32, bool, Duration)] = &[
            (1, true, refill),
            (1, false, refill + s(1)),
            (2, true, refill + s(2)),
            (2, false, refill + s(2)),
            (3, false, refill + s(4)),
            (6, false, refill + s(32)),
            (7, false, refill + s(60)),
            (40, false, refill + s(60)),
        ];
        for &(streak, header, expected) in cases {
            let got = throttle_wait(refill, streak, header, settings, u64::MAX);
            assert!(
                got.abs_diff(expected) < Duration::from_micros(1),
                "streak {streak} header {header}: {got:?} vs {expected:?}"
            );
        }
        assert_eq!(throttle_wait(refill, 5, false, settings, 0), refill);
    }

    #[test]
    fn default_seeds_differ_between_clients() {
        let seeds: std::collections::BTreeSet<u64> = (0..16).map(|_| default_seed()).collect();
        assert_eq!(seeds.len(), 16);
    }

    #[test]
    fn status_retries_only_for_idempotent_operations() {
        let cases: &[(bool, u16, bool)] = &[
            (true, 500, true),
            (true, 503, true),
            (true, 408, true),
            (true, 400, false),
            (true, 429, false),
            (false, 500, false),
            (false, 503, false),
            (false, 408, false),
        ];
        for &(idempotent, status, expected) in cases {
            assert_eq!(
                may_retry_status(idempotent, status),
                expected,
                "{idempotent} {status}"
            );
        }
    }

    #[test]
    fn spread_adds_at_most_a_tenth() {
        let jitter = Jitter::new(7);
        let spread: Vec<Duration> = (0..50).map(|_| jitter.spread(s(60))).collect();
        assert!(
            spread.iter().all(|w| *w >= s(60) && *w <= s(66)),
            "{spread:?}"
        );
        assert!(spread.iter().any(|w| *w != spread[0]), "not all equal");
    }

    #[tokio::test]
    async fn only_connect_errors_allow_resending_a_side_effect() {
        // A port nobody listens on (bind, read the port, drop): nothing can have been sent.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = reqwest::Client::new();
        let refused = http
            .post(format!("http://127.0.0.1:{port}/reports"))
            .send()
            .await
            .unwrap_err();
        assert!(may_retry_transport(false, &refused), "{refused:?}");
        assert!(may_retry_transport(true, &refused));
        assert_eq!(transport_kind(&refused), "connect");

        // A listener that accepts and never answers: the request went out, then timed out.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let timed_out = http
            .post(format!("http://{addr}/reports"))
            .timeout(Duration::from_millis(30))
            .send()
            .await
            .unwrap_err();
        assert!(!may_retry_transport(false, &timed_out), "{timed_out:?}");
        assert!(may_retry_transport(true, &timed_out));
        assert_eq!(transport_kind(&timed_out), "timeout");
    }
}
