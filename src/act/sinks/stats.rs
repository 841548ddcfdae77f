//! Per-sink delivery counters, shared between the dispatcher (which reads
//! them for the snapshot) and the sink's task (which writes them). Plain
//! atomics: reading never waits for a delivery.

use crate::state::SinkStats;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Live counters of one sink; [`Counters::snapshot`] turns them into
/// [`SinkStats`].
#[derive(Debug, Default)]
pub struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    coalesced: AtomicU64,
    depth: AtomicU64,
    in_flight: AtomicU64,
    latency_last_us: AtomicU64,
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    /// `n` items delivered, the delivery having taken `took`.
    pub fn add_sent(&self, n: u64, took: std::time::Duration) {
        self.sent.fetch_add(n, Relaxed);
        let us = took.as_micros().min(u128::from(u64::MAX)) as u64;
        self.latency_last_us.store(us, Relaxed);
        self.latency_sum_us.fetch_add(us, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
        self.set_error(None);
    }

    /// `n` items given up on.
    pub fn add_failed(&self, n: u64) {
        self.failed.fetch_add(n, Relaxed);
    }

    /// One more retried attempt.
    pub fn add_retried(&self) {
        self.retried.fetch_add(1, Relaxed);
    }

    /// `n` items dropped from a full queue.
    pub fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Relaxed);
    }

    /// `n` items replaced by newer states.
    pub fn add_coalesced(&self, n: u64) {
        self.coalesced.fetch_add(n, Relaxed);
    }

    /// The queue's current length.
    pub fn set_depth(&self, n: usize) {
        self.depth.store(n as u64, Relaxed);
    }

    /// Messages being delivered now.
    pub fn set_in_flight(&self, n: usize) {
        self.in_flight.store(n as u64, Relaxed);
    }

    /// Messages being delivered now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// Records (or clears) the last error. Callers pass messages that
    /// carry no secrets (URLs are validated to hold no credentials).
    pub fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    /// The counters as plain values.
    pub fn snapshot(&self, kind: &str, capacity: usize) -> SinkStats {
        SinkStats {
            kind: kind.to_string(),
            sent: self.sent.load(Relaxed),
            failed: self.failed.load(Relaxed),
            retried: self.retried.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            queue_depth: self.depth.load(Relaxed),
            queue_capacity: capacity as u64,
            in_flight: self.in_flight.load(Relaxed),
            latency_last_seconds: self.latency_last_us.load(Relaxed) as f64 / 1e6,
            latency_sum_seconds: self.latency_sum_us.load(Relaxed) as f64 / 1e6,
            latency_count: self.latency_count.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
