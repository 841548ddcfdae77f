//! The `nodewatch` command line: replay, demo, check and scenario tools.

mod cli;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use nodewatch::catalog::{self, Catalog};
use nodewatch::{replay, scenario, serve};
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
    /// HTTP server and status page up.
    Demo {
        /// Simulated seconds per real second (a positive number).
        #[arg(long, default_value_t = 600.0, value_parser = parse_speed)]
        speed: f64,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Replay this scenario directory instead of the built-in one.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Rule files or directories (default: the built-in rules/).
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// Exit when the replay ends instead of serving until Ctrl-C.
        #[arg(long)]
        exit_when_done: bool,
        /// Stop the replay at this simulated time (RFC 3339, e.g.
        /// 2018-02-20T17:10:00Z) and keep serving that moment.
        #[arg(long, value_parser = parse_until)]
        until: Option<nodewatch::time::Timestamp>,
    },
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
    let default_level = if matches!(cli.command, Command::Demo { .. }) {
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()?;
    rt.block_on(run(cli.command))
}

/// Parses `--until`.
fn parse_until(s: &str) -> Result<nodewatch::time::Timestamp, String> {
    nodewatch::time::Timestamp::parse_rfc3339(s).map_err(|e| e.to_string())
}

/// Parses `--speed`: a finite positive number (0 or NaN would mean an
/// unpaced replay while announcing a pace).
fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("must be a positive number, got {s:?}")),
    }
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
            let sc = scenario::read_dir(&dir)
                .with_context(|| format!("reading scenario {}", dir.display()))?;
            let outcome = replay::run(sc, catalog, replay::Options::default()).await;
            cli::print_outcome(&outcome, json)?;
        }
        Command::Demo {
            speed,
            listen,
            scenario: dir,
            rules,
            exit_when_done,
            until,
        } => {
            let catalog = load_catalog(&rules)?;
            let sc = match dir {
                Some(d) => scenario::read_dir(&d)
                    .with_context(|| format!("reading scenario {}", d.display()))?,
                None => scenario::builtin("binder").context("built-in scenario missing")?,
            };
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let published = serve::Published::new();
            let addr = listener.local_addr()?;
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(serve::serve(listener, published.clone(), async move {
                let _ = stop_rx.await;
            }));
            let hours = sc.meta.end.since(sc.meta.start).as_secs_f64() / 3600.0;
            println!(
                "nodewatch demo: replaying {:?} ({hours:.0} h of cluster time at {speed}x, about {:.0} min)",
                sc.meta.name,
                hours * 3600.0 / speed / 60.0
            );
            println!(
                "status page: http://{addr}/   metrics: http://{addr}/metrics   (Ctrl-C to stop)"
            );
            let opts = replay::Options {
                speed: Some(speed),
                publish: Some(published),
                until,
                ..Default::default()
            };
            let replay = replay::run(sc, catalog, opts);
            let outcome = tokio::select! {
                o = replay => Some(o),
                _ = tokio::signal::ctrl_c() => None,
            };
            if let Some(outcome) = outcome {
                print!("\n{}", outcome.report().summary());
                if !exit_when_done {
                    println!("replay finished; still serving http://{addr}/ (Ctrl-C to stop)");
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            let _ = stop_tx.send(());
            server.await??;
        }
        Command::Check {
            paths,
            promql,
            config,
        } => {
            if let Some(file) = &config {
                print!("{}", cli::check::config(file)?);
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
