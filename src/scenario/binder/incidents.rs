//! The Binder scenario's incident events, each shaped like what the kubelet
//! really reports (messages from the incident report where it quotes them):
//!
//! - 14:15–14:32 the grafana pod on `vvsw`: a pod problem, one pod only;
//! - four windows of readiness timeouts on every node at once (common cause);
//! - 17:00–17:40 `vvsw` loses pod networking: every pod on it fails;
//! - 17:18 the hub cannot start a new thread;
//! - Feb 21 15:00–16:00 pods fail to stop on `qz3m` and `vvsm` only.

use super::{
    is_user, node_name, Infra, Role, GRAFANA_RESTARTS, GRAFANA_TROUBLE, KILL_TROUBLE,
    READINESS_WINDOWS, THREAD_ERROR, VVSW_OUTAGE,
};
use crate::scenario::gen::{Cluster, EventRecorder, EventType, PodInfo};
use crate::scenario::rng::Rng;
use crate::time::{Duration, Timestamp};

use EventType::{Normal, Warning};

/// Records every incident event (and shortens the lives of pods that were
/// being deleted when they failed to stop).
pub(super) fn record(c: &mut Cluster, ev: &mut EventRecorder, infra: &Infra, rng: &Rng) {
    grafana(c, ev, infra, &mut rng.child("grafana"));
    for (w, &(from, to)) in READINESS_WINDOWS.iter().enumerate() {
        cluster_wide_timeouts(
            c,
            ev,
            infra,
            from,
            to,
            &mut rng.child(&format!("window/{w}")),
        );
    }
    vvsw_network(c, ev, &mut rng.child("vvsw"));
    let hub = c.pods[infra.first(Role::Hub)].clone();
    let t = THREAD_ERROR;
    ev.kubelet(
        t,
        &hub,
        Warning,
        "Failed",
        "Error: container \"hub\" exited: RuntimeError: can't start new thread",
    );
    let backoff = "Back-off restarting failed container hub: RuntimeError: can't start new thread";
    for s in [9, 31, 74] {
        ev.kubelet(t.add(Duration::secs(s)), &hub, Warning, "BackOff", backoff);
    }
    for node in ["qz3m", "vvsm"] {
        pods_fail_to_stop(
            c,
            ev,
            &node_name(node),
            &mut rng.child(&format!("kill/{node}")),
        );
    }
}

/// What a readiness probe of `p` talks to.
fn probe_url(p: &PodInfo) -> String {
    match p.container.as_str() {
        "grafana" => format!("http://{}:3000/login", p.ip),
        "notebook" => {
            let user = p.name.strip_prefix("jupyter-").unwrap_or(&p.name);
            format!("http://{}:8888/user/{user}/api", p.ip)
        }
        "hub" => format!("http://{}:8081/hub/health", p.ip),
        "chp" => format!("http://{}:8000/_chp_healthz", p.ip),
        "node-exporter" => format!("http://{}:9100/", p.ip),
        "prometheus-server" => format!("http://{}:9090/-/ready", p.ip),
        "kubedns" => format!("http://{}:8081/readiness", p.ip),
        _ => format!("http://{}:10254/healthz", p.ip),
    }
}

fn timeout_message(p: &PodInfo) -> String {
    format!(
        "Readiness probe failed: Get {}: net/http: request canceled (Client.Timeout exceeded while awaiting headers)",
        probe_url(p)
    )
}

/// `n` lowercase hex digits (container and sandbox ids).
fn container_id(r: &mut Rng) -> String {
    r.hex(64)
}

