//! The ML-KEM engine: KEM_KEYGEN, KEM_ENCAPS and KEM_DECAPS jobs (FIPS
//! 203) around the compute core [`MlKemCore`], with its DMA and key-store
//! ports.
//!
//! The dispatcher hands a checked job here with `start`, as it does hash
//! jobs; the job layout is the contract's (`hsm_contract::kem`). The
//! engine:
//! 1. checks the slots in the key store through the crypto engine's key
//!    port (`kp_*`): KeyGen's slot must be empty; Decaps's key slot must
//!    hold an ML-KEM key of the job's set whose policy allows `DERIVE`;
//!    the target of a shared secret must be empty;
//! 2. reads the 32-byte label from `aux` when the job creates a slot;
//! 3. runs the core, feeding it lanes from `src` (and, for Decaps, first
//!    the seed (d, z) read from the key store, and then the ciphertext a
//!    second time for the re-encryption check), and writing its output
//!    lanes to `dst`, paired into beats. Lanes the job must not reveal
//!    (dk_PKE without `EXPOSE`) are dropped; the shared secret is kept
//!    in a register;
//! 4. stores the new key through the key port: the seed (d, z) as an
//!    ML-KEM key, or the shared secret as an AES-256 key (the crypto
//!    engine expands its round keys).
//!
//! Every step's length depends on the parameter set and the flags only,
//! never on keys, seeds, messages or ciphertexts, so Decaps takes the
//! same cycles for a valid ciphertext and an implicitly rejected one.
//! The registers that held the seed, the shared secret or key lanes are
//! cleared when the job ends.

use crate::consts::{c8, status};
use crate::pqc::kem::{poly_commands, MlKemCore};
use hsm_contract::crypto::{policy, KeyAlg};
use hsm_contract::Status;
use rust_hdl::prelude::*;

/// ML-KEM engine states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum KemState {
    /// Waiting for a job.
    Idle,
    /// Decoding the latched job.
    Setup,
    /// Reading the record of the job's key slot.
    RecWaitA,
    /// Checking it.
    RecCheckA,
    /// Reading the record of the target slot.
    RecWaitB,
    /// Checking it.
    RecCheckB,
    /// KeyGen and Encaps: drawing (d, z) or m from the DRBG.
    Draw,
    /// Decaps: reading the seed (d, z) from the key store.
    Seed,
    /// The core runs; label, input and output stream.
    Run,
    /// Waiting for the last output beat and its error response.
    Drain,
    /// Storing the new key through the key port (unless the job failed).
    Store,
    /// Waiting for the key store.
    StoreWait,
    /// Reporting.
    Finish,
}

/// The ML-KEM engine.
#[derive(LogicBlock)]
pub struct KemEngine {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: run the job described by the inputs below.
    pub start: Signal<In, Bit>,
    /// The operation: the opcode's bits 1:0 (0 KeyGen, 1 Encaps, 2 Decaps).
    pub op: Signal<In, Bits<2>>,
    /// Descriptor flag `EXPOSE`.
    pub expose: Signal<In, Bit>,
    /// Key slot (KeyGen: the new key's; Decaps: the key's).
    pub slot: Signal<In, Bits<6>>,
    /// `params`: the parameter set, as its slot algorithm code.
    pub alg: Signal<In, Bits<8>>,
    /// `params`: the policy of the slot the job creates.
    pub policy: Signal<In, Bits<16>>,
    /// `params`: the slot that receives the shared secret.
    pub target: Signal<In, Bits<6>>,
    /// Input address.
    pub src_addr: Signal<In, Bits<64>>,
    /// Output address.
    pub dst_addr: Signal<In, Bits<64>>,
    /// Label address.
    pub aux_addr: Signal<In, Bits<64>>,
    /// KeyGen or Encaps takes (d, z) or m from the card's DRBG, not `src`.
    pub card_rand: Signal<In, Bit>,
    /// Random bit generator: request (held until `rng_done`).
    pub rng_req: Signal<Out, Bit>,
    /// Random bit generator: blocks wanted.
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
    /// Key port: the slot whose record (`kp_rec`) and key entry
    /// (`kp_key`) the key store reads, and which `kp_store` writes.
    pub kp_slot: Signal<Out, Bits<6>>,
    /// Key port: the 128-bit key entry to read.
    pub kp_index: Signal<Out, Bits<2>>,
    /// Key port: the algorithm in the record of `kp_slot` (one cycle after).
    pub kp_rec_alg: Signal<In, Bits<8>>,
    /// Key port: the policy in the record of `kp_slot` (one cycle after).
    pub kp_rec_policy: Signal<In, Bits<16>>,
    /// Key port: key entry `kp_index` of `kp_slot` (one cycle after).
    pub kp_key: Signal<In, Bits<128>>,
    /// Key port: pulse, store `kp_keydata` into the empty slot `kp_slot`.
    pub kp_store: Signal<Out, Bit>,
    /// Key port: the new key's algorithm.
    pub kp_alg: Signal<Out, Bits<8>>,
    /// Key port: the new key's policy.
    pub kp_policy: Signal<Out, Bits<16>>,
    /// Key port: the new key's label.
    pub kp_label: Signal<Out, Bits<256>>,
    /// Key port: the new key (an AES-256 key in the low 256 bits, or an
    /// ML-KEM seed).
    pub kp_keydata: Signal<Out, Bits<512>>,
    /// Key port: pulse, the store is done.
    pub kp_done: Signal<In, Bit>,
    /// Key port: the store's status, with `kp_done` (an AES key needs its
    /// IV fixed field from the DRBG, which may have failed).
    pub kp_status: Signal<In, Bits<16>>,

