//! The built-in Binder scenario (stub, being written).
use super::Scenario;

/// Name.
pub const NAME: &str = "binder";
/// Description.
pub const DESCRIPTION: &str = "The 2018-02-20 Binder outage";

/// Generates it.
pub fn generate() -> Scenario {
    Scenario::default()
}
