//! GHASH (SP 800-38D, section 6.4) at one 16-byte block per clock.
//!
//! [`Ghash`] keeps the running hash `Y` in a register and, for every valid
//! input block `X`, computes `Y := (Y xor X) * H` in GF(2^128) with the
//! multiply of [`crate::gf128`]. Blocks, the key `H` and `Y` are all in memory byte order
//! (byte `i` at bits `8i+7..8i`, as the DMA port delivers them); the GCM bit
//! reflection is handled inside the multiplier. The caller feeds the padded
//! AAD blocks, the padded ciphertext blocks and the lengths block, then reads
//! `y` and XORs it with `E(K, J0)` to form the tag.
//!
//! # Structure, and why it is a leaf block
//!
//! [`Ghash`] implements [`Logic`] by hand, like rust-hdl's `DFF` and
//! [`crate::gf128::Gf128Mul`]: [`Logic::update`] does the register update
//! in plain Rust ([`gf128_mul`]) on the rising clock edge, and
//! [`Logic::hdl`] is one clocked block,
//! `always @(posedge clock) if (reset | clear) y <= 0; else if (in_valid)
//! y <= gf128_mul(y ^ in_block, h);`, with the multiply as a Verilog
//! function ([`crate::gf128::gf128_mul_verilog_function`]). The hardware is
//! the same as a combinational multiplier feeding a register, but
//! Verilator evaluates the multiply only at a clock edge with `in_valid`
//! rather than on every evaluation of the card: with a combinational
//! multiplier the idle card simulated at about 0.14 M cycles/s, almost all
//! of it spent in the multiplier.
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

use crate::gf128::{gf128_mul, gf128_mul_verilog_function};
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
}

impl Logic for Ghash {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if self.reset.val() | self.clear.val() {
                self.y.next = 0.into();
            } else if self.in_valid.val() {
                let x = self.y.val().to_u128() ^ self.in_block.val().to_u128();
                self.y.next = gf128_mul(x, self.h.val().to_u128()).to_bits();
            }
        }
    }

    fn connect(&mut self) {
        self.y.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
{}
initial begin
    y = 128'h0;
end

always @(posedge clock) begin
    if (reset | clear)
        y <= 128'h0;
    else if (in_valid)
        y <= gf128_mul(y ^ in_block, h);
end
",
            gf128_mul_verilog_function()
        ))
    }

    fn timing(&self) -> Vec<TimingInfo> {
        vec![TimingInfo {
            name: "ghash".into(),
            clock: "clock".into(),
            inputs: ["reset", "h", "clear", "in_valid", "in_block"]
                .map(String::from)
                .to_vec(),
            outputs: vec!["y".into()],
        }]
    }
}
