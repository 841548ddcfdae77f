//! Request parameters as Prometheus's HTTP API reads them: from the URL
//! query and, for `POST` with a form body, from the body too (Grafana
//! posts forms); repeated keys such as `match[]` keep every value. Times
//! are float Unix seconds or RFC 3339; durations float seconds or
//! Prometheus durations (`30s`, `1m`).

use crate::time::Timestamp;

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
                let overflow = if s.parse::<f64>().is_ok() {
                    ". It overflows int64"
                } else {
                    ""
                };
                BadParam(format!(
                    "invalid parameter \"{key}\": cannot parse \"{s}\" to a valid duration{overflow}"
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

/// Largest |seconds| of a time parameter: beyond it (year ~293,000)
/// millisecond arithmetic could overflow. Prometheus 2.42 accepts such
/// times and answers at a wrapped-around instant (`time=1e300` answers at
/// 0); nodewatch refuses them as unparseable instead of clamping.
const MAX_TIME_SECS: f64 = 9.2e12;

/// Float seconds (`1519146000`, `1519146000.5`) or RFC 3339, to ms.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        return (f.is_finite() && f.abs() <= MAX_TIME_SECS).then(|| (f * 1000.0).round() as i64);
    }
    Timestamp::parse_rfc3339(s).ok().map(|t| t.0)
}

/// Float seconds or a Prometheus duration, to ms, as Prometheus's API
/// reads them: float seconds that overflow int64 nanoseconds are
/// refused; duration units must come in decreasing order, each at most
/// once (`1h30m`, `1y`; not `30s5m`).
pub fn parse_duration(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        let ns = f * 1e9;
        return (ns.is_finite() && ns.abs() < 9.223_372_036_854_775e18)
            .then_some((ns as i64) / 1_000_000);
    }
    prometheus_duration(s)
}

/// Prometheus's `model.ParseDuration`, to ms: `[0-9]+` followed by a unit
/// of `y w d h m s ms`, units in that order, each at most once; or `0`.
fn prometheus_duration(s: &str) -> Option<i64> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    if s == "0" {
        return Some(0);
    }
    let (mut rest, mut total, mut next_unit) = (s, 0i64, 0usize);
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || letters == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        let unit = &rest[digits..digits + letters];
        let i = UNITS.iter().position(|(u, _)| *u == unit)?;
        if i < next_unit {
            return None;
        }
        next_unit = i + 1;
        total = total.checked_add(n.checked_mul(UNITS[i].1)?)?;
        rest = &rest[digits + letters..];
    }
    // Prometheus keeps durations in int64 nanoseconds.
    (total <= i64::MAX / 1_000_000).then_some(total)
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
        assert_eq!(parse_duration("1y"), Some(365 * 86_400_000));
        assert_eq!(parse_duration("1h30m15s250ms"), Some(5_415_250));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in [
            "30s5m", "5m5m", "1x", "m", "5", "1.5m", "-5m", "", "1e10", "1e300",
        ] {
            if bad != "5" {
                assert_eq!(parse_duration(bad), None, "{bad}");
            }
        }
        assert_eq!(parse_time("1e300"), None);
        assert_eq!(parse_time("-1e13"), None);
        assert_eq!(parse_time("9e12"), Some(9_000_000_000_000_000));
        let mut p = Params::default();
        p.extend_form("time=x&limit=-1");
        assert!(p.time("time").unwrap_err().0.contains("cannot parse \"x\""));
        assert!(p.limit().is_err());
    }
}
