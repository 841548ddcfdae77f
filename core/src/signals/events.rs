//! Event signals: matching Kubernetes Events against the catalog,
//! attributing them to nodes, and counting *increments* of
//! `count`/`series.count` (never objects twice: a repeated delivery, a relist
//! or a watch restart adds nothing).
//!
//! Attribution: the reporting node (`source.host`, else `reportingInstance`),
//! else the involved Pod's `spec.nodeName`, else the involved Node itself.

use super::contributors::TopK;
use super::NodeTable;
use crate::catalog::{Catalog, EventCount};
use crate::k8s;
use crate::time::{Duration, Timestamp};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

/// Events are folded by the API server and expire after an hour; remembering
/// objects a little longer than that is enough to never count one twice.
const SEEN_TTL: Duration = Duration::mins(75);
/// Events about a pod keep coming for a while after it is deleted (Killing,
/// FailedKillPod, a last probe failure): its placement is forgotten only
/// this long after the deletion, so memory follows the live pods.
const POD_GRACE: Duration = Duration::mins(15);
/// Distinct objects remembered per (node, signal) window; beyond this the
/// `objects` count saturates, which keeps memory bounded in an event storm.
pub const MAX_OBJECTS: usize = 64;

/// One counted occurrence batch: `increments` new occurrences of a matching
/// event about object `object` on node `node` for signal `signal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Signal index in the catalog.
    pub signal: usize,
    /// Node index.
    pub node: u32,
    /// New occurrences.
    pub increments: u32,
    /// Hash of the involved object (for distinct-object counts).
    pub object: u64,
    /// Index of the event in the batch passed to [`EventIngest::ingest`]'s
    /// caller (set by the caller; names the object for the contributors).
    pub event: u32,
}

struct EventMatcher {
    signal: usize,
    message: Option<regex::Regex>,
    kind: Option<String>,
}

/// Matches, attributes and de-duplicates events.
pub struct EventIngest {
    matchers: Vec<EventMatcher>,
    by_reason: HashMap<String, Vec<usize>>,
    any_reason: Vec<usize>,
    seen: HashMap<u64, (i64, Timestamp)>,
    /// Where pods run, by uid and by namespace/name (with the uid of the
    /// incarnation that set it, so forgetting a deleted pod cannot forget
    /// its successor of the same name).
    pods_by_uid: HashMap<u64, u32>,
    pods_by_name: HashMap<u64, (u32, u64)>,
    /// Deleted pods and when they went, oldest first.
    pods_gone: VecDeque<(Timestamp, k8s::PodKeys)>,
    last_prune: Option<Timestamp>,
    /// Event objects delivered.
    pub ingested: u64,
    /// Increments counted (all, matching a signal or not).
    pub increments: u64,
    /// Matching events with no node to attribute them to.
    pub unattributed: u64,
}

fn hash2(a: &str, b: &str) -> u64 {
    let mut h = DefaultHasher::new();
    a.hash(&mut h);
    b.hash(&mut h);
    h.finish()
}

impl EventIngest {
    /// Prepares matching for the catalog's event signals.
    pub fn new(catalog: &Catalog) -> Self {
        let mut me = EventIngest {
            matchers: Vec::new(),
            by_reason: HashMap::new(),
            any_reason: Vec::new(),
            seen: HashMap::new(),
            pods_by_uid: HashMap::new(),
            pods_by_name: HashMap::new(),
            pods_gone: VecDeque::new(),
            last_prune: None,
            ingested: 0,
            increments: 0,
            unattributed: 0,
        };
        for (i, s) in catalog.signals.iter().enumerate() {
            let Some(q) = &s.events else { continue };
            let m = me.matchers.len();
            me.matchers.push(EventMatcher {
                signal: i,
                message: q.message.clone(),
                kind: q.involved_kind.clone(),
            });
            if q.reasons.is_empty() {
                me.any_reason.push(m);
            }
            for r in &q.reasons {
                me.by_reason.entry(r.clone()).or_default().push(m);
            }
        }
        me
    }

