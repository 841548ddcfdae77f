//! The human status page (`GET /`): one server-rendered HTML document, no
//! JavaScript, refreshed by the browser every 5 s. It answers the questions
//! operators could not answer in the incident: is this a cluster-wide
//! problem or a few bad nodes, which nodes and why, and what nodewatch did.

use super::html::{band, escape_html as esc, fmt_num, fmt_score, sparkline, CSS};
pub use super::summary::cluster_incident;
use super::summary::{banner, blind, cards, holds, human_time};
use crate::model::{ActionKind, AlertState};
use crate::state::{Contributor, NodeView, Snapshot};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write;

/// Node rows shown on the page; the rest are summarised in one line (the
/// full list is in the JSON API), so a 5,000-node cluster stays readable.
pub const MAX_NODES: usize = 100;

/// Contributions shown per node.
const TOP_CONTRIBUTIONS: usize = 3;

/// Renders the page for `snapshot` (or a waiting page before the first
/// one); `histories` holds score histories by node name.
pub fn render(snapshot: Option<&Snapshot>, histories: &HashMap<String, Vec<f32>>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    );
    let title = match snapshot.and_then(|s| s.scenario.as_deref()) {
        Some(name) => format!("nodewatch: {}", esc(name)),
        None => "nodewatch".to_string(),
    };
    let _ = write!(
        out,
        "<title>{title}</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(
        out,
        "<header><div class=\"wrap\"><h1><span class=\"brand\">nodewatch</span>{}</h1>",
        match snapshot.and_then(|s| s.scenario.as_deref()) {
            Some(name) => format!("<span class=\"scenario\">{}</span>", esc(name)),
            None => String::new(),
        }
    );
    match snapshot {
        None => {
            out.push_str(
                "<p class=\"meta\">Waiting for the first evaluation…</p></div></header><main>",
            );
        }
        Some(s) => {
            let _ = write!(
                out,
                "<p class=\"meta\">Evaluated at <time datetime=\"{}\">{}</time> · {} nodes · tick {}</p>",
                esc(&s.at.to_rfc3339()),
                esc(&human_time(&s.at.to_rfc3339())),
                s.nodes.len(),
                s.stats.ticks
            );
            cards(&mut out, s);
            if let Some(p) = &s.stats.pause {
                let until = p
                    .until
                    .map_or("until the annotation is removed".to_string(), |u| {
                        format!("until {}", u.to_rfc3339())
                    });
                let _ = write!(
                    out,
                    "<p class=\"meta\" id=\"paused\"><b>Actions paused</b> {}{}</p>",
                    esc(&until),
                    if p.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", esc(&p.reason))
                    }
                );
            }
            holds(&mut out, s);
            blind(&mut out, s);
            out.push_str("</div></header><main>");
            banner(&mut out, s);
            nodes(&mut out, s, histories);
            workloads(&mut out, s);
            alerts(&mut out, s);
            actions(&mut out, s);
        }
    }
    out.push_str(
        "</main><footer><p class=\"meta\"><a href=\"/metrics\">/metrics</a> · \
         <a href=\"/api/v1/nodewatch/snapshot\">snapshot JSON</a> · \
         <a href=\"/api/v1/query?query=topk(10,nodewatch_node_score)\">query API</a></p></footer></body></html>",
    );
    out
}

/// Nodes by score, highest first; NaN scores rank last, ties by name so
/// the order does not flicker between refreshes.
pub fn ranked(s: &Snapshot) -> Vec<&NodeView> {
    let key = |n: &NodeView| {
        if n.score.is_nan() {
            f64::NEG_INFINITY
        } else {
            n.score
        }
    };
    let mut nodes: Vec<&NodeView> = s.nodes.iter().collect();
    nodes.sort_by(|a, b| {
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.name.cmp(&b.name))
    });
    nodes
}

