//! The built-in Binder scenario: the 2018-02-20 mybinder.org outage
//! (`shared/seed/binder-2018-02-20-incident.md`) reconstructed as the brief
//! `shared/scenarios/binder-2018-02-20.md` decides, in UTC.
//!
//! It is the demo and the first replay test, so it holds every trap the
//! incident had: a hub slowly drowning in idle threads (cluster-wide), a
//! grafana pod in trouble on `vvsw` (a pod problem), readiness failures on
//! every node at once (common cause), `vvsw` really losing pod networking
//! (node-local), and two nodes whose pods will not stop the next day.
//!
//! The parts: [`users`] simulates the user pods and their routine events,
//! [`incidents`] adds the incident events, [`metrics`] the exporters' series.

mod incidents;
mod metrics;
mod users;

use super::gen::{utc, Cluster, EventRecorder, EventType, Grid, Involved, PodInfo};
use super::rng::Rng;
use super::{FaultyNode, Incident, Meta, Scenario, Truth};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "binder";
/// One-line description.
pub const DESCRIPTION: &str =
    "The 2018-02-20 Binder outage: hub thread leak and overload (cluster-wide), \
     grafana pod trouble, cluster-wide readiness failures, vvsw losing pod networking, \
     pods failing to stop on qz3m and vvsm";

/// Every random stream of the scenario derives from this.
const SEED: u64 = 0x2018_0220_b1d3;
/// Node name prefix (GKE: `gke-<cluster>-<pool>-<instance group>-<suffix>`).
const NODE_PREFIX: &str = "gke-prod-a-ssd-pool-32-134a959a-";
/// Node pool.
const POOL: &str = "ssd-pool-32";
/// The namespace of the deployment.
const NS: &str = "prod";
/// User pod name prefix.
const USER_PREFIX: &str = "jupyter-jupyterlab-jupyterlab-demo-";
/// The user pod image.
const USER_IMAGE: &str = "gcr.io/binder-prod/r2d-fd74043jupyterlab-jupyterlab-demo:18a9793b58ba86660b5ab964e1aeaf7324d667c8";

const fn feb20(h: i64, m: i64) -> Timestamp {
    utc(2018, 2, 20, h, m)
}
const fn feb21(h: i64, m: i64) -> Timestamp {
    utc(2018, 2, 21, h, m)
}
const fn feb22(h: i64, m: i64) -> Timestamp {
    utc(2018, 2, 22, h, m)
}

/// First evaluation time.
const START: Timestamp = feb20(12, 0);
/// Last evaluation time.
const END: Timestamp = feb22(7, 0);
/// Prometheus' scrape interval.
const SCRAPE: Duration = Duration::secs(60);

/// The hub's spawners start leaking 4 idle threads each.
const LEAK_FROM: Timestamp = feb20(14, 30);
/// Hub restarts (the leak starts over) and the fix (the leak ends).
const HUB_RESTARTS: [Timestamp; 3] = [feb20(15, 20), feb20(21, 12), FIX];
/// The fixed chart is deployed.
const FIX: Timestamp = feb22(6, 18);
/// The grafana pod on `vvsw` is unhealthy.
const GRAFANA_TROUBLE: (Timestamp, Timestamp) = (feb20(14, 15), feb20(14, 32));
/// Grafana's container restarts during its trouble.
const GRAFANA_RESTARTS: [Timestamp; 2] = [feb20(14, 21), feb20(14, 28)];
/// Readiness failures on every node at once (common cause: the hub).
const READINESS_WINDOWS: [(Timestamp, Timestamp); 4] = [
    (feb20(15, 5), feb20(15, 33)),
    (feb20(18, 5), feb20(18, 40)),
    (feb20(19, 35), feb20(19, 52)),
    (feb20(20, 15), feb20(21, 0)),
];
/// `vvsw` loses pod networking.
const VVSW_OUTAGE: (Timestamp, Timestamp) = (feb20(17, 0), feb20(17, 40));
/// The hub logs "can't start new thread".
const THREAD_ERROR: Timestamp = Timestamp(feb20(17, 18).0 + 21_889);
/// Pods fail to stop on `qz3m` and `vvsm`.
const KILL_TROUBLE: (Timestamp, Timestamp) = (feb21(15, 0), feb21(16, 0));