/// Grafana starved at 100Mi: probes refused, sandbox recreated, container
/// cannot join the network of its dead sandbox. One pod, one node.
fn grafana(c: &Cluster, ev: &mut EventRecorder, infra: &Infra, r: &mut Rng) {
    let g = c.pods[infra.first(Role::Grafana)].clone();
    let (from, to) = GRAFANA_TROUBLE;
    let refused = format!(
        "Readiness probe failed: Get http://{ip}:3000/login: dial tcp {ip}:3000: getsockopt: connection refused",
        ip = g.ip
    );
    ev.kubelet_repeat(
        r,
        &g,
        from,
        to,
        (9_500, 10_500),
        Warning,
        "Unhealthy",
        &refused,
    );
    let waiting = format!(
        "Readiness probe failed: Get {}: net/http: request canceled while waiting for connection \
         (Client.Timeout exceeded while awaiting headers)",
        probe_url(&g)
    );
    ev.kubelet_repeat(
        r,
        &g,
        from.add(Duration::mins(1)),
        from.add(Duration::mins(5)),
        (40_000, 80_000),
        Warning,
        "Unhealthy",
        &waiting,
    );
    ev.kubelet_repeat(
        r,
        &g,
        from.add(Duration::mins(2)),
        to,
        (30_000, 90_000),
        Warning,
        "FailedSync",
        "Error syncing pod",
    );
    let join = format!(
        "Error: failed to start container \"grafana\": Error response from daemon: cannot join network of a non \
         running container: {}",
        container_id(r)
    );
    let image = "grafana/grafana:4.6.3";
    for restart in GRAFANA_RESTARTS {
        let mut t = restart.sub(Duration::secs(r.range(20, 40)));
        ev.kubelet(t, &g, Warning, "Failed", &join);
        t = t.add(Duration::secs(r.range(3, 8)));
        ev.kubelet(
            t,
            &g,
            Normal,
            "SandboxChanged",
            "Pod sandbox changed, it will be killed and re-created.",
        );
        for (reason, msg) in [
            ("Pulling", format!("pulling image \"{image}\"")),
            ("Pulled", format!("Successfully pulled image \"{image}\"")),
            ("Created", "Created container".to_string()),
            ("Started", "Started container".to_string()),
        ] {
            t = t.add(Duration(r.range(1_000, 6_000)));
            ev.kubelet(t, &g, Normal, reason, &msg);
        }
    }
}

/// The hub times out everybody: proxy, binder and ingress probes fail and
/// a few user pods on *every* node report readiness timeouts.
fn cluster_wide_timeouts(
    c: &Cluster,
    ev: &mut EventRecorder,
    infra: &Infra,
    from: Timestamp,
    to: Timestamp,
    r: &mut Rng,
) {
    for &(role, i) in &infra.pods {
        if matches!(role, Role::Proxy | Role::Binder | Role::Ingress) {
            let p = c.pods[i].clone();
            let start = from.add(Duration::secs(r.range(0, 120)));
            ev.kubelet_repeat(
                r,
                &p,
                start,
                to,
                (10_000, 20_000),
                Warning,
                "Unhealthy",
                &timeout_message(&p),
            );
        }
    }
    for node in c.nodes_at(from) {
        let mut pods = c.alive_on(node, from, |p| {
            is_user(p) && p.alive(to.sub(Duration::mins(3)))
        });
        let k = r.range(3, 7) as usize;
        let mut picked = Vec::new();
        while picked.len() < k && !pods.is_empty() {
            let j = r.range(0, pods.len() as i64) as usize;
            picked.push(pods.swap_remove(j));
        }
        for i in picked {
            let p = c.pods[i].clone();
            let start = from.add(Duration::secs(r.range(0, 300)));
            let end = to.sub(Duration::secs(r.range(0, 300)));
            ev.kubelet_repeat(
                r,
                &p,
                start,
                end,
                (30_000, 90_000),
                Warning,
                "Unhealthy",
                &timeout_message(&p),
            );
        }
    }
}

