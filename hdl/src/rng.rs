//! The card's random bit generator: the noise-source port, its health tests
//! ([`EntropyHealth`]) and the CTR_DRBG ([`CtrDrbg`]), under one controller
//! that seeds, reseeds and serves requests (`hsm_contract::rng` is the
//! specification).
//!
//! # Life cycle
//! 0. After reset the controller runs the DRBG's known-answer test
//!    ([`KAT_ENTROPY`], [`KAT_NONCE`], [`KAT_RETURNED`]: instantiate,
//!    generate twice, compare the second output, zeroize) while the noise
//!    source's start-up test runs. A mismatch (or `kat_inject`, the
//!    simulated card's fault-injection input) is final until reset:
//!    `kat_fail` and `fault` rise and every request is refused.
//! 1. The controller enables the noise source and waits for the
//!    health tests' start-up test ([`STARTUP_SAMPLES`] samples).
//! 2. It collects [`ENTROPY_INPUT_SAMPLES`] + [`NONCE_SAMPLES`] tested
//!    samples into the DRBG's input buffer, appends [`PERSONALIZATION`] and
//!    instantiates; `seeded` rises, `busy` drops and the noise source is
//!    switched off.
//! 3. A request (`req`, `req_blocks` 16-byte blocks; accepted once the
//!    unit is seeded and idle, held until `req_done`) is served by GENERATE
//!    commands of at most [`MAX_REQUEST_BYTES`] each; before each one the
//!    controller reseeds with [`ENTROPY_INPUT_SAMPLES`] fresh samples when
//!    the request asks for prediction resistance (`req_pr`, used for key
//!    material; once per request) or when the DRBG's reseed counter has
//!    reached [`RESEED_INTERVAL`]. Blocks leave on `out_*` with
//!    back-pressure; `req_done` pulses after the last one.
//! 4. A health-test failure at any time the source runs is sticky: the DRBG
//!    is zeroized, `fault` rises, the request in progress (if any) and every
//!    later one end at once with `req_done` and `req_fail`, and nothing more
//!    leaves `out_*`. Only a reset clears it.
//!
//! Nothing here depends on the value of a sample or of DRBG output: the
//! cycles a request takes depend on its length, on whether it reseeds, and
//! on the noise source's pace.

use crate::drbg::{
    CtrDrbg, DRBG_CMD_GENERATE, DRBG_CMD_INSTANTIATE, DRBG_CMD_RESEED, DRBG_CMD_ZEROIZE,
    DRBG_MAX_GEN_BLOCKS,
};
use crate::entropy::EntropyHealth;
use hsm_contract::rng::{
    ENTROPY_INPUT_SAMPLES, MAX_REQUEST_BYTES, NONCE_SAMPLES, PERSONALIZATION, RESEED_INTERVAL,
    STARTUP_SAMPLES,
};
use rust_hdl::prelude::*;

// The DRBG's input string (entropy input, nonce, personalization) is
// whole blocks that fit its buffer, and one request is one GENERATE.
const _: () = assert!(ENTROPY_INPUT_SAMPLES.is_multiple_of(16) && NONCE_SAMPLES.is_multiple_of(16));
const _: () = assert!((ENTROPY_INPUT_SAMPLES + NONCE_SAMPLES) / 16 < 8);
const _: () = assert!(MAX_REQUEST_BYTES as usize == DRBG_MAX_GEN_BLOCKS * 16);
const _: () = assert!(STARTUP_SAMPLES > 0);

/// The DRBG's power-on known-answer test: NIST CAVP `CTR_DRBG.rsp`,
/// `[AES-256 use df]`, prediction resistance off, COUNT = 0 (the first test
/// of `hdl/tests/vectors/ctr-drbg-aes256-df.txt`): the entropy input.
pub const KAT_ENTROPY: [u8; 32] =
    hex32("36401940fa8b1fba91a1661f211d78a0b9389a74e5bccfece8d766af1a6d3b14");
