//! A synthetic cluster fed through [`Published`] one tick at a time, for the
//! query API tests and the benchmark: `nodes` nodes in three zones with the
//! twelve signals of the default catalog (most flat, a few moving like real
//! thread ratios and CPU), one node that turns sick half-way (its alert
//! fires and it is cordoned), a hub workload, and a common-cause window.

use nodewatch::model::{ActionKind, AlertState};
use nodewatch::serve::Published;
use nodewatch::state::{
    ActionRecord, AlertView, CommonCause, NodeView, SignalValue, Snapshot, Stats, WorkloadView,
};
use nodewatch::time::Timestamp;
use std::collections::BTreeMap;

/// First tick: 2018-02-20T12:00:00Z.
pub const T0: i64 = 1_519_128_000_000;
/// Tick interval.
pub const STEP: i64 = 30_000;
/// The node that turns sick.
pub const SICK: &str = "node-0001";

/// The default catalog's node signals.
pub const SIGNALS: [&str; 12] = [
    "failed_sync_pods",
    "network_not_ready",
    "readiness_failed_pods",
    "readiness_failure_ratio",
    "node_threads_ratio",
    "thread_exhaustion_events",
    "pods_failing_to_stop",
    "node_ready",
    "node_cpu_busy",
    "node_disk_busy",
    "node_memory_ratio",
    "kubelet_restarts",
];

/// Time of tick `i` (ms).
pub fn at(i: usize) -> i64 {
    T0 + i as i64 * STEP
}

/// Name of node `n`.
pub fn node_name(n: usize) -> String {
    format!("node-{n:04}")
}

/// The snapshot of tick `i` of a run of `ticks`.
pub fn snapshot(nodes: usize, i: usize, ticks: usize) -> Snapshot {
    let sick_from = ticks / 2;
    let sick = i >= sick_from;
    let mut views = Vec::with_capacity(nodes);
    for n in 0..nodes {
        let name = node_name(n);
        let is_sick = sick && name == SICK;
        let wiggle = ((i * 7 + n * 13) % 17) as f64 / 100.0;
        let signals: Vec<SignalValue> = SIGNALS
            .iter()
            .map(|s| {
                let (value, level) = match *s {
                    "node_threads_ratio" => (0.2 + wiggle, 0.0),
                    "node_cpu_busy" => (0.3 + wiggle, 0.0),
                    "node_memory_ratio" => (0.5 + wiggle / 2.0, 0.0),
                    "node_ready" => (1.0, 0.0),
                    "failed_sync_pods" if is_sick => (6.0, 0.95),
                    "network_not_ready" if is_sick => (3.0, 0.9),
                    _ => (0.0, 0.0),
                };
                SignalValue {
                    signal: s.to_string(),
                    value: Some(value),
                    level,
                }
            })
            .collect();
        views.push(NodeView {
            zone: format!("zone-{}", n % 3),
            pool: "user".into(),
            score: if is_sick { 0.93 } else { wiggle / 4.0 },
            explanation: if is_sick {
                "failed_sync_pods 6 vs baseline 0 (robust z 12)".into()
            } else {
                "all signals within baseline".into()
            },
            signals,
            cordoned: is_sick && i >= sick_from + 10,
            cordoned_by_us: is_sick && i >= sick_from + 10,
            name,
            ..Default::default()
        });
    }
    let mut alerts = Vec::new();
    if sick && nodes > 1 {
        let labels: BTreeMap<String, String> = [
            ("alertname", "NodeSick"),
            ("scope", "node"),
            ("severity", "critical"),
            ("node", SICK),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        alerts.push(AlertView {
            name: "NodeSick".into(),
            scope: "node".into(),
            subject: SICK.into(),
            state: if i < sick_from + 4 {
                AlertState::Pending
            } else {
                AlertState::Firing
            },
            labels,
            active_since: Timestamp(at(sick_from)),
            fired_at: (i >= sick_from + 4).then(|| Timestamp(at(sick_from + 4))),
            ..Default::default()
        });
    }
    let mut actions = Vec::new();
    if nodes > 1 && i >= sick_from + 10 {
        actions.push(ActionRecord {
            at: Timestamp(at(sick_from + 10)),
            node: SICK.into(),
            kind: ActionKind::Cordon,
            rule: "NodeSick".into(),
            reason: "node score 0.93 above 0.8 for 5m".into(),
            score: 0.93,
        });
    }
    let window = ticks / 4..ticks / 4 + 10;
    let common_cause = if window.contains(&i) {
        vec![CommonCause {
            signal: "readiness_failed_pods".into(),
            nodes: (0..nodes).map(node_name).collect(),
            of: nodes,
        }]
    } else {
        Vec::new()
    };
    let hub = |signal: &str, value: f64, level: f64| WorkloadView {
        signal: signal.into(),
        subject: "prod/hub-7d9f".into(),
        value: Some(value),
        level,
        ..Default::default()
    };
    Snapshot {
        at: Timestamp(at(i)),
        scenario: Some("synthetic".into()),
        nodes: views,
        workloads: vec![
            hub("hub_cpu", 0.3 + i as f64 / ticks as f64, 0.0),
            hub("hub_threads", 200.0 + 10.0 * i as f64, 0.0),
        ],
        common_cause,
        alerts,
        actions,
        stats: Stats {
            ticks: i as u64 + 1,
            tick_seconds: 0.01,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Publishes `ticks` ticks of `nodes` nodes.
pub fn fill(published: &Published, nodes: usize, ticks: usize) {
    for i in 0..ticks {
        published.publish(snapshot(nodes, i, ticks));
    }
}
