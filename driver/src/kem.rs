//! ML-KEM (FIPS 203) on the card: key generation, encapsulation and
//! decapsulation ([`hsm_contract::kem`] is the job contract).
//!
//! A decapsulation key lives in a card slot, held as its seed; it never
//! leaves the card. A shared secret becomes an AES-256 key in a new slot
//! ([`KemTarget`]). Test mode can also return the secrets ("expose"), which
//! is how the known-answer vectors are checked; exposed secrets come back
//! in [`Zeroizing`] buffers.
//!
//! # Randomness
//! KeyGen needs 64 random bytes (d, z) and Encaps 32 (m). The card draws
//! them from its own SP 800-90A DRBG, reseeded from its health-tested
//! noise source before every such job ([`hsm_contract::rng`]): the host
//! never sees or supplies them, and [`Card::kem_keygen`] and
//! [`Card::kem_encaps`] run in operational mode. When the noise source has
//! failed, they fail with [`hsm_contract::Status::EntropyFailure`] and
//! store nothing, until the card is reset ([`Card::device_reset`]).
//!
//! For known-answer tests only, [`Card::kem_keygen_internal`] and
//! [`Card::kem_encaps_internal`] pass d || z and m in the job (FIPS 203's
//! deterministic KeyGen_internal and Encaps_internal); the card accepts
//! that in test mode only ([`hsm_contract::Status::NotTestMode`]
//! otherwise). Decapsulation needs no randomness and runs in either mode.

use hsm_contract::crypto::LABEL_BYTES;
use hsm_contract::kem::{KemSet, M_BYTES, SEED_BYTES, SHARED_SECRET_BYTES};
use zeroize::Zeroizing;

use crate::card::Card;
use crate::error::{Error, Result};
use crate::jobs::{unexpected, Job, JobOutput};

/// A 32-byte ML-KEM shared secret, wiped when dropped.
pub type SharedSecret = Zeroizing<[u8; SHARED_SECRET_BYTES as usize]>;

/// The slot a shared secret becomes an AES-256 key in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KemTarget {
    /// An empty slot.
    pub slot: u16,
    /// The new key's usage policy ([`hsm_contract::crypto::policy`] bits).
    pub policy: u16,
    /// The new key's label, zero-padded.
    pub label: [u8; LABEL_BYTES],
}

/// What a KEM_KEYGEN job returns.
#[derive(Clone, PartialEq, Eq)]
pub struct KemKeygenOutput {
    /// The encapsulation key, [`KemSet::ek_bytes`] long.
    pub ek: Vec<u8>,
    /// Exposed jobs only: dk_PKE = ByteEncode12(ŝ), [`KemSet::dk_pke_bytes`]
    /// long.
    pub dk_pke: Option<Zeroizing<Vec<u8>>>,
}

/// What a KEM_ENCAPS job returns.
#[derive(Clone, PartialEq, Eq)]
pub struct KemEncapsOutput {
    /// The ciphertext, [`KemSet::ct_bytes`] long.
    pub ciphertext: Vec<u8>,
    /// Exposed jobs only: the shared secret K.
    pub secret: Option<SharedSecret>,
}

/// What a KEM_DECAPS job returns.
#[derive(Clone, PartialEq, Eq)]
pub struct KemDecapsOutput {
    /// Exposed jobs only: the shared secret (K', or the implicit-rejection
    /// secret for a ciphertext that does not re-encrypt to itself).
    pub secret: Option<SharedSecret>,
}

impl std::fmt::Debug for KemKeygenOutput {
    /// Lengths only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KemKeygenOutput")
            .field("ek_bytes", &self.ek.len())
            .field("dk_pke_exposed", &self.dk_pke.is_some())
            .finish()
    }
}

impl std::fmt::Debug for KemEncapsOutput {
    /// Lengths only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KemEncapsOutput")
            .field("ciphertext_bytes", &self.ciphertext.len())
            .field("secret_exposed", &self.secret.is_some())
            .finish()
    }
}

impl std::fmt::Debug for KemDecapsOutput {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KemDecapsOutput")
            .field("secret_exposed", &self.secret.is_some())
            .finish()
    }
}

