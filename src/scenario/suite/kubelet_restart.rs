//! `kubelet-restart`: routine node maintenance that is not sickness. At
//! 09:30 one node's kubelet is restarted (a config change rolled out), at
//! 10:15 another's: each node reports NotReady once, for under a minute,
//! its kubelet, cAdvisor and node-exporter targets miss one scrape, and the
//! kubelet logs the usual start-up events. Nothing may be alerted or
//! cordoned. (Not modelled: the kubelet's own counters restarting from 0;
//! the embedded evaluator's `rate` handles resets as Prometheus does.)

use super::{at, small_world, World};
use crate::scenario::gen::{EventType, Involved};
use crate::scenario::Scenario;
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "kubelet-restart";
/// One-line description.
pub const DESCRIPTION: &str =
    "Benign: two of 12 nodes restart their kubelet (one short NotReady each) 09:30 and 10:15";
const SEED: u64 = 0x6b1e_0005;
/// The nodes whose kubelet restarts, and when.
const RESTARTS: [(usize, (i64, i64)); 2] = [(4, (9, 30)), (8, (10, 15))];

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    for (n, (h, m)) in RESTARTS {
        restart(&mut w, n, at(h, m));
    }
    w.finish(super::truth(vec![], vec![]))
}

/// The kubelet on node `n` stops at `t` and is back 40 s later.
pub(super) fn restart(w: &mut World, n: usize, t: Timestamp) {
    let info = w.cluster.nodes[n].clone();
    let node = Involved::node(&info);
    let back = t.add(Duration::secs(40));
    let (mut ready, mut scraped) = (
        std::mem::take(&mut w.stories[n].ready),
        std::mem::take(&mut w.stories[n].scraped),
    );
    w.span(&mut ready, t, back, false);
    w.span(&mut scraped, t, back, false);
    w.stories[n].ready = ready;
    w.stories[n].scraped = scraped;
    let name = info.name.as_str();
    let normal = EventType::Normal;
    let down = format!("Node {name} status is now: NodeNotReady");
    w.events.record(
        t,
        node.clone(),
        "node-controller",
        "",
        normal,
        "NodeNotReady",
        &down,
    );
    for (dt, reason, msg) in [
        (30, "Starting", "Starting kubelet.".to_string()),
        (
            31,
            "NodeAllocatableEnforced",
            "Updated Node Allocatable limit across pods".to_string(),
        ),
        (
            32,
            "NodeHasSufficientMemory",
            format!("Node {name} status is now: NodeHasSufficientMemory"),
        ),
        (
            32,
            "NodeHasNoDiskPressure",
            format!("Node {name} status is now: NodeHasNoDiskPressure"),
        ),
        (
            32,
            "NodeHasSufficientPID",
            format!("Node {name} status is now: NodeHasSufficientPID"),
        ),
        (
            40,
            "NodeReady",
            format!("Node {name} status is now: NodeReady"),
        ),
    ] {
        let at = t.add(Duration::secs(dt));
        w.events
            .record(at, node.clone(), "kubelet", name, normal, reason, &msg);
    }
}
