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

/// What each kind of sink's config implements, so the kinds are listed in
/// one place ([`SinksConfig::each`]) and validation, start-up and `check`'s
/// summary iterate over them: a new sink is its folder, its field in
/// [`SinksConfig`] and one line in `each`.
pub(crate) trait SinkKind {
    /// The receiver's `name:`, unique within its kind (`None`: the kind has
    /// one entry, not a list).
    fn name(&self) -> Option<&str>;
    /// How many receivers the entry addresses (Alertmanager: its URLs).
    fn receivers(&self) -> usize {
        1
    }
    /// Checks what parsing cannot: values, combinations. Secrets are read
    /// only when the sink starts.
    fn validate(&self) -> Result<(), String>;
    /// Reads the secrets and starts one task per receiver.
    fn start(&self, ctx: &Context) -> Result<Vec<SinkHandle>, String>;
}

/// One configured entry of the `sinks:` section.
pub(crate) struct Configured<'a> {
    /// The kind, as the section's key (`webhooks`, `email`, …).
    pub kind: &'static str,
    /// Where it is in the file, e.g. `sinks.webhooks[0]`.
    pub field: String,
    /// Its config.
    pub sink: &'a dyn SinkKind,
}

impl SinksConfig {
    /// Every configured entry in file order: the one place that lists the
    /// kinds of sink.
    pub(crate) fn each(&self) -> Vec<Configured<'_>> {
        fn list<'a, T: SinkKind>(out: &mut Vec<Configured<'a>>, kind: &'static str, all: &'a [T]) {
            out.extend(all.iter().enumerate().map(|(i, sink)| Configured {
                kind,
                field: format!("sinks.{kind}[{i}]"),
                sink: sink as &dyn SinkKind,
            }));
        }
        let mut out = Vec::new();
        if let Some(am) = &self.alertmanager {
            let field = "sinks.alertmanager".to_string();
            out.push(Configured {
                kind: "alertmanager",
                field,
                sink: am,
            });
        }
        list(&mut out, "webhooks", &self.webhooks);
        list(&mut out, "email", &self.email);
        list(&mut out, "grafana", &self.grafana);
        out
    }

    /// Whether no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.each().is_empty()
    }

    /// Receivers per kind, e.g. `2 alertmanager, 1 webhooks` (`none`).
    pub fn summary(&self) -> String {
        let mut count: Vec<(&str, usize)> = Vec::new();
        for c in self.each() {
            match count.iter_mut().find(|(k, _)| *k == c.kind) {
                Some((_, n)) => *n += c.sink.receivers(),
                None => count.push((c.kind, c.sink.receivers())),
            }
        }
        if count.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = count.iter().map(|(k, n)| format!("{n} {k}")).collect();
        parts.join(", ")
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
        let mut names = BTreeSet::new();
        for c in self.each() {
            if let Err(m) = c.sink.validate() {
                out.push((c.field.clone(), m));
            }
            if let Some(name) = c.sink.name() {
                if !names.insert((c.kind, name)) {
                    out.push((c.field, format!("name {name:?} is used twice")));
                }
            }
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

#[cfg(test)]
mod tests {
    use super::SinksConfig;

    #[test]
    fn every_kind_is_listed_once_in_file_order() {
        let cfg: SinksConfig = serde_yaml::from_str(
            "alertmanager: {urls: [http://a:9093, http://b:9093]}\n\
             webhooks: [{name: x, url: http://w}, {name: x, url: http://v}]\n\
             grafana: [{name: x, url: http://g, token: {env: T}}]\n",
        )
        .unwrap();
        let fields: Vec<String> = cfg.each().into_iter().map(|c| c.field).collect();
        let want = [
            "sinks.alertmanager",
            "sinks.webhooks[0]",
            "sinks.webhooks[1]",
            "sinks.grafana[0]",
        ];
        assert_eq!(fields, want);
        assert_eq!(cfg.summary(), "2 alertmanager, 2 webhooks, 1 grafana");
        // A name is unique within its kind only: grafana's "x" is fine.
        let problems = cfg.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "sinks.webhooks[1]");
        assert_eq!(SinksConfig::default().summary(), "none");
        assert!(SinksConfig::default().is_empty() && !cfg.is_empty());
    }
}
