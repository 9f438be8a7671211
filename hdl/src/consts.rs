//! Contract values as rust-hdl [`Constant`]s (Verilog localparams), for the
//! blocks that compare against opcodes, status codes and small literals.

use hsm_contract::{Opcode, Status};
use rust_hdl::prelude::*;

/// A status code.
pub(crate) fn status(s: Status) -> Constant<Bits<16>> {
    Constant::new((s as u16 as u64).into())
}

/// An opcode.
pub(crate) fn opcode(o: Opcode) -> Constant<Bits<8>> {
    Constant::new((o as u8 as u64).into())
}

/// An 8-bit value.
pub(crate) fn c8(v: u64) -> Constant<Bits<8>> {
    Constant::new(v.into())
}

/// A 32-bit value.
pub(crate) fn c32(v: u64) -> Constant<Bits<32>> {
    Constant::new(v.into())
}

/// Bytes as a little-endian bit vector (byte 0 in bits 7:0), as the DMA
/// port and the key store lay them out; missing bytes are zero.
pub(crate) fn le_bits<const N: usize>(b: &[u8]) -> Bits<N> {
    assert!(b.len() * 8 <= N, "{} bytes do not fit {N} bits", b.len());
    let mut v = Bits::<N>::default();
    for (i, x) in b.iter().enumerate() {
        for k in 0..8 {
            v = v.replace_bit(8 * i + k, (x >> k) & 1 == 1);
        }
    }
    v
}
