//! The signal catalog and alerting rules, loaded from YAML files in `rules/`
//! (or the copy compiled into the binary), validated with errors that name
//! the file, the line and the field.

mod promql;
pub mod rule;
pub mod signal;

pub use promql::render;
pub use rule::{ActionKind, AlertScope, Condition, Rule};
pub use signal::{
    Aggregation, DetectConfig, Direction, EventCount, EventQuery, MatchOp, Matcher, MetricQuery,
    Signal, SignalScope,
};

use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The default catalog shipped in `rules/`, compiled in so nodewatch runs
/// without any files.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/signals.yaml",
        include_str!("../../rules/signals.yaml"),
    ),
    ("rules/alerts.yaml", include_str!("../../rules/alerts.yaml")),
];

/// One YAML file of the catalog; both keys are optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    signals: Vec<Signal>,
    #[serde(default)]
    rules: Vec<Rule>,
}

/// A validated set of signals and rules.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Signals, in file order; a signal's index is its id in the pipeline.
    pub signals: Vec<Signal>,
    /// Rules, in file order.
    pub rules: Vec<Rule>,
}

/// A rule file problem, located as precisely as the YAML allows.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct CatalogError {
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line (0 if unknown).
    pub line: usize,
    /// Dotted path of the offending field, e.g. `signals[2].metric.rate`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Self {
        let mut files = Vec::new();
        for (name, text) in BUILTIN {
            files.push((PathBuf::from(name), text.to_string()));
        }
        Self::from_sources(files).expect("the built-in catalog is valid (checked by tests)")
    }

    /// Loads every `*.yaml`/`*.yml` file under the given paths (files or
    /// directories), collecting every error rather than stopping at the first.
    pub fn load(paths: &[PathBuf]) -> Result<Self, Vec<CatalogError>> {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            let mut found = Vec::new();
            if p.is_dir() {
                match std::fs::read_dir(p) {
                    Ok(rd) => {
                        for e in rd.flatten() {
                            let path = e.path();
                            let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
                            if ext == "yaml" || ext == "yml" {
                                found.push(path);
                            }
                        }
                    }
                    Err(e) => errors.push(io_error(p, e)),
                }
                found.sort();
            } else {
                found.push(p.clone());
            }
            for f in found {
                match std::fs::read_to_string(&f) {
                    Ok(text) => files.push((f, text)),
                    Err(e) => errors.push(io_error(&f, e)),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Self::from_sources(files)
    }

    /// Parses and validates in-memory files `(path, text)`.
    pub fn from_sources(files: Vec<(PathBuf, String)>) -> Result<Self, Vec<CatalogError>> {
        let mut cat = Catalog::default();
        let mut errors = Vec::new();
        // Where each signal/rule came from, for locating semantic errors.
        let mut origin_sig = Vec::new();
        let mut origin_rule = Vec::new();
        for (file, text) in &files {
            match serde_yaml::from_str::<Option<RuleFile>>(text) {
                Ok(parsed) => {
                    let parsed = parsed.unwrap_or_default();
                    for (i, s) in parsed.signals.into_iter().enumerate() {
                        origin_sig.push((file.clone(), i));
                        cat.signals.push(s);
                    }
                    for (i, r) in parsed.rules.into_iter().enumerate() {
                        origin_rule.push((file.clone(), i));
                        cat.rules.push(r);
                    }
                }
                Err(e) => errors.push(yaml_error(file, &e)),
            }
        }
        if errors.is_empty() {
            let texts: Vec<(&PathBuf, &str)> = files.iter().map(|(f, t)| (f, t.as_str())).collect();
            for p in cat.validate() {
                let (file, idx) = match p.item {
                    Item::Signal(i) => origin_sig[i].clone(),
                    Item::Rule(i) => origin_rule[i].clone(),
                };
                let text = texts
                    .iter()
                    .find(|(f, _)| **f == file)
                    .map_or("", |(_, t)| *t);
                let section = if matches!(p.item, Item::Signal(_)) {
                    "signals"
                } else {
                    "rules"
                };
                errors.push(CatalogError {
                    line: locate(text, section, idx, p.field.rsplit('.').next().unwrap_or("")),
                    field: format!("{section}[{idx}].{}", p.field),
                    file,
                    message: p.message,
                });
            }
        }
        if errors.is_empty() {
            Ok(cat)
        } else {
            Err(errors)
        }
    }

    /// Index of the signal called `name`.
    pub fn signal_index(&self, name: &str) -> Option<usize> {
        self.signals.iter().position(|s| s.name == name)
    }

    fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, s) in self.signals.iter().enumerate() {
            let mut bad = |field: &str, message: String| {
                out.push(Problem {
                    item: Item::Signal(i),
                    field: field.to_string(),
                    message,
                })
            };
            if !valid_name(&s.name) {
                bad(
                    "name",
                    format!("{:?} is not a valid name ([a-z_][a-z0-9_]*)", s.name),
                );
            }
            if !seen.insert(s.name.as_str()) {
                bad("name", format!("duplicate signal name {:?}", s.name));
            }
            match (&s.metric, &s.events) {
                (Some(_), Some(_)) => {
                    bad("events", "set either `metric` or `events`, not both".into())
                }
                (None, None) => bad("metric", "one of `metric` or `events` is required".into()),
                (Some(m), None) => {
                    if m.by.is_empty() {
                        bad("metric.by", "at least one label is required".into());
                    }
                    if s.scope == SignalScope::Node && m.by.len() != 1 {
                        bad(
                            "metric.by",
                            "node signals take exactly one label: the one carrying the node name"
                                .into(),
                        );
                    }
                }
                (None, Some(e)) => {
                    if e.window.0 <= 0 {
                        bad("events.window", "must be positive".into());
                    }
                    if s.scope != SignalScope::Node {
                        bad(
                            "scope",
                            "event signals are attributed to nodes: scope must be `node`".into(),
                        );
                    }
                }
            }
            let d = &s.detect;
            if !(d.z.is_finite() && d.z > 0.0) {
                bad(
                    "detect.z",
                    format!("must be a positive number, got {}", d.z),
                );
            }
            if !(d.mad_floor.is_finite() && d.mad_floor > 0.0) {
                bad(
                    "detect.mad_floor",
                    format!("must be a positive number, got {}", d.mad_floor),
                );
            }
            if !(0.0..=1.0).contains(&d.weight) {
                bad(
                    "detect.weight",
                    format!("must be within 0..1, got {}", d.weight),
                );
            }
        }
        let mut seen_rules = HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let mut bad = |field: &str, message: String| {
                out.push(Problem {
                    item: Item::Rule(i),
                    field: field.to_string(),
                    message,
                })
            };
            if r.alert.is_empty() {
                bad("alert", "must not be empty".into());
            }
            if !seen_rules.insert((r.alert.as_str(), r.scope)) {
                bad(
                    "alert",
                    format!(
                        "duplicate rule {:?} for scope {}",
                        r.alert,
                        r.scope.as_str()
                    ),
                );
            }
            if !matches!(r.severity.as_str(), "info" | "warning" | "critical") {
                bad(
                    "severity",
                    format!("must be info, warning or critical, got {:?}", r.severity),
                );
            }
            if r.cordons() && r.scope != AlertScope::Node {
                bad("actions", "only node rules may cordon".into());
            }
            if r.for_.0 < 0 || r.keep_firing_for.0 < 0 {
                bad("for", "durations must not be negative".into());
            }
            let c = &r.when;
            let thresholds = [c.value_above, c.value_below, c.anomaly_above]
                .iter()
                .flatten()
                .count();
            let forms =
                c.score_above.is_some() as u8 + (thresholds > 0) as u8 + c.common_cause as u8;
            if forms != 1 {
                bad("when", "use exactly one of: score_above; signal with value_above/value_below/anomaly_above; common_cause".into());
                continue;
            }
            for (f, v) in [
                ("score_above", c.score_above),
                ("anomaly_above", c.anomaly_above),
            ] {
                if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                    bad(&format!("when.{f}"), "must be within 0..1".into());
                }
            }
            let sig = c
                .signal
                .as_ref()
                .map(|n| (n, self.signals.iter().find(|s| &s.name == n)));
            if let Some((n, None)) = sig {
                bad("when.signal", format!("unknown signal {n:?}"));
            }
            let sig = sig.and_then(|(_, s)| s);
            match r.scope {
                AlertScope::Node if c.common_cause => {
                    bad("when.common_cause", "is for cluster rules".into())
                }
                AlertScope::Cluster if !c.common_cause => {
                    bad("when", "cluster rules use `common_cause: true`".into())
                }
                AlertScope::Workload if c.score_above.is_some() => bad(
                    "when.score_above",
                    "node scores are for node rules; use signal thresholds".into(),
                ),
                _ => {}
            }
            if thresholds > 0 && c.signal.is_none() {
                bad(
                    "when.signal",
                    "value/anomaly thresholds need a `signal`".into(),
                );
            }
            if let Some(s) = sig {
                let want = if r.scope == AlertScope::Workload {
                    SignalScope::Workload
                } else {
                    SignalScope::Node
                };
                if r.scope != AlertScope::Cluster && s.scope != want {
                    bad(
                        "when.signal",
                        format!(
                            "signal {:?} has scope {:?}, rule has scope {}",
                            s.name,
                            s.scope,
                            r.scope.as_str()
                        ),
                    );
                }
            }
        }
        out
    }
}

