//! Numbers in the JSON bodies, written without `core::fmt`: a 5,000-series
//! range query has ~600k values and timestamps, and formatting them through
//! `write!` (Grisu behind the formatting machinery) was most of the cost of
//! answering it. Values use Ryū's shortest round-trip digits, laid out in
//! positional notation as Go's `strconv.FormatFloat(v, 'f', -1, 64)` (what
//! Prometheus writes) and Rust's `Display` do: never an exponent, no
//! trailing `.0`. Ryū and `Display` pick the same digits (the fewest that
//! read back as the value, then the closest to it) except on an exact tie
//! between two candidates, where Ryū rounds to even and `Display` up; such
//! values are handed to `Display`, so the output is the same as before.

use std::fmt::{Display, Write};

/// Appends the shortest decimal that reads back as `v` (`f32` or `f64`),
/// in positional notation, exactly as `Display` does. `v` must be finite.
pub fn shortest<F: ryu::Float + Into<f64> + Display>(out: &mut String, v: F) {
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    if may_tie(v.into(), s) {
        let _ = write!(out, "{v}");
    } else {
        positional(out, s);
    }
}

/// Whether `v`, for which Ryū wrote `s`, may lie exactly halfway between
/// two shortest candidates `D` and `D + 1` of `n` digits: then it is
/// `(10 D + 5) × 10^j`, with exactly `n + 1` significant digits. Checked
/// exactly for `|v| < 2^127`; above that, `true` (never seen in practice).
fn may_tie(v: f64, s: &str) -> bool {
    let bits = v.to_bits() & !(1 << 63);
    let (biased, frac) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    let (m, e) = match biased {
        0 => (frac, -1074),
        _ => (frac | 1 << 52, biased - 1075),
    };
    if m == 0 {
        return false;
    }
    // v = m × 2^e with m odd; `exact` is v's digits without trailing zeros.
    let (m, e) = (m >> m.trailing_zeros(), e + m.trailing_zeros() as i32);
    let exact = if e >= 0 {
        if 64 - m.leading_zeros() as i32 + e > 127 {
            return true;
        }
        strip_zeros(u128::from(m) << e)
    } else {
        // v = m × 5^k / 10^k, and m × 5^k (odd: no trailing zero) has at
        // least 20 digits for k > 27. Most fractions stop here.
        let k = e.unsigned_abs();
        if k > 27 {
            return false;
        }
        u128::from(m) * 5u128.pow(k)
    };
    // A tie of two f64 shortest candidates (at most 17 digits) has at most
    // 18 digits.
    match u64::try_from(exact) {
        Ok(x) if x < 10u64.pow(18) => x.ilog10() + 1 == significant(s) + 1,
        _ => false,
    }
}

/// A positive integer without its trailing decimal zeros.
fn strip_zeros(x: u128) -> u128 {
    if let Ok(mut y) = u64::try_from(x) {
        while y.is_multiple_of(10) {
            y /= 10;
        }
        return u128::from(y);
    }
    let mut x = x;
    while x.is_multiple_of(10) {
        x /= 10;
    }
    x
}

/// Significant digits of a non-zero number Ryū wrote: those of its
/// mantissa from the first to the last non-zero one.
fn significant(s: &str) -> u32 {
    let (mut first, mut last, mut count) = (None, 0, 0);
    for b in s.bytes() {
        match b {
            b'e' => break,
            b'0'..=b'9' => {
                count += 1;
                if b != b'0' {
                    first.get_or_insert(count);
                    last = count;
                }
            }
            _ => {}
        }
    }
    first.map_or(0, |f| last - f + 1)
}

