//! What an email says: one message per node (or per workload subject, or
//! the cluster), a subject a person can read in a mail list, and a body
//! that explains why (the `explanation` annotation: which signals, how far
//! from which baseline) and what nodewatch did or refused to do.

use super::super::item::{AlertEvent, AlertStatus, Item};
use crate::model::{ActionKind, ActionRecord};
use std::fmt::Write;

/// A rendered email, before addressing.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Splits items into groups: the node for node alerts and actions, else
/// the alert's subject. Order of first appearance.
pub fn group(items: &[Item]) -> Vec<(String, Vec<&Item>)> {
    let mut groups: Vec<(String, Vec<&Item>)> = Vec::new();
    for item in items {
        let key = match item {
            Item::Alert(a) => a.node().unwrap_or(&a.subject).to_string(),
            Item::Action(_, r) => r.node.clone(),
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(item),
            None => groups.push((key, vec![item])),
        }
    }
    groups
}

/// Renders one group.
pub fn render(prefix: &str, group: &str, items: &[&Item], repeat: bool, link: &str) -> Rendered {
    let alerts: Vec<&AlertEvent> = items
        .iter()
        .filter_map(|i| match i {
            Item::Alert(a) => Some(a.as_ref()),
            Item::Action(..) => None,
        })
        .collect();
    let actions: Vec<&ActionRecord> = items
        .iter()
        .filter_map(|i| match i {
            Item::Action(_, r) => Some(r.as_ref()),
            Item::Alert(_) => None,
        })
        .collect();
    Rendered {
        subject: subject(prefix, group, &alerts, &actions, repeat),
        body: body(group, &alerts, &actions, repeat, link),
    }
}

fn action_phrase(r: &ActionRecord) -> &'static str {
    match r.kind {
        ActionKind::Cordon => "cordoned",
        ActionKind::Uncordon => "uncordoned",
        ActionKind::Refused => "would cordon, refused",
    }
}

fn subject(
    prefix: &str,
    group: &str,
    alerts: &[&AlertEvent],
    actions: &[&ActionRecord],
    repeat: bool,
) -> String {
    let firing = alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Firing)
        .count();
    let resolved = alerts.len() - firing;
    let mut s = match alerts {
        [] => String::new(),
        [a] => {
            let status = match (a.status, repeat) {
                (AlertStatus::Firing, true) => "STILL FIRING",
                (AlertStatus::Firing, false) => "FIRING",
                (AlertStatus::Resolved, _) => "RESOLVED",
            };
            format!("{status}: {} on {group}", a.name)
        }
        _ => {
            let mut names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
            names.dedup();
            format!(
                "{group}: {firing} firing, {resolved} resolved ({})",
                names.join(", ")
            )
        }
    };
    let mut did: Vec<&str> = actions.iter().map(|r| action_phrase(r)).collect();
    did.dedup();
    if !did.is_empty() {
        if s.is_empty() {
            s = format!("{group}: {}", did.join(", "));
        } else {
            let _ = write!(s, " ({})", did.join(", "));
        }
    }
    let prefix = prefix.trim();
    if prefix.is_empty() {
        s
    } else {
        format!("{prefix} {s}")
    }
}

