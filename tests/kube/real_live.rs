//! Live = replay on a real kube-apiserver (v1.37.2 with etcd;
//! `tests/testkit/src/kube_real.rs`): the Binder incident's vvsw window
//! (2018-02-20 16:30–17:10, 2,734 Events, one cordon) with its nodes and
//! pods created through the API, its Events written through the API in
//! scenario order at simulated time, and its metrics from a real
//! Prometheus backfilled with promtool, gives the agent — running as
//! nodewatch's ServiceAccount under the shipped RBAC, electing itself on
//! the shipped Lease — the same alerts, cordons and report as `replay` of
//! the same data, and the cordon is on the real server.
//!
//! The same replay, longer (16:30–18:00, the sick node's NodeUnhealthy
//! fires at 17:03 and resolves at 17:54:30), with `kubernetes.condition`
//! on, through a NodeHealthCheck-shaped consumer reading the real Node
//! objects: it would remediate the sick node, and only it, once the
//! condition held for the shipped example's duration.
//!
//! node-problem-detector's judgement is read live as in replay: the
//! `kernel-deadlock` scenario (KernelDeadlock as a node condition through
//! Prometheus, TaskHung Events through the API server) alerts and cordons
//! the same node at the same tick.
//!
//! And with a pool policy (`mode: alert` for the sick node's pool) or a
//! maintenance window in force, the same alert reaches the notifier while
//! the real node stays schedulable and the refusal names the policy or the
//! window.
//!
//! How the scenario gets into the real server, and what the real server
//! forced on that: `tests/testkit/src/kube_real_scenario.rs`.

use nodewatch_testkit as support;
use nodewatch_testkit::deploy;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::catalog::Catalog;
use nodewatch::model::{ActionKind, AlertState};
use nodewatch::time::Timestamp;
use nodewatch::{scenario, tools::replay};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// A scenario window on a fresh real server: Prometheus backfilled with
/// its metrics, its nodes and pods created, and one replica (options
/// changed by `tweak`) leading on the shipped Lease as nodewatch's
/// ServiceAccount.
struct Live {
    sc: scenario::Scenario,
    cp: ControlPlane,
    admin: kube::Client,
    agent: play::Replica,
    _prom: support::prometheus::Prometheus,
    _dir: tempfile::TempDir,
}