    core: MlKemCore,
    state: DFF<KemState>,
    j_op: DFF<Bits<2>>,
    j_expose: DFF<Bit>,
    j_slot: DFF<Bits<6>>,
    j_alg: DFF<Bits<8>>,
    j_policy: DFF<Bits<16>>,
    j_target: DFF<Bits<6>>,
    j_src: DFF<Bits<64>>,
    j_dst: DFF<Bits<64>>,
    j_aux: DFF<Bits<64>>,
    j_rng: DFF<Bit>,
    asking: DFF<Bit>,
    drawn: DFF<Bits<3>>,
    kk: DFF<Bits<3>>,
    // Beats of one pass over `src`, output lanes to `dst`.
    n_src: DFF<Bits<9>>,
    n_dma: DFF<Bits<10>>,
    // The job creates a slot (and reads a label).
    mk_slot: DFF<Bit>,
    status_r: DFF<Bits<16>>,
    out_len_r: DFF<Bits<32>>,
    rd_err: DFF<Bit>,
    wr_err: DFF<Bit>,
    ek_bad: DFF<Bit>,
    kps: DFF<Bits<6>>,
    kpi: DFF<Bits<3>>,
    kst: DFF<Bit>,
    // DMA read: the current request region, passes over `src` still to
    // request, label beats still to receive, beats still to receive.
    rq_addr: DFF<Bits<64>>,
    rq_left: DFF<Bits<9>>,
    passes: DFF<Bits<2>>,
    lab_n: DFF<Bits<2>>,
    rx_left: DFF<Bits<10>>,
    // The core's input: a beat of two lanes, lanes left in it, and the
    // seed beats still to feed (Decaps).
    ib: DFF<Bits<128>>,
    ib_n: DFF<Bits<2>>,
    sd_n: DFF<Bits<3>>,
    started: DFF<Bit>,
    // Secrets: the seed (d, z), the shared secret, the label.
    seed: DFF<Bits<512>>,
    ss: DFF<Bits<256>>,
    label: DFF<Bits<256>>,
    // Output lanes taken from the core, the pending low lane, the beat.
    olane: DFF<Bits<10>>,
    have_lo: DFF<Bit>,
    lo: DFF<Bits<64>>,
    ow_v: DFF<Bit>,
    ow_data: DFF<Bits<128>>,
    wr_addr: DFF<Bits<64>>,
    last_wr: DFF<Bits<64>>,

