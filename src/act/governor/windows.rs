//! Maintenance windows (`governor.maintenance_windows`): cron schedules in
//! a time zone during which nodewatch holds its cordons (and so its
//! drains) — planned work makes nodes look sick for reasons no cordon
//! fixes. Scoring and alerts go on; a node still sick when the window ends
//! is cordoned then, through the usual limits.
//!
//! A window starts at every wall-clock time its schedule names in its time
//! zone and lasts `duration` of real time. A start that falls into a
//! daylight-saving gap happens that much later (02:30 on the spring-forward
//! night is 03:30), one that falls into the repeated hour happens once, at
//! its first occurrence (RFC 5545's "compatible" rule); a window across a
//! change still lasts `duration`. Decisions take the time as a value, so
//! replay decides at simulated time exactly as the live agent does.

use super::cron::Cron;
use crate::time::{Duration, Timestamp};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Longest window: a week (longer holds are a pause).
pub const MAX_DURATION: Duration = Duration::mins(7 * 24 * 60);

/// One `governor.maintenance_windows` entry, as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowSettings {
    /// Names the window in refusals, the status page and `/metrics`
    /// (default: its schedule).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Cron schedule of the window's starts, e.g. `0 2 * * SAT`.
    pub schedule: String,
    /// How long each window lasts.
    pub duration: Duration,
    /// IANA time zone the schedule is read in (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
    /// Why, for people: shown with every held cordon.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Pool policies (`governor.pools[].name`) it applies to; empty: every
    /// node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<String>,
}

fn utc() -> String {
    "UTC".to_string()
}

impl WindowSettings {
    /// The name shown for it.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.schedule
        } else {
            &self.name
        }
    }

    /// Every problem `(sub-field, message)`; empty when it can be used.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Err(e) = Cron::parse(&self.schedule) {
            out.push(("schedule", e));
        }
        if let Err(e) = zone(&self.timezone) {
            out.push(("timezone", e));
        }
        if self.duration.0 <= 0 || self.duration > MAX_DURATION {
            out.push((
                "duration",
                format!(
                    "must be positive and at most {MAX_DURATION} (a week), got {}",
                    self.duration
                ),
            ));
        }
        out
    }
}

/// The time zone named `name`, from the system's tz database
/// (`/usr/share/zoneinfo`, or `$TZDIR`); `UTC` always exists.
fn zone(name: &str) -> Result<TimeZone, String> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|e| {
        format!("unknown time zone {name:?} (an IANA name such as Europe/Berlin, from the tz database in /usr/share/zoneinfo or $TZDIR): {e}")
    })
}

/// A window ready to decide with.
#[derive(Clone, Debug)]
pub struct Window {
    /// As written (read through [`Window::settings`]).
    settings: WindowSettings,
    cron: Cron,
    tz: TimeZone,
}

impl Window {
    /// The window as written in the config.
    pub fn settings(&self) -> &WindowSettings {
        &self.settings
    }

    /// Compiles `s` (checked by [`WindowSettings::problems`] first).
    pub fn compile(s: &WindowSettings) -> Result<Window, String> {
        if let Some((field, e)) = s.problems().into_iter().next() {
            return Err(format!("{field}: {e}"));
        }
        Ok(Window {
            settings: s.clone(),
            cron: Cron::parse(&s.schedule)?,
            tz: zone(&s.timezone)?,
        })
    }

