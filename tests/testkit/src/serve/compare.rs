//! How the differential corpus compares two answers (nodewatch's and
//! Prometheus's): same error type, or the same label sets, timestamps and
//! values within 1e-9 relative (NaN = NaN) or 1e-15 absolute; and the
//! named, known deviations (`topk` ties, the last bit of `count_values`
//! labels) told apart from real differences.

use serde_json::Value;
use std::collections::BTreeMap;

/// One answer reduced to what must agree: an error type, or the samples
/// per label set as `(time, value)`.
#[derive(Debug)]
pub enum Answer {
    Error(String),
    Data(String, BTreeMap<String, Vec<(f64, f64)>>),
}

pub fn answer(body: &str) -> Answer {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    if v["status"] != "success" {
        return Answer::Error(v["errorType"].to_string());
    }
    let data = &v["data"];
    if data["resultType"] == "string" {
        // `[<time>, "<text>"]`: the text as the row, the time as a point.
        let text = data["result"][1].to_string();
        let t = data["result"][0].as_f64().unwrap_or(f64::NAN);
        return Answer::Data("string".into(), BTreeMap::from([(text, vec![(t, 0.0)])]));
    }
    let results = match data["result"].as_array() {
        Some(r) => r.clone(),
        None => vec![serde_json::json!({"metric": {}, "value": data["result"]})],
    };
    let mut rows = BTreeMap::new();
    for r in results {
        let points: Vec<Value> = match r.get("values") {
            Some(vs) => vs.as_array().cloned().unwrap_or_default(),
            None => vec![r["value"].clone()],
        };
        let pts = points
            .iter()
            .map(|p| {
                let x: f64 = p[1].as_str().unwrap_or("").parse().expect("value");
                (p[0].as_f64().unwrap_or(f64::NAN), x)
            })
            .collect();
        rows.insert(r["metric"].to_string(), pts);
    }
    Answer::Data(data["resultType"].to_string(), rows)
}

/// How two answers compare.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Verdict {
    /// Equal within 1e-9 relative.
    Agree,
    /// `topk`/`bottomk` kept other series of equal value: per timestamp,
    /// the same values, but not on the same series. Prometheus 2.42 feeds
    /// an aggregation in the order of a Go map (its range evaluation
    /// collects series in one), so its pick among equal values is not
    /// defined (it can change between two runs of the same query).
    Ties,
    /// Equal once label values that are numbers (`count_values`'s) are
    /// compared within 1e-9 relative like sample values: Go's and Rust's
    /// `pow`/`atan2`... differ in the last bit, and `count_values` prints
    /// that bit into a label.
    LabelDigits,
    Differ,
}

/// Compares two answers of `q` (see the file's header for the tolerance).
pub fn compare(q: &str, a: &Answer, b: &Answer) -> Verdict {
    if agree(a, b) {
        Verdict::Agree
    } else if (q.contains("topk") || q.contains("bottomk")) && by_time(a) == by_time(b) {
        Verdict::Ties
    } else if q.contains("count_values") && agree(&numeric_labels(a), &numeric_labels(b)) {
        Verdict::LabelDigits
    } else {
        Verdict::Differ
    }
}

/// The values of an answer per timestamp, sorted, as text with 10
/// significant digits (wide enough for 1e-9 relative).
fn by_time(a: &Answer) -> Option<BTreeMap<String, Vec<String>>> {
    let Answer::Data(_, rows) = a else {
        return None;
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (t, v) in rows.values().flatten() {
        out.entry(format!("{t}"))
            .or_default()
            .push(format!("{v:.9e}"));
    }
    out.values_mut().for_each(|v| v.sort());
    Some(out)
}

/// `a` with each label value that reads as a number rounded to 10
/// significant digits (wide enough for 1e-9 relative).
fn numeric_labels(a: &Answer) -> Answer {
    let Answer::Data(t, rows) = a else {
        return Answer::Error(String::new());
    };
    let rows = rows
        .iter()
        .map(|(k, v)| {
            let mut m: BTreeMap<String, String> = serde_json::from_str(k).unwrap_or_default();
            for x in m.values_mut() {
                if let Ok(n) = x.parse::<f64>() {
                    *x = format!("{n:.9e}");
                }
            }
            (serde_json::to_string(&m).unwrap_or_default(), v.clone())
        })
        .collect();
    Answer::Data(t.clone(), rows)
}

/// Whether two answers agree (see the file's header for the tolerance).
fn agree(a: &Answer, b: &Answer) -> bool {
    let close = |x: f64, y: f64| {
        x == y
            || (x.is_nan() && y.is_nan())
            || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
            // Residues of cancellation (a variance of equal values):
            // ~1e-17 on either side, in different bits.
            || (x - y).abs() <= 1e-15
    };
    match (a, b) {
        (Answer::Error(x), Answer::Error(y)) => x == y,
        (Answer::Data(ta, ra), Answer::Data(tb, rb)) => {
            ta == tb
                && ra.len() == rb.len()
                && ra.iter().zip(rb).all(|((la, pa), (lb, pb))| {
                    la == lb
                        && pa.len() == pb.len()
                        && pa
                            .iter()
                            .zip(pb)
                            .all(|(x, y)| x.0 == y.0 && close(x.1, y.1))
                })
        }
        _ => false,
    }
}
