//! Reads a scenario directory (DESIGN.md, "Scenario format") into a
//! [`Scenario`], naming the file and line of anything malformed so a person
//! editing a scenario by hand can find the mistake.

use super::lines::Lines;
use super::{openmetrics, Meta, NodeChange, Scenario, ScenarioError, NODE_CHANGE_TYPES};
use crate::config::yaml;
use crate::k8s::{self, List};
use crate::time::{Duration, Timestamp};
use serde::de::DeserializeOwned;
use std::fs;
use std::io::BufReader;
use std::path::Path;

/// Most ticks one replay (or backtest) evaluates: a year of 30 s steps.
/// An `end` of 9999-12-30 or a `step` of 1ms would otherwise tick for
/// days without a line of output.
pub const MAX_TICKS: u64 = 1_051_200;

/// Longest line of `events.jsonl` (a Kubernetes Event is ~1 KiB).
pub const MAX_EVENT_LINE: usize = 1 << 20;

/// The number of ticks from `start` to `end` every `step`, if within
/// [`MAX_TICKS`]; else an error naming both.
pub fn check_ticks(start: Timestamp, end: Timestamp, step: Duration) -> Result<u64, String> {
    if step.0 <= 0 {
        return Err(format!("step {step} must be positive"));
    }
    let ticks = (end.0.saturating_sub(start.0)).max(0) as u64 / step.0 as u64 + 1;
    if ticks > MAX_TICKS {
        return Err(format!(
            "{ticks} ticks asked for ({start} to {end} every {step}); the limit is {MAX_TICKS} per replay: use a longer step or a shorter range"
        ));
    }
    Ok(ticks)
}

fn error(file: &Path, line: Option<usize>, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        file: file.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn read_text(path: &Path) -> Result<String, ScenarioError> {
    fs::read_to_string(path).map_err(|e| error(path, None, format!("cannot read: {e}")))
}

/// serde_json's message without its " at line L column C" suffix, since the
/// line goes into [`ScenarioError::line`] and the column is added back here.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let msg = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    format!("{msg} (column {})", e.column())
}

/// Reads the scenario in `dir`.
///
/// Validates what the rest of the pipeline relies on: `start < end`,
/// `step > 0`, truth windows with `from <= to`, list kinds, and (in the
/// OpenMetrics parser) strictly increasing timestamps per series.
pub fn read_dir(dir: &Path) -> Result<Scenario, ScenarioError> {
    let mut scenario = read_parts(dir)?;
    scenario.events = read_events(&dir.join("events.jsonl"))?;
    let om_path = dir.join("metrics.om");
    scenario.metrics = openmetrics::parse(&read_text(&om_path)?, &om_path)?;
    Ok(scenario)
}

/// Reads what a streamed replay holds in memory: `scenario.yaml`,
/// `nodes.json`, `pods.json` and `nodes.jsonl`; no events, no metrics.
pub(super) fn read_parts(dir: &Path) -> Result<Scenario, ScenarioError> {
    let meta = read_meta(&dir.join("scenario.yaml"))?;
    let nodes = read_list::<k8s::Node>(&dir.join("nodes.json"), "NodeList")?;
    let pods = read_list::<k8s::Pod>(&dir.join("pods.json"), "PodList")?;
    let changes = dir.join("nodes.jsonl");
    let node_changes = if changes.exists() {
        read_node_changes(&changes)?
    } else {
        Vec::new()
    };
    Ok(Scenario {
        meta,
        nodes,
        pods,
        node_changes,
        ..Scenario::default()
    })
}

