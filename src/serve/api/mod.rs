//! The Prometheus-compatible HTTP API over nodewatch's [`History`], enough
//! for Grafana's built-in Prometheus datasource and for `promtool query`:
//! `GET`/`POST` (form) `query`, `query_range`, `series`, `labels`,
//! `label/<name>/values`, plus `metadata`, `status/buildinfo` and an empty
//! `query_exemplars`. Shapes, status codes and error types follow
//! Prometheus (`400 bad_data`, `422 execution`).
//!
//! One deviation: an instant query without `time` is evaluated at the
//! newest recorded tick rather than at the wall clock, so the demo's
//! simulated 2018 data answers `promtool query instant` (live, the newest
//! tick is at most one interval old and the 5 m lookback gives the same
//! values as "now").

pub mod json;
mod meta;
mod number;
pub mod params;

use super::history::History;
use super::query::{self, QueryError};
use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use params::{BadParam, Params};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// Largest form body accepted (a long PromQL query is a few KiB).
const MAX_BODY: usize = 1 << 20;

/// The version reported by `buildinfo`: the Prometheus API level nodewatch
/// follows (Grafana picks request features by it).
pub const PROMETHEUS_API_VERSION: &str = "2.42.0";

/// Label set of the API latency histogram.
pub type EndpointLabels = Vec<(&'static str, &'static str)>;

/// Latency of API requests by endpoint, exported on `/metrics`.
pub type ApiLatency = Family<EndpointLabels, Histogram, fn() -> Histogram>;

/// A new latency family (1 ms to ~16 s).
pub fn new_latency() -> ApiLatency {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 4.0, 8)))
}

/// The API's routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(instant).post(instant))
        .route("/api/v1/query_range", get(range).post(range))
        .route("/api/v1/series", get(meta::series).post(meta::series))
        .route("/api/v1/labels", get(meta::labels).post(meta::labels))
        .route("/api/v1/label/{name}/values", get(meta::label_values))
        .route("/api/v1/metadata", get(meta::metadata))
        .route("/api/v1/status/buildinfo", get(meta::buildinfo))
        .route(
            "/api/v1/query_exemplars",
            get(meta::exemplars).post(meta::exemplars),
        )
}

