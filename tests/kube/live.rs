//! Live path = replay: the built-in Binder scenario served through the
//! fake API server (nodes and pods listed, events delivered by watch at
//! simulated time, RBAC from deploy/base/rbac.yaml enforced) plus its
//! metrics from a real Prometheus backfilled with promtool gives the same
//! alerts, cordons, refusals and report as `replay`, and each cordon is
//! visible on the server: `spec.unschedulable`, nodewatch's annotations
//! and a Warning Event on the node.

use nodewatch_testkit as support;
use nodewatch_testkit::fake_apiserver;

use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch::catalog::Catalog;
use nodewatch::collect::prometheus::{PrometheusCollector, PrometheusConfig};
use nodewatch::live::{AgentOptions, CORDONED_BY};
use nodewatch::model::ActionKind;
use nodewatch::tools::report::Report;
use nodewatch::{scenario, tools::replay};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_path_equals_replay() {
    // Nodes in name order, as an API server lists them (the core lays out
    // per-node state in first-seen order, so the replay gets the same).
    let sc = fake_apiserver::harness::binder();
    let scenario_dir = tempfile::tempdir().unwrap();
    scenario::write_dir(&sc, scenario_dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(scenario_dir.path());
    let catalog = Arc::new(Catalog::builtin());
    let expected = replay::run(sc.clone(), catalog.clone(), replay::Options::default()).await;
    assert!(
        expected
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Cordon),
        "the scenario cordons"
    );

    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = AgentOptions {
        elect: true,
        ..Default::default()
    };
    opts.engine.step = sc.meta.step;
    let metrics = PrometheusCollector::new(&PrometheusConfig::new(prom.url())).expect("collector");
    let mut agent = harness::start(&server, dir.path(), catalog, metrics, opts, "replica-a").await;
    assert!(
        agent.leader().wait_leader(Duration::from_secs(10)).await,
        "the only replica leads"
    );

    let mut at = sc.meta.start;
    let mut checked = 0;
    while at <= sc.meta.end {
        for c in harness::tick(&server, &mut agent, at).await {
            if c.kind == ActionKind::Cordon {
                // Checked at once: the Event expires after an hour, as
                // the real server's event TTL does.
                assert_cordon_visible(&server, &c);
                checked += 1;
            }
        }
        at = at.add(sc.meta.step);
    }
    assert!(checked > 0);
    let sent = &agent.pipeline.notifier().inner.sent;
    let actions = agent.pipeline.actions();
    assert_eq!(
        sent.len(),
        expected.notifications.len(),
        "same number of alert notifications"
    );
    for (a, b) in sent.iter().zip(&expected.notifications) {
        assert_eq!(a, b);
    }
    assert_eq!(actions, &expected.actions, "same cordons and refusals");
    let report = Report::build(&sc.meta, sent, actions);
    assert_eq!(
        serde_json::to_value(&report).unwrap(),
        serde_json::to_value(expected.report()).unwrap(),
        "same report"
    );

    let forbidden: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert!(
        forbidden.is_empty(),
        "nothing outside the shipped RBAC was needed: {forbidden:?}"
    );
    agent.shutdown().await;
}

/// The cordon is on the server: unschedulable, annotated, with an Event.
fn assert_cordon_visible(server: &FakeApiServer, c: &nodewatch::state::ActionRecord) {
    let node = server.node(&c.node).expect("node");
    assert_eq!(
        node["spec"]["unschedulable"], true,
        "{} unschedulable",
        c.node
    );
    let ann = &node["metadata"]["annotations"];
    assert_eq!(ann[CORDONED_BY], "replica-a");
    assert_eq!(ann["nodewatch.io/rule"], c.rule.as_str());
    assert_eq!(ann["nodewatch.io/at"], c.at.to_rfc3339().as_str());
    assert_eq!(ann["nodewatch.io/explanation"], c.reason.as_str());
    assert_eq!(
        ann["nodewatch.io/score"],
        format!("{:.3}", c.score).as_str()
    );
    let events = server.events_about_node(&c.node);
    let ev = events
        .iter()
        .find(|e| e["reason"] == "NodewatchCordon")
        .unwrap_or_else(|| panic!("an Event about the cordon of {}", c.node));
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["involvedObject"]["uid"], node["metadata"]["uid"]);
    assert_eq!(ev["metadata"]["namespace"], "default");
    assert!(ev["message"].as_str().unwrap_or("").contains(&c.rule));
}
