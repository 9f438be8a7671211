//! The job dispatcher: fetches descriptors from the submission ring, checks
//! them, runs the job, and writes a completion.
//!
//! It owns the card's DMA master port (see `docs/card-ports.md`). Jobs run in
//! submission order, one at a time. COPY moves data at one 16-byte beat per
//! cycle in each direction for any source and destination alignment: read
//! beats are aligned to the source, and a 32-byte window (the previous and
//! the current beat) is shifted by the difference of the two alignments to
//! form destination-aligned beats, written with byte strobes on the first
//! and last beat. Read bursts are requested ahead of the data, up to 256
//! beats each and never across a 4 KiB boundary.
//!
//! Descriptor field offsets and status codes come from `hsm_contract` as
//! [`Constant`]s.

use crate::auth::AuthUnit;
use crate::checks::DescChecker;
use crate::consts::{le_bits, opcode, status};
use crate::engine::CryptoEngine;
use crate::hash::HashEngine;
use crate::kem_engine::KemEngine;
use crate::post::{kat_jobs, kat_memory, KatJob, KatUnit, MEM_BEATS_LOG2};
use crate::rng::RngUnit;
use crate::rng_job::RngJob;
use crate::vault::Vault;
use hsm_contract::layout::{cqe, desc, LayoutField};
use hsm_contract::{Opcode, Status};
use rust_hdl::prelude::*;

/// Dispatcher states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum DispState {
    /// Waiting for descriptors.
    Idle,
    /// Requesting a descriptor.
    FetchReq,
    /// Receiving the descriptor's four beats.
    FetchData,
    /// Checking the descriptor (the checker's registered result).
    Check,
    /// Acting on the check.
    Decode,
    /// Moving COPY data.
    CopyRun,
    /// The crypto engine runs the job.
    Engine,
    /// Waiting one cycle for the last data write's error response.
    Drain,
    /// Writing the completion (waits for ring space).
    Complete,
    /// Waiting one cycle for the completion write's error response.
    CompleteDrain,
    /// After a soft reset: discarding read beats still in flight.
    Flush,
    /// After reset: waiting for the self-tests' keys ([`crate::post`]).
    KatWait,
    /// Loading the next self-test job's descriptor.
    KatLoad,
    /// The self-tests are over: the crypto engine restores the slots.
    KatEnd,
}

fn off(f: &LayoutField) -> Constant<Bits<10>> {
    Constant::new((f.bit_offset() as u64).into())
}

/// A self-test job's descriptor as the dispatcher holds one.
fn kat_desc(j: &KatJob) -> Constant<Bits<512>> {
    Constant::new(le_bits(&j.desc.to_bytes()))
}

/// A self-test job's expectations, packed: bits 1:0 the unit (0 crypto
/// engine, 1 hash engine, 2 ML-KEM engine), 3:2 the group's `SELFTEST`
/// bit, 20:4 the beats it must write, 52:21 its `out_len`.
fn kat_meta(j: &KatJob) -> Constant<Bits<53>> {
    let unit = match j.unit {
        KatUnit::Crypto => 0,
        KatUnit::Hash => 1,
        KatUnit::Kem => 2,
    };
    let v = unit
        | (u64::from(j.group.bit()) << 2)
        | (u64::from(j.out_beats) << 4)
        | (u64::from(j.out_len) << 21);
    Constant::new(v.into())
}

/// The job dispatcher and COPY data mover.
#[derive(LogicBlock)]
pub struct Dispatcher {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous hard reset.
    pub reset: Signal<In, Bit>,
    /// Soft reset pulse from the register block.
    pub soft_reset: Signal<In, Bit>,
    /// Sampled during reset: the reset zeroizes the card.
    pub zeroize: Signal<In, Bit>,
    /// Pulse: a CARD_ZEROIZE job has completed; zeroize the card.
    pub zeroize_req: Signal<Out, Bit>,
    /// The card holds no master key (`STATUS.ZEROIZED`).
    pub zeroized: Signal<Out, Bit>,
    /// Queue enabled.
    pub queue_enable: Signal<In, Bit>,
    /// Pulse: reset ring indices and phase.
    pub queue_reset: Signal<In, Bit>,
    /// The card runs in test mode.
    pub test_mode: Signal<In, Bit>,
    /// Submission ring base.
    pub sq_base: Signal<In, Bits<64>>,
    /// Submission ring size, log2.
    pub sq_log2: Signal<In, Bits<5>>,
    /// Submission ring tail.
    pub sq_tail: Signal<In, Bits<16>>,
    /// Completion ring base.
    pub cq_base: Signal<In, Bits<64>>,
    /// Completion ring size, log2.
    pub cq_log2: Signal<In, Bits<5>>,
    /// Completion ring head.
    pub cq_head: Signal<In, Bits<16>>,
    /// Next descriptor index to fetch.
    pub sq_head: Signal<Out, Bits<16>>,
    /// Next completion index to write.
    pub cq_tail: Signal<Out, Bits<16>>,
    /// Work in progress that needs no host action.
    pub busy: Signal<Out, Bit>,
    /// Pulse: a completion was written.
    pub job_done: Signal<Out, Bit>,
    /// Pulse: a DMA read returned an error.
    pub dma_read_fault: Signal<Out, Bit>,
    /// Pulse: a DMA write returned an error.
    pub dma_write_fault: Signal<Out, Bit>,
    /// The address involved in a fault pulse.
    pub fault_addr: Signal<Out, Bits<64>>,
    /// DMA read request valid.
    pub dmar_req_valid: Signal<Out, Bit>,
    /// DMA read request accepted.
    pub dmar_req_ready: Signal<In, Bit>,
    /// DMA read request address (16-byte aligned).
    pub dmar_req_addr: Signal<Out, Bits<64>>,
    /// DMA read request length in beats (1 to 256).
    pub dmar_req_beats: Signal<Out, Bits<9>>,
    /// DMA read beat valid.
    pub dmar_data_valid: Signal<In, Bit>,
    /// DMA read beat accepted.
    pub dmar_data_ready: Signal<Out, Bit>,
    /// DMA read beat.
    pub dmar_data: Signal<In, Bits<128>>,
    /// DMA read beat error.
    pub dmar_data_err: Signal<In, Bit>,
    /// DMA write beat valid.
    pub dmaw_valid: Signal<Out, Bit>,
    /// DMA write beat accepted.
    pub dmaw_ready: Signal<In, Bit>,
    /// DMA write beat address (16-byte aligned).
    pub dmaw_addr: Signal<Out, Bits<64>>,
    /// DMA write beat data.
    pub dmaw_data: Signal<Out, Bits<128>>,
    /// DMA write byte enables.
    pub dmaw_strb: Signal<Out, Bits<16>>,
    /// DMA write error for the beat accepted at the previous edge.
    pub dmaw_err: Signal<In, Bit>,
    /// Noise-source port: the card wants samples.
    pub noise_enable: Signal<Out, Bit>,
    /// Noise-source port: a sample is on `noise_sample`.
    pub noise_valid: Signal<In, Bit>,
    /// Noise-source port: the sample.
    pub noise_sample: Signal<In, Bits<8>>,
    /// The DRBG is seeded and serving.
    pub rng_ready: Signal<Out, Bit>,
    /// The noise source failed a health test.
    pub rng_fault: Signal<Out, Bit>,
    /// The random bit generator is seeding or serving, or the vault is
    /// booting or working: the card needs the clock even with no job.
    pub rng_busy: Signal<Out, Bit>,
    /// Self-test fault injection, one bit per `SELFTEST` group (test
    /// input): bit 0 the DRBG's test, bits 1-3 flip a bit of the group's
    /// test inputs ([`crate::post`]).
    pub kat_inject: Signal<In, Bits<4>>,
    /// The power-on self-tests have finished.
    pub selftest_done: Signal<Out, Bit>,
    /// Which self-tests failed: bit i is `SELFTEST` bit i (DRBG, AES, SHA3,
    /// MLKEM). Any failure refuses every job but CARD_ZEROIZE.
    pub selftest_fail: Signal<Out, Bits<4>>,
    /// Master-key store: it holds a key (`hsm_contract::storage`).
    pub bb_valid: Signal<In, Bit>,
    /// Master-key store: the key.
    pub bb_key: Signal<In, Bits<256>>,
    /// Master-key store: the boot epoch.
    pub bb_epoch: Signal<In, Bits<20>>,
    /// Master-key store: pulse, write.
    pub bb_write: Signal<Out, Bit>,
    /// Master-key store: the valid bit to write.
    pub bb_wvalid: Signal<Out, Bit>,
    /// Master-key store: the key to write.
    pub bb_wkey: Signal<Out, Bits<256>>,
    /// Master-key store: the epoch to write.
    pub bb_wepoch: Signal<Out, Bits<20>>,
    /// Master-key store: pulse, the write is done.
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
    /// Record store: pulse, an operation.
    pub nv_req: Signal<Out, Bit>,
    /// Record store: the operation.
    pub nv_op: Signal<Out, Bits<2>>,
    /// Record store: the record.
    pub nv_index: Signal<Out, Bits<7>>,
    /// Record store: the beat.
    pub nv_beat: Signal<Out, Bits<4>>,
    /// Record store: the beat to stage.
    pub nv_wdata: Signal<Out, Bits<128>>,
    /// Record store: pulse, the operation is done.
    pub nv_ack: Signal<In, Bit>,
    /// Record store: with `nv_ack`, it succeeded.
    pub nv_ok: Signal<In, Bit>,
    /// Record store: with `nv_ack`, the beat read.
    pub nv_rdata: Signal<In, Bits<128>>,

