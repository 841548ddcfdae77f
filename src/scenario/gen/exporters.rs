//! What the real exporters call their series, written once for every
//! generator: the HELP texts of node_exporter, kubelet, cAdvisor,
//! kube-state-metrics and node-problem-detector, and the label sets of
//! kubelet's readiness-probe counters.

use crate::time::Timestamp;

/// node_exporter's `node_processes_threads`.
pub const HELP_THREADS: &str = "Allocated threads in system";
/// node_exporter's `node_processes_max_threads`.
pub const HELP_MAX_THREADS: &str = "Limit of threads in the system";
/// node_exporter's `node_cpu_seconds_total`.
pub const HELP_CPU: &str = "Seconds the CPUs spent in each mode.";
/// kube-state-metrics' `kube_node_status_condition` (NPD's conditions too).
pub const HELP_CONDITION: &str = "The condition of a cluster node.";
/// kubelet's `prober_probe_total`.
pub const HELP_PROBE: &str =
    "Cumulative number of a liveness, readiness or startup probe for a container by result.";
/// cAdvisor's `container_cpu_usage_seconds_total`.
pub const HELP_CCPU: &str = "Cumulative cpu time consumed in seconds.";
/// cAdvisor's `container_threads`.
pub const HELP_CTHREADS: &str = "Number of threads running inside the container";

/// kubelet's probe results, in the order its counters are written.
const PROBE_RESULTS: [&str; 2] = ["successful", "failed"];

/// One `prober_probe_total` series: its `result`, its count at the start
/// and its labels (kubelet's, in sorted order).
pub type ProbeSeries<'a> = (&'static str, f64, [(&'static str, &'a str); 6]);

/// The two `prober_probe_total` series of one container's readiness probe:
/// one [`ProbeSeries`] per result. A pod created before `from` has
/// already passed six probes a minute (periodSeconds 10) and failed about
/// one every 15 hours, so its counters do not start at zero — a rate over
/// a fresh counter would look like a burst.
pub fn readiness_probe_series(
    [ns, pod, container, node]: [&str; 4],
    created: Timestamp,
    from: Timestamp,
) -> [ProbeSeries<'_>; 2] {
    let age_min = ((from.0 - created.0) / 60_000) as f64;
    PROBE_RESULTS.map(|result| {
        let initial = if result == "failed" {
            (age_min / 900.0).round()
        } else {
            6.0 * age_min
        };
        let labels = [
            ("container", container),
            ("namespace", ns),
            ("node", node),
            ("pod", pod),
            ("probe_type", "Readiness"),
            ("result", result),
        ];
        (result, initial, labels)
    })
}
