//! Settings and helpers every sink shares: validated endpoints, secrets
//! read from files or the environment (never logged), delivery settings
//! (queue, timeout, retry) and the delivery error that tells retryable
//! failures from permanent ones.

use super::retry::RetryConfig;
use crate::time::Duration;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::PathBuf;

/// An `http`/`https` URL without credentials in it (they belong in a
/// secret), validated while the config file is parsed so errors carry the
/// file's line.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint(pub reqwest::Url);

impl Endpoint {
    /// Parses and validates.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let url = reqwest::Url::parse(s).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("URL {s:?} must be http or https"));
        }
        if url.host_str().is_none() {
            return Err(format!("URL {s:?} has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "credentials in a URL would be logged; use a token or header secret".into(),
            );
        }
        Ok(Endpoint(url))
    }

    /// `host:port`, for naming the sink.
    pub fn authority(&self) -> String {
        let host = self.0.host_str().unwrap_or_default();
        match self.0.port_or_known_default() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    /// This URL with `suffix` appended to its path (keeping a path prefix
    /// such as `/alertmanager`).
    pub fn join_path(&self, suffix: &str) -> reqwest::Url {
        let mut url = self.0.clone();
        let path = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            suffix.trim_start_matches('/')
        );
        url.set_path(&path);
        url
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Endpoint::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where a secret comes from: exactly one of `file` or `env`. Secrets are
/// never written inline in the config file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Read from this file (trailing newline trimmed), e.g. a mounted
    /// Kubernetes Secret.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Read from this environment variable.
    #[serde(default)]
    pub env: Option<String>,
}

impl SecretRef {
    /// Reads the secret. `what` names the field in errors.
    pub fn resolve(&self, what: &str) -> Result<Secret, String> {
        let value = match (&self.file, &self.env) {
            (Some(f), None) => std::fs::read_to_string(f)
                .map_err(|e| format!("{what}: cannot read secret file {}: {e}", f.display()))?,
            (None, Some(v)) => std::env::var(v)
                .map_err(|_| format!("{what}: environment variable {v} is not set"))?,
            _ => return Err(format!("{what}: give exactly one of `file` or `env`")),
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err(format!("{what}: the secret is empty"));
        }
        Ok(Secret(value))
    }
}

/// A secret value. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for putting on the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a sink delivers: its queue, timeout and retries.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Items the queue holds before it coalesces and drops.
    pub queue_capacity: usize,
    /// Items taken from the queue at once (grouped into messages).
    pub max_batch: usize,
    /// Time allowed for one attempt (connect, send, answer).
    pub timeout: Duration,
    /// Backoff between attempts.
    pub retry: RetryConfig,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            queue_capacity: 1024,
            max_batch: 256,
            timeout: Duration::secs(10),
            retry: RetryConfig::default(),
        }
    }
}

impl Delivery {
    /// Checks the values make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.queue_capacity == 0 {
            return Err("delivery.queue_capacity must be at least 1".into());
        }
        if self.max_batch == 0 {
            return Err("delivery.max_batch must be at least 1".into());
        }
        if self.timeout.0 <= 0 {
            return Err("delivery.timeout must be positive".into());
        }
        self.retry.validate().map_err(|e| format!("delivery.{e}"))
    }

    /// The timeout as a std duration.
    pub fn timeout_std(&self) -> std::time::Duration {
        to_std(self.timeout)
    }
}

/// A non-negative std duration.
pub fn to_std(d: Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.0.max(0) as u64)
}

/// A failed delivery attempt.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// May pass later: connection refused, timeout, 5xx, 429.
    #[error("{0}")]
    Retryable(String),
    /// Will not pass by retrying: the receiver rejected the message.
    #[error("{0}")]
    Permanent(String),
}

