//! Subcommands with enough logic to deserve their own file. Each owns its
//! clap arguments and an async entry point; the work itself lives in the
//! library so tests can call it.

pub mod backtest;
pub mod check;
pub mod run;
pub mod suite;
