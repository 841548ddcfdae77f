//! The pure core of one tick: signals → score → decide. It takes an
//! [`Observation`] (from any source) and returns what changed: alert
//! transitions, cordon and uncordon requests, and the facts the governor
//! needs. No I/O, no clock: the observation carries the time. It only asks
//! for cordons: who cordoned what is the action ledger's, which the engine
//! reads as plain [`Cordons`] at the start of each tick.

mod attribution;
mod contributors;
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

use crate::catalog::{Catalog, EventCount, SignalScope};
use crate::decide::{common_cause, AlertBook, CommonCauseSettings};
use crate::model::Observation;
use crate::model::{CordonRequest, Cordons, NodeFacts, Notification};
use crate::score::{self, Evidence, SeriesState};
use crate::signals::disruption::{self, Disruption};
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
        // appear in metric data (no node list yet).
        let mut rows_by_signal: Vec<Vec<(u32, f64)>> = vec![Vec::new(); self.catalog.signals.len()];
        for (s, sig) in self.catalog.signals.iter().enumerate() {
            if let (SignalScope::Node, Some(Some(Ok(rows)))) = (sig.scope, obs.metrics.get(s)) {
                rows_by_signal[s] = rows
                    .iter()
                    .filter_map(|(subject, v)| Some((self.nodes.intern(subject.first()?), *v)))
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

    fn assess_node_signal(&mut self, s: usize, obs: &Observation, rows: &[(u32, f64)]) {
        let sig = &self.catalog.signals[s];
        let n = self.nodes.len();
        self.values.clear();
        self.values.resize(n, f64::NAN);
        let mut known = vec![false; n];
        if let Some(q) = &sig.events {
            if obs.events_ok {
                for (i, k) in known.iter_mut().enumerate() {
                    if self.nodes.exists(i as u32, obs.at) {
                        self.values[i] = self.windows[s][i].value(self.tick, q.count);
                        *k = true;
                    }
                }
            }
        } else {
            let answered = matches!(obs.metrics.get(s), Some(Some(Ok(_))));
            if answered && sig.metric.as_ref().is_some_and(|q| q.absent_is_zero) {
                self.values.fill(0.0);
                known.fill(true);
            }
            for &(i, v) in rows {
                self.values[i as usize] = v;
                known[i as usize] = true;
            }
        }
        if self.long.window(s).is_some() {
            for i in 0..n {
                if self.too_young_for(s, i as u32) {
                    self.values[i] = f64::NAN;
                }
            }
        }
        let exists: Vec<bool> = (0..n)
            .map(|i| self.nodes.exists(i as u32, obs.at))
            .collect();
        // A node on its way out (drained, tainted for deletion) is no peer;
        // a node in warm-up is.
        let peer: Vec<bool> = (0..n)
            .map(|i| exists[i] && known[i] && self.holds[i] != LEAVING)
            .collect();
        let peers = score::peer_stats(
            (0..n).filter(|&i| peer[i]).map(|i| self.values[i]),
            &mut self.scratch,
        );
        let count_tail = sig
            .events
            .as_ref()
            .is_some_and(|q| q.count == EventCount::Increments);
        // Drift is judged against the peers' common movement: the median
        // of their standardized deviations from their own baselines.
        let common_drift = if sig.detect.drift && sig.detect.peers && peers.is_some() {
            let (series, values) = (&self.series[s], &self.values);
            score::detectors::peer_median(
                (0..n).filter(|&i| peer[i]).filter_map(|i| {
                    score::node::drift_residual(&sig.detect, &series[i], values[i])
                }),
                &mut self.scratch,
            )
            .unwrap_or(0.0)
        } else {
            0.0
        };
        let (mut tripped, mut with_data) = (Vec::new(), 0usize);
        // Common cause is judged per family once all signals are assessed.
        for i in 0..n {
            if !(exists[i] && known[i]) {
                self.evidence[s][i] = None;
                continue;
            }
            let ev = score::node::assess_relative(
                &sig.detect,
                &mut self.series[s][i],
                self.values[i],
                peers,
                count_tail,
                common_drift,
            );
            if ev.value.is_finite() {
                with_data += 1;
            }
            // Expected disruption is not sickness: a held node never
            // counts towards a common cause.
            if ev.tripped && self.holds[i] == NOT_HELD {
                tripped.push(i as u32);
            }
            self.evidence[s][i] = Some(ev);
        }
        self.common[s] = Some((tripped, with_data));
    }

    /// Common cause per family: the nodes tripping any member signal; when
    /// they are many, every member stops counting on those nodes.
    fn common_cause_pass(&mut self) {
        let catalog = self.catalog.clone();
        let mut families: Vec<&str> = catalog
            .signals
            .iter()
            .filter(|s| s.scope == SignalScope::Node)
            .map(|s| s.family())
            .collect();
        families.sort();
        families.dedup();
        let mut verdicts = vec![None; catalog.signals.len()];
        let mut domains = vec![None; catalog.signals.len()];
        for fam in families {
            let members: Vec<usize> = (0..catalog.signals.len())
                .filter(|&s| {
                    catalog.signals[s].scope == SignalScope::Node
                        && catalog.signals[s].family() == fam
                })
                .collect();
            let mut nodes: Vec<u32> = Vec::new();
            let mut of = 0;
            for &s in &members {
                if let Some((t, w)) = &self.common[s] {
                    nodes.extend(t);
                    of = of.max(*w);
                }
            }
            nodes.sort_unstable();
            nodes.dedup();
            let mut domain = None;
            if !common_cause(nodes.len(), of, &self.settings.common_cause) {
                let Some((d, inside)) = self.topology_cause(&nodes) else {
                    continue;
                };
                (nodes, domain) = (inside, Some(d));
            }
            for &s in &members {
                for &i in &nodes {
                    if let Some(Some(ev)) = self.evidence[s].get_mut(i as usize) {
                        ev.suppressed = true;
                        ev.level = 0.0;
                    }
                }
                verdicts[s] = Some((nodes.clone(), of));
                domains[s] = domain.clone();
            }
        }
        self.common = verdicts;
        self.common_domain = domains;
    }

    fn assess_workload_signal(&mut self, s: usize, obs: &Observation) {
        let sig = &self.catalog.signals[s];
        let tick = self.tick;
        let by = sig
            .metric
            .as_ref()
            .map(|m| m.by.clone())
            .unwrap_or_default();
        let map = &mut self.workloads[s];
        for w in map.values_mut() {
            w.evidence = None;
        }
        if let Some(Some(Ok(rows))) = obs.metrics.get(s) {
            for (subject, v) in rows {
                let key = subject.join("/");
                let stagger = map.len();
                let w = map.entry(key).or_insert_with(|| Workload {
                    labels: by.iter().cloned().zip(subject.iter().cloned()).collect(),
                    state: SeriesState::new(self.settings.baseline_len, stagger),
                    evidence: None,
                    last_seen: tick,
                });
                w.last_seen = tick;
                w.evidence = Some(score::node::assess(
                    &sig.detect,
                    &mut w.state,
                    *v,
                    None,
                    false,
                ));
            }
        }
        // Subjects gone for an hour (a restarted pod's old name) are dropped,
        // keeping memory bounded.
        let keep = (3_600_000 / self.settings.step.0.max(1)) as u64;
        map.retain(|_, w| tick - w.last_seen <= keep);
    }

    fn score_nodes(&mut self) {
        for i in 0..self.nodes.len() {
            self.known[i] = self
                .evidence
                .iter()
                .filter(|e| e.get(i).is_some_and(Option::is_some))
                .count() as u16;
            let parts = self
                .catalog
                .signals
                .iter()
                .enumerate()
                .filter_map(|(s, sig)| {
                    let ev = self.evidence[s].get(i)?.as_ref()?;
                    (sig.scope == SignalScope::Node).then_some((sig.detect.weight, ev.level))
                });
            self.scores[i] = score::combine(parts);
        }
    }

    /// Why node `i` is held now (expected disruption), if it is.
    pub(crate) fn held(&self, i: u32) -> Option<Disruption> {
        self.nodes
            .held(i, &self.cordons, self.at, self.settings.warm_up)
    }

    /// Nodes that currently exist.
    fn existing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.nodes.len() as u32).filter(move |&i| self.nodes.exists(i, self.at))
    }

    fn facts(&self) -> Vec<NodeFacts> {
        let upgrading = self.upgrading_pools();
        self.existing().map(|i| self.fact(i, &upgrading)).collect()
    }

    /// Node `i` as the governor sees it.
    fn fact(&self, i: u32, upgrading: &std::collections::BTreeMap<String, String>) -> NodeFacts {
        let e = self.nodes.entry(i);
        let held = self.held(i);
        NodeFacts {
            leaving: held.as_ref().is_some_and(Disruption::leaving),
            held: held.map(|d| d.to_string()),
            upgrade: upgrading.get(&e.pool).cloned(),
            name: e.name.clone(),
            zone: e.zone.clone(),
            pool: e.pool.clone(),
            unschedulable: self.unschedulable(i),
            cordoned_by_us: self.is_ours(i),
            healthy: self.scores.get(i as usize).copied().unwrap_or(0.0)
                < self.settings.unhealthy_score,
            excluded: e.excluded,
            labels: e.labels.clone(),
        }
    }

    /// `node` as the governor sees it, if known.
    pub fn node_facts(&self, node: &str) -> Option<NodeFacts> {
        let upgrading = self.upgrading_pools();
        self.nodes.get(node).map(|i| self.fact(i, &upgrading))
    }

    /// Remembers these node label keys from now on (the governor's pool
    /// selectors read them); takes effect with the next node list.
    pub fn keep_labels(&mut self, keys: Vec<String>) {
        self.kept_labels = keys;
    }

    /// Pools being upgraded now, with why (`signals::disruption`).
    pub(crate) fn upgrading_pools(&self) -> std::collections::BTreeMap<String, String> {
        disruption::upgrading_pools(self.existing().map(|i| {
            let e = self.nodes.entry(i);
            let other = self.unschedulable(i) && !self.is_ours(i);
            (e.pool.as_str(), e.kubelet_version.as_str(), other)
        }))
    }

    /// Whether `node` counts as healthy now (unknown nodes do not).
    pub fn is_healthy(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|i| {
            self.healthy_since
                .get(i as usize)
                .copied()
                .flatten()
                .is_some()
        })
    }

    /// Whether every node signal of `node` had data this tick.
    pub fn is_fresh(&self, node: &str) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|i| self.known.get(i as usize) == Some(&self.node_signals))
    }

    /// Node `i`'s `spec.unschedulable`: as listed, or as nodewatch wrote it
    /// since (the ledger's [`Cordons`] of this tick).
    pub(crate) fn unschedulable(&self, i: u32) -> bool {
        let e = self.nodes.entry(i);
        self.cordons.unschedulable(&e.name, e.unschedulable)
    }

    /// Whether nodewatch cordoned node `i` (the ledger's [`Cordons`] of
    /// this tick).
    pub(crate) fn is_ours(&self, i: u32) -> bool {
        self.cordons.is_ours(&self.nodes.entry(i).name)
    }

    /// Event ingestion counters: (objects, increments, unattributed).
    pub fn event_counts(&self) -> (u64, u64, u64) {
        (
            self.events.ingested,
            self.events.increments,
            self.events.unattributed,
        )
    }

    /// Approximate bytes of per-(node, signal) state, for the memory budget.
    pub fn state_bytes_per_node_signal(&self) -> usize {
        let mut total = 0usize;
        let mut count = 0usize;
        for s in &self.series {
            for st in s {
                total += st.bytes() + std::mem::size_of::<Option<Evidence>>();
                count += 1;
            }
        }
        for w in &self.windows {
            total += w.len()
                * (std::mem::size_of::<EventWindow>()
                    + 64
                    + crate::signals::events::MAX_OBJECTS * 16
                    + crate::signals::contributors::TopK::max_bytes());
        }
        total / count.max(1)
    }
}

#[cfg(test)]
mod disruption_tests;
#[cfg(test)]
mod tests;
