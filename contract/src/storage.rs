//! The card's persistent storage: what it keeps across a power cycle, how it
//! seals it, and the two ports through which it reaches the storage.
//!
//! # Two stores
//! - **The master-key store** (`bb_*` ports): on a real card battery-backed
//!   RAM next to the FPGA, erased by the tamper circuit; in the simulated
//!   card the file [`MASTER_KEY_FILE`] of the state directory. It holds a
//!   valid bit, the 256-bit device master key, the boot epoch
//!   ([`EPOCH_BITS`] bits) and the freshness table: one 64-bit entry per
//!   record (see *Freshness* below). The card writes the first three at
//!   once (`bb_write`; a write that clears the valid bit clears the table
//!   too), or one table entry (`bb_vwrite`); each write is atomic.
//! - **The record store** (`nv_*` ports): flash on a real card; in the
//!   simulated card one file per record in the state directory
//!   ([`record_file_name`]), each written to a temporary file, synced and
//!   renamed over the old one, so that a record is either wholly old or
//!   wholly new whenever the card stops. It holds [`RECORDS`] records of
//!   [`RECORD_BEATS`] 16-byte beats; record `i` < 64 is key slot `i`, and
//!   record 64 the auth record (card label, PIN verifiers and failure
//!   counters, see [`crate::auth`]), sealed the same way.
//!
//! # Sealing
//! The card's vault is the only block that sees the master key. It seals a
//! slot as the slot record ([`crate::crypto::SlotRecord`], with byte 1 set
//! to the slot index, byte 7 to [`SLOT_FORMAT`] and bytes 8..16, where
//! the invocation counter sits, to the record's version, see *Freshness*)
//! followed by the 64-byte key entry (an AES key, an XTS pair, or
//! an ML-KEM seed), wrapped with AES-256 key wrap (NIST SP 800-38F KW,
//! RFC 3394) under the master key: 136 bytes, then 8 zero bytes to fill the
//! last beat. Unwrapping checks KW's integrity value, the slot index, the
//! format byte and the version, so a record that was altered, written
//! under another master key, moved to another slot's place or put back
//! from an older copy is refused: the slot then reads as
//! [`crate::crypto::KeyAlg::Damaged`] until it is cleared.
//!
//! # Freshness: no record rolls back
//! Sealing alone does not stop someone who can write the record store from
//! putting back an older sealed copy of a record (an auth record whose
//! failure counters were lower, a key that was deleted) or removing one.
//! So every seal also gives the record a **version**, sealed with it in
//! bytes 8..16 of the slot record ([`version`]): the boot epoch in bits
//! 62..[`VERSION_SEQ_BITS`] and the vault's seal counter of this boot below
//! (reset at every boot, which bumps the epoch first), so that no two seals
//! or erasures under one master key share a version.
//!
//! Entry `i` of the freshness table holds record `i`'s **floor** (bits
//! 62..0), the version of its last completed seal or erasure, and bit
//! [`ENTRY_LIVE_BIT`], set when that was a seal (the record must exist).
//! The table lives in the master-key store, inside the tamper boundary
//! with the master key, out of reach of someone who can write the record
//! store.
//! - A seal commits the record first, then writes its entry (live, the new
//!   version). An erasure writes its entry first (not live, a new version),
//!   then removes the record.
//! - A record opens only if its version is at least its floor. One that is
//!   older (or missing) reads as **damaged** when its entry is live, and as
//!   **absent** when it is not (an erased record, or one whose seal never
//!   finished). So the auth record and the keys cannot be rolled back past
//!   their last completed change, and removing the auth record does not
//!   make an initialised card look new.
//! - Whenever the card stops, the record is its last completed version or
//!   the one being sealed (version above the floor): an interrupted seal
//!   leaves either, as before.
//! - The seal counter has [`VERSION_SEQ_BITS`] bits; at the last epoch, or
//!   should the counter run out, the vault seals and erases nothing more
//!   (`STORAGE_FAILED`) until the card is zeroized.
//!
//! # Boot epoch and GCM invocation counters
//! A key's GCM invocation counter (the low 8 bytes of a card IV) is not
//! written to storage at every encryption. Instead, every reset increments
//! the boot epoch in the master-key store before the card serves a job, and
//! every key's counter starts the boot at `epoch << `[`EPOCH_SHIFT`]. A card
//! IV can therefore never repeat across power cycles; within one boot a key
//! has 2^44 invocations, after which card-IV encryption with it fails with
//! `INVOCATIONS_EXHAUSTED` until the next reset. The last epoch
//! (2^[`EPOCH_BITS`] - 1) is never used: a store that holds it keeps it at
//! every later boot, and every key's counter starts such a boot spent, so
//! after 2^20 - 2 boots card-IV encryption fails with
//! `INVOCATIONS_EXHAUSTED` for good (decryption, and encryption with the
//! caller's IVs in test mode, still work). Zeroization keeps the epoch too.
//!
//! # Zeroization
//! A rising edge of the card's `tamper` input, or a `CARD_ZEROIZE` job
//! (after its completion is written), zeroizes the card: the queues stop
//! and the card resets itself with zeroization on. During that reset the
//! vault first overwrites the master-key store (valid bit, key and the
//! freshness table; the epoch is kept), which alone makes every sealed record unreadable,
//! then erases every record, then overwrites its own round keys; meanwhile
//! the engines overwrite the key store, the round-key memory and the
//! ML-KEM memories, and the DRBG is reinstantiated from fresh entropy after
//! its known-answer test. The card's own part takes a fixed number of
//! cycles; what the stores take to acknowledge is theirs. `STATUS.ZEROIZED`
//! is then set, and stays set until a new master key is sealed.

