//! A cheap lexical pre-scan of query text, run before it reaches
//! `promql-parser`: the parser builds, the evaluator walks and `Drop`
//! frees the syntax tree recursively, so a query nested a few thousand
//! levels deep (`abs(abs(…`, `1+1+…+1`, `((((…`) would overflow a worker's
//! stack and abort the process. The scan is iterative and bounds what
//! makes the tree deep: bracket nesting and the number of operators (a
//! chain of `n` binary operators is a tree `n` deep). It also bounds the
//! regex matchers, which the parser compiles: their number and each one's
//! compiled size. Strings and comments are skipped, so `"((("` in a label
//! value costs nothing.
//!
//! The limits are far above hand-written or Grafana-generated queries
//! (which nest a dozen levels and use a few dozen operators), and the
//! deepest query they allow needs less than half of a 2 MiB thread stack
//! even in a debug build (a test checks it).

use super::QueryError;

/// Deepest nesting of `(`, `[` and `{`.
pub const MAX_NESTING: usize = 64;

/// Most operators (`+ - * / % ^`, comparisons, `and`/`or`/`unless`/
/// `atan2`, unary minus) in one query.
pub const MAX_OPERATORS: usize = 256;

/// Most regex matchers (`=~`, `!~`) in one query.
pub const MAX_REGEX_MATCHERS: usize = 32;

/// Largest compiled size of one regex matcher (the `regex` crate's default
/// is 10 MiB).
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// Deepest syntax tree the evaluator walks; the scan above keeps parsed
/// queries below it, this is the second line of defence.
pub const MAX_EVAL_DEPTH: usize = 2 * MAX_NESTING + MAX_OPERATORS + 16;

