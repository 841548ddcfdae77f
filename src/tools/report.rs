//! The replay report: the timeline of alerts and actions, and detection
//! quality against a scenario's `truth`. The `--json` keys are a contract
//! other tools read (issue #2); do not rename them.

use crate::model::{ActionKind, ActionRecord, AlertState, Notification};
use crate::scenario::Meta;
use crate::time::{Duration, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A node alert counts for a fault if it fires this long before its window.
const EARLY_GRACE: Duration = Duration::mins(5);

/// The detection report (`replay --json`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Per faulty-node window.
    pub faulty_nodes: Vec<FaultyNodeReport>,
    /// Per cluster incident.
    pub cluster_incidents: Vec<IncidentReport>,
    /// Node alerts that fired for a node outside its faulty windows.
    pub false_alerts: usize,
    /// Cordons of nodes outside their faulty windows.
    pub false_cordons: usize,
    /// Every alert that fired.
    pub alerts: Vec<AlertRecord>,
    /// Every cordon.
    pub cordons: Vec<CordonRecord>,
    /// Every refused cordon.
    pub refusals: Vec<RefusalRecord>,
}

/// Detection of one faulty node window.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FaultyNodeReport {
    /// Node.
    pub node: String,
    /// Window start.
    pub from: Timestamp,
    /// Window end.
    pub to: Timestamp,
    /// First node alert for it within [from − 5 min, to].
    pub detected_at: Option<Timestamp>,
    /// Seconds from `from` to detection.
    pub delay_s: Option<f64>,
    /// First cordon of it within the window.
    pub cordoned_at: Option<Timestamp>,
}

/// Detection of one cluster incident.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IncidentReport {
    /// Window start.
    pub from: Timestamp,
    /// Window end.
    pub to: Timestamp,
    /// First cluster or workload alert within the window.
    pub detected_at: Option<Timestamp>,
    /// Seconds from `from` to detection.
    pub delay_s: Option<f64>,
}

/// One alert's life.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertRecord {
    /// Alert name.
    pub name: String,
    /// `node`, `workload` or `cluster`.
    pub scope: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// When it fired.
    pub fired_at: Timestamp,
    /// When it resolved (null while still firing at the end).
    pub resolved_at: Option<Timestamp>,
    /// Why it fired, as explained when it fired (names the top
    /// contributors where the signal has a breakdown).
    pub explanation: String,
}

/// A cordon.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CordonRecord {
    /// Node.
    pub node: String,
    /// When.
    pub at: Timestamp,
    /// Rule.
    pub rule: String,
}

/// A refused cordon.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RefusalRecord {
    /// Node.
    pub node: String,
    /// When.
    pub at: Timestamp,
    /// The governor's reason.
    pub reason: String,
}

impl Report {
    /// Builds the report from what the notifier and the pipeline recorded.
    pub fn build(meta: &Meta, notifications: &[Notification], actions: &[ActionRecord]) -> Report {
        let mut alerts: Vec<AlertRecord> = Vec::new();
        let mut open: BTreeMap<(String, String), usize> = BTreeMap::new();
        for n in notifications {
            let key = (n.alert.name.clone(), n.alert.subject.clone());
            if n.status == AlertState::Firing {
                open.insert(key, alerts.len());
                alerts.push(AlertRecord {
                    name: n.alert.name.clone(),
                    scope: n.alert.scope.clone(),
                    labels: n.alert.labels.clone(),
                    fired_at: n.alert.fired_at.unwrap_or(n.alert.active_since),
                    resolved_at: None,
                    explanation: n
                        .alert
                        .annotations
                        .get("explanation")
                        .cloned()
                        .unwrap_or_default(),
                });
            } else if let Some(i) = open.remove(&key) {
                alerts[i].resolved_at = n.ends_at;
            }
        }
        let cordons: Vec<CordonRecord> = actions
            .iter()
            .filter(|a| a.kind == ActionKind::Cordon)
            .map(|a| CordonRecord {
                node: a.node.clone(),
                at: a.at,
                rule: a.rule.clone(),
            })
            .collect();
        let refusals = actions
            .iter()
            .filter(|a| a.kind == ActionKind::Refused)
            .map(|a| RefusalRecord {
                node: a.node.clone(),
                at: a.at,
                reason: a.reason.clone(),
            })
            .collect();
        let truth = &meta.truth;
        let in_fault = |node: &str, t: Timestamp| {
            truth
                .faulty_nodes
                .iter()
                .any(|f| f.node == node && t >= f.from.sub(EARLY_GRACE) && t <= f.to)
        };
        let node_alerts = || alerts.iter().filter(|a| a.scope == "node");
        let faulty_nodes = truth
            .faulty_nodes
            .iter()
            .map(|f| {
                let within = |t: Timestamp| t >= f.from.sub(EARLY_GRACE) && t <= f.to;
                let detected_at = node_alerts()
                    .filter(|a| a.labels.get("node") == Some(&f.node) && within(a.fired_at))
                    .map(|a| a.fired_at)
                    .min();
                let cordoned_at = cordons
                    .iter()
                    .filter(|c| c.node == f.node && within(c.at))
                    .map(|c| c.at)
                    .min();
                FaultyNodeReport {
                    node: f.node.clone(),
                    from: f.from,
                    to: f.to,
                    detected_at,
                    delay_s: detected_at.map(|t| t.since(f.from).as_secs_f64()),
                    cordoned_at,
                }
            })
            .collect();
        let cluster_incidents = truth
            .cluster_incidents
            .iter()
            .map(|c| {
                let detected_at = alerts
                    .iter()
                    .filter(|a| {
                        (a.scope == "cluster" || a.scope == "workload")
                            && a.fired_at >= c.from
                            && a.fired_at <= c.to
                    })
                    .map(|a| a.fired_at)
                    .min();
                IncidentReport {
                    from: c.from,
                    to: c.to,
                    detected_at,
                    delay_s: detected_at.map(|t| t.since(c.from).as_secs_f64()),
                }
            })
            .collect();
        let false_alerts = node_alerts()
            .filter(|a| !in_fault(a.labels.get("node").map_or("", String::as_str), a.fired_at))
            .count();
        let false_cordons = cordons.iter().filter(|c| !in_fault(&c.node, c.at)).count();
        Report {
            scenario: meta.name.clone(),
            faulty_nodes,
            cluster_incidents,
            false_alerts,
            false_cordons,
            alerts,
            cordons,
            refusals,
        }
    }

