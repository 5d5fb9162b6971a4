//! Compact key sets for streaming validation.
//!
//! A `sourcedId` is kept as a 128-bit fingerprint rather than as a `String`: a set of three million enrollment ids
//! then costs 16 to 36 bytes an entry (depending on how full its table is) instead of some 80. The fingerprint is two independent multiply-mix hashes
//! (the folded-multiply step of wyhash and foldhash), each under its own random seed, eight bytes at a step: a few
//! nanoseconds for a typical id, where SipHash takes fifteen, and four ids an enrollment make that count. Two
//! different ids share a fingerprint with probability about n²/2¹²⁹ (10⁻²⁶ for four million ids). The seeds are
//! random per validator, and the only seed-independent weakness of the construction, a data word that cancels its
//! lane's constant and so zeroes the state, cannot occur: each lane's constant has a byte (`0xFF`, `0xFE`) that
//! UTF-8 text never contains.
//!
//! The tables are open-addressing, several slots to a 64-byte bucket, probing bucket after bucket: a lookup usually
//! reads one cache line, where `std`'s `HashMap` reads two (its control bytes, then the entry) and hashes the key
//! again. With millions of users and enrollments those reads are most of the validation time (see
//! `validator/batch.rs` for how they are overlapped).

use std::hash::{BuildHasher, RandomState};

/// A 128-bit fingerprint of a string. Its first half is never 0: a slot whose first half is 0 is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Fp(u64, u64);

/// Computes fingerprints.
#[derive(Debug, Clone)]
pub(super) struct Fingerprinter {
    seeds: [u64; 2],
}

impl Fingerprinter {
    pub(super) fn new() -> Fingerprinter {
        let random = RandomState::new();
        Fingerprinter { seeds: [random.hash_one(1_u8), random.hash_one(2_u8)] }
    }

    pub(super) fn of(&self, text: &str) -> Fp {
        let (a, b) = hash128(text.as_bytes(), self.seeds);
        Fp(a.max(1), b)
    }
}

/// Lane constants XORed into each data word. Each has a byte that never occurs in UTF-8 (`0xFF`, `0xFE`), so no
/// word of a `str` cancels it (see the module docs).
const W: [u64; 2] = [0xff51_afd7_ed55_8ccd, 0xc4ce_b9fe_1a85_ec53];
/// Lane constants XORed into the state.
const S: [u64; 2] = [0x9e37_79b9_7f4a_7c15, 0xbf58_476d_1ce4_e5b9];

