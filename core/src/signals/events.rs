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
        let n = nodes.intern(&pod.spec.node_name);
        let k = pod.keys();
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
        if let Some(host) = ev.reporting_node() {
            return Some(nodes.intern(host));
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
            "Node" if !o.name.is_empty() => Some(nodes.intern(&o.name)),
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

/// A trailing window of counts for one (node, event signal), in tick buckets.
#[derive(Clone, Debug)]
pub struct EventWindow {
    buckets: Box<[u32]>,
    tick: u64,
    objects: Vec<(u64, u64)>,
    /// The objects with the most increments in the window.
    top: TopK,
}

impl EventWindow {
    /// A window of `len` ticks.
    pub fn new(len: usize) -> Self {
        EventWindow {
            buckets: vec![0; len.max(1)].into_boxed_slice(),
            tick: 0,
            objects: Vec::new(),
            top: TopK::default(),
        }
    }

    fn advance(&mut self, tick: u64) {
        let n = self.buckets.len() as u64;
        if tick > self.tick {
            let gap = (tick - self.tick).min(n);
            for k in 1..=gap {
                self.buckets[((self.tick + k) % n) as usize] = 0;
            }
            self.tick = tick;
        }
        let oldest = tick.saturating_sub(n - 1);
        self.objects.retain(|&(_, t)| t >= oldest);
        self.top.expire(oldest);
    }

    /// Adds a hit at `tick`.
    pub fn add(&mut self, tick: u64, increments: u32, object: u64) {
        self.advance(tick);
        let n = self.buckets.len() as u64;
        let b = &mut self.buckets[(tick % n) as usize];
        *b = b.saturating_add(increments);
        if let Some(o) = self.objects.iter_mut().find(|(k, _)| *k == object) {
            o.1 = tick;
        } else if self.objects.len() < MAX_OBJECTS {
            self.objects.push((object, tick));
        }
    }

    /// Adds a hit at `tick` and credits it to pod `(namespace, name)`.
    pub fn add_from(&mut self, tick: u64, increments: u32, object: u64, pod: (&str, &str)) {
        self.add(tick, increments, object);
        self.top.add(tick, pod, object, increments);
    }

    /// The workloads (or single pods) with the most increments in the
    /// window, largest first, with the window's total increments (as of
    /// the last update).
    pub fn top(&self) -> (Vec<(String, u32)>, u32) {
        let total = self.buckets.iter().fold(0u32, |a, &b| a.saturating_add(b));
        (self.top.top(), total)
    }

    /// The value at `tick`: increments or distinct objects in the window.
    pub fn value(&mut self, tick: u64, count: EventCount) -> f64 {
        self.advance(tick);
        match count {
            EventCount::Increments => self.buckets.iter().map(|&b| b as f64).sum(),
            EventCount::Objects => self.objects.len() as f64,
        }
    }
}

#[cfg(test)]
mod tests;
