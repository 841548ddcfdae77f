//! nodewatch's pure core (DESIGN.md): [`signals`] → [`score`] → [`decide`],
//! run one tick at a time by the [`engine`] over an [`model::Observation`],
//! with the rule [`catalog`] they read and the [`model`] values that cross
//! stages. No kube, no HTTP, no clock of its own: this crate depends on none
//! of them, so every stage is tested with plain values at simulated time and
//! cannot reach the actors, the live agent or the servers, which live in
//! the `nodewatch` crate and re-export these modules under the same paths.

pub mod catalog;
pub mod config;
pub mod decide;
pub mod engine;
pub mod k8s;
pub mod model;
pub mod score;
pub mod signals;
pub mod state;
pub mod time;

#[cfg(test)]
mod purity;
