//! The alert state machine per (rule, subject):
//! inactive → pending (condition holds, `for` not yet elapsed) → firing →
//! resolved (condition false for `keep_firing_for`). Unknown data holds the
//! state: it is neither healthy nor sick.

use crate::catalog::Rule;
use crate::time::{Duration, Timestamp};
use std::collections::BTreeMap;

/// Identifies an alert: rule index and subject (node, workload or `cluster`).
pub type AlertKey = (usize, String);

/// State of one alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEntry {
    /// When the condition started holding.
    pub active_since: Timestamp,
    /// When it fired, if it did.
    pub fired_at: Option<Timestamp>,
    /// Last time the condition held.
    pub last_true: Timestamp,
    /// Value that made it hold last (score, signal value...).
    pub value: f64,
    /// Explanation at the last evaluation it held.
    pub explanation: String,
}

/// What changed for an alert this tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// Which alert.
    pub key: AlertKey,
    /// Firing or resolved.
    pub kind: TransitionKind,
    /// When.
    pub at: Timestamp,
}

/// Kinds of transitions worth telling anyone about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionKind {
    /// Started firing.
    Firing,
    /// Stopped firing.
    Resolved,
}

/// All pending and firing alerts, by rule then subject (ordered for stable
/// output; nested so lookups by `&str` allocate nothing in the hot path).
#[derive(Clone, Debug, Default)]
pub struct AlertBook {
    active: BTreeMap<usize, BTreeMap<String, AlertEntry>>,
}

impl AlertBook {
    /// Evaluates one (rule, subject) at `at`: `holds` is `Some(true/false)`
    /// or `None` when the data is unknown (state held); `value` is what the
    /// condition compared.
    pub fn evaluate(
        &mut self,
        rule_idx: usize,
        rule: &Rule,
        subject: &str,
        (holds, value): (Option<bool>, f64),
        explanation: impl FnOnce() -> String,
        at: Timestamp,
    ) -> Option<Transition> {
        let entry = self
            .active
            .get_mut(&rule_idx)
            .and_then(|m| m.get_mut(subject));
        let key = || (rule_idx, subject.to_string());
        match (holds, entry) {
            (None, _) => None,
            (Some(true), None) => {
                let key = key();
                let fires = rule.for_ <= Duration(0);
                let e = AlertEntry {
                    active_since: at,
                    fired_at: fires.then_some(at),
                    last_true: at,
                    value,
                    explanation: explanation(),
                };
                self.active
                    .entry(rule_idx)
                    .or_default()
                    .insert(subject.to_string(), e);
                fires.then_some(Transition {
                    key,
                    kind: TransitionKind::Firing,
                    at,
                })
            }
            (Some(true), Some(e)) => {
                e.last_true = at;
                e.value = value;
                e.explanation = explanation();
                if e.fired_at.is_none() && at.since(e.active_since) >= rule.for_ {
                    e.fired_at = Some(at);
                    return Some(Transition {
                        key: key(),
                        kind: TransitionKind::Firing,
                        at,
                    });
                }
                None
            }
            (Some(false), None) => None,
            (Some(false), Some(e)) => {
                let fired = e.fired_at.is_some();
                if fired && at.since(e.last_true) < rule.keep_firing_for {
                    return None;
                }
                self.remove(rule_idx, subject);
                fired.then(|| Transition {
                    key: key(),
                    kind: TransitionKind::Resolved,
                    at,
                })
            }
        }
    }

    fn remove(&mut self, rule_idx: usize, subject: &str) {
        if let Some(m) = self.active.get_mut(&rule_idx) {
            m.remove(subject);
            if m.is_empty() {
                self.active.remove(&rule_idx);
            }
        }
    }

    /// Subjects of active alerts for `rule_idx` (to evaluate subjects that
    /// disappeared from the data).
    pub fn subjects_of(&self, rule_idx: usize) -> Vec<String> {
        self.active
            .get(&rule_idx)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The entry of an active alert.
    pub fn get(&self, rule_idx: usize, subject: &str) -> Option<&AlertEntry> {
        self.active.get(&rule_idx)?.get(subject)
    }

    /// True if the alert is firing.
    pub fn is_firing(&self, rule_idx: usize, subject: &str) -> bool {
        self.get(rule_idx, subject)
            .is_some_and(|e| e.fired_at.is_some())
    }

    /// Every active alert as `((rule, subject), entry)`, ordered.
    pub fn iter(&self) -> impl Iterator<Item = ((usize, &str), &AlertEntry)> {
        self.active
            .iter()
            .flat_map(|(r, m)| m.iter().map(move |(s, e)| ((*r, s.as_str()), e)))
    }

    /// True when no alert is active.
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{AlertScope, Condition};

    fn rule(for_m: i64, keep_m: i64) -> Rule {
        Rule {
            alert: "A".into(),
            scope: AlertScope::Node,
            when: Condition {
                score_above: Some(0.5),
                ..Default::default()
            },
            for_: Duration::mins(for_m),
            keep_firing_for: Duration::mins(keep_m),
            severity: "warning".into(),
            labels: Default::default(),
            annotations: Default::default(),
            actions: vec![],
        }
    }

    fn run(book: &mut AlertBook, r: &Rule, seq: &[Option<bool>]) -> Vec<(usize, TransitionKind)> {
        let mut out = Vec::new();
        for (i, h) in seq.iter().enumerate() {
            let at = Timestamp(i as i64 * 60_000);
            if let Some(t) = book.evaluate(0, r, "n1", (*h, 1.0), String::new, at) {
                out.push((i, t.kind));
            }
        }
        out
    }

    #[test]
    fn fires_after_for_and_resolves() {
        let r = rule(2, 0);
        let mut b = AlertBook::default();
        let t = run(
            &mut b,
            &r,
            &[Some(true), Some(true), Some(true), Some(false)],
        );
        assert_eq!(
            t,
            vec![(2, TransitionKind::Firing), (3, TransitionKind::Resolved)]
        );
    }

    #[test]
    fn pending_that_clears_never_fires() {
        let r = rule(2, 0);
        let mut b = AlertBook::default();
        let t = run(
            &mut b,
            &r,
            &[Some(true), Some(false), Some(true), Some(false)],
        );
        assert!(t.is_empty());
        assert!(b.is_empty());
    }

    #[test]
    fn zero_for_fires_at_once() {
        let r = rule(0, 0);
        let mut b = AlertBook::default();
        assert_eq!(
            run(&mut b, &r, &[Some(true)]),
            vec![(0, TransitionKind::Firing)]
        );
    }

    #[test]
    fn keep_firing_for_holds_through_short_gaps() {
        let r = rule(0, 3);
        let mut b = AlertBook::default();
        let seq = [
            Some(true),
            Some(false),
            Some(false),
            Some(true),
            Some(false),
            Some(false),
            Some(false),
        ];
        let t = run(&mut b, &r, &seq);
        // Fires at 0; false at 1,2 (<3m since last true at 0); true at 3;
        // false at 4,5 (<3m), resolved at 6 (3m after 3).
        assert_eq!(
            t,
            vec![(0, TransitionKind::Firing), (6, TransitionKind::Resolved)]
        );
    }

    #[test]
    fn unknown_holds_the_state() {
        let r = rule(1, 0);
        let mut b = AlertBook::default();
        let t = run(
            &mut b,
            &r,
            &[Some(true), None, None, Some(true), None, Some(false)],
        );
        assert_eq!(
            t,
            vec![(3, TransitionKind::Firing), (5, TransitionKind::Resolved)]
        );
        assert!(!b.is_firing(0, "n1"));
    }
}