/// Number of records in the record store: the key slots, then the auth
/// record ([`crate::auth::AUTH_RECORD`]).
pub const RECORDS: usize = 65;
/// 16-byte beats per record.
pub const RECORD_BEATS: usize = 9;
/// Bytes per record in the record store (including the zero fill).
pub const RECORD_BYTES: usize = RECORD_BEATS * 16;
/// Bytes of a sealed slot: AES key wrap of 128 bytes.
pub const SEALED_BYTES: usize = 136;
/// Bytes of a slot's plaintext before sealing: the record and the key entry.
pub const PLAIN_BYTES: usize = 128;
/// The format byte (byte 7 of the sealed slot record). Format 2 seals the
/// record's version in bytes 8..16.
pub const SLOT_FORMAT: u8 = 2;
/// Bits of the boot epoch.
pub const EPOCH_BITS: u32 = 20;
/// Where the epoch sits in a key's invocation counter.
pub const EPOCH_SHIFT: u32 = 44;
/// Bits of a version's seal counter (below the epoch).
pub const VERSION_SEQ_BITS: u32 = 43;
/// The bit of a freshness-table entry that says the record must exist.
pub const ENTRY_LIVE_BIT: u32 = 63;
/// The simulated card's master-key store file in its state directory: one
/// byte valid flag, 32 bytes key, 4 bytes epoch, then the freshness table's
/// [`RECORDS`] entries of 8 bytes (all little-endian).
pub const MASTER_KEY_FILE: &str = "master.key";
/// Where the freshness table starts in [`MASTER_KEY_FILE`].
pub const MASTER_TABLE_OFFSET: usize = 37;
/// Bytes of [`MASTER_KEY_FILE`].
pub const MASTER_KEY_FILE_BYTES: usize = MASTER_TABLE_OFFSET + 8 * RECORDS;

/// A record's version: sealed at `epoch` as the boot's `seq`-th seal.
pub const fn version(epoch: u32, seq: u64) -> u64 {
    ((epoch as u64) << VERSION_SEQ_BITS) | seq
}

/// Whether the vault opens a record of `version` whose freshness-table entry
/// is `entry`: the rule the vault's LOAD applies, and which the RTL bench's
/// rollback test (`hdl/tests/crypto.rs`, `no_record_rolls_back`) checks its
/// answers against.
pub const fn is_fresh(entry: u64, version: u64) -> bool {
    version >= entry & !(1u64 << ENTRY_LIVE_BIT)
}

