//! The evaluator against hand-computed answers on a small history, and
//! every refusal naming its construct.

use super::*;
use crate::serve::history::History;

pub(super) const T0: i64 = 1_519_146_000_000;
pub(super) const STEP: i64 = 30_000;

/// 40 ticks: `c` counts 30 per tick on node a (reset at tick 20 on b),
/// `g` is a gauge on three nodes in two zones, node c disappears at 30.
pub(super) fn store() -> History {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    for i in 0..40i64 {
        assert!(h.begin(T0 + i * STEP));
        h.set(&[("__name__", "c"), ("node", "a")], (30 * i) as f64);
        h.set(&[("__name__", "c"), ("node", "b")], (30 * (i % 20)) as f64);
        for (node, zone, v) in [("a", "z1", 0.25), ("b", "z1", 0.5), ("c", "z2", 0.9)] {
            if node == "c" && i >= 30 {
                continue;
            }
            h.set(
                &[("__name__", "g"), ("node", node), ("zone", zone)],
                v + i as f64 / 100.0,
            );
        }
        h.end();
    }
    h
}

pub(super) fn at(i: i64) -> i64 {
    T0 + i * STEP
}

pub(super) fn inst(h: &History, q: &str, t: i64) -> Result<Output, QueryError> {
    instant(h, &parse(q)?, t)
}

/// `node=value` pairs of an instant vector, in result order.
pub(super) fn pairs(h: &History, out: &Output) -> Vec<(String, f64)> {
    let Data::Vector(_, samples) = &out.data else {
        panic!("not a vector: {out:?}")
    };
    samples
        .iter()
        .map(|(l, v)| {
            let text: Vec<String> = l
                .iter()
                .map(|(k, v)| format!("{}={}", out.resolve(h, *k), out.resolve(h, *v)))
                .collect();
            (text.join(","), (v * 1e6).round() / 1e6)
        })
        .collect()
}

pub(super) fn vec_of(h: &History, q: &str, i: i64) -> Vec<(String, f64)> {
    pairs(h, &inst(h, q, at(i)).unwrap_or_else(|e| panic!("{q}: {e}")))
}

#[test]
fn selectors_with_all_matcher_kinds_lookback_and_staleness() {
    let h = store();
    assert_eq!(
        vec_of(&h, "g{zone=\"z2\"}", 10),
        [("__name__=g,node=c,zone=z2".into(), 1.0)]
    );
    assert_eq!(vec_of(&h, "g{zone!=\"z1\"}", 10).len(), 1);
    assert_eq!(vec_of(&h, "g{node=~\"a|b\"}", 10).len(), 2);
    assert_eq!(vec_of(&h, "g{node!~\"a|b\"}", 10).len(), 1);
    assert_eq!(vec_of(&h, "{__name__=~\"c|g\",node=\"a\"}", 10).len(), 2);
    // Between ticks the previous tick's sample is used (lookback).
    let mid = pairs(&h, &inst(&h, "g{node=\"a\"}", at(10) + 10_000).unwrap());
    assert_eq!(mid[0].1, 0.35);
    // Node c vanished at tick 30: stale, not carried for 5 minutes.
    assert_eq!(vec_of(&h, "g{node=\"c\"}", 31).len(), 0);
    // Past the last tick, the lookback still finds it for 5 minutes only.
    assert_eq!(vec_of(&h, "g{node=\"a\"}", 39 + 9).len(), 1);
    assert_eq!(vec_of(&h, "g{node=\"a\"}", 39 + 11).len(), 0);
    assert_eq!(vec_of(&h, "nope", 10).len(), 0);
    assert_eq!(vec_of(&h, "g offset 1m", 12), vec_of(&h, "g", 10));
}