/// The known-answer test's nonce (no personalization string, no
/// additional input).
pub const KAT_NONCE: [u8; 16] = hex16("496f25b0f1301b4f501be30380a137eb");
/// The known-answer test's expected output: the second GENERATE of 512
/// bits.
pub const KAT_RETURNED: [u8; 64] = hex64(
    "5862eb38bd558dd978a696e6df164782ddd887e7e9a6c9f3f1fbafb78941b535a64912dfd224c6dc7454e5250b3d97165e16260c2faf1cc7735cb75fb4f07e1d",
);

const fn hex_nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lower-case hex digit"),
    }
}

const fn hex_into<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    assert!(b.len() == 2 * N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (hex_nibble(b[2 * i]) << 4) | hex_nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn hex16(s: &str) -> [u8; 16] {
    hex_into::<16>(s)
}

const fn hex32(s: &str) -> [u8; 32] {
    hex_into::<32>(s)
}

const fn hex64(s: &str) -> [u8; 64] {
    hex_into::<64>(s)
}

/// 16 bytes of `b` from `at`, as the DRBG's blocks hold them (byte 0 in
/// bits 7:0).
fn block_at(b: &[u8], at: usize) -> Constant<Bits<128>> {
    let mut x = [0u8; 16];
    x.copy_from_slice(&b[at..at + 16]);
    Constant::new(crate::aes::bits128(u128::from_le_bytes(x)))
}

/// Controller states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum RngState {
    /// Known-answer test: writing its input string.
    KatLoad,
    /// Known-answer test: a command (instantiate, generate, generate,
    /// zeroize) running.
    KatRun,
    /// The known-answer test failed: no output until reset.
    KatFail,
    /// Waiting for the noise source's start-up test.
    Startup,
    /// Collecting samples into the DRBG's input buffer.
    Collect,
    /// Instantiate or reseed running.
    Seed,
    /// Instantiated, waiting for a request.
    Idle,
    /// Deciding whether the next GENERATE needs a reseed first.
    Next,
    /// A GENERATE running; its blocks go out.
    Gen,
    /// The noise source failed: no more output until reset.
    Fault,
}

/// The random bit generator: noise-source port, health tests, DRBG and
/// controller.
#[derive(LogicBlock)]
pub struct RngUnit {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: zeroizes and starts over from the start-up test.
    pub reset: Signal<In, Bit>,
    /// Noise-source port: the card wants samples.
    pub noise_enable: Signal<Out, Bit>,
    /// Noise-source port: a sample is on `noise_sample`.
    pub noise_valid: Signal<In, Bit>,
    /// Noise-source port: the sample.
    pub noise_sample: Signal<In, Bits<8>>,
    /// Request `req_blocks` blocks: held high until `req_done`; accepted
    /// when the unit is seeded and idle (or at once refused after a fault).
    pub req: Signal<In, Bit>,
    /// Blocks requested: 1 to 65536 (0 reads as 65536).
    pub req_blocks: Signal<In, Bits<16>>,
    /// Reseed before serving this request (prediction resistance).
    pub req_pr: Signal<In, Bit>,
    /// An output block is on `out_block`.
    pub out_valid: Signal<Out, Bit>,
    /// The output block (zero when `out_valid` is low).
    pub out_block: Signal<Out, Bits<128>>,
    /// The consumer takes the block.
    pub out_ready: Signal<In, Bit>,
    /// Pulse: the request ended.
    pub req_done: Signal<Out, Bit>,
    /// With `req_done`: the request failed (noise-source failure).
    pub req_fail: Signal<Out, Bit>,
    /// The DRBG has been instantiated and no failure has happened.
    pub seeded: Signal<Out, Bit>,
    /// The noise source failed a health test (sticky until reset).
    pub fault: Signal<Out, Bit>,
    /// Work under way (seeding, reseeding, a request): the card must be
    /// clocked.
    pub busy: Signal<Out, Bit>,
    /// Fault injection (the simulated card's test input; tied low on a
    /// real card): corrupt the known-answer test's comparison.
    pub kat_inject: Signal<In, Bit>,
    /// The known-answer test has finished since reset.
    pub kat_done: Signal<Out, Bit>,
    /// The known-answer test failed (sticky until reset).
    pub kat_fail: Signal<Out, Bit>,

