//! The descriptor checks: the status the card gives a descriptor from its
//! fields alone, in the order `hsm_contract::Descriptor::precheck` defines
//! (that function is the reference; a differential test compares them).
//!
//! Every constant (opcodes, statuses, limits, algorithm codes, policy
//! mask) comes from the contract as a [`Constant`].

use crate::consts::{c32, opcode, status};
use hsm_contract::auth;
use hsm_contract::crypto::{self, GcmParams, KeyAlg};
use hsm_contract::hash::{self, HashAlg};
use hsm_contract::kem::{self, KemSet};
use hsm_contract::{Opcode, Status};
use rust_hdl::prelude::*;

/// Descriptor checker. Its result is registered: `status` and
/// `is_engine_op` describe the inputs of the previous cycle.
#[derive(LogicBlock)]
pub struct DescChecker {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// The card runs in test mode.
    pub test_mode: Signal<In, Bit>,
    /// A power-on self-test failed: every job is refused.
    pub blocked: Signal<In, Bit>,
    /// Descriptor `version`.
    pub version: Signal<In, Bits<8>>,
    /// Descriptor `opcode`.
    pub opcode: Signal<In, Bits<8>>,
    /// Descriptor `flags`.
    pub flags: Signal<In, Bits<16>>,
    /// Descriptor `src_addr`.
    pub src_addr: Signal<In, Bits<64>>,
    /// Descriptor `dst_addr`.
    pub dst_addr: Signal<In, Bits<64>>,
    /// Descriptor `src_len`.
    pub src_len: Signal<In, Bits<32>>,
    /// Descriptor `dst_len`.
    pub dst_len: Signal<In, Bits<32>>,
    /// Descriptor `aux_addr`.
    pub aux_addr: Signal<In, Bits<64>>,
    /// Descriptor `aux_len`.
    pub aux_len: Signal<In, Bits<32>>,
    /// Descriptor `key_slot`.
    pub key_slot: Signal<In, Bits<16>>,
    /// Descriptor `reserved0`.
    pub reserved0: Signal<In, Bits<16>>,
    /// Descriptor `params`.
    pub params: Signal<In, Bits<128>>,
    /// The status: OK when the descriptor passes.
    pub status: Signal<Out, Bits<16>>,
    /// The operation is one the crypto engine runs.
    pub is_engine_op: Signal<Out, Bit>,
    /// The operation is a hash job (the hash engine runs it).
    pub is_hash_op: Signal<Out, Bit>,
    /// The operation is an ML-KEM job (the ML-KEM engine runs it).
    pub is_kem_op: Signal<Out, Bit>,
    /// An ML-KEM KeyGen or Encaps job that takes its randomness from the
    /// card's DRBG (not from `src`).
    pub kem_card_rand: Signal<Out, Bit>,
    /// The operation is `RNG_GENERATE` (the RNG job engine runs it).
    pub is_rng_op: Signal<Out, Bit>,
    /// The operation is an auth job (the auth unit runs it).
    pub is_auth_op: Signal<Out, Bit>,

