//! Signal definitions: what nodewatch measures per node (or per workload)
//! every tick. A metric signal is a small structured query that is rendered
//! to PromQL for live use and evaluated by the embedded evaluator on replay
//! data; an event signal matches Kubernetes Events.

use crate::time::Duration;
use serde::{Deserialize, Serialize};

/// One entry of the signal catalog.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// Unique name, `[a-z_][a-z0-9_]*`; used in rules, metrics and the API.
    pub name: String,
    /// What it measures, in words (shown in explanations).
    #[serde(default)]
    pub help: String,
    /// Who the values belong to: `node` or `workload`.
    #[serde(default)]
    pub scope: SignalScope,
    /// Signals of one family (e.g. `readiness`) are judged together for
    /// common cause: one of them tripped cluster-wide suppresses all of
    /// them on the nodes that trip any. Defaults to the signal's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// A metric query (exactly one of `metric` and `events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricQuery>,
    /// An event query (exactly one of `metric` and `events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventQuery>,
    /// How anomalies are detected on this signal.
    #[serde(default)]
    pub detect: DetectConfig,
    /// The metric's matchers select the hub: a pool policy's `hub`
    /// selector replaces them for the pods on that pool's nodes
    /// (workload metric signals only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hub: bool,
    /// Set on the copies [`Catalog::with_hubs`](super::Catalog::with_hubs)
    /// derives for a pool's own hub selector; never read from a file.
    #[serde(skip)]
    pub variant: Option<Variant>,
}

/// A hub signal's copy for one pool policy's `hub` selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Index of the signal it copies (same name, same detector).
    pub of: usize,
    /// Index of the pool policy (in `governor.pools` order).
    pub pool: usize,
}

/// Whose values a signal produces.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SignalScope {
    /// One value per node; feeds the node score.
    #[default]
    Node,
    /// One value per workload (a pod or process such as the hub).
    Workload,
}

/// How a metric's series are combined per subject.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// `sum by (...)`.
    #[default]
    Sum,
    /// `max by (...)`.
    Max,
    /// `min by (...)`.
    Min,
    /// `avg by (...)`.
    Avg,
}

impl Aggregation {
    /// The PromQL aggregation operator.
    pub fn as_promql(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Max => "max",
            Aggregation::Min => "min",
            Aggregation::Avg => "avg",
        }
    }
}

/// A structured metric query:
/// `AGG by (BY) (rate(METRIC{MATCHERS}[RATE]))`, optionally divided by a
/// second such query with the same `by`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    /// Metric name, e.g. `prober_probe_total`.
    pub name: String,
    /// Label matchers: `label: value` (equality), or a value prefixed with
    /// `=~`, `!~`, `!=` or `=` for the other matcher kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "matcher_map")]
    pub matchers: Vec<Matcher>,
    /// Apply `rate(...[window])` (for counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Duration>,
    /// How series are combined per subject (default `sum`).
    #[serde(default)]
    pub aggregate: Aggregation,
    /// Labels that identify the subject; for node signals, the one label that
    /// carries the node name (`node` for kubelet/cAdvisor/kube-state-metrics,
    /// `instance` for node_exporter).
    pub by: Vec<String>,
    /// Divide by this query (same `by`); the denominator has no `by` of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_to: Option<Box<Denominator>>,
    /// A node without any series counts as 0 rather than unknown. For
    /// exporters that only have series where something is wrong (NPD's
    /// `problem_gauge`, problem conditions only some nodes carry): without
    /// it, their absence on healthy nodes would hold every cordon as
    /// "no data". Applies only when the query itself succeeded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub absent_is_zero: bool,
}

/// The denominator of a ratio signal.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Denominator {
    /// Metric name.
    pub name: String,
    /// Label matchers, as in [`MetricQuery::matchers`].
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "matcher_map")]
    pub matchers: Vec<Matcher>,
    /// Apply `rate(...[window])`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Duration>,
    /// How series are combined (default `sum`).
    #[serde(default)]
    pub aggregate: Aggregation,
}

/// The four PromQL matcher kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

impl MatchOp {
    /// PromQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Eq => "=",
            MatchOp::Ne => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        }
    }
}

/// One label matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or regex (regexes are anchored, as in PromQL).
    pub value: String,
    /// Compiled anchored regex for `=~`/`!~`.
    pub regex: Option<regex::Regex>,
}

