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
        let alerts: Vec<Alert> =
            serde_json::from_slice(&body.bytes).map_err(|e| format!("unreadable answer: {e}"))?;
        let mut out: Vec<String> = alerts
            .iter()
            .filter_map(|a| a.labels.get("alertname"))
            .filter(|n| self.names.contains(n))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}