/// Whether `entry` says its record must exist.
pub const fn is_live(entry: u64) -> bool {
    entry >> ENTRY_LIVE_BIT != 0
}

/// Operations on the record store's port (`nv_op`).
pub mod nv_op {
    /// Read beat `nv_beat` of record `nv_index`; `nv_ok` says whether the
    /// record exists.
    pub const READ: u8 = 0;
    /// Stage beat `nv_beat` of record `nv_index` (`nv_wdata`).
    pub const WRITE: u8 = 1;
    /// Make the staged beats record `nv_index`, atomically; `nv_ok` says
    /// whether it is stored.
    pub const COMMIT: u8 = 2;
    /// Remove record `nv_index`, atomically; `nv_ok` says whether it is gone.
    pub const ERASE: u8 = 3;
}

/// The simulated card's file for record `index`.
pub fn record_file_name(index: usize) -> String {
    format!("record-{index:02}.bin")
}

/// The C header the simulated card's C++ side includes: the storage
/// constants it needs, generated from this module (`sim/csrc/contract.h`).
pub fn c_header() -> String {
    format!(
        "// Generated from hsm-contract (contract/src/storage.rs) by\n\
         // `cargo run -p hsm-contract --bin gen-docs`. Do not edit.\n\
         #pragma once\n\n\
         #define HSM_NV_RECORDS {RECORDS}\n\
         #define HSM_NV_RECORD_BEATS {RECORD_BEATS}\n\
         #define HSM_NV_OP_READ {}\n\
         #define HSM_NV_OP_WRITE {}\n\
         #define HSM_NV_OP_COMMIT {}\n\
         #define HSM_NV_OP_ERASE {}\n\
         #define HSM_NV_RECORD_FILE_FORMAT \"record-%02u.bin\"\n\
         #define HSM_MASTER_KEY_FILE \"{MASTER_KEY_FILE}\"\n\
         #define HSM_MASTER_KEY_FILE_BYTES {MASTER_KEY_FILE_BYTES}\n\
         #define HSM_MASTER_TABLE_OFFSET {MASTER_TABLE_OFFSET}\n\
         #define HSM_EPOCH_BITS {EPOCH_BITS}\n",
        nv_op::READ,
        nv_op::WRITE,
        nv_op::COMMIT,
        nv_op::ERASE,
    )
}

// The layout fits together.
const _: () = assert!(SEALED_BYTES <= RECORD_BYTES);
const _: () = assert!(crate::auth::AUTH_RECORD == RECORDS - 1);
const _: () = assert!(SEALED_BYTES == PLAIN_BYTES + 8);
const _: () = assert!(EPOCH_BITS + EPOCH_SHIFT <= 64);
const _: () = assert!(MASTER_TABLE_OFFSET == 1 + 32 + 4);
const _: () = assert!(EPOCH_BITS + VERSION_SEQ_BITS <= ENTRY_LIVE_BIT);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_header_names_the_same_files() {
        assert_eq!(record_file_name(7), "record-07.bin");
        let h = c_header();
        assert!(h.contains("\"record-%02u.bin\""), "{h}");
        assert!(h.contains(&format!("\"{MASTER_KEY_FILE}\"")), "{h}");
    }

    #[test]
    fn versions_order_by_epoch_then_seal() {
        assert!(version(1, 0) > version(0, (1 << VERSION_SEQ_BITS) - 1));
        let last = version((1 << EPOCH_BITS) - 1, (1 << VERSION_SEQ_BITS) - 1);
        assert!(!is_live(last), "a version never sets the live bit");
        let live = (1 << ENTRY_LIVE_BIT) | version(3, 7);
        assert!(is_live(live));
        assert!(is_fresh(live, version(3, 7)) && is_fresh(live, version(4, 0)));
        assert!(!is_fresh(live, version(3, 6)));
        assert!(is_fresh(0, 0));
    }
}
