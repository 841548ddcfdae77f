//! Cordoning through the API server: 409/429/5xx are retried with backoff,
//! a cordon that did not happen is never counted by the governor, a node a
//! human cordoned is left alone, a node a human uncordoned is not cordoned
//! again while it is still sick, and the optional taint and opt-in
//! uncordon write and remove exactly what nodewatch added.

use nodewatch_testkit::fake_apiserver;

use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch::act::{CordonRequest, Cordoner};
use nodewatch::catalog::Catalog;
use nodewatch::collect::tsdb::Tsdb;
use nodewatch::live::{KubeCordoner, LeaderHandle, Settings, CORDONED_BY, TAINT_KEY};
use nodewatch::model::ActionKind;
use nodewatch::time::{Duration as SimDuration, Timestamp};
use serde_json::json;
use std::sync::Arc;

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn request(node: &str) -> CordonRequest {
    CordonRequest {
        node: node.into(),
        rule: "NodeUnhealthy".into(),
        score: 0.9,
        explanation: "score 0.9: test".into(),
        fresh: true,
        drain: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_retry_transient_errors_and_respect_humans() {
    let server = FakeApiServer::start(Options::default()).await;
    for n in ["n1", "n2", "n3"] {
        server.put(
            "nodes",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}, "spec": {}}),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        taint: true,
        write_backoff: SimDuration(10),
        ..Default::default()
    };
    let mut c = KubeCordoner::new(
        server.client(dir.path()).await,
        "replica-a",
        "default",
        LeaderHandle::always(),
        &settings,
    );
    let at = t("2018-02-20T17:00:00Z");

    server.fail_node_patches(&[409, 429, 503]);
    c.cordon("n1", &request("n1"), at)
        .await
        .expect("cordon after three transient errors");
    assert_eq!(c.stats.retries, 3);
    let n1 = server.node("n1").unwrap();
    assert_eq!(n1["spec"]["unschedulable"], true);
    assert_eq!(n1["spec"]["taints"][0]["key"], TAINT_KEY);
    assert_eq!(n1["spec"]["taints"][0]["effect"], "NoSchedule");
    assert_eq!(n1["metadata"]["annotations"][CORDONED_BY], "replica-a");
    assert_eq!(server.events_about_node("n1").len(), 1);

    server.fail_node_patches(&[500; 5]);
    let err = c
        .cordon("n2", &request("n2"), at)
        .await
        .expect_err("five server errors");
    assert!(err.to_string().contains("did not happen"), "{err}");
    assert_eq!(c.stats.failed, 1);
    assert!(
        server.node("n2").unwrap()["spec"]
            .get("unschedulable")
            .is_none(),
        "n2 untouched"
    );
    assert!(
        server.events_about_node("n2").is_empty(),
        "no Event for a cordon that did not happen"
    );

    server.set_unschedulable("n3", true);
    let err = c
        .cordon("n3", &request("n3"), at)
        .await
        .expect_err("a human's cordon");
    assert!(err.to_string().contains("left alone"), "{err}");
    assert!(
        server.node("n3").unwrap()["metadata"]
            .get("annotations")
            .is_none(),
        "no annotations on a human's cordon"
    );
    assert!(
        c.uncordon("n3", at).await.is_err(),
        "never uncordons what it did not cordon"
    );

    c.uncordon("n1", at).await.expect("uncordon");
    let n1 = server.node("n1").unwrap();
    assert!(n1["spec"].get("unschedulable").is_none());
    assert_eq!(n1["spec"]["taints"], json!([]));
    assert!(
        n1["metadata"]["annotations"]
            .as_object()
            .is_none_or(|a| a.is_empty()),
        "annotations removed: {n1}"
    );
    assert!(server
        .events_about_node("n1")
        .iter()
        .any(|e| e["reason"] == "NodewatchUncordon"));

    let standby = LeaderHandle::default();
    let mut s = KubeCordoner::new(
        server.client(dir.path()).await,
        "replica-b",
        "default",
        standby,
        &settings,
    );
    assert!(
        s.cordon("n2", &request("n2"), at).await.is_err(),
        "a replica without the lease never writes"
    );
    assert!(server.node("n2").unwrap()["spec"]
        .get("unschedulable")
        .is_none());
}

