//! The BAR0 register block: identity, control and status, counters, faults,
//! ring configuration, doorbells and interrupts.
//!
//! Every address, reset value and bit position comes from
//! [`hsm_contract::regs`] as a [`Constant`] (a Verilog `localparam`), so the
//! decoder cannot drift from the contract.

use hsm_contract::regs::{self, Field, Register};
use rust_hdl::prelude::*;

// `selftest_fail` is SELFTEST bits 3:0.
const _: () = assert!(
    regs::selftest::DRBG.lsb == 0
        && regs::selftest::AES.lsb == 1
        && regs::selftest::SHA3.lsb == 2
        && regs::selftest::MLKEM.lsb == 3
);

fn addr(r: &Register) -> Constant<Bits<12>> {
    Constant::new((r.offset as u64).into())
}

fn value(v: u32) -> Constant<Bits<32>> {
    Constant::new((v as u64).into())
}

fn bitpos(f: &Field) -> Constant<Bits<5>> {
    debug_assert_eq!(f.width, 1, "{} is not a single bit", f.name);
    Constant::new((f.lsb as u64).into())
}

/// The register block. Reads return data one cycle after `reg_read`.
#[derive(LogicBlock)]
pub struct RegisterFile {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Test-mode strap, sampled during reset.
    pub test_mode_strap: Signal<In, Bit>,
    /// Register byte address.
    pub reg_addr: Signal<In, Bits<12>>,
    /// Register write data.
    pub reg_wdata: Signal<In, Bits<32>>,
    /// Write strobe.
    pub reg_write: Signal<In, Bit>,
    /// Read strobe.
    pub reg_read: Signal<In, Bit>,
    /// Read data (the cycle after `reg_read`).
    pub reg_rdata: Signal<Out, Bits<32>>,
    /// `reg_rdata` is valid.
    pub reg_rvalid: Signal<Out, Bit>,
    /// MSI-X message pulse.
    pub irq: Signal<Out, Bit>,
    /// Dispatcher: next descriptor index to fetch.
    pub sq_head: Signal<In, Bits<16>>,
    /// Dispatcher: next completion index to write.
    pub cq_tail: Signal<In, Bits<16>>,
    /// Dispatcher is busy.
    pub disp_busy: Signal<In, Bit>,
    /// Dispatcher wrote a completion (pulse).
    pub job_done: Signal<In, Bit>,
    /// Dispatcher saw a DMA read error (pulse).
    pub dma_read_fault: Signal<In, Bit>,
    /// Dispatcher saw a DMA write error (pulse).
    pub dma_write_fault: Signal<In, Bit>,
    /// Address that faulted, with the fault pulses.
    pub fault_addr_in: Signal<In, Bits<64>>,
    /// The DRBG is seeded and serving (`STATUS.RNG_READY`).
    pub rng_ready: Signal<In, Bit>,
    /// The noise source failed a health test (`STATUS.RNG_FAULT`).
    pub rng_fault: Signal<In, Bit>,
    /// The power-on self-tests have finished (`SELFTEST.DONE`).
    pub selftest_done: Signal<In, Bit>,
    /// Which power-on self-tests failed: bit i is `SELFTEST` bit i (DRBG,
    /// AES, SHA3, MLKEM); any sets `STATUS.SELFTEST_FAILED`.
    pub selftest_fail: Signal<In, Bits<4>>,
    /// The tamper input (level; a rising edge zeroizes).
    pub tamper: Signal<In, Bit>,
    /// Pulse: a CARD_ZEROIZE job has completed.
    pub zeroize_req: Signal<In, Bit>,
    /// The card holds no master key (`STATUS.ZEROIZED`).
    pub zeroized: Signal<In, Bit>,
    /// Pulse: reset the card's logic, zeroizing (the queues stop here).
    pub zeroize: Signal<Out, Bit>,
    /// The card came out of reset in test mode.
    pub test_mode_out: Signal<Out, Bit>,
    /// Queue enabled.
    pub queue_enable: Signal<Out, Bit>,
    /// Pulse: reset ring indices and phase (queue being enabled).
    pub queue_reset: Signal<Out, Bit>,
    /// Pulse: soft reset of the job engine.
    pub soft_reset: Signal<Out, Bit>,
    /// Submission ring base.
    pub sq_base: Signal<Out, Bits<64>>,
    /// Submission ring size, log2.
    pub sq_log2: Signal<Out, Bits<5>>,
    /// Submission ring tail (doorbell).
    pub sq_tail: Signal<Out, Bits<16>>,
    /// Completion ring base.
    pub cq_base: Signal<Out, Bits<64>>,
    /// Completion ring size, log2.
    pub cq_log2: Signal<Out, Bits<5>>,
    /// Completion ring head (doorbell).
    pub cq_head: Signal<Out, Bits<16>>,

