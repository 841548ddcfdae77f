//! What nodewatch offers remediators, against a real kube-apiserver
//! (v1.37.2 with etcd; `tests/testkit/src/kube_real.rs`) as nodewatch's own
//! ServiceAccount under the shipped RBAC: the opt-in drain after a cordon
//! through the real Eviction API (PodDisruptionBudgets enforced by the
//! server), the opt-in NodeCondition through the real `nodes/status`
//! subresource, and the opt-in audit log in a real ConfigMap.

use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::act::{Cordoner, Notification, Notifier, RecordingNotifier};
use nodewatch::live::audit::{self, AuditLog, AuditSettings};
use nodewatch::live::condition::{ConditionMirror, ConditionSettings};
use nodewatch::live::drain::DRAIN_ANNOTATION;
use nodewatch::live::{Gated, KubeCordoner, LeaderHandle, Settings};
use nodewatch::model::{ActionKind, ActionRecord, AlertState, AlertView};
use nodewatch::time::Timestamp;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// Creates pod `ns/name` running on `node` (no kubelet runs: a zero grace
/// period lets an evicted pod go at once), optionally owned by a DaemonSet.
fn pod_on(cp: &ControlPlane, ns: &str, name: &str, node: &str, app: &str, daemon: bool) {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "registry.example/app:1"}]}});
    if daemon {
        pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "DaemonSet",
            "name": "agent", "uid": "0b7a4c6e-0000-4000-8000-000000000001", "controller": true}]);
    }
    cp.kubectl_ok(&["create", "-f", "-"], Some(&pod.to_string()));
    // Running and ready, as a kubelet would report it: the Eviction API
    // ignores budgets for pending pods.
    let status =
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;
    let args = [
        "patch",
        "pod",
        name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ];
    cp.kubectl_ok(&args, None);
}

/// Waits (at most 30 s) for the drain annotation on `node` to be `state`.
async fn drain_state(cp: &ControlPlane, node: &str, state: &str) -> Value {
    for _ in 0..300 {
        let n = cp.get("node", None, node).expect("node");
        if n["metadata"]["annotations"][DRAIN_ANNOTATION] == state {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let n = cp.get("node", None, node).expect("node");
    let pods = cp.kubectl_ok(&["get", "pods", "-A", "-o", "wide"], None);
    panic!(
        "{node}: drain never reached {state:?}: {}\n{pods}",
        n["metadata"]
    );
}

/// Drain after cordon through the real Eviction API, as the ServiceAccount
/// with the base RBAC plus `deploy/components/drain`: a pod without a
/// budget is evicted, pods whose PodDisruptionBudget allows no disruption
/// are refused with 429 and retried until the timeout, DaemonSet pods are
/// skipped, and the timeout policy stops (pods left, Warning Event) or
/// deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_respects_budgets_and_its_timeout_policy() {
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let rbac = std::fs::read_to_string(deploy::root().join("deploy/components/drain/rbac.yaml"))
        .expect("drain RBAC");
    cp.kubectl_ok(&["apply", "-f", "-"], Some(&rbac));
    cp.kubectl_ok(&["create", "namespace", "app"], None);
    // No controller manager: the namespace's default ServiceAccount is not
    // made for us, and no budget's status is ever computed, so the
    // Eviction API treats every budget as allowing no disruption.
    cp.kubectl_ok(&["create", "serviceaccount", "default", "-n", "app"], None);
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}});
    cp.kubectl_ok(&["create", "-f", "-"], Some(&pdb.to_string()));
    play::create_nodes(&cp, &["d1", "d2"]);
    pod_on(&cp, "app", "solo", "d1", "solo", false);
    pod_on(&cp, "app", "web-1", "d1", "web", false);
    pod_on(&cp, "app", "agent-d1", "d1", "agent", true);
    pod_on(&cp, "app", "web-2", "d2", "web", false);

    let client = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let at = Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap();
    let cordoner = |on_timeout: &str| {
        let yaml = format!(
            "{{drain: {{enabled: true, timeout: 2s, retry_backoff: 200ms, grace_period: 0s, on_timeout: {on_timeout}}}}}"
        );
        let settings: Settings = serde_yaml::from_str(&yaml).expect("settings");
        KubeCordoner::new(
            client.clone(),
            "replica-a",
            "default",
            LeaderHandle::always(),
            &settings,
        )
    };

    // Stop: the budget holds web-1 until the timeout; solo goes, the
    // DaemonSet's pod is not touched.
    let mut c = cordoner("stop");
    // In dry-run the refusal says what the drain would evict.
    let plan = c.would_also("d1").await.expect("drain on");
    assert_eq!(plan, "would drain: evict 2 pod(s): app/solo, app/web-1");
    c.cordon("d1", &play::request("d1"), at)
        .await
        .expect("cordon");
    drain_state(&cp, "d1", "stopped").await;
    assert!(cp.get("pod", Some("app"), "solo").is_none(), "evicted");
    assert!(
        cp.get("pod", Some("app"), "web-1").is_some(),
        "its budget held it"
    );
    assert!(
        cp.get("pod", Some("app"), "agent-d1").is_some(),
        "DaemonSet pods stay"
    );
    let s = c.drain_stats().expect("drain on");
    assert_eq!(s.evicted.load(Ordering::Relaxed), 1);
    assert!(
        s.refused.load(Ordering::Relaxed) >= 2,
        "retried while refused"
    );
    assert_eq!(s.stopped.load(Ordering::Relaxed), 1);
    assert_eq!(
        s.errors.load(Ordering::Relaxed),
        0,
        "the component's RBAC was enough"
    );
    let mut reasons = play::event_reasons(&cp, "d1");
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "NodewatchCordon",
            "NodewatchDrainEvicting",
            "NodewatchDrainStopped"
        ]
    );
    // An uncordon takes the drain's state with it.
    c.uncordon("d1", at).await.expect("uncordon");
    let d1 = cp.get("node", None, "d1").expect("d1");
    assert!(
        d1["metadata"]["annotations"]
            .get(DRAIN_ANNOTATION)
            .is_none(),
        "{d1}"
    );

    // Delete: after the timeout the pod its budget protects is deleted.
    let mut c = cordoner("delete");
    c.cordon("d2", &play::request("d2"), at)
        .await
        .expect("cordon");
    drain_state(&cp, "d2", "deleted").await;
    assert!(
        cp.get("pod", Some("app"), "web-2").is_none(),
        "deleted at the timeout"
    );
    let s = c.drain_stats().expect("drain on");
    assert_eq!(
        (
            s.deleted.load(Ordering::Relaxed),
            s.evicted.load(Ordering::Relaxed)
        ),
        (1, 0)
    );
}

