//! `RNG_GENERATE` jobs: DRBG output from the [`crate::rng::RngUnit`] to
//! `dst`, one 16-byte beat per block.
//!
//! The dispatcher hands a checked job here with `start` (as it does hash
//! jobs) and lends it the random bit generator's request port. The job
//! asks for ceil(`dst_len` / 16) blocks and writes each one as it comes,
//! the last with byte strobes for a partial block. A DMA write error stops
//! the writes but not the request (the DRBG's output is consumed, never
//! replayed); a noise-source failure ends the job with `ENTROPY_FAILURE`.

use crate::consts::status;
use hsm_contract::Status;
use rust_hdl::prelude::*;

/// Job states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum RngJobState {
    /// Waiting for a job.
    Idle,
    /// Waiting for the request to end.
    Run,
    /// Waiting one cycle for the last write's error response.
    Drain,
    /// Reporting.
    Finish,
}

/// The `RNG_GENERATE` job engine.
#[derive(LogicBlock)]
pub struct RngJob {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: run the job.
    pub start: Signal<In, Bit>,
    /// Output address (16-byte aligned).
    pub dst_addr: Signal<In, Bits<64>>,
    /// Bytes to write (at most 1 MiB).
    pub dst_len: Signal<In, Bits<32>>,
    /// Working on a job.
    pub busy: Signal<Out, Bit>,
    /// Pulse: the job is done.
    pub done: Signal<Out, Bit>,
    /// The job's status (valid with `done`).
    pub status: Signal<Out, Bits<16>>,
    /// The job's output length (valid with `done`).
    pub out_len: Signal<Out, Bits<32>>,
    /// Pulse: a DMA write error.
    pub write_fault: Signal<Out, Bit>,
    /// Address with `write_fault`.
    pub fault_addr: Signal<Out, Bits<64>>,
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
    /// Random bit generator: request.
    pub rng_req: Signal<Out, Bit>,
    /// Random bit generator: blocks (0 means 65536).
    pub rng_blocks: Signal<Out, Bits<16>>,
    /// Random bit generator: a block is offered.
    pub rng_valid: Signal<In, Bit>,
    /// Random bit generator: the block.
    pub rng_block: Signal<In, Bits<128>>,
    /// Random bit generator: the block is taken.
    pub rng_ready: Signal<Out, Bit>,
    /// Random bit generator: the request ended.
    pub rng_done: Signal<In, Bit>,
    /// Random bit generator: the request failed.
    pub rng_fail: Signal<In, Bit>,

    state: DFF<RngJobState>,
    j_len: DFF<Bits<32>>,
    left: DFF<Bits<17>>,
    wr_addr: DFF<Bits<64>>,
    last_wr: DFF<Bits<64>>,
    asking: DFF<Bit>,
    failed: DFF<Bit>,
    wr_err: DFF<Bit>,
    last_strb: Signal<Local, Bits<16>>,
    start_blocks: Signal<Local, Bits<17>>,
    s_ok: Constant<Bits<16>>,
    s_entropy: Constant<Bits<16>>,
    s_dma_write: Constant<Bits<16>>,
}

impl Default for RngJob {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            dst_addr: Default::default(),
            dst_len: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            status: Default::default(),
            out_len: Default::default(),
            write_fault: Default::default(),
            fault_addr: Default::default(),
            dmaw_valid: Default::default(),
            dmaw_ready: Default::default(),
            dmaw_addr: Default::default(),
            dmaw_data: Default::default(),
            dmaw_strb: Default::default(),
            dmaw_err: Default::default(),
            rng_req: Default::default(),
            rng_blocks: Default::default(),
            rng_valid: Default::default(),
            rng_block: Default::default(),
            rng_ready: Default::default(),
            rng_done: Default::default(),
            rng_fail: Default::default(),
            state: Default::default(),
            j_len: Default::default(),
            left: Default::default(),
            wr_addr: Default::default(),
            last_wr: Default::default(),
            asking: Default::default(),
            failed: Default::default(),
            wr_err: Default::default(),
            last_strb: Default::default(),
            start_blocks: Default::default(),
            s_ok: status(Status::Ok),
            s_entropy: status(Status::EntropyFailure),
            s_dma_write: status(Status::DmaWriteError),
        }
    }
}

