//! Small building blocks for the status page: HTML escaping, number
//! formatting and the score sparkline. Everything that puts outside text
//! (node names, explanations, annotations) into the page goes through
//! [`escape_html`]; nothing here trusts its input.

use super::published::HISTORY_LEN;
use std::fmt::Write;

/// The page's style sheet, inline so the page is one self-contained
/// response (no asset routes, works offline).
pub const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1f2328;background:#f6f8fa}\
main,header>div.wrap{max-width:1240px;margin:0 auto;padding:0 20px}\
header{background:#0d1b2a;color:#e6edf3;padding:14px 0 16px;margin-bottom:16px}\
header .wrap>*{margin:0}h1{font-size:20px;font-weight:600;display:flex;gap:12px;align-items:baseline}\
.brand{letter-spacing:.5px}.scenario{font-size:14px;font-weight:400;color:#9fb3c8}\
header .meta{color:#9fb3c8;margin-top:2px}\
.cards{display:flex;gap:10px;margin-top:12px;flex-wrap:wrap}\
.card{background:#1b2d40;border-radius:6px;padding:6px 12px;min-width:110px}\
.card b{display:block;font-size:20px;line-height:1.2}.card span{font-size:12px;color:#9fb3c8}\
.card.bad{background:#7f1d1d}.card.bad span{color:#fecaca}\
section{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:4px 16px 12px;margin:0 0 16px}\
h2{font-size:15px;margin:12px 0 8px}.meta{color:#57606a}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}\
th{color:#57606a;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.3px}\
tr:last-child td{border-bottom:0}.num{text-align:right;font-variant-numeric:tabular-nums}\
td.name{white-space:nowrap}td.name b{font:600 13px ui-monospace,SFMono-Regular,Menlo,monospace}\
tr.sick{background:#fff5f5}tr.sick td:first-child{box-shadow:inset 3px 0 #c62828}\
#cluster-banner{background:#fff4e5;border:1px solid #f59e0b;border-left:6px solid #d97706;border-radius:8px;padding:10px 16px;margin:0 0 16px}\
#cluster-banner h2{margin:0 0 6px;color:#92400e}#cluster-banner ul{margin:0 0 6px;padding-left:18px}\
.score{font-weight:700;text-align:right;font-variant-numeric:tabular-nums}.high{color:#b91c1c}.mid{color:#c2410c}.low{color:#15803d}\
.badge{display:inline-block;font-size:12px;padding:0 7px;border-radius:9px;margin-right:4px;background:#eaeef2;white-space:nowrap}\
.b-cordon{background:#fed7aa}.b-unknown{background:#e5e7eb;color:#4b5563}.b-firing{background:#fecaca;color:#7f1d1d}.b-pending{background:#fef08a}\
.b-refused{background:#e9d5ff}.b-uncordon{background:#bbf7d0}.sub{color:#6e7781;font-size:12px}\
.why{color:#24292f}ul.contrib{margin:4px 0 0;padding-left:18px;color:#57606a;font-size:12px}\
svg.spark polyline{fill:none;stroke:#c62828;stroke-width:1.5}svg.spark circle{fill:#c62828}svg.spark .ref{stroke:#d0d7de;stroke-dasharray:2 2}\
.empty{color:#6e7781;font-style:italic}footer{max-width:1240px;margin:0 auto;padding:0 20px 20px}a{color:#0969da}";

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
/// lines can be compared by eye). The newest point is at the right edge and
/// the x step is fixed to a full history, so a short history draws a short
/// line instead of being stretched to look like a long one.
pub fn sparkline(points: &[f32]) -> String {
    let mut svg = format!(
        "<svg class=\"spark\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" \
         viewBox=\"0 0 {SPARK_W} {SPARK_H}\" role=\"img\" aria-label=\"score history\">"
    );
    let points = &points[points.len().saturating_sub(HISTORY_LEN)..];
    if let Some(last) = points.last() {
        let _ = write!(
            svg,
            "<title>score history: {} points, last {}</title>",
            points.len(),
            fmt_score(f64::from(*last))
        );
    }
    // Faint line at 0.5 as a reference for "half sick".
    let mid = SPARK_H / 2.0;
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{mid}\" x2=\"{SPARK_W}\" y2=\"{mid}\" class=\"ref\"/>"
    );
    let step = (SPARK_W - 2.0) / (HISTORY_LEN - 1) as f64;
    let x = |i: usize| SPARK_W - 1.0 - (points.len() - 1 - i) as f64 * step;
    if points.len() > 1 {
        svg.push_str("<polyline points=\"");
        for (i, p) in points.iter().enumerate() {
            let _ = write!(svg, "{:.1},{:.1} ", x(i), spark_y(*p));
        }
        svg.push_str("\"/>");
    }
    if let Some(last) = points.last() {
        // The dot marks "now", and is all a single point can show.
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\"/>",
            x(points.len() - 1),
            spark_y(*last)
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
        // Newest (7.0, clamped to 1) at the right edge, top.
        assert!(s.contains(" 159.0,1.0 \""), "{s}");
        assert!(s.contains(",27.0 "), "{s}");
        let one = sparkline(&[0.5]);
        assert!(
            !one.contains("<polyline") && one.contains("<circle"),
            "{one}"
        );
        assert!(!sparkline(&[]).contains("<circle"));
        let long = sparkline(&vec![0.2; 3 * HISTORY_LEN]);
        assert!(long.contains("polyline points=\"1.0,"), "{long}");
    }
}
