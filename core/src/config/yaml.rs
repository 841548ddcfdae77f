//! The one way nodewatch reads YAML (the config file, rule files,
//! `scenario.yaml`): size and nesting are bounded *before* the parser sees
//! the text — libyaml is quadratic in nesting depth (200 KB of `[[[…]]]`
//! took 45 s) — and errors found after parsing are located by scanning the
//! text for the field's key path, since serde_yaml keeps no spans.

use serde::de::DeserializeOwned;
use std::io::Read;
use std::path::Path;

/// Largest YAML document read, in bytes. A ConfigMap holds at most 1 MiB;
/// the shipped rules are ~10 KB.
pub const MAX_BYTES: usize = 4 << 20;

/// Deepest nesting accepted (block indentation levels, `- ` entries and
/// open `[`/`{`). nodewatch's own documents nest at most ~6 deep.
pub const MAX_DEPTH: usize = 64;

/// Why a YAML document was not read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// Larger than [`MAX_BYTES`].
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than the limit of {limit} levels")]
    TooDeep {
        /// 1-based line where the limit was crossed.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// The parser's (or deserializer's) error.
    #[error("{0}")]
    Parse(#[from] serde_yaml::Error),
}

impl YamlError {
    /// 1-based line of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            YamlError::TooDeep { line, .. } => Some(*line),
            YamlError::Parse(e) => e.location().map(|l| l.line()),
            _ => None,
        }
    }
}

/// Reads a file of at most `max` bytes without reading more than that.
pub fn read_file(path: &Path, max: usize) -> Result<String, YamlError> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > max {
        return Err(YamlError::TooLarge { limit: max });
    }
    Ok(text)
}

/// Checks the bounds, then deserializes.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    check_bounds(text)?;
    Ok(serde_yaml::from_str(text)?)
}

/// Whether `text` is within [`MAX_BYTES`] and [`MAX_DEPTH`]. The scan is
/// linear and conservative: it follows quotes, comments and block scalars
/// well enough that a real document is never counted deeper than it is
/// by more than a level, and any deep document is caught.
pub fn check_bounds(text: &str) -> Result<(), YamlError> {
    if text.len() > MAX_BYTES {
        return Err(YamlError::TooLarge { limit: MAX_BYTES });
    }
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    let mut indents: Vec<usize> = Vec::new();
    let mut block_scalar: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank = b[indent..].iter().all(|c| c.is_ascii_whitespace());
        if let Some(base) = block_scalar {
            if blank || indent > base {
                continue;
            }
            block_scalar = None;
        }
        if quote.is_none() && flow == 0 {
            if blank || b[indent] == b'#' {
                continue;
            }
            while indents.last().is_some_and(|&i| i > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
        }
        let mut seq = 0;
        let mut prev: Option<u8> = None;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            i += 1;
            if let Some(q) = quote {
                // `\x` in double quotes and `''` in single quotes escape.
                let escaped =
                    (q == b'"' && c == b'\\') || (c == q && q == b'\'' && b.get(i) == Some(&b'\''));
                if escaped {
                    i += 1;
                } else if c == q {
                    quote = None;
                    prev = Some(c);
                }
                continue;
            }
            // Whether `c` begins a node: at the line start or after an
            // indicator, not inside a plain scalar such as `it's [x]`.
            let starts = matches!(prev, None | Some(b':' | b',' | b'[' | b'{' | b'-' | b'?'));
            let spaced = matches!(b.get(i), None | Some(b' ' | b'\t'));
            // Whether an indicator character acted as one.
            let acted = match c {
                b' ' | b'\t' => continue,
                b'#' if i == 1 || matches!(b[i - 2], b' ' | b'\t') => break,
                b'"' | b'\'' if starts => {
                    quote = Some(c);
                    true
                }
                b'[' | b'{' if starts => {
                    flow += 1;
                    true
                }
                b']' | b'}' if flow > 0 => {
                    flow -= 1;
                    true
                }
                b'-' if starts && flow == 0 && spaced => {
                    seq += 1;
                    true
                }
                b'|' | b'>' if starts && flow == 0 && prev.is_some() => {
                    block_scalar = Some(indent);
                    break;
                }
                b':' | b'?' => spaced || flow > 0,
                b',' => flow > 0,
                _ => false,
            };
            prev = Some(if acted { c } else { b'x' });
            if indents.len() + seq + flow > MAX_DEPTH {
                return Err(YamlError::TooDeep {
                    line: n + 1,
                    limit: MAX_DEPTH,
                });
            }
        }
    }
    Ok(())
}

