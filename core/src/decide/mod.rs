//! Decide: alerting rules evaluated per (rule, subject) with Prometheus-like
//! `for`/`keep_firing_for` semantics, and common-cause detection that turns
//! "many nodes trip the same signal" into one cluster-level alert.

pub mod alerts;
pub mod common_cause;

pub use alerts::{AlertBook, AlertKey, Transition, TransitionKind};
pub use common_cause::{common_cause, domain_cause, CommonCauseSettings, DomainCause};
