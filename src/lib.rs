//! nodewatch: finds sick Kubernetes nodes and cluster-wide anomalies, tells
//! people, and cordons nodes when it is safe to.
//!
//! The pipeline (DESIGN.md): [`collect`] → [`signals`] → [`score`] →
//! [`decide`] → [`act`], with [`serve`] reading the published [`state`].
//! The core stages are pure: no kube, no HTTP, no clock of their own.
//! [`live`] runs them against a cluster (`nodewatch run`); the offline
//! tools that run the same [`pipeline`] on recorded or generated data
//! (replay, suite, backtest, the NAB harness) live apart, in [`tools`].

// The pure core is its own crate (core/), so the compiler keeps kube, HTTP
// and the actors out of it; re-exported here under the paths the rest of
// the agent uses.
pub use nodewatch_core::{catalog, decide, engine, k8s, model, score, signals, state, time};

pub mod act;
pub mod collect;
pub mod config;
pub mod live;
pub mod outbound;
pub mod pipeline;
pub mod scenario;
pub mod serve;
pub mod tools;
