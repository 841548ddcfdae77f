//! `crashloop-runtime`: a bad release and a dead runtime at once. At 08:40
//! a new version of the `logging/fluent-bit` DaemonSet rolls out to every
//! node within minutes and crashes on start everywhere: every node's
//! kubelet reports `BackOff` "Back-off restarting failed container fluent-bit in pod …"
//! until the release is rolled back at 11:00. That is the release's
//! trouble, not any node's. At 09:20, amid the storm, containerd dies on
//! one node: the kubelet's exec probes error with `rpc error: code =
//! Unavailable … containerd.sock: connect: connection refused`, new pods
//! get no sandbox (`FailedCreatePodSandBox`), PLEG stops relisting
//! (`PLEG is not healthy: pleg was last seen active 3m0s ago; threshold
//! is 3m0s`) and cAdvisor's container series go stale — but the node
//! stays Ready until 09:54.
//!
//! What an SRE calls right: a cluster (release) alert for the crash loop,
//! no node alerted or cordoned for it; the runtime's node found within
//! minutes of containerd dying, not when it finally goes NotReady (it may
//! be cordoned under the shipped rules).

use super::{at, small_world, World, END};
use crate::scenario::gen::{EventType, Involved};
use crate::scenario::rng::Rng;
use crate::scenario::{FaultyNode, Incident, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "crashloop-runtime";
/// One-line description.
pub const DESCRIPTION: &str = "A DaemonSet release crash-loops on all 12 nodes 08:40-11:00 while containerd dies on one node at 09:20 (NotReady only at 09:54)";
const SEED: u64 = 0xc7a5_410f;
/// The node whose container runtime dies (index).
pub const NODE: usize = 9;
/// When the runtime dies.
const DIES: (i64, i64) = (9, 20);
/// When the node finally goes NotReady (34 minutes later).
const NOT_READY: (i64, i64) = (9, 54);
/// The release rolls out and is rolled back.
const ROLLOUT: (i64, i64) = (8, 40);
const ROLLBACK: (i64, i64) = (11, 0);

const SOCK_REFUSED: &str = "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: connection refused\"";

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let mut r = w.rng.child("crashloop");
    crash_loop_release(
        &mut w,
        at(ROLLOUT.0, ROLLOUT.1),
        at(ROLLBACK.0, ROLLBACK.1),
        &mut r,
    );
    let dies = at(DIES.0, DIES.1);
    runtime_dies(&mut w, NODE, dies, at(NOT_READY.0, NOT_READY.1), &mut r);
    let node = w.cluster.nodes[NODE].name.clone();
    let truth = super::truth(
        vec![FaultyNode {
            node: node.clone(),
            from: dies,
            to: END,
            kind: "containerd died (NotReady only 34 min later)".to_string(),
        }],
        vec![Incident {
            from: at(ROLLOUT.0, ROLLOUT.1),
            to: at(ROLLBACK.0, ROLLBACK.1),
            kind: "workload: a DaemonSet release crash-loops on every node".to_string(),
        }],
    );
    let mut s = w.finish(truth);
    // cAdvisor cannot list containers without the runtime: the node's
    // container series stop (node-exporter and the kubelet carry on).
    for fam in s
        .metrics
        .iter_mut()
        .filter(|f| f.name == "container_threads")
    {
        for series in &mut fam.series {
            if series.labels.iter().any(|(k, v)| k == "node" && *v == node) {
                series
                    .samples
                    .retain(|&(t, _)| t < dies.add(Duration::secs(40)).0);
            }
        }
    }
    s
}

