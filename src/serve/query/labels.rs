//! The functions that make up labels, with Prometheus 2.42's rules and
//! errors: `label_replace`, `label_join`, `count_values`, `absent` and
//! `absent_over_time`. Strings no stored series has go to the query's
//! [`super::Names`], never to the history.

use super::eval::{check_unique, unparen, Evaluator, Series, Value};
use super::functions::{arg, type_error, windowed};
use super::{guard, Labels, QueryError};
use crate::serve::history::FxMap;
use promql_parser::label::MatchOp;
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

/// Evaluates `label_replace`, `label_join`, `absent` or `absent_over_time`.
pub(super) fn call(ev: &mut Evaluator, name: &str, args: &[&Expr]) -> Result<Value, QueryError> {
    match name {
        "label_replace" => label_replace(ev, args),
        "label_join" => label_join(ev, args),
        "absent" => absent(ev, args),
        _ => absent_over_time(ev, args),
    }
}

/// A string argument (parentheses allowed, as Prometheus unwraps them).
fn string_arg<'e>(args: &[&'e Expr], i: usize, f: &str) -> Result<&'e str, QueryError> {
    match unparen(arg(args, i, f)?) {
        Expr::StringLiteral(s) => Ok(&s.val),
        _ => Err(type_error(f, "string")),
    }
}

/// The instant vector argument `i` of `f`.
fn vector_arg(
    ev: &mut Evaluator,
    args: &[&Expr],
    i: usize,
    f: &str,
) -> Result<Vec<Series>, QueryError> {
    match ev.eval(arg(args, i, f)?)? {
        Value::Vector(vs) => Ok(vs),
        Value::Scalar(_) => Err(type_error(f, "instant vector")),
    }
}

/// Prometheus's `model.LabelName.IsValid`: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(super) fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Sets label `name` of `labels` (sorted by name) to `value`; an empty
/// value removes it, as Prometheus's label builder does.
fn set(ev: &mut Evaluator, labels: &mut Labels, name: &str, value: &str) {
    let id = ev.names.intern(ev.h, name);
    labels.retain(|(k, _)| *k != id);
    if value.is_empty() {
        return;
    }
    let v = ev.names.intern(ev.h, value);
    let at = labels.partition_point(|(k, _)| ev.resolve(*k) < name);
    labels.insert(at, (id, v));
}

/// The value of label `name` in `labels`, `""` when absent.
fn get(ev: &Evaluator, labels: &Labels, name: &str) -> String {
    let Some(id) = ev.names.get(ev.h, name) else {
        return String::new();
    };
    labels
        .iter()
        .find(|(k, _)| *k == id)
        .map_or(String::new(), |(_, v)| ev.resolve(*v).to_string())
}