/// What an infrastructure pod is, for its metrics and events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Hub,
    Proxy,
    Binder,
    Grafana,
    Prometheus,
    Ingress,
    KubeDns,
    NodeExporter,
}

/// The infrastructure pods (all have readiness probes and cAdvisor series).
struct Infra {
    pods: Vec<(Role, usize)>,
}

impl Infra {
    fn first(&self, role: Role) -> usize {
        self.pods
            .iter()
            .find(|(r, _)| *r == role)
            .map_or(0, |&(_, i)| i)
    }
}

/// Full node name for `suffix`.
fn node_name(suffix: &str) -> String {
    format!("{NODE_PREFIX}{suffix}")
}

/// Whether `p` is a user pod.
fn is_user(p: &PodInfo) -> bool {
    p.name.starts_with(USER_PREFIX)
}

/// Builds the nodes: three from before the start, five added by the
/// autoscaler (deterministic suffixes), alternating between two zones.
fn add_nodes(c: &mut Cluster, rng: &Rng) {
    let (a, b) = ("us-central1-a", "us-central1-b");
    c.add_node(&node_name("vvsw"), a, POOL, utc(2018, 2, 12, 9, 14), 8);
    c.add_node(&node_name("qz3m"), b, POOL, utc(2018, 2, 12, 9, 15), 3);
    c.add_node(&node_name("vvsm"), a, POOL, utc(2018, 2, 15, 22, 41), 5);
    let joins = [
        feb20(13, 55),
        feb20(14, 5),
        feb20(14, 22),
        feb20(14, 38),
        feb20(14, 52),
    ];
    for (i, at) in joins.into_iter().enumerate() {
        let mut r = rng.child(&format!("autoscaled/{i}"));
        let name = loop {
            let n = node_name(&r.string("abcdefghijklmnopqrstuvwxyz0123456789", 4));
            if c.node(&n).is_none() {
                break n;
            }
        };
        let zone = if i % 2 == 0 { b } else { a };
        c.add_node(
            &name,
            zone,
            POOL,
            at.add(Duration(r.range(0, 30_000))),
            11 + i as u8,
        );
    }
}

/// Adds the infrastructure pods (created before the start, except the
/// node-exporters of autoscaled nodes).
fn add_infra(c: &mut Cluster) -> Infra {
    let (vvsw, qz3m, vvsm) = (node_name("vvsw"), node_name("qz3m"), node_name("vvsm"));
    let before = utc(2018, 2, 19, 16, 2);
    let mut pods = Vec::new();
    // (role, namespace, name or Deployment, container, node): full names
    // are the incident's own; the others get a ReplicaSet hash and a suffix.
    let deployments: [(Role, &str, &str, &str, &str); 8] = [
        (Role::Hub, NS, "hub-989cc9bd-5qdcb", "hub", &qz3m),
        (Role::Proxy, NS, "proxy", "chp", &vvsm),
        (Role::Binder, NS, "binder-66fcc59fb9-58btx", "binder", &qz3m),
        (Role::Grafana, NS, "grafana", "grafana", &vvsw),
        (
            Role::Prometheus,
            NS,
            "prometheus-server",
            "prometheus-server",
            &vvsw,
        ),
        (
            Role::Ingress,
            NS,
            "nginx-ingress-controller",
            "nginx-ingress-controller",
            &vvsw,
        ),
        (
            Role::Ingress,
            NS,
            "nginx-ingress-controller",
            "nginx-ingress-controller",
            &vvsm,
        ),
        (Role::KubeDns, "kube-system", "kube-dns", "kubedns", &vvsw),
    ];
    for (i, (role, ns, base, container, node)) in deployments.into_iter().enumerate() {
        let name = if matches!(role, Role::Hub | Role::Binder) {
            base.to_string()
        } else {
            let hash = c.template_hash(base);
            c.generate_name(&format!("{base}-{hash}-"), &i.to_string())
        };
        let idx = c.add_pod(
            ns,
            &name,
            container,
            node,
            before.add(Duration::mins(7 * i as i64)),
        );
        if role == Role::Grafana {
            c.pods[idx].ip = "10.12.8.137".to_string(); // The address in the incident's kubectl output.
        }
        pods.push((role, idx));
    }
    let nodes: Vec<(String, Timestamp)> = c
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.created))
        .collect();
    for (i, (node, created)) in nodes.into_iter().enumerate() {
        let name = c.generate_name("node-exporter-", &i.to_string());
        let at = if created < START {
            before
        } else {
            created.add(Duration::secs(25))
        };
        let idx = c.add_pod(NS, &name, "node-exporter", &node, at);
        pods.push((Role::NodeExporter, idx));
    }
    for &(role, idx) in &pods {
        let app = format!("{role:?}").to_lowercase();
        c.pods[idx].labels.insert("app".into(), app);
    }
    Infra { pods }
}