/// The high and low halves of the 128-bit product, folded: the mixing step of wyhash and foldhash.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Two 64-bit hashes of `bytes` under two seeds, computed side by side.
fn hash128(bytes: &[u8], seeds: [u64; 2]) -> (u64, u64) {
    let len = bytes.len() as u64;
    let (mut a, mut b) = (seeds[0] ^ len, seeds[1] ^ len.rotate_left(32));
    let mut step = |w: u64| {
        a = fold(w ^ W[0], a ^ S[0]);
        b = fold(w ^ W[1], b ^ S[1]);
    };
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        step(<[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // Zero-padded; the length, mixed in at both ends, tells "a" from "a\0".
        let mut tail = [0u8; 8];
        for (t, b) in tail.iter_mut().zip(rest) {
            *t = *b;
        }
        step(u64::from_le_bytes(tail));
    }
    (fold(a ^ S[1], len ^ W[0]), fold(b ^ S[0], len ^ W[1]))
}

/// What a table slot holds: (most of) a fingerprint, and anything else that is `Copy`. `Default` is the empty slot.
pub(super) trait Keyed: Copy + Default {
    /// The first half of the fingerprint; 0 in an empty slot.
    fn hash(&self) -> u64;
    /// Whether the slot holds `fp`.
    fn matches(&self, fp: Fp) -> bool;
}

impl Keyed for Fp {
    fn hash(&self) -> u64 {
        self.0
    }
    fn matches(&self, fp: Fp) -> bool {
        *self == fp
    }
}

/// `N` slots in one cache line, so that a lookup usually reads a single line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Bucket<T, const N: usize>([T; N]);

impl<T: Keyed, const N: usize> Default for Bucket<T, N> {
    fn default() -> Self {
        Bucket([T::default(); N])
    }
}

/// An open-addressing hash table of [`Keyed`] slots, `N` to a cache-line bucket, probing bucket after bucket; at
/// most seven eighths full. Nothing is ever removed, so a bucket fills from its first slot and a lookup stops at
/// the first empty slot.
#[derive(Debug, Clone)]
pub(super) struct FpTable<T, const N: usize> {
    buckets: Vec<Bucket<T, N>>,
    len: usize,
}

impl<T, const N: usize> Default for FpTable<T, N> {
    fn default() -> Self {
        FpTable { buckets: Vec::new(), len: 0 }
    }
}

/// A set of fingerprints.
pub(super) type FpSet = FpTable<Fp, 4>;

impl<T: Keyed, const N: usize> FpTable<T, N> {
    /// `Ok` with the bucket and slot holding `fp`, or `Err` with the empty slot where it would go.
    fn probe(&self, fp: Fp) -> Result<(usize, usize), (usize, usize)> {
        let mask = self.buckets.len().wrapping_sub(1);
        // The low bits of a keyed hash are as good a table index as any.
        let mut b = fp.0 as usize & mask;
        // The table always has an empty slot; the bound only guards against looping for ever regardless.
        for _ in 0..self.buckets.len() {
            let Some(bucket) = self.buckets.get(b) else { break };
            for (s, slot) in bucket.0.iter().enumerate() {
                if slot.hash() == 0 {
                    return Err((b, s));
                }
                if slot.matches(fp) {
                    return Ok((b, s));
                }
            }
            b = (b + 1) & mask;
        }
        Err((usize::MAX, 0))
    }

    fn slot(&self, (b, s): (usize, usize)) -> Option<&T> {
        self.buckets.get(b).and_then(|bucket| bucket.0.get(s))
    }

    fn slot_mut(&mut self, (b, s): (usize, usize)) -> Option<&mut T> {
        self.buckets.get_mut(b).and_then(|bucket| bucket.0.get_mut(s))
    }

    /// Reads the bucket where `fp` would be found first, and returns something of it for the caller to pass to
    /// [`std::hint::black_box`]. Touching the buckets of a batch of records one after the other lets the CPU fetch
    /// them from memory in parallel, where the lookups proper would wait for each in turn.
    pub(super) fn touch(&self, fp: Fp) -> u64 {
        let mask = self.buckets.len().wrapping_sub(1);
        self.buckets.get(fp.0 as usize & mask).and_then(|bucket| bucket.0.first()).map_or(0, Keyed::hash)
    }

    pub(super) fn get(&self, fp: Fp) -> Option<&T> {
        self.probe(fp).ok().and_then(|at| self.slot(at))
    }

    pub(super) fn get_mut(&mut self, fp: Fp) -> Option<&mut T> {
        self.probe(fp).ok().and_then(|at| self.slot_mut(at))
    }

    /// The slot of `fp`, filled by `make` if `fp` is new; and whether it is.
    pub(super) fn get_or_insert_with(&mut self, fp: Fp, make: impl FnOnce() -> T) -> (T, bool) {
        if (self.len + 1) * 8 > self.buckets.len() * N * 7 {
            self.grow();
        }
        match self.probe(fp) {
            Ok(at) => (self.slot(at).copied().unwrap_or_default(), false),
            Err(at) => {
                let slot = make();
                if let Some(free) = self.slot_mut(at) {
                    *free = slot;
                    self.len += 1;
                }
                (slot, true)
            }
        }
    }

    /// Inserts `slot` unless its fingerprint is there already; whether it was new.
    pub(super) fn insert(&mut self, fp: Fp, slot: T) -> bool {
        self.get_or_insert_with(fp, || slot).1
    }

    fn grow(&mut self) {
        let buckets = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); buckets]);
        let mask = buckets - 1;
        for slot in old.iter().flat_map(|bucket| bucket.0.iter()).filter(|slot| slot.hash() != 0) {
            let mut b = slot.hash() as usize & mask;
            'placed: for _ in 0..buckets {
                if let Some(bucket) = self.buckets.get_mut(b)
                    && let Some(free) = bucket.0.iter_mut().find(|s| s.hash() == 0)
                {
                    *free = *slot;
                    break 'placed;
                }
                b = (b + 1) & mask;
            }
        }
    }
}

/// A slot of a table that maps fingerprints to a number: the fingerprint's first half, 32 bits of its second half
/// (96 bits tell a million values apart with a collision chance of 10⁻¹⁷), and the number. 16 bytes, four to a
/// bucket.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Pair {
    hash: [u32; 2],
    check: u32,
    value: u32,
}

impl Pair {
    pub(super) fn new(fp: Fp, value: u32) -> Pair {
        Pair { hash: split(fp.0), check: fp.1 as u32, value }
    }

