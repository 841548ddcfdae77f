//! Aggregations of a bare selector folded one series at a time
//! ([`super::aggregate_stream`]): the same answer, to the bit, as the
//! general path, within a samples budget the general path would exceed
//! (the 5,000-node dashboard panel `sum by (signal)
//! (nodewatch_signal_anomaly)` was refused over one hour).

use super::tests::{STEP, T0};
use super::*;

const TICKS: i64 = 60;

/// 400 series of `a` (100 nodes × 4 signals) over 60 ticks; node n7 is
/// absent from tick 10 to 19.
fn wide() -> History {
    let mut h = History::new(6 * 3_600_000, usize::MAX);
    for i in 0..TICKS {
        assert!(h.begin(T0 + i * STEP));
        for n in 0..100 {
            if n == 7 && (10..20).contains(&i) {
                continue;
            }
            for s in 0..4 {
                let v = ((n * 37 + s * 11 + i as usize * 5) % 97) as f64 / 7.0;
                h.set(
                    &[
                        ("__name__", "a"),
                        ("node", &format!("n{n}")),
                        ("signal", &format!("s{s}")),
                    ],
                    v,
                );
            }
        }
        h.end();
    }
    h
}

fn run(h: &History, q: &str, budget: Budget) -> Result<Data, QueryError> {
    let end = T0 + (TICKS - 1) * STEP;
    range_with(h, &parse(q)?, T0, end, STEP, budget).map(|o| o.data)
}

#[test]
fn aggregating_a_selector_holds_groups_not_series() {
    let h = wide();
    // 400 series × 60 steps = 24,000 samples if held whole; 4 groups × 60
    // steps plus one series' 60 fit in 1,000.
    let tight = Budget {
        max_samples: 1_000,
        deadline: None,
    };
    for op in [
        "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
    ] {
        let streamed = run(&h, &format!("{op} by (signal) (a)"), tight)
            .unwrap_or_else(|e| panic!("{op}: {e}"));
        // `a * 1` is no bare selector: the general path, unbounded.
        let general = run(&h, &format!("{op} by (signal) (a * 1)"), Budget::default()).unwrap();
        assert_eq!(streamed, general, "{op}");
        let Data::Matrix(m) = &streamed else {
            panic!("{op}: not a matrix")
        };
        assert_eq!(m.len(), 4, "{op}");
    }
    // Hand-checked: 100 members per signal, 99 while n7 is absent.
    let Data::Matrix(m) = run(&h, "count by (signal) (a)", tight).unwrap() else {
        panic!()
    };
    let counts: Vec<f64> = m[0].1.iter().map(|p| p.1).collect();
    assert_eq!(counts[0], 100.0);
    assert_eq!(counts[15], 99.0);
    assert_eq!(counts[25], 100.0);
}

#[test]
fn what_really_holds_every_series_is_still_refused() {
    let h = wide();
    let tight = Budget {
        max_samples: 1_000,
        deadline: None,
    };
    for q in ["a", "sum by (node, signal) (a)", "topk(3, a)", "sum(a * 1)"] {
        let e = run(&h, q, tight).unwrap_err();
        assert_eq!(e.error_type(), "execution", "{q}: {e}");
    }
}
