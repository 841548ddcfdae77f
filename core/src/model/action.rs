//! Cordon actions as they cross stages: what the engine asks for
//! ([`CordonRequest`]), the nodes as the governor sees them ([`NodeFacts`]),
//! and what happened ([`ActionRecord`] of an [`ActionKind`]).

use crate::time::Timestamp;
use serde::Serialize;
use std::fmt;

/// What nodewatch did (or would have done) to a node. Serialized as the
/// lowercase word (`cordon`, `uncordon`, `refused`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// nodewatch cordoned the node.
    #[default]
    Cordon,
    /// nodewatch uncordoned a node it had cordoned.
    Uncordon,
    /// A cordon the rules asked for that the governor refused.
    Refused,
}

impl ActionKind {
    /// Every kind, in a fixed order (for zero-initialised counters and
    /// filters).
    pub const ALL: [ActionKind; 3] = [
        ActionKind::Cordon,
        ActionKind::Uncordon,
        ActionKind::Refused,
    ];

    /// The lowercase word used in JSON, metrics labels and config.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Cordon => "cordon",
            ActionKind::Uncordon => "uncordon",
            ActionKind::Refused => "refused",
        }
    }

    /// The kind named by `s`, if any.
    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cordon, uncordon or refusal.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ActionRecord {
    /// When.
    pub at: Timestamp,
    /// Node.
    pub node: String,
    /// What happened.
    pub kind: ActionKind,
    /// Rule that asked.
    pub rule: String,
    /// Why (for refusals: the governor's reason).
    pub reason: String,
    /// Node score at the time.
    pub score: f64,
}

/// A cordon nodewatch wants.
#[derive(Clone, Debug)]
pub struct CordonRequest {
    /// Node.
    pub node: String,
    /// Rule asking for it.
    pub rule: String,
    /// Node score.
    pub score: f64,
    /// Explanation of the score.
    pub explanation: String,
    /// All of the node's signals have fresh data.
    pub fresh: bool,
    /// A drain may follow the cordon (when draining is on); the node's
    /// pool policy may say no (`mode: cordon`).
    pub drain: bool,
}

/// A node as the governor sees it.
#[derive(Clone, Debug, Default)]
pub struct NodeFacts {
    /// Name.
    pub name: String,
    /// Zone label.
    pub zone: String,
    /// Pool label.
    pub pool: String,
    /// Unschedulable (by anyone).
    pub unschedulable: bool,
    /// Cordoned by nodewatch.
    pub cordoned_by_us: bool,
    /// Score below the unhealthy threshold.
    pub healthy: bool,
    /// Opted out of actions (`nodewatch.io/exclude: "true"`).
    pub excluded: bool,
    /// Why the node is held (expected disruption: autoscaler, termination
    /// notice, someone else's cordon, warm-up), if it is.
    pub held: Option<String>,
    /// Held because it is leaving (not capacity), not because it is new.
    pub leaving: bool,
    /// Why its pool counts as being upgraded, if it does.
    pub upgrade: Option<String>,
    /// The node labels pool policies select on (only those keys).
    pub labels: Vec<(String, String)>,
}
