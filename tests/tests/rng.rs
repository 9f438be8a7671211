//! The card's random bit generator through the whole stack: RNG_GENERATE
//! jobs from the driver, vfio-user, Verilator, RTL; the SP 800-90B health
//! tests against the simulated card's noise-source faults
//! (`hsm_sim::control_noise`); recovery by a device reset.
//!
//! The statistical checks here are loose sanity checks of the plumbing
//! (every byte written, no block repeated, no stuck bits), not an
//! assessment of the generator: that is the DRBG's known-answer tests in
//! `hdl/` and the health tests' design in `hsm_contract::rng`.

use std::collections::HashSet;
use std::time::Duration;

use hsm_contract::crypto::{policy, KeyAlg};
use hsm_contract::hash::HashAlg;
use hsm_contract::kem::KemSet;
use hsm_contract::{Descriptor, Opcode, Status, DESCRIPTOR_VERSION, MAX_JOB_BYTES};
use hsm_driver::{label_bytes, Card, GcmIv, KemTarget, RngState};
use hsm_sim::NoiseSource;
use hsm_tests::TestCard;
use sha3::Digest;

/// Longest wait for the DRBG to be seeded after a start or reset.
const SEED_WAIT: Duration = Duration::from_secs(60);

fn ready(card: &Card) {
    assert_eq!(card.wait_rng(SEED_WAIT).unwrap(), RngState::Ready);
    let st = card.status().unwrap();
    assert!(st.rng_ready && !st.rng_fault, "{st:?}");
}

/// `Card::random` for lengths around the block size, the DRBG's request
/// size (65552 = 64 KiB + 16 needs two requests inside the card) and the
/// job size (1 MiB + 5 needs two jobs); every call gives fresh bytes.
#[test]
fn random_bytes_of_every_length() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    ready(&card);
    // Start the queue first: its soft reset restarts the job counter.
    card.nop().unwrap();
    for len in [0usize, 1, 15, 16, 17, 4096, 65552, (1 << 20) + 5] {
        let jobs = card.jobs_completed().unwrap();
        let a = card.random(len).unwrap();
        assert_eq!(a.len(), len);
        let want_jobs = len.div_ceil(MAX_JOB_BYTES as usize).max(1) as u64;
        assert_eq!(card.jobs_completed().unwrap() - jobs, want_jobs, "{len}");
        if len >= 16 {
            let b = card.random(len).unwrap();
            assert_ne!(a, b, "two draws of {len} bytes are equal");
            // The tail of a partial last block is written too.
            assert_ne!(a[len - 16..], b[len - 16..], "{len}");
        }
    }
    let st = card.status().unwrap();
    assert!(st.rng_ready && !st.rng_fault, "{st:?}");
}

/// 1 MiB of output: no 16-byte block repeats, and the fraction of one
/// bits is within 0.49..0.51 (a loose monobit check: at 2^23 bits the
/// standard deviation is 0.00017).
#[test]
fn one_mib_has_no_repeated_block_and_balanced_bits() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let r = card.random(1 << 20).unwrap();
    let blocks: HashSet<&[u8]> = r.chunks_exact(16).collect();
    assert_eq!(blocks.len(), (1 << 20) / 16, "a 16-byte block repeats");
    let ones: u64 = r.iter().map(|b| u64::from(b.count_ones())).sum();
    let frac = ones as f64 / (8u64 << 20) as f64;
    assert!((0.49..0.51).contains(&frac), "fraction of one bits {frac}");
}

