//! Hash jobs: SHA3-224/256/384/512 and SHAKE128/256 (FIPS 202).
//!
//! One opcode per function ([`HashAlg::opcode`]). The message is `src_len`
//! bytes at `src_addr` (0 to 1 MiB). Every address is 16-byte aligned.
//!
//! # A whole message
//! With `flags` = 0 the card absorbs the message, pads it (domain bits
//! `01` for SHA-3, `1111` for SHAKE) and writes the output to `dst`: the
//! digest for SHA-3 (`dst_len` must hold it; `out_len` is the digest
//! length), or exactly `dst_len` bytes for SHAKE (0 to 1 MiB).
//!
//! # Longer messages: partial jobs and resumption
//! A message longer than one job is hashed by a chain of jobs that carry
//! the sponge state through host memory; the state of a public hash is not
//! secret.
//! - [`flags::PARTIAL`]: absorb `src` without padding or output and write
//!   the [`SPONGE_STATE_BYTES`]-byte state to `dst` (`out_len` =
//!   [`SPONGE_STATE_BYTES`]). `src_len` must be a multiple of the rate
//!   ([`HashAlg::rate_bytes`]); the card finds out while it reads `src` and
//!   completes with `BAD_LENGTH`, writing nothing, when it is not.
//! - [`flags::RESUME`]: start from the state at `aux` (`aux_len` =
//!   [`SPONGE_STATE_BYTES`]) instead of the empty state.
//!
//! The state is FIPS 202's byte string S: lane (x, y) is the little-endian
//! 64-bit word at byte 8(5y + x).

use crate::Opcode;

/// Bytes of the Keccak-f\[1600\] state a partial hash job writes and a
/// resumed one reads.
pub const SPONGE_STATE_BYTES: u32 = 200;

/// Hash job `flags`.
pub mod flags {
    /// Start from the sponge state at `aux` instead of the empty state.
    pub const RESUME: u16 = 1 << 0;
    /// Absorb only: write the sponge state, not the output.
    pub const PARTIAL: u16 = 1 << 1;
    /// Every flag a hash job may set.
    pub const ALL: u16 = RESUME | PARTIAL;
}

/// A FIPS 202 function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
    /// SHAKE128 (extendable output).
    Shake128,
    /// SHAKE256 (extendable output).
    Shake256,
}

impl HashAlg {
    /// Every function, in opcode order.
    pub const ALL: &'static [HashAlg] = &[
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
        HashAlg::Shake128,
        HashAlg::Shake256,
    ];

    /// The job opcode.
    pub const fn opcode(self) -> Opcode {
        match self {
            HashAlg::Sha3_224 => Opcode::Sha3_224,
            HashAlg::Sha3_256 => Opcode::Sha3_256,
            HashAlg::Sha3_384 => Opcode::Sha3_384,
            HashAlg::Sha3_512 => Opcode::Sha3_512,
            HashAlg::Shake128 => Opcode::Shake128,
            HashAlg::Shake256 => Opcode::Shake256,
        }
    }

    /// The function of a hash opcode.
    pub fn from_opcode(op: Opcode) -> Option<HashAlg> {
        HashAlg::ALL.iter().copied().find(|a| a.opcode() == op)
    }

    /// The sponge rate in bytes (200 less twice the capacity's security).
    pub const fn rate_bytes(self) -> u32 {
        match self {
            HashAlg::Sha3_224 => 144,
            HashAlg::Sha3_256 | HashAlg::Shake256 => 136,
            HashAlg::Sha3_384 => 104,
            HashAlg::Sha3_512 => 72,
            HashAlg::Shake128 => 168,
        }
    }

    /// The digest length in bytes; `None` for SHAKE (any length).
    pub const fn digest_bytes(self) -> Option<u32> {
        match self {
            HashAlg::Sha3_224 => Some(28),
            HashAlg::Sha3_256 => Some(32),
            HashAlg::Sha3_384 => Some(48),
            HashAlg::Sha3_512 => Some(64),
            HashAlg::Shake128 | HashAlg::Shake256 => None,
        }
    }

    /// The first padding byte: the domain bits and the first `1` of pad10*1
    /// (0x06 for SHA-3, 0x1f for SHAKE).
    pub const fn domain_byte(self) -> u8 {
        match self {
            HashAlg::Shake128 | HashAlg::Shake256 => 0x1f,
            _ => 0x06,
        }
    }

    /// Lower-case name as `hsmctl` spells it (`sha3-256`, `shake128`).
    pub const fn name(self) -> &'static str {
        match self {
            HashAlg::Sha3_224 => "sha3-224",
            HashAlg::Sha3_256 => "sha3-256",
            HashAlg::Sha3_384 => "sha3-384",
            HashAlg::Sha3_512 => "sha3-512",
            HashAlg::Shake128 => "shake128",
            HashAlg::Shake256 => "shake256",
        }
    }

    /// Parse [`HashAlg::name`].
    pub fn from_name(s: &str) -> Option<HashAlg> {
        HashAlg::ALL.iter().copied().find(|a| a.name() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_capacity() {
        for a in HashAlg::ALL {
            let security = match a {
                HashAlg::Shake128 => 16,
                HashAlg::Shake256 => 32,
                _ => a.digest_bytes().unwrap(),
            };
            assert_eq!(a.rate_bytes(), 200 - 2 * security);
            assert_eq!(a.rate_bytes() % 8, 0);
            assert_eq!(HashAlg::from_opcode(a.opcode()), Some(*a));
            assert_eq!(HashAlg::from_name(a.name()), Some(*a));
        }
    }
}
