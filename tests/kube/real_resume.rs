//! A drain an earlier leader left unfinished, on a real kube-apiserver
//! (v1.37.2 with etcd; `tests/testkit/src/kube_real.rs`) as nodewatch's
//! ServiceAccount under the shipped RBAC plus `deploy/components/drain`
//! (`src/live/restart.rs`): drains left `evicting` (the leader crashed)
//! or `handover` (it lost the lease) are resumed by the next leader
//! through the real Eviction API and end `done`; a finished one is not
//! redone; a standby and a leader in dry-run resume nothing.

use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::act::{Governor, GovernorSettings, RecordingNotifier};
use nodewatch::catalog::Catalog;
use nodewatch::engine::Engine;
use nodewatch::live::drain::DRAIN_ANNOTATION;
use nodewatch::live::restart::{take_over, Duties, Term};
use nodewatch::live::slim::SlimNode;
use nodewatch::live::{Gated, KubeCordoner, LeaderHandle, Settings};
use nodewatch::pipeline::Pipeline;
use nodewatch::time::{Clock, SystemClock, Timestamp};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A running pod `app/name` on `node` (no kubelet: zero grace period).
fn pod_on(cp: &ControlPlane, name: &str, node: &str) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "app"},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "registry.example/app:1"}]}});
    cp.kubectl_ok(&["create", "-f", "-"], Some(&pod.to_string()));
    let status =
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;
    cp.kubectl_ok(
        &[
            "patch",
            "pod",
            name,
            "-n",
            "app",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ],
        None,
    );
}

/// The nodes as the agent's watcher reads them.
fn slim_nodes(cp: &ControlPlane, names: &[&str]) -> Vec<nodewatch::k8s::Node> {
    names
        .iter()
        .map(|n| {
            let v = cp.get("node", None, n).expect("node");
            serde_json::from_value::<SlimNode>(v)
                .expect("slim node")
                .node
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_drain_is_resumed_by_the_next_leader() {
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let rbac = std::fs::read_to_string(deploy::root().join("deploy/components/drain/rbac.yaml"))
        .expect("drain RBAC");
    cp.kubectl_ok(&["apply", "-f", "-"], Some(&rbac));
    cp.kubectl_ok(&["create", "namespace", "app"], None);
    cp.kubectl_ok(&["create", "serviceaccount", "default", "-n", "app"], None);
    let names = ["r1", "r2", "r3"];
    play::create_nodes(&cp, &names);
    for n in names {
        pod_on(&cp, &format!("p-{n}"), n);
    }
    // As the earlier leader left them: r1 mid-drain when it crashed, r2
    // handed over when it lost the lease, r3's drain finished.
    let now = SystemClock.now();
    let cordoned = Timestamp(now.0 - 60_000).to_rfc3339();
    for (n, state) in [("r1", "evicting"), ("r2", "handover"), ("r3", "done")] {
        let patch = json!({"spec": {"unschedulable": true}, "metadata": {"annotations": {
            "nodewatch.io/cordoned-by": "replica-old", "nodewatch.io/at": cordoned,
            "nodewatch.io/rule": "NodeUnhealthy", DRAIN_ANNOTATION: state}}});
        cp.kubectl_ok(
            &["patch", "node", n, "--type=merge", "-p", &patch.to_string()],
            None,
        );
    }
    let nodes = slim_nodes(&cp, &names);

    let client = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let settings: Settings =
        serde_yaml::from_str("{drain: {enabled: true, retry_backoff: 200ms, grace_period: 0s}}")
            .expect("settings");
    let cordoner = KubeCordoner::new(
        client,
        "replica-b",
        "default",
        LeaderHandle::always(),
        &settings,
    );
    let mut p = Pipeline::new(
        Engine::new(Arc::new(Catalog::builtin()), Default::default()),
        Governor::new(GovernorSettings::default()),
        Gated::new(RecordingNotifier::default(), LeaderHandle::always(), false),
        cordoner,
    );
    let started = |p: &Pipeline<_, KubeCordoner>| {
        p.cordoner()
            .drain_stats()
            .expect("drain on")
            .started
            .load(Ordering::Relaxed)
    };
    // A standby, and a leader in dry-run, resume nothing.
    let duties = Duties {
        dry_run: true,
        ..Default::default()
    };
    take_over(&mut p, &mut Term::default(), &duties, &nodes, now, true);
    take_over(
        &mut p,
        &mut Term::default(),
        &Duties::default(),
        &nodes,
        now,
        false,
    );
    assert_eq!(started(&p), 0);

    let mut term = Term::default();
    take_over(&mut p, &mut term, &Duties::default(), &nodes, now, true);
    take_over(&mut p, &mut term, &Duties::default(), &nodes, now, true);
    assert_eq!(started(&p), 2, "r1 and r2, once each");
    for n in ["r1", "r2"] {
        wait_drain(&cp, n, "done").await;
        assert!(
            cp.get("pod", Some("app"), &format!("p-{n}")).is_none(),
            "{n}'s pod evicted"
        );
        let reasons = play::event_reasons(&cp, n);
        assert!(
            reasons.iter().any(|r| r == "NodewatchDrainEvicting")
                && reasons.iter().any(|r| r == "NodewatchDrainDone"),
            "{n}: {reasons:?}"
        );
    }
    let evicting = cp.kubectl_ok(
        &[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            "involvedObject.name=r1,reason=NodewatchDrainEvicting",
            "-o",
            "jsonpath={.items[*].message}",
        ],
        None,
    );
    assert!(
        evicting.contains("resumed after a restart or a change of leader"),
        "{evicting}"
    );
    assert!(
        cp.get("pod", Some("app"), "p-r3").is_some(),
        "a finished drain is not redone"
    );
}

/// Waits (at most 30 s) for `node`'s drain annotation to be `state`.
async fn wait_drain(cp: &ControlPlane, node: &str, state: &str) {
    for _ in 0..300 {
        let n = cp.get("node", None, node).expect("node");
        if n["metadata"]["annotations"][DRAIN_ANNOTATION] == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{node}: drain never reached {state}: {:?}",
        cp.get("node", None, node)
    );
}
