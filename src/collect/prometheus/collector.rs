//! The live collector: every tick, one instant query per metric signal for
//! all nodes at once (never one per node), at most
//! `max_concurrent_queries` in flight, all of them done or abandoned by the
//! end of the timeout. A failed query makes its signal unknown for that
//! tick; a tick in which nothing succeeded starts an exponential backoff
//! during which no query is sent. It never gives up and never panics on
//! what the network returns.

use super::backoff::Backoff;
use super::client::PromClient;
use super::config::{ConfigError, PrometheusConfig};
use super::health::Health;
use super::response::{Labels, QueryError};
use crate::catalog::{render, Catalog};
use crate::collect::{MetricSource, SignalResult, SourceError};
use crate::time::{Duration, Timestamp};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Consecutive failed attempts between two reminders in the log while
/// Prometheus stays down (the first failure and every change are logged).
const REMIND_EVERY: u32 = 20;

/// Metric signals from a live Prometheus, behind [`MetricSource`].
pub struct PrometheusCollector {
    client: PromClient,
    limit: usize,
    backoff: Backoff,
    health: Health,
    /// What failed last, returned for every signal while backing off.
    last_error: Option<SourceError>,
    /// Kind and detail of the last logged failure, to log changes only.
    last_logged: Option<String>,
}

impl PrometheusCollector {
    /// A collector for `cfg` (validated; files are read now).
    pub fn new(cfg: &PrometheusConfig) -> Result<Self, ConfigError> {
        Ok(PrometheusCollector {
            client: PromClient::new(cfg)?,
            limit: cfg.max_concurrent_queries.max(1),
            backoff: Backoff::new(cfg.backoff),
            health: Health::default(),
            last_error: None,
            last_logged: None,
        })
    }

    /// The shared health handle (up flag, error counters, in-flight).
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// The client, e.g. for range queries against the same server.
    pub fn client(&self) -> &PromClient {
        &self.client
    }

    /// Counts this tick's failures, moves the backoff and logs changes:
    /// the first failure, a change of kind, a reminder every
    /// [`REMIND_EVERY`] failed attempts, and the recovery.
    fn settle(&mut self, failures: Vec<QueryError>, total: usize) {
        let ok = total - failures.len();
        let url = self.client.url().to_string();
        self.health.update(|h| {
            h.queries += total as u64;
            for f in &failures {
                *h.errors.entry(f.error.kind().to_string()).or_default() += 1;
            }
            h.up = ok > 0 || total == 0;
        });
        let Some(first) = failures.first() else {
            let gone = self.backoff.success();
            if gone > 0 {
                tracing::info!(
                    url,
                    "prometheus answering again after {gone} failed attempt(s); \
                     metric signals known again"
                );
            }
            self.last_logged = None;
            self.last_error = None;
            self.health.update(|h| h.failing_attempts = 0);
            return;
        };
        let kind = first.error.kind();
        // Details are stable per failure mode (the representative failure is
        // the first signal's), so this logs changes, not every tick.
        let key = format!("{kind}: {}", first.detail);
        let changed = self.last_logged.as_deref() != Some(key.as_str());
        if ok > 0 {
            // Partial answers are used; no backoff, since the server is there.
            let gone = self.backoff.success();
            if changed || gone > 0 {
                tracing::warn!(
                    url,
                    kind,
                    "prometheus: {} of {total} queries failed ({}); those signals are \
                     unknown this tick, actions on their nodes held",
                    failures.len(),
                    first.detail
                );
            }
        } else {
            let delay = self.backoff.failure(Instant::now());
            let attempts = self.backoff.failures();
            if changed || attempts.is_multiple_of(REMIND_EVERY) {
                tracing::warn!(
                    url,
                    kind,
                    attempts,
                    "prometheus: all {total} queries failed ({}); metric signals unknown, \
                     actions on their nodes held; next attempt in {}",
                    first.detail,
                    Duration(delay.as_millis() as i64)
                );
            }
            self.last_error = Some(first.error.clone());
        }
        let attempts = self.backoff.failures();
        self.health.update(|h| {
            h.failing_attempts = attempts;
            h.last_error = Some(key.clone());
        });
        self.last_logged = Some(key);
    }
}