#[test]
fn rate_increase_and_over_time() {
    let h = store();
    // 30 per 30 s = 1/s; a 5 m window on aligned ticks holds 11 samples.
    assert_eq!(
        vec_of(&h, "rate(c{node=\"a\"}[5m])", 20),
        [("node=a".into(), 1.0)]
    );
    assert_eq!(
        vec_of(&h, "increase(c{node=\"a\"}[5m])", 20),
        [("node=a".into(), 300.0)]
    );
    // The reset at tick 20 on b is added back.
    assert_eq!(
        vec_of(&h, "increase(c{node=\"b\"}[5m])", 25),
        [("node=b".into(), 270.0)]
    );
    // Unaligned: samples at 20..=29 (9 intervals, 270 s) in a window that
    // starts 10 s before the first: extrapolated by 10 s at the start and
    // 20 s at the end (both below 1.1 intervals) → 300 s worth.
    let r = pairs(
        &h,
        &inst(&h, "increase(c{node=\"a\"}[5m])", at(29) + 20_000).unwrap(),
    );
    assert_eq!(r[0].1, 300.0);
    assert_eq!(
        vec_of(&h, "max_over_time(g{node=\"a\"}[1m])", 10),
        [("node=a,zone=z1".into(), 0.35)]
    );
    assert_eq!(
        vec_of(&h, "count_over_time(g{node=\"a\"}[1m])", 10),
        [("node=a,zone=z1".into(), 3.0)]
    );
    assert_eq!(
        vec_of(&h, "avg_over_time(g{node=\"a\"}[1m])", 10),
        [("node=a,zone=z1".into(), 0.34)]
    );
    assert_eq!(
        vec_of(&h, "last_over_time(g{node=\"a\"}[1m])", 10),
        [("__name__=g,node=a,zone=z1".into(), 0.35)]
    );
    assert_eq!(
        vec_of(&h, "changes(c{node=\"b\"}[1m])", 20),
        [("node=b".into(), 2.0)]
    );
    assert_eq!(
        vec_of(&h, "resets(c{node=\"b\"}[5m])", 22),
        [("node=b".into(), 1.0)]
    );
    // One sample: no rate.
    assert_eq!(vec_of(&h, "rate(c{node=\"a\"}[10s])", 20).len(), 0);
}

#[test]
fn aggregations() {
    let h = store();
    assert_eq!(vec_of(&h, "sum(g)", 0), [("".into(), 1.65)]);
    assert_eq!(
        vec_of(&h, "sum by (zone) (g)", 0),
        [("zone=z1".into(), 0.75), ("zone=z2".into(), 0.9)]
    );
    assert_eq!(
        vec_of(&h, "max without (node) (g)", 0),
        [("zone=z1".into(), 0.5), ("zone=z2".into(), 0.9)]
    );
    assert_eq!(vec_of(&h, "avg(g)", 0), [("".into(), 0.55)]);
    assert_eq!(
        vec_of(&h, "count by (zone) (g)", 0)[0],
        ("zone=z1".into(), 2.0)
    );
    assert_eq!(vec_of(&h, "min(g)", 0), [("".into(), 0.25)]);
    assert_eq!(vec_of(&h, "group(g)", 0), [("".into(), 1.0)]);
    assert_eq!(
        vec_of(&h, "stddev(g{zone=\"z1\"})", 0),
        [("".into(), 0.125)]
    );
    let top = vec_of(&h, "topk(2, g)", 0);
    assert_eq!(
        top.iter().map(|p| p.1).collect::<Vec<_>>(),
        [0.9, 0.5],
        "best first"
    );
    assert!(top[0].0.starts_with("__name__=g"), "topk keeps the series");
    assert_eq!(vec_of(&h, "bottomk by (zone) (1, g)", 0).len(), 2);
    assert_eq!(vec_of(&h, "topk(0, g)", 0).len(), 0);
}

