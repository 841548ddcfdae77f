//! Aggregation operators with `by` / `without`, folded the way Prometheus
//! 2.42's engine folds them (plain summation, incremental mean, NaN
//! replaced by any number in `min`/`max`, Welford for `stddev`/`stdvar`).
//! `topk`/`bottomk` pick per step and group, keeping the input series.

use super::eval::{cmp_labels, unparen, Evaluator, Series, Value};
use super::{range_params, topk, Labels, QueryError};
use crate::serve::history::FxMap;
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::cmp::Ordering;

/// Evaluates an aggregation.
pub(super) fn eval(ev: &mut Evaluator, a: &AggregateExpr) -> Result<Value, QueryError> {
    let op = a.op.to_string();
    let op = op.as_str();
    if op == "count_values" {
        return super::labels::count_values(ev, a);
    }
    if !matches!(
        op,
        "sum"
            | "avg"
            | "min"
            | "max"
            | "count"
            | "group"
            | "stddev"
            | "stdvar"
            | "topk"
            | "bottomk"
            | "quantile"
    ) {
        return Err(QueryError::Unsupported(format!("aggregation {op}()")));
    }
    let k = match (&a.param, op) {
        (Some(p), "topk" | "bottomk" | "quantile") => match ev.eval(p)? {
            Value::Scalar(v) => Some(v),
            Value::Vector(_) => {
                return Err(QueryError::Parse(format!(
                    "expected type scalar in aggregation parameter of {op}"
                )))
            }
        },
        (_, "topk" | "bottomk" | "quantile") => {
            return Err(QueryError::Parse(format!("no parameter given for {op}")))
        }
        _ => None,
    };
    if let (Some(k), true) = (&k, op != "quantile") {
        // Prometheus converts k to an int64 at every step.
        if let Some(bad) = k
            .iter()
            .find(|v| !(**v >= -9.223_372_036_854_776e18 && **v <= 9.223_372_036_854_776e18))
        {
            return Err(QueryError::Execution(format!(
                "Scalar value {} overflows int64",
                go_float(*bad)
            )));
        }
    }
    if k.is_none() {
        if let Some(v) = super::aggregate_stream::selector(ev, a, op)? {
            return Ok(Value::Vector(v));
        }
    }
    let Value::Vector(input) = ev.eval(&a.expr)? else {
        return Err(QueryError::Parse(format!(
            "expected type instant vector in aggregation expression {op}"
        )));
    };
    let keyer = Keyer::new(ev, a.modifier.as_ref());
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: FxMap<Labels, Vec<usize>> = FxMap::default();
    for (i, s) in input.iter().enumerate() {
        let key = keyer.key(&s.labels);
        groups
            .entry(key)
            .or_insert_with_key(|k| {
                order.push(k.clone());
                Vec::new()
            })
            .push(i);
    }
    let steps = ev.steps.len();
    if let (Some(q), "quantile") = (&k, op) {
        let mut vals = Vec::new();
        let out = order
            .into_iter()
            .map(|key| {
                let members = &groups[&key];
                let points = (0..steps)
                    .map(|i| {
                        vals.clear();
                        vals.extend(members.iter().filter_map(|m| input[*m].points[i]));
                        (!vals.is_empty()).then(|| range_params::quantile(q[i], &mut vals))
                    })
                    .collect();
                Series {
                    labels: key,
                    points,
                }
            })
            .collect();
        return Ok(Value::Vector(out));
    }
    if let Some(k) = k {
        // Prometheus feeds a selector's series (bare or under a range
        // function) in label order, so ties resolve the same way; other
        // inputs come in Go map order, and sorting them would only cost.
        if sorted_input(&a.expr) {
            for members in groups.values_mut() {
                members.sort_by(|a, b| cmp_labels(ev, &input[*a].labels, &input[*b].labels));
            }
        }
        return Ok(Value::Vector(top(
            input,
            &order,
            &groups,
            &k,
            op == "topk",
            steps,
        )));
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let members = &groups[&key];
        let points = (0..steps)
            .map(|i| fold(op, members.iter().filter_map(|m| input[*m].points[i])))
            .collect();
        out.push(Series {
            labels: key,
            points,
        });
    }
    Ok(Value::Vector(out))
}

/// Whether Prometheus 2.42 evaluates `e` into series in label order.
fn sorted_input(e: &promql_parser::parser::Expr) -> bool {
    use promql_parser::parser::Expr;
    match unparen(e) {
        Expr::VectorSelector(_) => true,
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .any(|a| matches!(unparen(a), Expr::MatrixSelector(_))),
        _ => false,
    }
}

/// Computes group keys from label sets.
pub(super) struct Keyer {
    by: Option<Vec<u32>>,
    without: Vec<u32>,
}