/// Reads and checks a `scenario.yaml` (also the `--truth` of a backtest).
pub fn read_meta(path: &Path) -> Result<Meta, ScenarioError> {
    let yaml_err = |e: yaml::YamlError| error(path, e.line(), e.to_string());
    let text = yaml::read_file(path, yaml::MAX_BYTES).map_err(yaml_err)?;
    let meta: Meta = yaml::from_str(&text).map_err(yaml_err)?;
    let invalid = |m: String| Err(error(path, None, m));
    if meta.start >= meta.end {
        return invalid(format!(
            "start {} is not before end {}",
            meta.start, meta.end
        ));
    }
    if let Err(m) = check_ticks(meta.start, meta.end, meta.step) {
        return invalid(m);
    }
    for f in &meta.truth.faulty_nodes {
        if f.from > f.to {
            return invalid(format!(
                "truth window for node {} ends before it starts",
                f.node
            ));
        }
    }
    for (i, c) in meta.truth.cluster_incidents.iter().enumerate() {
        if c.from > c.to {
            return invalid(format!("cluster incident #{} ends before it starts", i + 1));
        }
    }
    Ok(meta)
}

/// Reads a `kind: <kind>` list (a plain `List` is accepted too, as
/// `kubectl get -o json` prints one for mixed queries).
fn read_list<T: DeserializeOwned>(path: &Path, kind: &str) -> Result<Vec<T>, ScenarioError> {
    let text = read_text(path)?;
    let list: List<T> =
        serde_json::from_str(&text).map_err(|e| error(path, Some(e.line()), json_message(&e)))?;
    if !list.kind.is_empty() && list.kind != kind && list.kind != "List" {
        return Err(error(
            path,
            None,
            format!("expected kind {kind}, found {}", list.kind),
        ));
    }
    Ok(list.items)
}

/// Reads `events.jsonl`: one Event per line.
fn read_events(path: &Path) -> Result<Vec<k8s::Event>, ScenarioError> {
    Ok(read_jsonl(path, "Event")?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}

/// Reads `nodes.jsonl`: one node watch event per line, of a known type,
/// in time order (the replay applies them as their time comes).
fn read_node_changes(path: &Path) -> Result<Vec<NodeChange>, ScenarioError> {
    let changes: Vec<(usize, NodeChange)> = read_jsonl(path, "node watch event")?;
    let mut last = None;
    for (line, c) in &changes {
        let line = Some(*line);
        if !NODE_CHANGE_TYPES.contains(&c.kind.as_str()) {
            let m = format!(
                "type {:?} is not one of {}",
                c.kind,
                NODE_CHANGE_TYPES.join(", ")
            );
            return Err(error(path, line, m));
        }
        if c.object.metadata.name.is_empty() {
            return Err(error(path, line, "the node has no name"));
        }
        if last.is_some_and(|t| c.at < t) {
            return Err(error(path, line, "earlier than the line before"));
        }
        last = Some(c.at);
    }
    Ok(changes.into_iter().map(|(_, c)| c).collect())
}

/// Reads a JSON-lines file of `what`s with their 1-based line numbers,
/// blank lines skipped.
fn read_jsonl<T: DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<Vec<(usize, T)>, ScenarioError> {
    let mut items = Vec::new();
    for_each_jsonl(path, what, |n, item| items.push((n, item)))?;
    Ok(items)
}

/// Calls `f(line number, item)` for each `what` of a JSON-lines file, blank
/// lines skipped. Each line is parsed on its own so an error names the line
/// of the file, and read on its own (at most [`MAX_EVENT_LINE`] bytes) so
/// the file is never held whole.
pub(super) fn for_each_jsonl<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    mut f: impl FnMut(usize, T),
) -> Result<(), ScenarioError> {
    let file = fs::File::open(path).map_err(|e| error(path, None, format!("cannot read: {e}")))?;
    let mut lines = Lines::new(BufReader::with_capacity(1 << 16, file), MAX_EVENT_LINE);
    loop {
        let (n, _, raw) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) => return Err(error(path, e.line(), e.message())),
        };
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        let item: T = serde_json::from_str(line).map_err(|e| {
            error(
                path,
                Some(n),
                format!("invalid {what}: {}", json_message(&e)),
            )
        })?;
        f(n, item);
    }
}
