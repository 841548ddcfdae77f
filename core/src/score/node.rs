//! Assessing one value against its detectors, and combining a node's
//! evidence into one score with an explanation. Which detectors run and
//! what each does is in [`super::detectors`]; this file decides how their
//! levels combine (threshold alone, own baseline and peers together).

pub use super::detectors::drift_residual;
use super::detectors::{robust_z, Detector, Input, PeerStats, Role};
use super::SeriesState;
use crate::catalog::DetectConfig;

/// What the detectors found for one (subject, signal) at one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evidence {
    /// The value.
    pub value: f64,
    /// Final anomaly level in [0, 1].
    pub level: f64,
    /// Fixed threshold crossed.
    pub threshold: bool,
    /// Strength against the own baseline (robust z or count tail).
    pub own_z: f64,
    /// Drift (CUSUM) strength.
    pub drift_z: f64,
    /// Strength against peers, when compared.
    pub peer_z: Option<f64>,
    /// Own baseline median at the time.
    pub median: f64,
    /// Own baseline MAD at the time.
    pub mad: f64,
    /// Whether the own baseline was warm.
    pub warm: bool,
    /// Peer statistics used.
    pub peers: Option<PeerStats>,
    /// Anomalous on its own terms (threshold, own baseline or drift),
    /// whatever the peers say: what common-cause detection counts.
    pub tripped: bool,
    /// Zeroed because the signal is in common-cause state.
    pub suppressed: bool,
}

/// Runs the configured detectors on `x` and records it into the baseline.
///
/// A node-local anomaly needs both the own baseline and the peers to agree
/// (when both are configured and available): anomalous against itself but
/// not against peers is load or a common cause; against peers but not
/// itself is a node that is always different. Fixed thresholds count alone.
/// `count_tail` selects the negative-binomial tail instead of robust z.
pub fn assess(
    cfg: &DetectConfig,
    st: &mut SeriesState,
    x: f64,
    peers: Option<PeerStats>,
    count_tail: bool,
) -> Evidence {
    assess_relative(cfg, st, x, peers, count_tail, 0.0)
}

/// [`assess`], with the drift detector reading the node's deviation from
/// its own baseline *less* `common_drift`, the median deviation of its
/// peers at the same instant. A whole cluster climbing together (the
/// morning rise of a daily load curve, in step on every node) is then no
/// drift of any node's own, while one node drifting away from where its
/// peers move still accumulates: a leak shows *relative* to the others,
/// whatever the time of day. Without a daily history (a profile needs at
/// least a day of data) this is what can tell the two apart.
pub fn assess_relative(
    cfg: &DetectConfig,
    st: &mut SeriesState,
    x: f64,
    peers: Option<PeerStats>,
    count_tail: bool,
    common_drift: f64,
) -> Evidence {
    let mut ev = Evidence {
        value: x,
        median: st.median,
        mad: st.mad,
        warm: st.warm(),
        peers,
        ..Default::default()
    };
    if !x.is_finite() {
        return ev;
    }
    let input = Input {
        cfg,
        x,
        peers,
        count_tail,
        common_drift,
    };
    // The detectors judging the subject against its own history say
    // nothing (not even 0) until that history is warm.
    let mut own_level = ((cfg.baseline || cfg.drift || cfg.novelty) && ev.warm).then_some(0.0f64);
    let (mut thr_level, mut peer_level) = (0.0f64, None::<f64>);
    for d in Detector::ALL {
        if !d.applies(cfg, count_tail) {
            continue;
        }
        match d.role() {
            Role::Fixed => {
                if let Some(l) = d.run(&input, st, &mut ev) {
                    thr_level = thr_level.max(l);
                }
            }
            Role::Own => {
                if let Some(own) = own_level.as_mut() {
                    if let Some(l) = d.run(&input, st, &mut ev) {
                        *own = own.max(l);
                    }
                }
            }
            Role::Peer => {
                if let Some(l) = d.run(&input, st, &mut ev) {
                    peer_level = Some(peer_level.map_or(l, |p| p.max(l)));
                }
            }
        }
    }
    let local = match (own_level, peer_level) {
        (Some(o), Some(p)) => o.min(p),
        (Some(o), None) => o,
        // Without a warm own baseline, peers alone only count for signals
        // that have no own baseline configured: a brand-new node is not
        // judged on one comparison.
        (None, Some(p)) if !cfg.baseline && !cfg.drift && !cfg.novelty => p,
        _ => 0.0,
    };
    ev.level = thr_level.max(local);
    ev.tripped = thr_level >= 0.5 || own_level.is_some_and(|o| o >= 0.5);
    // Self-calibration: the strengths of the values nothing flagged,
    // against the current baseline, are the subject's own score
    // distribution — for novelty and for robust-z signals alike (the
    // latter use it only once it is a ring long: `calibrated_settled`).
    let robust = Detector::OwnBaseline.applies(cfg, count_tail) && !count_tail;
    if ev.warm && (robust || Detector::Novelty.applies(cfg, count_tail)) && !ev.tripped {
        st.record_score(robust_z(x, st.median, st.mad, cfg.mad_floor, cfg.direction));
    }
    // A signal judged without its own history (thresholds, peers only)
    // keeps none: no ring to fill, no median to refresh.
    if cfg.novelty {
        st.record_novelty(x, ev.tripped);
    } else if cfg.baseline || cfg.drift {
        st.record(x, ev.tripped);
    }
    ev
}

