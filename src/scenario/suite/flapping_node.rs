//! `flapping-node`: from 09:10 to 10:10 one node's kubelet keeps missing
//! its PLEG deadline, so the node goes NotReady for a minute or so every
//! few minutes and comes back: never down long enough for a `for: 2m`
//! on Ready alone, but plainly sick.

use super::{at, small_world, story};
use crate::scenario::{FaultyNode, Scenario};

/// Scenario name.
pub const NAME: &str = "flapping-node";
/// One-line description.
pub const DESCRIPTION: &str = "One of 12 nodes flaps NotReady/Ready every few minutes 09:10-10:10";
const SEED: u64 = 0xf1a9_9e00;
/// The flapping node (index).
const NODE: usize = 9;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let (from, to) = (at(9, 10), at(10, 10));
    let mut r = w.rng.child("flap");
    story::flapping(&mut w, NODE, from, to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[NODE].name.clone(),
            from,
            to,
            kind: "Ready condition flapping".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}
