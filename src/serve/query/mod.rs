//! PromQL as nodewatch answers it over its own [`History`]: parsed with
//! `promql-parser`, evaluated here with Prometheus 2.42 semantics (5 m
//! lookback, staleness, closed `[t - range, t]` windows, extrapolated
//! `rate`/`increase`, which functions drop `__name__`). Only native
//! histograms (`histogram_count/sum/fraction`) are refused, with an error
//! that names them, so a query never returns a plausible but wrong answer.
//!
//! Supported: number and string literals (a `string` result); vector and range selectors with all four
//! matcher kinds, `offset` (negative too) and `@` (`start()`/`end()`);
//! subqueries; unary minus; `+ - * / % ^ atan2` and comparisons (with or
//! without `bool`) between scalars and vectors, and between two vectors
//! with `on`/`ignoring` and `group_left`/`group_right` (`matching.rs`);
//! `and`/`or`/`unless`; `sum avg min max count group stddev stdvar topk
//! bottomk quantile` with `by`/`without`; the range functions `rate
//! increase irate delta changes resets deriv predict_linear holt_winters`
//! and `*_over_time` (`quantile_over_time` included); element-wise math and
//! date functions (`math.rs`); `clamp clamp_min clamp_max round sort
//! sort_desc time vector scalar timestamp pi`; `label_replace label_join
//! count_values absent absent_over_time` (`labels.rs`, with the strings
//! they make up kept per query in [`Names`]); `histogram_quantile` over
//! classic `le` buckets (`histogram.rs`).

mod aggregate;
mod aggregate_stream;
mod binary;
pub mod cost;
mod eval;
mod functions;
pub mod guard;
mod histogram;
mod labels;
mod matching;
mod math;
mod modifiers;
mod names;
mod range_params;
mod select;
mod subquery;
mod topk;
mod window;

use super::history::History;
pub use names::Names;
use promql_parser::parser::Expr;

/// Longest lookback of an instant selector, as in Prometheus.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Most points a range query may return per series (Prometheus's limit).
pub const MAX_POINTS: i64 = 11_000;

/// Most samples one query may hold in memory at once when no [`Budget`]
/// says otherwise (Prometheus's default `query.max-samples`; the server
/// uses `serve.query_max_samples`).
pub const MAX_SAMPLES: usize = 50_000_000;

/// What one evaluation may use: samples held, and a deadline checked as
/// it goes (evaluation runs on a blocking thread that cannot be
/// cancelled from outside).
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Most samples held at once (see [`MAX_SAMPLES`]).
    pub max_samples: usize,
    /// When evaluation gives up with [`QueryError::Timeout`].
    pub deadline: Option<std::time::Instant>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_samples: MAX_SAMPLES,
            deadline: None,
        }
    }
}

/// Why a query cannot be answered; every variant is Prometheus's
/// `bad_data` except where noted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueryError {
    /// The query does not parse.
    #[error("{0}")]
    Parse(String),
    /// The query parses but uses a construct nodewatch does not evaluate.
    #[error("unsupported in nodewatch's query API: {0}")]
    Unsupported(String),
    /// A valid query that cannot run (too many samples): `execution`.
    #[error("{0}")]
    Execution(String),
    /// The query ran out of time: `timeout`.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
}

impl QueryError {
    /// The Prometheus `errorType` of this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            _ => "bad_data",
        }
    }
}

/// A label set as interned ids, sorted by name (see [`History::strings`]).
pub type Labels = Vec<(u32, u32)>;

/// The result of a query: its data, and the label strings the query made
/// up (which its label sets may refer to, see [`Names`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The result in one of the API's result types.
    pub data: Data,
    /// Strings no stored series has (`label_replace`, `absent`...).
    pub names: Names,
}

impl Output {
    /// The string of a label id of [`Output::data`].
    pub fn resolve<'s>(&'s self, h: &'s History, id: u32) -> &'s str {
        self.names.resolve(h, id)
    }
}

/// A query result in the API's result types.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `scalar`: one value at the evaluation time (ms).
    Scalar(i64, f64),
    /// `vector`: one sample per series at the evaluation time (ms).
    Vector(i64, Vec<(Labels, f64)>),
    /// `matrix`: samples per series as `(ms, value)`, sorted by labels.
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    /// `string`: a string literal at the evaluation time (ms).
    String(i64, String),
}

/// Parses `q`; a parse error carries the parser's message.
pub fn parse(q: &str) -> Result<Expr, QueryError> {
    if q.trim().is_empty() {
        return Err(QueryError::Parse("empty query".into()));
    }
    guard::check(q)?;
    promql_parser::parser::parse(&range_params::holt_winters_renamed(q)).map_err(QueryError::Parse)
}

/// Evaluates `expr` at instant `at` (ms).
pub fn instant(h: &History, expr: &Expr, at: i64) -> Result<Output, QueryError> {
    instant_with(h, expr, at, Budget::default())
}

/// [`instant`] within `budget`.
pub fn instant_with(
    h: &History,
    expr: &Expr,
    at: i64,
    budget: Budget,
) -> Result<Output, QueryError> {
    eval::Evaluator::new(h, vec![at], budget).instant(expr)
}

/// Evaluates `expr` at every step from `start` to `end` (ms, inclusive).
pub fn range(
    h: &History,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Output, QueryError> {
    range_with(h, expr, start, end, step, Budget::default())
}

/// [`range`] within `budget`.
pub fn range_with(
    h: &History,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    budget: Budget,
) -> Result<Output, QueryError> {
    if step <= 0 {
        return Err(QueryError::Parse(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if end < start {
        return Err(QueryError::Parse(
            "end timestamp must not be before start time".into(),
        ));
    }
    if (end - start) / step >= MAX_POINTS {
        return Err(QueryError::Parse(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let steps: Vec<i64> = (0..=(end - start) / step)
        .map(|i| start + i * step)
        .collect();
    eval::Evaluator::new(h, steps, budget)
        .with_end(end)
        .range(expr)
}

/// Ids of the series matching every selector in `selectors` (any of them),
/// present between `start` and `end` (ms): the `match[]` of the metadata
/// endpoints.
pub fn series_matching(
    h: &History,
    selectors: &[Expr],
    start: i64,
    end: i64,
) -> Result<Vec<u32>, QueryError> {
    select::series_matching(h, selectors, start, end)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_histogram;
#[cfg(test)]
mod tests_labels;
#[cfg(test)]
mod tests_stream;
