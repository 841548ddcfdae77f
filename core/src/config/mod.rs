//! The parts of configuration the core's catalog reads its rules with:
//! Prometheus/Kubernetes name checks and bounded YAML loading. The rest of
//! the configuration (sources, sinks, governor, server) belongs to the
//! agent and lives in the `nodewatch` crate, which re-exports these two.

pub mod names;
pub mod yaml;
