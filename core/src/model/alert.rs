//! Alerts as the core publishes them: the outward view of one alert, its
//! state, and the state changes handed to notifiers.

use crate::time::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Where an alert is in its life: `pending` → `firing` → `resolved`.
/// Serialized as the lowercase word (Prometheus and Alertmanager use the same).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds, not yet for its `for` duration.
    #[default]
    Pending,
    /// The condition held long enough: notified.
    Firing,
    /// It stopped holding after firing (notifications only).
    Resolved,
}

impl AlertState {
    /// The lowercase word used in JSON, labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An active alert.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct AlertView {
    /// Alert name.
    pub name: String,
    /// `node`, `workload` or `cluster`.
    pub scope: String,
    /// Node name, workload subject, or `cluster`.
    pub subject: String,
    /// Pending or firing (resolved only in a resolved notification).
    pub state: AlertState,
    /// Labels (alertname, scope, severity, node/...).
    pub labels: BTreeMap<String, String>,
    /// Annotations (summary, description, explanation).
    pub annotations: BTreeMap<String, String>,
    /// When the condition started holding.
    pub active_since: Timestamp,
    /// When it fired (firing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<Timestamp>,
}

/// An alert state change to deliver.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The alert as it is now.
    pub alert: AlertView,
    /// Firing or resolved.
    pub status: AlertState,
    /// When it resolved (resolved only).
    pub ends_at: Option<Timestamp>,
}
