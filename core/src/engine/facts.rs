//! What the engine tells others about nodes: the governor's [`NodeFacts`]
//! (pool, zone, holds, who cordoned it, healthy or not), health and
//! freshness for the uncordon and readiness checks, and its own counters.
//! Read-only views of the engine's tables; nothing here changes state.

use super::Engine;
use crate::model::NodeFacts;
use crate::score::Evidence;
use crate::signals::disruption::{self, Disruption};
use crate::signals::EventWindow;

impl Engine {
    /// Why node `i` is held now (expected disruption), if it is.
    pub(crate) fn held(&self, i: u32) -> Option<Disruption> {
        self.nodes
            .held(i, &self.cordons, self.at, self.settings.warm_up)
    }

    /// Nodes that currently exist.
    pub(super) fn existing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.nodes.len() as u32).filter(move |&i| self.nodes.exists(i, self.at))
    }

    pub(super) fn facts(&self) -> Vec<NodeFacts> {
        let upgrading = self.upgrading_pools();
        self.existing().map(|i| self.fact(i, &upgrading)).collect()
    }

    /// Node `i` as the governor sees it.
    pub(super) fn fact(
        &self,
        i: u32,
        upgrading: &std::collections::BTreeMap<String, String>,
    ) -> NodeFacts {
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

    /// Metric rows naming no node the API server listed (dropped), and the
    /// first such subject ([`crate::signals::NodeTable::resolve`]).
    pub fn metric_rows_unlisted(&self) -> (u64, Option<&str>) {
        self.nodes.unlisted()
    }

    /// Event ingestion counters: (objects, increments, unattributed).
    pub fn event_counts(&self) -> (u64, u64, u64) {
        (
            self.events.ingested,
            self.events.increments,
            self.events.unattributed,
        )
    }

    /// Bytes of per-(node, signal) state per (node, signal), at most: the
    /// memory budget's figure. Each series state counts its whole ring
    /// ([`crate::score::SeriesState::max_bytes`]) and each event window the most it can
    /// hold ([`EventWindow::max_bytes`]: a hit on every tick of its window,
    /// every object and top-k slot taken); quiet signals hold far less
    /// (see [`Engine::state_bytes_held_per_node_signal`]).
    pub fn state_bytes_per_node_signal(&self) -> usize {
        self.state_bytes(true)
    }

    /// Bytes of per-(node, signal) state per (node, signal) held now: what
    /// each series state and event window has allocated.
    pub fn state_bytes_held_per_node_signal(&self) -> usize {
        self.state_bytes(false)
    }

    fn state_bytes(&self, at_most: bool) -> usize {
        let mut total = 0usize;
        let mut count = 0usize;
        for s in &self.series {
            for st in s {
                let held = if at_most { st.max_bytes() } else { st.bytes() };
                total += held + std::mem::size_of::<Option<Evidence>>();
                count += 1;
            }
        }
        for w in self.windows.iter().flatten() {
            total += if at_most {
                EventWindow::max_bytes(w.len_ticks())
            } else {
                w.bytes()
            };
        }
        total / count.max(1)
    }
}
