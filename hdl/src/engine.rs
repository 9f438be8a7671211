//! The crypto engine: the key store and the jobs that use it.
//!
//! The dispatcher checks a descriptor ([`crate::checks::DescChecker`]) and
//! hands crypto and key jobs here with `start`; the engine drives the DMA
//! port until `done`, then reports a status and an output length.
//!
//! # Key store
//! Two RAMs: the slot records (64 entries of 512 bits, laid out exactly as
//! the `SLOT_INFO` record of the contract: algorithm, policy, key check
//! value, GCM invocation counter, creation number, IV fixed field, label),
//! and the round keys (64 slots x 32 entries of 128 bits: entries 0-14 hold
//! the data key's round keys, 16-30 an XTS pair's tweak key's). Round keys
//! are expanded once, when a key enters. Nothing reads them but the AES
//! pipelines: no register and no DMA path returns them. After reset the
//! engine overwrites both RAMs with zeros (2048 cycles) before it accepts a
//! job.
//!
//! An AES key enters (KEY_GENERATE, KEY_LOAD, or an ML-KEM shared secret
//! through the key port) in the same steps: its label, checked against
//! every occupied slot (65 cycles; a label other than zeros names one
//! key); its bits (KEY_LOAD: from `src`; KEY_GENERATE: from the DRBG with
//! prediction resistance) and its IV fixed field from the DRBG; the round
//! keys; the key check value (one block through the encryption pipeline);
//! and last the record, so that a failure before the record leaves the slot
//! empty. An ML-KEM seed takes the label check and the record only.
//!
//! # Persistence
//! Before a key's record is written, the vault ([`crate::vault`]) seals the
//! record and the key into persistent storage; if it cannot, the job fails
//! with STORAGE_FAILED (ENTROPY_FAILURE when no master key could be drawn)
//! and the slot's round keys are overwritten. KEY_CLEAR removes the sealed
//! copy before it clears the slot. After the reset clear, the engine asks
//! the vault for every slot's record and lets each key enter again (its
//! expansion and check value, which must match the stored one), keeping its
//! record but for the invocation counter, which starts at the boot epoch;
//! a record that does not open makes its slot read as damaged.
//!
//! # Data path
//! One AES encryption pipeline and one decryption pipeline (one block per
//! cycle each, constant latency), one GHASH unit (one block per cycle), and
//! the XTS tweak multiplier. Every job's cycle count depends only on its
//! lengths and parameters, never on keys or data; the only data-dependent
//! branch is a GCM decryption's tag check, whose result the caller learns
//! anyway (it adds a pass that overwrites the plaintext with zeros).

use crate::aes::{AesDecPipe, AesEncPipe, AesKeyExpand};
use crate::consts::{c8, le_bits, opcode, status};
use crate::gf128::XtsMulAlpha;
use crate::ghash::Ghash;
use hsm_contract::crypto::{kcv_plaintext, policy, KeyAlg};
use hsm_contract::storage::{EPOCH_BITS, EPOCH_SHIFT};
use hsm_contract::{Opcode, Status};
use rust_hdl::prelude::*;

/// Engine states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum EngState {
    /// Overwriting the key store after reset.
    Init,
    /// Waiting for a job.
    Idle,
    /// Power-on self-test: a test key entering its slot.
    KatKey,
    /// Power-on self-test: overwriting the test keys' slots.
    KatSweep,
    /// Reading the slot record.
    RecWait,
    /// Checking the slot against the job.
    RecCheck,
    /// KEY_LOAD: receiving key and label.
    KlRead,
    /// Checking that no other slot has the new key's label.
    KlLabel,
    /// Drawing from the DRBG: KEY_GENERATE's key, and every AES key's IV
    /// fixed field.
    KlDraw,
    /// KEY_LOAD: expanding the (first) key.
    KlExpand,
    /// KEY_LOAD: expanding an XTS pair's tweak key.
    KlExpand2,
    /// Key port: writing an ML-KEM seed (four entries, no expansion).
    KlRaw,
    /// The key check value: one block through the encryption pipeline.
    KcvRun,
    /// KEY_LOAD: writing the record.
    KlRecord,
    /// KEY_CLEAR: overwriting the round keys.
    KcSweep,
    /// SLOT_INFO: writing the record.
    SiWrite,
    /// Loading 15 round keys into the pipelines' registers.
    RkLoad,
    /// GCM: computing H.
    GcmH,
    /// GCM: receiving the IV.
    GcmIv,
    /// GCM: hashing the IV's length block.
    GcmIvLen,
    /// GCM: J0 from GHASH.
    GcmIvY,
    /// GCM: encrypting J0.
    GcmJ0,
    /// GCM: receiving the expected tag and the AAD.
    GcmAad,
    /// GCM: the data.
    GcmData,
    /// GCM: hashing the length block.
    GcmLen,
    /// GCM: the tag.
    GcmTag,
    /// GCM: writing the tag.
    GcmWTag,
    /// GCM: writing the card's IV.
    GcmWIv,
    /// GCM: overwriting a failed decryption's plaintext.
    GcmZero,
    /// XTS: encrypting the tweak.
    XtsTweak,
    /// XTS: the data.
    XtsData,
    /// XTS: ciphertext stealing.
    XtsSteal,
    /// XTS: the stolen block.
    XtsStealWait,
    /// Waiting for the last write's error response.
    Drain,
    /// After reset: asking the vault for the next slot's record.
    RsLoad,
    /// Waiting for the vault's answer.
    RsWait,
    /// A key entering: sealing its record into persistent storage.
    KlSeal,
    /// Waiting for the vault.
    KlSealWait,
    /// KEY_CLEAR: removing the slot's persistent record.
    KcErase,
    /// Waiting for the vault.
    KcEraseWait,
    /// Reporting.
    Finish,
}

// The invocation counter's epoch field, as `update` writes it.
const _: () = assert!(EPOCH_SHIFT == 44 && EPOCH_BITS == 20);

// Tags carried through the AES pipelines.
const T_H: u64 = 1;
const T_EKJ0: u64 = 2;
const T_DATA: u64 = 3;
const T_TWEAK: u64 = 4;
const T_XNORM: u64 = 5;
const T_XHOLD: u64 = 6;
const T_KCV: u64 = 7;

/// The crypto engine and key store.
#[derive(LogicBlock)]
pub struct CryptoEngine {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: run the job described by the inputs below.
    pub start: Signal<In, Bit>,
    /// Opcode.
    pub opcode: Signal<In, Bits<8>>,
    /// Key slot (checked below the slot count).
    pub slot: Signal<In, Bits<6>>,
    /// Input address.
    pub src_addr: Signal<In, Bits<64>>,
    /// Input length.
    pub src_len: Signal<In, Bits<32>>,
    /// Output address.
    pub dst_addr: Signal<In, Bits<64>>,
    /// Auxiliary input address.
    pub aux_addr: Signal<In, Bits<64>>,
    /// Auxiliary input length.
    pub aux_len: Signal<In, Bits<32>>,
    /// Parameters.
    pub params: Signal<In, Bits<128>>,
    /// XTS: the unused low-order bits of the data unit's last byte.
    pub pad_bits: Signal<In, Bits<3>>,
    /// Ready for a job (the key store has been cleared).
    pub ready: Signal<Out, Bit>,
    /// The power-on self-tests' keys are in slots 0 and 1 ([`crate::post`]):
    /// the dispatcher runs the test jobs, and then pulses `kat_end`.
    pub kat_phase: Signal<Out, Bit>,
    /// A test key's check value differed from the built-in one.
    pub kat_fail: Signal<Out, Bit>,
    /// Pulse (during `kat_phase`): the self-tests are over; overwrite the
    /// test keys and restore the persistent ones.
    pub kat_end: Signal<In, Bit>,
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
    /// Key port (the ML-KEM engine's, served while no job runs here): the
    /// slot whose record and key entry are read, and which a store writes.
    pub kp_slot: Signal<In, Bits<6>>,
    /// Key port: the 128-bit key entry of `kp_slot` to read.
    pub kp_index: Signal<In, Bits<2>>,
    /// Key port: the algorithm in the record of `kp_slot` (one cycle after).
    pub kp_rec_alg: Signal<Out, Bits<8>>,
    /// Key port: the policy in the record of `kp_slot` (one cycle after).
    pub kp_rec_policy: Signal<Out, Bits<16>>,
    /// Key port: key entry `kp_index` of `kp_slot` (one cycle after). Only
    /// ML-KEM slots hold raw key entries; AES slots hold round keys.
    pub kp_key: Signal<Out, Bits<128>>,
    /// Key port: pulse, store a key into the (checked empty) slot `kp_slot`.
    pub kp_store: Signal<In, Bit>,
    /// Key port: the stored key's algorithm (AES-256 or ML-KEM).
    pub kp_alg: Signal<In, Bits<8>>,
    /// Key port: the stored key's policy.
    pub kp_policy: Signal<In, Bits<16>>,
    /// Key port: the stored key's label.
    pub kp_label: Signal<In, Bits<256>>,
    /// Key port: the key (AES-256: the low 256 bits; ML-KEM: the seed).
    pub kp_keydata: Signal<In, Bits<512>>,
    /// Random bits: a request, held until `rng_done`.
    pub rng_req: Signal<Out, Bit>,
    /// Random bits: blocks wanted.
    pub rng_blocks: Signal<Out, Bits<16>>,
    /// Random bits: reseed first (prediction resistance).
    pub rng_pr: Signal<Out, Bit>,
    /// Random bits: the engine takes `rng_block`.
    pub rng_ready: Signal<Out, Bit>,
    /// Random bits: a block is on `rng_block`.
    pub rng_valid: Signal<In, Bit>,
    /// Random bits: a block.
    pub rng_block: Signal<In, Bits<128>>,
    /// Random bits: pulse, the request is over.
    pub rng_done: Signal<In, Bit>,
    /// Random bits: with `rng_done`, the request failed (entropy failure).
    pub rng_fail: Signal<In, Bit>,
    /// Vault: booted (the key store is restored from it once it is).
    pub v_ready: Signal<In, Bit>,
    /// Vault: this boot's epoch, the high bits of every invocation counter.
    pub v_epoch: Signal<In, Bits<20>>,
    /// Vault: this boot's epoch is the last, which is never used.
    pub v_last_epoch: Signal<In, Bit>,
    /// Vault: pulse, a command (`crate::vault::vault_cmd`).
    pub v_cmd: Signal<Out, Bit>,
    /// Vault: the command.
    pub v_op: Signal<Out, Bits<2>>,
    /// Vault: the slot.
    pub v_index: Signal<Out, Bits<6>>,
    /// Vault: the record to seal.
    pub v_rec: Signal<Out, Bits<512>>,
    /// Vault: the key entry to seal.
    pub v_key: Signal<Out, Bits<512>>,
    /// Vault: pulse, the command is done.
    pub v_done: Signal<In, Bit>,
    /// Vault: with `v_done`, it succeeded.
    pub v_ok: Signal<In, Bit>,
    /// Vault: with `v_done`, the record exists.
    pub v_present: Signal<In, Bit>,
    /// Vault: with `v_done`, no master key could be drawn.
    pub v_entropy: Signal<In, Bit>,
    /// Vault: with `v_done`, an opened record.
    pub v_rec_in: Signal<In, Bits<512>>,
    /// Vault: with `v_done`, an opened key entry.
    pub v_key_in: Signal<In, Bits<512>>,
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

