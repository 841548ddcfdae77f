//! The `serve:` section of the configuration file: how long and within how
//! much memory the query API keeps nodewatch's series, the optional
//! bearer token that protects the API, `/metrics` and the status page, and
//! the limits that keep one client from exhausting the agent: per-query
//! samples, concurrency and time (as Prometheus's `query.max-samples`,
//! `query.max-concurrency`, `query.timeout`), response size, and the HTTP
//! server's timeouts and connection cap.
//!
//! The defaults are sized for the shipped pod (1 GiB memory limit, of
//! which the history may take `history_max_bytes`): a query holds at most
//! ~16 bytes per sample plus its JSON body, so two concurrent queries at
//! the limits stay within ~450 MiB.

use crate::time::Duration;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Settings of the HTTP server and its history.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// How far back the query API answers (ticks older are dropped).
    pub history_retention: Duration,
    /// Upper bound on the history's memory in bytes; when reached, the
    /// oldest ticks are dropped first, shortening the retention.
    pub history_max_bytes: u64,
    /// A file holding a bearer token. When set, every path except
    /// `/healthz` and `/readyz` requires `Authorization: Bearer <token>`
    /// (or HTTP Basic with the token as password, for browsers).
    pub bearer_token_file: Option<PathBuf>,
    /// Most samples one query may hold in memory (selected series times
    /// steps, plus raw samples of a returned range vector); over it the
    /// query fails with `422 execution`, as Prometheus's
    /// `query.max-samples`.
    pub query_max_samples: usize,
    /// Queries (and metadata lookups) evaluated at once; more wait in a
    /// queue for at most `query_timeout`.
    pub query_max_concurrency: usize,
    /// Longest a query may wait and run before it fails with `503
    /// timeout`.
    pub query_timeout: Duration,
    /// Largest API response body (before compression); a larger answer
    /// fails with `422 execution`.
    pub max_response_bytes: u64,
    /// Longest a connection may take to send a request's headers, and
    /// stay idle between requests, before it is closed.
    pub header_read_timeout: Duration,
    /// Longest any request may take before it is answered `503`.
    pub request_timeout: Duration,
    /// Most open connections; a new one beyond it closes the oldest
    /// (idle ones at once, busy ones after their answer).
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            history_retention: Duration::mins(6 * 60),
            history_max_bytes: 512 * 1024 * 1024,
            bearer_token_file: None,
            query_max_samples: 5_000_000,
            query_max_concurrency: 2,
            query_timeout: Duration::mins(1),
            max_response_bytes: 128 << 20,
            header_read_timeout: Duration::secs(10),
            request_timeout: Duration::mins(2),
            max_connections: 64,
        }
    }
}

/// A problem with the serve settings.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The token file cannot be read.
    #[error("reading bearer token file {}: {source}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token file is empty.
    #[error("bearer token file {} is empty", .0.display())]
    EmptyToken(PathBuf),
}

impl ServeConfig {
    /// Reads the bearer token, if one is configured (surrounding
    /// whitespace, such as the newline of `echo token > file`, is ignored).
    pub fn token(&self) -> Result<Option<String>, ServeError> {
        let Some(path) = &self.bearer_token_file else {
            return Ok(None);
        };
        read_token(path).map(Some)
    }
}

fn read_token(path: &Path) -> Result<String, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::TokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ServeError::EmptyToken(path.to_path_buf()));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_token_file() {
        let c = ServeConfig::default();
        assert_eq!(c.history_retention, Duration::mins(360));
        assert_eq!(c.token().unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cret\n").unwrap();
        let c = ServeConfig {
            bearer_token_file: Some(f.clone()),
            ..Default::default()
        };
        assert_eq!(c.token().unwrap().as_deref(), Some("s3cret"));
        std::fs::write(&f, "  \n").unwrap();
        assert!(c.token().unwrap_err().to_string().contains("is empty"));
        let missing = ServeConfig {
            bearer_token_file: Some(dir.path().join("nope")),
            ..Default::default()
        };
        assert!(missing.token().unwrap_err().to_string().contains("nope"));
    }
}
