//! The detectors. Each turns a value into a z-like strength so that one
//! mapping ([`level`]) gives every detector the same meaning of "how
//! anomalous": 0 below the signal's `z`, 0.5 at it, 1 at twice it.
//!
//! - fixed threshold (`above`/`below`): level 1 while crossed;
//! - robust z against the subject's own baseline: (x − median) / max(1.4826·MAD, floor);
//! - negative-binomial tail for event increments: P(X ≥ x) under a
//!   over-dispersed count model fitted to the baseline, as a normal quantile;
//! - CUSUM for slow drifts the moving baseline would absorb;
//! - peer comparison: robust z against the other nodes at the same instant;
//! - novelty: a value beyond the whole range of the own baseline.

use crate::catalog::{DetectConfig, Direction};
use crate::score::baseline::Reference;
use crate::score::SeriesState;
use statrs::distribution::{ContinuousCDF, DiscreteCDF, NegativeBinomial, Normal};

/// Consistency constant making the MAD estimate σ for normal data.
const MAD_SCALE: f64 = 1.4826;
/// CUSUM slack (in standard deviations) and decision interval.
const CUSUM_K: f64 = 0.5;
const CUSUM_H: f64 = 5.0;
/// Strengths are capped so explanations stay readable.
const Z_CAP: f64 = 99.0;
/// Novelty margin: how far beyond the baseline's range a value must lie,
/// in robust standard deviations and as a share of the range (whichever is
/// larger), so a record broken by a hair — a CPU at 99.9% after 99.8%, a
/// routine spike a little taller than the last ones — is not news.
const NOVELTY_SIGMAS: f64 = 0.5;
const NOVELTY_RANGE_SHARE: f64 = 0.05;

/// Maps a z-like strength to an anomaly level in [0, 1].
pub fn level(z: f64, z_threshold: f64) -> f64 {
    if z.is_nan() || z < z_threshold {
        return 0.0;
    }
    (0.5 + 0.5 * (z - z_threshold) / z_threshold).min(1.0)
}

/// Robust z of `x` against a median/MAD baseline, signed by `direction`
/// (deviations the other way give 0).
pub fn robust_z(x: f64, median: f64, mad: f64, floor: f64, direction: Direction) -> f64 {
    let scale = (MAD_SCALE * mad).max(floor);
    let z = (x - median) / scale;
    directional(z, direction)
}

fn directional(z: f64, direction: Direction) -> f64 {
    let z = match direction {
        Direction::Up => z,
        Direction::Down => -z,
        Direction::Both => z.abs(),
    };
    z.clamp(0.0, Z_CAP)
}

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

/// Advances the CUSUM accumulators with the standardized deviation `r` and
/// returns the drift strength in units of `z_threshold` (the accumulator
/// reaching its decision interval counts as reaching the threshold).
pub fn cusum(state: &mut SeriesState, r: f64, direction: Direction, z_threshold: f64) -> f64 {
    if !r.is_finite() {
        return 0.0;
    }
    state.cusum_up = (state.cusum_up + r - CUSUM_K).clamp(0.0, 10.0 * CUSUM_H);
    state.cusum_down = (state.cusum_down - r - CUSUM_K).clamp(0.0, 10.0 * CUSUM_H);
    let s = match direction {
        Direction::Up => state.cusum_up,
        Direction::Down => state.cusum_down,
        Direction::Both => state.cusum_up.max(state.cusum_down),
    };
    s / CUSUM_H * z_threshold
}

/// Whether `x` lies beyond the range `[lo, hi]` of the reference baseline
/// (on the side `direction` cares about) by more than the novelty margin.
pub fn beyond_range(x: f64, r: &Reference, floor: f64, direction: Direction) -> bool {
    let sigma = (MAD_SCALE * r.mad).max(floor);
    let margin = (NOVELTY_SIGMAS * sigma).max(NOVELTY_RANGE_SHARE * (r.hi - r.lo));
    let up = x > r.hi + margin;
    let down = x < r.lo - margin;
    match direction {
        Direction::Up => up,
        Direction::Down => down,
        Direction::Both => up || down,
    }
}

/// Whether a fixed threshold is crossed.
pub fn threshold_crossed(x: f64, cfg: &DetectConfig) -> bool {
    cfg.above.is_some_and(|a| x > a) || cfg.below.is_some_and(|b| x < b)
}

/// Median and MAD of one signal across nodes at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerStats {
    /// Median across nodes.
    pub median: f64,
    /// MAD across nodes.
    pub mad: f64,
    /// Nodes with a value.
    pub n: usize,
}

/// Fewest nodes for a peer comparison to mean anything.
pub const MIN_PEERS: usize = 3;

/// Peer statistics of the finite values, or `None` with fewer than
/// [`MIN_PEERS`]. `scratch` is reused between calls to avoid allocating.
pub fn peer_stats(values: impl Iterator<Item = f64>, scratch: &mut Vec<f32>) -> Option<PeerStats> {
    scratch.clear();
    scratch.extend(values.filter(|v| v.is_finite()).map(|v| v as f32));
    let n = scratch.len();
    if n < MIN_PEERS {
        return None;
    }
    let median = super::baseline::median_in_place(scratch);
    for x in scratch.iter_mut() {
        *x = (*x as f64 - median).abs() as f32;
    }
    let mad = super::baseline::median_in_place(scratch);
    Some(PeerStats { median, mad, n })
}

