//! What node-problem-detector writes when its kernel monitor finds trouble,
//! in the shapes the real one uses: Warning Events on the Node from the
//! `kernel-monitor` source, a problem condition on the Node (which
//! kube-state-metrics exports as `kube_node_status_condition`) and NPD's own
//! `problem_gauge`, scraped from its DaemonSet pod with the node name
//! relabelled into `node`.

use super::record::gauge;
use super::world::{NodeProblem, World};
use crate::scenario::gen::exporters::HELP_CONDITION;
use crate::scenario::gen::{EventType, Involved, MetricRecorder};
use crate::scenario::rng::Rng;
use crate::time::{Duration, Timestamp};

const HELP_PROBLEM: &str = "Whether a problem of the given type and reason is affecting the node.";

/// A task on node `n` hangs in the kernel from `from`: the kernel monitor
/// reports `TaskHung` a few times, then sets `KernelDeadlock` (reason
/// `DockerHung`) five minutes later; the condition holds until `to`, when
/// the node is rebooted. Nothing else about the node changes: NPD is the
/// only one that sees it.
pub fn kernel_deadlock(w: &mut World, n: usize, from: Timestamp, to: Timestamp, r: &mut Rng) {
    let info = w.cluster.nodes[n].clone();
    let node = Involved::node(&info);
    let set = from.add(Duration::mins(5));
    let mut t = from;
    while t < set {
        let msg = format!(
            "INFO: task dockerd:{} blocked for more than 120 seconds.",
            r.range(900, 4000)
        );
        let host = info.name.as_str();
        let warn = EventType::Warning;
        w.events.record(
            t,
            node.clone(),
            "kernel-monitor",
            host,
            warn,
            "TaskHung",
            &msg,
        );
        t = t.add(Duration::secs(r.range(40, 90)));
    }
    let msg = "Node condition KernelDeadlock is now: True, reason: DockerHung";
    w.events.record(
        set,
        node,
        "kernel-monitor",
        &info.name,
        EventType::Warning,
        "DockerHung",
        msg,
    );
    let mut on = vec![false; w.grid.len];
    w.span(&mut on, set, to, true);
    w.stories[n].problems.push(NodeProblem {
        kind: "KernelDeadlock",
        reason: "DockerHung",
        on,
    });
}

/// Records node `n`'s problem conditions (kube-state-metrics, one series
/// per status as it exports them) and NPD's `problem_gauge`. Nodes without
/// problems get no series, so other scenarios' data is unchanged.
pub(super) fn record(m: &mut MetricRecorder, w: &World, n: usize) {
    let node = &w.cluster.nodes[n];
    let name = node.name.as_str();
    let span = (node.created.max(w.start), w.end);
    let g = &w.grid;
    let scraped = |t: Timestamp| w.stories[n].scraped[g.index(t)];
    for p in &w.stories[n].problems {
        let on = |t: Timestamp| p.on[g.index(t)];
        for status in ["true", "false", "unknown"] {
            let labels = [("condition", p.kind), ("node", name), ("status", status)];
            let value = |t| f64::from(u8::from(status != "unknown" && (status == "true") == on(t)));
            let ksm = "kube-state-metrics";
            gauge(
                m,
                "kube_node_status_condition",
                HELP_CONDITION,
                &labels,
                ksm,
                span,
                &|_| true,
                value,
            );
        }
        let labels = [("node", name), ("reason", p.reason), ("type", p.kind)];
        let target = format!("node-problem-detector/{name}");
        let value = |t| f64::from(u8::from(on(t)));
        gauge(
            m,
            "problem_gauge",
            HELP_PROBLEM,
            &labels,
            &target,
            span,
            &scraped,
            value,
        );
    }
}
