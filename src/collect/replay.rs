//! The replay source: serves a scenario as if it were live. Metric signals
//! are evaluated by the embedded evaluator at each tick; events are delivered
//! in file order once their latest occurrence is due; nodes and pods are
//! listed on the first tick, as a watch's initial list would, and the
//! node list is sent again whenever a change of `nodes.jsonl` comes due
//! (a taint, a cordon, a deletion), as a watch delivers it.

use super::tsdb::Tsdb;
use super::{MetricSource, Observation, SignalResult, Source};
use crate::catalog::Catalog;
use crate::k8s;
use crate::scenario::{NodeChange, Scenario};
use crate::time::Timestamp;

/// A scenario behind the [`Source`] trait.
pub struct ReplaySource {
    tsdb: Tsdb,
    events: Vec<(i64, k8s::Event)>,
    cursor: usize,
    nodes: Vec<k8s::Node>,
    listed: bool,
    changes: std::vec::IntoIter<NodeChange>,
    next_change: Option<NodeChange>,
    pods: Vec<k8s::Pod>,
}

impl ReplaySource {
    /// Prepares a scenario for replay (takes its data).
    pub fn new(s: Scenario) -> Self {
        // An event without any usable timestamp is delivered at once rather
        // than dropped.
        let events = s
            .events
            .into_iter()
            .map(|e| {
                let t = e
                    .last_seen()
                    .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                    .map_or(i64::MIN, |t| t.0);
                (t, e)
            })
            .collect();
        ReplaySource {
            tsdb: Tsdb::new(s.metrics),
            events,
            cursor: 0,
            nodes: s.nodes,
            listed: false,
            changes: s.node_changes.into_iter(),
            next_change: None,
            pods: s.pods,
        }
    }

    /// Applies the node changes due by `at`; true if any was.
    fn apply_node_changes(&mut self, at: Timestamp) -> bool {
        let mut changed = false;
        loop {
            let Some(c) = self.next_change.take().or_else(|| self.changes.next()) else {
                return changed;
            };
            if c.at > at {
                self.next_change = Some(c);
                return changed;
            }
            changed = true;
            let name = &c.object.metadata.name;
            let pos = self.nodes.iter().position(|n| &n.metadata.name == name);
            match (c.kind.as_str(), pos) {
                ("DELETED", Some(i)) => {
                    self.nodes.remove(i);
                }
                ("DELETED", None) => {}
                (_, Some(i)) => self.nodes[i] = c.object,
                (_, None) => self.nodes.push(c.object),
            }
        }
    }
}

impl MetricSource for Tsdb {
    async fn metrics(&mut self, at: Timestamp, catalog: &Catalog) -> Vec<Option<SignalResult>> {
        catalog
            .signals
            .iter()
            .map(|s| s.metric.as_ref().map(|q| Ok(self.eval(q, at))))
            .collect()
    }
}

impl Source for ReplaySource {
    async fn observe(&mut self, at: Timestamp, catalog: &Catalog) -> Observation {
        let metrics = self.tsdb.metrics(at, catalog).await;
        let first = !std::mem::replace(&mut self.listed, true);
        let changed = self.apply_node_changes(at) || first;
        let start = self.cursor;
        while self.cursor < self.events.len() && self.events[self.cursor].0 <= at.0 {
            self.cursor += 1;
        }
        Observation {
            at,
            metrics,
            events: self.events[start..self.cursor]
                .iter()
                .map(|(_, e)| e.clone())
                .collect(),
            events_ok: true,
            nodes: changed.then(|| self.nodes.clone()),
            pods: std::mem::take(&mut self.pods),
            // A scenario's pods are all bound from the start; none leave.
            pods_gone: Vec::new(),
        }
    }
}
