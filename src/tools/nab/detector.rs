//! The streaming detector the NAB harness measures. A NAB file is treated
//! as one subject with three signals over its values — what a rule file
//! would define with PromQL:
//!
//! - `value`: the value itself;
//! - `value_1h_mean`: `avg_over_time(value[1h])`, for shifts too small to
//!   see in one noisy row;
//! - `daily_change`: `quantile_over_time(0.5, value[1h]) -
//!   quantile_over_time(0.5, value[1h] offset 1d)`, for a day unlike the
//!   day before (a missing peak, a flat afternoon) whose values are all in
//!   the usual range; medians, so that one-row spikes leave no trace;
//!   counted only where the subject's own history shows a daily rhythm
//!   ([`has_rhythm`]) —
//!
//! and one alerting rule on their combined score, fed a row at a time:
//!
//! - each signal goes through [`crate::score::node::assess`] exactly as a
//!   node signal does in the engine (here: novelty against the own
//!   baseline, both directions);
//! - levels combine with [`crate::score::combine`] into the score;
//! - the rule (`score_above`, `for`, `keep_firing_for`) runs through the
//!   engine's alert state machine ([`crate::decide::AlertBook`]).
//!
//! A row is flagged when the alert *starts firing*: that is when nodewatch
//! would page someone, and it is what NAB rewards or charges for.

use super::harness::Streaming;
use crate::catalog::{ActionKind, AlertScope, Condition, DetectConfig, Direction, Rule};
use crate::decide::{AlertBook, TransitionKind};
use crate::score::{self, SeriesState};
use crate::time::{Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The fixed settings of the NAB detector: the same for every file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NabSettings {
    /// The signals computed from the file's values.
    pub signals: Vec<NabSignal>,
    /// Values in each signal's own baseline (the engine's `baseline_len`).
    pub baseline_len: usize,
    /// The rule: combined score above which the condition holds.
    pub score_above: f64,
    /// The rule's `for`.
    #[serde(rename = "for")]
    pub for_: Duration,
    /// The rule's `keep_firing_for`.
    pub keep_firing_for: Duration,
}

/// One signal over a NAB file's values.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NabSignal {
    /// Name.
    pub name: String,
    /// The signal is the mean of the rows in this trailing window (0: the
    /// value itself).
    #[serde(default)]
    pub window: Duration,
    /// Summarise the window by its median instead of its mean
    /// (`quantile_over_time(0.5, ...)`): one-row spikes leave no trace.
    #[serde(default)]
    pub median: bool,
    /// When set, the signal is the window's summary minus the same
    /// window's summary this long ago (`... - ... offset 1d`): a daily
    /// rhythm cancels out, a day unlike the day before does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minus_offset: Option<Duration>,
    /// Detector settings.
    #[serde(default)]
    pub detect: DetectConfig,
}

impl Default for NabSettings {
    /// What the harness measures: novelty in both directions (NAB's
    /// anomalies go either way), no peers (one series), no floor on the
    /// spread (NAB's units are unknown); `z: 5` on the value and its hourly
    /// mean, twice that on the daily change (a difference of two windows,
    /// each as noisy as the value); a baseline of 1,000 values (3.5 days of
    /// 5-minute rows); a rule that fires at once (NAB's anomalies are often
    /// one row) and pages at most once an hour per excursion.
    fn default() -> Self {
        let signal = |name: &str, window, median, minus_offset, z| NabSignal {
            name: name.to_string(),
            window,
            median,
            minus_offset,
            detect: DetectConfig {
                direction: Direction::Both,
                peers: false,
                novelty: true,
                mad_floor: 1e-9,
                z,
                ..DetectConfig::default()
            },
        };
        let hour = Duration::mins(60);
        NabSettings {
            signals: vec![
                signal("value", Duration(0), false, None, 5.0),
                signal("value_1h_mean", hour, false, None, 5.0),
                signal(
                    "daily_change",
                    hour,
                    true,
                    Some(Duration::mins(24 * 60)),
                    10.0,
                ),
            ],
            baseline_len: 1000,
            score_above: 0.5,
            for_: Duration(0),
            keep_firing_for: hour,
        }
    }
}

/// One NAB file's detector: its signals' states and the rule's alert state.
pub struct NabDetector {
    settings: NabSettings,
    rule: Rule,
    /// Per signal: baseline state and the rows inside its window.
    states: Vec<(SeriesState, VecDeque<(i64, f64)>)>,
    alerts: AlertBook,
}

