//! Event attribution and increment counting; once nodes are listed, no
//! event or pod makes a node the list does not have.

use super::*;
use crate::catalog::Catalog;
use crate::k8s::{Event, EventSeries, EventSource, ObjectMeta, ObjectReference, Pod, PodSpec};
use std::path::PathBuf;

fn catalog() -> Catalog {
    let text = "signals:\n  - name: sync\n    events: {reasons: [FailedSync], count: increments}\n  - name: threads\n    events: {message: \"can't start new thread\"}\n  - name: node_events\n    events: {reasons: [NodeNotReady], involved_kind: Node}\n";
    Catalog::from_sources(vec![(PathBuf::from("t.yaml"), text.to_string())]).unwrap()
}

fn ev(name: &str, reason: &str, count: i64) -> Event {
    Event {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: "prod".into(),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: "Pod".into(),
            namespace: "prod".into(),
            name: "p1".into(),
            uid: "u-p1".into(),
        },
        reason: reason.into(),
        message: "Error syncing pod".into(),
        count: Some(count),
        ..Default::default()
    }
}

fn ingest(ing: &mut EventIngest, nodes: &mut NodeTable, e: &Event) -> Vec<Hit> {
    let mut hits = Vec::new();
    ing.ingest(e, Timestamp(0), nodes, &mut hits);
    hits
}

#[test]
fn source_host_then_reporting_instance_then_pod_node() {
    let c = catalog();
    let mut nodes = NodeTable::default();
    let mut ing = EventIngest::new(&c);
    let mut e = ev("a.1", "FailedSync", 1);
    e.source = EventSource {
        component: "kubelet".into(),
        host: "n-host".into(),
    };
    e.reporting_instance = "n-ri".into();
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n-host").unwrap()
    );

    let mut e = ev("a.2", "FailedSync", 1);
    e.reporting_instance = "n-ri".into();
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n-ri").unwrap()
    );

    // No reporter: the pod's spec.nodeName, by uid or by namespace/name.
    let pod = Pod {
        metadata: ObjectMeta {
            name: "p1".into(),
            namespace: "prod".into(),
            uid: "u-p1".into(),
            ..Default::default()
        },
        spec: PodSpec {
            node_name: "n-pod".into(),
        },
    };
    let e = ev("a.3", "FailedSync", 1);
    assert!(
        ingest(&mut ing, &mut nodes, &e).is_empty(),
        "unknown pod: unattributed"
    );
    assert_eq!(ing.unattributed, 1);
    ing.add_pod(&pod, &mut nodes);
    let e = ev("a.4", "FailedSync", 1);
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n-pod").unwrap()
    );
    let mut e = ev("a.5", "FailedSync", 1);
    e.involved_object.uid.clear();
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n-pod").unwrap()
    );
}

#[test]
fn counts_increments_not_objects_and_never_twice() {
    let c = catalog();
    let mut nodes = NodeTable::default();
    let mut ing = EventIngest::new(&c);
    let mut e = ev("x.1", "FailedSync", 1);
    e.source.host = "n1".into();
    assert_eq!(ingest(&mut ing, &mut nodes, &e)[0].increments, 1);
    e.count = Some(4);
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].increments,
        3,
        "count 1 → 4 is 3 new"
    );
    assert!(
        ingest(&mut ing, &mut nodes, &e).is_empty(),
        "the same object again (relist) adds nothing"
    );
    e.count = Some(2);
    assert!(
        ingest(&mut ing, &mut nodes, &e).is_empty(),
        "a stale copy adds nothing"
    );
    e.count = Some(5);
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].increments,
        1,
        "and does not lower the mark"
    );
    // New-style: series.count.
    let mut e = ev("y.1", "FailedSync", 0);
    e.count = None;
    e.reporting_instance = "n1".into();
    assert_eq!(ingest(&mut ing, &mut nodes, &e)[0].increments, 1);
    e.series = Some(EventSeries {
        count: 7,
        last_observed_time: None,
    });
    assert_eq!(ingest(&mut ing, &mut nodes, &e)[0].increments, 6);
    assert_eq!(ing.ingested, 7);
}

#[test]
fn message_regex_and_involved_kind() {
    let c = catalog();
    let mut nodes = NodeTable::default();
    let mut ing = EventIngest::new(&c);
    let mut e = ev("h.1", "BackOff", 1);
    e.source.host = "n1".into();
    e.message = "RuntimeError: can't start new thread".into();
    let hits = ingest(&mut ing, &mut nodes, &e);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].signal, c.signal_index("threads").unwrap());
    // NodeNotReady about a Pod does not match the Node-kind signal...
    let mut e = ev("nn.1", "NodeNotReady", 1);
    e.source.host = "n1".into();
    assert!(ingest(&mut ing, &mut nodes, &e).is_empty());
    // ...about the Node it does, attributed to that node.
    let mut e = ev("nn.2", "NodeNotReady", 1);
    e.involved_object = ObjectReference {
        kind: "Node".into(),
        name: "n9".into(),
        ..Default::default()
    };
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n9").unwrap()
    );
}