/// An API failure, rendered as Prometheus's error JSON.
pub(super) struct Failure(StatusCode, &'static str, String);

impl From<BadParam> for Failure {
    fn from(e: BadParam) -> Self {
        Failure(StatusCode::BAD_REQUEST, "bad_data", e.0)
    }
}

impl From<QueryError> for Failure {
    fn from(e: QueryError) -> Self {
        let code = match e {
            QueryError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            QueryError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Failure(code, e.error_type(), e.to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        json_response(self.0, json::error(self.1, &self.2))
    }
}

pub(super) fn json_response(code: StatusCode, body: impl Into<Body>) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// Parameters from the URL query and a form body (body values first, as
/// Go's `Request.FormValue` reads them).
pub(super) async fn params(req: Request) -> Result<Params, Failure> {
    let query = req.uri().query().map(str::to_string);
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let mut p = Params::default();
    if form {
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|e| {
                Failure(
                    StatusCode::BAD_REQUEST,
                    "bad_data",
                    format!("error reading form body: {e}"),
                )
            })?;
        p.extend_form(&String::from_utf8_lossy(&body));
    }
    if let Some(q) = query {
        p.extend_form(&q);
    }
    Ok(p)
}

/// Queries that read at most this many samples ([`query::cost`]) are
/// answered on the async worker: tens of microseconds of work, less than
/// the hand-off to the blocking pool and back.
const INLINE_SAMPLES: usize = 16_384;

/// Where a request's work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Run {
    /// On the blocking pool: evaluation is CPU-bound and may take tens of
    /// ms at 5,000 nodes, which must not stall the async workers
    /// (`/healthz` among them).
    Pool,
    /// On the async worker, for work known to be tiny.
    Inline,
}

/// Runs `work` (on the blocking pool unless `run` says it is tiny) within
/// the query limits of `serve:`: at most `query_max_concurrency` at once
/// (others queue), all within `query_timeout` (`503 timeout`, as
/// Prometheus), the body at most `max_response_bytes` (`422 execution`);
/// records the latency.
pub(super) async fn timed(
    st: &AppState,
    endpoint: &'static str,
    run: Run,
    work: impl FnOnce(&History, Limits) -> Result<String, Failure> + Send + 'static,
) -> Response {
    let started = Instant::now();
    let response = match run_limited(st, run, work).await {
        Ok((body, permit)) => permit_response(body, permit),
        Err(f) => f.into_response(),
    };
    if !response.status().is_success() {
        // Counted by code on /metrics; logged only at debug so a client
        // hammering bad queries cannot flood the log.
        tracing::debug!(
            endpoint,
            code = response.status().as_u16(),
            "API request refused"
        );
    }
    let labels = vec![
        ("endpoint", endpoint),
        ("code", code_label(response.status())),
    ];
    st.exporter
        .api_latency()
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The limits one API request runs within.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Samples and deadline of the evaluation.
    pub budget: query::Budget,
    /// Largest body.
    pub max_bytes: usize,
}

async fn run_limited(
    st: &AppState,
    run: Run,
    work: impl FnOnce(&History, Limits) -> Result<String, Failure> + Send + 'static,
) -> Result<(String, OwnedSemaphorePermit), Failure> {
    let cfg = st.published.config();
    let timeout = std::time::Duration::from_millis(cfg.query_timeout.0.max(1) as u64);
    let deadline = Instant::now() + timeout;
    let timed_out = |stage: &'static str| Failure::from(QueryError::Timeout(stage));
    let permit = tokio::time::timeout(timeout, st.queries.clone().acquire_owned())
        .await
        .map_err(|_| timed_out("query queue"))?
        .map_err(|_| timed_out("query queue"))?;
    let limits = Limits {
        budget: query::Budget {
            max_samples: cfg.query_max_samples,
            deadline: Some(deadline),
        },
        max_bytes: usize::try_from(cfg.max_response_bytes).unwrap_or(usize::MAX),
    };
    let checked = move |body: String| {
        if body.len() > limits.max_bytes {
            return Err(too_large(limits.max_bytes));
        }
        Ok(body)
    };
    if run == Run::Inline {
        let body = work(&st.published.store(), limits)?;
        return Ok((checked(body)?, permit));
    }
    let published = st.published.clone();
    // The permit goes with the work: a query that outlives its answer (it
    // stops at its next deadline check) still counts against the limit,
    // and so does an answer until it is sent (see `permit_response`).
    let task = tokio::task::spawn_blocking(move || {
        let body = work(&published.store(), limits)?;
        Ok((checked(body)?, permit))
    });
    // A little grace past the deadline so the evaluation's own check
    // answers first.
    let grace = deadline + std::time::Duration::from_millis(250);
    match tokio::time::timeout_at(grace.into(), task).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "query evaluation failed".into(),
        )),
        Err(_) => Err(timed_out("expression evaluation")),
    }
}

