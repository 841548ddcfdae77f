//! The [`Dispatcher`]: the live [`Notifier`]. `notify` turns an alert
//! transition into an [`AlertEvent`] (fingerprint; the firing state's start
//! and annotations carried over to its resolution) and pushes it onto the
//! queue of every sink that takes it. It never waits: each sink's own task
//! delivers.

use super::fingerprint::Fingerprint;
use super::item::{AlertEvent, AlertStatus, Item};
use super::{Context, SinkError, SinkHandle, SinksConfig};
use crate::act::{Notification, Notifier};
use crate::model::AlertState;
use crate::state::{ActionRecord, SinkStats};
use crate::time::{Clock, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Fans alert states and actions out to the configured sinks.
pub struct Dispatcher {
    sinks: Vec<SinkHandle>,
    clock: Arc<dyn Clock>,
    /// Start and annotations of each firing alert, for its resolution.
    firing: HashMap<Fingerprint, (Timestamp, BTreeMap<String, String>)>,
    actions: u64,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("sinks", &self.sink_names())
            .finish()
    }
}

impl Dispatcher {
    /// Validates `cfg`, reads its secrets and starts one task per sink.
    /// Must be called inside a tokio runtime.
    pub fn start(cfg: &SinksConfig, clock: Arc<dyn Clock>) -> Result<Dispatcher, SinkError> {
        cfg.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SinkError::NoRuntime);
        }
        super::install_crypto_provider();
        let ctx = Context {
            external_url: cfg
                .external_url
                .as_ref()
                .map(|u| u.0.as_str().trim_end_matches('/').to_string())
                .unwrap_or_default(),
            clock: clock.clone(),
        };
        let err = |field: String| move |message: String| SinkError::Config { field, message };
        // On an error the handles started so far are dropped, which aborts
        // their tasks.
        let mut sinks = Vec::new();
        for c in cfg.each() {
            sinks.extend(c.sink.start(&ctx).map_err(err(c.field))?);
        }
        for s in &sinks {
            tracing::info!(sink = %s.name, "notification sink started");
        }
        Ok(Dispatcher {
            sinks,
            clock,
            firing: HashMap::new(),
            actions: 0,
        })
    }

    /// Names of the running sinks (`kind/name`), the keys of [`Self::stats`].
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.name.clone()).collect()
    }

    /// Delivery counters per sink.
    pub fn stats(&self) -> BTreeMap<String, SinkStats> {
        self.sinks
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.counters.snapshot(s.kind, s.queue.capacity()),
                )
            })
            .collect()
    }

    /// Hands a cordon, uncordon or refusal to the sinks that report actions
    /// (email, Grafana). Never waits.
    pub fn annotate_action(&mut self, record: &ActionRecord) {
        self.actions += 1;
        self.route(Item::Action(self.actions, Arc::new(record.clone())));
    }

    /// Waits until every sink has delivered (or given up on) everything
    /// queued, at most `within`; true when they all have.
    pub async fn flush(&self, within: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.sinks.iter().all(SinkHandle::idle) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn route(&self, item: Item) {
        for s in &self.sinks {
            if (s.accepts)(&item) {
                s.queue.push(item.clone());
            }
        }
    }

    /// The alert lifecycle: fingerprint, and the firing state's start and
    /// annotations kept for the resolution (the engine's resolved view
    /// carries neither).
    fn event(&mut self, n: Notification) -> AlertEvent {
        let a = n.alert;
        let fingerprint = Fingerprint::of(&a.labels);
        let (status, starts_at, annotations, ends_at) = if n.status == AlertState::Resolved {
            let (starts, annotations) = self
                .firing
                .remove(&fingerprint)
                .unwrap_or_else(|| (a.fired_at.unwrap_or(a.active_since), a.annotations));
            let ends = n.ends_at.unwrap_or_else(|| self.clock.now());
            (AlertStatus::Resolved, starts, annotations, Some(ends))
        } else {
            let starts = a.fired_at.unwrap_or(a.active_since);
            self.firing
                .insert(fingerprint, (starts, a.annotations.clone()));
            (AlertStatus::Firing, starts, a.annotations, None)
        };
        AlertEvent {
            fingerprint,
            status,
            name: a.name,
            scope: a.scope,
            subject: a.subject,
            labels: a.labels,
            annotations,
            starts_at,
            ends_at,
        }
    }
}

impl Notifier for Dispatcher {
    fn notify(&mut self, n: Notification) {
        let event = self.event(n);
        self.route(Item::Alert(Arc::new(event)));
    }

    fn record_action(&mut self, action: &ActionRecord) {
        self.annotate_action(action);
    }

    fn sink_stats(&self) -> BTreeMap<String, SinkStats> {
        self.stats()
    }
}
