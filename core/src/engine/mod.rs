//! The pure core of one tick: signals → score → decide. It takes an
//! [`Observation`] (from any source) and returns what changed: alert
//! transitions, cordon and uncordon requests, and the facts the governor
//! needs. No I/O, no clock: the observation carries the time. It only asks
//! for cordons: who cordoned what is the action ledger's, which the engine
//! reads as plain [`Cordons`] at the start of each tick.
//!
//! This file holds the tables and the order of a tick ([`Engine::tick_with`]);
//! the stages it runs are beside it: `assess.rs` (signals against
//! baselines and peers, node scores), `attribution.rs` and `topology.rs`
//! (what is a workload's own or a zone's), `rules.rs` (the alert rules and
//! cordon requests), `facts.rs` (what the governor and the agent read).

mod assess;
mod attribution;
mod contributors;
mod facts;
mod long_window;
mod pools;
mod rules;
mod snapshot;
mod topology;

pub use pools::PoolRules;

/// A node's hold this tick (`Engine::holds`): none.
const NOT_HELD: u8 = 0;
/// Held while it arrives (warm-up): scored, not alerted.
const ARRIVING: u8 = 1;
/// Held while it leaves: no peer, no capacity, no common-cause evidence.
const LEAVING: u8 = 2;

use crate::catalog::{Catalog, SignalScope};
use crate::decide::{AlertBook, CommonCauseSettings};
use crate::model::{CordonRequest, Cordons, NodeFacts, Notification, Observation};
use crate::score::{self, Evidence, SeriesState};
use crate::signals::nodes::DEFAULT_POOL_LABEL;
use crate::signals::{EventIngest, EventWindow, Hit, NodeTable};
use crate::time::{Duration, Timestamp};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Engine settings (the `engine:` section of the config file).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Evaluation interval.
    pub step: Duration,
    /// Values kept per (node, signal) for the own baseline.
    pub baseline_len: usize,
    /// When a signal counts as tripped cluster-wide.
    pub common_cause: CommonCauseSettings,
    /// Node label naming the pool (the governor keeps the last healthy
    /// node of each).
    pub pool_label: String,
    /// Node score from which a node counts as unhealthy: for the governor's
    /// unhealthy fraction and last-healthy-node checks, and for the opt-in
    /// uncordon. The one home of this setting.
    pub unhealthy_score: f64,
    /// Opt-in: uncordon nodes nodewatch cordoned after they were healthy
    /// this long (`null`: never). The one home of this setting.
    pub uncordon_after: Option<Duration>,
    /// A node that joined (or came back with a new kubelet version) less
    /// than this long ago is in warm-up: scored, never alerted on or
    /// cordoned (see `signals::disruption`). The one home of this setting.
    pub warm_up: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            step: Duration::secs(30),
            baseline_len: score::baseline::DEFAULT_CAPACITY,
            common_cause: CommonCauseSettings::default(),
            pool_label: DEFAULT_POOL_LABEL.to_string(),
            unhealthy_score: 0.5,
            uncordon_after: None,
            warm_up: Duration::mins(10),
        }
    }
}

/// A workload subject's state for one signal.
struct Workload {
    labels: Vec<(String, String)>,
    state: SeriesState,
    evidence: Option<Evidence>,
    last_seen: u64,
}

/// What one tick produced.
#[derive(Debug, Default)]
pub struct TickOutput {
    /// Evaluation time.
    pub at: Timestamp,
    /// Alerts that started firing or resolved.
    pub notifications: Vec<Notification>,
    /// Cordons the rules ask for (the governor decides).
    pub cordon_requests: Vec<CordonRequest>,
    /// Nodes nodewatch cordoned that have been healthy long enough.
    pub uncordon_requests: Vec<String>,
    /// Every existing node as the governor sees it (filled only when there
    /// are cordon requests to check).
    pub facts: Vec<NodeFacts>,
}

