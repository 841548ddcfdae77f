//! Alertmanager sink: `POST /api/v2/alerts` to every configured
//! Alertmanager, each with its own queue and task, so users keep their
//! routing, silences and inhibition. Like Prometheus it re-sends every
//! active alert periodically with `endsAt` a few intervals ahead (an
//! Alertmanager that restarted, or missed a POST, learns the state again),
//! and resolves by sending `endsAt` = the resolve time, repeated for a while.

use super::common::{self, Delivery, DeliveryError, Endpoint, Headers, Secret, SecretRef};
use super::fingerprint::Fingerprint;
use super::item::{AlertEvent, AlertStatus, Item};
use super::queue::Queue;
use super::retry::Backoff;
use super::stats::Counters;
use super::{Context, SinkHandle};
use crate::time::{Clock, Duration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::time::Instant;

/// `sinks.alertmanager`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URLs of the Alertmanagers (all of them get every alert, as
    /// with Prometheus).
    pub urls: Vec<Endpoint>,
    /// How often active alerts are re-sent.
    #[serde(default = "one_minute")]
    pub resend_interval: Duration,
    /// How long resolved alerts keep being re-sent.
    #[serde(default = "fifteen_minutes")]
    pub resolved_retention: Duration,
    /// `Authorization: Bearer` token.
    #[serde(default)]
    pub bearer_token: Option<SecretRef>,
    /// Extra headers (values are never logged).
    #[serde(default)]
    pub headers: Headers,
    /// Extra CA certificates (PEM) to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Queue, timeout and retries.
    #[serde(default)]
    pub delivery: Delivery,
}

fn one_minute() -> Duration {
    Duration::mins(1)
}

fn fifteen_minutes() -> Duration {
    Duration::mins(15)
}

impl AlertmanagerConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.urls.is_empty() {
            return Err("urls: give at least one Alertmanager".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for u in &self.urls {
            if !seen.insert(u.authority()) {
                return Err(format!("urls: {} is listed twice", u.authority()));
            }
        }
        if self.resend_interval.0 <= 0 {
            return Err("resend_interval must be positive".into());
        }
        common::parse_headers(&self.headers)?;
        self.delivery.validate()
    }
}

/// One alert in the v2 API's `postableAlerts`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
}

/// What one Alertmanager task knows and needs.
struct Sender {
    name: String,
    url: reqwest::Url,
    client: reqwest::Client,
    token: Option<Secret>,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    clock: Arc<dyn Clock>,
    generator_url: String,
    resend: std::time::Duration,
    retention: std::time::Duration,
    delivery: Delivery,
    active: BTreeMap<Fingerprint, Arc<AlertEvent>>,
    resolved: BTreeMap<Fingerprint, (Arc<AlertEvent>, Instant)>,
}

/// Starts one task per Alertmanager.
pub(super) fn start(cfg: &AlertmanagerConfig, ctx: &Context) -> Result<Vec<SinkHandle>, String> {
    let token = cfg
        .bearer_token
        .as_ref()
        .map(|s| s.resolve("bearer_token"))
        .transpose()?;
    let headers = common::parse_headers(&cfg.headers)?;
    let client = common::http_client(cfg.delivery.timeout_std(), cfg.ca_file.as_ref())?;
    let mut out = Vec::new();
    for url in &cfg.urls {
        let name = format!("alertmanager/{}", url.authority());
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(Queue::new(cfg.delivery.queue_capacity, counters.clone()));
        let sender = Sender {
            name: name.clone(),
            url: url.join_path("api/v2/alerts"),
            client: client.clone(),
            token: token.clone(),
            headers: headers.clone(),
            clock: ctx.clock.clone(),
            generator_url: ctx.external_url.clone(),
            resend: common::to_std(cfg.resend_interval),
            retention: common::to_std(cfg.resolved_retention),
            delivery: cfg.delivery.clone(),
            active: BTreeMap::new(),
            resolved: BTreeMap::new(),
        };
        let task = tokio::spawn(sender.run(queue.clone(), counters.clone()));
        out.push(SinkHandle {
            name,
            kind: "alertmanager",
            accepts: Box::new(|i: &Item| matches!(i, Item::Alert(_))),
            queue,
            counters,
            task,
        });
    }
    Ok(out)
}

