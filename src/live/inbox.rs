//! The watchers' inbox: what arrived since the last tick, folded per kind
//! (see [`super::watch`] for what a relist means for each), plus each
//! watcher's health.

use super::expected::Expectations;
use crate::k8s;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// Events buffered between two ticks before the oldest are dropped (only
/// reached when ticks stop while an event storm goes on).
const MAX_PENDING_EVENTS: usize = 1_000_000;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// Listed during a (re)list.
    Relist,
    /// Added or modified on the watch.
    Apply,
    /// Deleted.
    Delete,
}

/// Health and progress of one watcher.
#[derive(Clone, Debug, Default)]
pub struct WatchStats {
    /// The first list finished.
    pub synced: bool,
    /// Lists started (1 after the initial one; more after 410 Gone).
    pub lists: u64,
    /// Errors (failed lists or watches, error events).
    pub errors: u64,
    /// Of those, refused by RBAC (403).
    pub forbidden: u64,
    /// The last error, for logs and the status page.
    pub last_error: Option<String>,
    /// Highest resourceVersion of an object delivered (test progress only).
    pub rv: u64,
    pub(super) last_error_at: Option<Instant>,
    pub(super) item_since_error: bool,
}

impl WatchStats {
    /// Whether the stream is believed healthy: no error yet, an object
    /// arrived after the last one, or no error for `quiet` (a failing
    /// watcher errs again after each backoff, which is shorter).
    pub fn healthy(&self, quiet: Duration) -> bool {
        match self.last_error_at {
            None => true,
            Some(t) => self.item_since_error || t.elapsed() >= quiet,
        }
    }
}

/// Everything the watchers found since the last tick.
#[derive(Default)]
pub struct Inbox {
    /// Events delivered since the last drain, in delivery order. A ring,
    /// so dropping the oldest at the cap is O(1) during a storm (it was a
    /// `Vec::remove(0)`, a full copy per event once full).
    pub events: VecDeque<k8s::Event>,
    /// Events dropped because nobody drained them.
    pub events_dropped: u64,
    pub(super) nodes: BTreeMap<String, k8s::Node>,
    pub(super) nodes_relist: Option<BTreeMap<String, k8s::Node>>,
    pub(super) nodes_changed: bool,
    /// What nodewatch expects nodes' `unschedulable` to be after its
    /// writes (shared with the cordoner, which records them; read here).
    pub(super) expected: Expectations,
    pods: Vec<k8s::Pod>,
    pods_gone: Vec<k8s::PodKeys>,
    /// Known pods: inbox key → (hash of the node, the core's keys).
    pub(super) pod_nodes: HashMap<u64, (u64, k8s::PodKeys)>,
    pub(super) pod_relist: Option<HashMap<u64, (u64, k8s::PodKeys)>>,
    /// Per kind.
    pub stats: [WatchStats; 3],
}

fn hash(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl Inbox {
    pub(super) fn event(&mut self, e: k8s::Event) {
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back(e);
    }

    pub(super) fn node(&mut self, n: k8s::Node, op: Op) {
        if op == Op::Delete {
            self.nodes.remove(&n.metadata.name);
            self.nodes_changed = true;
            return;
        }
        let relist = op == Op::Relist;
        self.expected.confirm(&n);
        let map = match (&mut self.nodes_relist, relist) {
            (Some(m), true) => m,
            _ => &mut self.nodes,
        };
        if map
            .get(&n.metadata.name)
            .is_some_and(|old| same_node(old, &n))
        {
            return;
        }
        map.insert(n.metadata.name.clone(), n);
        self.nodes_changed |= !relist;
    }

    pub(super) fn pod(&mut self, p: k8s::Pod, op: Op) {
        let key = hash(&[&p.metadata.namespace, &p.metadata.name, &p.metadata.uid]);
        if op == Op::Delete {
            if let Some((_, keys)) = self.pod_nodes.remove(&key) {
                self.pods_gone.push(keys);
            }
            return;
        }
        let relist = op == Op::Relist;
        let node = hash(&[&p.spec.node_name]);
        let old = self.pod_nodes.get(&key).map(|e| e.0);
        let entry = (node, p.keys());
        if let (true, Some(m)) = (relist, self.pod_relist.as_mut()) {
            m.insert(key, entry);
        } else {
            self.pod_nodes.insert(key, entry);
        }
        if old != Some(node) && !p.spec.node_name.is_empty() {
            self.pods.push(p);
        }
    }

    /// Ends a pod relist: pods known before and not listed again were
    /// deleted while the watch was down.
    pub(super) fn pod_relist_done(&mut self) {
        if let Some(m) = self.pod_relist.take() {
            let gone = self.pod_nodes.iter().filter(|(k, _)| !m.contains_key(k));
            self.pods_gone.extend(gone.map(|(_, e)| e.1));
            self.pod_nodes = m;
        }
    }

    /// Events pending, nodes known, pods known.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.events.len(), self.nodes.len(), self.pod_nodes.len())
    }

    /// Takes the pending pods, the node list if it changed (or `all_nodes`)
    /// and, when `events` is set, the pending events (otherwise they wait:
    /// the core drops events of an observation whose stream is broken).
    pub fn drain(&mut self, all_nodes: bool, events: bool) -> Drained {
        // nodewatch's own writes show before the watch confirms them.
        let nodes =
            (all_nodes || self.nodes_changed).then(|| self.expected.show(self.nodes.values()));
        self.nodes_changed = false;
        Drained {
            events: if events {
                std::mem::take(&mut self.events).into()
            } else {
                Vec::new()
            },
            nodes,
            pods: std::mem::take(&mut self.pods),
            pods_gone: std::mem::take(&mut self.pods_gone),
        }
    }
}