    health: EntropyHealth,
    drbg: CtrDrbg,
    state: DFF<RngState>,
    // Collection: the block being filled, samples in it, blocks written,
    // blocks wanted, and whether this is the first seeding; a command was
    // started.
    acc: DFF<Bits<128>>,
    acc_n: DFF<Bits<4>>,
    blk: DFF<Bits<3>>,
    want_blk: DFF<Bits<3>>,
    inst: DFF<Bit>,
    started: DFF<Bit>,
    // The request: blocks left, prediction resistance still owed.
    left: DFF<Bits<17>>,
    pr: DFF<Bit>,
    busy_req: DFF<Bit>,
    // The next GENERATE's blocks (registered, so that no combinational
    // path runs from the DRBG's outputs back to its inputs).
    gen_n: DFF<Bits<13>>,
    // Known-answer test: the command in progress (0 instantiate, 1 and 2
    // generate, 3 zeroize), the output block being compared, a mismatch
    // seen, and the test over.
    kstep: DFF<Bits<2>>,
    kidx: DFF<Bits<2>>,
    kdiff: DFF<Bit>,
    kdone: DFF<Bit>,
    kat_in: Signal<Local, Bits<128>>,
    kat_exp: Signal<Local, Bits<128>>,
    kat_in0: Constant<Bits<128>>,
    kat_in1: Constant<Bits<128>>,
    kat_in2: Constant<Bits<128>>,
    kat_exp0: Constant<Bits<128>>,
    kat_exp1: Constant<Bits<128>>,
    kat_exp2: Constant<Bits<128>>,
    kat_exp3: Constant<Bits<128>>,
    kat_len: Constant<Bits<8>>,
    cmd_zero: Constant<Bits<2>>,
    chunk: Signal<Local, Bits<13>>,
    acc_in: Signal<Local, Bits<128>>,
    pers: Constant<Bits<128>>,
    max_gen: Constant<Bits<17>>,
    reseed_limit: Constant<Bits<32>>,
    in_len_inst: Constant<Bits<8>>,
    in_len_reseed: Constant<Bits<8>>,
    blk_inst: Constant<Bits<3>>,
    blk_reseed: Constant<Bits<3>>,
    cmd_inst: Constant<Bits<2>>,
    cmd_reseed: Constant<Bits<2>>,
    cmd_gen: Constant<Bits<2>>,
}

