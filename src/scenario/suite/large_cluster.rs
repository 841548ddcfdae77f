//! `large-cluster`: 500 nodes from 06:00 to 11:00 while the morning load
//! rises (CPU follows a diurnal curve with per-node noise) and the
//! autoscaler adds 40 nodes, whose baselines start cold. Three nodes get
//! sick in different ways: one loses pod networking (08:10–08:50), one
//! leaks threads (from 07:40), one cannot stop its pods (09:30–10:30).
//! Everything else is noise nodewatch must not page for.

use super::{at, story, World};
use crate::scenario::{FaultyNode, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "large-cluster";
/// One-line description.
pub const DESCRIPTION: &str =
    "500 nodes, diurnal load, 40 autoscaled nodes; 3 sick: network loss, thread leak, pods failing to stop";
const SEED: u64 = 0x0500_5ca1;
/// First evaluation time.
pub const START: Timestamp = at(6, 0);
/// Last evaluation time.
pub const END: Timestamp = at(11, 0);
/// Nodes at the start.
pub const NODES: usize = 500;
/// Nodes the autoscaler adds between 07:30 and 10:30.
pub const AUTOSCALED: usize = 40;
/// The sick nodes (indices): network loss, thread leak, pods failing to stop.
pub const SICK: [usize; 3] = [123, 321, 77];

/// The morning load: 0.7 at 06:00 rising smoothly to 1.4 at 11:00.
fn load(t: Timestamp) -> f64 {
    let x = (t.since(START).as_secs_f64() / END.since(START).as_secs_f64()).clamp(0.0, 1.0);
    0.7 + 0.7 * (1.0 - (std::f64::consts::PI * x).cos()) / 2.0
}

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = World::new(NAME, DESCRIPTION, SEED, START, END);
    w.noise_per_hour = 30.0;
    for i in 0..NODES {
        w.add_node(i, START.sub(Duration::mins(60 * 24 * 5 + 7 * i as i64)));
    }
    let span = at(10, 30).since(at(7, 30)).0 / AUTOSCALED as i64;
    for k in 0..AUTOSCALED {
        w.add_node(NODES + k, at(7, 30).add(Duration(span * k as i64)));
    }
    w.load = w.grid.points().map(load).collect();
    let mut r = w.rng.child("sick");
    let [net, leak, kill] = SICK;
    let network = (at(8, 10), at(8, 50));
    story::network_down(&mut w, net, network.0, network.1, &mut r);
    let leak_from = at(7, 40);
    story::thread_leak(&mut w, leak, leak_from, 500.0, &mut r);
    let stuck = (at(9, 30), at(10, 30));
    story::pods_fail_to_stop(&mut w, kill, stuck.0, stuck.1, &mut r);
    let faulty = |n: usize, (from, to): (Timestamp, Timestamp), kind: &str| FaultyNode {
        node: w.cluster.nodes[n].name.clone(),
        from,
        to,
        kind: kind.to_string(),
    };
    let truth = super::truth(
        vec![
            faulty(net, network, "lost pod networking"),
            faulty(leak, (leak_from, END), "threads leaking toward threads-max"),
            faulty(kill, stuck, "pods fail to stop"),
        ],
        vec![],
    );
    w.finish(truth)
}
