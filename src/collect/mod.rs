//! Collect: where data comes from. Live (Prometheus + Kubernetes) and replay
//! (a scenario directory) implement the same [`Source`] trait, so the rest of
//! the pipeline cannot tell them apart.

pub mod prometheus;
pub mod replay;
pub mod tsdb;

use crate::catalog::Catalog;
use crate::time::Timestamp;

/// The plain values a source delivers live in the core's model; they are
/// re-exported here, where every source names them.
pub use crate::model::{Observation, SignalResult, SourceError};

/// Evaluates every metric signal of a catalog at one instant: the
/// Prometheus collector live, the embedded evaluator on replay. The result
/// is indexed like `catalog.signals` (`None` for event signals).
#[allow(async_fn_in_trait)]
pub trait MetricSource {
    /// One result per signal.
    async fn metrics(&mut self, at: Timestamp, catalog: &Catalog) -> Vec<Option<SignalResult>>;

    /// Adds this source's own health to the snapshot's stats (`source_up`,
    /// `source_errors` keyed `<source>/<kind>`), so `/metrics` shows it.
    /// Sources without a health of their own add nothing.
    fn report_health(&self, _stats: &mut crate::state::Stats) {}
}

/// A data source for the pipeline.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// Gathers everything known at `at` for the given catalog.
    async fn observe(&mut self, at: Timestamp, catalog: &Catalog) -> Observation;
}
