//! `gray-node`: 48 nodes from 00:00 to 12:00, every one failing 0.5–2% of
//! its readiness probes (timeouts now and then, the odd refused
//! connection), two Deployments rolling at 04:00 and 08:30 (a burst of
//! refused probes on every node). From 02:00 one node turns *gray*: 9% of
//! the probes of every pod on it time out — a flaky NIC or conntrack table
//! — and nothing else shows: it stays Ready, no sandbox errors, no thread
//! or CPU trouble. An SRE would want it found within a few hours and no
//! other node named.

use super::{at, background, rollout, World};
use crate::scenario::{FaultyNode, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "gray-node";
/// One-line description.
pub const DESCRIPTION: &str =
    "48 nodes fail 0.5-2% of probes; from 02:00 one gray node fails 9% of its probes, no other symptom";
const SEED: u64 = 0x96a7_90de;
/// First evaluation time.
pub const START: Timestamp = at(0, 0);
/// Last evaluation time.
pub const END: Timestamp = at(12, 0);
/// Nodes.
pub const NODES: usize = 48;
/// The gray node (index).
pub const GRAY: usize = 29;
/// When it turns gray.
pub const FROM: Timestamp = at(2, 0);
/// Share of its probes that fail from then.
pub const GRAY_FAIL: f64 = 0.09;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = World::new(NAME, DESCRIPTION, SEED, START, END);
    w.noise_per_hour = 6.0;
    for i in 0..NODES {
        w.add_node(i, START.sub(Duration::mins(60 * 24 * 4 + 13 * i as i64)));
    }
    let mut r = w.rng.child("background");
    background::everywhere(&mut w, (0.005, 0.02), &mut r);
    let mut r = w.rng.child("gray");
    background::probe_failures(&mut w, GRAY, FROM, END, GRAY_FAIL, &mut r);
    let mut r = w.rng.child("rollout");
    rollout::rolling_update(&mut w, "web", at(4, 0), 4, &mut r);
    rollout::rolling_update(&mut w, "api", at(8, 30), 4, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[GRAY].name.clone(),
            from: FROM,
            to: END,
            kind: "gray: 9% of its readiness probes time out".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}