    is_kg: Signal<Local, Bit>,
    is_en: Signal<Local, Bit>,
    is_de: Signal<Local, Bit>,
    k_of: Signal<Local, Bits<3>>,
    k10: Signal<Local, Bits<10>>,
    ct_lanes: Signal<Local, Bits<10>>,
    ek_lanes: Signal<Local, Bits<10>>,
    btb: Signal<Local, Bits<9>>,
    req_beats: Signal<Local, Bits<9>>,
    pop: Signal<Local, Bit>,
    refill: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    rec_alg: Signal<Local, Bits<8>>,
    rec_policy: Signal<Local, Bits<16>>,
    want_cmds: Signal<Local, Bits<8>>,
    fault: DFF<Bit>,
    cmds: [Constant<Bits<8>>; 9],
    s_fault: Constant<Bits<16>>,
    a_empty: Constant<Bits<8>>,
    a_aes256: Constant<Bits<8>>,
    a_kem512: Constant<Bits<8>>,
    a_kem768: Constant<Bits<8>>,
    a_kem1024: Constant<Bits<8>>,
    p_derive: Constant<Bits<16>>,
    s_ok: Constant<Bits<16>>,
    s_occupied: Constant<Bits<16>>,
    s_empty: Constant<Bits<16>>,
    s_wrong_type: Constant<Bits<16>>,
    s_policy: Constant<Bits<16>>,
    s_ek: Constant<Bits<16>>,
    s_dma_read: Constant<Bits<16>>,
    s_dma_write: Constant<Bits<16>>,
    s_entropy: Constant<Bits<16>>,
}

impl Default for KemEngine {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            op: Default::default(),
            expose: Default::default(),
            slot: Default::default(),
            alg: Default::default(),
            policy: Default::default(),
            target: Default::default(),
            src_addr: Default::default(),
            dst_addr: Default::default(),
            aux_addr: Default::default(),
            card_rand: Default::default(),
            rng_req: Default::default(),
            rng_blocks: Default::default(),
            rng_valid: Default::default(),
            rng_block: Default::default(),
            rng_ready: Default::default(),
            rng_done: Default::default(),
            rng_fail: Default::default(),
            j_rng: Default::default(),
            asking: Default::default(),
            drawn: Default::default(),
            s_entropy: status(Status::EntropyFailure),
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
            kp_slot: Default::default(),
            kp_index: Default::default(),
            kp_rec_alg: Default::default(),
            kp_rec_policy: Default::default(),
            kp_key: Default::default(),
            kp_store: Default::default(),
            kp_alg: Default::default(),
            kp_policy: Default::default(),
            kp_label: Default::default(),
            kp_keydata: Default::default(),
            kp_done: Default::default(),
            kp_status: Default::default(),
            core: Default::default(),
            state: Default::default(),
            j_op: Default::default(),
            j_expose: Default::default(),
            j_slot: Default::default(),
            j_alg: Default::default(),
            j_policy: Default::default(),
            j_target: Default::default(),
            j_src: Default::default(),
            j_dst: Default::default(),
            j_aux: Default::default(),
            kk: Default::default(),
            n_src: Default::default(),
            n_dma: Default::default(),
            mk_slot: Default::default(),
            status_r: Default::default(),
            out_len_r: Default::default(),
            rd_err: Default::default(),
            wr_err: Default::default(),
            ek_bad: Default::default(),
            kps: Default::default(),
            kpi: Default::default(),
            kst: Default::default(),
            rq_addr: Default::default(),
            rq_left: Default::default(),
            passes: Default::default(),
            lab_n: Default::default(),
            rx_left: Default::default(),
            ib: Default::default(),
            ib_n: Default::default(),
            sd_n: Default::default(),
            started: Default::default(),
            seed: Default::default(),
            ss: Default::default(),
            label: Default::default(),
            olane: Default::default(),
            have_lo: Default::default(),
            lo: Default::default(),
            ow_v: Default::default(),
            ow_data: Default::default(),
            wr_addr: Default::default(),
            last_wr: Default::default(),
            is_kg: Default::default(),
            is_en: Default::default(),
            is_de: Default::default(),
            k_of: Default::default(),
            k10: Default::default(),
            ct_lanes: Default::default(),
            ek_lanes: Default::default(),
            btb: Default::default(),
            req_beats: Default::default(),
            pop: Default::default(),
            refill: Default::default(),
            take: Default::default(),
            rec_alg: Default::default(),
            rec_policy: Default::default(),
            want_cmds: Default::default(),
            fault: Default::default(),
            cmds: std::array::from_fn(|i| {
                Constant::new((poly_commands(i / 3, 2 + i % 3) as u64).into())
            }),
            s_fault: status(Status::EngineFault),
            a_empty: c8(KeyAlg::Empty as u64),
            a_aes256: c8(KeyAlg::Aes256 as u64),
            a_kem512: c8(KeyAlg::MlKem512 as u64),
            a_kem768: c8(KeyAlg::MlKem768 as u64),
            a_kem1024: c8(KeyAlg::MlKem1024 as u64),
            p_derive: Constant::new((policy::DERIVE as u64).into()),
            s_ok: status(Status::Ok),
            s_occupied: status(Status::SlotOccupied),
            s_empty: status(Status::SlotEmpty),
            s_wrong_type: status(Status::WrongKeyType),
            s_policy: status(Status::PolicyDenied),
            s_ek: status(Status::EkCheckFailed),
            s_dma_read: status(Status::DmaReadError),
            s_dma_write: status(Status::DmaWriteError),
        }
    }
}

