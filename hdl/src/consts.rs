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
