//! Key slots and the parameters and buffer layouts of the crypto jobs.
//!
//! # Key slots
//! The card holds [`KEY_SLOTS`] slots. A slot holds an algorithm
//! ([`KeyAlg`]), a usage policy ([`policy`]), a 32-byte label and the key;
//! the card expands AES round keys once, when the key enters. No register
//! and no DMA path returns key material: [`crate::Opcode::SlotInfo`] writes
//! the [`SlotRecord`] only.
//!
//! Keys enter a slot by [`crate::Opcode::KeyGenerate`] (from the card's
//! DRBG), by ML-KEM (a KeyGen's seed, or a shared secret stored as an
//! AES-256 key), or in test mode by [`crate::Opcode::KeyLoad`]. When an AES
//! key enters, the card also:
//! - computes its key check value ([`KCV_BYTES`] bytes, see
//!   [`kcv_plaintext`]);
//! - draws its GCM IV fixed field ([`IV_FIXED_BYTES`] bytes) from its DRBG;
//! - numbers it with the card's creation counter, which counts every key
//!   that entered a slot since the key store was last cleared.
//!
//! A failed noise source ([`crate::Status::EntropyFailure`]) therefore
//! stops every key from entering a slot.
//!
//! A label other than 32 zero bytes names one key: a key whose label
//! another occupied slot already has does not enter
//! ([`crate::Status::LabelInUse`]). The card checks every slot, in the same
//! cycles whatever it finds.
//!
//! # AES-GCM jobs
//! `params` is a [`GcmParams`] block. All three addresses are 16-byte
//! aligned. The auxiliary buffer `aux` holds, in order:
//! 1. the IV, `iv_len` bytes, zero-padded to a multiple of 16 (absent when
//!    the card generates the IV, `iv_len` = 0 with [`GcmParams::CARD_IV`]);
//! 2. for decryption only, the expected tag, 16 bytes (the first `tag_len`
//!    are compared);
//! 3. the AAD, `aad_len` bytes.
//!
//! `aux_len` must be exactly that sum ([`GcmParams::aux_len`]). The output
//! `dst` receives the ciphertext or plaintext (`src_len` bytes); encryption
//! then writes the tag (`tag_len` bytes) at `dst + pad16(src_len)`, and with
//! [`GcmParams::CARD_IV`] the 12-byte IV the card chose at
//! `dst + pad16(src_len) + 16`. `dst_len` must cover what is written
//! ([`GcmParams::dst_len`]).
//!
//! When a decryption's tag does not verify, the card overwrites the
//! plaintext it wrote with zeros before completing with
//! [`crate::Status::AuthFailed`]; the driver never hands such output on.
//!
//! In operational mode the card builds every encryption IV itself, as
//! SP 800-38D section 8.2.1 describes: the key's 4-byte fixed field (drawn
//! from the card's DRBG when the key entered its slot) followed by the
//! slot's 8-byte invocation counter (little-endian), which increases by one
//! per encryption and never repeats for the key's lifetime in the card. Caller-chosen IVs and tags shorter than 16 bytes are
//! accepted only in test mode.
//!
//! # XTS-AES jobs
//! `params` is the 128-bit tweak (the data unit's number as IEEE 1619
//! encodes it: 16 bytes, little-endian). The data unit is `src_len` bytes
//! less [`XTS_PAD_BITS_MASK`] bits of `flags`: SP 800-38E allows any length
//! of at least 128 bits, so the last byte may carry 1 to 7 unused low-order
//! bits (the bits of a unit run from the most significant bit of its first
//! byte), which the card writes as zero. A partial last block, of bytes or
//! of bits, uses ciphertext stealing.

/// The `flags` bits of an XTS job that give the unused low-order bits of
/// the data unit's last byte.
pub const XTS_PAD_BITS_MASK: u16 = 0x7;

