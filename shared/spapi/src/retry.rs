//! In-process retry pacing: jittered backoff for transient failures and for 429s without a
//! usable rate header. The decision to retry lives in the client; the arithmetic lives in
//! `spsync_domain`.

use std::sync::Mutex;
use std::time::Duration;

use spsync_domain::{SplitMix64, full_jitter_backoff};

use crate::config::BackoffSettings;

/// How many times one call may sleep in-process for the limiter or a short 429 before giving
/// the wait back to the caller as `Throttled`, even when each wait is under the threshold.
pub(crate) const MAX_IN_PROCESS_THROTTLE_WAITS: u32 = 3;

/// A shared, deterministic source of jitter.
#[derive(Debug)]
pub(crate) struct Jitter(Mutex<SplitMix64>);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Self(Mutex::new(SplitMix64::new(seed)))
    }

    /// Full-jitter backoff for retry number `attempt` (0-based).
    pub(crate) fn backoff(&self, attempt: u32, settings: BackoffSettings) -> Duration {
        let random = self.0.lock().unwrap_or_else(|e| e.into_inner()).next_u64();
        full_jitter_backoff(attempt, settings.base, settings.cap, random)
    }
}
