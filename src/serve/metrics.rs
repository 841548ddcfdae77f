//! `/metrics`: nodewatch's state as Prometheus metrics. A prometheus-client
//! [`Collector`] renders every family from the current snapshot at scrape
//! time, so label sets that disappear (a deleted node, a resolved alert)
//! simply stop being exported instead of living forever in a registry.

use super::api::{new_latency, ApiLatency};
use super::families;
use super::published::Published;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;

/// Content type of the Prometheus text format (0.0.4).
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of the OpenMetrics text format (1.0.0).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Exposition format of a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Prometheus,
    /// OpenMetrics text 1.0.0 (ends in `# EOF`).
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics when the client
    /// names it (as Prometheus does), the classic text format otherwise.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => PROMETHEUS_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// A registry holding the snapshot collector, built once per server.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    api_latency: ApiLatency,
}

impl Exporter {
    /// An exporter reading from `published` at every scrape.
    pub fn new(published: Published) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SnapshotCollector { published }));
        let api_latency = new_latency();
        registry.register_with_unit(
            "nodewatch_api_request_duration",
            "Latency of Prometheus API requests, by endpoint and status code.",
            Unit::Seconds,
            api_latency.clone(),
        );
        Exporter {
            registry,
            api_latency,
        }
    }

    /// The API latency histogram the handlers observe into.
    pub fn api_latency(&self) -> &ApiLatency {
        &self.api_latency
    }

    /// Renders all metrics in `format`.
    pub fn render(&self, format: Format) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(4096);
        match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)?
            }
        }
        Ok(out)
    }
}

/// Renders the families from the latest snapshot on every scrape.
#[derive(Debug)]
struct SnapshotCollector {
    published: Published,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), fmt::Error> {
        let build = enc.encode_descriptor(
            "nodewatch_build",
            "nodewatch build information; always 1.",
            None,
            MetricType::Info,
        );
        build?.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;

        let snap = self.published.current();
        let totals = self.published.action_totals();
        families::encode_always(&mut enc, snap.as_ref().map(|s| &s.stats), &totals)?;
        {
            let h = self.published.store();
            families::encode_history(&mut enc, &h)?;
        }
        match snap {
            Some(s) => families::encode_snapshot(&mut enc, &s),
            None => Ok(()),
        }
    }
}
