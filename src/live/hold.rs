//! Holding actions while other alerts say the cluster is in a state where
//! nodes look sick for reasons nodewatch must not act on: an upgrade in
//! progress, a zonal outage, a control-plane incident
//! (`governor.hold_while_alerts`).
//!
//! Each tick, the lease holder asks Alertmanager's v2 API for the active,
//! unsilenced, uninhibited alerts and holds every cordon (and so every
//! drain) while one of the named alerts is among them; scoring and alerts
//! go on. It fails closed: when Alertmanager cannot be read, actions are
//! held too ("held: Alertmanager unreadable"), logged once per change and
//! counted, because a hold that silently lapses during the very outage it
//! guards against is worse than a late cordon. The answer is read with a
//! byte cap and a timeout.

use crate::act::HoldSettings;
use crate::outbound::{read_capped, redact_url, redirect_policy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest Alertmanager answer read; more alerts than fit are a problem in
/// themselves, and the hold then holds (fail closed).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// One alert of Alertmanager's `GET /api/v2/alerts`.
#[derive(Deserialize)]
struct Alert {
    labels: BTreeMap<String, String>,
}

/// Polls Alertmanager for the alerts that hold actions.
pub struct AlertHold {
    http: reqwest::Client,
    url: String,
    names: Vec<String>,
    last: Option<String>,
    /// Polls that failed (Alertmanager down or answering garbage).
    pub errors: u64,
}

impl AlertHold {
    /// A hold on `settings.alerts` read from `settings.alertmanager`;
    /// `None` when no alert is named.
    pub fn new(settings: &HoldSettings) -> Option<Self> {
        if settings.alerts.is_empty() {
            return None;
        }
        crate::act::sinks::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout.0.max(1) as u64))
            .redirect(redirect_policy())
            .build()
            .ok()?;
        Some(AlertHold {
            http,
            url: settings.alertmanager.trim_end_matches('/').to_string(),
            names: settings.alerts.clone(),
            last: None,
            errors: 0,
        })
    }

    /// Why actions are held now, or `None`.
    pub async fn check(&mut self) -> Option<String> {
        let reason = match self.firing().await {
            Ok(names) if names.is_empty() => None,
            Ok(names) => Some(format!("held: {} firing in Alertmanager", names.join(", "))),
            Err(e) => {
                self.errors += 1;
                Some(format!("held: Alertmanager unreadable ({e})"))
            }
        };
        if reason != self.last {
            match &reason {
                Some(r) => tracing::warn!("actions {r}"),
                None => tracing::info!("actions no longer held by Alertmanager alerts"),
            }
            self.last = reason.clone();
        }
        reason
    }

    /// The named alerts active now.
    async fn firing(&self) -> Result<Vec<String>, String> {
        let url = format!(
            "{}/api/v2/alerts?active=true&silenced=false&inhibited=false",
            self.url
        );
        let mut resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| redact_url(&e.to_string()))?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let body = read_capped(&mut resp, MAX_BODY)
            .await
            .map_err(|e| redact_url(&e.to_string()))?;
        if body.truncated {
            return Err(format!("answer over {MAX_BODY} bytes"));
        }
        named_active(&body.bytes, &self.names)
    }
}

/// The alert names among `names` in Alertmanager's answer.
fn named_active(body: &[u8], names: &[String]) -> Result<Vec<String>, String> {
    let alerts: Vec<Alert> =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let mut out: Vec<String> = alerts
        .iter()
        .filter_map(|a| a.labels.get("alertname"))
        .filter(|n| names.contains(n))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::slim::{SlimEvent, SlimNode, SlimPod};
    use crate::scenario::rng::Rng;

    /// JSON that means something to serde or to the shapes read here.
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "null",
        "true",
        "1e999",
        "-0",
        "99999999999999999999",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "[[[[[[[[[[[[[[[[",
        "{\"a\":",
        "\"labels\":",
        "\"metadata\":",
        "\"annotations\":{\"nodewatch.io/x\":1}",
        "\"count\":-1",
        "\"conditions\":",
        "é",
        "\n",
    ];

    fn corpus() -> Vec<String> {
        vec![
            r#"[{"labels":{"alertname":"ClusterUpgradeInProgress","cluster":"prod"},"status":{"state":"active"},"startsAt":"2026-12-04T10:00:00Z"}]"#.into(),
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"topology.kubernetes.io/zone":"a"},"annotations":{"nodewatch.io/cordoned-by":"r","other":"x"},"creationTimestamp":"2026-12-04T10:00:00Z"},"spec":{"unschedulable":true,"taints":[{"key":"k","effect":"NoSchedule"}]},"status":{"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-12-04T10:00:00Z"}]}}"#.into(),
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","uid":"u","ownerReferences":[{"kind":"ReplicaSet","name":"r","uid":"x","apiVersion":"apps/v1"}]},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]},"status":{"phase":"Running"}}"#.into(),
            r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"ns","resourceVersion":"7"},"involvedObject":{"kind":"Pod","name":"p","namespace":"ns"},"reason":"FailedSync","message":"m","count":3,"source":{"host":"n1"},"series":{"count":4,"lastObservedTime":"2026-12-04T10:00:00.000000Z"},"lastTimestamp":"2026-12-04T10:00:00Z","type":"Warning"}"#.into(),
        ]
    }

    /// The response paths of the Kubernetes watchers (nodewatch's own
    /// reducing deserializers) and of the Alertmanager hold: mutated real
    /// shapes come back as a value or an error, never a panic.
    #[test]
    fn mutated_api_answers_never_panic() {
        let corpus = corpus();
        let names = vec!["ClusterUpgradeInProgress".to_string()];
        let mut rng = Rng::new(0x6b75_6265_6675_7a7a);
        let mut parsed = 0;
        for i in 0..3000 {
            let text = crate::config::fuzz::mutate(&mut rng, &corpus, TOKENS);
            let r = std::panic::catch_unwind(|| {
                let b = text.as_bytes();
                [
                    named_active(b, &names).is_ok(),
                    serde_json::from_slice::<SlimNode>(b).is_ok(),
                    serde_json::from_slice::<SlimPod>(b).is_ok(),
                    serde_json::from_slice::<SlimEvent>(b).is_ok(),
                ]
                .iter()
                .filter(|ok| **ok)
                .count()
            });
            parsed += r.unwrap_or_else(|_| panic!("input {i} panicked: {text:?}"));
        }
        // Most mutants still parse as something: the run reached past the
        // first byte.
        assert!(parsed > 300, "only {parsed} parsed");
        eprintln!("fuzz: 3000 API answers, {parsed} parsed by some reader");
    }
}
