//! What the pipeline publishes after every tick: a read-only snapshot of node
//! scores, explanations, alerts and actions. The HTTP server, the status page
//! and `/metrics` render from it; nothing reads the engine's internals.

pub use crate::model::{ActionRecord, AlertView};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything the outside world may see after one tick.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Evaluation time of the tick.
    pub at: Timestamp,
    /// Scenario name in replay/demo mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Nodes, highest score first.
    pub nodes: Vec<NodeView>,
    /// Workload subjects (e.g. the hub), by signal.
    pub workloads: Vec<WorkloadView>,
    /// Signals tripped on many nodes at once (empty when none).
    pub common_cause: Vec<CommonCause>,
    /// Pending and firing alerts.
    pub alerts: Vec<AlertView>,
    /// Recent cordons, uncordons and refusals, newest last (bounded).
    pub actions: Vec<ActionRecord>,
    /// The signal catalog, for labelling.
    pub signals: Vec<SignalInfo>,
    /// Counters about the agent itself.
    pub stats: Stats,
}

/// One node's state.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// Zone label.
    pub zone: String,
    /// Pool label.
    pub pool: String,
    /// Combined score in [0, 1].
    pub score: f64,
    /// The score explained in words.
    pub explanation: String,
    /// The signals that contributed, strongest first.
    pub contributions: Vec<Contribution>,
    /// Every signal's current value and anomaly level.
    pub signals: Vec<SignalValue>,
    /// Signals with no fresh data for this node (actions on it are held).
    pub unknown: Vec<String>,
    /// Unschedulable (by anyone).
    pub cordoned: bool,
    /// Cordoned by nodewatch.
    pub cordoned_by_us: bool,
    /// Why nodewatch holds off this node (expected disruption, warm-up, an
    /// upgrade of its pool), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// A workload subject (e.g. `prod/hub-…`) of a workload signal.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkloadView {
    /// Signal name.
    pub signal: String,
    /// Subject, label values joined with `/`.
    pub subject: String,
    /// Subject labels.
    pub labels: BTreeMap<String, String>,
    /// Current value.
    pub value: Option<f64>,
    /// Anomaly level in [0, 1].
    pub level: f64,
    /// Why, in words.
    pub detail: String,
}

/// One signal's share in a node score.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Contribution {
    /// Signal name.
    pub signal: String,
    /// Current value.
    pub value: f64,
    /// Anomaly level in [0, 1].
    pub level: f64,
    /// Weight in the score.
    pub weight: f64,
    /// Which detectors fired, against which baseline.
    pub detail: String,
    /// Where the value comes from, largest first (pods of the node, when
    /// the signal has a per-pod breakdown; empty otherwise).
    pub top: Vec<Contributor>,
}

/// One pod's (or workload's) part in a signal's value.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Contributor {
    /// `namespace/name` of the pod (or `namespace/workload-*`).
    pub name: String,
    /// Its amount in the signal's unit (events for event signals).
    pub amount: f64,
    /// Its share of the signal's value in [0, 1], when known.
    pub share: Option<f64>,
}

/// A signal value for one node.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SignalValue {
    /// Signal name.
    pub signal: String,
    /// Value, `None` when unknown.
    pub value: Option<f64>,
    /// Anomaly level in [0, 1].
    pub level: f64,
}

/// A signal in common-cause state.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CommonCause {
    /// Signal name.
    pub signal: String,
    /// Nodes tripping it.
    pub nodes: Vec<String>,
    /// Nodes with data for it.
    pub of: usize,
}

/// Catalog entry, for labelling.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SignalInfo {
    /// Name.
    pub name: String,
    /// Help text.
    pub help: String,
    /// `node` or `workload`.
    pub scope: String,
}

/// A pause of all actions in force, from the Lease or `--pause`.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Pause {
    /// Who and why, as the person pausing wrote it.
    pub reason: String,
    /// When it ends by itself (`None`: when removed).
    pub until: Option<Timestamp>,
}

/// A hold on cordons, configured or in force: a maintenance window, or
/// the Alertmanager hold.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Hold {
    /// `maintenance_window` or `alertmanager`.
    pub kind: String,
    /// The window's name (empty for Alertmanager).
    pub name: String,
    /// Why, as configured (or the alerts firing).
    pub reason: String,
    /// When it ends, while in force and known.
    pub until: Option<Timestamp>,
    /// Holding cordons now.
    pub active: bool,
}

/// Self-health counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Ticks evaluated.
    pub ticks: u64,
    /// Duration of the last tick's evaluation, seconds.
    pub tick_seconds: f64,
    /// Events ingested (objects delivered).
    pub events_ingested: u64,
    /// Event increments counted.
    pub event_increments: u64,
    /// Events that could not be attributed to a node.
    pub events_unattributed: u64,
    /// Metric rows whose node label names no node the API server lists
    /// (dropped: a phantom such as node_exporter's `instance` left as an
    /// address).
    pub metric_rows_unlisted: u64,
    /// Pods whose node the core remembers (for events that name no node).
    pub pods_tracked: u64,
    /// Source errors by kind.
    pub source_errors: BTreeMap<String, u64>,
    /// Whether each source is up.
    pub source_up: BTreeMap<String, bool>,
    /// Alert notifications sent.
    pub notifications: u64,
    /// The pause in force, if actions are paused.
    pub pause: Option<Pause>,
    /// Every maintenance window (active or not) and the Alertmanager hold
    /// while in force.
    pub holds: Vec<Hold>,
    /// What drains did so far, by outcome (`evicted`, `refused`, ...;
    /// empty unless `kubernetes.drain` is on).
    pub drains: BTreeMap<String, u64>,
    /// Delivery counters per notification sink (`kind/name`).
    pub sinks: BTreeMap<String, SinkStats>,
}

/// Delivery counters of one notification sink. Items are alert states and
/// action records; a message (HTTP request, email) may carry several.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SinkStats {
    /// `alertmanager`, `webhook`, `email` or `grafana`.
    pub kind: String,
    /// Items delivered.
    pub sent: u64,
    /// Items given up on (rejected as invalid, or out of attempts).
    pub failed: u64,
    /// Delivery attempts that were retried.
    pub retried: u64,
    /// Items dropped from a full queue.
    pub dropped: u64,
    /// Items replaced by a newer state of the same alert.
    pub coalesced: u64,
    /// Items waiting now.
    pub queue_depth: u64,
    /// The queue's bound.
    pub queue_capacity: u64,
    /// Batches being delivered now (0 or 1, including retry waits).
    pub in_flight: u64,
    /// Seconds the last successful delivery took.
    pub latency_last_seconds: f64,
    /// Sum of seconds of successful deliveries (with `latency_count`, an
    /// average, as a Prometheus summary does).
    pub latency_sum_seconds: f64,
    /// Successful deliveries timed.
    pub latency_count: u64,
    /// The last delivery error, if the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