fn nodes(out: &mut String, s: &Snapshot, histories: &HashMap<String, Vec<f32>>) {
    let help: HashMap<&str, &str> = s
        .signals
        .iter()
        .map(|i| (i.name.as_str(), i.help.as_str()))
        .collect();
    let firing: Vec<&str> = s
        .alerts
        .iter()
        .filter(|a| a.scope == "node" && a.state == AlertState::Firing)
        .map(|a| a.subject.as_str())
        .collect();
    out.push_str("<section id=\"nodes\"><h2>Nodes by score</h2>");
    if s.nodes.is_empty() {
        out.push_str("<p class=\"empty\">No nodes.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>#</th><th>Node</th><th class=\"num\">Score</th><th>History</th>\
         <th>Why</th></tr></thead><tbody>",
    );
    let ranked = ranked(s);
    for (i, n) in ranked.iter().take(MAX_NODES).enumerate() {
        let sick = firing.contains(&n.name.as_str());
        let score = fmt_score(n.score);
        let _ = write!(
            out,
            "<tr class=\"node{}\" data-node=\"{}\" data-score=\"{score}\"><td>{}</td>\
             <td class=\"name\"><b>{}</b><div class=\"sub\">{} · {}</div></td>\
             <td class=\"score {}\">{score}</td><td>{}</td><td>",
            if sick { " sick" } else { "" },
            esc(&n.name),
            i + 1,
            esc(&n.name),
            esc(&n.zone),
            esc(&n.pool),
            band(n.score),
            sparkline(histories.get(&n.name).map_or(&[][..], Vec::as_slice)),
        );
        if sick {
            out.push_str("<span class=\"badge b-firing\">alert firing</span>");
        }
        if n.cordoned {
            let by = if n.cordoned_by_us {
                "cordoned by nodewatch"
            } else {
                "cordoned"
            };
            let _ = write!(out, "<span class=\"badge b-cordon\">{by}</span>");
        }
        if let Some(why) = &n.held {
            // Expected disruption: why nodewatch leaves this node alone.
            let _ = write!(
                out,
                "<span class=\"badge b-unknown\" title=\"{}\">held: {}</span>",
                esc(why),
                esc(why)
            );
        }
        if !n.unknown.is_empty() {
            let list: Vec<String> = n.unknown.iter().map(|u| esc(u)).collect();
            let _ = write!(
                out,
                "<span class=\"badge b-unknown\" title=\"no fresh data: actions held\">unknown: {}</span>",
                list.join(", ")
            );
        }
        let _ = write!(out, "<span class=\"why\">{}</span>", esc(&n.explanation));
        let top: Vec<_> = n
            .contributions
            .iter()
            .filter(|c| c.level > 0.0)
            .take(TOP_CONTRIBUTIONS)
            .collect();
        if !top.is_empty() {
            out.push_str("<ul class=\"contrib\">");
            for c in top {
                let title = match help.get(c.signal.as_str()) {
                    Some(h) if !h.is_empty() => format!(" title=\"{}\"", esc(h)),
                    _ => String::new(),
                };
                let _ = write!(
                    out,
                    "<li><b{title}>{}</b> = {} (anomaly {}, weight {}) {}{}</li>",
                    esc(&c.signal),
                    fmt_num(c.value),
                    fmt_score(c.level),
                    fmt_num(c.weight),
                    // The explanation often already spells the detail out.
                    if n.explanation.contains(&c.detail) {
                        String::new()
                    } else {
                        esc(&c.detail)
                    },
                    contributors(&c.top)
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    if ranked.len() > MAX_NODES {
        let rest = ranked.len() - MAX_NODES;
        let max = ranked.get(MAX_NODES).map_or(0.0, |n| n.score);
        let _ = write!(
            out,
            "<p class=\"meta\">{rest} more nodes with score ≤ {} (see the snapshot JSON).</p>",
            fmt_score(max)
        );
    }
    out.push_str("</section>");
}

/// The pods or workloads behind a signal, largest first, as a span.
fn contributors(top: &[Contributor]) -> String {
    if top.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = top
        .iter()
        .map(|c| match c.share {
            Some(f) => format!("<b>{}</b> {:.0}%", esc(&c.name), f * 100.0),
            None => format!("<b>{}</b> {}", esc(&c.name), fmt_num(c.amount)),
        })
        .collect();
    format!("<span class=\"from\">from {}</span>", parts.join(", "))
}

fn workloads(out: &mut String, s: &Snapshot) {
    let mut shown: Vec<_> = s
        .workloads
        .iter()
        .filter(|w| w.level > 0.0 || w.value.is_some())
        .collect();
    if shown.is_empty() {
        return;
    }
    shown.sort_by(|a, b| b.level.partial_cmp(&a.level).unwrap_or(Ordering::Equal));
    out.push_str(
        "<section id=\"workloads\"><h2>Workloads</h2><table><thead><tr><th>Signal</th><th>Subject</th>\
         <th class=\"num\">Value</th><th class=\"num\">Anomaly</th><th>Detail</th></tr></thead><tbody>",
    );
    for w in shown {
        let _ = write!(
            out,
            "<tr class=\"workload\" data-subject=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"score {}\">{}</td><td>{}</td></tr>",
            esc(&w.subject),
            esc(&w.signal),
            esc(&w.subject),
            w.value.map_or("–".to_string(), fmt_num),
            band(w.level),
            fmt_score(w.level),
            esc(&w.detail)
        );
    }
    out.push_str("</tbody></table></section>");
}

fn alerts(out: &mut String, s: &Snapshot) {
    out.push_str("<section id=\"alerts\"><h2>Active alerts</h2>");
    if s.alerts.is_empty() {
        out.push_str("<p class=\"empty\">None.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Alert</th><th>Scope</th><th>Subject</th><th>State</th><th>Severity</th>\
         <th>Since</th><th>Summary</th></tr></thead><tbody>",
    );
    for a in &s.alerts {
        let text = |k: &str| {
            a.annotations
                .get(k)
                .or_else(|| a.labels.get(k))
                .map_or("", String::as_str)
        };
        let summary = match text("summary") {
            "" => text("description"),
            s => s,
        };
        let since = match a.fired_at {
            Some(f) => format!(
                "{} (fired {})",
                human_time(&a.active_since.to_rfc3339()),
                human_time(&f.to_rfc3339())
            ),
            None => human_time(&a.active_since.to_rfc3339()),
        };
        let _ = write!(
            out,
            "<tr class=\"alert\" data-alert=\"{name}\" data-state=\"{state}\"><td><b>{name}</b></td><td>{}</td><td>{}</td>\
             <td><span class=\"badge b-{state}\">{state}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.scope),
            esc(&a.subject),
            esc(text("severity")),
            esc(&since),
            esc(summary),
            name = esc(&a.name),
            state = esc(a.state.as_str()),
        );
    }
    out.push_str("</tbody></table></section>");
}

fn actions(out: &mut String, s: &Snapshot) {
    out.push_str("<section id=\"actions\"><h2>Recent actions</h2>");
    if s.actions.is_empty() {
        out.push_str("<p class=\"empty\">None.</p></section>");
        return;
    }
    out.push_str(
        "<table><thead><tr><th>When</th><th>Action</th><th>Node</th><th>Rule</th>\
         <th class=\"num\">Score</th><th>Reason</th></tr></thead><tbody>",
    );
    // Newest first: the list is kept newest last.
    for a in s.actions.iter().rev() {
        let what = match a.kind {
            ActionKind::Refused => "cordon refused".to_string(),
            k => esc(k.as_str()),
        };
        let _ = write!(
            out,
            "<tr class=\"action\" data-kind=\"{kind}\"><td>{}</td><td><span class=\"badge b-{kind}\">{what}</span></td>\
             <td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&human_time(&a.at.to_rfc3339())),
            esc(&a.node),
            esc(&a.rule),
            fmt_score(a.score),
            esc(&a.reason),
            kind = esc(a.kind.as_str()),
        );
    }
    out.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::NodeView;

    #[test]
    fn a_held_node_says_why() {
        let held = NodeView {
            name: "n1".into(),
            held: Some("expected disruption: termination notice (<x>)".into()),
            ..Default::default()
        };
        let snap = Snapshot {
            nodes: vec![held, NodeView::default()],
            ..Default::default()
        };
        let html = render(Some(&snap), &HashMap::new());
        assert!(
            html.contains("held: expected disruption: termination notice (&lt;x&gt;)"),
            "{html}"
        );
        assert_eq!(html.matches("held: ").count(), 1, "only the held node");
    }
}