    rdata: DFF<Bits<32>>,
    rvalid: DFF<Bit>,
    irq_q: DFF<Bit>,
    test_mode: DFF<Bit>,
    scratch: DFF<Bits<32>>,
    qen: DFF<Bit>,
    qrst: DFF<Bit>,
    srst: DFF<Bit>,
    zz: DFF<Bit>,
    zz_pend: DFF<Bit>,
    tamper_q: DFF<Bit>,
    cycles: DFF<Bits<64>>,
    cycles_hi: DFF<Bits<32>>,
    jobs: DFF<Bits<64>>,
    jobs_hi: DFF<Bits<32>>,
    fault: DFF<Bits<4>>,
    fault_addr: DFF<Bits<64>>,
    sq_base_r: DFF<Bits<64>>,
    sq_log2_r: DFF<Bits<5>>,
    sq_tail_r: DFF<Bits<16>>,
    cq_base_r: DFF<Bits<64>>,
    cq_log2_r: DFF<Bits<5>>,
    cq_head_r: DFF<Bits<16>>,
    irq_en: DFF<Bits<2>>,
    irq_st: DFF<Bits<2>>,

    rd: Signal<Local, Bits<32>>,
    wr: Signal<Local, Bit>,
    do_srst: Signal<Local, Bit>,
    do_zz: Signal<Local, Bit>,
    status_v: Signal<Local, Bits<32>>,
    control_v: Signal<Local, Bits<32>>,
    sq_mask: Signal<Local, Bits<17>>,
    cq_mask: Signal<Local, Bits<17>>,
    cfg_ok: Signal<Local, Bit>,
    f_set: Signal<Local, Bits<4>>,
    f_cfg: Signal<Local, Bit>,
    f_db: Signal<Local, Bit>,
    f_clr: Signal<Local, Bits<4>>,
    f_next: Signal<Local, Bits<4>>,
    i_set: Signal<Local, Bits<2>>,
    i_clr: Signal<Local, Bits<2>>,
    i_next: Signal<Local, Bits<2>>,
    ie_next: Signal<Local, Bits<2>>,

