//! nodewatch: finds sick Kubernetes nodes and cluster-wide anomalies, tells
//! people, and cordons nodes when it is safe to.
//!
//! The pipeline (DESIGN.md): [`collect`] → [`signals`] → [`score`] →
//! [`decide`] → [`act`], with [`serve`] reading the published [`state`].
//! The core stages are pure: no kube, no HTTP, no clock of their own.
//! [`live`] runs them against a cluster (`nodewatch run`); the offline
//! tools that run the same [`pipeline`] on recorded or generated data
//! (replay, suite, backtest, the NAB harness) live apart, in [`tools`].

pub mod act;
pub mod catalog;
pub mod collect;
pub mod config;
pub mod decide;
pub mod engine;
pub mod k8s;
pub mod live;
pub mod model;
pub mod outbound;
pub mod pipeline;
pub mod scenario;
pub mod score;
pub mod serve;
pub mod signals;
pub mod state;
pub mod time;
pub mod tools;
