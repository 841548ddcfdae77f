//! End-to-end tests of the embedded evaluator (`collect::tsdb`): lookback,
//! matchers, grouping, ratios and rates through `Tsdb::eval`, each checked
//! against values computed by hand with Prometheus 2.42 semantics. Sample
//! math of `rate` itself is covered by the unit tests next to it.

use nodewatch::catalog::MetricQuery;
use nodewatch::collect::tsdb::Tsdb;
use nodewatch::scenario::{Family, MetricType, Series};
use nodewatch::time::Timestamp;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    Series {
        labels,
        samples: samples.to_vec(),
    }
}

fn family(name: &str, kind: MetricType, series: Vec<Series>) -> Family {
    Family {
        name: name.into(),
        kind,
        help: String::new(),
        series,
    }
}

fn q(yaml: &str) -> MetricQuery {
    serde_yaml::from_str(yaml).expect("test query parses")
}

fn keys(out: &[(Vec<String>, f64)]) -> Vec<String> {
    out.iter().map(|(k, _)| k.join("/")).collect()
}

/// One value per key, for compact assertions.
fn flat(out: &[(Vec<String>, f64)]) -> Vec<(String, f64)> {
    out.iter().map(|(k, v)| (k.join("/"), *v)).collect()
}

/// Gauges `g` with labels node/container/pod and values 1, 10, 100, 1000
/// at t = 0, for matcher tests. The second series has no `container`.
fn matcher_db() -> Tsdb {
    let at0 = |v| vec![(0, v)];
    Tsdb::new(vec![family(
        "g",
        MetricType::Gauge,
        vec![
            series(
                &[("node", "a"), ("container", "x"), ("pod", "hub-1")],
                &at0(1.0),
            ),
            series(&[("node", "a"), ("pod", "hub-2")], &at0(10.0)),
            series(
                &[("node", "b"), ("container", "y"), ("pod", "web-1")],
                &at0(100.0),
            ),
            series(
                &[("node", "b"), ("container", "x"), ("pod", "hub")],
                &at0(1000.0),
            ),
        ],
    )])
}

fn eval_sum(db: &Tsdb, matchers: &str) -> Vec<(String, f64)> {
    let query = q(&format!("{{name: g, by: [node], matchers: {matchers}}}"));
    flat(&db.eval(&query, Timestamp(0)))
}

#[test]
fn equality_matchers_treat_absent_as_empty() {
    let db = matcher_db();
    assert_eq!(
        eval_sum(&db, "{container: x}"),
        vec![("a".into(), 1.0), ("b".into(), 1000.0)]
    );
    // container="" selects only the series without the label.
    assert_eq!(eval_sum(&db, "{container: ''}"), vec![("a".into(), 10.0)]);
    // container!="" excludes it: a = 1, b = 100 + 1000.
    assert_eq!(
        eval_sum(&db, "{container: '!='}"),
        vec![("a".into(), 1.0), ("b".into(), 1100.0)]
    );
    // container!="x": the absent label ("") differs from "x": a = 10, b = 100.
    assert_eq!(
        eval_sum(&db, "{container: '!=x'}"),
        vec![("a".into(), 10.0), ("b".into(), 100.0)]
    );
}

#[test]
fn regex_matchers_are_anchored() {
    let db = matcher_db();
    // hub-1 + hub-2 = 11 on a; "hub" on b has no dash.
    assert_eq!(eval_sum(&db, "{pod: '=~hub-.*'}"), vec![("a".into(), 11.0)]);
    // Anchored: "hub" matches only the pod named exactly hub.
    assert_eq!(eval_sum(&db, "{pod: '=~hub'}"), vec![("b".into(), 1000.0)]);
    assert_eq!(eval_sum(&db, "{pod: '!~hub.*'}"), vec![("b".into(), 100.0)]);
    // An absent label is "" for regexes too: =~"x|" keeps the unlabelled series.
    assert_eq!(
        eval_sum(&db, "{container: '=~x|'}"),
        vec![("a".into(), 11.0), ("b".into(), 1000.0)]
    );
    assert_eq!(
        eval_sum(&db, "{container: '!~.+'}"),
        vec![("a".into(), 10.0)]
    );
    assert!(eval_sum(&db, "{pod: '=~nothing'}").is_empty());
}

