//! Novelty (`novelty`): only a value beyond the whole range of the own
//! baseline counts (besides being `z` from its median), and every value
//! enters the baseline, so a routine spike seen once is no news the second
//! time. An excursion is judged against the baseline from before it began
//! ([`SeriesState::reference`]) until it has lasted a warm baseline's
//! minimum (a level shift pages once, then is the baseline), and the strength is scaled by the
//! subject's own jumpiness ([`SeriesState::calibrated`]).

use super::{level, robust_z, Input, MAD_SCALE};
use crate::catalog::{DetectConfig, Direction};
use crate::score::baseline::Reference;
use crate::score::node::Evidence;
use crate::score::SeriesState;

/// Novelty margin: how far beyond the baseline's range a value must lie,
/// in robust standard deviations and as a share of the range (whichever is
/// larger), so a record broken by a hair — a CPU at 99.9% after 99.8%, a
/// routine spike a little taller than the last ones — is not news.
const NOVELTY_SIGMAS: f64 = 0.5;
const NOVELTY_RANGE_SHARE: f64 = 0.05;

/// Runs for `novelty` signals, except event counts (judged by their tail).
pub(super) fn applies(cfg: &DetectConfig, count_tail: bool) -> bool {
    cfg.novelty && !count_tail
}

/// The strength (`ev.own_z`, against the reference baseline, whose median
/// and MAD it reports) and its level.
pub(super) fn run(input: &Input, st: &SeriesState, ev: &mut Evidence) -> Option<f64> {
    let (cfg, x) = (input.cfg, input.x);
    let r = st.reference();
    (ev.median, ev.mad) = (r.median, r.mad);
    if beyond_range(x, &r, cfg.mad_floor, cfg.direction) {
        let z = robust_z(x, r.median, r.mad, cfg.mad_floor, cfg.direction);
        ev.own_z = z.min(st.calibrated(z));
    }
    Some(level(ev.own_z, cfg.z))
}

/// The own-baseline words, saying the value is beyond its range.
pub(super) fn explain(ev: &Evidence, cfg: &DetectConfig) -> Option<String> {
    (cfg.novelty && ev.own_z > 0.0)
        .then(|| super::own_baseline::words(ev, ", beyond anything in it"))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn inside_the_range_is_no_strength_and_says_so_in_words() {
        let cfg = DetectConfig {
            novelty: true,
            mad_floor: 0.1,
            ..Default::default()
        };
        let mut st = SeriesState::new(32, 0);
        for i in 0..20 {
            st.record_novelty((i % 5) as f64, false);
        }
        let input = |x| Input {
            cfg: &cfg,
            x,
            peers: None,
            count_tail: false,
            common_drift: 0.0,
        };
        let mut ev = Evidence::default();
        assert_eq!(run(&input(4.0), &st, &mut ev), Some(0.0));
        assert_eq!((ev.own_z, explain(&ev, &cfg)), (0.0, None));
        let mut ev = Evidence::default();
        assert_eq!(run(&input(40.0), &st, &mut ev), Some(1.0));
        let words = explain(&ev, &cfg).unwrap();
        assert!(
            words.ends_with("(median 2, MAD 1), beyond anything in it"),
            "{words}"
        );
    }
}
