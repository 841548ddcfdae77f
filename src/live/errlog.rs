//! Rate limit for the log of an error that repeats (a watch or the Lease
//! loop against an API server that is down): the first error of a run of
//! failures is logged, then one summary with the count per [`EVERY`], then
//! the recovery. A dead API server costs a few lines a minute, not dozens
//! a second.

use std::time::{Duration, Instant};

/// While errors go on, at most one line per this interval.
pub(super) const EVERY: Duration = Duration::from_secs(60);

/// A line that is due, for the caller to word.
pub(super) struct Due {
    /// Errors in the current run of failures (1: the first).
    pub run: u64,
    /// Errors since the previous line (this one included).
    pub since_last: u64,
}

/// State of one rate-limited error log.
#[derive(Debug, Default)]
pub(super) struct ErrorLog {
    run: u64,
    unlogged: u64,
    last_logged: Option<Instant>,
}

impl ErrorLog {
    /// Counts an error; returns what to log when a line is due.
    pub fn failed(&mut self) -> Option<Due> {
        self.run += 1;
        self.unlogged += 1;
        if self.last_logged.is_some_and(|t| t.elapsed() < EVERY) {
            return None;
        }
        self.last_logged = Some(Instant::now());
        Some(Due {
            run: self.run,
            since_last: std::mem::take(&mut self.unlogged),
        })
    }

    /// A success: ends the run. Returns its length when a recovery line is
    /// worth logging (more than one error).
    pub fn recovered(&mut self) -> Option<u64> {
        let run = self.run;
        *self = ErrorLog::default();
        (run > 1).then_some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_then_silence_then_recovery() {
        let mut l = ErrorLog::default();
        let first = l.failed().expect("the first error is logged");
        assert_eq!((first.run, first.since_last), (1, 1));
        for _ in 0..1000 {
            assert!(
                l.failed().is_none(),
                "repeats within a minute are counted only"
            );
        }
        assert_eq!(l.recovered(), Some(1001));
        assert_eq!(l.recovered(), None);
        assert!(l.failed().is_some(), "a new run logs its first error");
        assert_eq!(l.recovered(), None, "a single error needs no recovery line");
    }
}
