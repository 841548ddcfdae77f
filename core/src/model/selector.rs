//! Which nodes a pool policy covers (`governor.pools[].selector`): values
//! of the pool label and node labels. A plain value, so the governor
//! (limits, modes) and the core (per-pool rule thresholds and hub
//! selectors) place a node in the same scope with the same code.

use super::NodeFacts;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which nodes a policy covers: all of its parts must match.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Selector {
    /// Values of `engine.pool_label`, any of them (empty: any pool).
    pub pool: Vec<String>,
    /// Node labels that must all have these values.
    pub match_labels: BTreeMap<String, String>,
}

impl Selector {
    /// Whether it selects `node`.
    pub fn matches(&self, node: &NodeFacts) -> bool {
        self.matches_parts(&node.pool, &node.labels)
    }

    /// Whether it selects a node of `pool` with these (kept) labels.
    pub fn matches_parts(&self, pool: &str, labels: &[(String, String)]) -> bool {
        (self.pool.is_empty() || self.pool.iter().any(|p| p == pool))
            && self
                .match_labels
                .iter()
                .all(|(k, v)| labels.iter().any(|(nk, nv)| nk == k && nv == v))
    }

    /// Whether every node `later` selects is selected by this one already
    /// (so a later policy with it would never match).
    pub fn covers(&self, later: &Selector) -> bool {
        let pools = self.pool.is_empty()
            || (!later.pool.is_empty() && later.pool.iter().all(|p| self.pool.contains(p)));
        pools
            && self
                .match_labels
                .iter()
                .all(|(k, v)| later.match_labels.get(k) == Some(v))
    }
}
