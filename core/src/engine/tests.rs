//! Engine behaviour on plain values at simulated time: a node-local fault
//! is blamed on its node, a shared one becomes one cluster alert, unknown
//! data holds actions.

use super::*;
use crate::decide::TransitionKind;
use crate::model::AlertState;
use crate::model::{Observation, SourceError};
use std::path::PathBuf;

const CATALOG: &str = "
signals:
  - name: fail_ratio
    metric: {name: m, by: [node]}
    detect: {z: 4, mad_floor: 0.05}
rules:
  - alert: NodeUnhealthy
    scope: node
    when: {score_above: 0.8}
    for: 2m
    actions: [alert, cordon]
  - alert: ClusterWide
    scope: cluster
    when: {common_cause: true}
    for: 1m
";

/// An engine on a one-signal catalog: a node rule that cordons and a
/// cluster rule.
pub(super) fn engine() -> Engine {
    let c = Catalog::from_sources(vec![(PathBuf::from("t.yaml"), CATALOG.to_string())]).unwrap();
    Engine::new(Arc::new(c), Settings::default())
}

fn obs(t: i64, values: &[f64]) -> Observation {
    let rows = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, v)| (vec![format!("n{i}")], *v))
        .collect();
    Observation {
        at: Timestamp(t * 30_000),
        metrics: vec![Some(Ok(rows))],
        events_ok: true,
        ..Default::default()
    }
}

/// Runs `ticks` of values from `f(tick, node)`; returns all outputs.
fn run(e: &mut Engine, ticks: i64, f: impl Fn(i64, usize) -> f64) -> Vec<TickOutput> {
    (0..ticks)
        .map(|t| e.tick(obs(t, &(0..8).map(|n| f(t, n)).collect::<Vec<_>>())))
        .collect()
}

fn noise(t: i64, n: usize) -> f64 {
    0.01 * (((t * 7 + n as i64 * 13) % 5) as f64)
}

#[test]
fn a_node_local_fault_is_alerted_and_cordon_requested() {
    let mut e = engine();
    let outs = run(&mut e, 60, |t, n| {
        if n == 3 && t >= 40 {
            0.9
        } else {
            noise(t, n)
        }
    });
    let fired: Vec<_> = outs
        .iter()
        .flat_map(|o| o.notifications.iter())
        .filter(|n| n.status == AlertState::Firing)
        .collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].alert.labels["node"], "n3");
    assert_eq!(fired[0].alert.labels["scope"], "node");
    // for: 2m at 30 s ticks → pending at tick 40, firing at tick 44.
    assert_eq!(fired[0].alert.fired_at, Some(Timestamp(44 * 30_000)));
    assert!(
        fired[0].alert.annotations["explanation"].contains("fail_ratio 0.90"),
        "{:?}",
        fired[0].alert.annotations
    );
    let reqs: Vec<_> = outs.iter().flat_map(|o| o.cordon_requests.iter()).collect();
    assert!(!reqs.is_empty());
    assert!(reqs.iter().all(|r| r.node == "n3" && r.fresh));
    let snap = e.snapshot();
    assert_eq!(snap.nodes[0].name, "n3", "the sick node ranks first");
    assert!(snap.common_cause.is_empty());
}

#[test]
fn a_shared_fault_is_one_cluster_alert_and_no_node_alert() {
    let mut e = engine();
    let outs = run(
        &mut e,
        60,
        |t, n| if t >= 40 && n < 6 { 0.9 } else { noise(t, n) },
    );
    let fired: Vec<_> = outs
        .iter()
        .flat_map(|o| o.notifications.iter())
        .filter(|n| n.status == AlertState::Firing)
        .map(|n| (n.alert.name.clone(), n.alert.scope.clone()))
        .collect();
    assert_eq!(
        fired,
        vec![("ClusterWide".to_string(), "cluster".to_string())]
    );
    assert!(outs.iter().all(|o| o.cordon_requests.is_empty()));
    let snap = e.snapshot();
    assert_eq!(snap.common_cause[0].nodes.len(), 6);
    assert!(snap.alerts[0].annotations["explanation"].contains("tripped on 6 of 8 nodes"));
}

#[test]
fn unknown_data_holds_state_and_is_not_fresh() {
    let mut e = engine();
    run(&mut e, 40, noise);
    // n3 goes bad, then its data disappears for a while.
    let outs = run(&mut e, 0, noise);
    assert!(outs.is_empty());
    let mut fired_at = None;
    for t in 40..60 {
        let mut v: Vec<f64> = (0..8).map(|n| noise(t, n)).collect();
        v[3] = if t < 46 { 0.9 } else { f64::NAN };
        let o = e.tick(obs(t, &v));
        for n in &o.notifications {
            if n.status == AlertState::Firing {
                fired_at = Some(t);
            }
            assert_ne!(
                n.status,
                AlertState::Resolved,
                "unknown must not resolve the alert"
            );
        }
        if t >= 46 {
            assert!(
                o.cordon_requests.iter().all(|r| !r.fresh),
                "no cordon on stale data"
            );
        }
    }
    assert_eq!(fired_at, Some(44));
    let snap = e.snapshot();
    let n3 = snap.nodes.iter().find(|n| n.name == "n3").unwrap();
    assert_eq!(n3.unknown, vec!["fail_ratio".to_string()]);
    assert!(n3.explanation.contains("no fresh data for fail_ratio"));
}

#[test]
fn a_failed_source_makes_signals_unknown() {
    let mut e = engine();
    run(&mut e, 20, noise);
    let mut o = obs(20, &[0.0; 8]);
    o.metrics = vec![Some(Err(SourceError::Timeout("5s".into())))];
    e.tick(o);
    let snap = e.snapshot();
    assert!(snap
        .nodes
        .iter()
        .all(|n| n.unknown == vec!["fail_ratio".to_string()]));
    assert!(snap.alerts.is_empty());
    let _ = TransitionKind::Firing;
}

#[test]
fn deleted_pods_leave_the_core() {
    let mut e = engine();
    let pod = |name: &str| crate::k8s::Pod {
        metadata: crate::k8s::ObjectMeta {
            name: name.into(),
            namespace: "ns".into(),
            uid: format!("u-{name}"),
            ..Default::default()
        },
        spec: crate::k8s::PodSpec {
            node_name: "n1".into(),
        },
    };
    let mut first = obs(0, &[0.0]);
    first.pods = (0..100).map(|i| pod(&format!("p{i}"))).collect();
    e.tick(first);
    let mut gone = obs(1, &[0.0]);
    gone.pods_gone = (0..60).map(|i| pod(&format!("p{i}")).keys()).collect();
    e.tick(gone);
    assert_eq!(e.snapshot().stats.pods_tracked, 100, "grace period");
    // 30 minutes of 30 s ticks later they are forgotten.
    for t in 2..62 {
        e.tick(obs(t, &[0.0]));
    }
    assert_eq!(e.snapshot().stats.pods_tracked, 40);
}
