//! Common cause by topology inside a tick: the nodes tripping a signal
//! family, when not many enough to be cluster-wide, may still be most of
//! one zone or pool ([`crate::decide::domain_cause`]); then that domain is
//! the cause, its tripping nodes are not blamed, and the cluster alert
//! names it.

use super::{Engine, LEAVING};
use crate::decide::{domain_cause, DomainCause};
use crate::k8s::ZONE_LABEL;
use std::collections::BTreeMap;

impl Engine {
    /// The domain explaining `tripped` (node indices), with the tripping
    /// nodes inside it. Domains are counted over the nodes that exist and
    /// are not leaving.
    pub(super) fn topology_cause(&self, tripped: &[u32]) -> Option<(DomainCause, Vec<u32>)> {
        if tripped.len() < self.settings.common_cause.min_nodes {
            return None;
        }
        let labels = [ZONE_LABEL, self.settings.pool_label.as_str()];
        let domains = |i: u32| {
            let e = self.nodes.entry(i);
            vec![e.zone.as_str(), e.pool.as_str()]
        };
        let mut sizes = vec![BTreeMap::new(), BTreeMap::new()];
        let mut total = 0;
        for i in self.existing() {
            if self.holds.get(i as usize) == Some(&LEAVING) {
                continue;
            }
            total += 1;
            for (k, v) in domains(i).into_iter().enumerate() {
                *sizes[k].entry(v).or_insert(0usize) += 1;
            }
        }
        let of: Vec<Vec<&str>> = tripped.iter().map(|&i| domains(i)).collect();
        let d = domain_cause(&labels, &of, &sizes, total, &self.settings.common_cause)?;
        let k = usize::from(d.label != ZONE_LABEL);
        let inside = tripped
            .iter()
            .copied()
            .filter(|&i| domains(i)[k] == d.value)
            .collect();
        Some((d, inside))
    }
}

/// The domain in words for explanations and the cluster alert, e.g.
/// `zone europe-west1-c (4 of its 4 nodes)`.
pub(super) fn describe(d: &DomainCause) -> String {
    let what = if d.label == ZONE_LABEL {
        "zone"
    } else {
        "pool"
    };
    format!("{what} {} ({} of its {} nodes)", d.value, d.tripped, d.of)
}
