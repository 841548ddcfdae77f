//! What a new leader does with the NodeConditions it finds, on a real
//! kube-apiserver (v1.37.2 with etcd; `tests/testkit/src/kube_real.rs`) as
//! nodewatch's ServiceAccount under the shipped RBAC (`src/live/restart.rs`):
//!
//! - after a restart, a `NodewatchUnhealthy=True` left on a node the new
//!   leader judges healthy is cleared once it has led for its settling
//!   time, while the node still sick (`kernel-deadlock`) keeps its
//!   condition with the same `lastTransitionTime`;
//! - a maintenance window holds the condition's `True` as it holds the
//!   cordon: it is written when the window ends.
//!
//! (Unfinished drains: `kube_real_resume.rs`.)

use nodewatch_testkit as support;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::act::GovernorSettings;
use nodewatch::catalog::Catalog;
use nodewatch::model::AlertState;
use nodewatch::time::Timestamp;
use nodewatch::{scenario, tools::replay};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `NodewatchUnhealthy` per node: (status, lastTransitionTime).
async fn conditions(nodes: &Api<Node>) -> BTreeMap<String, (String, String)> {
    let list = nodes
        .list(&ListParams::default())
        .await
        .expect("list nodes");
    let mut out = BTreeMap::new();
    for n in list.items {
        let name = n.metadata.name.clone().unwrap_or_default();
        let conds = n.status.and_then(|s| s.conditions).unwrap_or_default();
        if let Some(c) = conds.into_iter().find(|c| c.type_ == "NodewatchUnhealthy") {
            let ltt = c
                .last_transition_time
                .map(|t| format!("{:?}", t.0))
                .unwrap_or_default();
            out.insert(name, (c.status, ltt));
        }
    }
    out
}

/// A scenario window on a fresh real server, with `before` run on the
/// server before the replica starts; the replica has the condition on and
/// the governor of YAML `governor`.
async fn start(
    sc: &scenario::Scenario,
    governor: &str,
    before: impl FnOnce(&ControlPlane),
) -> (
    ControlPlane,
    kube::Client,
    play::Replica,
    support::prometheus::Prometheus,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    scenario::write_dir(sc, dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(dir.path());
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, sc).await;
    before(&cp);
    let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let gov: GovernorSettings = serde_yaml::from_str(governor).expect("governor");
    let agent = play::start_replica_with(sa, sc, &prom.url(), "replica-b", |o| {
        o.kube.condition.enabled = true;
        o.governor = gov;
    })
    .await;
    assert!(agent.leader().wait_leader(Duration::from_secs(30)).await);
    (cp, admin, agent, prom, dir)
}

/// Polls (at most 10 s) until `f` holds for the conditions; returns them.
async fn settle(
    nodes: &Api<Node>,
    f: impl Fn(&BTreeMap<String, (String, String)>) -> bool,
) -> BTreeMap<String, (String, String)> {
    let mut got = conditions(nodes).await;
    for _ in 0..100 {
        if f(&got) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = conditions(nodes).await;
    }
    got
}

