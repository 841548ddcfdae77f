//! Renders a structured metric query to PromQL (stub, being written).
use super::MetricQuery;

/// The PromQL for a metric query.
pub fn render(_q: &MetricQuery) -> String {
    String::new()
}