async fn binder_agent(
    server: &FakeApiServer,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut nodewatch::live::AgentOptions),
) -> harness::Replica<Tsdb> {
    let sc = harness::binder();
    server.load_scenario(&sc);
    let mut opts = harness::options(&sc, 15);
    opts.kube.write_backoff = SimDuration(10);
    tweak(&mut opts);
    let a = harness::start(
        server,
        dir,
        Arc::new(Catalog::builtin()),
        Tsdb::new(sc.metrics.clone()),
        opts,
        "replica-a",
    )
    .await;
    assert!(
        a.leader()
            .wait_leader(std::time::Duration::from_secs(10))
            .await
    );
    a
}

const VVSW: &str = "gke-prod-a-ssd-pool-32-134a959a-vvsw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cordon_that_failed_is_not_counted() {
    let server = FakeApiServer::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = binder_agent(&server, dir.path(), |_| {}).await;
    let mut at = t("2018-02-20T12:00:00Z");
    while at <= t("2018-02-20T17:10:00Z") {
        if at == t("2018-02-20T17:03:00Z") {
            // The replay cordons vvsw now; every attempt fails.
            server.fail_node_patches(&[500; 5]);
        }
        harness::tick(&server, &mut a, at).await;
        at = at.add(SimDuration::secs(30));
    }
    let cordons: Vec<_> = a
        .pipeline
        .actions()
        .iter()
        .filter(|x| x.kind == ActionKind::Cordon)
        .collect();
    assert_eq!(cordons.len(), 1, "{cordons:?}");
    // Had the failed attempt been counted, the 10-minute rate limit would
    // have refused the next one.
    assert_eq!(cordons[0].at, t("2018-02-20T17:03:30Z"));
    assert_eq!(server.node(VVSW).unwrap()["spec"]["unschedulable"], true);
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_a_human_cordoned_is_left_alone() {
    let server = FakeApiServer::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = binder_agent(&server, dir.path(), |_| {}).await;
    let mut at = t("2018-02-20T12:00:00Z");
    while at <= t("2018-02-20T17:30:00Z") {
        if at == t("2018-02-20T16:55:00Z") {
            server.set_unschedulable(VVSW, true);
        }
        harness::tick(&server, &mut a, at).await;
        at = at.add(SimDuration::secs(30));
    }
    assert!(
        a.pipeline
            .actions()
            .iter()
            .all(|x| x.kind != ActionKind::Cordon),
        "nothing cordoned: {:?}",
        a.pipeline.actions()
    );
    assert!(server.node(VVSW).unwrap()["metadata"]["annotations"]
        .get(CORDONED_BY)
        .is_none());
    // Someone else's cordon is expected disruption (a drain, an upgrade):
    // no alert starts on the node, and the snapshot says why.
    assert!(
        a.pipeline
            .notifier()
            .inner
            .sent
            .iter()
            .all(|n| n.alert.subject != VVSW),
        "not alerted"
    );
    let snap = a.snapshot();
    let held = snap.nodes.iter().find(|n| n.name == VVSW).unwrap();
    let why = held.held.as_deref().unwrap_or_default();
    assert!(why.contains("cordoned by someone else"), "{why:?}");
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_a_human_uncordoned_is_not_cordoned_again_while_sick() {
    let server = FakeApiServer::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = binder_agent(&server, dir.path(), |_| {}).await;
    let mut at = t("2018-02-20T12:00:00Z");
    while at <= t("2018-02-20T17:40:00Z") {
        if at == t("2018-02-20T17:10:00Z") {
            server.set_unschedulable(VVSW, false);
        }
        harness::tick(&server, &mut a, at).await;
        at = at.add(SimDuration::secs(30));
    }
    let actions = a.pipeline.actions();
    assert_eq!(
        actions
            .iter()
            .filter(|x| x.kind == ActionKind::Cordon)
            .count(),
        1,
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|x| x.kind == ActionKind::Refused
            && x.at >= t("2018-02-20T17:10:00Z")
            && x.reason.contains("a human uncordoned")),
        "{actions:?}"
    );
    assert!(
        server.node(VVSW).unwrap()["spec"]
            .get("unschedulable")
            .is_none(),
        "the human's uncordon stands"
    );
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taint_and_opt_in_uncordon_after_a_healthy_period() {
    let server = FakeApiServer::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = binder_agent(&server, dir.path(), |o| {
        o.kube.taint = true;
        o.engine.uncordon_after = Some(SimDuration::mins(10));
    })
    .await;
    let mut at = t("2018-02-20T12:00:00Z");
    let mut tainted = false;
    while at <= t("2018-02-20T19:00:00Z") {
        for x in harness::tick(&server, &mut a, at).await {
            if x.kind == ActionKind::Cordon {
                let n = server.node(&x.node).unwrap();
                tainted = n["spec"]["taints"]
                    .as_array()
                    .is_some_and(|ts| ts.iter().any(|t| t["key"] == TAINT_KEY));
            }
        }
        at = at.add(SimDuration::secs(30));
    }
    assert!(tainted, "the cordon added the NoSchedule taint");
    let un: Vec<_> = a
        .pipeline
        .actions()
        .iter()
        .filter(|x| x.kind == ActionKind::Uncordon)
        .collect();
    assert_eq!(un.len(), 1, "{:?}", a.pipeline.actions());
    assert_eq!(un[0].node, VVSW);
    let n = server.node(VVSW).unwrap();
    assert!(n["spec"].get("unschedulable").is_none());
    assert!(n["spec"]["taints"]
        .as_array()
        .is_none_or(|ts| ts.is_empty()));
    assert!(n["metadata"]["annotations"]
        .as_object()
        .is_none_or(|m| m.keys().all(|k| !k.starts_with("nodewatch.io/"))));
    assert!(server
        .events_about_node(VVSW)
        .iter()
        .any(|e| e["reason"] == "NodewatchUncordon"));
    a.shutdown().await;
}

#[test]
fn strategic_merge_patch_replaces_taints_and_merges_conditions() {
    use fake_apiserver::patch::{merge, strategic};
    let ready = json!({"type": "Ready", "status": "True"});
    let mut node = json!({"spec": {"taints": [{"key": "a", "effect": "NoExecute"}]},
        "metadata": {"annotations": {"x": "1"}}, "status": {"conditions": [ready]}});
    strategic(
        &mut node,
        &json!({"spec": {"unschedulable": true, "taints": [{"key": "b", "effect": "NoSchedule"}]},
            "metadata": {"annotations": {"x": null, "y": "2"}},
            "status": {"conditions": [{"type": "DiskPressure", "status": "False"}]}}),
    );
    // Taints have no merge key (listType=atomic): replaced whole, as the
    // real API server does (tests/kube/real_cordon.rs).
    assert_eq!(
        node["spec"]["taints"],
        json!([{"key": "b", "effect": "NoSchedule"}])
    );
    assert_eq!(node["status"]["conditions"].as_array().unwrap().len(), 2);
    assert_eq!(node["metadata"]["annotations"], json!({"y": "2"}));
    strategic(
        &mut node,
        &json!({"spec": {"unschedulable": null},
            "status": {"conditions": [{"type": "DiskPressure", "$patch": "delete"}]}}),
    );
    assert_eq!(node["status"]["conditions"], json!([ready]));
    assert!(node["spec"].get("unschedulable").is_none());
    merge(&mut node, &json!({"spec": {"taints": []}}));
    assert_eq!(node["spec"]["taints"], json!([]));
}
