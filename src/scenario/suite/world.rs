//! The world every suite scenario starts from: a cluster of nodes running a
//! few probed application pods, with ordinary noise, and per-node *stories*
//! — per-minute arrays a scenario edits to tell what goes wrong (threads
//! leaking, probes failing, the node going NotReady, Prometheus losing the
//! node's targets). [`World::finish`] turns it into a [`Scenario`]: the
//! metrics are recorded from the stories ([`super::record`]), the events are
//! whatever the scenario recorded plus the routine ones.

use crate::scenario::gen::{Cluster, EventRecorder, EventType, Grid, PodInfo};
use crate::scenario::rng::Rng;
use crate::scenario::{Meta, Scenario, Truth};
use crate::time::{Duration, Timestamp};

/// Evaluation interval of every suite scenario.
pub const STEP: Duration = Duration::secs(30);
/// Prometheus' scrape interval.
pub const SCRAPE: Duration = Duration::secs(60);
/// kernel.threads-max of the nodes (an 8 GiB machine).
pub const THREADS_MAX: f64 = 63_704.0;

/// The applications every node runs one pod of (Deployment, container,
/// threads at rest, readiness probe URL path).
pub const APPS: [(&str, &str, f64, &str); 3] = [
    ("web", "nginx", 9.0, "/healthz"),
    ("api", "api", 42.0, "/ready"),
    ("worker", "worker", 27.0, "/health"),
];

/// What happens to one node, minute by minute (index = [`Grid`] point).
#[derive(Clone, Debug)]
pub struct NodeStory {
    /// Threads added to the node's ordinary count (a leak).
    pub extra_threads: Vec<f64>,
    /// Share of CPU busy added to the ordinary load.
    pub extra_busy: Vec<f64>,
    /// The Ready condition.
    pub ready: Vec<bool>,
    /// Probability that a readiness probe of a pod on the node fails.
    pub probe_fail: Vec<f64>,
    /// Whether Prometheus can scrape the node's own targets (node-exporter,
    /// kubelet, cAdvisor); kube-state-metrics runs elsewhere.
    pub scraped: Vec<bool>,
    /// The container whose threads leak (it gets `extra_threads`).
    pub leaking_pod: Option<usize>,
    /// Problem conditions a node-local detector sets on the node. Empty
    /// for most nodes; recorded only where set, so scenarios without them
    /// keep their data.
    pub problems: Vec<NodeProblem>,
}

/// A problem condition that node-problem-detector (or the EKS node
/// monitoring agent) sets on a node, minute by minute.
#[derive(Clone, Debug)]
pub struct NodeProblem {
    /// Condition type (`KernelDeadlock`, `ReadonlyFilesystem`, ...).
    pub kind: &'static str,
    /// Reason the detector gives while the condition is true.
    pub reason: &'static str,
    /// Whether the condition is true.
    pub on: Vec<bool>,
}

impl NodeStory {
    fn new(len: usize) -> Self {
        NodeStory {
            extra_threads: vec![0.0; len],
            extra_busy: vec![0.0; len],
            ready: vec![true; len],
            probe_fail: vec![0.0; len],
            scraped: vec![true; len],
            leaking_pod: None,
            problems: Vec::new(),
        }
    }
}

/// What happens to one pod beyond being alive.
#[derive(Clone, Debug, Default)]
pub struct PodState {
    /// Windows in which its readiness probe fails (starting up).
    pub unready: Vec<(Timestamp, Timestamp)>,
    /// The kind of its owner (`ReplicaSet`, `DaemonSet`, `Job`).
    pub owner: &'static str,
    /// Pending (it never started) until this time.
    pub pending_until: Option<Timestamp>,
    /// Its container waits in CrashLoopBackOff from this time.
    pub crash_loop_from: Option<Timestamp>,
}

/// A scenario being built.
pub struct World {
    /// Scenario name.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Root of every random stream.
    pub rng: Rng,
    /// First evaluation time.
    pub start: Timestamp,
    /// Last evaluation time.
    pub end: Timestamp,
    /// One point a minute over `[start, end]`.
    pub grid: Grid,
    /// Nodes and pods.
    pub cluster: Cluster,
    /// Events recorded so far.
    pub events: EventRecorder,
    /// Per node (in `cluster.nodes` order).
    pub stories: Vec<NodeStory>,
    /// Cluster-wide load factor per minute (1 = ordinary): CPU busy and
    /// probe traffic scale with it.
    pub load: Vec<f64>,
    /// Per pod (cluster pod index): what kube-state-metrics and the
    /// kubelet say about it beyond being alive.
    pub pod_state: Vec<PodState>,
    /// Probed pods (application pods), by cluster pod index.
    pub probed: Vec<usize>,
    /// Isolated warnings per hour across the cluster (background noise).
    pub noise_per_hour: f64,
    /// What happens to nodes after the start (`nodes.jsonl`).
    pub node_changes: Vec<crate::scenario::NodeChange>,
    /// Worker threads per unit of `load` (0: thread counts ignore the
    /// load, as in the scenarios written before diurnal threads). Each
    /// node's workers follow it with their own amplitude.
    pub threads_per_load: f64,
    pub(super) seed: u64,
}

