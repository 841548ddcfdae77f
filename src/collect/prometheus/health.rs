//! What the Prometheus source knows about its own health: whether the last
//! attempt got data, errors counted by kind, and the queries in flight. A
//! cheap shared handle, so the agent (or a test) can read it while the
//! collector runs, and copy it into [`Stats`] for `/metrics`.

use crate::state::Stats;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Name of this source in `source_up` and `source_errors` keys.
pub const SOURCE: &str = "prometheus";

/// Shared, read-mostly health of one Prometheus source.
#[derive(Clone, Debug, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<HealthState>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A copy of the health counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthState {
    /// The last attempt got data for at least one signal.
    pub up: bool,
    /// Failed queries by kind (`unreachable`, `timeout`, `http`, `query`, `parse`).
    pub errors: BTreeMap<String, u64>,
    /// Queries sent.
    pub queries: u64,
    /// Attempts in a row in which no query succeeded.
    pub failing_attempts: u32,
    /// The last failure, as logged.
    pub last_error: Option<String>,
}

/// Counts a query as in flight until dropped (also when cancelled).
pub struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Health {
    /// A copy of the counters.
    pub fn state(&self) -> HealthState {
        self.lock().clone()
    }

    /// Whether the last attempt got data.
    pub fn up(&self) -> bool {
        self.lock().up
    }

    /// Failed queries of `kind` so far.
    pub fn errors(&self, kind: &str) -> u64 {
        self.lock().errors.get(kind).copied().unwrap_or(0)
    }

    /// Queries in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Most queries ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// Copies the counters into the snapshot stats: `source_up["prometheus"]`
    /// and `source_errors["prometheus/<kind>"]`.
    pub fn apply_to(&self, stats: &mut Stats) {
        let s = self.lock();
        stats.source_up.insert(SOURCE.to_string(), s.up);
        for (kind, n) in &s.errors {
            stats.source_errors.insert(format!("{SOURCE}/{kind}"), *n);
        }
    }

    /// Marks one query in flight for the guard's lifetime.
    pub(super) fn enter(&self) -> InFlight<'_> {
        let now = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(&self.inner)
    }

    /// Updates the counters under one lock.
    pub(super) fn update(&self, f: impl FnOnce(&mut HealthState)) {
        f(&mut self.lock());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_flow_into_stats() {
        let h = Health::default();
        h.update(|s| {
            s.up = false;
            *s.errors.entry("timeout".into()).or_default() += 2;
        });
        {
            let _a = h.enter();
            let _b = h.enter();
            assert_eq!(h.in_flight(), 2);
        }
        assert_eq!((h.in_flight(), h.max_in_flight()), (0, 2));
        let mut stats = Stats::default();
        h.apply_to(&mut stats);
        assert!(!stats.source_up["prometheus"]);
        assert_eq!(stats.source_errors["prometheus/timeout"], 2);
        assert_eq!(h.errors("timeout"), 2);
        assert_eq!(h.errors("http"), 0);
    }
}
