//! Fully unrolled AES pipelines: [`AesEncPipe`] and [`AesDecPipe`].
//!
//! Each takes one 16-byte block per enabled cycle and returns it
//! [`AES_PIPE_LATENCY`] enabled cycles later, for AES-128 and AES-256
//! alike: AES-128 runs 10 of the 14 round stages and the other four pass
//! the state through, so neither the key size nor the key or data changes
//! the timing. Blocks leave in the order they entered, each with its
//! sideband word (`side`, e.g. the plaintext to XOR with a keystream) and
//! flags (`tag`).
//!
//! Interface (both pipes):
//! - a block is taken at a rising edge with `enable & in_valid`;
//! - `enable` low holds every stage (global back-pressure), so the output
//!   on `out_*` stays until an edge with `enable` high retires it;
//! - `reset` is synchronous and zeroes every stage (valid bits and data,
//!   so no intermediate state survives a reset);
//! - `aes256` and `rk0..rk14` are held by the caller for a whole job and
//!   must not change while a block of the job is in flight.
//!
//! Cost, per pipe: 14 round stages, each with 16 S-box lanes (224 S-boxes;
//! 448 for both pipes), about 32 LUT6 each as a ROM on an FPGA, so roughly
//! 7k LUT6 of S-boxes plus the MixColumns/AddRoundKey XOR network (a few
//! hundred LUTs per round); and 14 x (1 + 128 + 128 + 8) = 3710 flip-flops
//! for the stage registers (valid, state, side word, tag). The critical
//! path is one round (S-box, MixColumns, AddRoundKey, a 2:1 pass
//! multiplexer); the initial AddRoundKey is in front of stage 1.

use super::round::{AesDecRound, AesEncRound};
use rust_hdl::prelude::*;

/// Latency of [`AesEncPipe`] and [`AesDecPipe`] in enabled cycles: a block
/// taken at rising edge n appears on `out_*` right after rising edge
/// n + `AES_PIPE_LATENCY` - 1, i.e. in the `AES_PIPE_LATENCY`-th cycle
/// after the one that presented it (with `enable` high throughout).
/// The same for AES-128 and AES-256.
pub const AES_PIPE_LATENCY: usize = 14;

/// The AES encryption pipeline: one block per enabled cycle, latency
/// [`AES_PIPE_LATENCY`] enabled cycles for AES-128 and AES-256 alike.
///
/// Stage k (1..=14) holds the state after round k. AES-128 runs rounds 1 to
/// 10 (stage 10 is its final round, without MixColumns) and stages 11 to 14
/// pass its state through unchanged; AES-256 runs all 14. The initial
/// AddRoundKey (`rk0`) is done in front of round 1.
///
/// A block is taken when `enable & in_valid` at a rising edge; `enable`
/// low freezes every stage (back-pressure). `out_*` show the oldest block
/// leaving the pipe, which is retired at the next rising edge with
/// `enable` high. `reset` (synchronous) empties and zeroes the pipe.
/// `aes256` and the round keys must not change while a block of the job is
/// in the pipe (drain it between jobs with different keys).
#[derive(LogicBlock, Default)]
pub struct AesEncPipe {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties and zeroes every stage.
    pub reset: Signal<In, Bit>,
    /// Advance: when low, every stage holds and no input is taken.
    pub enable: Signal<In, Bit>,
    /// AES-256 (14 rounds) when high, AES-128 (10 rounds) when low; stable for a job.
    pub aes256: Signal<In, Bit>,
    /// `in_block` is a block to process (taken when `enable` is high).
    pub in_valid: Signal<In, Bit>,
    /// Input block, byte 0 at bits 7:0.
    pub in_block: Signal<In, Bits<128>>,
    /// Sideband word carried unchanged with the block.
    pub in_side: Signal<In, Bits<128>>,
    /// Sideband flags carried unchanged with the block.
    pub in_tag: Signal<In, Bits<8>>,
    /// Round key 0 (FIPS-197 w[0..4]), stable for a job.
    pub rk0: Signal<In, Bits<128>>,
    /// Round key 1 (FIPS-197 w[4..8]), stable for a job.
    pub rk1: Signal<In, Bits<128>>,
    /// Round key 2 (FIPS-197 w[8..12]), stable for a job.
    pub rk2: Signal<In, Bits<128>>,
    /// Round key 3 (FIPS-197 w[12..16]), stable for a job.
    pub rk3: Signal<In, Bits<128>>,
    /// Round key 4 (FIPS-197 w[16..20]), stable for a job.
    pub rk4: Signal<In, Bits<128>>,
    /// Round key 5 (FIPS-197 w[20..24]), stable for a job.
    pub rk5: Signal<In, Bits<128>>,
    /// Round key 6 (FIPS-197 w[24..28]), stable for a job.
    pub rk6: Signal<In, Bits<128>>,
    /// Round key 7 (FIPS-197 w[28..32]), stable for a job.
    pub rk7: Signal<In, Bits<128>>,
    /// Round key 8 (FIPS-197 w[32..36]), stable for a job.
    pub rk8: Signal<In, Bits<128>>,
    /// Round key 9 (FIPS-197 w[36..40]), stable for a job.
    pub rk9: Signal<In, Bits<128>>,
    /// Round key 10 (FIPS-197 w[40..44]), stable for a job.
    pub rk10: Signal<In, Bits<128>>,
    /// Round key 11 (FIPS-197 w[44..48]), stable for a job. Ignored for AES-128.
    pub rk11: Signal<In, Bits<128>>,
    /// Round key 12 (FIPS-197 w[48..52]), stable for a job. Ignored for AES-128.
    pub rk12: Signal<In, Bits<128>>,
    /// Round key 13 (FIPS-197 w[52..56]), stable for a job. Ignored for AES-128.
    pub rk13: Signal<In, Bits<128>>,
    /// Round key 14 (FIPS-197 w[56..60]), stable for a job. Ignored for AES-128.
    pub rk14: Signal<In, Bits<128>>,
    /// `out_block` is a processed block.
    pub out_valid: Signal<Out, Bit>,
    /// Output block, byte 0 at bits 7:0.
    pub out_block: Signal<Out, Bits<128>>,
    /// The block's `in_side`.
    pub out_side: Signal<Out, Bits<128>>,
    /// The block's `in_tag`.
    pub out_tag: Signal<Out, Bits<8>>,

