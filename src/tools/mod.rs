//! The offline tools: everything that runs nodewatch's [`Pipeline`] on
//! recorded or generated data instead of a live cluster, kept apart from
//! the agent so that its path (`nodewatch run` → [`crate::live`] →
//! [`Pipeline`] → collect, signals, score, decide, engine, act, serve)
//! reads in one sitting. Nothing in the agent imports from here.
//!
//! Each module is the work behind one command; the command-line wiring
//! (arguments, printing) stays in the binaries (`src/main.rs`, `src/cli/`,
//! `src/bin/nab.rs`):
//!
//! | module | command | what it does |
//! |---|---|---|
//! | [`replay`] | `nodewatch replay`, `demo` | one scenario through the pipeline at simulated time (the source it reads is [`crate::collect::replay`]) |
//! | [`report`] | `replay --json`, `backtest --json` | the timeline and the detection report against a scenario's `truth` |
//! | [`suite`] | `nodewatch suite` | every built-in scenario (defined in [`crate::scenario::suite`]) replayed and tabulated, optionally beside kube-prometheus' rules |
//! | [`backtest`] | `nodewatch backtest` | the rules over a real Prometheus's history, through the same loop as replay |
//! | [`nab`] | `nab` | the detectors scored on the Numenta Anomaly Benchmark layout |
//!
//! The scenario generators ([`crate::scenario`]) are tooling too; they have
//! not moved here (yet): the scenario format they write is also what
//! [`crate::collect::replay`] reads.
//!
//! [`Pipeline`]: crate::pipeline::Pipeline

pub mod backtest;
pub mod nab;
pub mod replay;
pub mod report;
pub mod suite;