    /// Remembers where a pod runs (for events that name no node).
    pub fn add_pod(&mut self, pod: &k8s::Pod, nodes: &mut NodeTable) {
        if pod.spec.node_name.is_empty() {
            return;
        }
        let k = pod.keys();
        let Some(n) = nodes.learn(&pod.spec.node_name) else {
            // On no listed node: not remembered, nor an earlier pod's
            // place under the same name.
            if self.pods_by_name.get(&k.name).is_some_and(|p| p.1 != k.uid) {
                self.pods_by_name.remove(&k.name);
            }
            return;
        };
        if k.uid != 0 {
            self.pods_by_uid.insert(k.uid, n);
        }
        self.pods_by_name.insert(k.name, (n, k.uid));
    }

    /// Notes that pods were deleted at `at`; their placement is forgotten
    /// [`POD_GRACE`] later (see [`EventIngest::prune`]).
    pub fn forget_pods(&mut self, gone: &[k8s::PodKeys], at: Timestamp) {
        self.pods_gone.extend(gone.iter().map(|k| (at, *k)));
    }

    /// The node pod `namespace/name` runs on, when its placement is known.
    pub fn node_of_pod(&self, namespace: &str, name: &str) -> Option<u32> {
        let k = k8s::PodKeys::new(namespace, name, "");
        self.pods_by_name.get(&k.name).map(|p| p.0)
    }

    /// Pods whose placement is remembered (by namespace/name).
    pub fn pods_known(&self) -> usize {
        self.pods_by_name.len()
    }

    /// Ingests one delivered event at tick time `at`, appending hits.
    pub fn ingest(
        &mut self,
        ev: &k8s::Event,
        at: Timestamp,
        nodes: &mut NodeTable,
        hits: &mut Vec<Hit>,
    ) {
        self.ingested += 1;
        let key = hash2(&ev.metadata.namespace, &ev.metadata.name);
        let total = ev.total_count();
        let prev = self.seen.insert(key, (total, at)).map_or(0, |(t, _)| t);
        if total <= prev {
            // A repeat delivery (relist, watch restart): nothing new. Keep
            // the highest count seen so a stale copy cannot re-add.
            self.seen.insert(key, (prev, at));
            return;
        }
        let inc = (total - prev).min(u32::MAX as i64) as u32;
        self.increments += inc as u64;
        let reason_matches = self
            .by_reason
            .get(&ev.reason)
            .map_or(&[][..], Vec::as_slice);
        let mut node = None;
        for &m in reason_matches.iter().chain(self.any_reason.iter()) {
            let mt = &self.matchers[m];
            if mt
                .kind
                .as_ref()
                .is_some_and(|k| *k != ev.involved_object.kind)
            {
                continue;
            }
            if mt
                .message
                .as_ref()
                .is_some_and(|r| !r.is_match(&ev.message))
            {
                continue;
            }
            let n = match node {
                Some(n) => n,
                None => match self.attribute(ev, nodes) {
                    Some(n) => *node.insert(n),
                    None => {
                        self.unattributed += 1;
                        return;
                    }
                },
            };
            let o = &ev.involved_object;
            let object = if o.uid.is_empty() {
                hash2(&o.namespace, &o.name)
            } else {
                hash2("uid", &o.uid)
            };
            hits.push(Hit {
                signal: mt.signal,
                node: n,
                increments: inc,
                object,
                event: 0,
            });
        }
    }

    fn attribute(&self, ev: &k8s::Event, nodes: &mut NodeTable) -> Option<u32> {
        // A host no listed node has (see `NodeTable::learn`) falls back to
        // the involved object.
        if let Some(i) = ev.reporting_node().and_then(|h| nodes.learn(h)) {
            return Some(i);
        }
        let o = &ev.involved_object;
        match o.kind.as_str() {
            "Pod" => {
                let k = k8s::PodKeys::new(&o.namespace, &o.name, &o.uid);
                let by_uid = (k.uid != 0).then(|| self.pods_by_uid.get(&k.uid)).flatten();
                by_uid
                    .copied()
                    .or_else(|| self.pods_by_name.get(&k.name).map(|p| p.0))
            }
            "Node" if !o.name.is_empty() => nodes.learn(&o.name),
            _ => None,
        }
    }

