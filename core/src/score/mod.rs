//! Score: per-signal detectors and the combined node score.
//!
//! Each (subject, signal) keeps a small bounded state ([`SeriesState`]):
//! a ring of recent values for its own baseline, a cached median/MAD and a
//! CUSUM accumulator. Detectors turn a value into a z-like strength; a common
//! mapping turns that into an anomaly level in [0, 1] ([`level`]). Levels of
//! one node's signals combine into its score, always with the explanation.

pub mod baseline;
pub mod detectors;
pub mod node;

pub use baseline::SeriesState;
pub use detectors::{level, peer_stats, PeerStats};
pub use node::{combine, Evidence};
