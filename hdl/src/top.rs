//! The card's top level: the register block and the dispatcher, wired to
//! the register port and the DMA port described in `docs/card-ports.md`.

use crate::dispatcher::Dispatcher;
use crate::regs::RegisterFile;
use rust_hdl::prelude::*;

/// The whole card, as exported to Verilog (module `top`).
#[derive(LogicBlock)]
pub struct HsmCard {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, Bit>,
    /// Test-mode strap, sampled during reset.
    pub test_mode_strap: Signal<In, Bit>,
    /// Register byte address.
    pub reg_addr: Signal<In, Bits<12>>,
    /// Register write data.
    pub reg_wdata: Signal<In, Bits<32>>,
    /// Register write strobe.
    pub reg_write: Signal<In, Bit>,
    /// Register read strobe.
    pub reg_read: Signal<In, Bit>,
    /// Register read data.
    pub reg_rdata: Signal<Out, Bits<32>>,
    /// Register read data valid.
    pub reg_rvalid: Signal<Out, Bit>,
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
    /// DMA read beat data.
    pub dmar_data: Signal<In, Bits<128>>,
    /// DMA read beat error.
    pub dmar_data_err: Signal<In, Bit>,
    /// DMA write beat valid.
    pub dmaw_valid: Signal<Out, Bit>,
    /// DMA write beat ready.
    pub dmaw_ready: Signal<In, Bit>,
    /// DMA write beat address.
    pub dmaw_addr: Signal<Out, Bits<64>>,
    /// DMA write beat data.
    pub dmaw_data: Signal<Out, Bits<128>>,
    /// DMA write byte enables.
    pub dmaw_strb: Signal<Out, Bits<16>>,
    /// DMA write error (for the beat accepted at the previous edge).
    pub dmaw_err: Signal<In, Bit>,
    /// MSI-X message pulse.
    pub irq: Signal<Out, Bit>,
    /// The card has work it can progress without the host.
    pub busy: Signal<Out, Bit>,
    /// Noise source: the card wants samples.
    pub noise_enable: Signal<Out, Bit>,
    /// Noise source: a sample is on `noise_sample`.
    pub noise_valid: Signal<In, Bit>,
    /// Noise source: an 8-bit sample.
    pub noise_sample: Signal<In, Bits<8>>,
    /// Self-test fault injection, one bit per `SELFTEST` group (bit 0 the
    /// DRBG's known-answer test, 1 AES, 2 SHA3, 3 MLKEM: see
    /// [`crate::post`]): the simulated card's test input, sampled while the
    /// tests run; tied low on a real card.
    pub selftest_inject: Signal<In, Bits<4>>,
    /// Tamper input: a rising edge zeroizes the card (on a real card the
    /// enclosure's tamper circuit; the simulated card's `hsmctl sim
    /// tamper`).
    pub tamper: Signal<In, Bit>,
    /// Master-key store: it holds a key (`hsm_contract::storage`).
    pub bb_valid: Signal<In, Bit>,
    /// Master-key store: the device master key.
    pub bb_key: Signal<In, Bits<256>>,
    /// Master-key store: the boot epoch.
    pub bb_epoch: Signal<In, Bits<20>>,
    /// Master-key store: pulse, write the three fields below.
    pub bb_write: Signal<Out, Bit>,
    /// Master-key store: the valid bit to write.
    pub bb_wvalid: Signal<Out, Bit>,
    /// Master-key store: the key to write.
    pub bb_wkey: Signal<Out, Bits<256>>,
    /// Master-key store: the epoch to write.
    pub bb_wepoch: Signal<Out, Bits<20>>,
    /// Master-key store: pulse, the write is done (in a later cycle).
    pub bb_ack: Signal<In, Bit>,
    /// Master-key store: with `bb_ack`, the write is stored.
    pub bb_ok: Signal<In, Bit>,
    /// Master-key store: the freshness entry to read or write.
    pub bb_ver_index: Signal<Out, Bits<7>>,
    /// Master-key store: the freshness entry `bb_ver_index` named in the
    /// cycle before (a synchronous read).
    pub bb_ver: Signal<In, Bits<64>>,
    /// Master-key store: pulse, write `bb_wver` to entry `bb_ver_index`.
    pub bb_vwrite: Signal<Out, Bit>,
    /// Master-key store: the freshness entry to write.
    pub bb_wver: Signal<Out, Bits<64>>,
    /// Record store: pulse, an operation (`hsm_contract::storage::nv_op`).
    pub nv_req: Signal<Out, Bit>,
    /// Record store: the operation.
    pub nv_op: Signal<Out, Bits<2>>,
    /// Record store: the record.
    pub nv_index: Signal<Out, Bits<7>>,
    /// Record store: the beat (READ, WRITE).
    pub nv_beat: Signal<Out, Bits<4>>,
    /// Record store: the beat to stage (WRITE).
    pub nv_wdata: Signal<Out, Bits<128>>,
    /// Record store: pulse, the operation is done (in a later cycle).
    pub nv_ack: Signal<In, Bit>,
    /// Record store: with `nv_ack`, it succeeded (READ: the record exists).
    pub nv_ok: Signal<In, Bit>,
    /// Record store: with `nv_ack`, the beat read.
    pub nv_rdata: Signal<In, Bits<128>>,