impl Logic for KemEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, j_op, j_expose, j_slot, j_alg, j_policy, j_target, j_src, j_dst,
            j_aux, j_rng, asking, drawn, kk, n_src, n_dma, mk_slot, status_r, out_len_r, rd_err,
            wr_err, ek_bad, kps, kpi, kst, fault, rq_addr, rq_left, passes, lab_n, rx_left, ib,
            ib_n, sd_n, started, seed, ss, label, olane, have_lo, lo, ow_v, ow_data, wr_addr,
            last_wr
        );
        self.core.clock.next = self.clock.val();
        self.core.reset.next = self.reset.val();
        self.core.start.next = false;
        // KeyGen without EXPOSE runs the program that never encodes dk_PKE.
        self.core.prog.next = self.j_op.q.val();
        if (self.j_op.q.val() == bits::<2>(0)) & !self.j_expose.q.val() {
            self.core.prog.next = bits::<2>(3);
        }
        self.core.k.next = self.kk.q.val();

        // The job.
        self.is_kg.next = self.j_op.q.val() == bits::<2>(0);
        self.is_en.next = self.j_op.q.val() == bits::<2>(1);
        self.is_de.next = self.j_op.q.val() == bits::<2>(2);
        self.k_of.next = bits::<3>(4);
        if self.j_alg.q.val() == self.a_kem512.val() {
            self.k_of.next = bits::<3>(2);
        }
        if self.j_alg.q.val() == self.a_kem768.val() {
            self.k_of.next = bits::<3>(3);
        }
        // Lanes of ek (48k + 4) and of the ciphertext (4 (d_u k + d_v)).
        self.k10.next = bit_cast::<10, 3>(self.k_of.val());
        self.ek_lanes.next = (self.k10.val() << 5) + (self.k10.val() << 4) + 4;
        self.ct_lanes.next = (self.k10.val() << 5) + (self.k10.val() << 3) + 16;
        if self.k_of.val() == bits::<3>(4) {
            self.ct_lanes.next = bits::<10>(196);
        }
        self.rec_alg.next = self.kp_rec_alg.val();
        self.rec_policy.next = self.kp_rec_policy.val();
        // The polynomial commands the program runs: a check that the
        // sequencer ran the whole program.
        self.want_cmds.next = self.cmds[0].val();
        if self.j_op.q.val() == bits::<2>(0) {
            if self.kk.q.val() == bits::<3>(3) {
                self.want_cmds.next = self.cmds[1].val();
            }
            if self.kk.q.val() == bits::<3>(4) {
                self.want_cmds.next = self.cmds[2].val();
            }
        }
        if self.j_op.q.val() == bits::<2>(1) {
            self.want_cmds.next = self.cmds[3].val();
            if self.kk.q.val() == bits::<3>(3) {
                self.want_cmds.next = self.cmds[4].val();
            }
            if self.kk.q.val() == bits::<3>(4) {
                self.want_cmds.next = self.cmds[5].val();
            }
        }
        if self.j_op.q.val() == bits::<2>(2) {
            self.want_cmds.next = self.cmds[6].val();
            if self.kk.q.val() == bits::<3>(3) {
                self.want_cmds.next = self.cmds[7].val();
            }
            if self.kk.q.val() == bits::<3>(4) {
                self.want_cmds.next = self.cmds[8].val();
            }
        }

        // Key port.
        self.kp_slot.next = self.kps.q.val();
        self.kp_index.next = self.kpi.q.val().get_bits::<2>(0);
        self.kp_store.next = self.kst.q.val();
        self.kst.d.next = false;
        self.kp_alg.next = self.a_aes256.val();
        self.kp_keydata.next = bit_cast::<512, 256>(self.ss.q.val());
        if self.is_kg.val() {
            self.kp_alg.next = self.j_alg.q.val();
            self.kp_keydata.next = self.seed.q.val();
        }
        self.kp_policy.next = self.j_policy.q.val();
        self.kp_label.next = self.label.q.val();

        // The DRBG: (d, z) is four blocks, m two; both are key material, so
        // the request asks for prediction resistance (a reseed first).
        self.rng_req.next = self.asking.q.val();
        self.rng_blocks.next = bits::<16>(2);
        if self.is_kg.val() {
            self.rng_blocks.next = bits::<16>(4);
        }
        self.rng_ready.next = self.state.q.val() == KemState::Draw;

        // DMA read requests: the label region, then the passes over `src`;
        // up to 256 beats each, never across 4 KiB.
        self.btb.next = bits::<9>(256) - bit_cast::<9, 8>(self.rq_addr.q.val().get_bits::<8>(4));
        if self.rq_left.q.val() < self.btb.val() {
            self.req_beats.next = self.rq_left.q.val();
        } else {
            self.req_beats.next = self.btb.val();
        }
        self.dmar_req_valid.next = self.rq_left.q.val().any();
        self.dmar_req_addr.next = self.rq_addr.q.val();
        self.dmar_req_beats.next = self.req_beats.val();
        if self.rq_left.q.val().any() & self.dmar_req_ready.val() {
            self.rq_addr.d.next =
                self.rq_addr.q.val() + (bit_cast::<64, 9>(self.req_beats.val()) << 4);
            self.rq_left.d.next = self.rq_left.q.val() - self.req_beats.val();
        }
        if !self.rq_left.q.val().any() & self.passes.q.val().any() {
            self.rq_addr.d.next = self.j_src.q.val();
            self.rq_left.d.next = self.n_src.q.val();
            self.passes.d.next = self.passes.q.val() - 1;
        }

        // The core's input lanes: the held beat, low lane first.
        self.core.in_valid.next = self.ib_n.q.val().any();
        self.core.in_data.next = self.ib.q.val().get_bits::<64>(0);
        self.pop.next = self.ib_n.q.val().any() & self.core.in_ready.val();
        self.refill.next =
            !self.ib_n.q.val().any() | ((self.ib_n.q.val() == bits::<2>(1)) & self.pop.val());
        if self.pop.val() {
            self.ib.d.next = self.ib.q.val() >> 64;
            self.ib_n.d.next = self.ib_n.q.val() - 1;
            if self.is_kg.val() & !self.j_rng.q.val() {
                // KeyGen's input is the seed (d, z): keep it for the slot.
                self.seed.d.next = (self.seed.q.val() >> 64)
                    | (bit_cast::<512, 64>(self.ib.q.val().get_bits::<64>(0)) << 448);
            }
        }
        self.dmar_data_ready.next = false;
        if self.state.q.val() == KemState::Run {
            if self.lab_n.q.val().any() {
                // The label comes first on the read channel.
                self.dmar_data_ready.next = true;
                if self.dmar_data_valid.val() {
                    self.label.d.next = (self.label.q.val() >> 128)
                        | (bit_cast::<256, 128>(self.dmar_data.val()) << 128);
                    self.lab_n.d.next = self.lab_n.q.val() - 1;
                    self.rx_left.d.next = self.rx_left.q.val() - 1;
                }
            } else if self.refill.val() {
                // Seed beats: before `src` (Decaps' key, KeyGen's drawn
                // (d, z)), or after it (Encaps' drawn m). They rotate
                // through the register, so KeyGen still has (d, z) to store.
                if self.sd_n.q.val().any() & !(self.is_en.val() & self.rx_left.q.val().any()) {
                    self.ib.d.next = self.seed.q.val().get_bits::<128>(0);
                    self.seed.d.next = (self.seed.q.val() >> 128)
                        | (bit_cast::<512, 128>(self.seed.q.val().get_bits::<128>(0)) << 384);
                    self.ib_n.d.next = bits::<2>(2);
                    self.sd_n.d.next = self.sd_n.q.val() - 1;
                } else if self.rx_left.q.val().any() {
                    self.dmar_data_ready.next = true;
                    if self.dmar_data_valid.val() {
                        self.ib.d.next = self.dmar_data.val();
                        self.ib_n.d.next = bits::<2>(2);
                        self.rx_left.d.next = self.rx_left.q.val() - 1;
                    }
                }
            }
        }

        // The core's output lanes: to `dst` (paired into beats), into the
        // shared-secret register, or dropped.
        self.dmaw_valid.next = self.ow_v.q.val();
        self.dmaw_addr.next = self.wr_addr.q.val();
        self.dmaw_data.next = self.ow_data.q.val();
        self.dmaw_strb.next = bits::<16>(0xffff);
        if self.ow_v.q.val() & self.dmaw_ready.val() {
            self.ow_v.d.next = false;
            self.wr_addr.d.next = self.wr_addr.q.val() + 16;
            self.last_wr.d.next = self.wr_addr.q.val();
        }
        // (From registers only: the core's input and output handshakes
        // share its logic, so this must not depend on `in_ready`.)
        self.core.out_ready.next = !self.have_lo.q.val() | !self.ow_v.q.val();
        self.take.next = self.core.out_valid.val() & (!self.have_lo.q.val() | !self.ow_v.q.val());
        if self.take.val() {
            self.olane.d.next = self.olane.q.val() + 1;
            if self.core.input_err.val() {
                self.ek_bad.d.next = true;
            } else if self.olane.q.val() < self.n_dma.q.val() {
                if self.have_lo.q.val() {
                    self.ow_v.d.next = true;
                    self.ow_data.d.next = bit_cast::<128, 64>(self.lo.q.val())
                        | (bit_cast::<128, 64>(self.core.out_data.val()) << 64);
                    self.have_lo.d.next = false;
                    self.lo.d.next = bits::<64>(0);
                } else {
                    self.lo.d.next = self.core.out_data.val();
                    self.have_lo.d.next = true;
                }
            } else if !self.is_kg.val() {
                self.ss.d.next = (self.ss.q.val() >> 64)
                    | (bit_cast::<256, 64>(self.core.out_data.val()) << 192);
            }
        }

        // Defaults of the other outputs.
        self.done.next = false;
        self.read_fault.next = false;
        self.write_fault.next = false;
        self.fault_addr.next = self.last_wr.q.val();
        self.busy.next = (self.state.q.val() != KemState::Idle)
            | self.core.busy.val()
            | self.core.units_busy.val().any();
        self.status.next = self.status_r.q.val();
        self.out_len.next = self.out_len_r.q.val();
        if self.dmaw_err.val() {
            self.wr_err.d.next = true;
            if !self.wr_err.q.val() {
                self.write_fault.next = true;
            }
        }

        match self.state.q.val() {
            KemState::Idle => {
                if self.start.val() {
                    self.j_op.d.next = self.op.val();
                    self.j_expose.d.next = self.expose.val();
                    self.j_slot.d.next = self.slot.val();
                    self.j_alg.d.next = self.alg.val();
                    self.j_policy.d.next = self.policy.val();
                    self.j_target.d.next = self.target.val();
                    self.j_src.d.next = self.src_addr.val();
                    self.j_dst.d.next = self.dst_addr.val();
                    self.j_aux.d.next = self.aux_addr.val();
                    self.j_rng.d.next = self.card_rand.val();
                    self.state.d.next = KemState::Setup;
                }
            }
            KemState::Setup => {
                self.kk.d.next = self.k_of.val();
                self.status_r.d.next = self.s_ok.val();
                self.out_len_r.d.next = bits::<32>(0);
                self.rd_err.d.next = false;
                self.wr_err.d.next = false;
                self.ek_bad.d.next = false;
                self.fault.d.next = false;
                self.olane.d.next = bits::<10>(0);
                self.have_lo.d.next = false;
                self.ow_v.d.next = false;
                self.wr_addr.d.next = self.j_dst.q.val();
                self.ib_n.d.next = bits::<2>(0);
                self.sd_n.d.next = bits::<3>(0);
                self.started.d.next = false;
                self.mk_slot.d.next = self.is_kg.val() | !self.j_expose.q.val();
                self.kps.d.next = self.j_slot.q.val();
                self.kpi.d.next = bits::<3>(0);
                // Beats per pass over `src` and lanes written to `dst`.
                if self.is_kg.val() {
                    self.n_src.d.next = bits::<9>(4);
                    if self.j_rng.q.val() {
                        self.n_src.d.next = bits::<9>(0);
                    }
                    self.n_dma.d.next = self.ek_lanes.val();
                    if self.j_expose.q.val() {
                        self.n_dma.d.next = self.ek_lanes.val() + self.ek_lanes.val() - 4;
                    }
                } else if self.is_en.val() {
                    self.n_src.d.next = self.ek_lanes.val().get_bits::<9>(1) + 2;
                    if self.j_rng.q.val() {
                        self.n_src.d.next = self.ek_lanes.val().get_bits::<9>(1);
                    }
                    self.n_dma.d.next = self.ct_lanes.val();
                    if self.j_expose.q.val() {
                        self.n_dma.d.next = self.ct_lanes.val() + 4;
                    }
                } else {
                    self.n_src.d.next = self.ct_lanes.val().get_bits::<9>(1);
                    self.n_dma.d.next = bits::<10>(0);
                    if self.j_expose.q.val() {
                        self.n_dma.d.next = bits::<10>(4);
                    }
                }
                self.drawn.d.next = bits::<3>(0);
                self.seed.d.next = bits::<512>(0);
                self.state.d.next = KemState::RecWaitA;
                if self.j_rng.q.val() {
                    self.asking.d.next = true;
                    self.state.d.next = KemState::Draw;
                }
            }
            KemState::Draw => {
                // Block i of the draw lands at bits 128 i of the seed.
                if self.rng_valid.val() {
                    self.seed.d.next = self.seed.q.val()
                        | (bit_cast::<512, 128>(self.rng_block.val())
                            << (bit_cast::<10, 3>(self.drawn.q.val()) << 7));
                    self.drawn.d.next = self.drawn.q.val() + 1;
                }
                if self.rng_done.val() {
                    self.asking.d.next = false;
                    self.state.d.next = KemState::RecWaitA;
                    self.sd_n.d.next = self.drawn.q.val();
                    if self.rng_fail.val() {
                        self.status_r.d.next = self.s_entropy.val();
                        self.state.d.next = KemState::Finish;
                    }
                }
            }
            KemState::RecWaitA => {
                self.state.d.next = KemState::RecCheckA;
            }
            KemState::RecCheckA => {
                self.state.d.next = KemState::RecWaitB;
                self.kps.d.next = self.j_target.q.val();
                if self.is_kg.val() {
                    if self.rec_alg.val() != self.a_empty.val() {
                        self.status_r.d.next = self.s_occupied.val();
                        self.state.d.next = KemState::Finish;
                    }
                } else if self.is_de.val() {
                    if self.rec_alg.val() == self.a_empty.val() {
                        self.status_r.d.next = self.s_empty.val();
                        self.state.d.next = KemState::Finish;
                    } else if self.rec_alg.val() != self.j_alg.q.val() {
                        self.status_r.d.next = self.s_wrong_type.val();
                        self.state.d.next = KemState::Finish;
                    } else if !(self.rec_policy.val() & self.p_derive.val()).any() {
                        self.status_r.d.next = self.s_policy.val();
                        self.state.d.next = KemState::Finish;
                    }
                }
            }
            KemState::RecWaitB => {
                self.state.d.next = KemState::RecCheckB;
            }
            KemState::RecCheckB => {
                self.kps.d.next = self.j_slot.q.val();
                if !self.is_kg.val()
                    & self.mk_slot.q.val()
                    & (self.rec_alg.val() != self.a_empty.val())
                {
                    self.status_r.d.next = self.s_occupied.val();
                    self.state.d.next = KemState::Finish;
                } else {
                    self.state.d.next = KemState::Run;
                    if self.is_de.val() {
                        self.state.d.next = KemState::Seed;
                    }
                    // The read channel: the label, then the passes over `src`.
                    self.lab_n.d.next = bits::<2>(0);
                    self.rx_left.d.next = bit_cast::<10, 9>(self.n_src.q.val());
                    self.passes.d.next = bits::<2>(1);
                    if self.is_de.val() {
                        self.rx_left.d.next = bit_cast::<10, 9>(self.n_src.q.val()) << 1;
                        self.passes.d.next = bits::<2>(2);
                    }
                    if self.mk_slot.q.val() {
                        self.rq_addr.d.next = self.j_aux.q.val();
                        self.rq_left.d.next = bits::<9>(2);
                        self.lab_n.d.next = bits::<2>(2);
                        self.rx_left.d.next = bit_cast::<10, 9>(self.n_src.q.val()) + 2;
                        if self.is_de.val() {
                            self.rx_left.d.next = (bit_cast::<10, 9>(self.n_src.q.val()) << 1) + 2;
                        }
                    }
                }
            }
            KemState::Seed => {
                // Key entries 0-3 of the slot: entry i - 1 arrives at step i.
                self.kpi.d.next = self.kpi.q.val() + 1;
                if self.kpi.q.val().any() {
                    self.seed.d.next = (self.seed.q.val() >> 128)
                        | (bit_cast::<512, 128>(self.kp_key.val()) << 384);
                }
                if self.kpi.q.val() == bits::<3>(4) {
                    self.sd_n.d.next = bits::<3>(4);
                    self.state.d.next = KemState::Run;
                }
            }
            KemState::Run => {
                if !self.started.q.val() {
                    self.core.start.next = true;
                    self.started.d.next = true;
                } else if self.core.done.val() {
                    self.fault.d.next =
                        self.core.fault.val() | (self.core.poly_cmds.val() != self.want_cmds.val());
                    self.state.d.next = KemState::Drain;
                }
            }
            KemState::Store => {
                self.state.d.next = KemState::StoreWait;
                self.kps.d.next = self.j_target.q.val();
                if self.is_kg.val() {
                    self.kps.d.next = self.j_slot.q.val();
                }
                // A job whose input or output failed stores nothing: the
                // caller sees an error and finds the slot still empty.
                if self.rd_err.q.val()
                    | self.wr_err.q.val()
                    | self.ek_bad.q.val()
                    | self.fault.q.val()
                    | self.rx_left.q.val().any()
                {
                    self.state.d.next = KemState::Finish;
                } else {
                    self.kst.d.next = true;
                }
            }
            KemState::StoreWait => {
                if self.kp_done.val() {
                    self.state.d.next = KemState::Finish;
                    if self.kp_status.val() != self.s_ok.val() {
                        self.status_r.d.next = self.kp_status.val();
                    }
                }
            }
            KemState::Drain => {
                // The cycle after the last beat went out brings its error
                // response, which `wr_err` holds by the time Store looks.
                if !self.ow_v.q.val() {
                    self.state.d.next = KemState::Finish;
                    if self.mk_slot.q.val() {
                        self.state.d.next = KemState::Store;
                    }
                    self.out_len_r.d.next = bit_cast::<32, 10>(self.n_dma.q.val()) << 3;
                }
            }
            KemState::Finish => {
                self.done.next = true;
                if self.rd_err.q.val() {
                    self.status.next = self.s_dma_read.val();
                    self.out_len.next = bits::<32>(0);
                } else if self.wr_err.q.val() | self.dmaw_err.val() {
                    self.status.next = self.s_dma_write.val();
                    self.out_len.next = bits::<32>(0);
                } else if self.fault.q.val() {
                    self.status.next = self.s_fault.val();
                    self.out_len.next = bits::<32>(0);
                } else if self.ek_bad.q.val() {
                    self.status.next = self.s_ek.val();
                    self.out_len.next = bits::<32>(0);
                }
                // Nothing secret outlives the job.
                self.seed.d.next = bits::<512>(0);
                self.ss.d.next = bits::<256>(0);
                self.label.d.next = bits::<256>(0);
                self.ib.d.next = bits::<128>(0);
                self.ib_n.d.next = bits::<2>(0);
                self.lo.d.next = bits::<64>(0);
                self.have_lo.d.next = false;
                self.ow_data.d.next = bits::<128>(0);
                self.state.d.next = KemState::Idle;
            }
        }

        if self.dmar_data_ready.val()
            & self.dmar_data_valid.val()
            & self.dmar_data_err.val()
            & !self.rd_err.q.val()
        {
            self.rd_err.d.next = true;
            self.read_fault.next = true;
            self.fault_addr.next = self.rq_addr.q.val();
        }
        if self.reset.val() {
            self.state.d.next = KemState::Idle;
            self.rq_left.d.next = bits::<9>(0);
            self.passes.d.next = bits::<2>(0);
            self.rx_left.d.next = bits::<10>(0);
            self.lab_n.d.next = bits::<2>(0);
            self.ow_v.d.next = false;
            self.ib_n.d.next = bits::<2>(0);
            self.seed.d.next = bits::<512>(0);
            self.ss.d.next = bits::<256>(0);
            self.asking.d.next = false;
        }
    }
}
