//! Live = replay on a real kube-apiserver (v1.37.2 with etcd;
//! `tests/support/kube_real.rs`): the Binder incident's vvsw window
//! (2018-02-20 16:30–17:10, 2,734 Events, one cordon) with its nodes and
//! pods created through the API, its Events written through the API in
//! scenario order at simulated time, and its metrics from a real
//! Prometheus backfilled with promtool, gives the agent — running as
//! nodewatch's ServiceAccount under the shipped RBAC, electing itself on
//! the shipped Lease — the same alerts, cordons and report as `replay` of
//! the same data, and the cordon is on the real server.
//!
//! How the scenario gets into the real server, and what the real server
//! forced on that: `tests/support/kube_real_scenario.rs`.

#[path = "support/deploy.rs"]
mod deploy;
#[path = "support/kube_real.rs"]
mod kube_real;
#[path = "support/kube_real_scenario.rs"]
mod kube_real_scenario;
mod support {
    pub mod prometheus;
}

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::catalog::Catalog;
use nodewatch::model::ActionKind;
use nodewatch::{replay, scenario};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_on_the_real_api_server_equals_replay() {
    let sc = play::vvsw_window();
    let dir = tempfile::tempdir().unwrap();
    scenario::write_dir(&sc, dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(dir.path());
    let catalog = Arc::new(Catalog::builtin());
    let expected = replay::run(sc.clone(), catalog.clone(), replay::Options::default()).await;
    assert!(
        expected
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Cordon),
        "the window cordons: {:?}",
        expected.actions
    );

    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, &sc).await;
    let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let mut agent = play::start_replica(sa, &sc, &prom.url(), "replica-a").await;
    assert!(
        agent.leader().wait_leader(Duration::from_secs(30)).await,
        "the only replica takes the shipped Lease"
    );

    let (mut at, mut next, mut cordons) = (sc.meta.start, 0, 0);
    while at <= sc.meta.end {
        for c in play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await {
            if c.kind == ActionKind::Cordon {
                play::assert_cordon_visible(&cp, &c, "replica-a");
                cordons += 1;
            }
        }
        at = at.add(sc.meta.step);
    }
    assert!(cordons > 0);
    assert_eq!(next, sc.events.len(), "every event written");
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