/// What a node joining says: the kubelet starts and reports Ready, the node
/// controller registers it (without a host: it is about the node itself).
fn node_joins(c: &Cluster, ev: &mut EventRecorder) {
    for n in c.nodes.iter().filter(|n| n.created >= START) {
        let node = Involved::node(n);
        let at = |s: i64| n.created.add(Duration::secs(s));
        let ready = format!("Node {} status is now: NodeReady", n.name);
        let registered = format!(
            "Node {} event: Registered Node {} in Controller",
            n.name, n.name
        );
        ev.record(
            at(2),
            node.clone(),
            "kubelet",
            &n.name,
            EventType::Normal,
            "Starting",
            "Starting kubelet.",
        );
        ev.record(
            at(14),
            node.clone(),
            "kubelet",
            &n.name,
            EventType::Normal,
            "NodeReady",
            &ready,
        );
        ev.record(
            at(19),
            node,
            "node-controller",
            "",
            EventType::Normal,
            "RegisteredNode",
            &registered,
        );
    }
}

/// The ground truth, exactly as the brief states it.
fn truth() -> Truth {
    let faulty = |suffix: &str, (from, to): (Timestamp, Timestamp), kind: &str| FaultyNode {
        node: node_name(suffix),
        from,
        to,
        kind: kind.to_string(),
    };
    Truth {
        faulty_nodes: vec![
            faulty("vvsw", VVSW_OUTAGE, "lost pod networking"),
            faulty("qz3m", KILL_TROUBLE, "pods fail to stop"),
            faulty("vvsm", KILL_TROUBLE, "pods fail to stop"),
        ],
        cluster_incidents: vec![Incident {
            from: LEAK_FROM,
            to: FIX,
            kind: "hub overload: ~7000 idle threads, CPU above 0.7 cores, launches time out"
                .to_string(),
        }],
        never_cordon: "all-healthy".to_string(),
    }
}

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let rng = Rng::new(SEED);
    let mut cluster = Cluster::new(SEED);
    add_nodes(&mut cluster, &rng);
    let infra = add_infra(&mut cluster);
    let mut events = EventRecorder::new(SEED);
    node_joins(&cluster, &mut events);
    users::simulate(&mut cluster, &mut events, &rng.child("users"));
    incidents::record(&mut cluster, &mut events, &infra, &rng.child("incidents"));
    let grid = Grid::new(START, END, Duration::mins(1));
    let per_node_users = cluster.counts(&grid, is_user);
    let metrics = metrics::record(
        &cluster,
        &infra,
        &per_node_users,
        &grid,
        &rng.child("metrics"),
    );
    let meta = Meta {
        name: NAME.to_string(),
        description: DESCRIPTION.to_string(),
        start: START,
        end: END,
        step: Duration::secs(30),
        maintenance_windows: Vec::new(),
        truth: truth(),
    };
    Scenario {
        meta,
        nodes: cluster.node_objects(),
        pods: cluster.pod_objects(),
        events: events.finish(),
        metrics,
        node_changes: Vec::new(),
    }
}
