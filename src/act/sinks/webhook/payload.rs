//! The Alertmanager webhook payload, version 4, so any receiver that takes
//! Alertmanager's webhooks takes nodewatch's: grouping by labels, common
//! labels and annotations, group key, truncation, and the HMAC signature.

use super::super::item::{AlertEvent, AlertStatus};
use hmac::{Hmac, Mac};
use serde::Serialize;
use std::collections::BTreeMap;

/// What Alertmanager prints as `endsAt` of an alert still firing.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One webhook request body (Alertmanager's `webhook.Message`).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// The receiver (the sink's name).
    pub receiver: String,
    /// `firing` when any alert in it fires, else `resolved`.
    pub status: &'static str,
    /// The alerts of the group.
    pub alerts: Vec<WebhookAlert>,
    /// The group's values of the `group_by` labels.
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert shares.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert shares.
    pub common_annotations: BTreeMap<String, String>,
    /// Link back to nodewatch.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// Always `"4"`.
    pub version: &'static str,
    /// Identifies the group across notifications.
    pub group_key: String,
    /// Alerts left out because of `max_alerts`.
    pub truncated_alerts: u64,
}

/// One alert in a payload.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations, including `explanation`.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; the zero time while firing.
    pub ends_at: String,
    /// Link back to nodewatch.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Alertmanager-compatible fingerprint, 16 hex digits.
    pub fingerprint: String,
}

impl WebhookAlert {
    /// The payload form of an alert state.
    pub fn from_event(a: &AlertEvent, generator_url: &str) -> Self {
        WebhookAlert {
            status: a.status.as_str(),
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: a.starts_at.to_rfc3339(),
            ends_at: match (a.status, a.ends_at) {
                (AlertStatus::Resolved, Some(t)) => t.to_rfc3339(),
                _ => ZERO_TIME.to_string(),
            },
            generator_url: generator_url.to_string(),
            fingerprint: a.fingerprint.to_string(),
        }
    }
}

/// Splits alerts into groups by the values of `by` (a missing label groups
/// as empty, as in Alertmanager), in order of first appearance.
pub fn group<'a>(
    alerts: &[&'a AlertEvent],
    by: &[String],
) -> Vec<(BTreeMap<String, String>, Vec<&'a AlertEvent>)> {
    let mut groups: Vec<(BTreeMap<String, String>, Vec<&AlertEvent>)> = Vec::new();
    for a in alerts {
        let key: BTreeMap<String, String> = by
            .iter()
            .filter_map(|l| a.labels.get(l).map(|v| (l.clone(), v.clone())))
            .collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(a),
            None => groups.push((key, vec![a])),
        }
    }
    groups
}

/// Builds one group's payload.
pub fn build(
    receiver: &str,
    group_labels: BTreeMap<String, String>,
    alerts: &[&AlertEvent],
    max_alerts: usize,
    external_url: &str,
) -> Payload {
    let firing = alerts.iter().any(|a| a.status == AlertStatus::Firing);
    let common = |f: fn(&AlertEvent) -> &BTreeMap<String, String>| {
        let mut it = alerts.iter();
        let mut out = it.next().map(|a| f(a).clone()).unwrap_or_default();
        for a in it {
            out.retain(|k, v| f(a).get(k) == Some(v));
        }
        out
    };
    let keep = if max_alerts == 0 {
        alerts.len()
    } else {
        max_alerts.min(alerts.len())
    };
    Payload {
        receiver: receiver.to_string(),
        status: if firing {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
        .as_str(),
        alerts: alerts[..keep]
            .iter()
            .map(|a| WebhookAlert::from_event(a, external_url))
            .collect(),
        common_labels: common(|a| &a.labels),
        common_annotations: common(|a| &a.annotations),
        group_key: format!(
            "{{}}/{{receiver=\"{receiver}\"}}:{}",
            label_set(&group_labels)
        ),
        group_labels,
        external_url: external_url.to_string(),
        version: "4",
        truncated_alerts: (alerts.len() - keep) as u64,
    }
}

/// A label set printed as Alertmanager prints one: `{a="x", b="y"}`.
fn label_set(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length; the error case cannot occur.
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::super::super::fingerprint::Fingerprint;
    use super::*;
    use crate::time::Timestamp;

    fn ev(node: &str, name: &str, status: AlertStatus) -> AlertEvent {
        let labels: BTreeMap<String, String> = [
            ("alertname", name),
            ("node", node),
            ("severity", "critical"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        AlertEvent {
            fingerprint: Fingerprint::of(&labels),
            status,
            name: name.into(),
            scope: "node".into(),
            subject: node.into(),
            annotations: [("explanation".to_string(), format!("{node} is sick"))].into(),
            labels,
            starts_at: Timestamp(1_519_146_000_000),
            ends_at: (status == AlertStatus::Resolved).then_some(Timestamp(1_519_149_600_000)),
        }
    }

    #[test]
    fn groups_by_labels_and_fills_every_v4_field() {
        let a = ev("n1", "NodeUnhealthy", AlertStatus::Firing);
        let b = ev("n2", "NodeUnhealthy", AlertStatus::Resolved);
        let c = ev("n1", "Other", AlertStatus::Resolved);
        let by = vec!["alertname".to_string()];
        let groups = group(&[&a, &b, &c], &by);
        assert_eq!(groups.len(), 2);
        let (labels, members) = &groups[0];
        let p = build("ops", labels.clone(), members, 1, "http://nw:8080");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["receiver"], "ops");
        assert_eq!(v["groupLabels"]["alertname"], "NodeUnhealthy");
        assert_eq!(v["commonLabels"]["severity"], "critical");
        assert!(v["commonLabels"].get("node").is_none());
        assert!(v["commonAnnotations"].get("explanation").is_none());
        assert_eq!(v["truncatedAlerts"], 1);
        assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
        assert_eq!(v["alerts"][0]["endsAt"], ZERO_TIME);
        assert_eq!(v["alerts"][0]["startsAt"], "2018-02-20T17:00:00Z");
        assert_eq!(v["alerts"][0]["fingerprint"], a.fingerprint.to_string());
        assert_eq!(v["externalURL"], "http://nw:8080");
        assert_eq!(
            v["groupKey"],
            "{}/{receiver=\"ops\"}:{alertname=\"NodeUnhealthy\"}"
        );
        let p = build("ops", groups[1].0.clone(), &groups[1].1, 0, "");
        assert_eq!(p.status, "resolved");
        assert_eq!(p.alerts[0].ends_at, "2018-02-20T18:00:00Z");
    }

    #[test]
    fn signature_is_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        let s = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
