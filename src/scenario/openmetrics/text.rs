//! The lexical pieces of OpenMetrics text: metric and label names, label
//! sets with their escapes, values and timestamps. Kept apart from the
//! line-level parser so each can be read (and tested) on its own.

/// Whether `name` is a valid metric (or, without `:`, label) name.
pub(super) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Length of `{...}` at the start of `s`, quotes and escapes respected.
pub(super) fn labels_end(s: &str) -> Option<usize> {
    let (mut in_quotes, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Parses `{a="x",b="y"}` (or `""`) into pairs sorted by name.
pub(super) fn parse_labels(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
        return Ok(out);
    };
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("label without value in {raw}"))?;
        let name = rest[..eq].trim();
        if !valid_name(name) || name.contains(':') {
            return Err(format!("invalid label name {name:?}"));
        }
        let after = rest[eq + 1..].trim_start();
        let body = after
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name} value is not quoted"))?;
        let close =
            quoted_end(body).ok_or_else(|| format!("label {name} value is not terminated"))?;
        out.push((name.to_string(), unescape(&body[..close])));
        rest = body[close + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    out.sort();
    if out.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(format!("duplicate label name in {raw}"));
    }
    Ok(out)
}

/// Index of the closing unescaped `"` in `s`.
pub(super) fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Undoes `\\`, `\"` and `\n`; other backslashes are kept as written.
pub(super) fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(e @ ('\\' | '"')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Appends `s` with `\\`, `"` and newlines escaped (label values, HELP).
pub(super) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
}

/// A sample value, including `NaN`, `+Inf` and `-Inf`.
pub(super) fn parse_value(s: &str) -> Option<f64> {
    // Rust accepts `inf`, `+Inf`, `NaN` case-insensitively, as Go does.
    s.parse::<f64>().ok()
}

/// Seconds to ms. Decimal text with up to 3 fraction digits is converted
/// exactly (a float round trip could land 1 ms off); anything else is rounded.
pub(super) fn parse_timestamp(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let exact = !int.is_empty()
        && frac.len() <= 3
        && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    if exact {
        let secs: i64 = int.parse().ok()?;
        let mut ms: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        ms *= [1000, 100, 10, 1][frac.len()];
        let total = secs.checked_mul(1000)?.checked_add(ms)?;
        return Some(if neg { -total } else { total });
    }
    let f: f64 = s.parse().ok()?;
    let ms = (f * 1000.0).round();
    (ms.is_finite() && ms.abs() < 9.0e15).then_some(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_exact() {
        assert_eq!(parse_timestamp("1519146000.123"), Some(1_519_146_000_123));
        assert_eq!(parse_timestamp("1519146000.1"), Some(1_519_146_000_100));
        assert_eq!(parse_timestamp("-1.5"), Some(-1500));
        assert_eq!(parse_timestamp("1.5e3"), Some(1_500_000));
        assert_eq!(parse_timestamp("x"), None);
    }

    #[test]
    fn labels_and_escapes() {
        let l = parse_labels(r#"{b="x\"y", a="1\n" ,}"#).unwrap();
        assert_eq!(
            l,
            vec![("a".into(), "1\n".into()), ("b".into(), "x\"y".into())]
        );
        assert!(parse_labels(r#"{a="1",a="2"}"#).is_err());
        assert!(parse_labels(r#"{a=1}"#).is_err());
        assert_eq!(labels_end(r#"{a="}"} 1"#), Some(7));
        let mut out = String::new();
        escape_into(&mut out, "a\"b\\c\n");
        assert_eq!(out, r#"a\"b\\c\n"#);
        assert_eq!(unescape(&out), "a\"b\\c\n");
        assert!(valid_name("a:b_1") && !valid_name("1a") && !valid_name(""));
        assert!(parse_value("+Inf").is_some_and(f64::is_infinite));
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
    }
}
