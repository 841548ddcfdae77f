//! Prometheus collection, one test binary: the live collector and the
//! backtest against a real Prometheus with backfilled scenarios
//! (`nodewatch_testkit::prometheus`), both evaluators agreeing, outages, bad
//! answers and limits (loopback fakes), TLS and authentication, and the
//! embedded evaluator against hand-computed results (`evaluator`).
//! `cargo test --test prometheus outage::` runs one file.

mod agree;
mod backtest;
mod bad_answers;
mod evaluator;
mod limits;
mod outage;
mod tls_auth;
