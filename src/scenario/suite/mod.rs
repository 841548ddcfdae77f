//! The scenario suite: seeded, deterministic generators of the situations
//! nodewatch must get right, each in the scenario format with its `truth`.
//! Built on the [`super::gen`] toolkit: [`world`] is the ordinary cluster,
//! [`story`] the incidents and [`rollout`] a benign rolling update,
//! `record` the exporters' series and `kube_state` kube-state-metrics' pod
//! series (which only the kube-prometheus comparison reads).
//!
//! | scenario | what happens | expected |
//! | --- | --- | --- |
//! | `thread-leak` | one node's worker leaks threads toward threads-max | node alert |
//! | `network-loss` | one node loses pod networking under normal load | node alert (and cordon) |
//! | `cluster-overload` | a shared dependency fails every node's probes | cluster alert, no cordon |
//! | `rolling-deploy` | two Deployments roll: brief readiness failures everywhere | nothing |
//! | `flapping-node` | one node's Ready condition flaps | node alert |
//! | `metrics-gone` | Prometheus loses three healthy nodes' targets | no alert, no cordon, reported unknown |
//! | `kernel-deadlock` | node-problem-detector reports `KernelDeadlock` on one node | node alert (and cordon) |
//! | `kubelet-restart` | two nodes restart their kubelet (one short NotReady each) | nothing |
//! | `maintenance-window` | a node deadlocks inside the scenario's maintenance window | node alert at once, cordon when the window ends |
//! | `autoscaler-scale-down` | the autoscaler removes 3 nodes; another node loses networking | only that node alerted (and cordoned) |
//! | `spot-preemption` | two spot nodes preempted (GKE, AWS handler); a third leaks threads | only that node alerted |
//! | `upgrade-in-progress` | a pool upgraded node by node; a node of another pool loses networking | only that node alerted (and cordoned) |
//! | `nodes-joining` | four nodes join with start-up noise; one is sick from its start | that one alerted after its warm-up |
//! | `large-cluster` | 500 nodes, diurnal load, autoscaling, three sick nodes | three node alerts |
//! | `hub-renamed` | a hub named `jupyterhub-…` (container `jupyterhub`) overloads; a `hub-…` beside it is fine | a workload alert on that hub, no node alert, no cordon |
//! | `runaway-hub` | the hub pod runs away (threads, CPU, its own probe timeouts); its node is fine | hub workload alerts, no node alert, no cordon |
//! | `crashloop-runtime` | a DaemonSet release crash-loops on every node; containerd dies on one node (NotReady 34 min later) | cluster alert for the release; only that node alerted, within minutes |
//! | `autoscaler-and-kubelet` | three nodes join (start-up noise) while three others restart their kubelet | nothing |
//! | `gray-node` | 48 nodes with background probe failures; one fails 9% of its probes | that node alerted |
//! | `zone-outage` | a 4-node zone (of 24 nodes) loses pod networking at once | one cluster alert naming the zone, no node alert, no cordon |
//! | `slow-leak-diurnal` | 300 nodes, daily load curve; one worker leaks 45 threads/min | that node alerted before exhaustion |

pub mod autoscaler_and_kubelet;
pub mod autoscaler_scale_down;
mod background;
pub mod cluster_overload;
pub mod crashloop_runtime;
mod disrupt;
pub mod flapping_node;
pub mod gray_node;
pub mod hub_renamed;
pub mod kernel_deadlock;
mod kube_state;
pub mod kubelet_restart;
pub mod large_cluster;
pub mod maintenance_window;
pub mod metrics_gone;
pub mod network_loss;
pub mod nodes_joining;
mod npd;
mod record;
pub mod rolling_deploy;
pub mod rollout;
pub mod runaway_hub;
pub mod slow_leak_diurnal;
pub mod spot_preemption;
pub mod story;
pub mod thread_leak;
pub mod upgrade_in_progress;
pub mod world;
pub mod zone_outage;

use super::gen::utc;
use super::{FaultyNode, Incident, Scenario, Truth};
use crate::time::{Duration, Timestamp};
pub use world::World;

/// A scenario generator.
pub type Generator = fn() -> Scenario;

