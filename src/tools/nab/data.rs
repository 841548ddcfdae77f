//! NAB data files: `DIR/<category>/<file>.csv`, each with a
//! `timestamp,value` header and one row per line. Rows are streamed (a
//! buffered reader, one line at a time) so the detector sees the file the
//! way a live agent sees a metric: one value after another.

use super::{parse_time, NabError};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// One CSV file of the corpus.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DataFile {
    /// `<category>/<file>.csv`, the key of the labels file.
    pub key: String,
    /// The category (the directory's name).
    pub category: String,
    /// Where it is.
    pub path: PathBuf,
}

/// One row: time (ms since the epoch, UTC) and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Timestamp in milliseconds.
    pub at: i64,
    /// Value.
    pub value: f64,
}

/// Every `<category>/<file>.csv` under `dir`, sorted by key. Any subset of
/// categories works; files directly under `dir` are ignored (NAB keeps
/// none there).
pub fn discover(dir: &Path) -> Result<Vec<DataFile>, NabError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NabError::Io { path, source }
    };
    let mut out = Vec::new();
    for cat in std::fs::read_dir(dir).map_err(io(dir))? {
        let cat = cat.map_err(io(dir))?.path();
        if !cat.is_dir() {
            continue;
        }
        let Some(category) = cat.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        for f in std::fs::read_dir(&cat).map_err(io(&cat))? {
            let path = f.map_err(io(&cat))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if path.is_file() && name.ends_with(".csv") {
                out.push(DataFile {
                    key: format!("{category}/{name}"),
                    category: category.to_string(),
                    path: path.clone(),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Streams the rows of one CSV file. The header line is skipped; blank
/// lines are ignored; anything else that is not `timestamp,value` is an
/// error naming the file and line.
pub fn read_series(path: &Path) -> Result<impl Iterator<Item = Result<Row, NabError>>, NabError> {
    let file = std::fs::File::open(path).map_err(|source| NabError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let path = path.to_path_buf();
    let lines = BufReader::new(file).lines().enumerate();
    Ok(lines.filter_map(move |(i, line)| {
        let line = match line {
            Ok(l) => l,
            Err(source) => {
                return Some(Err(NabError::Io {
                    path: path.clone(),
                    source,
                }))
            }
        };
        let line = line.trim();
        if i == 0 && line.starts_with("timestamp") || line.is_empty() {
            return None;
        }
        Some(parse_row(line).ok_or_else(|| NabError::Csv {
            path: path.clone(),
            line: i + 1,
            message: format!("expected `timestamp,value`, found {line:?}"),
        }))
    }))
}

/// `2014-04-10 07:15:00,42.5` → a row.
fn parse_row(line: &str) -> Option<Row> {
    let (ts, value) = line.split_once(',')?;
    let value: f64 = value.trim().trim_matches('"').parse().ok()?;
    let at = parse_time(ts.trim_matches('"'))?;
    value.is_finite().then_some(Row { at, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_and_streams_a_small_corpus() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("catB")).unwrap();
        std::fs::create_dir(dir.path().join("catA")).unwrap();
        let csv = "timestamp,value\n2014-01-01 00:00:00,1.5\n\n2014-01-01 00:05:00,-2\n";
        std::fs::write(dir.path().join("catB/x.csv"), csv).unwrap();
        std::fs::write(dir.path().join("catA/y.csv"), csv).unwrap();
        std::fs::write(dir.path().join("catA/notes.txt"), "skip me").unwrap();
        let files = discover(dir.path()).unwrap();
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["catA/y.csv", "catB/x.csv"]);
        let rows: Vec<Row> = read_series(&files[0].path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].value, -2.0);
        assert_eq!(rows[1].at - rows[0].at, 300_000);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, "timestamp,value\n2014-01-01 00:00:00,1\nnonsense\n").unwrap();
        let err = read_series(&p)
            .unwrap()
            .find_map(Result::err)
            .expect("an error");
        assert!(err
            .to_string()
            .ends_with(":3: expected `timestamp,value`, found \"nonsense\""));
    }
}
