//! `rolling-deploy`: a benign day. At 09:00 the `web` Deployment rolls to a
//! new version, at 09:20 the `api` Deployment: every replacement pod fails
//! readiness for 20–45 s while it warms up, on every node, a few at a time.
//! No node is sick and nothing is wrong: no alert is expected.

use super::{at, rollout, small_world};
use crate::scenario::Scenario;

/// Scenario name.
pub const NAME: &str = "rolling-deploy";
/// One-line description.
pub const DESCRIPTION: &str =
    "Benign: two Deployments roll across 12 nodes (brief readiness failures everywhere)";
const SEED: u64 = 0x0011_de91;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let mut r = w.rng.child("rollout");
    rollout::rolling_update(&mut w, "web", at(9, 0), 3, &mut r);
    rollout::rolling_update(&mut w, "api", at(9, 20), 3, &mut r);
    w.finish(super::truth(vec![], vec![]))
}
