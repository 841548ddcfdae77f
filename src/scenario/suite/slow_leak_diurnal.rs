//! `slow-leak-diurnal`: 300 nodes from 00:00 to 14:00 under a daily load
//! curve — CPU and the workers' thread counts fall to their night low at
//! 04:00 and climb towards the afternoon peak, each node with its own
//! amplitude (from about 500 to 3,000 worker threads). From 01:00 one
//! node's worker leaks 45 threads a minute: slow enough to hide inside the
//! daily swing for a while, fast enough to exhaust threads-max around
//! 23:20. An SRE wants it found well before that (within the scenario,
//! i.e. with more than nine hours to spare), and no node named for the
//! morning climb.

use super::{at, story, World};
use crate::scenario::{FaultyNode, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "slow-leak-diurnal";
/// One-line description.
pub const DESCRIPTION: &str =
    "300 nodes, daily load curve on CPU and threads; one worker leaks 45 threads/min from 01:00 (exhaustion ~23:20)";
const SEED: u64 = 0x51e4_d1a1;
/// First evaluation time.
pub const START: Timestamp = at(0, 0);
/// Last evaluation time.
pub const END: Timestamp = at(14, 0);
/// Nodes.
pub const NODES: usize = 300;
/// The leaking node (index).
pub const LEAK: usize = 211;
/// When the leak starts.
pub const FROM: Timestamp = at(1, 0);
/// Threads leaked per minute.
pub const PER_MIN: f64 = 45.0;

/// The daily curve: 0.55 at 04:00, 1.45 at 16:00.
fn load(t: Timestamp) -> f64 {
    let h = t.since(START).as_secs_f64() / 3600.0;
    1.0 + 0.45 * (2.0 * std::f64::consts::PI * (h - 10.0) / 24.0).sin()
}

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = World::new(NAME, DESCRIPTION, SEED, START, END);
    w.noise_per_hour = 20.0;
    w.threads_per_load = 1_500.0;
    for i in 0..NODES {
        w.add_node(i, START.sub(Duration::mins(60 * 24 * 6 + 11 * i as i64)));
    }
    w.load = w.grid.points().map(load).collect();
    let mut r = w.rng.child("leak");
    story::thread_leak(&mut w, LEAK, FROM, PER_MIN, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[LEAK].name.clone(),
            from: FROM,
            to: END,
            kind: "threads leaking slowly toward threads-max (exhaustion ~23:20)".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}
