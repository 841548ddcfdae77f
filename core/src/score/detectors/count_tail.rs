//! The negative-binomial tail for event increments: how surprising `x`
//! events are under an over-dispersed count model fitted to the own
//! baseline, as a normal quantile. The own-baseline detector
//! (`own_baseline.rs`) uses it instead of robust z for event counts.

use super::Z_CAP;
use statrs::distribution::{ContinuousCDF, DiscreteCDF, NegativeBinomial, Normal};

/// Strength of seeing `x` events when the baseline has this mean and
/// variance: the normal quantile of the negative-binomial upper tail
/// P(X ≥ x). `floor` is the smallest mean assumed (a count nobody worries
/// about); the variance is at least m + m² (events come in bursts).
pub fn nb_tail_z(x: f64, mean: f64, var: f64, floor: f64) -> f64 {
    let m = mean.max(floor).max(1e-6);
    if x <= m {
        return 0.0;
    }
    let v = var.max(m + m * m);
    let r = m * m / (v - m);
    let p = r / (r + m);
    let tail = match NegativeBinomial::new(r, p) {
        Ok(nb) => nb.sf((x.ceil() as u64).saturating_sub(1)),
        Err(_) => return 0.0,
    };
    tail_to_z(tail)
}

/// The z whose upper normal tail equals `p`.
pub fn tail_to_z(p: f64) -> f64 {
    if p.is_nan() || p <= 0.0 {
        return Z_CAP;
    }
    if p >= 0.5 {
        return 0.0;
    }
    match Normal::new(0.0, 1.0) {
        Ok(n) => (-n.inverse_cdf(p)).clamp(0.0, Z_CAP),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nb_tail_of_a_geometric_baseline() {
        // Mean floor 1, variance m+m² = 2 → r = 1, p = 0.5: geometric,
        // P(X ≥ k) = 0.5^k. For k = 10, 0.5^10 = 9.765625e-4 → z ≈ 3.097.
        let z = nb_tail_z(10.0, 0.0, 0.0, 1.0);
        assert!((z - 3.0972).abs() < 1e-3, "{z}");
        assert_eq!(nb_tail_z(1.0, 0.0, 0.0, 1.0), 0.0, "at the mean: nothing");
        // A noisier baseline makes the same count less surprising.
        assert!(nb_tail_z(10.0, 3.0, 30.0, 1.0) < z);
    }

    #[test]
    fn tail_to_z_known_values() {
        assert!((tail_to_z(0.02275) - 2.0).abs() < 1e-3);
        assert_eq!(tail_to_z(0.7), 0.0);
        assert_eq!(tail_to_z(0.0), Z_CAP);
    }
}
