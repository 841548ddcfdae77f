//! The node table: interns node names to small indices so per-node state
//! lives in flat vectors, and keeps what the node lists say about each node
//! (zone, pool, existence, schedulability). Who cordoned a node is not kept
//! here: the action ledger owns that, and the engine reads it as
//! [`Cordons`].

use super::disruption::{self, Disruption};
use crate::k8s;
use crate::model::Cordons;
use crate::time::{Duration, Timestamp};
use std::collections::HashMap;

/// Label naming a node's pool (GKE's; others are configurable later).
pub const DEFAULT_POOL_LABEL: &str = "cloud.google.com/gke-nodepool";

/// What is known about one node.
#[derive(Clone, Debug, Default)]
pub struct NodeEntry {
    /// Node name.
    pub name: String,
    /// Zone label (empty if unknown).
    pub zone: String,
    /// Pool label (empty if unknown).
    pub pool: String,
    /// Creation time; the node is ignored before it.
    pub created: Option<Timestamp>,
    /// Present in the latest node list (or seen in data when no list came).
    pub listed: bool,
    /// `spec.unschedulable` as last listed (what nodewatch wrote since is
    /// in [`Cordons::written`]).
    pub unschedulable: bool,
    /// Opted out of actions (`nodewatch.io/exclude: "true"`).
    pub excluded: bool,
    /// The disruption its taints announce (autoscaler, termination notice).
    pub tainted: Option<Disruption>,
    /// The kubelet version it reports (empty if unknown).
    pub kubelet_version: String,
    /// When its kubelet version was seen to change (an upgrade's reboot):
    /// a second warm-up starts there.
    pub restarted: Option<Timestamp>,
    /// Hash of the node object (and the kept label keys) last applied: a
    /// list that brings the same object again changes nothing (a replay
    /// re-sends its list when one node changes; that must not undo what
    /// nodewatch did to another).
    pub fingerprint: u64,
    /// The labels pool policies select on (only the kept keys).
    pub labels: Vec<(String, String)>,
}

/// Interned nodes.
#[derive(Clone, Debug, Default)]
pub struct NodeTable {
    entries: Vec<NodeEntry>,
    index: HashMap<String, u32>,
    /// Whether a node list was ever applied: from then on the list says
    /// which nodes exist, and a subject of metric data it never named is
    /// no node (see [`NodeTable::resolve`]).
    has_list: bool,
    /// Metric rows refused by [`NodeTable::resolve`], and the first subject.
    unlisted: (u64, Option<String>),
}

impl NodeTable {
    /// Index of `name`, adding a node learned from data if unknown.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.entries.len() as u32;
        self.entries.push(NodeEntry {
            name: name.to_string(),
            listed: true,
            ..Default::default()
        });
        self.index.insert(name.to_string(), i);
        i
    }

    /// Index of the node outside data names (a metric row, an Event's
    /// host, a pod's `nodeName`). Without a node list (a replay of metrics
    /// alone) a new name is a node learned from data. Once the API
    /// server's list came, only nodes it named count: anything else (an
    /// exporter's own address, node_exporter's `instance` left as
    /// `10.0.0.5:9100`, an Event whose `source.host` anyone with Event
    /// write access may set) is no node, so outside data can neither make
    /// phantom nodes nor grow the table.
    pub fn learn(&mut self, name: &str) -> Option<u32> {
        if self.has_list {
            self.get(name)
        } else {
            Some(self.intern(name))
        }
    }

    /// [`NodeTable::learn`] for a metric row, counting the rows refused.
    pub fn resolve(&mut self, name: &str) -> Option<u32> {
        let i = self.learn(name);
        if i.is_none() {
            self.unlisted.0 += 1;
            // The first is example enough: no allocation per refused row
            // when a misconfigured signal refuses thousands each tick.
            if self.unlisted.1.is_none() {
                self.unlisted.1 = Some(name.to_string());
            }
        }
        i
    }

    /// Metric rows [`NodeTable::resolve`] refused so far, and the subject
    /// of the first one.
    pub fn unlisted(&self) -> (u64, Option<&str>) {
        (self.unlisted.0, self.unlisted.1.as_deref())
    }

    /// Index of `name` if known.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// Entry by index.
    pub fn entry(&self, i: u32) -> &NodeEntry {
        &self.entries[i as usize]
    }

    /// Mutable entry by index.
    pub fn entry_mut(&mut self, i: u32) -> &mut NodeEntry {
        &mut self.entries[i as usize]
    }

    /// Number of interned nodes (including ones no longer listed).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries with their indices.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &NodeEntry)> {
        self.entries.iter().enumerate().map(|(i, e)| (i as u32, e))
    }

    /// Whether node `i` exists at `at` (listed and created).
    pub fn exists(&self, i: u32, at: Timestamp) -> bool {
        let e = &self.entries[i as usize];
        e.listed && e.created.is_none_or(|c| c <= at)
    }

    /// Why node `i` is held at `at` (expected disruption), if it is;
    /// `cordons` tell nodewatch's own cordons from someone else's.
    pub fn held(
        &self,
        i: u32,
        cordons: &Cordons,
        at: Timestamp,
        warm_up: Duration,
    ) -> Option<Disruption> {
        let e = &self.entries[i as usize];
        let by_other = cordons.unschedulable(&e.name, e.unschedulable) && !cordons.is_ours(&e.name);
        disruption::of_entry(e, by_other, at, warm_up)
    }

    /// Applies a full node list seen at `at`: updates labels, taints,
    /// versions and schedulability, and marks nodes absent from it as no
    /// longer listed. Returns each node whose object changed, with its
    /// listed `spec.unschedulable` (the action ledger tells a human's
    /// uncordon from it). Of each node's labels only the `keep` keys are
    /// remembered.
    pub fn apply_list(
        &mut self,
        nodes: &[k8s::Node],
        pool_label: &str,
        keep: &[String],
        at: Timestamp,
    ) -> Vec<(String, bool)> {
        let mut changed = Vec::new();
        self.has_list = true;
        for e in &mut self.entries {
            e.listed = false;
        }
        for n in nodes {
            let i = self.intern(&n.metadata.name);
            let e = &mut self.entries[i as usize];
            e.listed = true;
            let fingerprint = fingerprint(n, keep);
            if e.fingerprint == fingerprint {
                continue;
            }
            e.fingerprint = fingerprint;
            e.zone = n.zone().to_string();
            e.pool = n.pool(pool_label).to_string();
            e.excluded = n.excluded();
            e.labels = keep
                .iter()
                .filter_map(|k| Some((k.clone(), n.metadata.labels.get(k)?.clone())))
                .collect();
            e.created = n
                .metadata
                .creation_timestamp
                .as_deref()
                .and_then(|t| Timestamp::parse_rfc3339(t).ok());
            e.unschedulable = n.spec.unschedulable;
            changed.push((e.name.clone(), e.unschedulable));
            e.tainted = disruption::from_taints(&n.spec.taints);
            let version = &n.status.node_info.kubelet_version;
            if !e.kubelet_version.is_empty() && !version.is_empty() && e.kubelet_version != *version
            {
                e.restarted = Some(at);
            }
            e.kubelet_version.clone_from(version);
        }
        changed
    }
}

/// A hash of everything nodewatch reads from a node, and of the label keys
/// it keeps (0 is never one).
fn fingerprint(n: &k8s::Node, keep: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(n).unwrap_or_default().hash(&mut h);
    keep.hash(&mut h);
    h.finish().max(1)
}
