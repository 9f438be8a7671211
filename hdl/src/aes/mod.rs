//! AES-128 and AES-256 (FIPS-197) datapath blocks.
//!
//! Byte order everywhere: a block, a state or a round key is a `Bits<128>`
//! whose bits 8i+7..8i hold byte i of the FIPS-197 byte sequence (the i-th
//! input byte; for a state, column i / 4, row i % 4). Round key r is the
//! bytes of w\[4r..4r+4\] in FIPS-197 order, byte 0 at bits 7:0.
//!
//! - [`sbox`]: the S-box and inverse S-box ([`sbox::AesSbox`]).
//! - [`round`]: one combinational encryption or decryption round.
//! - [`pipe`]: fully unrolled pipelines, one block per cycle, with a
//!   latency of [`pipe::AES_PIPE_LATENCY`] cycles for both key sizes.
//! - [`key_expand`]: an iterative key expansion emitting one round key per
//!   cycle, to be written into the key store.
//!
//! No block has data- or key-dependent timing: the pipelines advance one
//! stage per enabled cycle whatever the data, and the key expansion takes a
//! number of cycles fixed by the key size alone.

pub mod iter;
pub mod key_expand;
pub mod pipe;
pub mod round;
pub mod sbox;

pub use key_expand::AesKeyExpand;
pub use pipe::{AesDecPipe, AesEncPipe, AES_PIPE_LATENCY};
pub use round::{AesDecRound, AesEncRound};
pub use sbox::AesSbox;

use rust_hdl::prelude::*;

/// A 128-bit value from a `u128` (rust-hdl literals stop at 64 bits).
pub fn bits128(v: u128) -> Bits<128> {
    let lo: Bits<128> = (v as u64).into();
    let hi: Bits<128> = ((v >> 64) as u64).into();
    (hi << 64) | lo
}

/// A 128-bit constant with the 32-bit pattern `w` in each column.
pub(crate) fn column_mask(w: u32) -> Constant<Bits<128>> {
    let w = w as u128;
    Constant::new(bits128(w | (w << 32) | (w << 64) | (w << 96)))
}
