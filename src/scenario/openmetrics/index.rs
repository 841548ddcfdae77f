//! Streaming `metrics.om`: one pass validates the whole file (with the
//! same errors and line numbers as [`super::parse`]) and records where each
//! series' samples lie, keeping no sample; [`MetricStream`] then reads them
//! back series by series up to a time, so a replay holds only the samples
//! its windows need however long or wide the scenario is.
//!
//! This relies on each series' samples being contiguous in the file, as
//! the writer and DESIGN.md's convention have them. A file whose series
//! interleave is reported as such, and the caller reads it whole.

use super::parser::{split_sample, Line, LineParser};
use crate::scenario::lines::Lines;
use crate::scenario::{Family, ScenarioError};
use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Longest line of `metrics.om` (a sample line is ~200 bytes).
pub const MAX_LINE: usize = 1 << 20;

/// Bytes first read per series and call: a series' next chunk of time is
/// usually about as long as its last, so later reads ask for that plus a
/// margin (a read of a few KiB where 16 KiB would be copied for nothing).
const READ_SIZE: usize = 16 << 10;

/// Where one series' samples are in the file, and how far reading got.
#[derive(Clone, Debug)]
struct Cursor {
    /// Byte offset of the next line to read.
    pos: u64,
    /// Byte offset just after the series' last sample line.
    end: u64,
    /// Line number at `pos`.
    line: usize,
    /// Timestamp of the next sample (ms, unshifted), `i64::MAX` when done.
    next_ts: i64,
    /// Bytes the last read consumed (0 before the first).
    last_read: u32,
}

/// `metrics.om`, indexed for reading in time order.
pub struct MetricStream {
    path: PathBuf,
    file: File,
    /// Families with their series' labels, no samples.
    families: Vec<Family>,
    /// Per series (families in order, then their series), its cursor and
    /// the sample name its lines carry.
    cursors: Vec<(Cursor, usize)>,
    /// Added to every timestamp read (`demo`'s shift to now).
    shift: i64,
    buf: Vec<u8>,
}

/// What [`index`] found.
pub enum Indexed {
    /// Each series contiguous: streamable.
    Stream(MetricStream),
    /// Series interleave: the file must be read whole.
    Interleaved,
}

fn error(path: &Path, line: Option<usize>, message: String) -> ScenarioError {
    ScenarioError {
        file: path.to_path_buf(),
        line,
        message,
    }
}

/// Validates `path` and indexes its series.
pub fn index(path: &Path) -> Result<Indexed, ScenarioError> {
    let open = || File::open(path).map_err(|e| error(path, None, format!("cannot read: {e}")));
    let mut lines = Lines::new(BufReader::with_capacity(1 << 18, open()?), MAX_LINE);
    let mut parser = LineParser::new(path);
    // Per family, per series: its cursor; `last` is the series of the
    // previous sample line, to see a series come back after another.
    let mut runs: Vec<Vec<Cursor>> = Vec::new();
    let mut last: Option<(usize, usize)> = None;
    let mut contiguous = true;
    loop {
        let (n, offset, text) = match lines.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => return Err(error(path, e.line(), e.message())),
        };
        let end = offset + text.len() as u64 + 1;
        let Line::Sample {
            family, series, ts, ..
        } = parser.line(n, text)?
        else {
            continue;
        };
        if runs.len() <= family {
            runs.resize_with(family + 1, Vec::new);
        }
        let fam = &mut runs[family];
        if fam.len() <= series {
            fam.push(Cursor {
                pos: offset,
                end,
                line: n,
                next_ts: ts,
                last_read: 0,
            });
        } else {
            contiguous &= last == Some((family, series));
            fam[series].end = end;
        }
        last = Some((family, series));
    }
    let families = parser.finish(lines.newlines() + 1)?;
    if !contiguous {
        return Ok(Indexed::Interleaved);
    }
    runs.resize_with(families.len(), Vec::new);
    let mut cursors = Vec::new();
    for (f, (fam, runs)) in families.iter().zip(runs).enumerate() {
        debug_assert_eq!(fam.series.len(), runs.len());
        cursors.extend(runs.into_iter().map(|c| (c, f)));
    }
    Ok(Indexed::Stream(MetricStream {
        path: path.to_path_buf(),
        file: open()?,
        families,
        cursors,
        shift: 0,
        buf: Vec::new(),
    }))
}

impl MetricStream {
    /// The families and their series (labels only, no samples).
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// Drops the series' labels, keeping each family's name (all reading
    /// needs) once the caller has its own copy: at thousands of nodes the
    /// labels are a large part of what a replay holds.
    pub fn forget_labels(&mut self) {
        for f in &mut self.families {
            f.series = Vec::new();
            f.help = String::new();
        }
    }

    /// The (shifted) timestamp of the earliest sample not yet read, if any.
    pub fn next_ts(&self) -> Option<i64> {
        let next = self.cursors.iter().map(|(c, _)| c.next_ts).min()?;
        (next != i64::MAX).then(|| next.saturating_add(self.shift))
    }

    /// Moves every timestamp read from now on by `by_ms`.
    pub fn shift(&mut self, by_ms: i64) {
        self.shift = by_ms;
    }