/// An HTTP client for a sink: its timeout, and an extra CA if given.
pub fn http_client(
    timeout: std::time::Duration,
    ca_file: Option<&PathBuf>,
) -> Result<reqwest::Client, String> {
    super::install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(crate::outbound::redirect_policy())
        .user_agent(concat!("nodewatch/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| format!("HTTP client: {e}"))
}

/// Sends a prepared request and classifies the outcome the way
/// Alertmanager's notifiers do: 2xx delivered, 429 and 5xx retried,
/// other statuses rejected; network errors and timeouts retried. More than
/// [`MAX_REDIRECTS`](crate::outbound::MAX_REDIRECTS) redirects (a loop) are
/// rejected: retrying never ends one. Of an error body only the first
/// [`ERROR_BODY_MAX`](crate::outbound::ERROR_BODY_MAX) bytes are read.
pub async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, DeliveryError> {
    let resp = req.send().await.map_err(|e| {
        if e.is_redirect() {
            return DeliveryError::Permanent(format!(
                "more than {} redirects (a redirect loop?); fix the URL",
                crate::outbound::MAX_REDIRECTS
            ));
        }
        // Without the URL: it is in the sink's name already.
        DeliveryError::Retryable(e.without_url().to_string())
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = crate::outbound::error_excerpt(resp).await;
    let msg = format!("HTTP {status}: {body}");
    if status.is_server_error() || status.as_u16() == 429 {
        Err(DeliveryError::Retryable(msg))
    } else {
        Err(DeliveryError::Permanent(msg))
    }
}

/// Adds the bearer token and custom headers shared by HTTP sinks.
pub fn with_auth(
    mut req: reqwest::RequestBuilder,
    token: Option<&Secret>,
    headers: &[(reqwest::header::HeaderName, reqwest::header::HeaderValue)],
) -> reqwest::RequestBuilder {
    if let Some(t) = token {
        req = req.bearer_auth(t.expose());
    }
    for (k, v) in headers {
        req = req.header(k.clone(), v.clone());
    }
    req
}

/// Validates custom headers once, at start.
pub fn parse_headers(
    headers: &Headers,
) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>, String> {
    headers
        .0
        .iter()
        .map(|(k, v)| {
            if let Some(why) = crate::config::headers::forbidden_header(k) {
                return Err(format!("headers: {k:?}: {why}"));
            }
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("headers: invalid header name {k:?}"))?;
            let mut value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| format!("headers: invalid value for {k:?}"))?;
            // Custom headers often carry API keys: keep them out of logs.
            value.set_sensitive(true);
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked_and_keep_their_prefix() {
        let e = Endpoint::parse("http://127.0.0.1:9093/alertmanager/").unwrap();
        assert_eq!(
            e.join_path("/api/v2/alerts").path(),
            "/alertmanager/api/v2/alerts"
        );
        assert_eq!(e.authority(), "127.0.0.1:9093");
        assert!(Endpoint::parse("ftp://x").unwrap_err().contains("http"));
        assert!(Endpoint::parse("http://u:p@x/")
            .unwrap_err()
            .contains("credentials"));
        assert!(Endpoint::parse("nope").is_err());
    }

    #[test]
    fn secrets_come_from_files_or_env_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "s3cret\n").unwrap();
        let s = SecretRef {
            file: Some(f),
            env: None,
        }
        .resolve("token")
        .unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?}"), "***");
        let e = SecretRef {
            file: None,
            env: Some("NODEWATCH_TEST_UNSET_VAR".into()),
        }
        .resolve("webhooks[0].bearer_token")
        .unwrap_err();
        assert!(e.contains("NODEWATCH_TEST_UNSET_VAR is not set"), "{e}");
        let e = SecretRef {
            file: None,
            env: None,
        }
        .resolve("x")
        .unwrap_err();
        assert!(e.contains("exactly one"));
    }
}

/// Custom HTTP headers. `Debug` shows only the names: values often carry
/// API keys.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Headers(pub std::collections::BTreeMap<String, String>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
