//! The task behind each grouping sink (webhook, email, Grafana): takes
//! batches from the sink's queue, keeps the latest state per alert, lets
//! the sink group them into messages, and delivers each message with a
//! timeout and retries. It also re-notifies alerts still firing after the
//! repeat interval. It never panics on a delivery problem and never returns:
//! a dead receiver only fills (and coalesces) its own queue.

use super::common::{to_std, Delivery, DeliveryError};
use super::fingerprint::Fingerprint;
use super::item::{AlertStatus, Item, Key};
use super::queue::Queue;
use super::retry::Backoff;
use super::stats::Counters;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

/// One message to deliver and what it carries.
#[derive(Debug)]
pub struct Outgoing<M> {
    /// The sink's message (a request body, an email).
    pub message: M,
    /// Keys of the items in it: when newer states of all of them are queued,
    /// retrying this one is pointless.
    pub keys: Vec<Key>,
    /// Items in it, for the counters.
    pub items: u64,
}

/// A sink the worker drives.
pub trait Deliver: Send + 'static {
    /// What one delivery sends.
    type Message: Send + Sync + 'static;

    /// Groups a batch (one state per alert, in queue order) into messages.
    /// `repeat` is true when the batch re-notifies alerts still firing.
    fn render(&mut self, batch: &[Item], repeat: bool) -> Vec<Outgoing<Self::Message>>;

    /// Sends one message once. The worker adds the timeout and retries.
    fn deliver<'a>(
        &'a mut self,
        message: &'a Self::Message,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send + 'a;
}

/// Settings of one worker.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The sink's name, for logs.
    pub name: String,
    /// Queue, timeout and retry settings.
    pub delivery: Delivery,
    /// Wait after the first item of a batch for more to group with it.
    pub group_wait: std::time::Duration,
    /// Re-notify alerts still firing this long after their last
    /// notification (`None`: never).
    pub repeat_interval: Option<std::time::Duration>,
}

/// Runs the sink until the task is aborted.
pub async fn run<S: Deliver>(
    mut sink: S,
    queue: Arc<Queue>,
    counters: Arc<Counters>,
    opts: WorkerOptions,
) {
    let max = opts.delivery.max_batch;
    // Firing alerts and when they were last notified, for repeats.
    let mut active: HashMap<Fingerprint, (Item, Instant)> = HashMap::new();
    loop {
        let next_repeat = opts
            .repeat_interval
            .and_then(|r| active.values().map(|(_, t)| *t + r).min());
        let (mut batch, repeat) = match next_repeat {
            Some(due) => tokio::select! {
                b = queue.pop_batch(max) => (b, false),
                _ = tokio::time::sleep_until(due) => (due_repeats(&active, opts.repeat_interval), true),
            },
            None => (queue.pop_batch(max).await, false),
        };
        counters.set_in_flight(1);
        if !repeat && !opts.group_wait.is_zero() {
            tokio::time::sleep(opts.group_wait).await;
            batch.extend(queue.try_pop(max.saturating_sub(batch.len())));
        }
        let batch = latest_per_key(batch, &counters);
        for out in sink.render(&batch, repeat) {
            deliver_one(&mut sink, out, &queue, &counters, &opts).await;
        }
        let now = Instant::now();
        for item in &batch {
            if let Item::Alert(a) = item {
                match a.status {
                    AlertStatus::Firing => {
                        active.insert(a.fingerprint, (item.clone(), now));
                    }
                    AlertStatus::Resolved => {
                        active.remove(&a.fingerprint);
                    }
                }
            }
        }
        counters.set_in_flight(0);
    }
}

/// Alerts whose repeat is due.
fn due_repeats(
    active: &HashMap<Fingerprint, (Item, Instant)>,
    every: Option<std::time::Duration>,
) -> Vec<Item> {
    let Some(every) = every else {
        return Vec::new();
    };
    let now = Instant::now();
    let mut due: Vec<(Fingerprint, Item)> = active
        .iter()
        .filter(|(_, (_, t))| *t + every <= now)
        .map(|(fp, (i, _))| (*fp, i.clone()))
        .collect();
    due.sort_by_key(|(fp, _)| *fp);
    due.into_iter().map(|(_, i)| i).collect()
}

/// Keeps the last state of each alert in the batch, in the position of its
/// last occurrence: the latest state wins.
fn latest_per_key(batch: Vec<Item>, counters: &Counters) -> Vec<Item> {
    let before = batch.len();
    let mut seen = HashSet::new();
    let mut kept: Vec<Item> = batch
        .into_iter()
        .rev()
        .filter(|i| seen.insert(i.key()))
        .collect();
    kept.reverse();
    counters.add_coalesced((before - kept.len()) as u64);
    kept
}

/// Delivers one message: attempts with a timeout, backoff between them,
/// until it passes, is rejected, runs out of attempts, or every item in it
/// has a newer state waiting in the queue.
async fn deliver_one<S: Deliver>(
    sink: &mut S,
    out: Outgoing<S::Message>,
    queue: &Queue,
    counters: &Counters,
    opts: &WorkerOptions,
) {
    let mut backoff = Backoff::new(&opts.delivery.retry);
    let timeout = to_std(opts.delivery.timeout);
    let max_attempts = opts.delivery.retry.max_attempts;
    loop {
        let started = std::time::Instant::now();
        let res = match tokio::time::timeout(timeout, sink.deliver(&out.message)).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::Retryable(format!(
                "no answer within the timeout ({})",
                opts.delivery.timeout
            ))),
        };
        let e = match res {
            Ok(()) => {
                counters.add_sent(out.items, started.elapsed());
                return;
            }
            Err(DeliveryError::Permanent(e)) => {
                tracing::warn!(sink = %opts.name, "delivery rejected, not retrying: {e}");
                counters.set_error(Some(e));
                counters.add_failed(out.items);
                return;
            }
            Err(DeliveryError::Retryable(e)) => e,
        };
        counters.set_error(Some(e.clone()));
        if max_attempts > 0 && backoff.attempts() + 1 >= max_attempts {
            tracing::warn!(sink = %opts.name, "delivery failed {max_attempts} times, giving up: {e}");
            counters.add_failed(out.items);
            return;
        }
        let wait = backoff.next_wait();
        tracing::warn!(
            sink = %opts.name,
            attempt = backoff.attempts(),
            "delivery failed, retrying in {:.1}s: {e}",
            wait.as_secs_f64()
        );
        counters.add_retried();
        tokio::time::sleep(wait).await;
        if !out.keys.is_empty() && out.keys.iter().all(|k| queue.contains(*k)) {
            // Newer states of everything in it are queued; send those.
            counters.add_coalesced(out.items);
            return;
        }
    }
}
