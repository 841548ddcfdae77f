//! Prometheus going away under a running pipeline, against a real
//! Prometheus holding the backfilled Binder scenario. The pipeline runs at
//! simulated time with the live collector querying each tick's instant and
//! the scenario's events replayed; a replay of the same slice (embedded
//! evaluator) is the baseline saying what should happen when nothing fails.
//!
//! - killed (SIGKILL) just before the baseline's first cordon and restarted
//!   after it: metric signals unknown, source down and errors counted on
//!   `/metrics`, no cordon meanwhile; recovery by itself, then cordoning
//!   again, without restarting anything on nodewatch's side;
//! - answers held past the timeout by a loopback proxy: timeouts counted,
//!   never more queries in flight than the limit (at nodewatch and at the
//!   proxy), event signals still scored and still alerting, no cordon.

use nodewatch_testkit as support;

use nodewatch::collect::replay::ReplaySource;
use nodewatch::model::{ActionKind, AlertState};
use nodewatch::scenario;
use nodewatch::time::Duration;
use support::loopback::{Behaviour, Loopback};
use support::prometheus::Prometheus;
use support::sim::{baseline, collector, k8s_slice, metric_signals, observe, pipeline, t, Sim};

/// Waits (bounded) until the proxy holds no request. Asynchronously: the
/// HTTP client closes abandoned connections from a task of this runtime.
async fn idle(proxy: &Loopback) -> bool {
    for _ in 0..2000 {
        if proxy.held() == 0 {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    false
}

#[tokio::test]
async fn killed_and_restarted_mid_run() {
    let s = scenario::builtin("binder").expect("binder");
    let dir = tempfile::tempdir().expect("temp dir");
    scenario::write_dir(&s, dir.path()).expect("write");
    let mut prom = Prometheus::with_scenario(dir.path());
    let (from, to) = (t("2018-02-21T12:00:00Z"), t("2018-02-21T16:30:00Z"));
    let base = baseline(&s, from, to).await;
    let first_cordon = base
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Cordon)
        .map(|a| a.at)
        .expect("the baseline cordons in this slice; otherwise the test proves nothing");
    let (kill_at, restart_at) = (
        first_cordon.sub(Duration::mins(10)),
        first_cordon.add(Duration::mins(10)),
    );

    let (metrics, health) = collector(prom.url(), Duration::secs(5), 4);
    let mut sim = Sim {
        k8s: ReplaySource::new(k8s_slice(&s, from)),
        metrics,
    };
    let mut p = pipeline(s.meta.step);
    let node_metrics = metric_signals();
    let (mut outage_ticks, mut recovered_at, mut cordons_after) = (0, None, Vec::new());
    let mut at = from;
    while at <= to {
        if at == kill_at {
            prom.kill();
        }
        if at == restart_at {
            prom.restart();
        }
        let down = at >= kill_at && at < restart_at;
        if at >= restart_at && recovered_at.is_none() {
            // Give the backoff (at most 100 ms here) room to let one through.
            tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        }
        let actions = p.step(&mut sim, at).await;
        let (snap, text) = observe(&p, &health);
        if down {
            outage_ticks += 1;
            assert!(
                actions.iter().all(|a| a.kind != ActionKind::Cordon),
                "cordoned on stale data at {at}: {actions:?}"
            );
            assert!(!health.up(), "source up while Prometheus is dead at {at}");
            for n in &snap.nodes {
                for sig in &node_metrics {
                    assert!(
                        n.unknown.contains(sig),
                        "{sig} known on {} at {at} with Prometheus dead",
                        n.name
                    );
                }
            }
            assert!(
                text.contains("nodewatch_source_up{source=\"prometheus\"} 0"),
                "{text}"
            );
            assert!(text.contains("kind=\"unreachable\""), "{text}");
        } else if at >= restart_at {
            if recovered_at.is_none() && health.up() {
                recovered_at = Some(at);
                assert!(
                    text.contains("nodewatch_source_up{source=\"prometheus\"} 1"),
                    "{text}"
                );
                let known = snap
                    .nodes
                    .iter()
                    .filter(|n| node_metrics.iter().all(|s| !n.unknown.contains(s)))
                    .count();
                assert!(known > 0, "no node has its metric signals back at {at}");
            }
            cordons_after.extend(actions.into_iter().filter(|a| a.kind == ActionKind::Cordon));
        }
        at = at.add(s.meta.step);
    }
    assert!(outage_ticks > 0);
    assert!(health.errors("unreachable") > 0, "{:?}", health.state());
    let recovered = recovered_at.expect("never recovered after the restart");
    assert!(
        recovered <= restart_at.add(Duration::mins(5)),
        "recovered only at {recovered}"
    );
    // Back to work: the faulty nodes the baseline cordoned get cordoned now.
    let faulty: Vec<&str> = s
        .meta
        .truth
        .faulty_nodes
        .iter()
        .map(|f| f.node.as_str())
        .collect();
    assert!(!cordons_after.is_empty(), "no cordon after recovery");
    for c in &cordons_after {
        assert!(
            faulty.contains(&c.node.as_str()),
            "false cordon after recovery: {c:?}"
        );
    }
    eprintln!(
        "outage {kill_at}..{restart_at} ({outage_ticks} ticks), recovered at {recovered}, health {:?}, cordons after: {:?}",
        health.state(),
        cordons_after.iter().map(|c| (&c.node, c.at)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn answers_slower_than_the_timeout() {
    let s = scenario::builtin("binder").expect("binder");
    let dir = tempfile::tempdir().expect("temp dir");
    scenario::write_dir(&s, dir.path()).expect("write");
    let prom = Prometheus::with_scenario(dir.path());
    let (from, slow_from, to) = (
        t("2018-02-20T16:00:00Z"),
        t("2018-02-20T16:55:00Z"),
        t("2018-02-20T17:30:00Z"),
    );
    let base = baseline(&s, from, to).await;
    let sick = &s.meta.truth.faulty_nodes[0].node;
    let expected = base
        .notifications
        .iter()
        .find(|n| {
            n.status == AlertState::Firing
                && n.alert.scope == "node"
                && &n.alert.subject == sick
                && n.alert.active_since >= slow_from
        })
        .expect("the baseline alerts on the sick node in the slow window");
    eprintln!(
        "baseline alert: {} at {:?}",
        expected.alert.name, expected.alert.fired_at
    );

    let proxy = Loopback::start(Behaviour::Forward {
        to: prom.addr(),
        delay: std::time::Duration::ZERO,
    });
    let limit = 2;
    let (metrics, health) = collector(proxy.url(), Duration(300), limit);
    let mut sim = Sim {
        k8s: ReplaySource::new(k8s_slice(&s, from)),
        metrics,
    };
    let mut p = pipeline(s.meta.step);
    let node_metrics = metric_signals();
    let mut fired = Vec::new();
    let mut at = from;
    while at <= to {
        let slow = at >= slow_from;
        if at == slow_from {
            proxy.set(Behaviour::Forward {
                to: prom.addr(),
                delay: std::time::Duration::from_secs(30),
            });
            // Fast answers overlap by a hair at the proxy (one relayed, the
            // next accepted); count held requests from here on.
            proxy.reset_peak();
            // Let the backoff of earlier ticks (if any) expire.
            tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        }
        let actions = p.step(&mut sim, at).await;
        assert_eq!(
            health.in_flight(),
            0,
            "queries left running after the tick at {at}"
        );
        assert!(
            idle(&proxy).await,
            "proxy still holds requests after the tick at {at}"
        );
        if slow {
            assert!(
                actions.iter().all(|a| a.kind != ActionKind::Cordon),
                "cordoned without metric data at {at}"
            );
            let (snap, _) = observe(&p, &health);
            let node = snap
                .nodes
                .iter()
                .find(|n| &n.name == sick)
                .expect("sick node in snapshot");
            for sig in &node_metrics {
                assert!(
                    node.unknown.contains(sig),
                    "{sig} known at {at} although every query timed out"
                );
            }
            let events_known = node
                .signals
                .iter()
                .filter(|v| !node_metrics.contains(&v.signal) && v.value.is_some())
                .count();
            assert!(
                events_known > 0,
                "event signals not scored at {at}: {:?}",
                node.signals
            );
            fired.extend(
                p.notifier()
                    .sent
                    .iter()
                    .filter(|n| n.status == AlertState::Firing && &n.alert.subject == sick)
                    .map(|n| n.alert.name.clone()),
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        at = at.add(s.meta.step);
    }
    assert!(health.errors("timeout") > 0, "{:?}", health.state());
    assert!(
        health.max_in_flight() <= limit,
        "{} queries in flight, limit {limit}",
        health.max_in_flight()
    );
    assert!(
        proxy.peak_held() <= limit,
        "proxy held {} at once, limit {limit}",
        proxy.peak_held()
    );
    assert!(
        fired.contains(&expected.alert.name),
        "event signals did not alert on {sick} while metrics timed out"
    );
    eprintln!(
        "slow: health {:?}, proxy peak {}",
        health.state(),
        proxy.peak_held()
    );
}
