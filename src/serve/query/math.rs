//! Element-wise PromQL functions of one instant vector that only map each
//! value: `sgn`, `exp`, `ln`, `log2`, `log10`, `sqrt`, the trigonometric
//! ones, `deg`, `rad`, and the date functions (`hour`, `day_of_week`, …,
//! in UTC, of `time()` when called without an argument), and the ones with
//! bounds (`abs ceil floor round clamp clamp_min clamp_max`). All drop
//! `__name__`, as in Prometheus 2.42.

use super::eval::{check_unique, Evaluator, Series, Value};
use super::functions::{arg, type_error};
use super::QueryError;
use promql_parser::parser::Expr;

/// The functions this module answers.
pub(super) const NAMES: &[&str] = &[
    "sgn",
    "exp",
    "ln",
    "log2",
    "log10",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "deg",
    "rad",
    "minute",
    "hour",
    "day_of_week",
    "day_of_month",
    "day_of_year",
    "days_in_month",
    "month",
    "year",
];

/// Evaluates `name(args)`; `name` is one of [`NAMES`].
pub(super) fn call(ev: &mut Evaluator, name: &str, args: &[&Expr]) -> Result<Value, QueryError> {
    let mut vs = match args.first() {
        Some(a) => match ev.eval(a)? {
            Value::Vector(vs) => vs,
            Value::Scalar(_) => {
                return Err(QueryError::Parse(format!(
                    "expected type instant vector in call to function \"{name}\""
                )))
            }
        },
        // Only the date functions may omit their argument: `vector(time())`.
        None => vec![Series {
            labels: Vec::new(),
            points: ev.steps.iter().map(|t| Some(*t as f64 / 1000.0)).collect(),
        }],
    };
    for s in &mut vs {
        ev.drop_name(&mut s.labels);
        for v in s.points.iter_mut().flatten() {
            *v = one(name, *v);
        }
    }
    check_unique(ev.h, &vs)?;
    Ok(Value::Vector(vs))
}

/// One value through `name`.
fn one(name: &str, v: f64) -> f64 {
    match name {
        "sgn" => {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v // 0, -0 and NaN stay as they are.
            }
        }
        "exp" => v.exp(),
        "ln" => v.ln(),
        "log2" => v.log2(),
        "log10" => v.log10(),
        "sqrt" => v.sqrt(),
        "sin" => v.sin(),
        "cos" => v.cos(),
        "tan" => v.tan(),
        "asin" => v.asin(),
        "acos" => v.acos(),
        "atan" => v.atan(),
        "sinh" => v.sinh(),
        "cosh" => v.cosh(),
        "tanh" => v.tanh(),
        "asinh" => v.asinh(),
        "acosh" => v.acosh(),
        "atanh" => v.atanh(),
        "deg" => v * 180.0 / std::f64::consts::PI,
        "rad" => v * std::f64::consts::PI / 180.0,
        date => date_part(date, v),
    }
}

/// A part of the UTC date of `v` seconds since the epoch, computed as Go's
/// `time.Unix(int64(v), 0).UTC()` does (its absolute-time arithmetic,
/// wrapping included), so extreme values answer what Prometheus answers.
fn date_part(name: &str, v: f64) -> f64 {
    // amd64's conversion: NaN and out-of-range floats become MinInt64.
    let secs = if v.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v)
    {
        i64::MIN
    } else {
        v as i64
    };
    let abs = secs.wrapping_add(UNIX_TO_INTERNAL.wrapping_add(INTERNAL_TO_ABSOLUTE)) as u64;
    let (year, yday) = abs_date(abs);
    let x = match name {
        "minute" => (abs % 3600 / 60) as i64,
        "hour" => (abs % 86_400 / 3600) as i64,
        // The absolute epoch is a Monday.
        "day_of_week" => ((abs + 86_400) % 604_800 / 86_400) as i64,
        "day_of_year" => yday + 1,
        "year" => year,
        _ => {
            let (month, day, len) = month_day(year, yday);
            match name {
                "day_of_month" => day,
                "month" => month,
                _ => len,
            }
        }
    };
    x as f64
}

const ABSOLUTE_ZERO_YEAR: i64 = -292_277_022_399;
const INTERNAL_TO_ABSOLUTE: i64 = -((ABSOLUTE_ZERO_YEAR - 1) * 31_556_952);
const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86_400;

/// Go's `absDate` without the month: the year and the day of the year (0-based).
fn abs_date(abs: u64) -> (i64, i64) {
    let mut d = abs / 86_400;
    let mut n = d / 146_097;
    let mut y = 400 * n;
    d -= 146_097 * n;
    n = d / 36_524;
    n -= n >> 2;
    y += 100 * n;
    d -= 36_524 * n;
    n = d / 1461;
    y += 4 * n;
    d -= 1461 * n;
    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;
    ((y as i64).wrapping_add(ABSOLUTE_ZERO_YEAR), d as i64)
}

