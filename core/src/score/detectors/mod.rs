//! The detectors, one file each, dispatched by [`Detector`]. Each turns a
//! value into a z-like strength so that one mapping ([`level`]) gives every
//! detector the same meaning of "how anomalous": 0 below the signal's `z`,
//! 0.5 at it, 1 at twice it.
//!
//! | detector | file | judges `x` by |
//! |---|---|---|
//! | [`Detector::Threshold`] | `threshold.rs` | a fixed `above`/`below`: level 1 while crossed |
//! | [`Detector::Novelty`] | `novelty.rs` | a value beyond the whole range of the own baseline |
//! | [`Detector::OwnBaseline`] | `own_baseline.rs` | robust z against the own baseline, (x − median) / max(1.4826·MAD, floor); for event counts the negative-binomial tail (`count_tail.rs`) |
//! | [`Detector::Drift`] | `drift.rs` | CUSUM, for slow drifts the moving baseline would absorb |
//! | [`Detector::Peers`] | `peers.rs` | robust z against the other nodes at the same instant |
//!
//! The state every detector reads and writes is the one flat
//! [`SeriesState`] per (subject, signal): no detector owns memory of its
//! own, and dispatch is a `match`, not a trait object. Adding a detector is
//! one file (its `applies`, `run` and `explain`) plus one arm in each of
//! [`Detector`]'s matches and a place in [`Detector::ALL`].

mod count_tail;
mod drift;
mod novelty;
mod own_baseline;
mod peers;
mod threshold;

pub use count_tail::{nb_tail_z, tail_to_z};
pub use drift::{cusum, drift_residual};
pub use novelty::beyond_range;
pub use peers::{peer_median, peer_stats, PeerStats, MIN_PEERS};
pub use threshold::threshold_crossed;

use crate::catalog::{DetectConfig, Direction};
use crate::score::node::Evidence;
use crate::score::SeriesState;

/// Consistency constant making the MAD estimate σ for normal data.
const MAD_SCALE: f64 = 1.4826;
/// Strengths are capped so explanations stay readable.
const Z_CAP: f64 = 99.0;

/// One detector. The order of [`Detector::ALL`] is the order they run in
/// and the order of their words in an explanation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    /// Fixed threshold (`above`/`below`).
    Threshold,
    /// Beyond the own baseline's range (`novelty`).
    Novelty,
    /// Robust z or count tail against the own baseline (`baseline`).
    OwnBaseline,
    /// CUSUM drift against the own baseline (`drift`).
    Drift,
    /// Robust z against the peers at the same instant (`peers`).
    Peers,
}

/// What a detector's level counts towards in [`crate::score::node::assess`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Counts alone, warm or not, whatever the peers say.
    Fixed,
    /// The subject against its own history: only once warm, and (for a
    /// node-local anomaly) only where the peers agree.
    Own,
    /// The subject against its peers.
    Peer,
}

/// What the detectors read for one value.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The signal's detector settings.
    pub cfg: &'a DetectConfig,
    /// The value.
    pub x: f64,
    /// The peers' statistics at the same instant, when compared.
    pub peers: Option<PeerStats>,
    /// The value is an event count (negative-binomial tail, no novelty).
    pub count_tail: bool,
    /// The peers' median standardized deviation (see [`drift`]).
    pub common_drift: f64,
}

impl Detector {
    /// Every detector, in running order: novelty before the own baseline
    /// (novelty replaces it where both are configured).
    pub const ALL: [Detector; 5] = [
        Detector::Threshold,
        Detector::Novelty,
        Detector::OwnBaseline,
        Detector::Drift,
        Detector::Peers,
    ];

    /// What the detector's level counts towards.
    pub fn role(self) -> Role {
        match self {
            Detector::Threshold => Role::Fixed,
            Detector::Novelty | Detector::OwnBaseline | Detector::Drift => Role::Own,
            Detector::Peers => Role::Peer,
        }
    }

    /// Whether the detector runs on a signal with these settings.
    pub fn applies(self, cfg: &DetectConfig, count_tail: bool) -> bool {
        match self {
            Detector::Threshold => threshold::applies(cfg),
            Detector::Novelty => novelty::applies(cfg, count_tail),
            Detector::OwnBaseline => own_baseline::applies(cfg, count_tail),
            Detector::Drift => drift::applies(cfg),
            Detector::Peers => peers::applies(cfg),
        }
    }

    /// Judges `input.x`, writing what it found into `ev`; the level in
    /// [0, 1], or `None` when it has nothing to judge against.
    pub fn run(self, input: &Input, st: &mut SeriesState, ev: &mut Evidence) -> Option<f64> {
        match self {
            Detector::Threshold => threshold::run(input, ev),
            Detector::Novelty => novelty::run(input, st, ev),
            Detector::OwnBaseline => own_baseline::run(input, st, ev),
            Detector::Drift => drift::run(input, st, ev),
            Detector::Peers => peers::run(input, ev),
        }
    }

    /// Its finding in words, when it found something.
    pub fn explain(self, ev: &Evidence, cfg: &DetectConfig) -> Option<String> {
        match self {
            Detector::Threshold => threshold::explain(ev, cfg),
            Detector::Novelty => novelty::explain(ev, cfg),
            Detector::OwnBaseline => own_baseline::explain(ev, cfg),
            Detector::Drift => drift::explain(ev, cfg),
            Detector::Peers => peers::explain(ev),
        }
    }
}

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
    fn novelty_replaces_the_own_baseline_except_on_counts() {
        let both = DetectConfig {
            novelty: true,
            ..Default::default()
        };
        let ran = |cfg: &DetectConfig, count_tail| -> Vec<Detector> {
            Detector::ALL
                .into_iter()
                .filter(|d| d.applies(cfg, count_tail))
                .collect()
        };
        use Detector::*;
        assert_eq!(ran(&both, false), [Novelty, Peers]);
        assert_eq!(ran(&both, true), [OwnBaseline, Peers]);
        assert_eq!(ran(&DetectConfig::default(), false), [OwnBaseline, Peers]);
        let fixed = DetectConfig {
            above: Some(1.0),
            baseline: false,
            peers: false,
            drift: true,
            ..Default::default()
        };
        assert_eq!(ran(&fixed, false), [Threshold, Drift]);
    }
}
