//! Range-vector functions with scalar parameters or a regression, as
//! Prometheus 2.42 computes them: `quantile_over_time`, `deriv`,
//! `predict_linear`, `holt_winters`; and the `quantile` both
//! `quantile_over_time` and the `quantile` aggregation use.

use super::eval::{Evaluator, Value};
use super::functions::{arg, type_error, windowed};
use super::QueryError;
use promql_parser::parser::Expr;

/// The functions this module answers.
pub(super) const NAMES: &[&str] = &[
    "quantile_over_time",
    "deriv",
    "predict_linear",
    "holt_winters",
    "double_exponential_smoothing",
];

/// `q` with the function name `holt_winters` (Prometheus 2.42's) spelled
/// `double_exponential_smoothing`, the only name the parser knows; quoted
/// text is left alone.
pub(super) fn holt_winters_renamed(q: &str) -> std::borrow::Cow<'_, str> {
    const OLD: &str = "holt_winters";
    if !q.contains(OLD) {
        return q.into();
    }
    let b = q.as_bytes();
    let mut out = String::with_capacity(q.len() + 20);
    let (mut i, mut quote, mut last) = (0, None::<u8>, 0);
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(qc) => {
                if c == b'\\' && qc != b'`' {
                    i += 1;
                } else if c == qc {
                    quote = None;
                }
            }
            None if matches!(c, b'"' | b'\'' | b'`') => quote = Some(c),
            None if q[i..].starts_with(OLD)
                && (i == 0 || !is_ident(b[i - 1]))
                && !b.get(i + OLD.len()).copied().is_some_and(is_ident)
                && q[i + OLD.len()..].trim_start().starts_with('(') =>
            {
                out.push_str(&q[last..i]);
                out.push_str("double_exponential_smoothing");
                i += OLD.len();
                last = i;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out.push_str(&q[last.min(q.len())..]);
    out.into()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Evaluates `name(args)`; `name` is one of [`NAMES`].
pub(super) fn call(ev: &mut Evaluator, name: &str, args: &[&Expr]) -> Result<Value, QueryError> {
    match name {
        "quantile_over_time" => {
            let q = scalar(ev, name, arg(args, 0, name)?)?;
            let mut vals = Vec::new();
            windowed(ev, name, args.get(1).copied(), |s, _, i, _| {
                vals.clear();
                vals.extend(s.iter().map(|p| p.1));
                Ok(Some(quantile(q[i], &mut vals)))
            })
        }
        "deriv" => windowed(ev, name, args.first().copied(), |s, _, _, _| {
            Ok((s.len() >= 2).then(|| linear_regression(s, s[0].0).0))
        }),
        "predict_linear" => {
            let d = scalar(ev, name, arg(args, 1, name)?)?;
            let steps = ev.steps.clone();
            windowed(ev, name, args.first().copied(), |s, _, i, _| {
                // Prometheus 2.42 regresses around the step's own time
                // (not the offset one) and predicts `d` seconds past it.
                if s.len() < 2 {
                    return Ok(None);
                }
                let (slope, intercept) = linear_regression(s, steps[i]);
                Ok(Some(slope * d[i] + intercept))
            })
        }
        _ => {
            let sf = scalar(ev, name, arg(args, 1, name)?)?;
            let tf = scalar(ev, name, arg(args, 2, name)?)?;
            windowed(ev, name, args.first().copied(), |s, _, i, _| {
                holt_winters(s, sf[i], tf[i])
            })
        }
    }
}

/// A scalar argument's value per step.
fn scalar(ev: &mut Evaluator, name: &str, e: &Expr) -> Result<Vec<f64>, QueryError> {
    match ev.eval(e)? {
        Value::Scalar(v) => Ok(v),
        Value::Vector(_) => Err(type_error(name, "scalar")),
    }
}

/// Prometheus's `quantile`: linear between the two nearest ranks, `-Inf`
/// below 0, `+Inf` above 1; NaN sorts first.
pub(super) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Least-squares slope (per second) and intercept at `intercept_ms`.
fn linear_regression(s: &[(i64, f64)], intercept_ms: i64) -> (f64, f64) {
    let (mut n, mut sx, mut sy, mut sxy, mut sx2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let first = s[0].1;
    let mut constant = true;
    for &(t, v) in s {
        constant &= v == first;
        let x = (t - intercept_ms) as f64 / 1e3;
        n += 1.0;
        sy += v;
        sx += x;
        sxy += x * v;
        sx2 += x * x;
    }
    if constant {
        return if first.is_infinite() {
            (f64::NAN, f64::NAN)
        } else {
            (0.0, first)
        };
    }
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Double exponential smoothing; both factors must lie in (0, 1).
fn holt_winters(s: &[(i64, f64)], sf: f64, tf: f64) -> Result<Option<f64>, QueryError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(QueryError::Execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(QueryError::Execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    if s.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1) = (0.0, s[0].1);
    let mut b = s[1].1 - s[0].1;
    for (i, p) in s.iter().enumerate().skip(1) {
        let x = sf * p.1;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_and_bounds() {
        assert_eq!(quantile(0.5, &mut [3.0, 1.0, 2.0, 4.0]), 2.5);
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn holt_winters_is_renamed_outside_quotes_only() {
        assert_eq!(
            holt_winters_renamed("holt_winters (x[5m], 0.5, 0.5)"),
            "double_exponential_smoothing (x[5m], 0.5, 0.5)"
        );
        let q = "x{a=\"holt_winters(\"} + my_holt_winters(1)";
        assert_eq!(holt_winters_renamed(q), q);
        assert!(crate::serve::query::parse("holt_winters(x[5m], 0.5, 0.5)").is_ok());
    }

    #[test]
    fn regression_of_a_line() {
        let s = [(0, 1.0), (1000, 3.0), (2000, 5.0)];
        assert_eq!(linear_regression(&s, 0), (2.0, 1.0));
        assert_eq!(linear_regression(&[(0, 7.0), (1000, 7.0)], 0), (0.0, 7.0));
    }
}
