//! The suite table in Markdown (for BENCHMARKS.md and the terminal).

use super::{Baseline, Detection, SuiteReport};
use std::fmt::Write;

/// `95` → `1m35s`; negative delays (an alert in the 5-minute grace before
/// the window) are shown as such.
pub fn delay(secs: f64) -> String {
    let sign = if secs < 0.0 { "-" } else { "" };
    let s = secs.abs().round() as i64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sign}{sec}s"),
        (0, m, sec) => format!("{sign}{m}m{sec:02}s"),
        (h, m, _) => format!("{sign}{h}h{m:02}m"),
    }
}

/// The last `-`-separated part of a node name, which is what tells GKE
/// nodes of one pool apart.
fn short(node: &str) -> &str {
    node.rsplit('-').next().unwrap_or(node)
}

fn detections(faulty: &[Detection], incidents: &[Detection]) -> (String, String) {
    let faulty: Vec<String> = faulty
        .iter()
        .map(|d| {
            let when = d.delay_s.map_or("**missed**".to_string(), delay);
            format!("{} ({}): {when}", short(&d.node), d.kind)
        })
        .collect();
    let incidents: Vec<String> = incidents
        .iter()
        .map(|d| d.delay_s.map_or("**missed**".to_string(), delay))
        .collect();
    let dash = |v: Vec<String>| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.join("; ")
        }
    };
    (dash(faulty), dash(incidents))
}

fn baseline_cells(b: Option<&Baseline>) -> String {
    let Some(b) = b else {
        return " — | — | — | — | — |".to_string();
    };
    let (faulty, incidents) = detections(&b.faulty, &b.incidents);
    let median = b.median_delay().map_or("—".to_string(), delay);
    let fired: Vec<String> = b.fired.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
    let fired = if fired.is_empty() {
        "none".to_string()
    } else {
        fired.join(", ")
    };
    format!(
        " {faulty} | {incidents} | {median} | {} | {fired} |",
        b.false_alerts
    )
}

impl SuiteReport {
    /// One Markdown table row per scenario; when kube-prometheus was
    /// evaluated, a second table compares the two.
    pub fn table(&self) -> String {
        let mut s = self.nodewatch_table();
        if self.rows.iter().any(|r| r.kube_prometheus.is_some()) {
            s.push('\n');
            s.push_str(&self.comparison_table());
        }
        s
    }

    /// nodewatch beside kube-prometheus: median delays (a miss counts as
    /// the whole window), false node alerts, and what kube-prometheus
    /// detected and fired.
    pub fn comparison_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| scenario | nodewatch median delay | nodewatch false alerts | kube-prometheus: faulty nodes | kube-prometheus: cluster incident | kube-prometheus median delay | kube-prometheus false alerts | kube-prometheus alerts fired |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | --- | --- | ---: | ---: | --- |");
        for r in &self.rows {
            let median = r.median_delay().map_or("—".to_string(), delay);
            let _ = writeln!(
                s,
                "| {} | {median} | {} |{}",
                r.scenario,
                r.false_alerts,
                baseline_cells(r.kube_prometheus.as_ref())
            );
        }
        s
    }

    /// nodewatch's own table.
    pub fn nodewatch_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| scenario | nodes | faulty nodes: detection delay | cluster incident delay | median delay | false alerts | false cordons | cordons | cluster alerts outside incidents | nodes reported without data |"
        );
        let _ = writeln!(
            s,
            "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for r in &self.rows {
            let (faulty, incidents) = detections(&r.faulty, &r.incidents);
            let median = r.median_delay().map_or("—".to_string(), delay);
            let missing = if r.missing_data.is_empty() {
                "none".to_string()
            } else {
                let names: Vec<&str> = r.missing_data.keys().map(|n| short(n)).collect();
                format!("{}: {}", names.len(), names.join(", "))
            };
            let _ = writeln!(
                s,
                "| {} | {} | {faulty} | {incidents} | {median} | {} | {} | {} | {} | {missing} |",
                r.scenario,
                r.nodes,
                r.false_alerts,
                r.false_cordons,
                r.cordons,
                r.cluster_alerts_outside
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_like_people_write_them() {
        assert_eq!(delay(42.0), "42s");
        assert_eq!(delay(95.0), "1m35s");
        assert_eq!(delay(3_700.0), "1h01m");
        assert_eq!(delay(-90.0), "-1m30s");
        assert_eq!(short("gke-x-default-pool-1a2b-vvsw"), "vvsw");
    }
}