/// The DaemonSet's new version rolls out to every node from `from` (each
/// old pod replaced by a new one that crashes on start) and is rolled
/// back at `to`.
fn crash_loop_release(w: &mut World, from: Timestamp, to: Timestamp, r: &mut Rng) {
    let mut t = from;
    for n in 0..w.cluster.nodes.len() {
        let node = w.cluster.nodes[n].name.clone();
        let created = w.cluster.nodes[n].created.add(Duration::secs(40));
        let old = w.cluster.generate_name("fluent-bit-", &format!("old/{n}"));
        let i = w.add_pod("logging", &old, "fluent-bit", &node, created, "DaemonSet");
        w.cluster.pods[i].deleted = Some(t);
        let new = w.cluster.generate_name("fluent-bit-", &format!("new/{n}"));
        let j = w.add_pod(
            "logging",
            &new,
            "fluent-bit",
            &node,
            t.add(Duration::secs(3)),
            "DaemonSet",
        );
        w.cluster.pods[j].deleted = Some(to.add(Duration::secs(r.range(0, 30))));
        w.pod_state[j].crash_loop_from = Some(t.add(Duration::secs(40)));
        let p = w.cluster.pods[j].clone();
        let image = "Container image \"cr.fluentbit.io/fluent/fluent-bit:3.1.5\" already present on machine";
        w.events.kubelet(
            t.add(Duration::secs(4)),
            &p,
            EventType::Normal,
            "Pulled",
            image,
        );
        w.events.kubelet(
            t.add(Duration::secs(5)),
            &p,
            EventType::Normal,
            "Created",
            "Created container fluent-bit",
        );
        w.events.kubelet(
            t.add(Duration::secs(5)),
            &p,
            EventType::Normal,
            "Started",
            "Started container fluent-bit",
        );
        let msg = format!(
            "Back-off restarting failed container fluent-bit in pod {}_{}({})",
            p.name, p.namespace, p.uid
        );
        w.events.kubelet_repeat(
            r,
            &p,
            t.add(Duration::secs(20)),
            to,
            (10_000, 40_000),
            EventType::Warning,
            "BackOff",
            &msg,
        );
        let back = w.cluster.generate_name("fluent-bit-", &format!("back/{n}"));
        let again = to.add(Duration::secs(r.range(0, 60)));
        w.add_pod("logging", &back, "fluent-bit", &node, again, "DaemonSet");
        // The chart rolls log shippers with `maxUnavailable: 100%`: the
        // controller replaces every node's pod at once, and the kubelets
        // pick the change up within seconds of each other.
        t = t.add(Duration::secs(r.range(5, 20)));
    }
}

/// containerd dies on node `n` at `dies`; the node goes NotReady at
/// `not_ready` and stays so.
fn runtime_dies(w: &mut World, n: usize, dies: Timestamp, not_ready: Timestamp, r: &mut Rng) {
    let info = w.cluster.nodes[n].clone();
    let name = info.name.clone();
    let end = w.end;
    // Exec probes need the runtime; HTTP probes of running containers
    // (the shims live on) still pass.
    for p in w.probed_on(&name, dies) {
        if p.container == "nginx" {
            continue;
        }
        let msg = format!("Liveness probe errored: {SOCK_REFUSED}");
        let start = dies.add(Duration::secs(r.range(2, 12)));
        w.events.kubelet_repeat(
            r,
            &p,
            start,
            end,
            (10_000, 30_000),
            EventType::Warning,
            "Unhealthy",
            &msg,
        );
    }
    let node = Involved::node(&info);
    let pleg = "PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s";
    let mut t = dies.add(Duration::mins(3));
    while t < end {
        w.events.record(
            t,
            node.clone(),
            "kubelet",
            &name,
            EventType::Warning,
            "ContainerRuntimeUnhealthy",
            pleg,
        );
        t = t.add(Duration::secs(r.range(60, 180)));
    }
    // Pods the scheduler keeps placing there (it is still Ready) get no
    // sandbox.
    let hash = w.cluster.template_hash("report");
    let mut t = dies.add(Duration::secs(r.range(30, 150)));
    let mut k = 0;
    while t < not_ready {
        let pod = w
            .cluster
            .generate_name(&format!("report-{hash}-"), &format!("{name}/{k}"));
        let i = w.add_pod("shop", &pod, "report", &name, t, "ReplicaSet");
        w.pod_state[i].pending_until = Some(end);
        let p = w.cluster.pods[i].clone();
        let msg = format!("Failed to create pod sandbox: {SOCK_REFUSED}");
        w.events.kubelet_repeat(
            r,
            &p,
            t.add(Duration::secs(2)),
            end,
            (30_000, 90_000),
            EventType::Warning,
            "FailedCreatePodSandBox",
            &msg,
        );
        t = t.add(Duration::secs(r.range(120, 420)));
        k += 1;
    }
    let mut ready = std::mem::take(&mut w.stories[n].ready);
    w.span(&mut ready, not_ready, end.add(Duration::mins(1)), false);
    w.stories[n].ready = ready;
    let down = format!("Node {name} status is now: NodeNotReady");
    w.events.record(
        not_ready,
        node.clone(),
        "node-controller",
        "",
        EventType::Normal,
        "NodeNotReady",
        &down,
    );
    w.events.record(
        not_ready.add(Duration::secs(1)),
        node,
        "kubelet",
        &name,
        EventType::Normal,
        "NodeNotReady",
        &down,
    );
}