/// Raw RNG_GENERATE descriptors: exactly `dst_len` bytes are written (the
/// bytes after a partial block stay as they were), and malformed jobs get
/// their own status.
#[test]
fn raw_rng_generate_descriptors() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let mut buf = card.alloc_dma(4 << 20).unwrap();
    buf.as_mut_slice().fill(0xee);
    let base = buf.iova();
    let desc = |dst_addr: u64, dst_len: u32| Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: Opcode::RngGenerate as u8,
        job_id: 1,
        dst_addr,
        dst_len,
        ..Descriptor::default()
    };
    let c = card.run_batch(&[desc(base, 17)]).unwrap();
    assert_eq!((c[0].status, c[0].out_len), (Status::Ok, 17));
    let m = buf.as_slice();
    assert!(m[..17].iter().any(|&b| b != 0xee), "nothing written");
    assert!(m[17..64].iter().all(|&b| b == 0xee), "written past dst_len");

    let cases: [(&str, Descriptor, Status); 7] = [
        (
            "dst not 16-byte aligned",
            desc(base + 8, 32),
            Status::Misaligned,
        ),
        (
            "dst_len over 1 MiB",
            desc(base, MAX_JOB_BYTES + 1),
            Status::LengthTooLarge,
        ),
        (
            "a src address",
            Descriptor {
                src_addr: base + (2 << 20),
                ..desc(base, 32)
            },
            Status::ReservedField,
        ),
        (
            "a src length",
            Descriptor {
                src_len: 16,
                ..desc(base, 32)
            },
            Status::ReservedField,
        ),
        (
            "a key slot",
            Descriptor {
                key_slot: 1,
                ..desc(base, 32)
            },
            Status::ReservedField,
        ),
        (
            "a flag",
            Descriptor {
                flags: 1,
                ..desc(base, 32)
            },
            Status::ReservedField,
        ),
        (
            "params",
            Descriptor {
                params: [1; 16],
                ..desc(base, 32)
            },
            Status::ReservedField,
        ),
    ];
    buf.as_mut_slice().fill(0xee);
    for (what, d, want) in cases {
        assert_eq!(d.precheck(false), Some(want), "the contract: {what}");
        let c = card.run_batch(&[d]).unwrap();
        assert_eq!(c[0].status, want, "{what}");
        assert_eq!(c[0].out_len, 0, "{what}");
        assert!(
            buf.as_slice().iter().all(|&b| b == 0xee),
            "{what}: a refused job wrote"
        );
    }
    // And the card serves on.
    let c = card.run_batch(&[desc(base, MAX_JOB_BYTES)]).unwrap();
    assert_eq!((c[0].status, c[0].out_len), (Status::Ok, MAX_JOB_BYTES));
}

fn target(slot: u16) -> KemTarget {
    KemTarget {
        slot,
        policy: policy::ENCRYPT | policy::DECRYPT,
        label: label_bytes(&format!("secret-{slot}")).unwrap(),
    }
}

/// Whether the AES-256 keys in `a` and `b` are one key: what GCM encrypts
/// with `a` (card IV), `b` decrypts.
fn same_key(card: &mut Card, a: u16, b: u16) -> bool {
    let pt = b"one shared secret, two slots";
    let s = card.gcm_encrypt(a, GcmIv::Card, 16, b"aad", pt).unwrap();
    match card.gcm_decrypt(b, &s.iv, &s.tag, b"aad", &s.ciphertext) {
        Ok(p) => p == pt,
        Err(e) if e.status() == Some(Status::AuthFailed) => false,
        Err(e) => panic!("decrypting with slot {b}: {e}"),
    }
}

fn slot_empty(card: &mut Card, slot: u16) -> bool {
    card.slot_info(slot).unwrap().alg == KeyAlg::Empty as u8
}

