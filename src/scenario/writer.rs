//! Writes a [`Scenario`] as a scenario directory (DESIGN.md, "Scenario
//! format") in the shapes the real tools print: lists as `kubectl get -o json`
//! does (4-space indent), one compact Event per line as a watch delivers
//! them, and OpenMetrics that `promtool` can backfill.

use super::{openmetrics, Scenario, ScenarioError};
use crate::k8s::{self, List};
use serde::Serialize;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// An Event as it travels on the wire: the stored type leaves out
/// `apiVersion`/`kind` (every object in `events.jsonl` is a v1 Event), but
/// readers such as `kubectl` or a fake API server expect them.
#[derive(Serialize)]
struct WireEvent<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    event: &'a k8s::Event,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot write: {e}"),
    }
}

/// Creates `path` and runs `body` on a buffered writer, flushing at the end
/// so a full disk is reported rather than silently truncating the file.
fn with_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), ScenarioError> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    body(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| io_error(path, e))
}

/// Serializes `value` as JSON indented with 4 spaces, like kubectl.
fn kubectl_json<T: Serialize>(w: &mut impl Write, value: &T) -> io::Result<()> {
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, fmt);
    value.serialize(&mut ser).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Writes `s` into `dir` (created if missing), overwriting the five files
/// (six with `nodes.jsonl`).
pub fn write_dir(s: &Scenario, dir: &Path) -> Result<(), ScenarioError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;

    let path = dir.join("scenario.yaml");
    let yaml = serde_yaml::to_string(&s.meta).map_err(|e| io_error(&path, e))?;
    fs::write(&path, yaml).map_err(|e| io_error(&path, e))?;

    let path = dir.join("nodes.json");
    let nodes = List {
        api_version: "v1".into(),
        kind: "NodeList".into(),
        items: s.nodes.clone(),
    };
    with_file(&path, |w| kubectl_json(w, &nodes))?;

    let path = dir.join("pods.json");
    let pods = List {
        api_version: "v1".into(),
        kind: "PodList".into(),
        items: s.pods.clone(),
    };
    with_file(&path, |w| kubectl_json(w, &pods))?;

    let path = dir.join("events.jsonl");
    with_file(&path, |w| {
        for event in &s.events {
            let wire = WireEvent {
                api_version: "v1",
                kind: "Event",
                event,
            };
            serde_json::to_writer(&mut *w, &wire).map_err(io::Error::other)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;

    let path = dir.join("nodes.jsonl");
    if s.node_changes.is_empty() {
        // Not part of a scenario whose nodes only join; a stale one from
        // an earlier write must not linger.
        if path.exists() {
            fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        }
    } else {
        with_file(&path, |w| {
            for c in &s.node_changes {
                serde_json::to_writer(&mut *w, c).map_err(io::Error::other)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        })?;
    }

    let path = dir.join("metrics.om");
    with_file(&path, |w| openmetrics::write(&s.metrics, w))
}