/// Refuses `q` when it nests or chains deeper than the limits above.
pub fn check(q: &str) -> Result<(), QueryError> {
    let b = q.as_bytes();
    let (mut i, mut depth, mut braces, mut ops, mut regexes) = (0, 0usize, 0usize, 0usize, 0);
    let mut regex_next = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => {
                let end = string_end(b, i);
                if regex_next {
                    regexes += 1;
                    if regexes > MAX_REGEX_MATCHERS {
                        return Err(too("regex matchers", MAX_REGEX_MATCHERS));
                    }
                    // Without its quotes; an unclosed literal runs to the end.
                    let closed = end > i + 1 && b[end - 1] == c && end <= b.len();
                    let body = if closed {
                        &q[i + 1..end - 1]
                    } else {
                        &q[i + 1..]
                    };
                    check_regex(body, c)?;
                }
                regex_next = false;
                i = end;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                braces += usize::from(c == b'{');
                if depth > MAX_NESTING {
                    return Err(too("levels of nesting", MAX_NESTING));
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if c == b'}' {
                    braces = braces.saturating_sub(1);
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' | b'~' => {
                let start = i;
                while i < b.len() && b"+-*/%^=!<>~".contains(&b[i]) {
                    // `--1` is two operators; `!=`, `>=`, `=~` are one.
                    if i > start && matches!(b[i], b'+' | b'-') {
                        break;
                    }
                    i += 1;
                }
                let op = &b[start..i];
                if braces > 0 {
                    regex_next = op == b"=~" || op == b"!~";
                } else {
                    ops += 1;
                    if ops > MAX_OPERATORS {
                        return Err(too("operators", MAX_OPERATORS));
                    }
                }
                continue;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_:.".contains(&b[i])) {
                    i += 1;
                }
                let word = &b[start..i];
                if braces == 0
                    && [&b"and"[..], b"or", b"unless", b"atan2"]
                        .iter()
                        .any(|k| word.eq_ignore_ascii_case(k))
                {
                    ops += 1;
                    if ops > MAX_OPERATORS {
                        return Err(too("operators", MAX_OPERATORS));
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

fn too(what: &str, limit: usize) -> QueryError {
    QueryError::Parse(format!(
        "query too complex: more than {limit} {what} (nodewatch's limit)"
    ))
}

/// Index just past the string literal opening at `start` (or the end of
/// the text if it is not closed; the parser reports that).
fn string_end(b: &[u8], start: usize) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' && quote != b'`' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// Compiles a regex matcher's pattern (the literal's escapes undone as far
/// as they matter for its size) anchored as the parser does, within
/// [`MAX_REGEX_BYTES`].
fn check_regex(body: &str, quote: u8) -> Result<(), QueryError> {
    let pattern = if quote == b'`' {
        body.to_string()
    } else {
        let mut s = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => match chars.next() {
                    Some(n @ ('\\' | '"' | '\'')) => s.push(n),
                    Some(n) => {
                        s.push('\\');
                        s.push(n);
                    }
                    None => s.push('\\'),
                },
                (c, _) => s.push(c),
            }
        }
        s
    };
    match regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(MAX_REGEX_BYTES)
        .build()
    {
        Err(regex::Error::CompiledTooBig(_)) => Err(QueryError::Parse(format!(
            "regex matcher too large: it compiles to more than {MAX_REGEX_BYTES} bytes (nodewatch's limit)"
        ))),
        // Syntax errors are left to the parser, which words them.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_queries_pass() {
        for q in [
            "sum by (zone) (rate(nodewatch_alerts_total{severity=~\"crit|warn\"}[5m])) / 2",
            "topk(5, nodewatch_node_score) > 0.5 and on() vector(1)",
            "a{l=\"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\"}",
            "1 - -1 # ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
            "rate(x[5m:30s]) @ 1e3 offset -5m",
            "a{l=~\"é",
            "a{l=~\"\\",
            "a{l=~'é'}",
            "é{{{",
        ] {
            check(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn deep_queries_are_refused() {
        let deep = [
            "abs(".repeat(MAX_NESTING + 1) + "1" + &")".repeat(MAX_NESTING + 1),
            vec!["1"; MAX_OPERATORS + 2].join("+"),
            vec!["2"; MAX_OPERATORS + 2].join("^"),
            "-".repeat(MAX_OPERATORS + 1) + "1",
            vec!["a"; MAX_OPERATORS + 2].join(" or "),
            "(".repeat(35_000),
        ];
        for q in deep {
            let e = check(&q).unwrap_err().to_string();
            assert!(e.contains("query too complex"), "{e}");
        }
        let regexes = format!(
            "a{{{}}}",
            vec!["l=~\"x\""; MAX_REGEX_MATCHERS + 1].join(",")
        );
        assert!(check(&regexes).is_err());
        let big = r#"a{l=~"(\\w{100}){50}"}"#;
        assert!(check(big).unwrap_err().to_string().contains("regex"));
    }
}

#[cfg(test)]
mod headroom {
    use super::*;
    use crate::serve::history::History;

    /// The deepest queries the scan lets through parse, evaluate, print
    /// and drop on half the 2 MiB stack tokio's threads get, in a debug
    /// build (whose frames are several times those of a release build).
    #[test]
    fn deepest_allowed_queries_fit_half_the_stack() {
        let n = MAX_NESTING - 1;
        let chain = |op: &str, k: usize| vec!["x"; k].join(op);
        let queries = [
            "abs(".repeat(n) + "x" + &")".repeat(n),
            "(".repeat(n) + &chain("+", MAX_OPERATORS / 2) + &")".repeat(n),
            "sum(".repeat(n / 2) + &chain("^", MAX_OPERATORS) + &")".repeat(n / 2),
            "-".repeat(MAX_OPERATORS) + "x",
            chain(" or ", MAX_OPERATORS),
        ];
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let mut h = History::new(3_600_000, usize::MAX);
                assert!(h.begin(1_000_000));
                h.set(&[("__name__", "x")], 2.0);
                h.end();
                for q in &queries {
                    check(q).unwrap_or_else(|e| panic!("{e}"));
                    let e = promql_parser::parser::parse(q).expect("parses");
                    let _ = super::super::instant(&h, &e, 1_000_000);
                    let _ = format!("{e}");
                }
            })
            .expect("thread")
            .join()
            .expect("no overflow");
    }
}
