//! Folds one published [`Snapshot`] into the [`History`]: the same series,
//! names and labels `/metrics` exports (so a dashboard works unchanged
//! against nodewatch directly or against a Prometheus scraping it), plus
//! `nodewatch_action`, one sample per cordon, uncordon or refusal at the
//! tick it happened, for Grafana annotations.

use super::cache::Kind;
use super::History;
use crate::config::names::is_label_name;
use crate::state::{ActionRecord, Snapshot};
use std::collections::{BTreeMap, BTreeSet};

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
    record_with(h, s, totals, new_actions, &[]);
}

/// [`record`], plus `extra` samples (label set with `__name__`, value)
/// in the same tick: series nodewatch never produces, which tests load to
/// compare the query API with Prometheus on them (classic histograms).
pub fn record_with(
    h: &mut History,
    s: &Snapshot,
    totals: &BTreeMap<String, u64>,
    new_actions: &[&ActionRecord],
    extra: &[ExtraSample],
) {
    if !h.begin(s.at.0) {
        return;
    }
    // The per-node series go through the id cache (see `cache.rs`); it is
    // back in place before `end`, which may make it forget removed series.
    let mut cache = std::mem::take(&mut h.cache);
    cache.begin();
    for (at, n) in s.nodes.iter().enumerate() {
        let node = n.name.as_str();
        let ids = cache.node(at, node);
        ids.score.set(
            h,
            [&n.pool, &n.zone],
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
        ids.cordoned.set(
            h,
            [by],
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
        for (at, v) in n.signals.iter().enumerate() {
            let sig = v.signal.as_str();
            let i = ids.signal(h, at, sig);
            if !ids.first_listing(i) {
                continue;
            }
            let labels = |name| [("__name__", name), ("node", node), ("signal", sig)];
            match v.value {
                Some(x) if !unknown.contains(sig) => {
                    let l = labels("nodewatch_signal_value");
                    ids.set_signal(h, (i, sig), Kind::Value, &l, x);
                }
                _ => {
                    unknown.insert(sig);
                }
            }
            let l = labels("nodewatch_signal_anomaly");
            ids.set_signal(h, (i, sig), Kind::Anomaly, &l, v.level);
        }
        for sig in unknown {
            let l = [
                ("__name__", "nodewatch_signal_unknown"),
                ("node", node),
                ("signal", sig),
            ];
            let i = ids.signal(h, usize::MAX, sig);
            ids.set_signal(h, (i, sig), Kind::Unknown, &l, 1.0);
        }
    }
    cache.end();
    h.cache = cache;
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
            // Rule labels are validated on load, but a bad one must not become
            // an unqueryable series.
            .filter(|(k, _)| is_label_name(k))
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
                ("kind", a.kind.as_str()),
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
    for (labels, v) in extra {
        let l: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        h.set(&l, *v);
    }
    h.end();
}

/// A sample of [`record_with`]: label pairs (`__name__` included), value.
pub type ExtraSample = (Vec<(String, String)>, f64);