enum Item {
    Signal(usize),
    Rule(usize),
}

struct Problem {
    item: Item,
    field: String,
    message: String,
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn io_error(p: &Path, e: std::io::Error) -> CatalogError {
    CatalogError {
        file: p.to_path_buf(),
        line: 0,
        field: "-".into(),
        message: e.to_string(),
    }
}

fn yaml_error(file: &Path, e: &serde_yaml::Error) -> CatalogError {
    // serde_yaml prefixes the path of the offending field ("signals[1].metric: ...")
    // and appends " at line L column C"; split both out.
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let (field, message) = match msg.split_once(": ") {
        Some((f, m)) if !f.contains(' ') => (f.to_string(), m.to_string()),
        _ => ("-".to_string(), msg.clone()),
    };
    CatalogError {
        file: file.to_path_buf(),
        line: e.location().map_or(0, |l| l.line()),
        field,
        message,
    }
}

/// Finds the line of `field` inside the `idx`-th item of the top-level
/// `section` list. serde_yaml keeps no spans after parsing, so this scans the
/// text: it is only used to point at errors found after deserialization.
fn locate(text: &str, section: &str, idx: usize, field: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.starts_with(&format!("{section}:")))
    else {
        return 0;
    };
    let item_indent = lines[start + 1..].iter().find_map(|l| {
        l.trim_start()
            .starts_with("- ")
            .then(|| l.len() - l.trim_start().len())
    });
    let Some(indent) = item_indent else {
        return start + 1;
    };
    let mut item = None;
    let mut item_line = start;
    for (n, l) in lines.iter().enumerate().skip(start + 1) {
        let ind = l.len() - l.trim_start().len();
        if !l.trim().is_empty()
            && !l.trim_start().starts_with('#')
            && ind < indent
            && !l.starts_with(' ')
        {
            break; // next top-level key
        }
        if ind == indent && l.trim_start().starts_with("- ") {
            item = Some(item.map_or(0, |i: usize| i + 1));
            if item > Some(idx) {
                break;
            }
            if item == Some(idx) {
                item_line = n;
            }
        }
        if item == Some(idx) {
            let t = l.trim_start().trim_start_matches("- ");
            if t.starts_with(&format!("{field}:")) {
                return n + 1;
            }
        }
    }
    item_line + 1
}

#[cfg(test)]
mod tests;