#[test]
fn forgets_expired_objects() {
    let c = catalog();
    let mut nodes = NodeTable::default();
    let mut ing = EventIngest::new(&c);
    let mut e = ev("z.1", "FailedSync", 1);
    e.source.host = "n1".into();
    ingest(&mut ing, &mut nodes, &e);
    ing.prune(Timestamp(0));
    assert_eq!(ing.remembered(), 1);
    ing.prune(Timestamp(2 * 3_600_000));
    assert_eq!(ing.remembered(), 0);
}

#[test]
fn windows_slide_and_count_objects() {
    let mut w = EventWindow::new(3);
    w.add(1, 5, 10);
    w.add(2, 1, 11);
    w.add(2, 1, 11);
    assert_eq!(w.value(2, EventCount::Increments), 7.0);
    assert_eq!(w.value(2, EventCount::Objects), 2.0);
    assert_eq!(w.value(3, EventCount::Increments), 7.0);
    assert_eq!(
        w.value(4, EventCount::Increments),
        2.0,
        "tick 1 left the window"
    );
    assert_eq!(w.value(4, EventCount::Objects), 1.0);
    assert_eq!(w.value(10, EventCount::Increments), 0.0);
    for o in 0..200 {
        w.add(11, 1, o);
    }
    assert_eq!(
        w.value(11, EventCount::Objects),
        MAX_OBJECTS as f64,
        "bounded"
    );
}

#[test]
fn deleted_pods_are_forgotten_after_a_grace_period() {
    let c = catalog();
    let mut nodes = NodeTable::default();
    let mut ing = EventIngest::new(&c);
    let pod = |uid: &str, node: &str| Pod {
        metadata: ObjectMeta {
            name: "web-0".into(),
            namespace: "prod".into(),
            uid: uid.into(),
            ..Default::default()
        },
        spec: PodSpec {
            node_name: node.into(),
        },
    };
    let old = pod("u-old", "n-old");
    ing.add_pod(&old, &mut nodes);
    ing.forget_pods(&[old.keys()], Timestamp(0));
    // Its successor of the same name comes up elsewhere before the old
    // one is forgotten.
    ing.add_pod(&pod("u-new", "n-new"), &mut nodes);
    assert_eq!(ing.pods_known(), 1);
    // Within the grace period, a late event about the old pod (by uid)
    // still lands on its node.
    ing.prune(Timestamp(10 * 60_000));
    let mut e = ev("late.1", "FailedSync", 1);
    e.involved_object.name = "web-0".into();
    e.involved_object.uid = "u-old".into();
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n-old").unwrap()
    );
    // After it, the old uid is gone but the name belongs to the successor.
    ing.prune(Timestamp(20 * 60_000));
    assert_eq!(ing.pods_known(), 1);
    let mut e = ev("late.2", "FailedSync", 1);
    e.involved_object.name = "web-0".into();
    e.involved_object.uid = "u-old".into();
    assert_eq!(
        ingest(&mut ing, &mut nodes, &e)[0].node,
        nodes.get("n-new").unwrap(),
        "by name now"
    );
    // Deleting the successor empties the map.
    ing.forget_pods(&[pod("u-new", "n-new").keys()], Timestamp(20 * 60_000));
    ing.prune(Timestamp(40 * 60_000));
    assert_eq!(ing.pods_known(), 0);
}

/// The counts a window of `len` ticks must report: a plain sum over the
/// hits of the last `len` ticks (the reference the windows are held to).
fn brute(hits: &[(u64, u32)], tick: u64, len: u64) -> f64 {
    hits.iter()
        .filter(|&&(t, _)| t <= tick && t + len > tick)
        .map(|&(_, c)| c as f64)
        .sum()
}

#[test]
fn windows_count_and_expire_across_gaps_like_a_plain_sum() {
    let len = 7u64;
    let mut w = EventWindow::new(len as usize);
    let mut hits = Vec::new();
    // Bursts, single hits and gaps shorter and longer than the window.
    let mut tick = 0u64;
    for (k, gap) in [1u64, 1, 2, 6, 7, 8, 1, 30, 3, 1, 1, 1, 1, 1, 1, 1, 9]
        .into_iter()
        .enumerate()
    {
        tick += gap;
        for r in 0..(k % 3 + 1) as u32 {
            w.add(tick, r + 1, k as u64);
            hits.push((tick, r + 1));
        }
        for probe in tick..tick + gap.min(3) {
            assert_eq!(
                w.value(probe, EventCount::Increments),
                brute(&hits, probe, len),
                "tick {probe}"
            );
        }
        tick += gap.min(3) - 1;
    }
}

