//! Live Kubernetes: the edge between the pure pipeline and a real cluster.
//!
//! - [`watch`]: kube-runtime watchers for Events (all namespaces), Nodes and
//!   Pods, reduced at parse time ([`slim`]) so 150,000 pods never exist as
//!   whole objects;
//! - [`LiveSource`]: those watchers plus any [`MetricSource`](crate::collect::MetricSource)
//!   behind the [`Source`](crate::collect::Source) trait;
//! - [`KubeCordoner`]: cordons through the API server (strategic-merge patch,
//!   annotations, an Event, optional taint, retries), and [`drain`]s the
//!   node after it when asked to (Eviction API), recording the node state
//!   each write sets in the [`Expectations`] the watchers' inbox reads;
//! - [`leader`]: Lease-based leader election; every replica scores, only
//!   the holder acts;
//! - [`Agent`]: all of it around the [`Pipeline`](crate::pipeline::Pipeline),
//!   ticked by wall clock in production and by a test at simulated time.
//!
//! The module is called `live` rather than `kube` so `kube::` always means
//! the kube crate. Kubernetes types stop here: the core only sees
//! [`crate::k8s`] values.

mod agent;
pub mod audit;
pub mod bodycap;
mod client;
pub mod condition;
mod cordon;
pub mod drain;
mod errlog;
mod expected;
mod gated;
pub mod hold;
mod inbox;
pub mod leader;
pub mod malloc;
pub mod restart;
mod settings;
pub mod slim;
mod source;
pub mod watch;

pub use agent::{Agent, AgentOptions, Gated, Ticks};
pub use client::{client_from, install_crypto_provider, ClientOptions};
pub use cordon::{
    KubeCordoner, ANNOTATION_PREFIX, CORDONED_BY, PAUSED_ANNOTATION, PAUSE_REASON_ANNOTATION,
    PAUSE_UNTIL_ANNOTATION, TAINT_KEY,
};
pub use expected::Expectations;
pub use leader::{Elector, LeaderHandle};
pub use settings::{LeaseSettings, Settings};
pub use source::{LiveSource, NoMetrics};

/// What can go wrong talking to the API server.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The API server answered with an error status.
    #[error("API server answered {code} {reason}: {message}")]
    Api {
        /// HTTP status code.
        code: u16,
        /// Machine-readable reason (`Forbidden`, `Conflict`, ...).
        reason: String,
        /// Message.
        message: String,
    },
    /// No connection, a broken stream or an unreadable answer.
    #[error("API server unreachable or unreadable: {0}")]
    Transport(String),
    /// Configuration (kubeconfig, in-cluster) could not be loaded.
    #[error("Kubernetes configuration: {0}")]
    Config(String),
    /// The cluster's state does not allow the action (already cordoned by
    /// someone else, not the lease holder, ...); not retried.
    #[error("{0}")]
    Refused(String),
    /// The initial list of a watcher did not finish in time.
    #[error("initial sync not finished after {0:?}")]
    SyncTimeout(std::time::Duration),
}

impl LiveError {
    /// The HTTP status, when the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            LiveError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether trying again may help: conflicts, throttling, server errors
    /// and transport failures; never 4xx refusals such as 403 or 404.
    pub fn retryable(&self) -> bool {
        match self {
            // 409 is a lost optimistic-concurrency race (read again and
            // retry), except AlreadyExists, which no retry changes.
            LiveError::Api { code, reason, .. } => {
                (*code == 409 && reason != "AlreadyExists") || *code == 429 || *code >= 500
            }
            LiveError::Transport(_) => true,
            _ => false,
        }
    }

    /// Whether RBAC refused the request.
    pub fn forbidden(&self) -> bool {
        self.code() == Some(403)
    }
}

impl From<::kube::Error> for LiveError {
    fn from(e: ::kube::Error) -> Self {
        match e {
            ::kube::Error::Api(s) => LiveError::Api {
                code: s.code,
                reason: s.reason.clone(),
                message: s.message.clone(),
            },
            other => LiveError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retried() {
        let api = |code| LiveError::Api {
            code,
            reason: String::new(),
            message: String::new(),
        };
        for code in [409, 429, 500, 503, 504] {
            assert!(api(code).retryable(), "{code}");
        }
        for code in [400, 403, 404, 422] {
            assert!(!api(code).retryable(), "{code}");
        }
        assert!(LiveError::Transport("reset".into()).retryable());
        assert!(api(403).forbidden());
    }
}
