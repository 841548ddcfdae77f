//! Alertmanager sink: `POST /api/v2/alerts` to every configured
//! Alertmanager, each with its own queue and task, so users keep their
//! routing, silences and inhibition. Like Prometheus it re-sends every
//! active alert periodically with `endsAt` a few intervals ahead (an
//! Alertmanager that restarted, or missed a POST, learns the state again),
//! and resolves by sending `endsAt` = the resolve time, repeated for a while.

mod validate;

use super::common::{self, Delivery, DeliveryError, Endpoint, Headers, Secret, SecretRef};
use super::fingerprint::Fingerprint;
use super::item::{AlertEvent, AlertStatus, Item};
use super::queue::Queue;
use super::retry::Backoff;
use super::stats::Counters;
use super::{Context, SinkHandle, SinkKind};
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

impl SinkKind for AlertmanagerConfig {
    fn name(&self) -> Option<&str> {
        None
    }

    fn receivers(&self) -> usize {
        self.urls.len()
    }

    fn start(&self, ctx: &Context) -> Result<Vec<SinkHandle>, String> {
        start(self, ctx)
    }

    fn validate(&self) -> Result<(), String> {
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
    /// Alert states taken from the queue and not yet accounted for.
    pending: BTreeMap<Fingerprint, u64>,
    /// Alerts Alertmanager refused (or would): never sent again.
    rejected: validate::Rejected,
}

/// Starts one task per Alertmanager.
fn start(cfg: &AlertmanagerConfig, ctx: &Context) -> Result<Vec<SinkHandle>, String> {
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
            pending: BTreeMap::new(),
            rejected: validate::Rejected::default(),
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
                    self.apply(batch, &counters);
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
            let mut res = self.post(None).await;
            if matches!(&res, Err(DeliveryError::Permanent(e)) if e.starts_with("HTTP 400"))
                && self.active.len() + self.resolved.len() > 1
            {
                // Alertmanager refuses the whole batch for one bad alert
                // (and stores the good ones anyway): find the bad ones
                // alone, so the others are not counted as failed.
                res = self.post_each(&counters).await;
            }
            match res {
                Ok(()) => {
                    counters.add_sent(self.take_pending(), started.elapsed());
                    dirty = false;
                    backoff.reset();
                    next_resend = Instant::now() + self.resend;
                }
                Err(DeliveryError::Permanent(e)) => {
                    tracing::warn!(sink = %self.name, "alerts rejected, not retrying: {e}");
                    counters.set_error(Some(e));
                    counters.add_failed(self.take_pending());
                    dirty = false;
                    next_resend = Instant::now() + self.resend;
                }
                Err(DeliveryError::Retryable(e)) => {
                    counters.set_error(Some(e.clone()));
                    let max = self.delivery.retry.max_attempts;
                    if max > 0 && backoff.attempts() + 1 >= max {
                        // The periodic re-send still carries the state.
                        tracing::warn!(sink = %self.name, "send failed {max} times; waiting for the next re-send: {e}");
                        counters.add_failed(self.take_pending());
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

    /// Alert states taken from the queue and not yet accounted for; clears
    /// them.
    fn take_pending(&mut self) -> u64 {
        std::mem::take(&mut self.pending).into_values().sum()
    }

    /// Posts every alert alone after a batch was refused; drops (and
    /// counts as failed) the ones Alertmanager rejects, so they are not
    /// re-sent. Stops at the first retryable failure.
    async fn post_each(&mut self, counters: &Counters) -> Result<(), DeliveryError> {
        let all: Vec<Fingerprint> = self
            .active
            .keys()
            .chain(self.resolved.keys())
            .copied()
            .collect();
        for fp in all {
            match self.post(Some(fp)).await {
                Ok(()) => {}
                Err(DeliveryError::Permanent(e)) => {
                    let labels = self
                        .active
                        .get(&fp)
                        .or(self.resolved.get(&fp).map(|(a, _)| a))
                        .map(|a| a.labels.clone())
                        .unwrap_or_default();
                    tracing::warn!(sink = %self.name, "alert {labels:?} rejected, dropped: {e}");
                    counters.set_error(Some(e));
                    self.active.remove(&fp);
                    self.resolved.remove(&fp);
                    let n = self.pending.remove(&fp).unwrap_or(0).max(1);
                    counters.add_failed(n);
                    self.rejected.insert(fp);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Folds queued states in. An alert Alertmanager would refuse (a label
    /// name it rejects), or refused before, is counted as failed here and
    /// never joins a batch, where it would fail the others.
    fn apply(&mut self, batch: Vec<Item>, counters: &Counters) {
        let now = Instant::now();
        for item in batch {
            let Item::Alert(a) = item else { continue };
            let problem = validate::problem(&a.labels);
            if problem.is_some() || self.rejected.contains(&a.fingerprint) {
                if let Some(p) = problem {
                    if self.rejected.insert(a.fingerprint) {
                        tracing::warn!(
                            sink = %self.name,
                            alert = %a.name,
                            "alert not sent, Alertmanager would reject it: {p}"
                        );
                    }
                }
                counters.add_failed(1);
                continue;
            }
            *self.pending.entry(a.fingerprint).or_default() += 1;
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

    /// One POST of every active and recently resolved alert (`only`: of
    /// that one alone).
    async fn post(&self, only: Option<Fingerprint>) -> Result<(), DeliveryError> {
        // Valid for four re-send intervals, as Prometheus does, so a missed
        // re-send or two does not resolve the alert in Alertmanager.
        let valid_until = self
            .clock
            .now()
            .add(Duration((self.resend.as_millis() as i64).saturating_mul(4)));
        let wanted = |fp: &Fingerprint| only.is_none_or(|o| o == *fp);
        let alerts: Vec<PostableAlert> = self
            .active
            .iter()
            .filter(|(fp, _)| wanted(fp))
            .map(|(_, a)| self.postable(a, valid_until.max(a.starts_at)))
            .chain(
                self.resolved
                    .iter()
                    .filter(|(fp, _)| wanted(fp))
                    .map(|(_, (a, _))| self.postable(a, a.ends_at.unwrap_or(a.starts_at))),
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