impl Logic for RngJob {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state, j_len, left, wr_addr, last_wr, asking, failed, wr_err);
        // Blocks for the job: ceil(len / 16); 65536 is sent as 0.
        self.rng_req.next = self.asking.q.val();
        // (The generator samples the count when it accepts the request,
        // before any block is taken: `left` is still the whole job.)
        self.rng_blocks.next = self.left.q.val().get_bits::<16>(0);
        self.start_blocks.next = self.dst_len.val().get_bits::<17>(4);
        if self.dst_len.val().get_bits::<4>(0).any() {
            self.start_blocks.next = self.dst_len.val().get_bits::<17>(4) + 1;
        }
        // Byte strobes of the last beat.
        self.last_strb.next = bits::<16>(0xffff);
        if self.j_len.q.val().get_bits::<4>(0).any() {
            self.last_strb.next = bits::<16>(0xffff)
                >> (bits::<16>(16) - bit_cast::<16, 4>(self.j_len.q.val().get_bits::<4>(0)));
        }
        self.dmaw_valid.next = false;
        self.dmaw_addr.next = self.wr_addr.q.val();
        self.dmaw_data.next = bits::<128>(0);
        self.dmaw_strb.next = bits::<16>(0xffff);
        if self.left.q.val() == bits::<17>(1) {
            self.dmaw_strb.next = self.last_strb.val();
        }
        self.rng_ready.next = false;
        self.busy.next = self.state.q.val() != RngJobState::Idle;
        self.done.next = false;
        self.status.next = self.s_ok.val();
        self.out_len.next = self.j_len.q.val();
        self.write_fault.next = false;
        self.fault_addr.next = self.last_wr.q.val();
        if self.dmaw_err.val() {
            self.wr_err.d.next = true;
            if !self.wr_err.q.val() {
                self.write_fault.next = true;
            }
        }

        match self.state.q.val() {
            RngJobState::Idle => {
                if self.start.val() {
                    self.j_len.d.next = self.dst_len.val();
                    self.left.d.next = self.start_blocks.val();
                    self.wr_addr.d.next = self.dst_addr.val();
                    self.failed.d.next = false;
                    self.wr_err.d.next = false;
                    self.asking.d.next = self.dst_len.val().any();
                    self.state.d.next = RngJobState::Run;
                    if !self.dst_len.val().any() {
                        self.state.d.next = RngJobState::Finish;
                    }
                }
            }
            RngJobState::Run => {
                // Blocks go straight to `dst`; after a write error they are
                // taken and dropped.
                if self.wr_err.q.val() {
                    self.rng_ready.next = true;
                } else {
                    self.rng_ready.next = self.dmaw_ready.val();
                    self.dmaw_valid.next = self.rng_valid.val();
                    if self.rng_valid.val() {
                        self.dmaw_data.next = self.rng_block.val();
                    }
                }
                if self.rng_valid.val() & (self.dmaw_ready.val() | self.wr_err.q.val()) {
                    self.left.d.next = self.left.q.val() - 1;
                    self.wr_addr.d.next = self.wr_addr.q.val() + 16;
                    self.last_wr.d.next = self.wr_addr.q.val();
                }
                if self.rng_done.val() {
                    self.asking.d.next = false;
                    self.failed.d.next = self.rng_fail.val();
                    self.state.d.next = RngJobState::Drain;
                }
            }
            RngJobState::Drain => {
                self.state.d.next = RngJobState::Finish;
            }
            RngJobState::Finish => {
                self.done.next = true;
                if self.failed.q.val() {
                    self.status.next = self.s_entropy.val();
                    self.out_len.next = bits::<32>(0);
                } else if self.wr_err.q.val() | self.dmaw_err.val() {
                    self.status.next = self.s_dma_write.val();
                    self.out_len.next = bits::<32>(0);
                }
                self.state.d.next = RngJobState::Idle;
            }
        }
        if self.reset.val() {
            self.state.d.next = RngJobState::Idle;
            self.asking.d.next = false;
        }
    }
}