/// The 1-based line of the field at `path` (`sinks.webhooks[0].headers`,
/// `rules[2].when.value_above`), or of its deepest ancestor found, or 0.
/// Block style is followed key by key; inside flow style (`{a: 1}` on
/// one line) the line of the flow collection is the answer.
pub fn line_of(text: &str, path: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    // The scope being searched: lines [lo, hi), content deeper than
    // `parent` columns; `first` is the column where line `lo`'s content
    // starts when it continues a `- ` item.
    let (mut lo, mut hi, mut parent, mut first) = (0, lines.len(), None::<usize>, None);
    let mut found = 0;
    for seg in segments(path) {
        // The column this scope's entries sit at: its first content.
        let Some(col) = (lo..hi).find_map(|n| content_col(lines[n], n == lo, first)) else {
            return found;
        };
        // Deeper than the parent, or a list at the parent's own column
        // (`key:` then `- item` unindented, which YAML allows).
        let same_col_list = (lo..hi).any(|n| {
            content_col(lines[n], n == lo, first)
                .is_some_and(|c| c == col && is_item(&lines[n][c..]))
        });
        if parent.is_some_and(|p| col < p || (col == p && !same_col_list)) {
            return found; // the value is on the parent's line (flow style)
        }
        let mut hit = None;
        let mut index = 0;
        for (n, line) in lines.iter().enumerate().take(hi).skip(lo) {
            let Some(c) = content_col(line, n == lo, first) else {
                continue;
            };
            if c < col {
                break;
            }
            let rest = &line[c..];
            let item = is_item(rest);
            match seg {
                Seg::Key(k) if c == col && is_key(rest, k) => hit = Some((n, c, None)),
                Seg::Index(i) if c == col && item => {
                    if index == i {
                        hit = Some((n, c, Some(c + 2)));
                    }
                    index += 1;
                }
                _ => {}
            }
            if hit.is_some() {
                break;
            }
        }
        let Some((n, c, item_col)) = hit else {
            return found;
        };
        found = n + 1;
        // The entry's own scope: to the next line at its column or less.
        let end = (n + 1..hi)
            .find(|&m| {
                content_col(lines[m], false, None).is_some_and(|mc| {
                    mc < c || (mc == c && (item_col.is_some() || !is_item(&lines[m][mc..])))
                })
            })
            .unwrap_or(hi);
        (lo, hi, parent, first) = match item_col {
            Some(ic) => (n, end, Some(c), Some(ic)),
            None => (n + 1, end, Some(c), None),
        };
    }
    found
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `a.b[2].c` → `a`, `b`, `[2]`, `c`.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    // An empty part is an empty key (`labels.` is the label `''`).
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() || rest.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some((i, r)) = rest.split_once(']') {
            if let Ok(i) = i.parse() {
                out.push(Seg::Index(i));
            }
            rest = r.trim_start_matches('[');
        }
    }
    out
}

/// Column of the line's content (`first` on the scope's first line, past
/// its `- `), or `None` for blank and comment lines.
fn content_col(line: &str, is_first: bool, first: Option<usize>) -> Option<usize> {
    let col = match first {
        Some(f) if is_first => f.min(line.len()),
        _ => line.len() - line.trim_start_matches(' ').len(),
    };
    let rest = line[col..].trim_end();
    (!rest.is_empty() && !rest.starts_with('#')).then_some(col)
}

/// Whether `rest` is a block sequence entry.
fn is_item(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

/// Whether `rest` starts with the key `k` (bare or quoted) and a colon.
fn is_key(rest: &str, k: &str) -> bool {
    [k.to_string(), format!("\"{k}\""), format!("'{k}'")]
        .iter()
        .any(|q| {
            rest.strip_prefix(q.as_str())
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = check_bounds(&deep).unwrap_err();
        assert!(
            matches!(e, YamlError::TooDeep { line: 1, limit: 64 }),
            "{e}"
        );
        let e = from_str::<serde_yaml::Value>(&"- ".repeat(1000)).unwrap_err();
        assert!(e.to_string().contains("64 levels"), "{e}");
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(check_bounds(&block).is_err());
        let big = "a: b\n".repeat(MAX_BYTES / 5 + 1);
        assert!(matches!(
            check_bounds(&big),
            Err(YamlError::TooLarge { .. })
        ));
    }

    #[test]
    fn real_documents_pass_whatever_their_strings_hold() {
        let text = "a:\n  b: \"[[[[\" # {{{{\n  c: it's [x\n  d: |\n    [[[[[[[[\n    {{ x }}\n  \
                    e: '[[''[['\n  f: http://x/#[[[\n  g: [1, [2, {h: 3}]]\n";
        let nested: String = (0..60).map(|_| "[").collect::<String>() + &"]".repeat(60);
        for l in text.lines() {
            assert!(check_bounds(l).is_ok(), "{l}");
        }
        assert!(check_bounds(text).is_ok(), "{:?}", check_bounds(text));
        assert!(check_bounds(&text.repeat(200)).is_ok());
        assert!(check_bounds(&nested).is_ok());
        for (_, t) in crate::catalog::BUILTIN {
            assert!(check_bounds(t).is_ok());
        }
    }

    #[test]
    fn files_are_read_up_to_the_limit_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.yaml");
        std::fs::write(&f, "a: 1\n").unwrap();
        assert_eq!(read_file(&f, 5).unwrap(), "a: 1\n");
        assert!(matches!(
            read_file(&f, 4),
            Err(YamlError::TooLarge { limit: 4 })
        ));
        assert!(read_file(&dir.path().join("nope"), 4).is_err());
    }

    #[test]
    fn fields_are_located_by_key_path() {
        let text = "# c\nkubernetes:\n  lease:\n    name: x\n    duration: 10s\n  identity: ''\n\
                    sinks:\n  webhooks:\n    - name: a\n      url: http://a\n    - name: b\n      \
                    headers:\n        Host: x\n  email: []\ngovernor: {max_fraction: 2}\n";
        assert_eq!(line_of(text, "kubernetes.lease.duration"), 5);
        assert_eq!(line_of(text, "kubernetes.identity"), 6);
        assert_eq!(line_of(text, "sinks.webhooks[1]"), 11);
        assert_eq!(line_of(text, "sinks.webhooks[0].url"), 10);
        assert_eq!(line_of(text, "sinks.webhooks[1].headers.Host"), 13);
        assert_eq!(line_of(text, "sinks.webhooks[1].name"), 11);
        assert_eq!(line_of(text, "governor.max_fraction"), 15);
        assert_eq!(line_of(text, "kubernetes.lease.nope"), 3);
        assert_eq!(line_of(text, "nope"), 0);
        let rules = "rules:\n- alert: A\n  labels:\n    'bad-label': x\n";
        assert_eq!(line_of(rules, "rules[0].labels.bad-label"), 4);
    }
}