#[test]
fn arithmetic_and_comparisons_with_scalars() {
    let h = store();
    assert_eq!(
        inst(&h, "1+1", at(0)).unwrap().data,
        Data::Scalar(at(0), 2.0)
    );
    assert_eq!(
        inst(&h, "2 > bool 1", at(0)).unwrap().data,
        Data::Scalar(at(0), 1.0)
    );
    assert_eq!(
        vec_of(&h, "g{node=\"a\"} * 100", 0),
        [("node=a,zone=z1".into(), 25.0)]
    );
    assert_eq!(
        vec_of(&h, "1 - g{node=\"a\"}", 0),
        [("node=a,zone=z1".into(), 0.75)]
    );
    assert_eq!(
        vec_of(&h, "-g{node=\"a\"}", 0),
        [("node=a,zone=z1".into(), -0.25)]
    );
    assert_eq!(vec_of(&h, "2 ^ 3 % 5 + g{node=\"a\"}", 0)[0].1, 3.25);
    // Comparisons filter and keep the name and the vector's own value.
    assert_eq!(vec_of(&h, "g > 0.4", 0).len(), 2);
    assert_eq!(
        vec_of(&h, "0.4 < g", 0)[0],
        ("__name__=g,node=b,zone=z1".into(), 0.5)
    );
    let b = vec_of(&h, "g > bool 0.4", 0);
    assert_eq!(b.iter().map(|p| p.1).collect::<Vec<_>>(), [0.0, 1.0, 1.0]);
    assert!(!b[0].0.contains("__name__"));
    assert_eq!(vec_of(&h, "sum(rate(c[5m])) * 60", 19)[0].1, 120.0);
    assert_eq!(
        inst(&h, "time()", at(3)).unwrap().data,
        Data::Scalar(at(3), at(3) as f64 / 1000.0)
    );
    assert_eq!(vec_of(&h, "vector(1)", 0), [("".into(), 1.0)]);
    assert_eq!(vec_of(&h, "abs(-g{node=\"a\"})", 0)[0].1, 0.25);
    assert_eq!(vec_of(&h, "clamp_max(g, 0.3)", 0)[2].1, 0.3);
    let sorted = vec_of(&h, "sort_desc(g)", 0);
    assert_eq!(sorted[0].1, 0.9);
}

#[test]
fn range_queries_step_through_time() {
    let h = store();
    let out = range(
        &h,
        &parse("sum by (zone) (g)").unwrap(),
        at(28),
        at(31),
        STEP,
    )
    .unwrap();
    let Data::Matrix(series) = out.data else {
        panic!()
    };
    assert_eq!(series.len(), 2);
    // z2 (node c) ends at tick 29.
    let z2: Vec<i64> = series[1].1.iter().map(|p| p.0).collect();
    assert_eq!(z2, [at(28), at(29)]);
    assert_eq!(series[0].1.len(), 4);
    let out = range(&h, &parse("1+1").unwrap(), at(0), at(2), STEP).unwrap();
    assert_eq!(
        out.data,
        Data::Matrix(vec![(
            vec![],
            vec![(at(0), 2.0), (at(1), 2.0), (at(2), 2.0)]
        )])
    );
    // topk per step: the picked series changes when c disappears.
    let Data::Matrix(top) = range(&h, &parse("topk(1, g)").unwrap(), at(29), at(30), STEP)
        .unwrap()
        .data
    else {
        panic!()
    };
    assert_eq!(top.len(), 2);
    assert!(range(&h, &parse("g").unwrap(), at(2), at(1), STEP).is_err());
    assert!(range(&h, &parse("g").unwrap(), at(0), at(0) + 11_000 * STEP, STEP).is_err());
    assert!(range(&h, &parse("g[5m]").unwrap(), at(0), at(1), STEP).is_err());
}

#[test]
fn a_range_selector_as_an_instant_query_returns_raw_samples() {
    let h = store();
    let Data::Matrix(m) = inst(&h, "g{node=\"a\"}[1m]", at(10)).unwrap().data else {
        panic!()
    };
    assert_eq!(m[0].1.len(), 3);
    assert_eq!(m[0].1[2], (at(10), 0.25 + 10.0 / 100.0), "stored as f64");
}

