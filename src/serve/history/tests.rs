//! Unit tests of the history store: alignment, staleness, retention, the
//! byte budget and series that come and go.

use super::*;

const STEP: i64 = 30_000;

fn tick(h: &mut History, i: i64, series: &[(&str, f64)]) {
    assert!(h.begin(i * STEP));
    for (node, v) in series {
        h.set(&[("__name__", "m"), ("node", node)], *v);
    }
    h.end();
}

fn sid(h: &History, node: &str) -> u32 {
    let name = h.strings.get("m").unwrap();
    let n = h.strings.get(node).unwrap();
    *h.postings(name)
        .iter()
        .find(|s| h.series(**s).unwrap().labels.iter().any(|(_, v)| *v == n))
        .unwrap()
}

#[test]
fn samples_align_to_ticks_and_absence_is_stale() {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    tick(&mut h, 0, &[("a", 1.0)]);
    tick(&mut h, 1, &[("a", 2.0), ("b", 5.0)]);
    tick(&mut h, 2, &[("b", 6.0)]);
    let (a, b) = (sid(&h, "a"), sid(&h, "b"));
    assert_eq!(h.value(a, 0), Some(1.0));
    assert_eq!(h.value(a, 1), Some(2.0));
    assert_eq!(h.value(a, 2), None, "absent at tick 2");
    assert_eq!(h.value(b, 0), None, "not yet born");
    assert_eq!(h.value(b, 2), Some(6.0));
    assert_eq!(h.tick_at_or_before(STEP + 10), Some(1));
    assert_eq!(h.tick_at_or_before(-1), None);
    assert_eq!(h.ticks_between(STEP, 2 * STEP), 1..3);
    // Not moving forward in time is refused.
    assert!(!h.begin(2 * STEP));
    // Labels are sorted by name with __name__ first.
    let names: Vec<&str> = h
        .series(a)
        .unwrap()
        .labels
        .iter()
        .map(|(n, _)| h.strings.resolve(*n))
        .collect();
    assert_eq!(names, ["__name__", "node"]);
}

#[test]
fn retention_drops_old_ticks_and_dead_series() {
    let retention = 100 * STEP;
    let mut h = History::new(retention, usize::MAX);
    for i in 0..1000 {
        let gone = format!("short-{}", i / 10);
        tick(&mut h, i, &[("steady", (i % 7) as f64), (&gone, 1.0)]);
    }
    assert_eq!(h.ticks(), 101);
    let (lo, hi) = h.time_range().unwrap();
    assert_eq!(hi - lo, retention);
    // Series that ended before the retained window are gone; at most the
    // ones alive within the window plus one chunk remain.
    assert!(
        h.series_count() <= 1 + (101 + CHUNK) / 10 + 1,
        "{}",
        h.series_count()
    );
    let steady = sid(&h, "steady");
    assert_eq!(h.value(steady, 999), Some((999 % 7) as f64));
    assert!(h.strings.get("short-0").is_some(), "strings are kept");
}

#[test]
fn the_byte_budget_shortens_retention() {
    let budget = 400 * 1024;
    let mut h = History::new(i64::MAX / 4, budget);
    let names: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
    for i in 0..2000 {
        let series: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), (i % 5) as f64)).collect();
        tick(&mut h, i, &series);
    }
    assert!(h.bytes() <= budget, "{} > {budget}", h.bytes());
    assert!(h.ticks() >= CHUNK && h.ticks() < 2000, "{}", h.ticks());
    let n0 = sid(&h, "n0");
    assert_eq!(h.value(n0, 1999), Some(4.0));
}

#[test]
fn constant_series_cost_no_dense_chunks() {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    for i in 0..(4 * CHUNK as i64) {
        tick(&mut h, i, &[("flat", 0.0)]);
    }
    assert_eq!(h.dense_bytes, 0);
    assert!(h.bytes() < 2 * SERIES_OVERHEAD);
}
