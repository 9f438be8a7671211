//! The vault: the only block that sees the device master key. It seals key
//! slots into the persistent record store and opens them again, with AES-256
//! key wrap (NIST SP 800-38F KW) under the master key; the format, the ports
//! and the boot epoch are described in [`hsm_contract::storage`].
//!
//! # Boot
//! After reset the vault reads the master-key store. When it holds a key,
//! the vault expands it into its own round-key RAM (nothing else reads that
//! RAM) and writes the store back with the boot epoch incremented, before it
//! reports `ready`; when it holds none, the epoch is 0 and no record can be
//! opened. The master key is then drawn from the DRBG (with prediction
//! resistance) on the first seal, and written to the store before the first
//! record is.
//!
//! # Zeroization
//! A reset with `zeroize` high zeroizes instead of booting: the vault
//! overwrites the master-key store (valid bit, key; the epoch is kept),
//! erases every record, then overwrites its round-key RAM, and boots with
//! no master key. `zeroized` says the store holds no master key, whether
//! the card is new or zeroized and the store confirmed the overwrite.
//!
//! # Commands
//! The crypto engine gives one command at a time (`cmd` pulse, then `done`):
//! - LOAD `index`: read the record (9 beats), unwrap it and check KW's
//!   integrity value, the slot index and the format byte. `present` says
//!   whether the record exists, `ok` whether it opened; with `done` (one
//!   cycle only) `out_rec` holds the slot record (index, format and
//!   invocation counter cleared) and `out_key` the key entry.
//! - SEAL `index`, `cmd_rec`, `cmd_key`: wrap and write the record, then
//!   commit it, then write its freshness entry (live, the new version);
//!   `ok` when the store says both are stored. `entropy_fail` when no
//!   master key could be drawn.
//! - ERASE `index`: write its freshness entry (not live, a new version),
//!   then remove the record; `ok` when it is gone.
//!
//! LOAD opens a record only if its version is at least the floor in its
//! freshness entry; an older or missing record is damaged (`present`, not
//! `ok`) when the entry is live, and absent otherwise (see
//! [`hsm_contract::storage`], *Freshness*). A card whose master key is
//! stored but whose boot epoch could not be written seals and erases
//! nothing this boot (it never draws a second master key).
//!
//! The working register holding a record in the clear is overwritten with
//! zeros when the command ends, as is the drawn master key once stored.
//! A wrap or unwrap takes 96 blocks of
//! [`crate::aes::iter::AES_ITER_CYCLES`] + 1 cycles,
//! whatever the key and the data.

use crate::aes::iter::Aes256Iter;
use crate::aes::AesKeyExpand;
use hsm_contract::storage::{
    nv_op, ENTRY_LIVE_BIT, EPOCH_BITS, RECORDS, SLOT_FORMAT, VERSION_SEQ_BITS,
};
use rust_hdl::prelude::*;

/// Vault commands (`cmd_op`).
pub mod vault_cmd {
    /// Open a record.
    pub const LOAD: u64 = 0;
    /// Seal and store a record.
    pub const SEAL: u64 = 1;
    /// Remove a record.
    pub const ERASE: u64 = 2;
}

/// KW's initial value (SP 800-38F ICV1), A6A6A6A6A6A6A6A6.
const KW_ICV: u64 = 0xa6a6_a6a6_a6a6_a6a6;

const _: () = assert!(EPOCH_BITS == 20);
const _: () = assert!(VERSION_SEQ_BITS == 43 && ENTRY_LIVE_BIT == 63);
const _: () = assert!(RECORDS <= 128);