    r1: AesEncRound,
    r2: AesEncRound,
    r3: AesEncRound,
    r4: AesEncRound,
    r5: AesEncRound,
    r6: AesEncRound,
    r7: AesEncRound,
    r8: AesEncRound,
    r9: AesEncRound,
    r10: AesEncRound,
    r11: AesEncRound,
    r12: AesEncRound,
    r13: AesEncRound,
    r14: AesEncRound,
    v1: DFF<Bit>,
    s1: DFF<Bits<128>>,
    d1: DFF<Bits<128>>,
    t1: DFF<Bits<8>>,
    v2: DFF<Bit>,
    s2: DFF<Bits<128>>,
    d2: DFF<Bits<128>>,
    t2: DFF<Bits<8>>,
    v3: DFF<Bit>,
    s3: DFF<Bits<128>>,
    d3: DFF<Bits<128>>,
    t3: DFF<Bits<8>>,
    v4: DFF<Bit>,
    s4: DFF<Bits<128>>,
    d4: DFF<Bits<128>>,
    t4: DFF<Bits<8>>,
    v5: DFF<Bit>,
    s5: DFF<Bits<128>>,
    d5: DFF<Bits<128>>,
    t5: DFF<Bits<8>>,
    v6: DFF<Bit>,
    s6: DFF<Bits<128>>,
    d6: DFF<Bits<128>>,
    t6: DFF<Bits<8>>,
    v7: DFF<Bit>,
    s7: DFF<Bits<128>>,
    d7: DFF<Bits<128>>,
    t7: DFF<Bits<8>>,
    v8: DFF<Bit>,
    s8: DFF<Bits<128>>,
    d8: DFF<Bits<128>>,
    t8: DFF<Bits<8>>,
    v9: DFF<Bit>,
    s9: DFF<Bits<128>>,
    d9: DFF<Bits<128>>,
    t9: DFF<Bits<8>>,
    v10: DFF<Bit>,
    s10: DFF<Bits<128>>,
    d10: DFF<Bits<128>>,
    t10: DFF<Bits<8>>,
    v11: DFF<Bit>,
    s11: DFF<Bits<128>>,
    d11: DFF<Bits<128>>,
    t11: DFF<Bits<8>>,
    v12: DFF<Bit>,
    s12: DFF<Bits<128>>,
    d12: DFF<Bits<128>>,
    t12: DFF<Bits<8>>,
    v13: DFF<Bit>,
    s13: DFF<Bits<128>>,
    d13: DFF<Bits<128>>,
    t13: DFF<Bits<8>>,
    v14: DFF<Bit>,
    s14: DFF<Bits<128>>,
    d14: DFF<Bits<128>>,
    t14: DFF<Bits<8>>,
    white: Signal<Local, Bits<128>>,
}

