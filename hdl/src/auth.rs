//! The auth unit: card initialisation, logins and PINs
//! (`hsm_contract::auth`).
//!
//! It holds the card's auth record (label, failure limit and counters, and
//! per role a salt and a PIN verifier) in registers, loaded from the record
//! store through the vault at boot and sealed back by the vault after
//! every change, and the queue's login. The dispatcher hands it
//! `CARD_INIT`, `LOGIN`, `LOGOUT`, `SET_PIN` and `CARD_INFO` jobs with
//! `start`, as it hands other jobs to their engines, and asks it (`access`)
//! whether the queue's login lets any other job run.
//!
//! # Boot
//! After reset it takes the vault first (the crypto engine restores the
//! key slots after it, `booted`): it opens record
//! [`hsm_contract::auth::AUTH_RECORD`]. No record: the card is not
//! initialised. A record that does not open, or is not an auth record:
//! the card is initialised but `damaged`, and nobody logs in until it is
//! zeroized.
//!
//! # PIN verifiers
//! The verifier is the first 16 bytes of SHA3-256 of one block (salt, PIN
//! zero-padded to 64 bytes, PIN length), computed on the hash engine's
//! Keccak core, which the dispatcher lends while this unit runs a job
//! (through registers both ways, so the two blocks share no combinational
//! path). The core's state is cleared after every use. The PIN is read into a
//! register, its bytes past the length masked to zero, and overwritten
//! with zeros when the job ends.
//!
//! # Logins
//! A login stores the role's failure counter plus one (a seal), hashes
//! the PIN, compares the whole verifier in one cycle, and stores the
//! counter again, zero on a match and unchanged otherwise: the same steps
//! and cycles whichever PIN arrives. The registers change only when the
//! store confirmed a seal, so they always say what the store holds.

use crate::consts::{opcode, status};
use crate::vault::vault_cmd;
use hsm_contract::auth::{AUTH_RECORD, AUTH_RECORD_KIND, DEFAULT_FAILURE_LIMIT};
use hsm_contract::{Opcode, Status};
use rust_hdl::prelude::*;

/// Auth unit states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum AuthFsm {
    /// After reset: waiting for the vault.
    Boot,
    /// Opening the auth record.
    BootWait,
    /// Waiting for a job.
    Idle,
    /// Deciding what the job does.
    Decode,
    /// Reading the card label (`CARD_INIT`).
    Label,
    /// Reading the PIN.
    Pin,
    /// Masking the PIN's bytes past its length.
    PinMask,
    /// Drawing a salt from the DRBG.
    Draw,
    /// Clearing the Keccak core, then writing the block.
    HLoad,
    /// Starting the permutation.
    HStart,
    /// Waiting for it.
    HWait,
    /// Taking the verifier and clearing the core.
    HRead,
    /// Building the record to seal.
    Build,
    /// Asking the vault to seal the record.
    Seal,
    /// Waiting for the vault.
    SealWait,
    /// Writing `CARD_INFO`.
    Info,
    /// Waiting one cycle for the last write's error response.
    Drain,
    /// Reporting.
    Finish,
}

