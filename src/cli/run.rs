//! `nodewatch run`: the in-cluster agent. Connects to the API server
//! (in-cluster service account or kubeconfig), watches events, nodes and
//! pods, queries Prometheus for the metric signals, scores every
//! `engine.step`, and, as the Lease holder, alerts and cordons through the
//! safety governor. SIGTERM or Ctrl-C finish the current tick, release the
//! Lease and stop the HTTP server.

use anyhow::{Context, Result};
use nodewatch::act::sinks::Dispatcher;
use nodewatch::act::{Notification, Notifier};
use nodewatch::collect::prometheus::{PrometheusCollector, PrometheusConfig};
use nodewatch::collect::MetricSource;
use nodewatch::config::Config;
use nodewatch::live::{self, Agent, AgentOptions, ClientOptions, NoMetrics, Ticks};
use nodewatch::serve;
use nodewatch::state::{ActionRecord, SinkStats};
use nodewatch::time::SystemClock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `nodewatch run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the
    /// in-cluster service account).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current one).
    #[arg(long)]
    context: Option<String>,
    /// Configuration file: `engine:`, `governor:`, `kubernetes:`,
    /// `prometheus:`, `sinks:`, `serve:` sections.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rule files or directories (default: the built-in rules/).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Address of the HTTP server (/healthz, /readyz, /metrics, status page).
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: String,
    /// Prometheus base URL for the metric signals (overrides
    /// `prometheus.url` of the config file). Without one, metric signals
    /// are unknown and no node is ever cordoned.
    #[arg(long)]
    prometheus: Option<String>,
    /// Decide and report, never cordon or uncordon.
    #[arg(long)]
    dry_run: bool,
    /// Pause all actions (alerts and cordons) while scoring goes on; the
    /// Lease annotation nodewatch.io/paused="true" does the same at runtime.
    #[arg(long)]
    pause: bool,
    /// Identity in the Lease and in nodewatch.io/cordoned-by (default:
    /// kubernetes.identity, $POD_NAME, $HOSTNAME).
    #[arg(long)]
    identity: Option<String>,
    /// Do not compete for the Lease; act as the only replica.
    #[arg(long)]
    no_leader_election: bool,
}

/// Logs every notification and hands it to the configured sinks
/// (`sinks:`; none configured means log only).
struct RunNotifier(Dispatcher);

impl Notifier for RunNotifier {
    fn notify(&mut self, n: Notification) {
        tracing::warn!(
            alert = %n.alert.name,
            subject = %n.alert.subject,
            "alert {}: {}",
            n.status,
            n.alert.annotations.get("explanation").map_or("", String::as_str)
        );
        self.0.notify(n);
    }

    fn record_action(&mut self, action: &ActionRecord) {
        self.0.record_action(action);
    }

    fn sink_stats(&self) -> std::collections::BTreeMap<String, SinkStats> {
        self.0.sink_stats()
    }
}

/// Runs `nodewatch run`.
pub async fn run(args: RunArgs) -> Result<()> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(id) = &args.identity {
        cfg.kubernetes.identity = Some(id.clone());
    }
    if args.dry_run {
        cfg.governor.dry_run = true;
    }
    // The same validation as `nodewatch check --config` (with the rules
    // in use: pool thresholds name them).
    let catalog = crate::load_catalog(&args.rules)?;
    cfg.validate_with(&catalog)?;
    let client = live::client_from(&ClientOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    })
    .await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // The history, query limits and connection limits of `serve:`.
    let published = serve::Published::with_config(&cfg.serve);
    let token = cfg
        .serve
        .token()
        .map_err(|e| anyhow::anyhow!("serve: {e}"))?;
    let notifier = RunNotifier(
        Dispatcher::start(&cfg.sinks, Arc::new(SystemClock))
            .map_err(|e| anyhow::anyhow!("sinks: {e}"))?,
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = serve::router_with(published.clone(), token);
    let limits = serve::ServerLimits::from_config(&cfg.serve);
    let server = tokio::spawn(serve::serve_router_with(
        listener,
        app,
        limits,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let opts = AgentOptions {
        engine: cfg.engine.clone(),
        governor: cfg.governor.clone(),
        kube: cfg.kubernetes.clone(),
        pause: args.pause,
        elect: !args.no_leader_election,
        publish: Some(published),
    };
    let prom = match (&args.prometheus, cfg.prometheus.clone()) {
        (Some(url), Some(mut p)) => {
            p.url = url.clone();
            Some(p)
        }
        (Some(url), None) => Some(PrometheusConfig::new(url.clone())),
        (None, p) => p,
    };
    let result = match prom {
        Some(p) => {
            let collector =
                PrometheusCollector::new(&p).map_err(|e| anyhow::anyhow!("prometheus: {e}"))?;
            drive(client, catalog, collector, notifier, opts).await
        }
        None => {
            tracing::warn!("no Prometheus configured (--prometheus or prometheus.url): metric signals are unknown, so nodewatch alerts on events only and never cordons");
            drive(client, catalog, NoMetrics, notifier, opts).await
        }
    };
    let _ = stop_tx.send(());
    server.await??;
    result
}

async fn drive<M: MetricSource>(
    client: ::kube::Client,
    catalog: Arc<nodewatch::catalog::Catalog>,
    metrics: M,
    notifier: RunNotifier,
    opts: AgentOptions,
) -> Result<()> {
    let step = Duration::from_millis(opts.engine.step.0.max(1000) as u64);
    let (dry, paused) = (opts.governor.dry_run, opts.pause);
    let agent = Agent::start(client, catalog, metrics, notifier, opts);
    tracing::info!(
        identity = agent.identity(),
        dry_run = dry,
        paused,
        "nodewatch run: listing events, nodes and pods"
    );
    let started = Instant::now();
    let mut shutdown = Box::pin(shutdown_signal());
    loop {
        tokio::select! {
            r = agent.wait_synced(Duration::from_secs(30)) => match r {
                Ok(()) => break,
                Err(e) => tracing::warn!("still waiting for the initial lists: {e}"),
            },
            _ = &mut shutdown => {
                agent.shutdown().await;
                return Ok(());
            }
        }
    }
    let (events, nodes, pods) = agent.source.sizes();
    tracing::warn!(
        "initial sync in {:.2} s: {nodes} nodes, {pods} pods, {events} events",
        started.elapsed().as_secs_f64()
    );
    agent
        .run(Arc::new(SystemClock), Ticks::Every(step), shutdown)
        .await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