    regs: RegisterFile,
    disp: Dispatcher,
}

impl HsmCard {
    /// A card reporting `build_hash` in its identity registers.
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
            irq: Default::default(),
            busy: Default::default(),
            noise_enable: Default::default(),
            noise_valid: Default::default(),
            noise_sample: Default::default(),
            selftest_inject: Default::default(),
            tamper: Default::default(),
            bb_valid: Default::default(),
            bb_key: Default::default(),
            bb_epoch: Default::default(),
            bb_write: Default::default(),
            bb_wvalid: Default::default(),
            bb_wkey: Default::default(),
            bb_wepoch: Default::default(),
            bb_ack: Default::default(),
            bb_ok: Default::default(),
            bb_ver_index: Default::default(),
            bb_ver: Default::default(),
            bb_vwrite: Default::default(),
            bb_wver: Default::default(),
            nv_req: Default::default(),
            nv_op: Default::default(),
            nv_index: Default::default(),
            nv_beat: Default::default(),
            nv_wdata: Default::default(),
            nv_ack: Default::default(),
            nv_ok: Default::default(),
            nv_rdata: Default::default(),
            regs: RegisterFile::new(build_hash),
            disp: Dispatcher::default(),
        }
    }
}

impl Default for HsmCard {
    fn default() -> Self {
        Self::new(crate::BUILD_HASH)
    }
}

