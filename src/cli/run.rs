//! `nodewatch run` (being built; see the open issue).

use anyhow::{bail, Result};

/// Arguments of `nodewatch run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {}

/// Runs `nodewatch run`.
pub async fn run(_args: RunArgs) -> Result<()> {
    bail!("nodewatch run is not available in this build yet")
}