    /// The detection summary in words.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Detection report for {}:", self.scenario);
        for f in &self.faulty_nodes {
            let det = match (f.detected_at, f.delay_s) {
                (Some(t), Some(d)) => format!("detected at {t} ({})", delay(d)),
                _ => "NOT detected".to_string(),
            };
            let cord = f
                .cordoned_at
                .map_or("not cordoned".to_string(), |t| format!("cordoned at {t}"));
            let _ = writeln!(
                s,
                "  faulty node {} [{} → {}]: {det}, {cord}",
                f.node, f.from, f.to
            );
        }
        for c in &self.cluster_incidents {
            let det = match (c.detected_at, c.delay_s) {
                (Some(t), Some(d)) => format!("detected at {t} ({})", delay(d)),
                _ => "NOT detected".to_string(),
            };
            let _ = writeln!(s, "  cluster incident [{} → {}]: {det}", c.from, c.to);
        }
        let _ = writeln!(
            s,
            "  false node alerts: {}, false cordons: {}",
            self.false_alerts, self.false_cordons
        );
        let _ = writeln!(
            s,
            "  alerts fired: {}, cordons: {}, refusals: {}",
            self.alerts.len(),
            self.cordons.len(),
            self.refusals.len()
        );
        s
    }
}

fn delay(secs: f64) -> String {
    if secs < 0.0 {
        format!("{:.0}s before the window", -secs)
    } else {
        format!("after {}m{:02.0}s", (secs / 60.0).floor(), secs % 60.0)
    }
}

/// One line per alert transition and action, in time order, each with its
/// explanation.
pub fn timeline(
    notifications: &[Notification],
    actions: &[ActionRecord],
) -> Vec<(Timestamp, String)> {
    let mut lines: Vec<(Timestamp, String)> = Vec::new();
    for n in notifications {
        let a = &n.alert;
        let at = if n.status == AlertState::Firing {
            a.fired_at.unwrap_or(a.active_since)
        } else {
            n.ends_at.unwrap_or(a.active_since)
        };
        let what = if n.status == AlertState::Firing {
            let summary = a.annotations.get("summary").cloned().unwrap_or_default();
            let why = a
                .annotations
                .get("explanation")
                .cloned()
                .unwrap_or_default();
            format!(
                "FIRING   {} [{}] {}: {summary}\n             why: {why}",
                a.name, a.scope, a.subject
            )
        } else {
            format!("RESOLVED {} [{}] {}", a.name, a.scope, a.subject)
        };
        lines.push((at, what));
    }
    for a in actions {
        let what = match a.kind {
            ActionKind::Cordon => format!(
                "CORDON   {} (rule {}, score {:.2}): {}",
                a.node, a.rule, a.score, a.reason
            ),
            ActionKind::Refused => format!("REFUSED  {} (rule {}): {}", a.node, a.rule, a.reason),
            ActionKind::Uncordon => format!("{:<8} {}: {}", "UNCORDON", a.node, a.reason),
        };
        lines.push((a.at, what));
    }
    lines.sort_by_key(|(t, _)| *t);
    lines
}
