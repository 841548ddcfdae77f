//! Signals: turns what sources deliver into per-(node, signal) values for a
//! tick. Metric signals arrive as values (from Prometheus or the embedded
//! evaluator); event signals are counted here from Kubernetes Events,
//! attributed to nodes, in bounded per-(node, signal) windows.

pub mod contributors;
pub mod disruption;
pub mod events;
pub mod nodes;

pub use events::{EventIngest, EventWindow, Hit};
pub use nodes::{NodeEntry, NodeTable};
