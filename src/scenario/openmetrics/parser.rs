//! The line-level OpenMetrics parser, one line at a time, so the same rules
//! (and the same errors, with the same line numbers) serve both the
//! whole-text [`super::parse`] and the streaming index of
//! [`super::index`], which keeps no samples.

use super::text::{labels_end, parse_labels, parse_timestamp, parse_value, unescape, valid_name};
use crate::scenario::{Family, MetricType, ScenarioError, Series};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What one line was.
#[derive(Debug, PartialEq)]
pub(super) enum Line {
    /// A comment, a blank line, metadata or a skipped `_created` sample.
    Other,
    /// A sample of series `series` of family `family` (indices in the
    /// order [`LineParser::finish`] returns them).
    Sample {
        family: usize,
        series: usize,
        ts: i64,
        value: f64,
    },
}

/// A family while parsing: its metadata name (counters without `_total`),
/// an index of its series by label set, and each series' last timestamp.
struct Building {
    meta_name: String,
    family: Family,
    by_labels: HashMap<Vec<(String, String)>, usize>,
    last_ts: Vec<i64>,
}

/// The parser's state between lines. Families it returns have their
/// series (labels) but no samples: the caller keeps those it wants.
pub(super) struct LineParser {
    file: PathBuf,
    done: Vec<Family>,
    seen: HashMap<String, usize>,
    cur: Option<Building>,
    /// Fast path: consecutive samples of one series share the raw label text.
    last_raw: Option<String>,
    last_series: usize,
    eof_line: Option<usize>,
}

/// Splits a sample line `name[{labels}] value timestamp [# exemplar]`
/// into its name, raw label text, value and timestamp.
pub(super) fn split_sample(line: &str) -> Result<(&str, &str, f64, i64), String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    let (raw_labels, rest) = if line[name_end..].starts_with('{') {
        let close = labels_end(&line[name_end..]).ok_or("unterminated label set")?;
        (&line[name_end..name_end + close], &line[name_end + close..])
    } else {
        ("", &line[name_end..])
    };
    let mut fields = rest.split_ascii_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("sample {name:?} has no value"))?;
    let ts = fields
        .next()
        .ok_or_else(|| format!("sample {name:?} has no timestamp"))?;
    if let Some(extra) = fields.next() {
        if extra != "#" {
            return Err(format!("unexpected {extra:?} after the timestamp"));
        }
    }
    let value = parse_value(value).ok_or_else(|| format!("invalid value {value:?}"))?;
    let ts = parse_timestamp(ts).ok_or_else(|| format!("invalid timestamp {ts:?}"))?;
    Ok((name, raw_labels, value, ts))
}

impl LineParser {
    /// A parser for `file` (only used to name errors).
    pub(super) fn new(file: &Path) -> Self {
        LineParser {
            file: file.to_path_buf(),
            done: Vec::new(),
            seen: HashMap::new(),
            cur: None,
            last_raw: None,
            last_series: 0,
            eof_line: None,
        }
    }