/// What one drain of the inbox returned.
pub struct Drained {
    /// Events, in delivery order.
    pub events: Vec<k8s::Event>,
    /// The node list, when it changed.
    pub nodes: Option<Vec<k8s::Node>>,
    /// Pods new or moved.
    pub pods: Vec<k8s::Pod>,
    /// Pods deleted.
    pub pods_gone: Vec<k8s::PodKeys>,
}

/// Whether two reduced nodes are the same for the core.
pub(super) fn same_node(a: &k8s::Node, b: &k8s::Node) -> bool {
    a.metadata.labels == b.metadata.labels
        && a.metadata.annotations == b.metadata.annotations
        && a.metadata.creation_timestamp == b.metadata.creation_timestamp
        && a.spec == b.spec
        && a.status == b.status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str) -> k8s::Pod {
        k8s::Pod {
            metadata: k8s::ObjectMeta {
                name: name.into(),
                namespace: "ns".into(),
                uid: format!("u-{name}"),
                ..Default::default()
            },
            spec: k8s::PodSpec {
                node_name: node.into(),
            },
        }
    }

    fn node(name: &str, unschedulable: bool) -> k8s::Node {
        let mut n = k8s::Node::default();
        n.metadata.name = name.into();
        n.spec.unschedulable = unschedulable;
        n
    }

    #[test]
    fn only_new_or_moved_pods_are_passed_on() {
        let mut i = Inbox::default();
        i.pod(pod("a", "n1"), Op::Apply);
        i.pod(pod("a", "n1"), Op::Apply);
        i.pod(pod("b", ""), Op::Apply);
        assert_eq!(
            i.drain(false, true).pods.len(),
            1,
            "a once; b is not bound yet"
        );
        // A relist repeats everything: nothing new, but a move is seen.
        i.pod_relist = Some(HashMap::new());
        i.pod(pod("a", "n1"), Op::Relist);
        i.pod(pod("b", "n2"), Op::Relist);
        i.pod_relist_done();
        let d = i.drain(false, true);
        assert_eq!(
            d.pods
                .iter()
                .map(|p| p.metadata.name.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );
        assert!(d.pods_gone.is_empty());
        i.pod(pod("a", "n1"), Op::Delete);
        assert_eq!(i.sizes().2, 1);
        assert_eq!(i.drain(false, true).pods_gone, [pod("a", "n1").keys()]);
    }

    #[test]
    fn pods_missing_from_a_relist_are_gone() {
        let mut i = Inbox::default();
        for name in ["a", "b", "c"] {
            i.pod(pod(name, "n1"), Op::Apply);
        }
        i.drain(false, true);
        // The watch was down while b was deleted.
        i.pod_relist = Some(HashMap::new());
        i.pod(pod("a", "n1"), Op::Relist);
        i.pod(pod("c", "n1"), Op::Relist);
        i.pod_relist_done();
        let d = i.drain(false, true);
        assert!(d.pods.is_empty(), "nothing new");
        assert_eq!(d.pods_gone, [pod("b", "n1").keys()]);
        assert_eq!(i.sizes().2, 2);
        // Deleting an unknown pod tells the core nothing.
        i.pod(pod("zz", "n1"), Op::Delete);
        assert!(i.drain(false, true).pods_gone.is_empty());
    }

    #[test]
    fn expected_cordon_shows_until_the_watch_confirms_it() {
        let mut i = Inbox::default();
        i.node(node("n1", false), Op::Apply);
        assert!(i.drain(false, true).nodes.is_some(), "changed");
        assert!(i.drain(false, true).nodes.is_none(), "unchanged");
        i.expected.expect("n1", true);
        let listed = i.drain(true, true).nodes.unwrap();
        assert!(listed[0].spec.unschedulable, "forced until confirmed");
        i.node(node("n1", true), Op::Apply);
        i.node(node("n1", false), Op::Apply);
        let listed = i.drain(true, true).nodes.unwrap();
        assert!(
            !listed[0].spec.unschedulable,
            "a later human uncordon shows"
        );
    }

    #[test]
    fn events_wait_while_the_stream_is_broken() {
        let mut i = Inbox::default();
        i.event(k8s::Event::default());
        assert!(i.drain(false, false).events.is_empty());
        assert_eq!(i.drain(false, true).events.len(), 1);
        let s = WatchStats {
            last_error_at: Some(Instant::now()),
            ..Default::default()
        };
        assert!(!s.healthy(Duration::from_secs(7)));
        assert!(s.healthy(Duration::ZERO));
    }
}
