//! Common cause: when many nodes trip the same signal at once, the cause is
//! shared (an overloaded hub, a dependency, a rollout), not many sick nodes.
//! Such a signal stops counting towards node scores, raises one cluster-level
//! alert, and the governor cordons nothing for it.

use serde::Deserialize;

/// When a signal counts as tripped cluster-wide.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CommonCauseSettings {
    /// Fraction of nodes with data that must trip the signal.
    pub min_fraction: f64,
    /// And at least this many nodes.
    pub min_nodes: usize,
}

impl Default for CommonCauseSettings {
    fn default() -> Self {
        CommonCauseSettings {
            min_fraction: 0.3,
            min_nodes: 3,
        }
    }
}

/// Whether `tripped` of `of` nodes tripping one signal is a common cause.
pub fn common_cause(tripped: usize, of: usize, s: &CommonCauseSettings) -> bool {
    of > 0 && tripped >= s.min_nodes && (tripped as f64) >= s.min_fraction * of as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_nodes_at_once_is_common_cause() {
        let s = CommonCauseSettings::default();
        assert!(common_cause(8, 8, &s));
        assert!(common_cause(3, 8, &s), "3/8 = 37.5% ≥ 30%");
        assert!(!common_cause(2, 8, &s), "two sick nodes are two sick nodes");
        assert!(!common_cause(1, 1, &s), "needs at least min_nodes");
        assert!(!common_cause(30, 200, &s), "15% of a big cluster");
        assert!(common_cause(60, 200, &s));
        assert!(!common_cause(0, 0, &s));
    }
}
