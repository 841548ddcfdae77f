//! What a source delivers for one tick: the [`Observation`] the engine
//! scores, and why a signal could not be read ([`SourceError`]). Plain
//! values, so the core scores them without knowing whether they came from
//! Prometheus and the API server or from a recorded scenario.

use crate::k8s;
use crate::time::Timestamp;

/// Values of one metric signal at one instant: one entry per subject, where
/// the subject is the values of the signal's `by` labels.
pub type SignalResult = Result<Vec<(Vec<String>, f64)>, SourceError>;

/// What a source delivers for one tick.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Evaluation time.
    pub at: Timestamp,
    /// One entry per metric signal of the catalog, indexed like
    /// `catalog.signals` (`None` for event signals).
    pub metrics: Vec<Option<SignalResult>>,
    /// Events delivered since the previous observation, in delivery order.
    pub events: Vec<k8s::Event>,
    /// False while the event stream is broken (event signals are unknown).
    pub events_ok: bool,
    /// The current node list, when it changed (or on the first tick).
    pub nodes: Option<Vec<k8s::Node>>,
    /// Pods seen since the previous observation (added or moved).
    pub pods: Vec<k8s::Pod>,
    /// Pods deleted since the previous observation.
    pub pods_gone: Vec<k8s::PodKeys>,
}

/// Why a source could not deliver a signal.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum SourceError {
    /// Could not connect or the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No answer within the timeout.
    #[error("timeout after {0}")]
    Timeout(String),
    /// HTTP error status.
    #[error("HTTP {0}")]
    Http(u16),
    /// The server answered `{"status":"error"}`.
    #[error("query error: {0}")]
    Query(String),
    /// The body could not be understood.
    #[error("unparsable response: {0}")]
    Parse(String),
    /// The answer was larger than the configured cap (bytes).
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    /// Too many redirects: a permanent misconfiguration.
    #[error("redirects: {0}")]
    Redirect(String),
}

impl SourceError {
    /// Short kind for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Unreachable(_) => "unreachable",
            SourceError::Timeout(_) => "timeout",
            SourceError::Http(_) => "http",
            SourceError::Query(_) => "query",
            SourceError::Parse(_) => "parse",
            SourceError::TooLarge(_) => "too_large",
            SourceError::Redirect(_) => "redirect",
        }
    }
}
