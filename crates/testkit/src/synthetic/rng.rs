//! A tiny deterministic random number generator (SplitMix64), so that the same seed gives the same trust on every
//! machine and every version of the dependencies.

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014): one `u64` of state,
/// good statistical quality for test data, and trivially splittable into independent streams.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a strong 64-bit mixer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A stream seeded with `seed`.
    #[cfg(test)]
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for one purpose (`label`) and one item (`index`) of a trust: each school draws from
    /// its own stream, so schools can be generated in any order, or in parallel, and still come out the same.
    pub(crate) fn stream(seed: u64, label: u64, index: u64) -> Rng {
        Rng(mix(mix(seed ^ mix(label.wrapping_mul(GOLDEN))) ^ index.wrapping_mul(GOLDEN)))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// A number in `0..n` (0 when `n` is 0), by Lemire's multiply-shift (bias below 2^-32 for the sizes used here).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `true` with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a fraction in [0, 1).
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    /// One element of a non-empty slice (the first when it is empty is impossible: callers pass constants).
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// Chooses exactly `k` of `n` items in one pass, each set of `k` equally likely (Knuth's selection sampling,
/// algorithm S): ask [`Selection::next`] once per item, in order.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    wanted: usize,
    left: usize,
}

impl Selection {
    /// `k` of `n` (all of them if `k > n`).
    pub(crate) fn new(k: usize, n: usize) -> Selection {
        Selection { wanted: k.min(n), left: n }
    }

    /// Whether the next item is chosen.
    pub(crate) fn next(&mut self, rng: &mut Rng) -> bool {
        if self.left == 0 {
            return false;
        }
        let chosen = rng.below(self.left) < self.wanted;
        self.left -= 1;
        if chosen {
            self.wanted -= 1;
        }
        chosen
    }
}

/// How many of `n` items a fraction names: none for a fraction of 0 or less, else at least one (so that every
/// feature a spec asks for shows up even in a small trust), at most `n`.
pub(crate) fn share(fraction: f64, n: usize) -> usize {
    if fraction <= 0.0 || n == 0 {
        return 0;
    }
    ((fraction.min(1.0) * n as f64).round() as usize).clamp(1, n)
}

/// FNV-1a, 64 bits: a fixed hash (unlike std's, which is seeded per process) for fingerprints of names.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A GUID-shaped id (`8-4-4-4-12` lower-case hex, version 4 and RFC 4122 variant bits set), as Entra object ids
/// look, drawn from the stream.
pub(crate) fn guid(rng: &mut Rng) -> String {
    let hi = (rng.next_u64() & !0xF000) | 0x4000;
    let lo = (rng.next_u64() & !(0b11 << 62)) | (0b10 << 62);
    let bytes = ((u128::from(hi)) << 64) | u128::from(lo);
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        let nibble = (bytes >> (124 - 4 * i)) & 0xF;
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

/// `n` random lower-case hex digits.
pub(crate) fn hex(rng: &mut Rng, n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut bits = 0u64;
    for i in 0..n {
        if i % 16 == 0 {
            bits = rng.next_u64();
        }
        out.push(char::from(HEX[(bits & 0xF) as usize]));
        bits >>= 4;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_chooses_exactly_k() {
        let mut rng = Rng::new(7);
        for (k, n) in [(0, 10), (3, 10), (10, 10), (12, 10), (1, 1)] {
            let mut s = Selection::new(k, n);
            assert_eq!((0..n).filter(|_| s.next(&mut rng)).count(), k.min(n));
        }
    }

    #[test]
    fn guids_are_shaped_like_guids() {
        let mut rng = Rng::new(1);
        let g = guid(&mut rng);
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert!(matches!(&g[19..20], "8" | "9" | "a" | "b"), "{g}");
        assert_ne!(guid(&mut rng), g);
    }

    #[test]
    fn shares_round_and_keep_features_present() {
        assert_eq!(share(0.02, 1000), 20);
        assert_eq!(share(0.02, 10), 1);
        assert_eq!(share(0.0, 10), 0);
        assert_eq!(share(2.0, 10), 10);
    }
}
