//! Crypto, hash, random-number and key-slot jobs: AES-GCM, XTS-AES, SHA-3
//! and SHAKE, ML-KEM (its helpers are in `kem.rs`), RNG_GENERATE, key load,
//! key clear, slot information.
//!
//! A [`Job`] names an operation and borrows its inputs. [`Card::run_jobs`]
//! lays the inputs of a whole batch out in one DMA arena in the buffer
//! layouts of [`hsm_contract::crypto`] (every address 16-byte aligned),
//! submits the descriptors with as few doorbells as the ring allows, waits,
//! and decodes each job's output into a [`JobOutput`]. The synchronous
//! helpers ([`Card::gcm_encrypt`], [`Card::xts_encrypt`], ...) are batches
//! of one.
//!
//! # What never leaves the driver
//! - **Plaintext of a failed GCM decryption.** The card overwrites it with
//!   zeros and completes with [`Status::AuthFailed`]; the driver also zeroes
//!   the job's output region itself and returns an error, never the bytes.
//! - **Key material.** The arena regions that carried a KEY_LOAD's key, a
//!   test-mode ML-KEM seed (d, z) or encapsulation randomness m, an
//!   exposed shared secret or dk_PKE, and the card's random bytes
//!   (RNG_GENERATE output may become keys on the host) are zeroized
//!   (`zeroize`) as soon as the batch completes, whatever its outcome;
//!   secrets and random bytes reach the caller in [`Zeroizing`] buffers.
//!   Errors and logs ([`Job`]'s and [`JobOutput`]'s `Debug`) never
//!   include inputs or outputs.

use hsm_contract::auth::{
    AuthInfo, Role, AUTH_INFO_BYTES, CARD_LABEL_BYTES, PIN_MAX_BYTES, PIN_MIN_BYTES,
};
use hsm_contract::crypto::{
    pad16, GcmParams, KeyAlg, KeyLoadParams, SlotRecord, CARD_IV_BYTES, KEY_SLOTS, LABEL_BYTES,
    MAX_IV_BYTES, SLOT_RECORD_BYTES,
};
use hsm_contract::hash::{self, HashAlg, SPONGE_STATE_BYTES};
use hsm_contract::kem::{self, KemParams, KemSet, M_BYTES, SEED_BYTES, SHARED_SECRET_BYTES};
use hsm_contract::{Descriptor, Opcode, Status, DESCRIPTOR_VERSION, MAX_JOB_BYTES};
use zeroize::{Zeroize, Zeroizing};

use crate::card::Card;
use crate::error::{Error, Result};
use crate::kem::{KemDecapsOutput, KemEncapsOutput, KemKeygenOutput, KemTarget, SharedSecret};
use crate::queue::JobCompletion;

/// Where a GCM encryption's IV comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcmIv<'a> {
    /// The card builds a 12-byte IV (SP 800-38D 8.2.1) and returns it. The
    /// only choice in operational mode.
    Card,
    /// The caller's IV, 1 to 128 bytes (test mode only).
    Caller(&'a [u8]),
}

/// One job of a batch, with borrowed inputs. Its `Debug` shows the
/// operation, the slots and the lengths, never the bytes.
#[derive(Clone, Copy)]
pub enum Job<'a> {
    /// AES-GCM encryption with the AES key in `slot`.
    GcmEncrypt {
        /// Key slot.
        slot: u16,
        /// IV source.
        iv: GcmIv<'a>,
        /// Tag length in bytes (16; 4 to 16 in test mode).
        tag_len: u8,
        /// Additional authenticated data (at most 1 MiB).
        aad: &'a [u8],
        /// Plaintext (at most 1 MiB).
        plaintext: &'a [u8],
    },
    /// AES-GCM decryption with the AES key in `slot`.
    GcmDecrypt {
        /// Key slot.
        slot: u16,
        /// The IV the message was encrypted with (1 to 128 bytes).
        iv: &'a [u8],
        /// The expected tag, 4 to 16 bytes (its length is the tag length).
        tag: &'a [u8],
        /// Additional authenticated data.
        aad: &'a [u8],
        /// Ciphertext (at most 1 MiB).
        ciphertext: &'a [u8],
    },
    /// XTS-AES-256 encryption of one data unit.
    XtsEncrypt {
        /// Key slot (an XTS key pair).
        slot: u16,
        /// The 128-bit tweak (IEEE 1619 byte order).
        tweak: [u8; 16],
        /// The data unit, 16 bytes to 1 MiB.
        data: &'a [u8],
        /// Unused low-order bits of the last byte (0 to 7): the unit is
        /// `8 * data.len() - pad_bits` bits (SP 800-38E allows any length).
        pad_bits: u8,
    },
    /// XTS-AES-256 decryption of one data unit.
    XtsDecrypt {
        /// Key slot.
        slot: u16,
        /// The tweak.
        tweak: [u8; 16],
        /// The data unit, 16 bytes to 1 MiB.
        data: &'a [u8],
        /// Unused low-order bits of the last byte (0 to 7): the unit is
        /// `8 * data.len() - pad_bits` bits (SP 800-38E allows any length).
        pad_bits: u8,
    },
    /// Load plaintext key material into an empty slot (test mode only).
    KeyLoad {
        /// Key slot.
        slot: u16,
        /// Algorithm.
        alg: KeyAlg,
        /// Usage policy ([`hsm_contract::crypto::policy`] bits).
        policy: u16,
        /// Label, zero-padded.
        label: [u8; LABEL_BYTES],
        /// The key ([`KeyAlg::key_bytes`] long). The driver zeroizes its own
        /// copy; the caller owns this one.
        key: &'a [u8],
    },
    /// Generate an AES key from the card's DRBG into an empty slot; the
    /// key never leaves the card. Completes with
    /// [`Status::EntropyFailure`] once the noise source has failed.
    KeyGenerate {
        /// Key slot.
        slot: u16,
        /// Algorithm ([`KeyAlg::loadable`]: AES-128, AES-256, XTS-AES-256).
        alg: KeyAlg,
        /// Usage policy ([`hsm_contract::crypto::policy`] bits).
        policy: u16,
        /// Label, zero-padded.
        label: [u8; LABEL_BYTES],
    },
    /// Clear a slot.
    KeyClear {
        /// Key slot.
        slot: u16,
    },
    /// Read a slot's record (never its key).
    SlotInfo {
        /// Key slot.
        slot: u16,
    },
    /// Initialise a new or zeroized card (`CARD_INIT`, see
    /// [`hsm_contract::auth`]).
    CardInit {
        /// The card label, zero-padded.
        label: [u8; CARD_LABEL_BYTES],
        /// The security officer's PIN (4 to 64 bytes). The driver wipes
        /// its own copy; the caller owns this one.
        pin: &'a [u8],
        /// Wrong PINs before a role locks (0: the card's default).
        failure_limit: u8,
    },
    /// Log the queue in as `role` (`LOGIN`).
    Login {
        /// The role.
        role: Role,
        /// Its PIN.
        pin: &'a [u8],
    },
    /// End the queue's login (`LOGOUT`).
    Logout,
    /// Set `role`'s PIN (`SET_PIN`).
    SetPin {
        /// Whose PIN.
        role: Role,
        /// The new PIN.
        pin: &'a [u8],
    },
    /// Read the card's public auth state (`CARD_INFO`).
    CardInfo,
    /// SHA-3 or SHAKE over `data` (at most 1 MiB; [`Hasher`] chains jobs
    /// for longer messages).
    Hash {
        /// The function.
        alg: HashAlg,
        /// Message bytes.
        data: &'a [u8],
        /// SHAKE: output bytes (at most 1 MiB). SHA-3: ignored (the digest).
        out_len: u32,
        /// Start from this saved sponge state instead of the empty one.
        resume: Option<&'a [u8; SPONGE_STATE_BYTES as usize]>,
        /// Absorb only and return the sponge state ([`JobOutput::SpongeState`]);
        /// `data` must then be a multiple of the rate.
        partial: bool,
    },
    /// ML-KEM KeyGen: the key goes into the empty `slot`, held as its
    /// seed; the output is ek ([`JobOutput::KemKeygen`]). The seed (d, z)
    /// comes from the card's DRBG, or (test mode only, for known-answer
    /// tests) from `seed`: KeyGen_internal(d, z).
    KemKeygen {
        /// The parameter set.
        set: KemSet,
        /// The empty slot that receives the key.
        slot: u16,
        /// The new slot's usage policy (decapsulation needs
        /// [`hsm_contract::crypto::policy::DERIVE`]).
        policy: u16,
        /// The new slot's label, zero-padded.
        label: [u8; LABEL_BYTES],
        /// `None`: the card draws d || z from its DRBG (`src_len` 0). Test
        /// mode only: d || z, [`SEED_BYTES`] bytes, in `src`. The driver
        /// zeroizes its own copy; the caller owns this one.
        seed: Option<&'a [u8; SEED_BYTES as usize]>,
        /// Test mode: also return dk_PKE ([`KemSet::dk_pke_bytes`]).
        expose: bool,
    },
    /// ML-KEM Encaps: the ciphertext, and the shared secret into a new slot
    /// or, exposed (test mode only), to the caller
    /// ([`JobOutput::KemEncaps`]). The randomness m comes from the card's
    /// DRBG, or (test mode only) from `m`: Encaps_internal(ek, m).
    KemEncaps {
        /// The parameter set.
        set: KemSet,
        /// The encapsulation key, [`KemSet::ek_bytes`] long.
        ek: &'a [u8],
        /// `None`: the card draws m from its DRBG (`src` = ek alone). Test
        /// mode only: m, [`M_BYTES`] bytes, after ek in `src`. The driver
        /// zeroizes its own copy.
        m: Option<&'a [u8; M_BYTES as usize]>,
        /// Where the shared secret goes: a new AES-256 slot, or `None` to
        /// return it (flag EXPOSE).
        target: Option<KemTarget>,
    },
    /// ML-KEM Decaps with the key in `slot` (policy DERIVE); runs in
    /// operational mode too, unless exposed ([`JobOutput::KemDecaps`]).
    KemDecaps {
        /// The parameter set; the slot's algorithm must be its.
        set: KemSet,
        /// The slot holding the decapsulation key.
        slot: u16,
        /// The ciphertext, [`KemSet::ct_bytes`] long.
        ciphertext: &'a [u8],
        /// Where the shared secret goes: a new AES-256 slot, or `None` to
        /// return it (flag EXPOSE, test mode only).
        target: Option<KemTarget>,
    },
    /// `len` bytes from the card's SP 800-90A CTR_DRBG
    /// ([`hsm_contract::rng`]), at most 1 MiB ([`Card::random`] splits
    /// longer requests); the output is [`JobOutput::Random`]. Completes
    /// with [`Status::EntropyFailure`] once the card's noise source has
    /// failed its health tests.
    RngGenerate {
        /// Bytes wanted (0 to 1 MiB).
        len: u32,
    },
}

