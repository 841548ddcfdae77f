//! `nodewatch backtest`: the rules over a Prometheus's history, printed as
//! the same timeline and report as `nodewatch replay` (same `--json` keys).
//! The work is in [`nodewatch::tools::backtest`]; this file reads the arguments
//! and files and shows progress on a terminal.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nodewatch::collect::prometheus::PrometheusConfig;
use nodewatch::config::Config;
use nodewatch::k8s::{self, List};
use nodewatch::scenario::Meta;
use nodewatch::time::Clock;
use nodewatch::time::{Duration, SystemClock, Timestamp};
use nodewatch::tools::backtest::{self, Options, DEFAULT_CHUNK};
use serde::de::DeserializeOwned;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Arguments of `nodewatch backtest`.
#[derive(clap::Args, Debug)]
pub struct BacktestArgs {
    /// Prometheus base URL (overrides `prometheus.url` of --config).
    #[arg(long)]
    prometheus: Option<String>,
    /// First evaluation time: RFC 3339, `now` or `now-<duration>` (e.g. `now-7d`).
    #[arg(long)]
    from: String,
    /// Last evaluation time, same forms as --from.
    #[arg(long)]
    to: String,
    /// Evaluation interval (default: the --truth file's `step`, else 30s).
    #[arg(long)]
    step: Option<String>,
    /// Kubernetes Events, one core/v1 Event JSON object per line, in delivery order.
    #[arg(long)]
    events: Option<PathBuf>,
    /// A scenario.yaml whose `name` and `truth` the report is scored against.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// NodeList JSON (`kubectl get nodes -o json`) for zones, pools and
    /// creation times; without it nodes are learned from the metrics.
    #[arg(long)]
    nodes: Option<PathBuf>,
    /// PodList JSON (`kubectl get pods -A -o json`) for attributing pod
    /// events to nodes.
    #[arg(long)]
    pods: Option<PathBuf>,
    /// History fetched per round of range queries (bounds memory).
    #[arg(long)]
    chunk: Option<String>,
    /// Configuration file (`prometheus:`, `engine:` and `governor:` sections).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rule files or directories (default: the built-in rules/).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `nodewatch backtest`.
pub async fn run(args: BacktestArgs) -> Result<()> {
    let catalog = crate::load_catalog(&args.rules)?;
    let cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    cfg.validate()?;
    let mut prom = match (&args.prometheus, cfg.prometheus.clone()) {
        (Some(url), Some(mut p)) => {
            p.url = url.clone();
            p
        }
        (Some(url), None) => PrometheusConfig::new(url.clone()),
        (None, Some(p)) => p,
        (None, None) => {
            bail!("no Prometheus: give --prometheus URL or a `prometheus:` section in --config")
        }
    };
    // A backtest is offline work: wait longer than the live default.
    prom.timeout = prom.timeout.max(Duration::secs(60));
    let now = SystemClock.now();
    let from = parse_time(&args.from, now).context("--from")?;
    let to = parse_time(&args.to, now).context("--to")?;
    let meta = match &args.truth {
        Some(p) => Some(read_meta(p)?),
        None => None,
    };
    let step = match (&args.step, &meta) {
        (Some(s), _) => Duration::parse(s).context("--step")?,
        (None, Some(m)) => m.step,
        (None, None) => cfg.engine.step,
    };
    nodewatch::scenario::check_ticks(from, to, step).map_err(anyhow::Error::msg)?;
    let mut opts = Options::new(from, to, step);
    if let Some(m) = &meta {
        opts = opts.with_meta(m);
    }
    opts.chunk = match &args.chunk {
        Some(c) => Duration::parse(c).context("--chunk")?,
        None => DEFAULT_CHUNK,
    };
    opts.engine = cfg.engine.clone();
    opts.governor = cfg.governor.clone();
    if let Some(p) = &args.events {
        opts.events = read_events(p)?;
    }
    if let Some(p) = &args.nodes {
        opts.nodes = read_list::<k8s::Node>(p)?;
    }
    if let Some(p) = &args.pods {
        opts.pods = read_list::<k8s::Pod>(p)?;
    }
    let bar = progress(from, to, step);
    let outcome = backtest::run(&prom, catalog, opts, |at| {
        bar.set_position(((at.0 - from.0) / step.0.max(1)) as u64 + 1);
    })
    .await;
    bar.finish_and_clear();
    let outcome = outcome?;
    super::print_outcome(&outcome, args.json)
}

/// A bar on stderr when it is a terminal; hidden (no output) when piped.
fn progress(from: Timestamp, to: Timestamp, step: Duration) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let ticks = ((to.0 - from.0).max(0) / step.0.max(1)) as u64 + 1;
    let bar = ProgressBar::with_draw_target(Some(ticks), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("backtest {bar:40} {pos}/{len} ticks, {eta} left")
    {
        bar.set_style(style);
    }
    bar
}

/// RFC 3339, `now`, or `now-<duration>`.
fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp> {
    let s = s.trim();
    if s == "now" {
        return Ok(Timestamp(now.0 - now.0 % 1000));
    }
    if let Some(d) = s.strip_prefix("now-") {
        let d = Duration::parse(d)?;
        return Ok(Timestamp(now.0 - now.0 % 1000 - d.0));
    }
    Ok(Timestamp::parse_rfc3339(s)?)
}

fn read_meta(p: &Path) -> Result<Meta> {
    Ok(nodewatch::scenario::read_meta(p)?)
}

fn read_list<T: DeserializeOwned>(p: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let list: List<T> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a Kubernetes list", p.display()))?;
    Ok(list.items)
}

fn read_events(p: &Path) -> Result<Vec<k8s::Event>> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ev = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a core/v1 Event", p.display(), i + 1))?;
        out.push(ev);
    }
    Ok(out)
}
