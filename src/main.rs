//! The `nodewatch` command line: replay, demo, check and scenario tools.

mod cli;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use nodewatch::catalog::{self, Catalog};
use nodewatch::{scenario, tools::replay};
use std::path::PathBuf;
use std::sync::Arc;

/// Finds sick Kubernetes nodes and cluster-wide anomalies, tells people, and
/// cordons nodes when it is safe to.
#[derive(Parser)]
#[command(name = "nodewatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the full pipeline over a scenario directory at simulated time and
    /// print the timeline and the detection report.
    Replay {
        /// Scenario directory (see `nodewatch scenario write`).
        dir: PathBuf,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Rule files or directories (default: the built-in rules/).
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
    },
    /// Replay the built-in Binder incident at an accelerated pace with the
    /// HTTP server and status page up, shifted so that it ends now.
    Demo(cli::demo::DemoArgs),
    /// Validate rule files, or a configuration file with `--config`; every
    /// error names file, line and field.
    Check {
        /// Rule files or directories.
        #[arg(required_unless_present = "config")]
        paths: Vec<PathBuf>,
        /// Also print the PromQL each metric signal renders to.
        #[arg(long)]
        promql: bool,
        /// Validate this configuration file (`nodewatch run --config`) and
        /// list the secrets it reads at start (not read here).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the agent: watch the cluster, query Prometheus, score, alert and
    /// cordon (through the safety governor).
    Run(cli::run::RunArgs),
    /// Evaluate the rules over a Prometheus's history and print the same
    /// timeline and report as `replay`.
    Backtest(cli::backtest::BacktestArgs),
    /// Replay every built-in scenario and print the detection table.
    Suite(cli::suite::SuiteArgs),
    /// Built-in scenarios.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
}

#[derive(Subcommand)]
enum ScenarioCommand {
    /// List the built-in scenarios.
    List,
    /// Write a built-in scenario to a directory in the scenario format.
    Write {
        /// Scenario name (see `nodewatch scenario list`).
        name: String,
        /// Directory to create.
        dir: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Demo(_)) {
        "info"
    } else {
        "warn"
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    if !std::env::var("RUST_LOG").is_ok_and(|v| v.contains("kube_client")) {
        // kube's client logs every failed request at ERROR: lines a second
        // while the API server is down. nodewatch logs those failures
        // itself, rate-limited.
        filter = filter.add_directive("kube_client::client::builder=off".parse()?);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    // Before any thread exists: see nodewatch::live::malloc.
    nodewatch::live::malloc::limit_arenas();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()?;
    rt.block_on(run(cli.command))
}

/// Loads rule files, or the built-in catalog when none are given.
pub(crate) fn load_catalog(paths: &[PathBuf]) -> Result<Arc<Catalog>> {
    if paths.is_empty() {
        return Ok(Arc::new(Catalog::builtin()));
    }
    match Catalog::load(paths) {
        Ok(c) => Ok(Arc::new(c)),
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!("{} error(s) in rule files", errors.len())
        }
    }
}

async fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Replay { dir, json, rules } => {
            let catalog = load_catalog(&rules)?;
            let reading = || format!("reading scenario {}", dir.display());
            // Streamed: memory follows the cluster's size, not the length.
            let sc = scenario::open_dir(&dir).with_context(reading)?;
            let outcome = replay::run_streamed(sc, catalog, replay::Options::default())
                .await
                .with_context(reading)?;
            cli::print_outcome(&outcome, json)?;
        }
        Command::Demo(args) => cli::demo::run(args).await?,
        Command::Check {
            paths,
            promql,
            config,
        } => {
            if let Some(file) = &config {
                // Pool thresholds name rules: checked against the rules given.
                let catalog = load_catalog(&paths)?;
                print!("{}", cli::check::config(file, &catalog)?);
                if paths.is_empty() {
                    return Ok(());
                }
            }
            let catalog = load_catalog(&paths)?;
            println!(
                "OK: {} signals, {} rules",
                catalog.signals.len(),
                catalog.rules.len()
            );
            if promql {
                for s in &catalog.signals {
                    if let Some(q) = &s.metric {
                        println!("{}: {}", s.name, catalog::render(q));
                    }
                }
            }
        }
        Command::Run(args) => cli::run::run(args).await?,
        Command::Backtest(args) => cli::backtest::run(args).await?,
        Command::Suite(args) => cli::suite::run(args).await?,
        Command::Scenario {
            command: ScenarioCommand::List,
        } => {
            for (name, desc) in scenario::builtin_names() {
                println!("{name:<12} {desc}");
            }
        }
        Command::Scenario {
            command: ScenarioCommand::Write { name, dir },
        } => {
            let Some(sc) = scenario::builtin(&name) else {
                let names: Vec<_> = scenario::builtin_names()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                bail!(
                    "no built-in scenario {name:?}; available: {}",
                    names.join(", ")
                );
            };
            scenario::write_dir(&sc, &dir).with_context(|| format!("writing {}", dir.display()))?;
            println!("wrote scenario {name} to {}", dir.display());
        }
    }
    Ok(())
}
