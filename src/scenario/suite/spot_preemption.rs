//! `spot-preemption`: two spot nodes of 12 get termination notices. At
//! 09:20 GKE preempts one: the `cloud.google.com/impending-node-termination`
//! taint, the kubelet's graceful shutdown stops its pods (they start again
//! elsewhere), 30 s later the VM is off, then the node object is deleted.
//! At 10:40 the AWS node termination handler style: a spot interruption
//! notice (`SpotInterruption` event), the `aws-node-termination-handler/
//! spot-itn` taint and a cordon, a drain, then the node is gone. Neither is
//! sickness. Meanwhile a worker on a third node leaks threads from 09:00,
//! which must still be found.

use super::{at, disrupt, small_world, story, World};
use crate::scenario::gen::{EventType, Involved};
use crate::scenario::rng::Rng;
use crate::scenario::{FaultyNode, Scenario};
use crate::time::Duration;

/// Scenario name.
pub const NAME: &str = "spot-preemption";
/// One-line description.
pub const DESCRIPTION: &str = "Benign: two of 12 spot nodes are preempted (GKE 09:20, AWS termination handler 10:40: taint, drain, gone); a third node leaks threads from 09:00";
const SEED: u64 = 0x5b07_0001;
/// The preempted nodes.
pub const PREEMPTED: [usize; 2] = [2, 9];
/// The node whose worker leaks threads.
pub const SICK: usize = 6;

/// Generates the scenario, deterministically.
pub fn generate() -> Scenario {
    let mut w = small_world(NAME, DESCRIPTION, SEED, 12);
    let mut r = w.rng.child("spot");
    let onto: Vec<usize> = (0..12)
        .filter(|k| *k != SICK && !PREEMPTED.contains(k))
        .collect();
    gke_preemption(&mut w, &onto, &mut r);
    aws_interruption(&mut w, &onto, &mut r);
    let from = at(9, 0);
    story::thread_leak(&mut w, SICK, from, 300.0, &mut r);
    let truth = super::truth(
        vec![FaultyNode {
            node: w.cluster.nodes[SICK].name.clone(),
            from,
            to: super::END,
            kind: "threads leaking toward threads-max".to_string(),
        }],
        vec![],
    );
    w.finish(truth)
}

/// GKE: 30 s notice, graceful node shutdown, node deleted.
fn gke_preemption(w: &mut World, onto: &[usize], r: &mut Rng) {
    let (n, t) = (PREEMPTED[0], at(9, 20));
    let key = "cloud.google.com/impending-node-termination";
    disrupt::taint(w, n, t, key, "", "NoSchedule");
    disrupt::evict(w, n, onto, t.add(Duration::secs(1)), None, r);
    let off = t.add(Duration::secs(30));
    // The Node object goes when the cloud's node lifecycle controller
    // notices the instance is gone, minutes later: NotReady till then.
    disrupt::shut_down(w, n, off, off.add(Duration::secs(r.range(240, 360))));
}

/// AWS node termination handler: notice event, taint, cordon, drain,
/// instance gone two minutes after the notice.
fn aws_interruption(w: &mut World, onto: &[usize], r: &mut Rng) {
    let (n, t) = (PREEMPTED[1], at(10, 40));
    let info = w.cluster.nodes[n].clone();
    let end = t.add(Duration::secs(120));
    let msg = format!(
        "Spot interruption notice received. Instance will be interrupted at {}",
        end.to_rfc3339()
    );
    w.events.record(
        t,
        Involved::node(&info),
        "aws-node-termination-handler",
        &info.name,
        EventType::Warning,
        "SpotInterruption",
        &msg,
    );
    let itn = format!("spot-itn-{}", r.hex(12));
    disrupt::taint(
        w,
        n,
        t.add(Duration::secs(1)),
        "aws-node-termination-handler/spot-itn",
        &itn,
        "NoSchedule",
    );
    disrupt::cordon(w, n, t.add(Duration::secs(2)), true);
    disrupt::evict(w, n, onto, t.add(Duration::secs(3)), None, r);
    w.events.record(
        t.add(Duration::secs(40)),
        Involved::node(&info),
        "aws-node-termination-handler",
        &info.name,
        EventType::Normal,
        "CordonAndDrain",
        "Node successfully cordoned and drained",
    );
    disrupt::shut_down(w, n, end, end.add(Duration::secs(r.range(240, 360))));
}
