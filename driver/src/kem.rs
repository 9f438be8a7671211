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
//! KeyGen needs 64 random bytes and Encaps 32. Until the card has its own
//! DRBG, they come from the host ([`interim_host_randomness`]) in the job's
//! input, which the card accepts in test mode only: outside test mode
//! [`Card::kem_keygen`] and [`Card::kem_encaps`] fail with
//! [`hsm_contract::Status::NotTestMode`]. Decapsulation needs no randomness
//! and runs in either mode.

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

/// Fill `buf` from the kernel's random source (`getrandom(2)`).
///
/// This is the INTERIM source of ML-KEM's KeyGen seed and Encaps
/// randomness: the host's, carried to the card in the job, which the card
/// accepts in test mode only. It will be replaced by the card's own DRBG
/// (the key-management issue); nothing outside test mode may rely on it.
///
/// # Errors
/// [`Error::Os`] when `getrandom` fails.
pub fn interim_host_randomness(buf: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe `rest`, a live, mutably
        // borrowed slice, which getrandom writes at most `rest.len()` bytes of.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::os(
                "getrandom (the interim host randomness for ML-KEM)",
                e,
            ));
        }
        filled += n as usize;
    }
    Ok(())
}

impl Card {
    /// Generate an ML-KEM key pair into the empty `slot` (held as its
    /// seed, drawn from [`interim_host_randomness`]) and return the
    /// encapsulation key. Test-mode cards only, until the card has a DRBG.
    ///
    /// # Errors
    /// [`Error::SlotJobFailed`] (`NOT_TEST_MODE`, `SLOT_OCCUPIED`,
    /// `BAD_SLOT`, ...); [`Error::Os`] when the host has no randomness; as
    /// [`Card::run_jobs`].
    pub fn kem_keygen(
        &mut self,
        set: KemSet,
        slot: u16,
        policy: u16,
        label: [u8; LABEL_BYTES],
    ) -> Result<Vec<u8>> {
        let mut seed = Zeroizing::new([0u8; SEED_BYTES as usize]);
        interim_host_randomness(&mut seed[..])?;
        Ok(self
            .kem_keygen_job(set, slot, policy, label, &seed, false)?
            .ek)
    }

    /// ML-KEM.KeyGen_internal(d, z) with `seed` = d || z into the empty
    /// `slot`, exposed (test mode only): returns ek and dk_PKE.
    ///
    /// # Errors
    /// As [`Card::kem_keygen`].
    pub fn kem_keygen_internal(
        &mut self,
        set: KemSet,
        slot: u16,
        policy: u16,
        label: [u8; LABEL_BYTES],
        seed: &[u8; SEED_BYTES as usize],
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let out = self.kem_keygen_job(set, slot, policy, label, seed, true)?;
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
        seed: &[u8; SEED_BYTES as usize],
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

    /// Encapsulate to `ek` (randomness from [`interim_host_randomness`]):
    /// the shared secret becomes an AES-256 key in `target`; returns the
    /// ciphertext. Test-mode cards only, until the card has a DRBG.
    ///
    /// # Errors
    /// [`Error::KemLength`] when `ek` is not [`KemSet::ek_bytes`] long;
    /// [`Error::SlotJobFailed`] (`EK_CHECK_FAILED` for a key that fails
    /// the modulus check, `NOT_TEST_MODE`, `SLOT_OCCUPIED`, ...); as
    /// [`Card::run_jobs`].
    pub fn kem_encaps(&mut self, set: KemSet, ek: &[u8], target: KemTarget) -> Result<Vec<u8>> {
        let mut m = Zeroizing::new([0u8; M_BYTES as usize]);
        interim_host_randomness(&mut m[..])?;
        Ok(self.kem_encaps_job(set, ek, &m, Some(target))?.ciphertext)
    }

    /// ML-KEM.Encaps_internal(ek, m), exposed (test mode only): returns the
    /// ciphertext and the shared secret.
    ///
    /// # Errors
    /// As [`Card::kem_encaps`], with [`Error::JobFailed`] for the card's
    /// statuses (the job names no slot).
    pub fn kem_encaps_internal(
        &mut self,
        set: KemSet,
        ek: &[u8],
        m: &[u8; M_BYTES as usize],
    ) -> Result<(Vec<u8>, SharedSecret)> {
        let out = self.kem_encaps_job(set, ek, m, None)?;
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
        m: &[u8; M_BYTES as usize],
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
                seed: &seed,
                expose: false,
            },
            Job::KemKeygen {
                set,
                slot: 4,
                policy: policy::DERIVE,
                label,
                seed: &seed,
                expose: true,
            },
            Job::KemEncaps {
                set,
                ek: &ek,
                m: &m,
                target: Some(target(9)),
            },
            Job::KemEncaps {
                set,
                ek: &ek,
                m: &m,
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

    #[test]
    fn operational_mode_refuses_host_randomness_and_expose() {
        let (_mock, mut c) = card(false);
        let set = KemSet::MlKem512;
        let e = c
            .kem_keygen(set, 1, policy::DERIVE, label_bytes("k").unwrap())
            .unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
        let ek = vec![0u8; set.ek_bytes() as usize];
        let e = c.kem_encaps(set, &ek, target(2)).unwrap_err();
        assert_eq!(e.status(), Some(Status::NotTestMode));
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
        // The two key generations drew different seeds from the host.
        let seeds: Vec<Vec<u8>> = mock
            .state()
            .seen
            .iter()
            .filter(|(d, ..)| d.opcode == hsm_contract::Opcode::KemKeygen as u8)
            .map(|(_, src, _)| src.clone())
            .collect();
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[0], [1; 64]);
        assert_ne!(seeds[1], [1; 64]);
    }

    #[test]
    fn debug_output_never_shows_the_bytes() {
        let seed = [0xabu8; 64];
        let j = Job::KemKeygen {
            set: KemSet::MlKem768,
            slot: 2,
            policy: policy::DERIVE,
            label: [0; 32],
            seed: &seed,
            expose: true,
        };
        let s = format!("{j:?}");
        assert!(
            s.contains("KEM_KEYGEN") && s.contains("src_bytes: 64"),
            "{s}"
        );
        assert!(!s.contains("171"), "{s}");
        let o = KemEncapsOutput {
            ciphertext: vec![1; 768],
            secret: Some(Zeroizing::new([0xab; 32])),
        };
        assert!(!format!("{o:?}").contains("171"));
        let mut r = [0u8; 48];
        interim_host_randomness(&mut r).unwrap();
        assert_ne!(r, [0u8; 48]);
    }
}