/// Rewrites Ryū's output (`1.0`, `0.25`, `1e21`, `-1.5e-7`) the way
/// `Display` spells the same digits (`1`, `0.25`, `1000000000000000000000`,
/// `-0.00000015`).
fn positional(out: &mut String, s: &str) {
    let Some((mant, exp)) = s
        .bytes()
        .position(|b| b == b'e')
        .map(|i| (&s[..i], &s[i + 1..]))
    else {
        // Without an exponent Ryū is positional already; it only adds
        // `.0` to integers.
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
        return;
    };
    let (mant, neg) = match mant.strip_prefix('-') {
        Some(m) => (m, true),
        None => (mant, false),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    // The decimal point goes after `point` digits (before them if < 0).
    let point = int.len() as i64 + exp.parse::<i64>().unwrap_or(0);
    let digits = int.len() + frac.len();
    if neg {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        zeros(out, point.unsigned_abs() as usize);
        out.push_str(int);
        out.push_str(frac);
    } else if point as usize >= digits {
        out.push_str(int);
        out.push_str(frac);
        zeros(out, point as usize - digits);
    } else if (point as usize) < int.len() {
        let (a, b) = int.split_at(point as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
        out.push_str(frac);
    } else {
        let (a, b) = frac.split_at(point as usize - int.len());
        out.push_str(int);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    }
}

fn zeros(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('0', n));
}

/// Slots of a [`Memo`].
const MEMO_SLOTS: usize = 256;

/// Longest text a [`Memo`] keeps (17 digits, sign and point fit).
const MEMO_TEXT: usize = 24;

/// Recently written values by their bits, direct-mapped. The values of a
/// range query repeat a lot (gauges at 0 or 1, flat signals, scores moving
/// in small steps, one value over many steps of a slow series), and copying
/// a remembered text is several times cheaper than formatting it again; a
/// miss costs a multiply and a copy of a few bytes.
pub struct Memo {
    bits: Vec<u64>,
    /// Text per slot; empty: nothing remembered (a slot allocates when
    /// first used, so a small response does not pay for all of them).
    texts: Vec<String>,
}

impl Memo {
    /// An empty memo.
    pub fn new() -> Self {
        Memo {
            bits: vec![0; MEMO_SLOTS],
            texts: vec![String::new(); MEMO_SLOTS],
        }
    }

    /// Appends `format(v)`, from the memo when `v` was written recently.
    /// `format` must depend on `v` alone (its bits), as the memo assumes.
    pub fn write(&mut self, out: &mut String, v: f64, format: fn(&mut String, f64)) {
        let bits = v.to_bits();
        let i = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % MEMO_SLOTS;
        let text = &mut self.texts[i];
        if self.bits[i] == bits && !text.is_empty() {
            out.push_str(text);
            return;
        }
        let start = out.len();
        format(out, v);
        let new = &out[start..];
        if new.len() <= MEMO_TEXT {
            self.bits[i] = bits;
            text.clear();
            text.push_str(new);
        }
    }
}

impl Default for Memo {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends milliseconds as float seconds without trailing zeros
/// (`1519146000`, `1519146000.5`, `1519146000.12`, `-1.5`).
pub fn seconds(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let ms = ms.unsigned_abs();
    let (secs, frac) = (ms / 1000, ms % 1000);
    out.push_str(itoa::Buffer::new().format(secs));
    if frac != 0 {
        let d = [frac / 100, frac / 10 % 10, frac % 10].map(|d| char::from(b'0' + d as u8));
        let n = if d[2] != '0' {
            3
        } else if d[1] != '0' {
            2
        } else {
            1
        };
        out.push('.');
        out.extend(&d[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(v: f64) -> String {
        let mut s = String::new();
        shortest(&mut s, v);
        s
    }

    fn f32s(v: f32) -> String {
        let mut s = String::new();
        shortest(&mut s, v);
        s
    }

    /// A deterministic stream of bit patterns (splitmix64).
    fn bits(n: usize) -> impl Iterator<Item = u64> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n).map(move |_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    }

    #[test]
    fn positional_like_display_and_go() {
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (7012.0, "7012"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (-1.25e-10, "-0.000000000125"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, &format!("{}", f64::MAX)),
            (f64::MIN_POSITIVE, &format!("{}", f64::MIN_POSITIVE)),
            (5e-324, &format!("{}", 5e-324)),
            // Ties between two shortest candidates: `Display` rounds up.
            (f64::from_bits(0x430f_b5de_a30a_c292), "1115711512598610.3"),
            (f64::from_bits(0x42e4_2f83_f0bc_9164), "177554476885131.13"),
        ] {
            assert_eq!(f64s(v), want, "{v:e}");
        }
        assert_eq!(f32s(0.91), "0.91");
        // -271183.625 exactly, halfway between the shortest candidates.
        assert_eq!(f32s(f32::from_bits(0xc884_69f4)), "-271183.63");
        assert_eq!(f32s(1.5), "1.5");
        assert_eq!(f32s(1e-7), "0.0000001");
        assert_eq!(f32s(3.4028235e38), format!("{}", f32::MAX));
    }

    #[test]
    fn same_digits_as_display() {
        // Random bit patterns cover every exponent; values near powers of
        // ten and small decimals cover the layout boundaries.
        for b in bits(200_000) {
            let v = f64::from_bits(b);
            if v.is_finite() {
                assert_eq!(f64s(v), format!("{v}"), "{b:#x}");
            }
            let w = f32::from_bits(b as u32);
            if w.is_finite() {
                assert_eq!(f32s(w), format!("{w}"), "{:#x}", b as u32);
            }
        }
        for e in -30..=30 {
            for m in [1.0, 1.5, 9.999, 1.0000001, 0.7] {
                let v = m * 10f64.powi(e);
                assert_eq!(f64s(v), format!("{v}"));
                assert_eq!(f32s(v as f32), format!("{}", v as f32));
            }
        }
        for i in 0..5_000 {
            let v = f64::from(i) / 400.0;
            assert_eq!(f64s(v), format!("{v}"));
            assert_eq!(f32s(v as f32), format!("{}", v as f32));
        }
    }

    #[test]
    fn memo_gives_what_formatting_gives() {
        let mut memo = Memo::new();
        let (mut a, mut b) = (String::new(), String::new());
        // Repeats, collisions, zero of both signs and a text too long to keep.
        let values = [0.0, -0.0, 1.0, 0.25, 1e300, 0.25, -0.0, 0.0, 1e300, 1.0];
        for (i, b64) in bits(20_000).enumerate() {
            let v = match i % 3 {
                0 => values[i % values.len()],
                1 => f64::from((b64 % 64) as u32) / 8.0,
                _ => f64::from_bits(b64),
            };
            memo.write(&mut a, v, |o, v| o.push_str(&format!("<{v:?}>")));
            b.push_str(&format!("<{v:?}>"));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn seconds_trim_trailing_zeros() {
        for (ms, want) in [
            (1_519_146_000_000, "1519146000"),
            (1_519_146_000_500, "1519146000.5"),
            (1_519_146_000_120, "1519146000.12"),
            (1_519_146_000_007, "1519146000.007"),
            (0, "0"),
            (-1_500, "-1.5"),
            (-500, "-0.5"),
            (-2_000, "-2"),
        ] {
            let mut s = String::new();
            seconds(&mut s, ms);
            assert_eq!(s, want);
        }
    }
}
