//! The HTTP server and the query API, one test binary: every endpoint,
//! limits and connections, PromQL semantics against a real Prometheus, the
//! query corpus and fuzz, real clients (`promtool`, Grafana's requests), the
//! shipped dashboard and the status page in headless Chromium. Support:
//! `nodewatch_testkit::serve`. `cargo test --test serve api::` runs one
//! file.

mod api;
mod browser;
mod connections;
mod endpoints;
mod grafana;
mod limits;
mod prometheus_semantics;
mod promql_corpus;
mod promtool;
mod query_fuzz;
