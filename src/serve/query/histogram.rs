//! `histogram_quantile(φ, b)` over classic histograms (series with an `le`
//! label, such as `rate(x_bucket[5m])`), as Prometheus 2.42 computes it:
//! buckets grouped by all labels but `le` (`__name__` included, dropped
//! from the answer), sorted by bound, equal bounds merged, counts forced
//! monotonic, linear interpolation within the bucket of the rank. NaN
//! without a `+Inf` bucket, with fewer than two buckets or no
//! observations; `-Inf`/`+Inf` for φ < 0 / φ > 1. Native histograms do not
//! exist in nodewatch.

use super::eval::{check_unique, Evaluator, Series, Value};
use super::functions::{arg, type_error};
use super::{Labels, QueryError};
use crate::serve::history::FxMap;
use promql_parser::parser::Expr;

/// Evaluates `histogram_quantile`.
pub(super) fn quantile(ev: &mut Evaluator, args: &[&Expr]) -> Result<Value, QueryError> {
    let f = "histogram_quantile";
    let Value::Scalar(q) = ev.eval(arg(args, 0, f)?)? else {
        return Err(type_error(f, "scalar"));
    };
    let Value::Vector(input) = ev.eval(arg(args, 1, f)?)? else {
        return Err(type_error(f, "instant vector"));
    };
    let Some(le) = ev.names.get(ev.h, "le") else {
        return Ok(Value::Vector(Vec::new()));
    };
    // Groups: (labels without `le`) → members as (series, upper bound).
    let mut index: FxMap<Labels, usize> = FxMap::default();
    let mut groups: Vec<(Labels, Vec<(usize, f64)>)> = Vec::new();
    for (n, s) in input.iter().enumerate() {
        let Some(bound) = s
            .labels
            .iter()
            .find(|(k, _)| *k == le)
            .and_then(|(_, v)| parse_go_float(ev.resolve(*v)))
        else {
            continue;
        };
        let key: Labels = s.labels.iter().filter(|(k, _)| *k != le).copied().collect();
        let g = *index.entry(key).or_insert_with_key(|k| {
            groups.push((k.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push((n, bound));
    }
    let steps = ev.steps.len();
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let mut out = Vec::with_capacity(groups.len());
    for (mut labels, members) in groups {
        let points: Vec<Option<f64>> = (0..steps)
            .map(|i| {
                buckets.clear();
                buckets.extend(
                    members
                        .iter()
                        .filter_map(|(m, b)| Some((*b, input[*m].points[i]?))),
                );
                (!buckets.is_empty()).then(|| bucket_quantile(q[i], &mut buckets))
            })
            .collect();
        if points.iter().any(Option::is_some) {
            ev.drop_name(&mut labels);
            out.push(Series { labels, points });
        }
    }
    check_unique(ev.h, &out)?;
    Ok(Value::Vector(out))
}

/// Go's `strconv.ParseFloat(s, 64)` for what an `le` label holds: decimal
/// and exponent forms, hexadecimal ones (`0x1p-2`), `Inf`/`Infinity`/`NaN`
/// in any case, a sign; `None` where Go fails (out of range included,
/// which Rust reads as infinity). Go's `_` separators are not read.
fn parse_go_float(s: &str) -> Option<f64> {
    let unsigned = s.trim_start_matches(['+', '-']);
    if unsigned.len() > 1 && unsigned[..2].eq_ignore_ascii_case("0x") {
        let v = parse_hex(&unsigned[2..])?;
        return Some(if s.starts_with('-') { -v } else { v });
    }
    let v: f64 = s.parse().ok()?;
    if v.is_infinite() {
        let word = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if word != "inf" && word != "infinity" {
            return None;
        }
    }
    Some(v)
}

/// The digits of a hexadecimal float after `0x`: a mantissa with an
/// optional point, then the binary exponent Go requires (`p-2`). Up to 15
/// significant hex digits are exact; more round like Go's only mostly.
fn parse_hex(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut m = 0f64;
    for c in int.chars().chain(frac.chars()) {
        m = m * 16.0 + f64::from(c.to_digit(16)?);
    }
    let e = exp.checked_sub(4 * i32::try_from(frac.len()).ok()?)?;
    let v = m * 2f64.powi(e);
    v.is_finite().then_some(v)
}

/// Prometheus 2.42's `bucketQuantile` over `(upper bound, count)` pairs.
pub(super) fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Equal bounds (`le="1"` and `le="1.0"`) are one bucket.
    buckets.dedup_by(|b, a| {
        let same = a.0 == b.0;
        if same {
            a.1 += b.1;
        }
        same
    });
    // Counts that decrease (buckets scraped at different times) are raised
    // to the running maximum.
    let mut max = f64::NEG_INFINITY;
    for b in buckets.iter_mut() {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    let n = buckets.len();
    if n < 2 {
        return f64::NAN;
    }
    let observations = buckets[n - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = go_search(n - 1, |i| buckets[i].1 >= rank);
    if b == n - 1 {
        return buckets[n - 2].0;
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return buckets[0].0;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// Go's `sort.Search`: the first `i < n` where `f(i)` (else `n`), by the
/// same bisection, so a predicate that NaN counts make non-monotonic
/// lands where Prometheus's does.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) / 2;
        if f(h) {
            j = h;
        } else {
            i = h + 1;
        }
    }
    i
}
