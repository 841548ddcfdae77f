//! `upgrade-in-progress`: an in-place rolling upgrade of the 8-node
//! `default-pool` (kubelet v1.28.7 → v1.29.2) from 10:25, one node every
//! 12 minutes, still going at the end: `kubectl drain` style (cordoned,
//! with the `node.kubernetes.io/unschedulable` taint; pods evicted and
//! started on the node upgraded before), a reboot (NotReady, targets dark,
//! kubelet start-up events), the new kubelet version, uncordoned. Someone
//! else's work, not sickness: no alert on those nodes, and while the pool
//! is half upgraded nodewatch holds cordons in it and says why. The
//! 4-node `batch-pool` is not being upgraded; one of its nodes loses pod
//! networking 10:30-11:10 and must be found and cordoned all the same.

use super::{at, disrupt, story, World, END, START};
use crate::scenario::{FaultyNode, Scenario};
use crate::time::{Duration, Timestamp};

/// Scenario name.
pub const NAME: &str = "upgrade-in-progress";
/// One-line description.
pub const DESCRIPTION: &str = "Benign rolling upgrade of an 8-node pool (cordon, drain, reboot, new kubelet, uncordon) from 10:25; a node of the other pool loses pod networking 10:30-11:10";
const SEED: u64 = 0x0b9a_de00;
/// Nodes of the pool being upgraded (indices 0..8); 8..12 are `batch-pool`.
pub const UPGRADED: usize = 8;
/// The `batch-pool` node that really is sick.
pub const SICK: usize = 9;
/// Kubelet versions before and after.
pub const VERSIONS: (&str, &str) = ("v1.28.7-gke.1026000", "v1.29.2-gke.1521000");
/// Time between two nodes.
const EVERY: Duration = Duration::mins(12);

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = World::new(NAME, DESCRIPTION, SEED, START, END);
    for i in 0..12 {
        let pool = if i < UPGRADED {
            "default-pool"
        } else {
            "batch-pool"
        };
        let created = START.sub(Duration::mins(60 * 24 * 3 + 17 * i as i64));
        let n = w.add_node_in(i, created, pool);
        w.cluster.nodes[n].kubelet_version = VERSIONS.0.to_string();
    }
    let mut r = w.rng.child("upgrade");
    for k in 0..UPGRADED {
        let t = at(10, 25).add(Duration(EVERY.0 * k as i64));
        let onto = if k == 0 { 1 } else { k - 1 };
        upgrade(&mut w, k, onto, t, &mut r);
    }
    let (from, to) = (at(10, 30), at(11, 10));
    story::network_down(&mut w, SICK, from, to, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[SICK].name.clone(),
            from,
            to,
            kind: "lost pod networking (another pool) during an upgrade".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}

/// Drain, reboot and upgrade node `n` from `t`, its pods going to `onto`.
fn upgrade(w: &mut World, n: usize, onto: usize, t: Timestamp, r: &mut crate::scenario::rng::Rng) {
    disrupt::cordon(w, n, t, true);
    disrupt::evict(w, n, &[onto], t.add(Duration::secs(5)), None, r);
    // A reboot into the new image: about four minutes dark.
    let (down, up) = (t.add(Duration::secs(90)), t.add(Duration::secs(330)));
    let (mut ready, mut scraped) = (
        std::mem::take(&mut w.stories[n].ready),
        std::mem::take(&mut w.stories[n].scraped),
    );
    w.span(&mut ready, down, up.add(Duration::secs(40)), false);
    w.span(&mut scraped, down, up, false);
    (w.stories[n].ready, w.stories[n].scraped) = (ready, scraped);
    disrupt::kubelet_start(w, n, up);
    disrupt::change(w, n, up.add(Duration::secs(20)), "MODIFIED", |node| {
        node.status.node_info.kubelet_version = VERSIONS.1.to_string();
    });
    disrupt::cordon(w, n, up.add(Duration::secs(60)), false);
}
