//! Cron schedules for maintenance windows: the five classic fields
//! (minute, hour, day of month, month, day of week) with `*`, lists,
//! ranges, steps and English names, plus `@hourly`, `@daily`, `@weekly`,
//! `@monthly` and `@yearly`. When both day fields are restricted a day
//! matches either (as Vixie cron does). Parsing is bounded by the field
//! widths; matching is a few bit tests.

use jiff::civil::Date;

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day of month and day of week both restricted: either matches.
    either_day: bool,
}

/// Longest schedule text accepted (a cron line is short).
const MAX_LEN: usize = 200;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    /// Parses `text`; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let text = text.trim();
        if text.len() > MAX_LEN {
            return Err(format!("longer than {MAX_LEN} characters"));
        }
        let text = match text {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            t if t.starts_with('@') => return Err(format!("unknown shorthand {t:?}")),
            t => t,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "{:?} has {} fields, want 5 (minute hour day-of-month month day-of-week)",
                text,
                fields.len()
            ));
        }
        let minutes = field(fields[0], "minute", 0, 59, &[])?;
        let hours = field(fields[1], "hour", 0, 23, &[])?;
        let days = field(fields[2], "day of month", 1, 31, &[])?;
        let months = field(fields[3], "month", 1, 12, &MONTHS)?;
        // 7 is Sunday too.
        let dow = field(fields[4], "day of week", 0, 7, &WEEKDAYS)?;
        let weekdays = ((dow | (dow >> 7)) & 0x7f) as u8;
        let star = |f: &str| f.starts_with('*');
        let cron = Cron {
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays,
            either_day: !star(fields[2]) && !star(fields[4]),
        };
        if !cron.ever_matches() {
            return Err(format!("{text:?} never matches a real date"));
        }
        Ok(cron)
    }

    /// Whether the schedule fires on `date` at some time.
    pub fn matches_date(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.either_day {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The `(hour, minute)` pairs it fires at on a matching date, latest
    /// first.
    pub fn times_desc(&self) -> impl Iterator<Item = (i8, i8)> + '_ {
        (0..24i8)
            .rev()
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(move |h| {
                (0..60i8)
                    .rev()
                    .filter(move |m| self.minutes & (1 << m) != 0)
                    .map(move |m| (h, m))
            })
    }

    /// Some date in eight years (two leap cycles) matches: `30 2 31 2 *`
    /// does not.
    fn ever_matches(&self) -> bool {
        let mut d = Date::constant(2024, 1, 1);
        for _ in 0..2922 {
            if self.matches_date(d) {
                return true;
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => return false,
            }
        }
        false
    }
}

/// One field as a bit set over `lo..=hi`.
fn field(text: &str, what: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let bad = |why: String| Err(format!("{what} field {text:?}: {why}"));
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => match s.parse::<u32>() {
                Ok(s) if (1..=hi.max(1)).contains(&s) => (r, s),
                _ => return bad(format!("step {s:?} is not a number within 1..{hi}")),
            },
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            (lo, hi)
        } else {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let value = |v: &str| -> Result<u32, String> {
                if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                    // Months count from 1, weekdays from 0 (Sunday).
                    return Ok(i as u32 + lo);
                }
                match v.parse::<u32>() {
                    Ok(n) if (lo..=hi).contains(&n) => Ok(n),
                    _ if names.is_empty() => Err(format!(
                        "{what} field {text:?}: {v:?} is not within {lo}..{hi}"
                    )),
                    _ => Err(format!(
                        "{what} field {text:?}: {v:?} is neither within {lo}..{hi} nor one of {}",
                        names.join(" ")
                    )),
                }
            };
            let (a, b) = (value(a)?, value(b)?);
            // `5/15` means from 5 to the end, every 15.
            let b = if item.contains('/') && !range.contains('-') {
                hi
            } else {
                b
            };
            if a > b {
                return bad(format!("range {range:?} runs backwards"));
            }
            (a, b)
        };
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lists_ranges_steps_and_names() {
        let c = Cron::parse("*/15 2,4-5 * JAN-mar sat").unwrap();
        assert_eq!(c.minutes, 1 | 1 << 15 | 1 << 30 | 1 << 45);
        assert_eq!(c.hours, 1 << 2 | 1 << 4 | 1 << 5);
        assert_eq!(c.months, 0b1110);
        assert_eq!(c.weekdays, 1 << 6);
        assert!(!c.either_day);
        // Sunday as 0 and as 7.
        assert_eq!(Cron::parse("0 0 * * 7").unwrap().weekdays, 1);
        assert_eq!(
            Cron::parse("@weekly").unwrap(),
            Cron::parse("0 0 * * SUN").unwrap()
        );
        let times: Vec<_> = Cron::parse("0,30 1,2 * * *")
            .unwrap()
            .times_desc()
            .collect();
        assert_eq!(times, [(2, 30), (2, 0), (1, 30), (1, 0)]);
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        // The 13th, or any Friday.
        let c = Cron::parse("0 0 13 * FRI").unwrap();
        assert!(c.matches_date(Date::constant(2024, 3, 13))); // a Wednesday
        assert!(c.matches_date(Date::constant(2024, 3, 8))); // a Friday
        assert!(!c.matches_date(Date::constant(2024, 3, 9)));
        // Only the weekday restricted: it alone decides.
        let c = Cron::parse("0 2 * * SAT").unwrap();
        assert!(c.matches_date(Date::constant(2024, 3, 9)));
        assert!(!c.matches_date(Date::constant(2024, 3, 13)));
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for (text, want) in [
            ("0 2 * *", "has 4 fields"),
            ("60 * * * *", "minute field \"60\""),
            ("0 24 * * *", "hour field"),
            ("0 0 0 * *", "day of month field"),
            ("0 0 * FOO *", "month field"),
            ("0 0 * * 8", "day of week field"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "runs backwards"),
            ("0 0 31 2 *", "never matches"),
            ("@reboot", "unknown shorthand"),
        ] {
            let e = Cron::parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(Cron::parse(&"1,".repeat(150)).is_err());
    }
}