    desc_check: DescChecker,
    rng: RngUnit,
    rng_job: RngJob,
    use_rng: DFF<Bit>,
    engine: CryptoEngine,
    vault: Vault,
    hash: HashEngine,
    kem: KemEngine,
    auth: AuthUnit,
    use_auth: DFF<Bit>,
    // The Keccak core lent to the auth unit, through registers.
    kx_init: DFF<Bit>,
    kx_we: DFF<Bit>,
    kx_idx: DFF<Bits<5>>,
    kx_mask: DFF<Bits<2>>,
    kx_data: DFF<Bits<128>>,
    kx_start: DFF<Bit>,
    kx_rd: DFF<Bits<128>>,
    state: DFF<DispState>,
    eng_started: DFF<Bit>,
    // The power-on self-tests (`crate::post`): the job running, a test job
    // on the engine, all done, the groups that failed; the test memory's
    // read burst, and the writes compared.
    kat_idx: DFF<Bits<3>>,
    kat_on: DFF<Bit>,
    kat_done: DFF<Bit>,
    kat_fails: DFF<Bits<4>>,
    kr_addr: DFF<Bits<8>>,
    kr_left: DFF<Bits<9>>,
    kw_count: DFF<Bits<17>>,
    kw_bad: DFF<Bit>,
    kat_rd: ROM<Bits<128>, 8>,
    kat_wr: ROM<Bits<128>, 8>,
    k_desc: Signal<Local, Bits<512>>,
    k_unit: Signal<Local, Bits<2>>,
    k_grp: Signal<Local, Bits<2>>,
    k_len: Signal<Local, Bits<32>>,
    k_beats: Signal<Local, Bits<17>>,
    k_last: Signal<Local, Bit>,
    k_pass: Signal<Local, Bit>,
    x_req_ready: Signal<Local, Bit>,
    x_data_valid: Signal<Local, Bit>,
    x_data: Signal<Local, Bits<128>>,
    x_data_err: Signal<Local, Bit>,
    x_w_ready: Signal<Local, Bit>,
    x_w_err: Signal<Local, Bit>,
    kd0: Constant<Bits<512>>,
    kd1: Constant<Bits<512>>,
    kd2: Constant<Bits<512>>,
    kd3: Constant<Bits<512>>,
    kd4: Constant<Bits<512>>,
    // Per job ([`kat_meta`]): the unit, the group, the beats written and
    // the out_len expected.
    km0: Constant<Bits<53>>,
    km1: Constant<Bits<53>>,
    km2: Constant<Bits<53>>,
    km3: Constant<Bits<53>>,
    km4: Constant<Bits<53>>,
    k_meta: Signal<Local, Bits<53>>,
    st_fail: Signal<Local, Bits<4>>,
    zz_arm: DFF<Bit>,
    use_hash: DFF<Bit>,
    use_kem: DFF<Bit>,
    sq_head_r: DFF<Bits<16>>,
    cq_tail_r: DFF<Bits<16>>,
    phase: DFF<Bit>,
    // The vault's answers to the engine, one cycle late: a register between
    // two state machines that read each other (no combinational loop).
    vr_ready: DFF<Bit>,
    vr_epoch: DFF<Bits<20>>,
    vr_last: DFF<Bit>,
    vr_done: DFF<Bit>,
    vr_ok: DFF<Bit>,
    vr_present: DFF<Bit>,
    vr_entropy: DFF<Bit>,
    vr_rec: DFF<Bits<512>>,
    vr_key: DFF<Bits<512>>,
    desc_r: DFF<Bits<512>>,
    beats: DFF<Bits<3>>,
    job_cycles: DFF<Bits<32>>,
    job_id: DFF<Bits<32>>,
    job_status: DFF<Bits<16>>,
    out_len: DFF<Bits<32>>,
    rd_err: DFF<Bit>,
    wr_err: DFF<Bit>,
    outstanding: DFF<Bits<18>>,
    rd_addr: DFF<Bits<64>>,
    rx_addr: DFF<Bits<64>>,
    wr_addr: DFF<Bits<64>>,
    last_wr_addr: DFF<Bits<64>>,
    req_left: DFF<Bits<17>>,
    in_left: DFF<Bits<17>>,
    out_left: DFF<Bits<17>>,
    hold: DFF<Bits<128>>,
    shift: DFF<Bits<4>>,
    prime: DFF<Bit>,
    first_in: DFF<Bit>,
    first_out: DFF<Bit>,
    first_mask: DFF<Bits<16>>,
    last_mask: DFF<Bits<16>>,

    sq_mask: Signal<Local, Bits<16>>,
    cq_mask: Signal<Local, Bits<16>>,
    cq_full: Signal<Local, Bit>,
    work: Signal<Local, Bit>,
    d_version: Signal<Local, Bits<8>>,
    d_opcode: Signal<Local, Bits<8>>,
    d_flags: Signal<Local, Bits<16>>,
    d_job_id: Signal<Local, Bits<32>>,
    d_src_addr: Signal<Local, Bits<64>>,
    d_dst_addr: Signal<Local, Bits<64>>,
    d_src_len: Signal<Local, Bits<32>>,
    d_dst_len: Signal<Local, Bits<32>>,
    d_aux_addr: Signal<Local, Bits<64>>,
    d_aux_len: Signal<Local, Bits<32>>,
    d_key_slot: Signal<Local, Bits<16>>,
    d_reserved0: Signal<Local, Bits<16>>,
    d_params: Signal<Local, Bits<128>>,
    is_copy: Signal<Local, Bit>,
    is_zz: Signal<Local, Bit>,
    s_off: Signal<Local, Bits<4>>,
    d_off: Signal<Local, Bits<4>>,
    t_in: Signal<Local, Bits<6>>,
    t_out: Signal<Local, Bits<6>>,
    n_in: Signal<Local, Bits<17>>,
    n_out: Signal<Local, Bits<17>>,
    last_idx: Signal<Local, Bits<4>>,
    btb: Signal<Local, Bits<9>>,
    req_beats: Signal<Local, Bits<9>>,
    req_fire: Signal<Local, Bit>,
    rx_fire: Signal<Local, Bit>,
    prime_pending: Signal<Local, Bit>,
    flush: Signal<Local, Bit>,
    in_avail: Signal<Local, Bit>,
    want_emit: Signal<Local, Bit>,
    cur: Signal<Local, Bits<128>>,
    window: Signal<Local, Bits<256>>,
    strb_first: Signal<Local, Bits<16>>,
    strb_last: Signal<Local, Bits<16>>,
    cqe: Signal<Local, Bits<128>>,
    out_busy: Signal<Local, Bit>,
    e_req_valid: Signal<Local, Bit>,
    e_req_addr: Signal<Local, Bits<64>>,
    e_req_beats: Signal<Local, Bits<9>>,
    e_data_ready: Signal<Local, Bit>,
    e_w_valid: Signal<Local, Bit>,
    e_w_addr: Signal<Local, Bits<64>>,
    e_w_data: Signal<Local, Bits<128>>,
    e_w_strb: Signal<Local, Bits<16>>,
    e_busy: Signal<Local, Bit>,
    e_done: Signal<Local, Bit>,
    e_status: Signal<Local, Bits<16>>,
    e_out_len: Signal<Local, Bits<32>>,

    o_version: Constant<Bits<10>>,
    o_opcode: Constant<Bits<10>>,
    o_flags: Constant<Bits<10>>,
    o_job_id: Constant<Bits<10>>,
    o_src_addr: Constant<Bits<10>>,
    o_dst_addr: Constant<Bits<10>>,
    o_src_len: Constant<Bits<10>>,
    o_dst_len: Constant<Bits<10>>,
    o_aux_addr: Constant<Bits<10>>,
    o_aux_len: Constant<Bits<10>>,
    o_key_slot: Constant<Bits<10>>,
    o_reserved0: Constant<Bits<10>>,
    o_params: Constant<Bits<10>>,
    c_job_id: Constant<Bits<10>>,
    c_out_len: Constant<Bits<10>>,
    c_cycles: Constant<Bits<10>>,
    c_status: Constant<Bits<10>>,
    c_version: Constant<Bits<10>>,
    c_flags: Constant<Bits<10>>,
    cqe_version: Constant<Bits<8>>,
    op_copy: Constant<Bits<8>>,
    op_zz: Constant<Bits<8>>,
    st_ok: Constant<Bits<16>>,
    st_dma_read: Constant<Bits<16>>,
    st_dma_write: Constant<Bits<16>>,
}