impl Logic for AesEncPipe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, v1, s1, d1, t1, v2, s2, d2, t2, v3, s3, d3, t3, v4, s4, d4, t4, v5, s5,
            d5, t5, v6, s6, d6, t6, v7, s7, d7, t7, v8, s8, d8, t8, v9, s9, d9, t9, v10, s10, d10,
            t10, v11, s11, d11, t11, v12, s12, d12, t12, v13, s13, d13, t13, v14, s14, d14, t14
        );
        // Initial AddRoundKey.
        self.white.next = self.in_block.val() ^ self.rk0.val();
        // Stage 1: round with rk1.
        self.r1.state_in.next = self.white.val();
        self.r1.round_key.next = self.rk1.val();
        self.r1.last.next = false;
        self.r1.pass.next = false;
        if self.enable.val() {
            self.v1.d.next = self.in_valid.val();
            self.s1.d.next = self.r1.state_out.val();
            self.d1.d.next = self.in_side.val();
            self.t1.d.next = self.in_tag.val();
        }
        // Stage 2: round with rk2.
        self.r2.state_in.next = self.s1.q.val();
        self.r2.round_key.next = self.rk2.val();
        self.r2.last.next = false;
        self.r2.pass.next = false;
        if self.enable.val() {
            self.v2.d.next = self.v1.q.val();
            self.s2.d.next = self.r2.state_out.val();
            self.d2.d.next = self.d1.q.val();
            self.t2.d.next = self.t1.q.val();
        }
        // Stage 3: round with rk3.
        self.r3.state_in.next = self.s2.q.val();
        self.r3.round_key.next = self.rk3.val();
        self.r3.last.next = false;
        self.r3.pass.next = false;
        if self.enable.val() {
            self.v3.d.next = self.v2.q.val();
            self.s3.d.next = self.r3.state_out.val();
            self.d3.d.next = self.d2.q.val();
            self.t3.d.next = self.t2.q.val();
        }
        // Stage 4: round with rk4.
        self.r4.state_in.next = self.s3.q.val();
        self.r4.round_key.next = self.rk4.val();
        self.r4.last.next = false;
        self.r4.pass.next = false;
        if self.enable.val() {
            self.v4.d.next = self.v3.q.val();
            self.s4.d.next = self.r4.state_out.val();
            self.d4.d.next = self.d3.q.val();
            self.t4.d.next = self.t3.q.val();
        }
        // Stage 5: round with rk5.
        self.r5.state_in.next = self.s4.q.val();
        self.r5.round_key.next = self.rk5.val();
        self.r5.last.next = false;
        self.r5.pass.next = false;
        if self.enable.val() {
            self.v5.d.next = self.v4.q.val();
            self.s5.d.next = self.r5.state_out.val();
            self.d5.d.next = self.d4.q.val();
            self.t5.d.next = self.t4.q.val();
        }
        // Stage 6: round with rk6.
        self.r6.state_in.next = self.s5.q.val();
        self.r6.round_key.next = self.rk6.val();
        self.r6.last.next = false;
        self.r6.pass.next = false;
        if self.enable.val() {
            self.v6.d.next = self.v5.q.val();
            self.s6.d.next = self.r6.state_out.val();
            self.d6.d.next = self.d5.q.val();
            self.t6.d.next = self.t5.q.val();
        }
        // Stage 7: round with rk7.
        self.r7.state_in.next = self.s6.q.val();
        self.r7.round_key.next = self.rk7.val();
        self.r7.last.next = false;
        self.r7.pass.next = false;
        if self.enable.val() {
            self.v7.d.next = self.v6.q.val();
            self.s7.d.next = self.r7.state_out.val();
            self.d7.d.next = self.d6.q.val();
            self.t7.d.next = self.t6.q.val();
        }
        // Stage 8: round with rk8.
        self.r8.state_in.next = self.s7.q.val();
        self.r8.round_key.next = self.rk8.val();
        self.r8.last.next = false;
        self.r8.pass.next = false;
        if self.enable.val() {
            self.v8.d.next = self.v7.q.val();
            self.s8.d.next = self.r8.state_out.val();
            self.d8.d.next = self.d7.q.val();
            self.t8.d.next = self.t7.q.val();
        }
        // Stage 9: round with rk9.
        self.r9.state_in.next = self.s8.q.val();
        self.r9.round_key.next = self.rk9.val();
        self.r9.last.next = false;
        self.r9.pass.next = false;
        if self.enable.val() {
            self.v9.d.next = self.v8.q.val();
            self.s9.d.next = self.r9.state_out.val();
            self.d9.d.next = self.d8.q.val();
            self.t9.d.next = self.t8.q.val();
        }
        // Stage 10: round with rk10 (the final round for AES-128).
        self.r10.state_in.next = self.s9.q.val();
        self.r10.round_key.next = self.rk10.val();
        self.r10.last.next = !self.aes256.val();
        self.r10.pass.next = false;
        if self.enable.val() {
            self.v10.d.next = self.v9.q.val();
            self.s10.d.next = self.r10.state_out.val();
            self.d10.d.next = self.d9.q.val();
            self.t10.d.next = self.t9.q.val();
        }
        // Stage 11: round with rk11 (AES-256 only).
        self.r11.state_in.next = self.s10.q.val();
        self.r11.round_key.next = self.rk11.val();
        self.r11.last.next = false;
        self.r11.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v11.d.next = self.v10.q.val();
            self.s11.d.next = self.r11.state_out.val();
            self.d11.d.next = self.d10.q.val();
            self.t11.d.next = self.t10.q.val();
        }
        // Stage 12: round with rk12 (AES-256 only).
        self.r12.state_in.next = self.s11.q.val();
        self.r12.round_key.next = self.rk12.val();
        self.r12.last.next = false;
        self.r12.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v12.d.next = self.v11.q.val();
            self.s12.d.next = self.r12.state_out.val();
            self.d12.d.next = self.d11.q.val();
            self.t12.d.next = self.t11.q.val();
        }
        // Stage 13: round with rk13 (AES-256 only).
        self.r13.state_in.next = self.s12.q.val();
        self.r13.round_key.next = self.rk13.val();
        self.r13.last.next = false;
        self.r13.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v13.d.next = self.v12.q.val();
            self.s13.d.next = self.r13.state_out.val();
            self.d13.d.next = self.d12.q.val();
            self.t13.d.next = self.t12.q.val();
        }
        // Stage 14: round with rk14 (AES-256 only).
        self.r14.state_in.next = self.s13.q.val();
        self.r14.round_key.next = self.rk14.val();
        self.r14.last.next = true;
        self.r14.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v14.d.next = self.v13.q.val();
            self.s14.d.next = self.r14.state_out.val();
            self.d14.d.next = self.d13.q.val();
            self.t14.d.next = self.t13.q.val();
        }
        // Outputs.
        self.out_valid.next = self.v14.q.val();
        self.out_block.next = self.s14.q.val();
        self.out_side.next = self.d14.q.val();
        self.out_tag.next = self.t14.q.val();
        // Synchronous reset: drop and zero everything in flight.
        if self.reset.val() {
            self.v1.d.next = false;
            self.s1.d.next = bits::<128>(0);
            self.d1.d.next = bits::<128>(0);
            self.t1.d.next = bits::<8>(0);
            self.v2.d.next = false;
            self.s2.d.next = bits::<128>(0);
            self.d2.d.next = bits::<128>(0);
            self.t2.d.next = bits::<8>(0);
            self.v3.d.next = false;
            self.s3.d.next = bits::<128>(0);
            self.d3.d.next = bits::<128>(0);
            self.t3.d.next = bits::<8>(0);
            self.v4.d.next = false;
            self.s4.d.next = bits::<128>(0);
            self.d4.d.next = bits::<128>(0);
            self.t4.d.next = bits::<8>(0);
            self.v5.d.next = false;
            self.s5.d.next = bits::<128>(0);
            self.d5.d.next = bits::<128>(0);
            self.t5.d.next = bits::<8>(0);
            self.v6.d.next = false;
            self.s6.d.next = bits::<128>(0);
            self.d6.d.next = bits::<128>(0);
            self.t6.d.next = bits::<8>(0);
            self.v7.d.next = false;
            self.s7.d.next = bits::<128>(0);
            self.d7.d.next = bits::<128>(0);
            self.t7.d.next = bits::<8>(0);
            self.v8.d.next = false;
            self.s8.d.next = bits::<128>(0);
            self.d8.d.next = bits::<128>(0);
            self.t8.d.next = bits::<8>(0);
            self.v9.d.next = false;
            self.s9.d.next = bits::<128>(0);
            self.d9.d.next = bits::<128>(0);
            self.t9.d.next = bits::<8>(0);
            self.v10.d.next = false;
            self.s10.d.next = bits::<128>(0);
            self.d10.d.next = bits::<128>(0);
            self.t10.d.next = bits::<8>(0);
            self.v11.d.next = false;
            self.s11.d.next = bits::<128>(0);
            self.d11.d.next = bits::<128>(0);
            self.t11.d.next = bits::<8>(0);
            self.v12.d.next = false;
            self.s12.d.next = bits::<128>(0);
            self.d12.d.next = bits::<128>(0);
            self.t12.d.next = bits::<8>(0);
            self.v13.d.next = false;
            self.s13.d.next = bits::<128>(0);
            self.d13.d.next = bits::<128>(0);
            self.t13.d.next = bits::<8>(0);
            self.v14.d.next = false;
            self.s14.d.next = bits::<128>(0);
            self.d14.d.next = bits::<128>(0);
            self.t14.d.next = bits::<8>(0);
        }
    }
}