    a_id: Constant<Bits<12>>,
    a_contract: Constant<Bits<12>>,
    a_hash_lo: Constant<Bits<12>>,
    a_hash_hi: Constant<Bits<12>>,
    a_caps: Constant<Bits<12>>,
    a_status: Constant<Bits<12>>,
    a_scratch: Constant<Bits<12>>,
    a_control: Constant<Bits<12>>,
    a_cycles_lo: Constant<Bits<12>>,
    a_cycles_hi: Constant<Bits<12>>,
    a_jobs_lo: Constant<Bits<12>>,
    a_jobs_hi: Constant<Bits<12>>,
    a_fault: Constant<Bits<12>>,
    a_fault_lo: Constant<Bits<12>>,
    a_fault_hi: Constant<Bits<12>>,
    a_selftest: Constant<Bits<12>>,
    a_sq_base_lo: Constant<Bits<12>>,
    a_sq_base_hi: Constant<Bits<12>>,
    a_sq_log2: Constant<Bits<12>>,
    a_sq_tail: Constant<Bits<12>>,
    a_sq_head: Constant<Bits<12>>,
    a_cq_base_lo: Constant<Bits<12>>,
    a_cq_base_hi: Constant<Bits<12>>,
    a_cq_log2: Constant<Bits<12>>,
    a_cq_head: Constant<Bits<12>>,
    a_cq_tail: Constant<Bits<12>>,
    a_irq_en: Constant<Bits<12>>,
    a_irq_st: Constant<Bits<12>>,
    v_id: Constant<Bits<32>>,
    v_contract: Constant<Bits<32>>,
    v_hash_lo: Constant<Bits<32>>,
    v_hash_hi: Constant<Bits<32>>,
    v_caps: Constant<Bits<32>>,
    b_qe: Constant<Bits<5>>,
    b_srst: Constant<Bits<5>>,
    b_st_test: Constant<Bits<5>>,
    b_st_qen: Constant<Bits<5>>,
    b_st_busy: Constant<Bits<5>>,
    b_st_fault: Constant<Bits<5>>,
    b_st_rng_ready: Constant<Bits<5>>,
    b_st_rng_fault: Constant<Bits<5>>,
    b_st_selftest: Constant<Bits<5>>,
    b_st_zeroized: Constant<Bits<5>>,
    b_sf_done: Constant<Bits<5>>,
    b_f_rd: Constant<Bits<5>>,
    b_f_wr: Constant<Bits<5>>,
    b_f_cfg: Constant<Bits<5>>,
    b_f_db: Constant<Bits<5>>,
    b_i_cpl: Constant<Bits<5>>,
    b_i_fault: Constant<Bits<5>>,
    ring_min: Constant<Bits<5>>,
    ring_max: Constant<Bits<5>>,
}

