//! Capped exponential backoff with full jitter, and the PRNG that feeds it.

use std::time::Duration;

/// Capped exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS
/// Architecture Blog): a uniformly distributed delay in `[0, min(cap, base * 2^attempt)]`.
///
/// Pure: the randomness is the `random` argument, so callers decide where it comes from
/// (e.g. [`SplitMix64`]) and tests can pin it. `attempt` starts at 0.
///
/// ```
/// use std::time::Duration;
/// use spsync_domain::full_jitter_backoff;
///
/// let base = Duration::from_millis(100);
/// let cap = Duration::from_secs(5);
/// // u64::MAX picks (almost) the top of the window: 100 ms * 2^3 = 800 ms.
/// let d = full_jitter_backoff(3, base, cap, u64::MAX);
/// assert!(d <= Duration::from_millis(800) && d > Duration::from_millis(799));
/// assert_eq!(full_jitter_backoff(3, base, cap, 0), Duration::ZERO);
/// assert!(full_jitter_backoff(40, base, cap, u64::MAX) <= cap);
/// ```
pub fn full_jitter_backoff(attempt: u32, base: Duration, cap: Duration, random: u64) -> Duration {
    let factor = 1u128.checked_shl(attempt.min(127)).unwrap_or(u128::MAX);
    let ceiling = base.as_nanos().saturating_mul(factor).min(cap.as_nanos());
    // Scale `random / 2^64` onto [0, ceiling]: (ceiling + 1) * random >> 64 stays below
    // ceiling + 1, and cap.as_nanos() fits in u64 for any sane cap.
    let nanos = (ceiling.saturating_add(1)).saturating_mul(u128::from(random)) >> 64;
    let nanos = u64::try_from(nanos.min(ceiling)).unwrap_or(u64::MAX);
    Duration::from_nanos(nanos)
}

/// SplitMix64: a tiny, fast, deterministic 64-bit PRNG (Steele, Lea and Flood, 2014).
///
/// Good enough for jitter, which only needs callers not to retry in lockstep; not for
/// anything security-related.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`; equal seeds give equal sequences.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next pseudo-random value.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(m: u64) -> Duration {
        Duration::from_millis(m)
    }

    #[test]
    fn backoff_window_grows_then_caps() {
        // (attempt, base, cap, random, expected)
        let half = 1u64 << 63;
        let cases: &[(u32, Duration, Duration, u64, Duration)] = &[
            (0, ms(100), ms(10_000), 0, Duration::ZERO),
            (0, ms(100), ms(10_000), half, ms(50)),
            (1, ms(100), ms(10_000), half, ms(100)),
            (2, ms(100), ms(10_000), half, ms(200)),
            (5, ms(100), ms(10_000), half, ms(1600)),
            (7, ms(100), ms(10_000), half, ms(5000)),
            (30, ms(100), ms(10_000), half, ms(5000)),
            (u32::MAX, ms(100), ms(10_000), half, ms(5000)),
            (3, ms(100), ms(500), half, ms(250)),
            (3, Duration::ZERO, ms(500), half, Duration::ZERO),
            (3, ms(100), Duration::ZERO, u64::MAX, Duration::ZERO),
        ];
        for &(attempt, base, cap, random, expected) in cases {
            let got = full_jitter_backoff(attempt, base, cap, random);
            // (ceiling + 1) * 2^63 >> 64 rounds to within a nanosecond of ceiling / 2.
            assert!(
                got.abs_diff(expected) <= Duration::from_nanos(1),
                "attempt {attempt} base {base:?} cap {cap:?}: got {got:?}, expected {expected:?}"
            );
        }
    }

    #[test]
    fn backoff_never_exceeds_window_for_any_random() {
        let mut rng = SplitMix64::new(7);
        for attempt in 0..20 {
            let ceiling = (ms(10) * 2u32.pow(attempt.min(16))).min(ms(30_000));
            for _ in 0..200 {
                let d = full_jitter_backoff(attempt, ms(10), ms(30_000), rng.next_u64());
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
        assert_eq!(
            full_jitter_backoff(4, ms(10), ms(30_000), u64::MAX),
            ms(160),
            "the maximum random reaches the top of the window"
        );
    }

    #[test]
    fn splitmix64_matches_reference_vector() {
        // Reference output of the canonical C implementation for seed 1234567.
        let mut rng = SplitMix64::new(1_234_567);
        let expected = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for want in expected {
            assert_eq!(rng.next_u64(), want);
        }
    }

    #[test]
    fn splitmix64_is_deterministic_per_seed() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = SplitMix64::new(43);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
