//! Expected disruption on a real kube-apiserver (v1.37.2 with etcd;
//! `tests/testkit/src/kube_real.rs`): the Binder incident's vvsw window, whose
//! sick node nodewatch cordons (`kube_real_live.rs`), played again with
//! that node tainted `ToBeDeletedByClusterAutoscaler` on the server. The
//! live agent — reading the real Node's `spec.taints` through its own
//! watcher, as nodewatch's ServiceAccount under the shipped RBAC — holds
//! the node exactly as replay of the same data does: no alert, no cordon,
//! and the snapshot says why. The node on the server is left untouched.

use nodewatch_testkit as support;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::catalog::Catalog;
use nodewatch::k8s::Taint;
use nodewatch::model::ActionKind;
use nodewatch::signals::disruption::AUTOSCALER_TAINT;
use nodewatch::{scenario, tools::replay};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_the_autoscaler_is_removing_is_not_cordoned() {
    let mut sc = play::vvsw_window();
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let catalog = Arc::new(Catalog::builtin());
    // Untainted, the window cordons the sick node: the test is not vacuous.
    let untainted = replay::run(sc.clone(), catalog.clone(), replay::Options::default()).await;
    assert!(
        untainted
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Cordon && a.node == sick),
        "{:?}",
        untainted.actions
    );
    let node = sc
        .nodes
        .iter_mut()
        .find(|n| n.metadata.name == sick)
        .expect("the sick node is listed");
    node.spec.taints.push(Taint {
        key: AUTOSCALER_TAINT.into(),
        value: "1519144200".into(),
        effect: "NoSchedule".into(),
        time_added: None,
    });
    let expected = replay::run(sc.clone(), catalog.clone(), replay::Options::default()).await;
    assert!(
        expected.actions.iter().all(|a| a.node != sick),
        "{:?}",
        expected.actions
    );
    assert!(expected
        .notifications
        .iter()
        .all(|n| n.alert.subject != sick));

    let dir = tempfile::tempdir().unwrap();
    scenario::write_dir(&sc, dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(dir.path());
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, &sc).await;
    let on_server = cp.get("node", None, &sick).expect("node");
    assert_eq!(
        on_server["spec"]["taints"][0]["key"], AUTOSCALER_TAINT,
        "the real server keeps the taint: {on_server}"
    );
    let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let mut agent = play::start_replica(sa, &sc, &prom.url(), "replica-a").await;
    assert!(agent.leader().wait_leader(Duration::from_secs(30)).await);
    let (mut at, mut next) = (sc.meta.start, 0);
    while at <= sc.meta.end {
        for c in play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await {
            assert_ne!(c.node, sick, "{c:?}");
        }
        at = at.add(sc.meta.step);
    }
    let sent = &agent.pipeline.notifier().inner.sent;
    assert_eq!(sent, &expected.notifications, "same alert notifications");
    assert_eq!(agent.pipeline.actions(), &expected.actions, "same actions");
    let snap = agent.snapshot();
    let view = snap
        .nodes
        .iter()
        .find(|v| v.name == sick)
        .expect("still listed");
    let held = view.held.as_deref().unwrap_or_default();
    assert!(held.contains(AUTOSCALER_TAINT), "{held:?}");
    let n = cp.get("node", None, &sick).expect("node");
    assert!(n["spec"]["unschedulable"].is_null(), "{n}");
    let annotations = n["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        annotations.keys().all(|k| !k.starts_with("nodewatch.io/")),
        "{annotations:?}"
    );
    agent.shutdown().await;
}
