//! The text `nab --loco` prints: the LOCO folds and their combined score
//! (the headline), the in-sample score of the settings chosen on every
//! category (secondary), and each grid setting's sensitivity.

use super::harness::GroupScore;
use super::loco::{best, loco, summary, Evaluations, Grid, Loco};
use std::fmt::Write;

/// Normalised (standard, low FP, low FN) cells, or the raw standard score
/// for a group without windows.
fn cells(g: &GroupScore) -> String {
    let n = g.normalised();
    if n.iter().all(Option::is_none) {
        return format!(
            "{:>8} {:>13} {:>13}",
            format!("raw {:+.2}", g.raw[0].0),
            format!("raw {:+.2}", g.raw[1].0),
            format!("raw {:+.2}", g.raw[2].0)
        );
    }
    let f = |k: usize| n[k].map_or("n/a".to_string(), |s| format!("{:.1}", s.0));
    format!("{:>8} {:>13} {:>13}", f(0), f(1), f(2))
}

fn row(s: &mut String, name: &str, settings: &str, g: &GroupScore) {
    let _ = writeln!(
        s,
        "{name:<24} {settings:<34} {:>4} {:>4} {:>4} {:>4}  {}",
        g.windows,
        g.tp,
        g.fn_,
        g.fp,
        cells(g)
    );
}

fn header(s: &mut String, first: &str, second: &str) {
    let _ = writeln!(
        s,
        "{first:<24} {second:<34} {:>4} {:>4} {:>4} {:>4}  {:>8} {:>13} {:>13}",
        "win", "TP", "FN", "FP", "standard", "reward_low_FP", "reward_low_FN"
    );
}

/// LOCO with the default choice ([`best`]) among the points `allowed`.
fn loco_among(evals: &Evaluations, allowed: impl Fn(&[f64]) -> bool + Copy) -> Option<Loco> {
    loco(evals, |train| best(train, allowed))
}

/// The full `--loco` report of `grid` evaluated over every category.
pub fn report(evals: &Evaluations, grid: &Grid) -> String {
    let mut s = String::new();
    let Some(l) = loco_among(evals, |_| true) else {
        return "no grid point to choose from\n".to_string();
    };
    let _ = writeln!(
        s,
        "LOCO (headline): each category scored with the settings chosen on the other three\n\
         (grid: {} points; chosen by the mean of the three normalised profiles on the\n\
         training categories; combined = the held-out folds' raw scores summed over the\n\
         whole corpus, normalised with the whole corpus's null and perfect scores)\n",
        evals.points.len()
    );
    header(&mut s, "held-out category", "chosen on the other three");
    for f in &l.folds {
        row(
            &mut s,
            &f.held_out,
            &grid.describe(&evals.points[f.chosen]),
            &f.test,
        );
    }
    row(&mut s, "combined LOCO", "", &l.combined);
    let _ = writeln!(
        s,
        "\nThe same settings on their own training categories (what the choice saw):\n"
    );
    header(&mut s, "trained without", "");
    for f in &l.folds {
        row(&mut s, &format!("  {}", f.held_out), "", &f.train);
    }

    let Some(all) = best(evals, |_| true) else {
        return s;
    };
    let _ = writeln!(
        s,
        "\nIn-sample (secondary): settings chosen on all categories: {}\n",
        grid.describe(&evals.points[all])
    );
    s.push_str(&summary(evals, all).table());

    let _ = writeln!(
        s,
        "\nSensitivity: each setting pinned at one value. LOCO: the other settings still\n\
         chosen per fold; in-sample: the other settings at the in-sample choice.\n"
    );
    let chosen = &evals.points[all];
    for (a, (knob, values)) in grid.axes.iter().enumerate() {
        header(&mut s, knob.name(), "");
        for &v in values {
            let pinned = |p: &[f64]| p[a] == v;
            if let Some(l) = loco_among(evals, pinned) {
                row(&mut s, &format!("  {v}"), "LOCO", &l.combined);
            }
            let mut p = chosen.clone();
            p[a] = v;
            if let Some(i) = evals.points.iter().position(|q| *q == p) {
                let mark = if p == *chosen {
                    "in-sample (chosen)"
                } else {
                    "in-sample"
                };
                row(&mut s, "", mark, &evals.group(i, "all"));
            }
        }
    }
    s
}
