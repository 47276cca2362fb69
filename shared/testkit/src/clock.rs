//! A clock that moves only when a test moves it.

use std::sync::Mutex;
use std::time::Duration;

use spsync_workflow::Clock;
use time::OffsetDateTime;

/// A [`Clock`] set and advanced by hand; thread-safe, so one clock can be shared by every
/// fake and handler of a flow test.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    /// Sets the clock to `t` (backwards too: tests of clock skew need it).
    pub fn set(&self, t: OffsetDateTime) {
        *self.lock() = t;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A test that panicked while holding the lock left a valid time behind.
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-03-01 10:00 UTC));

        let first = clock.now();
        clock.advance(Duration::from_secs(90));
        let advanced = clock.now();
        clock.set(datetime!(2026-02-28 23:59:59 UTC));

        assert_eq!(first, datetime!(2026-03-01 10:00 UTC));
        assert_eq!(advanced, datetime!(2026-03-01 10:01:30 UTC));
        assert_eq!(clock.now(), datetime!(2026-02-28 23:59:59 UTC));
    }

    #[test]
    fn clock_is_shared_across_threads() {
        let clock = std::sync::Arc::new(ManualClock::new(datetime!(2026-03-01 00:00 UTC)));

        let handles: Vec<_> = (0..4)
            .map(|_| {
                let clock = clock.clone();
                std::thread::spawn(move || clock.advance(Duration::from_secs(15)))
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }

        assert_eq!(clock.now(), datetime!(2026-03-01 00:01 UTC));
    }
}