/// Number of key slots.
pub const KEY_SLOTS: u32 = 64;
/// Size of a slot's label, in bytes.
pub const LABEL_BYTES: usize = 32;
/// Size of the record [`crate::Opcode::SlotInfo`] writes.
pub const SLOT_RECORD_BYTES: usize = 64;
/// Length of the IVs the card generates.
pub const CARD_IV_BYTES: usize = 12;
/// Length of a card IV's fixed field, drawn per key from the DRBG.
pub const IV_FIXED_BYTES: usize = 4;
/// Length of an AES key's check value.
pub const KCV_BYTES: usize = 3;

/// The block whose encryption gives an AES key's check value: sixteen
/// 0x01 bytes, as GlobalPlatform's Secure Channel Protocol 03 defines it.
/// The check value is the first [`KCV_BYTES`] bytes of the ciphertext; for
/// an XTS pair, of the data key's. A block of zeros is avoided on purpose:
/// its encryption is GCM's hash key H, which must stay secret.
pub const fn kcv_plaintext() -> [u8; 16] {
    [0x01; 16]
}
/// Longest caller-chosen GCM IV (1024 bits).
pub const MAX_IV_BYTES: usize = 128;

/// Round `n` up to a multiple of 16.
pub const fn pad16(n: u64) -> u64 {
    (n + 15) & !15
}

/// A slot's key algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyAlg {
    /// The slot is empty.
    Empty = 0,
    /// AES-128, a 16-byte key.
    Aes128 = 1,
    /// AES-256, a 32-byte key.
    Aes256 = 2,
    /// XTS-AES-256, a 64-byte key pair (data key, then tweak key).
    XtsAes256 = 3,
    /// ML-KEM-512 decapsulation key, held as its 64-byte seed (d, z).
    MlKem512 = 4,
    /// ML-KEM-768 decapsulation key (seed).
    MlKem768 = 5,
    /// ML-KEM-1024 decapsulation key (seed).
    MlKem1024 = 6,
    /// The slot's persistent record failed its integrity check at boot
    /// (altered, sealed under another master key, or another slot's): the
    /// slot serves no job until it is cleared.
    Damaged = 0xff,
}

impl KeyAlg {
    /// Every algorithm code.
    pub const ALL: &'static [KeyAlg] = &[
        KeyAlg::Empty,
        KeyAlg::Aes128,
        KeyAlg::Aes256,
        KeyAlg::XtsAes256,
        KeyAlg::MlKem512,
        KeyAlg::MlKem768,
        KeyAlg::MlKem1024,
        KeyAlg::Damaged,
    ];

    /// Decode an algorithm code.
    pub fn from_u8(v: u8) -> Option<KeyAlg> {
        KeyAlg::ALL.iter().copied().find(|a| *a as u8 == v)
    }

    /// Key material length in bytes (0 for [`KeyAlg::Empty`]).
    pub const fn key_bytes(self) -> usize {
        match self {
            KeyAlg::Empty | KeyAlg::Damaged => 0,
            KeyAlg::Aes128 => 16,
            KeyAlg::Aes256 => 32,
            KeyAlg::XtsAes256 => 64,
            KeyAlg::MlKem512 | KeyAlg::MlKem768 | KeyAlg::MlKem1024 => 64,
        }
    }

    /// Lower-case name as `hsmctl` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            KeyAlg::Empty => "empty",
            KeyAlg::Aes128 => "aes-128",
            KeyAlg::Aes256 => "aes-256",
            KeyAlg::XtsAes256 => "xts-aes-256",
            KeyAlg::MlKem512 => "ml-kem-512",
            KeyAlg::MlKem768 => "ml-kem-768",
            KeyAlg::MlKem1024 => "ml-kem-1024",
            KeyAlg::Damaged => "damaged",
        }
    }

    /// Whether KEY_LOAD and KEY_GENERATE accept the algorithm: AES keys
    /// only (ML-KEM keys enter a slot only by KEM_KEYGEN).
    pub const fn loadable(self) -> bool {
        matches!(self, KeyAlg::Aes128 | KeyAlg::Aes256 | KeyAlg::XtsAes256)
    }

    /// Whether a key of this algorithm has a key check value and an IV
    /// fixed field (the AES algorithms).
    pub const fn is_aes(self) -> bool {
        self.loadable()
    }
}

