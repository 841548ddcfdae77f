//! What users have today: the node and kubelet alerting rules of
//! kube-prometheus (kubernetes-mixin, node-mixin and kube-prometheus'
//! general rules), written here from their public definitions, evaluated
//! on a scenario backfilled into a real Prometheus. Each expression is
//! range-queried on the scenario's evaluation grid and its `for` applied as
//! Prometheus' rule manager does (an alert is pending from the first
//! evaluation its series is present, fires once it has been present for
//! `for`, and is dropped or resolved at the first evaluation it is absent).
//! The firings become alert notifications scored by the same
//! [`Report`](crate::tools::report::Report) as nodewatch's own alerts.
//!
//! The `job`/`cluster` selectors of the originals are left out where the
//! scenarios' series carry no such label (backfilled data has only the
//! labels the exporters give; `up` keeps its `job`).

use crate::collect::prometheus::response::QueryError;
use crate::collect::prometheus::{ConfigError, PromClient, PrometheusConfig};
use crate::model::{AlertState, AlertView, Notification};
use crate::scenario::{Meta, Scenario};
use crate::time::{Duration, Timestamp};
use crate::tools::report::Report;
use std::collections::{BTreeMap, HashMap};

/// What an alert is about, for scoring it like nodewatch's alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Its `node` label (or `instance`, which is the node for node_exporter).
    Node,
    /// A pod: attributed to the node it runs on (as an operator would look
    /// it up), so that it can count as detecting that node.
    Pod,
    /// The cluster.
    Cluster,
}

/// One alerting rule of kube-prometheus.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Alert name.
    pub alert: &'static str,
    /// PromQL expression.
    pub expr: &'static str,
    /// `for`.
    pub for_: Duration,
    /// What it is about.
    pub subject: Subject,
}

/// The rules evaluated: the node and kubelet alerts users get with
/// kube-prometheus, plus `TargetDown` (how it reports missing data).
pub fn rules() -> Vec<Rule> {
    let rule = |alert, expr, mins, subject| Rule {
        alert,
        expr,
        for_: Duration::mins(mins),
        subject,
    };
    vec![
        rule(
            "KubeNodeNotReady",
            r#"kube_node_status_condition{condition="Ready",status="true"} == 0"#,
            15,
            Subject::Node,
        ),
        rule(
            "KubeNodeUnreachable",
            r#"(kube_node_spec_taint{key="node.kubernetes.io/unreachable",effect="NoSchedule"} unless ignoring(key,value) kube_node_spec_taint{key=~"ToBeDeletedByClusterAutoscaler|cloud.google.com/impending-node-termination|aws-node-termination-handler/spot-itn"}) == 1"#,
            15,
            Subject::Node,
        ),
        rule(
            "KubeNodeReadinessFlapping",
            r#"sum(changes(kube_node_status_condition{status="true",condition="Ready"}[15m])) by (node) > 2"#,
            15,
            Subject::Node,
        ),
        rule(
            "KubeletDown",
            r#"absent(up{job="kubelet", metrics_path="/metrics"} == 1)"#,
            15,
            Subject::Cluster,
        ),
        rule(
            "KubePodNotReady",
            r#"sum by (namespace, pod) (max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Unknown|Failed"}) * on (namespace, pod) group_left(owner_kind) topk by (namespace, pod) (1, max by (namespace, pod, owner_kind) (kube_pod_owner{owner_kind!="Job"}))) > 0"#,
            15,
            Subject::Pod,
        ),
        rule(
            "KubePodCrashLooping",
            r#"max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1"#,
            15,
            Subject::Pod,
        ),
        rule(
            "NodeCPUHighUsage",
            r#"sum without(mode) (avg without (cpu) (rate(node_cpu_seconds_total{mode!~"idle|iowait"}[2m]))) * 100 > 90"#,
            15,
            Subject::Node,
        ),
        rule(
            "TargetDown",
            r#"100 * (count(up == 0) by (job, namespace, service) / count(up) by (job, namespace, service)) > 10"#,
            10,
            Subject::Cluster,
        ),
    ]
}

/// One alert's life: labels, when it fired, when it resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// The result series' labels.
    pub labels: BTreeMap<String, String>,
    /// Activation (pending since).
    pub active_at: Timestamp,
    /// Fired.
    pub fired_at: Timestamp,
    /// Resolved, if it did before the end.
    pub resolved_at: Option<Timestamp>,
}

/// One result series of a range query: labels and `(ms, value)` points.
pub type Series = (BTreeMap<String, String>, Vec<(i64, f64)>);

/// Applies `for` to a range query's answer on the grid `times` (the
/// evaluation times, ascending), as the rule manager does.
pub fn firings(series: &[Series], times: &[Timestamp], for_: Duration) -> Vec<Firing> {
    let mut out = Vec::new();
    for (labels, points) in series {
        let present: std::collections::HashSet<i64> = points.iter().map(|p| p.0).collect();
        let mut active: Option<(Timestamp, Option<Timestamp>)> = None;
        for &t in times {
            match (present.contains(&t.0), active) {
                (true, None) => {
                    let fired = (for_ <= Duration(0)).then_some(t);
                    active = Some((t, fired));
                }
                (true, Some((since, None))) if t.since(since) >= for_ => {
                    active = Some((since, Some(t)));
                }
                (true, Some(_)) => {}
                (false, Some((since, Some(fired)))) => {
                    out.push(Firing {
                        labels: labels.clone(),
                        active_at: since,
                        fired_at: fired,
                        resolved_at: Some(t),
                    });
                    active = None;
                }
                (false, _) => active = None,
            }
        }
        if let Some((since, Some(fired))) = active {
            out.push(Firing {
                labels: labels.clone(),
                active_at: since,
                fired_at: fired,
                resolved_at: None,
            });
        }
    }
    out
}

