//! kube-state-metrics' series about pods — owner, phase, waiting reason —
//! which kube-prometheus' pod alerts (`KubePodNotReady`,
//! `KubePodCrashLooping`) read. nodewatch itself does not use them.

use super::record::gauge;
use super::world::World;
use crate::scenario::gen::MetricRecorder;
use crate::time::Timestamp;

const HELP_PHASE: &str = "The pods current phase.";
const HELP_OWNER: &str = "Information about the Pod's owner.";
const HELP_WAITING: &str = "Describes the reason the container is currently in waiting state.";

/// kube-state-metrics' view of one pod: owner, phase, waiting reason.
pub(super) fn pod(m: &mut MetricRecorder, w: &World, i: usize) {
    let p = &w.cluster.pods[i];
    let st = &w.pod_state[i];
    let span = (
        p.created.max(w.start),
        p.deleted.map_or(w.end, |d| d.min(w.end)),
    );
    if span.1 <= span.0 {
        return;
    }
    let ksm = "kube-state-metrics";
    let all = |_: Timestamp| true;
    let (ns, pod) = (p.namespace.as_str(), p.name.as_str());
    let owner_name = p.name.rsplit_once('-').map_or(pod, |(o, _)| o);
    let labels = [
        ("namespace", ns),
        ("owner_is_controller", "true"),
        ("owner_kind", st.owner),
        ("owner_name", owner_name),
        ("pod", pod),
    ];
    gauge(
        m,
        "kube_pod_owner",
        HELP_OWNER,
        &labels,
        ksm,
        span,
        &all,
        |_| 1.0,
    );
    let pending = |t: Timestamp| st.pending_until.is_some_and(|u| t < u);
    for phase in ["Pending", "Running"] {
        let labels = [("namespace", ns), ("phase", phase), ("pod", pod)];
        gauge(
            m,
            "kube_pod_status_phase",
            HELP_PHASE,
            &labels,
            ksm,
            span,
            &all,
            |t| f64::from(u8::from(pending(t) == (phase == "Pending"))),
        );
    }
    if let Some(from) = st.crash_loop_from {
        let labels = [
            ("container", p.container.as_str()),
            ("namespace", ns),
            ("pod", pod),
            ("reason", "CrashLoopBackOff"),
        ];
        let waiting = |t: Timestamp| t >= from;
        gauge(
            m,
            "kube_pod_container_status_waiting_reason",
            HELP_WAITING,
            &labels,
            ksm,
            span,
            &waiting,
            |_| 1.0,
        );
    }
}
