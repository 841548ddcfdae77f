//! The metric families of `/metrics`, rendered from one snapshot (and the
//! running action totals) through prometheus-client's encoders. Families
//! without samples are left out; label sets are de-duplicated because
//! Prometheus rejects a scrape with duplicate series.

use super::history::History;
use crate::config::names::is_label_name;
use crate::state::{Snapshot, Stats, WorkloadView};
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

/// The counters that exist from the start (at zero before the first
/// snapshot, so `rate()` sees the first increment).
pub(super) fn encode_always(
    enc: &mut DescriptorEncoder,
    stats: Option<&Stats>,
    action_totals: &BTreeMap<String, u64>,
) -> Result<(), fmt::Error> {
    let zero = Stats::default();
    let stats = stats.unwrap_or(&zero);
    counter(
        enc,
        "nodewatch_ticks",
        "Evaluation ticks completed.",
        stats.ticks,
    )?;
    counter(
        enc,
        "nodewatch_events_ingested",
        "Kubernetes Event objects ingested.",
        stats.events_ingested,
    )?;
    counter(
        enc,
        "nodewatch_event_increments",
        "Kubernetes Event occurrences counted (increments of count/series.count).",
        stats.event_increments,
    )?;
    counter(
        enc,
        "nodewatch_events_unattributed",
        "Kubernetes Events that could not be attributed to a node.",
        stats.events_unattributed,
    )?;
    counter(
        enc,
        "nodewatch_metric_rows_unlisted",
        "Metric rows dropped because their node label names no node the API server lists.",
        stats.metric_rows_unlisted,
    )?;
    gauges(
        enc,
        "nodewatch_pods_tracked",
        "Pods whose node nodewatch remembers to attribute their events (deleted pods leave 15 minutes after deletion).",
        None,
        std::iter::once((NO_LABELS, stats.pods_tracked)),
    )?;
    counter(
        enc,
        "nodewatch_notifications",
        "Alert notifications sent.",
        stats.notifications,
    )?;
    let actions = action_totals
        .iter()
        .map(|(k, v)| ([("kind", k.as_str())], *v));
    counters(
        enc,
        "nodewatch_actions",
        "Cordon, uncordon and refused-cordon actions taken, by kind.",
        actions,
    )?;

    Ok(())
}

/// Size of the query API's history (present from the start).
pub(super) fn encode_history(enc: &mut DescriptorEncoder, h: &History) -> Result<(), fmt::Error> {
    let one = |v: u64| std::iter::once((NO_LABELS, v));
    gauges(
        enc,
        "nodewatch_history_series",
        "Series held by the query API's history.",
        None,
        one(h.series_count() as u64),
    )?;
    gauges(
        enc,
        "nodewatch_history_ticks",
        "Ticks retained by the query API's history.",
        None,
        one(h.ticks() as u64),
    )?;
    gauges(
        enc,
        "nodewatch_history_memory",
        "Estimated heap bytes of the query API's history (bounded by serve.history_max_bytes).",
        Some(&Unit::Bytes),
        one(h.bytes() as u64),
    )
}