#[test]
fn metric_name_matches_exactly() {
    let db = matcher_db();
    assert!(db
        .eval(&q("{name: gg, by: [node]}"), Timestamp(0))
        .is_empty());
    assert!(db
        .eval(&q("{name: G, by: [node]}"), Timestamp(0))
        .is_empty());
}

#[test]
fn aggregations_group_by_labels() {
    let db = Tsdb::new(vec![family(
        "g",
        MetricType::Gauge,
        vec![
            series(&[("node", "a"), ("i", "1")], &[(0, 1.0)]),
            series(&[("node", "a"), ("i", "2")], &[(0, 2.0)]),
            series(&[("node", "a"), ("i", "3")], &[(0, 6.0)]),
            series(&[("node", "b"), ("i", "1")], &[(0, 5.0)]),
            series(&[("i", "9")], &[(0, 7.0)]),
        ],
    )]);
    let run = |agg: &str| {
        flat(&db.eval(
            &q(&format!("{{name: g, by: [node], aggregate: {agg}}}")),
            Timestamp(0),
        ))
    };
    // The series without `node` forms the group "" (sorted first).
    assert_eq!(
        run("sum"),
        vec![("".into(), 7.0), ("a".into(), 9.0), ("b".into(), 5.0)]
    );
    assert_eq!(
        run("max"),
        vec![("".into(), 7.0), ("a".into(), 6.0), ("b".into(), 5.0)]
    );
    assert_eq!(
        run("min"),
        vec![("".into(), 7.0), ("a".into(), 1.0), ("b".into(), 5.0)]
    );
    // avg a: 1, then 1 + 2/2 - 1/2 = 1.5, then 1.5 + 6/3 - 1.5/3 = 3.
    assert_eq!(
        run("avg"),
        vec![("".into(), 7.0), ("a".into(), 3.0), ("b".into(), 5.0)]
    );
    // Two BY labels, values in BY order, sorted by the whole key.
    let out = db.eval(&q("{name: g, by: [i, node]}"), Timestamp(0));
    assert_eq!(keys(&out), vec!["1/a", "1/b", "2/a", "3/a", "9/"]);
}

#[test]
fn lookback_is_five_minutes_inclusive() {
    let db = Tsdb::new(vec![family(
        "g",
        MetricType::Gauge,
        vec![
            series(&[("node", "a")], &[(0, 1.0), (60_000, 2.0)]),
            series(&[("node", "b")], &[(0, 3.0)]),
        ],
    )]);
    let query = q("{name: g, by: [node]}");
    // At 5 m the sample at 0 is exactly 5 m old: still there.
    assert_eq!(
        flat(&db.eval(&query, Timestamp(300_000))),
        vec![("a".into(), 2.0), ("b".into(), 3.0)]
    );
    // 1 ms later it is gone; a's newer sample (60 s) is not.
    assert_eq!(
        flat(&db.eval(&query, Timestamp(300_001))),
        vec![("a".into(), 2.0)]
    );
    assert_eq!(flat(&db.eval(&query, Timestamp(360_001))), vec![]);
    // Before the first sample nothing exists yet; future samples are ignored.
    assert!(db.eval(&query, Timestamp(-1)).is_empty());
    assert_eq!(
        flat(&db.eval(&query, Timestamp(59_999))),
        vec![("a".into(), 1.0), ("b".into(), 3.0)]
    );
}

#[test]
fn ratio_with_zero_and_missing_denominators() {
    let g = |name: &str, vals: &[(&str, f64)]| {
        let s = vals
            .iter()
            .map(|(n, v)| series(&[("node", n)], &[(0, *v)]))
            .collect();
        family(name, MetricType::Gauge, s)
    };
    let db = Tsdb::new(vec![
        g(
            "num",
            &[("a", 0.0), ("b", 1.0), ("c", 2.0), ("e", -1.0), ("f", 1.0)],
        ),
        g(
            "den",
            &[("a", 0.0), ("b", 0.0), ("d", 5.0), ("e", 0.0), ("f", 4.0)],
        ),
    ]);
    let out = db.eval(
        &q("{name: num, by: [node], ratio_to: {name: den}}"),
        Timestamp(0),
    );
    // a: 0/0 = NaN, b: 1/0 = +Inf, e: -1/0 = -Inf, f: 1/4; c and d have no partner.
    assert_eq!(keys(&out), ["a", "b", "e", "f"]);
    assert!(out[0].1.is_nan());
    assert_eq!(out[1].1, f64::INFINITY);
    assert_eq!(out[2].1, f64::NEG_INFINITY);
    assert_eq!(out[3].1, 0.25);
}

