//! Expected disruption is not sickness. A node the cluster autoscaler is
//! removing, a node under a spot or preemption notice, a node someone else
//! cordoned (a `kubectl drain`, an upgrade) and a node that just joined
//! (no baseline yet, start-up noise) all look unwell for a while and are
//! none of nodewatch's business: such a node is *held*. It is still scored
//! (the status page shows its signals) but no alert starts on it, it is
//! never cordoned, and it does not count as sick for common cause or for
//! the governor's unhealthy fraction. The reason is shown with the node.
//!
//! One rule for replay and live: both feed Node objects (`spec.taints`,
//! `spec.unschedulable`, `status.nodeInfo.kubeletVersion`,
//! `metadata.creationTimestamp`) into the [`super::NodeTable`], which asks
//! this module.

use super::nodes::NodeEntry;
use crate::k8s;
use crate::time::{Duration, Timestamp};
use std::collections::BTreeMap;
use std::fmt;

/// The cluster autoscaler's taint on a node it is deleting (`NoSchedule`,
/// value: the unix time it decided).
pub const AUTOSCALER_TAINT: &str = "ToBeDeletedByClusterAutoscaler";

/// Taints that announce a node's imminent termination: the AWS node
/// termination handler's (spot interruption notice, ASG scale-in,
/// scheduled maintenance), GKE's graceful-shutdown taint on a preempted
/// VM, and Karpenter's on a node it is disrupting (v1 and earlier).
pub const TERMINATION_TAINTS: [&str; 6] = [
    "aws-node-termination-handler/spot-itn",
    "aws-node-termination-handler/asg-lifecycle-termination",
    "aws-node-termination-handler/scheduled-maintenance",
    "cloud.google.com/impending-node-termination",
    "karpenter.sh/disrupted",
    "karpenter.sh/disruption",
];

/// Why a node is held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disruption {
    /// The cluster autoscaler is removing it.
    ScaleDown,
    /// A termination notice; the taint's key.
    Termination(String),
    /// Unschedulable, and not by nodewatch (a drain, an upgrade, a human).
    CordonedByOther,
    /// Joined (or came back with a new kubelet) less than the warm-up ago.
    WarmUp {
        /// When the warm-up ends.
        until: Timestamp,
    },
}

impl Disruption {
    /// Whether the node is on its way out (not capacity for the governor's
    /// last-healthy-node check), as opposed to just arriving.
    pub fn leaving(&self) -> bool {
        !matches!(self, Disruption::WarmUp { .. })
    }
}

impl fmt::Display for Disruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disruption::ScaleDown => write!(
                f,
                "expected disruption: the cluster autoscaler is removing it ({AUTOSCALER_TAINT})"
            ),
            Disruption::Termination(key) => {
                write!(f, "expected disruption: termination notice ({key})")
            }
            Disruption::CordonedByOther => write!(
                f,
                "expected disruption: cordoned by someone else (drain or upgrade)"
            ),
            Disruption::WarmUp { until } => {
                write!(f, "warm-up: joined recently, no baseline until {until}")
            }
        }
    }
}

/// The disruption a node's taints announce, if any (the autoscaler's
/// first: it explains the other taints a scale-down brings).
pub fn from_taints(taints: &[k8s::Taint]) -> Option<Disruption> {
    if taints.iter().any(|t| t.key == AUTOSCALER_TAINT) {
        return Some(Disruption::ScaleDown);
    }
    taints
        .iter()
        .find(|t| TERMINATION_TAINTS.contains(&t.key.as_str()))
        .map(|t| Disruption::Termination(t.key.clone()))
}

/// What holds node `e` at `at`: a taint, someone else's cordon
/// (`cordoned_by_other`: unschedulable and not by nodewatch), or the
/// warm-up after it joined or its kubelet changed version.
pub fn of_entry(
    e: &NodeEntry,
    cordoned_by_other: bool,
    at: Timestamp,
    warm_up: Duration,
) -> Option<Disruption> {
    if let Some(d) = &e.tainted {
        return Some(d.clone());
    }
    if cordoned_by_other {
        return Some(Disruption::CordonedByOther);
    }
    let since = match (e.created, e.restarted) {
        (Some(c), Some(r)) => Some(c.max(r)),
        (c, r) => c.or(r),
    }?;
    let until = since.add(warm_up);
    (since <= at && at < until).then_some(Disruption::WarmUp { until })
}

/// Pools being upgraded, with why: a pool whose nodes report more than one
/// kubelet version while someone else has one of them cordoned. Either
/// alone is not enough (a pool can run mixed versions for weeks; a human
/// cordons one node for many reasons). Input: `(pool, kubelet version,
/// cordoned by someone else)` per existing node.
pub fn upgrading_pools<'a>(
    nodes: impl Iterator<Item = (&'a str, &'a str, bool)>,
) -> BTreeMap<String, String> {
    let mut pools: BTreeMap<&str, (Vec<&str>, usize)> = BTreeMap::new();
    for (pool, version, cordoned) in nodes {
        let p = pools.entry(pool).or_default();
        if !version.is_empty() && !p.0.contains(&version) {
            p.0.push(version);
        }
        p.1 += usize::from(cordoned);
    }
    pools
        .into_iter()
        .filter(|(_, (versions, cordoned))| versions.len() > 1 && *cordoned > 0)
        .map(|(pool, (mut versions, cordoned))| {
            versions.sort_unstable();
            let why = format!(
                "upgrade in progress in pool {pool}: kubelet versions {} side by side, {cordoned} node(s) cordoned by someone else",
                versions.join(" and ")
            );
            (pool.to_string(), why)
        })
        .collect()
}

#[cfg(test)]
mod tests;