    /// Forgets event objects not delivered for longer than their TTL, and
    /// pods deleted more than [`POD_GRACE`] ago.
    pub fn prune(&mut self, now: Timestamp) {
        if self
            .last_prune
            .is_some_and(|t| now.since(t) < Duration::mins(5))
        {
            return;
        }
        self.last_prune = Some(now);
        self.seen.retain(|_, (_, at)| now.since(*at) < SEEN_TTL);
        while let Some(&(at, k)) = self.pods_gone.front() {
            if now.since(at) < POD_GRACE {
                break;
            }
            self.pods_gone.pop_front();
            if k.uid != 0 {
                self.pods_by_uid.remove(&k.uid);
            }
            // Only if no newer pod of the same name took the entry over.
            if self.pods_by_name.get(&k.name).is_some_and(|p| p.1 == k.uid) {
                self.pods_by_name.remove(&k.name);
            }
        }
    }

    /// Event objects currently remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// A trailing window of counts for one (node, event signal).
///
/// Memory follows what happened, not the window's length: a quiet window
/// holds no heap at all; a busy one keeps only its ticks with hits (at most
/// one entry per tick of the window, the same bound as one bucket per
/// tick), and gives capacity back as the hits leave the window (all of it
/// once the window is empty, with hysteresis before that so a steady rate
/// does not reallocate every tick).
#[derive(Clone, Debug)]
pub struct EventWindow {
    /// Window length in ticks (at least 1, at most `u32::MAX`).
    len: u64,
    /// The latest tick the window was advanced to.
    tick: u64,
    /// Hits in the window; `None` while the window is empty.
    busy: Option<Box<Busy>>,
}

/// The state of a window with something in it.
#[derive(Clone, Debug, Default)]
struct Busy {
    /// Ticks with increments, oldest first: (tick as `u32`, wrapping, and
    /// the tick's increments, saturating). Entries are at most `len - 1`
    /// ticks older than the window's tick, so the wrapped difference is
    /// exact.
    counts: VecDeque<(u32, u32)>,
    /// Sum of `counts`.
    sum: u64,
    /// Distinct objects and the last tick each was seen.
    objects: Vec<(u64, u64)>,
    /// The objects with the most increments in the window.
    top: TopK,
}

/// Below this capacity a buffer is never shrunk (not worth a reallocation).
const MIN_SHRINK: usize = 8;

/// Gives capacity back, with hysteresis, once a buffer uses at most a
/// quarter of it: keeps the power of two at or above twice what is used (so
/// it takes a doubling of the contents to grow again, and a further halving
/// to shrink again; capacities stay powers of two, as growth makes them,
/// which keeps [`EventWindow::max_bytes`] a true bound).
fn shrink(len: usize, cap: usize, shrink_to: impl FnOnce(usize)) {
    if cap > MIN_SHRINK && len * 4 <= cap {
        shrink_to((len * 2).max(MIN_SHRINK / 2).next_power_of_two());
    }
}

impl Busy {
    fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.objects.is_empty() && self.top.is_empty()
    }

    fn bytes(&self) -> usize {
        std::mem::size_of::<Busy>()
            + self.counts.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.objects.capacity() * std::mem::size_of::<(u64, u64)>()
            + self.top.bytes()
    }
}

impl EventWindow {
    /// A window of `len` ticks.
    pub fn new(len: usize) -> Self {
        EventWindow {
            len: (len as u64).clamp(1, u32::MAX as u64),
            tick: 0,
            busy: None,
        }
    }

