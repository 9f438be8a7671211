//! [`CtrDrbg`]: the card's deterministic random bit generator, CTR_DRBG
//! with AES-256 and the derivation function (NIST SP 800-90A Rev. 1,
//! 10.2.1 and 10.3.2).
//!
//! Parameters: keylen 256, blocklen 128, ctr_len 128 (the whole of `V` is
//! the counter), seedlen 384 bits. The state is `Key`, `V` and
//! `reseed_counter`; the controller supplies the entropy input, nonce,
//! personalization string and additional input as one input string per
//! command, and obtains prediction resistance by reseeding before a
//! generate (the block itself has none).
//!
//! # Commands
//! The controller writes the input string into the 128-byte input buffer
//! (`in_write`, 16 bytes at a time), then pulses `start` with `cmd`,
//! `in_len` and `gen_blocks`:
//! - INSTANTIATE (10.2.1.3.2): input = entropy_input || nonce ||
//!   personalization_string, at least [`DRBG_MIN_INSTANTIATE_BYTES`]
//!   (32 bytes of entropy and a 16-byte nonce). `Key = 0, V = 0`, then
//!   `Update(df(input))`, `reseed_counter = 1`. Allowed when already
//!   instantiated (it replaces the state).
//! - RESEED (10.2.1.4.2): input = entropy_input || additional_input, at
//!   least [`DRBG_MIN_RESEED_BYTES`]. `Update(df(input))`,
//!   `reseed_counter = 1`.
//! - GENERATE (10.2.1.5.2): input = additional_input (may be empty).
//!   If it is not empty, `a = df(input)` and `Update(a)`; else `a = 0`.
//!   Then `gen_blocks` output blocks `E(Key, V + j + 1)`, then `Update(a)`
//!   and `reseed_counter += 1`.
//! - ZEROIZE: `Key`, `V`, `reseed_counter` and `instantiated` are cleared
//!   at the clock edge that takes `start`; `done` follows one cycle later,
//!   and the temporaries are cleared with it.
//!
//! A command is refused (`error` with `done`, one cycle after `start`, and
//! nothing but the input buffer changes) when `in_len` > 128, when
//! INSTANTIATE or RESEED has fewer bytes than its minimum, when RESEED or
//! GENERATE finds the DRBG not instantiated, or when GENERATE finds
//! `reseed_required` or `gen_blocks` outside 1..=4096.
//!
//! # Datapath
//! One iterative AES-256 core: an [`AesKeyExpand`] expanding the key of
//! every block anew (no round keys are stored) in lockstep with one
//! combinational [`AesEncRound`] and a 128-bit state register. A block takes
//! [`DRBG_BLOCK_CYCLES`] = 16 cycles: the expansion starts; in the cycle of
//! round key 0 the state register loads `plaintext ^ rk0`; in the cycles of
//! round keys 1 to 14 it takes the round's output (round 14 without
//! MixColumns), and the ciphertext, on the round's output in the cycle of
//! round key 14, is also written where it belongs. Every AES operation of
//! the DRBG goes through this core: the df's BCC chains under its fixed key
//! `00 01 .. 1f` and its final encryptions, and Update and Generate under
//! `Key`.
//!
//! The df's S = L || N || input || 0x80 || 0-padding (L = `in_len`, N = 48,
//! both 32-bit big-endian) is formed on the fly: input byte k is S byte
//! k + 8, so S block j is the upper half of buffer block j - 1 (for j = 0,
//! L || N) followed by the lower half of buffer block j. Each buffer block
//! is masked with `in_len` as it is read: bytes past the input read 0 and
//! the byte at `in_len` reads 0x80 (for `in_len` = 128 in a ninth block that
//! is otherwise zero). Its upper half waits in a 64-bit register for the
//! next S block.
//!
//! `V` is stored in FIPS byte order (byte 0, the most significant, at bits
//! 7:0); its increment byte-swaps, adds one and swaps back.
//!
//! # Timing
//! A command that is carried out takes [`drbg_cycles`] cycles from `start`
//! to `done` with `out_ready` held high: `16 * blocks + 1`, where `blocks`
//! is the number of AES blocks ([`drbg_aes_blocks`]). With
//! `s = (in_len + 24) / 16` blocks in the df's S, that is `3s + 9` for
//! INSTANTIATE and RESEED (three BCC chains of `1 + s` blocks, three df
//! output blocks, three Update blocks), and `gen_blocks + 3` for GENERATE,
//! plus `3s + 9` when its additional input is not empty. A refused command
//! and ZEROIZE take [`DRBG_REFUSED_CYCLES`] (one). Nothing depends on the
//! data or the key. Output blocks wait in `out_block` until taken; the next
//! output block's encryption starts only when the slot is free (or being
//! taken), so a slow consumer stretches a GENERATE, and `done` waits until
//! the last block has been taken.
//!
//! # Zeroization
//! In the cycle of `done` (the command's end, with or without error) the
//! input buffer, the df and Update temporaries, the derived seed, the AES
//! state register and the lengths are all cleared at the clock edge: from
//! the next cycle (`ready`) they read zero. The output register is cleared
//! when its block is taken, the AES state register also whenever the core
//! stops, and [`AesKeyExpand`] clears its key registers after every block
//! by itself. ZEROIZE and `reset` clear `Key`,
//! `V`, `reseed_counter` and `instantiated` at the edge that samples them;
//! `reset` clears every register at once and aborts a running command.