/// The AES decryption pipeline (straightforward inverse cipher, FIPS-197
/// 5.3, using the encryption round keys): one block per enabled cycle,
/// latency [`AES_PIPE_LATENCY`] enabled cycles for AES-128 and AES-256
/// alike.
///
/// The initial AddRoundKey uses `rk14` (AES-256) or `rk10` (AES-128).
/// Stage k (1..=14) then runs the inverse round with `rk(14-k)`, stage 14
/// being the final round (`rk0`, no InvMixColumns). For AES-128 stages 1
/// to 4 pass the state through, so every stage uses the same round key for
/// both key sizes.
///
/// Handshake, back-pressure, reset and key stability are as for
/// [`AesEncPipe`].
#[derive(LogicBlock, Default)]
pub struct AesDecPipe {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties and zeroes every stage.
    pub reset: Signal<In, Bit>,
    /// Advance: when low, every stage holds and no input is taken.
    pub enable: Signal<In, Bit>,
    /// AES-256 (14 rounds) when high, AES-128 (10 rounds) when low; stable for a job.
    pub aes256: Signal<In, Bit>,
    /// `in_block` is a block to process (taken when `enable` is high).
    pub in_valid: Signal<In, Bit>,
    /// Input block, byte 0 at bits 7:0.
    pub in_block: Signal<In, Bits<128>>,
    /// Sideband word carried unchanged with the block.
    pub in_side: Signal<In, Bits<128>>,
    /// Sideband flags carried unchanged with the block.
    pub in_tag: Signal<In, Bits<8>>,
    /// Round key 0 (FIPS-197 w[0..4]), stable for a job.
    pub rk0: Signal<In, Bits<128>>,
    /// Round key 1 (FIPS-197 w[4..8]), stable for a job.
    pub rk1: Signal<In, Bits<128>>,
    /// Round key 2 (FIPS-197 w[8..12]), stable for a job.
    pub rk2: Signal<In, Bits<128>>,
    /// Round key 3 (FIPS-197 w[12..16]), stable for a job.
    pub rk3: Signal<In, Bits<128>>,
    /// Round key 4 (FIPS-197 w[16..20]), stable for a job.
    pub rk4: Signal<In, Bits<128>>,
    /// Round key 5 (FIPS-197 w[20..24]), stable for a job.
    pub rk5: Signal<In, Bits<128>>,
    /// Round key 6 (FIPS-197 w[24..28]), stable for a job.
    pub rk6: Signal<In, Bits<128>>,
    /// Round key 7 (FIPS-197 w[28..32]), stable for a job.
    pub rk7: Signal<In, Bits<128>>,
    /// Round key 8 (FIPS-197 w[32..36]), stable for a job.
    pub rk8: Signal<In, Bits<128>>,
    /// Round key 9 (FIPS-197 w[36..40]), stable for a job.
    pub rk9: Signal<In, Bits<128>>,
    /// Round key 10 (FIPS-197 w[40..44]), stable for a job.
    pub rk10: Signal<In, Bits<128>>,
    /// Round key 11 (FIPS-197 w[44..48]), stable for a job. Ignored for AES-128.
    pub rk11: Signal<In, Bits<128>>,
    /// Round key 12 (FIPS-197 w[48..52]), stable for a job. Ignored for AES-128.
    pub rk12: Signal<In, Bits<128>>,
    /// Round key 13 (FIPS-197 w[52..56]), stable for a job. Ignored for AES-128.
    pub rk13: Signal<In, Bits<128>>,
    /// Round key 14 (FIPS-197 w[56..60]), stable for a job. Ignored for AES-128.
    pub rk14: Signal<In, Bits<128>>,
    /// `out_block` is a processed block.
    pub out_valid: Signal<Out, Bit>,
    /// Output block, byte 0 at bits 7:0.
    pub out_block: Signal<Out, Bits<128>>,
    /// The block's `in_side`.
    pub out_side: Signal<Out, Bits<128>>,
    /// The block's `in_tag`.
    pub out_tag: Signal<Out, Bits<8>>,

