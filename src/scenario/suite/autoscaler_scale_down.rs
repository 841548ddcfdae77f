//! `autoscaler-scale-down`: after the morning peak the cluster autoscaler
//! removes three of 12 nodes (09:30, 09:50, 10:40). Each is tainted
//! `ToBeDeletedByClusterAutoscaler` (`NoSchedule`, the decision's unix
//! time), its pods are evicted with the autoscaler's `ScaleDown` events
//! and start again on the remaining nodes, then the VM goes away: the
//! node turns NotReady, its targets vanish, its object is deleted. None of
//! that is sickness. Meanwhile (10:00-10:40) another node really loses
//! pod networking, and must still be found.

use super::{at, disrupt, small_world, story};
use crate::scenario::gen::{EventType, Involved};
use crate::scenario::{FaultyNode, Scenario};
use crate::signals::disruption::AUTOSCALER_TAINT;
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "autoscaler-scale-down";
/// One-line description.
pub const DESCRIPTION: &str = "Benign scale-down: the cluster autoscaler removes 3 of 12 nodes (taint, evictions, NotReady, deleted) 09:30-10:45; one other node loses pod networking 10:00-10:40";
const SEED: u64 = 0x5ca1_ed0d;
/// The nodes removed, and when the autoscaler decides.
pub const REMOVED: [(usize, (i64, i64)); 3] = [(3, (9, 30)), (7, (9, 50)), (10, (10, 40))];
/// The node that really is sick.
pub const SICK: usize = 5;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let mut r = w.rng.child("scale-down");
    for (n, (h, m)) in REMOVED {
        let t = at(h, m);
        let survivors: Vec<usize> = (0..12)
            .filter(|&k| k != SICK && REMOVED.iter().all(|&(x, _)| x != k))
            .collect();
        scale_down(&mut w, n, t, &survivors, &mut r);
    }
    let (from, to) = (at(10, 0), at(10, 40));
    story::network_down(&mut w, SICK, from, to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[SICK].name.clone(),
            from,
            to,
            kind: "lost pod networking during a scale-down".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}

/// What the autoscaler does to node `n` from `t`: taint, announce, evict
/// onto `onto`, then the VM is deleted.
fn scale_down(
    w: &mut super::World,
    n: usize,
    t: Timestamp,
    onto: &[usize],
    r: &mut crate::scenario::rng::Rng,
) {
    let unix = (t.0 / 1000).to_string();
    disrupt::taint(w, n, t, AUTOSCALER_TAINT, &unix, "NoSchedule");
    let info = w.cluster.nodes[n].clone();
    let normal = EventType::Normal;
    w.events.record(
        t,
        Involved::node(&info),
        "cluster-autoscaler",
        "",
        normal,
        "ScaleDown",
        "marked the node as toBeDeleted/unschedulable",
    );
    let announce = (
        "cluster-autoscaler",
        "ScaleDown",
        "deleting pod for node scale down",
    );
    disrupt::evict(w, n, onto, t.add(Duration::secs(2)), Some(announce), r);
    // The VM goes once drained; the Node object only when the cloud's
    // node lifecycle controller notices, minutes later: NotReady till then.
    let off = t.add(Duration::secs(r.range(60, 90)));
    disrupt::shut_down(w, n, off, off.add(Duration::secs(r.range(240, 360))));
}
