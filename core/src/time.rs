//! Time for the pipeline: millisecond timestamps, durations, and the `Clock`
//! that every stage receives instead of calling `now()` itself, so replay can
//! run at simulated time and live mode at wall-clock time.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch (UTC), the unit Prometheus uses too.
pub type Millis = i64;

/// A point in time as milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub Millis);

impl Timestamp {
    /// Parses an RFC 3339 timestamp such as `2018-02-20T17:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimeError> {
        let ts: jiff::Timestamp = s
            .trim()
            .parse()
            .map_err(|e: jiff::Error| TimeError(format!("invalid RFC 3339 time {s:?}: {e}")))?;
        Ok(Timestamp(ts.as_millisecond()))
    }

    /// Formats as RFC 3339 in UTC, with fractional seconds only when needed.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => ts.to_string(),
            Err(_) => format!("@{}ms", self.0),
        }
    }

    /// Seconds since the epoch as a float (Prometheus API style).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Builds a timestamp from float seconds (rounded to milliseconds).
    pub fn from_secs_f64(s: f64) -> Self {
        Timestamp((s * 1000.0).round() as i64)
    }

    /// This timestamp moved by `d` (which may be negative).
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, d: Duration) -> Self {
        Timestamp(self.0 + d.0)
    }

    /// This timestamp moved back by `d`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, d: Duration) -> Self {
        Timestamp(self.0 - d.0)
    }

    /// The signed duration `self - earlier`.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration(self.0 - earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A signed span of time in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub Millis);

impl Duration {
    /// A duration of `s` seconds.
    pub const fn secs(s: i64) -> Self {
        Duration(s * 1000)
    }

    /// A duration of `m` minutes.
    pub const fn mins(m: i64) -> Self {
        Duration(m * 60_000)
    }

    /// Length in seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Parses a Prometheus-style duration: `30s`, `5m`, `1h30m`, `250ms`, `2d`.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let s = s.trim();
        let bad = || {
            TimeError(format!(
                "invalid duration {s:?} (expected e.g. 30s, 5m, 1h30m)"
            ))
        };
        if s.is_empty() {
            return Err(bad());
        }
        if s == "0" {
            return Ok(Duration(0));
        }
        let mut total: i64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit_ms = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(unit_ms)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    /// Formats in the same style `parse` accepts (`1h30m`, `45s`, `0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = -ms;
        }
        for (unit, len) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if ms >= len {
                write!(f, "{}{unit}", ms / len)?;
                ms %= len;
            }
        }
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// A bad time or duration literal.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(pub String);

/// The source of "now" for every stage. Live mode uses [`SystemClock`];
/// replay and tests use [`SimClock`], advanced tick by tick.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(jiff::Timestamp::now().as_millisecond())
    }
}

/// Simulated time, set explicitly by the replay driver.
#[derive(Debug, Default)]
pub struct SimClock(AtomicI64);

impl SimClock {
    /// A simulated clock starting at `t`.
    pub fn new(t: Timestamp) -> Self {
        SimClock(AtomicI64::new(t.0))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(Duration::parse("5m").unwrap(), Duration::mins(5));
        assert_eq!(Duration::parse("1h30m").unwrap(), Duration::mins(90));
        assert_eq!(Duration::parse("250ms").unwrap(), Duration(250));
        assert_eq!(Duration::mins(90).to_string(), "1h30m");
        assert!(Duration::parse("5 minutes").is_err());
        assert!(Duration::parse("").is_err());
        assert!(Duration::parse("m").is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let t = Timestamp::parse_rfc3339("2018-02-20T17:00:00Z").unwrap();
        assert_eq!(t.0, 1_519_146_000_000);
        assert_eq!(t.to_rfc3339(), "2018-02-20T17:00:00Z");
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }
}
