//! ML-KEM figures for `hsmctl bench`: the card's cycles for KeyGen, Encaps
//! and Decaps of each parameter set (the median of a few jobs, from their
//! completion entries), and the host's own software ML-KEM-1024 (the
//! RustCrypto `ml-kem` crate) measured in the same run for comparison.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use hsm_contract::crypto::policy;
use hsm_contract::kem::KemSet;
use hsm_contract::Status;
use hsm_driver::{label_bytes, Card, Job, JobOutput, JobResult, KemTarget};
use ml_kem::kem::Decapsulate;
use ml_kem::{
    EncapsulateDeterministic, Encoded, EncodedSizeUser, KemCore, MlKem1024, MlKem512, MlKem768, B32,
};

use crate::bench::{fill_pattern, round3};

/// Jobs per figure; the figure is their median.
const JOBS: usize = 5;

/// How the card figures are measured.
pub const CARD_METHOD: &str = "median of 5 jobs' completion cycles (descriptor arrival to completion write) per operation and parameter set: KEM_KEYGEN into an empty slot, KEM_ENCAPS and KEM_DECAPS with the shared secret into an empty AES-256 slot (no EXPOSE); KeyGen and Encaps take known d, z and m (test mode, so that the outputs can be checked; the DRBG reseed of a KeyGen or Encaps with the card's randomness is not counted); Decaps re-derives the key pair from the slot's seed every time; outputs checked against the ml-kem crate";

/// How the host software figures are measured.
pub const HOST_SW_METHOD: &str = "ml-kem crate 0.2 (RustCrypto), ML-KEM-1024, one thread, mean over at least 0.2 s and 20 calls each: keygen = KeyGen_internal(d, z) (generate_deterministic, including H(ek)); encaps = EncapsulationKey::from_bytes of the 1568 ek bytes (H(ek); this crate version does no modulus check) then Encaps_internal with a fixed m; decaps = Decaps with the key already expanded in memory (the card re-derives it from the seed every time)";

/// The card's ML-KEM figures.
pub enum KemFigures {
    /// Median cycles (keygen, encaps, decaps) per parameter set.
    Measured(Vec<(KemSet, [u32; 3])>),
    /// Not measured, and why.
    Skipped(String),
}

/// The host's software ML-KEM-1024, nanoseconds per operation.
pub struct HostSwKem {
    keygen_ns: f64,
    encaps_ns: f64,
    decaps_ns: f64,
}

const OPS: [&str; 3] = ["keygen", "encaps", "decaps"];

fn key(set: KemSet, op: &str) -> String {
    format!(
        "mlkem{}_{op}_cycles",
        set.name().trim_start_matches("ml-kem-")
    )
}

impl KemFigures {
    /// JSON fields.
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        match self {
            KemFigures::Measured(sets) => {
                for (set, cycles) in sets {
                    for (op, c) in OPS.iter().zip(cycles) {
                        m.insert(key(*set, op), (*c).into());
                    }
                }
                m.insert("mlkem_cycles_method".into(), CARD_METHOD.into());
            }
            KemFigures::Skipped(why) => {
                for set in KemSet::ALL {
                    for op in OPS {
                        m.insert(key(*set, op), serde_json::Value::Null);
                    }
                }
                m.insert("mlkem_note".into(), why.clone().into());
            }
        }
        m
    }

    /// Text lines.
    pub fn text(&self) -> String {
        match self {
            KemFigures::Measured(sets) => sets
                .iter()
                .map(|(set, [k, e, d])| {
                    format!(
                        "{:<24}keygen {k}, encaps {e}, decaps {d} cycles (median of {JOBS})\n",
                        format!("{}:", set.name().to_uppercase())
                    )
                })
                .collect(),
            KemFigures::Skipped(why) => format!("ML-KEM figures:         skipped: {why}\n"),
        }
    }
}

impl HostSwKem {
    /// JSON fields.
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert(
            "host_sw_mlkem1024_keygen_ns".into(),
            round3(self.keygen_ns).into(),
        );
        m.insert(
            "host_sw_mlkem1024_encaps_ns".into(),
            round3(self.encaps_ns).into(),
        );
        m.insert(
            "host_sw_mlkem1024_decaps_ns".into(),
            round3(self.decaps_ns).into(),
        );
        m.insert("host_sw_mlkem1024_method".into(), HOST_SW_METHOD.into());
        m
    }

    /// Text line.
    pub fn text(&self) -> String {
        format!(
            "host software ML-KEM-1024: keygen {:.0} ns, encaps {:.0} ns, decaps {:.0} ns (ml-kem crate)\n",
            self.keygen_ns, self.encaps_ns, self.decaps_ns
        )
    }
}