impl Logic for HsmCard {
    #[hdl_gen]
    fn update(&mut self) {
        self.regs.clock.next = self.clock.val();
        self.regs.reset.next = self.reset.val();
        self.regs.test_mode_strap.next = self.test_mode_strap.val();
        self.regs.reg_addr.next = self.reg_addr.val();
        self.regs.reg_wdata.next = self.reg_wdata.val();
        self.regs.reg_write.next = self.reg_write.val();
        self.regs.reg_read.next = self.reg_read.val();
        self.reg_rdata.next = self.regs.reg_rdata.val();
        self.reg_rvalid.next = self.regs.reg_rvalid.val();
        self.irq.next = self.regs.irq.val();

        self.disp.clock.next = self.clock.val();
        // Zeroization resets every block but the register file.
        self.disp.reset.next = self.reset.val() | self.regs.zeroize.val();
        self.disp.zeroize.next = self.regs.zeroize.val();
        self.regs.tamper.next = self.tamper.val();
        self.regs.zeroize_req.next = self.disp.zeroize_req.val();
        self.regs.zeroized.next = self.disp.zeroized.val();
        self.disp.soft_reset.next = self.regs.soft_reset.val();
        self.disp.queue_enable.next = self.regs.queue_enable.val();
        self.disp.queue_reset.next = self.regs.queue_reset.val();
        self.disp.test_mode.next = self.regs.test_mode_out.val();
        self.disp.sq_base.next = self.regs.sq_base.val();
        self.disp.sq_log2.next = self.regs.sq_log2.val();
        self.disp.sq_tail.next = self.regs.sq_tail.val();
        self.disp.cq_base.next = self.regs.cq_base.val();
        self.disp.cq_log2.next = self.regs.cq_log2.val();
        self.disp.cq_head.next = self.regs.cq_head.val();
        self.regs.sq_head.next = self.disp.sq_head.val();
        self.regs.cq_tail.next = self.disp.cq_tail.val();
        self.regs.disp_busy.next = self.disp.busy.val();
        self.regs.job_done.next = self.disp.job_done.val();
        self.regs.dma_read_fault.next = self.disp.dma_read_fault.val();
        self.regs.dma_write_fault.next = self.disp.dma_write_fault.val();
        self.regs.fault_addr_in.next = self.disp.fault_addr.val();
        // Seeding the DRBG after reset is work that needs the clock too.
        self.busy.next = self.disp.busy.val() | self.disp.rng_busy.val();
        self.noise_enable.next = self.disp.noise_enable.val();
        self.disp.noise_valid.next = self.noise_valid.val();
        self.disp.noise_sample.next = self.noise_sample.val();
        self.regs.rng_ready.next = self.disp.rng_ready.val();
        self.regs.rng_fault.next = self.disp.rng_fault.val();
        self.disp.kat_inject.next = self.selftest_inject.val();
        self.regs.selftest_done.next = self.disp.selftest_done.val();
        self.regs.selftest_fail.next = self.disp.selftest_fail.val();

        self.disp.bb_valid.next = self.bb_valid.val();
        self.disp.bb_key.next = self.bb_key.val();
        self.disp.bb_epoch.next = self.bb_epoch.val();
        self.disp.bb_ack.next = self.bb_ack.val();
        self.disp.bb_ok.next = self.bb_ok.val();
        self.disp.bb_ver.next = self.bb_ver.val();
        self.bb_ver_index.next = self.disp.bb_ver_index.val();
        self.bb_vwrite.next = self.disp.bb_vwrite.val();
        self.bb_wver.next = self.disp.bb_wver.val();
        self.bb_write.next = self.disp.bb_write.val();
        self.bb_wvalid.next = self.disp.bb_wvalid.val();
        self.bb_wkey.next = self.disp.bb_wkey.val();
        self.bb_wepoch.next = self.disp.bb_wepoch.val();
        self.nv_req.next = self.disp.nv_req.val();
        self.nv_op.next = self.disp.nv_op.val();
        self.nv_index.next = self.disp.nv_index.val();
        self.nv_beat.next = self.disp.nv_beat.val();
        self.nv_wdata.next = self.disp.nv_wdata.val();
        self.disp.nv_ack.next = self.nv_ack.val();
        self.disp.nv_ok.next = self.nv_ok.val();
        self.disp.nv_rdata.next = self.nv_rdata.val();
        self.dmar_req_valid.next = self.disp.dmar_req_valid.val();
        self.disp.dmar_req_ready.next = self.dmar_req_ready.val();
        self.dmar_req_addr.next = self.disp.dmar_req_addr.val();
        self.dmar_req_beats.next = self.disp.dmar_req_beats.val();
        self.disp.dmar_data_valid.next = self.dmar_data_valid.val();
        self.dmar_data_ready.next = self.disp.dmar_data_ready.val();
        self.disp.dmar_data.next = self.dmar_data.val();
        self.disp.dmar_data_err.next = self.dmar_data_err.val();
        self.dmaw_valid.next = self.disp.dmaw_valid.val();
        self.disp.dmaw_ready.next = self.dmaw_ready.val();
        self.dmaw_addr.next = self.disp.dmaw_addr.val();
        self.dmaw_data.next = self.disp.dmaw_data.val();
        self.dmaw_strb.next = self.disp.dmaw_strb.val();
        self.disp.dmaw_err.next = self.dmaw_err.val();
    }
}