    fn err(&self, line: usize, message: String) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            line: Some(line),
            message,
        }
    }

    /// Parses line `n` (1-based; without its `\n`).
    pub(super) fn line(&mut self, n: usize, raw_line: &str) -> Result<Line, ScenarioError> {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if let Some(at) = self.eof_line {
            if line.is_empty() {
                return Ok(Line::Other);
            }
            return Err(self.err(n, format!("content after `# EOF` (line {at})")));
        }
        if line.is_empty() {
            return Ok(Line::Other);
        }
        if let Some(comment) = line.strip_prefix('#') {
            return self.comment(n, comment.trim_start()).map(|()| Line::Other);
        }
        let (name, raw_labels, value, ts) = split_sample(line).map_err(|m| self.err(n, m))?;
        let matches = self
            .cur
            .as_ref()
            .map(|b| (b.family.name == name, b.family.kind, &b.meta_name));
        match matches {
            Some((true, _, _)) => {}
            Some((false, MetricType::Counter, meta))
                if name.strip_suffix("_created") == Some(meta) =>
            {
                return Ok(Line::Other);
            }
            _ => {
                if !valid_name(name) {
                    return Err(self.err(n, format!("invalid metric name {name:?}")));
                }
                if self.seen.contains_key(name) {
                    return Err(self.err(n, format!("samples of {name:?} are not contiguous")));
                }
                self.start_family(name);
            }
        }
        let family = self.done.len();
        let Some(b) = self.cur.as_mut() else {
            return Ok(Line::Other);
        };
        if self.last_raw.as_deref() != Some(raw_labels) {
            let labels = parse_labels(raw_labels).map_err(|m| ScenarioError {
                file: self.file.clone(),
                line: Some(n),
                message: m,
            })?;
            self.last_series = match b.by_labels.get(&labels) {
                Some(&idx) => idx,
                None => {
                    b.family.series.push(Series {
                        labels: labels.clone(),
                        samples: Vec::new(),
                    });
                    b.last_ts.push(i64::MIN);
                    b.by_labels.insert(labels, b.family.series.len() - 1);
                    b.family.series.len() - 1
                }
            };
            self.last_raw = Some(raw_labels.to_string());
        }
        let series = self.last_series;
        let prev = b.last_ts[series];
        if prev != i64::MIN && ts <= prev {
            return Err(self.err(
                n,
                format!("timestamp {ts} ms is not after the series' previous sample ({prev} ms)"),
            ));
        }
        b.last_ts[series] = ts;
        Ok(Line::Sample {
            family,
            series,
            ts,
            value,
        })
    }

    /// `# HELP`, `# TYPE`, `# UNIT`, `# EOF` or a free comment.
    fn comment(&mut self, n: usize, comment: &str) -> Result<(), ScenarioError> {
        if comment == "EOF" {
            self.eof_line = Some(n);
            return Ok(());
        }
        let mut parts = comment.splitn(3, ' ');
        let (keyword, name, rest) = (parts.next(), parts.next(), parts.next());
        let (Some(keyword @ ("HELP" | "TYPE" | "UNIT")), Some(name)) = (keyword, name) else {
            return Ok(()); // Free comments are harmless.
        };
        if !valid_name(name) {
            return Err(self.err(n, format!("invalid metric name {name:?}")));
        }
        if self.cur.as_ref().is_none_or(|b| b.meta_name != name) {
            if self.seen.contains_key(name) {
                return Err(self.err(n, format!("metric family {name:?} appears twice")));
            }
            self.start_family(name);
        }
        let Some(b) = self.cur.as_mut() else {
            return Ok(());
        };
        let rest = rest.unwrap_or("");
        match keyword {
            "HELP" => b.family.help = unescape(rest),
            "TYPE" => {
                b.family.kind = match rest.trim() {
                    "counter" => MetricType::Counter,
                    "gauge" | "unknown" | "untyped" => MetricType::Gauge,
                    other => return Err(self.err(n, format!("unsupported metric type {other:?}"))),
                };
                b.family.name = sample_name(name, b.family.kind);
            }
            _ => {}
        }
        Ok(())
    }

    fn start_family(&mut self, meta_name: &str) {
        self.finish_family();
        self.cur = Some(Building {
            meta_name: meta_name.to_string(),
            family: Family {
                name: sample_name(meta_name, MetricType::Gauge),
                kind: MetricType::Gauge,
                ..Family::default()
            },
            by_labels: HashMap::new(),
            last_ts: Vec::new(),
        });
        self.last_raw = None;
    }

    fn finish_family(&mut self) {
        if let Some(b) = self.cur.take() {
            self.seen.insert(b.meta_name, self.done.len());
            self.seen.insert(b.family.name.clone(), self.done.len());
            self.done.push(b.family);
        }
    }

    /// The families read, once the text has ended after `pieces` pieces
    /// of `split('\n')` (the error for a missing `# EOF` names the last).
    pub(super) fn finish(mut self, pieces: usize) -> Result<Vec<Family>, ScenarioError> {
        if self.eof_line.is_none() {
            return Err(self.err(pieces.max(1), "missing `# EOF` at the end".into()));
        }
        self.finish_family();
        Ok(self.done)
    }

    /// The family being read, if any (samples are pushed into it by
    /// [`super::parse`], which keeps them).
    pub(super) fn current_series(&mut self, series: usize) -> Option<&mut Series> {
        self.cur.as_mut()?.family.series.get_mut(series)
    }
}

fn sample_name(meta_name: &str, kind: MetricType) -> String {
    match kind {
        MetricType::Counter => format!("{meta_name}_total"),
        MetricType::Gauge => meta_name.to_string(),
    }
}
