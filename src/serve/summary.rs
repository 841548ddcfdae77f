//! The top of the status page: the summary cards (sick nodes, alerts,
//! cordons, missing data, cluster state) and the cluster-incident banner,
//! which says in words that many nodes failing at once is a common cause
//! and that nodewatch will not cordon for it; the holds on cordons in
//! force (maintenance windows, the Alertmanager hold).

use super::html::escape_html as esc;
use crate::model::AlertState;
use crate::state::Snapshot;
use std::fmt::Write;

/// `2018-02-20T17:10:00Z` as `2018-02-20 17:10:00 UTC`, for people.
pub(super) fn human_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => rfc3339.to_string(),
    }
}

/// One line per hold in force: what holds cordons, until when, and why.
pub(super) fn holds(out: &mut String, s: &Snapshot) {
    for h in s.stats.holds.iter().filter(|h| h.active) {
        let what = match h.kind.as_str() {
            "maintenance_window" => format!("maintenance window {}", h.name),
            _ => "Alertmanager".to_string(),
        };
        let until = h
            .until
            .map_or(String::new(), |u| format!(" until {}", u.to_rfc3339()));
        let why = if h.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", h.reason)
        };
        let _ = write!(
            out,
            "<p class=\"meta held\"><b>Cordons held</b> by {}</p>",
            esc(&format!("{what}{until}{why}"))
        );
    }
}

/// A warning per workload signal with no subject at all: its selector
/// (the hub's, usually) matches nothing, so its trouble would go unseen.
pub(super) fn blind(out: &mut String, s: &Snapshot) {
    for i in s.signals.iter().filter(|i| i.scope == "workload") {
        if s.workloads.iter().any(|w| w.signal == i.name) {
            continue;
        }
        let _ = write!(
            out,
            "<p class=\"meta held\"><b>No data</b> for workload signal {}: its selector matches no pod, so an overload there would go unnoticed (edit its matchers in the rules, or give the pool its own <code>hub</code> in governor.pools)</p>",
            esc(&i.name)
        );
    }
}

/// The summary cards: how many nodes are sick, alerts firing, nodes
/// cordoned, and whether a cluster-wide anomaly is on.
pub(super) fn cards(out: &mut String, s: &Snapshot) {
    let firing = s
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .count();
    let sick = s
        .alerts
        .iter()
        .filter(|a| a.scope == "node" && a.state == AlertState::Firing)
        .count();
    let cordoned = s.nodes.iter().filter(|n| n.cordoned).count();
    let unknown = s.nodes.iter().filter(|n| !n.unknown.is_empty()).count();
    let card = |out: &mut String, id: &str, n: String, label: &str, bad: bool| {
        let _ = write!(
            out,
            "<div class=\"card{}\" id=\"card-{id}\"><b>{n}</b><span>{label}</span></div>",
            if bad { " bad" } else { "" }
        );
    };
    out.push_str("<div class=\"cards\">");
    card(out, "sick", sick.to_string(), "sick nodes", sick > 0);
    card(
        out,
        "alerts",
        firing.to_string(),
        "alerts firing",
        firing > 0,
    );
    card(
        out,
        "cordoned",
        cordoned.to_string(),
        "nodes cordoned",
        cordoned > 0,
    );
    card(
        out,
        "unknown",
        unknown.to_string(),
        "nodes without fresh data",
        unknown > 0,
    );
    let incident = cluster_incident(s);
    card(
        out,
        "cluster",
        if incident { "incident" } else { "normal" }.to_string(),
        "cluster-wide",
        incident,
    );
    out.push_str("</div>");
}

/// Whether the page shows the cluster-incident banner.
pub fn cluster_incident(s: &Snapshot) -> bool {
    !s.common_cause.is_empty()
        || s.alerts
            .iter()
            .any(|a| a.scope == "cluster" && a.state == AlertState::Firing)
}

pub(super) fn banner(out: &mut String, s: &Snapshot) {
    if !cluster_incident(s) {
        return;
    }
    out.push_str("<section id=\"cluster-banner\" role=\"alert\"><h2>Cluster-wide anomaly</h2><ul>");
    for c in &s.common_cause {
        let pct = if c.of > 0 {
            100.0 * c.nodes.len() as f64 / c.of as f64
        } else {
            0.0
        };
        let mut names: Vec<String> = c.nodes.iter().take(8).map(|n| esc(n)).collect();
        if c.nodes.len() > names.len() {
            names.push(format!("and {} more", c.nodes.len() - names.len()));
        }
        let _ = write!(
            out,
            "<li class=\"common-cause\" data-signal=\"{sig}\"><b>{sig}</b> on {} of {} nodes ({pct:.0}%): {}</li>",
            c.nodes.len(),
            c.of,
            names.join(", "),
            sig = esc(&c.signal),
        );
    }
    for a in s
        .alerts
        .iter()
        .filter(|a| a.scope == "cluster" && a.state == AlertState::Firing)
    {
        let summary = a.annotations.get("summary").map_or("", String::as_str);
        let _ = write!(
            out,
            "<li>alert <b>{}</b> firing since {}: {}</li>",
            esc(&a.name),
            esc(&human_time(&a.active_since.to_rfc3339())),
            esc(summary)
        );
    }
    out.push_str(
        "</ul><p>Many nodes show the same problem at once: this is a common cause, not sick \
         nodes. nodewatch raises one cluster-level alert and <b>will not cordon</b> nodes for it.</p></section>",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Hold;
    use crate::time::Timestamp;

    #[test]
    fn holds_in_force_are_shown_with_until_and_reason_escaped() {
        let mut s = Snapshot::default();
        s.stats.holds = vec![
            Hold {
                kind: "maintenance_window".into(),
                name: "weekly".into(),
                reason: "patching <CHG-42>".into(),
                until: Some(Timestamp(1_709_632_800_000)),
                active: true,
            },
            Hold {
                kind: "maintenance_window".into(),
                name: "quiet".into(),
                active: false,
                ..Default::default()
            },
        ];
        let mut out = String::new();
        holds(&mut out, &s);
        assert_eq!(
            out,
            "<p class=\"meta held\"><b>Cordons held</b> by maintenance window weekly \
             until 2024-03-05T10:00:00Z: patching &lt;CHG-42&gt;</p>"
        );
    }
}
