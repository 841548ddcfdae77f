//! serve: nodewatch's one HTTP server (DESIGN.md, "serve"). It only reads
//! what the pipeline published after its last tick ([`Published`]) and
//! exposes it as health checks, Prometheus metrics, a JSON snapshot and a
//! human status page, and answers Prometheus API queries over the history
//! of its own series. Everything is read-only: `GET` (and `HEAD`) only —
//! plus `POST` of query forms, which read too — other methods get 405,
//! unknown paths 404. With a bearer token configured, everything but the
//! probes requires it ([`auth`]).
//!
//! | path | content |
//! | --- | --- |
//! | `/healthz` | `ok` while the process serves |
//! | `/readyz` | `ready` after the first publish, else 503 |
//! | `/metrics` | Prometheus text, or OpenMetrics when `Accept` asks |
//! | `/api/v1/nodewatch/snapshot` | the current [`Snapshot`](crate::state::Snapshot) as JSON |
//! | `/api/v1/query`, `/api/v1/query_range`, ... | the Prometheus API ([`api`]) |
//! | `/` | the status page |

pub mod api;
mod auth;
mod config;
mod families;
mod gzip;
pub mod history;
mod html;
pub mod metrics;
mod page;
mod published;
pub mod query;
mod server;
mod summary;

pub use config::{ServeConfig, ServeError};
pub use html::escape_html;
pub use metrics::{Exporter, Format, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
pub use page::{cluster_incident, ranked, MAX_NODES};
pub use published::{Published, HISTORY_LEN};
pub use server::ServerLimits;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::future::Future;
use std::sync::Arc;

/// Path of the JSON snapshot.
pub const SNAPSHOT_PATH: &str = "/api/v1/nodewatch/snapshot";

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    published: Published,
    exporter: Arc<Exporter>,
    /// One permit per query evaluated at once (`serve.query_max_concurrency`).
    queries: Arc<tokio::sync::Semaphore>,
}

/// The server's routes over `published`, without authentication. `get`
/// routes also answer `HEAD` and reply 405 (with `Allow`) to every other
/// method.
pub fn router(published: Published) -> Router {
    router_with(published, None)
}

/// [`router`], requiring `token` (when given) on everything but the probes.
pub fn router_with(published: Published, token: Option<String>) -> Router {
    let exporter = Arc::new(Exporter::new(published.clone()));
    let queries = Arc::new(tokio::sync::Semaphore::new(
        published.config().query_max_concurrency.max(1),
    ));
    let app = Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(SNAPSHOT_PATH, get(snapshot))
        .merge(api::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(gzip::layer))
        .with_state(AppState {
            published,
            exporter,
            queries,
        });
    match token {
        Some(t) => app.layer(axum::middleware::from_fn_with_state(
            Arc::<str>::from(t),
            auth::require,
        )),
        None => app,
    }
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets
/// in-flight requests finish; the connection limits come from the
/// settings `published` was made with.
pub async fn serve(
    listener: tokio::net::TcpListener,
    published: Published,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = ServerLimits::from_config(published.config());
    serve_router_with(listener, router(published), limits, shutdown).await
}

/// Serves a router built by [`router_with`] with the default connection
/// limits.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = ServerLimits::from_config(&ServeConfig::default());
    serve_router_with(listener, app, limits, shutdown).await
}

/// Serves a router built by [`router_with`] within `limits` (header-read
/// and request timeouts, connection cap: see [`ServerLimits`]).
pub async fn serve_router_with(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving the status page, /metrics and the query API");
    }
    server::serve(listener, app, limits, shutdown).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(st): State<AppState>) -> Response {
    if st.published.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no evaluation yet",
        )
            .into_response()
    }
}

async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    match st.exporter.render(format) {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(_) => {
            // fmt::Error carries no detail; it only happens on a bug in an
            // encoder, so say so and let the scrape fail visibly.
            tracing::error!("encoding /metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed").into_response()
        }
    }
}

async fn snapshot(State(st): State<AppState>) -> Response {
    match st.published.current() {
        Some(s) => Json(&*s).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no evaluation yet").into_response(),
    }
}

async fn status_page(State(st): State<AppState>) -> Response {
    let snap = st.published.current();
    // Only the histories of the rows the page shows are copied.
    let histories = match &snap {
        Some(s) => {
            let names: Vec<&str> = ranked(s)
                .iter()
                .take(MAX_NODES)
                .map(|n| n.name.as_str())
                .collect();
            st.published.histories(&names)
        }
        None => Default::default(),
    };
    let body = page::render(snap.as_deref(), &histories);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}