impl RegisterFile {
    /// A register block reporting `build_hash` in `BUILD_HASH_LO/HI`.
    pub fn new(build_hash: u64) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            test_mode_strap: Default::default(),
            reg_addr: Default::default(),
            reg_wdata: Default::default(),
            reg_write: Default::default(),
            reg_read: Default::default(),
            reg_rdata: Default::default(),
            reg_rvalid: Default::default(),
            irq: Default::default(),
            sq_head: Default::default(),
            cq_tail: Default::default(),
            disp_busy: Default::default(),
            job_done: Default::default(),
            dma_read_fault: Default::default(),
            dma_write_fault: Default::default(),
            fault_addr_in: Default::default(),
            rng_ready: Default::default(),
            rng_fault: Default::default(),
            selftest_done: Default::default(),
            selftest_fail: Default::default(),
            b_st_rng_ready: bitpos(&regs::status::RNG_READY),
            b_st_rng_fault: bitpos(&regs::status::RNG_FAULT),
            b_st_selftest: bitpos(&regs::status::SELFTEST_FAILED),
            b_st_zeroized: bitpos(&regs::status::ZEROIZED),
            b_sf_done: bitpos(&regs::selftest::DONE),
            test_mode_out: Default::default(),
            queue_enable: Default::default(),
            queue_reset: Default::default(),
            soft_reset: Default::default(),
            tamper: Default::default(),
            zeroize_req: Default::default(),
            zeroized: Default::default(),
            zeroize: Default::default(),
            sq_base: Default::default(),
            sq_log2: Default::default(),
            sq_tail: Default::default(),
            cq_base: Default::default(),
            cq_log2: Default::default(),
            cq_head: Default::default(),
            rdata: Default::default(),
            rvalid: Default::default(),
            irq_q: Default::default(),
            test_mode: Default::default(),
            scratch: Default::default(),
            qen: Default::default(),
            qrst: Default::default(),
            srst: Default::default(),
            zz: Default::default(),
            zz_pend: Default::default(),
            tamper_q: Default::default(),
            cycles: Default::default(),
            cycles_hi: Default::default(),
            jobs: Default::default(),
            jobs_hi: Default::default(),
            fault: Default::default(),
            fault_addr: Default::default(),
            sq_base_r: Default::default(),
            sq_log2_r: Default::default(),
            sq_tail_r: Default::default(),
            cq_base_r: Default::default(),
            cq_log2_r: Default::default(),
            cq_head_r: Default::default(),
            irq_en: Default::default(),
            irq_st: Default::default(),
            rd: Default::default(),
            wr: Default::default(),
            do_srst: Default::default(),
            do_zz: Default::default(),
            status_v: Default::default(),
            control_v: Default::default(),
            sq_mask: Default::default(),
            cq_mask: Default::default(),
            cfg_ok: Default::default(),
            f_set: Default::default(),
            f_cfg: Default::default(),
            f_db: Default::default(),
            f_clr: Default::default(),
            f_next: Default::default(),
            i_set: Default::default(),
            i_clr: Default::default(),
            i_next: Default::default(),
            ie_next: Default::default(),
            a_id: addr(&regs::ID),
            a_contract: addr(&regs::CONTRACT_VERSION),
            a_hash_lo: addr(&regs::BUILD_HASH_LO),
            a_hash_hi: addr(&regs::BUILD_HASH_HI),
            a_caps: addr(&regs::CAPABILITIES),
            a_status: addr(&regs::STATUS),
            a_scratch: addr(&regs::SCRATCH),
            a_control: addr(&regs::CONTROL),
            a_cycles_lo: addr(&regs::CYCLES_LO),
            a_cycles_hi: addr(&regs::CYCLES_HI),
            a_jobs_lo: addr(&regs::JOBS_LO),
            a_jobs_hi: addr(&regs::JOBS_HI),
            a_fault: addr(&regs::FAULT),
            a_fault_lo: addr(&regs::FAULT_ADDR_LO),
            a_fault_hi: addr(&regs::FAULT_ADDR_HI),
            a_selftest: addr(&regs::SELFTEST),
            a_sq_base_lo: addr(&regs::SQ_BASE_LO),
            a_sq_base_hi: addr(&regs::SQ_BASE_HI),
            a_sq_log2: addr(&regs::SQ_SIZE_LOG2),
            a_sq_tail: addr(&regs::SQ_TAIL),
            a_sq_head: addr(&regs::SQ_HEAD),
            a_cq_base_lo: addr(&regs::CQ_BASE_LO),
            a_cq_base_hi: addr(&regs::CQ_BASE_HI),
            a_cq_log2: addr(&regs::CQ_SIZE_LOG2),
            a_cq_head: addr(&regs::CQ_HEAD),
            a_cq_tail: addr(&regs::CQ_TAIL),
            a_irq_en: addr(&regs::IRQ_ENABLE),
            a_irq_st: addr(&regs::IRQ_STATUS),
            v_id: value(regs::ID.reset),
            v_contract: value(regs::CONTRACT_VERSION.reset),
            v_hash_lo: value(build_hash as u32),
            v_hash_hi: value((build_hash >> 32) as u32),
            v_caps: value(regs::CAPABILITIES.reset),
            b_qe: bitpos(&regs::control::QUEUE_ENABLE),
            b_srst: bitpos(&regs::control::SOFT_RESET),
            b_st_test: bitpos(&regs::status::TEST_MODE),
            b_st_qen: bitpos(&regs::status::QUEUE_ENABLED),
            b_st_busy: bitpos(&regs::status::BUSY),
            b_st_fault: bitpos(&regs::status::FAULT),
            b_f_rd: bitpos(&regs::fault::DMA_READ),
            b_f_wr: bitpos(&regs::fault::DMA_WRITE),
            b_f_cfg: bitpos(&regs::fault::RING_CONFIG),
            b_f_db: bitpos(&regs::fault::DOORBELL),
            b_i_cpl: bitpos(&regs::irq::COMPLETION),
            b_i_fault: bitpos(&regs::irq::FAULT),
            ring_min: Constant::new((hsm_contract::RING_MIN_LOG2 as u64).into()),
            ring_max: Constant::new((hsm_contract::RING_MAX_LOG2 as u64).into()),
        }
    }
}

