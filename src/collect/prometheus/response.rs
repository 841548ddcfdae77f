//! Reading Prometheus API answers and classifying every way they go wrong
//! into a [`SourceError`] kind (for counters) plus a detail (for the log).
//!
//! Bodies are parsed here rather than by `prometheus-http-query` so that an
//! HTML page, a truncated body and a `{"status":"error"}` each get their own
//! kind and a message a person can act on. Sample values are parsed with
//! `str::parse::<f64>` from the strings Prometheus sends, which round-trips
//! Go's formatting exactly.

use crate::collect::SourceError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Label set of one result series.
pub type Labels = BTreeMap<String, String>;

/// A range query's answer: `(timestamp ms, value)` points per series.
pub type Matrix = Vec<(Labels, Vec<(i64, f64)>)>;

/// A failed query: the kind that is counted and the detail that is logged.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{detail}")]
pub struct QueryError {
    /// Classified kind.
    pub error: SourceError,
    /// What happened, for the log.
    pub detail: String,
}

impl QueryError {
    /// An error of `kind` with `detail`.
    pub fn new(error: SourceError, detail: impl Into<String>) -> Self {
        QueryError {
            error,
            detail: detail.into(),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    metric: Labels,
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// An instant vector: one value per series.
pub fn vector(
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(Labels, f64)>, QueryError> {
    let items = items(status, content_type, body, "vector")?;
    items
        .into_iter()
        .map(|it| {
            let (_, v) = it
                .value
                .ok_or_else(|| parse_error("vector item without \"value\""))?;
            Ok((it.metric, number(&v)?))
        })
        .collect()
}

/// A range matrix: `(timestamp ms, value)` points per series.
pub fn matrix(status: u16, content_type: &str, body: &[u8]) -> Result<Matrix, QueryError> {
    let items = items(status, content_type, body, "matrix")?;
    items
        .into_iter()
        .map(|it| {
            let points = it
                .values
                .iter()
                .map(|(t, v)| Ok(((t * 1000.0).round() as i64, number(v)?)))
                .collect::<Result<Vec<_>, QueryError>>()?;
            Ok((it.metric, points))
        })
        .collect()
}

fn items(
    status: u16,
    content_type: &str,
    body: &[u8],
    want: &str,
) -> Result<Vec<Item>, QueryError> {
    let json = content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    // Prometheus answers query errors with 400/422/503 and a JSON body:
    // those are query errors, not HTTP trouble, and say more.
    let envelope = if json {
        serde_json::from_slice::<Envelope>(body).ok()
    } else {
        None
    };
    if let Some(e) = &envelope {
        if e.status == "error" {
            let kind = e.error_type.clone().unwrap_or_default();
            let msg = e.error.clone().unwrap_or_default();
            let detail = format!("Prometheus answered status \"error\" ({kind}): {msg}");
            return Err(if kind == "timeout" {
                QueryError::new(SourceError::Timeout(format!("query: {msg}")), detail)
            } else {
                QueryError::new(SourceError::Query(format!("{kind}: {msg}")), detail)
            });
        }
    }
    if !(200..300).contains(&status) {
        return Err(QueryError::new(
            SourceError::Http(status),
            format!("HTTP {status} ({content_type}): {}", excerpt(body)),
        ));
    }
    if !json {
        return Err(parse_error(format!(
            "not a Prometheus API answer: HTTP {status} with content type {content_type:?}, body {}",
            excerpt(body)
        )));
    }
    let envelope = match envelope {
        Some(e) => e,
        None => {
            // Parse again for the exact reason (the first attempt discarded it).
            let reason = serde_json::from_slice::<Envelope>(body)
                .err()
                .map_or_else(|| "unexpected shape".to_string(), |e| e.to_string());
            return Err(parse_error(format!(
                "invalid JSON from Prometheus ({} bytes): {reason}",
                body.len()
            )));
        }
    };
    if envelope.status != "success" {
        return Err(parse_error(format!("unknown status {:?}", envelope.status)));
    }
    let data = envelope
        .data
        .ok_or_else(|| parse_error("status \"success\" without \"data\""))?;
    if data.result_type != want {
        return Err(parse_error(format!(
            "expected a {want} result, got {:?}",
            data.result_type
        )));
    }
    serde_json::from_value(data.result)
        .map_err(|e| parse_error(format!("malformed {want} result: {e}")))
}

/// A sample value as Prometheus formats it (`"1.5"`, `"NaN"`, `"+Inf"`).
fn number(s: &str) -> Result<f64, QueryError> {
    s.parse::<f64>()
        .map_err(|_| parse_error(format!("sample value {s:?} is not a number")))
}

fn parse_error(detail: impl Into<String>) -> QueryError {
    let detail = detail.into();
    QueryError::new(SourceError::Parse(detail.clone()), detail)
}

/// The start of a body, printable, for log lines.
pub fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > MAX {
        format!("{:?}…", flat.trim())
    } else {
        format!("{:?}", flat.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/json";

    #[test]
    fn vector_values_parse_exactly() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"node":"a"},"value":[1519128000,"0.30000000000000004"]},
            {"metric":{},"value":[1519128000.5,"NaN"]},
            {"metric":{"node":"c"},"value":[1519128000,"+Inf"]}]}}"#;
        let v = vector(200, "application/json; charset=utf-8", body).unwrap();
        assert_eq!(v[0].0["node"], "a");
        assert_eq!(v[0].1.to_bits(), (0.1f64 + 0.2).to_bits());
        assert!(v[1].1.is_nan() && v[1].0.is_empty());
        assert_eq!(v[2].1, f64::INFINITY);
    }

    #[test]
    fn matrix_points_in_milliseconds() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"node":"a"},"values":[[1519128000,"1"],[1519128030.5,"2"]]}]}}"#;
        let m = matrix(200, JSON, body).unwrap();
        assert_eq!(
            m[0].1,
            vec![(1_519_128_000_000, 1.0), (1_519_128_030_500, 2.0)]
        );
    }

    #[test]
    fn each_failure_gets_its_kind() {
        let kind = |r: Result<Vec<(Labels, f64)>, QueryError>| r.unwrap_err().error.kind();
        let err = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(kind(vector(400, JSON, err)), "query");
        assert_eq!(kind(vector(200, JSON, err)), "query");
        let slow = br#"{"status":"error","errorType":"timeout","error":"query timed out"}"#;
        assert_eq!(kind(vector(503, JSON, slow)), "timeout");
        assert_eq!(kind(vector(500, "text/plain", b"oops")), "http");
        assert_eq!(kind(vector(200, "text/html", b"<html>")), "parse");
        let cut = br#"{"status":"success","data":{"resultType":"vector","result":[{"metr"#;
        let e = vector(200, JSON, cut).unwrap_err();
        assert_eq!(e.error.kind(), "parse");
        assert!(e.detail.contains("EOF"), "{}", e.detail);
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#;
        assert_eq!(kind(vector(200, JSON, scalar)), "parse");
        let bad =
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}}"#;
        assert_eq!(kind(vector(200, JSON, bad)), "parse");
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt(b"a\nb"), "\"a b\"");
        assert!(excerpt(&[b'x'; 500]).ends_with('…'));
    }
}
