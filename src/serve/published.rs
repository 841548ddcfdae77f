//! The hand-off between the pipeline and the HTTP server: the pipeline
//! publishes one [`Snapshot`] per tick, readers take the latest one. Next to
//! it live the things a single snapshot cannot tell: a bounded score
//! history per node (for sparklines), running action totals (for the
//! `nodewatch_actions_total` counter, because `snapshot.actions` is only a
//! bounded list of recent records), and the [`History`] of every series
//! that the query API answers from (under its own lock, so a long query
//! never delays the status page).

use super::config::ServeConfig;
use super::history::{self, History};
use crate::model::ActionKind;
use crate::state::{ActionRecord, Snapshot};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Score points kept per node, and publishes a node may be absent before its
/// history is dropped: one bound for both, so memory is at most
/// `HISTORY_LEN` points for each node seen in the last `HISTORY_LEN` ticks.
pub const HISTORY_LEN: usize = 240;

/// A cheaply cloneable handle to the latest published snapshot and the
/// bookkeeping derived from the sequence of snapshots.
#[derive(Clone)]
pub struct Published {
    inner: Arc<RwLock<Book>>,
    store: Arc<RwLock<History>>,
    config: Arc<ServeConfig>,
}

impl Default for Published {
    fn default() -> Self {
        Self::with_config(&ServeConfig::default())
    }
}

/// What the handle guards. One lock keeps a snapshot and the history and
/// totals derived from it consistent for a reader.
#[derive(Default)]
struct Book {
    current: Option<Arc<Snapshot>>,
    publishes: u64,
    history: HashMap<String, NodeHistory>,
    action_totals: BTreeMap<String, u64>,
    /// Keys of the action records in the last snapshot. Records leave the
    /// bounded recent list oldest-first and never come back, so remembering
    /// only the last list is enough to count each record exactly once.
    seen_actions: HashSet<ActionKey>,
}

/// Identity of an action record: (at in ms, node, kind).
type ActionKey = (i64, String, ActionKind);

/// One node's recent scores, oldest first.
struct NodeHistory {
    points: VecDeque<f32>,
    last_seen: u64,
}

impl Published {
    /// An empty handle: not ready, no snapshot, no history; the history
    /// keeps the default retention (6 h) and memory bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty handle whose history follows `cfg`.
    pub fn with_config(cfg: &ServeConfig) -> Self {
        let bytes = usize::try_from(cfg.history_max_bytes).unwrap_or(usize::MAX);
        Published {
            inner: Arc::default(),
            store: Arc::new(RwLock::new(History::new(cfg.history_retention.0, bytes))),
            config: Arc::new(cfg.clone()),
        }
    }

    /// The settings this handle was made with (the server reads its
    /// limits here).
    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// Makes `snapshot` the current one and folds it into the history and
    /// action totals. Called by the pipeline after every tick.
    pub fn publish(&self, snapshot: Snapshot) {
        self.publish_with_series(snapshot, &[]);
    }

    /// [`Published::publish`], with `extra` samples written into the
    /// query history in the snapshot's tick: series nodewatch never
    /// produces (classic histogram buckets), which tests load to compare
    /// the query API with Prometheus. They never reach `/metrics`.
    pub fn publish_with_series(&self, snapshot: Snapshot, extra: &[history::ExtraSample]) {
        let mut book = self.write();
        book.publishes += 1;
        let tick = book.publishes;
        for node in &snapshot.nodes {
            // f32 halves the memory of the largest structure here; a
            // sparkline needs far less precision than that.
            let point = node.score as f32;
            match book.history.get_mut(&node.name) {
                Some(h) => {
                    if h.last_seen != tick {
                        if h.points.len() == HISTORY_LEN {
                            h.points.pop_front();
                        }
                        h.points.push_back(point);
                        h.last_seen = tick;
                    }
                }
                None => {
                    let mut points = VecDeque::with_capacity(8);
                    points.push_back(point);
                    let h = NodeHistory {
                        points,
                        last_seen: tick,
                    };
                    book.history.insert(node.name.clone(), h);
                }
            }
        }
        book.history
            .retain(|_, h| tick - h.last_seen < HISTORY_LEN as u64);

        let keys: HashSet<ActionKey> = snapshot
            .actions
            .iter()
            .map(|a| (a.at.0, a.node.clone(), a.kind))
            .collect();
        let new_actions: Vec<&ActionRecord> = snapshot
            .actions
            .iter()
            .filter(|a| {
                !book
                    .seen_actions
                    .contains(&(a.at.0, a.node.clone(), a.kind))
            })
            .collect();
        for a in &new_actions {
            *book.action_totals.entry(a.kind.to_string()).or_insert(0) += 1;
        }
        book.seen_actions = keys;
        let totals = known_kinds(&book.action_totals);
        // Written while the book is still locked, so no reader sees a
        // snapshot the history has not got yet. Lock order is always book,
        // then store; readers take one of them only.
        {
            let mut store = self.store.write().unwrap_or_else(|e| e.into_inner());
            history::record_with(&mut store, &snapshot, &totals, &new_actions, extra);
        }
        book.current = Some(Arc::new(snapshot));
    }

