//! Operation codes carried in descriptors.

/// What a descriptor asks the card to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// Do nothing and complete: measures the job path itself.
    Nop = 0x00,
    /// Read `src_len` bytes at `src_addr` and write them at `dst_addr`
    /// (any alignment; `dst_len` must be at least `src_len`).
    Copy = 0x01,
    /// AES-GCM authenticated encryption (SP 800-38D); see [`crate::crypto`].
    AesGcmEncrypt = 0x10,
    /// AES-GCM authenticated decryption; the plaintext is withheld
    /// (overwritten with zeros) when the tag does not verify.
    AesGcmDecrypt = 0x11,
    /// XTS-AES-256 encryption of one data unit (SP 800-38E).
    AesXtsEncrypt = 0x12,
    /// XTS-AES-256 decryption of one data unit.
    AesXtsDecrypt = 0x13,
    /// Load plaintext key material into an empty slot (test mode only).
    KeyLoad = 0x20,
    /// Clear a slot, overwriting its key material.
    KeyClear = 0x21,
    /// Write a slot's metadata (never its key) to `dst`.
    SlotInfo = 0x22,
    /// Generate an AES key from the card's DRBG into an empty slot.
    KeyGenerate = 0x23,
    /// Zeroize the card: erase the master key, every key slot and the
    /// DRBG state (see [`crate::storage`]).
    CardZeroize = 0x2f,
    /// SHA3-224 of `src` (FIPS 202); see [`crate::hash`].
    Sha3_224 = 0x30,
    /// SHA3-256 of `src`.
    Sha3_256 = 0x31,
    /// SHA3-384 of `src`.
    Sha3_384 = 0x32,
    /// SHA3-512 of `src`.
    Sha3_512 = 0x33,
    /// SHAKE128 of `src`, `dst_len` bytes of output.
    Shake128 = 0x34,
    /// SHAKE256 of `src`, `dst_len` bytes of output.
    Shake256 = 0x35,
    /// ML-KEM key generation (FIPS 203); see [`crate::kem`].
    KemKeygen = 0x40,
    /// ML-KEM encapsulation.
    KemEncaps = 0x41,
    /// ML-KEM decapsulation.
    KemDecaps = 0x42,
    /// Random bytes from the card's DRBG (SP 800-90A CTR_DRBG); see
    /// [`crate::rng`].
    RngGenerate = 0x50,
    /// Initialise a new or zeroized card: its label, the security
    /// officer's PIN and the failure limit; see [`crate::auth`].
    CardInit = 0x60,
    /// Log the queue in as a role, with its PIN.
    Login = 0x61,
    /// End the queue's login.
    Logout = 0x62,
    /// Set a role's PIN (the security officer setting the user's also
    /// unlocks it).
    SetPin = 0x63,
    /// Write the card's public auth state (label, roles, failures).
    CardInfo = 0x64,
}

