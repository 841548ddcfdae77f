//! The catalog's checks after parsing, each problem pointing at the signal
//! or rule and the field (the loader adds file and line): names, sizes and
//! windows the engine can hold, detector settings in range, metric and
//! label names Prometheus and Alertmanager accept, and rules that name
//! signals that exist with the scope they need.

use super::{rule, AlertScope, Catalog, MetricQuery, SignalScope};
use crate::config::names::{alert_label_problem, is_metric_name};
use crate::time::Duration;
use std::collections::HashSet;

impl Catalog {
    pub(super) fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        // The engine keeps state per signal and node (and counts node
        // signals in a u16); rules are evaluated every tick.
        if self.signals.len() > MAX_SIGNALS {
            out.push(Problem {
                item: Item::Signal(MAX_SIGNALS),
                field: "name".into(),
                message: format!(
                    "{} signals; at most {MAX_SIGNALS} are allowed",
                    self.signals.len()
                ),
            });
        }
        if self.rules.len() > MAX_RULES {
            out.push(Problem {
                item: Item::Rule(MAX_RULES),
                field: "alert".into(),
                message: format!(
                    "{} rules; at most {MAX_RULES} are allowed",
                    self.rules.len()
                ),
            });
        }
        let mut seen = HashSet::new();
        for (i, s) in self.signals.iter().enumerate() {
            let mut bad = |field: &str, message: String| {
                out.push(Problem {
                    item: Item::Signal(i),
                    field: field.to_string(),
                    message,
                })
            };
            if !valid_name(&s.name) {
                bad(
                    "name",
                    format!("{:?} is not a valid name ([a-z_][a-z0-9_]*)", s.name),
                );
            }
            if !seen.insert(s.name.as_str()) {
                bad("name", format!("duplicate signal name {:?}", s.name));
            }
            match (&s.metric, &s.events) {
                (Some(_), Some(_)) => {
                    bad("events", "set either `metric` or `events`, not both".into())
                }
                (None, None) => bad("metric", "one of `metric` or `events` is required".into()),
                (Some(m), None) => {
                    metric_problems(m, &mut bad);
                    if m.by.is_empty() {
                        bad("metric.by", "at least one label is required".into());
                    }
                    if s.scope == SignalScope::Node && m.by.len() != 1 {
                        bad(
                            "metric.by",
                            "node signals take exactly one label: the one carrying the node name"
                                .into(),
                        );
                    }
                }
                (None, Some(e)) => {
                    // One bucket per tick per node: the window bounds memory.
                    if e.window.0 <= 0 || e.window > MAX_EVENT_WINDOW {
                        bad(
                            "events.window",
                            format!("must be within 1ms..{MAX_EVENT_WINDOW}, got {}", e.window),
                        );
                    }
                    if s.scope != SignalScope::Node {
                        bad(
                            "scope",
                            "event signals are attributed to nodes: scope must be `node`".into(),
                        );
                    }
                }
            }
            let d = &s.detect;
            for (f, v) in [("detect.above", d.above), ("detect.below", d.below)] {
                if let Some(v) = v.filter(|v| !v.is_finite()) {
                    bad(f, format!("must be a finite number, got {v}"));
                }
            }
            if !(d.z.is_finite() && d.z > 0.0) {
                bad(
                    "detect.z",
                    format!("must be a positive number, got {}", d.z),
                );
            }
            if !(d.mad_floor.is_finite() && d.mad_floor > 0.0) {
                bad(
                    "detect.mad_floor",
                    format!("must be a positive number, got {}", d.mad_floor),
                );
            }
            if s.hub
                && (s.scope != SignalScope::Workload
                    || s.metric.as_ref().is_none_or(|m| m.matchers.is_empty()))
            {
                bad(
                    "hub",
                    "only a workload metric signal whose matchers select the hub can be a hub signal"
                        .into(),
                );
            }
            if !(0.0..=1.0).contains(&d.weight) {
                bad(
                    "detect.weight",
                    format!("must be within 0..1, got {}", d.weight),
                );
            }
        }
        let mut seen_rules = HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let mut bad = |field: &str, message: String| {
                out.push(Problem {
                    item: Item::Rule(i),
                    field: field.to_string(),
                    message,
                })
            };
            if r.alert.is_empty() {
                bad("alert", "must not be empty".into());
            }
            if !seen_rules.insert((r.alert.as_str(), r.scope)) {
                bad(
                    "alert",
                    format!(
                        "duplicate rule {:?} for scope {}",
                        r.alert,
                        r.scope.as_str()
                    ),
                );
            }
            if !matches!(r.severity.as_str(), "info" | "warning" | "critical") {
                bad(
                    "severity",
                    format!("must be info, warning or critical, got {:?}", r.severity),
                );
            }
            for k in r.labels.keys() {
                if let Some(p) = alert_label_problem(k) {
                    bad(&format!("labels.{k}"), p);
                } else if RESERVED_LABELS.contains(&k.as_str()) {
                    bad(
                        &format!("labels.{k}"),
                        format!("{k:?} is set by nodewatch (from `alert`, `scope`, `severity` and the subject)"),
                    );
                }
            }
            for (k, v) in &r.annotations {
                if let Some(p) = alert_label_problem(k) {
                    bad(&format!("annotations.{k}"), p);
                }
                if let Some(p) = rule::template_problem(v) {
                    bad(&format!("annotations.{k}"), p);
                }
            }
            if r.cordons() && r.scope != AlertScope::Node {
                bad("actions", "only node rules may cordon".into());
            }
            if r.for_.0 < 0 || r.keep_firing_for.0 < 0 {
                bad("for", "durations must not be negative".into());
            }
            let c = &r.when;
            let thresholds = [c.value_above, c.value_below, c.anomaly_above]
                .iter()
                .flatten()
                .count();
            let forms =
                c.score_above.is_some() as u8 + (thresholds > 0) as u8 + c.common_cause as u8;
            if forms != 1 {
                bad("when", "use exactly one of: score_above; signal with value_above/value_below/anomaly_above; common_cause".into());
                continue;
            }
            for (f, v) in [
                ("value_above", c.value_above),
                ("value_below", c.value_below),
            ] {
                if let Some(v) = v.filter(|v| !v.is_finite()) {
                    bad(
                        &format!("when.{f}"),
                        format!("must be a finite number, got {v}"),
                    );
                }
            }
            for (f, v) in [
                ("score_above", c.score_above),
                ("anomaly_above", c.anomaly_above),
            ] {
                if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                    bad(&format!("when.{f}"), "must be within 0..1".into());
                }
            }
            let sig = c
                .signal
                .as_ref()
                .map(|n| (n, self.signals.iter().find(|s| &s.name == n)));
            if let Some((n, None)) = sig {
                bad("when.signal", format!("unknown signal {n:?}"));
            }
            let sig = sig.and_then(|(_, s)| s);
            match r.scope {
                AlertScope::Node if c.common_cause => {
                    bad("when.common_cause", "is for cluster rules".into())
                }
                AlertScope::Cluster if !c.common_cause => {
                    bad("when", "cluster rules use `common_cause: true`".into())
                }
                AlertScope::Workload if c.score_above.is_some() => bad(
                    "when.score_above",
                    "node scores are for node rules; use signal thresholds".into(),
                ),
                _ => {}
            }
            if thresholds > 0 && c.signal.is_none() {
                bad(
                    "when.signal",
                    "value/anomaly thresholds need a `signal`".into(),
                );
            }
            if let Some(s) = sig {
                let want = if r.scope == AlertScope::Workload {
                    SignalScope::Workload
                } else {
                    SignalScope::Node
                };
                if r.scope != AlertScope::Cluster && s.scope != want {
                    bad(
                        "when.signal",
                        format!(
                            "signal {:?} has scope {:?}, rule has scope {}",
                            s.name,
                            s.scope,
                            r.scope.as_str()
                        ),
                    );
                }
            }
        }
        out
    }
}

