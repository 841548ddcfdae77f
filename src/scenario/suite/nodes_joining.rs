//! `nodes-joining`: the autoscaler adds four nodes to a 12-node cluster
//! (09:00, 09:05, 09:10, 10:00). Each new node is NotReady and its pods
//! cannot get a sandbox until the CNI plugin is up (2.5-3.5 min)
//! (`FailedCreatePodSandBox`, `NetworkNotReady`, `FailedSync`), pull
//! their images and fail their probes while they start. That is warm-up,
//! not sickness: no alert on them in their first 10 minutes. The node
//! added at 09:10 is really sick from its start (no pod networking for an
//! hour): it must be found once its warm-up is over, not before.

use super::{at, disrupt, small_world, story, World};
use crate::scenario::gen::EventType;
use crate::scenario::rng::Rng;
use crate::scenario::{FaultyNode, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "nodes-joining";
/// One-line description.
pub const DESCRIPTION: &str = "Four nodes join a 12-node cluster (09:00-10:00) with start-up noise; the one added at 09:10 has no pod networking for its first hour (found after warm-up)";
const SEED: u64 = 0x0001_0e77;
/// When the new nodes join (they get indices 12..16).
pub const JOINS: [(i64, i64); 4] = [(9, 0), (9, 5), (9, 10), (10, 0)];
/// The new node that is sick from its start (index).
pub const SICK: usize = 14;
/// How long it is sick.
const SICK_FOR: Duration = Duration::mins(60);

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let mut r = w.rng.child("join");
    for (k, (h, m)) in JOINS.into_iter().enumerate() {
        let t = at(h, m);
        let n = w.add_node(12 + k, t);
        join(&mut w, n, t, &mut r);
    }
    let from = w.cluster.nodes[SICK].created;
    let to = from.add(SICK_FOR);
    // From its first pods on (they come 40 s after the node).
    story::network_down(&mut w, SICK, from.add(Duration::mins(1)), to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[SICK].name.clone(),
            from,
            to,
            kind: "no pod networking from its start (expected found after the 10 min warm-up)"
                .to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}

/// A new node's first minutes: NotReady, kubelet start-up, and its pods
/// waiting for the network plugin, then starting.
pub(super) fn join(w: &mut World, n: usize, t: Timestamp, r: &mut Rng) {
    // Ready only once the CNI plugin is up (NetworkPluginNotReady till then).
    let cni = t.add(Duration::secs(r.range(150, 210)));
    let mut ready = std::mem::take(&mut w.stories[n].ready);
    w.span(&mut ready, t, cni, false);
    w.stories[n].ready = ready;
    disrupt::kubelet_start(w, n, t);
    let name = w.cluster.nodes[n].name.clone();
    let pods = w
        .cluster
        .alive_on(&name, t.add(Duration::mins(1)), |_| true);
    for i in pods {
        let p = w.cluster.pods[i].clone();
        let sandbox = "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox: plugin type=\"gke\" failed (add): cni plugin not initialized";
        let not_ready = "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";
        let from = p.created.add(Duration::secs(2));
        w.events.kubelet_repeat(
            r,
            &p,
            from,
            cni,
            (9_000, 16_000),
            EventType::Warning,
            "FailedCreatePodSandBox",
            sandbox,
        );
        w.events
            .kubelet(from, &p, EventType::Warning, "NetworkNotReady", not_ready);
        let sync = "Error syncing pod, skipping: network is not ready: container runtime network not ready";
        w.events.kubelet(
            from.add(Duration::secs(1)),
            &p,
            EventType::Warning,
            "FailedSync",
            sync,
        );
        if w.probed.contains(&i) {
            disrupt::start_pod(w, i, cni, &disrupt::CURRENT_IMAGE, r);
        }
    }
}
