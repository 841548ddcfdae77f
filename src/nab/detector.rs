//! The streaming detector the NAB harness measures. A NAB file is treated
//! as one subject with two signals over its values — the value itself and
//! its mean over the last hour (what a rule file would define with
//! `avg_over_time(...[1h])`) — and one alerting rule on their combined
//! score, fed a row at a time:
//!
//! - each signal goes through [`crate::score::node::assess`] exactly as a
//!   node signal does in the engine (here: novelty against the own
//!   baseline, both directions, the default `z`);
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
    /// Detector settings.
    #[serde(default)]
    pub detect: DetectConfig,
}

impl Default for NabSettings {
    /// What the harness measures: novelty in both directions (NAB's
    /// anomalies go either way), no peers (one series), no floor on the
    /// spread (NAB's units are unknown), every other detector setting at
    /// nodewatch's default; a baseline of 1,000 values (3.5 days of 5-minute
    /// rows); a rule that fires at once (NAB's anomalies are often one row)
    /// and pages at most once an hour per excursion.
    fn default() -> Self {
        let detect = DetectConfig {
            direction: Direction::Both,
            peers: false,
            novelty: true,
            mad_floor: 1e-9,
            ..DetectConfig::default()
        };
        let signal = |name: &str, window| NabSignal {
            name: name.to_string(),
            window,
            detect: detect.clone(),
        };
        NabSettings {
            signals: vec![
                signal("value", Duration(0)),
                signal("value_1h_mean", Duration::mins(60)),
            ],
            baseline_len: 1000,
            score_above: 0.5,
            for_: Duration(0),
            keep_firing_for: Duration::mins(60),
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
        for (sig, (st, rows)) in self.settings.signals.iter().zip(&mut self.states) {
            rows.push_back((at, value));
            while rows.len() > 1 && rows.front().is_some_and(|r| r.0 <= at - sig.window.0) {
                rows.pop_front();
            }
            let x = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
            let ev = score::node::assess(&sig.detect, st, x, None, false);
            parts.push((sig.detect.weight, ev.level));
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
}