const LEFT_LTT: &str = "2026-12-01T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_leftover_condition_clears_and_the_sick_node_keeps_its_own() {
    let sc = play::window_of(
        "kernel-deadlock",
        play::t("2024-03-05T09:40:00Z"),
        play::t("2024-03-05T10:10:00Z"),
    );
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    let healthy = sc
        .nodes
        .iter()
        .map(|n| n.metadata.name.clone())
        .find(|n| *n != sick)
        .unwrap();
    // What the leader before the restart left: both nodes marked.
    let (cp, admin, mut agent, _prom, _dir) = start(&sc, "{}", |cp| {
        for n in [&sick, &healthy] {
            let c = json!({"status": {"conditions": [{"type": "NodewatchUnhealthy", "status": "True",
                "reason": "NodeUnhealthy", "message": "left by the leader before the restart",
                "lastTransitionTime": LEFT_LTT, "lastHeartbeatTime": LEFT_LTT}]}});
            cp.kubectl_ok(
                &["patch", "node", n, "--subresource=status", "--type=strategic", "-p", &c.to_string()],
                None,
            );
        }
    })
    .await;
    let nodes: Api<Node> = Api::all(admin.clone());
    let before = conditions(&nodes).await;
    let left = before[&sick].1.clone();
    assert_eq!(before[&healthy].0, "True");
    let settle_at = sc.meta.start.add(nodewatch::time::Duration(
        (12 * 60 + 30) * 1000, // warm-up 10m + NodeUnhealthy's for 2m + a tick
    ));
    let (mut at, mut next, mut cleared) = (sc.meta.start, 0, None);
    while at <= sc.meta.end {
        play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await;
        let got = if cleared.is_none() && at >= settle_at {
            settle(&nodes, |g| g[&healthy].0 == "False").await
        } else {
            conditions(&nodes).await
        };
        assert_eq!(
            got[&sick],
            ("True".to_string(), left.clone()),
            "{at}: the sick node keeps its condition and its transition time"
        );
        if got[&healthy].0 == "False" {
            cleared.get_or_insert(at);
        } else {
            assert!(cleared.is_none(), "{at}: cleared once, for good");
        }
        for (n, (s, _)) in &got {
            assert!(
                n == &sick || n == &healthy || s != "True",
                "{at}: {n} marked"
            );
        }
        at = at.add(sc.meta.step);
    }
    let cleared = cleared.expect("the leftover condition of the healthy node is cleared");
    assert!(
        cleared >= settle_at,
        "not before the settling time: {cleared}"
    );
    assert!(
        cleared.0 - settle_at.0 <= 60_000,
        "soon after it: {cleared}"
    );
    // The sick node's alert fired again in the new term (nothing written).
    assert!(agent.pipeline.notifier().inner.sent.iter().any(|n| {
        n.alert.subject == sick && n.alert.name == "NodeUnhealthy" && n.status == AlertState::Firing
    }));
    agent.shutdown().await;
    drop(cp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_holds_the_condition_until_it_ends() {
    let window = || {
        play::window_of(
            "kernel-deadlock",
            play::t("2024-03-05T09:15:00Z"),
            play::t("2024-03-05T09:50:00Z"),
        )
    };
    let sc = window();
    let sick = sc.meta.truth.faulty_nodes[0].node.clone();
    // 09:30-09:40 UTC on the (shifted) Tuesday: the deadlock's alert fires
    // inside it.
    let governor = "maintenance_windows: [{name: patching, schedule: '30 9 * * TUE', duration: 10m, reason: kernel updates}]";
    let opts = replay::Options {
        governor: serde_yaml::from_str(governor).unwrap(),
        ..Default::default()
    };
    let expected = replay::run(window(), Arc::new(Catalog::builtin()), opts).await;
    let shift = sc.meta.start.0 - play::t("2024-03-05T09:15:00Z").0;
    let (from, to) = (
        Timestamp(play::t("2024-03-05T09:30:00Z").0 + shift),
        Timestamp(play::t("2024-03-05T09:40:00Z").0 + shift),
    );
    let fired = expected
        .notifications
        .iter()
        .find(|n| n.alert.subject == sick && n.status == AlertState::Firing)
        .map(|n| n.alert.fired_at.unwrap())
        .expect("the deadlock is alerted on");
    assert!(
        from <= fired && fired < to,
        "fires inside the window: {fired}"
    );

    let (cp, admin, mut agent, _prom, _dir) = start(&sc, governor, |_| {}).await;
    let nodes: Api<Node> = Api::all(admin.clone());
    let (mut at, mut next, mut marked) = (sc.meta.start, 0, None);
    while at <= sc.meta.end {
        play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await;
        let want = at >= fired && at >= to;
        let got = settle(&nodes, |g| {
            g.get(&sick).is_some_and(|c| c.0 == "True") == want
        })
        .await;
        let is = got.get(&sick).is_some_and(|c| c.0 == "True");
        assert_eq!(is, want, "{at}: the window holds the condition until {to}");
        if is {
            marked.get_or_insert(at);
        }
        at = at.add(sc.meta.step);
    }
    assert_eq!(marked, Some(to), "written when the window ended");
    agent.shutdown().await;
    drop(cp);
}
