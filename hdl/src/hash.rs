//! The hash engine: SHA3-224/256/384/512 and SHAKE128/256 jobs (FIPS 202)
//! over the [`KeccakCore`].
//!
//! The dispatcher hands a checked hash job here with `start`, as it does
//! crypto jobs to [`crate::engine::CryptoEngine`]; the engine drives the DMA
//! port until `done`. The job layout, flags and the partial/resume chaining
//! are the contract's (`hsm_contract::hash`).
//!
//! # Data path
//! Message beats (two lanes each) enter a four-lane queue; each cycle up to
//! two lanes are XORed into the core's block buffer while the core permutes
//! the previous block, so a block costs one permutation plus one cycle when
//! the DMA keeps up. Rates with an odd number of lanes (SHA3-256: 17) make
//! beats straddle blocks; the queue absorbs that. Padding is two XOR writes
//! into the buffer (the domain byte after the message, 0x80 into the last
//! byte of the block). Output lanes are read one per cycle and paired into
//! beats. A job's cycle count depends on its lengths only.

use crate::consts::{c32, c8, status};
use crate::sponge::KeccakCore;
use hsm_contract::hash::{HashAlg, SPONGE_STATE_BYTES};
use hsm_contract::Status;
use rust_hdl::prelude::*;

/// Hash engine states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum HashState {
    /// Waiting for a job.
    Idle,
    /// Decoding the latched job.
    Setup,
    /// RESUME: loading the saved sponge state from `aux`.
    Resume,
    /// Absorbing the message.
    Absorb,
    /// PARTIAL: permuting the last full block.
    PartEnd,
    /// PARTIAL: waiting for the permutation, then saving the state.
    SaveWait,
    /// PARTIAL: writing the state to `dst`.
    Save,
    /// Padding: permuting a full block first when the pad starts a new one.
    Pad0,
    /// Padding: the domain byte.
    Pad1,
    /// Padding: the final 0x80.
    Pad2,
    /// The final absorbing permutation.
    Final,
    /// Waiting for a permutation before squeezing.
    SqWait,
    /// Squeezing the output.
    Squeeze,
    /// Waiting for the last write's error response.
    Drain,
    /// Reporting.
    Finish,
}

/// The hash engine.
#[derive(LogicBlock)]
pub struct HashEngine {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: run the job described by the inputs below.
    pub start: Signal<In, Bit>,
    /// The function: the hash opcode's bits 2:0.
    pub alg_sel: Signal<In, Bits<3>>,
    /// Descriptor flag `RESUME`.
    pub resume: Signal<In, Bit>,
    /// Descriptor flag `PARTIAL`.
    pub partial: Signal<In, Bit>,
    /// Message address.
    pub src_addr: Signal<In, Bits<64>>,
    /// Message length in bytes.
    pub src_len: Signal<In, Bits<32>>,
    /// Output address.
    pub dst_addr: Signal<In, Bits<64>>,
    /// Output length (SHAKE: the bytes to write).
    pub dst_len: Signal<In, Bits<32>>,
    /// Saved state address (`RESUME`).
    pub aux_addr: Signal<In, Bits<64>>,
    /// Working on a job.
    pub busy: Signal<Out, Bit>,
    /// Pulse: the job is done.
    pub done: Signal<Out, Bit>,
    /// The job's status (valid with `done`).
    pub status: Signal<Out, Bits<16>>,
    /// The job's output length (valid with `done`).
    pub out_len: Signal<Out, Bits<32>>,
    /// Pulse: a DMA read error.
    pub read_fault: Signal<Out, Bit>,
    /// Pulse: a DMA write error.
    pub write_fault: Signal<Out, Bit>,
    /// Address with the fault pulses.
    pub fault_addr: Signal<Out, Bits<64>>,
    /// DMA read request valid.
    pub dmar_req_valid: Signal<Out, Bit>,
    /// DMA read request ready.
    pub dmar_req_ready: Signal<In, Bit>,
    /// DMA read request address.
    pub dmar_req_addr: Signal<Out, Bits<64>>,
    /// DMA read request beats.
    pub dmar_req_beats: Signal<Out, Bits<9>>,
    /// DMA read beat valid.
    pub dmar_data_valid: Signal<In, Bit>,
    /// DMA read beat ready.
    pub dmar_data_ready: Signal<Out, Bit>,
    /// DMA read beat.
    pub dmar_data: Signal<In, Bits<128>>,
    /// DMA read beat error.
    pub dmar_data_err: Signal<In, Bit>,
    /// DMA write valid.
    pub dmaw_valid: Signal<Out, Bit>,
    /// DMA write ready.
    pub dmaw_ready: Signal<In, Bit>,
    /// DMA write address.
    pub dmaw_addr: Signal<Out, Bits<64>>,
    /// DMA write data.
    pub dmaw_data: Signal<Out, Bits<128>>,
    /// DMA write strobes.
    pub dmaw_strb: Signal<Out, Bits<16>>,
    /// DMA write error (for the previous beat).
    pub dmaw_err: Signal<In, Bit>,
    /// Lend the Keccak core to another block (the auth unit's PIN hash)
    /// while no hash job runs: the `ext_*` inputs drive it.
    pub ext_sel: Signal<In, Bit>,
    /// Lent core: `init`.
    pub ext_init: Signal<In, Bit>,
    /// Lent core: `buf_we`.
    pub ext_buf_we: Signal<In, Bit>,
    /// Lent core: `buf_idx`.
    pub ext_buf_idx: Signal<In, Bits<5>>,
    /// Lent core: `buf_mask`.
    pub ext_buf_mask: Signal<In, Bits<2>>,
    /// Lent core: `buf_data`.
    pub ext_buf_data: Signal<In, Bits<128>>,
    /// Lent core: `start`.
    pub ext_start: Signal<In, Bit>,
    /// The core's `rd_data`.
    pub core_rd_data: Signal<Out, Bits<128>>,

