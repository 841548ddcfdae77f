//! The functions that make up labels (`label_replace`, `label_join`,
//! `count_values`, `absent`, `absent_over_time`), `clamp` and string
//! results, against hand-computed answers and Prometheus 2.42's.

use super::tests::{at, inst, store, vec_of, STEP};
use super::*;
use crate::serve::history::History;

fn err(h: &History, q: &str) -> QueryError {
    inst(h, q, at(10)).expect_err(q)
}

/// Label sets of an instant vector, in result order.
fn sets(h: &History, q: &str, i: i64) -> Vec<String> {
    vec_of(h, q, i).into_iter().map(|p| p.0).collect()
}

#[test]
fn label_replace_makes_up_labels_and_keeps_prometheus_errors() {
    let h = store();
    // A capture into a label no stored series has; `__name__` is kept.
    assert_eq!(
        vec_of(
            &h,
            r#"label_replace(g{node="a"}, "host", "h-$1", "node", "(.*)")"#,
            0
        ),
        [("__name__=g,host=h-a,node=a,zone=z1".into(), 0.25)]
    );
    // No match: unchanged. `${1}`, named groups, `$$`.
    assert_eq!(
        sets(
            &h,
            r#"label_replace(g{node="a"}, "x", "y", "node", "b")"#,
            0
        ),
        ["__name__=g,node=a,zone=z1"]
    );
    assert_eq!(
        sets(
            &h,
            r#"label_replace(g{node="a"}, "x", "${1}1$$", "zone", "z(.)")"#,
            0
        ),
        ["__name__=g,node=a,x=11$,zone=z1"]
    );
    assert_eq!(
        sets(
            &h,
            r#"label_replace(g{node="a"}, "x", "$n", "zone", "(?P<n>z).*")"#,
            0
        ),
        ["__name__=g,node=a,x=z,zone=z1"]
    );
    // `$1x` is the (missing) group named `1x`: empty, so `x` is removed.
    assert_eq!(
        sets(
            &h,
            r#"label_replace(g{node="a"}, "zone", "$1x", "zone", "(.*)")"#,
            0
        ),
        ["__name__=g,node=a"]
    );
    // Go's template rules: `$1x` is group `1x`, `$$` a dollar, a lone
    // `$` itself (answers checked against Prometheus 2.42).
    assert_eq!(
        sets(
            &h,
            r#"label_replace(vector(1), "a", "$1x${1}y$$z$", "b", "(.*)")"#,
            0
        ),
        ["a=y$z$"]
    );
    // Only Go's spelling of named groups; `\(?<` is a literal.
    assert_eq!(
        sets(
            &h,
            r#"label_replace(vector(1), "a", "$1", "b", "\\(?<?[]]?()")"#,
            0
        ),
        [""]
    );
    // A missing source label reads as "" and can match.
    assert_eq!(
        sets(
            &h,
            r#"label_replace(g{node="a"}, "x", "none", "nope", "")"#,
            0
        ),
        ["__name__=g,node=a,x=none,zone=z1"]
    );
    // Made-up names group, match and sort like stored ones.
    assert_eq!(
        vec_of(
            &h,
            r#"sum by (host) (label_replace(g, "host", "$1", "zone", "z(.)"))"#,
            0
        ),
        [("host=1".into(), 0.75), ("host=2".into(), 0.9)]
    );
    let q =
        r#"label_replace(g, "k", "v", "", "") - on(k, node) label_replace(g, "k", "v", "", "")"#;
    assert_eq!(vec_of(&h, q, 0).len(), 3);
    // Prometheus's errors, errorType execution.
    for (q, text) in [
        (
            r#"label_replace(g, "x", "", "node", "(")"#,
            "invalid regular expression in label_replace(): (",
        ),
        (
            r#"label_replace(g, "x", "", "node", "(?<n>a)")"#,
            "invalid regular expression in label_replace(): (?<n>a)",
        ),
        (
            r#"label_replace(g, "1x", "", "node", ".*")"#,
            "invalid destination label name in label_replace(): 1x",
        ),
        (
            r#"label_replace(g, "node", "same", "", "")"#,
            "vector cannot contain metrics with the same labelset",
        ),
    ] {
        let e = err(&h, q);
        assert_eq!(e.error_type(), "execution", "{q}");
        assert_eq!(e.to_string(), text, "{q}");
    }
    // Also on an empty input, as Prometheus calls the function anyway.
    assert!(inst(&h, r#"label_replace(nope, "x", "", "node", "(")"#, at(0)).is_err());
}

#[test]
fn label_join_joins_and_validates_names() {
    let h = store();
    assert_eq!(
        sets(
            &h,
            r#"label_join(g{node="a"}, "id", "/", "zone", "node", "nope")"#,
            0
        ),
        ["__name__=g,id=z1/a/,node=a,zone=z1"]
    );
    // Joining nothing removes the destination.
    assert_eq!(
        sets(&h, r#"label_join(g{node="a"}, "zone", "-", "nope")"#, 0),
        ["__name__=g,node=a"]
    );
    let e = err(&h, r#"label_join(g, "x", ",", "ok", "b-d")"#);
    assert_eq!(
        e.to_string(),
        "invalid source label name in label_join(): b-d"
    );
    let e = err(&h, r#"label_join(g, "", ",", "node")"#);
    assert_eq!(
        e.to_string(),
        "invalid destination label name in label_join(): "
    );
    let e = err(&h, r#"label_join(g, "node", ",", "zone")"#);
    assert!(e.to_string().contains("same labelset"), "{e}");
}

#[test]
fn count_values_counts_each_formatted_value() {
    let h = store();
    // Tick 0: g is 0.25, 0.5 and 0.9; c is 0 twice.
    assert_eq!(
        vec_of(&h, r#"count_values("v", c)"#, 0),
        [("v=0".into(), 2.0)]
    );
    assert_eq!(
        vec_of(&h, r#"count_values by (zone) ("v", g)"#, 0),
        [
            ("v=0.25,zone=z1".into(), 1.0),
            ("v=0.5,zone=z1".into(), 1.0),
            // Stored as f64: the 0.9 that was published.
            ("v=0.9,zone=z2".into(), 1.0)
        ]
    );
    // `without` drops the listed labels and the name, keeps the value's.
    assert_eq!(
        vec_of(&h, r#"count_values without (node) ("v", c * 0 + 1e21)"#, 3),
        [("v=1000000000000000000000".into(), 2.0)]
    );
    assert_eq!(
        sets(&h, r#"count_values("node", g{node="a"})"#, 0),
        ["node=0.25"]
    );
    assert_eq!(labels::format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(labels::format_value(-0.0), "-0");
    assert_eq!(labels::format_value(1e-7), "0.0000001");
    let e = err(&h, r#"count_values("a-b", g)"#);
    assert_eq!(e.error_type(), "execution");
    // Per step in a range query: c is 570 twice at tick 19, then b resets.
    let q = parse(r#"count_values("v", c)"#).unwrap();
    let Data::Matrix(m) = range(&h, &q, at(19), at(20), STEP).unwrap().data else {
        panic!()
    };
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(m[0].1, [(at(20), 1.0)], "v=0 {m:?}");
    assert_eq!(m[1].1, [(at(19), 2.0)], "v=570 {m:?}");
}

#[test]
fn absent_derives_labels_from_equality_matchers() {
    let h = store();
    assert!(vec_of(&h, "absent(g)", 10).is_empty());
    assert_eq!(
        vec_of(&h, r#"absent(nope{job="x", node=~"a", zone="z"})"#, 10),
        [("job=x,zone=z".into(), 1.0)]
    );
    // A name matched twice, or not by `=`, is left out; so is `__name__`.
    assert_eq!(
        sets(&h, r#"absent({__name__="nope", a="1", a="2", b!="3"})"#, 10),
        [""]
    );
    assert_eq!(sets(&h, r#"absent(sum(nope{job="x"}))"#, 10), [""]);
    assert_eq!(sets(&h, r#"absent((nope{job="x"} @ 100))"#, 10), ["job=x"]);
    // Per step: node c disappears at tick 30.
    let q = parse(r#"absent(g{node="c"})"#).unwrap();
    let Data::Matrix(m) = range(&h, &q, at(28), at(31), STEP).unwrap().data else {
        panic!()
    };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].1, [(at(30), 1.0), (at(31), 1.0)]);
    let out = inst(&h, r#"absent(nope{job="x"})"#, at(10)).unwrap();
    assert!(!out.names.is_empty(), "job and x are made up");
}

#[test]
fn absent_over_time_looks_at_whole_windows() {
    let h = store();
    assert!(vec_of(&h, r#"absent_over_time(g{node="c"}[1m])"#, 31).is_empty());
    assert_eq!(
        vec_of(&h, r#"absent_over_time(g{node="c"}[1m])"#, 32),
        [("node=c".into(), 1.0)]
    );
    assert_eq!(
        vec_of(&h, r#"absent_over_time(nope{a="b"}[5m:1m])"#, 10),
        [("".into(), 1.0)]
    );
    assert!(vec_of(&h, "absent_over_time(g[1m:30s])", 10).is_empty());
    assert!(vec_of(&h, r#"absent_over_time({node="a"}[1m])"#, 10).is_empty());
}

#[test]
fn clamp_bounds_both_sides_and_answers_nothing_when_inverted() {
    let h = store();
    assert_eq!(
        vec_of(&h, "clamp(g, 0.3, 0.6)", 0),
        [
            ("node=a,zone=z1".into(), 0.3),
            ("node=b,zone=z1".into(), 0.5),
            ("node=c,zone=z2".into(), 0.6)
        ]
    );
    assert!(vec_of(&h, "clamp(g, 1, 0)", 0).is_empty());
    assert!(vec_of(&h, "clamp(g, NaN, 1)", 0)
        .iter()
        .all(|p| p.1.is_nan()));
    assert_eq!(vec_of(&h, "clamp(g, 0.5, 0.5)", 0).len(), 3);
    // Go's math.Max/Min: an infinity wins over NaN.
    assert_eq!(
        vec_of(&h, "clamp(vector(Inf), NaN, Inf)", 0)[0].1,
        f64::INFINITY
    );
    assert_eq!(
        vec_of(&h, "clamp_min(vector(Inf), NaN)", 0)[0].1,
        f64::INFINITY
    );
    assert_eq!(
        vec_of(&h, "clamp_max(vector(-Inf), NaN)", 0)[0].1,
        f64::NEG_INFINITY
    );
    assert!(vec_of(&h, "clamp_max(vector(Inf), NaN)", 0)[0].1.is_nan());
}

#[test]
fn a_string_literal_is_a_string_result_at_instant_queries_only() {
    let h = store();
    assert_eq!(
        inst(&h, r#""text""#, at(1)).unwrap().data,
        Data::String(at(1), "text".into())
    );
    // Prometheus 2.42 fails on a parenthesized one (execution).
    let e = inst(&h, r#"("a")"#, at(1)).unwrap_err();
    assert_eq!(e.error_type(), "execution");
    let e = range(&h, &parse(r#""text""#).unwrap(), at(0), at(1), STEP).unwrap_err();
    assert_eq!(e.error_type(), "bad_data");
    assert!(
        e.to_string().contains("invalid expression type \"string\""),
        "{e}"
    );
}
