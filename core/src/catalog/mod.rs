//! The signal catalog and alerting rules, loaded from YAML files in `rules/`
//! (or the copy compiled into the binary), validated with errors that name
//! the file, the line and the field.

mod hubs;
mod promql;
pub mod rule;
pub mod signal;
mod validate;

pub use promql::render;
pub use rule::{ActionKind, AlertScope, Condition, Rule, Thresholds};
pub use signal::{
    Aggregation, DetectConfig, Direction, EventCount, EventQuery, MatchOp, Matcher, MetricQuery,
    Signal, SignalScope, Variant,
};
use validate::Item;
pub use validate::{MAX_EVENT_WINDOW, MAX_RULES, MAX_SIGNALS};

use crate::config::yaml::{self, YamlError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default catalog shipped in `rules/`, compiled in so nodewatch runs
/// without any files.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/signals.yaml",
        include_str!("../../../rules/signals.yaml"),
    ),
    (
        "rules/alerts.yaml",
        include_str!("../../../rules/alerts.yaml"),
    ),
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
                match yaml::read_file(&f, yaml::MAX_BYTES) {
                    Ok(text) => files.push((f, text)),
                    Err(e) => errors.push(yaml_error(&f, &e)),
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
            match yaml::from_str::<Option<RuleFile>>(text) {
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
                let field = format!("{section}[{idx}].{}", p.field);
                errors.push(CatalogError {
                    line: yaml::line_of(text, &field),
                    field,
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
}

fn io_error(p: &Path, e: std::io::Error) -> CatalogError {
    CatalogError {
        file: p.to_path_buf(),
        line: 0,
        field: "-".into(),
        message: e.to_string(),
    }
}

fn yaml_error(file: &Path, e: &YamlError) -> CatalogError {
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
        line: e.line().unwrap_or(0),
        field,
        message,
    }
}

#[cfg(test)]
mod tests;