/// Usage policy bits of a slot.
pub mod policy {
    /// The key may encrypt.
    pub const ENCRYPT: u16 = 1 << 0;
    /// The key may decrypt.
    pub const DECRYPT: u16 = 1 << 1;
    /// The key may wrap other keys (key-management issue).
    pub const WRAP: u16 = 1 << 2;
    /// The key may unwrap other keys.
    pub const UNWRAP: u16 = 1 << 3;
    /// The key may sign (ML-DSA).
    pub const SIGN: u16 = 1 << 4;
    /// The key may verify.
    pub const VERIFY: u16 = 1 << 5;
    /// The key may decapsulate or derive (ML-KEM).
    pub const DERIVE: u16 = 1 << 6;
    /// Every bit defined; others must be zero.
    pub const ALL: u16 = 0x7f;
    /// Names, in bit order, as `hsmctl` spells them.
    pub const NAMES: &[(u16, &str)] = &[
        (ENCRYPT, "encrypt"),
        (DECRYPT, "decrypt"),
        (WRAP, "wrap"),
        (UNWRAP, "unwrap"),
        (SIGN, "sign"),
        (VERIFY, "verify"),
        (DERIVE, "derive"),
    ];
}

/// The `params` block of AES-GCM jobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcmParams {
    /// IV length in bytes (bytes 0-1): 1 to 128, or 0 with [`Self::CARD_IV`].
    pub iv_len: u16,
    /// Tag length in bytes (byte 2): 4 to 16 in test mode, 16 otherwise.
    pub tag_len: u8,
    /// Flags (byte 3): [`Self::CARD_IV`].
    pub flags: u8,
    /// AAD length in bytes (bytes 4-7), at most 1 MiB.
    pub aad_len: u32,
}

impl GcmParams {
    /// Flag: the card generates the IV (encryption only).
    pub const CARD_IV: u8 = 1;

    /// Encode as a descriptor's `params` (bytes 8-15 are reserved, zero).
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..2].copy_from_slice(&self.iv_len.to_le_bytes());
        b[2] = self.tag_len;
        b[3] = self.flags;
        b[4..8].copy_from_slice(&self.aad_len.to_le_bytes());
        b
    }

    /// Decode a descriptor's `params`; `None` when reserved bytes are set.
    pub fn from_bytes(b: &[u8; 16]) -> Option<GcmParams> {
        if b[8..].iter().any(|x| *x != 0) {
            return None;
        }
        Some(GcmParams {
            iv_len: u16::from_le_bytes([b[0], b[1]]),
            tag_len: b[2],
            flags: b[3],
            aad_len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// Offset of the expected tag (decryption) or the AAD (encryption) in
    /// `aux`: the padded IV.
    pub fn iv_area(&self) -> u64 {
        pad16(self.iv_len as u64)
    }

    /// The `aux_len` the job must name.
    pub fn aux_len(&self, decrypt: bool) -> u64 {
        self.iv_area() + if decrypt { 16 } else { 0 } + self.aad_len as u64
    }

    /// The smallest `dst_len` for `src_len` bytes of input.
    pub fn dst_len(&self, src_len: u64, decrypt: bool) -> u64 {
        if decrypt {
            src_len
        } else if self.flags & Self::CARD_IV != 0 {
            pad16(src_len) + 32
        } else {
            pad16(src_len) + 16
        }
    }
}

/// The `params` block of [`crate::Opcode::KeyLoad`] and
/// [`crate::Opcode::KeyGenerate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyLoadParams {
    /// Algorithm code ([`KeyAlg`]), byte 0.
    pub alg: u8,
    /// Usage policy ([`policy`]), bytes 2-3.
    pub policy: u16,
}

impl KeyLoadParams {
    /// Encode as a descriptor's `params`; every other byte is reserved.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.alg;
        b[2..4].copy_from_slice(&self.policy.to_le_bytes());
        b
    }

    /// Decode; `None` when reserved bytes are set.
    pub fn from_bytes(b: &[u8; 16]) -> Option<KeyLoadParams> {
        if b[1] != 0 || b[4..].iter().any(|x| *x != 0) {
            return None;
        }
        Some(KeyLoadParams {
            alg: b[0],
            policy: u16::from_le_bytes([b[2], b[3]]),
        })
    }
}