impl Default for Dispatcher {
    fn default() -> Self {
        let jobs = kat_jobs();
        assert_eq!(
            jobs.len(),
            5,
            "the dispatcher sequences five self-test jobs"
        );
        assert_eq!(MEM_BEATS_LOG2, 8, "the test memory has 8 address bits");
        let mem: Vec<Bits<128>> = kat_memory().iter().map(|b| le_bits(b)).collect();
        Self {
            kat_idx: Default::default(),
            kat_on: Default::default(),
            kat_done: Default::default(),
            kat_fails: Default::default(),
            kr_addr: Default::default(),
            kr_left: Default::default(),
            kw_count: Default::default(),
            kw_bad: Default::default(),
            kat_rd: ROM::from(mem.clone().into_iter()),
            kat_wr: ROM::from(mem.into_iter()),
            k_desc: Default::default(),
            k_unit: Default::default(),
            k_grp: Default::default(),
            k_len: Default::default(),
            k_beats: Default::default(),
            k_last: Default::default(),
            k_pass: Default::default(),
            k_meta: Default::default(),
            st_fail: Default::default(),
            x_req_ready: Default::default(),
            x_data_valid: Default::default(),
            x_data: Default::default(),
            x_data_err: Default::default(),
            x_w_ready: Default::default(),
            x_w_err: Default::default(),
            kd0: kat_desc(&jobs[0]),
            kd1: kat_desc(&jobs[1]),
            kd2: kat_desc(&jobs[2]),
            kd3: kat_desc(&jobs[3]),
            kd4: kat_desc(&jobs[4]),
            km0: kat_meta(&jobs[0]),
            km1: kat_meta(&jobs[1]),
            km2: kat_meta(&jobs[2]),
            km3: kat_meta(&jobs[3]),
            km4: kat_meta(&jobs[4]),
            clock: Default::default(),
            reset: Default::default(),
            soft_reset: Default::default(),
            zeroize: Default::default(),
            zeroize_req: Default::default(),
            zeroized: Default::default(),
            queue_enable: Default::default(),
            queue_reset: Default::default(),
            test_mode: Default::default(),
            sq_base: Default::default(),
            sq_log2: Default::default(),
            sq_tail: Default::default(),
            cq_base: Default::default(),
            cq_log2: Default::default(),
            cq_head: Default::default(),
            sq_head: Default::default(),
            cq_tail: Default::default(),
            busy: Default::default(),
            job_done: Default::default(),
            dma_read_fault: Default::default(),
            dma_write_fault: Default::default(),
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
            desc_check: Default::default(),
            noise_enable: Default::default(),
            noise_valid: Default::default(),
            noise_sample: Default::default(),
            rng_ready: Default::default(),
            rng_fault: Default::default(),
            rng_busy: Default::default(),
            kat_inject: Default::default(),
            selftest_done: Default::default(),
            selftest_fail: Default::default(),
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
            vault: Default::default(),
            vr_ready: Default::default(),
            vr_epoch: Default::default(),
            vr_last: Default::default(),
            vr_done: Default::default(),
            vr_ok: Default::default(),
            vr_present: Default::default(),
            vr_entropy: Default::default(),
            vr_rec: Default::default(),
            vr_key: Default::default(),
            rng: Default::default(),
            rng_job: Default::default(),
            use_rng: Default::default(),
            engine: Default::default(),
            state: Default::default(),
            eng_started: Default::default(),
            zz_arm: Default::default(),
            use_hash: Default::default(),
            hash: Default::default(),
            kem: Default::default(),
            use_kem: Default::default(),
            auth: Default::default(),
            use_auth: Default::default(),
            kx_init: Default::default(),
            kx_we: Default::default(),
            kx_idx: Default::default(),
            kx_mask: Default::default(),
            kx_data: Default::default(),
            kx_start: Default::default(),
            kx_rd: Default::default(),
            e_req_valid: Default::default(),
            e_req_addr: Default::default(),
            e_req_beats: Default::default(),
            e_data_ready: Default::default(),
            e_w_valid: Default::default(),
            e_w_addr: Default::default(),
            e_w_data: Default::default(),
            e_w_strb: Default::default(),
            e_busy: Default::default(),
            e_done: Default::default(),
            e_status: Default::default(),
            e_out_len: Default::default(),
            sq_head_r: Default::default(),
            cq_tail_r: Default::default(),
            phase: Default::default(),
            desc_r: Default::default(),
            beats: Default::default(),
            job_cycles: Default::default(),
            job_id: Default::default(),
            job_status: Default::default(),
            out_len: Default::default(),
            rd_err: Default::default(),
            wr_err: Default::default(),
            outstanding: Default::default(),
            rd_addr: Default::default(),
            rx_addr: Default::default(),
            wr_addr: Default::default(),
            last_wr_addr: Default::default(),
            req_left: Default::default(),
            in_left: Default::default(),
            out_left: Default::default(),
            hold: Default::default(),
            shift: Default::default(),
            prime: Default::default(),
            first_in: Default::default(),
            first_out: Default::default(),
            first_mask: Default::default(),
            last_mask: Default::default(),
            sq_mask: Default::default(),
            cq_mask: Default::default(),
            cq_full: Default::default(),
            work: Default::default(),
            d_version: Default::default(),
            d_opcode: Default::default(),
            d_flags: Default::default(),
            d_job_id: Default::default(),
            d_src_addr: Default::default(),
            d_dst_addr: Default::default(),
            d_src_len: Default::default(),
            d_dst_len: Default::default(),
            d_aux_addr: Default::default(),
            d_aux_len: Default::default(),
            d_key_slot: Default::default(),
            d_reserved0: Default::default(),
            d_params: Default::default(),
            is_copy: Default::default(),
            is_zz: Default::default(),
            s_off: Default::default(),
            d_off: Default::default(),
            t_in: Default::default(),
            t_out: Default::default(),
            n_in: Default::default(),
            n_out: Default::default(),
            last_idx: Default::default(),
            btb: Default::default(),
            req_beats: Default::default(),
            req_fire: Default::default(),
            rx_fire: Default::default(),
            prime_pending: Default::default(),
            flush: Default::default(),
            in_avail: Default::default(),
            want_emit: Default::default(),
            cur: Default::default(),
            window: Default::default(),
            strb_first: Default::default(),
            strb_last: Default::default(),
            cqe: Default::default(),
            out_busy: Default::default(),
            o_version: off(&desc::VERSION),
            o_opcode: off(&desc::OPCODE),
            o_flags: off(&desc::FLAGS),
            o_job_id: off(&desc::JOB_ID),
            o_src_addr: off(&desc::SRC_ADDR),
            o_dst_addr: off(&desc::DST_ADDR),
            o_src_len: off(&desc::SRC_LEN),
            o_dst_len: off(&desc::DST_LEN),
            o_aux_addr: off(&desc::AUX_ADDR),
            o_aux_len: off(&desc::AUX_LEN),
            o_key_slot: off(&desc::KEY_SLOT),
            o_reserved0: off(&desc::RESERVED0),
            o_params: off(&desc::PARAMS),
            c_job_id: off(&cqe::JOB_ID),
            c_out_len: off(&cqe::OUT_LEN),
            c_cycles: off(&cqe::CYCLES),
            c_status: off(&cqe::STATUS),
            c_version: off(&cqe::VERSION),
            c_flags: off(&cqe::FLAGS),
            cqe_version: Constant::new((hsm_contract::COMPLETION_VERSION as u64).into()),
            op_copy: opcode(Opcode::Copy),
            op_zz: opcode(Opcode::CardZeroize),
            st_ok: status(Status::Ok),
            st_dma_read: status(Status::DmaReadError),
            st_dma_write: status(Status::DmaWriteError),
        }
    }
}