    /// Calls `push(series, ts, value)` for every sample not yet read with a
    /// (shifted) timestamp at or before `until`, series by series in file
    /// order and each in time order; `series` counts the series of all
    /// families in order. An error means the file changed since [`index`].
    pub fn read_until(
        &mut self,
        until: i64,
        mut push: impl FnMut(usize, i64, f64),
    ) -> Result<(), ScenarioError> {
        let until = until.saturating_sub(self.shift);
        for i in 0..self.cursors.len() {
            if self.cursors[i].0.next_ts > until {
                continue;
            }
            let name = &self.families[self.cursors[i].1].name;
            let cursor = &mut self.cursors[i].0;
            read_series(
                &self.file,
                &self.path,
                &mut self.buf,
                cursor,
                name,
                until,
                |ts, v| push(i, ts.saturating_add(self.shift), v),
            )?;
        }
        Ok(())
    }
}

/// Reads `cursor`'s samples up to `until` (unshifted), leaving it at the
/// first later one.
fn read_series(
    file: &File,
    path: &Path,
    buf: &mut Vec<u8>,
    cursor: &mut Cursor,
    name: &str,
    until: i64,
    mut push: impl FnMut(i64, f64),
) -> Result<(), ScenarioError> {
    let changed = |line: usize, what: &str| {
        error(
            path,
            Some(line),
            format!("{what}: the file changed during the replay"),
        )
    };
    let mut size = match cursor.last_read {
        0 => READ_SIZE,
        n => n as usize + n as usize / 4 + 256,
    };
    let from = cursor.pos;
    while cursor.pos < cursor.end {
        let want = ((cursor.end - cursor.pos) as usize).min(size);
        buf.resize(want, 0);
        file.read_exact_at(buf, cursor.pos)
            .map_err(|e| error(path, None, format!("cannot read: {e}")))?;
        let mut used = 0;
        while let Some(nl) = buf[used..].iter().position(|&b| b == b'\n') {
            let raw = std::str::from_utf8(&buf[used..used + nl])
                .map_err(|_| changed(cursor.line, "not UTF-8"))?;
            let text = raw.strip_suffix('\r').unwrap_or(raw);
            if !text.is_empty() && !text.starts_with('#') {
                let (n, _, v, ts) = split_sample(text).map_err(|m| changed(cursor.line, &m))?;
                if n == name {
                    if ts > until {
                        cursor.next_ts = ts;
                        cursor.last_read = (cursor.pos - from).min(u32::MAX.into()) as u32;
                        return Ok(());
                    }
                    push(ts, v);
                }
            }
            used += nl + 1;
            cursor.pos += (nl + 1) as u64;
            cursor.line += 1;
        }
        if used == 0 {
            // A line longer than the buffer: read it whole next time.
            if want < size || size > MAX_LINE {
                return Err(changed(cursor.line, "no line end"));
            }
            size *= 2;
        }
    }
    cursor.next_ts = i64::MAX;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.om");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn read(s: &mut MetricStream, until: i64) -> Vec<(usize, i64, f64)> {
        let mut got = Vec::new();
        s.read_until(until, |i, t, v| got.push((i, t, v))).unwrap();
        got
    }

    #[test]
    fn series_are_read_back_in_time_order_shifted() {
        let text = "# TYPE a gauge\na{n=\"1\"} 1 1\na{n=\"1\"} 2 2\na{n=\"1\"} 3 3\n\
                    a{n=\"2\"} 4 1\n# TYPE c counter\nc_total 5 1\nc_created 0 1\nc_total 6 3\n# EOF\n";
        let (_d, path) = write(text);
        let Indexed::Stream(mut s) = index(&path).unwrap() else {
            panic!("contiguous series stream");
        };
        assert_eq!(s.families().len(), 2);
        assert!(s
            .families()
            .iter()
            .all(|f| f.series.iter().all(|x| x.samples.is_empty())));
        assert_eq!(s.next_ts(), Some(1000));
        assert_eq!(
            read(&mut s, 2000),
            vec![
                (0, 1000, 1.0),
                (0, 2000, 2.0),
                (1, 1000, 4.0),
                (2, 1000, 5.0)
            ]
        );
        s.shift(10_000);
        assert_eq!(s.next_ts(), Some(13_000));
        assert_eq!(read(&mut s, 12_999), vec![]);
        assert_eq!(
            read(&mut s, i64::MAX),
            vec![(0, 13_000, 3.0), (2, 13_000, 6.0)]
        );
        assert_eq!(s.next_ts(), None);
    }

    #[test]
    fn interleaved_series_and_bad_lines_are_told() {
        let (_d, path) = write("a{n=\"1\"} 1 1\na{n=\"2\"} 1 1\na{n=\"1\"} 2 2\n# EOF\n");
        assert!(matches!(index(&path).unwrap(), Indexed::Interleaved));
        // The same errors, on the same lines, as the whole-text parser.
        for bad in [
            "# TYPE a gauge\na 1 1\na 2 1\n# EOF\n",
            "a 1 1\n",
            "a 1 1\nb 1 1\na 2 2\n# EOF",
        ] {
            let (_d, path) = write(bad);
            let e = index(&path).err().expect("refused").to_string();
            assert_eq!(e, super::super::parse(bad, &path).unwrap_err().to_string());
        }
        // A line without end is refused before it is held whole.
        let (_d, path) = write(&format!("a 1 1\n# {}", "x".repeat(MAX_LINE + 1)));
        let e = index(&path).err().expect("refused");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("limit"), "{e}");
    }
}
