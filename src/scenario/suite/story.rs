//! The incidents suite scenarios are made of, each written into a
//! [`World`]'s stories (so the metrics follow) and events (shaped like what
//! the kubelet and the node controller really report).

use super::world::World;
use crate::scenario::gen::{EventType, Involved, PodInfo};
use crate::scenario::rng::Rng;
use crate::time::{Duration, Timestamp};

use EventType::{Normal, Warning};

/// The URL a pod's readiness probe asks.
fn probe_url(p: &PodInfo) -> String {
    let path = super::world::APPS
        .iter()
        .find(|a| a.1 == p.container)
        .map_or("/", |a| a.3);
    format!("http://{}:8080{path}", p.ip)
}

/// "Readiness probe failed: … Client.Timeout exceeded …".
pub fn probe_timeout(p: &PodInfo) -> String {
    format!(
        "Readiness probe failed: Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        probe_url(p)
    )
}

/// "Readiness probe failed: … connection refused" (not listening yet).
pub fn probe_refused(p: &PodInfo) -> String {
    format!(
        "Readiness probe failed: Get \"{}\": dial tcp {}:8080: connect: connection refused",
        probe_url(p),
        p.ip
    )
}

fn probe_io_timeout(p: &PodInfo) -> String {
    format!(
        "Readiness probe failed: Get \"{}\": dial tcp {}:8080: i/o timeout",
        probe_url(p),
        p.ip
    )
}

/// The node with index `n` loses pod networking in `[from, to)`: every
/// readiness probe on it times out, new sandboxes cannot be set up, the
/// runtime says the network is not ready. Pods keep being created on it
/// (ordinary churn), which is what produces the sandbox errors.
pub fn network_down(w: &mut World, n: usize, from: Timestamp, to: Timestamp, r: &mut Rng) {
    let node = w.cluster.nodes[n].name.clone();
    let mut probe_fail = std::mem::take(&mut w.stories[n].probe_fail);
    w.span(&mut probe_fail, from, to, 1.0);
    w.stories[n].probe_fail = probe_fail;
    for p in w.probed_on(&node, from) {
        let start = from.add(Duration::secs(r.range(5, 40)));
        let msg = probe_io_timeout(&p);
        w.events.kubelet_repeat(
            r,
            &p,
            start,
            to,
            (9_500, 10_500),
            Warning,
            "Unhealthy",
            &msg,
        );
    }
    // Replicas the autoscaler adds onto the node during the outage never
    // start: Pending until the network is back.
    let hash = w.cluster.template_hash("web");
    let mut t = from.add(Duration::secs(r.range(30, 120)));
    let mut k = 0;
    while t < to {
        let name = w
            .cluster
            .generate_name(&format!("web-{hash}-"), &format!("{node}/{k}"));
        let i = w.add_pod("shop", &name, "nginx", &node, t, "ReplicaSet");
        w.pod_state[i].pending_until = Some(to.add(Duration::secs(r.range(20, 90))));
        w.cluster.pods[i]
            .labels
            .insert("app".to_string(), "web".to_string());
        let p = w.cluster.pods[i].clone();
        let sandbox = r.hex(64);
        let msg = format!(
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \
             \"{sandbox}\": plugin type=\"bridge\" failed (add): failed to allocate for range 0: no IP addresses available in range set"
        );
        w.events.kubelet_repeat(
            r,
            &p,
            t.add(Duration::secs(2)),
            to,
            (40_000, 90_000),
            Warning,
            "FailedCreatePodSandBox",
            &msg,
        );
        let nr = "network is not ready: container runtime network not ready: NetworkReady=false \
                  reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";
        w.events.kubelet_repeat(
            r,
            &p,
            t,
            to,
            (20_000, 40_000),
            Warning,
            "NetworkNotReady",
            nr,
        );
        t = t.add(Duration::secs(r.range(60, 240)));
        k += 1;
    }
}

/// Every readiness probe on every node fails with probability `p_fail` in
/// `[from, to)`: a dependency all pods' readiness checks share is down.
pub fn shared_dependency_down(
    w: &mut World,
    from: Timestamp,
    to: Timestamp,
    p_fail: f64,
    r: &mut Rng,
) {
    for n in 0..w.stories.len() {
        let mut v = std::mem::take(&mut w.stories[n].probe_fail);
        w.span(&mut v, from, to, p_fail);
        w.stories[n].probe_fail = v;
        let node = w.cluster.nodes[n].name.clone();
        for p in w.probed_on(&node, from) {
            let msg = probe_timeout(&p);
            let start = from.add(Duration::secs(r.range(0, 60)));
            // Failing every other probe or so: a kubelet event every ~20 s.
            w.events.kubelet_repeat(
                r,
                &p,
                start,
                to,
                (15_000, 25_000),
                Warning,
                "Unhealthy",
                &msg,
            );
        }
    }
}