    status_r: DFF<Bits<16>>,
    engine_r: DFF<Bit>,
    hash_r: DFF<Bit>,
    kem_r: DFF<Bit>,
    kem_rand_r: DFF<Bit>,
    rng_r: DFF<Bit>,
    auth_r: DFF<Bit>,
    is_rng: Signal<Local, Bit>,
    is_cinit: Signal<Local, Bit>,
    is_login: Signal<Local, Bit>,
    is_logout: Signal<Local, Bit>,
    is_setpin: Signal<Local, Bit>,
    is_cinfo: Signal<Local, Bit>,
    is_pin: Signal<Local, Bit>,
    is_auth: Signal<Local, Bit>,
    o_cinit: Constant<Bits<8>>,
    o_login: Constant<Bits<8>>,
    o_logout: Constant<Bits<8>>,
    o_setpin: Constant<Bits<8>>,
    o_cinfo: Constant<Bits<8>>,
    pin_min: Constant<Bits<32>>,
    pin_max: Constant<Bits<32>>,
    card_label: Constant<Bits<32>>,
    info_bytes: Constant<Bits<32>>,
    s_bad_role: Constant<Bits<16>>,
    kem_host: Signal<Local, Bit>,
    kem_src_card: Signal<Local, Bits<32>>,
    o_rng: Constant<Bits<8>>,
    is_kkg: Signal<Local, Bit>,
    is_ken: Signal<Local, Bit>,
    is_kde: Signal<Local, Bit>,
    is_kem: Signal<Local, Bit>,
    k_expose: Signal<Local, Bit>,
    k_target: Signal<Local, Bits<8>>,
    kem_set_ok: Signal<Local, Bit>,
    kem_ek: Signal<Local, Bits<32>>,
    kem_ct: Signal<Local, Bits<32>>,
    kem_dkp: Signal<Local, Bits<32>>,
    kem_src: Signal<Local, Bits<32>>,
    kem_aux: Signal<Local, Bits<32>>,
    kem_need: Signal<Local, Bits<32>>,
    status_c: Signal<Local, Bits<16>>,
    engine_c: Signal<Local, Bit>,
    is_nop: Signal<Local, Bit>,
    is_zz: Signal<Local, Bit>,
    is_copy: Signal<Local, Bit>,
    is_genc: Signal<Local, Bit>,
    is_gdec: Signal<Local, Bit>,
    is_gcm: Signal<Local, Bit>,
    is_xts: Signal<Local, Bit>,
    is_kload: Signal<Local, Bit>,
    is_kgen: Signal<Local, Bit>,
    is_kkey: Signal<Local, Bit>,
    is_kclear: Signal<Local, Bit>,
    is_sinfo: Signal<Local, Bit>,
    is_hash: Signal<Local, Bit>,
    is_shake: Signal<Local, Bit>,
    h_partial: Signal<Local, Bit>,
    h_resume: Signal<Local, Bit>,
    h_digest: Signal<Local, Bits<32>>,
    known: Signal<Local, Bit>,
    u_src: Signal<Local, Bit>,
    u_dst: Signal<Local, Bit>,
    u_aux: Signal<Local, Bit>,
    u_slot: Signal<Local, Bit>,
    u_params: Signal<Local, Bit>,
    rsvd: Signal<Local, Bit>,
    iv_len: Signal<Local, Bits<16>>,
    tag_len: Signal<Local, Bits<8>>,
    gflags: Signal<Local, Bits<8>>,
    aad_len: Signal<Local, Bits<32>>,
    card_iv: Signal<Local, Bit>,
    k_alg: Signal<Local, Bits<8>>,
    k_policy: Signal<Local, Bits<16>>,
    too_large: Signal<Local, Bit>,
    misaligned: Signal<Local, Bit>,
    iv_pad: Signal<Local, Bits<32>>,
    gcm_aux: Signal<Local, Bits<32>>,
    src_pad: Signal<Local, Bits<32>>,
    need: Signal<Local, Bits<32>>,
    iv_ok: Signal<Local, Bit>,
    key_len: Signal<Local, Bits<32>>,

    c_desc_version: Constant<Bits<8>>,
    o_nop: Constant<Bits<8>>,
    o_zz: Constant<Bits<8>>,
    o_copy: Constant<Bits<8>>,
    o_genc: Constant<Bits<8>>,
    o_gdec: Constant<Bits<8>>,
    o_xenc: Constant<Bits<8>>,
    o_xdec: Constant<Bits<8>>,
    o_kload: Constant<Bits<8>>,
    o_kgen: Constant<Bits<8>>,
    o_kclear: Constant<Bits<8>>,
    o_sinfo: Constant<Bits<8>>,
    o_sha3_224: Constant<Bits<8>>,
    o_sha3_256: Constant<Bits<8>>,
    o_sha3_384: Constant<Bits<8>>,
    o_sha3_512: Constant<Bits<8>>,
    o_shake128: Constant<Bits<8>>,
    o_shake256: Constant<Bits<8>>,
    dg_224: Constant<Bits<32>>,
    dg_256: Constant<Bits<32>>,
    dg_384: Constant<Bits<32>>,
    dg_512: Constant<Bits<32>>,
    state_bytes: Constant<Bits<32>>,
    hash_flags: Constant<Bits<16>>,
    f_resume: Constant<Bits<16>>,
    f_partial: Constant<Bits<16>>,
    max_len: Constant<Bits<32>>,
    max_iv: Constant<Bits<16>>,
    label_bytes: Constant<Bits<32>>,
    record_bytes: Constant<Bits<32>>,
    slots: Constant<Bits<16>>,
    policy_all: Constant<Bits<16>>,
    card_iv_flag: Constant<Bits<8>>,
    alg_aes128: Constant<Bits<8>>,
    alg_aes256: Constant<Bits<8>>,
    alg_xts: Constant<Bits<8>>,
    len_aes128: Constant<Bits<32>>,
    len_aes256: Constant<Bits<32>>,
    len_xts: Constant<Bits<32>>,
    s_ok: Constant<Bits<16>>,
    s_bad_version: Constant<Bits<16>>,
    s_selftest: Constant<Bits<16>>,
    s_bad_opcode: Constant<Bits<16>>,
    s_reserved: Constant<Bits<16>>,
    s_too_large: Constant<Bits<16>>,
    s_too_small: Constant<Bits<16>>,
    s_misaligned: Constant<Bits<16>>,
    s_bad_length: Constant<Bits<16>>,
    s_bad_slot: Constant<Bits<16>>,
    s_not_test: Constant<Bits<16>>,
    s_bad_iv: Constant<Bits<16>>,
    s_bad_tag: Constant<Bits<16>>,
    s_bad_alg: Constant<Bits<16>>,
    o_kkg: Constant<Bits<8>>,
    o_ken: Constant<Bits<8>>,
    o_kde: Constant<Bits<8>>,
    kem_flags: Constant<Bits<16>>,
    f_expose: Constant<Bits<16>>,
    alg_k512: Constant<Bits<8>>,
    alg_k768: Constant<Bits<8>>,
    alg_k1024: Constant<Bits<8>>,
    ek_512: Constant<Bits<32>>,
    ek_768: Constant<Bits<32>>,
    ek_1024: Constant<Bits<32>>,
    ct_512: Constant<Bits<32>>,
    ct_768: Constant<Bits<32>>,
    ct_1024: Constant<Bits<32>>,
    dkp_512: Constant<Bits<32>>,
    dkp_768: Constant<Bits<32>>,
    dkp_1024: Constant<Bits<32>>,
    seed_bytes: Constant<Bits<32>>,
    m_bytes: Constant<Bits<32>>,
    ss_bytes: Constant<Bits<32>>,
}

