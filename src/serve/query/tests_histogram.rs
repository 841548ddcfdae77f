//! `histogram_quantile` over classic buckets against hand-computed
//! Prometheus 2.42 answers: interpolation, the `+Inf` and two-bucket
//! rules, forced monotonicity, merged bounds, quantiles outside [0, 1].

use super::tests::{inst, pairs, vec_of, T0};
use crate::serve::history::History;

/// Classic histograms `h_bucket{job}` at one tick (the counts per bound).
fn histograms() -> History {
    let mut h = History::new(3_600_000, usize::MAX);
    assert!(h.begin(T0));
    let jobs: [(&str, &[(&str, f64)]); 6] = [
        (
            "a",
            &[("0.1", 10.0), ("0.5", 30.0), ("1", 40.0), ("+Inf", 50.0)],
        ),
        // Not monotonic: 8 counts as 10.
        (
            "b",
            &[("0.1", 10.0), ("0.5", 8.0), ("1", 40.0), ("+Inf", 50.0)],
        ),
        ("no_inf", &[("0.1", 10.0), ("1", 40.0)]),
        ("only_inf", &[("+Inf", 50.0)]),
        ("empty", &[("1", 0.0), ("+Inf", 0.0)]),
        // Equal bounds merge; a negative first bound is the answer.
        (
            "neg",
            &[("-1", 5.0), ("1.0", 5.0), ("1", 5.0), ("Inf", 20.0)],
        ),
    ];
    for (job, buckets) in jobs {
        for (le, v) in buckets {
            h.set(&[("__name__", "h_bucket"), ("job", job), ("le", le)], *v);
        }
    }
    h.set(
        &[("__name__", "h_bucket"), ("job", "bad"), ("le", "x")],
        1.0,
    );
    h.set(&[("__name__", "h_count"), ("job", "a")], 50.0);
    h.set(
        &[("__name__", "h2_bucket"), ("job", "a"), ("le", "+Inf")],
        1.0,
    );
    h.end();
    h
}

#[test]
fn histogram_quantile_over_classic_buckets() {
    let h = histograms();
    let q = |phi: &str| {
        let out = inst(&h, &format!("histogram_quantile({phi}, h_bucket)"), T0).unwrap();
        pairs(&h, &out)
    };
    let half = q("0.5");
    let find = |v: &[(String, f64)], job: &str| {
        v.iter()
            .find(|p| p.0 == format!("job={job}"))
            .map(|p| p.1)
            .unwrap_or_else(|| panic!("{job}: {v:?}"))
    };
    assert_eq!(find(&half, "a"), 0.4);
    assert_eq!(find(&half, "b"), 0.75);
    assert!(find(&half, "no_inf").is_nan());
    assert!(find(&half, "only_inf").is_nan());
    assert!(find(&half, "empty").is_nan());
    // -1: 5, 1: 10 (merged), +Inf: 20. Rank 2.5 lands in the first bucket.
    assert_eq!(find(&q("0.1"), "neg"), -1.0);
    assert_eq!(find(&q("0.5"), "neg"), 1.0);
    assert!(
        half.iter().all(|p| p.0 != "job=bad"),
        "an unreadable le is skipped"
    );
    assert_eq!(find(&q("0.1"), "a"), 0.05);
    // Above the highest finite bound: that bound.
    assert_eq!(find(&q("0.9"), "a"), 1.0);
    assert_eq!(find(&q("-0.5"), "a"), f64::NEG_INFINITY);
    assert_eq!(find(&q("1.5"), "a"), f64::INFINITY);
    assert!(find(&q("NaN"), "a").is_nan());
    // Go reads hexadecimal bounds; an out-of-range one is skipped.
    let q = r#"histogram_quantile(0.5, label_replace(vector(5), "le", "0x1p-2", "", "")
        or label_replace(vector(9), "le", "+Inf", "", "") or label_replace(vector(1), "le", "1e400", "", ""))"#;
    assert_eq!(vec_of(&h, q, 0), [("".into(), 0.225)]);
    // Series without `le` are ignored; two names collide once dropped.
    let v = pairs(
        &h,
        &inst(&h, r#"histogram_quantile(0.5, {__name__=~"h_.*"})"#, T0).unwrap(),
    );
    assert_eq!(v.len(), 6, "{v:?}");
    let q = r#"histogram_quantile(0.5, {__name__=~"h2?_bucket", job="a"})"#;
    let e = inst(&h, q, T0).unwrap_err();
    assert!(e.to_string().contains("same labelset"), "{e}");
}
