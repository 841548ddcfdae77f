//! The HTTP side of Prometheus collection: builds one `reqwest` client from
//! [`PrometheusConfig`] (TLS, auth, headers, timeout), sends instant and
//! range queries through `prometheus-http-query`, and turns every failure
//! into a classified [`QueryError`].
//!
//! Answers are read with a cap (`max_response_bytes`, smaller for error
//! answers), redirects are followed at most
//! [`MAX_REDIRECTS`](crate::outbound::MAX_REDIRECTS) times, and credentials
//! in the URL are moved into an `Authorization` header so that the URL kept
//! for log lines and errors carries none.

use super::config::{ConfigError, PrometheusConfig};
use super::response::{self, Labels, Matrix, QueryError};
use crate::collect::SourceError;
use crate::time::{Duration, Timestamp};
use prometheus_http_query::reqwest::{self, header};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Installs ring as rustls's process-wide crypto provider (reqwest is built
/// without one). Safe to call any number of times.
pub fn install_crypto_provider() {
    // Err only means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A configured Prometheus API client; cheap to clone (shared inside).
#[derive(Clone)]
pub struct PromClient {
    api: prometheus_http_query::Client,
    url: String,
    timeout: Duration,
    max_body: usize,
    token_file: Option<PathBuf>,
    /// The last bearer token read, kept when a later read fails.
    token: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for PromClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No headers here: they may hold credentials.
        f.debug_struct("PromClient")
            .field("url", &self.url)
            .finish()
    }
}

impl PromClient {
    /// Builds the client; reads the CA file, password and token once now so
    /// a broken setting fails at start rather than on every tick.
    pub fn new(cfg: &PrometheusConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        install_crypto_provider();
        let err = |field: &str, message: String| ConfigError {
            field: field.to_string(),
            message,
        };
        let timeout = std::time::Duration::from_millis(cfg.timeout.0.max(1) as u64);
        let (url, userinfo) = crate::outbound::split_credentials(&cfg.url).map_err(|m| {
            err(
                "url",
                format!("{}: {m}", crate::outbound::redact_url(&cfg.url)),
            )
        })?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(crate::outbound::redirect_policy());
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| err("ca_file", format!("cannot read {}: {e}", ca.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| err("ca_file", format!("{}: {e}", ca.display())))?;
            if certs.is_empty() {
                return Err(err("ca_file", format!("{}: no certificate", ca.display())));
            }
            // Like Prometheus's own `ca_file`: these roots replace the system's.
            builder = builder.tls_certs_only(certs);
        }
        if cfg.insecure_skip_verify {
            tracing::warn!(
                url = %url,
                "prometheus.insecure_skip_verify is set: the server certificate is not checked"
            );
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let mut headers = header::HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name = header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| err("headers", format!("{k:?}: {e}")))?;
            let value = header::HeaderValue::from_str(v)
                .map_err(|e| err("headers", format!("{k}: {e}")))?;
            headers.insert(name, value);
        }
        let password = cfg.basic_auth_password()?;
        let credentials = match (&cfg.basic_auth, password) {
            (Some(b), Some(pw)) => Some(("basic_auth", b.username.clone(), pw)),
            _ => userinfo.map(|(user, pw)| ("url", user, pw)),
        };
        if let Some((field, user, pw)) = credentials {
            // The message never carries the value: it holds the password.
            let mut value = header::HeaderValue::from_str(&basic(&user, &pw))
                .map_err(|_| err(field, "credentials are not a valid header value".into()))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let http = builder
            .default_headers(headers)
            .build()
            .map_err(|e| err("url", format!("cannot build HTTP client: {}", chain(&e))))?;
        let url = url.trim_end_matches('/').to_string();
        let api = prometheus_http_query::Client::from(http, &url)
            .map_err(|e| err("url", format!("{url:?}: {e}")))?;
        let client = PromClient {
            api,
            url,
            timeout: cfg.timeout,
            max_body: cfg.max_response_bytes,
            token_file: cfg.bearer_token_file.clone(),
            token: Arc::new(Mutex::new(None)),
        };
        if let Some(f) = &client.token_file {
            let t = read_token(f).map_err(|m| err("bearer_token_file", m))?;
            *client.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(t);
        }
        Ok(client)
    }