/// The families that only exist once a snapshot has been published.
pub(super) fn encode_snapshot(enc: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), fmt::Error> {
    let stats = &s.stats;
    let errors = stats.source_errors.iter().map(|(key, n)| {
        // The key is "<source>/<kind>"; a bare key is a kind of an unnamed source.
        let (source, kind) = key.split_once('/').unwrap_or(("unknown", key.as_str()));
        ([("source", source), ("kind", kind)], *n)
    });
    counters(
        enc,
        "nodewatch_source_errors",
        "Errors reading from a data source, by source and kind.",
        errors,
    )?;
    let up = stats
        .source_up
        .iter()
        .map(|(src, up)| ([("source", src.as_str())], u64::from(*up)));
    gauges(
        enc,
        "nodewatch_source_up",
        "Whether a data source answered its last request (1) or not (0).",
        None,
        up,
    )?;
    let reason = stats.pause.as_ref().map(|p| p.reason.as_str());
    let paused = std::iter::once((
        [("reason", reason.unwrap_or(""))],
        u64::from(reason.is_some()),
    ));
    gauges(
        enc,
        "nodewatch_paused",
        "1 while actions are paused (Lease annotation or --pause), with the pause's reason.",
        None,
        paused,
    )?;
    let held = stats.holds.iter().map(|h| {
        (
            [
                ("kind", h.kind.as_str()),
                ("name", h.name.as_str()),
                ("reason", h.reason.as_str()),
            ],
            u64::from(h.active),
        )
    });
    gauges(
        enc,
        "nodewatch_held",
        "1 while cordons are held: one series per maintenance window (0 outside it), and the Alertmanager hold while in force.",
        None,
        held,
    )?;
    let drains = stats
        .drains
        .iter()
        .map(|(k, n)| ([("outcome", k.as_str())], *n));
    counters(
        enc,
        "nodewatch_drain",
        "Drains after cordons (started, completed, stopped) and their pods (evicted, refused by a disruption budget, deleted at the timeout, errors).",
        drains,
    )?;
    encode_sinks(enc, stats)?;
    let tick = std::iter::once((NO_LABELS, stats.tick_seconds));
    gauges(
        enc,
        "nodewatch_tick_duration",
        "Duration of the last evaluation tick.",
        Some(&Unit::Seconds),
        tick,
    )?;

    // A node listed twice would produce duplicate series, which Prometheus
    // rejects; the first entry wins.
    let mut names = HashSet::new();
    let nodes: Vec<_> = s
        .nodes
        .iter()
        .filter(|n| names.insert(n.name.as_str()))
        .collect();
    let score = nodes.iter().map(|n| {
        (
            [
                ("node", n.name.as_str()),
                ("zone", n.zone.as_str()),
                ("pool", n.pool.as_str()),
            ],
            n.score,
        )
    });
    gauges(
        enc,
        "nodewatch_node_score",
        "Combined node sickness score in [0, 1].",
        None,
        score,
    )?;
    let cordoned = nodes.iter().map(|n| {
        // `by` is empty (absent) for schedulable nodes.
        let by = match (n.cordoned, n.cordoned_by_us) {
            (true, true) => "nodewatch",
            (true, false) => "other",
            (false, _) => "",
        };
        (
            [("node", n.name.as_str()), ("by", by)],
            u64::from(n.cordoned),
        )
    });
    gauges(
        enc,
        "nodewatch_node_cordoned",
        "Whether the node is unschedulable (1), and by whom.",
        None,
        cordoned,
    )?;

    let mut values = Vec::new();
    let mut levels = Vec::new();
    let mut unknown = Vec::new();
    for n in &nodes {
        // Unknown: named in `n.unknown` or listed without a value. A stale
        // value of an unknown signal is not exported as if it were current.
        let mut unk: BTreeSet<&str> = n.unknown.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        for sig in n.signals.iter().filter(|v| seen.insert(v.signal.as_str())) {
            let labels = [("node", n.name.as_str()), ("signal", sig.signal.as_str())];
            match sig.value {
                Some(v) if !unk.contains(sig.signal.as_str()) => values.push((labels, v)),
                _ => {
                    unk.insert(sig.signal.as_str());
                }
            }
            levels.push((labels, sig.level));
        }
        unknown.extend(
            unk.into_iter()
                .map(|u| ([("node", n.name.as_str()), ("signal", u)], 1u64)),
        );
    }
    gauges(
        enc,
        "nodewatch_signal_value",
        "Current value of a node signal (absent when unknown).",
        None,
        values.into_iter(),
    )?;
    gauges(
        enc,
        "nodewatch_signal_anomaly",
        "Anomaly level of a node signal in [0, 1].",
        None,
        levels.into_iter(),
    )?;
    gauges(
        enc,
        "nodewatch_signal_unknown",
        "1 for each node signal without fresh data (actions on the node are held).",
        None,
        unknown.into_iter(),
    )?;

    let mut seen = HashSet::new();
    let workloads: Vec<_> = s
        .workloads
        .iter()
        .filter(|w| seen.insert((w.signal.as_str(), w.subject.as_str())))
        .collect();
    let wvalues = workloads.iter().filter_map(|w| Some((wl(w), w.value?)));
    gauges(
        enc,
        "nodewatch_workload_value",
        "Current value of a workload signal for a subject.",
        None,
        wvalues,
    )?;
    let wlevels = workloads.iter().map(|w| (wl(w), w.level));
    gauges(
        enc,
        "nodewatch_workload_anomaly",
        "Anomaly level of a workload signal for a subject in [0, 1].",
        None,
        wlevels,
    )?;
    // 0 says loudly that a workload signal (the hub's) selects nothing:
    // an overload there would go unnoticed.
    let subjects = s.signals.iter().filter(|i| i.scope == "workload").map(|i| {
        let n = workloads.iter().filter(|w| w.signal == i.name).count() as u64;
        ([("signal", i.name.as_str())], n)
    });
    gauges(
        enc,
        "nodewatch_signal_subjects",
        "Subjects (pods) a workload signal has data for now; 0: its selector matches nothing.",
        None,
        subjects,
    )?;

    let mut seen = HashSet::new();
    let common = s
        .common_cause
        .iter()
        .filter(|c| seen.insert(c.signal.as_str()))
        .map(|c| ([("signal", c.signal.as_str())], c.nodes.len() as u64));
    gauges(
        enc,
        "nodewatch_common_cause",
        "Nodes tripping a signal that is in cluster-wide (common-cause) state.",
        None,
        common,
    )?;

    // ALERTS-style: the alert's own labels (node, signal, severity...) plus
    // its identity and state, the same label set the history records.
    let mut seen = HashSet::new();
    let alerts: Vec<(Vec<(&str, &str)>, u64)> = s
        .alerts
        .iter()
        .filter_map(|a| {
            let mut labels: Vec<(&str, &str)> = a
                .labels
                .iter()
                .filter(|(k, v)| is_label_name(k) && !v.is_empty())
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "alertname" | "alertstate" | "scope" | "subject")
                })
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            labels.extend([
                ("alertname", a.name.as_str()),
                ("alertstate", a.state.as_str()),
                ("scope", a.scope.as_str()),
                ("subject", a.subject.as_str()),
            ]);
            labels.retain(|(_, v)| !v.is_empty());
            labels.sort();
            seen.insert(labels.clone()).then_some((labels, 1u64))
        })
        .collect();
    gauges(
        enc,
        "nodewatch_alerts",
        "Pending and firing nodewatch alerts, like Prometheus's ALERTS.",
        None,
        alerts.into_iter(),
    )
}

