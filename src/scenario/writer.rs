//! Writes a scenario directory (stub, being written).
use super::{Scenario, ScenarioError};
use std::path::Path;

/// Writes a scenario directory.
pub fn write_dir(_s: &Scenario, dir: &Path) -> Result<(), ScenarioError> {
    Err(ScenarioError { file: dir.to_path_buf(), line: None, message: "not yet".into() })
}
