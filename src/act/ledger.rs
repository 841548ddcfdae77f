//! The action ledger: the one place that remembers what nodewatch did and
//! what humans did about it, so the governor decides from a single record
//! instead of state scattered over the pipeline and the governor. It holds
//! when nodewatch last cordoned (the rate limit), when it uncordoned each
//! node (the cooldown), which nodes a human uncordoned after nodewatch
//! cordoned them (the override, until healthy again), and the last refusal
//! reported per node (so a refusal streak is reported once, not each tick).
//! Pure: plain values at the time given, no kube or HTTP.

use crate::time::{Duration, Timestamp};
use std::collections::{HashMap, HashSet};

/// Who did what, and what follows from it. Fed by the pipeline with the
/// cordoner's results and the node lists' human uncordons; read by the
/// governor.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
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
    /// Records a cordon of `node` that really happened at `at`: it counts
    /// for the rate limit and ends the node's refusal streak.
    pub fn record_cordon(&mut self, node: &str, at: Timestamp) {
        self.last_cordon = self.last_cordon.max(Some(at));
        self.last_refusal.remove(node);
    }

    /// Records a cordon made at `at` by an earlier run or another replica
    /// (found in a node's annotations): it counts for the rate limit.
    pub fn adopt_cordon(&mut self, at: Timestamp) {
        // The newest cordon counts, whichever way it was learnt (a clock
        // skewed annotation cannot move the rate limit back).
        self.last_cordon = self.last_cordon.max(Some(at));
    }

    /// When nodewatch last cordoned a node, if ever.
    pub fn last_cordon(&self) -> Option<Timestamp> {
        self.last_cordon
    }

    /// Records an uncordon of `node` nodewatch did at `at` (its cooldown
    /// starts).
    pub fn record_uncordon(&mut self, node: &str, at: Timestamp) {
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
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000);

    #[test]
    fn cordons_and_uncordons_are_remembered() {
        let mut l = Ledger::default();
        assert_eq!(l.last_cordon(), None);
        l.record_cordon("n0", T0);
        assert_eq!(l.last_cordon(), Some(T0));
        let later = T0.add(Duration::mins(3));
        l.adopt_cordon(later);
        assert_eq!(l.last_cordon(), Some(later));
        l.adopt_cordon(T0);
        assert_eq!(
            l.last_cordon(),
            Some(later),
            "an older cordon does not move it back"
        );
        assert_eq!(l.uncordoned_at("n0"), None);
        l.record_uncordon("n0", later);
        assert_eq!(l.uncordoned_at("n0"), Some(later));
        assert_eq!(l.uncordoned_at("n1"), None);
    }

    #[test]
    fn a_human_override_ends_after_a_healthy_period_without_a_break() {
        let mut l = Ledger::default();
        let p = Duration::mins(10);
        l.observe_health("n0", true, T0, p);
        assert!(!l.is_overridden("n0"), "no override, nothing tracked");
        l.note_human_uncordon("n0");
        assert_eq!(l.overridden(), vec!["n0".to_string()]);
        l.observe_health("n0", true, T0, p);
        l.observe_health("n0", false, T0.add(Duration::mins(5)), p);
        l.observe_health("n0", true, T0.add(Duration::mins(6)), p);
        l.observe_health("n0", true, T0.add(Duration::mins(15)), p);
        assert!(l.is_overridden("n0"), "healthy 9 minutes since the break");
        l.observe_health("n0", true, T0.add(Duration::mins(16)), p);
        assert!(!l.is_overridden("n0"));
        assert!(l.overridden().is_empty());
    }

    #[test]
    fn an_annotated_uncordon_is_seen_once_per_cordon() {
        let mut l = Ledger::default();
        assert!(l.first_sight_of_annotated_uncordon("n0", "2026-01-01T00:00:00Z"));
        assert!(!l.first_sight_of_annotated_uncordon("n0", "2026-01-01T00:00:00Z"));
        assert!(l.first_sight_of_annotated_uncordon("n0", "2026-01-02T00:00:00Z"));
        assert!(l.first_sight_of_annotated_uncordon("n1", "2026-01-01T00:00:00Z"));
    }

    #[test]
    fn a_refusal_streak_is_reported_once_per_reason() {
        let mut l = Ledger::default();
        assert!(l.note_refusal("n0", "rate limit"));
        assert!(!l.note_refusal("n0", "rate limit"), "same streak");
        assert!(l.note_refusal("n0", "cooldown"), "new reason");
        assert!(l.note_refusal("n1", "cooldown"), "per node");
        l.end_refusal_streaks(&["n1".to_string()]);
        assert!(l.note_refusal("n0", "cooldown"), "n0's streak ended");
        assert!(!l.note_refusal("n1", "cooldown"), "n1 still asked for");
        l.record_cordon("n1", T0);
        assert!(l.note_refusal("n1", "cooldown"), "a cordon ends the streak");
    }
}
