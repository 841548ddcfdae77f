//! `nab`: nodewatch's univariate detector on a NAB-layout corpus, scored as
//! NAB scores (standard, reward_low_FP, reward_low_FN), overall and per
//! category, beside the null and perfect baselines.
//!
//! `cargo run --release --bin nab -- --data ../shared/nab/data --labels ../shared/nab/labels/combined_windows.json`
//!
//! With `--loco`, the honest score: every category scored with settings
//! chosen from a small grid on the other categories (leave one category
//! out), then the in-sample score and each setting's sensitivity.

use anyhow::{Context, Result};
use clap::Parser;
use nodewatch::tools::nab::{self, Corpus, NabDetector, NabSettings};
use std::io::Write;
use std::path::PathBuf;

/// Scores nodewatch's streaming detector on a NAB-layout corpus.
#[derive(Parser)]
#[command(name = "nab", version, about)]
struct Args {
    /// Data directory: `<category>/<file>.csv` with `timestamp,value` rows.
    #[arg(long)]
    data: PathBuf,
    /// Labels file mapping `<category>/<file>.csv` to `[start, end]` windows.
    #[arg(long)]
    labels: PathBuf,
    /// Detector settings (YAML); default: the fixed settings nodewatch ships.
    #[arg(long)]
    settings: Option<PathBuf>,
    /// Also print one line per file.
    #[arg(long)]
    per_file: bool,
    /// Leave-one-category-out: choose the grid's settings on all
    /// categories but one, score that one, rotate (`--settings` is the base
    /// the grid varies).
    #[arg(long, conflicts_with_all = ["per_file", "flags"])]
    loco: bool,
    /// With `--loco`: let the grid also choose which signals to use (value
    /// alone, with the hourly mean, with the daily change, or all three).
    #[arg(long, requires = "loco")]
    loco_signals: bool,
    /// Print the settings in use as YAML (a starting point for
    /// `--settings`) and exit.
    #[arg(long)]
    show_settings: bool,
    /// Write the flagged rows (`file,row`, rows counted from 0) to this CSV file.
    #[arg(long)]
    flags: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let settings = match &args.settings {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
        }
        None => NabSettings::default(),
    };
    if args.show_settings {
        return print(&serde_yaml::to_string(&settings)?);
    }
    let corpus = Corpus::load(&args.data, &args.labels)?;
    if args.loco {
        let grid = if args.loco_signals {
            nab::loco::Grid::with_signals(settings)
        } else {
            nab::loco::Grid::shipped(settings)
        };
        let evals = nab::loco::Evaluations::run(&corpus, &grid)?;
        return print(&nab::loco_report::report(&evals, &grid));
    }
    let summary = nab::run(&corpus, || NabDetector::new(settings.clone()))?;
    if let Some(path) = &args.flags {
        let mut out = String::from("file,row\n");
        for f in &summary.files {
            for i in &f.flagged {
                out.push_str(&format!("{},{i}\n", f.key));
            }
        }
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut text = String::new();
    if args.per_file {
        text.push_str(&summary.per_file());
        text.push('\n');
    }
    text.push_str(&summary.table());
    print(&text)
}

fn print(text: &str) -> Result<()> {
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