    pub(super) fn value(self) -> u32 {
        self.value
    }
}

impl Keyed for Pair {
    fn hash(&self) -> u64 {
        join(self.hash)
    }
    fn matches(&self, fp: Fp) -> bool {
        self.hash() == fp.0 && self.check == fp.1 as u32
    }
}

/// A table from fingerprints to numbers.
pub(super) type FpMap = FpTable<Pair, 4>;

fn split(hash: u64) -> [u32; 2] {
    [hash as u32, (hash >> 32) as u32]
}

fn join([lo, hi]: [u32; 2]) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

/// The record is in the roster (not merely referred to).
pub(super) const DEFINED: u8 = 1;
/// The record's status is `tobedeleted`.
pub(super) const DELETED: u8 = 2;
/// The record is an org of type `school`.
pub(super) const SCHOOL: u8 = 4;

/// `aux` of a record that has none.
pub(super) const NONE: u32 = u32::MAX;

/// Ids are numbered below 2²⁹; the three bits above hold the flags.
const ID_BITS: u32 = 29;
const ID_MASK: u32 = (1 << ID_BITS) - 1;

/// A slot of a [`KeyTable`]: 96 bits of an id's fingerprint (as in [`Pair`]), its number and flags, and one more
/// number kept with it (a class's school, a user's first org), so that the hot path reads a single slot. 20
/// bytes, three to a bucket.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    hash: [u32; 2],
    check: u32,
    /// The id in the low [`ID_BITS`] bits, the flags above.
    meta: u32,
    aux: u32,
}

impl Slot {
    fn id(self) -> u32 {
        self.meta & ID_MASK
    }

    fn flags(self) -> u8 {
        (self.meta >> ID_BITS) as u8
    }
}

impl Keyed for Slot {
    fn hash(&self) -> u64 {
        join(self.hash)
    }
    fn matches(&self, fp: Fp) -> bool {
        self.hash() == fp.0 && self.check == fp.1 as u32
    }
}

/// What is known about one `sourcedId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Known {
    /// Its number in its table.
    pub(super) id: u32,
    /// [`DEFINED`], [`DELETED`], [`SCHOOL`].
    pub(super) flags: u8,
    /// The class's school, the user's first org, or [`NONE`].
    pub(super) aux: u32,
}

impl Known {
    pub(super) fn is_defined(self) -> bool {
        self.flags & DEFINED != 0
    }
}

/// The `sourcedId`s of one kind of record, seen or referred to, numbered densely from 0 in order of first mention.
/// Keeps each id's text once, in one arena, for messages; and the flags once more by id, for lookups by id.
#[derive(Debug, Default)]
pub(super) struct KeyTable {
    slots: FpTable<Slot, 3>,
    names: String,
    ends: Vec<usize>,
    flags: Vec<u8>,
}

impl KeyTable {
    /// `sourced_id`, numbering it if it is new; `None` only past half a billion ids of one kind.
    pub(super) fn intern(&mut self, fp: Fp, sourced_id: &str) -> Option<Known> {
        let next = u32::try_from(self.ends.len()).ok().filter(|&n| n <= ID_MASK)?;
        let (slot, new) =
            self.slots.get_or_insert_with(fp, || Slot { hash: split(fp.0), check: fp.1 as u32, meta: next, aux: NONE });
        if new {
            self.names.push_str(sourced_id);
            self.ends.push(self.names.len());
            self.flags.push(0);
        }
        Some(self.known(slot))
    }

    /// What is known about the id with fingerprint `fp`, if it was ever interned.
    pub(super) fn lookup(&self, fp: Fp) -> Option<Known> {
        self.slots.get(fp).map(|slot| self.known(*slot))
    }

    fn known(&self, slot: Slot) -> Known {
        Known { id: slot.id(), flags: slot.flags(), aux: slot.aux }
    }

    /// See [`FpTable::touch`].
    pub(super) fn touch(&self, fp: Fp) -> u64 {
        self.slots.touch(fp)
    }

    /// The `sourcedId` numbered `id`.
    pub(super) fn name(&self, id: u32) -> &str {
        let id = id as usize;
        let start = match id.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(id).copied().unwrap_or(start);
        self.names.get(start..end).unwrap_or("")
    }

    pub(super) fn flags(&self, id: u32) -> u8 {
        self.flags.get(id as usize).copied().unwrap_or(0)
    }

