//! The cluster a generator tells its story on: nodes and pods with creation
//! and deletion times, rendered as the `nodes.json` / `pods.json` objects.
//!
//! The files list every node and pod of the whole scenario (a node exists
//! from its `creationTimestamp`), because event attribution needs the pod of
//! an event even after the pod is gone.

use super::rfc3339_secs;
use crate::k8s::{self, ObjectMeta, ZONE_LABEL};
use crate::scenario::rng::Rng;
use crate::time::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet};

/// GKE's node pool label.
pub const POOL_LABEL: &str = "cloud.google.com/gke-nodepool";

/// The alphabet Kubernetes uses for generated name suffixes (no vowels, no
/// look-alikes), so pod names look like the real `<prefix>-x7k2q`.
pub const NAME_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

/// A node of the scenario.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `topology.kubernetes.io/zone`.
    pub zone: String,
    /// Node pool ([`POOL_LABEL`]).
    pub pool: String,
    /// When the node joined (autoscaled nodes join after the start).
    pub created: Timestamp,
    /// Third octet of the node's pod range `10.12.<subnet>.0/24`.
    pub subnet: u8,
    /// `status.nodeInfo.kubeletVersion` (empty: not written, as in the
    /// scenarios made before upgrades were modelled).
    pub kubelet_version: String,
    /// When the node object is deleted (scaled down, preempted), if it is.
    pub deleted: Option<Timestamp>,
}

/// A pod of the scenario.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: String,
    /// Main container name (probes, cAdvisor series, event messages).
    pub container: String,
    /// `spec.nodeName`.
    pub node: String,
    /// Pod IP, inside the node's pod range.
    pub ip: String,
    /// Creation time.
    pub created: Timestamp,
    /// Deletion time, if the pod goes away during the scenario.
    pub deleted: Option<Timestamp>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl PodInfo {
    /// Whether the pod exists at `t`.
    pub fn alive(&self, t: Timestamp) -> bool {
        self.created <= t && self.deleted.is_none_or(|d| t < d)
    }
}

/// Nodes and pods, with deterministic names and uids.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Nodes in creation order.
    pub nodes: Vec<NodeInfo>,
    /// Pods in creation order.
    pub pods: Vec<PodInfo>,
    rng: Rng,
    names: HashSet<String>,
}

