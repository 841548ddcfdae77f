//! `cluster-overload`: from 09:30 to 10:10 the session store every
//! application's readiness check calls is overloaded, so probes fail on
//! every node at once. Nothing is wrong with any node: nodewatch must raise
//! one cluster-level alert and cordon nothing.

use super::{at, small_world, story};
use crate::scenario::{Incident, Scenario};

/// Scenario name.
pub const NAME: &str = "cluster-overload";
/// One-line description.
pub const DESCRIPTION: &str =
    "A shared dependency is overloaded 09:30-10:10: readiness probes fail on all 12 nodes";
const SEED: u64 = 0xc1a5_0ad0;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let (from, to) = (at(9, 30), at(10, 10));
    let mut r = w.rng.child("overload");
    story::shared_dependency_down(&mut w, from, to, 0.6, &mut r);
    let truth = super::truth(
        vec![],
        vec![Incident {
            from,
            to,
            kind: "shared dependency overloaded: probes fail on every node".to_string(),
        }],
    );
    w.finish(truth)
}