impl std::fmt::Debug for Job<'_> {
    /// The operation, its slots and its region lengths; never the bytes
    /// (keys, seeds, plaintexts).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (src, aux, dst) = self.regions();
        let mut d = f.debug_struct("Job");
        d.field("op", &self.opcode().name())
            .field("slot", &self.slot());
        let randomness = |caller: bool| if caller { "caller" } else { "card DRBG" };
        match self {
            Job::KemKeygen {
                set, seed, expose, ..
            } => {
                d.field("set", &set.name())
                    .field("expose", expose)
                    .field("randomness", &randomness(seed.is_some()));
            }
            Job::KemEncaps { set, m, target, .. } => {
                d.field("set", &set.name())
                    .field("target", &target.map(|t| t.slot))
                    .field("randomness", &randomness(m.is_some()));
            }
            Job::KemDecaps { set, target, .. } => {
                d.field("set", &set.name())
                    .field("target", &target.map(|t| t.slot));
            }
            _ => {}
        }
        d.field("src_bytes", &src)
            .field("aux_bytes", &aux)
            .field("dst_bytes", &dst)
            .finish()
    }
}

impl Job<'_> {
    /// The operation.
    pub fn opcode(&self) -> Opcode {
        match self {
            Job::GcmEncrypt { .. } => Opcode::AesGcmEncrypt,
            Job::GcmDecrypt { .. } => Opcode::AesGcmDecrypt,
            Job::XtsEncrypt { .. } => Opcode::AesXtsEncrypt,
            Job::XtsDecrypt { .. } => Opcode::AesXtsDecrypt,
            Job::KeyLoad { .. } => Opcode::KeyLoad,
            Job::KeyGenerate { .. } => Opcode::KeyGenerate,
            Job::KeyClear { .. } => Opcode::KeyClear,
            Job::SlotInfo { .. } => Opcode::SlotInfo,
            Job::Hash { alg, .. } => alg.opcode(),
            Job::KemKeygen { .. } => Opcode::KemKeygen,
            Job::KemEncaps { .. } => Opcode::KemEncaps,
            Job::KemDecaps { .. } => Opcode::KemDecaps,
            Job::RngGenerate { .. } => Opcode::RngGenerate,
            Job::CardInit { .. } => Opcode::CardInit,
            Job::Login { .. } => Opcode::Login,
            Job::Logout => Opcode::Logout,
            Job::SetPin { .. } => Opcode::SetPin,
            Job::CardInfo => Opcode::CardInfo,
        }
    }

    /// The key slot.
    pub fn slot(&self) -> u16 {
        match *self {
            Job::GcmEncrypt { slot, .. }
            | Job::GcmDecrypt { slot, .. }
            | Job::XtsEncrypt { slot, .. }
            | Job::XtsDecrypt { slot, .. }
            | Job::KeyLoad { slot, .. }
            | Job::KeyGenerate { slot, .. }
            | Job::KeyClear { slot }
            | Job::SlotInfo { slot }
            | Job::KemKeygen { slot, .. }
            | Job::KemDecaps { slot, .. } => slot,
            _ => 0,
        }
    }

    /// The slot an error report names: the key slot, or for an
    /// encapsulation the target slot; `None` when the job names none.
    fn reported_slot(&self) -> Option<u16> {
        match *self {
            Job::Hash { .. }
            | Job::RngGenerate { .. }
            | Job::CardInit { .. }
            | Job::Login { .. }
            | Job::Logout
            | Job::SetPin { .. }
            | Job::CardInfo => None,
            Job::KemEncaps { target, .. } => target.map(|t| t.slot),
            _ => Some(self.slot()),
        }
    }

    /// The ML-KEM `params` block and `flags` of a KEM job.
    fn kem_params(&self) -> Option<(KemParams, u16)> {
        let alg = |set: KemSet| set.key_alg() as u8;
        let flags = |expose: bool| if expose { kem::flags::EXPOSE } else { 0 };
        match *self {
            Job::KemKeygen {
                set,
                policy,
                expose,
                ..
            } => Some((
                KemParams {
                    alg: alg(set),
                    policy,
                    target: 0,
                },
                flags(expose),
            )),
            Job::KemEncaps { set, target, .. } | Job::KemDecaps { set, target, .. } => Some((
                KemParams {
                    alg: alg(set),
                    policy: target.map_or(0, |t| t.policy),
                    // validate() checked that it fits.
                    target: target.map_or(0, |t| t.slot as u8),
                },
                flags(target.is_none()),
            )),
            _ => None,
        }
    }

    /// Check what the driver can check without the card: lengths that the
    /// descriptor cannot even express, or that no card accepts. Everything
    /// else (test-mode rules, slot state) is the card's to judge, so that
    /// its status codes reach the caller.
    fn validate(&self) -> Result<()> {
        let over = |what: &str, n: usize| -> Result<()> {
            if n > MAX_JOB_BYTES as usize {
                Err(Error::InvalidArgument(format!(
                    "{} job: {what} of {n} bytes is over the card's 1 MiB limit per job; split it",
                    self.opcode().name()
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Job::GcmEncrypt {
                iv, aad, plaintext, ..
            } => {
                over("plaintext", plaintext.len())?;
                over("AAD", aad.len())?;
                if let GcmIv::Caller(iv) = iv {
                    check_iv(iv)?;
                }
            }
            Job::GcmDecrypt {
                iv,
                tag,
                aad,
                ciphertext,
                ..
            } => {
                over("ciphertext", ciphertext.len())?;
                over("AAD", aad.len())?;
                check_iv(iv)?;
                if tag.is_empty() || tag.len() > 16 {
                    return Err(Error::InvalidArgument(format!(
                        "GCM tag of {} bytes: a tag is 1 to 16 bytes (the card accepts 4 to 16)",
                        tag.len()
                    )));
                }
            }
            Job::XtsEncrypt { data, .. } | Job::XtsDecrypt { data, .. } => {
                over("data unit", data.len())?
            }
            Job::KeyLoad { key, .. } => {
                if key.len() > 64 {
                    return Err(Error::InvalidArgument(format!(
                        "key of {} bytes: the longest key a slot takes is 64 bytes (an XTS pair)",
                        key.len()
                    )));
                }
            }
            Job::KeyClear { .. }
            | Job::KeyGenerate { .. }
            | Job::SlotInfo { .. }
            | Job::KemKeygen { .. } => {}
            Job::RngGenerate { len } => over("output", *len as usize)?,
            Job::CardInit { pin, .. } | Job::Login { pin, .. } | Job::SetPin { pin, .. } => {
                if !(PIN_MIN_BYTES as usize..=PIN_MAX_BYTES as usize).contains(&pin.len()) {
                    return Err(Error::InvalidArgument(format!(
                        "a PIN of {} bytes: PINs are {PIN_MIN_BYTES} to {PIN_MAX_BYTES} bytes",
                        pin.len()
                    )));
                }
            }
            Job::Logout | Job::CardInfo => {}
            Job::KemEncaps {
                set, ek, target, ..
            } => {
                check_kem_len(*set, "encapsulation key", ek.len(), set.ek_bytes())?;
                check_target(*target)?;
            }
            Job::KemDecaps {
                set,
                ciphertext,
                target,
                ..
            } => {
                check_kem_len(*set, "ciphertext", ciphertext.len(), set.ct_bytes())?;
                check_target(*target)?;
            }
            Job::Hash {
                alg,
                data,
                out_len,
                partial,
                ..
            } => {
                over("message", data.len())?;
                if alg.digest_bytes().is_none() && !partial {
                    over("output", *out_len as usize)?;
                }
                if *partial && data.len() % alg.rate_bytes() as usize != 0 {
                    return Err(Error::InvalidArgument(format!(
                        "partial {} job of {} bytes: it must be a multiple of the {}-byte rate",
                        alg.name(),
                        data.len(),
                        alg.rate_bytes()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The arena bytes the job needs: (src, aux, dst) region lengths,
    /// before padding.
    fn regions(&self) -> (usize, usize, usize) {
        match self {
            Job::GcmEncrypt { plaintext, .. } => {
                let p = self.gcm_params();
                (
                    plaintext.len(),
                    p.aux_len(false) as usize,
                    p.dst_len(plaintext.len() as u64, false) as usize,
                )
            }
            Job::GcmDecrypt { ciphertext, .. } => {
                let p = self.gcm_params();
                (ciphertext.len(), p.aux_len(true) as usize, ciphertext.len())
            }
            Job::XtsEncrypt { data, .. } | Job::XtsDecrypt { data, .. } => {
                (data.len(), 0, data.len())
            }
            Job::KeyLoad { key, .. } => (key.len(), LABEL_BYTES, 0),
            Job::KeyGenerate { .. } => (0, LABEL_BYTES, 0),
            Job::KeyClear { .. } => (0, 0, 0),
            Job::SlotInfo { .. } => (0, 0, SLOT_RECORD_BYTES),
            Job::KemKeygen {
                set, seed, expose, ..
            } => (
                if seed.is_some() {
                    SEED_BYTES as usize
                } else {
                    0
                },
                LABEL_BYTES,
                (set.ek_bytes() + if *expose { set.dk_pke_bytes() } else { 0 }) as usize,
            ),
            Job::KemEncaps { set, m, target, .. } => (
                (set.ek_bytes() + if m.is_some() { M_BYTES } else { 0 }) as usize,
                if target.is_some() { LABEL_BYTES } else { 0 },
                (set.ct_bytes()
                    + if target.is_none() {
                        SHARED_SECRET_BYTES
                    } else {
                        0
                    }) as usize,
            ),
            Job::KemDecaps { set, target, .. } => (
                set.ct_bytes() as usize,
                if target.is_some() { LABEL_BYTES } else { 0 },
                if target.is_none() {
                    SHARED_SECRET_BYTES as usize
                } else {
                    0
                },
            ),
            Job::Hash {
                alg,
                data,
                out_len,
                resume,
                partial,
            } => (
                data.len(),
                if resume.is_some() {
                    SPONGE_STATE_BYTES as usize
                } else {
                    0
                },
                if *partial {
                    SPONGE_STATE_BYTES as usize
                } else {
                    alg.digest_bytes().unwrap_or(*out_len) as usize
                },
            ),
            Job::RngGenerate { len } => (0, 0, *len as usize),
            Job::CardInit { pin, .. } => (pin.len(), CARD_LABEL_BYTES, 0),
            Job::Login { pin, .. } | Job::SetPin { pin, .. } => (pin.len(), 0, 0),
            Job::Logout => (0, 0, 0),
            Job::CardInfo => (0, 0, AUTH_INFO_BYTES),
        }
    }

    fn gcm_params(&self) -> GcmParams {
        match *self {
            Job::GcmEncrypt {
                iv, tag_len, aad, ..
            } => GcmParams {
                iv_len: match iv {
                    GcmIv::Card => 0,
                    GcmIv::Caller(v) => v.len() as u16,
                },
                tag_len,
                flags: if iv == GcmIv::Card {
                    GcmParams::CARD_IV
                } else {
                    0
                },
                aad_len: aad.len() as u32,
            },
            Job::GcmDecrypt { iv, tag, aad, .. } => GcmParams {
                iv_len: iv.len() as u16,
                tag_len: tag.len() as u8,
                flags: 0,
                aad_len: aad.len() as u32,
            },
            _ => GcmParams::default(),
        }
    }
}

fn check_kem_len(set: KemSet, what: &'static str, got: usize, expected: u32) -> Result<()> {
    if got != expected as usize {
        return Err(Error::KemLength {
            set: set.name(),
            what,
            expected: expected as usize,
            got,
        });
    }
    Ok(())
}

fn check_target(target: Option<KemTarget>) -> Result<()> {
    match target {
        Some(t) if t.slot > u16::from(u8::MAX) => Err(Error::InvalidArgument(format!(
            "target slot {}: slots are 0 to {}",
            t.slot,
            KEY_SLOTS - 1
        ))),
        _ => Ok(()),
    }
}

fn check_iv(iv: &[u8]) -> Result<()> {
    if iv.is_empty() || iv.len() > MAX_IV_BYTES {
        return Err(Error::InvalidArgument(format!(
            "GCM IV of {} bytes: an IV is 1 to {MAX_IV_BYTES} bytes",
            iv.len()
        )));
    }
    Ok(())
}

/// What a successful job produced.
#[derive(Clone, PartialEq, Eq)]
pub enum JobOutput {
    /// A GCM encryption's result.
    GcmSealed(GcmSealed),
    /// A GCM decryption's plaintext (the tag verified).
    Plaintext(Vec<u8>),
    /// An XTS job's output data unit.
    Xts(Vec<u8>),
    /// A slot's record.
    Slot(SlotRecord),
    /// A hash job's digest or SHAKE output.
    Digest(Vec<u8>),
    /// A partial hash job's sponge state.
    SpongeState(Box<[u8; SPONGE_STATE_BYTES as usize]>),
    /// An ML-KEM key generation's ek (and, exposed, dk_PKE).
    KemKeygen(KemKeygenOutput),
    /// An ML-KEM encapsulation's ciphertext (and, exposed, the secret).
    KemEncaps(KemEncapsOutput),
    /// An ML-KEM decapsulation's exposed secret, if it was exposed.
    KemDecaps(KemDecapsOutput),
    /// Bytes from the card's DRBG (RNG_GENERATE), wiped when dropped.
    Random(Zeroizing<Vec<u8>>),
    /// The card's public auth state (`CARD_INFO`).
    Auth(AuthInfo),
    /// The job has no output (key load, key clear).
    Done,
}

impl std::fmt::Debug for JobOutput {
    /// Lengths only: outputs may be plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobOutput::GcmSealed(s) => write!(
                f,
                "GcmSealed({} bytes, tag {} bytes, iv {} bytes)",
                s.ciphertext.len(),
                s.tag.len(),
                s.iv.len()
            ),
            JobOutput::Plaintext(p) => write!(f, "Plaintext({} bytes)", p.len()),
            JobOutput::Xts(p) => write!(f, "Xts({} bytes)", p.len()),
            JobOutput::Slot(r) => write!(f, "Slot({r:?})"),
            JobOutput::Digest(d) => write!(f, "Digest({} bytes)", d.len()),
            JobOutput::SpongeState(_) => write!(f, "SpongeState"),
            JobOutput::KemKeygen(k) => write!(
                f,
                "KemKeygen(ek {} bytes, dk_pke {})",
                k.ek.len(),
                if k.dk_pke.is_some() {
                    "exposed"
                } else {
                    "none"
                }
            ),
            JobOutput::KemEncaps(e) => write!(
                f,
                "KemEncaps(ciphertext {} bytes, secret {})",
                e.ciphertext.len(),
                if e.secret.is_some() {
                    "exposed"
                } else {
                    "in a slot"
                }
            ),
            JobOutput::KemDecaps(d) => write!(
                f,
                "KemDecaps(secret {})",
                if d.secret.is_some() {
                    "exposed"
                } else {
                    "in a slot"
                }
            ),
            JobOutput::Random(r) => write!(f, "Random({} bytes)", r.len()),
            JobOutput::Auth(a) => write!(f, "Auth({a:?})"),
            JobOutput::Done => write!(f, "Done"),
        }
    }
}

/// The result of a GCM encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcmSealed {
    /// Ciphertext, as long as the plaintext.
    pub ciphertext: Vec<u8>,
    /// The tag, `tag_len` bytes.
    pub tag: Vec<u8>,
    /// The IV: the card's 12-byte IV, or the caller's.
    pub iv: Vec<u8>,
}

/// One job's outcome in a batch.
#[derive(Debug)]
pub struct JobResult {
    /// The completion entry (status, cycles, output length).
    pub completion: JobCompletion,
    /// The operation.
    pub opcode: Opcode,
    /// The key slot the job named (for an ML-KEM encapsulation, its
    /// target slot; 0 when the job names none).
    pub slot: u16,
    /// Whether the job names a slot at all (hash, RNG_GENERATE and exposed
    /// encapsulation jobs do not).
    names_slot: bool,
    output: Option<JobOutput>,
}

impl JobResult {
    /// The job's status.
    pub fn status(&self) -> Status {
        self.completion.status
    }

    /// Card cycles the job took.
    pub fn cycles(&self) -> u32 {
        self.completion.cycles
    }

    /// The output, or [`Error::SlotJobFailed`] when the job failed. A GCM
    /// decryption that failed authentication yields no plaintext at all.
    ///
    /// # Errors
    /// When the job's status is not OK.
    pub fn into_output(self) -> Result<JobOutput> {
        match self.output {
            Some(o) if self.completion.status == Status::Ok => Ok(o),
            _ if !self.names_slot => Err(Error::JobFailed {
                job_id: self.completion.job_id,
                status: self.completion.status,
            }),
            _ => Err(Error::SlotJobFailed {
                op: self.opcode.name(),
                slot: self.slot,
                job_id: self.completion.job_id,
                status: self.completion.status,
            }),
        }
    }
}

/// Where one job's regions sit in the arena.
struct Placed {
    src: usize,
    aux: usize,
    dst: usize,
}

/// Arena bytes one batch may use before the driver splits it (64 MiB).
const ARENA_BATCH_BYTES: usize = 64 << 20;

fn padded(n: usize) -> usize {
    pad16(n as u64) as usize
}

fn job_bytes(job: &Job<'_>) -> usize {
    let (s, a, d) = job.regions();
    padded(s) + padded(a) + padded(d)
}

/// The zero-padded label for `label`.
///
/// # Errors
/// [`Error::InvalidArgument`] when it is empty, longer than 32 bytes, or
/// contains a NUL byte.
pub fn label_bytes(label: &str) -> Result<[u8; LABEL_BYTES]> {
    let b = label.as_bytes();
    if b.is_empty() || b.len() > LABEL_BYTES || b.contains(&0) {
        return Err(Error::InvalidArgument(format!(
            "label {label:?}: a label is 1 to {LABEL_BYTES} bytes of UTF-8 without NUL"
        )));
    }
    let mut out = [0u8; LABEL_BYTES];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

/// A record's label as text (up to the first NUL; invalid UTF-8 is
/// replaced).
pub fn label_text(label: &[u8; LABEL_BYTES]) -> String {
    let end = label.iter().position(|&b| b == 0).unwrap_or(LABEL_BYTES);
    String::from_utf8_lossy(&label[..end]).into_owned()
}

impl Card {
    /// Run `jobs` as batches: inputs are laid out in one DMA arena per
    /// batch (split when a batch would need more than 64 MiB), descriptors
    /// are submitted with one doorbell per ring-full, and outputs are
    /// decoded. Results come in the order of `jobs`; a job's failure is in
    /// its [`JobResult`], not in the returned `Result`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a job's inputs cannot be expressed
    /// (over 1 MiB, IV or tag length out of range); queue and transport
    /// errors.
    pub fn run_jobs(&mut self, jobs: &[Job<'_>]) -> Result<Vec<JobResult>> {
        for j in jobs {
            j.validate()?;
        }
        let mut out = Vec::with_capacity(jobs.len());
        let mut start = 0;
        while start < jobs.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < jobs.len()
                && (end == start || bytes + job_bytes(&jobs[end]) <= ARENA_BATCH_BYTES)
            {
                bytes += job_bytes(&jobs[end]);
                end += 1;
            }
            out.extend(self.run_arena_batch(&jobs[start..end], bytes)?);
            start = end;
        }
        Ok(out)
    }

    fn run_arena_batch(&mut self, jobs: &[Job<'_>], bytes: usize) -> Result<Vec<JobResult>> {
        let mut arena = self.take_arena(bytes)?;
        let base = arena.iova();
        let mut placed = Vec::with_capacity(jobs.len());
        let mut descs = Vec::with_capacity(jobs.len());
        let result = (|| -> Result<Vec<JobResult>> {
            let q = self.queue()?;
            let mem = arena.as_mut_slice();
            let mut off = 0usize;
            for job in jobs {
                let (s, a, d) = job.regions();
                let p = Placed {
                    src: off,
                    aux: off + padded(s),
                    dst: off + padded(s) + padded(a),
                };
                off = p.dst + padded(d);
                let mut desc = Descriptor {
                    version: DESCRIPTOR_VERSION,
                    opcode: job.opcode() as u8,
                    job_id: q.next_job_id(),
                    key_slot: job.slot(),
                    ..Descriptor::default()
                };
                let iova = |o: usize| base + o as u64;
                match *job {
                    Job::GcmEncrypt {
                        iv, aad, plaintext, ..
                    } => {
                        let params = job.gcm_params();
                        mem[p.src..p.src + s].copy_from_slice(plaintext);
                        let mut x = p.aux;
                        if let GcmIv::Caller(iv) = iv {
                            put_padded(mem, x, iv);
                            x += padded(iv.len());
                        }
                        mem[x..x + aad.len()].copy_from_slice(aad);
                        desc.src_addr = iova(p.src);
                        desc.src_len = s as u32;
                        desc.aux_addr = iova(p.aux);
                        desc.aux_len = a as u32;
                        desc.dst_addr = iova(p.dst);
                        desc.dst_len = d as u32;
                        desc.params = params.to_bytes();
                    }
                    Job::GcmDecrypt {
                        iv,
                        tag,
                        aad,
                        ciphertext,
                        ..
                    } => {
                        let params = job.gcm_params();
                        mem[p.src..p.src + s].copy_from_slice(ciphertext);
                        let mut x = p.aux;
                        put_padded(mem, x, iv);
                        x += padded(iv.len());
                        let mut t = [0u8; 16];
                        t[..tag.len()].copy_from_slice(tag);
                        mem[x..x + 16].copy_from_slice(&t);
                        x += 16;
                        mem[x..x + aad.len()].copy_from_slice(aad);
                        desc.src_addr = iova(p.src);
                        desc.src_len = s as u32;
                        desc.aux_addr = iova(p.aux);
                        desc.aux_len = a as u32;
                        desc.dst_addr = iova(p.dst);
                        desc.dst_len = d as u32;
                        desc.params = params.to_bytes();
                    }
                    Job::XtsEncrypt {
                        tweak,
                        data,
                        pad_bits,
                        ..
                    }
                    | Job::XtsDecrypt {
                        tweak,
                        data,
                        pad_bits,
                        ..
                    } => {
                        mem[p.src..p.src + s].copy_from_slice(data);
                        desc.flags = u16::from(pad_bits);
                        desc.src_addr = iova(p.src);
                        desc.src_len = s as u32;
                        desc.dst_addr = iova(p.dst);
                        desc.dst_len = d as u32;
                        desc.params = tweak;
                    }
                    Job::KeyLoad {
                        alg, policy, label, ..
                    }
                    | Job::KeyGenerate {
                        alg, policy, label, ..
                    } => {
                        // KEY_LOAD's key in src; KEY_GENERATE draws it.
                        if let Job::KeyLoad { key, .. } = job {
                            mem[p.src..p.src + s].copy_from_slice(key);
                            desc.src_addr = iova(p.src);
                            desc.src_len = s as u32;
                        }
                        mem[p.aux..p.aux + LABEL_BYTES].copy_from_slice(&label);
                        desc.aux_addr = iova(p.aux);
                        desc.aux_len = LABEL_BYTES as u32;
                        desc.params = KeyLoadParams {
                            alg: alg as u8,
                            policy,
                        }
                        .to_bytes();
                    }
                    Job::KeyClear { .. } => {}
                    Job::Hash {
                        data,
                        resume,
                        partial,
                        ..
                    } => {
                        mem[p.src..p.src + s].copy_from_slice(data);
                        desc.src_addr = iova(p.src);
                        desc.src_len = s as u32;
                        desc.dst_addr = iova(p.dst);
                        desc.dst_len = d as u32;
                        if let Some(st) = resume {
                            mem[p.aux..p.aux + a].copy_from_slice(st);
                            desc.aux_addr = iova(p.aux);
                            desc.aux_len = a as u32;
                            desc.flags |= hash::flags::RESUME;
                        }
                        if partial {
                            desc.flags |= hash::flags::PARTIAL;
                        }
                    }
                    Job::SlotInfo { .. } => {
                        desc.dst_addr = iova(p.dst);
                        desc.dst_len = SLOT_RECORD_BYTES as u32;
                    }
                    Job::KemKeygen { seed, label, .. } => put_kem(
                        mem,
                        &p,
                        &mut desc,
                        base,
                        job,
                        &[seed.map_or(&[][..], |s| &s[..])],
                        Some(&label),
                    ),
                    Job::KemEncaps { ek, m, target, .. } => put_kem(
                        mem,
                        &p,
                        &mut desc,
                        base,
                        job,
                        &[ek, m.map_or(&[][..], |m| &m[..])],
                        target.as_ref().map(|t| &t.label),
                    ),
                    Job::KemDecaps {
                        ciphertext, target, ..
                    } => put_kem(
                        mem,
                        &p,
                        &mut desc,
                        base,
                        job,
                        &[ciphertext],
                        target.as_ref().map(|t| &t.label),
                    ),
                    Job::CardInit {
                        label,
                        pin,
                        failure_limit,
                    } => {
                        mem[p.src..p.src + s].copy_from_slice(pin);
                        mem[p.aux..p.aux + CARD_LABEL_BYTES].copy_from_slice(&label);
                        desc.src_addr = iova(p.src);
                        desc.src_len = s as u32;
                        desc.aux_addr = iova(p.aux);
                        desc.aux_len = CARD_LABEL_BYTES as u32;
                        desc.params[0] = failure_limit;
                    }
                    Job::Login { role, pin } | Job::SetPin { role, pin } => {
                        mem[p.src..p.src + s].copy_from_slice(pin);
                        desc.src_addr = iova(p.src);
                        desc.src_len = s as u32;
                        desc.params[0] = role as u8;
                    }
                    Job::Logout => {}
                    Job::CardInfo => {
                        desc.dst_addr = iova(p.dst);
                        desc.dst_len = d as u32;
                    }
                    // Only dst: any other field is RESERVED_FIELD.
                    Job::RngGenerate { .. } => {
                        if d > 0 {
                            desc.dst_addr = iova(p.dst);
                            desc.dst_len = d as u32;
                        }
                    }
                }
                placed.push(p);
                descs.push(desc);
            }
            let done = q.run_batch(&descs)?;
            Ok(jobs
                .iter()
                .zip(&placed)
                .zip(done)
                .map(|((job, p), c)| decode(job, p, c, arena.as_mut_slice()))
                .collect())
        })();
        // Key material (keys, seeds, m, exposed secrets and dk_PKE, random
        // bytes) never stays in the arena, whatever happened; nor does
        // anything else the batch carried (plaintexts, outputs).
        for (job, p) in jobs.iter().zip(&placed) {
            let (s, _, d) = job.regions();
            let mem = arena.as_mut_slice();
            match job {
                Job::KeyLoad { .. }
                | Job::KemKeygen { .. }
                | Job::KemEncaps { .. }
                | Job::CardInit { .. }
                | Job::Login { .. }
                | Job::SetPin { .. } => mem[p.src..p.src + s].zeroize(),
                _ => {}
            }
            if matches!(
                job,
                Job::KemKeygen { .. }
                    | Job::KemEncaps { .. }
                    | Job::KemDecaps { .. }
                    | Job::RngGenerate { .. }
            ) {
                mem[p.dst..p.dst + d].zeroize();
            }
        }
        arena.as_mut_slice()[..bytes].zeroize();
        if result.is_ok() {
            // After an error the card may still be using the arena: only a
            // batch that completed hands it back for reuse.
            self.put_arena(arena);
        }
        result
    }

    /// Encrypt with AES-GCM.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] with the card's status; as [`Card::run_jobs`].
    pub fn gcm_encrypt(
        &mut self,
        slot: u16,
        iv: GcmIv<'_>,
        tag_len: u8,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<GcmSealed> {
        match self.run_one(Job::GcmEncrypt {
            slot,
            iv,
            tag_len,
            aad,
            plaintext,
        })? {
            JobOutput::GcmSealed(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// Decrypt with AES-GCM. The tag's length is the tag length.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] with [`Status::AuthFailed`] when the tag does
    /// not verify (no plaintext is returned); other statuses; as
    /// [`Card::run_jobs`].
    pub fn gcm_decrypt(
        &mut self,
        slot: u16,
        iv: &[u8],
        tag: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>> {
        match self.run_one(Job::GcmDecrypt {
            slot,
            iv,
            tag,
            aad,
            ciphertext,
        })? {
            JobOutput::Plaintext(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    /// Encrypt one XTS data unit.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`]; as [`Card::run_jobs`].
    pub fn xts_encrypt(&mut self, slot: u16, tweak: [u8; 16], data: &[u8]) -> Result<Vec<u8>> {
        match self.run_one(Job::XtsEncrypt {
            slot,
            tweak,
            data,
            pad_bits: 0,
        })? {
            JobOutput::Xts(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    /// Decrypt one XTS data unit.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`]; as [`Card::run_jobs`].
    pub fn xts_decrypt(&mut self, slot: u16, tweak: [u8; 16], data: &[u8]) -> Result<Vec<u8>> {
        match self.run_one(Job::XtsDecrypt {
            slot,
            tweak,
            data,
            pad_bits: 0,
        })? {
            JobOutput::Xts(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    /// Load a plaintext key into the empty `slot` (test-mode cards only).
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] (`NOT_TEST_MODE`, `SLOT_OCCUPIED`,
    /// `WEAK_KEY`, `BAD_LENGTH`, ...); as [`Card::run_jobs`].
    pub fn key_load(
        &mut self,
        slot: u16,
        alg: KeyAlg,
        policy: u16,
        label: [u8; LABEL_BYTES],
        key: &[u8],
    ) -> Result<()> {
        self.run_one(Job::KeyLoad {
            slot,
            alg,
            policy,
            label,
            key,
        })
        .map(|_| ())
    }

    /// Generate an AES key in the card, from its DRBG, into the empty
    /// `slot`.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] (`SLOT_OCCUPIED`, `BAD_ALGORITHM`,
    /// `ENTROPY_FAILURE`, ...); as [`Card::run_jobs`].
    pub fn key_generate(
        &mut self,
        slot: u16,
        alg: KeyAlg,
        policy: u16,
        label: [u8; LABEL_BYTES],
    ) -> Result<()> {
        self.run_one(Job::KeyGenerate {
            slot,
            alg,
            policy,
            label,
        })
        .map(|_| ())
    }

    /// Clear `slot`, overwriting its key.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`]; as [`Card::run_jobs`].
    pub fn key_clear(&mut self, slot: u16) -> Result<()> {
        self.run_one(Job::KeyClear { slot }).map(|_| ())
    }

    /// Read `slot`'s record.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] (`BAD_SLOT`); as [`Card::run_jobs`].
    pub fn slot_info(&mut self, slot: u16) -> Result<SlotRecord> {
        match self.run_one(Job::SlotInfo { slot })? {
            JobOutput::Slot(r) => Ok(r),
            other => Err(unexpected(other)),
        }
    }

    pub(crate) fn run_one(&mut self, job: Job<'_>) -> Result<JobOutput> {
        self.run_one_result(job)?.into_output()
    }

    pub(crate) fn run_one_result(&mut self, job: Job<'_>) -> Result<JobResult> {
        let mut r = self.run_jobs(&[job])?;
        Ok(r.pop().expect("run_jobs returns one result per job"))
    }

    /// Hash `data` (any length) with `alg`: the digest, or `out_len` bytes
    /// of SHAKE output (at most 1 MiB). Messages over 1 MiB take a chain
    /// of jobs ([`Hasher`]).
    ///
    /// # Errors
    /// [`Error::JobFailed`] with the card's status; as [`Card::run_jobs`].
    pub fn hash(&mut self, alg: HashAlg, data: &[u8], out_len: u32) -> Result<Vec<u8>> {
        let mut h = Hasher::new(alg);
        h.update(self, data)?;
        h.finish(self, out_len)
    }

    /// The records of every slot, in index order, read with one batch of
    /// SLOT_INFO jobs.
    ///
    /// # Errors
    /// When a SLOT_INFO job fails; as [`Card::run_jobs`].
    pub fn list_slots(&mut self) -> Result<Vec<SlotEntry>> {
        let jobs: Vec<Job<'_>> = (0..KEY_SLOTS as u16)
            .map(|slot| Job::SlotInfo { slot })
            .collect();
        self.run_jobs(&jobs)?
            .into_iter()
            .map(|r| {
                let slot = r.slot;
                match r.into_output()? {
                    JobOutput::Slot(record) => Ok(SlotEntry { slot, record }),
                    other => Err(unexpected(other)),
                }
            })
            .collect()
    }

    /// Resolve a slot reference: a number names a slot directly (it must
    /// be below [`KEY_SLOTS`]); anything else is a label, which must name
    /// exactly one occupied slot.
    ///
    /// # Errors
    /// [`Error::NoSuchSlot`]; errors of [`Card::list_slots`].
    pub fn resolve_slot(&mut self, r: &str) -> Result<u16> {
        if let Ok(n) = r.parse::<u32>() {
            if n >= KEY_SLOTS {
                return Err(Error::NoSuchSlot(format!(
                    "slot {n} does not exist: slots are 0 to {}",
                    KEY_SLOTS - 1
                )));
            }
            return Ok(n as u16);
        }
        let slots = self.list_slots()?;
        let hits: Vec<u16> = slots
            .iter()
            .filter(|e| !e.is_empty() && label_text(&e.record.label) == r)
            .map(|e| e.slot)
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::NoSuchSlot(format!(
                "no slot has the label {r:?}; `hsmctl slot list` shows the slots"
            ))),
            many => Err(Error::NoSuchSlot(format!(
                "the label {r:?} names {} slots ({many:?}); name the slot by number",
                many.len()
            ))),
        }
    }

    /// Take the cached DMA arena if it holds `bytes`, else allocate one.
    fn take_arena(&mut self, bytes: usize) -> Result<crate::dma::DmaBuffer> {
        match self.arena.take() {
            Some(a) if a.len() >= bytes => Ok(a),
            _ => self.alloc_dma(bytes.max(1).next_power_of_two().max(64 << 10)),
        }
    }

    fn put_arena(&mut self, a: crate::dma::DmaBuffer) {
        self.arena = Some(a);
    }
}

/// A slot and its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotEntry {
    /// The slot's index.
    pub slot: u16,
    /// Its record.
    pub record: SlotRecord,
}

impl SlotEntry {
    /// Whether the slot holds no key.
    pub fn is_empty(&self) -> bool {
        self.record.alg == KeyAlg::Empty as u8
    }

    /// The algorithm, if the code is known.
    pub fn alg(&self) -> Option<KeyAlg> {
        KeyAlg::from_u8(self.record.alg)
    }

    /// The label as text.
    pub fn label(&self) -> String {
        label_text(&self.record.label)
    }
}

/// Lay out an ML-KEM job: `src` is the concatenation of `parts`, `aux` the
/// label when the job creates a slot; `src`, `dst` and `aux` are named only
/// when their regions are not empty (an exposed job's `aux` must be zero).
fn put_kem(
    mem: &mut [u8],
    p: &Placed,
    desc: &mut Descriptor,
    base: u64,
    job: &Job<'_>,
    parts: &[&[u8]],
    label: Option<&[u8; LABEL_BYTES]>,
) {
    let (s, a, d) = job.regions();
    let mut at = p.src;
    for part in parts {
        mem[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    debug_assert_eq!(at, p.src + s);
    // A KeyGen with the card's randomness has no src at all.
    if s > 0 {
        desc.src_addr = base + p.src as u64;
        desc.src_len = s as u32;
    }
    if let Some(label) = label {
        mem[p.aux..p.aux + LABEL_BYTES].copy_from_slice(label);
        desc.aux_addr = base + p.aux as u64;
        desc.aux_len = a as u32;
    }
    if d > 0 {
        desc.dst_addr = base + p.dst as u64;
        desc.dst_len = d as u32;
    }
    let (params, flags) = job.kem_params().expect("an ML-KEM job");
    desc.params = params.to_bytes();
    desc.flags = flags;
}

fn put_padded(mem: &mut [u8], at: usize, data: &[u8]) {
    mem[at..at + data.len()].copy_from_slice(data);
    mem[at + data.len()..at + padded(data.len())].fill(0);
}

/// A message of any length hashed by the card: [`Hasher::update`] sends
/// every whole chunk (the largest multiple of the rate within 1 MiB) as a
/// partial job that carries the sponge state on; [`Hasher::finish`] sends
/// the rest as the final job.
#[derive(Debug)]
pub struct Hasher {
    alg: HashAlg,
    state: Option<Box<[u8; SPONGE_STATE_BYTES as usize]>>,
    pending: Vec<u8>,
    jobs: u64,
    cycles: u64,
}

impl Hasher {
    /// A hasher for `alg` with the empty message.
    pub fn new(alg: HashAlg) -> Hasher {
        Hasher {
            alg,
            state: None,
            pending: Vec::new(),
            jobs: 0,
            cycles: 0,
        }
    }

    /// Bytes one partial job absorbs.
    pub fn chunk_bytes(alg: HashAlg) -> usize {
        let rate = alg.rate_bytes() as usize;
        MAX_JOB_BYTES as usize / rate * rate
    }

    /// Absorb `data`.
    ///
    /// # Errors
    /// As [`Card::run_jobs`], and [`Error::SlotJobFailed`] with the card's
    /// status when a job fails.
    pub fn update(&mut self, card: &mut Card, data: &[u8]) -> Result<()> {
        let chunk = Hasher::chunk_bytes(self.alg);
        let mut data = data;
        while !data.is_empty() {
            let take = (chunk - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == chunk {
                let r = card.run_one_result(Job::Hash {
                    alg: self.alg,
                    data: &self.pending,
                    out_len: 0,
                    resume: self.state.as_deref(),
                    partial: true,
                })?;
                self.jobs += 1;
                self.cycles += u64::from(r.cycles());
                match r.into_output()? {
                    JobOutput::SpongeState(st) => self.state = Some(st),
                    other => return Err(unexpected(other)),
                }
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// The digest (SHA-3) or `out_len` bytes of output (SHAKE, at most
    /// 1 MiB).
    ///
    /// # Errors
    /// As [`Hasher::update`].
    pub fn finish(mut self, card: &mut Card, out_len: u32) -> Result<Vec<u8>> {
        let r = card.run_one_result(Job::Hash {
            alg: self.alg,
            data: &self.pending,
            out_len,
            resume: self.state.as_deref(),
            partial: false,
        })?;
        self.jobs += 1;
        self.cycles += u64::from(r.cycles());
        match r.into_output()? {
            JobOutput::Digest(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    /// Jobs run so far.
    pub fn jobs(&self) -> u64 {
        self.jobs
    }

    /// Card cycles of the jobs run so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }
}

pub(crate) fn unexpected(o: JobOutput) -> Error {
    Error::InvalidArgument(format!("driver bug: unexpected job output {o:?}"))
}

fn decode(job: &Job<'_>, p: &Placed, c: JobCompletion, mem: &mut [u8]) -> JobResult {
    let (s, _, d) = job.regions();
    let ok = c.status == Status::Ok;
    if !ok && matches!(job, Job::GcmDecrypt { .. }) {
        // Second line of defence: whatever the card left in the output
        // region of a failed decryption is destroyed here.
        mem[p.dst..p.dst + d].zeroize();
    }
    let output = ok.then(|| match *job {
        Job::GcmEncrypt { iv, tag_len, .. } => {
            let t = p.dst + padded(s);
            JobOutput::GcmSealed(GcmSealed {
                ciphertext: mem[p.dst..p.dst + s].to_vec(),
                tag: mem[t..t + tag_len as usize].to_vec(),
                iv: match iv {
                    GcmIv::Card => mem[t + 16..t + 16 + CARD_IV_BYTES].to_vec(),
                    GcmIv::Caller(v) => v.to_vec(),
                },
            })
        }
        Job::GcmDecrypt { .. } => JobOutput::Plaintext(mem[p.dst..p.dst + s].to_vec()),
        Job::XtsEncrypt { .. } | Job::XtsDecrypt { .. } => {
            JobOutput::Xts(mem[p.dst..p.dst + s].to_vec())
        }
        Job::SlotInfo { .. } => {
            let mut b = [0u8; SLOT_RECORD_BYTES];
            b.copy_from_slice(&mem[p.dst..p.dst + SLOT_RECORD_BYTES]);
            JobOutput::Slot(SlotRecord::from_bytes(&b))
        }
        Job::KeyLoad { .. }
        | Job::KeyGenerate { .. }
        | Job::KeyClear { .. }
        | Job::CardInit { .. }
        | Job::Login { .. }
        | Job::Logout
        | Job::SetPin { .. } => JobOutput::Done,
        Job::CardInfo => {
            let mut b = [0u8; AUTH_INFO_BYTES];
            b.copy_from_slice(&mem[p.dst..p.dst + AUTH_INFO_BYTES]);
            JobOutput::Auth(AuthInfo::from_bytes(&b))
        }
        Job::Hash { partial: true, .. } => {
            let mut st = Box::new([0u8; SPONGE_STATE_BYTES as usize]);
            st.copy_from_slice(&mem[p.dst..p.dst + SPONGE_STATE_BYTES as usize]);
            JobOutput::SpongeState(st)
        }
        Job::Hash { .. } => {
            JobOutput::Digest(mem[p.dst..p.dst + (c.out_len as usize).min(d)].to_vec())
        }
        Job::KemKeygen { set, expose, .. } => {
            let ek = set.ek_bytes() as usize;
            JobOutput::KemKeygen(KemKeygenOutput {
                ek: mem[p.dst..p.dst + ek].to_vec(),
                dk_pke: expose.then(|| Zeroizing::new(mem[p.dst + ek..p.dst + d].to_vec())),
            })
        }
        Job::KemEncaps { set, target, .. } => {
            let ct = set.ct_bytes() as usize;
            JobOutput::KemEncaps(KemEncapsOutput {
                ciphertext: mem[p.dst..p.dst + ct].to_vec(),
                secret: target.is_none().then(|| secret_at(mem, p.dst + ct)),
            })
        }
        Job::KemDecaps { target, .. } => JobOutput::KemDecaps(KemDecapsOutput {
            secret: target.is_none().then(|| secret_at(mem, p.dst)),
        }),
        // Never more than the card says it wrote: what the arena holds
        // beyond that is not random (Card::random checks the length).
        Job::RngGenerate { .. } => JobOutput::Random(Zeroizing::new(
            mem[p.dst..p.dst + (c.out_len as usize).min(d)].to_vec(),
        )),
    });
    JobResult {
        completion: c,
        opcode: job.opcode(),
        slot: job.reported_slot().unwrap_or(0),
        names_slot: job.reported_slot().is_some(),
        output,
    }
}

/// The 32-byte shared secret at `at`, copied into a zeroizing buffer.
fn secret_at(mem: &[u8], at: usize) -> SharedSecret {
    let mut k = Zeroizing::new([0u8; SHARED_SECRET_BYTES as usize]);
    k.copy_from_slice(&mem[at..at + SHARED_SECRET_BYTES as usize]);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockCard, MockTransport};
    use hsm_contract::crypto::policy;
    use std::sync::Arc;

    fn card(test_mode: bool) -> (Arc<MockCard>, Card) {
        let mock = MockCard::new();
        mock.state().test_mode = test_mode;
        let c = Card::from_transport(Box::new(MockTransport(mock.clone()))).unwrap();
        (mock, c)
    }

    const BOTH: u16 = policy::ENCRYPT | policy::DECRYPT;

    #[test]
    fn gcm_round_trip_with_card_iv_and_batching() {
        let (mock, mut c) = card(true);
        c.key_load(3, KeyAlg::Aes256, BOTH, label_bytes("k").unwrap(), &[7; 32])
            .unwrap();
        let msgs: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; i % 70]).collect();
        let jobs: Vec<Job<'_>> = msgs
            .iter()
            .map(|m| Job::GcmEncrypt {
                slot: 3,
                iv: GcmIv::Card,
                tag_len: 16,
                aad: b"hdr",
                plaintext: m,
            })
            .collect();
        let doorbells0 = mock.state().doorbells.len();
        let sealed: Vec<GcmSealed> = c
            .run_jobs(&jobs)
            .unwrap()
            .into_iter()
            .map(|r| match r.into_output().unwrap() {
                JobOutput::GcmSealed(s) => s,
                o => panic!("{o:?}"),
            })
            .collect();
        // 300 jobs through a 255-job queue: a handful of doorbells.
        assert!(mock.state().doorbells.len() - doorbells0 <= 3);
        // Card IVs: the mock's fixed field (the slot index), then the
        // invocation counter.
        assert_eq!(sealed[0].iv, [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(sealed[299].iv[4..6], [43, 1]);
        for (m, s) in msgs.iter().zip(&sealed) {
            let p = c
                .gcm_decrypt(3, &s.iv, &s.tag, b"hdr", &s.ciphertext)
                .unwrap();
            assert_eq!(&p, m);
        }
        assert_eq!(c.slot_info(3).unwrap().invocations, 300);
    }

    #[test]
    fn failed_decrypt_returns_no_plaintext_even_from_a_leaky_card() {
        let (mock, mut c) = card(true);
        c.key_load(0, KeyAlg::Aes128, BOTH, label_bytes("a").unwrap(), &[1; 16])
            .unwrap();
        let s = c
            .gcm_encrypt(0, GcmIv::Caller(&[9; 12]), 16, b"", b"secret plaintext")
            .unwrap();
        let mut bad = s.tag.clone();
        bad[0] ^= 1;
        mock.state().leak_on_auth_failure = true;
        let e = c
            .gcm_decrypt(0, &s.iv, &bad, b"", &s.ciphertext)
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::AuthFailed));
        let msg = e.to_string();
        assert!(
            msg.contains("AES_GCM_DECRYPT") && msg.contains("AUTH_FAILED"),
            "{msg}"
        );
        // The arena the card wrote into holds no plaintext.
        let arena = c.arena.as_ref().unwrap().as_slice();
        assert!(!arena.windows(6).any(|w| w == b"secret"));
        // Truncated tags verify by prefix.
        let s = c
            .gcm_encrypt(0, GcmIv::Caller(&[9; 12]), 8, b"a", b"xyz")
            .unwrap();
        assert_eq!(s.tag.len(), 8);
        assert_eq!(
            c.gcm_decrypt(0, &s.iv, &s.tag, b"a", &s.ciphertext)
                .unwrap(),
            b"xyz"
        );
    }

    #[test]
    fn key_material_is_wiped_and_statuses_are_typed() {
        let (_mock, mut c) = card(true);
        let mut key = [0x5au8; 64];
        key[40] = 0xa5;
        let e = c
            .key_load(
                5,
                KeyAlg::XtsAes256,
                BOTH,
                label_bytes("x").unwrap(),
                &[0x5a; 64],
            )
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::WeakKey));
        c.key_load(5, KeyAlg::XtsAes256, BOTH, label_bytes("x").unwrap(), &key)
            .unwrap();
        let arena = c.arena.as_ref().unwrap().as_slice();
        assert!(
            arena.iter().all(|&b| b == 0),
            "key bytes left in DMA memory"
        );
        let e = c
            .key_load(5, KeyAlg::Aes128, BOTH, label_bytes("y").unwrap(), &[1; 16])
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::SlotOccupied));
        let e = c.gcm_encrypt(5, GcmIv::Card, 16, b"", b"").unwrap_err();
        assert_eq!(e.status(), Some(Status::WrongKeyType));
        let e = c.xts_encrypt(6, [0; 16], &[0; 16]).unwrap_err();
        assert_eq!(e.status(), Some(Status::SlotEmpty));
        let e = c.slot_info(64).unwrap_err();
        assert_eq!(e.status(), Some(Status::BadSlot));
        let ct = c.xts_encrypt(5, [1; 16], &[2; 40]).unwrap();
        assert_eq!(c.xts_decrypt(5, [1; 16], &ct).unwrap(), vec![2; 40]);
    }

    #[test]
    fn slots_resolve_by_number_and_label() {
        let (_mock, mut c) = card(true);
        c.key_load(
            9,
            KeyAlg::Aes128,
            policy::ENCRYPT,
            label_bytes("disk").unwrap(),
            &[3; 16],
        )
        .unwrap();
        let slots = c.list_slots().unwrap();
        assert_eq!(slots.len(), KEY_SLOTS as usize);
        assert_eq!(slots.iter().filter(|s| !s.is_empty()).count(), 1);
        assert_eq!(slots[9].label(), "disk");
        assert_eq!(slots[9].alg(), Some(KeyAlg::Aes128));
        assert_eq!(c.resolve_slot("disk").unwrap(), 9);
        assert_eq!(c.resolve_slot("12").unwrap(), 12);
        assert!(c.resolve_slot("64").is_err());
        let e = c.resolve_slot("nope").unwrap_err().to_string();
        assert!(e.contains("no slot has the label"), "{e}");
        assert!(label_bytes("").is_err());
        assert!(label_bytes(&"x".repeat(33)).is_err());
        assert_eq!(label_text(&label_bytes("abc").unwrap()), "abc");
    }

    #[test]
    fn operational_mode_refusals_come_from_the_card() {
        let (_mock, mut c) = card(false);
        let e = c
            .key_load(0, KeyAlg::Aes128, BOTH, label_bytes("a").unwrap(), &[1; 16])
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
        let e = c
            .gcm_encrypt(0, GcmIv::Caller(&[0; 12]), 16, b"", b"")
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
        let e = c.gcm_encrypt(0, GcmIv::Card, 12, b"", b"").unwrap_err();
        assert_eq!(e.status(), Some(Status::BadTagLength));
        // Lengths no descriptor can carry are refused before the card.
        let big = vec![0u8; (1 << 20) + 1];
        let e = c.xts_encrypt(0, [0; 16], &big).unwrap_err().to_string();
        assert!(e.contains("over the card's 1 MiB limit"), "{e}");
    }
}
