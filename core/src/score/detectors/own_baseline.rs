//! The subject against its own baseline (`baseline`): robust z,
//! (x − median) / max(1.4826·MAD, floor), scaled by the subject's own
//! jumpiness once it has a ring of history
//! ([`SeriesState::calibrated_settled`]), or for event increments the
//! negative-binomial tail (`count_tail.rs`), which bursty counts need.
//! Where `novelty` is configured it replaces this detector, except on
//! event counts (novelty has no count model).

use super::{level, nb_tail_z, robust_z, Input};
use crate::catalog::DetectConfig;
use crate::score::node::{fmt, Evidence};
use crate::score::SeriesState;

/// Runs for `baseline` signals, unless novelty judges them instead.
pub(super) fn applies(cfg: &DetectConfig, count_tail: bool) -> bool {
    cfg.baseline && !super::novelty::applies(cfg, count_tail)
}

/// The strength against the own baseline (`ev.own_z`) and its level.
pub(super) fn run(input: &Input, st: &SeriesState, ev: &mut Evidence) -> Option<f64> {
    let (cfg, x) = (input.cfg, input.x);
    ev.own_z = if input.count_tail {
        nb_tail_z(x, st.mean, st.var, cfg.mad_floor)
    } else {
        // Self-calibrated as novelty is, but only once the subject's own
        // strengths fill a ring ([`SeriesState::calibrated_settled`]).
        let z = robust_z(x, st.median, st.mad, cfg.mad_floor, cfg.direction);
        z.min(st.calibrated_settled(z))
    };
    Some(level(ev.own_z, cfg.z))
}

/// "4.2σ from its own baseline (median 0.10, MAD 0.02)". On a novelty
/// signal the words are novelty's (`novelty.rs`), whichever of the two ran.
pub(super) fn explain(ev: &Evidence, cfg: &DetectConfig) -> Option<String> {
    (!cfg.novelty && ev.own_z > 0.0).then(|| words(ev, ""))
}

/// The own-baseline strength in words, followed by `then`.
pub(super) fn words(ev: &Evidence, then: &str) -> String {
    format!(
        "{:.1}σ from its own baseline (median {}, MAD {}){then}",
        ev.own_z,
        fmt(ev.median),
        fmt(ev.mad)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::baseline::warm_state;

    #[test]
    fn counts_are_judged_by_their_tail_not_by_robust_z() {
        let cfg = DetectConfig {
            z: 4.0,
            mad_floor: 1.0,
            ..Default::default()
        };
        let st = warm_state(0.0);
        let input = |count_tail| Input {
            cfg: &cfg,
            x: 6.0,
            peers: None,
            count_tail,
            common_drift: 0.0,
        };
        // Robust z: 6 against a flat 0 with floor 1 is 6σ (level 0.75).
        let mut ev = Evidence::default();
        assert_eq!(run(&input(false), &st, &mut ev), Some(0.75));
        assert_eq!(ev.own_z, 6.0);
        // As a count: 6 events against a mean of at most 1 (geometric
        // tail 0.5^6 ≈ 0.016) is only about 2.2σ.
        let mut ev = Evidence::default();
        assert_eq!(run(&input(true), &st, &mut ev), Some(0.0));
        assert!((ev.own_z - 2.15).abs() < 0.05, "{}", ev.own_z);
        assert!(explain(&ev, &cfg).unwrap().starts_with("2.2σ from its own"));
    }
}
