//! Per-pool hub selectors and thresholds live on a real kube-apiserver
//! (v1.37.2 with etcd; `tests/testkit/src/kube_real.rs`): the `hub-renamed`
//! scenario's window 08:30–09:30 (a Zero to JupyterHub hub on the
//! `default-pool`, an overloading `jupyterhub-…` hub on the
//! `research-pool`) with its nodes and pods created through the API, its
//! Events written at simulated time and its metrics from a backfilled
//! Prometheus. Two pool policies, each with its own `hub` selector and one
//! with its own `HubCPUHigh` threshold: the agent — which learns where
//! each hub pod runs from its own Pod watch — sends each pool its hub's
//! alert, exactly as replay of the same data does.

use nodewatch_testkit as support;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::act::GovernorSettings;
use nodewatch::catalog::Catalog;
use nodewatch::model::AlertState;
use nodewatch::scenario::suite::hub_renamed;
use nodewatch::{scenario, tools::replay};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const POOLS: &str = "
pools:
  - name: teaching
    selector: {pool: [default-pool]}
    hub: {pod: '=~hub-.*', container: hub}
    thresholds:
      HubCPUHigh: {value_above: 0.1}
  - name: research
    selector: {pool: [research-pool]}
    hub: {pod: '=~jupyterhub-.*', container: jupyterhub}
";

fn hubs_alerted(sent: &[nodewatch::act::Notification]) -> BTreeSet<String> {
    sent.iter()
        .filter(|n| n.alert.name == "HubCPUHigh" && n.status == AlertState::Firing)
        .filter_map(|n| n.alert.labels.get("pod").cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pool_gets_its_own_hubs_alert_live_as_in_replay() {
    let window = || {
        play::window_of(
            hub_renamed::NAME,
            play::t("2024-03-05T08:30:00Z"),
            play::t("2024-03-05T09:30:00Z"),
        )
    };
    let governor: GovernorSettings = serde_yaml::from_str(POOLS).expect("governor");
    let opts = replay::Options {
        governor: governor.clone(),
        ..Default::default()
    };
    let expected = replay::run(window(), Arc::new(Catalog::builtin()), opts).await;
    let both: BTreeSet<String> = [hub_renamed::RESEARCH_HUB, hub_renamed::TEACHING_HUB]
        .map(String::from)
        .into();
    assert_eq!(hubs_alerted(&expected.notifications), both);

    let sc = window();
    let dir = tempfile::tempdir().unwrap();
    scenario::write_dir(&sc, dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(dir.path());
    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, &sc).await;
    let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let mut agent =
        play::start_replica_with(sa, &sc, &prom.url(), "replica-a", |o| o.governor = governor)
            .await;
    assert!(agent.leader().wait_leader(Duration::from_secs(30)).await);
    let (mut at, mut next) = (sc.meta.start, 0);
    while at <= sc.meta.end {
        play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await;
        at = at.add(sc.meta.step);
    }
    let sent = &agent.pipeline.notifier().inner.sent;
    assert_eq!(hubs_alerted(sent), both, "each pool's hub, live");
    assert_eq!(sent, &expected.notifications, "the same alerts as replay");
    assert!(
        sent.iter().all(|n| n.alert.scope != "node"),
        "no node blamed"
    );
    agent.shutdown().await;
}
