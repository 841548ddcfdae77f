//! Response bodies in Prometheus's exact JSON shapes, written straight into
//! a `String` (a 5,000-series range query is ~600k points; building a
//! `serde_json::Value` tree for it would cost more than evaluating it).
//! Sample values are strings formatted like Go's `FormatFloat(v, 'f', -1,
//! 64)` (`"NaN"`, `"+Inf"`, `"-Inf"`); timestamps are float seconds.

use super::number;
use crate::serve::history::History;
use crate::serve::query::{Data, Labels, Names, Output};
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
    result_within(out, h, r, usize::MAX);
}

/// [`result`], giving up (and returning `false`) as soon as `out` holds
/// more than `max` bytes, so an oversized answer is never built whole.
pub fn result_within(out: &mut String, h: &History, r: &Output, max: usize) -> bool {
    match &r.data {
        Data::Scalar(t, v) => {
            out.push_str("{\"resultType\":\"scalar\",\"result\":");
            point(out, *t, *v);
        }
        Data::String(t, text) => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            timestamp(out, *t);
            out.push(',');
            string(out, text);
            out.push(']');
        }
        Data::Vector(t, samples) => {
            out.reserve(samples.len() * 96);
            out.push_str("{\"resultType\":\"vector\",\"result\":[");
            for (i, (labels, v)) in samples.iter().enumerate() {
                if out.len() > max {
                    return false;
                }
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                label_set_with(out, h, &r.names, labels);
                out.push_str(",\"value\":");
                point(out, *t, *v);
                out.push('}');
            }
            out.push(']');
        }
        Data::Matrix(series) => {
            let points: usize = series.iter().map(|s| s.1.len()).sum();
            out.reserve(series.len() * 80 + points * 24);
            out.push_str("{\"resultType\":\"matrix\",\"result\":[");
            let stamps = Stamps::new(series);
            let mut memo = number::Memo::new();
            for (i, (labels, pts)) in series.iter().enumerate() {
                if out.len() > max {
                    return false;
                }
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                label_set_with(out, h, &r.names, labels);
                out.push_str(",\"values\":[");
                stamps.points(out, &mut memo, pts);
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    out.len() <= max
}

/// The text `,[<seconds>,"` of each timestamp of the longest series. The
/// series of a range query share the step timestamps, so each is formatted
/// once per response instead of once per series (5,000 times over in the
/// benchmark); a timestamp not in the list is formatted where it occurs.
struct Stamps {
    times: Vec<i64>,
    text: String,
    /// End of each timestamp's text in `text`.
    ends: Vec<usize>,
}

impl Stamps {
    fn new(series: &[(Labels, Vec<(i64, f64)>)]) -> Self {
        let longest = series.iter().map(|s| &s.1).max_by_key(|p| p.len());
        let times: Vec<i64> = longest.map_or(Vec::new(), |p| p.iter().map(|x| x.0).collect());
        let mut text = String::with_capacity(times.len() * 16);
        let mut ends = Vec::with_capacity(times.len());
        for t in &times {
            text.push_str(",[");
            timestamp(&mut text, *t);
            text.push_str(",\"");
            ends.push(text.len());
        }
        Stamps { times, text, ends }
    }

    /// Writes `pts` as `[<seconds>,"<value>"]` separated by commas. A
    /// series' points are in time order, so one cursor finds each
    /// timestamp in the (also ordered) list.
    fn points(&self, out: &mut String, memo: &mut number::Memo, pts: &[(i64, f64)]) {
        let mut k = 0;
        for (j, (t, v)) in pts.iter().enumerate() {
            while k < self.times.len() && self.times[k] < *t {
                k += 1;
            }
            let skip = usize::from(j == 0);
            if self.times.get(k) == Some(t) {
                let start = if k == 0 { 0 } else { self.ends[k - 1] };
                out.push_str(&self.text[start + skip..self.ends[k]]);
            } else {
                out.push_str(&",["[skip..]);
                timestamp(out, *t);
                out.push_str(",\"");
            }
            memo.write(out, *v, value);
            out.push_str("\"]");
        }
    }
}

/// A label set of stored series as a JSON object.
pub fn label_set(out: &mut String, h: &History, labels: &Labels) {
    labels_json(out, labels, |id| h.strings.resolve(id));
}

/// A label set of a query's answer, which may use strings the query made
/// up (`names`), as a JSON object. Most answers have none: they take the
/// same path as stored series.
fn label_set_with(out: &mut String, h: &History, names: &Names, labels: &Labels) {
    if names.is_empty() {
        label_set(out, h, labels);
    } else {
        labels_json(out, labels, |id| names.resolve(h, id));
    }
}

#[inline]
fn labels_json<'s>(out: &mut String, labels: &Labels, resolve: impl Fn(u32) -> &'s str) {
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, resolve(*k));
        out.push(':');
        string(out, resolve(*v));
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
    number::seconds(out, ms);
}

/// A sample value, with the shortest `f64` decimal as Prometheus 2.42's
/// `marshalValue` writes it (stored samples are `f64`: `123456792`,
/// `118.87109375`): positional, but Go's exponent form (`9.988e+307`,
/// `1e-07`) when `|v| < 1e-6` or `|v| ≥ 1e21`.
pub fn value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v != 0.0 && !(1e-6..1e21).contains(&v.abs()) {
        // Rust's shortest `1.5e-7` as Go's `1.5e-07`: signed exponent of
        // at least two digits.
        let e = format!("{v:e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        out.push_str(mantissa);
        out.push('e');
        out.push(sign);
        if digits.len() < 2 {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        number::shortest(out, v);
    }
}

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    // Label names and values almost never need escaping: copy them whole.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
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
        assert_eq!(v(0.91), "0.91");
        assert_eq!(v(123_456_792.0), "123456792");
        assert_eq!(v(118.871_093_75), "118.87109375");
        assert_eq!(v(9.988e307), "9.988e+307", "Go's exponent form");
        assert_eq!(v(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(v(7012.0), "7012");
        assert_eq!(v(999_999_999_999_999_900_000.0), "999999999999999900000");
        assert_eq!(v(1e21), "1e+21");
        assert_eq!(v(-9.988e307), "-9.988e+307");
        assert_eq!(v(1e-6), "0.000001");
        assert_eq!(v(1.5e-7), "1.5e-07");
        assert_eq!(v(f64::from_bits(1)), "5e-324");
        assert_eq!(v(-0.0), "-0");
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
