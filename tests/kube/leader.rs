//! One leader acts: two replicas against one fake API server score alike,
//! only the Lease holder alerts and cordons; when the holder dies without
//! releasing, the other takes over within the lease duration, and across
//! the hand-over no alert is sent twice, none is lost (one that fires while
//! nobody leads is sent on taking over) and no node is cordoned twice. A graceful release hands over in under 2 seconds. The
//! Lease annotation `nodewatch.io/paused` stops all actions.

use nodewatch_testkit::fake_apiserver;

use fake_apiserver::{harness, FakeApiServer, Options};
use nodewatch::catalog::Catalog;
use nodewatch::collect::tsdb::Tsdb;
use nodewatch::live::PAUSED_ANNOTATION;
use nodewatch::model::ActionKind;
use nodewatch::time::Timestamp;
use nodewatch::tools::replay;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_acts_and_a_crash_hands_over_cleanly() {
    let sc = harness::binder();
    let catalog = Arc::new(Catalog::builtin());
    let expected = replay::run(sc.clone(), catalog.clone(), replay::Options::default()).await;
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let dir = tempfile::tempdir().unwrap();
    let lease_secs = 4;
    let opts = harness::options(&sc, lease_secs);
    let mut a = harness::start(
        &server,
        dir.path(),
        catalog.clone(),
        Tsdb::new(sc.metrics.clone()),
        opts.clone(),
        "replica-a",
    )
    .await;
    assert!(a.leader().wait_leader(Duration::from_secs(10)).await);
    let mut b = harness::start(
        &server,
        dir.path(),
        catalog.clone(),
        Tsdb::new(sc.metrics.clone()),
        opts,
        "replica-b",
    )
    .await;
    // Let b look at the Lease at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!b.leader().is_leader(), "exactly one replica leads");
    assert_eq!(b.leader().holder().as_deref(), Some("replica-a"));

    // The cluster alert fires at 18:10:30 in replay: just after the crash.
    let kill_at = t("2018-02-20T18:10:30Z");
    let mut at = sc.meta.start;
    while at < kill_at {
        harness::tick_all(&server, &mut [&mut a, &mut b], at).await;
        at = at.add(sc.meta.step);
    }
    let a_sent = a.pipeline.notifier().inner.sent.clone();
    let a_cordons: Vec<_> = a
        .pipeline
        .actions()
        .iter()
        .filter(|x| x.kind == ActionKind::Cordon)
        .cloned()
        .collect();
    assert!(
        !a_sent.is_empty() && !a_cordons.is_empty(),
        "the leader alerted and cordoned before the crash"
    );
    assert!(
        b.pipeline.notifier().inner.sent.is_empty(),
        "the standby sent nothing"
    );
    assert!(
        b.pipeline
            .actions()
            .iter()
            .all(|x| x.kind == ActionKind::Refused),
        "the standby cordoned nothing"
    );

    // The holder dies without releasing. Once its renew deadline has
    // passed nobody acts, yet b does not lead for a while: b's ticks in
    // that gap (where the cluster alert fires) are held back, then sent
    // when b takes over.
    let killed = Instant::now();
    a.kill();
    // b looks at the Lease every second: after that it has seen a's last
    // renewal, and knows until when a may have acted.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let a_until = b.leader().others_acting_until().expect("b saw a renew");
    tokio::time::sleep_until((a_until + Duration::from_millis(50)).into()).await;
    let gap_end = t("2018-02-20T18:11:00Z");
    while at <= gap_end {
        harness::tick(&server, &mut b, at).await;
        at = at.add(sc.meta.step);
    }
    assert!(
        !b.leader().is_leader() && b.pipeline.notifier().inner.sent.is_empty(),
        "the gap's ticks ran while nobody led"
    );
    assert!(
        b.leader()
            .wait_leader(Duration::from_secs(lease_secs as u64 + 3))
            .await,
        "the standby takes over"
    );
    let took = killed.elapsed();
    eprintln!(
        "hand-over after a crash: {:.2} s (lease duration {lease_secs} s, retry period 1 s)",
        took.as_secs_f64()
    );
    assert!(
        took <= Duration::from_secs(lease_secs as u64 + 1),
        "within the lease duration plus one retry period: {took:?}"
    );

    while at <= sc.meta.end {
        harness::tick(&server, &mut b, at).await;
        at = at.add(sc.meta.step);
    }
    assert_eq!(
        b.pipeline.notifier().sent_on_takeover,
        1,
        "the alert that fired while nobody led was sent on taking over"
    );
    let mut all = a_sent.clone();
    all.extend(b.pipeline.notifier().inner.sent.iter().cloned());
    let key = |n: &nodewatch::act::Notification| {
        (
            n.alert.name.clone(),
            n.alert.subject.clone(),
            n.status,
            n.alert.fired_at,
            n.ends_at,
        )
    };
    let mut keys: Vec<_> = all.iter().map(key).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "no alert sent twice");
    assert_eq!(
        all, expected.notifications,
        "together the replicas sent exactly what replay sends"
    );
    let mut cordons = a_cordons.clone();
    cordons.extend(
        b.pipeline
            .actions()
            .iter()
            .filter(|x| x.kind == ActionKind::Cordon)
            .cloned(),
    );
    let want: Vec<_> = expected
        .actions
        .iter()
        .filter(|x| x.kind == ActionKind::Cordon)
        .cloned()
        .collect();
    assert_eq!(cordons, want, "the same cordons as replay, each once");
    // The new leader knew what the old one had done (from the node
    // annotations): its decisions after the hand-over are replay's,
    // refusals for the 10% limit included.
    let b_after: Vec<_> = b
        .pipeline
        .actions()
        .iter()
        .filter(|x| x.at >= kill_at)
        .cloned()
        .collect();
    let want_after: Vec<_> = expected
        .actions
        .iter()
        .filter(|x| x.at >= kill_at)
        .cloned()
        .collect();
    assert!(!want_after.is_empty());
    assert_eq!(b_after, want_after, "the new leader decides as replay does");
    let patches = server
        .requests()
        .iter()
        .filter(|r| r.verb == "patch" && r.status == 200)
        .count();
    assert_eq!(
        patches,
        want.len(),
        "one node PATCH per cordon on the server"
    );
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_release_hands_over_in_under_two_seconds() {
    let sc = harness::binder();
    let catalog = Arc::new(Catalog::builtin());
    let server = FakeApiServer::start(Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // Default lease settings: 15 s duration, 1 s retry period.
    let mut opts = harness::options(&sc, 15);
    opts.kube.lease.renew_deadline = nodewatch::time::Duration::secs(10);
    let a = harness::start(
        &server,
        dir.path(),
        catalog.clone(),
        nodewatch::live::NoMetrics,
        opts.clone(),
        "replica-a",
    )
    .await;
    assert!(a.leader().wait_leader(Duration::from_secs(10)).await);
    let b = harness::start(
        &server,
        dir.path(),
        catalog,
        nodewatch::live::NoMetrics,
        opts,
        "replica-b",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!b.leader().is_leader());
    let started = Instant::now();
    a.shutdown().await;
    assert!(
        b.leader().wait_leader(Duration::from_secs(5)).await,
        "b takes over"
    );
    let took = started.elapsed();
    eprintln!("graceful hand-over: {:.3} s", took.as_secs_f64());
    assert!(
        took < Duration::from_secs(2),
        "graceful hand-over under 2 s: {took:?}"
    );
    let lease = server.lease("nodewatch", "nodewatch").expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "replica-b");
    assert!(lease["spec"]["leaseTransitions"].as_i64().unwrap_or(0) >= 1);
    b.shutdown().await;
    let lease = server.lease("nodewatch", "nodewatch").expect("lease");
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(|h| h.is_null()),
        "released on shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_annotation_pauses_all_actions() {
    let sc = harness::binder();
    let catalog = Arc::new(Catalog::builtin());
    let server = FakeApiServer::start(Options::default()).await;
    server.load_scenario(&sc);
    let dir = tempfile::tempdir().unwrap();
    let opts = harness::options(&sc, 15);
    let mut a = harness::start(
        &server,
        dir.path(),
        catalog,
        Tsdb::new(sc.metrics.clone()),
        opts,
        "replica-a",
    )
    .await;
    assert!(a.leader().wait_leader(Duration::from_secs(10)).await);
    server.annotate_lease("nodewatch", "nodewatch", PAUSED_ANNOTATION, Some("true"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !a.leader().paused() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(a.leader().paused(), "the pause annotation is seen");
    // The scenario cordons vvsw at 17:03 while it is sick (17:00-17:40).
    let resume_at = t("2018-02-20T17:15:00Z");
    let mut at = sc.meta.start;
    while at <= t("2018-02-20T18:00:00Z") {
        if at == resume_at {
            server.annotate_lease("nodewatch", "nodewatch", PAUSED_ANNOTATION, None);
            let deadline = Instant::now() + Duration::from_secs(5);
            while a.leader().paused() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        harness::tick(&server, &mut a, at).await;
        at = at.add(sc.meta.step);
    }
    let actions = a.pipeline.actions();
    assert!(
        actions
            .iter()
            .filter(|x| x.at < resume_at)
            .all(|x| x.kind == ActionKind::Refused),
        "no cordon while paused"
    );
    assert!(
        actions
            .iter()
            .any(|x| x.at < resume_at && x.reason.contains("paused")),
        "would-cordon reported as paused"
    );
    assert!(
        a.pipeline.notifier().inner.sent.iter().all(|n| n
            .alert
            .fired_at
            .is_none_or(|f| f >= resume_at)
            || n.ends_at.is_some_and(|e| e >= resume_at)),
        "no alert sent while paused"
    );
    assert!(a.pipeline.notifier().held > 0, "alerts were held back");
    assert!(
        actions
            .iter()
            .any(|x| x.kind == ActionKind::Cordon && x.at >= resume_at),
        "acting again after the pause"
    );
    a.shutdown().await;
}
