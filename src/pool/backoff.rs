//! Reconnect delays: exponential backoff with jitter, after gRPC's
//! connection-backoff algorithm, drawn from a seeded generator so a run can
//! be replayed.

use core::time::Duration;

use super::config::PoolConfig;

/// The SplitMix64 output function: a fast, well-mixed bijection on `u64`.
/// The pool uses it both as its random generator and as the hash for
/// sticky picks, so it needs no dependency.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded SplitMix64 generator for jitter.
#[derive(Clone, Debug)]
pub(super) struct Jitter(u64);

impl Jitter {
    pub(super) fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// A uniform number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        // The top 53 bits fill an f64 mantissa exactly.
        (mix(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The delay before the redial that follows `failures` consecutive
    /// failures (at least 1): `initial * multiplier^(failures - 1)`, capped
    /// at `max`, then spread by up to +/-`jitter` of itself.
    pub(super) fn delay(&mut self, config: &PoolConfig, failures: u32) -> Duration {
        let base = base_delay(config, failures);
        let jitter = config.backoff_jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (2.0 * self.unit() - 1.0);
        Duration::from_micros((base.as_micros() as f64 * factor) as u64)
    }
}

/// The delay before jitter. Multiplies step by step instead of raising to a
/// power because `core` has no `powi`, stopping at the cap so large failure
/// counts cost nothing.
fn base_delay(config: &PoolConfig, failures: u32) -> Duration {
    let cap = config.backoff_max.max(config.backoff_initial).as_micros() as f64;
    let multiplier = if config.backoff_multiplier.is_finite() {
        config.backoff_multiplier.max(1.0)
    } else {
        1.0
    };
    let mut micros = (config.backoff_initial.as_micros() as f64).min(cap);
    for _ in 1..failures {
        if micros >= cap || multiplier == 1.0 {
            break;
        }
        micros = (micros * multiplier).min(cap);
    }
    Duration::from_micros(micros as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_grpc_defaults_without_jitter() {
        let config = PoolConfig::default().with_backoff_jitter(0.0);
        let mut jitter = Jitter::new(1);
        let secs: alloc::vec::Vec<u64> = (1..=12)
            .map(|n| jitter.delay(&config, n).as_millis() as u64)
            .collect();
        assert_eq!(
            secs,
            [
                1_000, 1_600, 2_560, 4_096, 6_553, 10_485, 16_777, 26_843, 42_949, 68_719, 109_951,
                120_000
            ]
        );
        assert_eq!(jitter.delay(&config, u32::MAX), Duration::from_secs(120));
    }

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let config = PoolConfig::default();
        let mut jitter = Jitter::new(42);
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for _ in 0..1_000 {
            let d = jitter.delay(&config, 1);
            assert!(d >= Duration::from_millis(800) && d <= Duration::from_millis(1_200));
            low = low.min(d);
            high = high.max(d);
        }
        // A generator stuck at one value would pass the bounds check alone.
        assert!(low < Duration::from_millis(820) && high > Duration::from_millis(1_180));
    }

    #[test]
    fn same_seed_same_delays() {
        let config = PoolConfig::default();
        let (mut a, mut b) = (Jitter::new(9), Jitter::new(9));
        for n in 1..50 {
            assert_eq!(a.delay(&config, n), b.delay(&config, n));
        }
        let mut c = Jitter::new(10);
        assert_ne!(
            (1..10)
                .map(|n| a.delay(&config, n))
                .collect::<alloc::vec::Vec<_>>(),
            (1..10)
                .map(|n| c.delay(&config, n))
                .collect::<alloc::vec::Vec<_>>()
        );
    }
}