/// The auth unit.
#[derive(LogicBlock)]
pub struct AuthUnit {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: the queue was reset; its login ends.
    pub logout: Signal<In, Bit>,
    /// The card runs in test mode.
    pub test_mode: Signal<In, Bit>,
    /// A power-on self-test failed.
    pub blocked: Signal<In, Bit>,
    /// The opcode of the descriptor being checked.
    pub a_opcode: Signal<In, Bits<8>>,
    /// The status the queue's login gives the descriptor `a_opcode` named
    /// in the previous cycle (OK: it runs).
    pub access: Signal<Out, Bits<16>>,
    /// The auth record has been loaded: the vault is free for the engine.
    pub booted: Signal<Out, Bit>,
    /// Pulse: run the job described by the inputs below.
    pub start: Signal<In, Bit>,
    /// The job's opcode.
    pub opcode: Signal<In, Bits<8>>,
    /// `params` byte 0: the role (`LOGIN`, `SET_PIN`) or the failure
    /// limit (`CARD_INIT`).
    pub param: Signal<In, Bits<8>>,
    /// PIN address.
    pub src_addr: Signal<In, Bits<64>>,
    /// PIN length (4 to 64; the descriptor checks took care of the rest).
    pub src_len: Signal<In, Bits<7>>,
    /// Label address.
    pub aux_addr: Signal<In, Bits<64>>,
    /// `CARD_INFO` output address.
    pub dst_addr: Signal<In, Bits<64>>,
    /// Working (booting or on a job).
    pub busy: Signal<Out, Bit>,
    /// Pulse: the job is done.
    pub done: Signal<Out, Bit>,
    /// With `done`: the status.
    pub status: Signal<Out, Bits<16>>,
    /// With `done`: the output length (`LOGIN` with `PIN_INCORRECT`: the
    /// tries left).
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
    /// Vault: booted.
    pub v_ready: Signal<In, Bit>,
    /// Vault: pulse, a command.
    pub v_cmd: Signal<Out, Bit>,
    /// Vault: the command.
    pub v_op: Signal<Out, Bits<2>>,
    /// Vault: the record.
    pub v_index: Signal<Out, Bits<7>>,
    /// Vault: the record's first half (SEAL).
    pub v_rec: Signal<Out, Bits<512>>,
    /// Vault: the record's second half (SEAL).
    pub v_key: Signal<Out, Bits<512>>,
    /// Vault: pulse, the command is done.
    pub v_done: Signal<In, Bit>,
    /// Vault: with `v_done`, it succeeded.
    pub v_ok: Signal<In, Bit>,
    /// Vault: with `v_done` (LOAD), the record exists.
    pub v_present: Signal<In, Bit>,
    /// Vault: with `v_done` (SEAL), no master key could be drawn.
    pub v_entropy: Signal<In, Bit>,
    /// Vault: with `v_done` (LOAD), the first half.
    pub v_rec_in: Signal<In, Bits<512>>,
    /// Vault: with `v_done` (LOAD), the second half.
    pub v_key_in: Signal<In, Bits<512>>,
    /// Random bits: a request, held until `rng_done`.
    pub rng_req: Signal<Out, Bit>,
    /// Random bits: the unit takes `rng_block`.
    pub rng_ready: Signal<Out, Bit>,
    /// Random bits: a block is on `rng_block`.
    pub rng_valid: Signal<In, Bit>,
    /// Random bits: a block.
    pub rng_block: Signal<In, Bits<128>>,
    /// Random bits: pulse, the request is over.
    pub rng_done: Signal<In, Bit>,
    /// Random bits: with `rng_done`, it failed.
    pub rng_fail: Signal<In, Bit>,
    /// Lent Keccak core: `init`.
    pub k_init: Signal<Out, Bit>,
    /// Lent Keccak core: `buf_we`.
    pub k_buf_we: Signal<Out, Bit>,
    /// Lent Keccak core: `buf_idx`.
    pub k_buf_idx: Signal<Out, Bits<5>>,
    /// Lent Keccak core: `buf_mask`.
    pub k_buf_mask: Signal<Out, Bits<2>>,
    /// Lent Keccak core: `buf_data`.
    pub k_buf_data: Signal<Out, Bits<128>>,
    /// Lent Keccak core: `start`.
    pub k_start: Signal<Out, Bit>,
    /// Lent Keccak core: lanes 0 and 1 of the state, as they were the
    /// cycle before.
    pub k_rd_data: Signal<In, Bits<128>>,

    state: DFF<AuthFsm>,
    access_r: DFF<Bits<16>>,
    j_aux: DFF<Bits<64>>,
    access_c: Signal<Local, Bits<16>>,
    booted_r: DFF<Bit>,
    initialized: DFF<Bit>,
    damaged: DFF<Bit>,
    role: DFF<Bits<2>>,
    // The record as stored (r_*) and as being sealed (w_*): the first half
    // holds byte 0 the kind, byte 2 flags, byte 3 the limit, bytes 4 and 5
    // the failures, bytes 32-63 the label; the second half the officer's
    // salt and verifier, then the user's.
    r_rec: DFF<Bits<512>>,
    r_key: DFF<Bits<512>>,
    w_rec: DFF<Bits<512>>,
    w_key: DFF<Bits<512>>,
    j_op: DFF<Bits<8>>,
    j_param: DFF<Bits<8>>,
    j_len: DFF<Bits<7>>,
    j_dst: DFF<Bits<64>>,
    j_src: DFF<Bits<64>>,
    rd_addr: DFF<Bits<64>>,
    req_pend: DFF<Bit>,
    rx_left: DFF<Bits<3>>,
    rx_idx: DFF<Bits<2>>,
    pin: DFF<Bits<512>>,
    salt: DFF<Bits<128>>,
    digest: DFF<Bits<128>>,
    cnt: DFF<Bits<3>>,
    hwait: DFF<Bits<4>>,
    pass: DFF<Bit>,
    matched: DFF<Bit>,
    status_r: DFF<Bits<16>>,
    out_len_r: DFF<Bits<32>>,
    rd_err: DFF<Bit>,
    wr_err: DFF<Bit>,
    last_wr: DFF<Bits<64>>,

    rx: Signal<Local, Bit>,
    rfault: Signal<Local, Bit>,
    so_fail: Signal<Local, Bits<8>>,
    us_fail: Signal<Local, Bits<8>>,
    limit: Signal<Local, Bits<8>>,
    user_set: Signal<Local, Bit>,
    so_locked: Signal<Local, Bit>,
    us_locked: Signal<Local, Bit>,
    t_user: Signal<Local, Bit>,
    t_fail: Signal<Local, Bits<8>>,
    t_ver: Signal<Local, Bits<128>>,
    t_salt: Signal<Local, Bits<128>>,
    need_user: Signal<Local, Bit>,
    need_any: Signal<Local, Bit>,
    need_so: Signal<Local, Bit>,
    len_mask: Signal<Local, Bits<512>>,
    beats: Signal<Local, Bits<3>>,
    f_init: Signal<Local, Bits<8>>,
    f_dmg: Signal<Local, Bits<8>>,
    f_user: Signal<Local, Bits<8>>,
    new_limit: Signal<Local, Bits<8>>,
    info0: Signal<Local, Bits<128>>,
    w_fail_inc: Signal<Local, Bits<512>>,
    w_fail_zero: Signal<Local, Bits<512>>,
    w_pin_key: Signal<Local, Bits<512>>,