use crate::aes::{bits128, AesEncRound, AesKeyExpand};
use rust_hdl::prelude::*;

/// `cmd`: instantiate from entropy_input || nonce || personalization.
pub const DRBG_CMD_INSTANTIATE: u64 = 0;
/// `cmd`: reseed from entropy_input || additional_input.
pub const DRBG_CMD_RESEED: u64 = 1;
/// `cmd`: generate `gen_blocks` blocks, with optional additional input.
pub const DRBG_CMD_GENERATE: u64 = 2;
/// `cmd`: clear the DRBG's state.
pub const DRBG_CMD_ZEROIZE: u64 = 3;
/// Size of the input buffer in bytes (eight 16-byte blocks).
pub const DRBG_IN_BYTES: usize = 128;
/// Most output blocks per GENERATE (2^19 bits, SP 800-90A Table 3).
pub const DRBG_MAX_GEN_BLOCKS: usize = 4096;
/// Shortest INSTANTIATE input: 32 bytes of entropy and a 16-byte nonce.
pub const DRBG_MIN_INSTANTIATE_BYTES: usize = 48;
/// Shortest RESEED input: 32 bytes of entropy.
pub const DRBG_MIN_RESEED_BYTES: usize = 32;
/// Cycles per AES block of the iterative core.
pub const DRBG_BLOCK_CYCLES: u64 = 16;
/// Cycles from `start` to `done` of a refused command and of ZEROIZE.
pub const DRBG_REFUSED_CYCLES: u64 = 1;

/// Whether a command with these parameters is refused whatever the
/// DRBG's state (lengths and block counts out of range).
pub fn drbg_params_refused(cmd: u64, in_len: usize, gen_blocks: usize) -> bool {
    in_len > DRBG_IN_BYTES
        || (cmd == DRBG_CMD_INSTANTIATE && in_len < DRBG_MIN_INSTANTIATE_BYTES)
        || (cmd == DRBG_CMD_RESEED && in_len < DRBG_MIN_RESEED_BYTES)
        || (cmd == DRBG_CMD_GENERATE && !(1..=DRBG_MAX_GEN_BLOCKS).contains(&gen_blocks))
}

/// AES blocks a command runs when it is carried out (0 for ZEROIZE and for
/// parameters [`drbg_params_refused`] refuses).
///
/// With `s = (in_len + 24) / 16` blocks of the df's S, the df runs three
/// BCC chains of `1 + s` blocks and three final encryptions (`3s + 6`),
/// and an Update three blocks: INSTANTIATE and RESEED `3s + 9`; GENERATE
/// `gen_blocks + 3`, plus `3s + 9` when the additional input is not empty.
pub fn drbg_aes_blocks(cmd: u64, in_len: usize, gen_blocks: usize) -> u64 {
    if cmd == DRBG_CMD_ZEROIZE || drbg_params_refused(cmd, in_len, gen_blocks) {
        return 0;
    }
    let s = ((in_len + 24) / 16) as u64;
    let df_update = 3 * s + 9;
    match cmd {
        DRBG_CMD_GENERATE if in_len == 0 => gen_blocks as u64 + 3,
        DRBG_CMD_GENERATE => df_update + gen_blocks as u64 + 3,
        _ => df_update,
    }
}

