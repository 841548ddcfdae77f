//! Binary operators between scalars, and between a vector and a scalar:
//! arithmetic (`+ - * / % ^`, dropping `__name__`) and comparisons
//! (filtering, or 0/1 with `bool`). Operations between two vectors and the
//! set operators need label matching, which nodewatch does not evaluate;
//! they are refused by name.

use super::eval::{check_unique, Evaluator, Value};
use super::QueryError;
use promql_parser::parser::BinaryExpr;

/// Evaluates a binary expression.
pub(super) fn eval(ev: &mut Evaluator, b: &BinaryExpr) -> Result<Value, QueryError> {
    let op = b.op.to_string();
    let op = op.as_str();
    if matches!(op, "and" | "or" | "unless") {
        return Err(QueryError::Unsupported(format!("the set operator `{op}`")));
    }
    if op == "atan2" {
        return Err(QueryError::Unsupported("the atan2 operator".into()));
    }
    let comparison = matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=");
    let want_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let v = l
                .iter()
                .zip(&r)
                .map(|(x, y)| {
                    let (v, keep) = apply(op, *x, *y);
                    if comparison {
                        f64::from(u8::from(keep))
                    } else {
                        v
                    }
                })
                .collect();
            Ok(Value::Scalar(v))
        }
        (Value::Vector(mut vs), Value::Scalar(s)) | (Value::Scalar(s), Value::Vector(mut vs)) => {
            let swap = matches!(*b.lhs, ref e if !is_vector(ev, e));
            for series in &mut vs {
                if !comparison || want_bool {
                    ev.drop_name(&mut series.labels);
                }
                for (p, sv) in series.points.iter_mut().zip(&s) {
                    let Some(v) = *p else { continue };
                    let (l, r) = if swap { (*sv, v) } else { (v, *sv) };
                    let (mut out, keep) = apply(op, l, r);
                    if comparison {
                        // The vector's own value is kept, whichever side it is on.
                        out = v;
                    }
                    *p = if want_bool {
                        Some(f64::from(u8::from(keep)))
                    } else if keep {
                        Some(out)
                    } else {
                        None
                    };
                }
            }
            vs.retain(|s| s.points.iter().any(Option::is_some));
            check_unique(ev.h, &vs)?;
            Ok(Value::Vector(vs))
        }
        (Value::Vector(_), Value::Vector(_)) => Err(QueryError::Unsupported(format!(
            "binary operator `{op}` between two vectors (label matching); one side must be a scalar"
        ))),
    }
}

/// Whether `e` evaluates to a vector (decided by its type, not its value).
fn is_vector(_ev: &Evaluator, e: &promql_parser::parser::Expr) -> bool {
    use promql_parser::parser::value::ValueType;
    matches!(e.value_type(), ValueType::Vector | ValueType::Matrix)
}

/// One operation: the arithmetic result, and for comparisons whether the
/// comparison holds.
fn apply(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        // Go's math.Mod: the sign of the dividend, NaN for a zero divisor.
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (f64::NAN, false),
    }
}