impl Default for DescChecker {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            status_r: Default::default(),
            engine_r: Default::default(),
            hash_r: Default::default(),
            kem_r: Default::default(),
            kem_rand_r: Default::default(),
            rng_r: Default::default(),
            auth_r: Default::default(),
            is_rng: Default::default(),
            is_auth_op: Default::default(),
            is_cinit: Default::default(),
            is_login: Default::default(),
            is_logout: Default::default(),
            is_setpin: Default::default(),
            is_cinfo: Default::default(),
            is_pin: Default::default(),
            is_auth: Default::default(),
            o_cinit: opcode(Opcode::CardInit),
            o_login: opcode(Opcode::Login),
            o_logout: opcode(Opcode::Logout),
            o_setpin: opcode(Opcode::SetPin),
            o_cinfo: opcode(Opcode::CardInfo),
            pin_min: c32(auth::PIN_MIN_BYTES as u64),
            pin_max: c32(auth::PIN_MAX_BYTES as u64),
            card_label: c32(auth::CARD_LABEL_BYTES as u64),
            info_bytes: c32(auth::AUTH_INFO_BYTES as u64),
            s_bad_role: status(Status::BadRole),
            kem_host: Default::default(),
            kem_src_card: Default::default(),
            o_rng: opcode(Opcode::RngGenerate),
            kem_card_rand: Default::default(),
            is_rng_op: Default::default(),
            is_kem_op: Default::default(),
            is_kkg: Default::default(),
            is_ken: Default::default(),
            is_kde: Default::default(),
            is_kem: Default::default(),
            k_expose: Default::default(),
            k_target: Default::default(),
            kem_set_ok: Default::default(),
            kem_ek: Default::default(),
            kem_ct: Default::default(),
            kem_dkp: Default::default(),
            kem_src: Default::default(),
            kem_aux: Default::default(),
            kem_need: Default::default(),
            is_hash_op: Default::default(),
            is_hash: Default::default(),
            is_shake: Default::default(),
            h_partial: Default::default(),
            h_resume: Default::default(),
            h_digest: Default::default(),
            status_c: Default::default(),
            engine_c: Default::default(),
            test_mode: Default::default(),
            blocked: Default::default(),
            version: Default::default(),
            opcode: Default::default(),
            flags: Default::default(),
            src_addr: Default::default(),
            dst_addr: Default::default(),
            src_len: Default::default(),
            dst_len: Default::default(),
            aux_addr: Default::default(),
            aux_len: Default::default(),
            key_slot: Default::default(),
            reserved0: Default::default(),
            params: Default::default(),
            status: Default::default(),
            is_engine_op: Default::default(),
            is_nop: Default::default(),
            is_zz: Default::default(),
            is_copy: Default::default(),
            is_genc: Default::default(),
            is_gdec: Default::default(),
            is_gcm: Default::default(),
            is_xts: Default::default(),
            is_kload: Default::default(),
            is_kgen: Default::default(),
            is_kkey: Default::default(),
            is_kclear: Default::default(),
            is_sinfo: Default::default(),
            known: Default::default(),
            u_src: Default::default(),
            u_dst: Default::default(),
            u_aux: Default::default(),
            u_slot: Default::default(),
            u_params: Default::default(),
            rsvd: Default::default(),
            iv_len: Default::default(),
            tag_len: Default::default(),
            gflags: Default::default(),
            aad_len: Default::default(),
            card_iv: Default::default(),
            k_alg: Default::default(),
            k_policy: Default::default(),
            too_large: Default::default(),
            misaligned: Default::default(),
            iv_pad: Default::default(),
            gcm_aux: Default::default(),
            src_pad: Default::default(),
            need: Default::default(),
            iv_ok: Default::default(),
            key_len: Default::default(),
            c_desc_version: Constant::new((hsm_contract::DESCRIPTOR_VERSION as u64).into()),
            o_nop: opcode(Opcode::Nop),
            o_zz: opcode(Opcode::CardZeroize),
            o_copy: opcode(Opcode::Copy),
            o_genc: opcode(Opcode::AesGcmEncrypt),
            o_gdec: opcode(Opcode::AesGcmDecrypt),
            o_xenc: opcode(Opcode::AesXtsEncrypt),
            o_xdec: opcode(Opcode::AesXtsDecrypt),
            o_kload: opcode(Opcode::KeyLoad),
            o_kgen: opcode(Opcode::KeyGenerate),
            o_kclear: opcode(Opcode::KeyClear),
            o_sinfo: opcode(Opcode::SlotInfo),
            o_sha3_224: opcode(Opcode::Sha3_224),
            o_sha3_256: opcode(Opcode::Sha3_256),
            o_sha3_384: opcode(Opcode::Sha3_384),
            o_sha3_512: opcode(Opcode::Sha3_512),
            o_shake128: opcode(Opcode::Shake128),
            o_shake256: opcode(Opcode::Shake256),
            dg_224: c32(HashAlg::Sha3_224.digest_bytes().unwrap_or(0) as u64),
            dg_256: c32(HashAlg::Sha3_256.digest_bytes().unwrap_or(0) as u64),
            dg_384: c32(HashAlg::Sha3_384.digest_bytes().unwrap_or(0) as u64),
            dg_512: c32(HashAlg::Sha3_512.digest_bytes().unwrap_or(0) as u64),
            state_bytes: c32(hash::SPONGE_STATE_BYTES as u64),
            hash_flags: Constant::new((hash::flags::ALL as u64).into()),
            f_resume: Constant::new((hash::flags::RESUME as u64).into()),
            f_partial: Constant::new((hash::flags::PARTIAL as u64).into()),
            max_len: c32(hsm_contract::MAX_JOB_BYTES as u64),
            max_iv: Constant::new((crypto::MAX_IV_BYTES as u64).into()),
            label_bytes: c32(crypto::LABEL_BYTES as u64),
            record_bytes: c32(crypto::SLOT_RECORD_BYTES as u64),
            slots: Constant::new((crypto::KEY_SLOTS as u64).into()),
            policy_all: Constant::new((crypto::policy::ALL as u64).into()),
            card_iv_flag: Constant::new((GcmParams::CARD_IV as u64).into()),
            alg_aes128: Constant::new((KeyAlg::Aes128 as u8 as u64).into()),
            alg_aes256: Constant::new((KeyAlg::Aes256 as u8 as u64).into()),
            alg_xts: Constant::new((KeyAlg::XtsAes256 as u8 as u64).into()),
            len_aes128: c32(KeyAlg::Aes128.key_bytes() as u64),
            len_aes256: c32(KeyAlg::Aes256.key_bytes() as u64),
            len_xts: c32(KeyAlg::XtsAes256.key_bytes() as u64),
            s_ok: status(Status::Ok),
            s_bad_version: status(Status::BadVersion),
            s_selftest: status(Status::SelfTestFailed),
            s_bad_opcode: status(Status::BadOpcode),
            s_reserved: status(Status::ReservedField),
            s_too_large: status(Status::LengthTooLarge),
            s_too_small: status(Status::OutputTooSmall),
            s_misaligned: status(Status::Misaligned),
            s_bad_length: status(Status::BadLength),
            s_bad_slot: status(Status::BadSlot),
            s_not_test: status(Status::NotTestMode),
            s_bad_iv: status(Status::BadIvLength),
            s_bad_tag: status(Status::BadTagLength),
            s_bad_alg: status(Status::BadAlgorithm),
            o_kkg: opcode(Opcode::KemKeygen),
            o_ken: opcode(Opcode::KemEncaps),
            o_kde: opcode(Opcode::KemDecaps),
            kem_flags: Constant::new((kem::flags::ALL as u64).into()),
            f_expose: Constant::new((kem::flags::EXPOSE as u64).into()),
            alg_k512: Constant::new((KeyAlg::MlKem512 as u8 as u64).into()),
            alg_k768: Constant::new((KeyAlg::MlKem768 as u8 as u64).into()),
            alg_k1024: Constant::new((KeyAlg::MlKem1024 as u8 as u64).into()),
            ek_512: c32(KemSet::MlKem512.ek_bytes() as u64),
            ek_768: c32(KemSet::MlKem768.ek_bytes() as u64),
            ek_1024: c32(KemSet::MlKem1024.ek_bytes() as u64),
            ct_512: c32(KemSet::MlKem512.ct_bytes() as u64),
            ct_768: c32(KemSet::MlKem768.ct_bytes() as u64),
            ct_1024: c32(KemSet::MlKem1024.ct_bytes() as u64),
            dkp_512: c32(KemSet::MlKem512.dk_pke_bytes() as u64),
            dkp_768: c32(KemSet::MlKem768.dk_pke_bytes() as u64),
            dkp_1024: c32(KemSet::MlKem1024.dk_pke_bytes() as u64),
            seed_bytes: c32(kem::SEED_BYTES as u64),
            m_bytes: c32(kem::M_BYTES as u64),
            ss_bytes: c32(kem::SHARED_SECRET_BYTES as u64),
        }
    }
}

