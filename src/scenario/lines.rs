//! A line reader for scenario files that never holds more than one line:
//! `metrics.om` and `events.jsonl` are read in passes rather than whole, so
//! a line is capped (a file without newlines must not fill memory) and
//! carries its 1-based number and byte offset for errors and re-reading.

use std::io::{self, BufRead};

/// Why [`Lines::next_line`] stopped.
#[derive(Debug)]
pub(crate) enum LineError {
    /// Line `number` is longer than the cap.
    TooLong { number: usize, max: usize },
    /// Line `number` is not UTF-8.
    NotUtf8 { number: usize },
    /// Reading failed.
    Io(io::Error),
}

impl LineError {
    /// The 1-based line concerned, when there is one.
    pub(crate) fn line(&self) -> Option<usize> {
        match self {
            LineError::TooLong { number, .. } | LineError::NotUtf8 { number } => Some(*number),
            LineError::Io(_) => None,
        }
    }

    /// What is wrong, as the scenario errors word it.
    pub(crate) fn message(&self) -> String {
        match self {
            LineError::TooLong { max, .. } => {
                format!("line longer than the limit of {max} bytes")
            }
            LineError::NotUtf8 { .. } => "line is not valid UTF-8".to_string(),
            LineError::Io(e) => format!("cannot read: {e}"),
        }
    }
}

/// Lines of a reader, split on `\n` (a trailing `\r` is left to the
/// caller), each at most `max` bytes.
pub(crate) struct Lines<R> {
    reader: R,
    max: usize,
    buf: Vec<u8>,
    offset: u64,
    number: usize,
    newlines: usize,
}

impl<R: BufRead> Lines<R> {
    /// Reads `reader` from its start, lines capped at `max` bytes.
    pub(crate) fn new(reader: R, max: usize) -> Self {
        Lines {
            reader,
            max,
            buf: Vec::new(),
            offset: 0,
            number: 0,
            newlines: 0,
        }
    }

    /// How many `\n` were read so far: `str::split('\n')` gives one piece
    /// more than this over the whole file.
    pub(crate) fn newlines(&self) -> usize {
        self.newlines
    }

    /// The next line as `(number, byte offset of its start, text)`, or
    /// `None` at the end. The cap is checked while reading, before the
    /// line is held whole.
    pub(crate) fn next_line(&mut self) -> Result<Option<(usize, u64, &str)>, LineError> {
        self.buf.clear();
        let start = self.offset;
        let mut ended = false;
        loop {
            let available = self.reader.fill_buf().map_err(LineError::Io)?;
            if available.is_empty() {
                break;
            }
            let (take, newline) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let content = if newline { take - 1 } else { take };
            if self.buf.len() + content > self.max {
                return Err(LineError::TooLong {
                    number: self.number + 1,
                    max: self.max,
                });
            }
            self.buf.extend_from_slice(&available[..content]);
            self.reader.consume(take);
            self.offset += take as u64;
            if newline {
                self.newlines += 1;
                ended = true;
                break;
            }
        }
        if !ended && self.buf.is_empty() {
            return Ok(None);
        }
        self.number += 1;
        let number = self.number;
        let text = std::str::from_utf8(&self.buf).map_err(|_| LineError::NotUtf8 { number })?;
        Ok(Some((number, start, text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_numbers_offsets_and_a_cap() {
        let text = "ab\n\ncd\r\nefg";
        let mut l = Lines::new(io::BufReader::with_capacity(2, text.as_bytes()), 4);
        let mut got = Vec::new();
        while let Some((n, off, s)) = l.next_line().unwrap() {
            got.push((n, off, s.to_string()));
        }
        assert_eq!(
            got,
            vec![
                (1, 0, "ab".into()),
                (2, 3, "".into()),
                (3, 4, "cd\r".into()),
                (4, 8, "efg".into())
            ]
        );
        assert_eq!(l.newlines(), 3);
        let mut l = Lines::new(
            io::BufReader::with_capacity(2, "ok\ntoo long\n".as_bytes()),
            4,
        );
        assert!(l.next_line().unwrap().is_some());
        let e = l.next_line().unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(e.message().contains("limit of 4 bytes"), "{}", e.message());
    }
}
