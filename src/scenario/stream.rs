//! Opening a scenario directory for a streamed replay: `scenario.yaml`,
//! `nodes.json`, `pods.json` and `nodes.jsonl` are read whole (they
//! describe the cluster, not its history), while `metrics.om` and
//! `events.jsonl` are validated in one pass and then read again as their
//! time comes, so memory does not grow with the scenario's length.

use super::lines::Lines;
use super::openmetrics::{self, Indexed, MetricStream};
use super::reader::{for_each_jsonl, read_parts};
use super::{shift, Scenario, ScenarioError, MAX_EVENT_LINE};
use crate::k8s;
use crate::time::{Duration, Timestamp};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// A scenario ready to replay: what is in memory, and the streams of the
/// rest. Built from a directory ([`open_dir`]) or from a [`Scenario`]
/// already in memory (`From`), so one replay path serves both.
pub struct Streamed {
    /// Meta, nodes, pods and node changes; the metrics and events too when
    /// they are not streamed.
    pub scenario: Scenario,
    /// `metrics.om`, when streamed.
    pub metrics: Option<MetricStream>,
    /// `events.jsonl`, when streamed.
    pub events: Option<EventStream>,
}

impl From<Scenario> for Streamed {
    fn from(scenario: Scenario) -> Self {
        Streamed {
            scenario,
            metrics: None,
            events: None,
        }
    }
}

impl Streamed {
    /// Moves every timestamp by `by`, streamed ones as they are read
    /// (see [`Scenario::shift`]).
    pub fn shift(&mut self, by: Duration) {
        self.scenario.shift(by);
        if let Some(m) = &mut self.metrics {
            m.shift(by.0);
        }
        if let Some(e) = &mut self.events {
            e.shift = by;
        }
    }
}

/// Opens the scenario in `dir` for a streamed replay, with the checks and
/// errors of [`super::read_dir`]: every file is read through once here,
/// so a malformed line is reported before the replay starts. A
/// `metrics.om` whose series interleave (allowed, but not what the writer
/// produces) is read whole.
pub fn open_dir(dir: &Path) -> Result<Streamed, ScenarioError> {
    let mut scenario = read_parts(dir)?;
    let events_path = dir.join("events.jsonl");
    for_each_jsonl::<k8s::Event>(&events_path, "Event", |_, _| ())?;
    let events = EventStream::open(&events_path)?;
    let om_path = dir.join("metrics.om");
    let metrics = match openmetrics::index(&om_path)? {
        Indexed::Stream(s) => Some(s),
        Indexed::Interleaved => {
            let text = std::fs::read_to_string(&om_path).map_err(|e| ScenarioError {
                file: om_path.clone(),
                line: None,
                message: format!("cannot read: {e}"),
            })?;
            scenario.metrics = openmetrics::parse(&text, &om_path)?;
            None
        }
    };
    Ok(Streamed {
        scenario,
        metrics,
        events: Some(events),
    })
}

/// `events.jsonl` read line by line, in delivery order.
pub struct EventStream {
    path: PathBuf,
    lines: Lines<BufReader<File>>,
    /// Added to every time of every event read.
    shift: Duration,
    /// The next event and its delivery time (ms), read but not yet due.
    pending: Option<(i64, k8s::Event)>,
    done: bool,
}

impl EventStream {
    fn open(path: &Path) -> Result<Self, ScenarioError> {
        let file = File::open(path).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Ok(EventStream {
            path: path.to_path_buf(),
            lines: Lines::new(BufReader::with_capacity(1 << 16, file), MAX_EVENT_LINE),
            shift: Duration(0),
            pending: None,
            done: false,
        })
    }

    /// The next event due at `at` (its latest occurrence at or before it,
    /// or no usable time at all), or `None`. Events are delivered in file
    /// order: one not yet due holds back those after it, as a replay of
    /// the file read whole does.
    pub fn next_due(&mut self, at: Timestamp) -> Result<Option<k8s::Event>, ScenarioError> {
        if self.pending.is_none() && !self.done {
            self.pending = self.read()?;
            self.done = self.pending.is_none();
        }
        match self.pending.take() {
            Some((t, e)) if t <= at.0 => Ok(Some(e)),
            other => {
                self.pending = other;
                Ok(None)
            }
        }
    }

    /// The next event of the file, shifted, with its delivery time.
    fn read(&mut self) -> Result<Option<(i64, k8s::Event)>, ScenarioError> {
        let err = |line, message| ScenarioError {
            file: self.path.clone(),
            line,
            message,
        };
        loop {
            let (n, _, text) = match self.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => return Ok(None),
                Err(e) => return Err(err(e.line(), e.message())),
            };
            if text.trim().is_empty() {
                continue;
            }
            let mut e: k8s::Event = serde_json::from_str(text)
                .map_err(|e| err(Some(n), format!("{e}: the file changed during the replay")))?;
            shift::shift_event(&mut e, self.shift);
            return Ok(Some((delivery_time(&e), e)));
        }
    }
}

/// When the replay delivers `e`: its latest occurrence; an event without
/// a usable time is delivered at once rather than dropped.
pub(crate) fn delivery_time(e: &k8s::Event) -> i64 {
    e.last_seen()
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .map_or(i64::MIN, |t| t.0)
}
