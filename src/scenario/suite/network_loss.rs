//! `network-loss`: one node loses pod networking from 09:00 to 09:45
//! under normal load — every readiness probe on it times out, batch pods
//! scheduled onto it cannot get a sandbox, the runtime reports the network
//! not ready — while the other eleven nodes carry on.

use super::{at, small_world, story};
use crate::scenario::{FaultyNode, Scenario};

/// Scenario name.
pub const NAME: &str = "network-loss";
/// One-line description.
pub const DESCRIPTION: &str =
    "One of 12 nodes loses pod networking 09:00-09:45 (probes time out, sandboxes fail)";
const SEED: u64 = 0x0e70_1055;
/// The node that loses networking (index).
const NODE: usize = 4;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let (from, to) = (at(9, 0), at(9, 45));
    let mut r = w.rng.child("network");
    story::network_down(&mut w, NODE, from, to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[NODE].name.clone(),
            from,
            to,
            kind: "lost pod networking".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}
