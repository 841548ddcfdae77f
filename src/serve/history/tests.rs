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
        .all(|&sid| h.series.get(sid).is_some()));
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
fn constant_series_cost_no_stream_bytes() {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    for i in 0..(4 * CHUNK as i64) {
        tick(&mut h, i, &[("flat", 0.0)]);
    }
    // Four sealed constant chunks: their slots only.
    assert_eq!(h.stream_bytes(), (0, 4 * CHUNK));
    assert!(h.chunk_bytes <= 4 * 32, "{}", h.chunk_bytes);
}

#[test]
fn samples_are_stored_as_f64_bit_for_bit() {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    let values = [
        123_456_792.0,
        118.871_093_75,
        9.988e307,
        -9.988e307,
        -0.0,
        f64::from_bits(1),
        f64::INFINITY,
        0.1 + 0.2,
    ];
    for i in 0..(3 * CHUNK as i64) {
        tick(&mut h, i, &[("a", values[i as usize % values.len()])]);
    }
    let a = sid(&h, "a");
    for g in 0..(3 * CHUNK as u64) {
        let want = values[g as usize % values.len()];
        assert_eq!(h.value(a, g).map(f64::to_bits), Some(want.to_bits()), "{g}");
    }
    tick(&mut h, 3 * CHUNK as i64, &[("a", f64::NAN)]);
    assert!(
        h.value(a, 3 * CHUNK as u64).is_some_and(f64::is_nan),
        "NaN, not absent"
    );
}

#[test]
fn the_cursor_reads_what_value_reads_in_any_order() {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    for i in 0..(5 * CHUNK as i64 + 7) {
        let mut s = vec![("moving", i as f64 * 0.37), ("flat", 1.0)];
        if i % 3 != 0 {
            s.push(("gappy", i as f64));
        }
        tick(&mut h, i, &s);
    }
    let end = 5 * CHUNK as u64 + 7;
    // Forward, sliding windows, jumps back and ahead, past the end.
    let mut order: Vec<u64> = (0..end).collect();
    for t in (0..end).step_by(10) {
        order.extend(t.saturating_sub(40)..=t);
    }
    order.extend([300, 5, 200, 64, 63, 0, end + 100, 2]);
    let mut cur = h.cursor();
    for node in ["moving", "flat", "gappy"] {
        let id = sid(&h, node);
        cur.series(id);
        for &g in &order {
            assert_eq!(cur.get(g), h.value(id, g), "{node} {g}");
        }
    }
    cur.series(u32::MAX);
    assert_eq!(cur.get(0), None, "no such series");
}

#[test]
fn the_estimate_counts_compressed_bytes_and_is_released() {
    let mut h = History::new(4 * CHUNK as i64 * STEP, usize::MAX);
    let names: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
    let empty = h.bytes();
    for i in 0..(3 * CHUNK as i64) {
        let series: Vec<(&str, f64)> = names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.as_str(), (i as f64 * 0.01 + k as f64).sqrt()))
            .collect();
        tick(&mut h, i, &series);
    }
    let (stream, samples) = h.stream_bytes();
    assert_eq!(samples, 50 * 3 * CHUNK);
    // Full-precision noise barely compresses (~8 bytes per sample), but
    // what is counted is what is stored.
    assert!(stream > samples * 4 && stream < samples * 9, "{stream}");
    let counted: usize = h.series.iter().map(|(_, s)| s.column.bytes()).sum();
    assert_eq!(h.chunk_bytes, counted);
    assert!(h.bytes() > empty + stream);
    // All of them leave, and retention passes them: their chunks leave
    // the estimate.
    for i in (3 * CHUNK as i64)..(12 * CHUNK as i64) {
        tick(&mut h, i, &[("other", 1.0)]);
    }
    assert_eq!(h.series_count(), 1);
    let counted: usize = h.series.iter().map(|(_, s)| s.column.bytes()).sum();
    assert_eq!(h.chunk_bytes, counted);
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
        for (sid, (a, b)) in cached.series.slots().zip(plain.series.slots()).enumerate() {
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

#[test]
fn a_series_record_is_small_and_counted() {
    let record = std::mem::size_of::<Option<Series>>();
    eprintln!("Option<Series> {record} B");
    // 260,081 series at 5,000 nodes: each byte of the record is 0.25 MiB.
    assert!(record <= 112, "{record}");
    assert_eq!(record, std::mem::size_of::<Series>(), "None needs no tag");
    // The estimate counts the record of every id handed out.
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    tick(&mut h, 0, &[("a", 1.0), ("b", 2.0)]);
    let strings = h.strings.bytes();
    assert_eq!(
        h.bytes(),
        h.chunk_bytes + 2 * (RECORD + SERIES_OVERHEAD) + strings
    );
}