    /// Adds flags to the id with fingerprint `fp`.
    pub(super) fn add_flags(&mut self, fp: Fp, flags: u8) {
        if let Some(slot) = self.slots.get_mut(fp) {
            slot.meta |= u32::from(flags) << ID_BITS;
            if let Some(f) = self.flags.get_mut(slot.id() as usize) {
                *f |= flags;
            }
        }
    }

    pub(super) fn is_defined(&self, id: u32) -> bool {
        self.flags(id) & DEFINED != 0
    }

    /// Sets the extra number of the id with fingerprint `fp`.
    pub(super) fn set_aux(&mut self, fp: Fp, aux: u32) {
        if let Some(slot) = self.slots.get_mut(fp) {
            slot.aux = aux;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_numbers_densely_and_keeps_names() {
        let fps = Fingerprinter::new();
        let mut table = KeyTable::default();
        let a = table.intern(fps.of("a"), "a").unwrap();
        let b = table.intern(fps.of("bee"), "bee").unwrap();
        assert_eq!((a.id, b.id, a.aux, a.flags), (0, 1, NONE, 0));
        assert_eq!(table.intern(fps.of("a"), "a").unwrap().id, 0);
        assert_eq!((table.name(0), table.name(1), table.name(2)), ("a", "bee", ""));
        table.add_flags(fps.of("bee"), DEFINED | DELETED);
        table.set_aux(fps.of("bee"), 7);
        assert!(table.is_defined(b.id) && !table.is_defined(a.id));
        assert_eq!(table.lookup(fps.of("bee")), Some(Known { id: 1, flags: DEFINED | DELETED, aux: 7 }));
        assert_eq!(table.lookup(fps.of("sea")), None);
        assert_ne!(fps.of("a"), fps.of("A"));
    }

    #[test]
    fn hash_separates_lengths_and_tails() {
        let ids = ["", "a", "a\0", "ab", "abcdefgh", "abcdefgh\0", "abcdefghi", "abcdefghi\0\0", "user-1", "user-10"];
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            let (a, b) = hash128(id.as_bytes(), [7, 9]);
            assert!(seen.insert(a) && seen.insert(b), "{id:?}");
        }
        assert_ne!(hash128(b"user-1", [7, 9]), hash128(b"user-1", [8, 9]));
        // No collisions among many similar ids in either half alone.
        let (mut a_seen, mut b_seen) = (std::collections::HashSet::new(), std::collections::HashSet::new());
        for i in 0..200_000 {
            let (a, b) = hash128(format!("user-{i}").as_bytes(), [7, 9]);
            assert!(a_seen.insert(a) && b_seen.insert(b));
        }
        // The low bits index the tables: they must spread similar ids evenly.
        let mut buckets = [0u32; 256];
        for i in 0..256_000 {
            buckets[(hash128(format!("enr-{i}").as_bytes(), [7, 9]).0 & 255) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| (800..1200).contains(&n)), "{buckets:?}");
    }

    #[test]
    fn no_utf8_word_cancels_a_lane_constant() {
        for w in W {
            assert!(std::str::from_utf8(&w.to_le_bytes()).is_err());
            assert!(w.to_le_bytes().iter().any(|&b| b >= 0xF5));
        }
    }

    #[test]
    fn table_grows_and_finds_everything() {
        let fps = Fingerprinter::new();
        let mut set = FpSet::default();
        assert!(set.get(fps.of("x")).is_none());
        let fp = |i: i32| fps.of(&i.to_string());
        for i in 0..10_000 {
            assert!(set.insert(fp(i), fp(i)));
        }
        for i in 0..10_000 {
            assert!(!set.insert(fp(i), fp(i)));
            assert!(set.get(fp(i)).is_some());
        }
        assert!(set.get(fps.of("10000")).is_none());
        assert_eq!(set.len, 10_000);
        assert!(set.buckets.len() * 4 * 7 >= set.len * 8);
        assert_eq!(std::mem::size_of::<Bucket<Slot, 3>>(), 64);
        assert_eq!(std::mem::size_of::<Bucket<Pair, 4>>(), 64);
        assert_eq!(std::mem::size_of::<Bucket<Fp, 4>>(), 64);

        // A full bucket overflows into the next one.
        let mut map = FpMap::default();
        let same_bucket = |i: u64| Fp(1 + (i << 20), i);
        for i in 0..6 {
            assert!(map.insert(same_bucket(i), Pair::new(same_bucket(i), i as u32)));
        }
        for i in 0..6 {
            assert_eq!(map.get(same_bucket(i)).map(|p| p.value()), Some(i as u32));
        }
    }
}