fn median(mut v: Vec<u32>) -> u32 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Measure the card's ML-KEM jobs. Needs a test-mode card (KeyGen and
/// Encaps run with known seeds, so that their outputs can be checked
/// against software) and two empty slots; otherwise the figures are
/// skipped with the reason. The bench's
/// slots are cleared afterwards, whatever happened.
///
/// # Errors
/// Card errors, or outputs that differ from the `ml-kem` crate's.
pub fn run(card: &mut Card) -> anyhow::Result<KemFigures> {
    if !card.capabilities().op_ml_kem {
        return Ok(KemFigures::Skipped(
            "the card does not report OP_ML_KEM in CAPABILITIES".into(),
        ));
    }
    if !card.test_mode()? {
        return Ok(KemFigures::Skipped(
            "the card is not in test mode: the ML-KEM figures come from KeyGen and Encaps with known seeds, checked against software, which only test mode allows (`hsmctl sim start --test-mode`)".into(),
        ));
    }
    let Some((ks, ts)) = crate::bench::two_free_slots(card)? else {
        return Ok(KemFigures::Skipped(
            "fewer than two empty key slots; clear some to measure ML-KEM".into(),
        ));
    };
    eprintln!("bench: ML-KEM-512/768/1024 with slots {ks} and {ts} ...");
    let mut sets = Vec::new();
    for set in KemSet::ALL {
        let r = measure(card, *set, ks, ts);
        // Whatever happened, the bench leaves no key behind.
        let c1 = clear_if_used(card, ks);
        let c2 = clear_if_used(card, ts);
        match r? {
            Some(c) => sets.push((*set, c)),
            None => {
                return Ok(KemFigures::Skipped(
                    "the card answers ML-KEM jobs with BAD_OPCODE: this card image has no ML-KEM engine".into(),
                ))
            }
        }
        c1.context("clearing the bench's ML-KEM slot")?;
        c2.context("clearing the bench's target slot")?;
    }
    Ok(KemFigures::Measured(sets))
}

fn clear_if_used(card: &mut Card, slot: u16) -> anyhow::Result<()> {
    if card.slot_info(slot)?.alg != 0 {
        card.key_clear(slot)?;
    }
    Ok(())
}

/// The cycles of the jobs in `results` other than KEY_CLEAR, all of
/// which must have succeeded; `None` when the card answered BAD_OPCODE.
fn cycles_of(results: &[JobResult], what: &str) -> anyhow::Result<Option<Vec<u32>>> {
    let mut out = Vec::new();
    for r in results {
        match r.status() {
            Status::Ok => {}
            Status::BadOpcode => return Ok(None),
            s => bail!("{what}: a {} job failed with {}", r.opcode.name(), s.name()),
        }
        if r.opcode != hsm_contract::Opcode::KeyClear {
            out.push(r.cycles());
        }
    }
    Ok(Some(out))
}

/// Median (keygen, encaps, decaps) cycles of `set`, or `None` when the
/// card has no ML-KEM engine. Leaves a key in `ks` and maybe `ts`.
fn measure(card: &mut Card, set: KemSet, ks: u16, ts: u16) -> anyhow::Result<Option<[u32; 3]>> {
    let label = label_bytes("hsmctl-bench-kem")?;
    let target = KemTarget {
        slot: ts,
        policy: policy::ENCRYPT | policy::DECRYPT,
        label: label_bytes("hsmctl-bench-kem-k")?,
    };
    let mut seeds = vec![[0u8; 64]; JOBS];
    let mut ms = vec![[0u8; 32]; JOBS];
    for (i, s) in seeds.iter_mut().enumerate() {
        fill_pattern(s, 0x6b656d + i as u64);
    }
    for (i, m) in ms.iter_mut().enumerate() {
        fill_pattern(m, 0x6d + i as u64);
    }
    // KeyGen: JOBS keys into the same slot, cleared in between; the last
    // one stays for Decaps.
    let mut jobs = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        if i > 0 {
            jobs.push(Job::KeyClear { slot: ks });
        }
        jobs.push(Job::KemKeygen {
            set,
            slot: ks,
            policy: policy::DERIVE,
            label,
            seed: Some(seed),
            expose: false,
        });
    }
    let results = card.run_jobs(&jobs)?;
    let Some(keygen) = cycles_of(&results, "KeyGen")? else {
        return Ok(None);
    };
    let Some(Ok(JobOutput::KemKeygen(k))) = results.into_iter().last().map(|r| r.into_output())
    else {
        bail!("the last KEM_KEYGEN returned no encapsulation key");
    };
    let ek = k.ek;
    let sw_ek = sw_ek(set, &seeds[JOBS - 1]);
    ensure!(
        ek == sw_ek,
        "the card's {} encapsulation key differs from the ml-kem crate's for the same seed",
        set.name()
    );
    // Encaps into the target slot, cleared in between.
    let mut jobs = Vec::new();
    for m in &ms {
        jobs.push(Job::KemEncaps {
            set,
            ek: &ek,
            m: Some(m),
            target: Some(target),
        });
        jobs.push(Job::KeyClear { slot: ts });
    }
    let results = card.run_jobs(&jobs)?;
    let Some(encaps) = cycles_of(&results, "Encaps")? else {
        return Ok(None);
    };
    let mut cts = Vec::new();
    for r in results {
        if let JobOutput::KemEncaps(e) = r.into_output()? {
            cts.push(e.ciphertext);
        }
    }
    ensure!(
        cts.len() == JOBS,
        "Encaps returned {} ciphertexts",
        cts.len()
    );
    let mut jobs = Vec::new();
    for ct in &cts {
        jobs.push(Job::KemDecaps {
            set,
            slot: ks,
            ciphertext: ct,
            target: Some(target),
        });
        jobs.push(Job::KeyClear { slot: ts });
    }
    let results = card.run_jobs(&jobs)?;
    let Some(decaps) = cycles_of(&results, "Decaps")? else {
        return Ok(None);
    };
    // One exposed round trip, against software.
    let (ct, k1) = card.kem_encaps_internal(set, &ek, &ms[0])?;
    ensure!(
        ct == cts[0],
        "{}: an exposed Encaps gives another ciphertext than the same Encaps into a slot",
        set.name()
    );
    let k2 = card.kem_decaps_exposed(set, ks, &ct)?;
    let sw = sw_encaps(set, &ek, &ms[0])?;
    ensure!(
        *k1 == *k2 && ct == sw.0 && k1[..] == sw.1[..],
        "{}: the card's Encaps/Decaps round trip differs from the ml-kem crate's",
        set.name()
    );
    Ok(Some([median(keygen), median(encaps), median(decaps)]))
}