impl Card {
    /// Generate an ML-KEM key pair into the empty `slot` and return the
    /// encapsulation key. The card draws the seed (d, z) from its DRBG and
    /// keeps it in the slot; it never leaves the card. Runs in operational
    /// mode.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] (`ENTROPY_FAILURE` when the card's noise
    /// source has failed: the slot stays empty; `SLOT_OCCUPIED`,
    /// `BAD_SLOT`, ...); as [`Card::run_jobs`].
    pub fn kem_keygen(
        &mut self,
        set: KemSet,
        slot: u16,
        policy: u16,
        label: [u8; LABEL_BYTES],
    ) -> Result<Vec<u8>> {
        Ok(self
            .kem_keygen_job(set, slot, policy, label, None, false)?
            .ek)
    }

    /// ML-KEM.KeyGen_internal(d, z) with `seed` = d || z into the empty
    /// `slot`, exposed (test mode only, for known-answer tests): returns ek
    /// and dk_PKE.
    ///
    /// # Errors
    /// As [`Card::kem_keygen`], and `NOT_TEST_MODE` outside test mode.
    pub fn kem_keygen_internal(
        &mut self,
        set: KemSet,
        slot: u16,
        policy: u16,
        label: [u8; LABEL_BYTES],
        seed: &[u8; SEED_BYTES as usize],
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let out = self.kem_keygen_job(set, slot, policy, label, Some(seed), true)?;
        match out.dk_pke {
            Some(dk) => Ok((out.ek, dk)),
            None => Err(Error::InvalidArgument(
                "driver bug: an exposed KEM_KEYGEN returned no dk_PKE".into(),
            )),
        }
    }

