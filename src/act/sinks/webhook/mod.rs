//! Webhook sink: POSTs the Alertmanager webhook payload (version 4) to a
//! URL, one request per group of alerts (`group_by`, default node and
//! alertname), with an optional bearer token, custom headers and an
//! `X-Nodewatch-Signature: sha256=<hex>` HMAC of the body.

pub mod payload;

use super::common::{self, Delivery, DeliveryError, Endpoint, Headers, Secret, SecretRef};
use super::item::{Item, Key};
use super::worker::{Deliver, Outgoing, WorkerOptions};
use super::{Context, SinkHandle, SinkKind};
use crate::time::Duration;
use serde::Deserialize;
use std::path::PathBuf;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Nodewatch-Signature";

/// One webhook receiver (`sinks.webhooks[]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver name: `receiver` in the payload and the sink's name.
    pub name: String,
    /// Where to POST.
    pub url: Endpoint,
    /// Labels that group alerts into one request.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
    /// Most alerts per request (`0`: all); the rest are counted in
    /// `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: usize,
    /// Also notify resolutions.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// `Authorization: Bearer` token.
    #[serde(default)]
    pub bearer_token: Option<SecretRef>,
    /// Key of the HMAC-SHA256 body signature header.
    #[serde(default)]
    pub hmac_secret: Option<SecretRef>,
    /// Extra headers (values are never logged).
    #[serde(default)]
    pub headers: Headers,
    /// Extra CA certificates (PEM) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Wait after the first alert for others to group with it.
    #[serde(default)]
    pub group_wait: Duration,
    /// Re-notify alerts still firing this often (`0`: never).
    #[serde(default = "four_hours")]
    pub repeat_interval: Duration,
    /// Queue, timeout and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

fn default_group_by() -> Vec<String> {
    vec!["node".into(), "alertname".into()]
}

fn yes() -> bool {
    true
}

pub(super) fn four_hours() -> Duration {
    Duration::mins(240)
}

impl SinkKind for WebhookConfig {
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn start(&self, ctx: &Context) -> Result<Vec<SinkHandle>, String> {
        start(self, ctx).map(|h| vec![h])
    }

    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name must not be empty".into());
        }
        common::parse_headers(&self.headers)?;
        self.delivery.validate()
    }
}

/// A running webhook sink's state.
struct WebhookSink {
    receiver: String,
    url: reqwest::Url,
    client: reqwest::Client,
    token: Option<Secret>,
    hmac: Option<Secret>,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    group_by: Vec<String>,
    max_alerts: usize,
    external_url: String,
}

/// Starts the sink's task.
fn start(cfg: &WebhookConfig, ctx: &Context) -> Result<SinkHandle, String> {
    let resolve = |s: &Option<SecretRef>, what: &str| -> Result<Option<Secret>, String> {
        s.as_ref().map(|s| s.resolve(what)).transpose()
    };
    let sink = WebhookSink {
        receiver: cfg.name.clone(),
        url: cfg.url.0.clone(),
        client: common::http_client(cfg.delivery.timeout_std(), cfg.ca_file.as_ref())?,
        token: resolve(&cfg.bearer_token, "bearer_token")?,
        hmac: resolve(&cfg.hmac_secret, "hmac_secret")?,
        headers: common::parse_headers(&cfg.headers)?,
        group_by: cfg.group_by.clone(),
        max_alerts: cfg.max_alerts,
        external_url: ctx.external_url.clone(),
    };
    let send_resolved = cfg.send_resolved;
    let opts = WorkerOptions {
        name: format!("webhook/{}", cfg.name),
        delivery: cfg.delivery.clone(),
        group_wait: common::to_std(cfg.group_wait),
        repeat_interval: (cfg.repeat_interval.0 > 0).then(|| common::to_std(cfg.repeat_interval)),
    };
    Ok(SinkHandle::spawn(
        "webhook",
        opts,
        Box::new(move |i: &Item| {
            matches!(i, Item::Alert(_)) && (send_resolved || !i.is_resolution())
        }),
        sink,
    ))
}

impl Deliver for WebhookSink {
    type Message = Vec<u8>;

    fn render(&mut self, batch: &[Item], _repeat: bool) -> Vec<Outgoing<Vec<u8>>> {
        let alerts: Vec<_> = batch
            .iter()
            .filter_map(|i| match i {
                Item::Alert(a) => Some(a.as_ref()),
                Item::Action(..) => None,
            })
            .collect();
        payload::group(&alerts, &self.group_by)
            .into_iter()
            .filter_map(|(labels, members)| {
                let p = payload::build(
                    &self.receiver,
                    labels,
                    &members,
                    self.max_alerts,
                    &self.external_url,
                );
                match serde_json::to_vec(&p) {
                    Ok(body) => Some(Outgoing {
                        message: body,
                        keys: members.iter().map(|a| Key::Alert(a.fingerprint)).collect(),
                        items: members.len() as u64,
                    }),
                    Err(e) => {
                        tracing::error!(sink = %self.receiver, "cannot encode payload: {e}");
                        None
                    }
                }
            })
            .collect()
    }

    async fn deliver<'a>(&'a mut self, body: &'a Vec<u8>) -> Result<(), DeliveryError> {
        let mut req = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(key) = &self.hmac {
            req = req.header(
                SIGNATURE_HEADER,
                payload::signature(key.expose().as_bytes(), body),
            );
        }
        let req = common::with_auth(req, self.token.as_ref(), &self.headers).body(body.clone());
        common::send(req).await.map(|_| ())
    }
}
