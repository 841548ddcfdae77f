//! Drift (`drift`): a CUSUM of the standardized deviation from the own
//! baseline, for slow drifts the moving baseline would absorb. The
//! deviation is read relative to the peers' common movement
//! (`common_drift`), so a whole cluster climbing together is no node's
//! drift while one node drifting away from its peers still accumulates.

use super::{level, Input};
use crate::catalog::{DetectConfig, Direction};
use crate::score::node::Evidence;
use crate::score::SeriesState;

/// CUSUM slack (in standard deviations) and decision interval.
const CUSUM_K: f64 = 0.5;
const CUSUM_H: f64 = 5.0;

/// Runs for `drift` signals.
pub(super) fn applies(cfg: &DetectConfig) -> bool {
    cfg.drift
}

/// The drift strength (`ev.drift_z`) and its level; advances the CUSUM.
pub(super) fn run(input: &Input, st: &mut SeriesState, ev: &mut Evidence) -> Option<f64> {
    let cfg = input.cfg;
    let r = standardized(cfg, st, input.x) - input.common_drift;
    ev.drift_z = cusum(st, r, cfg.direction, cfg.z);
    Some(level(ev.drift_z, cfg.z))
}

/// "drifting away from its baseline (CUSUM 6.1)", once at the threshold.
pub(super) fn explain(ev: &Evidence, cfg: &DetectConfig) -> Option<String> {
    (ev.drift_z >= cfg.z)
        .then(|| format!("drifting away from its baseline (CUSUM {:.1})", ev.drift_z))
}

/// The standardized deviation from its own baseline that the drift
/// detector (CUSUM) reads for `x`: `(x − median) / max(1.4826·MAD, floor)`,
/// or `None` before the baseline is warm. The engine takes the median of
/// these across a signal's peers as the cluster's common movement
/// ([`assess_relative`](crate::score::node::assess_relative)).
pub fn drift_residual(cfg: &DetectConfig, st: &SeriesState, x: f64) -> Option<f64> {
    (cfg.drift && st.warm() && x.is_finite()).then(|| standardized(cfg, st, x))
}

/// `(x − median) / max(1.4826·MAD, floor)` against `st`'s own baseline.
fn standardized(cfg: &DetectConfig, st: &SeriesState, x: f64) -> f64 {
    (x - st.median) / (1.4826 * st.mad).max(cfg.mad_floor)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn residual_needs_a_warm_baseline() {
        let cfg = DetectConfig {
            drift: true,
            mad_floor: 2.0,
            ..Default::default()
        };
        let mut st = SeriesState::new(32, 0);
        assert_eq!(drift_residual(&cfg, &st, 5.0), None, "cold");
        for _ in 0..20 {
            st.record(1.0, false);
        }
        // MAD 0 → floor 2: (5 − 1) / 2.
        assert_eq!(drift_residual(&cfg, &st, 5.0), Some(2.0));
        let off = DetectConfig {
            drift: false,
            ..cfg
        };
        assert_eq!(drift_residual(&off, &st, 5.0), None, "not a drift signal");
    }
}
