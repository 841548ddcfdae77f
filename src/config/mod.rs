//! The agent's configuration file (`nodewatch run --config FILE`): one YAML
//! document with a section per stage. Every section is optional and has
//! safe defaults; unknown fields are errors with file, line and field.
//! [`Config::validate`] is the one check of every value, which both
//! `nodewatch check --config` and `nodewatch run` call.

#[cfg(test)]
pub(crate) mod fuzz;
pub mod headers;
mod policy;
/// Name checks and bounded YAML loading are the core's (its catalog reads
/// rules with them).
pub use nodewatch_core::config::{names, yaml};
mod validate;

use crate::act::GovernorSettings;
use crate::engine::Settings;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Scoring settings.
    pub engine: Settings,
    /// Safety governor settings.
    pub governor: GovernorSettings,
    /// Live Kubernetes settings (lease, identity, taint, uncordon).
    pub kubernetes: crate::live::Settings,
    /// Where Prometheus is and how to reach it (metric signals are unknown
    /// without it).
    pub prometheus: Option<crate::collect::prometheus::PrometheusConfig>,
    /// HTTP server: query API history (retention, memory bound) and the
    /// optional bearer token.
    pub serve: crate::serve::ServeConfig,
    /// Notification sinks (Alertmanager, webhooks, email, Grafana).
    pub sinks: crate::act::sinks::SinksConfig,
    /// The file and text this was parsed from, to locate errors.
    #[serde(skip)]
    source: Source,
}

/// Where a configuration came from.
#[derive(Clone, Default)]
struct Source {
    file: PathBuf,
    text: String,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())
    }
}

/// A configuration problem: `FILE:LINE: field: message` (without the
/// line when unknown, without the file for built-in defaults).
#[derive(Debug, thiserror::Error)]
#[error("{}", located(file, *line, message))]
pub struct ConfigError {
    /// File.
    pub file: PathBuf,
    /// 1-based line (0 if unknown).
    pub line: usize,
    /// What is wrong, with the field path.
    pub message: String,
}

fn located(file: &Path, line: usize, message: &str) -> String {
    match (file.as_os_str().is_empty(), line) {
        (true, _) => message.to_string(),
        (false, 0) => format!("{}: {message}", file.display()),
        _ => format!("{}:{line}: {message}", file.display()),
    }
}

/// Every problem [`Config::validate`] found, one per line.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Parses a configuration document (within the YAML bounds of
    /// [`yaml`]); call [`validate`](Self::validate) before using it.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let err = |e: yaml::YamlError| ConfigError {
            file: file.to_path_buf(),
            line: e.line().unwrap_or(0),
            message: e.to_string(),
        };
        let cfg: Option<Config> = yaml::from_str(text).map_err(err)?;
        let mut cfg = cfg.unwrap_or_default();
        cfg.source = Source {
            file: file.to_path_buf(),
            text: text.to_string(),
        };
        Ok(cfg)
    }

    /// Reads (at most [`yaml::MAX_BYTES`]) and parses a configuration file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = yaml::read_file(file, yaml::MAX_BYTES).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: 0,
            message: e.to_string(),
        })?;
        Self::parse(&text, file)
    }

    /// The text this configuration was parsed from (empty for defaults).
    pub fn source_text(&self) -> &str {
        &self.source.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default_and_unknown_fields_are_located() {
        let c = Config::parse("", Path::new("c.yaml")).unwrap();
        assert!(!c.governor.dry_run);
        let c = Config::parse(
            "governor:\n  dry_run: true\n  min_interval: 5m\n",
            Path::new("c.yaml"),
        )
        .unwrap();
        assert!(c.governor.dry_run);
        let e = Config::parse("governor:\n  dryrun: true\n", Path::new("c.yaml")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.to_string()
                .contains("c.yaml:2: governor: unknown field `dryrun`"),
            "{e}"
        );
    }

    #[test]
    fn prometheus_section() {
        let text =
            "prometheus:\n  url: http://p:9090\n  timeout: 3s\n  headers: {X-Scope-OrgID: t}\n";
        let c = Config::parse(text, Path::new("c.yaml")).unwrap();
        let p = c.prometheus.expect("prometheus section");
        assert_eq!((p.url.as_str(), p.timeout.0), ("http://p:9090", 3000));
        let e = Config::parse(
            "prometheus:\n  url: http://p\n  tls: true\n",
            Path::new("c.yaml"),
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let empty = Config::parse("", Path::new("c.yaml")).unwrap();
        assert!(empty.prometheus.is_none());
    }
}
