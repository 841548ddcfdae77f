//! The bounded per-sink queue. `push` never blocks (it is called from the
//! scoring loop); the sink's task waits on `pop_batch`. When the queue is
//! full it coalesces by fingerprint: a newer state of an alert replaces the
//! queued one, so the latest state of every alert is kept and a resolution
//! is never lost behind its firing. Only when every queued item is a
//! different alert is one dropped, and that is counted.

use super::item::{Item, Key};
use super::stats::Counters;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// What happened to a pushed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Appended.
    Queued,
    /// The queue was full; older states of the same alerts were replaced
    /// (this many items were folded away).
    Coalesced(usize),
    /// The queue was full of distinct alerts; the oldest non-resolution
    /// item was dropped to make room.
    Dropped,
}

/// A bounded, coalescing, single-consumer queue.
#[derive(Debug)]
pub struct Queue {
    items: Mutex<VecDeque<Item>>,
    capacity: usize,
    ready: Notify,
    counters: Arc<Counters>,
}

impl Queue {
    /// A queue holding at most `capacity` items (at least 1).
    pub fn new(capacity: usize, counters: Arc<Counters>) -> Self {
        Queue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            counters,
        }
    }

    /// A poisoned lock only means another thread panicked mid-push; the
    /// deque itself is always consistent, so keep going.
    fn lock(&self) -> MutexGuard<'_, VecDeque<Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an item without waiting.
    pub fn push(&self, item: Item) -> Pushed {
        let outcome = {
            let mut q = self.lock();
            let outcome = if q.len() < self.capacity {
                q.push_back(item);
                Pushed::Queued
            } else if let Some(pos) = q.iter().rposition(|i| i.key() == item.key()) {
                // The newest queued state of this alert is stale now.
                q[pos] = item;
                Pushed::Coalesced(1)
            } else {
                let folded = compact(&mut q);
                if folded == 0 {
                    let victim = q.iter().position(|i| !i.is_resolution()).unwrap_or(0);
                    q.remove(victim);
                }
                q.push_back(item);
                if folded == 0 {
                    Pushed::Dropped
                } else {
                    Pushed::Coalesced(folded)
                }
            };
            self.counters.set_depth(q.len());
            outcome
        };
        match outcome {
            Pushed::Queued => {}
            Pushed::Coalesced(n) => self.counters.add_coalesced(n as u64),
            Pushed::Dropped => self.counters.add_dropped(1),
        }
        self.ready.notify_one();
        outcome
    }

    /// Waits until there is something, then takes up to `max` items.
    /// Cancel-safe: nothing is taken until it returns.
    pub async fn pop_batch(&self, max: usize) -> Vec<Item> {
        loop {
            let batch = self.try_pop(max);
            if !batch.is_empty() {
                return batch;
            }
            self.ready.notified().await;
        }
    }

    /// Takes up to `max` items without waiting.
    pub fn try_pop(&self, max: usize) -> Vec<Item> {
        let mut q = self.lock();
        let n = q.len().min(max.max(1));
        let batch: Vec<Item> = q.drain(..n).collect();
        self.counters.set_depth(q.len());
        batch
    }

    /// Whether a newer state for `key` is waiting (so an in-flight older
    /// one need not be retried).
    pub fn contains(&self, key: Key) -> bool {
        self.lock().iter().any(|i| i.key() == key)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Keeps only the newest item per key, in order; returns how many went.
fn compact(q: &mut VecDeque<Item>) -> usize {
    let before = q.len();
    let mut seen = HashSet::new();
    let mut kept: Vec<Item> = q.drain(..).rev().filter(|i| seen.insert(i.key())).collect();
    kept.reverse();
    q.extend(kept);
    before - q.len()
}

#[cfg(test)]
mod tests {
    use super::super::fingerprint::Fingerprint;
    use super::super::item::{AlertEvent, AlertStatus};
    use super::*;

    fn alert(fp: u64, status: AlertStatus) -> Item {
        Item::Alert(Arc::new(AlertEvent {
            fingerprint: Fingerprint(fp),
            status,
            name: "A".into(),
            scope: "node".into(),
            subject: format!("n{fp}"),
            labels: Default::default(),
            annotations: Default::default(),
            starts_at: Default::default(),
            ends_at: None,
        }))
    }

    fn state(q: &Queue) -> Vec<(u64, AlertStatus)> {
        q.try_pop(usize::MAX)
            .into_iter()
            .map(|i| match i {
                Item::Alert(a) => (a.fingerprint.0, a.status),
                Item::Action(..) => unreachable!(),
            })
            .collect()
    }

    use AlertStatus::{Firing as F, Resolved as R};

    #[test]
    fn below_capacity_every_change_is_kept_in_order() {
        let c = Arc::new(Counters::default());
        let q = Queue::new(4, c.clone());
        assert_eq!(q.push(alert(1, F)), Pushed::Queued);
        assert_eq!(q.push(alert(1, R)), Pushed::Queued);
        assert_eq!(q.len(), 2);
        assert_eq!(state(&q), vec![(1, F), (1, R)]);
        assert_eq!(c.snapshot("x", 4).queue_depth, 0);
    }

    #[test]
    fn full_queue_keeps_the_latest_state_of_each_alert() {
        let c = Arc::new(Counters::default());
        let q = Queue::new(3, c.clone());
        q.push(alert(1, F));
        q.push(alert(2, F));
        q.push(alert(1, R));
        // Same key as the newest queued state of 1: replaced in place.
        assert_eq!(q.push(alert(1, F)), Pushed::Coalesced(1));
        // A new alert: the stale firing of 1 is folded away to make room.
        assert_eq!(q.push(alert(3, F)), Pushed::Coalesced(1));
        assert_eq!(state(&q), vec![(2, F), (1, F), (3, F)]);
        let s = c.snapshot("x", 3);
        assert_eq!((s.coalesced, s.dropped), (2, 0));
    }

    #[test]
    fn full_of_distinct_alerts_drops_the_oldest_firing_and_counts_it() {
        let c = Arc::new(Counters::default());
        let q = Queue::new(2, c.clone());
        q.push(alert(1, R));
        q.push(alert(2, F));
        assert_eq!(q.push(alert(3, F)), Pushed::Dropped);
        // The resolution survived; the firing of 2 went.
        assert_eq!(state(&q), vec![(1, R), (3, F)]);
        assert_eq!(c.snapshot("x", 2).dropped, 1);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = Arc::new(Queue::new(8, Arc::new(Counters::default())));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop_batch(10).await.len() });
        tokio::task::yield_now().await;
        q.push(alert(7, F));
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("pop returns after a push")
            .expect("task");
        assert_eq!(n, 1);
        assert!(q.is_empty());
    }
}
