//! NAB's scoring of one file's 0/1 detections, re-implemented from its
//! description (`../shared/nab/README.md`):
//!
//! - rows of the probationary period (the first 15%, at most 750 rows) are
//!   not scored;
//! - inside a window only the earliest detection counts, worth
//!   `A_TP · σ(x) / σ(−1)` with `x = −(last − i + 1) / width`, so 1 on the
//!   window's first row and about 0 past its end;
//! - a window with no detection costs `A_FN`;
//! - a detection outside every window costs `A_FP · σ(x)` with
//!   `x = (i − last of the preceding window) / (its width − 1)` (σ is
//!   negative there: cheap just after a window, `−A_FP` far from it), or
//!   `−A_FP` when no window precedes it;
//!
//! where σ is the scaled sigmoid [`scaled_sigmoid`].

use super::Window;

/// The weights of one scoring profile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// NAB's name for it.
    pub name: &'static str,
    /// Weight of a true positive.
    pub a_tp: f64,
    /// Weight of a false positive.
    pub a_fp: f64,
    /// Weight of a missed window.
    pub a_fn: f64,
}

/// NAB's three profiles: standard, reward_low_FP, reward_low_FN.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        a_tp: 1.0,
        a_fp: 0.11,
        a_fn: 1.0,
    },
    Profile {
        name: "reward_low_FP",
        a_tp: 1.0,
        a_fp: 0.22,
        a_fn: 1.0,
    },
    Profile {
        name: "reward_low_FN",
        a_tp: 1.0,
        a_fp: 0.11,
        a_fn: 2.0,
    },
];

/// `2 / (1 + e^{5x}) − 1`, and −1 beyond `x = 3`: +1 far left, 0 at 0,
/// −1 far right.
pub fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// Rows of the probationary period of a file of `rows` rows:
/// ⌊0.15 · rows⌋, at most 750.
pub fn probation(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// The score of one file under one profile, and what it is made of.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FileOutcome {
    /// Raw score (sum of the contributions).
    pub score: f64,
    /// Windows detected.
    pub tp: usize,
    /// Scored detections outside every window.
    pub fp: usize,
    /// Windows missed.
    pub fn_: usize,
}

/// Scores `flags` (one per row) against `windows` (ascending, disjoint)
/// under `profile`, ignoring detections before row `probation`.
pub fn score_file(
    flags: &[bool],
    windows: &[Window],
    probation: usize,
    profile: &Profile,
) -> FileOutcome {
    let mut out = FileOutcome::default();
    let mut detected = vec![false; windows.len()];
    let peak = scaled_sigmoid(-1.0);
    for (i, _) in flags.iter().enumerate().skip(probation).filter(|(_, &f)| f) {
        // Windows are few (at most a handful per file): a scan is enough.
        if let Some(k) = windows.iter().position(|w| w.contains(i)) {
            if !detected[k] {
                detected[k] = true;
                let w = windows[k];
                let x = -((w.last - i + 1) as f64) / w.width() as f64;
                out.score += profile.a_tp * scaled_sigmoid(x) / peak;
                out.tp += 1;
            }
            continue;
        }
        out.fp += 1;
        match windows.iter().rev().find(|w| w.last < i) {
            Some(w) => {
                let x = (i - w.last) as f64 / (w.width().max(2) - 1) as f64;
                out.score += profile.a_fp * scaled_sigmoid(x);
            }
            None => out.score -= profile.a_fp,
        }
    }
    out.fn_ = detected.iter().filter(|d| !**d).count();
    out.score -= profile.a_fn * out.fn_ as f64;
    out
}

/// `100 · (s − null) / (perfect − null)`, or `None` when the perfect and
/// null detectors score the same (a group without windows).
pub fn normalise(s: f64, null: f64, perfect: f64) -> Option<f64> {
    let span = perfect - null;
    (span.abs() > 1e-12).then(|| 100.0 * (s - null) / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_and_probation() {
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_5).abs() < 1e-12);
        assert_eq!(probation(4032), 604);
        assert_eq!(probation(10_000), 750);
    }

    #[test]
    fn a_hand_computed_file() {
        // 20 rows, probation 3, one window on rows 10..=14 (width 5).
        // Flags on rows 1, 5, 12, 13 and 17:
        //   row 1  in the probationary period: not scored;
        //   row 5  before any window: FP, −A_FP;
        //   row 12 first detection in the window: x = −(14 − 12 + 1)/5 = −0.6,
        //          σ(−0.6) = 2/(1 + e^−3) − 1 = 0.905148, σ(−1) = 0.986614,
        //          TP worth A_TP · 0.905148/0.986614 = 0.917429;
        //   row 13 a later detection in the same window: nothing;
        //   row 17 FP after the window: x = (17 − 14)/(5 − 1) = 0.75,
        //          σ(0.75) = 2/(1 + e^3.75) − 1 = −0.954045, worth A_FP · σ.
        // Standard (A_FP 0.11): −0.11 + 0.917429 − 0.104945 = 0.702484.
        // Low FP (A_FP 0.22):   −0.22 + 0.917429 − 0.209890 = 0.487539.
        let mut flags = vec![false; 20];
        for i in [1, 5, 12, 13, 17] {
            flags[i] = true;
        }
        let w = [Window {
            first: 10,
            last: 14,
        }];
        let std = score_file(&flags, &w, 3, &PROFILES[0]);
        assert!((std.score - 0.702_484).abs() < 1e-6, "{std:?}");
        assert_eq!((std.tp, std.fp, std.fn_), (1, 2, 0));
        let low_fp = score_file(&flags, &w, 3, &PROFILES[1]);
        assert!((low_fp.score - 0.487_539).abs() < 1e-6, "{low_fp:?}");
        // Null misses the window (−A_FN = −1); perfect fires on row 10
        // (x = −1: exactly A_TP = 1). Standard: 100·(0.702484 + 1)/2 = 85.1242.
        let null = score_file(&[false; 20], &w, 3, &PROFILES[0]).score;
        let mut perfect = vec![false; 20];
        perfect[10] = true;
        let perfect = score_file(&perfect, &w, 3, &PROFILES[0]).score;
        assert_eq!((null, perfect), (-1.0, 1.0));
        let n = normalise(std.score, null, perfect).unwrap();
        assert!((n - 85.124_185).abs() < 1e-5, "{n}");
        // Low FN doubles the miss: null −2, so 100·(0.702484 + 2)/3 = 90.0828.
        let null = score_file(&[false; 20], &w, 3, &PROFILES[2]).score;
        let n = normalise(std.score, null, 1.0).unwrap();
        assert!((n - 90.082_790).abs() < 1e-5, "{n}");
    }

    #[test]
    fn no_windows_means_no_normalised_score() {
        let out = score_file(&[false, true, true], &[], 0, &PROFILES[0]);
        assert_eq!(out.fp, 2);
        assert!((out.score + 0.22).abs() < 1e-12);
        assert_eq!(normalise(out.score, 0.0, 0.0), None);
    }
}