    enc: AesEncPipe,
    dec: AesDecPipe,
    kx: AesKeyExpand,
    gh: Ghash,
    mul: XtsMulAlpha,
    rec_ram: RAM<Bits<512>, 6>,
    rk_ram: RAM<Bits<128>, 11>,

    state: DFF<EngState>,
    rk_after: DFF<EngState>,
    init_ctr: DFF<Bits<12>>,
    j_op: DFF<Bits<8>>,
    j_slot: DFF<Bits<6>>,
    j_src: DFF<Bits<64>>,
    j_dst: DFF<Bits<64>>,
    j_aux: DFF<Bits<64>>,
    j_len: DFF<Bits<32>>,
    j_aux_len: DFF<Bits<32>>,
    j_params: DFF<Bits<128>>,
    j_pad: DFF<Bits<3>>,
    rec: DFF<Bits<512>>,
    status_r: DFF<Bits<16>>,
    out_len_r: DFF<Bits<32>>,
    rd_err: DFF<Bit>,
    wr_err: DFF<Bit>,
    last_wr: DFF<Bits<64>>,
    aes256: DFF<Bit>,
    // DMA read requests: region 1, then region 2.
    rq_addr: DFF<Bits<64>>,
    rq_left: DFF<Bits<17>>,
    rq2_addr: DFF<Bits<64>>,
    rq2_left: DFF<Bits<17>>,
    // Beat counters.
    cnt: DFF<Bits<17>>,
    rem: DFF<Bits<32>>,
    out_rem: DFF<Bits<32>>,
    out_cnt: DFF<Bits<17>>,
    inflight: DFF<Bits<6>>,
    wr_addr: DFF<Bits<64>>,
    rki: DFF<Bits<5>>,
    rk_base: DFF<Bits<5>>,
    rk0: DFF<Bits<128>>,
    rk1: DFF<Bits<128>>,
    rk2: DFF<Bits<128>>,
    rk3: DFF<Bits<128>>,
    rk4: DFF<Bits<128>>,
    rk5: DFF<Bits<128>>,
    rk6: DFF<Bits<128>>,
    rk7: DFF<Bits<128>>,
    rk8: DFF<Bits<128>>,
    rk9: DFF<Bits<128>>,
    rk10: DFF<Bits<128>>,
    rk11: DFF<Bits<128>>,
    rk12: DFF<Bits<128>>,
    rk13: DFF<Bits<128>>,
    rk14: DFF<Bits<128>>,
    kbuf: DFF<Bits<512>>,
    lbuf: DFF<Bits<256>>,
    h: DFF<Bits<128>>,
    h_ok: DFF<Bit>,
    j0: DFF<Bits<128>>,
    ctr: DFF<Bits<128>>,
    ekj0: DFF<Bits<128>>,
    exp_tag: DFF<Bits<128>>,
    tag: DFF<Bits<128>>,
    tw: DFF<Bits<128>>,
    t_a: DFF<Bits<128>>,
    t_b: DFF<Bits<128>>,
    held: DFF<Bits<128>>,
    part: DFF<Bits<128>>,
    zero_left: DFF<Bits<17>>,
    // Key entry: the check value, the IV fixed field, the creation counter.
    kcv: DFF<Bits<24>>,
    fixed: DFF<Bits<32>>,
    serial: DFF<Bits<64>>,
    drawn: DFF<Bits<3>>,
    dup: DFF<Bit>,
    // Restoring the key store from the vault after reset.
    restoring: DFF<Bit>,
    rs_idx: DFF<Bits<7>>,
    // Self-test keys: which is entering, one entering, both in, a bad
    // check value.
    kat_n: DFF<Bit>,
    kat_key: DFF<Bit>,
    kat_hold: DFF<Bit>,
    kat_bad: DFF<Bit>,
    kat_rec0: Constant<Bits<512>>,
    kat_rec1: Constant<Bits<512>>,
    kat_key0: Constant<Bits<512>>,
    kat_key1: Constant<Bits<512>>,

    // Locals.
    is_genc: Signal<Local, Bit>,
    is_gdec: Signal<Local, Bit>,
    is_gcm: Signal<Local, Bit>,
    is_xenc: Signal<Local, Bit>,
    is_xts: Signal<Local, Bit>,
    is_kload: Signal<Local, Bit>,
    is_kgen: Signal<Local, Bit>,
    label_hit: Signal<Local, Bit>,
    scrub: Signal<Local, Bit>,
    k_blocks: Signal<Local, Bits<3>>,
    is_kclear: Signal<Local, Bit>,
    is_sinfo: Signal<Local, Bit>,
    r_inv: Signal<Local, Bits<64>>,
    p_iv_len: Signal<Local, Bits<16>>,
    p_tag_len: Signal<Local, Bits<8>>,
    p_card_iv: Signal<Local, Bit>,
    p_aad_len: Signal<Local, Bits<32>>,
    k_alg: Signal<Local, Bits<8>>,
    k_policy: Signal<Local, Bits<16>>,
    n_iv: Signal<Local, Bits<17>>,
    n_aad: Signal<Local, Bits<17>>,
    n_data: Signal<Local, Bits<17>>,
    n_full: Signal<Local, Bits<17>>,
    l_bits: Signal<Local, Bits<24>>,
    b_part: Signal<Local, Bits<7>>,
    top_byte: Signal<Local, Bits<8>>,
    low_mask: Signal<Local, Bits<128>>,
    part_strb: Signal<Local, Bits<16>>,
    btb: Signal<Local, Bits<9>>,
    req_beats: Signal<Local, Bits<9>>,
    rx: Signal<Local, Bit>,
    rx_mask: Signal<Local, Bits<128>>,
    rx_masked: Signal<Local, Bits<128>>,
    out_mask: Signal<Local, Bits<128>>,
    strb_rem: Signal<Local, Bits<16>>,
    pipe_push: Signal<Local, Bit>,
    pipe_in: Signal<Local, Bits<128>>,
    pipe_side: Signal<Local, Bits<128>>,
    pipe_tag: Signal<Local, Bits<8>>,
    use_dec: Signal<Local, Bit>,
    po_valid: Signal<Local, Bit>,
    po_block: Signal<Local, Bits<128>>,
    po_side: Signal<Local, Bits<128>>,
    po_tag: Signal<Local, Bits<8>>,
    po_x: Signal<Local, Bits<128>>,
    gh_in: Signal<Local, Bit>,
    gh_block: Signal<Local, Bits<128>>,
    inc_ctr: Signal<Local, Bits<128>>,
    ctr_be: Signal<Local, Bits<32>>,
    ctr_be1: Signal<Local, Bits<32>>,
    iv_bits: Signal<Local, Bits<64>>,
    len_a: Signal<Local, Bits<64>>,
    len_c: Signal<Local, Bits<64>>,
    tag_mask: Signal<Local, Bits<128>>,
    tag_diff: Signal<Local, Bit>,
    slot_rk: Signal<Local, Bits<11>>,
    card_j0: Signal<Local, Bits<128>>,
    rk_data: Signal<Local, Bits<128>>,
    part_mask: Signal<Local, Bits<128>>,
    si_beat: Signal<Local, Bits<128>>,
    inv_base: Signal<Local, Bits<64>>,
    new_rec: Signal<Local, Bits<512>>,

    o_genc: Constant<Bits<8>>,
    o_gdec: Constant<Bits<8>>,
    o_xenc: Constant<Bits<8>>,
    o_xdec: Constant<Bits<8>>,
    o_kload: Constant<Bits<8>>,
    o_kgen: Constant<Bits<8>>,
    o_kclear: Constant<Bits<8>>,
    o_sinfo: Constant<Bits<8>>,
    a_empty: Constant<Bits<8>>,
    a_aes128: Constant<Bits<8>>,
    a_aes256: Constant<Bits<8>>,
    a_xts: Constant<Bits<8>>,
    p_enc: Constant<Bits<16>>,
    p_dec: Constant<Bits<16>>,
    t_h: Constant<Bits<8>>,
    t_ekj0: Constant<Bits<8>>,
    t_data: Constant<Bits<8>>,
    t_tweak: Constant<Bits<8>>,
    t_xnorm: Constant<Bits<8>>,
    t_xhold: Constant<Bits<8>>,
    t_kcv: Constant<Bits<8>>,
    kcv_block: Constant<Bits<128>>,
    s_ok: Constant<Bits<16>>,
    s_empty: Constant<Bits<16>>,
    s_occupied: Constant<Bits<16>>,
    s_wrong_type: Constant<Bits<16>>,
    s_policy: Constant<Bits<16>>,
    s_auth: Constant<Bits<16>>,
    s_weak: Constant<Bits<16>>,
    s_dma_read: Constant<Bits<16>>,
    s_dma_write: Constant<Bits<16>>,
    s_entropy: Constant<Bits<16>>,
    s_label: Constant<Bits<16>>,
    s_storage: Constant<Bits<16>>,
    s_exhausted: Constant<Bits<16>>,
    a_damaged: Constant<Bits<8>>,
    v_load: Constant<Bits<2>>,
    v_seal: Constant<Bits<2>>,
    v_erase: Constant<Bits<2>>,
}

