//! Folds one published [`Snapshot`] into the [`History`]: the same series,
//! names and labels `/metrics` exports (so a dashboard works unchanged
//! against nodewatch directly or against a Prometheus scraping it), plus
//! `nodewatch_action`, one sample per cordon, uncordon or refusal at the
//! tick it happened, for Grafana annotations.

use super::History;
use crate::state::{ActionRecord, Snapshot};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Name, type and help of every series the history holds, for
/// `/api/v1/metadata`.
pub const SERIES: &[(&str, &str, &str)] = &[
    (
        "nodewatch_node_score",
        "gauge",
        "Combined node sickness score in [0, 1].",
    ),
    (
        "nodewatch_node_cordoned",
        "gauge",
        "Whether the node is unschedulable (1), and by whom.",
    ),
    (
        "nodewatch_signal_value",
        "gauge",
        "Current value of a node signal (absent when unknown).",
    ),
    (
        "nodewatch_signal_anomaly",
        "gauge",
        "Anomaly level of a node signal in [0, 1].",
    ),
    (
        "nodewatch_signal_unknown",
        "gauge",
        "1 for each node signal without fresh data (actions on the node are held).",
    ),
    (
        "nodewatch_workload_value",
        "gauge",
        "Current value of a workload signal for a subject.",
    ),
    (
        "nodewatch_workload_anomaly",
        "gauge",
        "Anomaly level of a workload signal for a subject in [0, 1].",
    ),
    (
        "nodewatch_common_cause",
        "gauge",
        "Nodes tripping a signal that is in cluster-wide (common-cause) state.",
    ),
    (
        "nodewatch_alerts",
        "gauge",
        "Pending and firing nodewatch alerts, like Prometheus's ALERTS.",
    ),
    (
        "nodewatch_actions_total",
        "counter",
        "Cordon, uncordon and refused-cordon actions taken, by kind.",
    ),
    (
        "nodewatch_action",
        "gauge",
        "1 at the tick a cordon, uncordon or refusal was recorded (for annotations).",
    ),
    (
        "nodewatch_ticks_total",
        "counter",
        "Evaluation ticks completed.",
    ),
    (
        "nodewatch_tick_duration_seconds",
        "gauge",
        "Duration of the last evaluation tick.",
    ),
];

/// Records `s` as the tick at `s.at`. `totals` are the running action
/// counts, `new_actions` the records first seen in this snapshot. A
/// snapshot not newer than the last recorded one is ignored.
pub fn record(
    h: &mut History,
    s: &Snapshot,
    totals: &BTreeMap<String, u64>,
    new_actions: &[&ActionRecord],
) {
    if !h.begin(s.at.0) {
        return;
    }
    for n in &s.nodes {
        let node = n.name.as_str();
        h.set(
            &[
                ("__name__", "nodewatch_node_score"),
                ("node", node),
                ("pool", &n.pool),
                ("zone", &n.zone),
            ],
            n.score,
        );
        let by = match (n.cordoned, n.cordoned_by_us) {
            (true, true) => "nodewatch",
            (true, false) => "other",
            (false, _) => "",
        };
        h.set(
            &[
                ("__name__", "nodewatch_node_cordoned"),
                ("by", by),
                ("node", node),
            ],
            f64::from(u8::from(n.cordoned)),
        );
        // Unknown: named in `n.unknown` or listed without a value; a stale
        // value of an unknown signal is not recorded as if it were current.
        let mut unknown: BTreeSet<&str> = n.unknown.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        for v in n.signals.iter().filter(|v| seen.insert(v.signal.as_str())) {
            let sig = v.signal.as_str();
            match v.value {
                Some(x) if !unknown.contains(sig) => h.set(
                    &[
                        ("__name__", "nodewatch_signal_value"),
                        ("node", node),
                        ("signal", sig),
                    ],
                    x,
                ),
                _ => {
                    unknown.insert(sig);
                }
            }
            h.set(
                &[
                    ("__name__", "nodewatch_signal_anomaly"),
                    ("node", node),
                    ("signal", sig),
                ],
                v.level,
            );
        }
        for sig in unknown {
            h.set(
                &[
                    ("__name__", "nodewatch_signal_unknown"),
                    ("node", node),
                    ("signal", sig),
                ],
                1.0,
            );
        }
    }
    for w in &s.workloads {
        let labels = |name| {
            [
                ("__name__", name),
                ("signal", w.signal.as_str()),
                ("subject", w.subject.as_str()),
            ]
        };
        if let Some(v) = w.value {
            h.set(&labels("nodewatch_workload_value"), v);
        }
        h.set(&labels("nodewatch_workload_anomaly"), w.level);
    }
    for c in &s.common_cause {
        h.set(
            &[
                ("__name__", "nodewatch_common_cause"),
                ("signal", &c.signal),
            ],
            c.nodes.len() as f64,
        );
    }
    for a in &s.alerts {
        let mut labels: Vec<(&str, &str)> = a
            .labels
            .iter()
            .filter(|(k, _)| valid_label_name(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // The alert's identity wins over a rule label of the same name.
        labels.retain(|(k, _)| {
            !matches!(
                *k,
                "__name__" | "alertname" | "alertstate" | "scope" | "subject"
            )
        });
        labels.extend([
            ("__name__", "nodewatch_alerts"),
            ("alertname", a.name.as_str()),
            ("alertstate", a.state.as_str()),
            ("scope", a.scope.as_str()),
            ("subject", a.subject.as_str()),
        ]);
        h.set(&labels, 1.0);
    }
    for (kind, n) in totals {
        h.set(
            &[("__name__", "nodewatch_actions_total"), ("kind", kind)],
            *n as f64,
        );
    }
    for a in new_actions {
        h.set(
            &[
                ("__name__", "nodewatch_action"),
                ("kind", &a.kind),
                ("node", &a.node),
                ("reason", &a.reason),
                ("rule", &a.rule),
            ],
            1.0,
        );
    }
    h.set(
        &[("__name__", "nodewatch_ticks_total")],
        s.stats.ticks as f64,
    );
    h.set(
        &[("__name__", "nodewatch_tick_duration_seconds")],
        s.stats.tick_seconds,
    );
    h.end();
}

/// Prometheus's label name syntax; rule labels are validated on load, but
/// a bad one must not become an unqueryable series.
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
