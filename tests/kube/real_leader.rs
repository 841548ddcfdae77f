//! Two replicas on the real server's Lease (kube-apiserver v1.37.2 with
//! etcd; `tests/testkit/src/kube_real.rs`), as nodewatch's ServiceAccount under
//! the shipped RBAC, over the Binder incident's vvsw window written through
//! the API (`tests/testkit/src/kube_real_scenario.rs`): exactly one leads and
//! acts; when it dies without releasing, the other takes over once the
//! real Lease expires, and together they send exactly replay's alerts and
//! make replay's cordon once; a graceful shutdown releases the Lease, so a
//! third replica takes over well inside the lease duration. The pause
//! annotation an operator puts on the real Lease (`kubectl annotate`)
//! stops all actions until it is removed.

use nodewatch_testkit as support;
use nodewatch_testkit::kube_real;
use nodewatch_testkit::kube_real_scenario;

use kube_real::ControlPlane;
use kube_real_scenario as play;
use nodewatch::catalog::Catalog;
use nodewatch::live::{PAUSED_ANNOTATION, PAUSE_REASON_ANNOTATION};
use nodewatch::model::ActionKind;
use nodewatch::{scenario, tools::replay};
use std::sync::Arc;
use std::time::Duration;

/// The real Lease's holder, as the admin reads it.
fn holder(cp: &ControlPlane) -> String {
    let lease = cp
        .get("lease", Some("nodewatch"), "nodewatch")
        .expect("the shipped Lease");
    lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits (bounded) until `r` has read the Lease and seen `holder` hold it.
async fn wait_sees_holder(r: &play::Replica, holder: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while r.leader().holder().as_deref() != Some(holder) {
        assert!(
            std::time::Instant::now() < deadline,
            "never saw {holder} hold the Lease: {:?}",
            r.leader().holder()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_acts_a_crash_hands_over_and_a_release_is_quick() {
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

    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, &sc).await;
    let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let mut a = play::start_replica(sa.clone(), &sc, &prom.url(), "replica-a").await;
    assert!(a.leader().wait_leader(Duration::from_secs(30)).await);
    let mut b = play::start_replica(sa.clone(), &sc, &prom.url(), "replica-b").await;
    // b looks at the Lease every retry period (1 s).
    wait_sees_holder(&b, "replica-a").await;
    assert!(!b.leader().is_leader(), "exactly one replica leads");
    assert_eq!(holder(&cp), "replica-a");

    // Both score the first half; only a acts.
    let half = sc.meta.start.add(nodewatch::time::Duration::mins(20));
    let (mut at, mut next) = (sc.meta.start, 0);
    while at < half {
        play::tick_all(&admin, &sc, &mut next, &mut [&mut a, &mut b], at).await;
        at = at.add(sc.meta.step);
    }
    let a_sent = a.pipeline.notifier().inner.sent.clone();
    assert!(
        b.pipeline.notifier().inner.sent.is_empty(),
        "the standby sent nothing"
    );
    assert!(b
        .pipeline
        .actions()
        .iter()
        .all(|x| x.kind == ActionKind::Refused));

    // a dies without releasing: b takes over once the real Lease (15 s)
    // has expired, and plays the rest, the cordon included.
    a.kill();
    assert!(
        b.leader().wait_leader(Duration::from_secs(25)).await,
        "the standby takes over after the Lease expires"
    );
    assert_eq!(holder(&cp), "replica-b");
    while at <= sc.meta.end {
        for c in play::tick_all(&admin, &sc, &mut next, &mut [&mut b], at).await {
            if c.kind == ActionKind::Cordon {
                play::assert_cordon_visible(&cp, &c, "replica-b");
            }
        }
        at = at.add(sc.meta.step);
    }
    let mut sent = a_sent;
    sent.extend(b.pipeline.notifier().inner.sent.iter().cloned());
    assert_eq!(
        sent, expected.notifications,
        "together exactly replay's alerts: none twice, none lost"
    );
    let cordons = |xs: &[nodewatch::state::ActionRecord]| -> Vec<_> {
        xs.iter()
            .filter(|x| x.kind == ActionKind::Cordon)
            .cloned()
            .collect()
    };
    assert!(!cordons(&expected.actions).is_empty());
    assert_eq!(
        cordons(b.pipeline.actions()),
        cordons(&expected.actions),
        "replay's cordon, made once, by the new leader"
    );

    // A graceful shutdown releases the Lease: a third replica leads long
    // before the 15 s Lease could have expired.
    let c = play::start_replica(sa, &sc, &prom.url(), "replica-c").await;
    wait_sees_holder(&c, "replica-b").await;
    assert!(!c.leader().is_leader());
    b.shutdown().await;
    assert!(
        c.leader().wait_leader(Duration::from_secs(8)).await,
        "the released Lease is taken within a few retry periods"
    );
    assert_eq!(holder(&cp), "replica-c");
    c.shutdown().await;
}

const PAUSE_REASON: &str = "alice: kernel upgrade CHG-123";

/// Sets (`Some`) or removes the pause annotation on the real Lease, as an
/// operator would, and waits (bounded) until `r` has seen it.
/// A pause carries who and why (`nodewatch.io/paused-reason`).
async fn pause(cp: &ControlPlane, r: &play::Replica, on: bool) {
    let values = if on {
        vec![
            format!("{PAUSED_ANNOTATION}=true"),
            format!("{PAUSE_REASON_ANNOTATION}={PAUSE_REASON}"),
        ]
    } else {
        vec![
            format!("{PAUSED_ANNOTATION}-"),
            format!("{PAUSE_REASON_ANNOTATION}-"),
        ]
    };
    let mut args = vec!["annotate", "lease", "nodewatch", "-n", "nodewatch"];
    args.extend(values.iter().map(String::as_str));
    cp.kubectl_ok(&args, None);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while r.leader().paused() != on {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica never saw paused={on}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_annotation_pauses_all_actions() {
    // vvsw is sick 17:00-17:40 and cordoned at 17:03 unless paused.
    let sc = play::window(
        play::t("2018-02-20T16:30:00Z"),
        play::t("2018-02-20T17:30:00Z"),
    );
    let resume_at = sc.meta.start.add(nodewatch::time::Duration::mins(45));
    let dir = tempfile::tempdir().unwrap();
    scenario::write_dir(&sc, dir.path()).expect("write scenario");
    let prom = support::prometheus::Prometheus::with_scenario(dir.path());

    let cp = ControlPlane::start();
    play::apply_base(&cp);
    let admin = play::client(cp.admin_kubeconfig()).await;
    play::load(&admin, &sc).await;
    let sa = play::client(cp.service_account_kubeconfig("nodewatch", "nodewatch")).await;
    let mut a = play::start_replica(sa, &sc, &prom.url(), "replica-a").await;
    assert!(a.leader().wait_leader(Duration::from_secs(30)).await);
    pause(&cp, &a, true).await;
    let reason = a.leader().pause().expect("paused").reason;
    assert_eq!(
        reason, PAUSE_REASON,
        "the reason is read from the real Lease"
    );

    let (mut at, mut next) = (sc.meta.start, 0);
    while at <= sc.meta.end {
        if at == resume_at {
            pause(&cp, &a, false).await;
        }
        for c in play::tick_all(&admin, &sc, &mut next, &mut [&mut a], at).await {
            if c.kind == ActionKind::Cordon {
                play::assert_cordon_visible(&cp, &c, "replica-a");
            }
        }
        at = at.add(sc.meta.step);
    }
    let actions = a.pipeline.actions();
    assert!(
        actions
            .iter()
            .filter(|x| x.at < resume_at)
            .all(|x| x.kind == ActionKind::Refused),
        "no cordon while paused: {actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|x| x.at < resume_at && x.reason.contains("paused")),
        "the would-be cordon reported as paused: {actions:?}"
    );
    assert!(a.pipeline.notifier().held > 0, "alerts were held back");
    assert!(
        actions
            .iter()
            .any(|x| x.kind == ActionKind::Cordon && x.at >= resume_at),
        "acting again after the pause: {actions:?}"
    );
    let unschedulable: Vec<_> = sc
        .nodes
        .iter()
        .filter(|n| {
            cp.get("node", None, &n.metadata.name).expect("node")["spec"]["unschedulable"] == true
        })
        .map(|n| n.metadata.name.clone())
        .collect();
    assert_eq!(
        unschedulable.len(),
        actions
            .iter()
            .filter(|x| x.kind == ActionKind::Cordon)
            .count(),
        "only the cordons made after the pause are on the server"
    );
    a.shutdown().await;
}