impl Logic for DescChecker {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, status_r, engine_r, hash_r, kem_r, kem_rand_r, rng_r, auth_r);
        self.kem_card_rand.next = self.kem_rand_r.q.val();
        self.is_auth_op.next = self.auth_r.q.val();
        self.is_rng_op.next = self.rng_r.q.val();
        self.is_rng.next = self.opcode.val() == self.o_rng.val();
        self.status.next = self.status_r.q.val();
        self.is_engine_op.next = self.engine_r.q.val();
        self.is_hash_op.next = self.hash_r.q.val();
        self.is_kem_op.next = self.kem_r.q.val();
        self.is_kkg.next = self.opcode.val() == self.o_kkg.val();
        self.is_ken.next = self.opcode.val() == self.o_ken.val();
        self.is_kde.next = self.opcode.val() == self.o_kde.val();
        self.is_kem.next = self.is_kkg.val() | self.is_ken.val() | self.is_kde.val();
        self.k_expose.next = self.is_kem.val() & (self.flags.val() & self.f_expose.val()).any();
        self.k_target.next = self.params.val().get_bits::<8>(32);
        // ML-KEM sizes of the named parameter set.
        self.kem_set_ok.next = true;
        self.kem_ek.next = self.ek_1024.val();
        self.kem_ct.next = self.ct_1024.val();
        self.kem_dkp.next = self.dkp_1024.val();
        if self.params.val().get_bits::<8>(0) == self.alg_k512.val() {
            self.kem_ek.next = self.ek_512.val();
            self.kem_ct.next = self.ct_512.val();
            self.kem_dkp.next = self.dkp_512.val();
        } else if self.params.val().get_bits::<8>(0) == self.alg_k768.val() {
            self.kem_ek.next = self.ek_768.val();
            self.kem_ct.next = self.ct_768.val();
            self.kem_dkp.next = self.dkp_768.val();
        } else if self.params.val().get_bits::<8>(0) != self.alg_k1024.val() {
            self.kem_set_ok.next = false;
        }
        self.kem_src.next = self.kem_ct.val();
        self.kem_src_card.next = self.kem_ct.val();
        self.kem_need.next = bits::<32>(0);
        if self.is_kkg.val() {
            self.kem_src.next = self.seed_bytes.val();
            self.kem_src_card.next = bits::<32>(0);
            self.kem_need.next = self.kem_ek.val();
            if self.k_expose.val() {
                self.kem_need.next = self.kem_ek.val() + self.kem_dkp.val();
            }
        }
        if self.is_ken.val() {
            self.kem_src.next = self.kem_ek.val() + self.m_bytes.val();
            self.kem_src_card.next = self.kem_ek.val();
            self.kem_need.next = self.kem_ct.val();
            if self.k_expose.val() {
                self.kem_need.next = self.kem_ct.val() + self.ss_bytes.val();
            }
        }
        if self.is_kde.val() & self.k_expose.val() {
            self.kem_need.next = self.ss_bytes.val();
        }
        // KeyGen and Encaps with their randomness in `src` (test mode).
        self.kem_host.next = (self.is_kkg.val() | self.is_ken.val())
            & (self.src_len.val() != self.kem_src_card.val());
        self.kem_aux.next = self.label_bytes.val();
        if self.k_expose.val() & !self.is_kkg.val() {
            self.kem_aux.next = bits::<32>(0);
        }
        self.is_nop.next = self.opcode.val() == self.o_nop.val();
        self.is_zz.next = self.opcode.val() == self.o_zz.val();
        self.is_copy.next = self.opcode.val() == self.o_copy.val();
        self.is_genc.next = self.opcode.val() == self.o_genc.val();
        self.is_gdec.next = self.opcode.val() == self.o_gdec.val();
        self.is_gcm.next = self.is_genc.val() | self.is_gdec.val();
        self.is_xts.next =
            (self.opcode.val() == self.o_xenc.val()) | (self.opcode.val() == self.o_xdec.val());
        self.is_kload.next = self.opcode.val() == self.o_kload.val();
        self.is_kgen.next = self.opcode.val() == self.o_kgen.val();
        self.is_kkey.next = self.is_kload.val() | self.is_kgen.val();
        self.is_kclear.next = self.opcode.val() == self.o_kclear.val();
        self.is_sinfo.next = self.opcode.val() == self.o_sinfo.val();
        self.is_shake.next = (self.opcode.val() == self.o_shake128.val())
            | (self.opcode.val() == self.o_shake256.val());
        self.is_hash.next = (self.opcode.val() == self.o_sha3_224.val())
            | (self.opcode.val() == self.o_sha3_256.val())
            | (self.opcode.val() == self.o_sha3_384.val())
            | (self.opcode.val() == self.o_sha3_512.val())
            | self.is_shake.val();
        self.h_partial.next = (self.flags.val() & self.f_partial.val()).any();
        self.h_resume.next = (self.flags.val() & self.f_resume.val()).any();
        self.h_digest.next = bits::<32>(0);
        if self.opcode.val() == self.o_sha3_224.val() {
            self.h_digest.next = self.dg_224.val();
        }
        if self.opcode.val() == self.o_sha3_256.val() {
            self.h_digest.next = self.dg_256.val();
        }
        if self.opcode.val() == self.o_sha3_384.val() {
            self.h_digest.next = self.dg_384.val();
        }
        if self.opcode.val() == self.o_sha3_512.val() {
            self.h_digest.next = self.dg_512.val();
        }
        self.is_cinit.next = self.opcode.val() == self.o_cinit.val();
        self.is_login.next = self.opcode.val() == self.o_login.val();
        self.is_logout.next = self.opcode.val() == self.o_logout.val();
        self.is_setpin.next = self.opcode.val() == self.o_setpin.val();
        self.is_cinfo.next = self.opcode.val() == self.o_cinfo.val();
        self.is_pin.next = self.is_cinit.val() | self.is_login.val() | self.is_setpin.val();
        self.is_auth.next = self.is_pin.val() | self.is_logout.val() | self.is_cinfo.val();
        self.known.next = self.is_auth.val()
            | self.is_hash.val()
            | self.is_nop.val()
            | self.is_zz.val()
            | self.is_copy.val()
            | self.is_gcm.val()
            | self.is_xts.val()
            | self.is_kkey.val()
            | self.is_kclear.val()
            | self.is_sinfo.val()
            | self.is_kem.val()
            | self.is_rng.val();
        self.engine_c.next = self.is_auth.val()
            | self.is_hash.val()
            | self.is_rng.val()
            | self.is_gcm.val()
            | self.is_xts.val()
            | self.is_kkey.val()
            | self.is_kclear.val()
            | self.is_sinfo.val()
            | self.is_kem.val();

        // Which fields each operation uses (Opcode::fields_used).
        self.u_src.next = self.is_pin.val()
            | self.is_copy.val()
            | self.is_gcm.val()
            | self.is_xts.val()
            | self.is_kload.val()
            | self.is_hash.val()
            | self.is_kem.val();
        self.u_dst.next = self.is_cinfo.val()
            | self.is_copy.val()
            | self.is_rng.val()
            | self.is_gcm.val()
            | self.is_xts.val()
            | self.is_sinfo.val()
            | self.is_hash.val()
            | self.is_kem.val();
        self.u_aux.next = self.is_cinit.val()
            | self.is_gcm.val()
            | self.is_kkey.val()
            | self.is_hash.val()
            | self.is_kem.val();
        self.u_slot.next = self.is_gcm.val()
            | self.is_xts.val()
            | self.is_kkey.val()
            | self.is_kclear.val()
            | self.is_sinfo.val()
            | self.is_kkg.val()
            | self.is_kde.val();
        self.u_params.next = self.is_pin.val()
            | self.is_gcm.val()
            | self.is_xts.val()
            | self.is_kkey.val()
            | self.is_kem.val();

        // Parameter blocks.
        self.iv_len.next = self.params.val().get_bits::<16>(0);
        self.tag_len.next = self.params.val().get_bits::<8>(16);
        self.gflags.next = self.params.val().get_bits::<8>(24);
        self.aad_len.next = self.params.val().get_bits::<32>(32);
        self.card_iv.next = (self.gflags.val() & self.card_iv_flag.val()).any();
        self.k_alg.next = self.params.val().get_bits::<8>(0);
        self.k_policy.next = self.params.val().get_bits::<16>(16);

        // XTS jobs use flags[2:0] (pad bits), hash jobs their two flags;
        // every other flag is reserved.
        self.rsvd.next = (self.flags.val().any()
            & !self.is_xts.val()
            & !self.is_hash.val()
            & !self.is_kem.val())
            | (self.is_hash.val() & (self.flags.val() & !self.hash_flags.val()).any())
            | (self.is_kem.val() & (self.flags.val() & !self.kem_flags.val()).any())
            | (self.is_kem.val()
                & (self.params.val().get_bits::<8>(8).any()
                    | self.params.val().get_bits::<88>(40).any()
                    | (self.k_policy.val() & !self.policy_all.val()).any()))
            | (self.is_kkg.val() & self.k_target.val().any())
            | (self.k_expose.val()
                & !self.is_kkg.val()
                & (self.k_policy.val().any()
                    | self.k_target.val().any()
                    | self.aux_addr.val().any()
                    | self.aux_len.val().any()))
            | (self.is_pin.val() & self.params.val().get_bits::<120>(8).any())
            | self.flags.val().get_bits::<13>(3).any()
            | self.reserved0.val().any()
            | (!self.u_src.val() & (self.src_addr.val().any() | self.src_len.val().any()))
            | (!self.u_dst.val() & (self.dst_addr.val().any() | self.dst_len.val().any()))
            | (!self.u_aux.val() & (self.aux_addr.val().any() | self.aux_len.val().any()))
            | (!self.u_slot.val() & self.key_slot.val().any())
            | (!self.u_params.val() & self.params.val().any())
            | (self.is_gcm.val()
                & (self.params.val().get_bits::<64>(64).any()
                    | (self.gflags.val() & !self.card_iv_flag.val()).any()))
            | (self.is_kkey.val()
                & (self.params.val().get_bits::<8>(8).any()
                    | self.params.val().get_bits::<96>(32).any()
                    | (self.k_policy.val() & !self.policy_all.val()).any()));

        self.too_large.next = ((self.is_copy.val() | self.is_xts.val() | self.is_gcm.val())
            & (self.src_len.val() > self.max_len.val()))
            | (self.is_gcm.val() & (self.aad_len.val() > self.max_len.val()))
            | (self.is_hash.val() & (self.src_len.val() > self.max_len.val()))
            | (self.is_rng.val() & (self.dst_len.val() > self.max_len.val()))
            | (self.is_shake.val()
                & !self.h_partial.val()
                & (self.dst_len.val() > self.max_len.val()));
        self.misaligned.next = (self.is_auth.val()
            | self.is_gcm.val()
            | self.is_hash.val()
            | self.is_xts.val()
            | self.is_kkey.val()
            | self.is_kclear.val()
            | self.is_sinfo.val()
            | self.is_kem.val()
            | self.is_rng.val())
            & (self.src_addr.val().get_bits::<4>(0).any()
                | self.dst_addr.val().get_bits::<4>(0).any()
                | self.aux_addr.val().get_bits::<4>(0).any());

        // GCM layout.
        self.iv_pad.next = ((bit_cast::<32, 16>(self.iv_len.val()) + 15) >> 4) << 4;
        self.src_pad.next = ((self.src_len.val() + 15) >> 4) << 4;
        self.gcm_aux.next = self.iv_pad.val() + self.aad_len.val();
        if self.is_gdec.val() {
            self.gcm_aux.next = self.iv_pad.val() + self.aad_len.val() + 16;
        }
        if self.card_iv.val() {
            self.iv_ok.next = self.is_genc.val() & !self.iv_len.val().any();
        } else {
            self.iv_ok.next = self.iv_len.val().any() & (self.iv_len.val() <= self.max_iv.val());
        }
        // KEY_LOAD key length by algorithm.
        self.key_len.next = bits::<32>(0);
        if self.k_alg.val() == self.alg_aes128.val() {
            self.key_len.next = self.len_aes128.val();
        }
        if self.k_alg.val() == self.alg_aes256.val() {
            self.key_len.next = self.len_aes256.val();
        }
        if self.k_alg.val() == self.alg_xts.val() {
            self.key_len.next = self.len_xts.val();
        }
        // Output capacity.
        self.need.next = bits::<32>(0);
        if self.is_copy.val() | self.is_xts.val() | self.is_gdec.val() {
            self.need.next = self.src_len.val();
        }
        if self.is_genc.val() {
            self.need.next = self.src_pad.val() + 16;
            if self.card_iv.val() {
                self.need.next = self.src_pad.val() + 32;
            }
        }
        if self.is_sinfo.val() {
            self.need.next = self.record_bytes.val();
        }
        if self.is_cinfo.val() {
            self.need.next = self.info_bytes.val();
        }
        if self.is_kem.val() {
            self.need.next = self.kem_need.val();
        }
        if self.is_hash.val() {
            self.need.next = self.h_digest.val();
            if self.h_partial.val() {
                self.need.next = self.state_bytes.val();
            }
        }

        // The checks, in the contract's order.
        self.status_c.next = self.s_ok.val();
        if self.blocked.val() & !self.is_zz.val() {
            self.status_c.next = self.s_selftest.val();
        } else if self.version.val() != self.c_desc_version.val() {
            self.status_c.next = self.s_bad_version.val();
        } else if !self.known.val() {
            self.status_c.next = self.s_bad_opcode.val();
        } else if self.rsvd.val() {
            self.status_c.next = self.s_reserved.val();
        } else if self.too_large.val() {
            self.status_c.next = self.s_too_large.val();
        } else if self.misaligned.val() {
            self.status_c.next = self.s_misaligned.val();
        } else if self.is_gcm.val() & !self.iv_ok.val() {
            self.status_c.next = self.s_bad_iv.val();
        } else if self.is_gcm.val()
            & ((self.tag_len.val() < bits::<8>(4)) | (self.tag_len.val() > bits::<8>(16)))
        {
            self.status_c.next = self.s_bad_tag.val();
        } else if (self.is_gcm.val() & (self.aux_len.val() != self.gcm_aux.val()))
            | (self.is_hash.val()
                & ((self.h_resume.val() & (self.aux_len.val() != self.state_bytes.val()))
                    | (!self.h_resume.val() & self.aux_len.val().any())))
            | (self.is_xts.val()
                & ((self.src_len.val() < bits::<32>(16))
                    | ((self.src_len.val() == bits::<32>(16))
                        & self.flags.val().get_bits::<3>(0).any())))
        {
            self.status_c.next = self.s_bad_length.val();
        } else if (self.is_kkey.val() & !self.key_len.val().any())
            | (self.is_kem.val() & !self.kem_set_ok.val())
        {
            self.status_c.next = self.s_bad_alg.val();
        } else if (self.is_kload.val() & (self.src_len.val() != self.key_len.val()))
            | (self.is_kkey.val() & (self.aux_len.val() != self.label_bytes.val()))
            | (self.is_kem.val()
                & (((self.src_len.val() != self.kem_src.val())
                    & (self.src_len.val() != self.kem_src_card.val()))
                    | (self.aux_len.val() != self.kem_aux.val())))
        {
            self.status_c.next = self.s_bad_length.val();
        } else if (self.is_login.val() | self.is_setpin.val())
            & (self.params.val().get_bits::<8>(0) != 1)
            & (self.params.val().get_bits::<8>(0) != 2)
        {
            self.status_c.next = self.s_bad_role.val();
        } else if (self.is_pin.val()
            & ((self.src_len.val() < self.pin_min.val())
                | (self.src_len.val() > self.pin_max.val())))
            | (self.is_cinit.val() & (self.aux_len.val() != self.card_label.val()))
        {
            self.status_c.next = self.s_bad_length.val();
        } else if self.dst_len.val() < self.need.val() {
            self.status_c.next = self.s_too_small.val();
        } else if !self.test_mode.val()
            & (self.is_kload.val()
                | (self.is_genc.val() & !self.card_iv.val())
                | self.kem_host.val()
                | self.k_expose.val())
        {
            self.status_c.next = self.s_not_test.val();
        } else if !self.test_mode.val() & self.is_gcm.val() & (self.tag_len.val() != bits::<8>(16))
        {
            self.status_c.next = self.s_bad_tag.val();
        } else if (self.u_slot.val() & (self.key_slot.val() >= self.slots.val()))
            | (self.is_kem.val() & (bit_cast::<16, 8>(self.k_target.val()) >= self.slots.val()))
        {
            self.status_c.next = self.s_bad_slot.val();
        }
        self.status_r.d.next = self.status_c.val();
        self.engine_r.d.next = self.engine_c.val();
        self.hash_r.d.next = self.is_hash.val();
        self.kem_r.d.next = self.is_kem.val();
        self.kem_rand_r.d.next = (self.is_kkg.val() | self.is_ken.val()) & !self.kem_host.val();
        self.rng_r.d.next = self.is_rng.val();
        self.auth_r.d.next = self.is_auth.val();
    }
}
