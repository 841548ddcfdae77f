//! NAB labels: a JSON object mapping `<category>/<file>.csv` to a list of
//! `[start, end]` anomaly windows (NAB timestamps, inclusive), and their
//! translation into row ranges of the file they label.

use super::{parse_time, NabError};
use std::collections::BTreeMap;
use std::path::Path;

/// An anomaly window as rows of one file, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// First row inside the window.
    pub first: usize,
    /// Last row inside the window.
    pub last: usize,
}

impl Window {
    /// Rows in the window.
    pub fn width(&self) -> usize {
        self.last + 1 - self.first
    }

    /// Whether row `i` lies inside.
    pub fn contains(&self, i: usize) -> bool {
        self.first <= i && i <= self.last
    }
}

/// The windows of every labelled file, as time spans in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    spans: BTreeMap<String, Vec<(i64, i64)>>,
}

impl Labels {
    /// Reads a labels file such as NAB's `labels/combined_windows.json`.
    pub fn load(path: &Path) -> Result<Labels, NabError> {
        let text = std::fs::read_to_string(path).map_err(|source| NabError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Labels::parse(&text).map_err(|message| NabError::Labels {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses the JSON text of a labels file.
    pub fn parse(text: &str) -> Result<Labels, String> {
        let raw: BTreeMap<String, Vec<Vec<String>>> =
            serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut spans = BTreeMap::new();
        for (key, windows) in raw {
            let mut out = Vec::with_capacity(windows.len());
            for w in windows {
                let [a, b] = w.as_slice() else {
                    return Err(format!("{key}: a window is [start, end], found {w:?}"));
                };
                let (Some(a), Some(b)) = (parse_time(a), parse_time(b)) else {
                    return Err(format!("{key}: invalid window time in {w:?}"));
                };
                if b < a {
                    return Err(format!("{key}: window {w:?} ends before it starts"));
                }
                out.push((a, b));
            }
            out.sort_unstable();
            spans.insert(key, out);
        }
        Ok(Labels { spans })
    }

    /// The windows of file `key` as time spans, or `None` when the file is
    /// not labelled.
    pub fn spans(&self, key: &str) -> Option<&[(i64, i64)]> {
        self.spans.get(key).map(Vec::as_slice)
    }

    /// Keeps only the files whose key satisfies `keep` (a fold's training
    /// labels must not hold the held-out category's windows).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.spans.retain(|k, _| keep(k));
    }

    /// Labelled files.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when no file is labelled.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The windows of file `key` as row ranges of a file with these row
    /// times (ascending). A window holding no row is dropped: nothing could
    /// ever detect it.
    pub fn windows(&self, key: &str, times: &[i64]) -> Option<Vec<Window>> {
        let spans = self.spans(key)?;
        Some(
            spans
                .iter()
                .filter_map(|&(a, b)| {
                    let first = times.partition_point(|&t| t < a);
                    let end = times.partition_point(|&t| t <= b);
                    (first < end).then(|| Window {
                        first,
                        last: end - 1,
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_become_inclusive_row_ranges() {
        let l = Labels::parse(
            r#"{"a/x.csv": [["1970-01-01 00:10:00.000000", "1970-01-01 00:20:00.000000"]],
                "a/y.csv": []}"#,
        )
        .unwrap();
        // Rows every 5 minutes from 0 to 30: the window holds 10, 15, 20.
        let times: Vec<i64> = (0..7).map(|i| i * 300_000).collect();
        let w = l.windows("a/x.csv", &times).unwrap();
        assert_eq!(w, vec![Window { first: 2, last: 4 }]);
        assert_eq!(w[0].width(), 3);
        assert_eq!(l.windows("a/y.csv", &times), Some(vec![]));
        assert_eq!(l.windows("a/z.csv", &times), None);
    }

    #[test]
    fn malformed_windows_are_errors() {
        assert!(Labels::parse(r#"{"a/x.csv": [["1970-01-01 00:10:00"]]}"#).is_err());
        assert!(Labels::parse(r#"{"a/x.csv": [["soon", "later"]]}"#).is_err());
        let backwards = r#"{"a/x.csv": [["1970-01-02 00:00:00", "1970-01-01 00:00:00"]]}"#;
        assert!(Labels::parse(backwards).is_err());
    }
}