/// Vault states.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum VaultState {
    /// After reset: looking at the master-key store.
    Boot,
    /// Expanding the stored master key.
    BootExpand,
    /// Writing the store back with the next epoch.
    BootEpoch,
    /// Waiting for the store's acknowledgement.
    BootWait,
    /// Zeroizing: overwriting the master-key store.
    ZzMaster,
    /// Waiting for the store's acknowledgement.
    ZzMasterWait,
    /// Zeroizing: erasing the next record.
    ZzErase,
    /// Waiting for the store's acknowledgement.
    ZzEraseWait,
    /// Zeroizing: overwriting the round-key RAM.
    ZzWipe,
    /// Waiting for a command.
    Idle,
    /// Drawing a new master key from the DRBG.
    MkDraw,
    /// Starting its expansion.
    MkKx,
    /// Expanding it.
    MkExpand,
    /// Writing it to the master-key store.
    MkStore,
    /// Waiting for the store's acknowledgement.
    MkWait,
    /// KW: starting a block.
    Wrap,
    /// KW: waiting for the block.
    WrapWait,
    /// Writing the record's freshness entry.
    VerWrite,
    /// Waiting for the store's acknowledgement.
    VerWait,
    /// One record-store operation: the request.
    NvSend,
    /// Waiting for its acknowledgement.
    NvWait,
    /// KW^-1: starting a block.
    Unwrap,
    /// KW^-1: waiting for the block.
    UnwrapWait,
    /// Checking the opened record.
    Check,
    /// Reporting.
    Finish,
}

/// The vault.
#[derive(LogicBlock)]
pub struct Vault {
    /// Card clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Sampled during reset: zeroize instead of booting.
    pub zeroize: Signal<In, Bit>,
    /// The master-key store holds no key (a new or zeroized card).
    pub zeroized: Signal<Out, Bit>,
    /// Master-key store: it holds a key.
    pub bb_valid: Signal<In, Bit>,
    /// Master-key store: the key.
    pub bb_key: Signal<In, Bits<256>>,
    /// Master-key store: the boot epoch.
    pub bb_epoch: Signal<In, Bits<20>>,
    /// Master-key store: pulse, write `bb_wvalid`, `bb_wkey`, `bb_wepoch`.
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
    /// Record store: the operation ([`hsm_contract::storage::nv_op`]).
    pub nv_op: Signal<Out, Bits<2>>,
    /// Record store: the record.
    pub nv_index: Signal<Out, Bits<7>>,
    /// Record store: the beat (READ, WRITE).
    pub nv_beat: Signal<Out, Bits<4>>,
    /// Record store: the beat to stage (WRITE).
    pub nv_wdata: Signal<Out, Bits<128>>,
    /// Record store: pulse, the operation is done.
    pub nv_ack: Signal<In, Bit>,
    /// Record store: with `nv_ack`, it succeeded (READ: the record exists).
    pub nv_ok: Signal<In, Bit>,
    /// Record store: with `nv_ack`, the beat read.
    pub nv_rdata: Signal<In, Bits<128>>,
    /// Random bits: a request, held until `rng_done`.
    pub rng_req: Signal<Out, Bit>,
    /// Random bits: blocks wanted.
    pub rng_blocks: Signal<Out, Bits<16>>,
    /// Random bits: the vault takes `rng_block`.
    pub rng_ready: Signal<Out, Bit>,
    /// Random bits: a block is on `rng_block`.
    pub rng_valid: Signal<In, Bit>,
    /// Random bits: a block.
    pub rng_block: Signal<In, Bits<128>>,
    /// Random bits: pulse, the request is over.
    pub rng_done: Signal<In, Bit>,
    /// Random bits: with `rng_done`, the request failed.
    pub rng_fail: Signal<In, Bit>,
    /// Booted: commands are served.
    pub ready: Signal<Out, Bit>,
    /// Working (booting or serving a command): the card needs the clock.
    pub busy: Signal<Out, Bit>,
    /// This boot's epoch.
    pub epoch: Signal<Out, Bits<20>>,
    /// This boot's epoch is the last (all ones), which is never used: the
    /// vault seals nothing and every key's invocations start spent.
    pub last_epoch: Signal<Out, Bit>,
    /// Pulse: a command.
    pub cmd: Signal<In, Bit>,
    /// The command ([`vault_cmd`]).
    pub cmd_op: Signal<In, Bits<2>>,
    /// The slot.
    pub cmd_index: Signal<In, Bits<7>>,
    /// SEAL: the slot record.
    pub cmd_rec: Signal<In, Bits<512>>,
    /// SEAL: the key entry.
    pub cmd_key: Signal<In, Bits<512>>,
    /// Pulse: the command is done.
    pub done: Signal<Out, Bit>,
    /// With `done`: it succeeded (LOAD: the record opened).
    pub ok: Signal<Out, Bit>,
    /// With `done` (LOAD): the record exists.
    pub present: Signal<Out, Bit>,
    /// With `done` (SEAL): no master key could be drawn.
    pub entropy_fail: Signal<Out, Bit>,
    /// With `done` (LOAD, `ok`): the slot record.
    pub out_rec: Signal<Out, Bits<512>>,
    /// With `done` (LOAD, `ok`): the key entry.
    pub out_key: Signal<Out, Bits<512>>,

