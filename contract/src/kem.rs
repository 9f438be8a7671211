//! ML-KEM jobs (FIPS 203): key generation, encapsulation and
//! decapsulation, for ML-KEM-512, ML-KEM-768 and ML-KEM-1024.
//!
//! # Keys
//! A decapsulation key lives in a slot of algorithm [`KeyAlg::MlKem512`],
//! [`KeyAlg::MlKem768`] or [`KeyAlg::MlKem1024`] as its 64-byte seed
//! (d, z) (FIPS 203 section 7.1 allows storing the seed); the card
//! re-derives the key pair from it on every decapsulation. No job returns
//! the seed or the expanded key, except that test mode can return the
//! expanded K-PKE key ([`flags::EXPOSE`]). A shared secret becomes an
//! [`KeyAlg::Aes256`] key in a target slot, with the policy the job names.
//!
//! # Randomness
//! KeyGen needs 64 random bytes (d, z) and Encaps 32 (m). The card draws
//! them from its DRBG ([`crate::rng`]): KeyGen with `src_len` 0, Encaps
//! with `src` = ek alone. For known-answer tests the host may supply them
//! instead (KeyGen `src` = d || z, Encaps `src` = ek || m), which runs
//! the deterministic KeyGen_internal(d, z) and Encaps_internal(ek, m);
//! that is accepted in test mode only (`NOT_TEST_MODE` otherwise). A job
//! that needs the DRBG while the noise source has failed completes with
//! `ENTROPY_FAILURE` and stores nothing. Decapsulation needs no
//! randomness.
//!
//! # Job layouts
//! `params` is a [`KemParams`] block; every address is 16-byte aligned.
//! - [`crate::Opcode::KemKeygen`]: `src` empty (or, test mode, d || z:
//!   64 bytes), `key_slot`
//!   an empty slot that receives the key, `aux` its 32-byte label; `dst`
//!   receives ek ([`KemSet::ek_bytes`]), then with [`flags::EXPOSE`]
//!   dk_PKE = ByteEncode12(ŝ) ([`KemSet::dk_pke_bytes`]).
//! - [`crate::Opcode::KemEncaps`]: `src` = ek (or, test mode, ek || m);
//!   `dst` receives the
//!   ciphertext ([`KemSet::ct_bytes`]). The shared secret K goes into the
//!   empty slot `params.target` with `params.policy` and the label at
//!   `aux`, or with [`flags::EXPOSE`] to `dst` after the ciphertext (then
//!   `aux`, `policy` and `target` are zero). An ek that fails the modulus
//!   check completes with `EK_CHECK_FAILED` and writes nothing.
//! - [`crate::Opcode::KemDecaps`]: `src` = the ciphertext; `key_slot`
//!   holds the decapsulation key (its algorithm must be `params.alg`, its
//!   policy must allow `DERIVE`). K (K' or, for a ciphertext that does not
//!   re-encrypt to itself, the implicit-rejection secret K̄) goes into the
//!   empty slot `params.target` as for Encaps, or with [`flags::EXPOSE`]
//!   to `dst`. Valid and invalid ciphertexts take the same cycles.

use crate::crypto::{policy, KeyAlg, LABEL_BYTES};

/// ML-KEM job `flags`.
pub mod flags {
    /// Test mode only: KeyGen also writes dk_PKE after ek; Encaps and
    /// Decaps write the shared secret to `dst` instead of a slot.
    pub const EXPOSE: u16 = 1 << 0;
    /// Every flag an ML-KEM job may set.
    pub const ALL: u16 = EXPOSE;
}

/// Length of the shared secret K, in bytes.
pub const SHARED_SECRET_BYTES: u32 = 32;
/// Length of the seed (d, z) a slot holds, in bytes.
pub const SEED_BYTES: u32 = 64;
/// Length of the encapsulation randomness m, in bytes.
pub const M_BYTES: u32 = 32;

/// An ML-KEM parameter set (FIPS 203 section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KemSet {
    /// ML-KEM-512 (k = 2).
    MlKem512,
    /// ML-KEM-768 (k = 3).
    MlKem768,
    /// ML-KEM-1024 (k = 4).
    MlKem1024,
}

impl KemSet {
    /// Every parameter set.
    pub const ALL: &'static [KemSet] = &[KemSet::MlKem512, KemSet::MlKem768, KemSet::MlKem1024];

    /// Module rank k.
    pub const fn k(self) -> u32 {
        match self {
            KemSet::MlKem512 => 2,
            KemSet::MlKem768 => 3,
            KemSet::MlKem1024 => 4,
        }
    }

    /// (d_u, d_v) of the ciphertext compression.
    pub const fn du_dv(self) -> (u32, u32) {
        match self {
            KemSet::MlKem1024 => (11, 5),
            _ => (10, 4),
        }
    }