/// Cycles from the `start` cycle to the `done` cycle (`done` is high
/// `drbg_cycles` cycles after `start`), with `out_ready` held high:
/// `16 * drbg_aes_blocks(..) + 1` for a command that is carried out,
/// [`DRBG_REFUSED_CYCLES`] for ZEROIZE and refused parameters. A command
/// refused for the DRBG's state (not instantiated, reseed required) also
/// takes [`DRBG_REFUSED_CYCLES`].
pub fn drbg_cycles(cmd: u64, in_len: usize, gen_blocks: usize) -> u64 {
    match drbg_aes_blocks(cmd, in_len, gen_blocks) {
        0 => DRBG_REFUSED_CYCLES,
        n => DRBG_BLOCK_CYCLES * n + 1,
    }
}

/// Where a command is.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum DrbgPhase {
    /// Waiting for a command (`ready`).
    Idle,
    /// df: the three BCC chains over IV_i || S.
    Bcc,
    /// df: the three final encryptions under the BCC result's key.
    DfOut,
    /// Update with the df's output (INSTANTIATE, RESEED, GENERATE with
    /// additional input).
    Upd1,
    /// GENERATE: the output blocks.
    Gen,
    /// GENERATE: the closing Update.
    Upd2,
    /// `done` (once the last output block is taken); clear the temporaries.
    Fin,
}

/// CTR_DRBG (AES-256, with derivation function); see the module docs.
#[derive(LogicBlock)]
pub struct CtrDrbg {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: zeroizes like ZEROIZE, immediately.
    pub reset: Signal<In, Bit>,
    /// Write `in_block` into input-string block `in_index` (only while
    /// `ready`; a write in the `start` cycle is part of the command's input).
    pub in_write: Signal<In, Bit>,
    /// Block of the input buffer to write (0..=7).
    pub in_index: Signal<In, Bits<3>>,
    /// Bytes 16*in_index .. 16*in_index+15 of the input string, byte 0 at
    /// bits 7:0.
    pub in_block: Signal<In, Bits<128>>,
    /// Length in bytes of the input string, 0..=128, sampled with `start`.
    /// Buffer bytes past it are ignored.
    pub in_len: Signal<In, Bits<8>>,
    /// Pulse (while `ready`): run `cmd`.
    pub start: Signal<In, Bit>,
    /// [`DRBG_CMD_INSTANTIATE`], [`DRBG_CMD_RESEED`], [`DRBG_CMD_GENERATE`]
    /// or [`DRBG_CMD_ZEROIZE`], sampled with `start`.
    pub cmd: Signal<In, Bits<2>>,
    /// GENERATE: number of 16-byte output blocks, 1..=4096 (sampled with
    /// `start`).
    pub gen_blocks: Signal<In, Bits<13>>,
    /// Reseed interval: GENERATE is refused once reseed_counter >
    /// reseed_limit.
    pub reseed_limit: Signal<In, Bits<32>>,
    /// An output block is on `out_block`; held until taken.
    pub out_valid: Signal<Out, Bit>,
    /// Output block `E(Key, V)`, byte 0 at bits 7:0 (zero when not valid).
    pub out_block: Signal<Out, Bits<128>>,
    /// The consumer takes `out_block` in a cycle where out_valid &&
    /// out_ready.
    pub out_ready: Signal<In, Bit>,
    /// Idle: accepts `start` and `in_write`.
    pub ready: Signal<Out, Bit>,
    /// Pulse: the command finished (with or without error).
    pub done: Signal<Out, Bit>,
    /// Valid with `done`: the command was refused and changed nothing but
    /// the input buffer (see the module docs for when).
    pub error: Signal<Out, Bit>,
    /// The DRBG holds an instantiated state.
    pub instantiated: Signal<Out, Bit>,
    /// reseed_counter > reseed_limit: GENERATE will be refused until a
    /// RESEED (or INSTANTIATE).
    pub reseed_required: Signal<Out, Bit>,

    kx: AesKeyExpand,
    rnd: AesEncRound,

    phase: DFF<DrbgPhase>,
    cmd_r: DFF<Bits<2>>,
    len_r: DFF<Bits<8>>,
    ns_r: DFF<Bits<4>>,
    gb_r: DFF<Bits<13>>,
    err_r: DFF<Bit>,
    // Block index within a phase (BCC chain, df output, Update block).
    pi: DFF<Bits<2>>,
    // BCC: 0 for IV_i, j for S block j - 1.
    pj: DFF<Bits<4>>,
    // GENERATE: output blocks encrypted.
    gc: DFF<Bits<13>>,
    // The DRBG state.
    key0: DFF<Bits<128>>,
    key1: DFF<Bits<128>>,
    v: DFF<Bits<128>>,
    rc: DFF<Bits<33>>,
    inst: DFF<Bit>,
    // The input buffer.
    ibuf: DFF<Bits<1024>>,
    // The df's output (the Update's provided_data).
    seed0: DFF<Bits<128>>,
    seed1: DFF<Bits<128>>,
    seed2: DFF<Bits<128>>,
    // BCC results (the df's K and X), then the Update's new Key.
    t0: DFF<Bits<128>>,
    t1: DFF<Bits<128>>,
    t2: DFF<Bits<128>>,
    // AES state.
    st: DFF<Bits<128>>,
    // Upper half of the last masked buffer block (the next S block's low half).
    prev: DFF<Bits<64>>,
    ob: DFF<Bits<128>>,
    ov: DFF<Bit>,