impl Cluster {
    /// An empty cluster whose uids and names derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Cluster {
            nodes: Vec::new(),
            pods: Vec::new(),
            rng: Rng::from_key(seed, "cluster"),
            names: HashSet::new(),
        }
    }

    /// Adds a node; its pod range is `10.12.<subnet>.0/24`. Returns its index.
    pub fn add_node(
        &mut self,
        name: &str,
        zone: &str,
        pool: &str,
        created: Timestamp,
        subnet: u8,
    ) -> usize {
        let uid = self.rng.child(&format!("node-uid/{name}")).uuid();
        self.nodes.push(NodeInfo {
            name: name.to_string(),
            uid,
            zone: zone.to_string(),
            pool: pool.to_string(),
            created,
            subnet,
            kubelet_version: String::new(),
            deleted: None,
        });
        self.nodes.len() - 1
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Node names that exist at `t`.
    pub fn nodes_at(&self, t: Timestamp) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.created <= t)
            .map(|n| n.name.as_str())
            .collect()
    }

    /// Adds a pod bound to `node`; uid and IP derive from its name. Returns
    /// its index.
    pub fn add_pod(
        &mut self,
        namespace: &str,
        name: &str,
        container: &str,
        node: &str,
        created: Timestamp,
    ) -> usize {
        let mut r = self.rng.child(&format!("pod/{namespace}/{name}"));
        let subnet = self.node(node).map_or(0, |n| n.subnet);
        self.names.insert(name.to_string());
        self.pods.push(PodInfo {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: r.uuid(),
            container: container.to_string(),
            node: node.to_string(),
            ip: format!("10.12.{subnet}.{}", r.range(2, 255)),
            created,
            deleted: None,
            labels: BTreeMap::new(),
        });
        self.pods.len() - 1
    }

    /// A fresh `<prefix><5 chars>` pod name, unique in this cluster, drawn
    /// from a stream keyed by `key` (e.g. the pod's ordinal).
    pub fn generate_name(&mut self, prefix: &str, key: &str) -> String {
        self.unique_name(prefix, key, NAME_ALPHABET, 5)
    }

    /// A fresh `<prefix><len chars of alphabet>` name, unique in this cluster.
    pub fn unique_name(&mut self, prefix: &str, key: &str, alphabet: &str, len: usize) -> String {
        let mut r = self.rng.child(&format!("name/{prefix}/{key}"));
        for attempt in 0u32.. {
            let mut name = format!("{prefix}{}", r.string(alphabet, len.max(1)));
            if attempt >= 64 {
                // A tiny alphabet ran out of fresh names: disambiguate.
                name = format!("{name}{attempt}");
            }
            if !self.names.contains(&name) {
                return name;
            }
        }
        format!("{prefix}{key}")
    }

    /// A ReplicaSet-style hash (`66fcc59fb9`) for a Deployment called `key`.
    pub fn template_hash(&self, key: &str) -> String {
        self.rng
            .child(&format!("hash/{key}"))
            .string(NAME_ALPHABET, 10)
    }

    /// Indices of pods on `node` alive at `t` that satisfy `pred`.
    pub fn alive_on(
        &self,
        node: &str,
        t: Timestamp,
        pred: impl Fn(&PodInfo) -> bool,
    ) -> Vec<usize> {
        (0..self.pods.len())
            .filter(|&i| {
                let p = &self.pods[i];
                p.node == node && p.alive(t) && pred(p)
            })
            .collect()
    }

    /// For each node (in `nodes` order), how many pods satisfying `pred` are
    /// alive at each point of `grid`; one pass over the pods with difference
    /// arrays, so thousands of pods over days cost milliseconds.
    pub fn counts(&self, grid: &super::Grid, pred: impl Fn(&PodInfo) -> bool) -> Vec<Vec<u32>> {
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut diff = vec![vec![0i64; grid.len + 1]; self.nodes.len()];
        for p in self.pods.iter().filter(|p| pred(p)) {
            let Some(&n) = index.get(p.node.as_str()) else {
                continue;
            };
            // First grid point at or after creation; first at or after deletion.
            let first = |t: Timestamp| {
                if t <= grid.start {
                    0
                } else {
                    (((t.0 - grid.start.0 + grid.step.0 - 1) / grid.step.0) as usize).min(grid.len)
                }
            };
            let from = first(p.created);
            let to = p.deleted.map_or(grid.len, first);
            if from < to {
                diff[n][from] += 1;
                diff[n][to] -= 1;
            }
        }
        diff.into_iter()
            .map(|d| {
                let mut acc = 0i64;
                d[..grid.len]
                    .iter()
                    .map(|x| {
                        acc += x;
                        acc.max(0) as u32
                    })
                    .collect()
            })
            .collect()
    }

    /// `nodes.json` items: every node, Ready and schedulable, with labels.
    pub fn node_objects(&self) -> Vec<k8s::Node> {
        self.nodes
            .iter()
            .map(|n| {
                let labels = BTreeMap::from([
                    ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
                    (
                        "failure-domain.beta.kubernetes.io/zone".to_string(),
                        n.zone.clone(),
                    ),
                    ("kubernetes.io/hostname".to_string(), n.name.clone()),
                    (POOL_LABEL.to_string(), n.pool.clone()),
                    (ZONE_LABEL.to_string(), n.zone.clone()),
                ]);
                k8s::Node {
                    metadata: ObjectMeta {
                        name: n.name.clone(),
                        uid: n.uid.clone(),
                        labels,
                        creation_timestamp: Some(rfc3339_secs(n.created)),
                        ..ObjectMeta::default()
                    },
                    spec: k8s::NodeSpec::default(),
                    status: k8s::NodeStatus {
                        conditions: vec![k8s::NodeCondition {
                            type_: "Ready".into(),
                            status: "True".into(),
                        }],
                        node_info: k8s::NodeSystemInfo {
                            kubelet_version: n.kubelet_version.clone(),
                        },
                    },
                }
            })
            .collect()
    }

    /// `pods.json` items: every pod of the scenario.
    pub fn pod_objects(&self) -> Vec<k8s::Pod> {
        self.pods
            .iter()
            .map(|p| k8s::Pod {
                metadata: ObjectMeta {
                    name: p.name.clone(),
                    namespace: p.namespace.clone(),
                    uid: p.uid.clone(),
                    labels: p.labels.clone(),
                    creation_timestamp: Some(rfc3339_secs(p.created)),
                    ..ObjectMeta::default()
                },
                spec: k8s::PodSpec {
                    node_name: p.node.clone(),
                },
            })
            .collect()
    }
}
