//! Feeding a streamed `metrics.om` into the replay's [`Tsdb`]: before each
//! tick, samples are read up to [`READ_AHEAD`] past it (so the file is
//! visited once per chunk of time, not once per tick) and those older than
//! any query of the catalog can reach in that series are dropped (series no
//! query reads are not kept). What is held is then at most, per series, its
//! widest window plus the read-ahead.

use crate::catalog::Catalog;
use crate::collect::tsdb::Tsdb;
use crate::scenario::{MetricStream, ScenarioError};
use crate::time::{Duration, Timestamp};

/// How far past the tick samples are read: larger reads the file in fewer,
/// longer visits; smaller holds fewer samples.
pub const READ_AHEAD: Duration = Duration(10 * 60 * 1000);

/// A metric stream and where it has been read to.
pub(super) struct Feed {
    stream: MetricStream,
    /// The stream's series (in its order) → the Tsdb's.
    stored: Vec<usize>,
    /// Every sample at or before this time (ms) has been read.
    read_to: i64,
    /// Per Tsdb series, how far back the catalog looks at it (ms; 0 for
    /// one it never reads, whose samples are not kept at all). Worked out
    /// at the first tick, when the catalog is known.
    reach: Option<Vec<i64>>,
}

impl Feed {
    /// An empty Tsdb over `stream`'s series, and the feed that fills it;
    /// or, when two series of the file are one series to Prometheus (labels
    /// that differ only by empty values), the file read whole, as the
    /// merge of their samples needs them all.
    pub(super) fn new(mut stream: MetricStream) -> Result<(Tsdb, Feed), Tsdb> {
        match Tsdb::for_stream(stream.families().to_vec()) {
            Some((tsdb, stored)) => Ok((tsdb, {
                // The Tsdb has the labels now; the stream needs only names.
                stream.forget_labels();
                Feed {
                    stream,
                    stored,
                    read_to: i64::MIN,
                    reach: None,
                }
            })),
            None => {
                let mut families = stream.families().to_vec();
                let mut all: Vec<&mut Vec<(i64, f64)>> = families
                    .iter_mut()
                    .flat_map(|f| f.series.iter_mut().map(|s| &mut s.samples))
                    .collect();
                // An error here (the file changed since it was indexed)
                // leaves what was read: the replay then runs short of data.
                let _ = stream.read_until(i64::MAX, |i, ts, v| all[i].push((ts, v)));
                Err(Tsdb::new(families))
            }
        }
    }

    /// Reads what the tick `at` needs and drops what no later tick can.
    /// Reading goes in steps of [`READ_AHEAD`], dropping as it goes, so a
    /// long history before the first tick is never held whole either.
    pub(super) fn advance(
        &mut self,
        tsdb: &mut Tsdb,
        at: Timestamp,
        catalog: &Catalog,
    ) -> Result<(), ScenarioError> {
        if at.0 <= self.read_to {
            return Ok(());
        }
        let reach = self.reach.get_or_insert_with(|| {
            tsdb.reach(catalog.signals.iter().filter_map(|s| s.metric.as_ref()))
        });
        let target = at.0.saturating_add(READ_AHEAD.0);
        while let Some(next) = self.stream.next_ts().filter(|&t| t <= target) {
            let upto = next.saturating_add(READ_AHEAD.0).min(target);
            let stored = &self.stored;
            self.stream.read_until(upto, |i, ts, v| {
                let s = stored[i];
                if reach.get(s).is_some_and(|&r| r > 0) {
                    tsdb.push(s, ts, v);
                }
            })?;
            tsdb.forget_each(upto.min(at.0), reach);
        }
        tsdb.forget_each(at.0, reach);
        self.read_to = target;
        Ok(())
    }
}