    aes: Aes256Iter,
    kx: AesKeyExpand,
    rk_ram: RAM<Bits<128>, 4>,
    state: DFF<VaultState>,
    op: DFF<Bits<2>>,
    index: DFF<Bits<7>>,
    nvop: DFF<Bits<2>>,
    beat: DFF<Bits<4>>,
    t: DFF<Bits<7>>,
    ra: DFF<Bits<1152>>,
    mk: DFF<Bits<256>>,
    drawn: DFF<Bit>,
    have_key: DFF<Bit>,
    zz: DFF<Bit>,
    no_master: DFF<Bit>,
    epoch_q: DFF<Bits<20>>,
    seq: DFF<Bits<43>>,
    wver: DFF<Bits<64>>,
    ok_q: DFF<Bit>,
    present_q: DFF<Bit>,
    entropy_q: DFF<Bit>,

    a_cur: Signal<Local, Bits<64>>,
    r_cur: Signal<Local, Bits<1024>>,
    blk: Signal<Local, Bits<128>>,
    t_x: Signal<Local, Bits<64>>,
    rec_in: Signal<Local, Bits<512>>,
    rec_out: Signal<Local, Bits<512>>,
    beat_sh: Signal<Local, Bits<11>>,
    ver_now: Signal<Local, Bits<64>>,
    spent: Signal<Local, Bit>,
    opens: Signal<Local, Bit>,
    fresh: Signal<Local, Bit>,
    live: Signal<Local, Bit>,

    icv: Constant<Bits<64>>,
    last_record: Constant<Bits<7>>,
    fmt: Constant<Bits<8>>,
    op_load: Constant<Bits<2>>,
    op_seal: Constant<Bits<2>>,
    nv_read: Constant<Bits<2>>,
    nv_write: Constant<Bits<2>>,
    nv_commit: Constant<Bits<2>>,
    nv_erase: Constant<Bits<2>>,
}

impl Default for Vault {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            zeroize: Default::default(),
            zeroized: Default::default(),
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
            rng_req: Default::default(),
            rng_blocks: Default::default(),
            rng_ready: Default::default(),
            rng_valid: Default::default(),
            rng_block: Default::default(),
            rng_done: Default::default(),
            rng_fail: Default::default(),
            ready: Default::default(),
            busy: Default::default(),
            epoch: Default::default(),
            last_epoch: Default::default(),
            cmd: Default::default(),
            cmd_op: Default::default(),
            cmd_index: Default::default(),
            cmd_rec: Default::default(),
            cmd_key: Default::default(),
            done: Default::default(),
            ok: Default::default(),
            present: Default::default(),
            entropy_fail: Default::default(),
            out_rec: Default::default(),
            out_key: Default::default(),
            aes: Default::default(),
            kx: Default::default(),
            rk_ram: Default::default(),
            state: Default::default(),
            op: Default::default(),
            index: Default::default(),
            nvop: Default::default(),
            beat: Default::default(),
            t: Default::default(),
            ra: Default::default(),
            mk: Default::default(),
            drawn: Default::default(),
            have_key: Default::default(),
            zz: Default::default(),
            no_master: Default::default(),
            epoch_q: Default::default(),
            seq: Default::default(),
            wver: Default::default(),
            ok_q: Default::default(),
            present_q: Default::default(),
            entropy_q: Default::default(),
            a_cur: Default::default(),
            r_cur: Default::default(),
            blk: Default::default(),
            t_x: Default::default(),
            rec_in: Default::default(),
            rec_out: Default::default(),
            beat_sh: Default::default(),
            ver_now: Default::default(),
            spent: Default::default(),
            opens: Default::default(),
            fresh: Default::default(),
            live: Default::default(),
            icv: Constant::new(KW_ICV.into()),
            last_record: Constant::new(((RECORDS - 1) as u64).into()),
            fmt: Constant::new((SLOT_FORMAT as u64).into()),
            op_load: Constant::new(vault_cmd::LOAD.into()),
            op_seal: Constant::new(vault_cmd::SEAL.into()),
            nv_read: Constant::new((nv_op::READ as u64).into()),
            nv_write: Constant::new((nv_op::WRITE as u64).into()),
            nv_commit: Constant::new((nv_op::COMMIT as u64).into()),
            nv_erase: Constant::new((nv_op::ERASE as u64).into()),
        }
    }
}

