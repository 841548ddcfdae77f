//! The NAB harness: nodewatch's univariate detectors measured on the Numenta
//! Anomaly Benchmark (NAB) layout — `data/<category>/<file>.csv` with
//! `timestamp,value` rows and a labels file mapping `<category>/<file>.csv`
//! to anomaly windows — and scored the way NAB scores (re-implemented from
//! its description, not from its code).
//!
//! - [`data`]: finds the CSV files of a data directory and streams their rows;
//! - [`labels`]: reads the windows and turns them into row ranges;
//! - [`scorer`]: the NAB score of a file's 0/1 flags under one profile;
//! - [`detector`]: the streaming detector (nodewatch's robust z, CUSUM and
//!   alert semantics, one row at a time, fixed settings);
//! - [`harness`]: runs a detector and the null/perfect baselines over a
//!   corpus and normalises the scores per category and overall;
//! - [`loco`]: leave-one-category-out — settings chosen from a small grid
//!   without the category they are scored on;
//! - [`loco_report`]: the text of a LOCO run.

pub mod data;
pub mod detector;
pub mod harness;
pub mod labels;
pub mod loco;
pub mod loco_report;
pub mod scorer;

pub use data::{discover, read_series, DataFile, Row};
pub use detector::{NabDetector, NabSettings};
pub use harness::{run, Corpus, GroupScore, Summary};
pub use labels::{Labels, Window};
pub use scorer::{probation, scaled_sigmoid, score_file, FileOutcome, Profile, PROFILES};

use std::path::PathBuf;

/// What can go wrong reading a NAB corpus.
#[derive(Debug, thiserror::Error)]
pub enum NabError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A CSV row is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The labels file is malformed.
    #[error("{}: {message}", path.display())]
    Labels {
        /// The labels file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data directory holds no CSV file with labels.
    #[error("{}: no labelled CSV files found (expected <category>/<file>.csv)", path.display())]
    Empty {
        /// The data directory.
        path: PathBuf,
    },
}

/// Parses a NAB timestamp (`2014-04-10 07:15:00` or with `.000000`
/// fractional seconds; NAB times carry no zone and are read as UTC) into
/// milliseconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let iso = format!("{}Z", s.replacen(' ', "T", 1));
    crate::time::Timestamp::parse_rfc3339(&iso)
        .ok()
        .map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nab_times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-01 00:01:00"), Some(60_000));
        assert_eq!(
            parse_time("2014-04-10 07:15:00.000000"),
            parse_time("2014-04-10 07:15:00")
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