impl World {
    /// An empty world from `start` to `end`.
    pub fn new(
        name: &'static str,
        description: &'static str,
        seed: u64,
        start: Timestamp,
        end: Timestamp,
    ) -> Self {
        let grid = Grid::new(start, end, Duration::mins(1));
        World {
            name,
            description,
            rng: Rng::new(seed),
            start,
            end,
            grid,
            cluster: Cluster::new(seed),
            events: EventRecorder::new(seed),
            stories: Vec::new(),
            load: vec![1.0; grid.len],
            pod_state: Vec::new(),
            probed: Vec::new(),
            noise_per_hour: 2.0,
            node_changes: Vec::new(),
            threads_per_load: 0.0,
            seed,
        }
    }

    /// Adds a node created at `created` (before `start` for the initial
    /// nodes) in one of three zones, with one pod of every [`APPS`] entry
    /// and a node-exporter; returns its index.
    pub fn add_node(&mut self, ordinal: usize, created: Timestamp) -> usize {
        self.add_node_in(ordinal, created, "default-pool")
    }

    /// [`World::add_node`] in node pool `pool`.
    pub fn add_node_in(&mut self, ordinal: usize, created: Timestamp, pool: &str) -> usize {
        let mut r = self.rng.child(&format!("node/{ordinal}"));
        let name = format!(
            "gke-{}-{pool}-{}-{}",
            self.name.replace('-', ""),
            r.hex(8),
            r.string("bcdfghjklmnpqrstvwxz", 4)
        );
        let zone = ["europe-west1-b", "europe-west1-c", "europe-west1-d"][ordinal % 3];
        let subnet = (ordinal % 250) as u8;
        let n = self.cluster.add_node(&name, zone, pool, created, subnet);
        self.stories.push(NodeStory::new(self.grid.len));
        let pods_from = created.add(Duration::secs(40));
        for (app, container, _, _) in APPS {
            let hash = self.cluster.template_hash(app);
            let pod = self
                .cluster
                .generate_name(&format!("{app}-{hash}-"), &ordinal.to_string());
            let i = self.add_pod("shop", &pod, container, &name, pods_from, "ReplicaSet");
            self.cluster.pods[i]
                .labels
                .insert("app".to_string(), app.to_string());
            self.probed.push(i);
        }
        let exporter = self
            .cluster
            .generate_name("node-exporter-", &ordinal.to_string());
        self.add_pod(
            "monitoring",
            &exporter,
            "node-exporter",
            &name,
            pods_from,
            "DaemonSet",
        );
        n
    }

    /// Adds a pod owned by a `owner` (kind) and keeps the per-pod state in
    /// step.
    pub fn add_pod(
        &mut self,
        namespace: &str,
        name: &str,
        container: &str,
        node: &str,
        created: Timestamp,
        owner: &'static str,
    ) -> usize {
        let i = self
            .cluster
            .add_pod(namespace, name, container, node, created);
        self.pod_state
            .resize(self.cluster.pods.len(), PodState::default());
        self.pod_state[i].owner = owner;
        i
    }

    /// Marks `[from, to)` in a per-minute array.
    pub fn span<T: Copy>(&self, v: &mut [T], from: Timestamp, to: Timestamp, x: T) {
        for (i, t) in self.grid.points().enumerate() {
            if from <= t && t < to {
                v[i] = x;
            }
        }
    }

    /// Threads node `node`'s worker has at minute `i` because of the load
    /// (0 unless `threads_per_load` is set). Drawn from its own stream so
    /// the other series do not change.
    pub fn load_threads(&self, node: &str, i: usize) -> f64 {
        if self.threads_per_load == 0.0 {
            return 0.0;
        }
        let amp = self.rng.child(&format!("diurnal/{node}")).uniform(0.6, 1.4);
        (self.threads_per_load * amp * self.load[i]).round()
    }

    /// Probed pods alive on `node` at `t`.
    pub fn probed_on(&self, node: &str, t: Timestamp) -> Vec<PodInfo> {
        self.probed
            .iter()
            .map(|&i| &self.cluster.pods[i])
            .filter(|p| p.node == node && p.alive(t))
            .cloned()
            .collect()
    }

    /// Rare isolated warnings for random pods (about `noise_per_hour`
    /// across the cluster): what a detector must not mistake for a sickness.
    fn background_noise(&mut self) {
        let mut r = self.rng.child("noise");
        let p = self.noise_per_hour / 60.0;
        for t in self.grid.points().collect::<Vec<_>>() {
            if !r.chance(p) {
                continue;
            }
            let alive: Vec<usize> = self
                .probed
                .iter()
                .copied()
                .filter(|&i| self.cluster.pods[i].alive(t))
                .collect();
            let Some(&i) = r.pick(&alive) else { continue };
            let pod = self.cluster.pods[i].clone();
            let at = t.add(Duration(r.range(0, 60_000)));
            if r.chance(0.5) {
                let msg = "Error syncing pod, skipping: failed to \"StartContainer\"";
                self.events
                    .kubelet(at, &pod, EventType::Warning, "FailedSync", msg);
            } else {
                let msg = super::story::probe_timeout(&pod);
                self.events
                    .kubelet(at, &pod, EventType::Warning, "Unhealthy", &msg);
            }
        }
    }

    /// Records the metrics and routine events and assembles the scenario.
    pub fn finish(mut self, truth: Truth) -> Scenario {
        self.background_noise();
        let metrics = super::record::record(&self);
        let meta = Meta {
            name: self.name.to_string(),
            description: self.description.to_string(),
            start: self.start,
            end: self.end,
            step: STEP,
            maintenance_windows: Vec::new(),
            truth,
        };
        Scenario {
            meta,
            nodes: self.cluster.node_objects(),
            pods: self.cluster.pod_objects(),
            events: self.events.finish(),
            metrics,
            node_changes: self.node_changes,
        }
    }
}
