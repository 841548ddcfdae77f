//! Fixed threshold (`above`/`below`): level 1 while the value is crossed,
//! warm baseline or not, whatever the peers say.

use super::Input;
use crate::catalog::DetectConfig;
use crate::score::node::{fmt, Evidence};

/// Runs when the signal has a threshold.
pub(super) fn applies(cfg: &DetectConfig) -> bool {
    cfg.above.is_some() || cfg.below.is_some()
}

/// Whether a fixed threshold is crossed.
pub fn threshold_crossed(x: f64, cfg: &DetectConfig) -> bool {
    cfg.above.is_some_and(|a| x > a) || cfg.below.is_some_and(|b| x < b)
}

/// Level 1 while crossed, else 0.
pub(super) fn run(input: &Input, ev: &mut Evidence) -> Option<f64> {
    ev.threshold = threshold_crossed(input.x, input.cfg);
    Some(if ev.threshold { 1.0 } else { 0.0 })
}

/// "above the fixed threshold 0.7" (or below).
pub(super) fn explain(ev: &Evidence, cfg: &DetectConfig) -> Option<String> {
    if !ev.threshold {
        return None;
    }
    match (cfg.above, cfg.below) {
        (Some(a), _) if ev.value > a => Some(format!("above the fixed threshold {}", fmt(a))),
        (_, Some(b)) => Some(format!("below the fixed threshold {}", fmt(b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn explained_on_the_side_crossed() {
        let cfg = DetectConfig {
            above: Some(0.7),
            below: Some(0.1),
            ..Default::default()
        };
        let mut ev = Evidence {
            value: 0.05,
            ..Default::default()
        };
        let input = Input {
            cfg: &cfg,
            x: 0.05,
            peers: None,
            count_tail: false,
            common_drift: 0.0,
        };
        assert_eq!(run(&input, &mut ev), Some(1.0));
        assert_eq!(
            explain(&ev, &cfg).as_deref(),
            Some("below the fixed threshold 0.10")
        );
    }
}