    /// The base URL without credentials, for log lines.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Evaluates `query` at `at`: one value per result series.
    pub async fn instant(
        &self,
        query: &str,
        at: Timestamp,
    ) -> Result<Vec<(Labels, f64)>, QueryError> {
        let mut req = self
            .api
            .query(query)
            .query("time", secs(at))
            .timeout(self.timeout.0);
        if let Some(auth) = self.bearer() {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let (status, ctype, body) = self.read(req.post_raw().await).await?;
        response::vector(status, &ctype, &body)
    }

    /// Evaluates `query` at `start`, `start + step`, … up to `end`.
    pub async fn range(
        &self,
        query: &str,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<Matrix, QueryError> {
        // The builder takes whole seconds (callers align their grid to
        // seconds); a sub-second part would be dropped, so refuse it.
        if start.0 % 1000 != 0 || end.0 % 1000 != 0 {
            let detail = format!("range query bounds {start} and {end} must be whole seconds");
            return Err(QueryError::new(SourceError::Query(detail.clone()), detail));
        }
        let mut req = self
            .api
            .query_range(query, start.0 / 1000, end.0 / 1000, step.as_secs_f64())
            .timeout(self.timeout.0);
        if let Some(auth) = self.bearer() {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let (status, ctype, body) = self.read(req.post_raw().await).await?;
        response::matrix(status, &ctype, &body)
    }

    async fn read(
        &self,
        sent: Result<reqwest::Response, prometheus_http_query::Error>,
    ) -> Result<(u16, String, Vec<u8>), QueryError> {
        let resp = sent.map_err(|e| match &e {
            prometheus_http_query::Error::Client(c) => match c.inner() {
                Some(r) => self.transport(r),
                None => QueryError::new(SourceError::Unreachable(e.to_string()), e.to_string()),
            },
            _ => QueryError::new(SourceError::Unreachable(e.to_string()), e.to_string()),
        })?;
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // Error answers are short JSON; anything longer is read no further.
        let max = if resp.status().is_success() {
            self.max_body
        } else {
            ERROR_ANSWER_MAX.min(self.max_body)
        };
        let mut resp = resp;
        let body = crate::outbound::read_capped(&mut resp, max)
            .await
            .map_err(|e| self.transport(&e))?;
        if body.truncated && (200..300).contains(&status) {
            let detail = format!(
                "answer larger than prometheus.max_response_bytes ({max} bytes), not read further ({})",
                self.url
            );
            return Err(QueryError::new(SourceError::TooLarge(max), detail));
        }
        Ok((status, ctype, body.bytes))
    }

    fn transport(&self, e: &reqwest::Error) -> QueryError {
        let why = chain(e);
        let detail = if why.contains(&self.url) {
            why
        } else {
            format!("{why} ({})", self.url)
        };
        if e.is_redirect() {
            let what = format!(
                "more than {} redirects (a redirect loop?); fix prometheus.url",
                crate::outbound::MAX_REDIRECTS
            );
            QueryError::new(
                SourceError::Redirect(what.clone()),
                format!("{what} ({})", self.url),
            )
        } else if e.is_timeout() {
            // Worded like the collector's own deadline, so the log sees one
            // failure mode, not two.
            QueryError::new(
                SourceError::Timeout(self.timeout.to_string()),
                format!("no answer within {} ({})", self.timeout, self.url),
            )
        } else if e.is_body() || e.is_decode() {
            QueryError::new(
                SourceError::Parse("response body broken off".into()),
                format!("response body broken off: {detail}"),
            )
        } else if e.is_connect() {
            QueryError::new(
                SourceError::Unreachable(chain(e)),
                format!("cannot reach Prometheus: {detail}"),
            )
        } else if detail.contains("invalid HTTP") || detail.contains(" parsed") {
            // hyper's parse errors ("invalid HTTP version parsed", ...):
            // something answers on the port, but not in HTTP.
            let what = "the server on the port does not speak HTTP";
            QueryError::new(SourceError::Parse(what.into()), format!("{what}: {detail}"))
        } else {
            QueryError::new(
                SourceError::Unreachable(chain(e)),
                format!("request to Prometheus failed: {detail}"),
            )
        }
    }

    /// `Bearer <token>` from the token file, re-read on every call so a
    /// rotated token is picked up; the last good token is kept on failure.
    fn bearer(&self) -> Option<header::HeaderValue> {
        let file = self.token_file.as_ref()?;
        let mut cached = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        match read_token(file) {
            Ok(t) => *cached = Some(t),
            Err(m) => tracing::warn!("{m}; using the last token read"),
        }
        let mut v =
            header::HeaderValue::from_str(&format!("Bearer {}", cached.as_deref()?)).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

fn read_token(file: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(file)
        .map(|t| t.trim().to_string())
        .map_err(|e| format!("cannot read bearer token file {}: {e}", file.display()))
}

/// Bytes of a non-2xx answer read at most (Prometheus's error answers are
/// short JSON).
const ERROR_ANSWER_MAX: usize = 64 * 1024;

/// Seconds with millisecond precision, as the API takes them.
fn secs(t: Timestamp) -> String {
    format!("{}.{:03}", t.0.div_euclid(1000), t.0.rem_euclid(1000))
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An error with its sources, `outer: inner: innermost`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encoding() {
        // RFC 7617's example.
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic("a", "b"), "Basic YTpi");
        assert_eq!(basic("ab", "c"), "Basic YWI6Yw==");
    }

    #[test]
    fn times_keep_milliseconds() {
        assert_eq!(secs(Timestamp(1_519_128_000_500)), "1519128000.500");
        assert_eq!(secs(Timestamp(30_000)), "30.000");
    }

    #[test]
    fn bad_settings_fail_at_build() {
        let mut c = PrometheusConfig::new("http://127.0.0.1:9");
        c.ca_file = Some("/nonexistent/ca.pem".into());
        assert_eq!(PromClient::new(&c).unwrap_err().field, "ca_file");
        let mut c = PrometheusConfig::new("http://127.0.0.1:9");
        c.headers.insert("bad header".into(), "x".into());
        assert_eq!(PromClient::new(&c).unwrap_err().field, "headers");
        let mut c = PrometheusConfig::new("http://127.0.0.1:9");
        c.bearer_token_file = Some("/nonexistent/token".into());
        assert_eq!(PromClient::new(&c).unwrap_err().field, "bearer_token_file");
        assert!(PromClient::new(&PrometheusConfig::new("http://127.0.0.1:9/prom/")).is_ok());
    }
}
