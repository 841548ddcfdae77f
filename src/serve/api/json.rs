//! Response bodies in Prometheus's exact JSON shapes, written straight into
//! a `String` (a 5,000-series range query is ~600k points; building a
//! `serde_json::Value` tree for it would cost more than evaluating it).
//! Sample values are strings formatted like Go's `FormatFloat(v, 'f', -1,
//! 64)` (`"NaN"`, `"+Inf"`, `"-Inf"`); timestamps are float seconds.

use crate::serve::history::History;
use crate::serve::query::{Labels, Output};
use std::fmt::Write;

/// `{"status":"success","data":<data>}` around what `data` writes.
pub fn success(data: impl FnOnce(&mut String)) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"status\":\"success\",\"data\":");
    data(&mut out);
    out.push('}');
    out
}

/// `{"status":"error","errorType":<kind>,"error":<message>}`.
pub fn error(kind: &str, message: &str) -> String {
    let mut out = String::from("{\"status\":\"error\",\"errorType\":");
    string(&mut out, kind);
    out.push_str(",\"error\":");
    string(&mut out, message);
    out.push('}');
    out
}

/// A query result: `{"resultType":...,"result":...}`.
pub fn result(out: &mut String, h: &History, r: &Output) {
    match r {
        Output::Scalar(t, v) => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            point(out, *t, *v);
        }
        Output::Vector(t, samples) => {
            out.reserve(samples.len() * 96);
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, (labels, v)) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                label_set(out, h, labels);
                out.push_str(",\"value\":");
                point(out, *t, *v);
                out.push('}');
            }
            out.push(']');
        }
        Output::Matrix(series) => {
            let points: usize = series.iter().map(|s| s.1.len()).sum();
            out.reserve(series.len() * 80 + points * 24);
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            for (i, (labels, pts)) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                label_set(out, h, labels);
                out.push_str(",\"values\":[");
                for (j, (t, v)) in pts.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
}

/// A label set as a JSON object.
pub fn label_set(out: &mut String, h: &History, labels: &Labels) {
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, h.strings.resolve(*k));
        out.push(':');
        string(out, h.strings.resolve(*v));
    }
    out.push('}');
}

/// `[<seconds>,"<value>"]`.
fn point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    timestamp(out, t);
    out.push_str(",\"");
    value(out, v);
    out.push_str("\"]");
}

/// Milliseconds as float seconds without trailing zeros (`1519146000`,
/// `1519146000.5`).
pub fn timestamp(out: &mut String, ms: i64) {
    let (secs, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let _ = write!(out, "{secs}");
    if frac != 0 {
        let f = format!("{frac:03}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
}

/// A sample value. Stored samples are `f32`; a value that is exactly an
/// `f32` is printed as the shortest decimal of that `f32` (`0.91`, not the
/// `0.9100000262260437` its widening to `f64` spells), anything computed
/// in `f64` with the shortest `f64` decimal.
pub fn value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if f64::from(v as f32) == v {
        let _ = write!(out, "{}", v as f32);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: f64) -> String {
        let mut s = String::new();
        value(&mut s, x);
        s
    }

    #[test]
    fn values_like_go_format_float() {
        assert_eq!(v(2.0), "2");
        assert_eq!(v(f64::from(0.91f32)), "0.91");
        assert_eq!(v(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(v(7012.0), "7012");
        assert_eq!(v(1e21), "1000000000000000000000");
        assert_eq!(v(f64::NAN), "NaN");
        assert_eq!(v(f64::NEG_INFINITY), "-Inf");
        assert_eq!(v(f64::INFINITY), "+Inf");
        assert_eq!(v(-0.5), "-0.5");
    }

    #[test]
    fn timestamps_and_strings() {
        let mut s = String::new();
        timestamp(&mut s, 1_519_146_000_000);
        s.push(' ');
        timestamp(&mut s, 1_519_146_000_120);
        s.push(' ');
        string(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "1519146000 1519146000.12 \"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(
            error("bad_data", "x"),
            r#"{"status":"error","errorType":"bad_data","error":"x"}"#
        );
    }
}
