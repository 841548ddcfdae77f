//! The rendered `deploy/base` container (`nodewatch run` with the
//! container's args, config and env) against a real kube-apiserver (v1.37.2
//! with etcd; `tests/testkit/src/kube_real.rs`), as nodewatch's ServiceAccount
//! with a TokenRequest token and the shipped RBAC applied by `kubectl
//! apply`: it lists and watches the real server's nodes, pods and Events
//! (an Event and a node created while it runs reach it), takes and renews
//! the shipped Lease under its pod name, never needs more than the RBAC
//! grants, and on SIGTERM releases the Lease and exits 0.

use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;

use deploy::{container_command, container_env, render, Process, POD_NAME};
use kube_real::ControlPlane;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The value of the first sample of `name` whose labels contain `labels`.
fn sample(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        if !(rest.starts_with('{') || rest.starts_with(' ')) || !rest.contains(labels) {
            return None;
        }
        rest.rsplit(' ').next()?.parse().ok()
    })
}

/// Polls `/metrics` until `ok` holds for it (bounded).
async fn wait_metrics(p: &Process, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, m) = deploy::get(&p.addr, "/metrics").await.expect("/metrics");
        assert_eq!(status, 200);
        if ok(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not seen in /metrics:\n{m}\nlog:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The Lease's `spec`, as the admin reads it.
fn lease_spec(cp: &ControlPlane) -> Value {
    cp.get("lease", Some("nodewatch"), "nodewatch")
        .expect("the shipped Lease")["spec"]
        .clone()
}

fn node(name: &str) -> String {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"cloud.google.com/gke-nodepool": "pool-a"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_container_runs_against_the_real_api_server() {
    let cp = ControlPlane::start();
    let r = render("deploy/base");
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": r.objects}).to_string();
    cp.kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&objects));
    for n in ["node-a", "node-b"] {
        cp.kubectl_ok(&["create", "-f", "-"], Some(&node(n)));
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = cp.service_account_kubeconfig("nodewatch", "nodewatch");
    let addr = deploy::free_addr();
    let args = container_command(&r, tmp.path(), &addr, &kubeconfig);
    let mut p = Process::spawn(&args, &container_env(&r), tmp.path(), &addr);
    p.wait_ready(Duration::from_secs(60)).await;

    // Leads under its pod name, and keeps renewing through the real
    // server's optimistic concurrency.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lease_spec(&cp)["holderIdentity"] != POD_NAME {
        assert!(
            Instant::now() < deadline,
            "the pod never took the Lease: {}\n{}",
            lease_spec(&cp),
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = lease_spec(&cp)["renewTime"].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lease_spec(&cp)["renewTime"] == first {
        assert!(
            Instant::now() < deadline,
            "the Lease is never renewed\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(lease_spec(&cp)["holderIdentity"], POD_NAME);

    // Listed nodes are scored; a node and an Event created now arrive by
    // watch.
    wait_metrics(&p, "both listed nodes", |m| {
        ["node-a", "node-b"]
            .iter()
            .all(|n| sample(m, "nodewatch_node_score", &format!("node=\"{n}\"")).is_some())
    })
    .await;
    cp.kubectl_ok(&["create", "-f", "-"], Some(&node("node-c")));
    let event = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "node-a.kubelet-restart", "namespace": "default"},
        "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
        "reason": "Rebooted", "message": "Node node-a has been rebooted", "type": "Warning",
        "source": {"component": "kubelet", "host": "node-a"}, "count": 1});
    cp.kubectl_ok(&["create", "-f", "-"], Some(&event.to_string()));
    let m = wait_metrics(&p, "the watched node and Event", |m| {
        sample(m, "nodewatch_node_score", "node=\"node-c\"").is_some()
            && sample(m, "nodewatch_events_ingested_total", "").is_some_and(|v| v >= 1.0)
    })
    .await;
    // Watches, Lease, writes: no error, nothing outside the shipped RBAC.
    for kind in ["watch", "lease", "write", "forbidden"] {
        let label = format!("source=\"kubernetes\",kind=\"{kind}\"");
        assert_eq!(
            sample(&m, "nodewatch_source_errors_total", &label),
            Some(0.0),
            "{label}:\n{m}"
        );
    }

    let (status, log) = p.terminate().await;
    assert!(status.success(), "exit after SIGTERM: {status}\n{log}");
    let spec = lease_spec(&cp);
    assert!(
        spec["holderIdentity"].as_str().is_none_or(str::is_empty),
        "the Lease is released on SIGTERM: {spec}"
    );
    // A refusal says "forbidden" (the API server's reason and message) or
    // 403 as a number of its own; a bare "403" substring also matched the
    // microseconds of a log line's timestamp (`08:00:01.222403Z`).
    let refused = regex::Regex::new(r"(?i)forbidden|(?:^|[^0-9.:])403(?:[^0-9]|$)").expect("regex");
    assert!(!refused.is_match(&log), "no request refused:\n{log}");
}
