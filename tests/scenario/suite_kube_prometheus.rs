//! What users have today, measured: the small suite scenarios backfilled
//! into a real Prometheus (the shared test harness), kube-prometheus' node
//! and kubelet rules range-queried with their `for` applied, and nodewatch
//! replayed on the same scenarios. nodewatch must detect every fault
//! sooner (median per scenario, a miss counting as the whole window), with
//! no more false node alerts.

use nodewatch_testkit as support;

use nodewatch::catalog::Catalog;
use nodewatch::scenario::{self, suite};
use nodewatch::tools::replay::Options;
use nodewatch::tools::suite::{kube_prometheus, run_one, Baseline, SuiteReport};
use std::sync::Arc;
use support::prometheus::Prometheus;

#[test]
fn nodewatch_detects_sooner_than_kube_prometheus() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names = [
        suite::network_loss::NAME,
        suite::flapping_node::NAME,
        suite::thread_leak::NAME,
        suite::cluster_overload::NAME,
        suite::rolling_deploy::NAME,
        suite::metrics_gone::NAME,
    ];
    let mut rows = Vec::new();
    for name in names {
        let sc = scenario::builtin(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        scenario::write_dir(&sc, dir.path()).unwrap();
        let prom = Prometheus::with_scenario(dir.path());
        let eval = rt
            .block_on(kube_prometheus::evaluate(&prom.url(), &sc))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", prom.log()));
        // Every rule was queried, whether it fired or not.
        assert_eq!(eval.fired.len(), kube_prometheus::rules().len());
        let baseline = Baseline::new(eval, &sc.meta.truth);
        let catalog = Arc::new(Catalog::builtin());
        let mut row = rt.block_on(run_one(sc, catalog, Options::default()));
        row.kube_prometheus = Some(baseline);
        rows.push(row);
    }
    let report = SuiteReport { rows };
    let table = report.table();
    for r in &report.rows {
        let b = r.kube_prometheus.as_ref().unwrap();
        assert!(r.false_alerts <= b.false_alerts, "{}\n{table}", r.scenario);
        match (r.median_delay(), b.median_delay()) {
            (Some(ours), Some(theirs)) => {
                assert!(ours < theirs, "{}: {ours} vs {theirs}\n{table}", r.scenario)
            }
            (None, None) => {}
            other => panic!("{}: {other:?}\n{table}", r.scenario),
        }
    }
    // The ones the brief expects kube-prometheus to miss outright.
    let row = |n: &str| report.rows.iter().find(|r| r.scenario == n).unwrap();
    let kp = |n: &str| row(n).kube_prometheus.clone().unwrap();
    assert!(
        kp(suite::thread_leak::NAME).faulty[0].delay_s.is_none(),
        "{table}"
    );
    assert!(
        kp(suite::cluster_overload::NAME).incidents[0]
            .delay_s
            .is_none(),
        "{table}"
    );
    // It sees the flapping node, later.
    assert!(kp(suite::flapping_node::NAME)
        .fired
        .contains_key("KubeNodeReadinessFlapping"));
    println!("{table}");
}