    core: KeccakCore,
    state: DFF<HashState>,
    j_op: DFF<Bits<3>>,
    j_resume: DFF<Bit>,
    j_dst: DFF<Bits<64>>,
    j_dst_len: DFF<Bits<32>>,
    j_aux: DFF<Bits<64>>,
    j_partial: DFF<Bit>,
    j_src: DFF<Bits<64>>,
    j_len: DFF<Bits<32>>,
    j_out: DFF<Bits<32>>,
    rate: DFF<Bits<5>>,
    dom: DFF<Bits<8>>,
    rq_addr: DFF<Bits<64>>,
    rq_left: DFF<Bits<17>>,
    rx_left: DFF<Bits<17>>,
    rem: DFF<Bits<32>>,
    f0: DFF<Bits<64>>,
    f1: DFF<Bits<64>>,
    f2: DFF<Bits<64>>,
    f3: DFF<Bits<64>>,
    fcnt: DFF<Bits<3>>,
    pos: DFF<Bits<5>>,
    kick: DFF<Bit>,
    ldi: DFF<Bits<5>>,
    status_r: DFF<Bits<16>>,
    out_len_r: DFF<Bits<32>>,
    rd_err: DFF<Bit>,
    wr_err: DFF<Bit>,
    last_wr: DFF<Bits<64>>,
    wr_addr: DFF<Bits<64>>,
    ow_v: DFF<Bit>,
    ow_data: DFF<Bits<128>>,
    ow_strb: DFF<Bits<16>>,
    out_rem: DFF<Bits<32>>,
    lanes_left: DFF<Bits<18>>,
    have_lo: DFF<Bit>,
    lo: DFF<Bits<64>>,
    spos: DFF<Bits<5>>,

    // Locals.
    alg: Signal<Local, Bits<3>>,
    nbeats: Signal<Local, Bits<17>>,
    digest: Signal<Local, Bits<32>>,
    out_total: Signal<Local, Bits<32>>,
    btb: Signal<Local, Bits<9>>,
    req_beats: Signal<Local, Bits<9>>,
    rx: Signal<Local, Bit>,
    m_shift: Signal<Local, Bits<6>>,
    m_part: Signal<Local, Bits<64>>,
    lane0: Signal<Local, Bits<64>>,
    lane1: Signal<Local, Bits<64>>,
    push: Signal<Local, Bits<2>>,
    pop: Signal<Local, Bits<2>>,
    after_pop: Signal<Local, Bits<3>>,
    g0: Signal<Local, Bits<64>>,
    g1: Signal<Local, Bits<64>>,
    g2: Signal<Local, Bits<64>>,
    g3: Signal<Local, Bits<64>>,
    full: Signal<Local, Bit>,
    perm_ready: Signal<Local, Bit>,
    oroom: Signal<Local, Bit>,
    emit: Signal<Local, Bit>,
    emit_data: Signal<Local, Bits<128>>,
    emit_strb: Signal<Local, Bits<16>>,
    sq_lane: Signal<Local, Bits<64>>,
    in_done: Signal<Local, Bit>,
    part_bad: Signal<Local, Bit>,