/// The scoring pipeline's state across ticks.
pub struct Engine {
    catalog: Arc<Catalog>,
    settings: Settings,
    /// Known nodes.
    nodes: NodeTable,
    /// nodewatch's cordons as the action ledger gave them at the start of
    /// this tick (read-only here; see [`Engine::tick_with`]).
    cordons: Cordons,
    events: EventIngest,
    /// `[signal][node]` own-baseline state (node signals).
    series: Vec<Vec<SeriesState>>,
    /// `[signal][node]` event windows (event signals).
    windows: Vec<Vec<EventWindow>>,
    /// `[signal][node]` this tick's evidence; `None` = unknown.
    evidence: Vec<Vec<Option<Evidence>>>,
    /// `[signal]` nodes tripping it when in common-cause state.
    common: Vec<Option<(Vec<u32>, usize)>>,
    /// `[signal]` the topology domain that is the common cause, when it is
    /// one zone or pool rather than the cluster.
    common_domain: Vec<Option<crate::decide::DomainCause>>,
    workloads: Vec<HashMap<String, Workload>>,
    /// `[node signal]` workload signals that break it down by pod.
    breakdown: Vec<Vec<usize>>,
    /// This tick's node evidence taken off as a watched workload's own.
    discounts: Vec<attribution::Discount>,
    scores: Vec<f64>,
    /// `[node]` node signals with a known value this tick.
    known: Vec<u16>,
    /// Number of node-scope signals in the catalog.
    node_signals: u16,
    healthy_since: Vec<Option<Timestamp>>,
    /// `[node]` this tick's hold: [`NOT_HELD`], [`ARRIVING`] (warm-up) or
    /// [`LEAVING`] (see [`Engine::held`] for the reason in words).
    holds: Vec<u8>,
    /// Node label keys remembered for the governor's pool selectors.
    kept_labels: Vec<String>,
    /// Pool policies' thresholds and hub selectors (`pools.rs`).
    pools: pools::Pools,
    alerts: AlertBook,
    /// Long-window node signals and their lingering state (`long_window.rs`).
    long: long_window::LongWindows,
    tick: u64,
    at: Timestamp,
    scratch: Vec<f32>,
    values: Vec<f64>,
    hits: Vec<Hit>,
}

impl Engine {
    /// A fresh engine for a validated catalog.
    pub fn new(catalog: Arc<Catalog>, settings: Settings) -> Self {
        let n = catalog.signals.len();
        let node_signals = catalog
            .signals
            .iter()
            .filter(|s| s.scope == SignalScope::Node)
            .count() as u16;
        Engine {
            events: EventIngest::new(&catalog),
            breakdown: contributors::breakdowns(&catalog),
            long: long_window::LongWindows::new(&catalog),
            discounts: Vec::new(),
            catalog,
            settings,
            nodes: NodeTable::default(),
            cordons: Cordons::default(),
            series: vec![Vec::new(); n],
            windows: vec![Vec::new(); n],
            evidence: vec![Vec::new(); n],
            common: vec![None; n],
            common_domain: vec![None; n],
            workloads: (0..n).map(|_| HashMap::new()).collect(),
            scores: Vec::new(),
            known: Vec::new(),
            node_signals,
            healthy_since: Vec::new(),
            holds: Vec::new(),
            kept_labels: Vec::new(),
            pools: Default::default(),
            alerts: AlertBook::default(),
            tick: 0,
            at: Timestamp(0),
            scratch: Vec::new(),
            values: Vec::new(),
            hits: Vec::new(),
        }
    }

    /// The catalog in use.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs one tick on `obs` with no cordons by nodewatch (the engine
    /// alone, as benchmarks and the core's tests run it).
    pub fn tick(&mut self, obs: Observation) -> TickOutput {
        self.tick_with(obs, |_| Cordons::default())
    }

