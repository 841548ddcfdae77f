//! Per-pool rule thresholds and hub selectors, inside the core. The
//! governor's pool policies (`governor.pools`) are handed in as
//! [`PoolRules`]: every node belongs to the first policy whose selector
//! matches it (else to no policy), exactly as the governor counts its
//! limits. A node rule is judged on a node with its policy's thresholds;
//! a workload rule on a hub pod with the thresholds of the policy of the
//! node the pod runs on. Which pods are a hub is decided by the same
//! scope: a pod on a node of a policy with its own `hub` selector is a
//! hub if that selector matches it (the catalog's copy of each hub signal
//! for that policy); any other pod if the catalog's own matchers do.

use super::Engine;
use crate::catalog::{Catalog, Condition, Matcher, Thresholds};
use crate::model::Selector;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One pool policy as the core needs it.
#[derive(Clone, Debug, Default)]
pub struct PoolRules {
    /// The policy's name.
    pub name: String,
    /// Which nodes it covers.
    pub selector: Selector,
    /// Its own hub selector (empty: the catalog's).
    pub hub: Vec<Matcher>,
    /// Its own thresholds, by rule name.
    pub thresholds: BTreeMap<String, Thresholds>,
}

/// The policies and each one's conditions, `[policy][rule]`.
#[derive(Default)]
pub(super) struct Pools {
    rules: Vec<PoolRules>,
    when: Vec<Vec<Condition>>,
}

impl Engine {
    /// This (fresh) engine with the pool policies in force: its catalog
    /// gains a copy of every hub signal per policy with its own `hub`, and
    /// rules take each policy's thresholds on its nodes. Without policies
    /// the engine is unchanged.
    pub fn with_pools(self, pools: Vec<PoolRules>) -> Engine {
        if pools.is_empty() {
            return self;
        }
        let hubs: Vec<(usize, Vec<Matcher>)> = pools
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.hub.is_empty())
            .map(|(i, p)| (i, p.hub.clone()))
            .collect();
        let mut engine = if hubs.is_empty() {
            self
        } else {
            let catalog: Catalog = self.catalog.with_hubs(&hubs);
            let mut e = Engine::new(Arc::new(catalog), self.settings.clone());
            e.kept_labels = self.kept_labels;
            e
        };
        let when = pools
            .iter()
            .map(|p| {
                engine
                    .catalog
                    .rules
                    .iter()
                    .map(|r| match p.thresholds.get(&r.alert) {
                        Some(t) => r.when.with(t),
                        None => r.when.clone(),
                    })
                    .collect()
            })
            .collect();
        engine.pools = Pools { rules: pools, when };
        engine
    }

    /// The policy node `i` belongs to (first match), if any.
    pub(super) fn scope_of(&self, i: u32) -> Option<usize> {
        if self.pools.rules.is_empty() {
            return None;
        }
        let e = self.nodes.entry(i);
        self.pools
            .rules
            .iter()
            .position(|p| p.selector.matches_parts(&e.pool, &e.labels))
    }

    /// Rule `r`'s condition in `scope`.
    pub(super) fn when(&self, r: usize, scope: Option<usize>) -> &Condition {
        match scope {
            Some(p) => &self.pools.when[p][r],
            None => &self.catalog.rules[r].when,
        }
    }

    /// For a subject of workload signal `s` (a copy or the file's own):
    /// whether the signal decides that this pod is a hub (see the module
    /// header), and the policy whose thresholds apply.
    pub(super) fn owner(&self, s: usize, subject: &str) -> (bool, Option<usize>) {
        let label = |w: &super::Workload, k: &str| {
            w.labels
                .iter()
                .find(|(l, _)| l == k)
                .map(|(_, v)| v.clone())
        };
        let scope = self.workloads[s]
            .get(subject)
            .and_then(|w| {
                self.events
                    .node_of_pod(&label(w, "namespace")?, &label(w, "pod")?)
            })
            .and_then(|i| self.scope_of(i));
        let copy_for = self.catalog.signals[s].variant.as_ref().map(|v| v.pool);
        let own_hub = scope.filter(|&p| !self.pools.rules[p].hub.is_empty());
        let owned = match copy_for {
            // A policy's copy judges the pods on the policy's nodes only.
            Some(p) => own_hub == Some(p),
            // The file's signal judges every pod no policy's hub claims
            // (also the pods whose node is not known).
            None => own_hub.is_none() || !self.catalog.signals[s].hub,
        };
        (owned, scope)
    }
}
