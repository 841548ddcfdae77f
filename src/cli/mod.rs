//! Subcommands with enough logic to deserve their own file. Each owns its
//! clap arguments and an async entry point; the work itself lives in the
//! library so tests can call it (the offline tools' in `nodewatch::tools`).

pub mod backtest;
pub mod check;
pub mod demo;
pub mod run;
pub mod suite;

use nodewatch::tools::replay::Outcome;

/// Prints a replay or backtest outcome: the report as JSON, or the
/// timeline followed by the detection summary.
pub fn print_outcome(outcome: &Outcome, json: bool) -> anyhow::Result<()> {
    let report = outcome.report();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "Timeline of {} ({} ticks):",
            outcome.meta.name, outcome.ticks
        );
        for (t, line) in outcome.timeline() {
            println!("{t}  {line}");
        }
        println!();
        print!("{}", report.summary());
    }
    Ok(())
}
