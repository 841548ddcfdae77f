//! Scenarios: a directory of native Kubernetes/Prometheus formats that drives
//! replay, can be backfilled into a real Prometheus, and can be served by a
//! test API server (format in DESIGN.md, binding).
//!
//! | file | content |
//! | --- | --- |
//! | `scenario.yaml` | name, description, start, end, step, truth |
//! | `nodes.json` | NodeList |
//! | `pods.json` | PodList |
//! | `events.jsonl` | one core/v1 Event per line, in delivery order |
//! | `metrics.om` | OpenMetrics text, timestamps in seconds, `# EOF` |
//! | `nodes.jsonl` | optional: node watch events over time (taints, cordons, deletions) |

pub mod binder;
pub mod gen;
mod lines;
pub mod openmetrics;
mod reader;
pub mod rng;
mod shift;
mod stream;
pub mod suite;
mod writer;

pub use openmetrics::MetricStream;
pub use reader::{check_ticks, read_dir, read_meta, MAX_EVENT_LINE, MAX_TICKS};
pub use shift::shift_landing;
pub(crate) use stream::delivery_time;
pub use stream::{open_dir, EventStream, Streamed};
pub use writer::write_dir;

use crate::k8s;
use crate::time::{Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A whole scenario in memory.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// `scenario.yaml`.
    pub meta: Meta,
    /// `nodes.json` items (every node of the scenario; a node exists from its
    /// `creationTimestamp`).
    pub nodes: Vec<k8s::Node>,
    /// `pods.json` items.
    pub pods: Vec<k8s::Pod>,
    /// `events.jsonl`, in delivery order.
    pub events: Vec<k8s::Event>,
    /// `metrics.om`, family by family.
    pub metrics: Vec<Family>,
    /// `nodes.jsonl` (optional): what happens to nodes after `start`, in
    /// time order. Empty for a scenario whose nodes only join.
    pub node_changes: Vec<NodeChange>,
}

/// One line of `nodes.jsonl`: a node watch event as `kubectl get nodes
/// --watch --output-watch-events -o json` prints it (`type`, `object`: the
/// whole node after the change), plus `at`, the time it happens.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeChange {
    /// When (RFC 3339).
    pub at: Timestamp,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The node as it is after the change (as it was, for `DELETED`).
    pub object: k8s::Node,
}

/// The watch event types a `nodes.jsonl` line may carry.
pub const NODE_CHANGE_TYPES: [&str; 3] = ["ADDED", "MODIFIED", "DELETED"];

/// `scenario.yaml`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// Short name.
    pub name: String,
    /// What happens in it.
    #[serde(default)]
    pub description: String,
    /// First evaluation time.
    pub start: Timestamp,
    /// Last evaluation time.
    pub end: Timestamp,
    /// Evaluation interval.
    pub step: Duration,
    /// Maintenance windows in force while it was recorded (cron, so tied
    /// to its dates): replay, suite and backtest add them to the
    /// governor's. Optional; absent in most scenarios.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<crate::act::WindowSettings>,
    /// Ground truth.
    #[serde(default)]
    pub truth: Truth,
}

/// Ground truth for the detection report.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    /// Node-local faults: should be alerted, may be cordoned.
    #[serde(default)]
    pub faulty_nodes: Vec<FaultyNode>,
    /// Cluster-wide incidents: should raise a cluster-level alert, no cordon.
    #[serde(default)]
    pub cluster_incidents: Vec<Incident>,
    /// `all-healthy`: every node not faulty in that window must never be cordoned.
    #[serde(default = "all_healthy")]
    pub never_cordon: String,
}

fn all_healthy() -> String {
    "all-healthy".to_string()
}

/// A node-local fault window.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultyNode {
    /// Node name.
    pub node: String,
    /// Start.
    pub from: Timestamp,
    /// End.
    pub to: Timestamp,
    /// Free text.
    #[serde(default)]
    pub kind: String,
}

/// A cluster-wide incident window.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// Start.
    pub from: Timestamp,
    /// End.
    pub to: Timestamp,
    /// Free text.
    #[serde(default)]
    pub kind: String,
}

/// OpenMetrics metric type (only the two nodewatch's sources use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MetricType {
    /// Monotonic counter; samples are named `<family>_total`.
    Counter,
    /// Gauge.
    #[default]
    Gauge,
}

/// A metric family: every series of one metric name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Family {
    /// Sample name as queried (e.g. `prober_probe_total`).
    pub name: String,
    /// Type.
    pub kind: MetricType,
    /// HELP text.
    pub help: String,
    /// Series.
    pub series: Vec<Series>,
}

/// One series: sorted labels and time-ordered samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Label pairs sorted by name (no `__name__`).
    pub labels: Vec<(String, String)>,
    /// `(timestamp in ms, value)`, strictly increasing in time.
    pub samples: Vec<(i64, f64)>,
}

impl Series {
    /// The value of label `name`, or `""` (PromQL treats absent as empty).
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A problem reading or writing a scenario, with file and line when known.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScenarioError {
    /// File concerned.
    pub file: PathBuf,
    /// 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Built-in scenario generators: `(name, description)`: the Binder outage,
/// then the [`suite`].
pub fn builtin_names() -> Vec<(&'static str, &'static str)> {
    let mut names = vec![(binder::NAME, binder::DESCRIPTION)];
    names.extend(suite::SCENARIOS.iter().map(|&(n, d, _)| (n, d)));
    names
}

/// Generates the built-in scenario `name`, deterministically.
pub fn builtin(name: &str) -> Option<Scenario> {
    match name {
        binder::NAME => Some(binder::generate()),
        _ => suite::SCENARIOS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, generate)| generate()),
    }
}
