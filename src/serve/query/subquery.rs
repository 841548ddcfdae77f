//! Subqueries (`expr[range:step]`), as Prometheus 2.42 evaluates them: the
//! inner expression runs once, at every multiple of `step` (1 m, the
//! default evaluation interval, when omitted) from the first one at or
//! after `start - offset - range` to `end - offset`; each outer step's
//! window `[t - range, t]` of those points then feeds the range function.
//! The inner steps count against the query's samples budget before they
//! are allocated, and the inner evaluation shares the depth bound.

use super::eval::{check_unique, cmp_labels, Evaluator, Series, Value};
use super::modifiers::duration_ms;
use super::{Data, Labels, QueryError};
use promql_parser::parser::SubqueryExpr;

/// The step of a subquery without one: Prometheus's default
/// `evaluation_interval`.
const DEFAULT_STEP_MS: i64 = 60_000;

/// The inner series, their steps (ms), each outer step's window end (ms)
/// and the range (ms).
type Inner = (Vec<Series>, Vec<i64>, Vec<i64>, i64);

/// Evaluates the inner expression over every step any window needs.
fn inner(ev: &mut Evaluator, sq: &SubqueryExpr) -> Result<Inner, QueryError> {
    let range = duration_ms(&sq.range)?;
    let step = match &sq.step {
        Some(d) => duration_ms(d)?,
        None => DEFAULT_STEP_MS,
    };
    if step <= 0 {
        return Err(QueryError::Parse("zero subquery step".into()));
    }
    let ends = ev.read_times(sq.at.as_ref(), sq.offset.as_ref())?;
    let lo = ends
        .iter()
        .min()
        .copied()
        .unwrap_or(0)
        .saturating_sub(range);
    let hi = ends.iter().max().copied().unwrap_or(0);
    // Go's truncating division, then up to the first multiple >= lo.
    let mut first = step * (lo / step);
    if first < lo {
        first += step;
    }
    let count = if hi < first {
        0
    } else {
        ((hi - first) / step + 1) as usize
    };
    // Bounded before allocating: the steps count as samples held.
    ev.account(count)?;
    let steps: Vec<i64> = (0..count as i64).map(|i| first + i * step).collect();
    if steps.is_empty() {
        return Ok((Vec::new(), steps, ends, range));
    }
    let mut sub = ev.nested(steps.clone());
    let value = sub.eval(&sq.expr);
    ev.absorb(sub);
    let series = match value? {
        Value::Vector(s) => s,
        Value::Scalar(v) => vec![Series {
            labels: Vec::new(),
            points: v.into_iter().map(Some).collect(),
        }],
    };
    Ok((series, steps, ends, range))
}

/// The inner points of `s` within `[end - range, end]`.
fn window(s: &Series, steps: &[i64], end: i64, range: i64, buf: &mut Vec<(i64, f64)>) {
    buf.clear();
    let from = steps.partition_point(|t| *t < end.saturating_sub(range));
    let to = steps.partition_point(|t| *t <= end);
    let to = to.max(from);
    for (t, p) in steps[from..to].iter().zip(&s.points[from..to]) {
        if let Some(v) = p {
            buf.push((*t, *v));
        }
    }
}

/// A range function `name` over a subquery: `f(samples, window end, step
/// index, range)` on each outer step's non-empty window.
pub(super) fn windowed(
    ev: &mut Evaluator,
    name: &str,
    sq: &SubqueryExpr,
    mut f: impl FnMut(&[(i64, f64)], i64, usize, i64) -> Result<Option<f64>, QueryError>,
) -> Result<Value, QueryError> {
    let (series, steps, ends, range) = inner(ev, sq)?;
    ev.account(series.len().saturating_mul(ends.len()))?;
    let mut out = Vec::with_capacity(series.len());
    let mut buf = Vec::new();
    for (n, s) in series.iter().enumerate() {
        if n % 64 == 63 {
            ev.check_time()?;
        }
        let mut points = Vec::with_capacity(ends.len());
        for (i, end) in ends.iter().enumerate() {
            window(s, &steps, *end, range, &mut buf);
            points.push(if buf.is_empty() {
                None
            } else {
                f(&buf, *end, i, range)?
            });
        }
        if points.iter().any(Option::is_some) {
            let mut labels: Labels = s.labels.clone();
            if name != "last_over_time" {
                ev.drop_name(&mut labels);
            }
            out.push(Series { labels, points });
        }
    }
    check_unique(ev.h, &out)?;
    Ok(Value::Vector(out))
}

/// A subquery as the whole (instant) query: its points in the window.
pub(super) fn raw(ev: &mut Evaluator, sq: &SubqueryExpr) -> Result<Data, QueryError> {
    let (series, steps, ends, range) = inner(ev, sq)?;
    let mut buf = Vec::new();
    let mut out: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for s in &series {
        window(s, &steps, ends[0], range, &mut buf);
        if !buf.is_empty() {
            out.push((s.labels.clone(), buf.clone()));
        }
    }
    out.sort_by(|a, b| cmp_labels(ev, &a.0, &b.0));
    Ok(Data::Matrix(out))
}
