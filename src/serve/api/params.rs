//! Request parameters as Prometheus's HTTP API reads them: from the URL
//! query and, for `POST` with a form body, from the body too (Grafana
//! posts forms); repeated keys such as `match[]` keep every value. Times
//! are float Unix seconds or RFC 3339; durations float seconds or
//! Prometheus durations (`30s`, `1m`).

use crate::time::{Duration, Timestamp};

/// Decoded `key=value` pairs in request order.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// A parameter that cannot be used, as Prometheus words it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct BadParam(pub String);

impl Params {
    /// Parses an `application/x-www-form-urlencoded` string and appends it.
    pub fn extend_form(&mut self, s: &str) {
        for part in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            self.pairs.push((decode(k), decode(v)));
        }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter (ms), `None` when absent.
    pub fn time(&self, key: &str) -> Result<Option<i64>, BadParam> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(s) => parse_time(s).map(Some).ok_or_else(|| {
                BadParam(format!(
                    "invalid parameter \"{key}\": cannot parse \"{s}\" to a valid timestamp"
                ))
            }),
        }
    }

    /// A duration parameter (ms), `None` when absent.
    pub fn duration(&self, key: &str) -> Result<Option<i64>, BadParam> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(s) => parse_duration(s).map(Some).ok_or_else(|| {
                BadParam(format!(
                    "invalid parameter \"{key}\": cannot parse \"{s}\" to a valid duration"
                ))
            }),
        }
    }

    /// The `limit` parameter: 0 (or absent) means no limit.
    pub fn limit(&self) -> Result<usize, BadParam> {
        match self.get("limit") {
            None | Some("") => Ok(0),
            Some(s) => s.parse::<usize>().map_err(|_| {
                BadParam("invalid parameter \"limit\": limit must be a non-negative integer".into())
            }),
        }
    }
}

/// Float seconds (`1519146000`, `1519146000.5`) or RFC 3339, to ms.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        // Prometheus's min/max times are far outside what ms in i64 need.
        return f
            .is_finite()
            .then(|| (f * 1000.0).round().clamp(-9.2e15, 9.2e15) as i64);
    }
    Timestamp::parse_rfc3339(s).ok().map(|t| t.0)
}

/// Float seconds or a Prometheus duration, to ms.
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f.abs() < 9.2e12).then(|| (f * 1000.0).round() as i64);
    }
    Duration::parse(s).ok().map(|d| d.0)
}

/// Percent-decoding with `+` as space; invalid escapes are kept as text.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_keep_repeated_keys() {
        let mut p = Params::default();
        p.extend_form("match%5B%5D=up%7Bjob%3D%22a%22%7D&match[]=b&query=1%2B1&x=a+b&bad=%zz%");
        assert_eq!(p.all("match[]"), ["up{job=\"a\"}", "b"]);
        assert_eq!(p.get("query"), Some("1+1"));
        assert_eq!(p.get("x"), Some("a b"));
        assert_eq!(p.get("bad"), Some("%zz%"));
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1519146000"), Some(1_519_146_000_000));
        assert_eq!(parse_time("1519146000.123"), Some(1_519_146_000_123));
        assert_eq!(parse_time("2018-02-20T17:00:00Z"), Some(1_519_146_000_000));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_duration("30"), Some(30_000));
        assert_eq!(parse_duration("0.5"), Some(500));
        assert_eq!(parse_duration("1m30s"), Some(90_000));
        let mut p = Params::default();
        p.extend_form("time=x&limit=-1");
        assert!(p.time("time").unwrap_err().0.contains("cannot parse \"x\""));
        assert!(p.limit().is_err());
    }
}
