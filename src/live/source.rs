//! [`LiveSource`]: the live cluster behind the [`Source`] trait. Events,
//! nodes and pods come from the watchers ([`super::watch`]); metric signals
//! from any [`MetricSource`] (the Prometheus collector in production, the
//! embedded evaluator in tests, [`NoMetrics`] when none is configured).

use super::expected::Expectations;
use super::watch::{self, Kind, Shared, WatchStats};
use super::LiveError;
use crate::catalog::Catalog;
use crate::collect::{MetricSource, Observation, SignalResult, Source, SourceError};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Metric signals when no metric source is configured: every metric signal
/// is unknown, so actions on every node are held (never decided on no data).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMetrics;

impl MetricSource for NoMetrics {
    async fn metrics(&mut self, _at: Timestamp, catalog: &Catalog) -> Vec<Option<SignalResult>> {
        catalog
            .signals
            .iter()
            .map(|s| {
                s.metric.as_ref().map(|_| {
                    Err(SourceError::Unreachable(
                        "no Prometheus configured".to_string(),
                    ))
                })
            })
            .collect()
    }
}

/// Watch-fed events, nodes and pods plus metrics from `M`.
pub struct LiveSource<M: MetricSource> {
    shared: Arc<Shared>,
    metrics: M,
    tasks: Vec<JoinHandle<()>>,
    quiet: Duration,
    first: bool,
}

impl<M: MetricSource> LiveSource<M> {
    /// Starts the watchers on `client`. `backoff_max` bounds the wait
    /// between attempts of a failing watch.
    pub fn start(client: ::kube::Client, metrics: M, backoff_max: Duration) -> Self {
        let shared = Arc::new(Shared::default());
        let tasks = watch::spawn_all(client, shared.clone(), backoff_max);
        LiveSource {
            shared,
            metrics,
            tasks,
            // A failing watcher errs again after at most `backoff_max`; quiet
            // for longer than that means it is watching again.
            quiet: backoff_max + Duration::from_secs(2),
            first: true,
        }
    }

    /// Waits until events, nodes and pods have each been listed once.
    pub async fn wait_synced(&self, timeout: Duration) -> Result<(), LiveError> {
        let all = |i: &watch::Inbox| i.stats.iter().all(|s| s.synced);
        if self.shared.wait_for(timeout, all).await {
            Ok(())
        } else {
            Err(LiveError::SyncTimeout(timeout))
        }
    }

    /// Waits until the event watcher has delivered the object with
    /// resourceVersion `rv` (or later). For tests that release events at
    /// simulated time and must not tick before they arrived.
    pub async fn wait_for_events(&self, rv: u64, timeout: Duration) -> bool {
        self.shared
            .wait_for(timeout, |i| i.stats[Kind::Events as usize].rv >= rv)
            .await
    }

    /// Per-kind watcher health: events, nodes, pods.
    pub fn stats(&self) -> [WatchStats; 3] {
        self.shared.lock().stats.clone()
    }

    /// Events pending, nodes known, pods known.
    pub fn sizes(&self) -> (usize, usize, usize) {
        self.shared.lock().sizes()
    }

    /// Whether the event stream is believed healthy now.
    pub fn events_ok(&self) -> bool {
        self.shared.lock().stats[Kind::Events as usize].healthy(self.quiet)
    }

    /// The inbox, shared with the watchers.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// What nodewatch expects nodes' `unschedulable` to be after its
    /// writes, for the cordoner to record them in (the inbox reads them).
    pub fn expectations(&self) -> Expectations {
        self.shared.lock().expected.clone()
    }

    /// The metric source.
    pub fn metrics(&self) -> &M {
        &self.metrics
    }

    /// The metric source.
    pub fn metrics_mut(&mut self) -> &mut M {
        &mut self.metrics
    }

    /// Stops the watchers.
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl<M: MetricSource> Drop for LiveSource<M> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<M: MetricSource> Source for LiveSource<M> {
    async fn observe(&mut self, at: Timestamp, catalog: &Catalog) -> Observation {
        let metrics = self.metrics.metrics(at, catalog).await;
        let events_ok = self.events_ok();
        let d = self.shared.lock().drain(self.first, events_ok);
        self.first = false;
        Observation {
            at,
            metrics,
            events: d.events,
            events_ok,
            nodes: d.nodes,
            pods: d.pods,
            pods_gone: d.pods_gone,
        }
    }
}
