//! A small toolkit for the scenario generators (Binder and every suite
//! scenario), so each generator only describes its story and the shapes
//! every scenario needs are written once:
//!
//! - [`Cluster`]: nodes (zone, pool, creation time) and pods (namespace, name,
//!   uid, node, lifetime), turned into `nodes.json` / `pods.json` objects;
//! - [`MetricRecorder`]: gauge and counter series keyed by labels, sampled
//!   every scrape interval at a fixed per-target offset, as Prometheus does;
//! - [`EventRecorder`]: Kubernetes Events folded exactly as the API delivers
//!   them (same object, rising `count`, moving `lastTimestamp`), in the mix of
//!   old-style, new-style and hostless events real clusters produce;
//! - [`exporters`]: the real exporters' HELP texts and kubelet's probe
//!   series.
//!
//! Everything is deterministic: randomness comes from [`super::rng::Rng`]
//! streams keyed by name, so adding a series or event leaves others as they were.

mod cluster;
mod events;
pub mod exporters;
mod metrics;

pub use cluster::{Cluster, NodeInfo, PodInfo, NAME_ALPHABET, POOL_LABEL};
pub use events::{EventRecorder, EventType, Involved, HOSTLESS_SHARE, NEW_STYLE_SHARE};
pub use metrics::{round_to, CounterStep, MetricRecorder};

use crate::time::{Duration, Timestamp};

/// A UTC time from its civil fields, computed without parsing so built-in
/// scenarios cannot fail at run time (days-from-civil, Howard Hinnant).
pub const fn utc(year: i64, month: i64, day: i64, hour: i64, minute: i64) -> Timestamp {
    let y = if month <= 2 { year - 1 } else { year };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Timestamp(((days * 24 + hour) * 60 + minute) * 60_000)
}

/// `t` with sub-second precision dropped, as RFC 3339 (Kubernetes `Time`,
/// used by `firstTimestamp`/`lastTimestamp` and `creationTimestamp`).
pub fn rfc3339_secs(t: Timestamp) -> String {
    Timestamp(t.0 - t.0.rem_euclid(1000)).to_rfc3339()
}

/// `t` as a Kubernetes `MicroTime` (`2018-02-20T14:15:00.123000Z`), used by
/// `eventTime` and `series.lastObservedTime`.
pub fn micro_time(t: Timestamp) -> String {
    let secs = rfc3339_secs(t);
    let base = secs.strip_suffix('Z').unwrap_or(&secs);
    format!("{base}.{:03}000Z", t.0.rem_euclid(1000))
}

/// Whether `t` lies in the half-open window `[from, to)`.
pub fn within(t: Timestamp, from: Timestamp, to: Timestamp) -> bool {
    from <= t && t < to
}

/// A fixed time grid (`start`, `start + step`, ...) for per-step arrays such
/// as pods per node per minute.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// First point.
    pub start: Timestamp,
    /// Spacing.
    pub step: Duration,
    /// Number of points.
    pub len: usize,
}

impl Grid {
    /// A grid covering `[start, end]`.
    pub fn new(start: Timestamp, end: Timestamp, step: Duration) -> Self {
        let len = if step.0 > 0 {
            (end.0 - start.0).max(0) / step.0 + 1
        } else {
            1
        };
        Grid {
            start,
            step,
            len: len as usize,
        }
    }

    /// The point with index `i`.
    pub fn at(&self, i: usize) -> Timestamp {
        Timestamp(self.start.0 + self.step.0 * i as i64)
    }

    /// The index of the last point at or before `t`, clamped to the grid.
    pub fn index(&self, t: Timestamp) -> usize {
        if self.step.0 <= 0 || t <= self.start {
            return 0;
        }
        (((t.0 - self.start.0) / self.step.0) as usize).min(self.len.saturating_sub(1))
    }

    /// Every point in order.
    pub fn points(&self) -> impl Iterator<Item = Timestamp> + '_ {
        (0..self.len).map(|i| self.at(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_times() {
        assert_eq!(
            utc(2018, 2, 20, 17, 0),
            Timestamp::parse_rfc3339("2018-02-20T17:00:00Z").unwrap()
        );
        assert_eq!(utc(1970, 1, 1, 0, 0), Timestamp(0));
        assert_eq!(utc(2024, 3, 1, 0, 0).to_rfc3339(), "2024-03-01T00:00:00Z");
        assert_eq!(
            micro_time(Timestamp(1_519_146_000_042)),
            "2018-02-20T17:00:00.042000Z"
        );
        assert_eq!(
            rfc3339_secs(Timestamp(1_519_146_000_999)),
            "2018-02-20T17:00:00Z"
        );
    }

    #[test]
    fn grid_indexes() {
        let g = Grid::new(Timestamp(0), Timestamp(600_000), Duration::mins(1));
        assert_eq!(g.len, 11);
        assert_eq!(g.index(Timestamp(61_000)), 1);
        assert_eq!(g.index(Timestamp(10_000_000)), 10);
        assert_eq!(g.points().last(), Some(Timestamp(600_000)));
    }
}
