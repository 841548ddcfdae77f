//! What travels through a sink's queue: an alert's state (keyed by its
//! fingerprint, so a newer state replaces an older one) or an action record
//! (a cordon, uncordon or refusal, each unique).

use super::fingerprint::Fingerprint;
use crate::model::AlertState;
use crate::state::ActionRecord;
use crate::time::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// It no longer does.
    Resolved,
}

impl AlertStatus {
    /// `firing` or `resolved`, as Alertmanager spells it (the model's word).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => AlertState::Firing.as_str(),
            AlertStatus::Resolved => AlertState::Resolved.as_str(),
        }
    }
}

/// One alert state as the sinks see it. The dispatcher fills in the
/// fingerprint and carries the firing state's start and annotations over to
/// the resolution, so every sink sees one consistent alert.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEvent {
    /// Hash of `labels`.
    pub fingerprint: Fingerprint,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Alert name (`alertname`).
    pub name: String,
    /// `node`, `workload` or `cluster`.
    pub scope: String,
    /// Node name, workload subject or `cluster`.
    pub subject: String,
    /// Labels (alertname, scope, severity, node, ...).
    pub labels: BTreeMap<String, String>,
    /// Annotations (summary, description, explanation).
    pub annotations: BTreeMap<String, String>,
    /// When it started firing.
    pub starts_at: Timestamp,
    /// When it resolved (resolved only).
    pub ends_at: Option<Timestamp>,
}

impl AlertEvent {
    /// The `node` label, the subject of node alerts.
    pub fn node(&self) -> Option<&str> {
        self.labels.get("node").map(String::as_str)
    }
}

/// The identity the queue coalesces by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// An alert: its newest state replaces older ones.
    Alert(Fingerprint),
    /// An action: never replaced (sequence number).
    Action(u64),
}

/// A queued thing to deliver. Shared between sinks, hence the `Arc`s.
#[derive(Clone, Debug)]
pub enum Item {
    /// An alert state.
    Alert(Arc<AlertEvent>),
    /// A cordon, uncordon or refusal, with its sequence number.
    Action(u64, Arc<ActionRecord>),
}

impl Item {
    /// The coalescing key.
    pub fn key(&self) -> Key {
        match self {
            Item::Alert(a) => Key::Alert(a.fingerprint),
            Item::Action(seq, _) => Key::Action(*seq),
        }
    }

    /// A resolution is the last word on an alert; it is the last thing a
    /// full queue gives up.
    pub fn is_resolution(&self) -> bool {
        matches!(self, Item::Alert(a) if a.status == AlertStatus::Resolved)
    }
}
