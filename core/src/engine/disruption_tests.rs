//! Expected disruption in the engine at simulated time: a held node starts
//! no alert and gets no cordon request, an alert already firing holds,
//! held nodes make no common cause nor peers, a new node is judged after
//! its warm-up, a half-upgraded pool is reported, and metric rows naming
//! no listed node make no node.

use super::tests::engine;
use super::*;
use crate::k8s;
use crate::model::AlertState;
use crate::model::Observation;

const TICK: i64 = 30_000;

/// Node `n{i}` created long before tick 0 (or at tick `created`).
fn node(i: usize, created: Option<i64>) -> k8s::Node {
    let mut n = k8s::Node::default();
    n.metadata.name = format!("n{i}");
    n.metadata.creation_timestamp =
        Some(Timestamp(created.unwrap_or(-1_000_000) * TICK).to_rfc3339());
    n.metadata.labels.insert(
        DEFAULT_POOL_LABEL.into(),
        if i < 4 { "a" } else { "b" }.into(),
    );
    n.status.node_info.kubelet_version = "v1.28.7".into();
    n
}

fn taint(n: &mut k8s::Node, key: &str) {
    n.spec.taints.push(k8s::Taint {
        key: key.into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    });
}

/// One tick at `t` with values `f(node)` for the nodes listed (the list
/// is sent every tick; unchanged objects change nothing).
fn tick(e: &mut Engine, t: i64, nodes: &[k8s::Node], f: impl Fn(usize) -> f64) -> TickOutput {
    let rows = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (vec![n.metadata.name.clone()], f(i)))
        .collect();
    e.tick(Observation {
        at: Timestamp(t * TICK),
        metrics: vec![Some(Ok(rows))],
        events_ok: true,
        nodes: Some(nodes.to_vec()),
        ..Default::default()
    })
}

fn noise(t: i64, n: usize) -> f64 {
    0.01 * (((t * 7 + n as i64 * 13) % 5) as f64)
}

fn fired(outs: &[TickOutput]) -> Vec<(String, String, AlertState)> {
    outs.iter()
        .flat_map(|o| o.notifications.iter())
        .map(|n| (n.alert.name.clone(), n.alert.subject.clone(), n.status))
        .collect()
}

#[test]
fn a_node_the_autoscaler_removes_is_not_alerted_or_cordoned() {
    let mut e = engine();
    let mut nodes: Vec<_> = (0..8).map(|i| node(i, None)).collect();
    let mut outs = Vec::new();
    for t in 0..70 {
        if t == 30 {
            taint(&mut nodes[3], signals_key());
        }
        outs.push(tick(&mut e, t, &nodes, |n| {
            if n == 3 && t >= 40 {
                0.9
            } else {
                noise(t, n)
            }
        }));
    }
    assert!(fired(&outs).is_empty(), "{:?}", fired(&outs));
    assert!(outs.iter().all(|o| o.cordon_requests.is_empty()));
    let snap = e.snapshot();
    let n3 = snap.nodes.iter().find(|n| n.name == "n3").unwrap();
    let held = n3.held.as_deref().unwrap_or_default();
    assert!(held.contains("ToBeDeletedByClusterAutoscaler"), "{held}");
    assert!(n3.explanation.contains("held"), "{}", n3.explanation);
    assert!(n3.score > 0.8, "still scored: {}", n3.score);
}

fn signals_key() -> &'static str {
    crate::signals::disruption::AUTOSCALER_TAINT
}

#[test]
fn a_firing_alert_holds_when_a_human_cordons_the_node() {
    let mut e = engine();
    let mut nodes: Vec<_> = (0..8).map(|i| node(i, None)).collect();
    let mut outs = Vec::new();
    for t in 0..70 {
        if t == 50 {
            nodes[3].spec.unschedulable = true;
        }
        outs.push(tick(&mut e, t, &nodes, |n| {
            if n == 3 && t >= 40 {
                0.9
            } else {
                noise(t, n)
            }
        }));
    }
    let f = fired(&outs);
    assert_eq!(
        f,
        vec![("NodeUnhealthy".into(), "n3".into(), AlertState::Firing)]
    );
    // Asked for before the human's cordon, never after.
    assert!(outs[..50].iter().any(|o| !o.cordon_requests.is_empty()));
    assert!(outs[50..].iter().all(|o| o.cordon_requests.is_empty()));
}

