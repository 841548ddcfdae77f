//! Small building blocks for the status page: HTML escaping, number
//! formatting and the score sparkline. Everything that puts outside text
//! (node names, explanations, annotations) into the page goes through
//! [`escape_html`]; nothing here trusts its input.

use std::fmt::Write;

/// Escapes text for use in HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value for humans: fewer decimals as magnitude grows (7012 threads,
/// 1.25 cores, 0.031 ratio), `–` for NaN and infinities.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    let a = v.abs();
    let s = if a >= 1000.0 || (a == a.trunc() && a < 1e15) {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    };
    // "1.500" reads worse than "1.5"; keep integers intact.
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A score with two decimals, as shown in rankings (and `data-score`).
pub fn fmt_score(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "0.00".to_string()
    }
}

/// Score band for colouring: `high`, `mid` or `low`.
pub fn band(score: f64) -> &'static str {
    if score >= 0.7 {
        "high"
    } else if score >= 0.4 {
        "mid"
    } else {
        "low"
    }
}

/// Width and height of a sparkline in CSS pixels.
const SPARK_W: f64 = 160.0;
const SPARK_H: f64 = 28.0;

/// An inline SVG sparkline of scores on a fixed 0..1 scale (so two nodes'
/// lines can be compared by eye), oldest point on the left.
pub fn sparkline(points: &[f32]) -> String {
    let mut svg = format!(
        "<svg class=\"spark\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" \
         viewBox=\"0 0 {SPARK_W} {SPARK_H}\" role=\"img\" aria-label=\"score history\">"
    );
    // Faint line at 0.5 as a reference for "half sick".
    let mid = SPARK_H / 2.0;
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{mid}\" x2=\"{SPARK_W}\" y2=\"{mid}\" class=\"ref\"/>"
    );
    if !points.is_empty() {
        // A single point still gets a visible (flat) segment.
        let n = points.len().max(2);
        let step = SPARK_W / (n - 1) as f64;
        let ys: Vec<f64> = points.iter().map(|p| spark_y(*p)).collect();
        let ys = if ys.len() == 1 {
            vec![ys[0], ys[0]]
        } else {
            ys
        };
        svg.push_str("<polyline points=\"");
        for (i, y) in ys.iter().enumerate() {
            let _ = write!(svg, "{:.1},{:.1} ", i as f64 * step, y);
        }
        svg.push_str("\"/>");
        let last = points.last().copied().unwrap_or(0.0);
        let _ = write!(
            svg,
            "<title>{} points, last {}</title>",
            points.len(),
            fmt_score(f64::from(last))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Maps a score to the SVG y coordinate; out-of-range and NaN are clamped
/// so a bad value cannot draw outside the box.
fn spark_y(p: f32) -> f64 {
    let v = if p.is_finite() {
        f64::from(p).clamp(0.0, 1.0)
    } else {
        0.0
    };
    // One pixel of margin top and bottom so the stroke is not clipped.
    1.0 + (1.0 - v) * (SPARK_H - 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn formats_numbers_for_humans() {
        assert_eq!(fmt_num(7012.4), "7012");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.25), "1.25");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(f64::NAN), "–");
        assert_eq!(fmt_score(0.876), "0.88");
    }

    #[test]
    fn sparkline_is_bounded_and_valid() {
        let s = sparkline(&[0.0, 1.0, f32::NAN, 7.0]);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("0.0,27.0 "), "{s}");
        assert!(s.contains(",1.0 "), "{s}");
        assert!(sparkline(&[0.5]).contains("<polyline"));
        assert!(!sparkline(&[]).contains("<polyline"));
    }
}