/// Why kube-prometheus' rules could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The Prometheus URL or client settings are unusable.
    #[error(transparent)]
    Client(#[from] ConfigError),
    /// A rule's range query failed.
    #[error("rule {rule}: {source}")]
    Query {
        /// The alert name.
        rule: &'static str,
        /// What Prometheus (or the connection) said.
        #[source]
        source: QueryError,
    },
}

/// kube-prometheus' result on one scenario.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The report built from its alerts (same scoring as nodewatch's).
    pub report: Report,
    /// Firings per alert name.
    pub fired: BTreeMap<String, usize>,
}

/// Evaluates [`rules`] over `scenario`'s time range on the Prometheus at
/// `url`, which holds the scenario's metrics.
pub async fn evaluate(url: &str, scenario: &Scenario) -> Result<Evaluation, EvalError> {
    let mut cfg = PrometheusConfig::new(url);
    // Rules over hundreds of nodes and hours of data take a while.
    cfg.timeout = Duration::secs(300);
    let client = PromClient::new(&cfg)?;
    let meta = &scenario.meta;
    let mut times = Vec::new();
    let mut t = meta.start;
    while t <= meta.end {
        times.push(t);
        t = t.add(meta.step);
    }
    let pod_node: HashMap<(&str, &str), &str> = scenario
        .pods
        .iter()
        .map(|p| {
            let key = (p.metadata.namespace.as_str(), p.metadata.name.as_str());
            (key, p.spec.node_name.as_str())
        })
        .collect();
    let mut notifications = Vec::new();
    let mut fired = BTreeMap::new();
    for rule in rules() {
        // Range queries stop at 11,000 points per series: query in chunks.
        let mut series: BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>> = BTreeMap::new();
        for chunk in times.chunks(10_000) {
            let (Some(&a), Some(&b)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let m = client
                .range(rule.expr, a, b, meta.step)
                .await
                .map_err(|source| EvalError::Query {
                    rule: rule.alert,
                    source,
                })?;
            for (labels, points) in m {
                series.entry(labels).or_default().extend(points);
            }
        }
        let series: Vec<_> = series.into_iter().collect();
        let list = firings(&series, &times, rule.for_);
        fired.insert(rule.alert.to_string(), list.len());
        for f in list {
            notifications.extend(notify(&rule, f, &pod_node));
        }
    }
    notifications.sort_by_key(|n| n.alert.fired_at.or(n.ends_at));
    Ok(Evaluation {
        report: report(meta, &notifications),
        fired,
    })
}

fn report(meta: &Meta, notifications: &[Notification]) -> Report {
    Report::build(meta, notifications, &[])
}

/// A firing as the firing and resolved notifications nodewatch would send.
fn notify(rule: &Rule, f: Firing, pod_node: &HashMap<(&str, &str), &str>) -> Vec<Notification> {
    let node = match rule.subject {
        Subject::Node => f.labels.get("node").or(f.labels.get("instance")).cloned(),
        Subject::Pod => {
            let ns = f.labels.get("namespace").map_or("", String::as_str);
            let pod = f.labels.get("pod").map_or("", String::as_str);
            pod_node.get(&(ns, pod)).map(|n| n.to_string())
        }
        Subject::Cluster => None,
    };
    let mut labels = f.labels.clone();
    labels.insert("alertname".to_string(), rule.alert.to_string());
    let (scope, subject) = match node {
        Some(n) => {
            labels.insert("node".to_string(), n.clone());
            ("node", n)
        }
        None => ("cluster", "cluster".to_string()),
    };
    let view = AlertView {
        name: rule.alert.to_string(),
        scope: scope.to_string(),
        subject,
        state: AlertState::Firing,
        labels,
        annotations: BTreeMap::new(),
        active_since: f.active_at,
        fired_at: Some(f.fired_at),
    };
    let mut out = vec![Notification {
        alert: view.clone(),
        status: AlertState::Firing,
        ends_at: None,
    }];
    if let Some(r) = f.resolved_at {
        out.push(Notification {
            alert: view,
            status: AlertState::Resolved,
            ends_at: Some(r),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_is_applied_like_the_rule_manager() {
        let t = |m: i64| Timestamp(m * 60_000);
        let times: Vec<Timestamp> = (0..30).map(t).collect();
        let labels = BTreeMap::from([("node".to_string(), "n1".to_string())]);
        // Present at minutes 2..=8 (a 6-minute gap resets a pending alert),
        // then at 12..=25: with `for: 5m`, pending at 2, fires at 7,
        // resolves at 9; pending again at 12, fires at 17, resolves at 26.
        let points: Vec<(i64, f64)> = (2..=8).chain(12..=25).map(|m| (t(m).0, 1.0)).collect();
        let f = firings(&[(labels.clone(), points)], &times, Duration::mins(5));
        let got: Vec<(i64, i64, Option<i64>)> = f
            .iter()
            .map(|x| {
                (
                    x.active_at.0 / 60_000,
                    x.fired_at.0 / 60_000,
                    x.resolved_at.map(|r| r.0 / 60_000),
                )
            })
            .collect();
        assert_eq!(got, vec![(2, 7, Some(9)), (12, 17, Some(26))]);
        // Shorter than `for`: never fires.
        let points: Vec<(i64, f64)> = (3..=6).map(|m| (t(m).0, 1.0)).collect();
        assert!(firings(&[(labels, points)], &times, Duration::mins(5)).is_empty());
    }

    #[test]
    fn every_rule_has_a_for_and_an_expression() {
        for r in rules() {
            assert!(r.for_ >= Duration::mins(10), "{}", r.alert);
            assert!(!r.expr.is_empty());
        }
    }
}
