//! Simulated time.
//!
//! Every time the simulator reasons about (report and feed processing, token and document URL
//! expiry, usage-plan refill, order generation) is read from one [`SimClock`]. It runs at a
//! configurable multiple of real time (0 freezes it, 60 makes a simulated hour last a real
//! minute) and can be advanced by hand through the control API, so tests never sleep.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// Fastest allowed speed: a simulated year in about 30 real seconds. Beyond it simulated time
/// would leave the calendar's range within minutes.
pub const MAX_SPEED: f64 = 1_000_000.0;

/// Longest single jump of the clock (10 years).
pub const MAX_ADVANCE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

fn clamp_speed(speed: f64) -> f64 {
    if speed.is_finite() {
        speed.clamp(0.0, MAX_SPEED)
    } else {
        0.0
    }
}

/// A clock whose "now" is `anchor_sim + (real elapsed since anchor_real) × speed`.
#[derive(Debug)]
pub struct SimClock {
    inner: Mutex<Anchor>,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    real: Instant,
    sim: OffsetDateTime,
    speed: f64,
}

impl Anchor {
    fn now(&self) -> OffsetDateTime {
        let elapsed = self.real.elapsed().as_secs_f64() * self.speed;
        Duration::try_from_secs_f64(elapsed.max(0.0))
            .ok()
            .and_then(|d| self.sim.checked_add(d.try_into().ok()?))
            .unwrap_or(self.sim)
    }
}

impl SimClock {
    /// A clock that starts at `start` and runs `speed` times faster than real time.
    pub fn new(start: OffsetDateTime, speed: f64) -> Self {
        Self {
            inner: Mutex::new(Anchor {
                real: Instant::now(),
                sim: start,
                speed: clamp_speed(speed),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Anchor> {
        // A poisoned clock still holds a valid anchor: keep serving time.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current simulated time.
    pub fn now(&self) -> OffsetDateTime {
        self.lock().now()
    }

    /// Moves simulated time forward by `by` (never backwards; at most [`MAX_ADVANCE`]).
    pub fn advance(&self, by: Duration) -> OffsetDateTime {
        let mut a = self.lock();
        let now = a.now();
        let by = time::Duration::try_from(by.min(MAX_ADVANCE)).unwrap_or(time::Duration::ZERO);
        *a = Anchor {
            real: Instant::now(),
            sim: now.checked_add(by).unwrap_or(now),
            speed: a.speed,
        };
        a.sim
    }

    /// Changes the speed from now on (0 freezes the clock; clamped to [`MAX_SPEED`]).
    pub fn set_speed(&self, speed: f64) {
        let mut a = self.lock();
        let now = a.now();
        *a = Anchor {
            real: Instant::now(),
            sim: now,
            speed: clamp_speed(speed),
        };
    }

    /// The current speed multiplier.
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// How long, in real time, until `sim_delay` of simulated time has passed (None when frozen).
    pub fn real_duration_of(&self, sim_delay: Duration) -> Option<Duration> {
        let speed = self.speed();
        (speed > 0.0).then(|| Duration::from_secs_f64(sim_delay.as_secs_f64() / speed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let clock = SimClock::new(datetime!(2026-11-20 00:00 UTC), 0.0);

        let before = clock.now();
        let after = clock.advance(Duration::from_secs(90));

        assert_eq!(before, datetime!(2026-11-20 00:00 UTC));
        assert_eq!(after, datetime!(2026-11-20 00:01:30 UTC));
        assert_eq!(clock.now(), after);
    }

    #[test]
    fn absurd_speeds_and_jumps_are_clamped_instead_of_overflowing() {
        let clock = SimClock::new(datetime!(2026-11-20 00:00 UTC), 1e300);

        let after_jump = clock.advance(Duration::from_secs(u64::MAX / 4));
        clock.set_speed(f64::NAN);

        assert_eq!(clock.speed(), 0.0);
        assert!(
            after_jump <= datetime!(2036-11-30 00:00 UTC),
            "{after_jump}"
        );
        assert_eq!(clock.now(), clock.now());
    }

    #[test]
    fn fast_clock_runs_ahead_of_real_time() {
        let clock = SimClock::new(datetime!(2026-11-20 00:00 UTC), 3600.0);

        std::thread::sleep(Duration::from_millis(20));

        // 20 ms × 3600 = 72 s of simulated time at least.
        assert!(clock.now() - datetime!(2026-11-20 00:00 UTC) >= time::Duration::seconds(72));
    }
}
