//! Series ids remembered between ticks for the per-node series, which are
//! nearly all of them (26 per node with the default catalog: 130,000 at
//! 5,000 nodes). Finding a series from its labels means interning every
//! name and value, sorting the pairs by name and hashing the result; doing
//! that for every sample of every tick was most of the cost of a publish.
//! With the ids cached, a steady-state tick looks up each node once, checks
//! the few label values that can change (pool, zone, `by`, the signal name)
//! by comparing strings, and sets samples by id.
//!
//! The cache only ever answers "this is the series you created last time
//! with these exact labels": any mismatch takes the full path, so results
//! are the same as without it. Ids of series the store removes are
//! forgotten ([`NodeCache::forget`]) before they can be reused.

use super::{FxMap, History};

/// No id: an unknown series, or (as a key) an empty label value.
const NONE: u32 = u32::MAX;

/// A remembered series id and the interned values of the `N` labels that
/// are not fixed by where the slot is (e.g. pool and zone for the score).
#[derive(Clone, Copy)]
pub(super) struct Slot<const N: usize> {
    key: [u32; N],
    sid: u32,
}

impl<const N: usize> Default for Slot<N> {
    fn default() -> Self {
        Slot {
            key: [NONE; N],
            sid: NONE,
        }
    }
}

impl<const N: usize> Slot<N> {
    /// Sets this tick's sample of the series `labels`, whose variable
    /// label values are `key`: by the remembered id when `key` is what it
    /// was, else through [`History::series_id`] (and remembers the result).
    pub(super) fn set(
        &mut self,
        h: &mut History,
        key: [&str; N],
        labels: &[(&str, &str)],
        value: f64,
    ) {
        if self.sid != NONE && self.key.iter().zip(key).all(|(id, s)| same(h, *id, s)) {
            h.put(self.sid, value);
            return;
        }
        if let Some(sid) = h.series_id(labels) {
            h.put(sid, value);
            // Creating the series interned every non-empty value of `key`.
            *self = Slot {
                key: key.map(|s| h.strings.get(s).unwrap_or(NONE)),
                sid,
            };
        }
    }

    fn forget(&mut self, gone: &[u32]) {
        if gone.binary_search(&self.sid).is_ok() {
            self.sid = NONE;
        }
    }
}

/// Whether interned `id` is the label value `s` (`NONE` is the empty one).
fn same(h: &History, id: u32, s: &str) -> bool {
    if id == NONE {
        s.is_empty()
    } else {
        h.strings.resolve(id) == s
    }
}

/// The series of a node's signal.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// `nodewatch_signal_value`.
    Value,
    /// `nodewatch_signal_anomaly`.
    Anomaly,
    /// `nodewatch_signal_unknown`.
    Unknown,
}

/// The series of one signal of a node, by [`Kind`].
struct SignalIds {
    /// Interned signal name (`NONE` for the empty one).
    name: u32,
    slots: [Slot<0>; 3],
    /// The visit of the node that last listed the signal.
    visit: u64,
}

/// The series of one node.
pub(super) struct NodeIds {
    name: Box<str>,
    /// Keyed by pool and zone.
    pub score: Slot<2>,
    /// Keyed by `by`.
    pub cordoned: Slot<1>,
    signals: Vec<SignalIds>,
    /// The cache's tick when the node was last recorded.
    tick: u64,
    /// Number of the current visit (see [`NodeCache::node`]).
    visit: u64,
    /// Position in the snapshot at the last visit.
    at: usize,
}

impl NodeIds {
    /// The entry of signal `name`, usually at position `at` as last tick
    /// (a node lists its signals in catalog order), created when new.
    pub(super) fn signal(&mut self, h: &History, at: usize, name: &str) -> usize {
        match self.signals.get(at) {
            Some(s) if same(h, s.name, name) => at,
            _ => match self.signals.iter().position(|s| same(h, s.name, name)) {
                Some(i) => i,
                None => {
                    self.signals.push(SignalIds {
                        name: NONE,
                        slots: [Slot::default(); 3],
                        visit: 0,
                    });
                    self.signals.len() - 1
                }
            },
        }
    }

    /// Whether signal entry `i` is listed for the first time in this visit
    /// of the node (a repeated signal is ignored, as it always was).
    pub(super) fn first_listing(&mut self, i: usize) -> bool {
        let s = &mut self.signals[i];
        let first = s.visit != self.visit;
        s.visit = self.visit;
        first
    }

    /// Sets this tick's sample of the `kind` series (`labels`) of signal
    /// entry `i`, named `name`.
    pub(super) fn set_signal(
        &mut self,
        h: &mut History,
        (i, name): (usize, &str),
        kind: Kind,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let s = &mut self.signals[i];
        s.slots[kind as usize].set(h, [], labels, value);
        if s.name == NONE {
            // Creating the series interned the name (unless it is empty).
            s.name = h.strings.get(name).unwrap_or(NONE);
        }
    }
}

/// Per-node series ids, in the order of the last snapshot's nodes (so
/// the usual lookup is one string comparison) and by name.
#[derive(Default)]
pub(super) struct NodeCache {
    nodes: Vec<NodeIds>,
    index: FxMap<Box<str>, usize>,
    tick: u64,
    visits: u64,
    /// Distinct nodes recorded this tick.
    present: usize,
    /// Nodes this tick not found at their position in `nodes`.
    misplaced: usize,
}

impl NodeCache {
    /// Starts a tick (for dropping nodes that stop appearing).
    pub(super) fn begin(&mut self) {
        self.tick += 1;
        self.present = 0;
        self.misplaced = 0;
    }

    /// The entry of node `name`, the `at`-th node of the snapshot, created
    /// empty when new. Each call is a new visit of the node.
    pub(super) fn node(&mut self, at: usize, name: &str) -> &mut NodeIds {
        let i = match self.nodes.get(at) {
            Some(n) if *n.name == *name => at,
            _ => match self.index.get(name) {
                Some(i) => {
                    self.misplaced += 1;
                    *i
                }
                None => {
                    self.misplaced += 1;
                    self.index.insert(name.into(), self.nodes.len());
                    self.nodes.push(NodeIds {
                        name: name.into(),
                        score: Slot::default(),
                        cordoned: Slot::default(),
                        signals: Vec::new(),
                        tick: 0,
                        visit: 0,
                        at,
                    });
                    self.nodes.len() - 1
                }
            },
        };
        self.visits += 1;
        let ids = &mut self.nodes[i];
        ids.visit = self.visits;
        ids.at = at;
        if ids.tick != self.tick {
            ids.tick = self.tick;
            self.present += 1;
        }
        ids
    }

    /// Ends a tick: drops the entries of nodes it did not record, so the
    /// cache is bounded by the current cluster, and puts the rest in this
    /// snapshot's order if nodes came, went or moved.
    pub(super) fn end(&mut self) {
        if self.nodes.len() == self.present && self.misplaced == 0 {
            return;
        }
        let tick = self.tick;
        self.nodes.retain(|n| n.tick == tick);
        self.nodes.sort_by_key(|n| n.at);
        self.index.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            self.index.insert(n.name.clone(), i);
        }
    }

    /// Forgets the ids in `gone` (sorted), which the store removed and may
    /// hand out again for other series.
    pub(super) fn forget(&mut self, gone: &[u32]) {
        if gone.is_empty() {
            return;
        }
        for n in &mut self.nodes {
            n.score.forget(gone);
            n.cordoned.forget(gone);
            for s in &mut n.signals {
                s.slots.iter_mut().for_each(|slot| slot.forget(gone));
            }
        }
    }
}
