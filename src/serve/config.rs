//! The `serve:` section of the configuration file: how long and within how
//! much memory the query API keeps nodewatch's series, and the optional
//! bearer token that protects the API, `/metrics` and the status page.

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
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            history_retention: Duration::mins(6 * 60),
            history_max_bytes: 512 * 1024 * 1024,
            bearer_token_file: None,
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
