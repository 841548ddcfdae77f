//! `autoscaler-and-kubelet` (benign): two routine disruptions at once.
//! Load climbs from 09:15 (a busy morning), the cluster autoscaler adds
//! three nodes (09:30, 09:31, 09:34), each with the usual start-up noise
//! (NotReady until its CNI plugin is up, sandboxes failing with
//! `cni plugin not initialized`, probes failing while pods start), and
//! meanwhile a kubelet configuration change restarts the kubelet on three
//! existing nodes (09:32, 09:36, 09:41; one short NotReady each, a missed
//! scrape, the kubelet's start-up events). Nothing is sick: nothing may
//! be alerted or cordoned, and no cluster alert either.

use super::{at, kubelet_restart, nodes_joining, small_world};
use crate::scenario::Scenario;

/// Scenario name.
pub const NAME: &str = "autoscaler-and-kubelet";
/// One-line description.
pub const DESCRIPTION: &str = "Benign: the autoscaler adds 3 nodes to 12 (09:30-09:34) while 3 existing nodes restart their kubelet (09:32-09:41)";
const SEED: u64 = 0xa5ca_1e0b;
/// When the new nodes join (they get indices 12..15).
const JOINS: [(i64, i64); 3] = [(9, 30), (9, 31), (9, 34)];
/// Existing nodes whose kubelet restarts, and when.
const RESTARTS: [(usize, (i64, i64)); 3] = [(2, (9, 32)), (6, (9, 36)), (10, (9, 41))];

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    // The morning's load that makes the autoscaler scale up.
    let (busy, calm) = (at(9, 15), at(11, 0));
    let mut load = std::mem::take(&mut w.load);
    w.span(&mut load, busy, calm, 1.35);
    w.load = load;
    let mut r = w.rng.child("join");
    for (k, (h, m)) in JOINS.into_iter().enumerate() {
        let t = at(h, m);
        let n = w.add_node(12 + k, t);
        nodes_joining::join(&mut w, n, t, &mut r);
    }
    for (n, (h, m)) in RESTARTS {
        kubelet_restart::restart(&mut w, n, at(h, m));
    }
    w.finish(super::truth(vec![], vec![]))
}
