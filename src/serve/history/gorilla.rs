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
/// While every value has the same bits the stream is not written at all
/// (most open chunks at 5,000 nodes are constant: an allocation each
/// would cost ~12 MiB); the first different value writes the run so far,
/// giving the same stream as if it had been written all along.
pub(super) struct Encoder {
    words: Vec<u64>,
    /// Bits of the last value (of every value, while `same`).
    prev: u64,
    /// Bits written: at most `CHUNK` records of ≤ 77 bits.
    bits: u16,
    /// Values written: at most `CHUNK`.
    n: u8,
    /// Window of the last `11` record; `leading == NONE` before the first.
    leading: u8,
    trailing: u8,
    /// Whether every value so far has the same bits (nothing written yet).
    same: bool,
}

// The narrow counters hold a chunk: every value as a full `11` record.
const _: () = assert!(super::CHUNK <= u8::MAX as usize);
const _: () = assert!(super::CHUNK * (2 + 5 + 6 + 64) <= u16::MAX as usize);

/// No window yet.
const NONE: u8 = u8::MAX;

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            words: Vec::new(),
            prev: 0,
            bits: 0,
            n: 0,
            leading: NONE,
            trailing: 0,
            same: true,
        }
    }
}

impl Encoder {
    /// Appends `v`.
    pub(super) fn push(&mut self, v: f64) {
        let b = v.to_bits();
        if self.n > 0 && (b != self.prev || !self.same) {
            self.materialize();
            self.record(b ^ self.prev);
        }
        self.prev = b;
        self.n += 1;
    }

    /// Writes the constant run held so far, if not yet written: the first
    /// value raw, then a `0` per repeat.
    fn materialize(&mut self) {
        if self.same && self.n > 0 {
            self.same = false;
            self.write(self.prev, 64);
            for _ in 1..self.n {
                self.write(0, 1);
            }
        }
    }

    /// Writes the record of a value whose XOR with the one before is `x`.
    fn record(&mut self, x: u64) {
        if x == 0 {
            self.write(0, 1);
            return;
        }
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        let (leading, trailing) = (u32::from(self.leading), u32::from(self.trailing));
        if self.leading != NONE && lead >= leading && trail >= trailing {
            self.write(0b10, 2);
            self.write(x >> trailing, 64 - leading - trailing);
        } else {
            let sig = 64 - lead - trail;
            self.write(0b11, 2);
            self.write(u64::from(lead), 5);
            self.write(u64::from(sig & 63), 6);
            self.write(x >> trail, sig);
            // Both fit a byte: lead ≤ 31, trail ≤ 63.
            (self.leading, self.trailing) = (lead as u8, trail as u8);
        }
    }

    /// Writes the low `n` bits of `v` (`1 ≤ n ≤ 64`; higher bits are 0).
    fn write(&mut self, v: u64, n: u32) {
        let off = u32::from(self.bits) % 64;
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
        // At most a chunk's worth: see the `const` asserts above.
        self.bits += n as u16;
    }

    /// Values written.
    pub(super) fn len(&self) -> usize {
        self.n as usize
    }

    /// The value every sample has, when all have the same bits.
    pub(super) fn constant(&self) -> Option<f64> {
        (self.n > 0 && self.same).then_some(f64::from_bits(self.prev))
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
        self.materialize();
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
        assert_eq!((e.bits, e.heap_bytes()), (0, 0), "nothing written yet");
        e.push(0.5);
        assert_eq!(e.constant(), None);
        // The run is written on the first change: 64 bits raw, a bit per
        // repeat, then the new value's record.
        assert!(e.bits > 64 + 63, "{}", e.bits);
        let mut out = Vec::new();
        e.decode(&mut out);
        assert_eq!(out.len(), 65);
        assert!(out[..64].iter().all(|v| *v == 0.25) && out[64] == 0.5);
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
        // Exactly a chunk of the widest records fits the counters.
        let mut e = Encoder::default();
        for i in 0..64u64 {
            e.push(f64::from_bits(if i % 2 == 0 { 1 } else { 1 << 63 }));
        }
        assert_eq!(e.len(), 64);
        let mut out = Vec::new();
        e.decode(&mut out);
        assert_eq!(out[63].to_bits(), 1 << 63);
    }
}
