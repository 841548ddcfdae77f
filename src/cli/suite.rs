//! `nodewatch suite` (being built; see the open issue).

use anyhow::{bail, Result};

/// Arguments of `nodewatch suite`.
#[derive(clap::Args, Debug)]
pub struct SuiteArgs {}

/// Runs `nodewatch suite`.
pub async fn run(_args: SuiteArgs) -> Result<()> {
    bail!("nodewatch suite is not available in this build yet")
}