/// Injects `source` into the card's noise source and shows that the
/// health tests catch it: KeyGen, Encaps, KEY_GENERATE and Decaps into a
/// slot (every AES key needs its IV fixed field from the DRBG) fail with
/// ENTROPY_FAILURE and store nothing, STATUS says so, RNG_GENERATE fails,
/// while SHA-3 and GCM with existing keys still work. Then the noise
/// source is repaired and a device reset brings the generator back.
fn noise_fault_is_caught_and_a_reset_recovers(source: NoiseSource) {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    ready(&card);
    sim.login_user(&mut card);
    let set = KemSet::MlKem768;
    let label = label_bytes("kem").unwrap();
    // Labels name one key: the keys that fail to enter get their own.
    let label2 = label_bytes("kem-2").unwrap();
    // Before the fault: a key pair in slot 1 and an encapsulation to it.
    let ek = card.kem_keygen(set, 1, policy::DERIVE, label).unwrap();
    let ct = card.kem_encaps(set, &ek, target(3)).unwrap();
    card.kem_decaps(set, 1, &ct, target(4)).unwrap();

    hsm_sim::control_noise(sim.socket(), source).unwrap();
    // The fault shows when the card next draws samples: a reseed, which
    // every KeyGen asks for. The repetition count test fails within the
    // first reseed; the adaptive proportion test within its window of
    // 512 samples, which a few reseeds of 64 fill.
    let mut failed = None;
    for i in 0..16 {
        match card.kem_keygen(set, 2, policy::DERIVE, label2) {
            Ok(_) => card.key_clear(2).unwrap(),
            Err(e) => {
                assert_eq!(e.status(), Some(Status::EntropyFailure), "{e}");
                assert!(e.to_string().contains("noise source"), "{e}");
                failed = Some(i);
                break;
            }
        }
    }
    let failed = failed.unwrap_or_else(|| panic!("{source:?}: the health tests never failed"));
    eprintln!("{source:?}: caught at KeyGen {}", failed + 1);
    if source == NoiseSource::Stuck {
        assert_eq!(failed, 0, "the repetition count test fails at once");
    }
    assert!(slot_empty(&mut card, 2), "a failed KeyGen stored a key");
    let st = card.status().unwrap();
    assert!(st.rng_fault && !st.rng_ready, "{st:?}");
    assert_eq!(st.rng_state(), RngState::Failed);
    // Sticky: every user of the DRBG fails, whatever its size. (A job of
    // 0 bytes draws nothing, and succeeds.)
    for len in [1, 16, 4096, 70_000] {
        let e = card.random(len).unwrap_err();
        assert_eq!(e.status(), Some(Status::EntropyFailure), "{len}: {e}");
    }
    assert!(card.random(0).unwrap().is_empty());
    let e = card.kem_encaps(set, &ek, target(5)).unwrap_err();
    assert_eq!(e.status(), Some(Status::EntropyFailure), "{e}");
    assert!(slot_empty(&mut card, 5));
    let e = card.kem_keygen(set, 2, policy::DERIVE, label2).unwrap_err();
    assert_eq!(e.status(), Some(Status::EntropyFailure), "{e}");
    // What needs no randomness works on.
    assert_eq!(
        card.hash(HashAlg::Sha3_256, b"abc", 0).unwrap(),
        sha3::Sha3_256::digest(b"abc").to_vec()
    );
    assert!(same_key(&mut card, 3, 4), "GCM after the fault");
    let e = card.kem_decaps(set, 1, &ct, target(6)).unwrap_err();
    assert_eq!(e.status(), Some(Status::EntropyFailure), "{e}");
    assert!(
        slot_empty(&mut card, 6),
        "a Decaps without a fixed field stored a key"
    );
    let e = card
        .key_generate(7, KeyAlg::Aes256, policy::ENCRYPT, label2)
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::EntropyFailure), "{e}");
    assert!(
        slot_empty(&mut card, 7),
        "a failed KEY_GENERATE stored a key"
    );
    assert!(card.status().unwrap().rng_fault, "still failed");

    // Repair the source; only a device reset clears the failure. The
    // keys survive the reset (the card restores them from its storage).
    hsm_sim::control_noise(sim.socket(), NoiseSource::Getrandom).unwrap();
    let e = card.random(16).unwrap_err();
    assert_eq!(e.status(), Some(Status::EntropyFailure), "{e}");
    card.device_reset().unwrap();
    ready(&card);
    // (A reset ends the login.)
    sim.login_user(&mut card);
    assert!(!slot_empty(&mut card, 1), "the reset lost a key");
    assert!(same_key(&mut card, 3, 4), "the keys after the reset");
    let a = card.random(4096).unwrap();
    let b = card.random(4096).unwrap();
    assert_ne!(a, b);
    for slot in [1, 3, 4] {
        card.key_clear(slot).unwrap();
    }
    let ek = card.kem_keygen(set, 1, policy::DERIVE, label).unwrap();
    let ct = card.kem_encaps(set, &ek, target(3)).unwrap();
    card.kem_decaps(set, 1, &ct, target(4)).unwrap();
    assert!(same_key(&mut card, 3, 4), "after the reset");
}

#[test]
fn stuck_noise_fails_the_repetition_count_test() {
    noise_fault_is_caught_and_a_reset_recovers(NoiseSource::Stuck);
}

#[test]
fn biased_noise_fails_the_adaptive_proportion_test() {
    noise_fault_is_caught_and_a_reset_recovers(NoiseSource::Biased);
}

/// A device reset of a healthy card: the generator is seeded again and
/// serves.
#[test]
fn a_device_reset_reseeds() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    ready(&card);
    let before = card.random(64).unwrap();
    card.device_reset().unwrap();
    ready(&card);
    let after = card.random(64).unwrap();
    assert_ne!(before, after);
    assert!(!card.status().unwrap().rng_fault);
}
