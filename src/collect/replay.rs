//! The replay source: serves a scenario as if it were live. Metric signals
//! are evaluated by the embedded evaluator at each tick; events are delivered
//! in file order once their latest occurrence is due; nodes and pods are
//! listed on the first tick, as a watch's initial list would, and the
//! node list is sent again whenever a change of `nodes.jsonl` comes due
//! (a taint, a cordon, a deletion), as a watch delivers it.
//!
//! A scenario opened from a directory is streamed ([`feed`]): metric
//! samples are read a little ahead of the tick and dropped once no window
//! can reach them, and events are read as they come due, so memory follows
//! the cluster's width, not the scenario's length.

mod feed;

use super::tsdb::Tsdb;
use super::{MetricSource, Observation, SignalResult, Source};
use crate::catalog::Catalog;
use crate::k8s;
use crate::scenario::{NodeChange, Scenario, ScenarioError, Streamed};
use crate::time::Timestamp;
use feed::Feed;
use std::sync::{Arc, Mutex, PoisonError};

pub use feed::READ_AHEAD;

/// Where a replay's failure (a streamed file that changed under it) is
/// kept for the caller, who can stop the replay on it.
pub type Failure = Arc<Mutex<Option<ScenarioError>>>;

/// A scenario behind the [`Source`] trait.
pub struct ReplaySource {
    tsdb: Tsdb,
    feed: Option<Feed>,
    events: Events,
    nodes: Vec<k8s::Node>,
    listed: bool,
    changes: std::vec::IntoIter<NodeChange>,
    next_change: Option<NodeChange>,
    pods: Vec<k8s::Pod>,
    failure: Failure,
}

/// Events in memory with a cursor, or read from the file as they come due.
enum Events {
    Memory(Vec<(i64, k8s::Event)>, usize),
    Stream(Box<crate::scenario::EventStream>),
}

impl ReplaySource {
    /// Prepares a scenario in memory for replay (takes its data).
    pub fn new(s: Scenario) -> Self {
        Self::streaming(Streamed::from(s))
    }

    /// Prepares a scenario for replay, reading what is streamed as the
    /// replay reaches its time.
    pub fn streaming(s: Streamed) -> Self {
        let Streamed {
            scenario: s,
            metrics,
            events,
        } = s;
        let (tsdb, feed) = match metrics.map(Feed::new) {
            Some(Ok((tsdb, feed))) => (tsdb, Some(feed)),
            Some(Err(whole)) => (whole, None),
            None => (Tsdb::new(s.metrics), None),
        };
        let events = match events {
            Some(stream) => Events::Stream(Box::new(stream)),
            None => Events::Memory(
                s.events
                    .into_iter()
                    .map(|e| (crate::scenario::delivery_time(&e), e))
                    .collect(),
                0,
            ),
        };
        ReplaySource {
            tsdb,
            feed,
            events,
            nodes: s.nodes,
            listed: false,
            changes: s.node_changes.into_iter(),
            next_change: None,
            pods: s.pods,
            failure: Failure::default(),
        }
    }

    /// Where a failure of a streamed file is reported; the replay then
    /// delivers nothing more from that file.
    pub fn failure(&self) -> Failure {
        Arc::clone(&self.failure)
    }

    /// Metric samples held in memory now (what the bound is about).
    pub fn samples_held(&self) -> usize {
        self.tsdb.samples_held()
    }

    fn fail(&self, e: ScenarioError) {
        let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        f.get_or_insert(e);
    }

    /// The events due by `at`, in file order.
    fn due_events(&mut self, at: Timestamp) -> Vec<k8s::Event> {
        match &mut self.events {
            Events::Memory(list, cursor) => {
                let start = *cursor;
                while *cursor < list.len() && list[*cursor].0 <= at.0 {
                    *cursor += 1;
                }
                list[start..*cursor]
                    .iter()
                    .map(|(_, e)| e.clone())
                    .collect()
            }
            Events::Stream(stream) => {
                let mut due = Vec::new();
                loop {
                    match stream.next_due(at) {
                        Ok(Some(e)) => due.push(e),
                        Ok(None) => break,
                        Err(e) => {
                            self.events = Events::Memory(Vec::new(), 0);
                            self.fail(e);
                            break;
                        }
                    }
                }
                due
            }
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
        if let Some(feed) = &mut self.feed {
            if let Err(e) = feed.advance(&mut self.tsdb, at, catalog) {
                self.feed = None;
                self.fail(e);
            }
        }
        let metrics = self.tsdb.metrics(at, catalog).await;
        let first = !std::mem::replace(&mut self.listed, true);
        let changed = self.apply_node_changes(at) || first;
        Observation {
            at,
            metrics,
            events: self.due_events(at),
            events_ok: true,
            nodes: changed.then(|| self.nodes.clone()),
            pods: std::mem::take(&mut self.pods),
            // A scenario's pods are all bound from the start; none leave.
            pods_gone: Vec::new(),
        }
    }
}