fn body(
    group: &str,
    alerts: &[&AlertEvent],
    actions: &[&ActionRecord],
    repeat: bool,
    link: &str,
) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "nodewatch about {group}");
    if repeat {
        let _ = writeln!(b, "(a reminder: these alerts are still firing)");
    }
    for a in alerts {
        let _ = writeln!(b);
        let severity = a.labels.get("severity").map_or("", String::as_str);
        let _ = writeln!(
            b,
            "{} {} (severity {severity}, {} alert)",
            a.status.as_str().to_uppercase(),
            a.name,
            a.scope
        );
        match (a.status, a.ends_at) {
            (AlertStatus::Resolved, Some(end)) => {
                let _ = writeln!(b, "  firing from {} to {end}", a.starts_at);
            }
            _ => {
                let _ = writeln!(b, "  firing since {}", a.starts_at);
            }
        }
        let summary = a.annotations.get("summary");
        let why = a.annotations.get("explanation");
        if let Some(s) = summary {
            let _ = writeln!(b, "  {s}");
        }
        if let Some(w) = why.filter(|w| !w.is_empty()) {
            let _ = writeln!(b, "  Why: {w}");
        }
        if let Some(d) = a.annotations.get("description") {
            if Some(d) != why && Some(d) != summary && !d.is_empty() {
                let _ = writeln!(b, "  {d}");
            }
        }
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(b, "  Labels: {}", labels.join(", "));
        let _ = writeln!(b, "  Fingerprint: {}", a.fingerprint);
    }
    if !actions.is_empty() {
        let _ = writeln!(b, "\nWhat nodewatch did:");
        for r in actions {
            let rule = if r.rule.is_empty() {
                String::new()
            } else {
                format!(" (rule {}, score {:.2})", r.rule, r.score)
            };
            let _ = writeln!(
                b,
                "  {} {} {}{rule}: {}",
                r.at,
                action_phrase(r),
                r.node,
                r.reason
            );
        }
    }
    if !link.is_empty() {
        let _ = writeln!(b, "\nStatus page: {link}");
    }
    b
}

#[cfg(test)]
mod tests {
    use super::super::super::fingerprint::Fingerprint;
    use super::*;
    use crate::time::Timestamp;
    use std::sync::Arc;

    fn alert(status: AlertStatus) -> Item {
        let labels = [
            ("alertname", "NodeUnhealthy"),
            ("node", "n1"),
            ("severity", "critical"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Item::Alert(Arc::new(AlertEvent {
            fingerprint: Fingerprint::of(&labels),
            status,
            name: "NodeUnhealthy".into(),
            scope: "node".into(),
            subject: "n1".into(),
            labels,
            annotations: [
                ("summary".to_string(), "Node n1 looks sick".to_string()),
                (
                    "explanation".to_string(),
                    "threads 7012 vs baseline 310".to_string(),
                ),
                (
                    "description".to_string(),
                    "threads 7012 vs baseline 310".to_string(),
                ),
            ]
            .into(),
            starts_at: Timestamp(0),
            ends_at: None,
        }))
    }

    fn action(kind: ActionKind, reason: &str) -> Item {
        Item::Action(
            1,
            Arc::new(ActionRecord {
                at: Timestamp(0),
                node: "n1".into(),
                kind,
                rule: "NodeUnhealthy".into(),
                reason: reason.into(),
                score: 0.93,
            }),
        )
    }

    #[test]
    fn subject_and_body_say_what_why_and_what_was_done() {
        let items = [
            alert(AlertStatus::Firing),
            action(
                ActionKind::Refused,
                "would cordon, refused because max fraction",
            ),
        ];
        let groups = group(&items);
        assert_eq!(groups.len(), 1);
        let r = render(
            "[nodewatch]",
            &groups[0].0,
            &groups[0].1,
            false,
            "http://nw/",
        );
        assert_eq!(
            r.subject,
            "[nodewatch] FIRING: NodeUnhealthy on n1 (would cordon, refused)"
        );
        assert!(
            r.body.contains("Why: threads 7012 vs baseline 310"),
            "{}",
            r.body
        );
        // The description repeats the explanation: printed once.
        assert_eq!(r.body.matches("threads 7012").count(), 1, "{}", r.body);
        assert!(r.body.contains("refused because max fraction"));
        assert!(r.body.contains("(rule NodeUnhealthy, score 0.93)"));
        assert!(r.body.contains("Status page: http://nw/"));
        let r = render(
            "",
            "n1",
            &[&action(ActionKind::Cordon, "score 1")],
            false,
            "",
        );
        assert_eq!(r.subject, "n1: cordoned");
        let a = alert(AlertStatus::Firing);
        assert_eq!(
            render("[nw]", "n1", &[&a], true, "").subject,
            "[nw] STILL FIRING: NodeUnhealthy on n1"
        );
    }
}