impl Logic for Vault {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, op, index, nvop, beat, t, ra, mk, drawn, have_key, zz, no_master,
            epoch_q, seq, wver, ok_q, present_q, entropy_q
        );
        self.aes.clock.next = self.clock.val();
        self.aes.reset.next = self.reset.val();
        self.kx.clock.next = self.clock.val();
        self.kx.reset.next = self.reset.val();
        self.rk_ram.read_clock.next = self.clock.val();
        self.rk_ram.write_clock.next = self.clock.val();

        // The master key's round keys: written by the expansion, read by
        // the AES core only.
        self.rk_ram.write_address.next = self.kx.rk_index.val();
        self.rk_ram.write_data.next = self.kx.rk.val();
        self.rk_ram.write_enable.next = self.kx.rk_valid.val();
        if self.state.q.val() == VaultState::ZzWipe {
            self.rk_ram.write_address.next = self.index.q.val().get_bits::<4>(0);
            self.rk_ram.write_data.next = bits::<128>(0);
            self.rk_ram.write_enable.next = true;
        }
        self.rk_ram.read_address.next = self.aes.rk_index.val();
        self.aes.rk.next = self.rk_ram.read_data.val();
        self.kx.start.next = false;
        self.kx.aes256.next = true;
        self.kx.key.next = self.mk.q.val();
        if (self.state.q.val() == VaultState::Boot) | (self.state.q.val() == VaultState::BootExpand)
        {
            self.kx.key.next = self.bb_key.val();
        }

        // The KW state: A in bits 63:0, R1..R16 above it (R1 lowest).
        self.a_cur.next = self.ra.q.val().get_bits::<64>(0);
        self.r_cur.next = self.ra.q.val().get_bits::<1024>(64);
        self.t_x.next = bit_cast::<64, 7>(self.t.q.val()) << 56;
        self.aes.start.next = false;
        self.aes.decrypt.next = self.state.q.val() == VaultState::Unwrap;
        // Wrap: A | R1. Unwrap: (A ^ t) | R16.
        self.blk.next = bit_cast::<128, 64>(self.a_cur.val())
            | (bit_cast::<128, 64>(self.r_cur.val().get_bits::<64>(0)) << 64);
        if self.state.q.val() == VaultState::Unwrap {
            self.blk.next = bit_cast::<128, 64>(self.a_cur.val() ^ self.t_x.val())
                | (bit_cast::<128, 64>(self.r_cur.val().get_bits::<64>(960)) << 64);
        }
        self.aes.block_in.next = self.blk.val();

        // This command's version: the epoch above this boot's seal count.
        // No version is used twice: the last epoch comes back at every
        // boot, and a spent count would wrap.
        self.ver_now.next =
            (bit_cast::<64, 20>(self.epoch_q.q.val()) << 43) | bit_cast::<64, 43>(self.seq.q.val());
        self.last_epoch.next = self.epoch_q.q.val().all();
        self.spent.next = self.last_epoch.val() | self.seq.q.val().all();
        // A record to seal: index at byte 1, the format at byte 7, the
        // version in bytes 8..16 (where the invocation counter sits).
        self.rec_in.next = bit_cast::<512, 8>(self.cmd_rec.val().get_bits::<8>(0))
            | (bit_cast::<512, 7>(self.cmd_index.val()) << 8)
            | (bit_cast::<512, 40>(self.cmd_rec.val().get_bits::<40>(16)) << 16)
            | (bit_cast::<512, 8>(self.fmt.val()) << 56)
            | (bit_cast::<512, 64>(self.ver_now.val()) << 64)
            | ((self.cmd_rec.val() >> 128) << 128);
        // An opened record: its integrity value, index and format, and
        // its version against the floor of its freshness entry.
        self.opens.next = (self.a_cur.val() == self.icv.val())
            & (self.r_cur.val().get_bits::<8>(8) == bit_cast::<8, 7>(self.index.q.val()))
            & (self.r_cur.val().get_bits::<8>(56) == self.fmt.val());
        self.live.next = self.bb_ver.val().get_bit(63);
        self.fresh.next =
            self.r_cur.val().get_bits::<64>(64) >= (self.bb_ver.val() & !(bits::<64>(1) << 63));
        // An opened record, those fields cleared.
        self.rec_out.next = bit_cast::<512, 8>(self.r_cur.val().get_bits::<8>(0))
            | (bit_cast::<512, 40>(self.r_cur.val().get_bits::<40>(16)) << 16)
            | (bit_cast::<512, 384>(self.r_cur.val().get_bits::<384>(128)) << 128);

        // Ports.
        self.beat_sh.next = bit_cast::<11, 4>(self.beat.q.val()) << 7;
        self.nv_req.next = false;
        self.nv_op.next = self.nvop.q.val();
        self.nv_index.next = self.index.q.val();
        self.nv_beat.next = self.beat.q.val();
        self.nv_wdata.next = self.ra.q.val().get_bits::<128>(0);
        if self.beat.q.val() == 1 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(128);
        }
        if self.beat.q.val() == 2 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(256);
        }
        if self.beat.q.val() == 3 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(384);
        }
        if self.beat.q.val() == 4 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(512);
        }
        if self.beat.q.val() == 5 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(640);
        }
        if self.beat.q.val() == 6 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(768);
        }
        if self.beat.q.val() == 7 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(896);
        }
        if self.beat.q.val() == 8 {
            self.nv_wdata.next = self.ra.q.val().get_bits::<128>(1024);
        }
        self.bb_write.next = false;
        self.bb_ver_index.next = self.index.q.val();
        self.bb_vwrite.next = false;
        self.bb_wver.next = self.wver.q.val();
        self.bb_wvalid.next = true;
        self.bb_wkey.next = self.mk.q.val();
        self.bb_wepoch.next = self.epoch_q.q.val();
        self.rng_req.next = false;
        self.rng_blocks.next = bits::<16>(2);
        self.rng_ready.next = false;
        self.ready.next = (self.state.q.val() != VaultState::Boot)
            & (self.state.q.val() != VaultState::BootExpand)
            & (self.state.q.val() != VaultState::BootEpoch)
            & (self.state.q.val() != VaultState::BootWait)
            & (self.state.q.val() != VaultState::ZzMaster)
            & (self.state.q.val() != VaultState::ZzMasterWait)
            & (self.state.q.val() != VaultState::ZzErase)
            & (self.state.q.val() != VaultState::ZzEraseWait)
            & (self.state.q.val() != VaultState::ZzWipe);
        self.zeroized.next = self.ready.val() & self.no_master.q.val();
        self.epoch.next = self.epoch_q.q.val();
        self.busy.next =
            (self.state.q.val() != VaultState::Idle) | self.aes.busy.val() | self.kx.busy.val();
        // The outputs to the engine come from registers only, outside the
        // state machine (which reads the engine's command): the exported
        // Verilog then has no false combinational loop through the engine.
        self.done.next = self.state.q.val() == VaultState::Finish;
        self.ok.next = self.ok_q.q.val();
        self.present.next = self.present_q.q.val();
        self.entropy_fail.next = self.entropy_q.q.val();
        self.out_rec.next = bits::<512>(0);
        self.out_key.next = bits::<512>(0);
        if (self.state.q.val() == VaultState::Finish)
            & self.ok_q.q.val()
            & (self.op.q.val() == self.op_load.val())
        {
            self.out_rec.next = self.rec_out.val();
            self.out_key.next = self.r_cur.val().get_bits::<512>(512);
        }

        match self.state.q.val() {
            VaultState::Boot => {
                self.epoch_q.d.next = bits::<20>(0);
                self.seq.d.next = bits::<43>(0);
                self.have_key.d.next = false;
                self.no_master.d.next = !self.bb_valid.val();
                self.index.d.next = bits::<7>(0);
                if self.zz.q.val() {
                    self.state.d.next = VaultState::ZzMaster;
                } else if self.bb_valid.val() {
                    self.kx.start.next = true;
                    self.state.d.next = VaultState::BootExpand;
                } else {
                    self.state.d.next = VaultState::Idle;
                }
            }
            VaultState::BootExpand => {
                if self.kx.done.val() {
                    self.state.d.next = VaultState::BootEpoch;
                    self.epoch_q.d.next = self.bb_epoch.val() + 1;
                    if self.bb_epoch.val().all() {
                        // 2^20 - 1 resets: the epoch stays (see the contract).
                        self.epoch_q.d.next = self.bb_epoch.val();
                    }
                }
            }
            VaultState::BootEpoch => {
                self.bb_write.next = true;
                self.bb_wkey.next = self.bb_key.val();
                self.state.d.next = VaultState::BootWait;
            }
            VaultState::BootWait => {
                if self.bb_ack.val() {
                    // An epoch that could not be stored would come again:
                    // then no record opens this boot (nothing is lost).
                    self.have_key.d.next = self.bb_ok.val();
                    self.state.d.next = VaultState::Idle;
                }
            }
            VaultState::ZzMaster => {
                // Valid bit and key overwritten; the epoch kept.
                self.bb_write.next = true;
                self.bb_wvalid.next = false;
                self.bb_wkey.next = bits::<256>(0);
                self.bb_wepoch.next = self.bb_epoch.val();
                self.state.d.next = VaultState::ZzMasterWait;
            }
            VaultState::ZzMasterWait => {
                if self.bb_ack.val() {
                    self.no_master.d.next = self.bb_ok.val();
                    self.nvop.d.next = self.nv_erase.val();
                    self.state.d.next = VaultState::ZzErase;
                }
            }
            VaultState::ZzErase => {
                self.nv_req.next = true;
                self.state.d.next = VaultState::ZzEraseWait;
            }
            VaultState::ZzEraseWait => {
                if self.nv_ack.val() {
                    // A record the store failed to erase is unreadable
                    // anyway once the master key is gone.
                    self.index.d.next = self.index.q.val() + 1;
                    self.state.d.next = VaultState::ZzErase;
                    if self.index.q.val() == self.last_record.val() {
                        self.state.d.next = VaultState::ZzWipe;
                    }
                }
            }
            VaultState::ZzWipe => {
                self.index.d.next = self.index.q.val() + 1;
                if self.index.q.val() == 15 {
                    self.zz.d.next = false;
                    self.index.d.next = bits::<7>(0);
                    self.state.d.next = VaultState::Idle;
                }
            }
            VaultState::Idle => {
                if self.cmd.val() {
                    self.op.d.next = self.cmd_op.val();
                    self.index.d.next = self.cmd_index.val();
                    self.beat.d.next = bits::<4>(0);
                    self.ok_q.d.next = false;
                    self.present_q.d.next = false;
                    self.entropy_q.d.next = false;
                    self.t.d.next = bits::<7>(1);
                    self.ra.d.next = bits::<1152>(0);
                    if self.cmd_op.val() == self.op_load.val() {
                        self.nvop.d.next = self.nv_read.val();
                        self.state.d.next = VaultState::NvSend;
                    } else if (self.have_key.q.val() & self.spent.val())
                        | (!self.have_key.q.val() & !self.no_master.q.val())
                    {
                        // No fresh version, or a stored master key this
                        // boot cannot use: nothing is written.
                        self.state.d.next = VaultState::Finish;
                    } else if self.cmd_op.val() == self.op_seal.val() {
                        self.ra.d.next = bit_cast::<1152, 64>(self.icv.val())
                            | (bit_cast::<1152, 512>(self.rec_in.val()) << 64)
                            | (bit_cast::<1152, 512>(self.cmd_key.val()) << 576);
                        self.wver.d.next = self.ver_now.val() | (bits::<64>(1) << 63);
                        self.seq.d.next = self.seq.q.val() + 1;
                        self.nvop.d.next = self.nv_write.val();
                        self.drawn.d.next = false;
                        self.mk.d.next = bits::<256>(0);
                        if self.have_key.q.val() {
                            self.state.d.next = VaultState::Wrap;
                        } else {
                            self.state.d.next = VaultState::MkDraw;
                        }
                    } else {
                        self.nvop.d.next = self.nv_erase.val();
                        self.state.d.next = VaultState::NvSend;
                        if self.have_key.q.val() {
                            // The entry first: from then on the record
                            // is gone, whatever the store still holds.
                            self.wver.d.next = self.ver_now.val();
                            self.seq.d.next = self.seq.q.val() + 1;
                            self.state.d.next = VaultState::VerWrite;
                        }
                    }
                }
            }
            VaultState::MkDraw => {
                self.rng_req.next = true;
                self.rng_ready.next = true;
                if self.rng_valid.val() {
                    self.drawn.d.next = true;
                    if self.drawn.q.val() {
                        self.mk.d.next =
                            self.mk.q.val() | (bit_cast::<256, 128>(self.rng_block.val()) << 128);
                    } else {
                        self.mk.d.next = bit_cast::<256, 128>(self.rng_block.val());
                    }
                }
                if self.rng_done.val() {
                    if self.rng_fail.val() {
                        self.entropy_q.d.next = true;
                        self.state.d.next = VaultState::Finish;
                    } else {
                        self.state.d.next = VaultState::MkKx;
                    }
                }
            }
            VaultState::MkKx => {
                self.kx.start.next = true;
                self.state.d.next = VaultState::MkExpand;
            }
            VaultState::MkExpand => {
                if self.kx.done.val() {
                    self.state.d.next = VaultState::MkStore;
                }
            }
            VaultState::MkStore => {
                self.bb_write.next = true;
                self.state.d.next = VaultState::MkWait;
            }
            VaultState::MkWait => {
                if self.bb_ack.val() {
                    self.mk.d.next = bits::<256>(0);
                    if self.bb_ok.val() {
                        self.have_key.d.next = true;
                        self.no_master.d.next = false;
                        self.state.d.next = VaultState::Wrap;
                    } else {
                        // A master key that is not stored seals nothing.
                        self.state.d.next = VaultState::Finish;
                    }
                }
            }
            VaultState::Wrap => {
                self.aes.start.next = true;
                self.state.d.next = VaultState::WrapWait;
            }
            VaultState::WrapWait => {
                if self.aes.done.val() {
                    // A = MSB64(B) ^ t; R_i = LSB64(B), rotated to the top.
                    self.ra.d.next = bit_cast::<1152, 64>(
                        self.aes.block_out.val().get_bits::<64>(0) ^ self.t_x.val(),
                    ) | (bit_cast::<1152, 1024>(
                        (self.r_cur.val() >> 64)
                            | (bit_cast::<1024, 64>(self.aes.block_out.val().get_bits::<64>(64))
                                << 960),
                    ) << 64);
                    self.t.d.next = self.t.q.val() + 1;
                    self.state.d.next = VaultState::Wrap;
                    if self.t.q.val() == 96 {
                        self.state.d.next = VaultState::NvSend;
                    }
                }
            }
            VaultState::NvSend => {
                self.nv_req.next = true;
                self.state.d.next = VaultState::NvWait;
            }
            VaultState::NvWait => {
                if self.nv_ack.val() {
                    self.beat.d.next = self.beat.q.val() + 1;
                    self.state.d.next = VaultState::NvSend;
                    if self.nvop.q.val() == self.nv_read.val() {
                        self.ra.d.next = self.ra.q.val()
                            | (bit_cast::<1152, 128>(self.nv_rdata.val()) << self.beat_sh.val());
                        if !self.nv_ok.val() {
                            // Missing: damaged if it must exist.
                            self.present_q.d.next = self.live.val();
                            self.state.d.next = VaultState::Finish;
                        } else if self.beat.q.val() == 8 {
                            self.present_q.d.next = true;
                            self.t.d.next = bits::<7>(96);
                            self.state.d.next = VaultState::Unwrap;
                            if !self.have_key.q.val() {
                                // Nothing can open it.
                                self.state.d.next = VaultState::Finish;
                            }
                        }
                    } else if self.nvop.q.val() == self.nv_write.val() {
                        if self.beat.q.val() == 8 {
                            self.nvop.d.next = self.nv_commit.val();
                        }
                    } else {
                        // COMMIT, ERASE.
                        self.ok_q.d.next = self.nv_ok.val();
                        self.state.d.next = VaultState::Finish;
                        if (self.nvop.q.val() == self.nv_commit.val()) & self.nv_ok.val() {
                            // Stored: now its entry.
                            self.ok_q.d.next = false;
                            self.state.d.next = VaultState::VerWrite;
                        }
                    }
                }
            }
            VaultState::VerWrite => {
                self.bb_vwrite.next = true;
                self.state.d.next = VaultState::VerWait;
            }
            VaultState::VerWait => {
                if self.bb_ack.val() {
                    self.ok_q.d.next = self.bb_ok.val();
                    self.state.d.next = VaultState::Finish;
                    if (self.op.q.val() != self.op_seal.val()) & self.bb_ok.val() {
                        // ERASE: the entry is stored, now the record.
                        self.ok_q.d.next = false;
                        self.state.d.next = VaultState::NvSend;
                    }
                }
            }
            VaultState::Unwrap => {
                self.aes.start.next = true;
                self.state.d.next = VaultState::UnwrapWait;
            }
            VaultState::UnwrapWait => {
                if self.aes.done.val() {
                    // A = MSB64(B); R_i = LSB64(B), rotated to the bottom.
                    self.ra.d.next =
                        bit_cast::<1152, 64>(self.aes.block_out.val().get_bits::<64>(0))
                            | (bit_cast::<1152, 1024>(
                                (self.r_cur.val() << 64)
                                    | bit_cast::<1024, 64>(
                                        self.aes.block_out.val().get_bits::<64>(64),
                                    ),
                            ) << 64);
                    self.t.d.next = self.t.q.val() - 1;
                    self.state.d.next = VaultState::Unwrap;
                    if self.t.q.val() == 1 {
                        self.state.d.next = VaultState::Check;
                    }
                }
            }
            VaultState::Check => {
                self.ok_q.d.next = self.opens.val() & self.fresh.val();
                // An older copy of an erased record, or of one whose seal
                // never finished, is absent; any other that does not open
                // is damaged.
                self.present_q.d.next = !(self.opens.val() & !self.fresh.val() & !self.live.val());
                self.state.d.next = VaultState::Finish;
            }
            VaultState::Finish => {
                // Nothing of a record or a key stays here.
                self.ra.d.next = bits::<1152>(0);
                self.mk.d.next = bits::<256>(0);
                self.state.d.next = VaultState::Idle;
            }
            _ => {
                self.state.d.next = VaultState::Boot;
            }
        }
        if self.reset.val() {
            self.state.d.next = VaultState::Boot;
            self.ra.d.next = bits::<1152>(0);
            self.mk.d.next = bits::<256>(0);
            self.zz.d.next = self.zeroize.val();
        }
    }
}
