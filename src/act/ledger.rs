//! The action ledger: the one place that remembers what nodewatch did and
//! what humans did about it, so the governor and the engine decide from a
//! single record instead of state scattered over the stages. It holds
//! which nodes nodewatch cordoned, when and why, and the schedulability it
//! wrote until a node list shows it ([`Cordons`], which the engine reads
//! each tick), when nodewatch last cordoned (the rate limit), when it
//! uncordoned each node (the cooldown), which nodes a human uncordoned
//! after nodewatch cordoned them (the override, until healthy again), and
//! the last refusal reported per node (so a refusal streak is reported
//! once, not each tick). It is fed with the cordoner's results, the node
//! lists and the nodes' annotations. Pure: plain values at the time given,
//! no kube or HTTP.

use crate::model::{Cordoned, Cordons};
use crate::time::{Duration, Timestamp};
use std::collections::{HashMap, HashSet};

/// Why an adopted cordon was made, as far as nodewatch knows.
pub const ADOPTED: &str = "adopted from the node's annotations";

/// Who did what, and what follows from it. Fed by the pipeline with the
/// cordoner's results and the node lists; read by the governor, and by the
/// engine as [`Cordons`].
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// Nodes nodewatch cordoned (when, why) and the schedulability it wrote.
    cordons: Cordons,
    /// When nodewatch last cordoned any node (a real cordon or one adopted
    /// from a node's annotations).
    last_cordon: Option<Timestamp>,
    /// When nodewatch last uncordoned each node (its cooldown start).
    uncordoned_at: HashMap<String, Timestamp>,
    /// Nodes a human uncordoned → since when healthy (None: not yet).
    human_override: HashMap<String, Option<Timestamp>>,
    /// The refusal last reported per node still asked for.
    last_refusal: HashMap<String, String>,
    /// `(node, cordon time)` of annotated schedulable nodes already seen
    /// (a human uncordon is noted once per cordon, not on every list).
    human_seen: HashSet<(String, String)>,
}

impl Ledger {
    /// Records a cordon of `node` that really happened at `at`, asked for
    /// `why` (the rule): the node is nodewatch's and unschedulable, the
    /// cordon counts for the rate limit and ends the node's refusal streak.
    pub fn record_cordon(&mut self, node: &str, at: Timestamp, why: &str) {
        let cordon = Cordoned {
            at: Some(at),
            why: why.to_string(),
        };
        self.cordons.ours.insert(node.to_string(), cordon);
        self.cordons.written.insert(node.to_string(), true);
        self.last_cordon = self.last_cordon.max(Some(at));
        self.last_refusal.remove(node);
    }

    /// Records a cordon of `node` made by an earlier run or another replica
    /// (found in its annotations), at `at` when known: the node is
    /// nodewatch's (a cordon already known keeps its time and reason), and
    /// the cordon counts for the rate limit.
    pub fn adopt_cordon(&mut self, node: &str, at: Option<Timestamp>) {
        if !self.cordons.is_ours(node) {
            let cordon = Cordoned {
                at,
                why: ADOPTED.to_string(),
            };
            self.cordons.ours.insert(node.to_string(), cordon);
            self.cordons.written.insert(node.to_string(), true);
        }
        // The newest cordon counts, whichever way it was learnt (a clock
        // skewed annotation cannot move the rate limit back).
        self.last_cordon = self.last_cordon.max(at);
    }

    /// Whether nodewatch cordoned `node` and nobody uncordoned it since.
    pub fn is_cordoned_by_us(&self, node: &str) -> bool {
        self.cordons.is_ours(node)
    }

    /// nodewatch's cordon of `node` (when, why), if it has one.
    pub fn cordon_of(&self, node: &str) -> Option<&Cordoned> {
        self.cordons.ours.get(node)
    }

    /// nodewatch's cordons and the schedulability it wrote, as the engine
    /// and the governor's facts read them.
    pub fn cordons(&self) -> &Cordons {
        &self.cordons
    }

    /// Takes in a node list's changed nodes, each with its listed
    /// `spec.unschedulable`: what nodewatch wrote is superseded by what the
    /// list shows, and a node nodewatch cordoned that is listed schedulable
    /// was uncordoned by a human (nodewatch's own uncordons are recorded
    /// before), which starts an override. Returns those nodes.
    pub fn observe_listed(&mut self, changed: &[(String, bool)]) -> Vec<String> {
        let mut human = Vec::new();
        for (node, unschedulable) in changed {
            self.cordons.written.remove(node);
            if !unschedulable && self.cordons.ours.remove(node).is_some() {
                self.note_human_uncordon(node);
                human.push(node.clone());
            }
        }
        human
    }

    /// When nodewatch last cordoned a node, if ever.
    pub fn last_cordon(&self) -> Option<Timestamp> {
        self.last_cordon
    }

    /// Records an uncordon of `node` nodewatch did at `at`: the node is
    /// schedulable and no longer nodewatch's, and its cooldown starts.
    pub fn record_uncordon(&mut self, node: &str, at: Timestamp) {
        self.cordons.ours.remove(node);
        self.cordons.written.insert(node.to_string(), false);
        self.uncordoned_at.insert(node.to_string(), at);
    }

    /// When nodewatch last uncordoned `node`, if ever.
    pub fn uncordoned_at(&self, node: &str) -> Option<Timestamp> {
        self.uncordoned_at.get(node).copied()
    }

    /// Records that a human uncordoned `node` after nodewatch cordoned it:
    /// nodewatch leaves it alone until it has been healthy again.
    pub fn note_human_uncordon(&mut self, node: &str) {
        self.human_override.insert(node.to_string(), None);
    }

    /// Whether this is the first sight of `node` schedulable while still
    /// annotated as cordoned by nodewatch at `cordon_at` (the annotation's
    /// text): a human uncordon, to be noted once.
    pub fn first_sight_of_annotated_uncordon(&mut self, node: &str, cordon_at: &str) -> bool {
        self.human_seen
            .insert((node.to_string(), cordon_at.to_string()))
    }

    /// Whether a human override still holds `node`.
    pub fn is_overridden(&self, node: &str) -> bool {
        self.human_override.contains_key(node)
    }

    /// Nodes a human uncordoned that nodewatch is waiting on.
    pub fn overridden(&self) -> Vec<String> {
        self.human_override.keys().cloned().collect()
    }

    /// Tracks the health of an overridden node; the override ends once the
    /// node has been healthy for `period` without a break.
    pub fn observe_health(&mut self, node: &str, healthy: bool, now: Timestamp, period: Duration) {
        let Some(since) = self.human_override.get_mut(node) else {
            return;
        };
        match (healthy, *since) {
            (false, _) => *since = None,
            (true, None) => *since = Some(now),
            (true, Some(t)) if now.since(t) >= period => {
                self.human_override.remove(node);
            }
            _ => {}
        }
    }

    /// Notes that a cordon of `node` was refused for `reason`; true when
    /// this is news (the first refusal of a streak, or a new reason) and
    /// should be reported.
    pub fn note_refusal(&mut self, node: &str, reason: &str) -> bool {
        if self.last_refusal.get(node).map(String::as_str) == Some(reason) {
            return false;
        }
        self.last_refusal
            .insert(node.to_string(), reason.to_string());
        true
    }

    /// Ends the refusal streak of every node not in `requested`: a node
    /// asked for again later is reported afresh.
    pub fn end_refusal_streaks(&mut self, requested: &[String]) {
        self.last_refusal.retain(|n, _| requested.contains(n));
    }
}

#[cfg(test)]
mod tests;