fn node_alert(name: &str, node: &str, status: &str) -> Notification {
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        "description".to_string(),
        format!("score 1: {name} on {node}"),
    );
    Notification {
        alert: AlertView {
            name: name.into(),
            scope: "node".into(),
            subject: node.into(),
            annotations,
            ..Default::default()
        },
        status: if status == "firing" {
            AlertState::Firing
        } else {
            AlertState::Resolved
        },
        ends_at: None,
    }
}

/// The `NodewatchUnhealthy` condition of `node` once it is `status`
/// (waits at most 30 s), or `None` for a node that never got one.
async fn condition(cp: &ControlPlane, node: &str, status: Option<&str>) -> Option<Value> {
    for _ in 0..300 {
        let n = cp.get("node", None, node).expect("node");
        let c = n["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "NodewatchUnhealthy")
            .cloned();
        if c.as_ref().map(|c| c["status"].as_str().unwrap_or_default()) == status {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{node}: condition never {status:?}");
}

/// What a NodeHealthCheck or MachineHealthCheck reads: node alerts that
/// pass the gate become the `NodewatchUnhealthy` condition through the real
/// `nodes/status` subresource under the shipped RBAC. It turns `True` with
/// the alert as reason, keeps its `lastTransitionTime` while the state
/// holds (a second alert, a repeat), turns `False` only when every node
/// alert resolved; a healthy node gets no condition at all, and dry-run
/// and pause write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_alerts_become_a_stable_node_condition() {
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    play::create_nodes(&cp, &["c1", "c2", "c3"]);
    let client = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let settings = ConditionSettings {
        enabled: true,
        ..Default::default()
    };
    let gate = |dry_run: bool, paused: bool| {
        let mirror = ConditionMirror::start(client.clone(), &settings, dry_run);
        Gated::new(RecordingNotifier::default(), LeaderHandle::always(), paused)
            .with_condition(mirror)
    };
    let mut g = gate(false, false);
    g.notify(node_alert("NodeUnhealthy", "c1", "firing"));
    let first = condition(&cp, "c1", Some("True")).await.expect("set");
    assert_eq!(first["reason"], "NodeUnhealthy");
    // The shipped NodeHealthCheck and MachineHealthCheck examples match it.
    for example in ["nodehealthcheck.yaml", "machinehealthcheck.yaml"] {
        let path = deploy::root().join("deploy/examples").join(example);
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rules = doc["spec"]["unhealthyConditions"]
            .as_array()
            .expect(example);
        assert!(
            rules
                .iter()
                .any(|r| r["type"] == first["type"] && r["status"] == first["status"]),
            "{example} does not act on {first}"
        );
    }
    assert_eq!(first["message"], "score 1: NodeUnhealthy on c1");
    // Transition times have a one-second grain: let one pass.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    g.notify(node_alert("NodeProblemReported", "c1", "firing"));
    g.notify(node_alert("NodeUnhealthy", "c1", "resolved"));
    g.notify(node_alert("NodeUnhealthy", "c2", "resolved"));
    g.notify(node_alert("NodeProblemReported", "c1", "firing"));
    // The writer handles transitions in order: once c3's lands, c1's are done.
    g.notify(node_alert("NodeUnhealthy", "c3", "firing"));
    condition(&cp, "c3", Some("True")).await;
    let held = condition(&cp, "c1", Some("True")).await.expect("still set");
    assert_eq!(
        held["lastTransitionTime"], first["lastTransitionTime"],
        "one alert still fires: no transition"
    );
    assert!(
        condition(&cp, "c2", None).await.is_none(),
        "never sick, never marked"
    );
    g.notify(node_alert("NodeProblemReported", "c1", "resolved"));
    let cleared = condition(&cp, "c1", Some("False")).await.expect("cleared");
    assert_ne!(cleared["lastTransitionTime"], first["lastTransitionTime"]);
    // A node that opts out is not marked.
    cp.kubectl_ok(&["label", "node", "c2", "nodewatch.io/exclude=true"], None);
    g.notify(node_alert("NodeUnhealthy", "c2", "firing"));
    g.notify(node_alert("NodeUnhealthy", "c3", "resolved"));
    condition(&cp, "c3", Some("False")).await;
    assert!(condition(&cp, "c2", None).await.is_none(), "opted out");
    let stats = g.condition().expect("on").stats();
    assert_eq!(
        stats.errors.load(Ordering::Relaxed),
        0,
        "the shipped RBAC was enough"
    );
    assert_eq!(stats.written.load(Ordering::Relaxed), 4);

    // Dry-run and pause: nothing reaches the node.
    let mut dry = gate(true, false);
    dry.notify(node_alert("NodeUnhealthy", "c2", "firing"));
    let mut paused = gate(false, true);
    paused.notify(node_alert("NodeUnhealthy", "c2", "firing"));
    dry.notify(node_alert("NodeUnhealthy", "c3", "firing"));
    condition(&cp, "c3", Some("False")).await;
    for _ in 0..50 {
        if dry
            .condition()
            .unwrap()
            .stats()
            .skipped
            .load(Ordering::Relaxed)
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        dry.condition()
            .unwrap()
            .stats()
            .written
            .load(Ordering::Relaxed),
        0
    );
    assert!(
        condition(&cp, "c2", None).await.is_none(),
        "dry-run and pause wrote nothing"
    );
}

/// The audit log's lines, as `kubectl` reads them.
fn audit_lines(cp: &ControlPlane) -> Vec<Value> {
    let cm = cp
        .get("configmap", Some("nodewatch"), "nodewatch-audit")
        .expect("the audit ConfigMap");
    cm["data"][audit::KEY]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The durable audit trail on the real server, under the shipped RBAC:
/// alerts and actions that pass the gate land in the `nodewatch-audit`
/// ConfigMap beside the Lease, a new writer (a restarted agent) appends to
/// what is there, and the newest `max_entries` lines are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_survives_a_restart_and_stays_bounded() {
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let client = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let settings = AuditSettings {
        enabled: true,
        max_entries: 4,
        ..Default::default()
    };
    let at = Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap();
    let action = |node: &str| ActionRecord {
        at,
        node: node.into(),
        kind: ActionKind::Cordon,
        rule: "NodeUnhealthy".into(),
        reason: "score 1: test".into(),
        score: 1.0,
    };
    let wait_written = |g: &Gated<RecordingNotifier>, n: u64| {
        let stats = g.audit().expect("on").stats();
        let done = stats.written.load(Ordering::Relaxed) >= n;
        (done, stats.errors.load(Ordering::Relaxed))
    };
    let start = || {
        Gated::new(RecordingNotifier::default(), LeaderHandle::always(), false)
            .with_audit(AuditLog::start(client.clone(), "nodewatch", &settings))
    };
    let mut g = start();
    g.notify(node_alert("NodeUnhealthy", "a1", "firing"));
    g.record_action(&action("a1"));
    for _ in 0..300 {
        if wait_written(&g, 2).0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines = audit_lines(&cp);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        (lines[0]["kind"].as_str(), lines[0]["status"].as_str()),
        (Some("alert"), Some("firing"))
    );
    assert_eq!(lines[0]["explanation"], "score 1: NodeUnhealthy on a1");
    assert_eq!(
        (lines[1]["kind"].as_str(), lines[1]["node"].as_str()),
        (Some("cordon"), Some("a1"))
    );
    drop(g);

    // A restarted agent appends; the bound keeps the newest four.
    let mut g = start();
    for node in ["a2", "a3", "a4"] {
        g.record_action(&action(node));
    }
    for _ in 0..300 {
        if wait_written(&g, 3).0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        wait_written(&g, 3),
        (true, 0),
        "written under the shipped RBAC"
    );
    let nodes: Vec<_> = audit_lines(&cp)
        .iter()
        .map(|l| l["node"].as_str().unwrap_or("-").to_string())
        .collect();
    assert_eq!(nodes, ["a1", "a2", "a3", "a4"], "the oldest line went");
}
