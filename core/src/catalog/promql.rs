//! Renders a structured metric query to PromQL for live mode and backtests,
//! e.g. `sum by (node) (rate(prober_probe_total{result="failed"}[5m]))`.
//! The embedded evaluator (`collect::tsdb`) evaluates the same structure on
//! replay data, so this text must mean exactly what the structure means, and
//! must parse in Prometheus 2.42.

use super::signal::{Aggregation, Matcher};
use super::MetricQuery;
use crate::time::Duration;
use std::fmt::Write;

/// Words the Prometheus 2.42 lexer never reads as a metric name (keywords
/// are case-insensitive there); such names are selected via `__name__`.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "unless",
    "atan2",
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "start",
    "end",
    "inf",
    "nan",
];

/// The PromQL for a metric query:
/// `AGG by (BY) (rate(METRIC{MATCHERS}[W]))`, `/` the denominator rendered
/// the same way with the numerator's `by`.
pub fn render(q: &MetricQuery) -> String {
    let by = q.by.join(", ");
    let mut out = aggregated(q.aggregate, &by, &q.name, &q.matchers, q.rate);
    if let Some(d) = &q.ratio_to {
        out.push_str(" / ");
        out.push_str(&aggregated(d.aggregate, &by, &d.name, &d.matchers, d.rate));
    }
    out
}

/// `AGG by (BY) (SELECTOR)` with the selector optionally wrapped in `rate`.
fn aggregated(
    agg: Aggregation,
    by: &str,
    name: &str,
    matchers: &[Matcher],
    rate: Option<Duration>,
) -> String {
    let sel = selector(name, matchers);
    let inner = match rate {
        Some(w) => format!("rate({sel}[{w}])"),
        None => sel,
    };
    format!("{} by ({by}) ({inner})", agg.as_promql())
}

/// `name{l="v",...}`, or `{__name__="name",...}` when the name cannot be
/// written bare.
fn selector(name: &str, matchers: &[Matcher]) -> String {
    let mut parts = Vec::with_capacity(matchers.len() + 1);
    let bare = is_plain_metric_name(name);
    if !bare {
        parts.push(format!("__name__={}", quote(name)));
    }
    for m in matchers {
        parts.push(format!("{}{}{}", m.label, m.op.as_str(), quote(&m.value)));
    }
    let prefix = if bare { name } else { "" };
    if parts.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}{{{}}}", parts.join(","))
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*` and not a word the lexer takes for a keyword
/// or number.
fn is_plain_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !RESERVED.contains(&name.to_ascii_lowercase().as_str())
}

/// A PromQL double-quoted string literal. Backslash, quote and newline must
/// be escaped (a raw newline ends the string with an error); other control
/// characters are escaped too so the query stays one readable line.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(yaml: &str) -> MetricQuery {
        serde_yaml::from_str(yaml).expect("test query parses")
    }

    #[test]
    fn ratio_of_rates() {
        let m = q("name: prober_probe_total
matchers: {probe_type: Readiness, result: failed}
rate: 5m
by: [node]
ratio_to: {name: prober_probe_total, matchers: {probe_type: Readiness}, rate: 5m}");
        assert_eq!(
            render(&m),
            "sum by (node) (rate(prober_probe_total{probe_type=\"Readiness\",result=\"failed\"}[5m])) \
             / sum by (node) (rate(prober_probe_total{probe_type=\"Readiness\"}[5m]))"
        );
    }

    #[test]
    fn instant_selector_with_max() {
        let m = q(
            "{name: kube_node_status_condition, matchers: {condition: Ready, status: 'true'},
                    aggregate: max, by: [node]}",
        );
        assert_eq!(
            render(&m),
            "max by (node) (kube_node_status_condition{condition=\"Ready\",status=\"true\"})"
        );
    }

    #[test]
    fn no_matchers_and_gauge_ratio() {
        let m = q(
            "{name: node_processes_threads, by: [instance], aggregate: avg,
                    ratio_to: {name: node_processes_max_threads, aggregate: min}}",
        );
        assert_eq!(
            render(&m),
            "avg by (instance) (node_processes_threads) / min by (instance) (node_processes_max_threads)"
        );
    }

    #[test]
    fn every_matcher_kind_and_compound_duration() {
        let m = q(
            r#"{name: container_cpu_usage_seconds_total, rate: 1h30m, by: [namespace, pod],
                     matchers: {container: "!=", pod: "=~hub-.*", namespace: "!~kube-.*|default",
                                image: "=sha"}}"#,
        );
        assert_eq!(
            render(&m),
            "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=\"\",\
             pod=~\"hub-.*\",namespace!~\"kube-.*|default\",image=\"sha\"}[1h30m]))"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = q(r#"{name: m, by: [node], matchers: {a: "x\"y\\z\nw\tv", b: "=~a\\.b"}}"#);
        assert_eq!(
            render(&m),
            r#"sum by (node) (m{a="x\"y\\z\nw\tv",b=~"a\\.b"})"#
        );
        assert_eq!(quote("\u{1}é"), "\"\\x01é\"");
    }

    #[test]
    fn reserved_or_odd_names_use_name_matcher() {
        let m = q("{name: Sum, by: [node], matchers: {a: b}}");
        assert_eq!(render(&m), "sum by (node) ({__name__=\"Sum\",a=\"b\"})");
        let m = q("{name: 'my-metric', by: [node], rate: 30s}");
        assert_eq!(
            render(&m),
            "sum by (node) (rate({__name__=\"my-metric\"}[30s]))"
        );
        let m = q("{name: 'ns:metric:rate5m', by: [node]}");
        assert_eq!(render(&m), "sum by (node) (ns:metric:rate5m)");
    }
}
