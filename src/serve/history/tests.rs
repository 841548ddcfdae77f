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
    // The per-name lists hold exactly the live series.
    let listed: usize = h.by_name.values().map(Vec::len).sum();
    assert_eq!(listed, h.series_count());
    assert!(h
        .by_name
        .values()
        .flatten()
        .all(|&sid| h.series[sid as usize].is_some()));
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

/// A varied snapshot for tick `i`: nodes come and go, move zones, change
/// cordon state, reorder, repeat and drop signals; signals turn unknown.
/// Node `n0` stays while its `mem` value is unknown long enough for that
/// series to expire and its id to go to one of the new `x` nodes.
fn churn(i: u64) -> crate::state::Snapshot {
    use crate::state::{NodeView, SignalValue, Snapshot};
    // A small deterministic hash of (tick, salt).
    let r = |salt: u64| {
        let z = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^ (z >> 29)
    };
    let signals = ["cpu", "mem", "disk", "net"];
    let mut nodes: Vec<NodeView> = (0..8u64)
        // Node 7 is away for a long stretch (its series expire and their
        // ids are reused); the others but n0 blink now and then.
        .filter(|n| *n == 0 || r(n + 1) % 11 != 0 && !(*n == 7 && (60..200).contains(&i)))
        .map(|n| {
            let mut sigs: Vec<SignalValue> = signals
                .iter()
                .enumerate()
                .filter(|(k, _)| n == 0 || r(n * 8 + *k as u64 + 100) % 7 != 0)
                .map(|(k, s)| SignalValue {
                    signal: s.to_string(),
                    value: if n == 0 {
                        (*s != "mem" || !(100..260).contains(&i)).then_some(i as f64)
                    } else {
                        (r(n * 8 + k as u64 + 200) % 5 != 0).then_some((i % 9) as f64)
                    },
                    level: (r(n + k as u64) % 3) as f64 / 4.0,
                })
                .collect();
            if r(n + 300) % 5 == 0 {
                sigs.reverse();
            }
            if r(n + 400) % 6 == 0 && !sigs.is_empty() {
                let mut dup = sigs[0].clone();
                dup.value = None;
                dup.level = 0.9;
                sigs.push(dup);
            }
            NodeView {
                name: format!("n{n}"),
                zone: format!("z{}", (i / 50 + n) % 3),
                pool: if r(n + 500) % 9 == 0 {
                    String::new()
                } else {
                    "p".into()
                },
                score: (i % 13) as f64 / 16.0,
                signals: sigs,
                unknown: if r(n + 600) % 4 == 0 {
                    vec!["mem".into(), "gpu".into()]
                } else {
                    vec![]
                },
                cordoned: r(n + 700) % 5 == 0,
                cordoned_by_us: r(n + 800) % 2 == 0,
                ..Default::default()
            }
        })
        .collect();
    if i % 10 == 3 {
        nodes.reverse();
    }
    if i % 17 == 5 && !nodes.is_empty() {
        nodes.push(nodes[0].clone());
    }
    nodes.push(NodeView {
        name: format!("x{}", i / 20),
        ..nodes[0].clone()
    });
    Snapshot {
        at: crate::time::Timestamp(i as i64 * STEP),
        nodes,
        ..Default::default()
    }
}

#[test]
fn the_series_id_cache_changes_nothing() {
    // Reference: the cache emptied before every tick, so every sample
    // takes the full path of interning and sorting its labels.
    let retention = 40 * STEP;
    let (mut cached, mut plain) = (
        History::new(retention, usize::MAX),
        History::new(retention, usize::MAX),
    );
    let totals = std::collections::BTreeMap::new();
    for i in 0..300 {
        let s = churn(i);
        record(&mut cached, &s, &totals, &[]);
        plain.cache = cache::NodeCache::default();
        record(&mut plain, &s, &totals, &[]);
        assert_eq!(cached.series_count(), plain.series_count(), "tick {i}");
        assert_eq!(cached.series.len(), plain.series.len(), "tick {i}");
        for (sid, (a, b)) in cached.series.iter().zip(&plain.series).enumerate() {
            let (Some(a), Some(b)) = (a, b) else {
                assert_eq!(a.is_some(), b.is_some(), "tick {i}, series {sid}");
                continue;
            };
            assert_eq!(a.labels, b.labels, "tick {i}, series {sid}");
            let (va, vb) = (cached.value(sid as u32, i), plain.value(sid as u32, i));
            assert_eq!(va, vb, "tick {i}, series {sid}");
        }
    }
}

#[test]
fn a_repeated_signal_counts_once() {
    use crate::state::{NodeView, SignalValue, Snapshot};
    let sig = |value, level| SignalValue {
        signal: "cpu".into(),
        value,
        level,
    };
    let s = Snapshot {
        nodes: vec![NodeView {
            name: "a".into(),
            signals: vec![sig(Some(0.5), 0.25), sig(None, 0.75)],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    record(&mut h, &s, &std::collections::BTreeMap::new(), &[]);
    let find = |name: &str| {
        let id = h.strings.get(name)?;
        Some(h.postings(id).to_vec())
    };
    let value = find("nodewatch_signal_value").unwrap();
    let anomaly = find("nodewatch_signal_anomaly").unwrap();
    assert_eq!(h.value(value[0], 0), Some(0.5));
    assert_eq!(h.value(anomaly[0], 0), Some(0.25));
    assert_eq!(find("nodewatch_signal_unknown"), None);
}