impl Matcher {
    /// Builds a matcher from `label` and a prefixed value (`=~hub-.*`).
    pub fn parse(label: &str, spec: &str) -> Result<Self, String> {
        let (op, value) = if let Some(v) = spec.strip_prefix("=~") {
            (MatchOp::Re, v)
        } else if let Some(v) = spec.strip_prefix("!~") {
            (MatchOp::Nre, v)
        } else if let Some(v) = spec.strip_prefix("!=") {
            (MatchOp::Ne, v)
        } else if let Some(v) = spec.strip_prefix('=') {
            (MatchOp::Eq, v)
        } else {
            (MatchOp::Eq, spec)
        };
        let regex = match op {
            MatchOp::Re | MatchOp::Nre => Some(
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("label {label:?}: invalid regex {value:?}: {e}"))?,
            ),
            _ => None,
        };
        if !crate::config::names::is_label_name(label) {
            return Err(format!("invalid label name {label:?}"));
        }
        Ok(Matcher {
            label: label.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether a label value (empty when the label is absent) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
            MatchOp::Re => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::Nre => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// The YAML spelling (`=~hub-.*`, or the bare value for equality).
    pub fn spec(&self) -> String {
        match self.op {
            MatchOp::Eq if !self.value.starts_with(['=', '!']) => self.value.clone(),
            op => format!("{}{}", op.as_str(), self.value),
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.label == o.label && self.op == o.op && self.value == o.value
    }
}

/// (De)serializes matchers as an ordered YAML map `label: spec`.
pub mod matcher_map {
    use super::Matcher;
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &[Matcher], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(m.len()))?;
        for x in m {
            map.serialize_entry(&x.label, &x.spec())?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Matcher>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Matcher>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of label: value (prefix =~, !~ or != for other matchers)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, String>()? {
                    out.push(Matcher::parse(&k, &v).map_err(serde::de::Error::custom)?);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// What an event signal counts per subject and window.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EventCount {
    /// Occurrences: increments of `count`/`series.count`.
    #[default]
    Increments,
    /// Distinct involved objects (pods) with at least one occurrence: one
    /// misbehaving pod is a pod problem, many on one node a node problem.
    Objects,
}

/// An event query.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Event reasons to match (any); empty matches every reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Regex the message must match (unanchored).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_regex")]
    pub message: Option<regex::Regex>,
    /// `involvedObject.kind` to match, e.g. `Pod` or `Node`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub involved_kind: Option<String>,
    /// What to count (default `increments`).
    #[serde(default)]
    pub count: EventCount,
    /// Trailing window the value is counted over (default 5m).
    #[serde(default = "default_event_window")]
    pub window: Duration,
}

fn default_event_window() -> Duration {
    Duration::mins(5)
}

mod opt_regex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &Option<regex::Regex>, s: S) -> Result<S::Ok, S::Error> {
        match r {
            Some(r) => s.serialize_str(r.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<regex::Regex>, D::Error> {
        let s = String::deserialize(d)?;
        regex::Regex::new(&s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("invalid regex {s:?}: {e}")))
    }
}

/// Detector settings for one signal. Every field has a default, so most
/// signals need at most one or two lines here.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Fixed threshold: anomalous while the value is above this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// Fixed threshold: anomalous while the value is below this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
    /// Compare with the subject's own baseline (robust z, or the
    /// negative-binomial tail for event counts).
    pub baseline: bool,
    /// Compare with the other nodes at the same instant (node signals only).
    pub peers: bool,
    /// CUSUM drift detection against the own baseline.
    pub drift: bool,
    /// Novelty: only values beyond the whole range of the own baseline
    /// count (besides being `z` from its median), and every value enters
    /// the baseline, so a spike seen once is no news the second time. For
    /// bursty signals whose spikes are routine; an excursion is judged
    /// against the baseline from before it began for as long as it lasts,
    /// at most 10 values: a level that lasts longer has paged once and is
    /// then the new baseline.
    pub novelty: bool,
    /// Robust z (|x − median| / (1.4826·MAD)) at which a value starts to count.
    pub z: f64,
    /// Lower bound for the MAD so flat baselines do not make every wiggle an
    /// anomaly; in the signal's own unit.
    pub mad_floor: f64,
    /// Only deviations in this direction count.
    pub direction: Direction,
    /// Weight of this signal in the node score (0..=1).
    pub weight: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            above: None,
            below: None,
            baseline: true,
            peers: true,
            drift: false,
            novelty: false,
            z: 4.0,
            mad_floor: 1.0,
            direction: Direction::Up,
            weight: 1.0,
        }
    }
}

/// Which deviations count as anomalous.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Higher than normal.
    #[default]
    Up,
    /// Lower than normal.
    Down,
    /// Either way.
    Both,
}

impl Signal {
    /// The common-cause family: `family`, else the name.
    pub fn family(&self) -> &str {
        self.family.as_deref().unwrap_or(&self.name)
    }

    /// True for event signals.
    pub fn is_event(&self) -> bool {
        self.events.is_some()
    }
}