    r1: AesDecRound,
    r2: AesDecRound,
    r3: AesDecRound,
    r4: AesDecRound,
    r5: AesDecRound,
    r6: AesDecRound,
    r7: AesDecRound,
    r8: AesDecRound,
    r9: AesDecRound,
    r10: AesDecRound,
    r11: AesDecRound,
    r12: AesDecRound,
    r13: AesDecRound,
    r14: AesDecRound,
    v1: DFF<Bit>,
    s1: DFF<Bits<128>>,
    d1: DFF<Bits<128>>,
    t1: DFF<Bits<8>>,
    v2: DFF<Bit>,
    s2: DFF<Bits<128>>,
    d2: DFF<Bits<128>>,
    t2: DFF<Bits<8>>,
    v3: DFF<Bit>,
    s3: DFF<Bits<128>>,
    d3: DFF<Bits<128>>,
    t3: DFF<Bits<8>>,
    v4: DFF<Bit>,
    s4: DFF<Bits<128>>,
    d4: DFF<Bits<128>>,
    t4: DFF<Bits<8>>,
    v5: DFF<Bit>,
    s5: DFF<Bits<128>>,
    d5: DFF<Bits<128>>,
    t5: DFF<Bits<8>>,
    v6: DFF<Bit>,
    s6: DFF<Bits<128>>,
    d6: DFF<Bits<128>>,
    t6: DFF<Bits<8>>,
    v7: DFF<Bit>,
    s7: DFF<Bits<128>>,
    d7: DFF<Bits<128>>,
    t7: DFF<Bits<8>>,
    v8: DFF<Bit>,
    s8: DFF<Bits<128>>,
    d8: DFF<Bits<128>>,
    t8: DFF<Bits<8>>,
    v9: DFF<Bit>,
    s9: DFF<Bits<128>>,
    d9: DFF<Bits<128>>,
    t9: DFF<Bits<8>>,
    v10: DFF<Bit>,
    s10: DFF<Bits<128>>,
    d10: DFF<Bits<128>>,
    t10: DFF<Bits<8>>,
    v11: DFF<Bit>,
    s11: DFF<Bits<128>>,
    d11: DFF<Bits<128>>,
    t11: DFF<Bits<8>>,
    v12: DFF<Bit>,
    s12: DFF<Bits<128>>,
    d12: DFF<Bits<128>>,
    t12: DFF<Bits<8>>,
    v13: DFF<Bit>,
    s13: DFF<Bits<128>>,
    d13: DFF<Bits<128>>,
    t13: DFF<Bits<8>>,
    v14: DFF<Bit>,
    s14: DFF<Bits<128>>,
    d14: DFF<Bits<128>>,
    t14: DFF<Bits<8>>,
    wkey: Signal<Local, Bits<128>>,
    white: Signal<Local, Bits<128>>,
}