    op_init: Constant<Bits<8>>,
    op_login: Constant<Bits<8>>,
    op_logout: Constant<Bits<8>>,
    op_setpin: Constant<Bits<8>>,
    op_info: Constant<Bits<8>>,
    op_gcm_e: Constant<Bits<8>>,
    op_gcm_d: Constant<Bits<8>>,
    op_xts_e: Constant<Bits<8>>,
    op_xts_d: Constant<Bits<8>>,
    op_kload: Constant<Bits<8>>,
    op_kclear: Constant<Bits<8>>,
    op_kgen: Constant<Bits<8>>,
    op_kem_kg: Constant<Bits<8>>,
    op_kem_en: Constant<Bits<8>>,
    op_kem_de: Constant<Bits<8>>,
    op_sinfo: Constant<Bits<8>>,
    op_zz: Constant<Bits<8>>,
    kind: Constant<Bits<8>>,
    rec_index: Constant<Bits<7>>,
    def_limit: Constant<Bits<8>>,
    v_load: Constant<Bits<2>>,
    v_seal: Constant<Bits<2>>,
    s_ok: Constant<Bits<16>>,
    s_not_init: Constant<Bits<16>>,
    s_already: Constant<Bits<16>>,
    s_not_logged: Constant<Bits<16>>,
    s_role: Constant<Bits<16>>,
    s_pin_bad: Constant<Bits<16>>,
    s_locked: Constant<Bits<16>>,
    s_not_set: Constant<Bits<16>>,
    s_storage: Constant<Bits<16>>,
    s_entropy: Constant<Bits<16>>,
    s_dma_read: Constant<Bits<16>>,
    s_dma_write: Constant<Bits<16>>,
}

impl Default for AuthUnit {
    fn default() -> Self {
        // The roles' codes as the RTL compares them.
        assert_eq!(hsm_contract::auth::Role::SecurityOfficer as u8, 1);
        assert_eq!(hsm_contract::auth::Role::User as u8, 2);
        let st = status;
        Self {
            clock: Default::default(),
            reset: Default::default(),
            logout: Default::default(),
            test_mode: Default::default(),
            blocked: Default::default(),
            a_opcode: Default::default(),
            access: Default::default(),
            booted: Default::default(),
            start: Default::default(),
            opcode: Default::default(),
            param: Default::default(),
            src_addr: Default::default(),
            src_len: Default::default(),
            aux_addr: Default::default(),
            dst_addr: Default::default(),
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
            v_ready: Default::default(),
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
            rng_req: Default::default(),
            rng_ready: Default::default(),
            rng_valid: Default::default(),
            rng_block: Default::default(),
            rng_done: Default::default(),
            rng_fail: Default::default(),
            k_init: Default::default(),
            k_buf_we: Default::default(),
            k_buf_idx: Default::default(),
            k_buf_mask: Default::default(),
            k_buf_data: Default::default(),
            k_start: Default::default(),
            k_rd_data: Default::default(),
            state: Default::default(),
            access_r: Default::default(),
            j_aux: Default::default(),
            access_c: Default::default(),
            booted_r: Default::default(),
            initialized: Default::default(),
            damaged: Default::default(),
            role: Default::default(),
            r_rec: Default::default(),
            r_key: Default::default(),
            w_rec: Default::default(),
            w_key: Default::default(),
            j_op: Default::default(),
            j_param: Default::default(),
            j_len: Default::default(),
            j_dst: Default::default(),
            j_src: Default::default(),
            rd_addr: Default::default(),
            req_pend: Default::default(),
            rx_left: Default::default(),
            rx_idx: Default::default(),
            pin: Default::default(),
            salt: Default::default(),
            digest: Default::default(),
            cnt: Default::default(),
            hwait: Default::default(),
            pass: Default::default(),
            matched: Default::default(),
            status_r: Default::default(),
            out_len_r: Default::default(),
            rd_err: Default::default(),
            wr_err: Default::default(),
            last_wr: Default::default(),
            rx: Default::default(),
            rfault: Default::default(),
            so_fail: Default::default(),
            us_fail: Default::default(),
            limit: Default::default(),
            user_set: Default::default(),
            so_locked: Default::default(),
            us_locked: Default::default(),
            t_user: Default::default(),
            t_fail: Default::default(),
            t_ver: Default::default(),
            t_salt: Default::default(),
            need_user: Default::default(),
            need_any: Default::default(),
            need_so: Default::default(),
            len_mask: Default::default(),
            beats: Default::default(),
            f_init: Default::default(),
            f_dmg: Default::default(),
            f_user: Default::default(),
            new_limit: Default::default(),
            info0: Default::default(),
            w_fail_inc: Default::default(),
            w_fail_zero: Default::default(),
            w_pin_key: Default::default(),
            op_init: opcode(Opcode::CardInit),
            op_login: opcode(Opcode::Login),
            op_logout: opcode(Opcode::Logout),
            op_setpin: opcode(Opcode::SetPin),
            op_info: opcode(Opcode::CardInfo),
            op_gcm_e: opcode(Opcode::AesGcmEncrypt),
            op_gcm_d: opcode(Opcode::AesGcmDecrypt),
            op_xts_e: opcode(Opcode::AesXtsEncrypt),
            op_xts_d: opcode(Opcode::AesXtsDecrypt),
            op_kload: opcode(Opcode::KeyLoad),
            op_kclear: opcode(Opcode::KeyClear),
            op_kgen: opcode(Opcode::KeyGenerate),
            op_kem_kg: opcode(Opcode::KemKeygen),
            op_kem_en: opcode(Opcode::KemEncaps),
            op_kem_de: opcode(Opcode::KemDecaps),
            op_sinfo: opcode(Opcode::SlotInfo),
            op_zz: opcode(Opcode::CardZeroize),
            kind: Constant::new((AUTH_RECORD_KIND as u64).into()),
            rec_index: Constant::new((AUTH_RECORD as u64).into()),
            def_limit: Constant::new((DEFAULT_FAILURE_LIMIT as u64).into()),
            v_load: Constant::new(vault_cmd::LOAD.into()),
            v_seal: Constant::new(vault_cmd::SEAL.into()),
            s_ok: st(Status::Ok),
            s_not_init: st(Status::NotInitialized),
            s_already: st(Status::AlreadyInitialized),
            s_not_logged: st(Status::NotLoggedIn),
            s_role: st(Status::RoleDenied),
            s_pin_bad: st(Status::PinIncorrect),
            s_locked: st(Status::PinLocked),
            s_not_set: st(Status::PinNotSet),
            s_storage: st(Status::StorageFailed),
            s_entropy: st(Status::EntropyFailure),
            s_dma_read: st(Status::DmaReadError),
            s_dma_write: st(Status::DmaWriteError),
        }
    }
}