/// Median of the finite values with at least [`MIN_PEERS`] of them (the
/// peers' common movement, where their spread is not needed).
pub fn peer_median(values: impl Iterator<Item = f64>, scratch: &mut Vec<f32>) -> Option<f64> {
    scratch.clear();
    scratch.extend(values.filter(|v| v.is_finite()).map(|v| v as f32));
    (scratch.len() >= MIN_PEERS).then(|| super::baseline::median_in_place(scratch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_mapping() {
        assert_eq!(level(3.9, 4.0), 0.0);
        assert_eq!(level(4.0, 4.0), 0.5);
        assert_eq!(level(6.0, 4.0), 0.75);
        assert_eq!(level(8.0, 4.0), 1.0);
        assert_eq!(level(f64::NAN, 4.0), 0.0);
    }

    #[test]
    fn robust_z_uses_the_floor_and_direction() {
        // MAD 0 → floor 1: x=5 against median 1 is z=4.
        assert_eq!(robust_z(5.0, 1.0, 0.0, 1.0, Direction::Up), 4.0);
        // MAD 2 → scale 2.9652.
        assert!((robust_z(5.0, 1.0, 2.0, 1.0, Direction::Up) - 4.0 / 2.9652).abs() < 1e-12);
        assert_eq!(robust_z(-5.0, 1.0, 0.0, 1.0, Direction::Up), 0.0);
        assert_eq!(robust_z(-5.0, 1.0, 0.0, 1.0, Direction::Down), 6.0);
        assert_eq!(robust_z(-5.0, 1.0, 0.0, 1.0, Direction::Both), 6.0);
    }

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

    #[test]
    fn cusum_accumulates_a_small_persistent_shift() {
        let mut s = SeriesState::new(8, 0);
        // A 1σ shift: each step adds 1 − 0.5; after 10 steps S = 5 = h.
        let mut z = 0.0;
        for _ in 0..10 {
            z = cusum(&mut s, 1.0, Direction::Up, 4.0);
        }
        assert!((z - 4.0).abs() < 1e-12);
        // Noise around zero does not accumulate.
        let mut s = SeriesState::new(8, 0);
        for i in 0..100 {
            z = cusum(
                &mut s,
                if i % 2 == 0 { 0.4 } else { -0.4 },
                Direction::Up,
                4.0,
            );
        }
        assert_eq!(z, 0.0);
    }

    #[test]
    fn peers_need_three_nodes() {
        let mut scratch = Vec::new();
        assert!(peer_stats([1.0, 2.0].into_iter(), &mut scratch).is_none());
        let p = peer_stats([1.0, 2.0, 3.0, f64::NAN, 10.0].into_iter(), &mut scratch).unwrap();
        assert_eq!(p.n, 4);
        assert_eq!(p.median, 2.5);
        assert_eq!(p.mad, 1.0); // deviations 1.5, .5, .5, 7.5 → 1.0
        assert_eq!(
            peer_median([1.0, f64::NAN, 3.0].into_iter(), &mut scratch),
            None
        );
        assert_eq!(
            peer_median([1.0, 2.0, 3.0, 10.0].into_iter(), &mut scratch),
            Some(2.5)
        );
    }

    #[test]
    fn novelty_needs_a_margin_beyond_the_range() {
        // Median 10, MAD 2 (σ = 2.9652), range [4, 30]: margin
        // max(0.5 · 2.9652, 0.05 · 26) = 1.4826.
        let r = Reference {
            median: 10.0,
            mad: 2.0,
            lo: 4.0,
            hi: 30.0,
        };
        assert!(!beyond_range(31.0, &r, 0.0, Direction::Up), "by a hair");
        assert!(beyond_range(31.5, &r, 0.0, Direction::Up));
        assert!(!beyond_range(31.5, &r, 0.0, Direction::Down));
        assert!(beyond_range(2.4, &r, 0.0, Direction::Both));
        assert!(!beyond_range(20.0, &r, 0.0, Direction::Both), "inside");
        // A flat baseline: any change is beyond it.
        let flat = Reference {
            median: 45.0,
            mad: 0.0,
            lo: 45.0,
            hi: 45.0,
        };
        assert!(beyond_range(45.1, &flat, 0.0, Direction::Both));
        assert!(!beyond_range(45.0, &flat, 0.0, Direction::Both));
    }

    #[test]
    fn thresholds() {
        let cfg = DetectConfig {
            above: Some(0.7),
            ..Default::default()
        };
        assert!(threshold_crossed(0.71, &cfg));
        assert!(!threshold_crossed(0.7, &cfg));
        let cfg = DetectConfig {
            below: Some(1.0),
            ..Default::default()
        };
        assert!(threshold_crossed(0.0, &cfg));
    }
}
