//! Retry policy for deliveries: exponential backoff with jitter, capped, and
//! an optional limit on attempts. Jitter spreads retries of many nodewatch
//! replicas or sinks so a receiver that comes back is not hit all at once.

use crate::time::Duration;
use serde::Deserialize;
use std::hash::{BuildHasher, Hasher};

/// How a sink retries a delivery that failed in a way that may pass later
/// (connection refused, timeout, HTTP 5xx or 429).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// First wait after a failure.
    pub initial: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// Attempts before the delivery is given up (`0`: never give up; a newer
    /// state of the same alert still replaces it).
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial: Duration::secs(1),
            max: Duration::secs(60),
            max_attempts: 0,
        }
    }
}

impl RetryConfig {
    /// Checks the values make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.initial.0 <= 0 {
            return Err("retry.initial must be positive".into());
        }
        if self.max < self.initial {
            return Err("retry.max must not be shorter than retry.initial".into());
        }
        Ok(())
    }
}

/// The waits of one delivery's retries.
#[derive(Debug)]
pub struct Backoff {
    initial_ms: u64,
    max_ms: u64,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A fresh backoff following `cfg`.
    pub fn new(cfg: &RetryConfig) -> Self {
        // A per-process random seed without a dependency: std's hasher keys
        // are random per process.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Backoff {
            initial_ms: cfg.initial.0.max(1) as u64,
            max_ms: cfg.max.0.max(cfg.initial.0).max(1) as u64,
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// Failures so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The wait before the next attempt: `initial · 2^n`, capped at `max`,
    /// with "equal jitter" (half fixed, half random) so it never collapses
    /// to zero and never exceeds the cap.
    pub fn next_wait(&mut self) -> std::time::Duration {
        let exp = self.attempt.min(32);
        self.attempt = self.attempt.saturating_add(1);
        let base = self.initial_ms.saturating_mul(1u64 << exp).min(self.max_ms);
        let half = base / 2;
        let jitter = if half == 0 {
            0
        } else {
            self.next_random() % (half + 1)
        };
        std::time::Duration::from_millis(base - half + jitter)
    }

    /// xorshift64*: plenty for jitter.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_bounded_jitter_and_respect_the_cap() {
        let cfg = RetryConfig {
            initial: Duration(100),
            max: Duration(1000),
            max_attempts: 0,
        };
        let mut b = Backoff::new(&cfg);
        let mut seen = Vec::new();
        for n in 0..8u32 {
            let base = (100u64 << n).min(1000);
            let w = b.next_wait().as_millis() as u64;
            assert!(
                w >= base / 2 && w <= base,
                "attempt {n}: {w} not in [{}, {base}]",
                base / 2
            );
            seen.push(w);
        }
        assert_eq!(b.attempts(), 8);
        b.reset();
        assert!(b.next_wait().as_millis() <= 100);
        // Jitter: the capped waits are not all identical.
        let capped: Vec<u64> = (0..20).map(|_| b.next_wait().as_millis() as u64).collect();
        assert!(capped.iter().any(|w| *w != capped[19]), "{capped:?}");
    }

    #[test]
    fn validation_rejects_nonsense() {
        let mut c = RetryConfig::default();
        assert!(c.validate().is_ok());
        c.max = Duration(10);
        assert!(c.validate().unwrap_err().contains("retry.max"));
        c.initial = Duration(0);
        assert!(c.validate().unwrap_err().contains("retry.initial"));
    }
}
