//! Live and historical metric signals from a Prometheus HTTP API.
//!
//! Each metric signal's one definition is rendered to PromQL
//! ([`crate::catalog::render`]) and sent as is, so the embedded evaluator
//! (replay) and Prometheus (live, backtest) evaluate the same thing:
//!
//! - [`PrometheusCollector`]: one instant query per signal per tick for all
//!   nodes, bounded concurrency and deadline, errors classified into
//!   [`crate::collect::SourceError`] kinds and counted in [`Health`],
//!   exponential [`backoff`] while nothing answers, never giving up;
//! - [`RangeSource`]: chunked range queries for backtests;
//! - [`PrometheusConfig`]: the `prometheus:` configuration section (URL,
//!   bearer token file, basic auth, CA file, `insecure_skip_verify`,
//!   timeout, extra headers).
//!
//! Nothing here decides anything: a failed query only makes its signal
//! unknown, and the engine holds actions on nodes with unknown signals.

pub mod backoff;
pub mod client;
pub mod collector;
pub mod config;
mod health;
mod range;
pub mod response;

pub use client::PromClient;
pub use collector::PrometheusCollector;
pub use config::{BackoffConfig, BasicAuth, ConfigError, PrometheusConfig};
pub use health::{Health, HealthState, SOURCE};
pub use range::{RangeSource, MAX_POINTS};