    fn kem_keygen_job(
        &mut self,
        set: KemSet,
        slot: u16,
        policy: u16,
        label: [u8; LABEL_BYTES],
        seed: Option<&[u8; SEED_BYTES as usize]>,
        expose: bool,
    ) -> Result<KemKeygenOutput> {
        match self.run_one(Job::KemKeygen {
            set,
            slot,
            policy,
            label,
            seed,
            expose,
        })? {
            JobOutput::KemKeygen(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }

    /// Encapsulate to `ek` with m from the card's DRBG: the shared secret
    /// becomes an AES-256 key in `target`; returns the ciphertext. Runs in
    /// operational mode.
    ///
    /// # Errors
    /// [`Error::KemLength`] when `ek` is not [`KemSet::ek_bytes`] long;
    /// [`Error::SlotJobFailed`] (`EK_CHECK_FAILED` for a key that fails
    /// the modulus check, `ENTROPY_FAILURE` when the card's noise source
    /// has failed, `SLOT_OCCUPIED`, ...); as [`Card::run_jobs`].
    pub fn kem_encaps(&mut self, set: KemSet, ek: &[u8], target: KemTarget) -> Result<Vec<u8>> {
        Ok(self.kem_encaps_job(set, ek, None, Some(target))?.ciphertext)
    }

    /// ML-KEM.Encaps_internal(ek, m), exposed (test mode only, for
    /// known-answer tests): returns the ciphertext and the shared secret.
    ///
    /// # Errors
    /// As [`Card::kem_encaps`] and `NOT_TEST_MODE` outside test mode, with
    /// [`Error::JobFailed`] for the card's statuses (the job names no
    /// slot).
    pub fn kem_encaps_internal(
        &mut self,
        set: KemSet,
        ek: &[u8],
        m: &[u8; M_BYTES as usize],
    ) -> Result<(Vec<u8>, SharedSecret)> {
        let out = self.kem_encaps_job(set, ek, Some(m), None)?;
        match out.secret {
            Some(k) => Ok((out.ciphertext, k)),
            None => Err(Error::InvalidArgument(
                "driver bug: an exposed KEM_ENCAPS returned no secret".into(),
            )),
        }
    }

    fn kem_encaps_job(
        &mut self,
        set: KemSet,
        ek: &[u8],
        m: Option<&[u8; M_BYTES as usize]>,
        target: Option<KemTarget>,
    ) -> Result<KemEncapsOutput> {
        match self.run_one(Job::KemEncaps { set, ek, m, target })? {
            JobOutput::KemEncaps(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }

    /// Decapsulate `ciphertext` with the key in `slot` (policy DERIVE): the
    /// shared secret becomes an AES-256 key in `target`. Runs in
    /// operational mode. A ciphertext that was not made for this key gives
    /// FIPS 203's implicit-rejection secret, not an error.
    ///
    /// # Errors
    /// [`Error::KemLength`] when `ciphertext` is not [`KemSet::ct_bytes`]
    /// long; [`Error::SlotJobFailed`] (`WRONG_KEY_TYPE` when the slot is
    /// not a `set` key, `POLICY_DENIED`, `SLOT_EMPTY`, `SLOT_OCCUPIED` for
    /// the target, ...); as [`Card::run_jobs`].
    pub fn kem_decaps(
        &mut self,
        set: KemSet,
        slot: u16,
        ciphertext: &[u8],
        target: KemTarget,
    ) -> Result<()> {
        self.kem_decaps_job(set, slot, ciphertext, Some(target))
            .map(|_| ())
    }

    /// Decapsulate with the key in `slot`, exposed (test mode only):
    /// returns the shared secret.
    ///
    /// # Errors
    /// As [`Card::kem_decaps`], and `NOT_TEST_MODE` outside test mode.
    pub fn kem_decaps_exposed(
        &mut self,
        set: KemSet,
        slot: u16,
        ciphertext: &[u8],
    ) -> Result<SharedSecret> {
        match self.kem_decaps_job(set, slot, ciphertext, None)?.secret {
            Some(k) => Ok(k),
            None => Err(Error::InvalidArgument(
                "driver bug: an exposed KEM_DECAPS returned no secret".into(),
            )),
        }
    }

    fn kem_decaps_job(
        &mut self,
        set: KemSet,
        slot: u16,
        ciphertext: &[u8],
        target: Option<KemTarget>,
    ) -> Result<KemDecapsOutput> {
        match self.run_one(Job::KemDecaps {
            set,
            slot,
            ciphertext,
            target,
        })? {
            JobOutput::KemDecaps(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label_bytes;
    use crate::mock::{MockCard, MockTransport};
    use hsm_contract::crypto::policy;
    use hsm_contract::kem::{flags, KemParams};
    use hsm_contract::{Opcode, Status};
    use std::sync::Arc;

    fn card(test_mode: bool) -> (Arc<MockCard>, Card) {
        let mock = MockCard::new();
        mock.state().test_mode = test_mode;
        let c = Card::from_transport(Box::new(MockTransport(mock.clone()))).unwrap();
        (mock, c)
    }

    fn target(slot: u16) -> KemTarget {
        KemTarget {
            slot,
            policy: policy::ENCRYPT | policy::DECRYPT,
            label: label_bytes("shared").unwrap(),
        }
    }

    /// The mock has no ML-KEM engine and answers BAD_OPCODE, but only
    /// after the contract's precheck: so BAD_OPCODE proves that the
    /// driver's descriptors pass it.
    #[test]
    fn descriptors_pass_the_contract_precheck_in_test_mode() {
        let (mock, mut c) = card(true);
        let set = KemSet::MlKem768;
        let seed = [0x11u8; 64];
        let ek = vec![0x22u8; set.ek_bytes() as usize];
        let m = [0x33u8; 32];
        let ct = vec![0x44u8; set.ct_bytes() as usize];
        let label = label_bytes("kem").unwrap();
        let jobs = [
            Job::KemKeygen {
                set,
                slot: 4,
                policy: policy::DERIVE,
                label,
                seed: Some(&seed),
                expose: false,
            },
            Job::KemKeygen {
                set,
                slot: 4,
                policy: policy::DERIVE,
                label,
                seed: Some(&seed),
                expose: true,
            },
            Job::KemEncaps {
                set,
                ek: &ek,
                m: Some(&m),
                target: Some(target(9)),
            },
            Job::KemEncaps {
                set,
                ek: &ek,
                m: Some(&m),
                target: None,
            },
            Job::KemDecaps {
                set,
                slot: 4,
                ciphertext: &ct,
                target: Some(target(9)),
            },
            Job::KemDecaps {
                set,
                slot: 4,
                ciphertext: &ct,
                target: None,
            },
        ];
        let results = c.run_jobs(&jobs).unwrap();
        for r in &results {
            assert_eq!(r.status(), Status::BadOpcode, "{:?}", r.opcode);
        }
        // Typed errors: encapsulations name their target slot, exposed
        // ones none.
        let mut it = results.into_iter();
        let e = it.next().unwrap().into_output().unwrap_err();
        assert!(e.to_string().contains("KEM_KEYGEN job"), "{e}");
        assert!(e.to_string().contains("key slot 4"), "{e}");
        let e = it.nth(1).unwrap().into_output().unwrap_err();
        assert!(e.to_string().contains("key slot 9"), "{e}");
        let e = it.next().unwrap().into_output().unwrap_err();
        assert!(matches!(e, Error::JobFailed { .. }), "{e}");

        let seen = &mock.state().seen;
        assert_eq!(seen.len(), jobs.len());
        let (d, src, aux) = &seen[0];
        assert_eq!(d.opcode, Opcode::KemKeygen as u8);
        assert_eq!((d.flags, d.key_slot), (0, 4));
        assert_eq!(src, &seed);
        assert_eq!(aux, &label);
        assert_eq!(d.dst_len, set.ek_bytes());
        let p = KemParams::from_bytes(&d.params).unwrap();
        assert_eq!((p.alg, p.policy, p.target), (5, policy::DERIVE, 0));
        let (d, ..) = &seen[1];
        assert_eq!(d.flags, flags::EXPOSE);
        assert_eq!(d.dst_len, set.ek_bytes() + set.dk_pke_bytes());
        // Encaps: src = ek || m, no key slot, the target in params.
        let (d, src, aux) = &seen[2];
        assert_eq!(d.key_slot, 0);
        assert_eq!(&src[..ek.len()], &ek[..]);
        assert_eq!(&src[ek.len()..], &m);
        assert_eq!(aux, &target(9).label);
        assert_eq!(KemParams::from_bytes(&d.params).unwrap().target, 9);
        assert_eq!(d.dst_len, set.ct_bytes());
        // Exposed: no label, policy or target; K after the ciphertext.
        let (d, _, aux) = &seen[3];
        assert_eq!(d.flags, flags::EXPOSE);
        assert!(aux.is_empty());
        assert_eq!((d.aux_addr, d.aux_len), (0, 0));
        assert_eq!(
            d.params,
            KemParams {
                alg: 5,
                ..KemParams::default()
            }
            .to_bytes()
        );
        assert_eq!(d.dst_len, set.ct_bytes() + 32);
        // Decaps into a slot writes nothing to dst.
        let (d, src, _) = &seen[4];
        assert_eq!((d.dst_addr, d.dst_len, d.key_slot), (0, 0, 4));
        assert_eq!(src, &ct);
        let (d, ..) = &seen[5];
        assert_eq!((d.flags, d.dst_len), (flags::EXPOSE, 32));
        for (d, ..) in seen {
            assert_eq!((d.src_addr | d.dst_addr | d.aux_addr) % 16, 0);
        }
    }

    /// KeyGen and Encaps with the card's randomness: KeyGen has no `src`
    /// at all, Encaps carries ek alone; both pass the precheck outside
    /// test mode, where the same jobs with host randomness do not.
    #[test]
    fn card_randomness_descriptors() {
        for test_mode in [true, false] {
            let (mock, mut c) = card(test_mode);
            let set = KemSet::MlKem1024;
            let ek = vec![0x22u8; set.ek_bytes() as usize];
            let label = label_bytes("kem").unwrap();
            let keygen = |seed| Job::KemKeygen {
                set,
                slot: 7,
                policy: policy::DERIVE,
                label,
                seed,
                expose: false,
            };
            let encaps = |m| Job::KemEncaps {
                set,
                ek: &ek,
                m,
                target: Some(target(8)),
            };
            let (seed, m) = ([0x11u8; 64], [0x33u8; 32]);
            let jobs = [
                keygen(None),
                encaps(None),
                keygen(Some(&seed)),
                encaps(Some(&m)),
            ];
            let r = c.run_jobs(&jobs).unwrap();
            // No ML-KEM engine in the mock: BAD_OPCODE means the precheck
            // passed.
            assert_eq!(r[0].status(), Status::BadOpcode);
            assert_eq!(r[1].status(), Status::BadOpcode);
            let host = if test_mode {
                Status::BadOpcode
            } else {
                Status::NotTestMode
            };
            assert_eq!(r[2].status(), host);
            assert_eq!(r[3].status(), host);

            let seen = &mock.state().seen;
            let (d, src, aux) = &seen[0];
            assert_eq!(d.opcode, Opcode::KemKeygen as u8);
            assert_eq!((d.src_addr, d.src_len), (0, 0));
            assert!(src.is_empty());
            assert_eq!(aux, &label);
            assert_eq!((d.key_slot, d.dst_len), (7, set.ek_bytes()));
            assert!(!d.kem_host_randomness());
            let (d, src, _) = &seen[1];
            assert_eq!(d.opcode, Opcode::KemEncaps as u8);
            assert_eq!(d.src_len, set.ek_bytes());
            assert_eq!(src, &ek);
            assert_eq!(KemParams::from_bytes(&d.params).unwrap().target, 8);
            assert!(!d.kem_host_randomness());
            assert!(seen[2].0.kem_host_randomness());
            assert_eq!(seen[2].0.src_len, 64);
            assert!(seen[3].0.kem_host_randomness());
            assert_eq!(seen[3].0.src_len, set.ek_bytes() + 32);
            for (d, ..) in seen {
                assert_eq!(d.precheck(true), None, "{d:?}");
            }
        }
    }

    /// A failed noise source reaches the caller as ENTROPY_FAILURE with
    /// the contract's explanation, naming the slot.
    #[test]
    fn entropy_failure_is_a_clear_error() {
        let (mock, mut c) = card(false);
        mock.state().rng_fault = true;
        let set = KemSet::MlKem768;
        let e = c
            .kem_keygen(set, 3, policy::DERIVE, label_bytes("k").unwrap())
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::EntropyFailure));
        let msg = e.to_string();
        assert!(
            msg.contains("KEM_KEYGEN job")
                && msg.contains("key slot 3")
                && msg.contains("ENTROPY_FAILURE")
                && msg.contains("noise source failed its SP 800-90B health tests"),
            "{msg}"
        );
        let ek = vec![0u8; set.ek_bytes() as usize];
        let e = c.kem_encaps(set, &ek, target(4)).unwrap_err();
        assert_eq!(e.status(), Some(Status::EntropyFailure));
        assert!(e.to_string().contains("key slot 4"), "{e}");
        // Decapsulation needs no randomness: it passes on to the (absent)
        // engine.
        let ct = vec![0u8; set.ct_bytes() as usize];
        let e = c.kem_decaps(set, 3, &ct, target(4)).unwrap_err();
        assert_eq!(e.status(), Some(Status::BadOpcode));
    }

    #[test]
    fn operational_mode_refuses_host_randomness_and_expose() {
        let (_mock, mut c) = card(false);
        let set = KemSet::MlKem512;
        let label = label_bytes("k").unwrap();
        let e = c
            .kem_keygen_internal(set, 1, policy::DERIVE, label, &[1; 64])
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
        let ek = vec![0u8; set.ek_bytes() as usize];
        let e = c.kem_encaps_internal(set, &ek, &[2; 32]).unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
        // With the card's randomness they pass the precheck (and reach
        // the mock's missing engine).
        let e = c.kem_keygen(set, 1, policy::DERIVE, label).unwrap_err();
        assert_eq!(e.status(), Some(Status::BadOpcode));
        let e = c.kem_encaps(set, &ek, target(2)).unwrap_err();
        assert_eq!(e.status(), Some(Status::BadOpcode));
        let ct = vec![0u8; set.ct_bytes() as usize];
        let e = c.kem_decaps_exposed(set, 1, &ct).unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
        // Decapsulation into a slot passes the precheck outside test mode.
        let e = c.kem_decaps(set, 1, &ct, target(2)).unwrap_err();
        assert_eq!(e.status(), Some(Status::BadOpcode));
    }

    #[test]
    fn lengths_are_checked_before_anything_is_sent() {
        let (mock, mut c) = card(true);
        let doorbells = mock.state().doorbells.len();
        let set = KemSet::MlKem1024;
        let e = c
            .kem_encaps_internal(set, &[0u8; 1184], &[0; 32])
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::KemLength {
                    expected: 1568,
                    got: 1184,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "ml-kem-1024 encapsulation key of 1184 bytes: it must be 1568 bytes"
        );
        let e = c.kem_decaps_exposed(set, 0, &[0u8; 1567]).unwrap_err();
        assert!(e.to_string().contains("ciphertext of 1567 bytes"), "{e}");
        let mut t = target(3);
        t.slot = 300;
        let ct = vec![0u8; set.ct_bytes() as usize];
        assert!(c.kem_decaps(set, 0, &ct, t).is_err());
        assert_eq!(mock.state().doorbells.len(), doorbells);
    }

    #[test]
    fn seeds_and_m_do_not_stay_in_dma_memory() {
        let (_mock, mut c) = card(true);
        let set = KemSet::MlKem512;
        let seed = [0xa5u8; 64];
        let _ = c.kem_keygen_internal(set, 0, policy::DERIVE, label_bytes("k").unwrap(), &seed);
        let ek = vec![0x5au8; set.ek_bytes() as usize];
        let _ = c.kem_encaps_internal(set, &ek, &[0xc3; 32]);
        let arena = c.arena.as_ref().unwrap().as_slice();
        assert!(arena.iter().all(|&b| b == 0), "bytes left in DMA memory");
    }

    #[test]
    fn outputs_are_decoded_at_their_offsets() {
        let (mock, mut c) = card(true);
        mock.state().fake_kem_output = true;
        let pat = |from: u32, len: u32| -> Vec<u8> {
            (from..from + len).map(|i| (i % 251) as u8).collect()
        };
        let set = KemSet::MlKem1024;
        let label = label_bytes("k").unwrap();
        let (ek, dk) = c
            .kem_keygen_internal(set, 1, policy::DERIVE, label, &[1; 64])
            .unwrap();
        assert_eq!(ek, pat(0, set.ek_bytes()));
        assert_eq!(*dk, pat(set.ek_bytes(), set.dk_pke_bytes()));
        let ek = c.kem_keygen(set, 2, policy::DERIVE, label).unwrap();
        assert_eq!(ek.len(), set.ek_bytes() as usize);
        let (ct, k) = c.kem_encaps_internal(set, &ek, &[2; 32]).unwrap();
        assert_eq!(ct, pat(0, set.ct_bytes()));
        assert_eq!(k[..], pat(set.ct_bytes(), 32)[..]);
        let ct2 = c.kem_encaps(set, &ek, target(3)).unwrap();
        assert_eq!(ct2, ct);
        let k = c.kem_decaps_exposed(set, 1, &ct).unwrap();
        assert_eq!(k[..], pat(0, 32)[..]);
        c.kem_decaps(set, 1, &ct, target(3)).unwrap();
        let arena = c.arena.as_ref().unwrap().as_slice();
        assert!(arena.iter().all(|&b| b == 0), "bytes left in DMA memory");
        // The KAT key generation carried its seed; the other none (the
        // card's DRBG). Likewise m.
        let srcs = |op: Opcode| -> Vec<Vec<u8>> {
            mock.state()
                .seen
                .iter()
                .filter(|(d, ..)| d.opcode == op as u8)
                .map(|(_, src, _)| src.clone())
                .collect()
        };
        assert_eq!(srcs(Opcode::KemKeygen), [vec![1; 64], vec![]]);
        let encaps = srcs(Opcode::KemEncaps);
        assert_eq!(encaps.len(), 2);
        assert_eq!(encaps[0], [&ek[..], &[2; 32]].concat());
        assert_eq!(encaps[1], ek);
    }

    #[test]
    fn debug_output_never_shows_the_bytes() {
        let seed = [0xabu8; 64];
        let j = Job::KemKeygen {
            set: KemSet::MlKem768,
            slot: 2,
            policy: policy::DERIVE,
            label: [0; 32],
            seed: Some(&seed),
            expose: true,
        };
        let s = format!("{j:?}");
        assert!(
            s.contains("KEM_KEYGEN") && s.contains("src_bytes: 64") && s.contains("\"caller\""),
            "{s}"
        );
        let j = Job::KemKeygen {
            set: KemSet::MlKem768,
            slot: 2,
            policy: policy::DERIVE,
            label: [0; 32],
            seed: None,
            expose: false,
        };
        let s = format!("{j:?}");
        assert!(s.contains("src_bytes: 0") && s.contains("card DRBG"), "{s}");
        assert!(!s.contains("171"), "{s}");
        let o = KemEncapsOutput {
            ciphertext: vec![1; 768],
            secret: Some(Zeroizing::new([0xab; 32])),
        };
        assert!(!format!("{o:?}").contains("171"));
    }
}