impl NabDetector {
    /// A fresh detector with `settings`.
    pub fn new(settings: NabSettings) -> Self {
        let rule = Rule {
            alert: "NabAnomaly".to_string(),
            scope: AlertScope::Node,
            when: Condition {
                score_above: Some(settings.score_above),
                ..Condition::default()
            },
            for_: settings.for_,
            keep_firing_for: settings.keep_firing_for,
            severity: "warning".to_string(),
            labels: Default::default(),
            annotations: Default::default(),
            actions: vec![ActionKind::Alert],
        };
        let states = (0..settings.signals.len())
            .map(|i| (SeriesState::new(settings.baseline_len, i), VecDeque::new()))
            .collect();
        NabDetector {
            settings,
            rule,
            states,
            alerts: AlertBook::default(),
        }
    }
}

impl Streaming for NabDetector {
    fn step(&mut self, at: i64, value: f64) -> bool {
        let mut parts = Vec::with_capacity(self.states.len());
        // Per signal so far: its window, whether it is offset, its MAD.
        let mut spreads: Vec<(Duration, bool, f64)> = Vec::with_capacity(self.states.len());
        for (sig, (st, rows)) in self.settings.signals.iter().zip(&mut self.states) {
            rows.push_back((at, value));
            let keep = sig.window.0 + sig.minus_offset.map_or(0, |d| d.0);
            while rows.len() > 1 && rows.front().is_some_and(|r| r.0 < at - keep) {
                rows.pop_front();
            }
            // NaN (no rows a day ago yet) is no evidence and is not recorded.
            let mut x = window_stat(rows, at, sig.window, sig.median);
            if let Some(d) = sig.minus_offset {
                x -= window_stat(rows, at - d.0, sig.window, sig.median);
            }
            let ev = score::node::assess(&sig.detect, st, x, None, false);
            let mut level = ev.level;
            if sig.minus_offset.is_some() {
                // The same window without the offset: the level the
                // difference is taken of, when the settings have it.
                let plain = spreads
                    .iter()
                    .find(|&&(w, offset, _)| w == sig.window && !offset)
                    .map(|s| s.2);
                if plain.is_some_and(|mad| !has_rhythm(st.mad, mad)) {
                    level = 0.0;
                }
            }
            spreads.push((sig.window, sig.minus_offset.is_some(), st.mad));
            parts.push((sig.detect.weight, level));
        }
        let holds = score::combine(parts.into_iter()) > self.settings.score_above;
        let t = self.alerts.evaluate(
            0,
            &self.rule,
            "series",
            (Some(holds), value),
            String::new,
            Timestamp(at),
        );
        matches!(t, Some(t) if t.kind == TransitionKind::Firing)
    }
}

/// Seasonality, detected rather than assumed: whether the subject's own
/// history shows a rhythm at the offset (a day), judged from the spreads
/// its baselines already hold — `offset_mad`, of the window's change since
/// the same time a day ago, and `level_mad`, of the window's level. The
/// robust lag-one-day autocorrelation `1 − offset_mad² / (2·level_mad²)` is
/// positive exactly when the day before predicts today better than an
/// unrelated hour would (the difference of two unrelated values spreads √2
/// times as much as one). Without a rhythm, "a day unlike the day before"
/// is no news — a series that is never like its previous day — and the
/// change is not counted. No setting (the sign of the autocorrelation) and
/// no memory (two MADs the baselines keep anyway).
pub fn has_rhythm(offset_mad: f64, level_mad: f64) -> bool {
    offset_mad <= std::f64::consts::SQRT_2 * level_mad
}