impl Opcode {
    /// Every opcode, in numeric order.
    pub const ALL: &'static [Opcode] = &[
        Opcode::Nop,
        Opcode::Copy,
        Opcode::AesGcmEncrypt,
        Opcode::AesGcmDecrypt,
        Opcode::AesXtsEncrypt,
        Opcode::AesXtsDecrypt,
        Opcode::KeyLoad,
        Opcode::KeyClear,
        Opcode::SlotInfo,
        Opcode::KeyGenerate,
        Opcode::CardZeroize,
        Opcode::Sha3_224,
        Opcode::Sha3_256,
        Opcode::Sha3_384,
        Opcode::Sha3_512,
        Opcode::Shake128,
        Opcode::Shake256,
        Opcode::KemKeygen,
        Opcode::KemEncaps,
        Opcode::KemDecaps,
        Opcode::RngGenerate,
        Opcode::CardInit,
        Opcode::Login,
        Opcode::Logout,
        Opcode::SetPin,
        Opcode::CardInfo,
    ];

    /// Decode a descriptor's opcode byte.
    pub fn from_u8(v: u8) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|o| *o as u8 == v)
    }

    /// Upper-case name, as in the documentation.
    pub const fn name(self) -> &'static str {
        match self {
            Opcode::Nop => "NOP",
            Opcode::Copy => "COPY",
            Opcode::AesGcmEncrypt => "AES_GCM_ENCRYPT",
            Opcode::AesGcmDecrypt => "AES_GCM_DECRYPT",
            Opcode::AesXtsEncrypt => "AES_XTS_ENCRYPT",
            Opcode::AesXtsDecrypt => "AES_XTS_DECRYPT",
            Opcode::KeyLoad => "KEY_LOAD",
            Opcode::KeyClear => "KEY_CLEAR",
            Opcode::SlotInfo => "SLOT_INFO",
            Opcode::KeyGenerate => "KEY_GENERATE",
            Opcode::CardZeroize => "CARD_ZEROIZE",
            Opcode::Sha3_224 => "SHA3_224",
            Opcode::Sha3_256 => "SHA3_256",
            Opcode::Sha3_384 => "SHA3_384",
            Opcode::Sha3_512 => "SHA3_512",
            Opcode::Shake128 => "SHAKE128",
            Opcode::Shake256 => "SHAKE256",
            Opcode::KemKeygen => "KEM_KEYGEN",
            Opcode::KemEncaps => "KEM_ENCAPS",
            Opcode::KemDecaps => "KEM_DECAPS",
            Opcode::RngGenerate => "RNG_GENERATE",
            Opcode::CardInit => "CARD_INIT",
            Opcode::Login => "LOGIN",
            Opcode::Logout => "LOGOUT",
            Opcode::SetPin => "SET_PIN",
            Opcode::CardInfo => "CARD_INFO",
        }
    }

    /// What the operation does.
    pub const fn summary(self) -> &'static str {
        match self {
            Opcode::Nop => "completes with OK and does nothing else; every field but version, opcode and job_id must be zero",
            Opcode::Copy => "copies src_len bytes (0 to 1 MiB, any alignment) from src_addr to dst_addr; dst_len must be at least src_len; out_len is src_len",
            Opcode::AesGcmEncrypt => "AES-GCM encryption with the AES-128 or AES-256 key in key_slot (policy ENCRYPT): src is the plaintext, aux holds IV and AAD, dst receives ciphertext, tag and (card IV) the IV; params is a GCM parameter block",
            Opcode::AesGcmDecrypt => "AES-GCM decryption with the key in key_slot (policy DECRYPT): src is the ciphertext, aux holds IV, expected tag and AAD; dst receives the plaintext, overwritten with zeros and status AUTH_FAILED when the tag does not verify",
            Opcode::AesXtsEncrypt => "XTS-AES-256 encryption of one data unit of src_len bytes (16 to 1 MiB) less flags[2:0] pad bits, with the key pair in key_slot (policy ENCRYPT); params is the 128-bit tweak",
            Opcode::AesXtsDecrypt => "XTS-AES-256 decryption of one data unit with the key pair in key_slot (policy DECRYPT); params is the 128-bit tweak",
            Opcode::KeyLoad => "test mode only: loads src_len bytes of key material from src into the empty slot key_slot, with the 32-byte label at aux and the algorithm and policy in params; the card expands the round keys and draws the key's IV fixed field from its DRBG",
            Opcode::KeyClear => "clears key_slot: overwrites its key material and round keys with zeros and marks it empty",
            Opcode::SlotInfo => "writes the 64-byte slot record of key_slot (algorithm, policy, key check value, counters, IV fixed field, label; never key material) to dst",
            Opcode::KeyGenerate => "generates an AES-128, AES-256 or XTS-AES-256 key from the card's DRBG (with prediction resistance) into the empty slot key_slot, with the 32-byte label at aux and the algorithm and policy in params; ENTROPY_FAILURE when the noise source has failed",
            Opcode::CardZeroize => "completes with OK, then zeroizes the card as the tamper input does: the queues stop, the master-key store is overwritten, every persistent record is erased and every key-holding memory and register, the DRBG's included, is overwritten during the reset that follows; STATUS.ZEROIZED then says it is done. It runs even when a power-on self-test has failed (a card that cannot be trusted can still be emptied); every field but version, opcode and job_id must be zero",
            Opcode::Sha3_224 | Opcode::Sha3_256 | Opcode::Sha3_384 | Opcode::Sha3_512 => "hashes src_len bytes (0 to 1 MiB) at src and writes the digest to dst (out_len is the digest length); flags PARTIAL and RESUME chain jobs through a 200-byte sponge state (see Hash jobs)",
            Opcode::Shake128 | Opcode::Shake256 => "absorbs src_len bytes (0 to 1 MiB) at src and writes exactly dst_len bytes (0 to 1 MiB) of output to dst; flags PARTIAL and RESUME as for SHA-3",
            Opcode::KemKeygen => "ML-KEM KeyGen with d || z from the card's DRBG (src_len 0; test mode may pass them in src): the seed goes into the empty slot key_slot with the label at aux and params.policy; ek goes to dst (with EXPOSE also dk_PKE)",
            Opcode::KemEncaps => "ML-KEM Encaps of the ek in src with m from the card's DRBG (test mode may append m to src): the ciphertext goes to dst and the shared secret into the empty slot params.target as an AES-256 key (label at aux, params.policy), or with EXPOSE after the ciphertext",
            Opcode::KemDecaps => "ML-KEM Decaps of the ciphertext at src with the key in key_slot (policy DERIVE): the shared secret (or FIPS 203's implicit-rejection secret) goes into the empty slot params.target as an AES-256 key, or with EXPOSE (test mode) to dst; constant time",
            Opcode::CardInit => "initialises a card that holds no auth record (new or zeroized; else ALREADY_INITIALIZED): the security officer's PIN is src (4 to 64 bytes), the 32-byte card label is at aux, params byte 0 is the failure limit (0: 5); the card draws a salt, stores the PIN's verifier and seals the record. No queue is logged in afterwards",
            Opcode::Login => "logs the queue in as the role in params byte 0 (1 security officer, 2 user) with the PIN at src (4 to 64 bytes): the failure counter is stored plus one before the comparison and stored again after it (zero on a match), in the same cycles either way; PIN_INCORRECT ends any login of the queue and out_len is the tries left; PIN_LOCKED when the role's failures reached the limit, PIN_NOT_SET for a user without a PIN",
            Opcode::Logout => "ends the queue's login; every field but version, opcode and job_id must be zero",
            Opcode::SetPin => "sets the PIN of the role in params byte 0 to src (4 to 64 bytes), with a new salt: the security officer sets either role's PIN (setting the user's unlocks it), the user only its own; the failure counter of that role starts again at zero",
            Opcode::CardInfo => "writes the 64-byte auth state (flags initialised, damaged, user PIN set; failure limit; both failure counters; the queue's role; the card label) to dst; never a salt or verifier",
            Opcode::RngGenerate => "writes dst_len bytes (0 to 1 MiB) from the card's DRBG to dst (16-byte aligned); ENTROPY_FAILURE when the noise source has failed its health tests (a job of 0 bytes draws nothing and completes with OK)",
        }
    }

    /// The descriptor fields this operation reads, besides `version`,
    /// `opcode` and `job_id`. Every other field must be zero, or the job
    /// completes with [`crate::Status::ReservedField`].
    pub const fn fields_used(self) -> &'static [&'static str] {
        match self {
            Opcode::Nop | Opcode::CardZeroize => &[],
            Opcode::Copy => &["src_addr", "dst_addr", "src_len", "dst_len"],
            Opcode::AesGcmEncrypt | Opcode::AesGcmDecrypt => &[
                "src_addr", "dst_addr", "src_len", "dst_len", "aux_addr", "aux_len", "key_slot",
                "params",
            ],
            Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt => &[
                "flags", "src_addr", "dst_addr", "src_len", "dst_len", "key_slot", "params",
            ],
            Opcode::KeyLoad => &[
                "src_addr", "src_len", "aux_addr", "aux_len", "key_slot", "params",
            ],
            Opcode::KeyClear => &["key_slot"],
            Opcode::SlotInfo => &["dst_addr", "dst_len", "key_slot"],
            Opcode::KeyGenerate => &["aux_addr", "aux_len", "key_slot", "params"],
            Opcode::Sha3_224
            | Opcode::Sha3_256
            | Opcode::Sha3_384
            | Opcode::Sha3_512
            | Opcode::Shake128
            | Opcode::Shake256 => &[
                "flags", "src_addr", "dst_addr", "src_len", "dst_len", "aux_addr", "aux_len",
            ],
            Opcode::KemKeygen | Opcode::KemDecaps => &[
                "flags", "src_addr", "dst_addr", "src_len", "dst_len", "aux_addr", "aux_len",
                "key_slot", "params",
            ],
            Opcode::KemEncaps => &[
                "flags", "src_addr", "dst_addr", "src_len", "dst_len", "aux_addr", "aux_len",
                "params",
            ],
            Opcode::RngGenerate | Opcode::CardInfo => &["dst_addr", "dst_len"],
            Opcode::Logout => &[],
            Opcode::CardInit => &["src_addr", "src_len", "aux_addr", "aux_len", "params"],
            Opcode::Login | Opcode::SetPin => &["src_addr", "src_len", "params"],
        }
    }
}
