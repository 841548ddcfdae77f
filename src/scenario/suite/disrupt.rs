//! Expected disruption, told the way the cluster tells it: node changes
//! in `nodes.jsonl` (taints, cordons, a new kubelet version, deletion),
//! pods evicted and replaced elsewhere with the usual start-up events,
//! and a node that shuts down going NotReady and dark before its object
//! is deleted. Used by `autoscaler-scale-down`, `spot-preemption`,
//! `upgrade-in-progress` and `nodes-joining`.

use super::story::probe_refused;
use super::world::World;
use crate::k8s;
use crate::scenario::gen::{EventType, Involved};
use crate::scenario::rng::Rng;
use crate::scenario::NodeChange;
use crate::time::{Duration, Timestamp};

use EventType::{Normal, Warning};

/// Node `n` as its last change (or `nodes.json`) left it.
fn current(w: &World, n: usize) -> k8s::Node {
    let name = &w.cluster.nodes[n].name;
    w.node_changes
        .iter()
        .rev()
        .find(|c| &c.object.metadata.name == name)
        .map(|c| c.object.clone())
        .unwrap_or_else(|| w.cluster.node_objects().swap_remove(n))
}

/// Records a `MODIFIED` (or `DELETED`) of node `n` at `at`, made by `f`.
/// Changes must be made in time order.
pub fn change(w: &mut World, n: usize, at: Timestamp, kind: &str, f: impl FnOnce(&mut k8s::Node)) {
    let mut object = current(w, n);
    f(&mut object);
    w.node_changes.push(NodeChange {
        at,
        kind: kind.to_string(),
        object,
    });
    w.node_changes.sort_by_key(|c| c.at);
}

/// Adds taint `key=value:effect` to node `n` at `at`.
pub fn taint(w: &mut World, n: usize, at: Timestamp, key: &str, value: &str, effect: &str) {
    change(w, n, at, "MODIFIED", |node| {
        node.spec.taints.push(k8s::Taint {
            key: key.to_string(),
            value: value.to_string(),
            effect: effect.to_string(),
            time_added: None,
        });
    });
}

/// `kubectl cordon`: unschedulable, and the node lifecycle controller's
/// `node.kubernetes.io/unschedulable` taint with it (`uncordon`: both off).
pub fn cordon(w: &mut World, n: usize, at: Timestamp, on: bool) {
    const KEY: &str = "node.kubernetes.io/unschedulable";
    change(w, n, at, "MODIFIED", |node| {
        node.spec.unschedulable = on;
        node.spec.taints.retain(|t| t.key != KEY);
        if on {
            node.spec.taints.push(k8s::Taint {
                key: KEY.to_string(),
                effect: "NoSchedule".to_string(),
                ..Default::default()
            });
        }
    });
    let info = w.cluster.nodes[n].clone();
    let (reason, status) = if on {
        ("NodeNotSchedulable", "NodeNotSchedulable")
    } else {
        ("NodeSchedulable", "NodeSchedulable")
    };
    let msg = format!("Node {} status is now: {status}", info.name);
    w.events.record(
        at,
        Involved::node(&info),
        "kubelet",
        &info.name,
        Normal,
        reason,
        &msg,
    );
}

/// The node shuts down at `off` (NotReady, targets gone: the node
/// controller says so) and its object is deleted at `gone`.
pub fn shut_down(w: &mut World, n: usize, off: Timestamp, gone: Timestamp) {
    let (mut ready, mut scraped) = (
        std::mem::take(&mut w.stories[n].ready),
        std::mem::take(&mut w.stories[n].scraped),
    );
    w.span(&mut ready, off, w.end.add(Duration::mins(1)), false);
    w.span(&mut scraped, off, w.end.add(Duration::mins(1)), false);
    (w.stories[n].ready, w.stories[n].scraped) = (ready, scraped);
    let info = w.cluster.nodes[n].clone();
    let msg = format!("Node {} status is now: NodeNotReady", info.name);
    let at = off.add(Duration::secs(40));
    w.events.record(
        at,
        Involved::node(&info),
        "node-controller",
        "",
        Normal,
        "NodeNotReady",
        &msg,
    );
    change(w, n, gone, "DELETED", |_| {});
    w.cluster.nodes[n].deleted = Some(gone);
    for i in w.cluster.alive_on(&info.name, gone, |_| true) {
        w.cluster.pods[i].deleted = Some(gone);
    }
}