/// Every suite scenario: `(name, description, generator)`.
pub const SCENARIOS: [(&str, &str, Generator); 21] = [
    (
        thread_leak::NAME,
        thread_leak::DESCRIPTION,
        thread_leak::generate,
    ),
    (
        network_loss::NAME,
        network_loss::DESCRIPTION,
        network_loss::generate,
    ),
    (
        cluster_overload::NAME,
        cluster_overload::DESCRIPTION,
        cluster_overload::generate,
    ),
    (
        rolling_deploy::NAME,
        rolling_deploy::DESCRIPTION,
        rolling_deploy::generate,
    ),
    (
        flapping_node::NAME,
        flapping_node::DESCRIPTION,
        flapping_node::generate,
    ),
    (
        metrics_gone::NAME,
        metrics_gone::DESCRIPTION,
        metrics_gone::generate,
    ),
    (
        kernel_deadlock::NAME,
        kernel_deadlock::DESCRIPTION,
        kernel_deadlock::generate,
    ),
    (
        kubelet_restart::NAME,
        kubelet_restart::DESCRIPTION,
        kubelet_restart::generate,
    ),
    (
        maintenance_window::NAME,
        maintenance_window::DESCRIPTION,
        maintenance_window::generate,
    ),
    (
        autoscaler_scale_down::NAME,
        autoscaler_scale_down::DESCRIPTION,
        autoscaler_scale_down::generate,
    ),
    (
        spot_preemption::NAME,
        spot_preemption::DESCRIPTION,
        spot_preemption::generate,
    ),
    (
        upgrade_in_progress::NAME,
        upgrade_in_progress::DESCRIPTION,
        upgrade_in_progress::generate,
    ),
    (
        nodes_joining::NAME,
        nodes_joining::DESCRIPTION,
        nodes_joining::generate,
    ),
    (
        large_cluster::NAME,
        large_cluster::DESCRIPTION,
        large_cluster::generate,
    ),
    (
        hub_renamed::NAME,
        hub_renamed::DESCRIPTION,
        hub_renamed::generate,
    ),
    (
        runaway_hub::NAME,
        runaway_hub::DESCRIPTION,
        runaway_hub::generate,
    ),
    (
        crashloop_runtime::NAME,
        crashloop_runtime::DESCRIPTION,
        crashloop_runtime::generate,
    ),
    (
        autoscaler_and_kubelet::NAME,
        autoscaler_and_kubelet::DESCRIPTION,
        autoscaler_and_kubelet::generate,
    ),
    (gray_node::NAME, gray_node::DESCRIPTION, gray_node::generate),
    (
        zone_outage::NAME,
        zone_outage::DESCRIPTION,
        zone_outage::generate,
    ),
    (
        slow_leak_diurnal::NAME,
        slow_leak_diurnal::DESCRIPTION,
        slow_leak_diurnal::generate,
    ),
];

/// The day every suite scenario happens on (a Tuesday), at `h:m` UTC.
pub const fn at(h: i64, m: i64) -> Timestamp {
    utc(2024, 3, 5, h, m)
}

/// First evaluation time of the small scenarios.
pub const START: Timestamp = at(6, 0);
/// Last evaluation time of the small scenarios.
pub const END: Timestamp = at(12, 0);

/// A world of `nodes` nodes that have been up for days, from [`START`] to
/// [`END`]; nodes are numbered from 0 in `cluster.nodes`.
pub fn small_world(
    name: &'static str,
    description: &'static str,
    seed: u64,
    nodes: usize,
) -> World {
    let mut w = World::new(name, description, seed, START, END);
    for i in 0..nodes {
        w.add_node(i, START.sub(Duration::mins(60 * 24 * 3 + 17 * i as i64)));
    }
    w
}

/// A scenario's truth; every node not faulty in a window must never be
/// cordoned (`all-healthy`).
pub fn truth(faulty_nodes: Vec<FaultyNode>, cluster_incidents: Vec<Incident>) -> Truth {
    Truth {
        faulty_nodes,
        cluster_incidents,
        never_cordon: "all-healthy".to_string(),
    }
}
