//! Notification sinks: Alertmanager, webhooks, email and Grafana
//! annotations, behind the [`Dispatcher`] (a [`crate::act::Notifier`]).
//!
//! Layout follows vector: one folder per sink with its config and logic;
//! the shared parts are the bounded coalescing [`queue`], [`retry`]
//! backoff, alert [`fingerprint`]s and the [`worker`] that drives a sink.
//! Each sink runs in its own tokio task off its own queue, so a slow or
//! dead receiver never blocks scoring or the other sinks.

pub mod alertmanager;
pub mod common;
mod dispatcher;
pub mod email;
pub mod fingerprint;
pub mod grafana;
pub mod item;
pub mod queue;
pub mod retry;
pub mod stats;
pub mod webhook;
pub mod worker;

pub use crate::state::SinkStats;
pub use alertmanager::AlertmanagerConfig;
pub use common::{Delivery, Endpoint, SecretRef};
pub use dispatcher::Dispatcher;
pub use email::{EmailConfig, SmtpConfig, SmtpTls};
pub use fingerprint::Fingerprint;
pub use grafana::GrafanaConfig;
pub use retry::RetryConfig;
pub use webhook::WebhookConfig;

use crate::time::Clock;
use item::Item;
use queue::Queue;
use serde::Deserialize;
use stats::Counters;
use std::collections::BTreeSet;
use std::sync::Arc;
use worker::{Deliver, WorkerOptions};

/// The `sinks:` section of the config file. Every part is optional; with
/// none configured nothing is sent.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// nodewatch's own URL (status page): `externalURL` and `generatorURL`
    /// in payloads, and the link in emails.
    pub external_url: Option<Endpoint>,
    /// Alertmanagers to send alerts to (its v2 API).
    pub alertmanager: Option<AlertmanagerConfig>,
    /// Webhook receivers (Alertmanager webhook payload, version 4).
    pub webhooks: Vec<WebhookConfig>,
    /// Email receivers.
    pub email: Vec<EmailConfig>,
    /// Grafana instances to annotate.
    pub grafana: Vec<GrafanaConfig>,
}

/// A sink configuration or start-up problem.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A setting is wrong; `field` is its path, e.g. `sinks.webhooks[0]`.
    #[error("{field}: {message}")]
    Config {
        /// Path of the offending setting.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Sinks run as tokio tasks.
    #[error("notification sinks must be started inside a tokio runtime")]
    NoRuntime,
}

impl SinksConfig {
    /// Whether no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.alertmanager.is_none()
            && self.webhooks.is_empty()
            && self.email.is_empty()
            && self.grafana.is_empty()
    }

    /// Checks what parsing cannot: names, value ranges, combinations.
    /// Secrets are read only when the sinks start. The first problem of
    /// [`problems`](Self::problems).
    pub fn validate(&self) -> Result<(), SinkError> {
        match self.problems().into_iter().next() {
            Some((field, message)) => Err(SinkError::Config { field, message }),
            None => Ok(()),
        }
    }

    /// Every problem `(field, message)`, in file order (the config's
    /// validation reports them all).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(am) = &self.alertmanager {
            if let Err(m) = am.validate() {
                out.push(("sinks.alertmanager".to_string(), m));
            }
        }
        let mut check = |kind: &str,
                         i: usize,
                         name: &str,
                         names: &mut BTreeSet<String>,
                         r: Result<(), String>| {
            let field = format!("sinks.{kind}[{i}]");
            if let Err(m) = r {
                out.push((field.clone(), m));
            }
            if !names.insert(name.to_string()) {
                out.push((field, format!("name {name:?} is used twice")));
            }
        };
        let mut names = BTreeSet::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            check("webhooks", i, &w.name, &mut names, w.validate());
        }
        names.clear();
        for (i, e) in self.email.iter().enumerate() {
            check("email", i, &e.name, &mut names, e.validate());
        }
        names.clear();
        for (i, g) in self.grafana.iter().enumerate() {
            check("grafana", i, &g.name, &mut names, g.validate());
        }
        out
    }
}

/// Installs ring as rustls' process-wide crypto provider, once. Another
/// part of the agent may have installed it first; that is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What every sink gets when it starts.
#[derive(Clone)]
pub(crate) struct Context {
    /// `external_url`, or empty.
    pub external_url: String,
    /// Time for payload timestamps (`endsAt` of firing alerts).
    pub clock: Arc<dyn Clock>,
}

/// Which items a sink takes.
pub(crate) type Accepts = Box<dyn Fn(&Item) -> bool + Send + Sync>;

/// A running sink: its queue, counters and task.
pub(crate) struct SinkHandle {
    pub name: String,
    pub kind: &'static str,
    pub accepts: Accepts,
    pub queue: Arc<Queue>,
    pub counters: Arc<Counters>,
    pub task: tokio::task::JoinHandle<()>,
}

impl SinkHandle {
    /// Spawns a grouping sink's worker.
    pub fn spawn<S: Deliver>(
        kind: &'static str,
        opts: WorkerOptions,
        accepts: Accepts,
        sink: S,
    ) -> SinkHandle {
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(Queue::new(opts.delivery.queue_capacity, counters.clone()));
        let name = opts.name.clone();
        let task = tokio::spawn(worker::run(sink, queue.clone(), counters.clone(), opts));
        SinkHandle {
            name,
            kind,
            accepts,
            queue,
            counters,
            task,
        }
    }

    /// Nothing queued and nothing being delivered.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.counters.in_flight() == 0
    }
}

impl Drop for SinkHandle {
    /// Stops the task: a dropped dispatcher leaves nothing running.
    fn drop(&mut self) {
        self.task.abort();
    }
}
