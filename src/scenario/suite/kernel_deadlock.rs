//! `kernel-deadlock`: at 09:25 a task on one node hangs in the kernel.
//! node-problem-detector reports `TaskHung` events and, five minutes later,
//! the `KernelDeadlock` condition; nothing else on the node looks wrong
//! until it is rebooted at 10:25. nodewatch must act on the node-local
//! detector's judgement (its own catalog signals for NPD's conditions and
//! events) and leave the other nodes alone.

use super::{at, npd, small_world};
use crate::scenario::{FaultyNode, Scenario};

/// Scenario name.
pub const NAME: &str = "kernel-deadlock";
/// One-line description.
pub const DESCRIPTION: &str =
    "node-problem-detector reports KernelDeadlock on one of 12 nodes 09:25-10:25";
const SEED: u64 = 0x4e9d_0d1c;
/// The node whose kernel deadlocks (index).
const NODE: usize = 6;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let (from, to) = (at(9, 25), at(10, 25));
    let mut r = w.rng.child("deadlock");
    npd::kernel_deadlock(&mut w, NODE, from, to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[NODE].name.clone(),
            from,
            to,
            kind: "kernel deadlock reported by node-problem-detector".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}