impl MetricSource for PrometheusCollector {
    async fn metrics(&mut self, at: Timestamp, catalog: &Catalog) -> Vec<Option<SignalResult>> {
        let mut out: Vec<Option<SignalResult>> = vec![None; catalog.signals.len()];
        let wanted: Vec<(usize, String, &[String])> = catalog
            .signals
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.metric.as_ref().map(|q| (i, render(q), q.by.as_slice())))
            .collect();
        if self.backoff.remaining(Instant::now()).is_some() {
            let e = self
                .last_error
                .clone()
                .unwrap_or_else(|| SourceError::Unreachable("backing off".into()));
            for (i, _, _) in &wanted {
                out[*i] = Some(Err(e.clone()));
            }
            return out;
        }
        let timeout = self.client.timeout();
        let deadline =
            tokio::time::Instant::now() + std::time::Duration::from_millis(timeout.0.max(1) as u64);
        let sem = Semaphore::new(self.limit);
        let (client, health, sem) = (&self.client, &self.health, &sem);
        let futures = wanted.iter().map(|(i, q, by)| {
            let fut = async move {
                let run = async {
                    // The semaphore is never closed, so acquire cannot fail.
                    let _permit = sem.acquire().await.ok();
                    let _flight = health.enter();
                    client.instant(q, at).await
                };
                let res = match tokio::time::timeout_at(deadline, run).await {
                    Ok(r) => r,
                    Err(_) => Err(QueryError::new(
                        SourceError::Timeout(timeout.to_string()),
                        format!("no answer within {timeout} ({})", client.url()),
                    )),
                };
                (*i, res.map(|rows| subjects(rows, by)))
            };
            Box::pin(fut) as BoxFuture<'_, (usize, Result<Vec<(Vec<String>, f64)>, QueryError>)>
        });
        let mut results = join_all(futures.collect()).await;
        results.sort_by_key(|(i, _)| *i);
        let mut failures = Vec::new();
        for (i, res) in results {
            out[i] = Some(match res {
                Ok(rows) => Ok(rows),
                Err(e) => {
                    let kind = e.error.clone();
                    failures.push(e);
                    Err(kind)
                }
            });
        }
        self.settle(failures, wanted.len());
        out
    }

    fn report_health(&self, stats: &mut crate::state::Stats) {
        self.health.apply_to(stats);
    }
}

/// Result rows keyed by the signal's `by` label values (absent labels are
/// empty, as in PromQL), sorted like the embedded evaluator's.
pub(super) fn subjects(rows: Vec<(Labels, f64)>, by: &[String]) -> Vec<(Vec<String>, f64)> {
    let mut out: Vec<(Vec<String>, f64)> = rows
        .into_iter()
        .map(|(labels, v)| (key_of(&labels, by), v))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The values of the `by` labels of one result series.
pub(super) fn key_of(labels: &Labels, by: &[String]) -> Vec<String> {
    by.iter()
        .map(|l| labels.get(l).cloned().unwrap_or_default())
        .collect()
}

/// A boxed future that may move between threads.
pub(super) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every future to completion in the calling task (no spawning, so
/// nothing outlives the call) and returns their outputs in completion order.
pub(super) async fn join_all<'a, T>(futs: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut slots: Vec<Option<BoxFuture<'a, T>>> = futs.into_iter().map(Some).collect();
    let mut done = Vec::with_capacity(slots.len());
    std::future::poll_fn(|cx| {
        for slot in slots.iter_mut() {
            if let Some(f) = slot {
                if let Poll::Ready(v) = f.as_mut().poll(cx) {
                    done.push(v);
                    *slot = None;
                }
            }
        }
        if slots.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_by_order_and_sort() {
        let row = |n: &str, p: Option<&str>, v| {
            let mut l = Labels::new();
            l.insert("namespace".into(), n.into());
            if let Some(p) = p {
                l.insert("pod".into(), p.into());
            }
            (l, v)
        };
        let by = vec!["pod".to_string(), "namespace".to_string()];
        let out = subjects(vec![row("b", Some("x"), 1.0), row("a", None, 2.0)], &by);
        assert_eq!(out[0], (vec!["".to_string(), "a".to_string()], 2.0));
        assert_eq!(out[1], (vec!["x".to_string(), "b".to_string()], 1.0));
    }

    #[test]
    fn a_tick_can_run_on_any_worker_thread() {
        fn send<T: Send>(_: &T) {}
        let mut c = PrometheusCollector::new(&PrometheusConfig::new("http://127.0.0.1:9")).unwrap();
        let catalog = Catalog::builtin();
        send(&c.metrics(Timestamp(0), &catalog));
    }

    #[tokio::test]
    async fn join_all_waits_for_all() {
        let futs: Vec<BoxFuture<'static, u32>> = (0..3u32)
            .map(|i| {
                Box::pin(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(3 - i))).await;
                    i
                }) as BoxFuture<'static, u32>
            })
            .collect();
        let mut got = join_all(futs).await;
        got.sort();
        assert_eq!(got, vec![0, 1, 2]);
    }
}
