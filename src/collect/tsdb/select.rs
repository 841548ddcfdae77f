//! Sample selection and `rate` for one series, following Prometheus 2.42
//! exactly: the instant-vector lookback, the closed range window and
//! `extrapolatedRate` with its float operations in Prometheus's order, so
//! replay and a real Prometheus agree to the last bits, not just roughly.

/// Prometheus's default lookback delta (`--query.lookback-delta`, 5 m).
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Instant vector selector at `at`: the latest sample with a timestamp in
/// `[at - 5m, at]` (both ends inclusive in Prometheus 2.x), or `None`.
/// `hint` is where the previous search ended (see [`lower_bound_from`]);
/// the second value is the hint for the next call.
pub(super) fn instant(ts: &[i64], vs: &[f64], at: i64, hint: usize) -> (Option<f64>, usize) {
    let hi = lower_bound_from(ts, at.saturating_add(1), hint);
    let value = match hi.checked_sub(1) {
        Some(last) if ts[last] >= at - LOOKBACK_MS => Some(vs[last]),
        _ => None,
    };
    (value, hi)
}

/// `rate(x[range])` at `at`: selects the samples with timestamps in
/// `[at - range, at]` (inclusive on both ends before Prometheus 3.0) and
/// applies [`extrapolated_rate`]. `None` when fewer than two samples.
/// Hints as for [`instant`].
pub(super) fn rate(
    ts: &[i64],
    vs: &[f64],
    at: i64,
    range_ms: i64,
    hint: usize,
) -> (Option<f64>, usize) {
    let start = at - range_ms;
    let lo = lower_bound_from(ts, start, hint);
    // Searching from `lo` keeps `hi >= lo` even for a non-positive range.
    let hi = lower_bound_from(ts, at.saturating_add(1), lo);
    (
        extrapolated_rate(&ts[lo..hi], &vs[lo..hi], start, at, range_ms),
        lo,
    )
}

/// The first index whose timestamp is `>= key` (`partition_point(t < key)`),
/// searched outward from `hint`. Replay evaluates ticks in order, so the
/// answer is a few samples past the previous one: galloping from there takes
/// a couple of probes where a fresh binary search over a long series takes
/// a dozen cache misses. Any hint gives the right answer.
pub(super) fn lower_bound_from(ts: &[i64], key: i64, hint: usize) -> usize {
    let mut lo = hint.min(ts.len());
    if lo > 0 && ts[lo - 1] >= key {
        // Time went backwards: plain binary search below the hint.
        return ts[..lo].partition_point(|&t| t < key);
    }
    // Invariant: every timestamp before `lo` is < key.
    let mut step = 1;
    loop {
        let probe = lo + step;
        if probe > ts.len() || ts[probe - 1] >= key {
            let end = probe.min(ts.len());
            return lo + ts[lo..end].partition_point(|&t| t < key);
        }
        lo = probe;
        step *= 2;
    }
}

/// Prometheus 2.42 `extrapolatedRate(isCounter = true, isRate = true)` on
/// the samples of one window `[range_start, range_end]`.
pub(super) fn extrapolated_rate(
    ts: &[i64],
    vs: &[f64],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
) -> Option<f64> {
    let w = Extrapolation {
        range_start,
        range_end,
        range_ms,
        is_counter: true,
        is_rate: true,
    };
    extrapolated(ts.len(), |i| (ts[i], vs[i]), &w)
}

/// The window and the flavour of [`extrapolated`]: `rate` is a counter
/// per second, `increase` a counter, `delta` neither.
#[derive(Clone, Copy, Debug)]
pub struct Extrapolation {
    /// Start of the window (ms, inclusive).
    pub range_start: i64,
    /// End of the window (ms, inclusive).
    pub range_end: i64,
    /// The selector's range (ms).
    pub range_ms: i64,
    /// Counter resets add the value before the reset, and extrapolation
    /// stops where the counter would reach zero.
    pub is_counter: bool,
    /// Divided by the range in seconds.
    pub is_rate: bool,
}