/// A `200` JSON answer whose body keeps the query's permit until hyper
/// has taken its last chunk: the memory of answers being sent (to a slow
/// client, say) counts against `query_max_concurrency` too, so at most
/// that many bodies of up to `max_response_bytes` exist at once. Chunks
/// are slices of one buffer, so nothing is copied.
fn permit_response(body: String, permit: OwnedSemaphorePermit) -> Response {
    const CHUNK: usize = 64 * 1024;
    let bytes = Bytes::from(body);
    let len = bytes.len();
    if len <= CHUNK {
        // One chunk: hyper writes it with the headers at once; the permit
        // bounds big bodies, not this one.
        drop(permit);
        return json_response(StatusCode::OK, bytes);
    }
    let chunks = (0..len.div_ceil(CHUNK)).map(move |i| {
        let _held = &permit;
        Ok::<_, std::convert::Infallible>(bytes.slice(i * CHUNK..((i + 1) * CHUNK).min(len)))
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response()
}

/// The answer to a body over `max` bytes.
pub(super) fn too_large(max: usize) -> Failure {
    Failure(
        StatusCode::UNPROCESSABLE_ENTITY,
        "execution",
        format!("response too large: more than {max} bytes (serve.max_response_bytes); narrow the query or raise the step"),
    )
}

fn code_label(c: StatusCode) -> &'static str {
    match c.as_u16() {
        200 => "200",
        400 => "400",
        422 => "422",
        503 => "503",
        _ => "500",
    }
}

fn parse_query(p: &Params) -> Result<promql_parser::parser::Expr, Failure> {
    let q = p.get("query").unwrap_or("");
    query::parse(q).map_err(|e| match e {
        QueryError::Parse(m) => Failure(
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("invalid parameter \"query\": {m}"),
        ),
        e => e.into(),
    })
}

async fn instant(State(st): State<AppState>, req: Request) -> Response {
    let p = match params(req).await {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    let (run, parsed) = prepare(&st, &p, |_| Some(1));
    timed(&st, "query", run, move |h, lim| {
        let expr = parsed.map_or_else(|| parse_query(&p), Ok)?;
        let at = match p.time("time")? {
            Some(t) => t,
            None => default_time(h),
        };
        let out = query::instant_with(h, &expr, at, lim.budget)?;
        respond(h, &out, lim)
    })
    .await
}

async fn range(State(st): State<AppState>, req: Request) -> Response {
    let p = match params(req).await {
        Ok(p) => p,
        Err(f) => return f.into_response(),
    };
    let (run, parsed) = prepare(&st, &p, range_steps);
    timed(&st, "query_range", run, move |h, lim| {
        let expr = parsed.map_or_else(|| parse_query(&p), Ok)?;
        let start = p.time("start")?.ok_or_else(|| missing("start"))?;
        let end = p.time("end")?.ok_or_else(|| missing("end"))?;
        let step = p.duration("step")?.ok_or_else(|| missing("step"))?;
        let out = query::range_with(h, &expr, start, end, step, lim.budget)?;
        respond(h, &out, lim)
    })
    .await
}

/// Longest query text parsed on the async worker to size it: a short query
/// without regex matchers parses in microseconds (a regex matcher compiles
/// a regex, which can take milliseconds).
const INLINE_QUERY_BYTES: usize = 256;

/// Where a query runs, and its parsed form when parsing it here was cheap
/// (a parse error is left for the work to report, with its usual answer).
fn prepare(
    st: &AppState,
    p: &Params,
    steps: impl Fn(&Params) -> Option<usize>,
) -> (Run, Option<promql_parser::parser::Expr>) {
    let q = p.get("query").unwrap_or("");
    if q.len() > INLINE_QUERY_BYTES || q.contains("=~") || q.contains("!~") {
        return (Run::Pool, None);
    }
    let (Ok(expr), Some(steps)) = (parse_query(p), steps(p)) else {
        return (Run::Pool, None);
    };
    let small = query::cost::at_most(&st.published.store(), &expr, steps, INLINE_SAMPLES);
    (if small { Run::Inline } else { Run::Pool }, Some(expr))
}

/// Steps of a range query's parameters, when they parse.
fn range_steps(p: &Params) -> Option<usize> {
    let (start, end) = (p.time("start").ok()??, p.time("end").ok()??);
    let step = p.duration("step").ok()??;
    (step > 0 && end >= start).then(|| ((end - start) / step) as usize + 1)
}

/// The success body of a query result, within the body limit.
fn respond(h: &History, out: &query::Output, lim: Limits) -> Result<String, Failure> {
    let mut fits = true;
    let body = json::success(|o| fits = json::result_within(o, h, out, lim.max_bytes));
    if fits {
        Ok(body)
    } else {
        Err(too_large(lim.max_bytes))
    }
}

fn missing(name: &str) -> Failure {
    Failure(
        StatusCode::BAD_REQUEST,
        "bad_data",
        format!(
            "invalid parameter \"{name}\": cannot parse \"\" to a valid {}",
            if name == "step" {
                "duration"
            } else {
                "timestamp"
            }
        ),
    )
}

/// The newest tick, or the wall clock before the first one.
fn default_time(h: &History) -> i64 {
    h.time_range().map(|(_, newest)| newest).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    })
}
