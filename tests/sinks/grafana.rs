//! Grafana annotations through the real pipeline: the built-in Binder
//! scenario runs with the [`Dispatcher`] as its notifier, and a fake Grafana
//! API on 127.0.0.1 (no Grafana package exists on these machines) receives
//! one annotation per cordon and refusal and a region per cluster incident
//! (created when it fires, closed by PATCH when it resolves), each with the
//! service-account token.

use nodewatch::act::sinks::Dispatcher;
use nodewatch::act::{Governor, GovernorSettings, InMemoryCordoner};
use nodewatch::catalog::Catalog;
use nodewatch::collect::replay::ReplaySource;
use nodewatch::engine::{Engine, Settings};
use nodewatch::model::ActionKind;
use nodewatch::pipeline::Pipeline;
use nodewatch::time::SystemClock;
use receiver::Receiver;
use std::sync::Arc;
use std::time::Duration;
use support::sinks_config;

use nodewatch_testkit::receiver;
use nodewatch_testkit::sinks as support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordons_refusals_and_cluster_incidents_become_annotations() {
    nodewatch::act::sinks::install_crypto_provider();
    let grafana = Receiver::start(&[]).await;
    std::env::set_var("NODEWATCH_TEST_GRAFANA_TOKEN", "glsa_test");
    let cfg = sinks_config(&format!(
        "sinks:\n  grafana:\n    - url: {}\n      token: {{env: NODEWATCH_TEST_GRAFANA_TOKEN}}\n      \
         dashboard_uid: nw\n      tags: [nodewatch, test]\n",
        grafana.url
    ));
    let dispatcher = Dispatcher::start(&cfg, Arc::new(SystemClock)).expect("start");

    let scenario = nodewatch::scenario::builtin("binder").expect("built-in scenario");
    let meta = scenario.meta.clone();
    let settings = Settings {
        step: meta.step,
        ..Settings::default()
    };
    let engine = Engine::new(Arc::new(Catalog::builtin()), settings);
    let governor = Governor::new(GovernorSettings::default());
    let mut p = Pipeline::new(engine, governor, dispatcher, InMemoryCordoner::default());
    let mut source = ReplaySource::new(scenario);
    let mut at = meta.start;
    while at <= meta.end {
        p.step(&mut source, at).await;
        at = at.add(meta.step);
    }
    let actions = p.actions().to_vec();
    assert!(
        actions.iter().any(|a| a.kind == ActionKind::Cordon),
        "the scenario cordons"
    );
    assert!(
        actions.iter().any(|a| a.kind == ActionKind::Refused),
        "the scenario refuses"
    );
    assert!(
        p.notifier_mut().flush(Duration::from_secs(30)).await,
        "delivered"
    );

    let seen = grafana.delivered();
    for s in &seen {
        assert_eq!(s.headers["authorization"], "Bearer glsa_test");
    }
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    let patches: Vec<_> = seen.iter().filter(|s| s.method == "PATCH").collect();
    for a in &actions {
        let found = posts.iter().any(|s| {
            let v = s.json();
            v["time"] == a.at.0
                && v["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == a.kind.as_str())
                && v["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| *t == format!("node={}", a.node))
                && v["text"].as_str().unwrap().contains(&a.reason)
                && v["dashboardUID"] == "nw"
        });
        assert!(found, "no annotation for {a:?}");
    }
    let opened: Vec<_> = posts
        .iter()
        .filter(|s| {
            s.json()["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "cluster-incident")
        })
        .collect();
    assert!(
        opened.len() >= 2,
        "cluster incidents annotated: {}",
        opened.len()
    );
    // Every incident that resolved closed its own region.
    assert!(!patches.is_empty());
    for s in &patches {
        let id: usize = s
            .path
            .trim_start_matches("/api/annotations/")
            .parse()
            .expect("id");
        // The fake answers request n with `{"id": n}`.
        let opening = &grafana.seen()[id - 1];
        assert_eq!(opening.method, "POST");
        let (open, close) = (opening.json(), s.json());
        assert_eq!(open["time"], close["time"]);
        assert!(close["timeEnd"].as_i64() > close["time"].as_i64());
    }
    assert_eq!(posts.len(), actions.len() + opened.len());
    let stats = p.snapshot(None).stats.sinks;
    let g = &stats["grafana/grafana"];
    assert_eq!(g.sent as usize, seen.len(), "{g:?}");
    assert_eq!((g.failed, g.dropped), (0, 0));
}
