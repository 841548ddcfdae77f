//! Alerting rules, in the spirit of Prometheus alerting rules: a condition on
//! node scores, signal values or anomaly levels, held `for` a while before
//! firing, kept `keep_firing_for` after it clears, plus the actions to take.

use crate::time::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One alerting rule.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Alert name (the `alertname` label).
    pub alert: String,
    /// What the alert is about: `node`, `workload` or `cluster`.
    pub scope: AlertScope,
    /// The condition.
    pub when: Condition,
    /// How long the condition must hold before the alert fires.
    #[serde(rename = "for", default)]
    pub for_: Duration,
    /// How long a firing alert stays firing after the condition clears.
    #[serde(default)]
    pub keep_firing_for: Duration,
    /// `info`, `warning` or `critical`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Extra labels attached to the alert.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations; `{{ subject }}`, `{{ value }}` and `{{ explanation }}` are
    /// replaced when the alert is built (see [`PLACEHOLDERS`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// What to do while firing: `alert` (notify) and/or `cordon` (node rules).
    #[serde(default = "default_actions")]
    pub actions: Vec<ActionKind>,
}

/// The placeholders annotation templates may use, spelled exactly so
/// (`engine::rules` replaces them); anything else in `{{ }}` is an error.
pub const PLACEHOLDERS: [&str; 3] = ["{{ subject }}", "{{ value }}", "{{ explanation }}"];

/// Why an annotation template would not render, if it would not: an
/// unknown placeholder, or a stray `{{` or `}}`.
pub fn template_problem(t: &str) -> Option<String> {
    let mut rest = t.to_string();
    for p in PLACEHOLDERS {
        rest = rest.replace(p, "");
    }
    let at = rest.find("{{").or_else(|| rest.find("}}"))?;
    let near: String = rest[at..].chars().take(20).collect();
    Some(format!(
        "unknown placeholder or stray braces at {near:?}; the placeholders are {}",
        PLACEHOLDERS.join(", ")
    ))
}

fn default_severity() -> String {
    "warning".to_string()
}

fn default_actions() -> Vec<ActionKind> {
    vec![ActionKind::Alert]
}

/// The `scope` label of an alert.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum AlertScope {
    /// A node is sick.
    Node,
    /// A pod or process (such as the hub) is in trouble.
    Workload,
    /// Many nodes trip the same signal at once: a common cause.
    Cluster,
}

impl AlertScope {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertScope::Node => "node",
            AlertScope::Workload => "workload",
            AlertScope::Cluster => "cluster",
        }
    }
}

/// An action a rule may take.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Send the alert to the configured notifiers.
    Alert,
    /// Cordon the node, through the safety governor.
    Cordon,
}

/// A rule condition. Exactly one form is allowed:
/// - `score_above` (node rules): the combined node score;
/// - `signal` with `value_above`/`value_below`/`anomaly_above`;
/// - `common_cause: true` (cluster rules): some signal trips on many nodes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Node score (0..1) above which the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_above: Option<f64>,
    /// Signal the value/anomaly thresholds apply to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Signal value above which the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_above: Option<f64>,
    /// Signal value below which the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_below: Option<f64>,
    /// Signal anomaly level (0..1) above which the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_above: Option<f64>,
    /// Holds while any node signal (or `signal`, if set) is in common-cause
    /// state: tripped on many nodes at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub common_cause: bool,
}

/// A pool policy's own thresholds for one rule (`governor.pools[].thresholds`):
/// the fields of [`Condition`] that carry a number; each one given
/// replaces the rule's for that pool's nodes (and the workloads on them).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Replaces `when.score_above`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_above: Option<f64>,
    /// Replaces `when.value_above`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_above: Option<f64>,
    /// Replaces `when.value_below`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_below: Option<f64>,
    /// Replaces `when.anomaly_above`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_above: Option<f64>,
}

impl Thresholds {
    /// `(field, value)` of every threshold given.
    pub fn given(&self) -> Vec<(&'static str, f64)> {
        [
            ("score_above", self.score_above),
            ("value_above", self.value_above),
            ("value_below", self.value_below),
            ("anomaly_above", self.anomaly_above),
        ]
        .into_iter()
        .filter_map(|(f, v)| Some((f, v?)))
        .collect()
    }
}

impl Condition {
    /// The fields of [`Thresholds`] this condition uses.
    pub fn threshold_fields(&self) -> Vec<&'static str> {
        [
            ("score_above", self.score_above),
            ("value_above", self.value_above),
            ("value_below", self.value_below),
            ("anomaly_above", self.anomaly_above),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|_| f))
        .collect()
    }

    /// This condition with `t`'s thresholds in place of its own.
    pub fn with(&self, t: &Thresholds) -> Condition {
        let mut c = self.clone();
        c.score_above = t.score_above.or(c.score_above);
        c.value_above = t.value_above.or(c.value_above);
        c.value_below = t.value_below.or(c.value_below);
        c.anomaly_above = t.anomaly_above.or(c.anomaly_above);
        c
    }
}

impl Rule {
    /// True if the rule asks to cordon.
    pub fn cordons(&self) -> bool {
        self.actions.contains(&ActionKind::Cordon)
    }

    /// True if the rule asks to notify.
    pub fn notifies(&self) -> bool {
        self.actions.contains(&ActionKind::Alert)
    }
}