/// Most signals in a catalog (the built-in one has 10).
pub const MAX_SIGNALS: usize = 1000;

/// Most rules in a catalog (the built-in one has 4).
pub const MAX_RULES: usize = 1000;

/// Longest `events.window`: the window is kept as one bucket per tick
/// per node.
pub const MAX_EVENT_WINDOW: Duration = Duration(6 * 3600 * 1000);

/// Labels every alert gets from nodewatch itself; a rule may not set them.
const RESERVED_LABELS: &[&str] = &["alertname", "scope", "severity", "node", "signal"];

/// Metric names, `by` labels and rate windows: what Prometheus would
/// refuse, or what would make every alert of the signal undeliverable.
fn metric_problems(m: &MetricQuery, bad: &mut impl FnMut(&str, String)) {
    let names = std::iter::once(("metric", &m.name, m.rate)).chain(
        m.ratio_to
            .iter()
            .map(|d| ("metric.ratio_to", &d.name, d.rate)),
    );
    for (at, name, rate) in names {
        if !is_metric_name(name) {
            bad(
                &format!("{at}.name"),
                format!("{name:?} is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
            );
        }
        if let Some(r) = rate.filter(|r| r.0 <= 0) {
            bad(&format!("{at}.rate"), format!("must be positive, got {r}"));
        }
    }
    // `by` labels become alert labels of workload alerts.
    for l in &m.by {
        if let Some(p) = alert_label_problem(l) {
            bad("metric.by", p);
        }
    }
}

/// Which entry a problem is about (its index in the catalog).
pub(super) enum Item {
    Signal(usize),
    Rule(usize),
}

/// One problem, before the loader adds file and line.
pub(super) struct Problem {
    pub(super) item: Item,
    pub(super) field: String,
    pub(super) message: String,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
