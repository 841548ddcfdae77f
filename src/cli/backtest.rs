//! `nodewatch backtest` (being built; see the open issue).

use anyhow::{bail, Result};

/// Arguments of `nodewatch backtest`.
#[derive(clap::Args, Debug)]
pub struct BacktestArgs {}

/// Runs `nodewatch backtest`.
pub async fn run(_args: BacktestArgs) -> Result<()> {
    bail!("nodewatch backtest is not available in this build yet")
}