/// Prometheus 2.42 `extrapolatedRate`: the one kernel behind replay's
/// `rate` and the query API's `rate`, `increase` and `delta`. `sample(i)`
/// is the `i`th of the window's `n` samples `(ms, value)`, in time order;
/// `None` when fewer than two.
///
/// Every step mirrors `promql/functions.go` of v2.42 in operation order:
/// float addition is not associative, and the cross-check against a real
/// Prometheus allows only 1e-9 relative difference.
pub fn extrapolated(
    n: usize,
    sample: impl Fn(usize) -> (i64, f64),
    w: &Extrapolation,
) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let ((first_t, first_v), (last_t, last_v)) = (sample(0), sample(n - 1));
    // Delta first, then each counter reset adds the value before the reset,
    // one addition at a time (not a pre-summed correction as in Prometheus
    // before 2.40).
    let mut result = last_v - first_v;
    if w.is_counter {
        let mut prev = first_v;
        for i in 1..n {
            let v = sample(i).1;
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }

    let mut duration_to_start = (first_t - w.range_start) as f64 / 1000.0;
    let duration_to_end = (w.range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let average_between = sampled_interval / (n - 1) as f64;

    // Counters cannot go below zero: do not extrapolate further back than
    // the point where the counter would have been 0.
    if w.is_counter && result > 0.0 && first_v >= 0.0 {
        let duration_to_zero = sampled_interval * (first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }

    // Extrapolate to a boundary only when a sample could plausibly be
    // missing there; otherwise by half an average interval.
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    if duration_to_start < threshold {
        extrapolate_to += duration_to_start;
    } else {
        extrapolate_to += average_between / 2.0;
    }
    if duration_to_end < threshold {
        extrapolate_to += duration_to_end;
    } else {
        extrapolate_to += average_between / 2.0;
    }
    let mut factor = extrapolate_to / sampled_interval;
    if w.is_rate {
        factor /= go_duration_seconds(w.range_ms);
    }
    Some(result * factor)
}

/// Go's `time.Duration.Seconds()` for a duration of `ms` milliseconds:
/// whole seconds plus the nanosecond remainder / 1e9, which is not always
/// bit-identical to `ms / 1000.0`.
fn go_duration_seconds(ms: i64) -> f64 {
    // Go splits the nanoseconds `ms × 10^6` by truncating division; the
    // same quotient and remainder come from `ms` itself, without the
    // 128-bit arithmetic (which showed in the one-series query's profile).
    let (sec, nsec) = (ms / 1000, (ms % 1000) * 1_000_000);
    sec as f64 + nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// Samples every `step` s from `from` s with the given values, in ms.
    fn series(from: i64, step: i64, values: &[f64]) -> (Vec<i64>, Vec<f64>) {
        let ts = (0..values.len() as i64)
            .map(|i| (from + i * step) * 1000)
            .collect();
        (ts, values.to_vec())
    }

    #[test]
    fn regular_samples_inside_window() {
        // v = 100 + t every 15 s for t = 0..=600 s; rate at 610 s over 5m.
        // Window [310, 610]: samples 315..=600 (20), first 415, last 700.
        // result 285; toStart 5, toEnd 10, sampled 285, avg 15 (< 16.5 both)
        // -> extrapolate to 300: 285 * (300 / 285) / 300 = 1.
        let values: Vec<f64> = (0..=40).map(|i| 100.0 + 15.0 * i as f64).collect();
        let (ts, vs) = series(0, 15, &values);
        let r = rate(&ts, &vs, 610_000, 300_000, 0).0.unwrap();
        assert!(close(r, 1.0), "{r}");
    }

    #[test]
    fn window_edges_on_samples_are_included() {
        // Samples at 0,60,..,300 s: 0,10,30,60,100,150. rate[4m] at 300 s:
        // window [60, 300] keeps 60 and 300: first 10, last 150, result 140,
        // toStart 0, toEnd 0, sampled 240 -> 140 * (240/240) / 240 = 7/12.
        // (An open left end would give 120 * (240/180) / 240 = 2/3.)
        let (ts, vs) = series(0, 60, &[0.0, 10.0, 30.0, 60.0, 100.0, 150.0]);
        let r = rate(&ts, &vs, 300_000, 240_000, 0).0.unwrap();
        assert!(close(r, 7.0 / 12.0), "{r}");
    }

    #[test]
    fn counter_reset_adds_previous_value() {
        // 5,10,2,6,9 at 0..240 s, rate[4m] at 240 s: 9 - 5 = 4, reset 10 -> 2
        // adds 10: 14; no extrapolation (edges on samples) -> 14 / 240.
        let (ts, vs) = series(0, 60, &[5.0, 10.0, 2.0, 6.0, 9.0]);
        let r = rate(&ts, &vs, 240_000, 240_000, 0).0.unwrap();
        assert!(close(r, 14.0 / 240.0), "{r}");
    }

    #[test]
    fn extrapolation_clipped_at_zero() {
        // 1,4,7 at 100,160,220 s; rate over 200 s at 250 s: window [50, 250].
        // result 6, toStart 50, toEnd 30, sampled 120, avg 60 (threshold 66).
        // toZero = 120 * (1/6) = 20 < 50 -> toStart 20.
        // extrapolate to 120 + 20 + 30 = 170: 6 * (170/120) / 200 = 0.0425.
        let (ts, vs) = series(100, 60, &[1.0, 4.0, 7.0]);
        let r = rate(&ts, &vs, 250_000, 200_000, 0).0.unwrap();
        assert!(close(r, 0.0425), "{r}");
    }

    #[test]
    fn far_edges_extrapolate_half_an_interval() {
        // 10,13,16 at 100,115,130 s; rate over 150 s at 200 s: [50, 200].
        // toStart 50 (toZero 30 * 10/6 = 50, not smaller), toEnd 70, both
        // >= 16.5 -> + 7.5 each: 30 + 15 = 45; 6 * (45/30) / 150 = 0.06.
        let (ts, vs) = series(100, 15, &[10.0, 13.0, 16.0]);
        let r = rate(&ts, &vs, 200_000, 150_000, 0).0.unwrap();
        assert!(close(r, 0.06), "{r}");
    }

    #[test]
    fn fewer_than_two_samples_is_absent() {
        let (ts, vs) = series(0, 60, &[1.0, 2.0, 3.0]);
        // Window [61, 121] holds only the sample at 120 s.
        assert_eq!(rate(&ts, &vs, 121_000, 60_000, 0).0, None);
        assert_eq!(rate(&[], &[], 0, 60_000, 5).0, None);
        assert_eq!(rate(&ts, &vs, 120_000, 0, 0).0, None);
        assert_eq!(rate(&ts, &vs, 120_000, -60_000, 1).0, None);
    }

    #[test]
    fn lookback_is_inclusive_and_five_minutes() {
        let (ts, vs) = series(0, 100, &[1.0, 2.0]);
        let at = |t| instant(&ts, &vs, t, 0).0;
        assert_eq!(at(99_999), Some(1.0));
        assert_eq!(at(100_000), Some(2.0));
        assert_eq!(at(400_000), Some(2.0));
        assert_eq!(at(400_001), None);
        assert_eq!(at(-1), None);
    }

    #[test]
    fn galloping_search_agrees_with_binary_search() {
        let ts: Vec<i64> = (0..200).map(|i| i * 10 + (i % 3)).collect();
        for key in -5..2010 {
            let want = ts.partition_point(|&t| t < key);
            for hint in [0, 1, 7, 64, 150, 199, 200, 500] {
                assert_eq!(
                    lower_bound_from(&ts, key, hint),
                    want,
                    "key {key} hint {hint}"
                );
            }
        }
        assert_eq!(lower_bound_from(&[], 3, 9), 0);
    }

    #[test]
    fn go_seconds_matches_whole_and_fractional_ranges() {
        assert_eq!(go_duration_seconds(300_000), 300.0);
        assert_eq!(go_duration_seconds(1_500), 1.5);
        assert_eq!(go_duration_seconds(-1_500), -1.5);
    }
}
