//! `nodewatch suite`: generates every built-in scenario (or the ones
//! named), replays each through the full pipeline and prints the detection
//! table: per scenario, the delay to detect each faulty node and cluster
//! incident, false node alerts, false cordons, cluster alerts outside any
//! incident and the nodes reported without data. The work is in
//! [`nodewatch::tools::suite`].

use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `nodewatch suite`.
#[derive(clap::Args, Debug)]
pub struct SuiteArgs {
    /// Scenarios to run (see `nodewatch scenario list`; default: all).
    names: Vec<String>,
    /// Print the rows as JSON instead of a Markdown table.
    #[arg(long)]
    json: bool,
    /// Rule files or directories (default: the built-in rules/).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Also backfill each scenario into a local Prometheus (`prometheus`
    /// and `promtool` must be installed) and evaluate kube-prometheus'
    /// node and kubelet rules on it, side by side with nodewatch.
    #[arg(long)]
    kube_prometheus: bool,
}

/// Runs `nodewatch suite`.
pub async fn run(args: SuiteArgs) -> Result<()> {
    let catalog = crate::load_catalog(&args.rules)?;
    let report =
        nodewatch::tools::suite::run_builtin(&args.names, catalog, args.kube_prometheus).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
