//! Metric signals over history, for backtests: range queries fetched one
//! chunk at a time (every metric signal for, by default, one hour of
//! steps), served tick by tick behind [`MetricSource`] and dropped when the
//! next chunk is fetched, so memory is bounded by the chunk, not by the
//! length of the backtest.
//!
//! A range query at step `s` evaluates exactly what an instant query at
//! each step time would, so a backtest sees what the live collector would
//! have seen. Failed fetches are retried with backoff; a chunk that still
//! fails is a fatal error the backtest reports (a report computed on holes
//! would be silently wrong).

use super::backoff::Backoff;
use super::client::PromClient;
use super::collector::{join_all, key_of, BoxFuture};
use super::config::{BackoffConfig, ConfigError, PrometheusConfig};
use super::response::{Matrix, QueryError};
use crate::catalog::{render, Catalog};
use crate::collect::{MetricSource, SignalResult, SourceError};
use crate::time::{Duration, Timestamp};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Attempts per chunk query before the backtest gives up.
const ATTEMPTS: u32 = 5;

/// Prometheus refuses range queries of more points than this per series.
pub const MAX_POINTS: i64 = 11_000;

/// One signal's values for one chunk: per step, `(subject, value)` rows.
struct Chunk {
    rows: Vec<Vec<(Vec<String>, f64)>>,
}

/// Range-query-backed metric signals on a fixed grid `start + k·step`.
pub struct RangeSource {
    client: PromClient,
    limit: usize,
    backoff: BackoffConfig,
    end: Timestamp,
    step: Duration,
    points: i64,
    /// First and last step of the chunk held.
    window: Option<(Timestamp, Timestamp)>,
    held: Vec<Option<Chunk>>,
    fatal: Option<QueryError>,
    failed: Arc<AtomicBool>,
    queries: u64,
}

impl RangeSource {
    /// A source for steps up to `end`, `chunk` of history per fetch.
    pub fn new(
        cfg: &PrometheusConfig,
        end: Timestamp,
        step: Duration,
        chunk: Duration,
    ) -> Result<Self, ConfigError> {
        let points = (chunk.0 / step.0.max(1)).clamp(1, MAX_POINTS);
        Ok(RangeSource {
            client: PromClient::new(cfg)?,
            limit: cfg.max_concurrent_queries.max(1),
            backoff: cfg.backoff,
            end,
            step,
            points,
            window: None,
            held: Vec::new(),
            fatal: None,
            failed: Arc::new(AtomicBool::new(false)),
            queries: 0,
        })
    }

    /// The error that stopped fetching, if any.
    pub fn fatal(&self) -> Option<&QueryError> {
        self.fatal.as_ref()
    }

    /// A flag set once [`RangeSource::fatal`] is, readable while the
    /// source is borrowed by the loop driving it.
    pub fn failure_flag(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }

    /// Range queries sent so far.
    pub fn queries(&self) -> u64 {
        self.queries
    }

    async fn fetch(&mut self, from: Timestamp, catalog: &Catalog) {
        // Drop the previous chunk first: at most one chunk (plus the answers
        // being read) is ever in memory.
        self.held.clear();
        self.window = None;
        let to = Timestamp((from.0 + self.step.0 * (self.points - 1)).min(self.end.0));
        let wanted: Vec<(usize, String)> = catalog
            .signals
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.metric.as_ref().map(|q| (i, render(q))))
            .collect();
        let sem = Semaphore::new(self.limit);
        let (client, sem, step, backoff) = (&self.client, &sem, self.step, self.backoff);
        let futures = wanted.iter().map(|(i, q)| {
            let fut = async move {
                let _permit = sem.acquire().await.ok();
                let mut b = Backoff::new(backoff);
                let mut sent = 0;
                loop {
                    sent += 1;
                    match client.range(q, from, to, step).await {
                        Ok(m) => return (*i, Ok(m), sent),
                        Err(e) if sent >= ATTEMPTS || matches!(e.error, SourceError::Query(_)) => {
                            return (*i, Err(e), sent)
                        }
                        Err(e) => {
                            let wait = b.failure(Instant::now());
                            tracing::warn!(
                                "range query failed ({}), attempt {sent} of {ATTEMPTS}, retrying in {:.1}s: {q}",
                                e.detail,
                                wait.as_secs_f64()
                            );
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
            };
            Box::pin(fut) as BoxFuture<'_, (usize, Result<Matrix, QueryError>, u32)>
        });
        let results = join_all(futures.collect()).await;
        self.held = (0..catalog.signals.len()).map(|_| None).collect();
        let steps = ((to.0 - from.0) / step.0 + 1) as usize;
        for (i, res, sent) in results {
            self.queries += u64::from(sent);
            let matrix = match res {
                Ok(m) => m,
                Err(e) => {
                    self.fatal.get_or_insert(e);
                    self.failed.store(true, Ordering::SeqCst);
                    continue;
                }
            };
            let mut rows = vec![Vec::new(); steps];
            let by: &[String] = catalog.signals[i]
                .metric
                .as_ref()
                .map_or(&[], |q| q.by.as_slice());
            for (labels, points) in matrix {
                let key = key_of(&labels, by);
                for (t, v) in points {
                    let k = (t - from.0) / step.0;
                    if (t - from.0) % step.0 == 0 && (0..steps as i64).contains(&k) {
                        rows[k as usize].push((key.clone(), v));
                    }
                }
            }
            // Sorted like the embedded evaluator's results (and the live
            // collector's), so subjects meet the engine in the same order.
            for r in &mut rows {
                r.sort_by(|a: &(Vec<String>, f64), b| a.0.cmp(&b.0));
            }
            self.held[i] = Some(Chunk { rows });
        }
        self.window = Some((from, to));
    }
}

impl MetricSource for RangeSource {
    async fn metrics(&mut self, at: Timestamp, catalog: &Catalog) -> Vec<Option<SignalResult>> {
        let inside = self.window.is_some_and(|(a, b)| a <= at && at <= b);
        if !inside && self.fatal.is_none() {
            self.fetch(at, catalog).await;
        }
        let from = self.window.map_or(at, |(a, _)| a);
        let k = (at.0 - from.0) / self.step.0.max(1);
        let aligned = (at.0 - from.0) % self.step.0.max(1) == 0;
        catalog
            .signals
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.metric.as_ref()?;
                let chunk = self.held.get(i).and_then(Option::as_ref);
                Some(match chunk.and_then(|c| c.rows.get(k as usize)) {
                    Some(rows) if aligned => Ok(rows.clone()),
                    _ => Err(self.fatal.as_ref().map_or_else(
                        || SourceError::Query(format!("{at} is off the backtest grid")),
                        |e| e.error.clone(),
                    )),
                })
            })
            .collect()
    }
}
