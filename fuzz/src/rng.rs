//! The project's seedable generator (SplitMix64, `cnncodec::rng`) with what the targets draw:
//! every case is reproducible from the run's seed and its index.

#[derive(Clone)]
pub struct Rng(cnncodec::rng::Rng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(cnncodec::rng::Rng(seed))
    }

    /// The generator of case `index` of a run seeded with `seed`.
    pub fn for_case(seed: u64, index: u64) -> Self {
        let mut r = Self::new(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next();
        r
    }

    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next().checked_rem(n).unwrap_or(0)
    }

    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A number a parser is likely to mishandle: 0, 1, powers of two and their neighbours,
    /// the limits of common integer types, or something small and random.
    pub fn interesting(&mut self) -> i128 {
        const EDGES: &[i128] = &[
            0,
            1,
            2,
            3,
            7,
            8,
            63,
            64,
            255,
            256,
            65_535,
            65_536,
            i32::MAX as i128,
            i32::MAX as i128 + 1,
            u32::MAX as i128,
            u32::MAX as i128 + 1,
            i64::MAX as i128,
            u64::MAX as i128,
            -1,
            -2,
            i32::MIN as i128,
            i64::MIN as i128,
        ];
        match self.below(4) {
            0 => self.below(100) as i128,
            1 => 1i128 << self.below(70),
            _ => *self.pick(EDGES),
        }
    }
}