impl Logic for RegisterFile {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, rdata, rvalid, irq_q, test_mode, scratch, qen, qrst, srst, zz, zz_pend,
            tamper_q, cycles, cycles_hi, jobs, jobs_hi, fault, fault_addr, sq_base_r, sq_log2_r,
            sq_tail_r, cq_base_r, cq_log2_r, cq_head_r, irq_en, irq_st
        );
        self.sq_mask.next =
            (bits::<17>(1) << bit_cast::<17, 5>(self.sq_log2_r.q.val())) - bits::<17>(1);
        self.cq_mask.next =
            (bits::<17>(1) << bit_cast::<17, 5>(self.cq_log2_r.q.val())) - bits::<17>(1);
        self.cfg_ok.next = (self.sq_log2_r.q.val() >= self.ring_min.val())
            & (self.sq_log2_r.q.val() <= self.ring_max.val())
            & (self.cq_log2_r.q.val() >= self.ring_min.val())
            & (self.cq_log2_r.q.val() <= self.ring_max.val())
            & !self.sq_base_r.q.val().get_bits::<6>(0).any()
            & !self.cq_base_r.q.val().get_bits::<4>(0).any();

        // Outputs.
        self.reg_rdata.next = self.rdata.q.val();
        self.reg_rvalid.next = self.rvalid.q.val();
        self.irq.next = self.irq_q.q.val();
        self.queue_enable.next = self.qen.q.val();
        self.test_mode_out.next = self.test_mode.q.val();
        self.queue_reset.next = self.qrst.q.val();
        self.soft_reset.next = self.srst.q.val();
        self.zeroize.next = self.zz.q.val();
        self.sq_base.next = self.sq_base_r.q.val();
        self.sq_log2.next = self.sq_log2_r.q.val();
        self.sq_tail.next = self.sq_tail_r.q.val();
        self.cq_base.next = self.cq_base_r.q.val();
        self.cq_log2.next = self.cq_log2_r.q.val();
        self.cq_head.next = self.cq_head_r.q.val();

        // Free-running counters.
        self.cycles.d.next = self.cycles.q.val() + 1;
        if self.job_done.val() {
            self.jobs.d.next = self.jobs.q.val() + 1;
        }
        self.qrst.d.next = false;
        self.srst.d.next = false;
        self.rvalid.d.next = self.reg_read.val();
        // Zeroization: a rising edge of the tamper input, or a
        // CARD_ZEROIZE job's completion.
        self.tamper_q.d.next = self.tamper.val();
        self.do_zz.next = (self.tamper.val() & !self.tamper_q.q.val()) | self.zeroize_req.val();
        self.zz.d.next = self.do_zz.val();
        // STATUS.ZEROIZED reads 0 from the request until the vault has
        // started over (it is not ready while it erases).
        if self.do_zz.val() {
            self.zz_pend.d.next = true;
        } else if !self.zeroized.val() & !self.zz.q.val() {
            self.zz_pend.d.next = false;
        }

        // Read multiplexer.
        self.status_v.next = bits::<32>(0)
            .replace_bit(self.b_st_test.val().index(), self.test_mode.q.val())
            .replace_bit(self.b_st_qen.val().index(), self.qen.q.val())
            .replace_bit(self.b_st_busy.val().index(), self.disp_busy.val())
            .replace_bit(self.b_st_fault.val().index(), self.fault.q.val().any())
            .replace_bit(self.b_st_rng_ready.val().index(), self.rng_ready.val())
            .replace_bit(self.b_st_rng_fault.val().index(), self.rng_fault.val())
            .replace_bit(
                self.b_st_selftest.val().index(),
                self.selftest_fail.val().any(),
            )
            .replace_bit(
                self.b_st_zeroized.val().index(),
                self.zeroized.val() & !self.zz_pend.q.val(),
            );
        self.control_v.next = bits::<32>(0).replace_bit(self.b_qe.val().index(), self.qen.q.val());
        self.rd.next = bits::<32>(0);
        if self.reg_addr.val() == self.a_id.val() {
            self.rd.next = self.v_id.val();
        }
        if self.reg_addr.val() == self.a_contract.val() {
            self.rd.next = self.v_contract.val();
        }
        if self.reg_addr.val() == self.a_hash_lo.val() {
            self.rd.next = self.v_hash_lo.val();
        }
        if self.reg_addr.val() == self.a_hash_hi.val() {
            self.rd.next = self.v_hash_hi.val();
        }
        if self.reg_addr.val() == self.a_caps.val() {
            self.rd.next = self.v_caps.val();
        }
        if self.reg_addr.val() == self.a_status.val() {
            self.rd.next = self.status_v.val();
        }
        if self.reg_addr.val() == self.a_scratch.val() {
            self.rd.next = self.scratch.q.val();
        }
        if self.reg_addr.val() == self.a_control.val() {
            self.rd.next = self.control_v.val();
        }
        if self.reg_addr.val() == self.a_cycles_lo.val() {
            self.rd.next = self.cycles.q.val().get_bits::<32>(0);
        }
        if self.reg_addr.val() == self.a_cycles_hi.val() {
            self.rd.next = self.cycles_hi.q.val();
        }
        if self.reg_addr.val() == self.a_jobs_lo.val() {
            self.rd.next = self.jobs.q.val().get_bits::<32>(0);
        }
        if self.reg_addr.val() == self.a_jobs_hi.val() {
            self.rd.next = self.jobs_hi.q.val();
        }
        if self.reg_addr.val() == self.a_fault.val() {
            self.rd.next = bit_cast::<32, 4>(self.fault.q.val());
        }
        if self.reg_addr.val() == self.a_fault_lo.val() {
            self.rd.next = self.fault_addr.q.val().get_bits::<32>(0);
        }
        if self.reg_addr.val() == self.a_fault_hi.val() {
            self.rd.next = self.fault_addr.q.val().get_bits::<32>(32);
        }
        if self.reg_addr.val() == self.a_selftest.val() {
            self.rd.next = bit_cast::<32, 4>(self.selftest_fail.val())
                .replace_bit(self.b_sf_done.val().index(), self.selftest_done.val());
        }
        if self.reg_addr.val() == self.a_sq_base_lo.val() {
            self.rd.next = self.sq_base_r.q.val().get_bits::<32>(0);
        }
        if self.reg_addr.val() == self.a_sq_base_hi.val() {
            self.rd.next = self.sq_base_r.q.val().get_bits::<32>(32);
        }
        if self.reg_addr.val() == self.a_sq_log2.val() {
            self.rd.next = bit_cast::<32, 5>(self.sq_log2_r.q.val());
        }
        if self.reg_addr.val() == self.a_sq_tail.val() {
            self.rd.next = bit_cast::<32, 16>(self.sq_tail_r.q.val());
        }
        if self.reg_addr.val() == self.a_sq_head.val() {
            self.rd.next = bit_cast::<32, 16>(self.sq_head.val());
        }
        if self.reg_addr.val() == self.a_cq_base_lo.val() {
            self.rd.next = self.cq_base_r.q.val().get_bits::<32>(0);
        }
        if self.reg_addr.val() == self.a_cq_base_hi.val() {
            self.rd.next = self.cq_base_r.q.val().get_bits::<32>(32);
        }
        if self.reg_addr.val() == self.a_cq_log2.val() {
            self.rd.next = bit_cast::<32, 5>(self.cq_log2_r.q.val());
        }
        if self.reg_addr.val() == self.a_cq_head.val() {
            self.rd.next = bit_cast::<32, 16>(self.cq_head_r.q.val());
        }
        if self.reg_addr.val() == self.a_cq_tail.val() {
            self.rd.next = bit_cast::<32, 16>(self.cq_tail.val());
        }
        if self.reg_addr.val() == self.a_irq_en.val() {
            self.rd.next = bit_cast::<32, 2>(self.irq_en.q.val());
        }
        if self.reg_addr.val() == self.a_irq_st.val() {
            self.rd.next = bit_cast::<32, 2>(self.irq_st.q.val());
        }
        if self.reg_read.val() {
            self.rdata.d.next = self.rd.val();
            if self.reg_addr.val() == self.a_cycles_lo.val() {
                self.cycles_hi.d.next = self.cycles.q.val().get_bits::<32>(32);
            }
            if self.reg_addr.val() == self.a_jobs_lo.val() {
                self.jobs_hi.d.next = self.jobs.q.val().get_bits::<32>(32);
            }
        }

        // Writes.
        self.wr.next = self.reg_write.val();
        self.f_cfg.next = false;
        self.f_db.next = false;
        self.f_clr.next = bits::<4>(0);
        self.i_clr.next = bits::<2>(0);
        self.ie_next.next = self.irq_en.q.val();
        if self.wr.val() & (self.reg_addr.val() == self.a_scratch.val()) {
            self.scratch.d.next = self.reg_wdata.val();
        }
        if self.wr.val() & (self.reg_addr.val() == self.a_control.val()) {
            if self.reg_wdata.val().get_bit(self.b_srst.val().index()) {
                self.srst.d.next = true;
            } else if self.reg_wdata.val().get_bit(self.b_qe.val().index()) {
                if !self.qen.q.val() {
                    if self.cfg_ok.val() {
                        self.qen.d.next = true;
                        self.qrst.d.next = true;
                        self.sq_tail_r.d.next = bits::<16>(0);
                        self.cq_head_r.d.next = bits::<16>(0);
                    } else {
                        self.f_cfg.next = true;
                    }
                }
            } else {
                self.qen.d.next = false;
            }
        }
        if self.wr.val() & (self.reg_addr.val() == self.a_fault.val()) {
            self.f_clr.next = self.reg_wdata.val().get_bits::<4>(0);
        }
        if self.wr.val() & !self.qen.q.val() {
            if self.reg_addr.val() == self.a_sq_base_lo.val() {
                self.sq_base_r.d.next = ((self.sq_base_r.q.val() >> 32) << 32)
                    | bit_cast::<64, 32>(self.reg_wdata.val());
            }
            if self.reg_addr.val() == self.a_sq_base_hi.val() {
                self.sq_base_r.d.next = ((self.sq_base_r.q.val() << 32) >> 32)
                    | (bit_cast::<64, 32>(self.reg_wdata.val()) << 32);
            }
            if self.reg_addr.val() == self.a_sq_log2.val() {
                self.sq_log2_r.d.next = self.reg_wdata.val().get_bits::<5>(0);
            }
            if self.reg_addr.val() == self.a_cq_base_lo.val() {
                self.cq_base_r.d.next = ((self.cq_base_r.q.val() >> 32) << 32)
                    | bit_cast::<64, 32>(self.reg_wdata.val());
            }
            if self.reg_addr.val() == self.a_cq_base_hi.val() {
                self.cq_base_r.d.next = ((self.cq_base_r.q.val() << 32) >> 32)
                    | (bit_cast::<64, 32>(self.reg_wdata.val()) << 32);
            }
            if self.reg_addr.val() == self.a_cq_log2.val() {
                self.cq_log2_r.d.next = self.reg_wdata.val().get_bits::<5>(0);
            }
        }
        if self.wr.val() & self.qen.q.val() {
            if self.reg_addr.val() == self.a_sq_tail.val() {
                if self.reg_wdata.val() > bit_cast::<32, 17>(self.sq_mask.val()) {
                    self.f_db.next = true;
                } else {
                    self.sq_tail_r.d.next = self.reg_wdata.val().get_bits::<16>(0);
                }
            }
            if self.reg_addr.val() == self.a_cq_head.val() {
                if self.reg_wdata.val() > bit_cast::<32, 17>(self.cq_mask.val()) {
                    self.f_db.next = true;
                } else {
                    self.cq_head_r.d.next = self.reg_wdata.val().get_bits::<16>(0);
                }
            }
        }
        if self.wr.val() & (self.reg_addr.val() == self.a_irq_en.val()) {
            self.ie_next.next = self.reg_wdata.val().get_bits::<2>(0);
        }
        if self.wr.val() & (self.reg_addr.val() == self.a_irq_st.val()) {
            self.i_clr.next = self.reg_wdata.val().get_bits::<2>(0);
        }

        self.f_set.next = bits::<4>(0)
            .replace_bit(self.b_f_rd.val().index(), self.dma_read_fault.val())
            .replace_bit(self.b_f_wr.val().index(), self.dma_write_fault.val())
            .replace_bit(self.b_f_cfg.val().index(), self.f_cfg.val())
            .replace_bit(self.b_f_db.val().index(), self.f_db.val());
        // Faults are sticky; the first one since FAULT was clear records its address.
        self.f_next.next = (self.fault.q.val() & !self.f_clr.val()) | self.f_set.val();
        self.fault.d.next = self.f_next.val();
        if (self.dma_read_fault.val() | self.dma_write_fault.val()) & !self.fault.q.val().any() {
            self.fault_addr.d.next = self.fault_addr_in.val();
        }

        // Interrupts: a message when an enabled cause becomes pending while
        // no enabled cause was pending.
        self.i_set.next = bits::<2>(0)
            .replace_bit(self.b_i_cpl.val().index(), self.job_done.val())
            .replace_bit(self.b_i_fault.val().index(), self.f_set.val().any());
        self.i_next.next = (self.irq_st.q.val() & !self.i_clr.val()) | self.i_set.val();
        self.irq_st.d.next = self.i_next.val();
        self.irq_en.d.next = self.ie_next.val();
        self.irq_q.d.next = !(self.irq_st.q.val() & self.irq_en.q.val()).any()
            & (self.i_next.val() & self.ie_next.val()).any();

        // Soft reset: queues, interrupts and faults, at the edge of the
        // CONTROL write itself, so that the next register write is kept.
        // The dispatcher sees the pulse in the following cycle.
        self.do_srst.next = self.wr.val()
            & (self.reg_addr.val() == self.a_control.val())
            & self.reg_wdata.val().get_bit(self.b_srst.val().index());
        if self.do_srst.val() | self.do_zz.val() {
            self.qen.d.next = false;
            self.qrst.d.next = false;
            self.sq_base_r.d.next = bits::<64>(0);
            self.sq_log2_r.d.next = bits::<5>(0);
            self.sq_tail_r.d.next = bits::<16>(0);
            self.cq_base_r.d.next = bits::<64>(0);
            self.cq_log2_r.d.next = bits::<5>(0);
            self.cq_head_r.d.next = bits::<16>(0);
            self.fault.d.next = bits::<4>(0);
            self.fault_addr.d.next = bits::<64>(0);
            self.irq_en.d.next = bits::<2>(0);
            self.irq_st.d.next = bits::<2>(0);
            self.irq_q.d.next = false;
        }
        // Hard reset: everything, and sample the test-mode strap.
        if self.reset.val() {
            self.rdata.d.next = bits::<32>(0);
            self.rvalid.d.next = false;
            self.irq_q.d.next = false;
            self.test_mode.d.next = self.test_mode_strap.val();
            self.scratch.d.next = bits::<32>(0);
            self.qen.d.next = false;
            self.qrst.d.next = false;
            self.srst.d.next = false;
            self.zz.d.next = false;
            self.zz_pend.d.next = false;
            self.tamper_q.d.next = false;
            self.cycles.d.next = bits::<64>(0);
            self.cycles_hi.d.next = bits::<32>(0);
            self.jobs.d.next = bits::<64>(0);
            self.jobs_hi.d.next = bits::<32>(0);
            self.fault.d.next = bits::<4>(0);
            self.fault_addr.d.next = bits::<64>(0);
            self.sq_base_r.d.next = bits::<64>(0);
            self.sq_log2_r.d.next = bits::<5>(0);
            self.sq_tail_r.d.next = bits::<16>(0);
            self.cq_base_r.d.next = bits::<64>(0);
            self.cq_log2_r.d.next = bits::<5>(0);
            self.cq_head_r.d.next = bits::<16>(0);
            self.irq_en.d.next = bits::<2>(0);
            self.irq_st.d.next = bits::<2>(0);
        }
    }
}