impl Sender {
    /// Folds queued alert states into the state, sends on change, re-sends
    /// every `resend`, backs off on failure. Never returns.
    async fn run(mut self, queue: Arc<Queue>, counters: Arc<Counters>) {
        let mut backoff = Backoff::new(&self.delivery.retry);
        let mut dirty = false;
        // Alert states taken from the queue and not yet accepted.
        let mut pending: u64 = 0;
        let mut next_attempt = Instant::now();
        let mut next_resend = Instant::now() + self.resend;
        loop {
            counters.set_in_flight(usize::from(dirty));
            let wake = if dirty {
                next_attempt
            } else {
                next_resend.max(next_attempt)
            };
            tokio::select! {
                batch = queue.pop_batch(self.delivery.max_batch) => {
                    pending += batch.len() as u64;
                    self.apply(batch);
                    dirty = true;
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            let now = Instant::now();
            let retention = self.retention;
            self.resolved
                .retain(|_, (_, at)| now.duration_since(*at) < retention);
            if now < next_attempt || !(dirty || now >= next_resend) {
                continue;
            }
            if self.active.is_empty() && self.resolved.is_empty() {
                dirty = false;
                next_resend = now + self.resend;
                continue;
            }
            let started = std::time::Instant::now();
            match self.post().await {
                Ok(()) => {
                    counters.add_sent(pending, started.elapsed());
                    pending = 0;
                    dirty = false;
                    backoff.reset();
                    next_resend = Instant::now() + self.resend;
                }
                Err(DeliveryError::Permanent(e)) => {
                    tracing::warn!(sink = %self.name, "alerts rejected, not retrying: {e}");
                    counters.set_error(Some(e));
                    counters.add_failed(pending);
                    pending = 0;
                    dirty = false;
                    next_resend = Instant::now() + self.resend;
                }
                Err(DeliveryError::Retryable(e)) => {
                    counters.set_error(Some(e.clone()));
                    let max = self.delivery.retry.max_attempts;
                    if max > 0 && backoff.attempts() + 1 >= max {
                        // The periodic re-send still carries the state.
                        tracing::warn!(sink = %self.name, "send failed {max} times; waiting for the next re-send: {e}");
                        counters.add_failed(pending);
                        pending = 0;
                        dirty = false;
                        backoff.reset();
                        next_resend = Instant::now() + self.resend;
                        continue;
                    }
                    let wait = backoff.next_wait();
                    tracing::warn!(
                        sink = %self.name,
                        "send failed, retrying in {:.1}s: {e}",
                        wait.as_secs_f64()
                    );
                    counters.add_retried();
                    next_attempt = Instant::now() + wait;
                }
            }
        }
    }

    fn apply(&mut self, batch: Vec<Item>) {
        let now = Instant::now();
        for item in batch {
            let Item::Alert(a) = item else { continue };
            match a.status {
                AlertStatus::Firing => {
                    self.resolved.remove(&a.fingerprint);
                    self.active.insert(a.fingerprint, a);
                }
                AlertStatus::Resolved => {
                    self.active.remove(&a.fingerprint);
                    self.resolved.insert(a.fingerprint, (a, now));
                }
            }
        }
    }

    /// One POST of every active and recently resolved alert.
    async fn post(&self) -> Result<(), DeliveryError> {
        // Valid for four re-send intervals, as Prometheus does, so a missed
        // re-send or two does not resolve the alert in Alertmanager.
        let valid_until = self
            .clock
            .now()
            .add(Duration((self.resend.as_millis() as i64).saturating_mul(4)));
        let alerts: Vec<PostableAlert> = self
            .active
            .values()
            .map(|a| self.postable(a, valid_until.max(a.starts_at)))
            .chain(
                self.resolved
                    .values()
                    .map(|(a, _)| self.postable(a, a.ends_at.unwrap_or(a.starts_at))),
            )
            .collect();
        let req = self
            .client
            .post(self.url.clone())
            .timeout(self.delivery.timeout_std())
            .json(&alerts);
        let req = common::with_auth(req, self.token.as_ref(), &self.headers);
        let timeout = self.delivery.timeout_std();
        match tokio::time::timeout(timeout, common::send(req)).await {
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(DeliveryError::Retryable(format!(
                "no answer within the timeout ({})",
                self.delivery.timeout
            ))),
        }
    }

    fn postable<'a>(&'a self, a: &'a AlertEvent, ends_at: Timestamp) -> PostableAlert<'a> {
        PostableAlert {
            labels: &a.labels,
            annotations: &a.annotations,
            starts_at: a.starts_at.to_rfc3339(),
            ends_at: ends_at.to_rfc3339(),
            generator_url: &self.generator_url,
        }
    }
}