    c_state_beats: Constant<Bits<17>>,
    c_state_bytes: Constant<Bits<32>>,
    c_last_lane: Constant<Bits<5>>,
    s_ok: Constant<Bits<16>>,
    s_bad_length: Constant<Bits<16>>,
    s_dma_read: Constant<Bits<16>>,
    s_dma_write: Constant<Bits<16>>,
    r0: Constant<Bits<5>>,
    r1: Constant<Bits<5>>,
    r2: Constant<Bits<5>>,
    r3: Constant<Bits<5>>,
    r4: Constant<Bits<5>>,
    r5: Constant<Bits<5>>,
    d0: Constant<Bits<32>>,
    d1: Constant<Bits<32>>,
    d2: Constant<Bits<32>>,
    d3: Constant<Bits<32>>,
    dom_sha3: Constant<Bits<8>>,
    dom_shake: Constant<Bits<8>>,
}

fn rate_lanes(a: HashAlg) -> Constant<Bits<5>> {
    Constant::new(((a.rate_bytes() / 8) as u64).into())
}

fn digest(a: HashAlg) -> Constant<Bits<32>> {
    c32(a.digest_bytes().unwrap_or(0) as u64)
}

impl Default for HashEngine {
    fn default() -> Self {
        // The opcode's low three bits select the function, in this order.
        for (i, a) in HashAlg::ALL.iter().enumerate() {
            assert_eq!(a.opcode() as u8 & 7, i as u8);
            assert_eq!(a.opcode() as u8 & !7, HashAlg::Sha3_224.opcode() as u8);
        }
        assert_eq!(SPONGE_STATE_BYTES, 200);
        // The dispatcher passes flags bits 0 and 1 as `resume` and `partial`.
        assert_eq!(hsm_contract::hash::flags::RESUME, 1 << 0);
        assert_eq!(hsm_contract::hash::flags::PARTIAL, 1 << 1);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            alg_sel: Default::default(),
            resume: Default::default(),
            partial: Default::default(),
            src_addr: Default::default(),
            src_len: Default::default(),
            dst_addr: Default::default(),
            dst_len: Default::default(),
            aux_addr: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            status: Default::default(),
            out_len: Default::default(),
            read_fault: Default::default(),
            write_fault: Default::default(),
            fault_addr: Default::default(),
            dmar_req_valid: Default::default(),
            dmar_req_ready: Default::default(),
            dmar_req_addr: Default::default(),
            dmar_req_beats: Default::default(),
            dmar_data_valid: Default::default(),
            dmar_data_ready: Default::default(),
            dmar_data: Default::default(),
            dmar_data_err: Default::default(),
            dmaw_valid: Default::default(),
            dmaw_ready: Default::default(),
            dmaw_addr: Default::default(),
            dmaw_data: Default::default(),
            dmaw_strb: Default::default(),
            dmaw_err: Default::default(),
            ext_sel: Default::default(),
            ext_init: Default::default(),
            ext_buf_we: Default::default(),
            ext_buf_idx: Default::default(),
            ext_buf_mask: Default::default(),
            ext_buf_data: Default::default(),
            ext_start: Default::default(),
            core_rd_data: Default::default(),
            core: Default::default(),
            state: Default::default(),
            j_op: Default::default(),
            j_resume: Default::default(),
            j_dst: Default::default(),
            j_dst_len: Default::default(),
            j_aux: Default::default(),
            j_partial: Default::default(),
            j_src: Default::default(),
            j_len: Default::default(),
            j_out: Default::default(),
            rate: Default::default(),
            dom: Default::default(),
            rq_addr: Default::default(),
            rq_left: Default::default(),
            rx_left: Default::default(),
            rem: Default::default(),
            f0: Default::default(),
            f1: Default::default(),
            f2: Default::default(),
            f3: Default::default(),
            fcnt: Default::default(),
            pos: Default::default(),
            kick: Default::default(),
            ldi: Default::default(),
            status_r: Default::default(),
            out_len_r: Default::default(),
            rd_err: Default::default(),
            wr_err: Default::default(),
            last_wr: Default::default(),
            wr_addr: Default::default(),
            ow_v: Default::default(),
            ow_data: Default::default(),
            ow_strb: Default::default(),
            out_rem: Default::default(),
            lanes_left: Default::default(),
            have_lo: Default::default(),
            lo: Default::default(),
            spos: Default::default(),
            alg: Default::default(),
            nbeats: Default::default(),
            digest: Default::default(),
            out_total: Default::default(),
            btb: Default::default(),
            req_beats: Default::default(),
            rx: Default::default(),
            m_shift: Default::default(),
            m_part: Default::default(),
            lane0: Default::default(),
            lane1: Default::default(),
            push: Default::default(),
            pop: Default::default(),
            after_pop: Default::default(),
            g0: Default::default(),
            g1: Default::default(),
            g2: Default::default(),
            g3: Default::default(),
            full: Default::default(),
            perm_ready: Default::default(),
            oroom: Default::default(),
            emit: Default::default(),
            emit_data: Default::default(),
            emit_strb: Default::default(),
            sq_lane: Default::default(),
            in_done: Default::default(),
            part_bad: Default::default(),
            c_state_beats: Constant::new((SPONGE_STATE_BYTES.div_ceil(16) as u64).into()),
            c_state_bytes: c32(SPONGE_STATE_BYTES as u64),
            c_last_lane: Constant::new(24u64.into()),
            s_ok: status(Status::Ok),
            s_bad_length: status(Status::BadLength),
            s_dma_read: status(Status::DmaReadError),
            s_dma_write: status(Status::DmaWriteError),
            r0: rate_lanes(HashAlg::Sha3_224),
            r1: rate_lanes(HashAlg::Sha3_256),
            r2: rate_lanes(HashAlg::Sha3_384),
            r3: rate_lanes(HashAlg::Sha3_512),
            r4: rate_lanes(HashAlg::Shake128),
            r5: rate_lanes(HashAlg::Shake256),
            d0: digest(HashAlg::Sha3_224),
            d1: digest(HashAlg::Sha3_256),
            d2: digest(HashAlg::Sha3_384),
            d3: digest(HashAlg::Sha3_512),
            dom_sha3: c8(HashAlg::Sha3_256.domain_byte() as u64),
            dom_shake: c8(HashAlg::Shake128.domain_byte() as u64),
        }
    }
}