#[test]
fn held_nodes_make_no_common_cause() {
    let run = |held: bool| {
        let mut e = engine();
        let mut nodes: Vec<_> = (0..8).map(|i| node(i, None)).collect();
        let mut outs = Vec::new();
        for t in 0..60 {
            if t == 35 && held {
                for n in &mut nodes[..3] {
                    n.spec.unschedulable = true;
                }
            }
            let v = |n: usize| {
                if t >= 40 && (n < 3 || n == 5) {
                    0.9
                } else {
                    noise(t, n)
                }
            };
            outs.push(tick(&mut e, t, &nodes, v));
        }
        fired(&outs)
    };
    // Three nodes drained by someone else and one really sick node: the
    // sick node is a node alert, not a cluster-wide cause.
    assert_eq!(
        run(true),
        vec![("NodeUnhealthy".into(), "n5".into(), AlertState::Firing)]
    );
    // The same values without the drain are four of eight: common cause.
    assert_eq!(
        run(false),
        vec![("ClusterWide".into(), "cluster".into(), AlertState::Firing)]
    );
}

#[test]
fn a_node_sick_in_its_warm_up_is_judged_after_it() {
    let mut e = engine();
    let mut nodes: Vec<_> = (0..8).map(|i| node(i, None)).collect();
    let mut outs = Vec::new();
    for t in 0..90 {
        if t == 40 {
            nodes.push(node(8, Some(40)));
        }
        // Sick from tick 55, late in its warm-up (its own baseline has
        // some history by then).
        let v = |n: usize| if n == 8 && t >= 55 { 0.9 } else { noise(t, n) };
        outs.push(tick(&mut e, t, &nodes, v));
    }
    let first = outs
        .iter()
        .position(|o| o.notifications.iter().any(|n| n.alert.subject == "n8"))
        .unwrap_or_else(|| {
            panic!(
                "not found: {:?}",
                e.snapshot().nodes.iter().find(|n| n.name == "n8")
            )
        });
    // Warm-up 10 min (20 ticks) from tick 40, then `for: 2m` (4 ticks).
    assert_eq!(first, 64, "{:?}", fired(&outs));
}

#[test]
fn a_half_upgraded_pool_with_a_drain_is_an_upgrade() {
    let mut e = engine();
    let mut nodes: Vec<_> = (0..8).map(|i| node(i, None)).collect();
    nodes[0].status.node_info.kubelet_version = "v1.29.2".into();
    tick(&mut e, 0, &nodes, |n| noise(0, n));
    assert!(e.upgrading_pools().is_empty(), "mixed versions alone");
    nodes[1].spec.unschedulable = true;
    tick(&mut e, 1, &nodes, |n| noise(1, n));
    let up = e.upgrading_pools();
    assert_eq!(up.keys().collect::<Vec<_>>(), ["a"]);
    let snap = e.snapshot();
    let n2 = snap.nodes.iter().find(|n| n.name == "n2").unwrap();
    assert!(n2
        .held
        .as_deref()
        .unwrap()
        .contains("upgrade in progress in pool a"));
    let n5 = snap.nodes.iter().find(|n| n.name == "n5").unwrap();
    assert!(n5.held.is_none(), "pool b is not being upgraded");
}

#[test]
fn metric_rows_naming_no_listed_node_are_dropped_and_counted() {
    let mut e = engine();
    let nodes: Vec<_> = (0..8).map(|i| node(i, None)).collect();
    // A row for the exporter's own address, as Prometheus labels
    // node_exporter's series without `honor_labels`, beside the real ones.
    let phantom = |e: &mut Engine, t: i64| {
        let mut rows: Vec<(Vec<String>, f64)> = (0..8)
            .map(|i| (vec![format!("n{i}")], noise(t, i)))
            .collect();
        rows.push((vec!["127.0.0.1:9100".into()], 0.9));
        e.tick(Observation {
            at: Timestamp(t * TICK),
            metrics: vec![Some(Ok(rows))],
            events_ok: true,
            nodes: Some(nodes.clone()),
            ..Default::default()
        })
    };
    for t in 0..3 {
        phantom(&mut e, t);
    }
    let snap = e.snapshot();
    assert_eq!(snap.nodes.len(), 8, "no node made of the phantom");
    assert!(snap.nodes.iter().all(|n| n.name.starts_with('n')));
    assert_eq!(snap.stats.metric_rows_unlisted, 3);
    assert_eq!(e.metric_rows_unlisted(), (3, Some("127.0.0.1:9100")));
    // Without any node list (a replay of metrics alone) data makes nodes.
    let mut bare = engine();
    bare.tick(Observation {
        at: Timestamp(0),
        metrics: vec![Some(Ok(vec![(vec!["m1".into()], 0.1)]))],
        events_ok: true,
        ..Default::default()
    });
    assert_eq!(bare.snapshot().nodes.len(), 1);
    assert_eq!(bare.metric_rows_unlisted().0, 0);
}
