//! The `prometheus:` section of the configuration file: where Prometheus is
//! (or Thanos, Mimir, Cortex, VictoriaMetrics: anything speaking its HTTP
//! API), how to authenticate, how long to wait and how hard to retry.
//!
//! Secrets are never written into the file itself: the bearer token and the
//! basic-auth password are read from files (or an environment variable), so
//! the configuration can live in a ConfigMap and the secrets in a Secret.

use crate::time::Duration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Connection settings for the Prometheus HTTP API.
///
/// ```yaml
/// prometheus:
///   url: https://prometheus.monitoring.svc:9090
///   bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
///   ca_file: /etc/nodewatch/ca.pem
///   timeout: 10s
///   headers: {X-Scope-OrgID: tenant-1}
/// ```
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL of the API, e.g. `http://prometheus:9090` (a path prefix such
    /// as `https://gateway/prometheus` is kept).
    pub url: String,
    /// File holding a bearer token, re-read when it changes (projected
    /// service-account tokens rotate).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// PEM file of the CA certificates to trust instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. Only for testing: anyone on the path
    /// can then read the token and forge answers.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Longest wait for one query (connect and answer), also sent to
    /// Prometheus as the query's own `timeout`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Extra request headers, e.g. `X-Scope-OrgID` for Mimir/Cortex/Thanos
    /// tenants.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Queries of one tick in flight at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrent_queries: usize,
    /// Waiting between attempts while Prometheus fails.
    #[serde(default)]
    pub backoff: BackoffConfig,
    /// Largest answer read, in bytes; a larger one is not read further and
    /// counts as a `too_large` error.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

impl std::fmt::Debug for PrometheusConfig {
    /// Without URL credentials or header values (they may be API keys).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusConfig")
            .field("url", &crate::outbound::redact_url(&self.url))
            .field("bearer_token_file", &self.bearer_token_file)
            .field("basic_auth", &self.basic_auth)
            .field("ca_file", &self.ca_file)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("timeout", &self.timeout)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("backoff", &self.backoff)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// Basic-auth credentials; the password comes from a file or an
/// environment variable, never from the configuration itself.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// File holding the password (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

/// Exponential backoff after a tick in which no query succeeded: the next
/// attempt waits `initial`, then twice as long each time, up to `max`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    /// First wait.
    pub initial: Duration,
    /// Longest wait; recovery is noticed at most this late.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::secs(1),
            max: Duration::secs(60),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::secs(10)
}

fn default_concurrency() -> usize {
    4
}

/// 64 MiB: an hour of every signal for 5,000 nodes fits several times.
fn default_max_response_bytes() -> usize {
    64 << 20
}

/// A setting that cannot work, found before any request is sent.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("prometheus.{field}: {message}")]
pub struct ConfigError {
    /// Field path below `prometheus`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl PrometheusConfig {
    /// Defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        PrometheusConfig {
            url: url.into(),
            bearer_token_file: None,
            basic_auth: None,
            ca_file: None,
            insecure_skip_verify: false,
            timeout: default_timeout(),
            headers: BTreeMap::new(),
            max_concurrent_queries: default_concurrency(),
            backoff: BackoffConfig::default(),
            max_response_bytes: default_max_response_bytes(),
        }
    }

    /// Checks what can be checked without the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, message: String| {
            Err(ConfigError {
                field: field.to_string(),
                message,
            })
        };
        let scheme_ok = self.url.starts_with("http://") || self.url.starts_with("https://");
        if !scheme_ok {
            return bad(
                "url",
                format!(
                    "{:?} must start with http:// or https://",
                    crate::outbound::redact_url(&self.url)
                ),
            );
        }
        if self.max_response_bytes < 1024 {
            return bad("max_response_bytes", "must be at least 1024".into());
        }
        if self.timeout.0 <= 0 {
            return bad("timeout", format!("must be positive, got {}", self.timeout));
        }
        if self.max_concurrent_queries == 0 {
            return bad("max_concurrent_queries", "must be at least 1".into());
        }
        if self.backoff.initial.0 <= 0 || self.backoff.max < self.backoff.initial {
            return bad(
                "backoff",
                format!(
                    "need 0 < initial <= max, got initial {} and max {}",
                    self.backoff.initial, self.backoff.max
                ),
            );
        }
        if self.bearer_token_file.is_some() && self.basic_auth.is_some() {
            return bad(
                "basic_auth",
                "set either bearer_token_file or basic_auth, not both".into(),
            );
        }
        if let Some(b) = &self.basic_auth {
            if b.password_file.is_some() == b.password_env.is_some() {
                return bad(
                    "basic_auth",
                    "set exactly one of password_file and password_env".into(),
                );
            }
        }
        for name in self.headers.keys() {
            if name.eq_ignore_ascii_case("authorization") {
                return bad(
                    "headers",
                    "use bearer_token_file or basic_auth for Authorization".into(),
                );
            }
            if let Some(why) = crate::config::headers::forbidden_header(name) {
                return bad("headers", format!("{name:?}: {why}"));
            }
        }
        Ok(())
    }

    /// The basic-auth password, read now from its file or variable.
    pub fn basic_auth_password(&self) -> Result<Option<String>, ConfigError> {
        let Some(b) = &self.basic_auth else {
            return Ok(None);
        };
        let err = |message: String| ConfigError {
            field: "basic_auth".into(),
            message,
        };
        if let Some(f) = &b.password_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| err(format!("cannot read {}: {e}", f.display())))?;
            return Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()));
        }
        if let Some(var) = &b.password_env {
            return std::env::var(var)
                .map(Some)
                .map_err(|e| err(format!("environment variable {var}: {e}")));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<PrometheusConfig, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    #[test]
    fn defaults_and_full_form() {
        let c = parse("url: http://p:9090").unwrap();
        assert_eq!(c, PrometheusConfig::new("http://p:9090"));
        assert!(c.validate().is_ok());
        let c = parse(
            "url: https://p\nca_file: /ca.pem\ntimeout: 2s\nheaders: {X-Scope-OrgID: t1}\n\
             basic_auth: {username: u, password_env: PW}\nmax_concurrent_queries: 2\n\
             backoff: {initial: 100ms, max: 5s}\n",
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::secs(2));
        assert_eq!(c.headers["X-Scope-OrgID"], "t1");
        assert_eq!(c.backoff.max, Duration::secs(5));
        assert!(c.validate().is_ok());
        assert!(parse("url: http://p\ntimeuot: 1s").is_err());
    }

    #[test]
    fn impossible_settings_are_refused() {
        let mut c = PrometheusConfig::new("p:9090");
        assert_eq!(c.validate().unwrap_err().field, "url");
        c.url = "http://p".into();
        c.max_concurrent_queries = 0;
        assert_eq!(c.validate().unwrap_err().field, "max_concurrent_queries");
        c.max_concurrent_queries = 1;
        c.basic_auth = Some(BasicAuth {
            username: "u".into(),
            password_file: None,
            password_env: None,
        });
        assert!(c.validate().unwrap_err().message.contains("exactly one"));
        c.basic_auth = None;
        c.headers.insert("authorization".into(), "x".into());
        assert_eq!(c.validate().unwrap_err().field, "headers");
    }

    #[test]
    fn debug_shows_no_credentials_or_header_values() {
        let c =
            parse("url: http://user:pw-s3cret@p:9090\nheaders: {X-Api-Key: key-s3cret}").unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(
            text.contains("http://***@p:9090") && text.contains("X-Api-Key"),
            "{text}"
        );
    }

    #[test]
    fn password_from_file_drops_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        let mut c = PrometheusConfig::new("http://p");
        c.basic_auth = Some(BasicAuth {
            username: "u".into(),
            password_file: Some(f),
            password_env: None,
        });
        assert_eq!(c.basic_auth_password().unwrap().as_deref(), Some("s3cret"));
    }
}