impl Evidence {
    /// The evidence in words, e.g. `0.97: 19.4σ above its own baseline
    /// (median 0.00), 18.0σ above peers (median 0.01 of 8 nodes)`.
    pub fn describe(&self, cfg: &DetectConfig) -> String {
        let mut parts: Vec<String> = Detector::ALL
            .into_iter()
            .filter_map(|d| d.explain(self, cfg))
            .collect();
        if self.suppressed {
            parts.push("not counted: common cause across nodes".to_string());
        }
        if parts.is_empty() {
            parts.push("normal".to_string());
        }
        format!("{}: {}", fmt(self.value), parts.join(", "))
    }
}

/// Formats a number compactly for explanations.
pub fn fmt(x: f64) -> String {
    if !x.is_finite() {
        format!("{x}")
    } else if (x == x.trunc() && x.abs() < 1e9) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Combines `(weight, level)` pairs into a score in [0, 1]:
/// 1 − Π(1 − w·level). One fully anomalous full-weight signal gives 1; weak
/// signals add up without any of them being decisive alone.
pub fn combine(parts: impl Iterator<Item = (f64, f64)>) -> f64 {
    let keep: f64 = parts.map(|(w, l)| 1.0 - (w * l).clamp(0.0, 1.0)).product();
    (1.0 - keep).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::baseline::warm_state;
    use crate::score::PeerStats;

    #[test]
    fn node_local_needs_own_and_peers_to_agree() {
        let cfg = DetectConfig {
            z: 4.0,
            mad_floor: 0.05,
            ..Default::default()
        };
        let calm_peers = Some(PeerStats {
            median: 0.0,
            mad: 0.0,
            n: 8,
        });
        let ev = assess(&cfg, &mut warm_state(0.0), 0.9, calm_peers, false);
        assert_eq!(ev.level, 1.0);
        assert!(ev.tripped);
        // Everyone is at 0.9: anomalous against itself, not against peers.
        let busy_peers = Some(PeerStats {
            median: 0.9,
            mad: 0.0,
            n: 8,
        });
        let ev = assess(&cfg, &mut warm_state(0.0), 0.9, busy_peers, false);
        assert_eq!(ev.level, 0.0);
        assert!(ev.tripped, "still counts for common cause");
        // Always different from peers, normal for itself.
        let ev = assess(&cfg, &mut warm_state(0.9), 0.9, calm_peers, false);
        assert_eq!(ev.level, 0.0);
    }

    #[test]
    fn thresholds_count_alone_and_cold_baselines_do_not() {
        let cfg = DetectConfig {
            above: Some(0.7),
            baseline: false,
            peers: false,
            ..Default::default()
        };
        let ev = assess(&cfg, &mut SeriesState::new(8, 0), 0.8, None, false);
        assert_eq!(ev.level, 1.0);
        let cfg = DetectConfig::default();
        let ev = assess(
            &cfg,
            &mut SeriesState::new(8, 0),
            100.0,
            Some(PeerStats {
                median: 0.0,
                mad: 0.0,
                n: 5,
            }),
            false,
        );
        assert_eq!(ev.level, 0.0, "no verdict on a cold baseline");
    }

    #[test]
    fn novelty_learns_routine_spikes_and_holds_an_excursion() {
        let cfg = DetectConfig {
            novelty: true,
            peers: false,
            mad_floor: 0.1,
            ..Default::default()
        };
        let mut st = SeriesState::new(64, 0);
        for i in 0..20 {
            assess(&cfg, &mut st, (i % 3) as f64, None, false);
        }
        // The first spike is news; the same spike again is not.
        assert!(assess(&cfg, &mut st, 40.0, None, false).tripped);
        for i in 0..3 {
            assess(&cfg, &mut st, (i % 3) as f64, None, false);
        }
        assert!(!assess(&cfg, &mut st, 40.0, None, false).tripped);
        // A step to a new level is anomalous, judged against the baseline
        // from before it (median 1), for a warm baseline's minimum of
        // values; then it is the new baseline, and a spike on it is news.
        for _ in 0..crate::score::baseline::MIN_BASELINE {
            let ev = assess(&cfg, &mut st, 100.0, None, false);
            assert!(ev.tripped && ev.level == 1.0);
            assert_eq!(ev.median, 1.0);
        }
        let ev = assess(&cfg, &mut st, 100.0, None, false);
        assert!(!ev.tripped && ev.level == 0.0, "the new level is normal");
        assert!(assess(&cfg, &mut st, 300.0, None, false).tripped);
    }

    #[test]
    fn drift_is_judged_against_the_peers_common_movement() {
        let cfg = DetectConfig {
            z: 6.0,
            mad_floor: 1.0,
            drift: true,
            ..Default::default()
        };
        let peers = Some(PeerStats {
            median: 0.0,
            mad: 0.0,
            n: 8,
        });
        // Every node 3σ above its own baseline, in step: no one's drift.
        let (mut along, mut away) = (warm_state(0.0), warm_state(0.0));
        for _ in 0..10 {
            assert_eq!(drift_residual(&cfg, &along, 3.0), Some(3.0));
            let ev = assess_relative(&cfg, &mut along, 3.0, peers, false, 3.0);
            assert_eq!(ev.drift_z, 0.0);
        }
        // 3σ above where the others move: it accumulates.
        let mut drift = 0.0;
        for _ in 0..10 {
            drift = assess_relative(&cfg, &mut away, 6.0, peers, false, 3.0).drift_z;
        }
        assert!(drift >= cfg.z, "{drift}");
        assert_eq!(drift_residual(&cfg, &warm_state(0.0), f64::NAN), None);
    }

    #[test]
    fn combine_scores() {
        assert_eq!(combine([(1.0, 1.0)].into_iter()), 1.0);
        assert_eq!(combine([(0.5, 1.0)].into_iter()), 0.5);
        assert!((combine([(0.5, 1.0), (0.5, 1.0)].into_iter()) - 0.75).abs() < 1e-12);
        assert_eq!(combine(std::iter::empty()), 0.0);
    }

    #[test]
    fn explanation_names_baselines() {
        let cfg = DetectConfig {
            z: 4.0,
            mad_floor: 0.05,
            ..Default::default()
        };
        let ev = assess(
            &cfg,
            &mut warm_state(0.0),
            0.9,
            Some(PeerStats {
                median: 0.0,
                mad: 0.0,
                n: 8,
            }),
            false,
        );
        let d = ev.describe(&cfg);
        assert!(d.contains("own baseline (median 0"), "{d}");
        assert!(d.contains("of 8 nodes"), "{d}");
    }
}