/// `vvsw` loses pod networking: every pod's probe times out, new sandboxes
/// cannot get a network, the runtime reports the network not ready.
fn vvsw_network(c: &Cluster, ev: &mut EventRecorder, r: &mut Rng) {
    let node = node_name("vvsw");
    let (from, to) = VVSW_OUTAGE;
    let on_node: Vec<PodInfo> = c
        .pods
        .iter()
        .filter(|p| p.node == node && p.created < to && p.deleted.is_none_or(|d| d > from))
        .cloned()
        .collect();
    for (k, p) in on_node.iter().enumerate() {
        let start = from.max(p.created).add(Duration::secs(r.range(5, 60)));
        let end = to.min(p.deleted.unwrap_or(to));
        let msg = format!(
            "Readiness probe failed: Get {url}: dial tcp {hostport}: i/o timeout",
            url = probe_url(p),
            hostport = host_port(&probe_url(p))
        );
        let cadence = if is_user(p) {
            (45_000, 75_000)
        } else {
            (9_500, 10_500)
        };
        ev.kubelet_repeat(r, p, start, end, cadence, Warning, "Unhealthy", &msg);
        // Sandbox trouble for most user pods, and the runtime's own
        // complaint for a handful of pods.
        if is_user(p) && k % 4 != 0 {
            let sandbox = container_id(r);
            let msg = format!(
                "Failed create pod sandbox: rpc error: code = Unknown desc = failed to set up sandbox container \
                 \"{sandbox}\" network for pod \"{name}\": NetworkPlugin cni failed to set up pod \"{name}_{ns}\" \
                 network: failed to set bridge addr: could not add IP address to \"cbr0\": permission denied",
                name = p.name,
                ns = p.namespace
            );
            let s = start.add(Duration::secs(r.range(0, 240)));
            ev.kubelet_repeat(
                r,
                p,
                s,
                end,
                (60_000, 150_000),
                Warning,
                "FailedCreatePodSandBox",
                &msg,
            );
            ev.kubelet_repeat(
                r,
                p,
                s.add(Duration::secs(2)),
                end,
                (60_000, 150_000),
                Warning,
                "FailedSync",
                "Error syncing pod",
            );
        }
        if k % 5 == 0 {
            let msg = "network is not ready: runtime network not ready: NetworkReady=false \
                       reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config uninitialized";
            ev.kubelet_repeat(
                r,
                p,
                start,
                end,
                (20_000, 40_000),
                Warning,
                "NetworkNotReady",
                msg,
            );
        }
    }
}

/// `10.12.8.4:8888` out of `http://10.12.8.4:8888/path`.
fn host_port(url: &str) -> &str {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.split('/').next().unwrap_or(rest)
}

/// Pods being deleted on `node` will not stop: repeated `FailedKillPod` for
/// many distinct user pods, which finally go away after the trouble.
fn pods_fail_to_stop(c: &mut Cluster, ev: &mut EventRecorder, node: &str, r: &mut Rng) {
    let (from, to) = KILL_TROUBLE;
    let mut pods = c.alive_on(node, from, is_user);
    pods.sort_by_key(|&i| c.pods[i].deleted);
    for i in pods.into_iter().take(14) {
        let start = from.add(Duration::secs(r.range(0, 1_200)));
        let end = to.sub(Duration::secs(r.range(0, 600)));
        let p = c.pods[i].clone();
        ev.kubelet(
            start,
            &p,
            Normal,
            "Killing",
            "Killing container with id docker://notebook:Need to kill Pod",
        );
        let msg = format!(
            "error killing pod: failed to \"KillPodSandbox\" for \"{uid}\" with KillPodSandboxError: \"rpc error: \
             code = Unknown desc = NetworkPlugin cni failed to teardown pod \\\"{name}_{ns}\\\" network: failed to \
             get IP addresses for \\\"eth0\\\": <nil>\"",
            uid = p.uid,
            name = p.name,
            ns = p.namespace
        );
        ev.kubelet_repeat(
            r,
            &p,
            start.add(Duration::secs(30)),
            end,
            (60_000, 120_000),
            Warning,
            "FailedKillPod",
            &msg,
        );
        c.pods[i].deleted = Some(end.add(Duration::secs(r.range(30, 90))));
    }
}
