//! Gorilla XOR compression of a chunk's `f64` values, as Prometheus's XOR
//! chunks and Facebook's Gorilla store them (timestamps are not encoded:
//! the history's ticks are one grid shared by every series). The first
//! value is written raw (64 bits); each next one is XORed with the one
//! before: `0` when equal; `10` and the XOR's meaningful bits when they fit
//! the previous window of leading/trailing zeros; else `11`, the leading
//! zeros (5 bits, at most 31), the meaningful bit count (6 bits, 64 as 0)
//! and the bits. Any bit pattern round-trips exactly (NaN payloads, the
//! stale marker, -0.0, subnormals).
//!
//! A chunk is encoded as it fills ([`Encoder`]), so the open chunk of a
//! series costs its compressed bits, not 64 raw values.

/// The stream of one chunk being written, most significant bit first.
pub(super) struct Encoder {
    words: Vec<u64>,
    /// Bits written.
    bits: u32,
    /// Bits of the first value.
    first: u64,
    /// Bits of the last value.
    prev: u64,
    /// Window of the last `11` record; `leading == NONE` before the first.
    leading: u32,
    trailing: u32,
    /// Values written.
    n: u32,
    /// Whether every value so far has the bits of the first.
    same: bool,
}

/// No window yet.
const NONE: u32 = u32::MAX;

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            words: Vec::new(),
            bits: 0,
            first: 0,
            prev: 0,
            leading: NONE,
            trailing: 0,
            n: 0,
            same: true,
        }
    }
}

impl Encoder {
    /// Appends `v`.
    pub(super) fn push(&mut self, v: f64) {
        let b = v.to_bits();
        if self.n == 0 {
            self.first = b;
            self.write(b, 64);
        } else {
            let x = b ^ self.prev;
            if x == 0 {
                self.write(0, 1);
            } else {
                self.same = false;
                let lead = x.leading_zeros().min(31);
                let trail = x.trailing_zeros();
                if self.leading != NONE && lead >= self.leading && trail >= self.trailing {
                    self.write(0b10, 2);
                    self.write(x >> self.trailing, 64 - self.leading - self.trailing);
                } else {
                    let sig = 64 - lead - trail;
                    self.write(0b11, 2);
                    self.write(u64::from(lead), 5);
                    self.write(u64::from(sig & 63), 6);
                    self.write(x >> trail, sig);
                    (self.leading, self.trailing) = (lead, trail);
                }
            }
        }
        self.prev = b;
        self.n += 1;
    }

    /// Writes the low `n` bits of `v` (`1 ≤ n ≤ 64`; higher bits are 0).
    fn write(&mut self, v: u64, n: u32) {
        let off = self.bits % 64;
        if off == 0 {
            self.words.push(0);
        }
        let free = 64 - off;
        let last = self.words.len() - 1;
        if n <= free {
            self.words[last] |= v << (free - n);
        } else {
            self.words[last] |= v >> (n - free);
            self.words.push(v << (64 - (n - free)));
        }
        self.bits += n;
    }

    /// Values written.
    pub(super) fn len(&self) -> usize {
        self.n as usize
    }

    /// The value every sample has, when all have the same bits.
    pub(super) fn constant(&self) -> Option<f64> {
        (self.n > 0 && self.same).then(|| f64::from_bits(self.first))
    }

    /// Heap bytes of the stream (its allocation, what the bound counts).
    pub(super) fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }

    /// Appends the values written so far to `out`.
    pub(super) fn decode(&self, out: &mut Vec<f64>) {
        match self.constant() {
            Some(v) => out.resize(out.len() + self.len(), v),
            None => decode(&self.words, self.len(), out),
        }
    }

    /// The finished stream, exactly sized; leaves the encoder empty, with
    /// room for a stream as long (the next chunk of a moving series is
    /// usually about as long, so it grows without reallocating).
    pub(super) fn finish(&mut self) -> Box<[u64]> {
        let words = std::mem::take(&mut self.words).into_boxed_slice();
        *self = Encoder::default();
        self.words.reserve_exact(words.len());
        words
    }
}