    rk0: Signal<Local, Bit>,
    wb: Signal<Local, Bit>,
    fin: Signal<Local, Bit>,
    issue: Signal<Local, Bit>,
    refuse: Signal<Local, Bit>,
    pt: Signal<Local, Bits<128>>,
    ct: Signal<Local, Bits<128>>,
    raw: Signal<Local, Bits<128>>,
    base: Signal<Local, Bits<9>>,
    // The mask of block in_index of the input buffer.
    buf_wmask: Signal<Local, Bits<1024>>,
    sh: Signal<Local, Bits<8>>,
    hi_ones: Signal<Local, Bits<128>>,
    m: Signal<Local, Bits<128>>,
    lo: Signal<Local, Bits<64>>,
    vle: Signal<Local, Bits<128>>,
    vsum: Signal<Local, Bits<128>>,
    vinc: Signal<Local, Bits<128>>,

    kdf: Constant<Bits<256>>,
    ones: Constant<Bits<128>>,
    n48: Constant<Bits<64>>,
    c_inst: Constant<Bits<2>>,
    c_reseed: Constant<Bits<2>>,
    c_gen: Constant<Bits<2>>,
}

impl Default for CtrDrbg {
    fn default() -> Self {
        // The df's key: bytes 00 01 .. 1f, byte 0 at bits 7:0.
        let lo = u128::from_le_bytes(core::array::from_fn(|i| i as u8));
        let hi = u128::from_le_bytes(core::array::from_fn(|i| 16 + i as u8));
        let kdf: Bits<256> =
            (bit_cast::<256, 128>(bits128(hi)) << 128) | bit_cast::<256, 128>(bits128(lo));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            in_write: Default::default(),
            in_index: Default::default(),
            in_block: Default::default(),
            in_len: Default::default(),
            start: Default::default(),
            cmd: Default::default(),
            gen_blocks: Default::default(),
            reseed_limit: Default::default(),
            out_valid: Default::default(),
            out_block: Default::default(),
            out_ready: Default::default(),
            ready: Default::default(),
            done: Default::default(),
            error: Default::default(),
            instantiated: Default::default(),
            reseed_required: Default::default(),
            kx: Default::default(),
            rnd: Default::default(),
            phase: Default::default(),
            cmd_r: Default::default(),
            len_r: Default::default(),
            ns_r: Default::default(),
            gb_r: Default::default(),
            err_r: Default::default(),
            pi: Default::default(),
            pj: Default::default(),
            gc: Default::default(),
            key0: Default::default(),
            key1: Default::default(),
            v: Default::default(),
            rc: Default::default(),
            inst: Default::default(),
            ibuf: Default::default(),
            buf_wmask: Default::default(),
            seed0: Default::default(),
            seed1: Default::default(),
            seed2: Default::default(),
            t0: Default::default(),
            t1: Default::default(),
            t2: Default::default(),
            st: Default::default(),
            prev: Default::default(),
            ob: Default::default(),
            ov: Default::default(),
            rk0: Default::default(),
            wb: Default::default(),
            fin: Default::default(),
            issue: Default::default(),
            refuse: Default::default(),
            pt: Default::default(),
            ct: Default::default(),
            raw: Default::default(),
            base: Default::default(),
            sh: Default::default(),
            hi_ones: Default::default(),
            m: Default::default(),
            lo: Default::default(),
            vle: Default::default(),
            vsum: Default::default(),
            vinc: Default::default(),
            kdf: Constant::new(kdf),
            ones: Constant::new(bits128(u128::MAX)),
            n48: Constant::new(bits::<64>(48 << 56)),
            c_inst: Constant::new(DRBG_CMD_INSTANTIATE.into()),
            c_reseed: Constant::new(DRBG_CMD_RESEED.into()),
            c_gen: Constant::new(DRBG_CMD_GENERATE.into()),
        }
    }
}

