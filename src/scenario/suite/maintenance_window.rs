//! `maintenance-window`: Tuesday 09:00-11:00 Berlin time (08:00-10:00 UTC)
//! is the weekly maintenance window, and the scenario carries it
//! (`maintenance_windows` in `scenario.yaml`). The planned work restarts
//! two kubelets (one short NotReady each, benign). At 08:20 a task on
//! another node hangs in the kernel and node-problem-detector reports
//! `KernelDeadlock` until the node is rebooted at 10:40. nodewatch must
//! alert at once but hold the cordon until the window ends at 10:00, then
//! cordon the still-sick node; no other node is alerted on or cordoned.

use super::{at, kubelet_restart, npd, small_world};
use crate::act::WindowSettings;
use crate::scenario::{FaultyNode, Scenario};
use crate::time::Duration;

/// Scenario name.
pub const NAME: &str = "maintenance-window";
/// One-line description.
pub const DESCRIPTION: &str = "A node deadlocks 08:20-10:40 inside the 08:00-10:00 maintenance window: alerted at once, cordoned when the window ends";
const SEED: u64 = 0x3a1e_0007;
/// The node whose kernel deadlocks (index).
pub const NODE: usize = 5;
/// The planned kubelet restarts in the window: (node, hour, minute).
const RESTARTS: [(usize, i64, i64); 2] = [(2, 8, 10), (9, 8, 40)];

/// The window the scenario was recorded under.
pub fn window() -> WindowSettings {
    WindowSettings {
        name: "weekly-maintenance".into(),
        schedule: "0 9 * * TUE".into(),
        duration: Duration::mins(120),
        timezone: "Europe/Berlin".into(),
        reason: "kubelet config rollout CHG-1042".into(),
        pools: Vec::new(),
    }
}

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    for (n, h, m) in RESTARTS {
        kubelet_restart::restart(&mut w, n, at(h, m));
    }
    let (from, to) = (at(8, 20), at(10, 40));
    let mut r = w.rng.child("deadlock");
    npd::kernel_deadlock(&mut w, NODE, from, to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[NODE].name.clone(),
            from,
            to,
            kind: "kernel deadlock during the maintenance window".to_string(),
        }],
        vec![],
    );
    let mut s = w.finish(truth);
    s.meta.maintenance_windows = vec![window()];
    s
}
