//! Common cause: when many nodes trip the same signal at once, the cause is
//! shared (an overloaded hub, a dependency, a rollout), not many sick nodes.
//! Such a signal stops counting towards node scores, raises one cluster-level
//! alert, and the governor cordons nothing for it.
//!
//! The same holds by topology ([`domain_cause`]): a minority of the cluster
//! tripping together is still one incident when those nodes are most of one
//! zone or pool (a zone's network fabric, a pool's bad image) — the domain
//! is named, its nodes are not blamed one by one.

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

/// Share of a topology domain's nodes that must trip together for the
/// domain to be the common cause ("most of the zone"): a domain of 4 needs
/// 3, of 10 needs 6. Two sick nodes that happen to share a zone are still
/// two sick nodes (`min_nodes` holds too).
pub const DOMAIN_FRACTION: f64 = 0.6;

/// A topology domain most of whose nodes trip together.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainCause {
    /// The label that defines the domain (`topology.kubernetes.io/zone`,
    /// the pool label).
    pub label: String,
    /// Its value.
    pub value: String,
    /// Nodes of the domain tripping.
    pub tripped: usize,
    /// Nodes of the domain with data.
    pub of: usize,
}

/// The domain (if any) that explains the tripping nodes: `tripped` holds,
/// per tripping node, its value of each domain label (`""`: unlabelled);
/// `sizes[k]` counts the nodes (with data) per value of label `labels[k]`.
/// A domain qualifies when at least `min_nodes` of its nodes and
/// [`DOMAIN_FRACTION`] of them trip, and it is not the whole cluster (that
/// is the cluster-wide rule's case). The largest qualifying domain wins.
pub fn domain_cause(
    labels: &[&str],
    tripped: &[Vec<&str>],
    sizes: &[std::collections::BTreeMap<&str, usize>],
    total: usize,
    s: &CommonCauseSettings,
) -> Option<DomainCause> {
    let mut best: Option<DomainCause> = None;
    for (k, label) in labels.iter().enumerate() {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for t in tripped {
            if let Some(v) = t.get(k).filter(|v| !v.is_empty()) {
                *counts.entry(v).or_default() += 1;
            }
        }
        for (v, n) in counts {
            let of = sizes.get(k).and_then(|m| m.get(v)).copied().unwrap_or(0);
            let qualifies = of > 0
                && of < total
                && n >= s.min_nodes
                && (n as f64) >= DOMAIN_FRACTION * of as f64;
            if qualifies && best.as_ref().is_none_or(|b| n > b.tripped) {
                best = Some(DomainCause {
                    label: label.to_string(),
                    value: v.to_string(),
                    tripped: n,
                    of,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const ZONE: &str = "topology.kubernetes.io/zone";
    const POOL: &str = "pool";

    fn sizes(v: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
        v.iter().copied().collect()
    }

    #[test]
    fn most_of_a_zone_tripping_is_the_zone() {
        let s = CommonCauseSettings::default();
        let labels = [ZONE, POOL];
        let zones = sizes(&[("b", 10), ("c", 4), ("d", 10)]);
        let pools = sizes(&[("default", 24)]);
        let all = [zones.clone(), pools.clone()];
        let c = vec!["c", "default"];
        // 4 of 24 nodes: not cluster-wide, but all of zone c.
        assert!(!common_cause(4, 24, &s));
        let d = domain_cause(&labels, &vec![c.clone(); 4], &all, 24, &s).unwrap();
        assert_eq!((d.label.as_str(), d.value.as_str()), (ZONE, "c"));
        assert_eq!((d.tripped, d.of), (4, 4));
        // 3 of 4 is most of it; 2 of 4 are two sick nodes.
        assert!(domain_cause(&labels, &vec![c.clone(); 3], &all, 24, &s).is_some());
        assert!(domain_cause(&labels, &vec![c.clone(); 2], &all, 24, &s).is_none());
        // 3 nodes of a 10-node zone are three nodes, not the zone.
        let b = vec!["b", "default"];
        assert!(domain_cause(&labels, &vec![b; 3], &all, 24, &s).is_none());
        // A domain that is the whole cluster is the cluster-wide rule's.
        let one_pool = [zones, sizes(&[("default", 4)])];
        let d = domain_cause(&labels, &vec![c; 4], &one_pool, 4, &s);
        assert!(d.is_none(), "{d:?}");
    }

    #[test]
    fn a_pool_can_be_the_domain_and_unlabelled_nodes_are_none() {
        let s = CommonCauseSettings::default();
        let labels = [ZONE, POOL];
        let all = [
            sizes(&[("b", 8), ("c", 8), ("d", 8)]),
            sizes(&[("default", 20), ("gpu", 4)]),
        ];
        // The gpu pool's 4 nodes spread over three zones.
        let tripped = vec![
            vec!["b", "gpu"],
            vec!["c", "gpu"],
            vec!["d", "gpu"],
            vec!["b", "gpu"],
        ];
        let d = domain_cause(&labels, &tripped, &all, 24, &s).unwrap();
        assert_eq!(
            (d.label.as_str(), d.value.as_str(), d.tripped),
            (POOL, "gpu", 4)
        );
        let bare = vec![vec!["", ""]; 4];
        assert!(domain_cause(&labels, &bare, &all, 24, &s).is_none());
    }

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
