//! Simulated time on the fake server: a scenario's nodes and pods are
//! loaded at once, its events are released in file order as a test moves
//! time forward (as kubelets would write them), and events expire an hour
//! after their last write, as with the real server's `--event-ttl`.

use super::http::lock;
use super::store::Key;
use super::{event_key, rv_of, FakeApiServer, EVENT_TTL_MS};
use nodewatch::scenario::Scenario;
use nodewatch::time::Timestamp;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};

/// Scenario events not yet released and the TTL bookkeeping.
#[derive(Default)]
pub(super) struct Clock {
    pub(super) pending: Vec<(i64, Value)>,
    pub(super) cursor: usize,
    pub(super) now: i64,
    pub(super) written: HashMap<Key, i64>,
    pub(super) order: VecDeque<(i64, Key)>,
    pub(super) last_event_rv: u64,
}

impl FakeApiServer {
    /// Loads a scenario: nodes and pods now, events held back until
    /// [`advance_to`](Self::advance_to) releases them in file order.
    pub fn load_scenario(&self, sc: &Scenario) {
        {
            let mut s = lock(&self.inner.store);
            for n in &sc.nodes {
                let mut v = serde_json::to_value(n).expect("node json");
                v["apiVersion"] = json!("v1");
                v["kind"] = json!("Node");
                s.put("nodes", v, false);
            }
            for p in &sc.pods {
                let mut v = serde_json::to_value(p).expect("pod json");
                v["apiVersion"] = json!("v1");
                v["kind"] = json!("Pod");
                s.put("pods", v, false);
            }
        }
        let mut c = lock(&self.clock);
        // The same due time as the replay source: the latest occurrence.
        c.pending = sc
            .events
            .iter()
            .map(|e| {
                let t = e
                    .last_seen()
                    .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                    .map_or(i64::MIN, |t| t.0);
                (t, serde_json::to_value(e).expect("event json"))
            })
            .collect();
        c.cursor = 0;
    }

    /// Moves simulated time to `t`: releases the due scenario events (as a
    /// kubelet writing them) and expires events older than the TTL. Returns
    /// the resourceVersion of the last event written (deletions are left
    /// out: a relist cannot show them, and they count for nothing).
    pub fn advance_to(&self, t: Timestamp) -> u64 {
        let due: Vec<Value> = {
            let mut c = lock(&self.clock);
            c.now = t.0;
            let start = c.cursor;
            while c.cursor < c.pending.len() && c.pending[c.cursor].0 <= t.0 {
                c.cursor += 1;
            }
            c.pending[start..c.cursor]
                .iter()
                .map(|(_, v)| v.clone())
                .collect()
        };
        for mut ev in due {
            ev["apiVersion"] = json!("v1");
            ev["kind"] = json!("Event");
            self.put("events", ev);
        }
        let expired: Vec<Key> = {
            let mut c = lock(&self.clock);
            let cutoff = t.0 - EVENT_TTL_MS;
            let mut out = Vec::new();
            while c.order.front().is_some_and(|(w, _)| *w < cutoff) {
                let Some((w, key)) = c.order.pop_front() else {
                    break;
                };
                if c.written.get(&key) == Some(&w) {
                    c.written.remove(&key);
                    out.push(key);
                }
            }
            out
        };
        if !expired.is_empty() {
            let mut s = lock(&self.inner.store);
            for k in &expired {
                s.delete("events", k);
            }
            drop(s);
            self.inner.changed.notify_waiters();
        }
        self.last_event_rv()
    }

    /// Version of the last event written.
    pub fn last_event_rv(&self) -> u64 {
        lock(&self.clock).last_event_rv
    }

    /// Scenario events not released yet.
    pub fn pending_events(&self) -> usize {
        let c = lock(&self.clock);
        c.pending.len() - c.cursor
    }
}

impl Clock {
    /// Records a write to an event at the current simulated time.
    pub(super) fn wrote(&mut self, ev: &Value) {
        let key = event_key(ev);
        let now = self.now;
        self.written.insert(key.clone(), now);
        self.order.push_back((now, key));
        self.last_event_rv = rv_of(ev);
    }
}
