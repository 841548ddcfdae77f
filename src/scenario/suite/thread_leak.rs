//! `thread-leak`: one node's worker container leaks threads — 300 a minute
//! from 08:30 — toward the node's threads-max; near the limit (about
//! 11:50) new containers fail with `fork/exec … resource temporarily
//! unavailable` and the worker with `pthread_create failed`. The other
//! eleven nodes are ordinary.

use super::{at, small_world, story, END};
use crate::scenario::{FaultyNode, Scenario};

/// Scenario name.
pub const NAME: &str = "thread-leak";
/// One-line description.
pub const DESCRIPTION: &str =
    "One of 12 nodes leaks threads toward threads-max (a worker adds 300 a minute from 08:30)";
const SEED: u64 = 0x7ead_1eac;
/// The leaking node (index).
const NODE: usize = 7;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let from = at(8, 30);
    let mut r = w.rng.child("leak");
    story::thread_leak(&mut w, NODE, from, 300.0, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[NODE].name.clone(),
            from,
            to: END,
            kind: "threads leaking toward threads-max".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}