impl Logic for HashEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, j_op, j_resume, j_dst, j_dst_len, j_aux, j_partial, j_src, j_len,
            j_out, rate, dom, rq_addr, rq_left, rx_left, rem, f0, f1, f2, f3, fcnt, pos, kick, ldi,
            status_r, out_len_r, rd_err, wr_err, last_wr, wr_addr, ow_v, ow_data, ow_strb, out_rem,
            lanes_left, have_lo, lo, spos
        );
        self.core.clock.next = self.clock.val();
        self.core.reset.next = self.reset.val();
        self.core.init.next = false;
        self.core.start.next = false;
        self.core.buf_we.next = false;
        self.core.buf_idx.next = self.pos.q.val();
        self.core.buf_mask.next = bits::<2>(3);
        self.core.buf_data.next =
            bit_cast::<128, 64>(self.f0.q.val()) | (bit_cast::<128, 64>(self.f1.q.val()) << 64);
        self.core.st_we.next = false;
        self.core.st_idx.next = self.ldi.q.val();
        self.core.st_mask.next = bits::<2>(3);
        self.core.st_data.next = self.dmar_data.val();
        self.core.rd_idx.next = self.spos.q.val();
        self.kick.d.next = false;

        // The job's function, from the latched opcode's low bits.
        self.alg.next = self.j_op.q.val();
        self.nbeats.next = bit_cast::<17, 32>((self.j_len.q.val() + 15) >> 4);
        self.digest.next = bits::<32>(0);
        if self.alg.val() == bits::<3>(0) {
            self.digest.next = self.d0.val();
        }
        if self.alg.val() == bits::<3>(1) {
            self.digest.next = self.d1.val();
        }
        if self.alg.val() == bits::<3>(2) {
            self.digest.next = self.d2.val();
        }
        if self.alg.val() == bits::<3>(3) {
            self.digest.next = self.d3.val();
        }
        self.out_total.next = self.digest.val();
        if self.alg.val().get_bit(2) {
            self.out_total.next = self.j_dst_len.q.val();
        }

        // DMA read requests: up to 256 beats, never across 4 KiB.
        self.btb.next = bits::<9>(256) - bit_cast::<9, 8>(self.rq_addr.q.val().get_bits::<8>(4));
        if self.rq_left.q.val() < bit_cast::<17, 9>(self.btb.val()) {
            self.req_beats.next = self.rq_left.q.val().get_bits::<9>(0);
        } else {
            self.req_beats.next = self.btb.val();
        }
        self.dmar_req_valid.next = self.rq_left.q.val().any();
        self.dmar_req_addr.next = self.rq_addr.q.val();
        self.dmar_req_beats.next = self.req_beats.val();
        if self.rq_left.q.val().any() & self.dmar_req_ready.val() {
            self.rq_addr.d.next =
                self.rq_addr.q.val() + (bit_cast::<64, 9>(self.req_beats.val()) << 4);
            self.rq_left.d.next = self.rq_left.q.val() - bit_cast::<17, 9>(self.req_beats.val());
        }

        // Defaults of the ports.
        self.dmar_data_ready.next = false;
        self.rx.next = false;
        self.dmaw_valid.next = self.ow_v.q.val();
        self.dmaw_addr.next = self.wr_addr.q.val();
        self.dmaw_data.next = self.ow_data.q.val();
        self.dmaw_strb.next = self.ow_strb.q.val();
        self.done.next = false;
        self.read_fault.next = false;
        self.write_fault.next = false;
        self.fault_addr.next = self.last_wr.q.val();
        self.busy.next = self.state.q.val() != HashState::Idle;
        self.status.next = self.status_r.q.val();
        self.out_len.next = self.out_len_r.q.val();

        // The output beat register.
        if self.ow_v.q.val() & self.dmaw_ready.val() {
            self.ow_v.d.next = false;
            self.wr_addr.d.next = self.wr_addr.q.val() + 16;
            self.last_wr.d.next = self.wr_addr.q.val();
        }
        self.oroom.next = !self.ow_v.q.val() | self.dmaw_ready.val();
        self.emit.next = false;
        self.emit_data.next = bits::<128>(0);
        self.emit_strb.next = bits::<16>(0xffff);
        if self.dmaw_err.val() {
            self.wr_err.d.next = true;
            if !self.wr_err.q.val() {
                self.write_fault.next = true;
            }
        }

        // The permutation can start (the core is idle and was not just started).
        self.perm_ready.next = !self.core.busy.val() & !self.kick.q.val();
        self.full.next = self.pos.q.val() == self.rate.q.val();
        self.in_done.next = !self.rx_left.q.val().any() & !self.fcnt.q.val().any();
        self.part_bad.next =
            self.j_len.q.val().get_bits::<3>(0).any() | (self.pos.q.val().any() & !self.full.val());

        // Message lanes of the incoming beat: bytes past the message are
        // zero, and lanes wholly past it are not queued.
        self.m_shift.next = bit_cast::<6, 3>(self.rem.q.val().get_bits::<3>(0)) << 3;
        self.m_part.next = (bits::<64>(1) << self.m_shift.val()) - 1;
        self.lane0.next = self.dmar_data.val().get_bits::<64>(0);
        self.lane1.next = self.dmar_data.val().get_bits::<64>(64);
        self.push.next = bits::<2>(2);
        if self.rem.q.val() < bits::<32>(16) {
            if self.rem.q.val() < bits::<32>(9) {
                self.push.next = bits::<2>(1);
                self.lane1.next = bits::<64>(0);
                if self.rem.q.val() < bits::<32>(8) {
                    self.lane0.next = self.dmar_data.val().get_bits::<64>(0) & self.m_part.val();
                }
            } else {
                self.lane1.next = self.dmar_data.val().get_bits::<64>(64) & self.m_part.val();
            }
        }

        // The lane queue: pop (into the core's buffer) and push (from DMA).
        self.pop.next = bits::<2>(0);
        if self.state.q.val() == HashState::Absorb {
            if self.full.val() {
                // The last block is left to the padding (or PARTIAL) path.
                if self.perm_ready.val() & !self.in_done.val() {
                    self.core.start.next = true;
                    self.kick.d.next = true;
                    self.pos.d.next = bits::<5>(0);
                }
            } else if (self.fcnt.q.val() >= bits::<3>(2))
                & ((self.pos.q.val() + 2) <= self.rate.q.val())
            {
                self.pop.next = bits::<2>(2);
                self.core.buf_we.next = true;
                self.pos.d.next = self.pos.q.val() + 2;
            } else if self.fcnt.q.val().any()
                & (((self.pos.q.val() + 1) == self.rate.q.val()) | !self.rx_left.q.val().any())
            {
                self.pop.next = bits::<2>(1);
                self.core.buf_we.next = true;
                self.core.buf_mask.next = bits::<2>(1);
                self.pos.d.next = self.pos.q.val() + 1;
            }
        }
        self.after_pop.next = self.fcnt.q.val() - bit_cast::<3, 2>(self.pop.val());
        self.g0.next = self.f0.q.val();
        self.g1.next = self.f1.q.val();
        self.g2.next = self.f2.q.val();
        self.g3.next = self.f3.q.val();
        if self.pop.val() == bits::<2>(1) {
            self.g0.next = self.f1.q.val();
            self.g1.next = self.f2.q.val();
            self.g2.next = self.f3.q.val();
        }
        if self.pop.val() == bits::<2>(2) {
            self.g0.next = self.f2.q.val();
            self.g1.next = self.f3.q.val();
        }
        self.f0.d.next = self.g0.val();
        self.f1.d.next = self.g1.val();
        self.f2.d.next = self.g2.val();
        self.f3.d.next = self.g3.val();
        self.fcnt.d.next = self.after_pop.val();
        if (self.state.q.val() == HashState::Absorb)
            & self.rx_left.q.val().any()
            & (self.after_pop.val() <= bits::<3>(2))
        {
            self.dmar_data_ready.next = true;
            if self.dmar_data_valid.val() {
                self.rx.next = true;
                self.rx_left.d.next = self.rx_left.q.val() - 1;
                if self.rem.q.val() < bits::<32>(16) {
                    self.rem.d.next = bits::<32>(0);
                } else {
                    self.rem.d.next = self.rem.q.val() - 16;
                }
                self.fcnt.d.next = self.after_pop.val() + bit_cast::<3, 2>(self.push.val());
                if self.after_pop.val() == bits::<3>(0) {
                    self.f0.d.next = self.lane0.val();
                    self.f1.d.next = self.lane1.val();
                }
                if self.after_pop.val() == bits::<3>(1) {
                    self.f1.d.next = self.lane0.val();
                    self.f2.d.next = self.lane1.val();
                }
                if self.after_pop.val() == bits::<3>(2) {
                    self.f2.d.next = self.lane0.val();
                    self.f3.d.next = self.lane1.val();
                }
            }
        }

        // The squeezed lane and its beat.
        self.sq_lane.next = self.core.rd_data.val().get_bits::<64>(0);

        match self.state.q.val() {
            HashState::Idle => {
                self.busy.next = false;
                if self.start.val() {
                    self.j_op.d.next = self.alg_sel.val();
                    self.j_resume.d.next = self.resume.val();
                    self.j_partial.d.next = self.partial.val();
                    self.j_src.d.next = self.src_addr.val();
                    self.j_len.d.next = self.src_len.val();
                    self.j_dst.d.next = self.dst_addr.val();
                    self.j_dst_len.d.next = self.dst_len.val();
                    self.j_aux.d.next = self.aux_addr.val();
                    self.state.d.next = HashState::Setup;
                }
            }
            HashState::Setup => {
                self.core.init.next = true;
                self.j_out.d.next = self.out_total.val();
                self.rem.d.next = self.j_len.q.val();
                self.out_rem.d.next = self.out_total.val();
                self.lanes_left.d.next = bit_cast::<18, 32>((self.out_total.val() + 7) >> 3);
                self.rate.d.next = self.r0.val();
                if self.alg.val() == bits::<3>(1) {
                    self.rate.d.next = self.r1.val();
                }
                if self.alg.val() == bits::<3>(2) {
                    self.rate.d.next = self.r2.val();
                }
                if self.alg.val() == bits::<3>(3) {
                    self.rate.d.next = self.r3.val();
                }
                if self.alg.val() == bits::<3>(4) {
                    self.rate.d.next = self.r4.val();
                }
                if self.alg.val() == bits::<3>(5) {
                    self.rate.d.next = self.r5.val();
                }
                self.dom.d.next = self.dom_sha3.val();
                if self.alg.val().get_bit(2) {
                    self.dom.d.next = self.dom_shake.val();
                }
                self.pos.d.next = bits::<5>(0);
                self.fcnt.d.next = bits::<3>(0);
                self.ldi.d.next = bits::<5>(0);
                self.spos.d.next = bits::<5>(0);
                self.have_lo.d.next = false;
                self.ow_v.d.next = false;
                self.wr_addr.d.next = self.j_dst.q.val();
                self.rd_err.d.next = false;
                self.wr_err.d.next = false;
                self.status_r.d.next = self.s_ok.val();
                self.out_len_r.d.next = bits::<32>(0);
                if self.j_resume.q.val() {
                    self.state.d.next = HashState::Resume;
                    self.rq_addr.d.next = self.j_aux.q.val();
                    self.rq_left.d.next = self.c_state_beats.val();
                    self.rx_left.d.next = self.c_state_beats.val();
                } else {
                    self.state.d.next = HashState::Absorb;
                    self.rq_addr.d.next = self.j_src.q.val();
                    self.rq_left.d.next = self.nbeats.val();
                    self.rx_left.d.next = self.nbeats.val();
                }
            }
            HashState::Resume => {
                self.dmar_data_ready.next = true;
                if self.dmar_data_valid.val() {
                    self.rx.next = true;
                    self.core.st_we.next = true;
                    if self.ldi.q.val() == self.c_last_lane.val() {
                        self.core.st_mask.next = bits::<2>(1);
                    }
                    self.ldi.d.next = self.ldi.q.val() + 2;
                    self.rx_left.d.next = self.rx_left.q.val() - 1;
                    if self.rx_left.q.val() == bits::<17>(1) {
                        self.state.d.next = HashState::Absorb;
                        self.rq_addr.d.next = self.j_src.q.val();
                        self.rq_left.d.next = bit_cast::<17, 32>((self.j_len.q.val() + 15) >> 4);
                        self.rx_left.d.next = bit_cast::<17, 32>((self.j_len.q.val() + 15) >> 4);
                    }
                }
            }
            HashState::Absorb => {
                if self.in_done.val() {
                    if self.rd_err.q.val() {
                        self.state.d.next = HashState::Drain;
                    } else if self.j_partial.q.val() {
                        self.state.d.next = HashState::PartEnd;
                    } else {
                        self.state.d.next = HashState::Pad0;
                    }
                }
            }
            HashState::PartEnd => {
                if self.part_bad.val() {
                    self.status_r.d.next = self.s_bad_length.val();
                    self.state.d.next = HashState::Drain;
                } else if !self.full.val() {
                    self.state.d.next = HashState::SaveWait;
                } else if self.perm_ready.val() {
                    self.core.start.next = true;
                    self.kick.d.next = true;
                    self.pos.d.next = bits::<5>(0);
                    self.state.d.next = HashState::SaveWait;
                }
            }
            HashState::SaveWait => {
                if self.perm_ready.val() {
                    self.state.d.next = HashState::Save;
                }
            }
            HashState::Save => {
                if self.oroom.val() {
                    self.emit.next = true;
                    self.emit_data.next = self.core.rd_data.val();
                    self.spos.d.next = self.spos.q.val() + 2;
                    if self.spos.q.val() == self.c_last_lane.val() {
                        self.emit_strb.next = bits::<16>(0x00ff);
                        self.out_len_r.d.next = self.c_state_bytes.val();
                        self.state.d.next = HashState::Drain;
                    }
                }
            }
            HashState::Pad0 => {
                if self.j_len.q.val().get_bits::<3>(0).any() | !self.full.val() {
                    self.state.d.next = HashState::Pad1;
                } else if self.perm_ready.val() {
                    self.core.start.next = true;
                    self.kick.d.next = true;
                    self.pos.d.next = bits::<5>(0);
                    self.state.d.next = HashState::Pad1;
                }
            }
            HashState::Pad1 => {
                self.core.buf_we.next = true;
                self.core.buf_mask.next = bits::<2>(1);
                self.core.buf_data.next = bit_cast::<128, 64>(
                    bit_cast::<64, 8>(self.dom.q.val())
                        << (bit_cast::<6, 3>(self.j_len.q.val().get_bits::<3>(0)) << 3),
                );
                if self.j_len.q.val().get_bits::<3>(0).any() {
                    self.core.buf_idx.next = self.pos.q.val() - 1;
                }
                self.state.d.next = HashState::Pad2;
            }
            HashState::Pad2 => {
                self.core.buf_we.next = true;
                self.core.buf_mask.next = bits::<2>(1);
                self.core.buf_idx.next = self.rate.q.val() - 1;
                self.core.buf_data.next = bits::<128>(0x80) << 56;
                self.state.d.next = HashState::Final;
            }
            HashState::Final => {
                if self.perm_ready.val() {
                    self.core.start.next = true;
                    self.kick.d.next = true;
                    self.state.d.next = HashState::SqWait;
                }
            }
            HashState::SqWait => {
                if self.perm_ready.val() {
                    self.state.d.next = HashState::Squeeze;
                }
            }
            HashState::Squeeze => {
                if !self.lanes_left.q.val().any() {
                    if !self.ow_v.q.val() {
                        self.out_len_r.d.next = self.j_out.q.val();
                        self.state.d.next = HashState::Drain;
                    }
                } else if self.spos.q.val() == self.rate.q.val() {
                    if self.perm_ready.val() {
                        self.core.start.next = true;
                        self.kick.d.next = true;
                        self.spos.d.next = bits::<5>(0);
                    }
                } else if self.perm_ready.val() & self.oroom.val() {
                    self.spos.d.next = self.spos.q.val() + 1;
                    self.lanes_left.d.next = self.lanes_left.q.val() - 1;
                    if self.have_lo.q.val() {
                        self.emit.next = true;
                        self.emit_data.next = bit_cast::<128, 64>(self.lo.q.val())
                            | (bit_cast::<128, 64>(self.sq_lane.val()) << 64);
                        self.have_lo.d.next = false;
                    } else if self.lanes_left.q.val() == bits::<18>(1) {
                        self.emit.next = true;
                        self.emit_data.next = bit_cast::<128, 64>(self.sq_lane.val());
                    } else {
                        self.lo.d.next = self.sq_lane.val();
                        self.have_lo.d.next = true;
                    }
                    if self.emit.val() {
                        if self.out_rem.q.val() < bits::<32>(16) {
                            self.emit_strb.next =
                                (bits::<16>(1) << self.out_rem.q.val().get_bits::<4>(0)) - 1;
                            self.out_rem.d.next = bits::<32>(0);
                        } else {
                            self.out_rem.d.next = self.out_rem.q.val() - 16;
                        }
                    }
                }
            }
            HashState::Drain => {
                if !self.ow_v.q.val() {
                    self.state.d.next = HashState::Finish;
                }
            }
            HashState::Finish => {
                self.busy.next = false;
                self.done.next = true;
                if self.rd_err.q.val() {
                    self.status.next = self.s_dma_read.val();
                    self.out_len.next = bits::<32>(0);
                } else if self.wr_err.q.val() | self.dmaw_err.val() {
                    self.status.next = self.s_dma_write.val();
                    self.out_len.next = bits::<32>(0);
                }
                self.state.d.next = HashState::Idle;
            }
        }

        if self.emit.val() {
            self.ow_v.d.next = true;
            self.ow_data.d.next = self.emit_data.val();
            self.ow_strb.d.next = self.emit_strb.val();
        }
        if self.rx.val() & self.dmar_data_err.val() & !self.rd_err.q.val() {
            self.rd_err.d.next = true;
            self.read_fault.next = true;
            self.fault_addr.next = self.rq_addr.q.val();
        }
        self.core_rd_data.next = self.core.rd_data.val();
        if self.ext_sel.val() {
            self.core.init.next = self.ext_init.val();
            self.core.buf_we.next = self.ext_buf_we.val();
            self.core.buf_idx.next = self.ext_buf_idx.val();
            self.core.buf_mask.next = self.ext_buf_mask.val();
            self.core.buf_data.next = self.ext_buf_data.val();
            self.core.start.next = self.ext_start.val();
            self.core.st_we.next = false;
            // The borrower reads lanes 0 and 1 only (its verifier).
            self.core.rd_idx.next = bits::<5>(0);
        }
        if self.reset.val() {
            self.state.d.next = HashState::Idle;
            self.rq_left.d.next = bits::<17>(0);
            self.rx_left.d.next = bits::<17>(0);
            self.ow_v.d.next = false;
        }
    }
}
