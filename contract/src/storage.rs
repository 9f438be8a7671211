//! The card's persistent storage: what it keeps across a power cycle, how it
//! seals it, and the two ports through which it reaches the storage.
//!
//! # Two stores
//! - **The master-key store** (`bb_*` ports): on a real card battery-backed
//!   RAM next to the FPGA, erased by the tamper circuit; in the simulated
//!   card the file [`MASTER_KEY_FILE`] of the state directory. It holds a
//!   valid bit, the 256-bit device master key and the boot epoch
//!   ([`EPOCH_BITS`] bits). The card writes all of it at once.
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
//! to the slot index, byte 7 to [`SLOT_FORMAT`] and the invocation counter
//! zeroed) followed by the 64-byte key entry (an AES key, an XTS pair, or
//! an ML-KEM seed), wrapped with AES-256 key wrap (NIST SP 800-38F KW,
//! RFC 3394) under the master key: 136 bytes, then 8 zero bytes to fill the
//! last beat. Unwrapping checks KW's integrity value, the slot index and the
//! format byte, so a record that was altered, written under another master
//! key, or moved to another slot's place is refused: the slot then reads as
//! [`crate::crypto::KeyAlg::Damaged`] until it is cleared.
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
//! vault first overwrites the master-key store (valid bit, key and all;
//! the epoch is kept), which alone makes every sealed record unreadable,
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
/// The format byte (byte 7 of the sealed slot record).
pub const SLOT_FORMAT: u8 = 1;
/// Bits of the boot epoch.
pub const EPOCH_BITS: u32 = 20;
/// Where the epoch sits in a key's invocation counter.
pub const EPOCH_SHIFT: u32 = 44;
/// The simulated card's master-key store file in its state directory: one
/// byte valid flag, 32 bytes key, 4 bytes epoch (little-endian).
pub const MASTER_KEY_FILE: &str = "master.key";
/// Bytes of [`MASTER_KEY_FILE`].
pub const MASTER_KEY_FILE_BYTES: usize = 37;

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
const _: () = assert!(MASTER_KEY_FILE_BYTES == 1 + 32 + 4);

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
}
