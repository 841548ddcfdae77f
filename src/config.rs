//! The agent's configuration file (`nodewatch run --config FILE`): one YAML
//! document with a section per stage. Every section is optional and has
//! safe defaults; unknown fields are errors with file, line and field.

use crate::act::GovernorSettings;
use crate::engine::Settings;
use serde::Deserialize;
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
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ConfigError {
    /// File.
    pub file: PathBuf,
    /// 1-based line (0 if unknown).
    pub line: usize,
    /// What is wrong, with the field path.
    pub message: String,
}

impl Config {
    /// Parses a configuration document.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let cfg: Option<Config> = serde_yaml::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: e.location().map_or(0, |l| l.line()),
            message: e.to_string(),
        })?;
        Ok(cfg.unwrap_or_default())
    }

    /// Reads and parses a configuration file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: 0,
            message: e.to_string(),
        })?;
        Self::parse(&text, file)
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