/// The node's Ready condition flaps in `[from, to)`: NotReady for 40–100 s
/// every 3–6 minutes (a kubelet whose PLEG keeps timing out), with the
/// node controller's and the kubelet's events at each transition.
pub fn flapping(w: &mut World, n: usize, from: Timestamp, to: Timestamp, r: &mut Rng) {
    let info = w.cluster.nodes[n].clone();
    let node = Involved::node(&info);
    let mut ready = std::mem::take(&mut w.stories[n].ready);
    let mut t = from;
    while t < to {
        let back = t.add(Duration::secs(r.range(40, 100))).min(to);
        w.span(&mut ready, t, back, false);
        let down = format!("Node {} status is now: NodeNotReady", info.name);
        w.events.record(
            t,
            node.clone(),
            "node-controller",
            "",
            Normal,
            "NodeNotReady",
            &down,
        );
        let msg = "PLEG is not healthy: pleg was last seen active 3m5.30s ago; threshold is 3m0s";
        w.events.record(
            t.add(Duration::secs(1)),
            node.clone(),
            "kubelet",
            &info.name,
            Warning,
            "ContainerRuntimeUnhealthy",
            msg,
        );
        let up = format!("Node {} status is now: NodeReady", info.name);
        w.events.record(
            back,
            node.clone(),
            "kubelet",
            &info.name,
            Normal,
            "NodeReady",
            &up,
        );
        t = back.add(Duration::secs(r.range(150, 300)));
    }
    w.stories[n].ready = ready;
}

/// Threads of one container on node `n` leak from `from` at `per_min`
/// threads a minute; once the node nears threads-max, new processes and
/// threads fail and the kubelet reports it.
pub fn thread_leak(w: &mut World, n: usize, from: Timestamp, per_min: f64, r: &mut Rng) {
    let node = w.cluster.nodes[n].name.clone();
    let Some(leaker) = w
        .probed_on(&node, from)
        .into_iter()
        .find(|p| p.container == "worker")
    else {
        return;
    };
    let li = w.cluster.pods.iter().position(|p| p.uid == leaker.uid);
    w.stories[n].leaking_pod = li;
    let limit = super::world::THREADS_MAX - 1_500.0;
    let mut exhausted = None;
    for (i, t) in w.grid.points().enumerate() {
        if t < from {
            continue;
        }
        let minutes = t.since(from).as_secs_f64() / 60.0;
        let extra = (per_min * minutes).min(limit);
        w.stories[n].extra_threads[i] = extra;
        if extra >= limit * 0.97 && exhausted.is_none() {
            exhausted = Some(t);
        }
    }
    let Some(at) = exhausted else { return };
    for p in w.probed_on(&node, at) {
        if let Some(i) = w.cluster.pods.iter().position(|x| x.uid == p.uid) {
            // Restarted a few times, then backing off.
            w.pod_state[i].crash_loop_from = Some(at.add(Duration::mins(3)));
        }
        let msg = format!(
            "Error: failed to start container \"{}\": Error response from daemon: failed to create shim task: \
             OCI runtime create failed: runc create failed: unable to start container process: \
             fork/exec /usr/bin/runc: resource temporarily unavailable",
            p.container
        );
        let start = at.add(Duration::secs(r.range(0, 60)));
        w.events.kubelet_repeat(
            r,
            &p,
            start,
            w.end,
            (60_000, 120_000),
            Warning,
            "Failed",
            &msg,
        );
    }
    let msg = "runtime: failed to create new OS thread (have 12 already; errno=11)\nruntime: may need to increase max user processes (ulimit -u)\npthread_create failed: Resource temporarily unavailable";
    w.events.kubelet_repeat(
        r,
        &leaker,
        at,
        w.end,
        (30_000, 60_000),
        Warning,
        "BackOff",
        msg,
    );
}

/// Batch pods on node `n` finishing in `[from, to)` will not be killed:
/// the runtime cannot tear down their sandboxes.
pub fn pods_fail_to_stop(w: &mut World, n: usize, from: Timestamp, to: Timestamp, r: &mut Rng) {
    let node = w.cluster.nodes[n].name.clone();
    for k in 0..12 {
        let created = from.sub(Duration::mins(r.range(20, 90)));
        let name = w.cluster.generate_name("etl-", &format!("{node}/{k}"));
        let i = w.add_pod("batch", &name, "etl", &node, created, "Job");
        let start = from.add(Duration::secs(r.range(0, 900)));
        let end = to.sub(Duration::secs(r.range(0, 300)));
        w.cluster.pods[i].deleted = Some(end.add(Duration::secs(r.range(30, 90))));
        let p = w.cluster.pods[i].clone();
        w.events
            .kubelet(start, &p, Normal, "Killing", "Stopping container etl");
        let msg = format!(
            "error killing pod: failed to \"KillPodSandbox\" for \"{}\" with KillPodSandboxError: \"rpc error: code = \
             Unknown desc = failed to destroy network for sandbox: plugin type=\\\"bridge\\\" failed (delete): \
             failed to get IP addresses for \\\"eth0\\\"\"",
            p.uid
        );
        w.events.kubelet_repeat(
            r,
            &p,
            start.add(Duration::secs(30)),
            end,
            (60_000, 120_000),
            Warning,
            "FailedKillPod",
            &msg,
        );
    }
}