impl Keyer {
    pub(super) fn new(ev: &Evaluator, m: Option<&LabelModifier>) -> Self {
        let ids = |ls: &[String]| -> Vec<u32> {
            ls.iter().filter_map(|l| ev.names.get(ev.h, l)).collect()
        };
        match m {
            None => Keyer {
                by: Some(Vec::new()),
                without: Vec::new(),
            },
            Some(LabelModifier::Include(ls)) => Keyer {
                by: Some(ids(&ls.labels)),
                without: Vec::new(),
            },
            Some(LabelModifier::Exclude(ls)) => {
                let mut without = ids(&ls.labels);
                without.extend(ev.name);
                Keyer { by: None, without }
            }
        }
    }

    pub(super) fn key(&self, labels: &Labels) -> Labels {
        match &self.by {
            Some(by) => labels
                .iter()
                .filter(|(k, _)| by.contains(k))
                .copied()
                .collect(),
            None => labels
                .iter()
                .filter(|(k, _)| !self.without.contains(k))
                .copied()
                .collect(),
        }
    }
}

/// One group's value at one step; `None` when no member has a value.
fn fold(op: &str, values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut acc = Fold::default();
    for v in values {
        acc.push(op, v);
    }
    acc.finish(op)
}

/// The running state of [`fold`], so members can be folded one at a time
/// (in the same order, hence to the same bits).
#[derive(Clone, Copy, Default)]
pub(super) struct Fold {
    n: f64,
    acc: f64,
    mean: f64,
}

impl Fold {
    /// Folds in the next member's value.
    pub(super) fn push(&mut self, op: &str, v: f64) {
        self.n += 1.0;
        let n = self.n;
        if n == 1.0 {
            self.acc = v;
            self.mean = v;
            if matches!(op, "stddev" | "stdvar") {
                self.acc = 0.0;
            }
            return;
        }
        match op {
            "sum" => self.acc += v,
            "min" if self.acc > v || self.acc.is_nan() => self.acc = v,
            "max" if self.acc < v || self.acc.is_nan() => self.acc = v,
            "avg" => {
                let mean = self.mean;
                if mean.is_infinite() && v.is_finite() {
                    return;
                }
                if mean.is_infinite() && v.is_infinite() && mean.signum() == v.signum() {
                    return;
                }
                self.mean += v / n - mean / n;
            }
            "stddev" | "stdvar" => {
                let delta = v - self.mean;
                self.mean += delta / n;
                self.acc += delta * (v - self.mean);
            }
            _ => {}
        }
    }

    /// The group's value; `None` when nothing was folded in.
    pub(super) fn finish(&self, op: &str) -> Option<f64> {
        if self.n == 0.0 {
            return None;
        }
        Some(match op {
            "count" => self.n,
            "group" => 1.0,
            "avg" => self.mean,
            "stdvar" => self.acc / self.n,
            "stddev" => (self.acc / self.n).sqrt(),
            _ => self.acc,
        })
    }
}

/// `topk`/`bottomk`: at each step, the `k` largest (smallest) members of
/// each group keep their value; NaN ranks below every number either way.
fn top(
    input: Vec<Series>,
    order: &[Labels],
    groups: &FxMap<Labels, Vec<usize>>,
    k: &[f64],
    largest: bool,
    steps: usize,
) -> Vec<Series> {
    let mut keep = vec![vec![false; steps]; input.len()];
    let mut cand: Vec<(usize, f64)> = Vec::new();
    for key in order {
        let members = &groups[key];
        for (i, kv) in k.iter().enumerate() {
            if kv.is_nan() || *kv < 1.0 {
                continue;
            }
            let n = (*kv as usize).min(members.len());
            cand.clear();
            cand.extend(
                members
                    .iter()
                    .filter_map(|m| Some((*m, input[*m].points[i]?))),
            );
            for m in topk::pick(&cand, n, largest) {
                keep[m][i] = true;
            }
        }
    }
    let mut out: Vec<Series> = input
        .into_iter()
        .zip(keep)
        .filter_map(|(mut s, keep)| {
            for (p, k) in s.points.iter_mut().zip(&keep) {
                if !k {
                    *p = None;
                }
            }
            s.points.iter().any(Option::is_some).then_some(s)
        })
        .collect();
    // An instant query lists the picks best first.
    out.sort_by(|a, b| match (a.points[0], b.points[0]) {
        (Some(x), Some(y)) => rank(x, y, largest),
        (a, b) => b.is_some().cmp(&a.is_some()),
    });
    out
}

/// Best first: descending for `topk`, ascending for `bottomk`, NaN last.
fn rank(a: f64, b: f64, largest: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if largest => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A float as Go's `%v` prints it: shortest digits, an exponent (`e+100`,
/// `e-05`) below 1e-4 and from 1e21 on.
fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if v == 0.0 || (-4..21).contains(&exp) {
        format!("{v}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    }
}