/// `label_replace(v, dst, replacement, src, regex)`: where the anchored
/// `regex` matches `src`'s value, `dst` becomes the expanded replacement
/// (`$1`, `${name}`; removed when empty); other series pass unchanged.
fn label_replace(ev: &mut Evaluator, args: &[&Expr]) -> Result<Value, QueryError> {
    let f = "label_replace";
    let mut vs = vector_arg(ev, args, 0, f)?;
    let (dst, repl, src, re) = (
        string_arg(args, 1, f)?,
        string_arg(args, 2, f)?,
        string_arg(args, 3, f)?,
        string_arg(args, 4, f)?,
    );
    let regex = regex::RegexBuilder::new(&format!("^(?:{re})$"))
        .size_limit(guard::MAX_REGEX_BYTES)
        .build()
        .ok()
        .filter(|_| !angle_group(re))
        .ok_or_else(|| {
            QueryError::Execution(format!(
                "invalid regular expression in label_replace(): {re}"
            ))
        })?;
    if !valid_name(dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut res = String::new();
    for (n, s) in vs.iter_mut().enumerate() {
        if n % 256 == 255 {
            ev.check_time()?;
        }
        let value = get(ev, &s.labels, src);
        let Some(caps) = regex.captures(&value) else {
            continue;
        };
        res.clear();
        caps.expand(repl, &mut res);
        set(ev, &mut s.labels, dst, &res);
    }
    check_unique(ev.h, &vs)?;
    Ok(Value::Vector(vs))
}

/// Whether `re` has a `(?<name>...)` group: Rust's `regex` reads it,
/// Go's RE2 as Prometheus 2.42 ships it refuses it (only `(?P<name>...)`).
/// Escapes and character classes are skipped, so `\(?<` stays valid.
fn angle_group(re: &str) -> bool {
    let b = re.as_bytes();
    let (mut i, mut class) = (0, false);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !class => {
                class = true;
                // A `]` right after `[` or `[^` is a literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if class => class = false,
            b'(' if !class && b[i + 1..].starts_with(b"?<") => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// `label_join(v, dst, separator, src...)`: `dst` becomes the `src`
/// values joined (removed when that is empty).
fn label_join(ev: &mut Evaluator, args: &[&Expr]) -> Result<Value, QueryError> {
    let f = "label_join";
    let mut vs = vector_arg(ev, args, 0, f)?;
    let (dst, sep) = (string_arg(args, 1, f)?, string_arg(args, 2, f)?);
    let srcs = (3..args.len())
        .map(|i| string_arg(args, i, f))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(bad) = srcs.iter().find(|s| !valid_name(s)) {
        return Err(QueryError::Execution(format!(
            "invalid source label name in label_join(): {bad}"
        )));
    }
    if !valid_name(dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    for (n, s) in vs.iter_mut().enumerate() {
        if n % 256 == 255 {
            ev.check_time()?;
        }
        let joined = srcs
            .iter()
            .map(|src| get(ev, &s.labels, src))
            .collect::<Vec<_>>()
            .join(sep);
        set(ev, &mut s.labels, dst, &joined);
    }
    check_unique(ev.h, &vs)?;
    Ok(Value::Vector(vs))
}

/// `absent(v)`: 1 at each step where `v` has no sample, with the labels
/// of `v`'s equality matchers.
fn absent(ev: &mut Evaluator, args: &[&Expr]) -> Result<Value, QueryError> {
    let vs = vector_arg(ev, args, 0, "absent")?;
    let present: Vec<bool> = (0..ev.steps.len())
        .map(|i| vs.iter().any(|s| s.points[i].is_some()))
        .collect();
    Ok(absent_where(ev, args[0], &present))
}

/// `absent_over_time(v[r])`: 1 at each step where no series of `v` has a
/// sample in the window.
fn absent_over_time(ev: &mut Evaluator, args: &[&Expr]) -> Result<Value, QueryError> {
    let a = arg(args, 0, "absent_over_time")?;
    // Any function that keeps `__name__` (so distinct stored series never
    // collide) and answers for every non-empty window will do.
    let Value::Vector(vs) = windowed(ev, "last_over_time", Some(a), |_, _, _, _| Ok(Some(1.0)))?
    else {
        return Err(type_error("absent_over_time", "range vector"));
    };
    let present: Vec<bool> = (0..ev.steps.len())
        .map(|i| vs.iter().any(|s| s.points[i].is_some()))
        .collect();
    Ok(absent_where(ev, a, &present))
}

/// The one series of `absent`/`absent_over_time`: 1 where not `present`.
fn absent_where(ev: &mut Evaluator, a: &Expr, present: &[bool]) -> Value {
    let points: Vec<Option<f64>> = present.iter().map(|p| (!p).then_some(1.0)).collect();
    if points.iter().all(Option::is_none) {
        return Value::Vector(Vec::new());
    }
    let labels = absent_labels(ev, a);
    Value::Vector(vec![Series { labels, points }])
}

/// Prometheus's `createLabelsForAbsentFunction`: the labels of a
/// selector's `=` matchers, except `__name__` and any name that also has
/// another matcher; nothing for other expressions.
fn absent_labels(ev: &mut Evaluator, a: &Expr) -> Labels {
    let vs = match unparen(a) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let mut set_: Vec<(&str, &str)> = Vec::new();
    let mut empty: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == "__name__" {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && !set_.iter().any(|(k, _)| *k == m.name) {
            // An empty value removes the label, as the builder does.
            if !m.value.is_empty() {
                set_.push((&m.name, &m.value));
            }
        } else {
            empty.push(&m.name);
        }
    }
    set_.retain(|(k, _)| !empty.contains(k));
    let mut labels = Labels::new();
    for (k, v) in set_ {
        set(ev, &mut labels, k, v);
    }
    labels
}

/// `count_values("label", v)`: per step and group, how many series have
/// each value, the value (Go's `FormatFloat(v, 'f', -1, 64)`) in `label`.
pub(super) fn count_values(ev: &mut Evaluator, a: &AggregateExpr) -> Result<Value, QueryError> {
    let label = match a.param.as_deref().map(unparen) {
        Some(Expr::StringLiteral(s)) => s.val.as_str(),
        _ => {
            return Err(QueryError::Parse(
                "expected type string in aggregation parameter of count_values".into(),
            ))
        }
    };
    if !valid_name(label) {
        return Err(QueryError::Execution(format!(
            "invalid label name {label:?}"
        )));
    }
    let Value::Vector(input) = ev.eval(&a.expr)? else {
        return Err(QueryError::Parse(
            "expected type instant vector in aggregation expression count_values".into(),
        ));
    };
    let (by, names): (bool, &[String]) = match &a.modifier {
        None => (true, &[]),
        Some(LabelModifier::Include(l)) => (true, &l.labels),
        Some(LabelModifier::Exclude(l)) => (false, &l.labels),
    };
    let mut grouping: Vec<u32> = names.iter().filter_map(|n| ev.names.get(ev.h, n)).collect();
    let label_id = ev.names.intern(ev.h, label);
    if by {
        grouping.push(label_id);
    } else {
        grouping.extend(ev.name);
    }
    let steps = ev.steps.len();
    let mut out: Vec<Series> = Vec::new();
    let mut index: FxMap<Labels, usize> = FxMap::default();
    for (n, s) in input.iter().enumerate() {
        if n % 256 == 255 {
            ev.check_time()?;
        }
        for (i, p) in s.points.iter().enumerate() {
            let Some(v) = p else { continue };
            let mut labels = s.labels.clone();
            set(ev, &mut labels, label, &format_value(*v));
            labels.retain(|(k, _)| grouping.contains(k) == by);
            let at = match index.get(&labels) {
                Some(at) => *at,
                None => {
                    // Each distinct value may start a series of all steps:
                    // counted before it is allocated.
                    ev.account(steps)?;
                    out.push(Series {
                        labels: labels.clone(),
                        points: vec![None; steps],
                    });
                    index.insert(labels, out.len() - 1);
                    out.len() - 1
                }
            };
            let c = &mut out[at].points[i];
            *c = Some(c.unwrap_or(0.0) + 1.0);
        }
    }
    Ok(Value::Vector(out))
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an
/// exponent (Rust's `Display` for `f64` is the same for finite values).
pub(super) fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}