    /// The slot algorithm of a decapsulation key of this set.
    pub const fn key_alg(self) -> KeyAlg {
        match self {
            KemSet::MlKem512 => KeyAlg::MlKem512,
            KemSet::MlKem768 => KeyAlg::MlKem768,
            KemSet::MlKem1024 => KeyAlg::MlKem1024,
        }
    }

    /// The set of an algorithm code, if it is an ML-KEM one.
    pub fn from_alg(alg: u8) -> Option<KemSet> {
        KemSet::ALL
            .iter()
            .copied()
            .find(|s| s.key_alg() as u8 == alg)
    }

    /// Encapsulation key length: 384k + 32.
    pub const fn ek_bytes(self) -> u32 {
        384 * self.k() + 32
    }

    /// Ciphertext length: 32 (d_u k + d_v).
    pub const fn ct_bytes(self) -> u32 {
        let (du, dv) = self.du_dv();
        32 * (du * self.k() + dv)
    }

    /// Length of dk_PKE = ByteEncode12(ŝ): 384k.
    pub const fn dk_pke_bytes(self) -> u32 {
        384 * self.k()
    }

    /// Length of the expanded decapsulation key: 768k + 96.
    pub const fn dk_bytes(self) -> u32 {
        768 * self.k() + 96
    }

    /// Name as `hsmctl` spells it (`ml-kem-768`).
    pub const fn name(self) -> &'static str {
        match self {
            KemSet::MlKem512 => "ml-kem-512",
            KemSet::MlKem768 => "ml-kem-768",
            KemSet::MlKem1024 => "ml-kem-1024",
        }
    }

    /// Parse [`KemSet::name`] (also accepts `512`, `768`, `1024`).
    pub fn from_name(s: &str) -> Option<KemSet> {
        KemSet::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s || a.name().trim_start_matches("ml-kem-") == s)
    }
}

/// The `params` block of ML-KEM jobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemParams {
    /// The parameter set, as its slot algorithm code (byte 0).
    pub alg: u8,
    /// Usage policy of the slot the job creates (bytes 2-3): the ML-KEM key
    /// (KeyGen) or the AES-256 key from the shared secret.
    pub policy: u16,
    /// Slot that receives the shared secret (byte 4; Encaps and Decaps).
    pub target: u8,
}

impl KemParams {
    /// Encode as a descriptor's `params`; every other byte is reserved.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.alg;
        b[2..4].copy_from_slice(&self.policy.to_le_bytes());
        b[4] = self.target;
        b
    }

    /// Decode; `None` when reserved bytes are set.
    pub fn from_bytes(b: &[u8; 16]) -> Option<KemParams> {
        if b[1] != 0 || b[5..].iter().any(|x| *x != 0) {
            return None;
        }
        Some(KemParams {
            alg: b[0],
            policy: u16::from_le_bytes([b[2], b[3]]),
            target: b[4],
        })
    }

    /// The policy bits are all defined.
    pub fn policy_ok(&self) -> bool {
        self.policy & !policy::ALL == 0
    }
}

/// The label length every slot-creating ML-KEM job reads from `aux`.
pub const KEM_LABEL_BYTES: u32 = LABEL_BYTES as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_fips_203_table_3() {
        let t = [(800, 1632, 768), (1184, 2400, 1088), (1568, 3168, 1568)];
        for (s, (ek, dk, ct)) in KemSet::ALL.iter().zip(t) {
            assert_eq!((s.ek_bytes(), s.dk_bytes(), s.ct_bytes()), (ek, dk, ct));
            assert_eq!(s.ek_bytes() % 16, 0);
            assert_eq!(s.ct_bytes() % 16, 0);
            assert_eq!(KemSet::from_alg(s.key_alg() as u8), Some(*s));
            assert_eq!(KemSet::from_name(s.name()), Some(*s));
        }
        assert_eq!(KemSet::from_name("1024"), Some(KemSet::MlKem1024));
        assert_eq!(KemSet::from_alg(KeyAlg::Aes256 as u8), None);
    }

    #[test]
    fn params_round_trip() {
        let p = KemParams {
            alg: KeyAlg::MlKem768 as u8,
            policy: policy::ENCRYPT | policy::DECRYPT,
            target: 9,
        };
        assert_eq!(KemParams::from_bytes(&p.to_bytes()), Some(p));
        let mut b = p.to_bytes();
        b[1] = 1;
        assert_eq!(KemParams::from_bytes(&b), None);
        let mut b = p.to_bytes();
        b[15] = 1;
        assert_eq!(KemParams::from_bytes(&b), None);
    }
}