    fn advance(&mut self, tick: u64) {
        if tick > self.tick {
            self.tick = tick;
        }
        let Some(b) = self.busy.as_mut() else { return };
        let oldest = tick.saturating_sub(self.len - 1);
        // Counts older than `len - 1` ticks before the latest tick leave the
        // window. Entries are never newer than `self.tick` and stay less
        // than `len <= u32::MAX` ticks behind it, so the wrapped age is exact.
        let now = self.tick as u32;
        let keep = self.tick.min(self.len - 1);
        while let Some(&(t, c)) = b.counts.front() {
            if u64::from(now.wrapping_sub(t)) <= keep {
                break;
            }
            b.sum -= u64::from(c);
            b.counts.pop_front();
        }
        b.objects.retain(|&(_, t)| t >= oldest);
        b.top.expire(oldest);
        if b.is_empty() {
            self.busy = None;
            return;
        }
        shrink(b.counts.len(), b.counts.capacity(), |n| {
            b.counts.shrink_to(n)
        });
        shrink(b.objects.len(), b.objects.capacity(), |n| {
            b.objects.shrink_to(n)
        });
    }

    /// Adds a hit at `tick` (ticks never go back).
    pub fn add(&mut self, tick: u64, increments: u32, object: u64) {
        self.advance(tick);
        let b = self.busy.get_or_insert_with(Box::default);
        if increments > 0 {
            match b.counts.back_mut() {
                Some((t, c)) if *t == tick as u32 => {
                    let was = *c;
                    *c = c.saturating_add(increments);
                    b.sum += u64::from(*c - was);
                }
                _ => {
                    b.counts.push_back((tick as u32, increments));
                    b.sum += u64::from(increments);
                }
            }
        }
        if let Some(o) = b.objects.iter_mut().find(|(k, _)| *k == object) {
            o.1 = tick;
        } else if b.objects.len() < MAX_OBJECTS {
            b.objects.push((object, tick));
        }
    }

    /// Adds a hit at `tick` and credits it to pod `(namespace, name)`.
    pub fn add_from(&mut self, tick: u64, increments: u32, object: u64, pod: (&str, &str)) {
        self.add(tick, increments, object);
        if let Some(b) = self.busy.as_mut() {
            b.top.add(tick, pod, object, increments);
        }
    }

    /// The workloads (or single pods) with the most increments in the
    /// window, largest first, with the window's total increments (as of
    /// the last update).
    pub fn top(&self) -> (Vec<(String, u32)>, u32) {
        match &self.busy {
            Some(b) => (b.top.top(), b.sum.min(u32::MAX as u64) as u32),
            None => (Vec::new(), 0),
        }
    }

    /// The value at `tick`: increments or distinct objects in the window.
    pub fn value(&mut self, tick: u64, count: EventCount) -> f64 {
        self.advance(tick);
        let Some(b) = &self.busy else { return 0.0 };
        match count {
            EventCount::Increments => b.sum as f64,
            EventCount::Objects => b.objects.len() as f64,
        }
    }

    /// Bytes held now, inline and on the heap.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.busy.as_ref().map_or(0, |b| b.bytes())
    }

    /// Bytes a window of `len` ticks can hold at most (a hit on every tick
    /// of the window, [`MAX_OBJECTS`] objects, every top-k slot with a
    /// name of the longest length): the memory budget's figure.
    pub fn max_bytes(len: usize) -> usize {
        let len = len.clamp(1, u32::MAX as usize);
        std::mem::size_of::<Self>()
            + std::mem::size_of::<Busy>()
            // A VecDeque grows by doubling; shrinking keeps at most 2×.
            + len.next_power_of_two() * std::mem::size_of::<(u32, u32)>()
            + MAX_OBJECTS * std::mem::size_of::<(u64, u64)>()
            + TopK::max_bytes()
    }

    /// The window's length in ticks.
    pub fn len_ticks(&self) -> usize {
        self.len as usize
    }
}

#[cfg(test)]
mod tests;