#[test]
fn vector_matching_and_set_operators() {
    let h = store();
    // One-to-one on all labels but the name.
    assert_eq!(
        vec_of(&h, "g - g", 10),
        vec![
            ("node=a,zone=z1".into(), 0.0),
            ("node=b,zone=z1".into(), 0.0),
            ("node=c,zone=z2".into(), 0.0),
        ]
    );
    // group_left copies the zone from the one side onto the counter.
    let mut v = vec_of(&h, "c * on(node) group_left(zone) g", 1);
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        v,
        vec![
            ("node=a,zone=z1".into(), 7.8),
            ("node=b,zone=z1".into(), 15.3)
        ]
    );
    // Many-to-many is refused with Prometheus's words (execution error).
    let e = inst(&h, "g + on(zone) g", at(10)).unwrap_err();
    assert_eq!(e.error_type(), "execution");
    assert!(
        e.to_string().contains("many-to-many matching not allowed"),
        "{e}"
    );
    let e = inst(&h, "c + on() group_left g", at(10)).unwrap_err();
    assert!(e.to_string().contains("found duplicate series"), "{e}");
    let e = inst(&h, "c + ignoring(node) g", at(10)).unwrap_err();
    assert!(e.to_string().contains("many-to-many"), "{e}");
    // Set operators.
    assert_eq!(vec_of(&h, "g and on(node) c", 10).len(), 2);
    assert_eq!(vec_of(&h, "g unless on(node) c", 10).len(), 1);
    assert_eq!(vec_of(&h, "c or g", 10).len(), 5);
    // `or` joins a series that changes sides over time into one.
    let q = parse("sum(g{node=\"c\"}) or on() vector(7)").unwrap();
    let Data::Matrix(m) = range(&h, &q, at(28), at(32), STEP).unwrap().data else {
        panic!()
    };
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].1.len(), 5, "{m:?}");
    assert_eq!(m[0].1[4].1, 7.0, "{m:?}");
}

#[test]
fn at_modifier_reads_a_fixed_time() {
    let h = store();
    let q = parse("g{node=\"a\"} @ end()").unwrap();
    let Data::Matrix(m) = range(&h, &q, at(0), at(5), STEP).unwrap().data else {
        panic!()
    };
    assert_eq!(m[0].1.len(), 6, "{m:?}");
    assert!(m[0].1.iter().all(|p| (p.1 - 0.3).abs() < 1e-6), "{m:?}");
    assert_eq!(
        vec_of(&h, &format!("g{{node=\"a\"}} @ {}", at(2) / 1000), 30),
        vec![("__name__=g,node=a,zone=z1".into(), 0.27)]
    );
}

#[test]
fn subqueries_feed_range_functions() {
    let h = store();
    // The inner steps are minute-aligned: max over [t - 5m, t] of g.
    assert_eq!(
        vec_of(&h, "max_over_time(g{node=\"a\"}[5m:1m])", 10),
        vec![("node=a,zone=z1".into(), 0.35)]
    );
    // A subquery of a subquery, and one as the whole instant query.
    let v = vec_of(
        &h,
        "max_over_time(max_over_time(g{node=\"a\"}[2m:30s])[5m:1m])",
        10,
    );
    assert_eq!(v, vec![("node=a,zone=z1".into(), 0.35)]);
    let Data::Matrix(m) = inst(&h, "g{node=\"a\"}[2m:1m]", at(10)).unwrap().data else {
        panic!()
    };
    assert_eq!(m[0].1.len(), 3, "{m:?}");
    // Inner steps count against the samples budget before allocation.
    let tight = Budget {
        max_samples: 1_000,
        deadline: None,
    };
    let q = parse("max_over_time(g[1y:1s])").unwrap();
    let e = instant_with(&h, &q, at(10), tight).unwrap_err();
    assert_eq!(e.error_type(), "execution", "{e}");
}

#[test]
fn everything_else_is_refused_by_name() {
    // Only native histograms remain refused: nodewatch stores none.
    let h = store();
    for (q, names) in [
        ("histogram_count(g)", "native histograms (histogram_count)"),
        ("histogram_sum(g)", "native histograms (histogram_sum)"),
        (
            "histogram_fraction(0, 1, g)",
            "native histograms (histogram_fraction)",
        ),
    ] {
        let e = inst(&h, q, at(10)).unwrap_err();
        assert_eq!(e.error_type(), "bad_data", "{q}");
        assert!(e.to_string().contains(names), "{q}: {e}");
    }
    let e = inst(&h, "sum(", at(0)).unwrap_err();
    assert!(matches!(e, QueryError::Parse(_)), "{e}");
    assert!(inst(&h, "", at(0)).is_err());
}
