//! PromQL functions: the range-vector ones dashboards use (`rate`,
//! `increase`, `*_over_time`...) with Prometheus 2.42's extrapolation, and a
//! few instant-vector and scalar helpers. Any other function is refused by
//! name.

use super::eval::{check_unique, unparen, Evaluator, Series, Value};
use super::modifiers::duration_ms;
use super::{histogram, labels, math, range_params, QueryError};
use crate::collect::tsdb::Extrapolation;
use promql_parser::parser::{Call, Expr};

/// Evaluates a function call.
pub(super) fn call(ev: &mut Evaluator, c: &Call) -> Result<Value, QueryError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    match name {
        "rate" | "increase" | "delta" | "irate" | "changes" | "resets" | "avg_over_time"
        | "min_over_time" | "max_over_time" | "sum_over_time" | "count_over_time"
        | "last_over_time" | "present_over_time" | "stddev_over_time" | "stdvar_over_time" => {
            over_range(ev, name, args.first().copied())
        }
        "abs" | "ceil" | "floor" | "round" | "clamp" | "clamp_min" | "clamp_max" => {
            math::elementwise(ev, name, &args)
        }
        "label_replace" | "label_join" | "absent" | "absent_over_time" => {
            labels::call(ev, name, &args)
        }
        "histogram_quantile" => histogram::quantile(ev, &args),
        "sort" | "sort_desc" => sort(ev, name == "sort_desc", &args),
        _ if math::NAMES.contains(&name) => math::call(ev, name, &args),
        _ if range_params::NAMES.contains(&name) => range_params::call(ev, name, &args),
        "histogram_count" | "histogram_sum" | "histogram_fraction" => Err(
            QueryError::Unsupported(format!(
                "native histograms ({name}): nodewatch stores none; histogram_quantile works on classic _bucket series"
            )),
        ),
        "timestamp" => timestamp(ev, arg(&args, 0, name)?),
        "pi" => Ok(Value::Scalar(vec![std::f64::consts::PI; ev.steps.len()])),
        "time" => Ok(Value::Scalar(
            ev.steps.iter().map(|t| *t as f64 / 1000.0).collect(),
        )),
        "vector" => match ev.eval(arg(&args, 0, name)?)? {
            Value::Scalar(v) => Ok(Value::Vector(vec![Series {
                labels: Vec::new(),
                points: v.into_iter().map(Some).collect(),
            }])),
            Value::Vector(_) => Err(type_error(name, "scalar")),
        },
        "scalar" => match ev.eval(arg(&args, 0, name)?)? {
            Value::Vector(vs) => {
                let n = ev.steps.len();
                Ok(Value::Scalar(
                    (0..n)
                        .map(|i| {
                            let mut present = vs.iter().filter_map(|s| s.points[i]);
                            match (present.next(), present.next()) {
                                (Some(v), None) => v,
                                _ => f64::NAN,
                            }
                        })
                        .collect(),
                ))
            }
            Value::Scalar(_) => Err(type_error(name, "instant vector")),
        },
        other => Err(QueryError::Unsupported(format!("function {other}()"))),
    }
}

pub(super) fn arg<'e>(args: &[&'e Expr], i: usize, f: &str) -> Result<&'e Expr, QueryError> {
    args.get(i)
        .copied()
        .ok_or_else(|| QueryError::Parse(format!("expected argument {} of {f}()", i + 1)))
}

pub(super) fn type_error(f: &str, want: &str) -> QueryError {
    QueryError::Parse(format!("expected type {want} in call to function \"{f}\""))
}

/// A function over a range selector, evaluated on each step's window.
fn over_range(ev: &mut Evaluator, name: &str, a: Option<&Expr>) -> Result<Value, QueryError> {
    windowed(ev, name, a, |buf, t, _, range| {
        Ok(fold(name, buf, t, range))
    })
}

/// Runs `f(samples, window end, step index, range)` on each step's
/// non-empty window of the range selector `a` (the argument of `name`).
pub(super) fn windowed(
    ev: &mut Evaluator,
    name: &str,
    a: Option<&Expr>,
    mut f: impl FnMut(&[(i64, f64)], i64, usize, i64) -> Result<Option<f64>, QueryError>,
) -> Result<Value, QueryError> {
    let ms = match a.map(unparen) {
        Some(Expr::MatrixSelector(ms)) => ms,
        Some(Expr::Subquery(sq)) => return super::subquery::windowed(ev, name, sq, f),
        _ => return Err(type_error(name, "range vector")),
    };
    let range = duration_ms(&ms.range)?;
    let (ids, windows, ends) = ev.windows(&ms.vs, range)?;
    let h = ev.h;
    let mut out = Vec::with_capacity(ids.len());
    let mut read = super::window::Decoded::default();
    let mut cur = h.cursor();
    for (n, sid) in ids.into_iter().enumerate() {
        if n % 64 == 63 {
            ev.check_time()?;
        }
        let Some(stored) = h.series(sid) else {
            continue;
        };
        cur.series(sid);
        read.clear();
        let mut points = Vec::with_capacity(windows.len());
        let mut any = false;
        for (i, (w, t)) in windows.iter().zip(&ends).enumerate() {
            let s = read.window(w.clone(), |g| Some((h.time_of(g), cur.get(g)?)));
            let v = if s.is_empty() {
                None
            } else {
                f(s, *t, i, range)?
            };
            any |= v.is_some();
            points.push(v);
        }
        if any {
            let mut labels = stored.labels.to_vec();
            if name != "last_over_time" {
                ev.drop_name(&mut labels);
            }
            out.push(Series { labels, points });
        }
    }
    check_unique(h, &out)?;
    Ok(Value::Vector(out))
}