impl Default for RngUnit {
    fn default() -> Self {
        let seed_blocks = (ENTROPY_INPUT_SAMPLES + NONCE_SAMPLES) / 16;
        Self {
            clock: Default::default(),
            reset: Default::default(),
            noise_enable: Default::default(),
            noise_valid: Default::default(),
            noise_sample: Default::default(),
            req: Default::default(),
            req_blocks: Default::default(),
            req_pr: Default::default(),
            out_valid: Default::default(),
            out_block: Default::default(),
            out_ready: Default::default(),
            req_done: Default::default(),
            req_fail: Default::default(),
            seeded: Default::default(),
            fault: Default::default(),
            busy: Default::default(),
            kat_inject: Default::default(),
            kat_done: Default::default(),
            kat_fail: Default::default(),
            health: Default::default(),
            drbg: Default::default(),
            state: Default::default(),
            acc: Default::default(),
            acc_n: Default::default(),
            blk: Default::default(),
            want_blk: Default::default(),
            inst: Default::default(),
            started: Default::default(),
            left: Default::default(),
            pr: Default::default(),
            busy_req: Default::default(),
            gen_n: Default::default(),
            kstep: Default::default(),
            kidx: Default::default(),
            kdiff: Default::default(),
            kdone: Default::default(),
            kat_in: Default::default(),
            kat_exp: Default::default(),
            kat_in0: block_at(&KAT_ENTROPY, 0),
            kat_in1: block_at(&KAT_ENTROPY, 16),
            kat_in2: block_at(&KAT_NONCE, 0),
            kat_exp0: block_at(&KAT_RETURNED, 0),
            kat_exp1: block_at(&KAT_RETURNED, 16),
            kat_exp2: block_at(&KAT_RETURNED, 32),
            kat_exp3: block_at(&KAT_RETURNED, 48),
            kat_len: Constant::new(((KAT_ENTROPY.len() + KAT_NONCE.len()) as u64).into()),
            cmd_zero: Constant::new(DRBG_CMD_ZEROIZE.into()),
            chunk: Default::default(),
            acc_in: Default::default(),
            pers: Constant::new(crate::aes::bits128(u128::from_le_bytes(*PERSONALIZATION))),
            max_gen: Constant::new((DRBG_MAX_GEN_BLOCKS as u64).into()),
            reseed_limit: Constant::new((RESEED_INTERVAL as u64).into()),
            in_len_inst: Constant::new(
                ((ENTROPY_INPUT_SAMPLES + NONCE_SAMPLES) as u64 + PERSONALIZATION.len() as u64)
                    .into(),
            ),
            in_len_reseed: Constant::new((ENTROPY_INPUT_SAMPLES as u64).into()),
            blk_inst: Constant::new((seed_blocks as u64).into()),
            blk_reseed: Constant::new((ENTROPY_INPUT_SAMPLES as u64 / 16).into()),
            cmd_inst: Constant::new(DRBG_CMD_INSTANTIATE.into()),
            cmd_reseed: Constant::new(DRBG_CMD_RESEED.into()),
            cmd_gen: Constant::new(DRBG_CMD_GENERATE.into()),
        }
    }
}

impl RngUnit {
    /// The DRBG's secret state (Key, V, counters, temporaries) is all
    /// zero. Test hook for the zeroization after the known-answer test.
    #[doc(hidden)]
    pub fn drbg_secret_state_is_zero(&self) -> bool {
        self.drbg.secret_state_is_zero()
    }
}

