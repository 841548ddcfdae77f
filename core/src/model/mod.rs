//! The model: the plain values that cross stage boundaries — what the core
//! (signals → score → decide → engine) hands to the actors, and what the
//! actors report back. Every stage may import it; it imports no stage, so
//! data keeps flowing one way. Enums replace the strings that used to carry
//! kinds and states; their serde form is the same lowercase word, so the
//! `--json` reports, the HTTP API and the sinks' payloads are unchanged.

mod action;
mod alert;
mod cordons;
mod observation;
mod selector;

pub use action::{ActionKind, ActionRecord, CordonRequest, NodeFacts};
pub use alert::{AlertState, AlertView, Notification};
pub use cordons::{Cordoned, Cordons};
pub use observation::{Observation, SignalResult, SourceError};
pub use selector::Selector;
