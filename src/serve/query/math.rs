//! Element-wise PromQL functions of one instant vector that only map each
//! value: `sgn`, `exp`, `ln`, `log2`, `log10`, `sqrt`, the trigonometric
//! ones, `deg`, `rad`, and the date functions (`hour`, `day_of_week`, …,
//! in UTC, of `time()` when called without an argument). All drop
//! `__name__`, as in Prometheus 2.42.

use super::eval::{check_unique, Evaluator, Series, Value};
use super::QueryError;
use promql_parser::parser::Expr;

/// The functions this module answers.
pub(super) const NAMES: &[&str] = &[
    "sgn", "exp", "ln", "log2", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad", "minute", "hour",
    "day_of_week", "day_of_month", "day_of_year", "days_in_month", "month", "year",
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

/// A part of the UTC date of `v` seconds since the epoch (Go's
/// `time.Unix(int64(v), 0).UTC()`).
fn date_part(name: &str, v: f64) -> f64 {
    // The saturating cast keeps the civil arithmetic below in range (Go's
    // conversion of an out-of-range float is implementation-defined).
    let secs = v as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let x = match name {
        "minute" => (of_day / 60) % 60,
        "hour" => of_day / 3600,
        // 1970-01-01 was a Thursday (4).
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_month" => d,
        "day_of_year" => month_days[..(m - 1) as usize].iter().sum::<i64>() + d,
        "days_in_month" => month_days[(m - 1) as usize],
        "month" => m,
        _ => y,
    };
    x as f64
}

/// Year, month (1–12) and day (1–31) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
    }

    #[test]
    fn sgn_keeps_zero_and_nan() {
        assert_eq!(one("sgn", -3.0), -1.0);
        assert!(one("sgn", f64::NAN).is_nan());
        assert_eq!(one("sgn", 0.0), 0.0);
    }
}