/// The ml-kem crate's ek for `seed` = d || z.
fn sw_ek(set: KemSet, seed: &[u8; 64]) -> Vec<u8> {
    fn ek<K: KemCore>(seed: &[u8; 64]) -> Vec<u8> {
        let (d, z) = split_seed(seed);
        K::generate_deterministic(&d, &z).1.as_bytes().to_vec()
    }
    match set {
        KemSet::MlKem512 => ek::<MlKem512>(seed),
        KemSet::MlKem768 => ek::<MlKem768>(seed),
        KemSet::MlKem1024 => ek::<MlKem1024>(seed),
    }
}

fn split_seed(seed: &[u8; 64]) -> (B32, B32) {
    let mut d = [0u8; 32];
    let mut z = [0u8; 32];
    d.copy_from_slice(&seed[..32]);
    z.copy_from_slice(&seed[32..]);
    (B32::from(d), B32::from(z))
}

/// The ml-kem crate's (ciphertext, secret) of Encaps_internal(ek, m).
fn sw_encaps(set: KemSet, ek: &[u8], m: &[u8; 32]) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    fn encaps<K: KemCore>(ek: &[u8], m: &[u8; 32]) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let enc = Encoded::<K::EncapsulationKey>::try_from(ek)
            .map_err(|_| anyhow!("an ek of {} bytes is not one of this set", ek.len()))?;
        let (ct, k) = K::EncapsulationKey::from_bytes(&enc)
            .encapsulate_deterministic(&B32::from(*m))
            .map_err(|_| anyhow!("the ml-kem crate's Encaps failed"))?;
        Ok((ct.to_vec(), k.to_vec()))
    }
    match set {
        KemSet::MlKem512 => encaps::<MlKem512>(ek, m),
        KemSet::MlKem768 => encaps::<MlKem768>(ek, m),
        KemSet::MlKem1024 => encaps::<MlKem1024>(ek, m),
    }
}

/// Mean time per call of `f`, over at least 0.2 s and 20 calls.
fn time_ns(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while n < 20 || start.elapsed() < Duration::from_millis(200) {
        f();
        n += 1;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Measure the host's software ML-KEM-1024.
///
/// # Errors
/// When the crate's round trip does not agree with itself.
pub fn host_sw() -> anyhow::Result<HostSwKem> {
    eprintln!("bench: host software ML-KEM-1024 ...");
    let mut seed = [0u8; 64];
    fill_pattern(&mut seed, 0x5eed);
    let mut m = [0u8; 32];
    fill_pattern(&mut m, 0x6d);
    let (d, z) = split_seed(&seed);
    let m = B32::from(m);
    let (dk, ek) = MlKem1024::generate_deterministic(&d, &z);
    let ek_bytes = ek.as_bytes();
    let keygen_ns = time_ns(|| {
        black_box(MlKem1024::generate_deterministic(black_box(&d), &z));
    });
    let encaps_ns = time_ns(|| {
        let ek = <MlKem1024 as KemCore>::EncapsulationKey::from_bytes(black_box(&ek_bytes));
        black_box(ek.encapsulate_deterministic(&m)).ok();
    });
    let (ct, k) = ek
        .encapsulate_deterministic(&m)
        .map_err(|_| anyhow!("the ml-kem crate's Encaps failed"))?;
    ensure!(
        dk.decapsulate(&ct).ok() == Some(k),
        "the ml-kem crate's round trip does not agree with itself"
    );
    let decaps_ns = time_ns(|| {
        black_box(dk.decapsulate(black_box(&ct))).ok();
    });
    Ok(HostSwKem {
        keygen_ns,
        encaps_ns,
        decaps_ns,
    })
}