impl CtrDrbg {
    /// Every register that holds input, seed material, a df or Update
    /// temporary, an AES state or an output block is zero, and the key
    /// expansion is idle with no round key on its output. Test hook for the
    /// zeroization after each command.
    #[doc(hidden)]
    pub fn scratch_is_zero(&self) -> bool {
        let wide = [
            &self.seed0,
            &self.seed1,
            &self.seed2,
            &self.t0,
            &self.t1,
            &self.t2,
            &self.st,
            &self.ob,
        ];
        wide.iter().all(|r| !r.q.val().any())
            && !self.ibuf.q.val().any()
            && !self.prev.q.val().any()
            && !self.ov.q.val()
            && !self.len_r.q.val().any()
            && !self.kx.busy.val()
            && !self.kx.rk.val().any()
    }

    /// [`Self::scratch_is_zero`], and `Key`, `V`, `reseed_counter` and
    /// `instantiated` are zero too. Test hook for ZEROIZE and reset.
    #[doc(hidden)]
    pub fn secret_state_is_zero(&self) -> bool {
        self.scratch_is_zero()
            && !self.key0.q.val().any()
            && !self.key1.q.val().any()
            && !self.v.q.val().any()
            && !self.rc.q.val().any()
            && !self.inst.q.val()
    }
}

