//! Watch faults on the real server (kube-apiserver v1.37.2 with etcd;
//! `tests/testkit/src/kube_real.rs`), through a TCP proxy in front of it
//! (`tests/testkit/src/tcp_proxy.rs`): every connection cut mid-stream, then
//! the server unreachable while Events are written and etcd is compacted,
//! so the resumed watches get a real 410 Gone and relist, then every
//! byte held 300 ms around the cordon. Over the Binder
//! incident's vvsw window (`tests/testkit/src/kube_real_scenario.rs`) the agent
//! still sends exactly replay's alerts and makes replay's cordon: no Event
//! lost, none counted twice.
//!
//! The API server runs without its watch cache (a resumed watch goes to
//! etcd) and compacts etcd every second, so an outage of a few seconds
//! with writes in it is enough for 410, as on a busy cluster after a
//! longer one.

use nodewatch_testkit as support;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;
use nodewatch_testkit::tcp_proxy;

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::catalog::Catalog;
use nodewatch::model::ActionKind;
use nodewatch::time::Duration as SimDuration;
use nodewatch::{scenario, tools::replay};
use std::sync::Arc;
use std::time::Duration;
use tcp_proxy::TcpProxy;

/// Waits (bounded) until a watch from resourceVersion `rv` is answered
/// with 410: etcd has been compacted past it.
async fn wait_compacted(admin: &kube::Client, rv: u64) {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Event;
    use kube::api::{Api, WatchEvent, WatchParams};
    let api: Api<Event> = Api::all(admin.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let wp = WatchParams::default().timeout(1);
        if let Ok(stream) = api.watch(&wp, &rv.to_string()).await {
            let first = Box::pin(stream).next().await;
            if let Some(Ok(WatchEvent::Error(e))) = first {
                if e.code == 410 {
                    return;
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "etcd never compacted past resourceVersion {rv}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_survive_cuts_and_a_real_410_without_losing_events() {
    let sc = play::vvsw_window();
    let dir = tempfile::tempdir().unwrap();
    scenario::write_dir(&sc, dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(dir.path());
    let expected = replay::run(
        sc.clone(),
        Arc::new(Catalog::builtin()),
        replay::Options::default(),
    )
    .await;

    let cp = ControlPlane::start_with(&["--watch-cache=false", "--etcd-compaction-interval=1s"]);
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, &sc).await;
    let proxy = TcpProxy::start(cp.addr());
    let via = format!("https://{}", proxy.addr());
    let sa = play::client(cp.service_account_kubeconfig_via("nodewatch", "nodewatch", &via)).await;
    let mut agent = play::start_replica(sa, &sc, &prom.url(), "replica-a").await;
    assert!(agent.leader().wait_leader(Duration::from_secs(30)).await);

    let cut_at = sc.meta.start.add(SimDuration::mins(10));
    let outage_at = sc.meta.start.add(SimDuration::mins(20));
    let (slow_at, fast_at) = (
        sc.meta.start.add(SimDuration::mins(32)),
        sc.meta.start.add(SimDuration::mins(34)),
    );
    let (mut at, mut next) = (sc.meta.start, 0);
    let mut lists_before = None;
    while at <= sc.meta.end {
        if at == cut_at {
            proxy.cut();
        }
        if at == slow_at {
            // Every chunk each way held 300 ms from 17:02 to 17:04: the
            // cordon (17:03) and its Event go through the slow path.
            proxy.set_delay(Duration::from_millis(300));
        }
        if at == fast_at {
            proxy.set_delay(Duration::ZERO);
        }
        if at == outage_at {
            lists_before = Some(agent.lists());
            proxy.set_down(true);
            // Written while the agent cannot see the server; then etcd is
            // compacted past everything it saw (the API server compacts
            // to what it saw a second before, every second).
            let seen = agent.source.stats()[0].rv;
            play::release(&admin, &sc, &mut next, at).await;
            wait_compacted(&admin, seen).await;
            proxy.set_down(false);
        }
        for c in play::tick_all(&admin, &sc, &mut next, &mut [&mut agent], at).await {
            if c.kind == ActionKind::Cordon {
                play::assert_cordon_visible(&cp, &c, "replica-a");
            }
        }
        at = at.add(sc.meta.step);
    }
    let before = lists_before.expect("the outage happened");
    let after = agent.lists();
    let events = &agent.source.stats()[0];
    assert!(
        after[0] > before[0]
            && events
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("too old")),
        "the event watch got the real 410 (Expired, too old resourceVersion) and relisted: \
         lists {before:?} -> {after:?}, {events:?}"
    );
    assert_eq!(
        agent.pipeline.notifier().inner.sent,
        expected.notifications,
        "exactly replay's alerts: no Event lost or counted twice"
    );
    assert_eq!(
        agent.pipeline.actions(),
        expected.actions,
        "replay's cordon and refusals"
    );
    assert!(agent.leader().is_leader(), "the Lease survived the outage");
    agent.shutdown().await;
}