/// Notification sink queues and delivery counters (self-health: a slow
/// or dead receiver shows as a growing queue and drops, never as a stuck
/// pipeline).
fn encode_sinks(enc: &mut DescriptorEncoder, stats: &Stats) -> Result<(), fmt::Error> {
    let sinks = &stats.sinks;
    let gauge = |f: fn(&crate::state::SinkStats) -> u64| {
        sinks
            .iter()
            .map(move |(k, v)| ([("sink", k.as_str()), ("kind", v.kind.as_str())], f(v)))
    };
    gauges(
        enc,
        "nodewatch_sink_queue_depth",
        "Items waiting in a notification sink's queue.",
        None,
        gauge(|s| s.queue_depth),
    )?;
    gauges(
        enc,
        "nodewatch_sink_queue_capacity",
        "Bound of a notification sink's queue.",
        None,
        gauge(|s| s.queue_capacity),
    )?;
    let items = sinks.iter().flat_map(|(k, v)| {
        [
            ("sent", v.sent),
            ("failed", v.failed),
            ("dropped", v.dropped),
            ("coalesced", v.coalesced),
        ]
        .map(|(outcome, n)| ([("sink", k.as_str()), ("outcome", outcome)], n))
    });
    counters(
        enc,
        "nodewatch_sink_items",
        "Alert states and action records handled by a notification sink, by outcome.",
        items,
    )?;
    counters(
        enc,
        "nodewatch_sink_retries",
        "Delivery attempts a notification sink retried.",
        sinks
            .iter()
            .map(|(k, v)| ([("sink", k.as_str())], v.retried)),
    )
}

/// Labels of a workload series.
fn wl(w: &WorkloadView) -> [(&'static str, &str); 2] {
    [
        ("signal", w.signal.as_str()),
        ("subject", w.subject.as_str()),
    ]
}

/// The label set of a family without labels.
const NO_LABELS: [(&str, &str); 0] = [];

/// A counter without labels, present even at zero.
fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), fmt::Error> {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

/// A labelled counter family; `name` is without `_total`, which the
/// encoder appends. Skipped when it has no samples.
fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl Iterator<Item = (L, u64)>,
) -> Result<(), fmt::Error> {
    let mut samples = samples.peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
    }
    Ok(())
}

/// A gauge family (integer values for flags and counts, so they read
/// `1`, not `1.0`). Skipped when it has no samples: an empty family is
/// noise in the exposition.
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl Iterator<Item = (L, V)>,
) -> Result<(), fmt::Error> {
    let mut samples = samples.peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in samples {
        family.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}