    /// Read access to the query API's history.
    pub fn store(&self) -> RwLockReadGuard<'_, History> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest snapshot, or `None` before the first publish.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.read().current.clone()
    }

    /// Whether a snapshot has been published (what `/readyz` reports).
    pub fn is_ready(&self) -> bool {
        self.read().current.is_some()
    }

    /// Number of snapshots published so far.
    pub fn publishes(&self) -> u64 {
        self.read().publishes
    }

    /// A node's recent scores, oldest first (at most [`HISTORY_LEN`]).
    pub fn history(&self, node: &str) -> Option<Vec<f32>> {
        let book = self.read();
        book.history
            .get(node)
            .map(|h| h.points.iter().copied().collect())
    }

    /// Number of nodes with a score history; bounded by the nodes seen in
    /// the last [`HISTORY_LEN`] publishes.
    pub fn history_nodes(&self) -> usize {
        self.read().history.len()
    }

    /// Running count of action records by kind, each record counted once;
    /// the known kinds are present at zero from the start.
    pub fn action_totals(&self) -> BTreeMap<String, u64> {
        known_kinds(&self.read().action_totals)
    }

    /// Histories of the named nodes, under one lock (the page asks for the
    /// few nodes it shows rather than copying every node's history).
    pub fn histories(&self, nodes: &[&str]) -> HashMap<String, Vec<f32>> {
        let book = self.read();
        nodes
            .iter()
            .filter_map(|n| {
                let h = book.history.get(*n)?;
                Some((n.to_string(), h.points.iter().copied().collect()))
            })
            .collect()
    }

    // A panic while holding the lock cannot leave the book half-valid in a
    // way that matters to readers (worst case: one tick's history is
    // partial), so a poisoned lock is used rather than propagated.
    fn read(&self) -> RwLockReadGuard<'_, Book> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Book> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// `counted` with every action kind present (at zero before anything
/// happened, so `rate()` and `increase()` see the first increment).
fn known_kinds(counted: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut totals: BTreeMap<String, u64> =
        ActionKind::ALL.iter().map(|k| (k.to_string(), 0)).collect();
    for (kind, n) in counted {
        totals.insert(kind.clone(), *n);
    }
    totals
}

impl fmt::Debug for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let book = self.read();
        f.debug_struct("Published")
            .field("publishes", &book.publishes)
            .field("history_nodes", &book.history.len())
            .field("ready", &book.current.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ActionRecord, NodeView};
    use crate::time::Timestamp;

    fn snap(names: &[&str], actions: Vec<ActionRecord>) -> Snapshot {
        let nodes = names
            .iter()
            .map(|n| NodeView {
                name: n.to_string(),
                score: 0.5,
                ..Default::default()
            })
            .collect();
        Snapshot {
            nodes,
            actions,
            ..Default::default()
        }
    }

    fn action(at: i64, node: &str, kind: ActionKind) -> ActionRecord {
        ActionRecord {
            at: Timestamp(at),
            node: node.into(),
            kind,
            ..Default::default()
        }
    }

    #[test]
    fn history_is_bounded_per_node_and_in_node_count() {
        let p = Published::new();
        assert!(!p.is_ready());
        for i in 0..1000 {
            let name = format!("n{i}");
            p.publish(snap(&["steady", &name], vec![]));
        }
        assert!(p.is_ready());
        assert_eq!(p.history("steady").map(|h| h.len()), Some(HISTORY_LEN));
        assert!(
            p.history_nodes() <= HISTORY_LEN + 1,
            "{}",
            p.history_nodes()
        );
        assert!(p.history("n0").is_none());
        assert_eq!(p.history("n999").map(|h| h.len()), Some(1));
    }

    #[test]
    fn actions_are_counted_once_across_snapshots() {
        let p = Published::new();
        assert_eq!(p.action_totals().get("cordon"), Some(&0));
        let a = action(1, "a", ActionKind::Cordon);
        let b = action(2, "b", ActionKind::Refused);
        p.publish(snap(&[], vec![a.clone()]));
        p.publish(snap(&[], vec![a.clone(), b.clone()]));
        p.publish(snap(
            &[],
            vec![b.clone(), action(3, "a", ActionKind::Uncordon)],
        ));
        let t = p.action_totals();
        assert_eq!((t["cordon"], t["refused"], t["uncordon"]), (1, 1, 1));
    }
}