impl Logic for Dispatcher {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            vr_ready,
            vr_epoch,
            vr_last,
            vr_done,
            vr_ok,
            vr_present,
            vr_entropy,
            vr_rec,
            vr_key,
            eng_started,
            kat_idx,
            kat_on,
            kat_done,
            kat_fails,
            kr_addr,
            kr_left,
            kw_count,
            kw_bad,
            zz_arm,
            use_hash,
            use_kem,
            use_rng,
            use_auth,
            kx_init,
            kx_we,
            kx_idx,
            kx_mask,
            kx_data,
            kx_start,
            kx_rd,
            state,
            sq_head_r,
            cq_tail_r,
            phase,
            desc_r,
            beats,
            job_cycles,
            job_id,
            job_status,
            out_len,
            rd_err,
            wr_err,
            outstanding,
            rd_addr,
            rx_addr,
            wr_addr,
            last_wr_addr,
            req_left,
            in_left,
            out_left,
            hold,
            shift,
            prime,
            first_in,
            first_out,
            first_mask,
            last_mask
        );
        // The self-tests that failed: the DRBG's (its own unit), a test key's
        // check value (the crypto engine), and the test jobs.
        self.st_fail.next = self.kat_fails.q.val();
        if self.rng.kat_fail.val() {
            self.st_fail.next = self.st_fail.val() | bits::<4>(1);
        }
        if self.engine.kat_fail.val() {
            self.st_fail.next = self.st_fail.val() | bits::<4>(2);
        }
        // The self-test job `kat_idx`.
        self.k_desc.next = self.kd0.val();
        self.k_meta.next = self.km0.val();
        if self.kat_idx.q.val() == 1 {
            self.k_desc.next = self.kd1.val();
            self.k_meta.next = self.km1.val();
        }
        if self.kat_idx.q.val() == 2 {
            self.k_desc.next = self.kd2.val();
            self.k_meta.next = self.km2.val();
        }
        if self.kat_idx.q.val() == 3 {
            self.k_desc.next = self.kd3.val();
            self.k_meta.next = self.km3.val();
        }
        if self.kat_idx.q.val() == 4 {
            self.k_desc.next = self.kd4.val();
            self.k_meta.next = self.km4.val();
        }
        self.k_last.next = self.kat_idx.q.val() == 4;
        self.k_unit.next = self.k_meta.val().get_bits::<2>(0);
        self.k_grp.next = self.k_meta.val().get_bits::<2>(2);
        self.k_beats.next = self.k_meta.val().get_bits::<17>(4);
        self.k_len.next = self.k_meta.val().get_bits::<32>(21);
        // The engines' DMA port: the host's, or during a self-test job the
        // test memory, which takes one read burst at a time and accepts
        // every write.
        self.kat_rd.address.next = self.kr_addr.q.val();
        self.x_req_ready.next = self.dmar_req_ready.val();
        self.x_data_valid.next = self.dmar_data_valid.val();
        self.x_data.next = self.dmar_data.val();
        self.x_data_err.next = self.dmar_data_err.val();
        self.x_w_ready.next = self.dmaw_ready.val();
        self.x_w_err.next = self.dmaw_err.val();
        if self.kat_on.q.val() {
            self.x_req_ready.next = !self.kr_left.q.val().any();
            self.x_data_valid.next = self.kr_left.q.val().any();
            self.x_data.next = self.kat_rd.data.val();
            if self.kat_inject.val().get_bit(self.k_grp.val().index()) {
                // Fault injection: a flipped input bit.
                self.x_data.next = self.kat_rd.data.val() ^ bits::<128>(1);
            }
            self.x_data_err.next = false;
            self.x_w_ready.next = true;
            self.x_w_err.next = false;
        }
        // Ring arithmetic.
        self.sq_mask.next = bit_cast::<16, 17>(
            (bits::<17>(1) << bit_cast::<17, 5>(self.sq_log2.val())) - bits::<17>(1),
        );
        self.cq_mask.next = bit_cast::<16, 17>(
            (bits::<17>(1) << bit_cast::<17, 5>(self.cq_log2.val())) - bits::<17>(1),
        );
        self.cq_full.next =
            ((self.cq_tail_r.q.val() + 1) & self.cq_mask.val()) == self.cq_head.val();
        // (Not in the cycle a queue reset clears the ring indices.)
        self.work.next = self.queue_enable.val()
            & !self.queue_reset.val()
            & (self.sq_head_r.q.val() != self.sq_tail.val());

        // Descriptor fields, at the contract's offsets.
        self.d_version.next = self
            .desc_r
            .q
            .val()
            .get_bits::<8>(self.o_version.val().index());
        self.d_opcode.next = self
            .desc_r
            .q
            .val()
            .get_bits::<8>(self.o_opcode.val().index());
        self.d_flags.next = self
            .desc_r
            .q
            .val()
            .get_bits::<16>(self.o_flags.val().index());
        self.d_job_id.next = self
            .desc_r
            .q
            .val()
            .get_bits::<32>(self.o_job_id.val().index());
        self.d_src_addr.next = self
            .desc_r
            .q
            .val()
            .get_bits::<64>(self.o_src_addr.val().index());
        self.d_dst_addr.next = self
            .desc_r
            .q
            .val()
            .get_bits::<64>(self.o_dst_addr.val().index());
        self.d_src_len.next = self
            .desc_r
            .q
            .val()
            .get_bits::<32>(self.o_src_len.val().index());
        self.d_dst_len.next = self
            .desc_r
            .q
            .val()
            .get_bits::<32>(self.o_dst_len.val().index());
        self.d_aux_addr.next = self
            .desc_r
            .q
            .val()
            .get_bits::<64>(self.o_aux_addr.val().index());
        self.d_aux_len.next = self
            .desc_r
            .q
            .val()
            .get_bits::<32>(self.o_aux_len.val().index());
        self.d_key_slot.next = self
            .desc_r
            .q
            .val()
            .get_bits::<16>(self.o_key_slot.val().index());
        self.d_reserved0.next = self
            .desc_r
            .q
            .val()
            .get_bits::<16>(self.o_reserved0.val().index());
        self.d_params.next = self
            .desc_r
            .q
            .val()
            .get_bits::<128>(self.o_params.val().index());
        self.desc_check.clock.next = self.clock.val();
        self.desc_check.test_mode.next = self.test_mode.val();
        self.desc_check.version.next = self.d_version.val();
        self.desc_check.opcode.next = self.d_opcode.val();
        self.desc_check.flags.next = self.d_flags.val();
        self.desc_check.src_addr.next = self.d_src_addr.val();
        self.desc_check.dst_addr.next = self.d_dst_addr.val();
        self.desc_check.src_len.next = self.d_src_len.val();
        self.desc_check.dst_len.next = self.d_dst_len.val();
        self.desc_check.aux_addr.next = self.d_aux_addr.val();
        self.desc_check.aux_len.next = self.d_aux_len.val();
        self.desc_check.key_slot.next = self.d_key_slot.val();
        self.desc_check.reserved0.next = self.d_reserved0.val();
        self.desc_check.params.next = self.d_params.val();
        // The engine takes its job from the decoded descriptor.
        self.engine.clock.next = self.clock.val();
        self.engine.reset.next = self.reset.val();
        self.engine.start.next = false;
        self.engine.kat_end.next = false;
        self.engine.opcode.next = self.d_opcode.val();
        self.engine.slot.next = self.d_key_slot.val().get_bits::<6>(0);
        self.engine.src_addr.next = self.d_src_addr.val();
        self.engine.src_len.next = self.d_src_len.val();
        self.engine.dst_addr.next = self.d_dst_addr.val();
        self.engine.aux_addr.next = self.d_aux_addr.val();
        self.engine.aux_len.next = self.d_aux_len.val();
        self.engine.params.next = self.d_params.val();
        self.engine.pad_bits.next = self.d_flags.val().get_bits::<3>(0);
        self.engine.dmar_req_ready.next = false;
        self.engine.dmar_data_valid.next = false;
        self.engine.dmar_data.next = self.x_data.val();
        self.engine.dmar_data_err.next = self.x_data_err.val();
        self.engine.dmaw_ready.next = true;
        self.engine.dmaw_err.next = false;
        // The hash engine likewise.
        self.hash.clock.next = self.clock.val();
        self.hash.reset.next = self.reset.val();
        self.hash.start.next = false;
        self.hash.alg_sel.next = self.d_opcode.val().get_bits::<3>(0);
        self.hash.resume.next = self.d_flags.val().get_bit(0);
        self.hash.partial.next = self.d_flags.val().get_bit(1);
        self.hash.src_addr.next = self.d_src_addr.val();
        self.hash.src_len.next = self.d_src_len.val();
        self.hash.dst_addr.next = self.d_dst_addr.val();
        self.hash.dst_len.next = self.d_dst_len.val();
        self.hash.aux_addr.next = self.d_aux_addr.val();
        self.hash.dmar_req_ready.next = false;
        self.hash.dmar_data_valid.next = false;
        self.hash.dmar_data.next = self.x_data.val();
        self.hash.dmar_data_err.next = self.x_data_err.val();
        self.hash.dmaw_ready.next = false;
        self.hash.dmaw_err.next = false;
        // The ML-KEM engine likewise, with the crypto engine's key port.
        self.kem.clock.next = self.clock.val();
        self.kem.reset.next = self.reset.val();
        self.kem.start.next = false;
        self.kem.op.next = self.d_opcode.val().get_bits::<2>(0);
        self.kem.expose.next = self.d_flags.val().get_bit(0);
        self.kem.slot.next = self.d_key_slot.val().get_bits::<6>(0);
        self.kem.alg.next = self.d_params.val().get_bits::<8>(0);
        self.kem.policy.next = self.d_params.val().get_bits::<16>(16);
        self.kem.target.next = self.d_params.val().get_bits::<6>(32);
        self.kem.src_addr.next = self.d_src_addr.val();
        self.kem.dst_addr.next = self.d_dst_addr.val();
        self.kem.aux_addr.next = self.d_aux_addr.val();
        self.kem.dmar_req_ready.next = false;
        self.kem.dmar_data_valid.next = false;
        self.kem.dmar_data.next = self.x_data.val();
        self.kem.dmar_data_err.next = self.x_data_err.val();
        self.kem.dmaw_ready.next = false;
        self.kem.dmaw_err.next = false;
        self.engine.kp_slot.next = self.kem.kp_slot.val();
        self.engine.kp_index.next = self.kem.kp_index.val();
        self.kem.kp_rec_alg.next = self.engine.kp_rec_alg.val();
        self.kem.kp_rec_policy.next = self.engine.kp_rec_policy.val();
        self.kem.kp_key.next = self.engine.kp_key.val();
        self.engine.kp_store.next = self.kem.kp_store.val();
        self.engine.kp_alg.next = self.kem.kp_alg.val();
        self.engine.kp_policy.next = self.kem.kp_policy.val();
        self.engine.kp_label.next = self.kem.kp_label.val();
        self.engine.kp_keydata.next = self.kem.kp_keydata.val();
        self.kem.kp_done.next = self.engine.done.val();
        self.kem.kp_status.next = self.engine.status.val();
        // The auth unit: logins, PINs and the card's initialisation. It
        // borrows the hash engine's Keccak core for PIN verifiers.
        self.auth.clock.next = self.clock.val();
        self.auth.reset.next = self.reset.val();
        self.auth.logout.next = self.queue_reset.val() | self.soft_reset.val();
        self.auth.test_mode.next = self.test_mode.val();
        self.auth.blocked.next = self.st_fail.val().any();
        self.auth.a_opcode.next = self.d_opcode.val();
        self.auth.start.next = false;
        self.auth.opcode.next = self.d_opcode.val();
        self.auth.param.next = self.d_params.val().get_bits::<8>(0);
        self.auth.src_addr.next = self.d_src_addr.val();
        self.auth.src_len.next = self.d_src_len.val().get_bits::<7>(0);
        self.auth.aux_addr.next = self.d_aux_addr.val();
        self.auth.dst_addr.next = self.d_dst_addr.val();
        self.auth.dmar_req_ready.next = false;
        self.auth.dmar_data_valid.next = false;
        self.auth.dmar_data.next = self.x_data.val();
        self.auth.dmar_data_err.next = self.x_data_err.val();
        self.auth.dmaw_ready.next = false;
        self.auth.dmaw_err.next = false;
        self.auth.rng_valid.next = false;
        self.auth.rng_block.next = self.rng.out_block.val();
        self.auth.rng_done.next = false;
        self.auth.rng_fail.next = self.rng.req_fail.val();
        self.kx_init.d.next = self.auth.k_init.val();
        self.kx_we.d.next = self.auth.k_buf_we.val();
        self.kx_idx.d.next = self.auth.k_buf_idx.val();
        self.kx_mask.d.next = self.auth.k_buf_mask.val();
        self.kx_data.d.next = self.auth.k_buf_data.val();
        self.kx_start.d.next = self.auth.k_start.val();
        self.kx_rd.d.next = self.hash.core_rd_data.val();
        self.hash.ext_sel.next = self.use_auth.q.val();
        self.hash.ext_init.next = self.kx_init.q.val();
        self.hash.ext_buf_we.next = self.kx_we.q.val();
        self.hash.ext_buf_idx.next = self.kx_idx.q.val();
        self.hash.ext_buf_mask.next = self.kx_mask.q.val();
        self.hash.ext_buf_data.next = self.kx_data.q.val();
        self.hash.ext_start.next = self.kx_start.q.val();
        self.auth.k_rd_data.next = self.kx_rd.q.val();
        // The random bit generator, lent to the ML-KEM engine or the
        // RNG_GENERATE job engine (jobs run one at a time).
        self.rng.clock.next = self.clock.val();
        self.rng.reset.next = self.reset.val();
        self.noise_enable.next = self.rng.noise_enable.val();
        self.rng.noise_valid.next = self.noise_valid.val();
        self.rng.noise_sample.next = self.noise_sample.val();
        self.rng_ready.next = self.rng.seeded.val();
        self.rng_fault.next = self.rng.fault.val();
        self.rng_busy.next = self.rng.busy.val()
            | self.vault.busy.val()
            | !self.auth.booted.val()
            | !self.kat_done.q.val();
        self.rng.kat_inject.next = self.kat_inject.val().get_bit(0);
        self.selftest_done.next = self.rng.kat_done.val() & self.kat_done.q.val();
        self.selftest_fail.next = self.st_fail.val();
        self.desc_check.blocked.next = self.st_fail.val().any();
        self.rng_job.clock.next = self.clock.val();
        self.rng_job.reset.next = self.reset.val();
        self.rng_job.start.next = false;
        self.rng_job.dst_addr.next = self.d_dst_addr.val();
        self.rng_job.dst_len.next = self.d_dst_len.val();
        self.rng_job.dmaw_ready.next = false;
        self.rng_job.dmaw_err.next = false;
        // (A self-test encapsulation takes m from the test memory.)
        self.kem.card_rand.next = self.desc_check.kem_card_rand.val() & !self.kat_on.q.val();
        self.kem.rng_valid.next = false;
        self.kem.rng_block.next = self.rng.out_block.val();
        self.kem.rng_done.next = false;
        self.kem.rng_fail.next = self.rng.req_fail.val();
        self.rng_job.rng_valid.next = false;
        self.rng_job.rng_block.next = self.rng.out_block.val();
        self.rng_job.rng_done.next = false;
        self.rng_job.rng_fail.next = self.rng.req_fail.val();
        self.engine.rng_valid.next = false;
        self.engine.rng_block.next = self.rng.out_block.val();
        self.engine.rng_done.next = false;
        self.engine.rng_fail.next = self.rng.req_fail.val();
        // The vault: between the engine and the two stores.
        self.vault.clock.next = self.clock.val();
        self.vault.reset.next = self.reset.val();
        self.vault.zeroize.next = self.zeroize.val();
        self.zeroized.next = self.vault.zeroized.val();
        self.vault.bb_valid.next = self.bb_valid.val();
        self.vault.bb_key.next = self.bb_key.val();
        self.vault.bb_epoch.next = self.bb_epoch.val();
        self.vault.bb_ack.next = self.bb_ack.val();
        self.vault.bb_ok.next = self.bb_ok.val();
        self.vault.bb_ver.next = self.bb_ver.val();
        self.bb_ver_index.next = self.vault.bb_ver_index.val();
        self.bb_vwrite.next = self.vault.bb_vwrite.val();
        self.bb_wver.next = self.vault.bb_wver.val();
        self.bb_write.next = self.vault.bb_write.val();
        self.bb_wvalid.next = self.vault.bb_wvalid.val();
        self.bb_wkey.next = self.vault.bb_wkey.val();
        self.bb_wepoch.next = self.vault.bb_wepoch.val();
        self.nv_req.next = self.vault.nv_req.val();
        self.nv_op.next = self.vault.nv_op.val();
        self.nv_index.next = self.vault.nv_index.val();
        self.nv_beat.next = self.vault.nv_beat.val();
        self.nv_wdata.next = self.vault.nv_wdata.val();
        self.vault.nv_ack.next = self.nv_ack.val();
        self.vault.nv_ok.next = self.nv_ok.val();
        self.vault.nv_rdata.next = self.nv_rdata.val();
        self.vr_ready.d.next = self.vault.ready.val();
        self.vr_epoch.d.next = self.vault.epoch.val();
        self.vr_last.d.next = self.vault.last_epoch.val();
        self.vr_done.d.next = self.vault.done.val();
        self.vr_ok.d.next = self.vault.ok.val();
        self.vr_present.d.next = self.vault.present.val();
        self.vr_entropy.d.next = self.vault.entropy_fail.val();
        // (Zero but in the cycle after a LOAD's done.)
        self.vr_rec.d.next = self.vault.out_rec.val();
        self.vr_key.d.next = self.vault.out_key.val();
        // The auth unit has the vault first (its record at boot) and while
        // it runs a job; the engine restores the key slots after it.
        self.engine.v_ready.next = self.vr_ready.q.val() & self.auth.booted.val();
        self.engine.v_epoch.next = self.vr_epoch.q.val();
        self.engine.v_last_epoch.next = self.vr_last.q.val();
        self.auth.v_ready.next = self.vr_ready.q.val();
        self.auth.v_done.next = self.vr_done.q.val();
        self.auth.v_ok.next = self.vr_ok.q.val();
        self.auth.v_present.next = self.vr_present.q.val();
        self.auth.v_entropy.next = self.vr_entropy.q.val();
        self.auth.v_rec_in.next = self.vr_rec.q.val();
        self.auth.v_key_in.next = self.vr_key.q.val();
        if !self.auth.booted.val() | self.use_auth.q.val() {
            self.vault.cmd.next = self.auth.v_cmd.val();
            self.vault.cmd_op.next = self.auth.v_op.val();
            self.vault.cmd_index.next = self.auth.v_index.val();
            self.vault.cmd_rec.next = self.auth.v_rec.val();
            self.vault.cmd_key.next = self.auth.v_key.val();
        } else {
            self.vault.cmd.next = self.engine.v_cmd.val();
            self.vault.cmd_op.next = self.engine.v_op.val();
            self.vault.cmd_index.next = bit_cast::<7, 6>(self.engine.v_index.val());
            self.vault.cmd_rec.next = self.engine.v_rec.val();
            self.vault.cmd_key.next = self.engine.v_key.val();
        }
        self.engine.v_done.next = self.vr_done.q.val();
        self.engine.v_ok.next = self.vr_ok.q.val();
        self.engine.v_present.next = self.vr_present.q.val();
        self.engine.v_entropy.next = self.vr_entropy.q.val();
        self.engine.v_rec_in.next = self.vr_rec.q.val();
        self.engine.v_key_in.next = self.vr_key.q.val();
        self.vault.rng_valid.next = false;
        self.vault.rng_block.next = self.rng.out_block.val();
        self.vault.rng_done.next = false;
        self.vault.rng_fail.next = self.rng.req_fail.val();
        if self.vault.rng_req.val() {
            // The master key, drawn while the engine waits on the vault
            // for a key's first seal.
            self.rng.req.next = true;
            self.rng.req_blocks.next = self.vault.rng_blocks.val();
            self.rng.req_pr.next = true;
            self.rng.out_ready.next = self.vault.rng_ready.val();
            self.vault.rng_valid.next = self.rng.out_valid.val();
            self.vault.rng_done.next = self.rng.req_done.val();
        } else if self.auth.rng_req.val() {
            // A PIN's salt.
            self.rng.req.next = true;
            self.rng.req_blocks.next = bits::<16>(1);
            self.rng.req_pr.next = false;
            self.rng.out_ready.next = self.auth.rng_ready.val();
            self.auth.rng_valid.next = self.rng.out_valid.val();
            self.auth.rng_done.next = self.rng.req_done.val();
        } else if self.engine.rng_req.val() {
            // The crypto engine draws for a key entering a slot: for its
            // own jobs, and for an ML-KEM job's store, after the ML-KEM
            // engine's own draw is over.
            self.rng.req.next = true;
            self.rng.req_blocks.next = self.engine.rng_blocks.val();
            self.rng.req_pr.next = self.engine.rng_pr.val();
            self.rng.out_ready.next = self.engine.rng_ready.val();
            self.engine.rng_valid.next = self.rng.out_valid.val();
            self.engine.rng_done.next = self.rng.req_done.val();
        } else if self.use_kem.q.val() {
            self.rng.req.next = self.kem.rng_req.val();
            self.rng.req_blocks.next = self.kem.rng_blocks.val();
            self.rng.req_pr.next = true;
            self.rng.out_ready.next = self.kem.rng_ready.val();
            self.kem.rng_valid.next = self.rng.out_valid.val();
            self.kem.rng_done.next = self.rng.req_done.val();
        } else {
            self.rng.req.next = self.rng_job.rng_req.val();
            self.rng.req_blocks.next = self.rng_job.rng_blocks.val();
            self.rng.req_pr.next = false;
            self.rng.out_ready.next = self.rng_job.rng_ready.val();
            self.rng_job.rng_valid.next = self.rng.out_valid.val();
            self.rng_job.rng_done.next = self.rng.req_done.val();
        }
        // The running engine's side of the DMA port and its result.
        if self.use_auth.q.val() {
            self.e_req_valid.next = self.auth.dmar_req_valid.val();
            self.e_req_addr.next = self.auth.dmar_req_addr.val();
            self.e_req_beats.next = self.auth.dmar_req_beats.val();
            self.e_data_ready.next = self.auth.dmar_data_ready.val();
            self.e_w_valid.next = self.auth.dmaw_valid.val();
            self.e_w_addr.next = self.auth.dmaw_addr.val();
            self.e_w_data.next = self.auth.dmaw_data.val();
            self.e_w_strb.next = self.auth.dmaw_strb.val();
            self.e_busy.next = self.auth.busy.val();
            self.e_done.next = self.auth.done.val();
            self.e_status.next = self.auth.status.val();
            self.e_out_len.next = self.auth.out_len.val();
        } else if self.use_rng.q.val() {
            self.e_req_valid.next = false;
            self.e_req_addr.next = bits::<64>(0);
            self.e_req_beats.next = bits::<9>(0);
            self.e_data_ready.next = false;
            self.e_w_valid.next = self.rng_job.dmaw_valid.val();
            self.e_w_addr.next = self.rng_job.dmaw_addr.val();
            self.e_w_data.next = self.rng_job.dmaw_data.val();
            self.e_w_strb.next = self.rng_job.dmaw_strb.val();
            self.e_busy.next = self.rng_job.busy.val();
            self.e_done.next = self.rng_job.done.val();
            self.e_status.next = self.rng_job.status.val();
            self.e_out_len.next = self.rng_job.out_len.val();
        } else if self.use_kem.q.val() {
            self.e_req_valid.next = self.kem.dmar_req_valid.val();
            self.e_req_addr.next = self.kem.dmar_req_addr.val();
            self.e_req_beats.next = self.kem.dmar_req_beats.val();
            self.e_data_ready.next = self.kem.dmar_data_ready.val();
            self.e_w_valid.next = self.kem.dmaw_valid.val();
            self.e_w_addr.next = self.kem.dmaw_addr.val();
            self.e_w_data.next = self.kem.dmaw_data.val();
            self.e_w_strb.next = self.kem.dmaw_strb.val();
            self.e_busy.next = self.kem.busy.val();
            self.e_done.next = self.kem.done.val();
            self.e_status.next = self.kem.status.val();
            self.e_out_len.next = self.kem.out_len.val();
        } else if self.use_hash.q.val() {
            self.e_req_valid.next = self.hash.dmar_req_valid.val();
            self.e_req_addr.next = self.hash.dmar_req_addr.val();
            self.e_req_beats.next = self.hash.dmar_req_beats.val();
            self.e_data_ready.next = self.hash.dmar_data_ready.val();
            self.e_w_valid.next = self.hash.dmaw_valid.val();
            self.e_w_addr.next = self.hash.dmaw_addr.val();
            self.e_w_data.next = self.hash.dmaw_data.val();
            self.e_w_strb.next = self.hash.dmaw_strb.val();
            self.e_busy.next = self.hash.busy.val();
            self.e_done.next = self.hash.done.val();
            self.e_status.next = self.hash.status.val();
            self.e_out_len.next = self.hash.out_len.val();
        } else {
            self.e_req_valid.next = self.engine.dmar_req_valid.val();
            self.e_req_addr.next = self.engine.dmar_req_addr.val();
            self.e_req_beats.next = self.engine.dmar_req_beats.val();
            self.e_data_ready.next = self.engine.dmar_data_ready.val();
            self.e_w_valid.next = self.engine.dmaw_valid.val();
            self.e_w_addr.next = self.engine.dmaw_addr.val();
            self.e_w_data.next = self.engine.dmaw_data.val();
            self.e_w_strb.next = self.engine.dmaw_strb.val();
            self.e_busy.next = self.engine.busy.val();
            self.e_done.next = self.engine.done.val();
            self.e_status.next = self.engine.status.val();
            self.e_out_len.next = self.engine.out_len.val();
        }
        // The expected beat at a self-test job's write address, and the
        // verdict on a self-test job that is done.
        self.kat_wr.address.next = self.e_w_addr.val().get_bits::<8>(4);
        self.k_pass.next = (self.e_status.val() == self.st_ok.val())
            & (self.e_out_len.val() == self.k_len.val())
            & (self.kw_count.q.val() == self.k_beats.val())
            & !self.kw_bad.q.val();
        self.is_copy.next = self.d_opcode.val() == self.op_copy.val();
        self.is_zz.next = self.d_opcode.val() == self.op_zz.val();
        // COPY geometry.
        self.s_off.next = self.d_src_addr.val().get_bits::<4>(0);
        self.d_off.next = self.d_dst_addr.val().get_bits::<4>(0);
        // Beats touched by the source and the destination: len / 16, plus
        // 0 to 2 for the partial beats at either end. The low nibble of the
        // destination sum is the position of the last byte in its beat.
        self.t_in.next = bit_cast::<6, 4>(self.s_off.val())
            + bit_cast::<6, 4>(self.d_src_len.val().get_bits::<4>(0))
            + bits::<6>(15);
        self.t_out.next = bit_cast::<6, 4>(self.d_off.val())
            + bit_cast::<6, 4>(self.d_src_len.val().get_bits::<4>(0))
            + bits::<6>(15);
        self.n_in.next = self.d_src_len.val().get_bits::<17>(4);
        if self.t_in.val() >= bits::<6>(32) {
            self.n_in.next = self.d_src_len.val().get_bits::<17>(4) + 2;
        } else if self.t_in.val() >= bits::<6>(16) {
            self.n_in.next = self.d_src_len.val().get_bits::<17>(4) + 1;
        }
        self.n_out.next = self.d_src_len.val().get_bits::<17>(4);
        if self.t_out.val() >= bits::<6>(32) {
            self.n_out.next = self.d_src_len.val().get_bits::<17>(4) + 2;
        } else if self.t_out.val() >= bits::<6>(16) {
            self.n_out.next = self.d_src_len.val().get_bits::<17>(4) + 1;
        }
        self.last_idx.next = self.t_out.val().get_bits::<4>(0);

        // Read request sizing: up to 256 beats, never across 4 KiB.
        self.btb.next = bits::<9>(256) - bit_cast::<9, 8>(self.rd_addr.q.val().get_bits::<8>(4));
        if self.req_left.q.val() < bit_cast::<17, 9>(self.btb.val()) {
            self.req_beats.next = self.req_left.q.val().get_bits::<9>(0);
        } else {
            self.req_beats.next = self.btb.val();
        }

        // Data path of the mover.
        self.prime_pending.next = self.prime.q.val() & self.first_in.q.val();
        self.flush.next = !self.in_left.q.val().any() & self.out_left.q.val().any();
        self.in_avail.next = self.in_left.q.val().any() & self.dmar_data_valid.val();
        self.want_emit.next = (self.in_avail.val() & !self.prime_pending.val()) | self.flush.val();
        if self.in_avail.val() {
            self.cur.next = self.dmar_data.val();
        } else {
            self.cur.next = bits::<128>(0);
        }
        self.window.next =
            (bit_cast::<256, 128>(self.cur.val()) << 128) | bit_cast::<256, 128>(self.hold.q.val());
        if self.first_out.q.val() {
            self.strb_first.next = self.first_mask.q.val();
        } else {
            self.strb_first.next = bits::<16>(0xffff);
        }
        if self.out_left.q.val() == bits::<17>(1) {
            self.strb_last.next = self.last_mask.q.val();
        } else {
            self.strb_last.next = bits::<16>(0xffff);
        }

        // The completion entry, at the contract's offsets.
        self.cqe.next = (bit_cast::<128, 32>(self.job_id.q.val()) << self.c_job_id.val())
            | (bit_cast::<128, 32>(self.out_len.q.val()) << self.c_out_len.val())
            | (bit_cast::<128, 32>(self.job_cycles.q.val()) << self.c_cycles.val())
            | (bit_cast::<128, 16>(self.job_status.q.val()) << self.c_status.val())
            | (bit_cast::<128, 8>(self.cqe_version.val()) << self.c_version.val())
            | (bit_cast::<128, 1>(self.phase.q.val().into()) << self.c_flags.val());

        // Defaults.
        self.dmar_req_valid.next = false;
        self.dmar_req_addr.next = self.rd_addr.q.val();
        self.dmar_req_beats.next = self.req_beats.val();
        self.dmar_data_ready.next = false;
        self.dmaw_valid.next = false;
        self.dmaw_addr.next = self.wr_addr.q.val();
        self.dmaw_data.next =
            bit_cast::<128, 256>(self.window.val() >> (bit_cast::<8, 4>(self.shift.q.val()) << 3));
        self.dmaw_strb.next = self.strb_first.val() & self.strb_last.val();
        self.job_done.next = false;
        self.zeroize_req.next = false;
        self.dma_read_fault.next = false;
        self.dma_write_fault.next = false;
        self.fault_addr.next = self.rx_addr.q.val();
        self.req_fire.next = false;
        self.rx_fire.next = false;
        self.out_busy.next = true;
        self.sq_head.next = self.sq_head_r.q.val();
        self.cq_tail.next = self.cq_tail_r.q.val();
        if !self.job_cycles.q.val().all() {
            self.job_cycles.d.next = self.job_cycles.q.val() + 1;
        }
        // The first write error of a job raises the fault, wherever it lands.
        if self.dmaw_err.val() {
            self.wr_err.d.next = true;
            if !self.wr_err.q.val() {
                self.dma_write_fault.next = true;
                self.fault_addr.next = self.last_wr_addr.q.val();
            }
        }

        match self.state.q.val() {
            DispState::Idle => {
                self.job_cycles.d.next = bits::<32>(0);
                self.out_busy.next = self.work.val() | !self.engine.ready.val();
                if self.work.val() & self.engine.ready.val() {
                    self.state.d.next = DispState::FetchReq;
                    self.rd_addr.d.next =
                        self.sq_base.val() + (bit_cast::<64, 16>(self.sq_head_r.q.val()) << 6);
                    self.rx_addr.d.next =
                        self.sq_base.val() + (bit_cast::<64, 16>(self.sq_head_r.q.val()) << 6);
                    self.req_left.d.next = bits::<17>(4);
                    self.beats.d.next = bits::<3>(0);
                    self.rd_err.d.next = false;
                    self.wr_err.d.next = false;
                }
            }
            DispState::FetchReq => {
                self.dmar_req_valid.next = true;
                self.dmar_req_beats.next = bits::<9>(4);
                if self.dmar_req_ready.val() {
                    self.req_fire.next = true;
                    self.state.d.next = DispState::FetchData;
                    self.req_left.d.next = bits::<17>(0);
                    self.sq_head_r.d.next = (self.sq_head_r.q.val() + 1) & self.sq_mask.val();
                }
            }
            DispState::FetchData => {
                self.dmar_data_ready.next = true;
                if self.dmar_data_valid.val() {
                    self.rx_fire.next = true;
                    self.desc_r.d.next = (bit_cast::<512, 128>(self.dmar_data.val()) << 384)
                        | (self.desc_r.q.val() >> 128);
                    self.beats.d.next = self.beats.q.val() + 1;
                    if self.dmar_data_err.val() {
                        self.rd_err.d.next = true;
                        self.dma_read_fault.next = true;
                    }
                    if self.beats.q.val() == bits::<3>(3) {
                        self.state.d.next = DispState::Check;
                    }
                }
            }
            DispState::Check => {
                self.state.d.next = DispState::Decode;
            }
            DispState::Decode => {
                self.use_auth.d.next = false;
                self.job_id.d.next = self.d_job_id.val();
                self.out_len.d.next = bits::<32>(0);
                self.state.d.next = DispState::Complete;
                if self.rd_err.q.val() {
                    self.job_id.d.next = !bits::<32>(0);
                    self.job_status.d.next = self.st_dma_read.val();
                } else if self.desc_check.status.val().any() {
                    self.job_status.d.next = self.desc_check.status.val();
                } else if self.auth.access.val().any() {
                    // The queue's login does not let the job run.
                    self.job_status.d.next = self.auth.access.val();
                } else if self.desc_check.is_engine_op.val() {
                    self.job_status.d.next = self.st_ok.val();
                    self.state.d.next = DispState::Engine;
                    self.eng_started.d.next = false;
                    self.use_auth.d.next = self.desc_check.is_auth_op.val();
                    self.use_hash.d.next = self.desc_check.is_hash_op.val();
                    self.use_kem.d.next = self.desc_check.is_kem_op.val();
                    self.use_rng.d.next = self.desc_check.is_rng_op.val();
                } else {
                    self.job_status.d.next = self.st_ok.val();
                    // CARD_ZEROIZE: the completion first, then the card
                    // zeroizes (its queues stop).
                    self.zz_arm.d.next = self.is_zz.val();
                    if self.is_copy.val() & self.d_src_len.val().any() {
                        self.state.d.next = DispState::CopyRun;
                        self.out_len.d.next = self.d_src_len.val();
                        self.rd_addr.d.next = (self.d_src_addr.val() >> 4) << 4;
                        self.rx_addr.d.next = (self.d_src_addr.val() >> 4) << 4;
                        self.wr_addr.d.next = (self.d_dst_addr.val() >> 4) << 4;
                        self.req_left.d.next = self.n_in.val();
                        self.in_left.d.next = self.n_in.val();
                        self.out_left.d.next = self.n_out.val();
                        self.shift.d.next = self.s_off.val() - self.d_off.val();
                        self.prime.d.next = self.s_off.val() >= self.d_off.val();
                        self.first_in.d.next = true;
                        self.first_out.d.next = true;
                        self.first_mask.d.next =
                            bits::<16>(0xffff) << bit_cast::<16, 4>(self.d_off.val());
                        self.last_mask.d.next = bits::<16>(0xffff)
                            >> (bits::<16>(15) - bit_cast::<16, 4>(self.last_idx.val()));
                    }
                }
            }
            DispState::CopyRun => {
                // Request bursts ahead of the data.
                if self.req_left.q.val().any() {
                    self.dmar_req_valid.next = true;
                    if self.dmar_req_ready.val() {
                        self.req_fire.next = true;
                        self.rd_addr.d.next =
                            self.rd_addr.q.val() + (bit_cast::<64, 9>(self.req_beats.val()) << 4);
                        self.req_left.d.next =
                            self.req_left.q.val() - bit_cast::<17, 9>(self.req_beats.val());
                    }
                }
                // Realign read beats into write beats.
                self.dmaw_valid.next = self.want_emit.val();
                self.dmar_data_ready.next =
                    self.in_left.q.val().any() & (self.prime_pending.val() | self.dmaw_ready.val());
                if self.in_left.q.val().any()
                    & (self.prime_pending.val() | self.dmaw_ready.val())
                    & self.dmar_data_valid.val()
                {
                    self.rx_fire.next = true;
                    self.hold.d.next = self.dmar_data.val();
                    self.in_left.d.next = self.in_left.q.val() - 1;
                    self.first_in.d.next = false;
                    self.rx_addr.d.next = self.rx_addr.q.val() + 16;
                    if self.dmar_data_err.val() & !self.rd_err.q.val() {
                        self.rd_err.d.next = true;
                        self.dma_read_fault.next = true;
                    }
                }
                if self.want_emit.val() & self.dmaw_ready.val() {
                    self.wr_addr.d.next = self.wr_addr.q.val() + 16;
                    self.last_wr_addr.d.next = self.wr_addr.q.val();
                    self.out_left.d.next = self.out_left.q.val() - 1;
                    self.first_out.d.next = false;
                }
                if !self.req_left.q.val().any()
                    & !self.in_left.q.val().any()
                    & !self.out_left.q.val().any()
                {
                    self.state.d.next = DispState::Drain;
                }
            }
            DispState::Engine => {
                if !self.eng_started.q.val() & !self.e_busy.val() {
                    self.eng_started.d.next = true;
                    if self.use_auth.q.val() {
                        self.auth.start.next = true;
                    } else if self.use_rng.q.val() {
                        self.rng_job.start.next = true;
                    } else if self.use_kem.q.val() {
                        self.kem.start.next = true;
                    } else if self.use_hash.q.val() {
                        self.hash.start.next = true;
                    } else {
                        self.engine.start.next = true;
                    }
                }
                self.dmar_req_valid.next = self.e_req_valid.val() & !self.kat_on.q.val();
                self.dmar_req_addr.next = self.e_req_addr.val();
                self.dmar_req_beats.next = self.e_req_beats.val();
                self.dmar_data_ready.next = self.e_data_ready.val() & !self.kat_on.q.val();
                self.dmaw_valid.next = self.e_w_valid.val() & !self.kat_on.q.val();
                self.dmaw_addr.next = self.e_w_addr.val();
                self.dmaw_data.next = self.e_w_data.val();
                self.dmaw_strb.next = self.e_w_strb.val();
                if self.use_auth.q.val() {
                    self.auth.dmar_req_ready.next = self.x_req_ready.val();
                    self.auth.dmar_data_valid.next = self.x_data_valid.val();
                    self.auth.dmaw_ready.next = self.x_w_ready.val();
                    self.auth.dmaw_err.next = self.x_w_err.val();
                } else if self.use_rng.q.val() {
                    self.rng_job.dmaw_ready.next = self.x_w_ready.val();
                    self.rng_job.dmaw_err.next = self.x_w_err.val();
                } else if self.use_kem.q.val() {
                    self.kem.dmar_req_ready.next = self.x_req_ready.val();
                    self.kem.dmar_data_valid.next = self.x_data_valid.val();
                    self.kem.dmaw_ready.next = self.x_w_ready.val();
                    self.kem.dmaw_err.next = self.x_w_err.val();
                } else if self.use_hash.q.val() {
                    self.hash.dmar_req_ready.next = self.x_req_ready.val();
                    self.hash.dmar_data_valid.next = self.x_data_valid.val();
                    self.hash.dmaw_ready.next = self.x_w_ready.val();
                    self.hash.dmaw_err.next = self.x_w_err.val();
                } else {
                    self.engine.dmar_req_ready.next = self.x_req_ready.val();
                    self.engine.dmar_data_valid.next = self.x_data_valid.val();
                    self.engine.dmaw_ready.next = self.x_w_ready.val();
                    self.engine.dmaw_err.next = self.x_w_err.val();
                }
                self.req_fire.next =
                    self.e_req_valid.val() & self.x_req_ready.val() & !self.kat_on.q.val();
                self.rx_fire.next =
                    self.e_data_ready.val() & self.x_data_valid.val() & !self.kat_on.q.val();
                if self.kat_on.q.val() {
                    // A self-test job: the test memory serves its reads and
                    // compares its writes.
                    if self.e_req_valid.val() & self.x_req_ready.val() {
                        self.kr_addr.d.next = self.e_req_addr.val().get_bits::<8>(4);
                        self.kr_left.d.next = self.e_req_beats.val();
                    }
                    if self.x_data_valid.val() & self.e_data_ready.val() {
                        self.kr_addr.d.next = self.kr_addr.q.val() + 1;
                        self.kr_left.d.next = self.kr_left.q.val() - 1;
                    }
                    if self.e_w_valid.val() {
                        self.kw_count.d.next = self.kw_count.q.val() + 1;
                        if (self.e_w_data.val() != self.kat_wr.data.val())
                            | (self.e_w_strb.val() != bits::<16>(0xffff))
                        {
                            self.kw_bad.d.next = true;
                        }
                    }
                }
                if self.e_done.val() & self.eng_started.q.val() {
                    self.job_status.d.next = self.e_status.val();
                    self.out_len.d.next = self.e_out_len.val();
                    self.state.d.next = DispState::Complete;
                    self.wr_err.d.next = false;
                    if self.kat_on.q.val() {
                        // Judged: no completion, and the next test.
                        if !self.k_pass.val() {
                            self.kat_fails.d.next = self.kat_fails.q.val()
                                | (bits::<4>(1) << bit_cast::<4, 2>(self.k_grp.val()));
                        }
                        self.kat_idx.d.next = self.kat_idx.q.val() + 1;
                        self.state.d.next = DispState::KatLoad;
                        if self.k_last.val() {
                            self.state.d.next = DispState::KatEnd;
                        }
                    }
                }
            }
            DispState::Drain => {
                self.state.d.next = DispState::Complete;
                if self.rd_err.q.val() {
                    self.job_status.d.next = self.st_dma_read.val();
                    self.out_len.d.next = bits::<32>(0);
                } else if self.wr_err.q.val() | self.dmaw_err.val() {
                    self.job_status.d.next = self.st_dma_write.val();
                    self.out_len.d.next = bits::<32>(0);
                }
            }
            DispState::Complete => {
                self.out_busy.next = !self.cq_full.val();
                if !self.cq_full.val() {
                    self.dmaw_valid.next = true;
                    self.dmaw_addr.next =
                        self.cq_base.val() + (bit_cast::<64, 16>(self.cq_tail_r.q.val()) << 4);
                    self.dmaw_data.next = self.cqe.val();
                    self.dmaw_strb.next = bits::<16>(0xffff);
                    if self.dmaw_ready.val() {
                        self.last_wr_addr.d.next =
                            self.cq_base.val() + (bit_cast::<64, 16>(self.cq_tail_r.q.val()) << 4);
                        self.cq_tail_r.d.next = (self.cq_tail_r.q.val() + 1) & self.cq_mask.val();
                        if self.cq_tail_r.q.val() == self.cq_mask.val() {
                            self.phase.d.next = !self.phase.q.val();
                        }
                        self.job_done.next = true;
                        self.state.d.next = DispState::CompleteDrain;
                    }
                }
            }
            DispState::CompleteDrain => {
                self.state.d.next = DispState::Idle;
                self.zeroize_req.next = self.zz_arm.q.val();
                self.zz_arm.d.next = false;
                if self.dmaw_err.val() {
                    self.dma_write_fault.next = true;
                    self.fault_addr.next = self.last_wr_addr.q.val();
                }
            }
            DispState::Flush => {
                self.dmar_data_ready.next = true;
                if self.dmar_data_valid.val() {
                    self.rx_fire.next = true;
                }
                if !self.outstanding.q.val().any() {
                    self.state.d.next = DispState::Idle;
                    if !self.kat_done.q.val() {
                        self.state.d.next = DispState::KatWait;
                    }
                }
            }
            DispState::KatWait => {
                self.kat_idx.d.next = bits::<3>(0);
                if self.engine.kat_phase.val() & self.engine.ready.val() {
                    self.state.d.next = DispState::KatLoad;
                }
            }
            DispState::KatLoad => {
                // The job's descriptor, as if fetched; it goes straight to
                // its engine (no checks, no login: the card's own job).
                self.desc_r.d.next = self.k_desc.val();
                self.kat_on.d.next = true;
                self.eng_started.d.next = false;
                self.kr_left.d.next = bits::<9>(0);
                self.kw_count.d.next = bits::<17>(0);
                self.kw_bad.d.next = false;
                self.use_auth.d.next = false;
                self.use_rng.d.next = false;
                self.use_hash.d.next = self.k_unit.val() == 1;
                self.use_kem.d.next = self.k_unit.val() == 2;
                self.state.d.next = DispState::Engine;
            }
            DispState::KatEnd => {
                self.kat_on.d.next = false;
                self.kat_done.d.next = true;
                self.engine.kat_end.next = true;
                self.state.d.next = DispState::Idle;
            }
        }

        // Read beats requested but not yet received.
        if self.req_fire.val() & !self.rx_fire.val() {
            self.outstanding.d.next =
                self.outstanding.q.val() + bit_cast::<18, 9>(self.dmar_req_beats.val());
        }
        if self.req_fire.val() & self.rx_fire.val() {
            self.outstanding.d.next =
                self.outstanding.q.val() + bit_cast::<18, 9>(self.dmar_req_beats.val()) - 1;
        }
        if !self.req_fire.val() & self.rx_fire.val() {
            self.outstanding.d.next = self.outstanding.q.val() - 1;
        }
        self.busy.next = self.out_busy.val();
        if self.engine.read_fault.val() | self.engine.write_fault.val() {
            self.dma_read_fault.next = self.engine.read_fault.val();
            self.dma_write_fault.next = self.engine.write_fault.val();
            self.fault_addr.next = self.engine.fault_addr.val();
        }
        if self.hash.read_fault.val() | self.hash.write_fault.val() {
            self.dma_read_fault.next = self.hash.read_fault.val();
            self.dma_write_fault.next = self.hash.write_fault.val();
            self.fault_addr.next = self.hash.fault_addr.val();
        }
        if self.auth.read_fault.val() | self.auth.write_fault.val() {
            self.dma_read_fault.next = self.auth.read_fault.val();
            self.dma_write_fault.next = self.auth.write_fault.val();
            self.fault_addr.next = self.auth.fault_addr.val();
        }
        if self.rng_job.write_fault.val() {
            self.dma_write_fault.next = true;
            self.fault_addr.next = self.rng_job.fault_addr.val();
        }
        if self.kem.read_fault.val() | self.kem.write_fault.val() {
            self.dma_read_fault.next = self.kem.read_fault.val();
            self.dma_write_fault.next = self.kem.write_fault.val();
            self.fault_addr.next = self.kem.fault_addr.val();
        }

        if self.queue_reset.val() {
            self.sq_head_r.d.next = bits::<16>(0);
            self.cq_tail_r.d.next = bits::<16>(0);
            self.phase.d.next = true;
        }
        if self.soft_reset.val() {
            self.zz_arm.d.next = false;
            self.sq_head_r.d.next = bits::<16>(0);
            self.cq_tail_r.d.next = bits::<16>(0);
            self.phase.d.next = true;
            self.req_left.d.next = bits::<17>(0);
            self.in_left.d.next = bits::<17>(0);
            self.out_left.d.next = bits::<17>(0);
            if self.kat_done.q.val() {
                // (The self-tests run on: they touch no host memory.)
                self.state.d.next = DispState::Flush;
            }
        }
        if self.reset.val() {
            // The self-tests first.
            self.state.d.next = DispState::KatWait;
            self.kat_on.d.next = false;
            self.kat_done.d.next = false;
            self.kat_fails.d.next = bits::<4>(0);
            self.sq_head_r.d.next = bits::<16>(0);
            self.cq_tail_r.d.next = bits::<16>(0);
            self.phase.d.next = true;
            if self.zeroize.val() {
                // The card resets itself: the host's answers to reads in
                // flight still come, and are discarded.
                self.state.d.next = DispState::Flush;
            } else {
                self.outstanding.d.next = bits::<18>(0);
            }
            self.req_left.d.next = bits::<17>(0);
            self.in_left.d.next = bits::<17>(0);
            self.out_left.d.next = bits::<17>(0);
            self.rd_err.d.next = false;
            self.wr_err.d.next = false;
            self.zz_arm.d.next = false;
            self.use_auth.d.next = false;
        }
    }
}