impl Logic for CtrDrbg {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, phase, cmd_r, len_r, ns_r, gb_r, err_r, pi, pj, gc, key0, key1, v, rc,
            inst, ibuf, seed0, seed1, seed2, t0, t1, t2, st, prev, ob, ov
        );

        // The input buffer: eight 128-bit blocks in one register.
        self.buf_wmask.next =
            bit_cast::<1024, 128>(self.ones.val()) << (bit_cast::<11, 3>(self.in_index.val()) << 7);

        // The AES core: key expansion in lockstep with one round.
        self.kx.clock.next = self.clock.val();
        self.kx.reset.next = self.reset.val();
        self.kx.aes256.next = true;
        self.kx.start.next = false;
        self.kx.key.next = bits::<256>(0);
        self.rnd.state_in.next = self.st.q.val();
        self.rnd.round_key.next = self.kx.rk.val();
        self.rnd.last.next = self.kx.rk_index.val() == bits::<4>(14);
        self.rnd.pass.next = false;
        self.rk0.next = self.kx.rk_valid.val() & (self.kx.rk_index.val() == bits::<4>(0));
        self.wb.next = self.kx.rk_valid.val() & (self.kx.rk_index.val() == bits::<4>(14));
        self.ct.next = self.rnd.state_out.val();

        // Ports.
        self.fin.next = (self.phase.q.val() == DrbgPhase::Fin) & !self.ov.q.val();
        self.ready.next = self.phase.q.val() == DrbgPhase::Idle;
        self.done.next = self.fin.val();
        self.error.next = self.fin.val() & self.err_r.q.val();
        self.instantiated.next = self.inst.q.val();
        self.reseed_required.next = self.rc.q.val() > bit_cast::<33, 32>(self.reseed_limit.val());
        self.out_valid.next = self.ov.q.val();
        self.out_block.next = self.ob.q.val();

        // Local defaults (the heavy ones are computed only where used).
        self.refuse.next = false;
        self.pt.next = bits::<128>(0);
        self.raw.next = bits::<128>(0);
        self.base.next = bits::<9>(0);
        self.sh.next = bits::<8>(0);
        self.hi_ones.next = bits::<128>(0);
        self.m.next = bits::<128>(0);
        self.lo.next = bits::<64>(0);
        self.vle.next = bits::<128>(0);
        self.vsum.next = bits::<128>(0);
        self.vinc.next = bits::<128>(0);

        // Start a block when the core is free (a GENERATE output block
        // also needs the output slot), with the phase's key.
        self.issue.next = !self.kx.busy.val()
            & ((self.phase.q.val() == DrbgPhase::Bcc)
                | (self.phase.q.val() == DrbgPhase::DfOut)
                | (self.phase.q.val() == DrbgPhase::Upd1)
                | (self.phase.q.val() == DrbgPhase::Upd2)
                | ((self.phase.q.val() == DrbgPhase::Gen)
                    & (!self.ov.q.val() | self.out_ready.val())));
        if self.issue.val() {
            self.kx.start.next = true;
            if self.phase.q.val() == DrbgPhase::Bcc {
                self.kx.key.next = self.kdf.val();
            } else if self.phase.q.val() == DrbgPhase::DfOut {
                self.kx.key.next = (bit_cast::<256, 128>(self.t1.q.val()) << 128)
                    | bit_cast::<256, 128>(self.t0.q.val());
            } else {
                self.kx.key.next = (bit_cast::<256, 128>(self.key1.q.val()) << 128)
                    | bit_cast::<256, 128>(self.key0.q.val());
            }
        }

        // The state register: rounds 1..=14, or plaintext ^ rk0. It keeps
        // a ciphertext only while the next block may chain on it: once
        // the core stops (expansion done, no new start) it is cleared.
        if self.kx.done.val() & !self.issue.val() {
            self.st.d.next = bits::<128>(0);
        }
        if self.kx.rk_valid.val() {
            self.st.d.next = self.rnd.state_out.val();
        }
        if self.rk0.val() {
            match self.phase.q.val() {
                DrbgPhase::Bcc => {
                    if self.pj.q.val() == bits::<4>(0) {
                        // IV_i: i as a 32-bit big-endian word, then zeros.
                        self.pt.next = bit_cast::<128, 2>(self.pi.q.val()) << 24;
                    } else {
                        // S block pj - 1 from buffer blocks pj - 2 and pj - 1.
                        if self.pj.q.val() <= bits::<4>(8) {
                            self.raw.next = bit_cast::<128, 1024>(
                                self.ibuf.q.val() >> (bit_cast::<11, 4>(self.pj.q.val() - 1) << 7),
                            );
                            self.base.next = bit_cast::<9, 4>(self.pj.q.val() - 1) << 4;
                        } else {
                            self.raw.next = bits::<128>(0);
                            self.base.next = bits::<9>(128);
                        }
                        // Bytes of this block that are input: in_len - base
                        // (= in_len mod 16) when below 16; the next byte is
                        // the 0x80.
                        self.sh.next = bit_cast::<8, 4>(self.len_r.q.val().get_bits::<4>(0)) << 3;
                        self.hi_ones.next = self.ones.val() << self.sh.val();
                        if bit_cast::<9, 8>(self.len_r.q.val()) >= self.base.val() + 16 {
                            self.m.next = self.raw.val();
                        } else if bit_cast::<9, 8>(self.len_r.q.val()) >= self.base.val() {
                            self.m.next = (self.raw.val() & !self.hi_ones.val())
                                | (bits::<128>(0x80) << self.sh.val());
                        }
                        // S block 0 starts with L || N (32-bit big-endian).
                        self.lo.next = self.prev.q.val();
                        if self.pj.q.val() == bits::<4>(1) {
                            self.lo.next =
                                (bit_cast::<64, 8>(self.len_r.q.val()) << 24) | self.n48.val();
                        }
                        self.pt.next = self.st.q.val()
                            ^ bit_cast::<128, 64>(self.lo.val())
                            ^ (self.m.val() << 64);
                        self.prev.d.next = self.m.val().get_bits::<64>(64);
                    }
                }
                DrbgPhase::DfOut => {
                    // X, then each output is the next input.
                    self.pt.next = self.st.q.val();
                    if self.pi.q.val() == bits::<2>(0) {
                        self.pt.next = self.t2.q.val();
                    }
                }
                _ => {
                    // Update and Generate: V = V + 1 (big-endian), E(Key, V).
                    self.vle.next = (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(0)) << 120)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(8)) << 112)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(16)) << 104)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(24)) << 96)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(32)) << 88)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(40)) << 80)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(48)) << 72)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(56)) << 64)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(64)) << 56)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(72)) << 48)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(80)) << 40)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(88)) << 32)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(96)) << 24)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(104)) << 16)
                        | (bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(112)) << 8)
                        | bit_cast::<128, 8>(self.v.q.val().get_bits::<8>(120));
                    self.vsum.next = self.vle.val() + 1;
                    self.vinc.next = (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(0)) << 120)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(8)) << 112)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(16)) << 104)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(24)) << 96)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(32)) << 88)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(40)) << 80)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(48)) << 72)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(56)) << 64)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(64)) << 56)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(72)) << 48)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(80)) << 40)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(88)) << 32)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(96)) << 24)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(104)) << 16)
                        | (bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(112)) << 8)
                        | bit_cast::<128, 8>(self.vsum.val().get_bits::<8>(120));
                    self.pt.next = self.vinc.val();
                    self.v.d.next = self.vinc.val();
                }
            }
            self.st.d.next = self.pt.val() ^ self.kx.rk.val();
        }

        // The output slot.
        if self.ov.q.val() & self.out_ready.val() {
            self.ov.d.next = false;
            self.ob.d.next = bits::<128>(0);
        }

        // The ciphertext (on the round's output in the cycle of rk14).
        if self.wb.val() {
            match self.phase.q.val() {
                DrbgPhase::Bcc => {
                    if self.pj.q.val() == self.ns_r.q.val() {
                        // End of BCC chain pi: its output is temp block pi.
                        if self.pi.q.val() == bits::<2>(0) {
                            self.t0.d.next = self.ct.val();
                        }
                        if self.pi.q.val() == bits::<2>(1) {
                            self.t1.d.next = self.ct.val();
                        }
                        if self.pi.q.val() == bits::<2>(2) {
                            self.t2.d.next = self.ct.val();
                        }
                        self.pj.d.next = bits::<4>(0);
                        self.pi.d.next = self.pi.q.val() + 1;
                        if self.pi.q.val() == bits::<2>(2) {
                            self.pi.d.next = bits::<2>(0);
                            self.phase.d.next = DrbgPhase::DfOut;
                        }
                    } else {
                        self.pj.d.next = self.pj.q.val() + 1;
                    }
                }
                DrbgPhase::DfOut => {
                    if self.pi.q.val() == bits::<2>(0) {
                        self.seed0.d.next = self.ct.val();
                    }
                    if self.pi.q.val() == bits::<2>(1) {
                        self.seed1.d.next = self.ct.val();
                    }
                    self.pi.d.next = self.pi.q.val() + 1;
                    if self.pi.q.val() == bits::<2>(2) {
                        self.seed2.d.next = self.ct.val();
                        self.pi.d.next = bits::<2>(0);
                        self.phase.d.next = DrbgPhase::Upd1;
                    }
                }
                DrbgPhase::Upd1 => {
                    if self.pi.q.val() == bits::<2>(0) {
                        self.t0.d.next = self.ct.val() ^ self.seed0.q.val();
                    }
                    if self.pi.q.val() == bits::<2>(1) {
                        self.t1.d.next = self.ct.val() ^ self.seed1.q.val();
                    }
                    self.pi.d.next = self.pi.q.val() + 1;
                    if self.pi.q.val() == bits::<2>(2) {
                        self.v.d.next = self.ct.val() ^ self.seed2.q.val();
                        self.key0.d.next = self.t0.q.val();
                        self.key1.d.next = self.t1.q.val();
                        self.pi.d.next = bits::<2>(0);
                        self.phase.d.next = DrbgPhase::Fin;
                        if self.cmd_r.q.val() == self.c_gen.val() {
                            self.phase.d.next = DrbgPhase::Gen;
                        }
                    }
                }
                DrbgPhase::Gen => {
                    self.ob.d.next = self.ct.val();
                    self.ov.d.next = true;
                    self.gc.d.next = self.gc.q.val() + 1;
                    if self.gc.q.val() + 1 == self.gb_r.q.val() {
                        self.phase.d.next = DrbgPhase::Upd2;
                    }
                }
                DrbgPhase::Upd2 => {
                    if self.pi.q.val() == bits::<2>(0) {
                        self.t0.d.next = self.ct.val() ^ self.seed0.q.val();
                    }
                    if self.pi.q.val() == bits::<2>(1) {
                        self.t1.d.next = self.ct.val() ^ self.seed1.q.val();
                    }
                    self.pi.d.next = self.pi.q.val() + 1;
                    if self.pi.q.val() == bits::<2>(2) {
                        self.v.d.next = self.ct.val() ^ self.seed2.q.val();
                        self.key0.d.next = self.t0.q.val();
                        self.key1.d.next = self.t1.q.val();
                        self.pi.d.next = bits::<2>(0);
                        self.phase.d.next = DrbgPhase::Fin;
                    }
                }
                _ => {}
            }
        }

        // The end of a command: commit the counter (the temporaries are
        // cleared below, with reset).
        if self.fin.val() & !self.err_r.q.val() {
            if self.cmd_r.q.val() == self.c_inst.val() {
                self.inst.d.next = true;
                self.rc.d.next = bits::<33>(1);
            }
            if self.cmd_r.q.val() == self.c_reseed.val() {
                self.rc.d.next = bits::<33>(1);
            }
            if self.cmd_r.q.val() == self.c_gen.val() {
                self.rc.d.next = self.rc.q.val() + 1;
            }
        }

        // Idle: input buffer writes and commands.
        if self.phase.q.val() == DrbgPhase::Idle {
            if self.in_write.val() {
                // Block in_index of the buffer (shifts, so that the mask has
                // the buffer's width in Verilog too).
                self.ibuf.d.next = (self.ibuf.q.val() & !self.buf_wmask.val())
                    | (bit_cast::<1024, 128>(self.in_block.val())
                        << (bit_cast::<11, 3>(self.in_index.val()) << 7));
            }
            if self.start.val() {
                self.refuse.next = self.in_len.val() > bits::<8>(128);
                if (self.cmd.val() == self.c_inst.val()) & (self.in_len.val() < bits::<8>(48)) {
                    self.refuse.next = true;
                }
                if (self.cmd.val() == self.c_reseed.val())
                    & (!self.inst.q.val() | (self.in_len.val() < bits::<8>(32)))
                {
                    self.refuse.next = true;
                }
                if (self.cmd.val() == self.c_gen.val())
                    & (!self.inst.q.val()
                        | (self.rc.q.val() > bit_cast::<33, 32>(self.reseed_limit.val()))
                        | (self.gen_blocks.val() == bits::<13>(0))
                        | (self.gen_blocks.val() > bits::<13>(4096)))
                {
                    self.refuse.next = true;
                }
                self.cmd_r.d.next = self.cmd.val();
                self.len_r.d.next = self.in_len.val();
                // S blocks: (in_len + 8 + 1 + 15) / 16.
                self.ns_r.d.next =
                    bit_cast::<4, 9>((bit_cast::<9, 8>(self.in_len.val()) + 24) >> 4);
                self.gb_r.d.next = self.gen_blocks.val();
                self.err_r.d.next = false;
                self.pi.d.next = bits::<2>(0);
                self.pj.d.next = bits::<4>(0);
                self.gc.d.next = bits::<13>(0);
                if self.refuse.val() {
                    self.err_r.d.next = true;
                    self.phase.d.next = DrbgPhase::Fin;
                } else if self.cmd.val() == self.c_inst.val() {
                    self.key0.d.next = bits::<128>(0);
                    self.key1.d.next = bits::<128>(0);
                    self.v.d.next = bits::<128>(0);
                    self.phase.d.next = DrbgPhase::Bcc;
                } else if self.cmd.val() == self.c_reseed.val() {
                    self.phase.d.next = DrbgPhase::Bcc;
                } else if self.cmd.val() == self.c_gen.val() {
                    self.phase.d.next = DrbgPhase::Bcc;
                    if self.in_len.val() == bits::<8>(0) {
                        self.phase.d.next = DrbgPhase::Gen;
                    }
                } else {
                    // ZEROIZE.
                    self.key0.d.next = bits::<128>(0);
                    self.key1.d.next = bits::<128>(0);
                    self.v.d.next = bits::<128>(0);
                    self.rc.d.next = bits::<33>(0);
                    self.inst.d.next = false;
                    self.phase.d.next = DrbgPhase::Fin;
                }
            }
        }

        // The end of a command, and reset: the temporaries go back to zero.
        if self.fin.val() | self.reset.val() {
            self.phase.d.next = DrbgPhase::Idle;
            self.cmd_r.d.next = bits::<2>(0);
            self.len_r.d.next = bits::<8>(0);
            self.ns_r.d.next = bits::<4>(0);
            self.gb_r.d.next = bits::<13>(0);
            self.err_r.d.next = false;
            self.pi.d.next = bits::<2>(0);
            self.pj.d.next = bits::<4>(0);
            self.gc.d.next = bits::<13>(0);
            self.ibuf.d.next = bits::<1024>(0);
            self.seed0.d.next = bits::<128>(0);
            self.seed1.d.next = bits::<128>(0);
            self.seed2.d.next = bits::<128>(0);
            self.t0.d.next = bits::<128>(0);
            self.t1.d.next = bits::<128>(0);
            self.t2.d.next = bits::<128>(0);
            self.st.d.next = bits::<128>(0);
            self.prev.d.next = bits::<64>(0);
        }
        // Reset also zeroizes the state.
        if self.reset.val() {
            self.key0.d.next = bits::<128>(0);
            self.key1.d.next = bits::<128>(0);
            self.v.d.next = bits::<128>(0);
            self.rc.d.next = bits::<33>(0);
            self.inst.d.next = false;
            self.ob.d.next = bits::<128>(0);
            self.ov.d.next = false;
        }
    }
}
