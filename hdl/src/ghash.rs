//! GHASH (SP 800-38D, section 6.4) at one 16-byte block per clock.
//!
//! [`Ghash`] keeps the running hash `Y` in a register and, for every valid
//! input block `X`, computes `Y := (Y xor X) * H` in GF(2^128) with one
//! [`Gf128Mul`]. Blocks, the key `H` and `Y` are all in memory byte order
//! (byte `i` at bits `8i+7..8i`, as the DMA port delivers them); the GCM bit
//! reflection is handled inside the multiplier. The caller feeds the padded
//! AAD blocks, the padded ciphertext blocks and the lengths block, then reads
//! `y` and XORs it with `E(K, J0)` to form the tag.
//!
//! # Timing
//!
//! The critical path is register `Y` -> 128-bit XOR -> one full 128x128
//! carry-less multiply with reduction -> register `Y`. With the reduction
//! folded in, a product bit is the XOR of 135 to 504 two-input AND terms:
//! about four 6-input LUT levels, but every input bit fans out to hundreds
//! of LUTs (about 16k AND terms in all), so routing dominates. That is fine
//! for the simulated card and a modest FPGA clock. For a faster clock, the next
//! step is aggregation with precomputed powers `H^2..H^4` (computed once per
//! key): four interleaved accumulators, each updated every fourth cycle as
//! `A := (A xor X) * H^4`, let the multiplier be pipelined over four cycles
//! while still taking one block per cycle; the lanes are finally multiplied
//! by the powers `H^1..H^4` matching their position and XORed together.

use crate::gf128::Gf128Mul;
use rust_hdl::prelude::*;

/// The GHASH accumulator: `Y := (Y xor in_block) * h` on every cycle with
/// `in_valid`, `Y := 0` on `clear` or `reset` (which take priority: a block
/// presented in the same cycle is dropped). `y` is `Y`, updated at the
/// clock edge after the block is accepted, so a block presented in cycle `n`
/// is included in `y` from cycle `n + 1`. There is no back-pressure: a block
/// is accepted every cycle `in_valid` is high.
#[derive(LogicBlock, Default)]
pub struct Ghash {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset (`Y := 0`).
    pub reset: Signal<In, Bit>,
    /// Hash key `H = E(K, 0^128)` (memory byte order), stable while blocks
    /// are being accepted.
    pub h: Signal<In, Bits<128>>,
    /// `Y := 0` at the next clock edge (start of a message).
    pub clear: Signal<In, Bit>,
    /// `in_block` is valid and is absorbed at the next clock edge.
    pub in_valid: Signal<In, Bit>,
    /// Message block `X` (memory byte order).
    pub in_block: Signal<In, Bits<128>>,
    /// Running GHASH `Y` (memory byte order).
    pub y: Signal<Out, Bits<128>>,

    acc: DFF<Bits<128>>,
    mul: Gf128Mul,
}

impl Logic for Ghash {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, acc);
        self.mul.a.next = self.acc.q.val() ^ self.in_block.val();
        self.mul.b.next = self.h.val();
        if self.in_valid.val() {
            self.acc.d.next = self.mul.p.val();
        }
        if self.clear.val() | self.reset.val() {
            self.acc.d.next = 0.into();
        }
        self.y.next = self.acc.q.val();
    }
}
