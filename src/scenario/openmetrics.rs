//! OpenMetrics text for `metrics.om`: the subset scenarios use (counters and
//! gauges with timestamps), read and written so that the same file backfills a
//! real Prometheus via `promtool tsdb create-blocks-from openmetrics`.
//!
//! Conventions (DESIGN.md, "Scenario format"):
//! - a counter's `# TYPE` line names the family without `_total` and its
//!   samples are `<family>_total`; [`Family::name`] is the sample name;
//! - timestamps are seconds with at most millisecond precision, stored as ms;
//! - values use Rust's shortest round-trip formatting, plus `NaN`/`+Inf`/`-Inf`;
//! - families are contiguous, each series contiguous, samples in time order.
//!
//! The parser must take hundreds of thousands of lines quickly, so it works on
//! borrowed line slices and only allocates when a new series starts. It goes
//! line by line ([`parser`]) so that [`index`] can validate a file without
//! holding it, for a replay that streams it.

use super::{Family, MetricType, ScenarioError};
use parser::{Line, LineParser};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use text::{escape_into, valid_name};

pub use index::{index, Indexed, MetricStream, MAX_LINE};

mod index;
mod parser;
mod text;

/// Parses OpenMetrics `text`; `file` is only used to name errors.
///
/// Errors carry the 1-based line. `unknown` families are read as gauges;
/// `_created` samples of counters are skipped (Prometheus ignores them too).
pub fn parse(text: &str, file: &Path) -> Result<Vec<Family>, ScenarioError> {
    let mut parser = LineParser::new(file);
    let mut pieces = 0;
    for (i, line) in text.split('\n').enumerate() {
        pieces = i + 1;
        if let Line::Sample {
            series, ts, value, ..
        } = parser.line(pieces, line)?
        {
            if let Some(s) = parser.current_series(series) {
                s.samples.push((ts, value));
            }
        }
    }
    parser.finish(pieces)
}

fn bad_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Writes `families` as OpenMetrics text ending in `# EOF`.
///
/// Rejects what promtool would reject: a family twice, a counter whose name
/// lacks `_total`, samples not strictly increasing in time.
pub fn write(families: &[Family], out: impl Write) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let mut seen = std::collections::HashSet::new();
    let mut prefix = String::new();
    for fam in families {
        let meta = match fam.kind {
            MetricType::Counter => fam.name.strip_suffix("_total").ok_or_else(|| {
                bad_input(format!(
                    "counter family {:?} must be named <family>_total",
                    fam.name
                ))
            })?,
            MetricType::Gauge => fam.name.as_str(),
        };
        if !valid_name(meta) || !seen.insert(meta.to_string()) {
            return Err(bad_input(format!(
                "family {:?} is invalid or appears twice",
                fam.name
            )));
        }
        let kind = match fam.kind {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
        };
        if !fam.help.is_empty() {
            // An empty HELP is left out rather than written with a dangling space.
            let mut help = String::new();
            escape_into(&mut help, &fam.help);
            writeln!(w, "# HELP {meta} {help}")?;
        }
        writeln!(w, "# TYPE {meta} {kind}")?;
        for s in &fam.series {
            prefix.clear();
            prefix.push_str(&fam.name);
            let mut labels: Vec<&(String, String)> = s.labels.iter().collect();
            labels.sort();
            for (i, (k, v)) in labels.iter().enumerate() {
                prefix.push(if i == 0 { '{' } else { ',' });
                prefix.push_str(k);
                prefix.push_str("=\"");
                escape_into(&mut prefix, v);
                prefix.push('"');
            }
            if !labels.is_empty() {
                prefix.push('}');
            }
            let mut prev = i64::MIN;
            for &(ts, v) in &s.samples {
                if ts <= prev {
                    return Err(bad_input(format!(
                        "{prefix}: samples not in increasing time order"
                    )));
                }
                prev = ts;
                w.write_all(prefix.as_bytes())?;
                write_value(&mut w, v)?;
                write_timestamp(&mut w, ts)?;
            }
        }
    }
    w.write_all(b"# EOF\n")?;
    w.flush()
}

fn write_value(w: &mut impl Write, v: f64) -> io::Result<()> {
    if v.is_nan() {
        w.write_all(b" NaN")
    } else if v.is_infinite() {
        w.write_all(if v > 0.0 { b" +Inf" } else { b" -Inf" })
    } else {
        write!(w, " {v}")
    }
}

fn write_timestamp(w: &mut impl Write, ms: i64) -> io::Result<()> {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs.is_multiple_of(1000) {
        writeln!(w, " {sign}{}", abs / 1000)
    } else {
        writeln!(w, " {sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_gauges_and_escapes() {
        let text = "# HELP up Up.\n# TYPE up gauge\nup{job=\"a\\\"b\\\\c\\nd\"} 1 10.5\nup{job=\"x\"} NaN 11\n\
                    # TYPE req counter\nreq_total 3 1\nreq_created 0 1\nreq_total +Inf 2.001\n# EOF\n";
        let f = parse(text, Path::new("m.om")).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].series[0].label("job"), "a\"b\\c\nd");
        assert_eq!(f[0].series[0].samples, vec![(10_500, 1.0)]);
        assert!(f[0].series[1].samples[0].1.is_nan());
        assert_eq!(f[1].name, "req_total");
        assert_eq!(f[1].kind, MetricType::Counter);
        assert_eq!(
            f[1].series[0].samples,
            vec![(1000, 3.0), (2001, f64::INFINITY)]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("# TYPE a gauge\na 1 1\na 2 1\n# EOF\n", Path::new("m.om")).unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = parse("a 1 1\n", Path::new("m.om")).unwrap_err();
        assert!(e.to_string().contains("EOF"), "{e}");
        let e = parse("a 1 1\nb 1 1\na 2 2\n# EOF", Path::new("m.om")).unwrap_err();
        assert_eq!(e.to_string().split(": ").next(), Some("m.om:3"));
    }

    #[test]
    fn timestamps_are_written_in_seconds() {
        let mut out = Vec::new();
        write_timestamp(&mut out, -1500).unwrap();
        write_timestamp(&mut out, 1_519_146_000_020).unwrap();
        write_timestamp(&mut out, 1_519_146_000_000).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, " -1.500\n 1519146000.020\n 1519146000\n");
    }
}