impl Logic for AuthUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            access_r,
            j_aux,
            booted_r,
            initialized,
            damaged,
            role,
            r_rec,
            r_key,
            w_rec,
            w_key,
            j_op,
            j_param,
            j_len,
            j_dst,
            j_src,
            rd_addr,
            req_pend,
            rx_left,
            rx_idx,
            pin,
            salt,
            digest,
            cnt,
            hwait,
            pass,
            matched,
            status_r,
            out_len_r,
            rd_err,
            wr_err,
            last_wr
        );
        // The stored record's fields.
        self.so_fail.next = self.r_rec.q.val().get_bits::<8>(32);
        self.us_fail.next = self.r_rec.q.val().get_bits::<8>(40);
        self.limit.next = self.r_rec.q.val().get_bits::<8>(24);
        self.user_set.next = self.r_rec.q.val().get_bit(16);
        self.so_locked.next = self.damaged.q.val()
            | (self.initialized.q.val() & (self.so_fail.val() >= self.limit.val()));
        self.us_locked.next =
            self.damaged.q.val() | (self.user_set.val() & (self.us_fail.val() >= self.limit.val()));
        // The job's role (`j_param` 2: the user).
        self.t_user.next = self.j_param.q.val() == 2;
        self.t_fail.next = self.so_fail.val();
        self.t_salt.next = self.r_key.q.val().get_bits::<128>(0);
        self.t_ver.next = self.r_key.q.val().get_bits::<128>(128);
        if self.t_user.val() {
            self.t_fail.next = self.us_fail.val();
            self.t_salt.next = self.r_key.q.val().get_bits::<128>(256);
            self.t_ver.next = self.r_key.q.val().get_bits::<128>(384);
        }
        // The stored record with the job role's failures plus one, and
        // with them zero.
        self.w_fail_inc.next = self.r_rec.q.val() + (bits::<512>(1) << 32);
        self.w_fail_zero.next = self.r_rec.q.val() & !(bits::<512>(0xff) << 32);
        if self.t_user.val() {
            self.w_fail_inc.next = self.r_rec.q.val() + (bits::<512>(1) << 40);
            self.w_fail_zero.next = self.r_rec.q.val() & !(bits::<512>(0xff) << 40);
        }
        // The stored salts and verifiers with the job role's replaced.
        self.w_pin_key.next = (self.r_key.q.val() & !(!bits::<512>(0) >> 256))
            | bit_cast::<512, 128>(self.salt.q.val())
            | (bit_cast::<512, 128>(self.digest.q.val()) << 128);
        if self.t_user.val() {
            self.w_pin_key.next = (self.r_key.q.val() & (!bits::<512>(0) >> 256))
                | (bit_cast::<512, 128>(self.salt.q.val()) << 256)
                | (bit_cast::<512, 128>(self.digest.q.val()) << 384);
        }
        self.new_limit.next = self.j_param.q.val();
        if !self.j_param.q.val().any() {
            self.new_limit.next = self.def_limit.val();
        }

        // What the queue's login lets run.
        self.need_user.next = (self.a_opcode.val() == self.op_gcm_e.val())
            | (self.a_opcode.val() == self.op_gcm_d.val())
            | (self.a_opcode.val() == self.op_xts_e.val())
            | (self.a_opcode.val() == self.op_xts_d.val())
            | (self.a_opcode.val() == self.op_kload.val())
            | (self.a_opcode.val() == self.op_kclear.val())
            | (self.a_opcode.val() == self.op_kgen.val())
            | (self.a_opcode.val() == self.op_kem_kg.val())
            | (self.a_opcode.val() == self.op_kem_en.val())
            | (self.a_opcode.val() == self.op_kem_de.val());
        self.need_any.next = self.a_opcode.val() == self.op_sinfo.val();
        self.need_so.next =
            (self.a_opcode.val() == self.op_zz.val()) & !self.so_locked.val() & !self.blocked.val();
        self.access_c.next = self.s_ok.val();
        if !self.initialized.q.val() {
            if self.need_user.val() & !self.test_mode.val() {
                self.access_c.next = self.s_not_init.val();
            }
        } else if (self.need_user.val() | self.need_any.val() | self.need_so.val())
            & !self.role.q.val().any()
        {
            self.access_c.next = self.s_not_logged.val();
        } else if (self.need_user.val() & (self.role.q.val() != 2))
            | (self.need_so.val() & (self.role.q.val() != 1))
        {
            self.access_c.next = self.s_role.val();
        }

        // Registered: the descriptor is decoded the cycle after it is
        // checked, and no output depends on an input in the same cycle.
        self.access_r.d.next = self.access_c.val();
        self.access.next = self.access_r.q.val();

        // PIN beats: ceil(len / 16); bytes past the length are masked.
        self.beats.next = bit_cast::<3, 7>((self.j_len.q.val() + 15) >> 4);
        self.len_mask.next =
            !bits::<512>(0) >> (bits::<10>(512) - (bit_cast::<10, 7>(self.j_len.q.val()) << 3));
        // CARD_INFO's first beat.
        self.f_init.next = bits::<8>(0);
        if self.initialized.q.val() {
            self.f_init.next = bits::<8>(1);
        }
        self.f_dmg.next = bits::<8>(0);
        if self.damaged.q.val() {
            self.f_dmg.next = bits::<8>(2);
        }
        self.f_user.next = bits::<8>(0);
        if self.user_set.val() {
            self.f_user.next = bits::<8>(4);
        }
        self.info0.next =
            bit_cast::<128, 8>(self.f_init.val() | self.f_dmg.val() | self.f_user.val())
                | (bit_cast::<128, 8>(self.limit.val()) << 8)
                | (bit_cast::<128, 8>(self.so_fail.val()) << 16)
                | (bit_cast::<128, 8>(self.us_fail.val()) << 24)
                | (bit_cast::<128, 2>(self.role.q.val()) << 32);

        // Ports.
        self.booted.next = self.booted_r.q.val();
        self.busy.next = self.state.q.val() != AuthFsm::Idle;
        self.done.next = false;
        self.status.next = self.status_r.q.val();
        self.out_len.next = self.out_len_r.q.val();
        self.fault_addr.next = self.last_wr.q.val();
        self.dmar_req_valid.next = self.req_pend.q.val();
        self.dmar_req_addr.next = self.rd_addr.q.val();
        self.dmar_req_beats.next = bits::<9>(2);
        if self.state.q.val() == AuthFsm::Pin {
            self.dmar_req_beats.next = bit_cast::<9, 3>(self.beats.val());
        }
        self.dmar_data_ready.next = self.rx_left.q.val().any() & !self.req_pend.q.val();
        self.rx.next =
            self.rx_left.q.val().any() & !self.req_pend.q.val() & self.dmar_data_valid.val();
        self.dmaw_valid.next = false;
        self.dmaw_addr.next = self.j_dst.q.val();
        self.dmaw_data.next = bits::<128>(0);
        self.dmaw_strb.next = bits::<16>(0xffff);
        self.v_cmd.next = false;
        self.v_op.next = self.v_seal.val();
        self.v_index.next = self.rec_index.val();
        self.v_rec.next = self.w_rec.q.val();
        self.v_key.next = self.w_key.q.val();
        self.rng_req.next = false;
        self.rng_ready.next = false;
        self.k_init.next = false;
        self.k_buf_we.next = false;
        self.k_buf_idx.next = bits::<5>(0);
        self.k_buf_mask.next = bits::<2>(3);
        self.k_buf_data.next = bits::<128>(0);
        self.k_start.next = false;

        if self.req_pend.q.val() & self.dmar_req_ready.val() {
            self.req_pend.d.next = false;
        }
        // Fault pulses: outputs of their own, so that no output depends on
        // the job's inputs in the same cycle (the state machine below
        // keeps the sticky error bits).
        self.rfault.next = self.rx.val() & self.dmar_data_err.val() & !self.rd_err.q.val();
        self.read_fault.next = self.rfault.val();
        if self.rfault.val() {
            self.fault_addr.next = self.rd_addr.q.val();
        }
        self.write_fault.next = self.dmaw_err.val() & !self.wr_err.q.val();

        // The job's inputs, taken when it starts (and only here, so that no
        // output depends on them in the same cycle).
        if self.start.val() {
            self.j_op.d.next = self.opcode.val();
            self.j_param.d.next = self.param.val();
            self.j_len.d.next = self.src_len.val();
            self.j_dst.d.next = self.dst_addr.val();
            self.j_src.d.next = self.src_addr.val();
            self.j_aux.d.next = self.aux_addr.val();
        }

        match self.state.q.val() {
            AuthFsm::Boot => {
                // (`v_ready` is registered: a few cycles pass before it
                // says what the vault does after this reset.)
                if self.cnt.q.val() != 7 {
                    self.cnt.d.next = self.cnt.q.val() + 1;
                } else if self.v_ready.val() {
                    self.v_cmd.next = true;
                    self.v_op.next = self.v_load.val();
                    self.state.d.next = AuthFsm::BootWait;
                }
            }
            AuthFsm::BootWait => {
                if self.v_done.val() {
                    self.initialized.d.next = self.v_present.val();
                    if self.v_present.val()
                        & self.v_ok.val()
                        & (self.v_rec_in.val().get_bits::<8>(0) == self.kind.val())
                    {
                        self.r_rec.d.next = self.v_rec_in.val();
                        self.r_key.d.next = self.v_key_in.val();
                    } else if self.v_present.val() {
                        self.damaged.d.next = true;
                    }
                    self.booted_r.d.next = true;
                    self.state.d.next = AuthFsm::Idle;
                }
            }
            AuthFsm::Idle => {
                if self.start.val() {
                    self.status_r.d.next = self.s_ok.val();
                    self.out_len_r.d.next = bits::<32>(0);
                    self.rd_err.d.next = false;
                    self.wr_err.d.next = false;
                    self.pass.d.next = false;
                    self.matched.d.next = false;
                    self.cnt.d.next = bits::<3>(0);
                    self.rx_idx.d.next = bits::<2>(0);
                    self.state.d.next = AuthFsm::Decode;
                }
            }
            AuthFsm::Decode => {
                self.rd_addr.d.next = self.j_src.q.val();
                self.state.d.next = AuthFsm::Finish;
                if self.j_op.q.val() == self.op_info.val() {
                    self.out_len_r.d.next = bits::<32>(64);
                    self.state.d.next = AuthFsm::Info;
                } else if self.j_op.q.val() == self.op_logout.val() {
                    self.role.d.next = bits::<2>(0);
                } else if self.j_op.q.val() == self.op_init.val() {
                    if self.initialized.q.val() {
                        self.status_r.d.next = self.s_already.val();
                    } else {
                        // The label first, into the new record.
                        self.w_rec.d.next = bits::<512>(0);
                        self.w_key.d.next = bits::<512>(0);
                        self.rd_addr.d.next = self.j_aux.q.val();
                        self.req_pend.d.next = true;
                        self.rx_left.d.next = bits::<3>(2);
                        self.state.d.next = AuthFsm::Label;
                    }
                } else if self.j_op.q.val() == self.op_login.val() {
                    // A login attempt ends the queue's login.
                    self.role.d.next = bits::<2>(0);
                    if !self.initialized.q.val() {
                        self.status_r.d.next = self.s_not_init.val();
                    } else if self.damaged.q.val() {
                        self.status_r.d.next = self.s_locked.val();
                    } else if self.t_user.val() & !self.user_set.val() {
                        self.status_r.d.next = self.s_not_set.val();
                    } else if (self.t_user.val() & self.us_locked.val())
                        | (!self.t_user.val() & self.so_locked.val())
                    {
                        self.status_r.d.next = self.s_locked.val();
                    } else {
                        self.req_pend.d.next = true;
                        self.rx_left.d.next = self.beats.val();
                        self.state.d.next = AuthFsm::Pin;
                    }
                } else if !self.role.q.val().any() {
                    // SET_PIN.
                    self.status_r.d.next = self.s_not_logged.val();
                } else if !self.t_user.val() & (self.role.q.val() != 1) {
                    self.status_r.d.next = self.s_role.val();
                } else {
                    self.req_pend.d.next = true;
                    self.rx_left.d.next = self.beats.val();
                    self.state.d.next = AuthFsm::Pin;
                }
            }
            AuthFsm::Label => {
                if self.rx.val() {
                    self.rx_left.d.next = self.rx_left.q.val() - 1;
                    self.rx_idx.d.next = self.rx_idx.q.val() + 1;
                    self.rd_err.d.next = self.rd_err.q.val() | self.dmar_data_err.val();
                    if self.rx_idx.q.val().get_bit(0) {
                        self.w_rec.d.next = self.w_rec.q.val()
                            | (bit_cast::<512, 128>(self.dmar_data.val()) << 384);
                    } else {
                        self.w_rec.d.next = self.w_rec.q.val()
                            | (bit_cast::<512, 128>(self.dmar_data.val()) << 256);
                    }
                }
                if !self.rx_left.q.val().any() & !self.req_pend.q.val() {
                    self.rd_addr.d.next = self.j_src.q.val();
                    self.rx_idx.d.next = bits::<2>(0);
                    self.req_pend.d.next = true;
                    self.rx_left.d.next = self.beats.val();
                    self.state.d.next = AuthFsm::Pin;
                }
            }
            AuthFsm::Pin => {
                if self.rx.val() {
                    self.rx_left.d.next = self.rx_left.q.val() - 1;
                    self.rx_idx.d.next = self.rx_idx.q.val() + 1;
                    self.rd_err.d.next = self.rd_err.q.val() | self.dmar_data_err.val();
                    self.pin.d.next = self.pin.q.val()
                        | (bit_cast::<512, 128>(self.dmar_data.val())
                            << (bit_cast::<10, 2>(self.rx_idx.q.val()) << 7));
                }
                if !self.rx_left.q.val().any() & !self.req_pend.q.val() {
                    self.state.d.next = AuthFsm::PinMask;
                }
            }
            AuthFsm::PinMask => {
                self.pin.d.next = self.pin.q.val() & self.len_mask.val();
                if self.rd_err.q.val() {
                    self.status_r.d.next = self.s_dma_read.val();
                    self.state.d.next = AuthFsm::Finish;
                } else if self.j_op.q.val() == self.op_login.val() {
                    // The failure counted before the comparison.
                    self.salt.d.next = self.t_salt.val();
                    self.w_rec.d.next = self.w_fail_inc.val();
                    self.w_key.d.next = self.r_key.q.val();
                    self.state.d.next = AuthFsm::Seal;
                } else {
                    self.state.d.next = AuthFsm::Draw;
                }
            }
            AuthFsm::Draw => {
                self.rng_req.next = true;
                self.rng_ready.next = true;
                if self.rng_valid.val() {
                    self.salt.d.next = self.rng_block.val();
                }
                if self.rng_done.val() {
                    self.state.d.next = AuthFsm::HLoad;
                    if self.rng_fail.val() {
                        self.status_r.d.next = self.s_entropy.val();
                        self.state.d.next = AuthFsm::Finish;
                    }
                }
            }
            AuthFsm::HLoad => {
                // Cycle 0 clears the core; 1 to 7 write salt, PIN, length
                // and padding (FIPS 202: 0x06 after the message, 0x80 in
                // the last byte of SHA3-256's 136-byte block).
                self.cnt.d.next = self.cnt.q.val() + 1;
                self.k_init.next = !self.cnt.q.val().any();
                self.k_buf_we.next = self.cnt.q.val().any();
                self.k_buf_idx.next = bit_cast::<5, 3>(self.cnt.q.val() - 1) << 1;
                self.k_buf_data.next = self.salt.q.val();
                if self.cnt.q.val() == 2 {
                    self.k_buf_data.next = self.pin.q.val().get_bits::<128>(0);
                }
                if self.cnt.q.val() == 3 {
                    self.k_buf_data.next = self.pin.q.val().get_bits::<128>(128);
                }
                if self.cnt.q.val() == 4 {
                    self.k_buf_data.next = self.pin.q.val().get_bits::<128>(256);
                }
                if self.cnt.q.val() == 5 {
                    self.k_buf_data.next = self.pin.q.val().get_bits::<128>(384);
                }
                if self.cnt.q.val() == 6 {
                    self.k_buf_mask.next = bits::<2>(1);
                    self.k_buf_data.next =
                        bit_cast::<128, 7>(self.j_len.q.val()) | (bits::<128>(0x06) << 8);
                }
                if self.cnt.q.val() == 7 {
                    self.k_buf_idx.next = bits::<5>(16);
                    self.k_buf_mask.next = bits::<2>(1);
                    self.k_buf_data.next = bits::<128>(0x80) << 56;
                    self.state.d.next = AuthFsm::HStart;
                }
            }
            AuthFsm::HStart => {
                self.k_start.next = true;
                self.hwait.d.next = bits::<4>(0);
                self.state.d.next = AuthFsm::HWait;
            }
            AuthFsm::HWait => {
                // The core's controls reach it a cycle late, the
                // permutation takes 12 cycles, and its output comes a
                // cycle late: 14 cycles after the start, with margin.
                self.hwait.d.next = self.hwait.q.val() + 1;
                if self.hwait.q.val() == 15 {
                    self.state.d.next = AuthFsm::HRead;
                }
            }
            AuthFsm::HRead => {
                self.digest.d.next = self.k_rd_data.val();
                self.state.d.next = AuthFsm::Build;
            }
            AuthFsm::Build => {
                // The core forgets the PIN's hash.
                self.k_init.next = true;
                self.pin.d.next = bits::<512>(0);
                self.state.d.next = AuthFsm::Seal;
                if self.j_op.q.val() == self.op_login.val() {
                    // All 128 bits at once; the second seal either way.
                    self.matched.d.next = self.digest.q.val() == self.t_ver.val();
                    self.w_rec.d.next = self.r_rec.q.val();
                    if self.digest.q.val() == self.t_ver.val() {
                        self.w_rec.d.next = self.w_fail_zero.val();
                    }
                    self.w_key.d.next = self.r_key.q.val();
                    self.pass.d.next = true;
                } else if self.j_op.q.val() == self.op_init.val() {
                    // A new record: the label read, the officer's PIN.
                    self.w_rec.d.next = (self.w_rec.q.val() & (!bits::<512>(0) << 256))
                        | bit_cast::<512, 8>(self.kind.val())
                        | (bit_cast::<512, 8>(self.new_limit.val()) << 24);
                    self.w_key.d.next = bit_cast::<512, 128>(self.salt.q.val())
                        | (bit_cast::<512, 128>(self.digest.q.val()) << 128);
                } else {
                    // SET_PIN: the role's salt, verifier and failures.
                    self.w_rec.d.next = self.w_fail_zero.val();
                    if self.t_user.val() {
                        self.w_rec.d.next = self.w_fail_zero.val() | (bits::<512>(1) << 16);
                    }
                    self.w_key.d.next = self.w_pin_key.val();
                }
            }
            AuthFsm::Seal => {
                self.v_cmd.next = true;
                self.state.d.next = AuthFsm::SealWait;
            }
            AuthFsm::SealWait => {
                if self.v_done.val() {
                    self.state.d.next = AuthFsm::Finish;
                    if self.v_ok.val() {
                        self.r_rec.d.next = self.w_rec.q.val();
                        self.r_key.d.next = self.w_key.q.val();
                        if self.j_op.q.val() == self.op_init.val() {
                            self.initialized.d.next = true;
                        } else if (self.j_op.q.val() == self.op_login.val()) & !self.pass.q.val() {
                            self.cnt.d.next = bits::<3>(0);
                            self.state.d.next = AuthFsm::HLoad;
                        } else if self.j_op.q.val() == self.op_login.val() {
                            if self.matched.q.val() {
                                self.role.d.next = bit_cast::<2, 8>(self.j_param.q.val());
                            } else {
                                self.status_r.d.next = self.s_pin_bad.val();
                                // (`r_rec` holds the failure counted.)
                                self.out_len_r.d.next =
                                    bit_cast::<32, 8>(self.limit.val() - self.t_fail.val());
                            }
                        }
                    } else if self.v_entropy.val() {
                        self.status_r.d.next = self.s_entropy.val();
                    } else {
                        self.status_r.d.next = self.s_storage.val();
                    }
                }
            }
            AuthFsm::Info => {
                self.wr_err.d.next = self.wr_err.q.val() | self.dmaw_err.val();
                self.dmaw_valid.next = true;
                if self.cnt.q.val() == 2 {
                    self.dmaw_data.next = self.r_rec.q.val().get_bits::<128>(256);
                } else if self.cnt.q.val() == 3 {
                    self.dmaw_data.next = self.r_rec.q.val().get_bits::<128>(384);
                } else if !self.cnt.q.val().any() {
                    self.dmaw_data.next = self.info0.val();
                }
                if self.dmaw_ready.val() {
                    self.cnt.d.next = self.cnt.q.val() + 1;
                    self.j_dst.d.next = self.j_dst.q.val() + 16;
                    self.last_wr.d.next = self.j_dst.q.val();
                    if self.cnt.q.val() == 3 {
                        self.state.d.next = AuthFsm::Drain;
                    }
                }
            }
            AuthFsm::Drain => {
                self.wr_err.d.next = self.wr_err.q.val() | self.dmaw_err.val();
                self.state.d.next = AuthFsm::Finish;
            }
            AuthFsm::Finish => {
                self.done.next = true;
                if self.wr_err.q.val() | self.dmaw_err.val() {
                    self.status.next = self.s_dma_write.val();
                    self.out_len.next = bits::<32>(0);
                }
                // Nothing of a PIN stays here.
                self.pin.d.next = bits::<512>(0);
                self.salt.d.next = bits::<128>(0);
                self.digest.d.next = bits::<128>(0);
                self.w_rec.d.next = bits::<512>(0);
                self.w_key.d.next = bits::<512>(0);
                self.state.d.next = AuthFsm::Idle;
            }
        }

        if self.logout.val() {
            self.role.d.next = bits::<2>(0);
        }
        if self.reset.val() {
            self.state.d.next = AuthFsm::Boot;
            self.cnt.d.next = bits::<3>(0);
            self.booted_r.d.next = false;
            self.initialized.d.next = false;
            self.damaged.d.next = false;
            self.role.d.next = bits::<2>(0);
            self.r_rec.d.next = bits::<512>(0);
            self.r_key.d.next = bits::<512>(0);
            self.w_rec.d.next = bits::<512>(0);
            self.w_key.d.next = bits::<512>(0);
            self.pin.d.next = bits::<512>(0);
            self.salt.d.next = bits::<128>(0);
            self.digest.d.next = bits::<128>(0);
            self.req_pend.d.next = false;
            self.rx_left.d.next = bits::<3>(0);
        }
    }
}