/// One function over one window's samples (non-empty, time-ordered).
fn fold(name: &str, s: &[(i64, f64)], t: i64, range: i64) -> Option<f64> {
    let n = s.len() as f64;
    let vals = || s.iter().map(|p| p.1);
    Some(match name {
        "rate" => extrapolated(s, t, range, true, true)?,
        "increase" => extrapolated(s, t, range, true, false)?,
        "delta" => extrapolated(s, t, range, false, false)?,
        "irate" => {
            let [.., (t0, a), (t1, b)] = s else {
                return None;
            };
            let d = if b < a { *b } else { b - a };
            d / ((t1 - t0) as f64 / 1000.0)
        }
        "changes" => s
            .windows(2)
            .filter(|w| w[0].1 != w[1].1 && !(w[0].1.is_nan() && w[1].1.is_nan()))
            .count() as f64,
        "resets" => s.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64,
        "avg_over_time" => {
            // Prometheus 2.42's incremental mean, Kahan-compensated; once
            // the mean is infinite, finite values and infinities of its
            // sign keep it (`Inf 0 Inf` is +Inf, not `Inf - Inf`).
            let (mut mean, mut c) = (0.0f64, 0.0f64);
            for (i, v) in vals().enumerate() {
                let count = (i + 1) as f64;
                if mean.is_infinite()
                    && ((v.is_infinite() && (mean > 0.0) == (v > 0.0)) || v.is_finite())
                {
                    continue;
                }
                (mean, c) = kahan_inc(v / count - mean / count, mean, c);
            }
            if mean.is_infinite() {
                mean
            } else {
                mean + c
            }
        }
        "min_over_time" => vals().fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m }),
        "max_over_time" => vals().fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m }),
        "sum_over_time" => {
            // Kahan-Neumaier compensated, as Prometheus 2.42.
            let (mut sum, mut c) = (0.0f64, 0.0f64);
            for v in vals() {
                (sum, c) = kahan_inc(v, sum, c);
            }
            if sum.is_infinite() {
                sum
            } else {
                sum + c
            }
        }
        "count_over_time" => n,
        "last_over_time" => s[s.len() - 1].1,
        "present_over_time" => 1.0,
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut aux) = (0.0, 0.0, 0.0);
            for v in vals() {
                count += 1.0;
                let delta = v - mean;
                mean += delta / count;
                aux += delta * (v - mean);
            }
            let var = aux / count;
            if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            }
        }
        _ => return None,
    })
}

/// One step of Kahan-Neumaier summation (Prometheus's `kahanSumInc`):
/// the new sum and the new compensation.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus 2.42's `extrapolatedRate` over one window ending at `t`
/// (ms): the kernel replay's `rate` uses too.
fn extrapolated(
    s: &[(i64, f64)],
    t: i64,
    range: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let w = Extrapolation {
        range_start: t - range,
        range_end: t,
        range_ms: range,
        is_counter,
        is_rate,
    };
    crate::collect::tsdb::extrapolated(s.len(), |i| s[i], &w)
}

/// `timestamp(v)`: a selector's sample times (Prometheus 2.42 special-cases
/// a bare selector), otherwise each step's time.
fn timestamp(ev: &mut Evaluator, a: &Expr) -> Result<Value, QueryError> {
    let mut vs = match a {
        Expr::VectorSelector(s) => ev.vector(s, true)?,
        other => match ev.eval(other)? {
            Value::Vector(mut vs) => {
                for s in &mut vs {
                    for (p, t) in s.points.iter_mut().zip(&ev.steps) {
                        if p.is_some() {
                            *p = Some(*t as f64 / 1000.0);
                        }
                    }
                }
                vs
            }
            Value::Scalar(_) => return Err(type_error("timestamp", "instant vector")),
        },
    };
    for s in &mut vs {
        ev.drop_name(&mut s.labels);
    }
    check_unique(ev.h, &vs)?;
    Ok(Value::Vector(vs))
}

/// `sort` / `sort_desc`: orders by the value at the first step (only
/// instant queries keep the order).
fn sort(ev: &mut Evaluator, desc: bool, args: &[&Expr]) -> Result<Value, QueryError> {
    let name = if desc { "sort_desc" } else { "sort" };
    let Value::Vector(mut vs) = ev.eval(arg(args, 0, name)?)? else {
        return Err(type_error(name, "instant vector"));
    };
    vs.sort_by(|a, b| {
        let (x, y) = (
            a.points[0].unwrap_or(f64::NAN),
            b.points[0].unwrap_or(f64::NAN),
        );
        let o = x
            .partial_cmp(&y)
            .unwrap_or_else(|| y.is_nan().cmp(&x.is_nan()));
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    Ok(Value::Vector(vs))
}