/// Mean (or median) of the rows in the window of width `w` ending at `end`
/// (the latest row at or before `end` when `w` is 0); NaN when the window
/// holds no row.
fn window_stat(rows: &VecDeque<(i64, f64)>, end: i64, w: Duration, median: bool) -> f64 {
    let mut vals: Vec<f64> = Vec::new();
    for &(t, v) in rows.iter().rev() {
        if t > end {
            continue;
        }
        if t <= end - w.0 && !(w.0 == 0 && vals.is_empty()) {
            break;
        }
        vals.push(v);
        if w.0 == 0 {
            break;
        }
    }
    if vals.is_empty() {
        f64::NAN
    } else if median {
        vals.sort_by(f64::total_cmp);
        let n = vals.len();
        (vals[(n - 1) / 2] + vals[n / 2]) / 2.0
    } else {
        vals.iter().sum::<f64>() / vals.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_once_per_excursion() {
        let mut d = NabDetector::new(NabSettings::default());
        let minute = 60_000;
        let mut flags = Vec::new();
        for i in 0..400i64 {
            // Quiet noise, a lasting step at row 300.
            let v = if i >= 300 { 50.0 } else { (i % 5) as f64 };
            flags.push(d.step(i * 5 * minute, v));
        }
        let at: Vec<usize> = (0..flags.len()).filter(|&i| flags[i]).collect();
        assert_eq!(at, vec![300], "one page, when the step begins");
    }

    #[test]
    fn a_level_shift_pages_once_then_is_the_baseline() {
        let mut d = NabDetector::new(NabSettings::default());
        let minute = 60_000;
        let mut flags = Vec::new();
        for i in 0..700i64 {
            // Quiet noise; a lasting step at row 300; on the new level, a
            // spike at row 600 (hours after the step). Before the shift was
            // accepted the alert held for a ring length (1,000 rows) and
            // the spike could not page. (It must be large: the values of
            // the new level raised the self-calibration's mean strength —
            // see BENCHMARKS, "left".)
            let v = match i {
                600 => 1000.0,
                300.. => 50.0 + (i % 5) as f64,
                _ => (i % 5) as f64,
            };
            flags.push(d.step(i * 5 * minute, v));
        }
        let at: Vec<usize> = (0..flags.len()).filter(|&i| flags[i]).collect();
        assert_eq!(at, vec![300, 600], "the step once, then the spike on it");
    }

    #[test]
    fn a_day_unlike_the_day_before_pages() {
        // Five-minute rows; every day high (80) from 08:00 to 18:00 and low
        // (20) otherwise, with a little deterministic noise; on day 7 the
        // peak does not come. All its values are in the usual range.
        let mut d = NabDetector::new(NabSettings::default());
        let row = 5 * 60_000i64;
        let mut flags = Vec::new();
        for i in 0..8 * 288i64 {
            let (day, hour) = (i / 288, (i % 288) / 12);
            let peak = (8..18).contains(&hour) && day != 6;
            let noise = ((i * 7919) % 11) as f64 / 10.0;
            let v = if peak { 80.0 } else { 20.0 } + noise;
            flags.push(d.step(i * row, v));
        }
        let days: Vec<i64> = (0..flags.len())
            .filter(|&i| flags[i])
            .map(|i| i as i64 / 288)
            .collect();
        assert!(days.contains(&6), "the missing peak pages: {days:?}");
        assert!(
            !days.iter().any(|&d| (3..6).contains(&d)),
            "ordinary days stay quiet once a day of history exists: {days:?}"
        );
    }

    #[test]
    fn a_daily_change_counts_only_where_a_daily_rhythm_is() {
        // A daily wave: the day before predicts today (small change), while
        // the level spreads widely.
        assert!(has_rhythm(0.5, 10.0));
        // Noise: today's hour minus yesterday's spreads √2 times one hour.
        assert!(!has_rhythm(1.5, 1.0));
        assert!(has_rhythm(0.0, 0.0), "a flat series has nothing to say");
        // Detected on the subject's own history: white noise has no
        // rhythm, a noisy daily wave has one (states 1 and 2: the hourly
        // mean and the daily change).
        let row = 5 * 60_000i64;
        let noise = |i: i64| ((i * 7919 + 13) % 101) as f64 / 10.0;
        let wave = |i: i64| {
            50.0 + 40.0 * ((i % 288) as f64 / 288.0 * std::f64::consts::TAU).sin() + noise(i)
        };
        for (series, rhythm) in [(&noise as &dyn Fn(i64) -> f64, false), (&wave, true)] {
            let mut d = NabDetector::new(NabSettings::default());
            for i in 0..5 * 288i64 {
                d.step(i * row, series(i));
            }
            let (level, change) = (d.states[1].0.mad, d.states[2].0.mad);
            assert_eq!(has_rhythm(change, level), rhythm, "{level} {change}");
        }
    }

    #[test]
    fn window_summaries() {
        let rows: VecDeque<(i64, f64)> = [(1, 1.0), (2, 100.0), (3, 2.0), (4, 3.0)].into();
        assert_eq!(window_stat(&rows, 4, Duration(3), false), 35.0);
        assert_eq!(window_stat(&rows, 4, Duration(3), true), 3.0);
        assert_eq!(
            window_stat(&rows, 4, Duration(0), false),
            3.0,
            "the latest row"
        );
        assert_eq!(window_stat(&rows, 2, Duration(10), true), 50.5);
        assert!(
            window_stat(&rows, 0, Duration(10), false).is_nan(),
            "nothing then"
        );
    }
}