/// Evicts node `n`'s application pods from `at` (the eviction announced
/// by `announce`: component, reason, message) and starts a replacement of
/// each on `onto`, with the usual scheduling, image pull and a readiness
/// probe refused for 20–45 s while it warms up. DaemonSet pods stay.
pub fn evict(
    w: &mut World,
    n: usize,
    onto: &[usize],
    at: Timestamp,
    announce: Option<(&'static str, &str, &str)>,
    r: &mut Rng,
) {
    let node = w.cluster.nodes[n].name.clone();
    let victims: Vec<usize> = w
        .probed
        .iter()
        .copied()
        .filter(|&i| w.cluster.pods[i].node == node && w.cluster.pods[i].alive(at))
        .collect();
    for (k, &i) in victims.iter().enumerate() {
        let prev = w.cluster.pods[i].clone();
        let t = at.add(Duration(r.range(500, 8_000)));
        if let Some((component, reason, msg)) = announce {
            w.events
                .record(t, Involved::pod(&prev), component, "", Normal, reason, msg);
        }
        let stop = format!("Stopping container {}", prev.container);
        w.events
            .kubelet(t.add(Duration(300)), &prev, Normal, "Killing", &stop);
        w.cluster.pods[i].deleted = Some(t.add(Duration::secs(r.range(2, 20))));
        let target = onto[k % onto.len().max(1)];
        let to = w.cluster.nodes[target].name.clone();
        let app = prev.labels.get("app").cloned().unwrap_or_default();
        let hash = w.cluster.template_hash(&app);
        let name = w
            .cluster
            .generate_name(&format!("{app}-{hash}-"), &format!("evicted/{}", prev.name));
        let created = t.add(Duration(r.range(200, 1_500)));
        let ni = w.add_pod(
            &prev.namespace,
            &name,
            &prev.container,
            &to,
            created,
            "ReplicaSet",
        );
        w.cluster.pods[ni].labels = prev.labels.clone();
        w.probed.push(ni);
        start_pod(w, ni, created, &CURRENT_IMAGE, r);
    }
}

/// The image a replacement pod pulls: the shop's current release, pulled
/// in 2–9 s (a rollout's new version is pulled by every node at once).
pub const CURRENT_IMAGE: Image<'static> = Image {
    repo: None,
    version: "v2.4.0",
    pull_ms: (2_000, 9_000),
};

/// Which image a starting pod pulls, and how long the pull takes (ms).
pub struct Image<'a> {
    /// The image's repository under the shop's registry; `None`: the
    /// container's name.
    pub repo: Option<&'a str>,
    /// The tag, e.g. `v2.4.0`.
    pub version: &'static str,
    /// The pull's duration in milliseconds, drawn uniformly in this range.
    pub pull_ms: (i64, i64),
}

/// A fresh pod's start-up as the scheduler and kubelet report it; its
/// readiness probe is refused for 20–45 s after the container starts.
/// Returns when it becomes ready.
pub fn start_pod(
    w: &mut World,
    i: usize,
    created: Timestamp,
    image: &Image<'_>,
    r: &mut Rng,
) -> Timestamp {
    let p = w.cluster.pods[i].clone();
    let msg = format!(
        "Successfully assigned {}/{} to {}",
        p.namespace, p.name, p.node
    );
    w.events.record(
        created,
        Involved::pod(&p),
        "default-scheduler",
        "",
        Normal,
        "Scheduled",
        &msg,
    );
    let repo = image.repo.unwrap_or(&p.container);
    let image_ref = format!("europe-docker.pkg.dev/shop/{repo}:{}", image.version);
    let mut s = created.add(Duration(r.range(500, 2_000)));
    let pulling = format!("Pulling image \"{image_ref}\"");
    w.events.kubelet(s, &p, Normal, "Pulling", &pulling);
    s = s.add(Duration(r.range(image.pull_ms.0, image.pull_ms.1)));
    let pulled = format!("Successfully pulled image \"{image_ref}\"");
    w.events.kubelet(s, &p, Normal, "Pulled", &pulled);
    let created_msg = format!("Created container {}", p.container);
    w.events
        .kubelet(s.add(Duration(300)), &p, Normal, "Created", &created_msg);
    let started = format!("Started container {}", p.container);
    w.events
        .kubelet(s.add(Duration(900)), &p, Normal, "Started", &started);
    let ready_at = s.add(Duration(r.range(20_000, 45_000)));
    w.pod_state[i].unready.push((s, ready_at));
    let refused = probe_refused(&p);
    let from = s.add(Duration::secs(5));
    w.events.kubelet_repeat(
        r,
        &p,
        from,
        ready_at,
        (9_500, 10_500),
        Warning,
        "Unhealthy",
        &refused,
    );
    ready_at
}

/// The kubelet of node `n` starting (after a reboot or on a new node):
/// its start-up events from `at`, Ready at `at + 40 s`.
pub fn kubelet_start(w: &mut World, n: usize, at: Timestamp) {
    let info = w.cluster.nodes[n].clone();
    let name = info.name.as_str();
    for (dt, reason, msg) in [
        (0, "Starting", "Starting kubelet.".to_string()),
        (
            1,
            "NodeAllocatableEnforced",
            "Updated Node Allocatable limit across pods".to_string(),
        ),
        (
            2,
            "NodeHasSufficientMemory",
            format!("Node {name} status is now: NodeHasSufficientMemory"),
        ),
        (
            2,
            "NodeHasNoDiskPressure",
            format!("Node {name} status is now: NodeHasNoDiskPressure"),
        ),
        (
            2,
            "NodeHasSufficientPID",
            format!("Node {name} status is now: NodeHasSufficientPID"),
        ),
        (
            40,
            "NodeReady",
            format!("Node {name} status is now: NodeReady"),
        ),
    ] {
        let t = at.add(Duration::secs(dt));
        w.events.record(
            t,
            Involved::node(&info),
            "kubelet",
            name,
            Normal,
            reason,
            &msg,
        );
    }
}
