//! Reads a scenario directory (DESIGN.md, "Scenario format") into a
//! [`Scenario`], naming the file and line of anything malformed so a person
//! editing a scenario by hand can find the mistake.

use super::{openmetrics, Meta, Scenario, ScenarioError};
use crate::k8s::{self, List};
use serde::de::DeserializeOwned;
use std::fs;
use std::path::Path;

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
    let meta = read_meta(&dir.join("scenario.yaml"))?;
    let nodes = read_list::<k8s::Node>(&dir.join("nodes.json"), "NodeList")?;
    let pods = read_list::<k8s::Pod>(&dir.join("pods.json"), "PodList")?;
    let events = read_events(&dir.join("events.jsonl"))?;
    let om_path = dir.join("metrics.om");
    let metrics = openmetrics::parse(&read_text(&om_path)?, &om_path)?;
    Ok(Scenario {
        meta,
        nodes,
        pods,
        events,
        metrics,
    })
}

fn read_meta(path: &Path) -> Result<Meta, ScenarioError> {
    let text = read_text(path)?;
    let meta: Meta = serde_yaml::from_str(&text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        error(path, line, e.to_string())
    })?;
    let invalid = |m: String| Err(error(path, None, m));
    if meta.start >= meta.end {
        return invalid(format!(
            "start {} is not before end {}",
            meta.start, meta.end
        ));
    }
    if meta.step.0 <= 0 {
        return invalid(format!("step {} must be positive", meta.step));
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

/// Reads `events.jsonl`: one Event per line, blank lines skipped. Each line
/// is parsed on its own so an error names the line of the file.
fn read_events(path: &Path) -> Result<Vec<k8s::Event>, ScenarioError> {
    let text = read_text(path)?;
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ev: k8s::Event = serde_json::from_str(line).map_err(|e| {
            error(
                path,
                Some(i + 1),
                format!("invalid Event: {}", json_message(&e)),
            )
        })?;
        events.push(ev);
    }
    Ok(events)
}
