//! `nodewatch demo`: replays the built-in Binder incident (or a scenario
//! directory) at an accelerated pace with the HTTP server, status page and
//! query API up.
//!
//! By default the scenario is shifted in time (a whole number of steps, see
//! [`nodewatch::scenario::shift_landing`]) so that its last tick lands on the
//! wall clock at the moment the paced replay reaches it: every tick is in
//! the past when it is published, and when the replay ends the newest data is
//! "now", where Grafana's "last 6 hours" and `promtool query instant` look.
//! `--original-time` keeps the scenario's own timestamps. `--until` is
//! always read in the scenario's own time (`2018-02-20T17:10:00Z` for the
//! Binder incident), shifted or not.

use anyhow::{Context, Result};
use nodewatch::scenario::{self, Streamed};
use nodewatch::time::{Clock, Duration, SystemClock, Timestamp};
use nodewatch::{serve, tools::replay};
use std::path::PathBuf;

/// Arguments of `nodewatch demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
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
    /// Stop the replay at this moment of the scenario, in its own time
    /// (RFC 3339, e.g. 2018-02-20T17:10:00Z), and keep serving that moment.
    #[arg(long, value_parser = parse_until)]
    until: Option<Timestamp>,
    /// Keep the scenario's own timestamps (2018 for the built-in incident)
    /// instead of shifting the replay so that it ends now.
    #[arg(long)]
    original_time: bool,
}

/// Longest replay whose landing is computed exactly (a century): a slower
/// `--speed` lands the last tick a century ahead, which is never reached.
const MAX_PACE: Duration = Duration(100 * 365 * 86_400_000);

/// Parses `--until`.
fn parse_until(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(s).map_err(|e| e.to_string())
}

/// Parses `--speed`: a finite positive number (0 or NaN would mean an
/// unpaced replay while announcing a pace).
fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("must be a positive number, got {s:?}")),
    }
}

/// Shifts `sc` so that its last replayed tick (`until` or the end) lands on
/// the wall clock when a replay paced at `speed` and started `now` reaches
/// it. Returns the shift.
fn shift_to_now(
    sc: &mut Streamed,
    until: Option<Timestamp>,
    speed: f64,
    now: Timestamp,
) -> Duration {
    let meta = &sc.scenario.meta;
    let last = last_tick(meta, until);
    // The driver paces each tick (at - start) / speed after it starts, which
    // is a little after `now`: the last tick is never in the future.
    // Capped so that an absurdly slow `--speed` cannot overflow a time.
    let pace_ms = (last.since(meta.start).0 as f64 / speed).min(MAX_PACE.0 as f64);
    let lands_at = now.add(Duration(pace_ms as i64));
    let by = scenario::shift_landing(meta, last, lands_at);
    sc.shift(by);
    by
}

/// The scenario's last replayed tick: the last at or before `until` (or
/// the end), and the start when `until` is before it.
fn last_tick(meta: &scenario::Meta, until: Option<Timestamp>) -> Timestamp {
    let last = until.map_or(meta.end, |u| u.min(meta.end)).max(meta.start);
    let step = meta.step.0.max(1);
    meta.start
        .add(Duration(last.since(meta.start).0 / step * step))
}

/// Runs `nodewatch demo`.
pub async fn run(args: DemoArgs) -> Result<()> {
    let catalog = crate::load_catalog(&args.rules)?;
    // A directory is streamed, so a long or wide scenario does not have
    // to fit in memory; the built-in one is generated in memory.
    let mut sc: Streamed = match &args.scenario {
        Some(d) => {
            scenario::open_dir(d).with_context(|| format!("reading scenario {}", d.display()))?
        }
        None => scenario::builtin("binder")
            .context("built-in scenario missing")?
            .into(),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let published = serve::Published::new();
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(listener, published.clone(), async move {
        let _ = stop_rx.await;
    }));
    let (speed, last) = (args.speed, last_tick(&sc.scenario.meta, args.until));
    let hours = sc
        .scenario
        .meta
        .end
        .since(sc.scenario.meta.start)
        .as_secs_f64()
        / 3600.0;
    println!(
        "nodewatch demo: replaying {:?} ({hours:.0} h of cluster time at {speed}x, about {:.0} min)",
        sc.scenario.meta.name,
        hours * 3600.0 / speed / 60.0
    );
    let shift = if args.original_time {
        println!("time: the scenario's own (--original-time)");
        Duration(0)
    } else {
        let by = shift_to_now(&mut sc, args.until, speed, SystemClock.now());
        println!(
            "time: {last} replays as {} (shifted by {by}: the last tick is now when the replay reaches it; --original-time keeps the scenario's times)",
            last.add(by)
        );
        by
    };
    println!("status page: http://{addr}/   metrics: http://{addr}/metrics   (Ctrl-C to stop)");
    let opts = replay::Options {
        speed: Some(speed),
        publish: Some(published),
        until: args.until.map(|u| u.add(shift)),
        ..Default::default()
    };
    let replay = replay::run_streamed(sc, catalog, opts);
    let outcome = tokio::select! {
        o = replay => Some(o.context("replaying the scenario")?),
        _ = tokio::signal::ctrl_c() => None,
    };
    if let Some(outcome) = outcome {
        print!("\n{}", outcome.report().summary());
        if !args.exit_when_done {
            println!("replay finished; still serving http://{addr}/ (Ctrl-C to stop)");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_tick_lands_when_the_paced_replay_reaches_it() {
        let binder = || Streamed::from(scenario::builtin("binder").expect("binder"));
        let mut sc = binder();
        let (start, end, step) = (
            sc.scenario.meta.start,
            sc.scenario.meta.end,
            sc.scenario.meta.step,
        );
        let now = Timestamp::parse_rfc3339("2026-12-04T16:20:17Z").unwrap();
        // 43 h at 600x: the replay reaches its end 258 s after it starts.
        let by = shift_to_now(&mut sc, None, 600.0, now);
        let lands = now.add(Duration::secs(258));
        let meta = &sc.scenario.meta;
        assert_eq!(meta.end, end.add(by));
        assert_eq!(meta.start, start.add(by));
        assert!(meta.end <= lands && lands.0 - meta.end.0 < step.0);
        // `--until` (in the scenario's own time) is the tick that lands.
        let mut sc = binder();
        let until = Timestamp::parse_rfc3339("2018-02-20T17:10:00Z").unwrap();
        let by = shift_to_now(&mut sc, Some(until), 1e9, now);
        assert_eq!(
            until.add(by),
            Timestamp::parse_rfc3339("2026-12-04T16:20:00Z").unwrap()
        );
        // A speed of 1e-300 would pace the replay over 1e290 years.
        let mut sc = binder();
        let by = shift_to_now(&mut sc, None, 1e-300, now);
        assert!(sc.scenario.meta.end.since(now) <= MAX_PACE && by.0 > 0);
    }
}