impl Logic for RngUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, acc, acc_n, blk, want_blk, inst, started, left, pr, busy_req,
            gen_n, kstep, kidx, kdiff, kdone
        );
        self.health.clock.next = self.clock.val();
        self.health.reset.next = self.reset.val();
        self.health.restart.next = false;
        self.health.sample_valid.next = self.noise_valid.val();
        self.health.sample.next = self.noise_sample.val();
        self.drbg.clock.next = self.clock.val();
        // A health-test failure zeroizes the DRBG at once.
        self.drbg.reset.next = self.reset.val()
            | ((self.health.rct_fail.val() | self.health.apt_fail.val())
                & (self.state.q.val() != RngState::Fault));
        self.drbg.in_write.next = false;
        self.drbg.in_index.next = self.blk.q.val();
        self.drbg.in_block.next = self.acc.q.val();
        self.drbg.in_len.next = bits::<8>(0);
        // Commands start in the first cycle of Seed and Gen, and output
        // blocks are taken only in Gen. (Kept apart from the reads of the
        // DRBG's outputs below, so that no combinational path runs back
        // through it.)
        self.drbg.start.next = !self.started.q.val()
            & ((self.state.q.val() == RngState::Seed)
                | (self.state.q.val() == RngState::Gen)
                | (self.state.q.val() == RngState::KatRun));
        self.drbg.out_ready.next = ((self.state.q.val() == RngState::Gen) & self.out_ready.val())
            | (self.state.q.val() == RngState::KatRun);
        self.drbg.cmd.next = self.cmd_gen.val();
        if self.state.q.val() == RngState::Seed {
            self.drbg.cmd.next = self.cmd_reseed.val();
            self.drbg.in_len.next = self.in_len_reseed.val();
            if self.inst.q.val() {
                self.drbg.cmd.next = self.cmd_inst.val();
                self.drbg.in_len.next = self.in_len_inst.val();
            }
        }
        // The known-answer test's input blocks and expected output blocks.
        self.kat_in.next = self.kat_in0.val();
        if self.blk.q.val() == bits::<3>(1) {
            self.kat_in.next = self.kat_in1.val();
        }
        if self.blk.q.val() == bits::<3>(2) {
            self.kat_in.next = self.kat_in2.val();
        }
        self.kat_exp.next = self.kat_exp0.val();
        if self.kidx.q.val() == bits::<2>(1) {
            self.kat_exp.next = self.kat_exp1.val();
        }
        if self.kidx.q.val() == bits::<2>(2) {
            self.kat_exp.next = self.kat_exp2.val();
        }
        if self.kidx.q.val() == bits::<2>(3) {
            self.kat_exp.next = self.kat_exp3.val();
        }
        if self.state.q.val() == RngState::KatLoad {
            self.drbg.in_write.next = true;
            self.drbg.in_block.next = self.kat_in.val();
        }
        if self.state.q.val() == RngState::KatRun {
            // (The GENERATEs take no additional input.)
            self.drbg.cmd.next = self.cmd_gen.val();
            if self.kstep.q.val() == bits::<2>(0) {
                self.drbg.cmd.next = self.cmd_inst.val();
                self.drbg.in_len.next = self.kat_len.val();
            }
            if self.kstep.q.val() == bits::<2>(3) {
                self.drbg.cmd.next = self.cmd_zero.val();
            }
        }
        self.drbg.reseed_limit.next = self.reseed_limit.val();
        // The next GENERATE's size: what is left, up to the DRBG's limit.
        if self.left.q.val() > self.max_gen.val() {
            self.chunk.next = self.max_gen.val().get_bits::<13>(0);
        } else {
            self.chunk.next = self.left.q.val().get_bits::<13>(0);
        }
        self.gen_n.d.next = self.chunk.val();
        if (self.state.q.val() == RngState::KatLoad) | (self.state.q.val() == RngState::KatRun) {
            // The known-answer test's GENERATEs: 512 bits.
            self.gen_n.d.next = bits::<13>(4);
        }
        self.drbg.gen_blocks.next = self.gen_n.q.val();
        // The accumulator with the current sample shifted in (byte 0 first).
        self.acc_in.next =
            (self.acc.q.val() >> 8) | (bit_cast::<128, 8>(self.health.out_sample.val()) << 120);
        // Collecting: each sixteenth sample completes a block of the input
        // string; once all are in, the first seeding appends the
        // personalization string.
        if self.state.q.val() == RngState::Collect {
            if self.blk.q.val() == self.want_blk.q.val() {
                self.drbg.in_write.next = self.inst.q.val();
                self.drbg.in_block.next = self.pers.val();
            } else if self.health.out_valid.val() & self.acc_n.q.val().all() {
                self.drbg.in_write.next = true;
                self.drbg.in_block.next = self.acc_in.val();
            }
        }

        self.noise_enable.next = false;
        self.out_valid.next = false;
        self.out_block.next = bits::<128>(0);
        self.req_done.next = false;
        self.req_fail.next = false;
        // (The known-answer test's instantiation serves nothing.)
        self.seeded.next = self.drbg.instantiated.val()
            & self.kdone.q.val()
            & (self.state.q.val() != RngState::KatFail)
            & !self.health.rct_fail.val()
            & !self.health.apt_fail.val();
        self.fault.next =
            (self.state.q.val() == RngState::Fault) | (self.state.q.val() == RngState::KatFail);
        self.kat_done.next = self.kdone.q.val();
        self.kat_fail.next = self.state.q.val() == RngState::KatFail;
        // (A failed known-answer test stops the start-up test too.)
        self.busy.next = (self.health.starting.val() & (self.state.q.val() != RngState::KatFail))
            | ((self.state.q.val() != RngState::Idle)
                & (self.state.q.val() != RngState::Fault)
                & (self.state.q.val() != RngState::KatFail));
        // The DRBG is idle whenever the controller is (a check of the
        // controller, folded into `busy`).
        self.busy.next =
            self.busy.val() | ((self.state.q.val() == RngState::Idle) & !self.drbg.ready.val());

        match self.state.q.val() {
            RngState::KatLoad => {
                // The start-up test runs meanwhile.
                self.noise_enable.next = true;
                self.blk.d.next = self.blk.q.val() + 1;
                if self.blk.q.val() == bits::<3>(2) {
                    self.state.d.next = RngState::KatRun;
                    self.kstep.d.next = bits::<2>(0);
                    self.kidx.d.next = bits::<2>(0);
                    self.started.d.next = false;
                }
            }
            RngState::KatRun => {
                self.noise_enable.next = true;
                // The second GENERATE's blocks against the expected ones,
                // all four compared whatever the first finds.
                if self.drbg.out_valid.val() & (self.kstep.q.val() == bits::<2>(2)) {
                    self.kidx.d.next = self.kidx.q.val() + 1;
                    if (self.drbg.out_block.val() != self.kat_exp.val())
                        | (self.kat_inject.val() & (self.kidx.q.val() == bits::<2>(0)))
                    {
                        self.kdiff.d.next = true;
                    }
                }
                if !self.started.q.val() {
                    self.started.d.next = true;
                } else if self.drbg.done.val() {
                    self.started.d.next = false;
                    self.kstep.d.next = self.kstep.q.val() + 1;
                    if self.drbg.error.val() {
                        self.kdiff.d.next = true;
                    }
                    if self.kstep.q.val() == bits::<2>(3) {
                        // Zeroized: the outcome.
                        self.kdone.d.next = true;
                        self.blk.d.next = bits::<3>(0);
                        self.state.d.next = RngState::Startup;
                        if self.kdiff.q.val() | self.drbg.error.val() {
                            self.state.d.next = RngState::KatFail;
                        }
                    }
                }
            }
            RngState::KatFail => {
                if self.req.val() {
                    self.req_done.next = true;
                    self.req_fail.next = true;
                }
            }
            RngState::Startup => {
                self.noise_enable.next = true;
                if self.health.healthy.val() {
                    self.state.d.next = RngState::Collect;
                    self.inst.d.next = true;
                    self.want_blk.d.next = self.blk_inst.val();
                    self.blk.d.next = bits::<3>(0);
                    self.acc_n.d.next = bits::<4>(0);
                }
            }
            RngState::Collect => {
                if self.blk.q.val() == self.want_blk.q.val() {
                    // Every sample is in; the command starts next.
                    self.state.d.next = RngState::Seed;
                    self.started.d.next = false;
                } else {
                    self.noise_enable.next = true;
                    if self.health.out_valid.val() {
                        self.acc.d.next = self.acc_in.val();
                        self.acc_n.d.next = self.acc_n.q.val() + 1;
                        if self.acc_n.q.val().all() {
                            // Sixteen samples: a block of the input string.
                            self.blk.d.next = self.blk.q.val() + 1;
                            self.acc.d.next = bits::<128>(0);
                        }
                    }
                }
            }
            RngState::Seed => {
                if !self.started.q.val() {
                    self.started.d.next = true;
                } else if self.drbg.done.val() & self.drbg.error.val() {
                    // The DRBG refused a command the controller built: a
                    // hardware fault. Nothing more is served.
                    self.state.d.next = RngState::Fault;
                    if self.busy_req.q.val() {
                        self.req_done.next = true;
                        self.req_fail.next = true;
                    }
                    self.busy_req.d.next = false;
                } else if self.drbg.done.val() {
                    self.started.d.next = false;
                    self.inst.d.next = false;
                    self.state.d.next = RngState::Idle;
                    if self.busy_req.q.val() {
                        self.state.d.next = RngState::Gen;
                    }
                }
            }
            RngState::Idle => {
                if self.req.val() {
                    self.busy_req.d.next = true;
                    self.left.d.next = bit_cast::<17, 16>(self.req_blocks.val());
                    if !self.req_blocks.val().any() {
                        self.left.d.next = bits::<17>(0x10000);
                    }
                    self.pr.d.next = self.req_pr.val();
                    self.state.d.next = RngState::Next;
                }
            }
            RngState::Next => {
                if self.pr.q.val() | self.drbg.reseed_required.val() {
                    self.pr.d.next = false;
                    self.state.d.next = RngState::Collect;
                    self.want_blk.d.next = self.blk_reseed.val();
                    self.blk.d.next = bits::<3>(0);
                    self.acc_n.d.next = bits::<4>(0);
                } else {
                    self.state.d.next = RngState::Gen;
                }
            }
            RngState::Gen => {
                self.out_valid.next = self.drbg.out_valid.val();
                if self.drbg.out_valid.val() {
                    self.out_block.next = self.drbg.out_block.val();
                }
                if !self.started.q.val() {
                    self.started.d.next = true;
                } else if self.drbg.done.val() & self.drbg.error.val() {
                    self.state.d.next = RngState::Fault;
                    self.req_done.next = true;
                    self.req_fail.next = true;
                    self.busy_req.d.next = false;
                } else if self.drbg.done.val() {
                    self.started.d.next = false;
                    self.left.d.next = self.left.q.val() - bit_cast::<17, 13>(self.gen_n.q.val());
                    if self.left.q.val() == bit_cast::<17, 13>(self.gen_n.q.val()) {
                        self.req_done.next = true;
                        self.busy_req.d.next = false;
                        self.state.d.next = RngState::Idle;
                    } else {
                        self.state.d.next = RngState::Next;
                    }
                }
            }
            RngState::Fault => {
                if self.req.val() {
                    self.req_done.next = true;
                    self.req_fail.next = true;
                }
            }
        }

        // A health-test failure is final until reset (a failed
        // known-answer test stays the reported cause).
        if (self.health.rct_fail.val() | self.health.apt_fail.val())
            & (self.state.q.val() != RngState::Fault)
            & (self.state.q.val() != RngState::KatFail)
        {
            self.state.d.next = RngState::Fault;
            // A known-answer test cut short is over, and did not fail.
            self.kdone.d.next = true;
            self.acc.d.next = bits::<128>(0);
            if self.busy_req.q.val() {
                self.req_done.next = true;
                self.req_fail.next = true;
            }
            self.busy_req.d.next = false;
            self.out_valid.next = false;
            self.out_block.next = bits::<128>(0);
        }
        // The sample accumulator never outlives its block.
        if self.state.q.val() != RngState::Collect {
            self.acc.d.next = bits::<128>(0);
            self.acc_n.d.next = bits::<4>(0);
        }
        if self.reset.val() {
            self.state.d.next = RngState::KatLoad;
            self.kstep.d.next = bits::<2>(0);
            self.kidx.d.next = bits::<2>(0);
            self.kdiff.d.next = false;
            self.kdone.d.next = false;
            self.acc.d.next = bits::<128>(0);
            self.acc_n.d.next = bits::<4>(0);
            self.blk.d.next = bits::<3>(0);
            self.started.d.next = false;
            self.busy_req.d.next = false;
            self.left.d.next = bits::<17>(0);
            self.pr.d.next = false;
            self.inst.d.next = false;
        }
    }
}