/// `prober_probe_total` every 10 s for t = 0..=600 s: node a has failed +1
/// and success +3 per scrape, node b only success; counters start at 1000.
fn probe_db() -> Tsdb {
    let counter = |start: f64, step: f64| -> Vec<(i64, f64)> {
        (0..=60)
            .map(|i| (i * 10_000, start + step * i as f64))
            .collect()
    };
    let probe = |node, result| {
        [
            ("node", node),
            ("probe_type", "Readiness"),
            ("result", result),
        ]
    };
    Tsdb::new(vec![family(
        "prober_probe_total",
        MetricType::Counter,
        vec![
            series(&probe("a", "failed"), &counter(1000.0, 1.0)),
            series(&probe("a", "successful"), &counter(1000.0, 3.0)),
            series(&probe("b", "successful"), &counter(1000.0, 2.0)),
        ],
    )])
}

#[test]
fn rate_ratio_of_probe_failures() {
    let db = probe_db();
    let query = q("name: prober_probe_total
matchers: {probe_type: Readiness, result: failed}
rate: 5m
by: [node]
ratio_to: {name: prober_probe_total, matchers: {probe_type: Readiness}, rate: 5m}");
    // At 305 s the window [5, 305] holds 10..300 s (30 samples): failed
    // +29 over 290 s, toStart 5, toEnd 5 (< 11): 29 * (300/290) / 300 = 0.1/s.
    // Success on a: 0.3/s; the ratio 0.1 / (0.1 + 0.3) = 0.25. Node b has
    // no failed series, so it has no numerator and drops out.
    let out = db.eval(&query, Timestamp(305_000));
    assert_eq!(keys(&out), ["a"]);
    assert!((out[0].1 - 0.25).abs() < 1e-12, "{out:?}");
    let rate = db.eval(
        &q("{name: prober_probe_total, rate: 5m, by: [node]}"),
        Timestamp(305_000),
    );
    // a: 0.1 + 0.3 = 0.4, b: 0.2.
    assert!(
        (rate[0].1 - 0.4).abs() < 1e-12 && (rate[1].1 - 0.2).abs() < 1e-12,
        "{rate:?}"
    );
    // A prepared query gives the same, and lists every possible group.
    let prepared = db.prepare(&query);
    assert_eq!(prepared.eval(Timestamp(305_000)), out);
    assert_eq!(
        prepared.keys(),
        [vec!["a".to_string()], vec!["b".to_string()]]
    );
}

#[test]
fn families_merge_and_samples_are_normalized() {
    let db = Tsdb::new(vec![
        family(
            "g",
            MetricType::Gauge,
            vec![series(&[("node", "a")], &[(20_000, 2.0), (0, 1.0)])],
        ),
        family(
            "g",
            MetricType::Gauge,
            vec![series(&[("node", "a")], &[(40_000, 4.0)])],
        ),
        family("h", MetricType::Gauge, vec![series(&[("node", "a")], &[])]),
    ]);
    assert_eq!(db.time_range(), Some((0, 40_000)));
    let query = q("{name: g, by: [node], aggregate: max}");
    assert_eq!(
        flat(&db.eval(&query, Timestamp(10_000))),
        vec![("a".into(), 1.0)]
    );
    assert_eq!(
        flat(&db.eval(&query, Timestamp(50_000))),
        vec![("a".into(), 4.0)]
    );
    assert_eq!(Tsdb::new(Vec::new()).time_range(), None);
}

#[test]
fn nan_and_inf_samples_are_kept() {
    let db = Tsdb::new(vec![family(
        "g",
        MetricType::Gauge,
        vec![
            series(&[("node", "a")], &[(0, f64::NAN)]),
            series(&[("node", "b")], &[(0, f64::INFINITY)]),
        ],
    )]);
    let out = db.eval(&q("{name: g, by: [node]}"), Timestamp(0));
    assert!(out[0].1.is_nan());
    assert_eq!(out[1].1, f64::INFINITY);
}