impl Default for CryptoEngine {
    fn default() -> Self {
        let kat = crate::post::kat_keys();
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            opcode: Default::default(),
            slot: Default::default(),
            src_addr: Default::default(),
            src_len: Default::default(),
            dst_addr: Default::default(),
            aux_addr: Default::default(),
            aux_len: Default::default(),
            params: Default::default(),
            pad_bits: Default::default(),
            ready: Default::default(),
            kat_phase: Default::default(),
            kat_fail: Default::default(),
            kat_end: Default::default(),
            kat_n: Default::default(),
            kat_key: Default::default(),
            kat_hold: Default::default(),
            kat_bad: Default::default(),
            kat_rec0: Constant::new(le_bits(&kat[0].record.to_bytes())),
            kat_rec1: Constant::new(le_bits(&kat[1].record.to_bytes())),
            kat_key0: Constant::new(le_bits(&kat[0].key)),
            kat_key1: Constant::new(le_bits(&kat[1].key)),
            busy: Default::default(),
            done: Default::default(),
            status: Default::default(),
            out_len: Default::default(),
            read_fault: Default::default(),
            write_fault: Default::default(),
            fault_addr: Default::default(),
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
            rng_req: Default::default(),
            rng_blocks: Default::default(),
            rng_pr: Default::default(),
            rng_ready: Default::default(),
            rng_valid: Default::default(),
            rng_block: Default::default(),
            rng_done: Default::default(),
            rng_fail: Default::default(),
            v_ready: Default::default(),
            v_epoch: Default::default(),
            v_last_epoch: Default::default(),
            v_cmd: Default::default(),
            v_op: Default::default(),
            v_index: Default::default(),
            v_rec: Default::default(),
            v_key: Default::default(),
            v_done: Default::default(),
            v_ok: Default::default(),
            v_present: Default::default(),
            v_entropy: Default::default(),
            v_rec_in: Default::default(),
            v_key_in: Default::default(),
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
            enc: Default::default(),
            dec: Default::default(),
            kx: Default::default(),
            gh: Default::default(),
            mul: Default::default(),
            rec_ram: Default::default(),
            rk_ram: Default::default(),
            state: Default::default(),
            rk_after: Default::default(),
            init_ctr: Default::default(),
            j_op: Default::default(),
            j_slot: Default::default(),
            j_src: Default::default(),
            j_dst: Default::default(),
            j_aux: Default::default(),
            j_len: Default::default(),
            j_aux_len: Default::default(),
            j_params: Default::default(),
            j_pad: Default::default(),
            rec: Default::default(),
            status_r: Default::default(),
            out_len_r: Default::default(),
            rd_err: Default::default(),
            wr_err: Default::default(),
            last_wr: Default::default(),
            aes256: Default::default(),
            rq_addr: Default::default(),
            rq_left: Default::default(),
            rq2_addr: Default::default(),
            rq2_left: Default::default(),
            cnt: Default::default(),
            rem: Default::default(),
            out_rem: Default::default(),
            out_cnt: Default::default(),
            inflight: Default::default(),
            wr_addr: Default::default(),
            rki: Default::default(),
            rk_base: Default::default(),
            rk0: Default::default(),
            rk1: Default::default(),
            rk2: Default::default(),
            rk3: Default::default(),
            rk4: Default::default(),
            rk5: Default::default(),
            rk6: Default::default(),
            rk7: Default::default(),
            rk8: Default::default(),
            rk9: Default::default(),
            rk10: Default::default(),
            rk11: Default::default(),
            rk12: Default::default(),
            rk13: Default::default(),
            rk14: Default::default(),
            kbuf: Default::default(),
            lbuf: Default::default(),
            h: Default::default(),
            h_ok: Default::default(),
            j0: Default::default(),
            ctr: Default::default(),
            ekj0: Default::default(),
            exp_tag: Default::default(),
            tag: Default::default(),
            tw: Default::default(),
            t_a: Default::default(),
            t_b: Default::default(),
            held: Default::default(),
            part: Default::default(),
            zero_left: Default::default(),
            kcv: Default::default(),
            fixed: Default::default(),
            serial: Default::default(),
            drawn: Default::default(),
            dup: Default::default(),
            restoring: Default::default(),
            rs_idx: Default::default(),
            is_genc: Default::default(),
            is_gdec: Default::default(),
            is_gcm: Default::default(),
            is_xenc: Default::default(),
            is_xts: Default::default(),
            is_kload: Default::default(),
            is_kgen: Default::default(),
            label_hit: Default::default(),
            scrub: Default::default(),
            k_blocks: Default::default(),
            is_kclear: Default::default(),
            is_sinfo: Default::default(),
            r_inv: Default::default(),
            p_iv_len: Default::default(),
            p_tag_len: Default::default(),
            p_card_iv: Default::default(),
            p_aad_len: Default::default(),
            k_alg: Default::default(),
            k_policy: Default::default(),
            n_iv: Default::default(),
            n_aad: Default::default(),
            n_data: Default::default(),
            n_full: Default::default(),
            l_bits: Default::default(),
            b_part: Default::default(),
            top_byte: Default::default(),
            low_mask: Default::default(),
            part_strb: Default::default(),
            btb: Default::default(),
            req_beats: Default::default(),
            rx: Default::default(),
            rx_mask: Default::default(),
            rx_masked: Default::default(),
            out_mask: Default::default(),
            strb_rem: Default::default(),
            pipe_push: Default::default(),
            pipe_in: Default::default(),
            pipe_side: Default::default(),
            pipe_tag: Default::default(),
            use_dec: Default::default(),
            po_valid: Default::default(),
            po_block: Default::default(),
            po_side: Default::default(),
            po_tag: Default::default(),
            po_x: Default::default(),
            gh_in: Default::default(),
            gh_block: Default::default(),
            inc_ctr: Default::default(),
            ctr_be: Default::default(),
            ctr_be1: Default::default(),
            iv_bits: Default::default(),
            len_a: Default::default(),
            len_c: Default::default(),
            tag_mask: Default::default(),
            tag_diff: Default::default(),
            slot_rk: Default::default(),
            card_j0: Default::default(),
            rk_data: Default::default(),
            part_mask: Default::default(),
            si_beat: Default::default(),
            inv_base: Default::default(),
            new_rec: Default::default(),
            o_genc: opcode(Opcode::AesGcmEncrypt),
            o_gdec: opcode(Opcode::AesGcmDecrypt),
            o_xenc: opcode(Opcode::AesXtsEncrypt),
            o_xdec: opcode(Opcode::AesXtsDecrypt),
            o_kload: opcode(Opcode::KeyLoad),
            o_kgen: opcode(Opcode::KeyGenerate),
            o_kclear: opcode(Opcode::KeyClear),
            o_sinfo: opcode(Opcode::SlotInfo),
            a_empty: c8(KeyAlg::Empty as u8 as u64),
            a_aes128: c8(KeyAlg::Aes128 as u8 as u64),
            a_aes256: c8(KeyAlg::Aes256 as u8 as u64),
            a_xts: c8(KeyAlg::XtsAes256 as u8 as u64),
            p_enc: Constant::new((policy::ENCRYPT as u64).into()),
            p_dec: Constant::new((policy::DECRYPT as u64).into()),
            t_h: c8(T_H),
            t_ekj0: c8(T_EKJ0),
            t_data: c8(T_DATA),
            t_tweak: c8(T_TWEAK),
            t_xnorm: c8(T_XNORM),
            t_xhold: c8(T_XHOLD),
            t_kcv: c8(T_KCV),
            kcv_block: Constant::new(crate::aes::bits128(u128::from_le_bytes(kcv_plaintext()))),
            s_ok: status(Status::Ok),
            s_empty: status(Status::SlotEmpty),
            s_occupied: status(Status::SlotOccupied),
            s_wrong_type: status(Status::WrongKeyType),
            s_policy: status(Status::PolicyDenied),
            s_auth: status(Status::AuthFailed),
            s_weak: status(Status::WeakKey),
            s_dma_read: status(Status::DmaReadError),
            s_dma_write: status(Status::DmaWriteError),
            s_entropy: status(Status::EntropyFailure),
            s_label: status(Status::LabelInUse),
            s_storage: status(Status::StorageFailed),
            s_exhausted: status(Status::InvocationsExhausted),
            a_damaged: c8(KeyAlg::Damaged as u8 as u64),
            v_load: Constant::new(crate::vault::vault_cmd::LOAD.into()),
            v_seal: Constant::new(crate::vault::vault_cmd::SEAL.into()),
            v_erase: Constant::new(crate::vault::vault_cmd::ERASE.into()),
        }
    }
}