impl Live {
    async fn start(
        sc: scenario::Scenario,
        tweak: impl FnOnce(&mut nodewatch::live::AgentOptions),
    ) -> Live {
        let dir = tempfile::tempdir().unwrap();
        scenario::write_dir(&sc, dir.path()).expect("write scenario");
        let prom = support::prometheus::Prometheus::with_scenario(dir.path());
        let cp = ControlPlane::start();
        play::apply_base(&cp);
        let admin = play::client(cp.admin_kubeconfig()).await;
        play::load(&admin, &sc).await;
        let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
        let agent = play::start_replica_with(sa, &sc, &prom.url(), "replica-a", tweak).await;
        assert!(
            agent.leader().wait_leader(Duration::from_secs(30)).await,
            "the only replica takes the shipped Lease"
        );
        Live {
            sc,
            cp,
            admin,
            agent,
            _prom: prom,
            _dir: dir,
        }
    }
    /// Plays the whole window, tick by tick at simulated time; every cordon
    /// is checked on the server. Returns the actions taken.
    async fn play_all(&mut self) -> Vec<nodewatch::state::ActionRecord> {
        let (mut at, mut next, mut actions) = (self.sc.meta.start, 0, Vec::new());
        while at <= self.sc.meta.end {
            let taken =
                play::tick_all(&self.admin, &self.sc, &mut next, &mut [&mut self.agent], at).await;
            for c in taken.iter().filter(|c| c.kind == ActionKind::Cordon) {
                play::assert_cordon_visible(&self.cp, c, "replica-a");
            }
            actions.extend(taken);
            at = at.add(self.sc.meta.step);
        }
        assert_eq!(next, self.sc.events.len(), "every event written");
        actions
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_on_the_real_api_server_equals_replay() {
    let catalog = Arc::new(Catalog::builtin());
    let expected = replay::run(play::vvsw_window(), catalog, replay::Options::default()).await;
    assert!(
        expected
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Cordon),
        "the window cordons: {:?}",
        expected.actions
    );
    let mut live = Live::start(play::vvsw_window(), |_| {}).await;
    let actions = live.play_all().await;
    assert!(actions.iter().any(|c| c.kind == ActionKind::Cordon));
    let agent = live.agent;
    let sent = &agent.pipeline.notifier().inner.sent;
    assert_eq!(sent, &expected.notifications, "same alert notifications");
    assert_eq!(
        agent.pipeline.actions(),
        &expected.actions,
        "same cordons and refusals"
    );
    let snap = agent.snapshot();
    assert_eq!(
        snap.stats
            .source_errors
            .get("kubernetes/forbidden")
            .copied()
            .unwrap_or(0),
        0,
        "nothing outside the shipped RBAC was needed"
    );
    agent.shutdown().await;
}

/// The `NodewatchUnhealthy` conditions on the server: node → (status,
/// lastTransitionTime).
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

/// The shipped NodeHealthCheck's rule for nodewatch's condition: (type,
/// status, duration).
fn nhc_rule() -> (String, String, nodewatch::time::Duration) {
    let path = deploy::root().join("deploy/examples/nodehealthcheck.yaml");
    let doc: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rule = doc["spec"]["unhealthyConditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "NodewatchUnhealthy")
        .expect("the example acts on NodewatchUnhealthy")
        .clone();
    let duration =
        nodewatch::time::Duration::parse(rule["duration"].as_str().unwrap()).expect("duration");
    (
        rule["type"].as_str().unwrap().into(),
        rule["status"].as_str().unwrap().into(),
        duration,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_health_check_remediates_the_binder_sick_node_only() {
    let sc = play::window(
        play::t("2018-02-20T16:30:00Z"),
        play::t("2018-02-20T18:00:00Z"),
    );
    let Live {
        sc,
        cp: _cp,
        admin,
        mut agent,
        _prom,
        _dir,
    } = Live::start(sc, |o| o.kube.condition.enabled = true).await;
    let (kind, status, hold) = nhc_rule();
    assert_eq!(kind, "NodewatchUnhealthy");
    let nodes: Api<Node> = Api::all(admin.clone());

    // What the consumer sees, tick by tick at simulated time.
    let mut firing: BTreeSet<(String, String)> = BTreeSet::new();
    let mut true_since: BTreeMap<String, (Timestamp, String)> = BTreeMap::new();
    let mut remediate: BTreeMap<String, Timestamp> = BTreeMap::new();
    let (mut fired, mut cleared) = (BTreeMap::new(), BTreeMap::new());
    let (mut at, mut next, mut seen) = (sc.meta.start, 0, 0);
    while at <= sc.meta.end {
        play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await;
        let sent = &agent.pipeline.notifier().inner.sent;
        for n in &sent[seen..] {
            if n.alert.scope != "node" {
                continue;
            }
            let key = (n.alert.subject.clone(), n.alert.name.clone());
            if n.status == AlertState::Firing {
                firing.insert(key);
            } else {
                firing.remove(&key);
            }
        }
        seen = sent.len();
        let want: BTreeSet<String> = firing.iter().map(|(node, _)| node.clone()).collect();
        // The condition is written by its own task: bounded wait for it.
        let mut got = BTreeMap::new();
        for _ in 0..100 {
            got = conditions(&nodes).await;
            let sick: BTreeSet<String> = got
                .iter()
                .filter(|(_, (s, _))| *s == status)
                .map(|(n, _)| n.clone())
                .collect();
            if sick == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (node, (s, ltt)) in &got {
            if *s == status {
                assert!(
                    want.contains(node),
                    "{at}: {node} marked without a firing node alert"
                );
                let (since, first_ltt) = true_since.entry(node.clone()).or_insert_with(|| {
                    fired.insert(node.clone(), at);
                    (at, ltt.clone())
                });
                assert_eq!(
                    ltt, first_ltt,
                    "{at}: {node}'s lastTransitionTime moved while it held"
                );
                if at.0 - since.0 >= hold.0 {
                    remediate.entry(node.clone()).or_insert(at);
                }
            } else if true_since.remove(node).is_some() {
                cleared.insert(node.clone(), at);
            }
        }
        for node in &want {
            assert!(
                got.get(node).is_some_and(|(s, _)| *s == status),
                "{at}: {node} not marked"
            );
        }
        at = at.add(sc.meta.step);
    }
    agent.shutdown().await;

    let truth: BTreeSet<&str> = sc
        .meta
        .truth
        .faulty_nodes
        .iter()
        .map(|f| f.node.as_str())
        .collect();
    assert_eq!(remediate.len(), 1, "one node remediated: {remediate:?}");
    let (node, when) = remediate.iter().next().unwrap();
    assert!(
        truth.contains(node.as_str()),
        "{node} is the incident's sick node ({truth:?})"
    );
    let shift = sc.meta.start.0 - play::t("2018-02-20T16:30:00Z").0;
    assert_eq!(
        fired[node],
        Timestamp(play::t("2018-02-20T17:03:00Z").0 + shift),
        "marked when the alert fired"
    );
    assert_eq!(
        when.0 - fired[node].0,
        hold.0,
        "acted after the example's duration"
    );
    assert_eq!(
        cleared.get(node),
        Some(&Timestamp(play::t("2018-02-20T17:54:30Z").0 + shift)),
        "cleared when the alert resolved"
    );
}

/// Replays the vvsw window on a fresh real server with `governor` (YAML of
/// the `governor:` section); returns the actions, whether NodeUnhealthy
/// fired for `node`, and whether the server shows `node` cordoned.
async fn vvsw_with_governor(
    governor: &str,
    node: &str,
) -> (Vec<nodewatch::state::ActionRecord>, bool, bool) {
    let settings: nodewatch::act::GovernorSettings =
        serde_yaml::from_str(governor).expect("governor YAML");
    let mut live = Live::start(play::vvsw_window(), |o| o.governor = settings).await;
    let actions = live.play_all().await;
    let Live { cp, agent, .. } = live;
    let fired = agent.pipeline.notifier().inner.sent.iter().any(|n| {
        n.alert.name == "NodeUnhealthy" && n.alert.subject == node && n.status == AlertState::Firing
    });
    agent.shutdown().await;
    let stored = cp.get("node", None, node).expect("node");
    (actions, fired, stored["spec"]["unschedulable"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_policy_or_a_maintenance_window_keeps_the_alert_and_holds_the_cordon() {
    let sick = "gke-prod-a-ssd-pool-32-134a959a-vvsw";
    let (actions, fired, cordoned) = vvsw_with_governor(
        "pools: [{name: ssd, selector: {pool: [ssd-pool-32]}, mode: alert}]",
        sick,
    )
    .await;
    assert!(fired, "alert mode still alerts");
    assert!(!cordoned, "alert mode never cordons the real node");
    assert!(
        actions.iter().all(|a| a.kind != ActionKind::Cordon),
        "{actions:?}"
    );
    let (actions, fired, cordoned) = vvsw_with_governor(
        "maintenance_windows: [{name: patching, schedule: '* * * * *', duration: 1h, timezone: Europe/Berlin, reason: kernel updates}]",
        sick,
    )
    .await;
    assert!(fired, "a window holds cordons, not alerts");
    assert!(!cordoned, "held: the real node stays schedulable");
    let refusal = actions
        .iter()
        .find(|a| a.node == sick && a.kind == ActionKind::Refused)
        .expect("the held cordon is reported");
    assert!(
        refusal.reason.contains("maintenance window patching")
            && refusal.reason.contains("kernel updates"),
        "{}",
        refusal.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_problem_detector_findings_act_live_as_in_replay() {
    let window = || {
        play::window_of(
            "kernel-deadlock",
            play::t("2024-03-05T09:00:00Z"),
            play::t("2024-03-05T10:40:00Z"),
        )
    };
    let catalog = Arc::new(Catalog::builtin());
    let expected = replay::run(window(), catalog, replay::Options::default()).await;
    let sick = &window().meta.truth.faulty_nodes[0].node;
    assert!(
        expected
            .notifications
            .iter()
            .any(|n| &n.alert.subject == sick),
        "replay alerts on the deadlocked node: {:?}",
        expected.notifications
    );
    let mut live = Live::start(window(), |_| {}).await;
    let actions = live.play_all().await;
    let agent = live.agent;
    assert_eq!(
        &agent.pipeline.notifier().inner.sent,
        &expected.notifications,
        "same alerts"
    );
    assert_eq!(actions, expected.actions, "same actions");
    agent.shutdown().await;
}