/// Month (1–12), day of the month and the month's length of day `yday`
/// (0-based) of `year`.
fn month_day(year: i64, yday: i64) -> (i64, i64, i64) {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let mut lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if leap {
        lengths[1] = 29;
    }
    let mut day = yday;
    for (m, len) in lengths.iter().enumerate() {
        if day < *len || m == 11 {
            return (m as i64 + 1, day + 1, *len);
        }
        day -= len;
    }
    (12, day + 1, 31)
}

/// A scalar argument of `f`.
fn scalar_arg(
    ev: &mut Evaluator,
    args: &[&Expr],
    i: usize,
    f: &str,
) -> Result<Vec<f64>, QueryError> {
    match ev.eval(arg(args, i, f)?)? {
        Value::Scalar(v) => Ok(v),
        Value::Vector(_) => Err(type_error(f, "scalar")),
    }
}

/// `abs`, `ceil`, `floor`, `round`, `clamp`, `clamp_min`, `clamp_max`.
pub(super) fn elementwise(
    ev: &mut Evaluator,
    name: &str,
    args: &[&Expr],
) -> Result<Value, QueryError> {
    // `clamp(v, min, max)`: the upper bound per step (none above `min`).
    let upper = match name {
        "clamp" => Some(scalar_arg(ev, args, 2, name)?),
        _ => None,
    };
    let bound = match name {
        "clamp" => Some(scalar_arg(ev, args, 1, name)?),
        "clamp_min" | "clamp_max" | "round" if args.len() > 1 => match ev.eval(args[1])? {
            Value::Scalar(v) => Some(v),
            Value::Vector(_) => return Err(type_error(name, "scalar")),
        },
        "clamp_min" | "clamp_max" => {
            return Err(QueryError::Parse(format!(
                "expected 2 arguments of {name}()"
            )))
        }
        _ => None,
    };
    let Value::Vector(mut vs) = ev.eval(arg(args, 0, name)?)? else {
        return Err(type_error(name, "instant vector"));
    };
    for s in &mut vs {
        ev.drop_name(&mut s.labels);
        for (i, p) in s.points.iter_mut().enumerate() {
            let Some(v) = p else { continue };
            let b = bound.as_ref().map_or(1.0, |b| b[i]);
            if let Some(hi) = &upper {
                // Prometheus answers nothing where max < min.
                *p = (hi[i] >= b || hi[i].is_nan() || b.is_nan())
                    .then(|| go_max(b, go_min(hi[i], *v)));
                continue;
            }
            *v = match name {
                "abs" => v.abs(),
                "ceil" => v.ceil(),
                "floor" => v.floor(),
                // Prometheus rounds half up, to a multiple of `to_nearest`,
                // multiplying by its inverse (which differs from dividing
                // in the last bit for e.g. 0.1).
                "round" => {
                    let inverse = 1.0 / b;
                    (*v * inverse + 0.5).floor() / inverse
                }
                "clamp_min" => go_max(*v, b),
                _ => go_min(*v, b),
            };
        }
    }
    check_unique(ev.h, &vs)?;
    Ok(Value::Vector(vs))
}

/// Go's `math.Max`: +Inf if either is +Inf, else NaN if either is NaN
/// (Rust's `max` ignores a NaN).
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: -Inf if either is -Inf, else NaN if either is NaN.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_days() {
        // 2023-11-14T22:13:20Z, a Tuesday, day 318 of a 30-day month.
        let t = 1_700_000_000.0;
        assert_eq!(date_part("year", t), 2023.0);
        assert_eq!(date_part("month", t), 11.0);
        assert_eq!(date_part("day_of_month", t), 14.0);
        assert_eq!(date_part("day_of_week", t), 2.0);
        assert_eq!(date_part("day_of_year", t), 318.0);
        assert_eq!(date_part("days_in_month", t), 30.0);
        assert_eq!(date_part("hour", t), 22.0);
        assert_eq!(date_part("minute", t), 13.0);
        // 2024-02-29 (leap) and the day before the epoch.
        assert_eq!(date_part("days_in_month", 1_709_164_800.0), 29.0);
        assert_eq!(date_part("year", -1.0), 1969.0);
        assert_eq!(date_part("day_of_week", -1.0), 3.0);
        assert_eq!(date_part("month", 951_782_400.0), 2.0); // 2000-02-29
        assert_eq!(date_part("day_of_month", 951_782_400.0), 29.0);
        // Go's answer for NaN (MinInt64 seconds) is in a December.
        assert_eq!(date_part("month", f64::NAN), 12.0);
    }

    #[test]
    fn sgn_keeps_zero_and_nan() {
        assert_eq!(one("sgn", -3.0), -1.0);
        assert!(one("sgn", f64::NAN).is_nan());
        assert_eq!(one("sgn", 0.0), 0.0);
    }
}