impl Logic for CryptoEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, rk_after, init_ctr, j_op, j_slot, j_src, j_dst, j_aux, j_len,
            j_aux_len, j_params, j_pad, rec, status_r, out_len_r, rd_err, wr_err, last_wr, aes256,
            rq_addr, rq_left, rq2_addr, rq2_left, cnt, rem, out_rem, out_cnt, inflight, wr_addr,
            rki, rk_base, rk0, rk1, rk2, rk3, rk4, rk5, rk6, rk7, rk8, rk9, rk10, rk11, rk12, rk13,
            rk14, kbuf, lbuf, h, h_ok, j0, ctr, ekj0, exp_tag, tag, tw, t_a, t_b, held, part,
            zero_left, kcv, fixed, serial, drawn, dup, restoring, rs_idx, kat_n, kat_key, kat_hold,
            kat_bad
        );
        // Sub-block clocks and the key store.
        self.enc.clock.next = self.clock.val();
        self.dec.clock.next = self.clock.val();
        self.kx.clock.next = self.clock.val();
        self.gh.clock.next = self.clock.val();
        self.enc.reset.next = self.reset.val();
        self.dec.reset.next = self.reset.val();
        self.kx.reset.next = self.reset.val();
        self.gh.reset.next = self.reset.val();
        self.rec_ram.read_clock.next = self.clock.val();
        self.rec_ram.write_clock.next = self.clock.val();
        self.rk_ram.read_clock.next = self.clock.val();
        self.rk_ram.write_clock.next = self.clock.val();

        // Job decoding.
        self.is_genc.next = self.j_op.q.val() == self.o_genc.val();
        self.is_gdec.next = self.j_op.q.val() == self.o_gdec.val();
        self.is_gcm.next = self.is_genc.val() | self.is_gdec.val();
        self.is_xenc.next = self.j_op.q.val() == self.o_xenc.val();
        self.is_xts.next = self.is_xenc.val() | (self.j_op.q.val() == self.o_xdec.val());
        self.is_kload.next = self.j_op.q.val() == self.o_kload.val();
        self.is_kgen.next = self.j_op.q.val() == self.o_kgen.val();
        self.is_kclear.next = self.j_op.q.val() == self.o_kclear.val();
        self.is_sinfo.next = self.j_op.q.val() == self.o_sinfo.val();
        self.r_inv.next = self.rec.q.val().get_bits::<64>(64);
        self.p_iv_len.next = self.j_params.q.val().get_bits::<16>(0);
        self.p_tag_len.next = self.j_params.q.val().get_bits::<8>(16);
        self.p_card_iv.next = self.j_params.q.val().get_bit(24);
        self.p_aad_len.next = self.j_params.q.val().get_bits::<32>(32);
        self.k_alg.next = self.j_params.q.val().get_bits::<8>(0);
        self.k_policy.next = self.j_params.q.val().get_bits::<16>(16);
        // KEY_GENERATE's key in DRBG blocks.
        self.k_blocks.next = bits::<3>(4);
        if self.k_alg.val() == self.a_aes128.val() {
            self.k_blocks.next = bits::<3>(1);
        }
        if self.k_alg.val() == self.a_aes256.val() {
            self.k_blocks.next = bits::<3>(2);
        }
        self.n_iv.next = (bit_cast::<17, 16>(self.p_iv_len.val()) + 15) >> 4;
        self.n_aad.next = bit_cast::<17, 32>((self.p_aad_len.val() + 15) >> 4);
        self.n_data.next = bit_cast::<17, 32>((self.j_len.q.val() + 15) >> 4);
        // XTS geometry in bits: the unit is 8 * len - pad bits; n_full whole
        // blocks, then b_part bits (stolen from the last whole block).
        self.l_bits.next = (bit_cast::<24, 21>(self.j_len.q.val().get_bits::<21>(0)) << 3)
            - bit_cast::<24, 3>(self.j_pad.q.val());
        self.n_full.next = self.l_bits.val().get_bits::<17>(7);
        self.b_part.next = self.l_bits.val().get_bits::<7>(0);
        self.slot_rk.next = bit_cast::<11, 6>(self.j_slot.q.val()) << 5;
        self.use_dec.next =
            !self.is_xenc.val() & self.is_xts.val() & (self.state.q.val() != EngState::XtsTweak);

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
        if !self.rq_left.q.val().any() & self.rq2_left.q.val().any() {
            self.rq_addr.d.next = self.rq2_addr.q.val();
            self.rq_left.d.next = self.rq2_left.q.val();
            self.rq2_left.d.next = bits::<17>(0);
        }

        // Masks for partial beats: `rem` bytes left in the region.
        if self.rem.q.val() >= bits::<32>(16) {
            self.rx_mask.next = !bits::<128>(0);
        } else {
            self.rx_mask.next =
                !bits::<128>(0) >> (bits::<8>(128) - (self.rem.q.val().get_bits::<8>(0) << 3));
        }
        if self.out_rem.q.val() >= bits::<32>(16) {
            self.out_mask.next = !bits::<128>(0);
            self.strb_rem.next = bits::<16>(0xffff);
        } else {
            self.out_mask.next =
                !bits::<128>(0) >> (bits::<8>(128) - (self.out_rem.q.val().get_bits::<8>(0) << 3));
            self.strb_rem.next = bits::<16>(0xffff)
                >> (bits::<16>(16) - bit_cast::<16, 8>(self.out_rem.q.val().get_bits::<8>(0)));
        }
        self.rx_masked.next = self.dmar_data.val() & self.rx_mask.val();
        self.si_beat.next = self.rec.q.val().get_bits::<128>(0);
        if self.cnt.q.val() == bits::<17>(1) {
            self.si_beat.next = self.rec.q.val().get_bits::<128>(128);
        }
        if self.cnt.q.val() == bits::<17>(2) {
            self.si_beat.next = self.rec.q.val().get_bits::<128>(256);
        }
        if self.cnt.q.val() == bits::<17>(3) {
            self.si_beat.next = self.rec.q.val().get_bits::<128>(384);
        }
        // The first b_part bits of a block: whole bytes, then the top bits of one.
        self.top_byte.next =
            !(bits::<8>(0xff) >> bit_cast::<8, 3>(self.b_part.val().get_bits::<3>(0)));
        if self.b_part.val().get_bits::<4>(3).any() {
            self.low_mask.next = !bits::<128>(0)
                >> (bits::<8>(128) - (bit_cast::<8, 4>(self.b_part.val().get_bits::<4>(3)) << 3));
        } else {
            self.low_mask.next = bits::<128>(0);
        }
        self.part_mask.next = self.low_mask.val()
            | (bit_cast::<128, 8>(self.top_byte.val())
                << (bit_cast::<8, 4>(self.b_part.val().get_bits::<4>(3)) << 3));
        self.part_strb.next = bits::<16>(0xffff)
            >> (bits::<16>(16) - ((bit_cast::<16, 7>(self.b_part.val()) + 7) >> 3));

        // GCM counter: inc32 of the last four bytes, big-endian.
        self.ctr_be.next = (bit_cast::<32, 8>(self.ctr.q.val().get_bits::<8>(96)) << 24)
            | (bit_cast::<32, 8>(self.ctr.q.val().get_bits::<8>(104)) << 16)
            | (bit_cast::<32, 8>(self.ctr.q.val().get_bits::<8>(112)) << 8)
            | bit_cast::<32, 8>(self.ctr.q.val().get_bits::<8>(120));
        self.ctr_be1.next = self.ctr_be.val() + 1;
        self.inc_ctr.next = (bit_cast::<128, 96>(self.ctr.q.val().get_bits::<96>(0)))
            | (bit_cast::<128, 8>(self.ctr_be1.val().get_bits::<8>(24)) << 96)
            | (bit_cast::<128, 8>(self.ctr_be1.val().get_bits::<8>(16)) << 104)
            | (bit_cast::<128, 8>(self.ctr_be1.val().get_bits::<8>(8)) << 112)
            | (bit_cast::<128, 8>(self.ctr_be1.val().get_bits::<8>(0)) << 120);
        // J0 of a card IV: the key's fixed field (record bytes 24-27), the
        // invocation counter (8 bytes LE), 0x00000001.
        self.card_j0.next = bit_cast::<128, 32>(self.rec.q.val().get_bits::<32>(192))
            | (bit_cast::<128, 64>(self.r_inv.val()) << 32)
            | (bits::<128>(1) << 120);
        // Length blocks: 64-bit big-endian bit counts.
        self.iv_bits.next = bit_cast::<64, 16>(self.p_iv_len.val()) << 3;
        self.len_a.next = bit_cast::<64, 32>(self.p_aad_len.val()) << 3;
        self.len_c.next = bit_cast::<64, 32>(self.j_len.q.val()) << 3;
        // Tag comparison over tag_len bytes, without early exit.
        self.tag_mask.next = !bits::<128>(0) >> (bits::<8>(128) - (self.p_tag_len.val() << 3));
        self.tag_diff.next =
            ((self.tag.q.val() ^ self.exp_tag.q.val()) & self.tag_mask.val()).any();

        // The AES pipelines.
        self.pipe_push.next = false;
        self.pipe_in.next = bits::<128>(0);
        self.pipe_side.next = bits::<128>(0);
        self.pipe_tag.next = bits::<8>(0);
        self.enc.enable.next = self.dmaw_ready.val();
        self.dec.enable.next = self.dmaw_ready.val();
        self.enc.aes256.next = self.aes256.q.val();
        self.dec.aes256.next = self.aes256.q.val();
        self.enc.rk0.next = self.rk0.q.val();
        self.enc.rk1.next = self.rk1.q.val();
        self.enc.rk2.next = self.rk2.q.val();
        self.enc.rk3.next = self.rk3.q.val();
        self.enc.rk4.next = self.rk4.q.val();
        self.enc.rk5.next = self.rk5.q.val();
        self.enc.rk6.next = self.rk6.q.val();
        self.enc.rk7.next = self.rk7.q.val();
        self.enc.rk8.next = self.rk8.q.val();
        self.enc.rk9.next = self.rk9.q.val();
        self.enc.rk10.next = self.rk10.q.val();
        self.enc.rk11.next = self.rk11.q.val();
        self.enc.rk12.next = self.rk12.q.val();
        self.enc.rk13.next = self.rk13.q.val();
        self.enc.rk14.next = self.rk14.q.val();
        self.dec.rk0.next = self.rk0.q.val();
        self.dec.rk1.next = self.rk1.q.val();
        self.dec.rk2.next = self.rk2.q.val();
        self.dec.rk3.next = self.rk3.q.val();
        self.dec.rk4.next = self.rk4.q.val();
        self.dec.rk5.next = self.rk5.q.val();
        self.dec.rk6.next = self.rk6.q.val();
        self.dec.rk7.next = self.rk7.q.val();
        self.dec.rk8.next = self.rk8.q.val();
        self.dec.rk9.next = self.rk9.q.val();
        self.dec.rk10.next = self.rk10.q.val();
        self.dec.rk11.next = self.rk11.q.val();
        self.dec.rk12.next = self.rk12.q.val();
        self.dec.rk13.next = self.rk13.q.val();
        self.dec.rk14.next = self.rk14.q.val();
        if self.use_dec.val() {
            self.po_valid.next = self.dec.out_valid.val();
            self.po_block.next = self.dec.out_block.val();
            self.po_side.next = self.dec.out_side.val();
            self.po_tag.next = self.dec.out_tag.val();
        } else {
            self.po_valid.next = self.enc.out_valid.val();
            self.po_block.next = self.enc.out_block.val();
            self.po_side.next = self.enc.out_side.val();
            self.po_tag.next = self.enc.out_tag.val();
        }
        self.po_x.next = self.po_block.val() ^ self.po_side.val();
        self.mul.tweak.next = self.tw.q.val();

        // GHASH.
        self.gh.h.next = self.h.q.val();
        self.gh.clear.next = false;
        self.gh_in.next = false;
        self.gh_block.next = bits::<128>(0);

        // Key expansion.
        self.kx.start.next = false;
        // The key stays whole in kbuf until its record is sealed: an XTS
        // pair's tweak key is its high half.
        self.kx.key.next = self.kbuf.q.val().get_bits::<256>(0);
        if self.state.q.val() == EngState::KlExpand2 {
            self.kx.key.next = self.kbuf.q.val().get_bits::<256>(256);
        }
        self.kx.aes256.next = self.aes256.q.val();

        // The vault. A key's record as it enters: a restored key keeps its
        // creation number; every key's invocation counter starts this boot
        // at the epoch.
        self.inv_base.next = bit_cast::<64, 20>(self.v_epoch.val()) << 44;
        if self.v_last_epoch.val() {
            // The last epoch, which the vault keeps at every later boot, is
            // never used: every key's counter starts it spent, so no card
            // IV can come twice.
            self.inv_base.next = !bits::<64>(0);
        }
        self.new_rec.next = bit_cast::<512, 8>(self.k_alg.val())
            | (bit_cast::<512, 16>(self.k_policy.val()) << 16)
            | (bit_cast::<512, 24>(self.kcv.q.val()) << 32)
            | (bit_cast::<512, 64>(self.inv_base.val()) << 64)
            | (bit_cast::<512, 64>(self.serial.q.val() + 1) << 128)
            | (bit_cast::<512, 32>(self.fixed.q.val()) << 192)
            | (bit_cast::<512, 256>(self.lbuf.q.val()) << 256);
        if self.restoring.q.val() {
            self.new_rec.next = bit_cast::<512, 8>(self.k_alg.val())
                | (bit_cast::<512, 16>(self.k_policy.val()) << 16)
                | (bit_cast::<512, 24>(self.kcv.q.val()) << 32)
                | (bit_cast::<512, 64>(self.inv_base.val()) << 64)
                | (bit_cast::<512, 64>(self.rec.q.val().get_bits::<64>(128)) << 128)
                | (bit_cast::<512, 32>(self.fixed.q.val()) << 192)
                | (bit_cast::<512, 256>(self.lbuf.q.val()) << 256);
        }
        self.v_cmd.next = false;
        self.v_op.next = self.v_load.val();
        self.v_index.next = self.j_slot.q.val();
        self.v_rec.next = self.rec.q.val();
        // The key entry: an AES key's bits, an XTS pair, an ML-KEM seed.
        self.v_key.next = self.kbuf.q.val();
        if self.k_alg.val() == self.a_aes256.val() {
            self.v_key.next = bit_cast::<512, 256>(self.kbuf.q.val().get_bits::<256>(0));
        }
        if self.k_alg.val() == self.a_aes128.val() {
            self.v_key.next = bit_cast::<512, 128>(self.kbuf.q.val().get_bits::<128>(0));
        }

        // RAM ports.
        self.rec_ram.read_address.next = self.j_slot.q.val();
        self.rec_ram.write_address.next = self.j_slot.q.val();
        self.rec_ram.write_data.next = bits::<512>(0);
        self.rec_ram.write_enable.next = false;
        self.rk_ram.read_address.next = self.slot_rk.val()
            + bit_cast::<11, 5>(self.rk_base.q.val())
            + bit_cast::<11, 5>(self.rki.q.val());
        self.rk_ram.write_address.next = self.slot_rk.val()
            + bit_cast::<11, 5>(self.rk_base.q.val())
            + bit_cast::<11, 4>(self.kx.rk_index.val());
        self.rk_ram.write_data.next = self.kx.rk.val();
        self.rk_ram.write_enable.next = false;
        self.rk_data.next = self.rk_ram.read_data.val();
        self.kp_rec_alg.next = self.rec_ram.read_data.val().get_bits::<8>(0);
        self.kp_rec_policy.next = self.rec_ram.read_data.val().get_bits::<16>(16);
        self.kp_key.next = self.rk_ram.read_data.val();

        self.label_hit.next = false;
        self.scrub.next = false;
        // Random bits: asked for in KlDraw only.
        self.rng_req.next = false;
        self.rng_blocks.next = bits::<16>(1);
        self.rng_pr.next = self.is_kgen.val();
        self.rng_ready.next = false;
        if self.is_kgen.val() {
            self.rng_blocks.next = bit_cast::<16, 3>(self.k_blocks.val()) + 1;
        }

        // DMA defaults.
        self.dmar_data_ready.next = false;
        self.rx.next = false;
        self.dmaw_valid.next = false;
        self.dmaw_addr.next = self.wr_addr.q.val();
        self.dmaw_data.next = bits::<128>(0);
        self.dmaw_strb.next = bits::<16>(0xffff);
        self.done.next = false;
        self.read_fault.next = false;
        self.write_fault.next = false;
        self.fault_addr.next = self.last_wr.q.val();
        self.ready.next = (self.state.q.val() != EngState::Init)
            & (self.state.q.val() != EngState::RsLoad)
            & (self.state.q.val() != EngState::RsWait)
            & (self.state.q.val() != EngState::KatKey)
            & (self.state.q.val() != EngState::KatSweep)
            & !self.restoring.q.val();
        self.busy.next = true;
        self.kat_phase.next = self.kat_hold.q.val();
        self.kat_fail.next = self.kat_bad.q.val();
        self.status.next = self.status_r.q.val();
        self.out_len.next = self.out_len_r.q.val();

        if self.dmaw_err.val() {
            self.wr_err.d.next = true;
            if !self.wr_err.q.val() {
                self.write_fault.next = true;
            }
        }

        match self.state.q.val() {
            EngState::Init => {
                self.rk_ram.write_address.next = self.init_ctr.q.val().get_bits::<11>(0);
                self.rk_ram.write_data.next = bits::<128>(0);
                self.rk_ram.write_enable.next = true;
                self.rec_ram.write_address.next = self.init_ctr.q.val().get_bits::<6>(0);
                self.rec_ram.write_enable.next = true;
                self.init_ctr.d.next = self.init_ctr.q.val() + 1;
                self.serial.d.next = bits::<64>(0);
                if self.init_ctr.q.val().get_bit(11) {
                    // Then the self-tests' keys (the persistent slots come
                    // after the tests).
                    self.state.d.next = EngState::KatKey;
                    self.kat_n.d.next = false;
                    self.rs_idx.d.next = bits::<7>(0);
                    self.restoring.d.next = false;
                }
            }
            EngState::KatKey => {
                // A test key enters as a restored key does: expansion, then
                // the check value, compared with its record's.
                self.restoring.d.next = true;
                self.kat_key.d.next = true;
                self.j_op.d.next = bits::<8>(0);
                self.j_slot.d.next = bits::<6>(0);
                self.rec.d.next = self.kat_rec0.val();
                self.kbuf.d.next = self.kat_key0.val();
                if self.kat_n.q.val() {
                    self.j_slot.d.next = bits::<6>(1);
                    self.rec.d.next = self.kat_rec1.val();
                    self.kbuf.d.next = self.kat_key1.val();
                }
                self.lbuf.d.next = bits::<256>(0);
                self.fixed.d.next = bits::<32>(0);
                self.j_params.d.next = bit_cast::<128, 8>(self.kat_rec0.val().get_bits::<8>(0))
                    | (bit_cast::<128, 16>(self.kat_rec0.val().get_bits::<16>(16)) << 16);
                if self.kat_n.q.val() {
                    self.j_params.d.next = bit_cast::<128, 8>(self.kat_rec1.val().get_bits::<8>(0))
                        | (bit_cast::<128, 16>(self.kat_rec1.val().get_bits::<16>(16)) << 16);
                }
                self.kcv.d.next = bits::<24>(0);
                self.aes256.d.next = true;
                self.cnt.d.next = bits::<17>(0);
                self.rki.d.next = bits::<5>(0);
                self.rk_base.d.next = bits::<5>(0);
                self.rd_err.d.next = false;
                self.state.d.next = EngState::KlExpand;
            }
            EngState::KatSweep => {
                // Slots 0 and 1: 64 round-key entries and two records.
                self.rk_ram.write_address.next = self.init_ctr.q.val().get_bits::<11>(0);
                self.rk_ram.write_data.next = bits::<128>(0);
                self.rk_ram.write_enable.next = true;
                self.rec_ram.write_address.next = self.init_ctr.q.val().get_bits::<6>(5);
                self.rec_ram.write_enable.next = true;
                self.init_ctr.d.next = self.init_ctr.q.val() + 1;
                if self.init_ctr.q.val() == bits::<12>(63) {
                    // Then the slots kept in persistent storage.
                    self.kat_hold.d.next = false;
                    self.state.d.next = EngState::RsLoad;
                    self.rs_idx.d.next = bits::<7>(0);
                }
            }
            EngState::Idle => {
                self.busy.next = self.kx.busy.val();
                // The key port reads while no job runs here.
                self.rec_ram.read_address.next = self.kp_slot.val();
                self.rk_ram.read_address.next = (bit_cast::<11, 6>(self.kp_slot.val()) << 5)
                    + bit_cast::<11, 2>(self.kp_index.val());
                if self.kat_end.val() & self.kat_hold.q.val() {
                    self.init_ctr.d.next = bits::<12>(0);
                    self.state.d.next = EngState::KatSweep;
                } else if self.kp_store.val() {
                    // A key from the ML-KEM engine, which checked the slot
                    // is empty: expand an AES-256 key, or write a seed.
                    self.j_slot.d.next = self.kp_slot.val();
                    self.j_op.d.next = bits::<8>(0);
                    self.kcv.d.next = bits::<24>(0);
                    self.fixed.d.next = bits::<32>(0);
                    self.drawn.d.next = bits::<3>(0);
                    self.j_params.d.next = bit_cast::<128, 8>(self.kp_alg.val())
                        | (bit_cast::<128, 16>(self.kp_policy.val()) << 16);
                    self.kbuf.d.next = self.kp_keydata.val();
                    self.lbuf.d.next = self.kp_label.val();
                    self.aes256.d.next = true;
                    self.cnt.d.next = bits::<17>(0);
                    self.rki.d.next = bits::<5>(0);
                    self.rk_base.d.next = bits::<5>(0);
                    self.rd_err.d.next = false;
                    self.wr_err.d.next = false;
                    self.status_r.d.next = self.s_ok.val();
                    self.out_len_r.d.next = bits::<32>(0);
                    self.state.d.next = EngState::KlLabel;
                    self.dup.d.next = false;
                } else if self.start.val() {
                    self.j_op.d.next = self.opcode.val();
                    self.j_slot.d.next = self.slot.val();
                    self.j_src.d.next = self.src_addr.val();
                    self.j_dst.d.next = self.dst_addr.val();
                    self.j_aux.d.next = self.aux_addr.val();
                    self.j_len.d.next = self.src_len.val();
                    self.j_aux_len.d.next = self.aux_len.val();
                    self.j_params.d.next = self.params.val();
                    self.j_pad.d.next = self.pad_bits.val();
                    self.rd_err.d.next = false;
                    self.wr_err.d.next = false;
                    self.status_r.d.next = self.s_ok.val();
                    self.out_len_r.d.next = bits::<32>(0);
                    self.state.d.next = EngState::RecWait;
                }
            }
            EngState::RecWait => {
                self.state.d.next = EngState::RecCheck;
            }
            EngState::RecCheck => {
                self.rec.d.next = self.rec_ram.read_data.val();
                self.state.d.next = EngState::Finish;
                self.cnt.d.next = bits::<17>(0);
                self.wr_addr.d.next = self.j_dst.q.val();
                self.inflight.d.next = bits::<6>(0);
                self.out_cnt.d.next = bits::<17>(0);
                self.aes256.d.next =
                    self.rec_ram.read_data.val().get_bits::<8>(0) != self.a_aes128.val();
                if self.is_kload.val() | self.is_kgen.val() {
                    if self.rec_ram.read_data.val().get_bits::<8>(0) != self.a_empty.val() {
                        self.status_r.d.next = self.s_occupied.val();
                    } else {
                        self.aes256.d.next = self.k_alg.val() != self.a_aes128.val();
                        self.kbuf.d.next = bits::<512>(0);
                        self.kcv.d.next = bits::<24>(0);
                        self.fixed.d.next = bits::<32>(0);
                        self.drawn.d.next = bits::<3>(0);
                        // The key (KEY_LOAD), then the label.
                        self.state.d.next = EngState::KlRead;
                        self.dup.d.next = false;
                        self.rq_addr.d.next = self.j_src.q.val();
                        self.rq_left.d.next = bit_cast::<17, 32>(self.j_len.q.val() >> 4);
                        self.rq2_addr.d.next = self.j_aux.q.val();
                        self.rq2_left.d.next = bits::<17>(2);
                    }
                } else if self.is_kclear.val() {
                    // The persistent record first: a key whose record
                    // could not be removed stays, and says so.
                    self.state.d.next = EngState::KcErase;
                    self.rki.d.next = bits::<5>(0);
                } else if self.is_sinfo.val() {
                    self.state.d.next = EngState::SiWrite;
                    self.out_len_r.d.next = bits::<32>(64);
                } else if self.rec_ram.read_data.val().get_bits::<8>(0) == self.a_empty.val() {
                    self.status_r.d.next = self.s_empty.val();
                } else if (self.is_gcm.val()
                    & (self.rec_ram.read_data.val().get_bits::<8>(0) != self.a_aes128.val())
                    & (self.rec_ram.read_data.val().get_bits::<8>(0) != self.a_aes256.val()))
                    | (self.is_xts.val()
                        & (self.rec_ram.read_data.val().get_bits::<8>(0) != self.a_xts.val()))
                {
                    self.status_r.d.next = self.s_wrong_type.val();
                } else if ((self.is_genc.val() | self.is_xenc.val())
                    & !(self.rec_ram.read_data.val().get_bits::<16>(16) & self.p_enc.val()).any())
                    | (!(self.is_genc.val() | self.is_xenc.val())
                        & !(self.rec_ram.read_data.val().get_bits::<16>(16) & self.p_dec.val())
                            .any())
                {
                    self.status_r.d.next = self.s_policy.val();
                } else if self.is_genc.val()
                    & self.p_card_iv.val()
                    & self.rec_ram.read_data.val().get_bits::<44>(64).all()
                {
                    // This boot's invocations of the key are spent.
                    self.status_r.d.next = self.s_exhausted.val();
                } else {
                    // Round keys: GCM the data key; XTS first the tweak key.
                    self.state.d.next = EngState::RkLoad;
                    self.rki.d.next = bits::<5>(0);
                    if self.is_xts.val() {
                        self.rk_base.d.next = bits::<5>(16);
                        self.rk_after.d.next = EngState::XtsTweak;
                    } else {
                        self.rk_base.d.next = bits::<5>(0);
                        self.rk_after.d.next = EngState::GcmH;
                    }
                    if self.is_genc.val() & self.p_card_iv.val() {
                        // Spend the invocation before using it: it never repeats.
                        self.rec_ram.write_enable.next = true;
                        // (Fields rebuilt with shifts: a widened `~` mask would be
                        // sized by its Verilog context, not its Rust width.)
                        self.rec_ram.write_data.next =
                            bit_cast::<512, 64>(self.rec_ram.read_data.val().get_bits::<64>(0))
                                | (bit_cast::<512, 64>(
                                    self.rec_ram.read_data.val().get_bits::<64>(64) + 1,
                                ) << 64)
                                | ((self.rec_ram.read_data.val() >> 128) << 128);
                    }
                }
            }
            EngState::KlRead => {
                self.dmar_data_ready.next = true;
                if self.dmar_data_valid.val() {
                    self.rx.next = true;
                    self.cnt.d.next = self.cnt.q.val() + 1;
                    if self.dmar_data_err.val() {
                        self.rd_err.d.next = true;
                    }
                    if (self.cnt.q.val() < bits::<17>(4))
                        & (self.cnt.q.val() < bit_cast::<17, 32>(self.j_len.q.val() >> 4))
                        & self.is_kload.val()
                    {
                        self.kbuf.d.next = self.kbuf.q.val()
                            | (bit_cast::<512, 128>(self.dmar_data.val())
                                << (bit_cast::<10, 2>(self.cnt.q.val().get_bits::<2>(0)) << 7));
                    }
                    // The label follows the key.
                    if self.cnt.q.val() == bit_cast::<17, 32>(self.j_len.q.val() >> 4) {
                        self.lbuf.d.next = bit_cast::<256, 128>(self.dmar_data.val());
                    }
                    if self.cnt.q.val() == bit_cast::<17, 32>(self.j_len.q.val() >> 4) + 1 {
                        self.lbuf.d.next =
                            self.lbuf.q.val() | (bit_cast::<256, 128>(self.dmar_data.val()) << 128);
                        self.state.d.next = EngState::KlLabel;
                        self.cnt.d.next = bits::<17>(0);
                        self.rk_base.d.next = bits::<5>(0);
                    }
                }
            }
            EngState::KlExpand => {
                if self.rd_err.q.val() {
                    self.status_r.d.next = self.s_dma_read.val();
                    self.state.d.next = EngState::Finish;
                } else if (self.k_alg.val() == self.a_xts.val())
                    & (self.kbuf.q.val().get_bits::<256>(0)
                        == self.kbuf.q.val().get_bits::<256>(256))
                {
                    self.status_r.d.next = self.s_weak.val();
                    self.state.d.next = EngState::Finish;
                } else {
                    self.kx.start.next = !self.cnt.q.val().get_bit(16);
                    self.cnt.d.next = bits::<17>(0x10000);
                    self.rk_ram.write_enable.next = self.kx.rk_valid.val();
                    if self.kx.done.val() & self.cnt.q.val().get_bit(16) {
                        self.cnt.d.next = bits::<17>(0);
                        if self.k_alg.val() == self.a_xts.val() {
                            self.state.d.next = EngState::KlExpand2;
                            self.rk_base.d.next = bits::<5>(16);
                        } else {
                            // The check value, from the round keys just written.
                            self.state.d.next = EngState::RkLoad;
                            self.rki.d.next = bits::<5>(0);
                            self.rk_base.d.next = bits::<5>(0);
                            self.rk_after.d.next = EngState::KcvRun;
                        }
                    }
                }
            }
            EngState::KlExpand2 => {
                self.kx.start.next = !self.cnt.q.val().get_bit(16);
                self.cnt.d.next = bits::<17>(0x10000);
                self.rk_ram.write_enable.next = self.kx.rk_valid.val();
                if self.kx.done.val() & self.cnt.q.val().get_bit(16) {
                    // The check value, of the data key.
                    self.state.d.next = EngState::RkLoad;
                    self.rki.d.next = bits::<5>(0);
                    self.rk_base.d.next = bits::<5>(0);
                    self.rk_after.d.next = EngState::KcvRun;
                }
            }
            EngState::KlDraw => {
                // KEY_GENERATE: k_blocks key blocks, then one for the fixed
                // field; the others: the fixed field's block only.
                self.rng_req.next = true;
                self.rng_ready.next = true;
                if self.rng_valid.val() {
                    self.drawn.d.next = self.drawn.q.val() + 1;
                    if self.is_kgen.val() & (self.drawn.q.val() < self.k_blocks.val()) {
                        self.kbuf.d.next = self.kbuf.q.val()
                            | (bit_cast::<512, 128>(self.rng_block.val())
                                << (bit_cast::<10, 3>(self.drawn.q.val()) << 7));
                    } else {
                        self.fixed.d.next = self.rng_block.val().get_bits::<32>(0);
                    }
                }
                if self.rng_done.val() {
                    if self.rng_fail.val() {
                        self.status_r.d.next = self.s_entropy.val();
                        self.state.d.next = EngState::Finish;
                    } else {
                        self.state.d.next = EngState::KlExpand;
                        self.cnt.d.next = bits::<17>(0);
                        self.rk_base.d.next = bits::<5>(0);
                    }
                }
            }
            EngState::KlLabel => {
                // Records 0 to 63, one a cycle (each read's data the cycle
                // after): an occupied one with the same label, other than
                // all zeros, is a duplicate. 65 cycles whatever is found.
                self.rec_ram.read_address.next = self.cnt.q.val().get_bits::<6>(0);
                self.cnt.d.next = self.cnt.q.val() + 1;
                self.label_hit.next = self.cnt.q.val().any()
                    & (self.rec_ram.read_data.val().get_bits::<8>(0) != self.a_empty.val())
                    & (self.rec_ram.read_data.val().get_bits::<256>(256) == self.lbuf.q.val())
                    & self.lbuf.q.val().any();
                self.dup.d.next = self.dup.q.val() | self.label_hit.val();
                if self.cnt.q.val() == bits::<17>(64) {
                    self.cnt.d.next = bits::<17>(0);
                    self.rk_base.d.next = bits::<5>(0);
                    if self.dup.q.val() | self.label_hit.val() {
                        self.status_r.d.next = self.s_label.val();
                        self.state.d.next = EngState::Finish;
                    } else if (self.k_alg.val() == self.a_aes128.val())
                        | (self.k_alg.val() == self.a_aes256.val())
                        | (self.k_alg.val() == self.a_xts.val())
                    {
                        self.state.d.next = EngState::KlDraw;
                    } else {
                        // An ML-KEM seed from the key port.
                        self.state.d.next = EngState::KlRaw;
                    }
                }
            }
            EngState::KcvRun => {
                // One block of kcv_plaintext through the encryption pipe.
                self.pipe_push.next = !self.cnt.q.val().any();
                self.pipe_in.next = self.kcv_block.val();
                self.pipe_tag.next = self.t_kcv.val();
                if !self.cnt.q.val().any() & self.dmaw_ready.val() {
                    self.cnt.d.next = bits::<17>(1);
                }
                if self.h_ok.q.val() {
                    self.h_ok.d.next = false;
                    self.state.d.next = EngState::KlRecord;
                }
            }
            EngState::KlRecord => {
                self.rec.d.next = self.new_rec.val();
                if self.kat_key.q.val() {
                    // A self-test key: in its slot for the tests.
                    self.rec_ram.write_enable.next = true;
                    self.rec_ram.write_data.next = self.new_rec.val();
                    if self.kcv.q.val() != self.rec.q.val().get_bits::<24>(32) {
                        self.kat_bad.d.next = true;
                    }
                    self.kbuf.d.next = bits::<512>(0);
                    self.restoring.d.next = false;
                    self.kat_key.d.next = false;
                    self.kat_n.d.next = true;
                    self.state.d.next = EngState::KatKey;
                    if self.kat_n.q.val() {
                        self.kat_hold.d.next = true;
                        self.state.d.next = EngState::Idle;
                    }
                } else if self.restoring.q.val() {
                    // A restored key: its record, unless the check value
                    // computed now differs from the stored one.
                    self.rec_ram.write_enable.next = true;
                    self.rec_ram.write_data.next = self.new_rec.val();
                    if self.kcv.q.val() != self.rec.q.val().get_bits::<24>(32) {
                        self.rec_ram.write_data.next = bit_cast::<512, 8>(self.a_damaged.val());
                    }
                    if self.rec.q.val().get_bits::<64>(128) > self.serial.q.val() {
                        self.serial.d.next = self.rec.q.val().get_bits::<64>(128);
                    }
                    self.kbuf.d.next = bits::<512>(0);
                    self.restoring.d.next = false;
                    self.rs_idx.d.next = self.rs_idx.q.val() + 1;
                    self.state.d.next = EngState::RsLoad;
                } else {
                    self.state.d.next = EngState::KlSeal;
                }
            }
            EngState::KlSeal => {
                self.v_cmd.next = true;
                self.v_op.next = self.v_seal.val();
                self.state.d.next = EngState::KlSealWait;
            }
            EngState::KlSealWait => {
                if self.v_done.val() {
                    self.kbuf.d.next = bits::<512>(0);
                    if self.v_ok.val() {
                        // Stored: the record makes the slot live.
                        self.rec_ram.write_enable.next = true;
                        self.rec_ram.write_data.next = self.rec.q.val();
                        self.serial.d.next = self.serial.q.val() + 1;
                        self.state.d.next = EngState::Finish;
                    } else {
                        // Not stored: the slot stays empty, its round keys
                        // overwritten.
                        self.status_r.d.next = self.s_storage.val();
                        if self.v_entropy.val() {
                            self.status_r.d.next = self.s_entropy.val();
                        }
                        self.rki.d.next = bits::<5>(0);
                        self.state.d.next = EngState::KcSweep;
                    }
                }
            }
            EngState::KcErase => {
                self.v_cmd.next = true;
                self.v_op.next = self.v_erase.val();
                self.state.d.next = EngState::KcEraseWait;
            }
            EngState::KcEraseWait => {
                if self.v_done.val() {
                    if self.v_ok.val() {
                        self.state.d.next = EngState::KcSweep;
                    } else {
                        self.status_r.d.next = self.s_storage.val();
                        self.state.d.next = EngState::Finish;
                    }
                }
            }
            EngState::RsLoad => {
                self.v_index.next = self.rs_idx.q.val().get_bits::<6>(0);
                if self.rs_idx.q.val().get_bit(6) {
                    self.state.d.next = EngState::Idle;
                } else if self.v_ready.val() {
                    self.v_cmd.next = true;
                    self.v_op.next = self.v_load.val();
                    self.state.d.next = EngState::RsWait;
                }
            }
            EngState::RsWait => {
                self.rec_ram.write_address.next = self.rs_idx.q.val().get_bits::<6>(0);
                if self.v_done.val() {
                    self.rs_idx.d.next = self.rs_idx.q.val() + 1;
                    self.state.d.next = EngState::RsLoad;
                    if self.v_present.val() & !self.v_ok.val() {
                        // A record that does not open: the slot says so.
                        self.rec_ram.write_enable.next = true;
                        self.rec_ram.write_data.next = bit_cast::<512, 8>(self.a_damaged.val());
                    } else if self.v_present.val() {
                        // The key enters as any key does, from its
                        // expansion on; the record keeps its fields.
                        self.rs_idx.d.next = self.rs_idx.q.val();
                        self.restoring.d.next = true;
                        self.j_slot.d.next = self.rs_idx.q.val().get_bits::<6>(0);
                        self.j_op.d.next = bits::<8>(0);
                        self.rec.d.next = self.v_rec_in.val();
                        self.kbuf.d.next = self.v_key_in.val();
                        self.lbuf.d.next = self.v_rec_in.val().get_bits::<256>(256);
                        self.fixed.d.next = self.v_rec_in.val().get_bits::<32>(192);
                        self.j_params.d.next =
                            bit_cast::<128, 8>(self.v_rec_in.val().get_bits::<8>(0))
                                | (bit_cast::<128, 16>(self.v_rec_in.val().get_bits::<16>(16))
                                    << 16);
                        self.kcv.d.next = bits::<24>(0);
                        self.aes256.d.next =
                            self.v_rec_in.val().get_bits::<8>(0) != self.a_aes128.val();
                        self.cnt.d.next = bits::<17>(0);
                        self.rki.d.next = bits::<5>(0);
                        self.rk_base.d.next = bits::<5>(0);
                        self.rd_err.d.next = false;
                        self.state.d.next = EngState::KlRaw;
                        if (self.v_rec_in.val().get_bits::<8>(0) == self.a_aes128.val())
                            | (self.v_rec_in.val().get_bits::<8>(0) == self.a_aes256.val())
                            | (self.v_rec_in.val().get_bits::<8>(0) == self.a_xts.val())
                        {
                            self.state.d.next = EngState::KlExpand;
                        }
                    }
                }
            }
            EngState::KlRaw => {
                self.rk_ram.write_address.next =
                    self.slot_rk.val() + bit_cast::<11, 5>(self.rki.q.val());
                // Entry `rki` of the seed (kbuf keeps it whole for the seal).
                self.rk_ram.write_data.next = self.kbuf.q.val().get_bits::<128>(0);
                if self.rki.q.val() == 1 {
                    self.rk_ram.write_data.next = self.kbuf.q.val().get_bits::<128>(128);
                }
                if self.rki.q.val() == 2 {
                    self.rk_ram.write_data.next = self.kbuf.q.val().get_bits::<128>(256);
                }
                if self.rki.q.val() == 3 {
                    self.rk_ram.write_data.next = self.kbuf.q.val().get_bits::<128>(384);
                }
                self.rk_ram.write_enable.next = true;
                self.rki.d.next = self.rki.q.val() + 1;
                if self.rki.q.val() == bits::<5>(3) {
                    self.state.d.next = EngState::KlRecord;
                }
            }
            EngState::KcSweep => {
                self.rk_ram.write_address.next =
                    self.slot_rk.val() + bit_cast::<11, 5>(self.rki.q.val());
                self.rk_ram.write_data.next = bits::<128>(0);
                self.rk_ram.write_enable.next = true;
                self.rki.d.next = self.rki.q.val() + 1;
                if self.rki.q.val() == bits::<5>(31) {
                    self.rec_ram.write_enable.next = true;
                    self.state.d.next = EngState::Finish;
                }
            }
            EngState::SiWrite => {
                self.dmaw_valid.next = true;
                self.dmaw_addr.next =
                    self.j_dst.q.val() + (bit_cast::<64, 17>(self.cnt.q.val()) << 4);
                self.dmaw_data.next = self.si_beat.val();
                if self.dmaw_ready.val() {
                    self.last_wr.d.next =
                        self.j_dst.q.val() + (bit_cast::<64, 17>(self.cnt.q.val()) << 4);
                    self.cnt.d.next = self.cnt.q.val() + 1;
                    if self.cnt.q.val() == bits::<17>(3) {
                        self.state.d.next = EngState::Drain;
                    }
                }
            }
            EngState::RkLoad => {
                self.rki.d.next = self.rki.q.val() + 1;
                if self.rki.q.val() == bits::<5>(1) {
                    self.rk0.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(2) {
                    self.rk1.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(3) {
                    self.rk2.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(4) {
                    self.rk3.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(5) {
                    self.rk4.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(6) {
                    self.rk5.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(7) {
                    self.rk6.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(8) {
                    self.rk7.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(9) {
                    self.rk8.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(10) {
                    self.rk9.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(11) {
                    self.rk10.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(12) {
                    self.rk11.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(13) {
                    self.rk12.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(14) {
                    self.rk13.d.next = self.rk_data.val();
                }
                if self.rki.q.val() == bits::<5>(15) {
                    self.rk14.d.next = self.rk_data.val();
                    self.state.d.next = self.rk_after.q.val();
                    self.cnt.d.next = bits::<17>(0);
                    self.h_ok.d.next = false;
                }
            }
            // ---------------------------------------------------------- GCM
            EngState::GcmH => {
                // Push the zero block once; H comes out of the pipe.
                self.pipe_push.next = !self.cnt.q.val().any();
                self.pipe_tag.next = self.t_h.val();
                if !self.cnt.q.val().any() & self.dmaw_ready.val() {
                    self.cnt.d.next = bits::<17>(1);
                    // Requests: aux (IV, tag, AAD), then the data.
                    self.rq_addr.d.next = self.j_aux.q.val();
                    self.rq_left.d.next = bit_cast::<17, 32>((self.j_aux_len.q.val() + 15) >> 4);
                    self.rq2_addr.d.next = self.j_src.q.val();
                    self.rq2_left.d.next = self.n_data.val();
                }
                if self.h_ok.q.val() {
                    self.gh.clear.next = true;
                    self.cnt.d.next = bits::<17>(0);
                    self.rem.d.next = bit_cast::<32, 16>(self.p_iv_len.val());
                    if self.p_card_iv.val() {
                        self.j0.d.next = self.card_j0.val();
                        self.state.d.next = EngState::GcmJ0;
                    } else {
                        self.state.d.next = EngState::GcmIv;
                    }
                }
            }
            EngState::GcmIv => {
                self.dmar_data_ready.next = true;
                if self.dmar_data_valid.val() {
                    self.rx.next = true;
                    self.cnt.d.next = self.cnt.q.val() + 1;
                    self.rem.d.next = self.rem.q.val() - 16;
                    if self.p_iv_len.val() == bits::<16>(12) {
                        self.j0.d.next = self.rx_masked.val() | (bits::<128>(1) << 120);
                    } else {
                        self.gh_in.next = true;
                        self.gh_block.next = self.rx_masked.val();
                    }
                    if self.cnt.q.val() + 1 == self.n_iv.val() {
                        if self.p_iv_len.val() == bits::<16>(12) {
                            self.state.d.next = EngState::GcmJ0;
                        } else {
                            self.state.d.next = EngState::GcmIvLen;
                        }
                    }
                }
            }
            EngState::GcmIvLen => {
                self.gh_in.next = true;
                self.gh_block.next = bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(56)) << 64
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(48)) << 72
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(40)) << 80
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(32)) << 88
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(24)) << 96
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(16)) << 104
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(8)) << 112
                    | bit_cast::<128, 8>(self.iv_bits.val().get_bits::<8>(0)) << 120;
                self.state.d.next = EngState::GcmIvY;
            }
            EngState::GcmIvY => {
                self.j0.d.next = self.gh.y.val();
                self.gh.clear.next = true;
                self.state.d.next = EngState::GcmJ0;
            }
            EngState::GcmJ0 => {
                self.pipe_push.next = true;
                self.pipe_in.next = self.j0.q.val();
                self.pipe_tag.next = self.t_ekj0.val();
                if self.dmaw_ready.val() {
                    self.ctr.d.next = self.j0.q.val();
                    self.state.d.next = EngState::GcmAad;
                    self.cnt.d.next = bits::<17>(0);
                    self.rem.d.next = self.p_aad_len.val();
                    if self.is_gdec.val() {
                        self.cnt.d.next = bits::<17>(0x1ffff);
                    }
                    self.gh.clear.next = false;
                }
            }
            EngState::GcmAad => {
                // cnt counts AAD beats; all ones means "the tag beat is next".
                if self.cnt.q.val() == self.n_aad.val() {
                    self.ctr.d.next = self.inc_ctr.val();
                    self.state.d.next = EngState::GcmData;
                    self.cnt.d.next = bits::<17>(0);
                    self.rem.d.next = self.j_len.q.val();
                    self.out_rem.d.next = self.j_len.q.val();
                } else {
                    self.dmar_data_ready.next = true;
                    if self.dmar_data_valid.val() {
                        self.rx.next = true;
                        if self.cnt.q.val().all() {
                            self.exp_tag.d.next = self.dmar_data.val();
                            self.cnt.d.next = bits::<17>(0);
                        } else {
                            self.gh_in.next = true;
                            self.gh_block.next = self.rx_masked.val();
                            self.rem.d.next = self.rem.q.val() - 16;
                            self.cnt.d.next = self.cnt.q.val() + 1;
                        }
                    }
                }
            }
            EngState::GcmData => {
                if self.cnt.q.val() != self.n_data.val() {
                    self.dmar_data_ready.next = self.dmaw_ready.val();
                    if self.dmar_data_valid.val() & self.dmaw_ready.val() {
                        self.rx.next = true;
                        self.pipe_push.next = true;
                        self.pipe_in.next = self.ctr.q.val();
                        self.pipe_side.next = self.rx_masked.val();
                        self.pipe_tag.next = self.t_data.val();
                        self.ctr.d.next = self.inc_ctr.val();
                        self.cnt.d.next = self.cnt.q.val() + 1;
                        self.rem.d.next = self.rem.q.val() - 16;
                    }
                } else if !self.inflight.q.val().any() {
                    self.state.d.next = EngState::GcmLen;
                }
            }
            EngState::GcmLen => {
                self.gh_in.next = true;
                self.gh_block.next = bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(56))
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(48)) << 8
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(40)) << 16
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(32)) << 24
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(24)) << 32
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(16)) << 40
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(8)) << 48
                    | bit_cast::<128, 8>(self.len_a.val().get_bits::<8>(0)) << 56
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(56)) << 64
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(48)) << 72
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(40)) << 80
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(32)) << 88
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(24)) << 96
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(16)) << 104
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(8)) << 112
                    | bit_cast::<128, 8>(self.len_c.val().get_bits::<8>(0)) << 120;
                self.state.d.next = EngState::GcmTag;
            }
            EngState::GcmTag => {
                self.tag.d.next = self.gh.y.val() ^ self.ekj0.q.val();
                if self.is_genc.val() {
                    self.state.d.next = EngState::GcmWTag;
                    self.out_len_r.d.next = self.j_len.q.val();
                } else {
                    // Compare next cycle, from the registered tag.
                    self.state.d.next = EngState::GcmZero;
                    self.zero_left.d.next = self.n_data.val();
                    self.wr_addr.d.next = self.j_dst.q.val();
                    self.out_rem.d.next = self.j_len.q.val();
                    self.cnt.d.next = bits::<17>(0);
                }
            }
            EngState::GcmWTag => {
                self.dmaw_valid.next = true;
                self.dmaw_addr.next =
                    self.j_dst.q.val() + (bit_cast::<64, 32>(self.j_len.q.val() + 15) >> 4 << 4);
                self.dmaw_data.next = self.tag.q.val();
                self.dmaw_strb.next = bits::<16>(0xffff)
                    >> (bits::<16>(16) - bit_cast::<16, 8>(self.p_tag_len.val()));
                if self.dmaw_ready.val() {
                    if self.p_card_iv.val() {
                        self.state.d.next = EngState::GcmWIv;
                    } else {
                        self.state.d.next = EngState::Drain;
                    }
                }
            }
            EngState::GcmWIv => {
                self.dmaw_valid.next = true;
                self.dmaw_addr.next = self.j_dst.q.val()
                    + (bit_cast::<64, 32>(self.j_len.q.val() + 15) >> 4 << 4)
                    + 16;
                self.dmaw_data.next = self.j0.q.val();
                self.dmaw_strb.next = bits::<16>(0x0fff);
                if self.dmaw_ready.val() {
                    self.state.d.next = EngState::Drain;
                }
            }
            EngState::GcmZero => {
                // A decryption: on a tag mismatch, overwrite the plaintext.
                if !self.tag_diff.val() {
                    self.out_len_r.d.next = self.j_len.q.val();
                    self.state.d.next = EngState::Drain;
                } else if !self.zero_left.q.val().any() {
                    self.status_r.d.next = self.s_auth.val();
                    self.state.d.next = EngState::Drain;
                } else {
                    self.dmaw_valid.next = true;
                    self.dmaw_data.next = bits::<128>(0);
                    self.dmaw_strb.next = self.strb_rem.val();
                    if self.dmaw_ready.val() {
                        self.wr_addr.d.next = self.wr_addr.q.val() + 16;
                        self.last_wr.d.next = self.wr_addr.q.val();
                        self.out_rem.d.next = self.out_rem.q.val() - 16;
                        self.zero_left.d.next = self.zero_left.q.val() - 1;
                    }
                }
            }
            // ---------------------------------------------------------- XTS
            EngState::XtsTweak => {
                self.pipe_push.next = !self.cnt.q.val().any();
                self.pipe_in.next = self.j_params.q.val();
                self.pipe_tag.next = self.t_tweak.val();
                if !self.cnt.q.val().any() & self.dmaw_ready.val() {
                    self.cnt.d.next = bits::<17>(1);
                    self.rq_addr.d.next = self.j_src.q.val();
                    self.rq_left.d.next = self.n_data.val();
                }
                if self.h_ok.q.val() {
                    // The tweak is in `tw`; now the data key.
                    self.state.d.next = EngState::RkLoad;
                    self.rk_base.d.next = bits::<5>(0);
                    self.rki.d.next = bits::<5>(0);
                    self.rk_after.d.next = EngState::XtsData;
                    self.rem.d.next = self.j_len.q.val();
                    self.out_rem.d.next = self.j_len.q.val();
                }
            }
            EngState::XtsData => {
                if self.cnt.q.val() != self.n_data.val() {
                    self.dmar_data_ready.next = self.dmaw_ready.val();
                    if self.dmar_data_valid.val() & self.dmaw_ready.val() {
                        self.rx.next = true;
                        self.cnt.d.next = self.cnt.q.val() + 1;
                        self.rem.d.next = self.rem.q.val() - 16;
                        if self.cnt.q.val() == self.n_full.val() {
                            // The partial block: kept for stealing.
                            self.part.d.next = self.rx_masked.val();
                        } else if (self.cnt.q.val() + 1 == self.n_full.val())
                            & self.b_part.val().any()
                        {
                            // The last full block, with stealing to come.
                            self.t_a.d.next = self.tw.q.val();
                            self.t_b.d.next = self.mul.tweak_alpha.val();
                            self.pipe_push.next = true;
                            self.pipe_tag.next = self.t_xhold.val();
                            if self.is_xenc.val() {
                                self.pipe_in.next = self.dmar_data.val() ^ self.tw.q.val();
                                self.pipe_side.next = self.tw.q.val();
                            } else {
                                self.pipe_in.next =
                                    self.dmar_data.val() ^ self.mul.tweak_alpha.val();
                                self.pipe_side.next = self.mul.tweak_alpha.val();
                            }
                            self.tw.d.next = self.mul.tweak_alpha.val();
                        } else {
                            self.pipe_push.next = true;
                            self.pipe_tag.next = self.t_xnorm.val();
                            self.pipe_in.next = self.dmar_data.val() ^ self.tw.q.val();
                            self.pipe_side.next = self.tw.q.val();
                            self.tw.d.next = self.mul.tweak_alpha.val();
                        }
                    }
                } else if !self.inflight.q.val().any() {
                    if self.b_part.val().any() {
                        self.state.d.next = EngState::XtsSteal;
                    } else {
                        self.state.d.next = EngState::Drain;
                    }
                }
            }
            EngState::XtsSteal => {
                // The partial output is the head of the held block; the
                // stolen block (partial input + tail of the held block) goes
                // through the pipe once more, to the last full position.
                self.dmaw_valid.next = true;
                self.dmaw_addr.next =
                    self.j_dst.q.val() + (bit_cast::<64, 17>(self.n_full.val()) << 4);
                self.dmaw_data.next = self.held.q.val() & self.part_mask.val();
                self.dmaw_strb.next = self.part_strb.val();
                self.out_rem.d.next = bits::<32>(16);
                if self.dmaw_ready.val() {
                    self.pipe_push.next = true;
                    self.pipe_tag.next = self.t_xnorm.val();
                    if self.is_xenc.val() {
                        self.pipe_in.next = ((self.part.q.val() & self.part_mask.val())
                            | (self.held.q.val() & !self.part_mask.val()))
                            ^ self.t_b.q.val();
                        self.pipe_side.next = self.t_b.q.val();
                    } else {
                        self.pipe_in.next = ((self.part.q.val() & self.part_mask.val())
                            | (self.held.q.val() & !self.part_mask.val()))
                            ^ self.t_a.q.val();
                        self.pipe_side.next = self.t_a.q.val();
                    }
                    self.last_wr.d.next =
                        self.j_dst.q.val() + (bit_cast::<64, 17>(self.n_full.val()) << 4);
                    self.state.d.next = EngState::XtsStealWait;
                }
            }
            EngState::XtsStealWait => {
                if !self.inflight.q.val().any() {
                    self.state.d.next = EngState::Drain;
                }
            }
            EngState::Drain => {
                self.state.d.next = EngState::Finish;
                if (self.is_gcm.val() | self.is_xts.val()) & !self.status_r.q.val().any() {
                    self.out_len_r.d.next = self.j_len.q.val();
                }
            }
            EngState::Finish => {
                self.busy.next = false;
                self.done.next = true;
                if self.rd_err.q.val() {
                    self.status.next = self.s_dma_read.val();
                    self.out_len.next = bits::<32>(0);
                } else if self.wr_err.q.val() | self.dmaw_err.val() {
                    self.status.next = self.s_dma_write.val();
                    self.out_len.next = bits::<32>(0);
                }
                self.state.d.next = EngState::Idle;
                if self.restoring.q.val() {
                    // A restored key that could not enter (no job runs):
                    // its slot says so, and the restore goes on.
                    self.done.next = false;
                    self.restoring.d.next = false;
                    self.rec_ram.write_enable.next = true;
                    self.rec_ram.write_data.next = bit_cast::<512, 8>(self.a_damaged.val());
                    self.rs_idx.d.next = self.rs_idx.q.val() + 1;
                    self.state.d.next = EngState::RsLoad;
                }
                self.scrub.next = true;
            }
        }

        // Pipe outputs, in any state.
        if self.po_valid.val() & self.dmaw_ready.val() {
            if self.po_tag.val() == self.t_h.val() {
                self.h.d.next = self.po_block.val();
                self.h_ok.d.next = true;
            }
            if self.po_tag.val() == self.t_ekj0.val() {
                self.ekj0.d.next = self.po_block.val();
            }
            if self.po_tag.val() == self.t_kcv.val() {
                self.kcv.d.next = self.po_block.val().get_bits::<24>(0);
                self.h_ok.d.next = true;
            }
            if self.po_tag.val() == self.t_tweak.val() {
                self.tw.d.next = self.po_block.val();
                self.h_ok.d.next = true;
            }
            if self.po_tag.val() == self.t_xhold.val() {
                self.held.d.next = self.po_x.val();
            }
            if (self.po_tag.val() == self.t_data.val()) | (self.po_tag.val() == self.t_xnorm.val())
            {
                self.dmaw_valid.next = true;
                self.dmaw_addr.next = self.wr_addr.q.val();
                self.dmaw_strb.next = self.strb_rem.val();
                self.wr_addr.d.next = self.wr_addr.q.val() + 16;
                self.last_wr.d.next = self.wr_addr.q.val();
                self.out_rem.d.next = self.out_rem.q.val() - 16;
                if self.po_tag.val() == self.t_data.val() {
                    // GCM: output = keystream ^ input, the tail masked; GHASH
                    // takes the ciphertext (encryption's output, decryption's input).
                    self.dmaw_data.next = self.po_x.val() & self.out_mask.val();
                    self.gh_in.next = true;
                    if self.is_genc.val() {
                        self.gh_block.next = self.po_x.val() & self.out_mask.val();
                    } else {
                        self.gh_block.next = self.po_side.val();
                    }
                } else {
                    self.dmaw_data.next = self.po_x.val();
                }
            }
        }
        if self.pipe_push.val()
            & self.dmaw_ready.val()
            & !(self.po_valid.val() & self.dmaw_ready.val())
        {
            self.inflight.d.next = self.inflight.q.val() + 1;
        }
        if !(self.pipe_push.val() & self.dmaw_ready.val())
            & self.po_valid.val()
            & self.dmaw_ready.val()
        {
            self.inflight.d.next = self.inflight.q.val() - 1;
        }
        self.enc.in_valid.next = self.pipe_push.val() & !self.use_dec.val();
        self.dec.in_valid.next = self.pipe_push.val() & self.use_dec.val();
        self.enc.in_block.next = self.pipe_in.val();
        self.dec.in_block.next = self.pipe_in.val();
        self.enc.in_side.next = self.pipe_side.val();
        self.dec.in_side.next = self.pipe_side.val();
        self.enc.in_tag.next = self.pipe_tag.val();
        self.dec.in_tag.next = self.pipe_tag.val();
        self.gh.in_valid.next = self.gh_in.val();
        self.gh.in_block.next = self.gh_block.val();
        // Nothing of the key outlives the job, or a reset (zeroization
        // included), in working registers.
        if self.scrub.val() | self.reset.val() {
            self.rk0.d.next = bits::<128>(0);
            self.rk1.d.next = bits::<128>(0);
            self.rk2.d.next = bits::<128>(0);
            self.rk3.d.next = bits::<128>(0);
            self.rk4.d.next = bits::<128>(0);
            self.rk5.d.next = bits::<128>(0);
            self.rk6.d.next = bits::<128>(0);
            self.rk7.d.next = bits::<128>(0);
            self.rk8.d.next = bits::<128>(0);
            self.rk9.d.next = bits::<128>(0);
            self.rk10.d.next = bits::<128>(0);
            self.rk11.d.next = bits::<128>(0);
            self.rk12.d.next = bits::<128>(0);
            self.rk13.d.next = bits::<128>(0);
            self.rk14.d.next = bits::<128>(0);
            self.h.d.next = bits::<128>(0);
            self.ekj0.d.next = bits::<128>(0);
            self.tag.d.next = bits::<128>(0);
            self.tw.d.next = bits::<128>(0);
            self.t_a.d.next = bits::<128>(0);
            self.t_b.d.next = bits::<128>(0);
            self.held.d.next = bits::<128>(0);
            self.part.d.next = bits::<128>(0);
            self.kbuf.d.next = bits::<512>(0);
            self.gh.clear.next = true;
        }
        if self.rx.val() & self.dmar_data_err.val() & !self.rd_err.q.val() {
            self.rd_err.d.next = true;
            self.read_fault.next = true;
            self.fault_addr.next = self.rq_addr.q.val();
        }

        if self.reset.val() {
            self.state.d.next = EngState::Init;
            self.init_ctr.d.next = bits::<12>(0);
            self.kat_n.d.next = false;
            self.kat_key.d.next = false;
            self.kat_hold.d.next = false;
            self.kat_bad.d.next = false;
            self.rq_left.d.next = bits::<17>(0);
            self.rq2_left.d.next = bits::<17>(0);
            self.inflight.d.next = bits::<6>(0);
            self.kbuf.d.next = bits::<512>(0);
        }
    }
}