#[test]
fn a_quiet_window_holds_nothing_and_a_storm_gives_its_memory_back() {
    let mut w = EventWindow::new(200);
    let quiet = w.bytes();
    assert_eq!(quiet, std::mem::size_of::<EventWindow>(), "no heap");
    assert_eq!(w.value(50, EventCount::Increments), 0.0);
    assert_eq!(w.bytes(), quiet);
    // A storm: hits on every tick from many objects and pods.
    for t in 100..300u64 {
        for o in 0..10 {
            w.add_from(t, 1, t * 10 + o, ("prod", &format!("pod-{t}-{o}")));
        }
    }
    let storm = w.bytes();
    assert!(storm > quiet + 200 * 8, "{storm}");
    assert!(storm <= EventWindow::max_bytes(200), "{storm}");
    assert_eq!(w.value(299, EventCount::Increments), 2000.0);
    // Then one hit every 50 ticks: a few entries, capacity given back.
    for t in (300..700u64).step_by(50) {
        w.add(t, 1, 1);
        assert_eq!(w.value(t, EventCount::Increments), brute_sparse(t));
    }
    assert!(w.bytes() < storm / 4, "{} after {storm}", w.bytes());
    // Once everything left the window, all of it.
    assert_eq!(w.value(1000, EventCount::Increments), 0.0);
    assert_eq!(w.value(1000, EventCount::Objects), 0.0);
    assert_eq!(w.top(), (Vec::new(), 0));
    assert_eq!(w.bytes(), quiet);
}

/// Increments of the sparse phase above in a 200-tick window at `t`: the
/// storm's ticks 100..300 (10 each) still inside, plus one per 50 ticks.
fn brute_sparse(t: u64) -> f64 {
    let mut hits: Vec<(u64, u32)> = (100..300).map(|s| (s, 10)).collect();
    hits.extend((300..=t).step_by(50).map(|s| (s, 1)));
    brute(&hits, t, 200)
}

#[test]
fn window_top_k_keeps_its_contents_and_order() {
    let mut w = EventWindow::new(5);
    w.add_from(1, 3, 1, ("prod", "hub-989cc9bd-5qdcb"));
    w.add_from(2, 1, 2, ("prod", "web-0"));
    w.add_from(3, 2, 3, ("prod", "hub-989cc9bd-7wcg8"));
    assert_eq!(
        w.top(),
        (
            vec![("prod/hub-*".to_string(), 5), ("prod/web-0".to_string(), 1)],
            6
        )
    );
    // Tick 7: ticks 1 and 2 left the window (counts and web-0's slot);
    // hub's slot stays (last hit at tick 3) with its count, as before.
    assert_eq!(w.value(7, EventCount::Increments), 2.0);
    assert_eq!(w.top(), (vec![("prod/hub-*".to_string(), 5)], 2));
    // Saturation per tick and for the total, as the buckets had it.
    w.add(8, u32::MAX, 4);
    w.add(8, 5, 4);
    assert_eq!(w.value(8, EventCount::Increments), u32::MAX as f64);
    w.add(9, 7, 4);
    assert_eq!(w.value(9, EventCount::Increments), u32::MAX as f64 + 7.0);
    assert_eq!(w.top().1, u32::MAX);
}

#[test]
fn once_nodes_are_listed_events_and_pods_make_no_new_node() {
    let c = catalog();
    let mut nodes = NodeTable::default();
    let mut listed = crate::k8s::Node::default();
    listed.metadata.name = "n1".into();
    nodes.apply_list(&[listed], "pool", &[], Timestamp(0));
    let mut ing = EventIngest::new(&c);
    let pod = |name: &str, node: &str| Pod {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: "prod".into(),
            uid: format!("u-{name}"),
            ..Default::default()
        },
        spec: PodSpec {
            node_name: node.into(),
        },
    };
    // A pod bound to a name the API server never listed is not placed.
    ing.add_pod(&pod("p1", "ghost"), &mut nodes);
    ing.add_pod(&pod("p2", "n1"), &mut nodes);
    let ghost = EventSource {
        component: "kubelet".into(),
        host: "ghost".into(),
    };
    // Anyone who may write Events can set `source.host`: an unlisted host
    // falls back to the involved pod, here unplaced, so unattributed.
    let mut e = ev("a.1", "FailedSync", 1);
    e.source = ghost.clone();
    assert!(ingest(&mut ing, &mut nodes, &e).is_empty());
    assert_eq!(ing.unattributed, 1);
    // ... and here placed on a listed node.
    let mut e = ev("a.2", "FailedSync", 1);
    e.source = ghost;
    e.involved_object.name = "p2".into();
    e.involved_object.uid = "u-p2".into();
    assert_eq!(ingest(&mut ing, &mut nodes, &e)[0].node, 0);
    let mut e = ev("a.3", "NodeNotReady", 1);
    e.involved_object = ObjectReference {
        kind: "Node".into(),
        name: "ghost".into(),
        ..Default::default()
    };
    assert!(ingest(&mut ing, &mut nodes, &e).is_empty());
    assert_eq!(nodes.len(), 1, "no node made of outside data");
}
