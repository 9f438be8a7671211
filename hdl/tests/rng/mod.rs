//! Deterministic test data for the block tests: xorshift64 from a seed,
//! so every run draws the same cases.
// Each test file uses the part it needs.
#![allow(dead_code)]

/// xorshift64 state.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value, spread and made odd).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// The next 64 bits.
    pub fn u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// The next 128 bits.
    pub fn u128(&mut self) -> u128 {
        ((self.u64() as u128) << 64) | self.u64() as u128
    }
    /// A value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.u64() % n
    }
    /// A coin.
    pub fn bit(&mut self) -> bool {
        self.u64() & 1 == 1
    }
    /// `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u64() as u8).collect()
    }
    /// `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.u64() as u8)
    }
}