/// Appends the `n` values of the stream `words` to `out`. Each record is
/// told from one look at the next 64 bits (control bits and header).
pub(super) fn decode(words: &[u64], n: usize, out: &mut Vec<f64>) {
    if n == 0 {
        return;
    }
    let start = out.len();
    out.resize(start + n, 0.0);
    let mut r = Reader { words, pos: 0 };
    let mut prev = r.take(64);
    out[start] = f64::from_bits(prev);
    let (mut lead, mut trail) = (0u32, 0u32);
    for slot in &mut out[start + 1..] {
        let next = r.peek();
        if next >> 63 == 1 {
            if next >> 62 == 0b11 {
                lead = ((next >> 57) & 31) as u32;
                let sig = match ((next >> 51) & 63) as u32 {
                    0 => 64,
                    s => s,
                };
                trail = 64u32.saturating_sub(lead + sig);
                r.pos += 13;
            } else {
                r.pos += 2;
            }
            let sig = 64u32.saturating_sub(lead + trail);
            prev ^= r.take(sig) << trail.min(63);
        } else {
            r.pos += 1;
        }
        *slot = f64::from_bits(prev);
    }
}

/// Reads a stream most significant bit first; past the end reads zeros.
struct Reader<'a> {
    words: &'a [u64],
    pos: usize,
}

impl Reader<'_> {
    /// The next 64 bits, not consumed.
    #[inline]
    fn peek(&self) -> u64 {
        let (w, off) = (self.pos / 64, (self.pos % 64) as u32);
        let hi = self.words.get(w).copied().unwrap_or(0) << off;
        if off == 0 {
            hi
        } else {
            hi | self.words.get(w + 1).copied().unwrap_or(0) >> (64 - off)
        }
    }

    /// The next `n` bits (`n ≤ 64`), consumed.
    #[inline]
    fn take(&mut self, n: u32) -> u64 {
        if n == 0 {
            return 0;
        }
        let v = self.peek() >> (64 - n);
        self.pos += n as usize;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[u64]) {
        let mut e = Encoder::default();
        for v in values {
            e.push(f64::from_bits(*v));
        }
        let mut out = Vec::new();
        e.decode(&mut out);
        let got: Vec<u64> = out.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, values);
        let n = e.len();
        let words = e.finish();
        let mut again = Vec::new();
        decode(&words, n, &mut again);
        let again: Vec<u64> = again.iter().map(|v| v.to_bits()).collect();
        assert_eq!(again, values, "sealed stream");
    }

    #[test]
    fn special_values_round_trip_bit_exact() {
        let special = [
            f64::NAN.to_bits(),
            0x7ff0_0000_0000_0002, // Prometheus's stale marker
            0xfff8_0000_0000_0001, // a negative NaN with a payload
            0x7ff4_0000_0000_0000, // a signalling NaN
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            (-0.0f64).to_bits(),
            0.0f64.to_bits(),
            1,                     // the smallest subnormal
            0x000f_ffff_ffff_ffff, // the largest subnormal
            1e308f64.to_bits(),
            (-1e308f64).to_bits(),
            f64::MAX.to_bits(),
            f64::MIN_POSITIVE.to_bits(),
            123_456_792.0f64.to_bits(),
            118.871_093_75f64.to_bits(),
            9.988e307f64.to_bits(),
            u64::MAX,
        ];
        round_trip(&special);
        // Every pair in both orders, so each XOR window shape occurs.
        let mut pairs = Vec::new();
        for a in special {
            for b in special {
                pairs.extend([a, b, a]);
            }
        }
        for chunk in pairs.chunks(64) {
            round_trip(chunk);
        }
    }

    #[test]
    fn random_values_round_trip_bit_exact() {
        // xorshift64*, fixed seed: raw bits, small integers, and decimals.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        for round in 0..300 {
            let values: Vec<u64> = (0..64)
                .map(|_| {
                    let r = next();
                    match round % 3 {
                        0 => r,
                        1 => ((r % 50) as f64).to_bits(),
                        _ => ((r % 1000) as f64 / 100.0 + 0.2).to_bits(),
                    }
                })
                .collect();
            round_trip(&values);
            round_trip(&values[..(round % 64) + 1]);
        }
    }

    #[test]
    fn equal_values_cost_a_bit_each_and_read_as_constant() {
        let mut e = Encoder::default();
        for _ in 0..64 {
            e.push(0.25);
        }
        assert_eq!(e.constant(), Some(0.25));
        assert_eq!(e.bits, 64 + 63);
        e.push(0.5);
        assert_eq!(e.constant(), None);
        assert!(Encoder::default().constant().is_none());
    }

    #[test]
    fn slowly_moving_values_compress() {
        let mut e = Encoder::default();
        for i in 0..64 {
            e.push(f64::from(1000 + i % 7));
        }
        // ~1.4 bytes/sample is Prometheus's figure on real data.
        assert!(e.bits / 8 < 64 * 2, "{} bytes", e.bits / 8);
    }
}
