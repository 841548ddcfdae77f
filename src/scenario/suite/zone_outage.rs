//! `zone-outage`: 24 nodes in three zones of one region, 10 in `b`, 10 in
//! `d` and only 4 in `c`. Every node fails a little of its probes all day.
//! At 09:00 zone `c`'s network fabric fails: all 4 of its nodes lose pod
//! networking at the same moment (probes time out, sandboxes cannot be
//! set up, the runtime reports the network not ready) until 09:40. That is
//! one incident of the zone — a common cause by topology — not four sick
//! nodes: one cluster-scope alert naming the zone, no node alert, no
//! cordon (cordoning the zone would only push its pods onto the others).

use super::{at, background, small_world, story};
use crate::scenario::{Incident, Scenario};

/// Scenario name.
pub const NAME: &str = "zone-outage";
/// One-line description.
pub const DESCRIPTION: &str =
    "Zone c (4 of 24 nodes) loses pod networking 09:00-09:40: one zone incident, no node alerts, no cordons";
const SEED: u64 = 0x2013_0c0c;
/// Nodes.
pub const NODES: usize = 24;
/// The zone that fails.
pub const ZONE: &str = "europe-west1-c";
/// Its nodes (indices).
pub const IN_ZONE: [usize; 4] = [20, 21, 22, 23];

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, NODES);
    for (i, node) in w.cluster.nodes.iter_mut().enumerate() {
        node.zone = if IN_ZONE.contains(&i) {
            ZONE
        } else if i % 2 == 0 {
            "europe-west1-b"
        } else {
            "europe-west1-d"
        }
        .to_string();
    }
    let mut r = w.rng.child("background");
    background::everywhere(&mut w, (0.002, 0.01), &mut r);
    let (from, to) = (at(9, 0), at(9, 40));
    for n in IN_ZONE {
        let mut r = w.rng.child(&format!("zone/{n}"));
        story::network_down(&mut w, n, from, to, &mut r);
    }
    let truth = super::truth(
        vec![],
        vec![Incident {
            from,
            to,
            kind: format!("zone {ZONE} lost pod networking (4 of its 4 nodes)"),
        }],
    );
    w.finish(truth)
}
