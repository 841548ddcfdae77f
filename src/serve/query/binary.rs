//! Binary operators between scalars, and between a vector and a scalar:
//! arithmetic (`+ - * / % ^ atan2`, dropping `__name__`) and comparisons
//! (filtering, or 0/1 with `bool`). Operations between two vectors are
//! matched by labels in [`super::matching`].

use super::eval::{check_unique, Evaluator, Value};
use super::{matching, QueryError};
use promql_parser::parser::BinaryExpr;

/// Evaluates a binary expression.
pub(super) fn eval(ev: &mut Evaluator, b: &BinaryExpr) -> Result<Value, QueryError> {
    let op = b.op.to_string();
    let op = op.as_str();
    if b.modifier
        .as_ref()
        .is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some())
    {
        return Err(QueryError::Unsupported(
            "fill modifiers on binary operators (not in Prometheus 2.42)".into(),
        ));
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
                // Prometheus 2.42 keeps the name for comparisons and atan2.
                if !(comparison || op == "atan2") || want_bool {
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
        (Value::Vector(l), Value::Vector(r)) => {
            let m = b.modifier.as_ref();
            if matches!(op, "and" | "or" | "unless") {
                matching::set_op(ev, op, l, r, m).map(Value::Vector)
            } else {
                matching::vector_op(ev, op, l, r, m).map(Value::Vector)
            }
        }
    }
}

/// Whether `e` evaluates to a vector (decided by its type, not its value).
fn is_vector(_ev: &Evaluator, e: &promql_parser::parser::Expr) -> bool {
    use promql_parser::parser::value::ValueType;
    matches!(e.value_type(), ValueType::Vector | ValueType::Matrix)
}

/// One operation: the arithmetic result, and for comparisons whether the
/// comparison holds.
pub(super) fn apply(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        // Go's math.Mod: the sign of the dividend, NaN for a zero divisor.
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (f64::NAN, false),
    }
}
