//! What nodewatch did to nodes' schedulability, as plain values: the
//! action ledger (`act::ledger`) owns and updates them; the engine reads a
//! copy at the start of each tick (it never changes them), and the pipeline
//! reads the ledger's current values for what happens later in a tick.
//! Living in the model, they let the core see nodewatch's cordons without
//! importing a later stage.

use super::NodeFacts;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// A cordon nodewatch made (or adopted from a node's annotations).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cordoned {
    /// When it was made, if known (an adopted cordon without a readable
    /// time annotation has none).
    pub at: Option<Timestamp>,
    /// Why: the rule that asked for it, or where it was adopted from.
    pub why: String,
}

/// Nodewatch's cordons and the schedulability it wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cordons {
    /// Nodes nodewatch cordoned and nobody uncordoned since.
    pub ours: BTreeMap<String, Cordoned>,
    /// `spec.unschedulable` as nodewatch last wrote it, per node, until a
    /// node list brings that node changed (a replayed list does not show
    /// nodewatch's writes; a live one shows them a moment later).
    pub written: BTreeMap<String, bool>,
}

impl Cordons {
    /// Whether nodewatch cordoned `node` (and nobody uncordoned it since).
    pub fn is_ours(&self, node: &str) -> bool {
        self.ours.contains_key(node)
    }

    /// `node`'s `spec.unschedulable`: as nodewatch wrote it since the node
    /// was last listed changed, else `listed`.
    pub fn unschedulable(&self, node: &str, listed: bool) -> bool {
        self.written.get(node).copied().unwrap_or(listed)
    }

    /// `facts` with each node's cordon state as these values say (cordons
    /// made earlier in the same tick count).
    pub fn refresh(&self, facts: &[NodeFacts]) -> Vec<NodeFacts> {
        facts
            .iter()
            .map(|f| {
                let mut f = f.clone();
                self.refresh_one(&mut f);
                f
            })
            .collect()
    }

    /// One node's facts with its cordon state as these values say.
    pub fn refresh_one(&self, f: &mut NodeFacts) {
        f.unschedulable = self.unschedulable(&f.name, f.unschedulable);
        f.cordoned_by_us = self.is_ours(&f.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_schedulability_overrides_the_listed_one_and_refreshes_facts() {
        let mut c = Cordons::default();
        assert!(!c.unschedulable("n0", false));
        assert!(c.unschedulable("n0", true), "nothing written: as listed");
        c.written.insert("n0".into(), false);
        assert!(!c.unschedulable("n0", true), "nodewatch uncordoned it");
        c.written.insert("n1".into(), true);
        c.ours.insert("n1".into(), Cordoned::default());
        let facts: Vec<NodeFacts> = ["n0", "n1", "n2"]
            .iter()
            .map(|n| NodeFacts {
                name: n.to_string(),
                unschedulable: true,
                cordoned_by_us: true,
                ..Default::default()
            })
            .collect();
        let f = c.refresh(&facts);
        let state: Vec<(bool, bool)> = f
            .iter()
            .map(|f| (f.unschedulable, f.cordoned_by_us))
            .collect();
        assert_eq!(state, [(false, false), (true, true), (true, false)]);
    }
}
