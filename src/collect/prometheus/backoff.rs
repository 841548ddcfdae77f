//! Exponential backoff for a source that keeps failing: after the n-th
//! failed attempt in a row the next one waits `initial · 2^(n-1)`, capped
//! at `max`; one success resets it. No jitter: one nodewatch talks to one
//! Prometheus, so there is no herd of clients to spread out.

use super::config::BackoffConfig;
use std::time::{Duration, Instant};

/// Backoff state, driven by the caller's clock (passed in, for tests).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    next_attempt: Option<Instant>,
}

impl Backoff {
    /// Fresh state: the first attempt may go at once.
    pub fn new(cfg: BackoffConfig) -> Self {
        let ms = |d: crate::time::Duration| Duration::from_millis(d.0.max(1) as u64);
        Backoff {
            initial: ms(cfg.initial),
            max: ms(cfg.max).max(ms(cfg.initial)),
            failures: 0,
            next_attempt: None,
        }
    }

    /// How long until the next attempt is allowed (`None`: now).
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.next_attempt
            .and_then(|t| t.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Records a failed attempt at `now`; returns the wait before the next.
    pub fn failure(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(30);
        let delay = self
            .initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max);
        self.next_attempt = Some(now + delay);
        delay
    }

    /// Records a success; returns how many failures in a row preceded it.
    pub fn success(&mut self) -> u32 {
        self.next_attempt = None;
        std::mem::take(&mut self.failures)
    }

    /// Failed attempts in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration as D;

    #[test]
    fn doubles_up_to_max_and_resets() {
        let mut b = Backoff::new(BackoffConfig {
            initial: D(100),
            max: D(1000),
        });
        let t0 = Instant::now();
        assert_eq!(b.remaining(t0), None);
        let delays: Vec<u128> = (0..6).map(|_| b.failure(t0).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.remaining(t0), Some(Duration::from_millis(1000)));
        assert_eq!(
            b.remaining(t0 + Duration::from_millis(400)),
            Some(Duration::from_millis(600))
        );
        assert_eq!(b.remaining(t0 + Duration::from_millis(1000)), None);
        assert_eq!(b.success(), 6);
        assert_eq!(b.failures(), 0);
        assert_eq!(b.remaining(t0), None);
        assert_eq!(b.failure(t0).as_millis(), 100);
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut b = Backoff::new(BackoffConfig {
            initial: D(1),
            max: D(5000),
        });
        let t0 = Instant::now();
        for _ in 0..100 {
            b.failure(t0);
        }
        assert_eq!(b.failure(t0), Duration::from_millis(5000));
    }
}
