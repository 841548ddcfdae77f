//! Per-group accumulators for `sum`, `max`, `min` and `avg`, following the
//! Prometheus 2.42 engine (`aggregation` in `promql/engine.go`): plain
//! left-to-right summation (Kahan summation only arrived in later
//! releases), the incremental mean for `avg`, and NaN handling for max/min.

use crate::catalog::Aggregation;

/// The running aggregate of one group; empty until the first sample.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Acc {
    count: u32,
    value: f64,
    mean: f64,
}

impl Acc {
    /// Adds one input sample, in series order (the order matters for the
    /// float result of `sum` and `avg`).
    pub(super) fn add(&mut self, agg: Aggregation, v: f64) {
        if self.count == 0 {
            // Prometheus starts every group with value = mean = first sample.
            *self = Acc {
                count: 1,
                value: v,
                mean: v,
            };
            return;
        }
        self.count += 1;
        match agg {
            Aggregation::Sum => self.value += v,
            Aggregation::Max => {
                // A NaN is replaced by any later value but never wins itself.
                if self.value < v || self.value.is_nan() {
                    self.value = v;
                }
            }
            Aggregation::Min => {
                if self.value > v || self.value.is_nan() {
                    self.value = v;
                }
            }
            Aggregation::Avg => {
                if self.mean.is_infinite() {
                    // Inf - Inf would turn an infinite mean into NaN: keep it
                    // for a same-signed Inf or any finite value.
                    if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                        return;
                    }
                    if v.is_finite() {
                        return;
                    }
                }
                // Each side divided by the count first, as Prometheus does to
                // avoid overflowing near f64::MAX.
                let n = f64::from(self.count);
                self.mean += v / n - self.mean / n;
            }
        }
    }

    /// The aggregate, or `None` when no sample was added.
    pub(super) fn value(&self, agg: Aggregation) -> Option<f64> {
        match (self.count, agg) {
            (0, _) => None,
            (_, Aggregation::Avg) => Some(self.mean),
            _ => Some(self.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(agg: Aggregation, vs: &[f64]) -> Option<f64> {
        let mut acc = Acc::default();
        for &v in vs {
            acc.add(agg, v);
        }
        acc.value(agg)
    }

    #[test]
    fn empty_group_has_no_value() {
        assert_eq!(fold(Aggregation::Sum, &[]), None);
    }

    #[test]
    fn sum_max_min() {
        assert_eq!(fold(Aggregation::Sum, &[1.0, 2.0, 6.0]), Some(9.0));
        assert_eq!(fold(Aggregation::Max, &[1.0, 6.0, 2.0]), Some(6.0));
        assert_eq!(fold(Aggregation::Min, &[6.0, 1.0, 2.0]), Some(1.0));
    }

    #[test]
    fn avg_is_the_incremental_mean() {
        // mean 1; n=2: 1 + (2/2 - 1/2) = 1.5; n=3: 1.5 + (6/3 - 1.5/3) = 3.
        assert_eq!(fold(Aggregation::Avg, &[1.0, 2.0, 6.0]), Some(3.0));
        // Overflow-safe: (MAX + MAX) / 2 would be Inf.
        assert_eq!(
            fold(Aggregation::Avg, &[f64::MAX, f64::MAX]),
            Some(f64::MAX)
        );
    }

    #[test]
    fn avg_with_infinities() {
        let inf = f64::INFINITY;
        assert_eq!(fold(Aggregation::Avg, &[inf, 1.0]), Some(inf));
        assert_eq!(fold(Aggregation::Avg, &[1.0, inf, inf]), Some(inf));
        assert!(fold(Aggregation::Avg, &[inf, -inf]).unwrap().is_nan());
        assert!(fold(Aggregation::Avg, &[inf, f64::NAN]).unwrap().is_nan());
    }

    #[test]
    fn nan_handling_in_max_min_sum() {
        let nan = f64::NAN;
        assert_eq!(fold(Aggregation::Max, &[nan, 3.0, 1.0]), Some(3.0));
        assert_eq!(fold(Aggregation::Min, &[nan, 3.0, 1.0]), Some(1.0));
        assert_eq!(fold(Aggregation::Max, &[3.0, nan]), Some(3.0));
        assert!(fold(Aggregation::Max, &[nan]).unwrap().is_nan());
        assert!(fold(Aggregation::Sum, &[1.0, nan]).unwrap().is_nan());
    }
}
