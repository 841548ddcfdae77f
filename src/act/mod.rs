//! Act: what nodewatch does about its decisions. Notifiers and the cordoner
//! sit behind small traits; the replay implementations record in memory,
//! live ones (Alertmanager, webhooks, email, the Kubernetes API) plug in
//! behind the same traits. Every cordon passes the [`governor`], which
//! decides from the [`ledger`] of past actions.

pub mod governor;
pub mod ledger;
pub mod sinks;

pub use crate::model::{CordonRequest, NodeFacts, Notification};
pub use governor::{
    Governor, GovernorSettings, HoldSettings, Limit, Mode, PoolPolicy, Refusal, Selector,
    WindowSettings,
};
pub use ledger::Ledger;

use crate::model::ActionRecord;
use crate::state::SinkStats;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// Delivers alert notifications.
pub trait Notifier {
    /// Hands a notification over; must not block scoring (live sinks queue).
    fn notify(&mut self, n: Notification);

    /// Hands over a cordon, uncordon or refusal, for notifiers that report
    /// actions (email, Grafana annotations). Must not block either.
    fn record_action(&mut self, _action: &ActionRecord) {}

    /// Delivery counters per sink, for the snapshot (none by default).
    fn sink_stats(&self) -> BTreeMap<String, SinkStats> {
        BTreeMap::new()
    }
}

/// Cordons nodes.
#[allow(async_fn_in_trait)]
pub trait Cordoner {
    /// Marks `node` unschedulable, recording why. Errors mean it did not happen.
    async fn cordon(
        &mut self,
        node: &str,
        req: &CordonRequest,
        at: Timestamp,
    ) -> Result<(), ActError>;
    /// Makes `node` schedulable again.
    async fn uncordon(&mut self, node: &str, at: Timestamp) -> Result<(), ActError>;

    /// What a cordon of `node` would also do beyond the cordon (the pods a
    /// drain would evict), for dry-run reports; `None` when nothing.
    async fn would_also(&mut self, _node: &str) -> Option<String> {
        None
    }
}

/// An action that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ActError(pub String);

/// A notifier that keeps everything it is given (replay, tests).
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    /// Notifications, in order.
    pub sent: Vec<Notification>,
}

impl Notifier for RecordingNotifier {
    fn notify(&mut self, n: Notification) {
        self.sent.push(n);
    }
}

/// A cordoner that only records (replay).
#[derive(Debug, Default)]
pub struct InMemoryCordoner {
    /// `(node, at, rule)` of each cordon.
    pub cordoned: Vec<(String, Timestamp, String)>,
    /// `(node, at)` of each uncordon.
    pub uncordoned: Vec<(String, Timestamp)>,
}

impl Cordoner for InMemoryCordoner {
    async fn cordon(
        &mut self,
        node: &str,
        req: &CordonRequest,
        at: Timestamp,
    ) -> Result<(), ActError> {
        self.cordoned.push((node.to_string(), at, req.rule.clone()));
        Ok(())
    }

    async fn uncordon(&mut self, node: &str, at: Timestamp) -> Result<(), ActError> {
        self.uncordoned.push((node.to_string(), at));
        Ok(())
    }
}