    /// When the window containing `at` ends (the latest, if several
    /// overlap), or `None` outside every window.
    pub fn active_until(&self, at: Timestamp) -> Option<Timestamp> {
        let dur = self.settings.duration.0;
        let now = jiff::Timestamp::from_millisecond(at.0).ok()?;
        let earliest = jiff::Timestamp::from_millisecond(at.0 - dur).ok()?;
        let mut day = self.tz.to_datetime(now).date();
        // One day of slack: a daylight-saving shift moves starts by hours.
        let first = self.tz.to_datetime(earliest).date().yesterday().ok()?;
        let mut end: Option<i64> = None;
        // At most MAX_DURATION + 2 days are visited.
        while day >= first {
            if self.cron.matches_date(day) {
                for (h, m) in self.cron.times_desc() {
                    let Ok(start) = self.tz.to_timestamp(day.at(h, m, 0, 0)) else {
                        continue;
                    };
                    let s = start.as_millisecond();
                    if s <= at.0 && at.0 < s + dur {
                        end = end.max(Some(s + dur));
                    }
                }
            }
            day = day.yesterday().ok()?;
        }
        end.map(Timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(schedule: &str, duration: Duration, timezone: &str) -> Window {
        Window::compile(&WindowSettings {
            name: "w".into(),
            schedule: schedule.into(),
            duration,
            timezone: timezone.into(),
            reason: String::new(),
            pools: Vec::new(),
        })
        .unwrap()
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn a_window_spanning_midnight_holds_into_the_next_day() {
        // Fridays 22:00 to Saturdays 02:00, Berlin winter time (UTC+1).
        let w = window("0 22 * * FRI", Duration::mins(240), "Europe/Berlin");
        assert_eq!(w.active_until(t("2024-03-08T20:59:00Z")), None);
        let end = Some(t("2024-03-09T01:00:00Z"));
        assert_eq!(w.active_until(t("2024-03-08T21:00:00Z")), end);
        // Saturday 01:30 local: the window began the day before.
        assert_eq!(w.active_until(t("2024-03-09T00:30:00Z")), end);
        assert_eq!(w.active_until(t("2024-03-09T01:00:00Z")), None);
        // Not on Saturday night.
        assert_eq!(w.active_until(t("2024-03-09T21:30:00Z")), None);
    }

    #[test]
    fn a_start_in_the_spring_forward_gap_happens_after_it() {
        // Berlin skips 02:00-03:00 on 2024-03-31: a 02:30 start is at
        // 03:30 CEST (01:30Z), not dropped and not at 00:30Z.
        let w = window("30 2 * * *", Duration::mins(60), "Europe/Berlin");
        assert_eq!(w.active_until(t("2024-03-31T00:45:00Z")), None);
        assert_eq!(
            w.active_until(t("2024-03-31T01:45:00Z")),
            Some(t("2024-03-31T02:30:00Z"))
        );
        // The next night it is 02:30 CEST, 00:30Z.
        assert_eq!(
            w.active_until(t("2024-04-01T00:45:00Z")),
            Some(t("2024-04-01T01:30:00Z"))
        );
    }

    #[test]
    fn the_repeated_hour_starts_once_and_duration_is_real_time() {
        // Berlin repeats 02:00-03:00 on 2024-10-27 (CEST 00:00Z-01:00Z,
        // then CET 01:00Z-02:00Z): a 02:30 start happens at the first one.
        let w = window("30 2 * * *", Duration::mins(30), "Europe/Berlin");
        assert_eq!(
            w.active_until(t("2024-10-27T00:40:00Z")),
            Some(t("2024-10-27T01:00:00Z"))
        );
        assert_eq!(w.active_until(t("2024-10-27T01:40:00Z")), None);
        // 01:00 local for three hours across the change lasts three real
        // hours (23:00Z-02:00Z): it ends at 03:00 CET on the wall clock.
        let w = window("0 1 * * *", Duration::mins(180), "Europe/Berlin");
        assert!(w.active_until(t("2024-10-27T01:59:00Z")).is_some());
        assert_eq!(w.active_until(t("2024-10-27T02:00:00Z")), None);
    }

    #[test]
    fn utc_is_the_default_and_bad_entries_are_named() {
        let w: WindowSettings =
            serde_yaml::from_str("schedule: '0 2 * * SAT'\nduration: 4h\n").unwrap();
        assert_eq!(w.timezone, "UTC");
        assert_eq!(w.label(), "0 2 * * SAT");
        let w = Window::compile(&w).unwrap();
        assert_eq!(
            w.active_until(t("2024-03-09T05:59:00Z")),
            Some(t("2024-03-09T06:00:00Z"))
        );
        let bad = WindowSettings {
            timezone: "Mars/Olympus_Mons".into(),
            duration: Duration::mins(8 * 24 * 60),
            ..w.settings.clone()
        };
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["timezone", "duration"]);
        assert!(Window::compile(&bad)
            .unwrap_err()
            .contains("Mars/Olympus_Mons"));
    }
}