    /// Runs one tick on `obs`. The node list (if any) is applied first;
    /// `cordons` is then handed each node whose object changed, with its
    /// listed `spec.unschedulable`, and returns nodewatch's cordons as the
    /// tick is to see them (the pipeline feeds the list to the action
    /// ledger and answers with the ledger's values).
    pub fn tick_with(
        &mut self,
        obs: Observation,
        cordons: impl FnOnce(&[(String, bool)]) -> Cordons,
    ) -> TickOutput {
        self.tick += 1;
        self.at = obs.at;
        let mut out = TickOutput {
            at: obs.at,
            ..Default::default()
        };
        let changed = match &obs.nodes {
            Some(list) => {
                self.nodes
                    .apply_list(list, &self.settings.pool_label, &self.kept_labels, obs.at)
            }
            None => Vec::new(),
        };
        self.cordons = cordons(&changed);
        for p in &obs.pods {
            self.events.add_pod(p, &mut self.nodes);
        }
        self.events.forget_pods(&obs.pods_gone, obs.at);
        self.ingest_events(&obs);
        // Resolve metric subjects to node indices once; nodes may first
        // appear in metric data (no node list yet), never once listed.
        let mut rows_by_signal: Vec<Vec<(u32, f64)>> = vec![Vec::new(); self.catalog.signals.len()];
        for (s, sig) in self.catalog.signals.iter().enumerate() {
            if let (SignalScope::Node, Some(Some(Ok(rows)))) = (sig.scope, obs.metrics.get(s)) {
                rows_by_signal[s] = rows
                    .iter()
                    .filter_map(|(subject, v)| Some((self.nodes.resolve(subject.first()?)?, *v)))
                    .collect();
            }
        }
        self.grow();
        self.holds = (0..self.nodes.len() as u32)
            .map(|i| match self.held(i) {
                None => NOT_HELD,
                Some(d) if d.leaving() => LEAVING,
                Some(_) => ARRIVING,
            })
            .collect();
        for (s, rows) in rows_by_signal.iter().enumerate() {
            match self.catalog.signals[s].scope {
                SignalScope::Node => self.assess_node_signal(s, &obs, rows),
                SignalScope::Workload => self.assess_workload_signal(s, &obs),
            }
        }
        self.common_cause_pass();
        self.linger_common_cause();
        self.attribution_pass();
        self.score_nodes();
        self.evaluate_rules(&mut out);
        if !out.cordon_requests.is_empty() {
            out.facts = self.facts();
        }
        out
    }

    fn ingest_events(&mut self, obs: &Observation) {
        if !obs.events_ok {
            return;
        }
        self.hits.clear();
        for (k, ev) in obs.events.iter().enumerate() {
            let from = self.hits.len();
            self.events
                .ingest(ev, obs.at, &mut self.nodes, &mut self.hits);
            for h in &mut self.hits[from..] {
                h.event = k as u32;
            }
        }
        self.grow();
        for h in &self.hits {
            let o = &obs.events[h.event as usize].involved_object;
            self.windows[h.signal][h.node as usize].add_from(
                self.tick,
                h.increments,
                h.object,
                (&o.namespace, &o.name),
            );
        }
        self.events.prune(obs.at);
    }

    /// Sizes per-node vectors to the node table.
    fn grow(&mut self) {
        let n = self.nodes.len();
        let step = self.settings.step.0.max(1);
        for (s, sig) in self.catalog.signals.iter().enumerate() {
            if sig.scope != SignalScope::Node {
                continue;
            }
            while self.series[s].len() < n {
                // Stagger baseline refreshes by node name, not by position,
                // so results do not depend on the order nodes were listed.
                // (The signal's index seeds it: new signals go at the end
                // of the catalog, or existing results shift slightly.)
                let name = &self.nodes.entry(self.series[s].len() as u32).name;
                let stagger = name
                    .bytes()
                    .fold(s, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
                self.series[s].push(SeriesState::new(self.settings.baseline_len, stagger));
            }
            self.evidence[s].resize(n, None);
            if let Some(q) = &sig.events {
                let len = ((q.window.0 + step - 1) / step).max(1) as usize;
                self.windows[s].resize_with(n, || EventWindow::new(len));
            }
        }
        self.scores.resize(n, 0.0);
        self.known.resize(n, 0);
        self.healthy_since.resize(n, None);
    }
}

#[cfg(test)]
mod disruption_tests;
#[cfg(test)]
mod tests;