impl Logic for AesDecPipe {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, v1, s1, d1, t1, v2, s2, d2, t2, v3, s3, d3, t3, v4, s4, d4, t4, v5, s5,
            d5, t5, v6, s6, d6, t6, v7, s7, d7, t7, v8, s8, d8, t8, v9, s9, d9, t9, v10, s10, d10,
            t10, v11, s11, d11, t11, v12, s12, d12, t12, v13, s13, d13, t13, v14, s14, d14, t14
        );
        // Initial AddRoundKey with the last round key of the key size.
        self.wkey.next = self.rk10.val();
        if self.aes256.val() {
            self.wkey.next = self.rk14.val();
        }
        self.white.next = self.in_block.val() ^ self.wkey.val();
        // Stage 1: round with rk13 (AES-256 only).
        self.r1.state_in.next = self.white.val();
        self.r1.round_key.next = self.rk13.val();
        self.r1.last.next = false;
        self.r1.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v1.d.next = self.in_valid.val();
            self.s1.d.next = self.r1.state_out.val();
            self.d1.d.next = self.in_side.val();
            self.t1.d.next = self.in_tag.val();
        }
        // Stage 2: round with rk12 (AES-256 only).
        self.r2.state_in.next = self.s1.q.val();
        self.r2.round_key.next = self.rk12.val();
        self.r2.last.next = false;
        self.r2.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v2.d.next = self.v1.q.val();
            self.s2.d.next = self.r2.state_out.val();
            self.d2.d.next = self.d1.q.val();
            self.t2.d.next = self.t1.q.val();
        }
        // Stage 3: round with rk11 (AES-256 only).
        self.r3.state_in.next = self.s2.q.val();
        self.r3.round_key.next = self.rk11.val();
        self.r3.last.next = false;
        self.r3.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v3.d.next = self.v2.q.val();
            self.s3.d.next = self.r3.state_out.val();
            self.d3.d.next = self.d2.q.val();
            self.t3.d.next = self.t2.q.val();
        }
        // Stage 4: round with rk10 (AES-256 only).
        self.r4.state_in.next = self.s3.q.val();
        self.r4.round_key.next = self.rk10.val();
        self.r4.last.next = false;
        self.r4.pass.next = !self.aes256.val();
        if self.enable.val() {
            self.v4.d.next = self.v3.q.val();
            self.s4.d.next = self.r4.state_out.val();
            self.d4.d.next = self.d3.q.val();
            self.t4.d.next = self.t3.q.val();
        }
        // Stage 5: round with rk9.
        self.r5.state_in.next = self.s4.q.val();
        self.r5.round_key.next = self.rk9.val();
        self.r5.last.next = false;
        self.r5.pass.next = false;
        if self.enable.val() {
            self.v5.d.next = self.v4.q.val();
            self.s5.d.next = self.r5.state_out.val();
            self.d5.d.next = self.d4.q.val();
            self.t5.d.next = self.t4.q.val();
        }
        // Stage 6: round with rk8.
        self.r6.state_in.next = self.s5.q.val();
        self.r6.round_key.next = self.rk8.val();
        self.r6.last.next = false;
        self.r6.pass.next = false;
        if self.enable.val() {
            self.v6.d.next = self.v5.q.val();
            self.s6.d.next = self.r6.state_out.val();
            self.d6.d.next = self.d5.q.val();
            self.t6.d.next = self.t5.q.val();
        }
        // Stage 7: round with rk7.
        self.r7.state_in.next = self.s6.q.val();
        self.r7.round_key.next = self.rk7.val();
        self.r7.last.next = false;
        self.r7.pass.next = false;
        if self.enable.val() {
            self.v7.d.next = self.v6.q.val();
            self.s7.d.next = self.r7.state_out.val();
            self.d7.d.next = self.d6.q.val();
            self.t7.d.next = self.t6.q.val();
        }
        // Stage 8: round with rk6.
        self.r8.state_in.next = self.s7.q.val();
        self.r8.round_key.next = self.rk6.val();
        self.r8.last.next = false;
        self.r8.pass.next = false;
        if self.enable.val() {
            self.v8.d.next = self.v7.q.val();
            self.s8.d.next = self.r8.state_out.val();
            self.d8.d.next = self.d7.q.val();
            self.t8.d.next = self.t7.q.val();
        }
        // Stage 9: round with rk5.
        self.r9.state_in.next = self.s8.q.val();
        self.r9.round_key.next = self.rk5.val();
        self.r9.last.next = false;
        self.r9.pass.next = false;
        if self.enable.val() {
            self.v9.d.next = self.v8.q.val();
            self.s9.d.next = self.r9.state_out.val();
            self.d9.d.next = self.d8.q.val();
            self.t9.d.next = self.t8.q.val();
        }
        // Stage 10: round with rk4.
        self.r10.state_in.next = self.s9.q.val();
        self.r10.round_key.next = self.rk4.val();
        self.r10.last.next = false;
        self.r10.pass.next = false;
        if self.enable.val() {
            self.v10.d.next = self.v9.q.val();
            self.s10.d.next = self.r10.state_out.val();
            self.d10.d.next = self.d9.q.val();
            self.t10.d.next = self.t9.q.val();
        }
        // Stage 11: round with rk3.
        self.r11.state_in.next = self.s10.q.val();
        self.r11.round_key.next = self.rk3.val();
        self.r11.last.next = false;
        self.r11.pass.next = false;
        if self.enable.val() {
            self.v11.d.next = self.v10.q.val();
            self.s11.d.next = self.r11.state_out.val();
            self.d11.d.next = self.d10.q.val();
            self.t11.d.next = self.t10.q.val();
        }
        // Stage 12: round with rk2.
        self.r12.state_in.next = self.s11.q.val();
        self.r12.round_key.next = self.rk2.val();
        self.r12.last.next = false;
        self.r12.pass.next = false;
        if self.enable.val() {
            self.v12.d.next = self.v11.q.val();
            self.s12.d.next = self.r12.state_out.val();
            self.d12.d.next = self.d11.q.val();
            self.t12.d.next = self.t11.q.val();
        }
        // Stage 13: round with rk1.
        self.r13.state_in.next = self.s12.q.val();
        self.r13.round_key.next = self.rk1.val();
        self.r13.last.next = false;
        self.r13.pass.next = false;
        if self.enable.val() {
            self.v13.d.next = self.v12.q.val();
            self.s13.d.next = self.r13.state_out.val();
            self.d13.d.next = self.d12.q.val();
            self.t13.d.next = self.t12.q.val();
        }
        // Stage 14: round with rk0 (the final round).
        self.r14.state_in.next = self.s13.q.val();
        self.r14.round_key.next = self.rk0.val();
        self.r14.last.next = true;
        self.r14.pass.next = false;
        if self.enable.val() {
            self.v14.d.next = self.v13.q.val();
            self.s14.d.next = self.r14.state_out.val();
            self.d14.d.next = self.d13.q.val();
            self.t14.d.next = self.t13.q.val();
        }
        // Outputs.
        self.out_valid.next = self.v14.q.val();
        self.out_block.next = self.s14.q.val();
        self.out_side.next = self.d14.q.val();
        self.out_tag.next = self.t14.q.val();
        // Synchronous reset: drop and zero everything in flight.
        if self.reset.val() {
            self.v1.d.next = false;
            self.s1.d.next = bits::<128>(0);
            self.d1.d.next = bits::<128>(0);
            self.t1.d.next = bits::<8>(0);
            self.v2.d.next = false;
            self.s2.d.next = bits::<128>(0);
            self.d2.d.next = bits::<128>(0);
            self.t2.d.next = bits::<8>(0);
            self.v3.d.next = false;
            self.s3.d.next = bits::<128>(0);
            self.d3.d.next = bits::<128>(0);
            self.t3.d.next = bits::<8>(0);
            self.v4.d.next = false;
            self.s4.d.next = bits::<128>(0);
            self.d4.d.next = bits::<128>(0);
            self.t4.d.next = bits::<8>(0);
            self.v5.d.next = false;
            self.s5.d.next = bits::<128>(0);
            self.d5.d.next = bits::<128>(0);
            self.t5.d.next = bits::<8>(0);
            self.v6.d.next = false;
            self.s6.d.next = bits::<128>(0);
            self.d6.d.next = bits::<128>(0);
            self.t6.d.next = bits::<8>(0);
            self.v7.d.next = false;
            self.s7.d.next = bits::<128>(0);
            self.d7.d.next = bits::<128>(0);
            self.t7.d.next = bits::<8>(0);
            self.v8.d.next = false;
            self.s8.d.next = bits::<128>(0);
            self.d8.d.next = bits::<128>(0);
            self.t8.d.next = bits::<8>(0);
            self.v9.d.next = false;
            self.s9.d.next = bits::<128>(0);
            self.d9.d.next = bits::<128>(0);
            self.t9.d.next = bits::<8>(0);
            self.v10.d.next = false;
            self.s10.d.next = bits::<128>(0);
            self.d10.d.next = bits::<128>(0);
            self.t10.d.next = bits::<8>(0);
            self.v11.d.next = false;
            self.s11.d.next = bits::<128>(0);
            self.d11.d.next = bits::<128>(0);
            self.t11.d.next = bits::<8>(0);
            self.v12.d.next = false;
            self.s12.d.next = bits::<128>(0);
            self.d12.d.next = bits::<128>(0);
            self.t12.d.next = bits::<8>(0);
            self.v13.d.next = false;
            self.s13.d.next = bits::<128>(0);
            self.d13.d.next = bits::<128>(0);
            self.t13.d.next = bits::<8>(0);
            self.v14.d.next = false;
            self.s14.d.next = bits::<128>(0);
            self.d14.d.next = bits::<128>(0);
            self.t14.d.next = bits::<8>(0);
        }
    }
}