/// The record [`crate::Opcode::SlotInfo`] writes. Bytes:
/// - 0: algorithm; 2-3: policy (little-endian);
/// - 4-6: key check value (AES keys; zero for ML-KEM seeds);
/// - 8-15: GCM invocation counter;
/// - 16-23: creation number (the card's creation counter when the key
///   entered);
/// - 24-27: GCM IV fixed field (AES keys);
/// - 32-63: label;
///
/// other bytes zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRecord {
    /// Algorithm code.
    pub alg: u8,
    /// Usage policy.
    pub policy: u16,
    /// Key check value (AES keys), see [`kcv_plaintext`].
    pub kcv: [u8; KCV_BYTES],
    /// GCM encryptions the card has made with this key (the invocation
    /// field of its IVs).
    pub invocations: u64,
    /// The card's creation counter when the key entered the slot (1 for
    /// the first key after the key store was cleared).
    pub created: u64,
    /// The fixed field of the IVs the card builds for this key.
    pub iv_fixed: [u8; IV_FIXED_BYTES],
    /// Label.
    pub label: [u8; LABEL_BYTES],
}

impl SlotRecord {
    /// Decode a record.
    pub fn from_bytes(b: &[u8; SLOT_RECORD_BYTES]) -> SlotRecord {
        let mut label = [0u8; LABEL_BYTES];
        label.copy_from_slice(&b[32..64]);
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        SlotRecord {
            alg: b[0],
            policy: u16::from_le_bytes([b[2], b[3]]),
            kcv: [b[4], b[5], b[6]],
            invocations: u64_at(8),
            created: u64_at(16),
            iv_fixed: [b[24], b[25], b[26], b[27]],
            label,
        }
    }

    /// The GCM invocations made with this key since the card's last reset
    /// (the invocation counter's low bits, below the boot epoch; see
    /// [`crate::storage`]).
    pub const fn boot_invocations(&self) -> u64 {
        self.invocations & ((1u64 << crate::storage::EPOCH_SHIFT) - 1)
    }

    /// The boot epoch in the invocation counter's high bits.
    pub const fn boot_epoch(&self) -> u64 {
        self.invocations >> crate::storage::EPOCH_SHIFT
    }

    /// Encode a record.
    pub fn to_bytes(&self) -> [u8; SLOT_RECORD_BYTES] {
        let mut b = [0u8; SLOT_RECORD_BYTES];
        b[0] = self.alg;
        b[2..4].copy_from_slice(&self.policy.to_le_bytes());
        b[4..7].copy_from_slice(&self.kcv);
        b[8..16].copy_from_slice(&self.invocations.to_le_bytes());
        b[16..24].copy_from_slice(&self.created.to_le_bytes());
        b[24..28].copy_from_slice(&self.iv_fixed);
        b[32..64].copy_from_slice(&self.label);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_params_round_trip_and_layout() {
        let p = GcmParams {
            iv_len: 60,
            tag_len: 13,
            flags: 0,
            aad_len: 77,
        };
        assert_eq!(GcmParams::from_bytes(&p.to_bytes()), Some(p));
        assert_eq!(p.aux_len(false), 64 + 77);
        assert_eq!(p.aux_len(true), 64 + 16 + 77);
        assert_eq!(p.dst_len(17, false), 48);
        let mut b = p.to_bytes();
        b[9] = 1;
        assert_eq!(GcmParams::from_bytes(&b), None);
    }

    #[test]
    fn slot_record_round_trips() {
        let r = SlotRecord {
            alg: KeyAlg::XtsAes256 as u8,
            policy: policy::ENCRYPT | policy::DECRYPT,
            kcv: [1, 2, 3],
            invocations: 5,
            created: 9,
            iv_fixed: [4, 5, 6, 7],
            label: [7; 32],
        };
        assert_eq!(SlotRecord::from_bytes(&r.to_bytes()), r);
    }
}
