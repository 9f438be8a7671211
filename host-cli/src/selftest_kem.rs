//! ML-KEM known-answer files (FIPS 203) for `hsmctl selftest`.
//!
//! A file holds records `count, z, d, msg, seed, pk, sk, ct, ss, ct_n,
//! ss_n`: KeyGen_internal(d, z) gives the encapsulation key `pk` and the
//! expanded decapsulation key `sk` = dk_PKE || pk || H(pk) || z;
//! Encaps_internal(pk, msg) gives `ct` and `ss`; Decaps(sk, ct) gives `ss`
//! and Decaps(sk, ct_n), for the invalid ciphertext `ct_n`, the
//! implicit-rejection secret `ss_n`. The parameter set is the one whose ek
//! length `pk` has.
//!
//! Each vector runs as six jobs on a test-mode card, in order: KEM_KEYGEN
//! with EXPOSE into a scratch slot (ek and dk_PKE against `pk` and the
//! first 384k bytes of `sk`), SHA3-256 of `pk` on the card (against H(pk)
//! in `sk`; the rest of `sk` is checked against `pk` and `z`), KEM_ENCAPS
//! with EXPOSE (`ct`, `ss`), KEM_DECAPS with EXPOSE of `ct` and of `ct_n`
//! from the scratch slot (`ss`, `ss_n`), and KEY_CLEAR of the slot. A whole
//! file goes to the card in one batch.

use anyhow::{bail, Context};
use hsm_contract::crypto::policy;
use hsm_contract::hash::HashAlg;
use hsm_contract::kem::{KemSet, SHARED_SECRET_BYTES};
use hsm_contract::Status;
use hsm_driver::{Card, Job, JobOutput, JobResult};

use crate::selftest::Record;

/// Jobs per vector.
const JOBS_PER_VECTOR: usize = 6;

/// The parameter set of an ML-KEM known-answer file, recognised by its
/// fields (`pk`, `sk`, `ct_n`, `ss_n`) and the length of its first `pk`.
pub fn recognise(text: &str) -> Option<KemSet> {
    let has = |s: &str| text.contains(s);
    if !(has("pk = ") && has("sk = ") && has("ct_n = ") && has("ss_n = ")) {
        return None;
    }
    let pk = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("pk = "))?
        .trim();
    KemSet::ALL
        .iter()
        .copied()
        .find(|s| pk.len() == 2 * s.ek_bytes() as usize)
}

/// One vector.
pub struct KemVector {
    set: KemSet,
    /// d || z.
    seed: [u8; 64],
    z: [u8; 32],
    msg: [u8; 32],
    pk: Vec<u8>,
    sk: Vec<u8>,
    ct: Vec<u8>,
    ss: [u8; 32],
    ct_n: Vec<u8>,
    ss_n: [u8; 32],
}

fn fixed<const N: usize>(r: &Record, name: &str) -> anyhow::Result<[u8; N]> {
    let v = r.hex(name)?;
    v.as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{name} is {} bytes, not {N}", v.len()))
}

fn sized(r: &Record, name: &str, want: u32) -> anyhow::Result<Vec<u8>> {
    let v = r.hex(name)?;
    if v.len() != want as usize {
        bail!("{name} is {} bytes, not {want}", v.len());
    }
    Ok(v)
}

/// Turn a record into a vector of `set`.
///
/// # Errors
/// A missing field, bad hex, or a length that is not the set's.
pub fn vector(set: KemSet, r: &Record) -> anyhow::Result<KemVector> {
    let d: [u8; 32] = fixed(r, "d")?;
    let z: [u8; 32] = fixed(r, "z")?;
    let mut seed = [0u8; 64];
    seed[..32].copy_from_slice(&d);
    seed[32..].copy_from_slice(&z);
    Ok(KemVector {
        set,
        seed,
        z,
        msg: fixed(r, "msg")?,
        pk: sized(r, "pk", set.ek_bytes())?,
        sk: sized(r, "sk", set.dk_bytes())?,
        ct: sized(r, "ct", set.ct_bytes())?,
        ss: fixed(r, "ss")?,
        ct_n: sized(r, "ct_n", set.ct_bytes())?,
        ss_n: fixed(r, "ss_n")?,
    })
}

impl KemVector {
    /// The offsets of `sk` = dk_PKE || ek || H(ek) || z.
    fn sk_parts(&self) -> (&[u8], &[u8], &[u8], &[u8]) {
        let dk = self.set.dk_pke_bytes() as usize;
        let ek = self.set.ek_bytes() as usize;
        let (dk_pke, rest) = self.sk.split_at(dk);
        let (ek_part, rest) = rest.split_at(ek);
        let (h, z) = rest.split_at(32);
        (dk_pke, ek_part, h, z)
    }

    /// The vector's six jobs, with `slot` as the scratch slot.
    fn jobs(&self, slot: u16, label: [u8; 32]) -> [Job<'_>; JOBS_PER_VECTOR] {
        let set = self.set;
        [
            Job::KemKeygen {
                set,
                slot,
                policy: policy::DERIVE,
                label,
                seed: Some(&self.seed),
                expose: true,
            },
            Job::Hash {
                alg: HashAlg::Sha3_256,
                data: &self.pk,
                out_len: 0,
                resume: None,
                partial: false,
            },
            Job::KemEncaps {
                set,
                ek: &self.pk,
                m: Some(&self.msg),
                target: None,
            },
            Job::KemDecaps {
                set,
                slot,
                ciphertext: &self.ct,
                target: None,
            },
            Job::KemDecaps {
                set,
                slot,
                ciphertext: &self.ct_n,
                target: None,
            },
            Job::KeyClear { slot },
        ]
    }

    /// `Ok(())` when all six results are the expected ones, else every
    /// difference found.
    fn check(&self, results: Vec<JobResult>) -> Result<(), String> {
        let mut why: Vec<String> = Vec::new();
        let (dk_pke, sk_ek, sk_h, sk_z) = self.sk_parts();
        if sk_ek != self.pk.as_slice() || sk_z != self.z.as_slice() {
            why.push("the file's sk is not dk_PKE || pk || H(pk) || z".into());
        }
        let secret = SHARED_SECRET_BYTES;
        let set = self.set;
        let want_out = [
            set.ek_bytes() + set.dk_pke_bytes(),
            32,
            set.ct_bytes() + secret,
            secret,
            secret,
            0,
        ];
        let names = [
            "KeyGen",
            "SHA3-256(pk)",
            "Encaps",
            "Decaps(ct)",
            "Decaps(ct_n)",
            "clearing the slot",
        ];
        for ((r, want), name) in results.into_iter().zip(want_out).zip(names) {
            if r.status() != Status::Ok {
                why.push(format!("{name}: the card said {}", r.status().name()));
                continue;
            }
            if r.completion.out_len != want {
                why.push(format!(
                    "{name}: the completion's out_len is {}, expected {want}",
                    r.completion.out_len
                ));
            }
            match r.into_output() {
                Ok(JobOutput::KemKeygen(k)) => {
                    if k.ek != self.pk {
                        why.push("KeyGen: ek differs from pk".into());
                    }
                    if k.dk_pke.as_deref().map(Vec::as_slice) != Some(dk_pke) {
                        why.push("KeyGen: dk_PKE differs from sk".into());
                    }
                }
                Ok(JobOutput::Digest(h)) => {
                    if h != sk_h {
                        why.push("SHA3-256(pk) on the card differs from H(ek) in sk".into());
                    }
                }
                Ok(JobOutput::KemEncaps(e)) => {
                    if e.ciphertext != self.ct {
                        why.push("Encaps: the ciphertext differs from ct".into());
                    }
                    if e.secret.as_deref() != Some(&self.ss) {
                        why.push("Encaps: the shared secret differs from ss".into());
                    }
                }
                Ok(JobOutput::KemDecaps(d)) => {
                    let want = if name == "Decaps(ct)" {
                        &self.ss
                    } else {
                        &self.ss_n
                    };
                    if d.secret.as_deref() != Some(want) {
                        why.push(format!(
                            "{name}: the shared secret differs from {}",
                            if name == "Decaps(ct)" { "ss" } else { "ss_n" }
                        ));
                    }
                }
                Ok(JobOutput::Done) => {}
                Ok(o) => why.push(format!("{name}: unexpected output {o:?}")),
                Err(e) => why.push(format!("{name}: {e}")),
            }
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why.join("; "))
        }
    }
}

/// Run an ML-KEM file's records of `set` through the card, with the
/// scratch slots `free` (used in turn) labelled `label`: one verdict per
/// record, with the record's id.
///
/// # Errors
/// A record that is not a vector of the set; card and driver errors.
pub fn run(
    card: &mut Card,
    set: KemSet,
    records: &[Record],
    free: &[u16],
    label: [u8; 32],
) -> anyhow::Result<Vec<(String, Result<(), String>)>> {
    let mut vectors = Vec::with_capacity(records.len());
    for r in records {
        let v = vector(set, r).with_context(|| format!("vector {}", r.id()))?;
        vectors.push((r.id(), v));
    }
    let mut verdicts = Vec::with_capacity(vectors.len());
    for group in vectors.chunks(crate::selftest::GROUP) {
        crate::signals::check()?;
        let jobs: Vec<Job<'_>> = group
            .iter()
            .enumerate()
            .flat_map(|(i, (_, v))| v.jobs(free[i % free.len()], label))
            .collect();
        let mut results = card.run_jobs(&jobs)?.into_iter();
        for (id, v) in group {
            let mine: Vec<JobResult> = results.by_ref().take(JOBS_PER_VECTOR).collect();
            if mine.len() != JOBS_PER_VECTOR {
                bail!("the driver returned fewer results than jobs");
            }
            verdicts.push((id.clone(), v.check(mine)));
        }
    }
    Ok(verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::parse_records;

    /// The three shared ML-KEM files are recognised with the right set,
    /// every record parses, and each `sk` has the FIPS 203 layout with
    /// H(pk) as the `sha3` crate computes it (so the parser, not the card,
    /// is what this checks).
    #[test]
    fn kem_vector_files_parse_with_the_fips_203_key_layout() {
        use sha3::Digest;
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/mlkem");
        for set in KemSet::ALL {
            let k = set.name().trim_start_matches("ml-kem-");
            let f = dir.join(format!("kat_MLKEM_{k}.rsp"));
            let text = std::fs::read_to_string(&f).unwrap();
            assert_eq!(recognise(&text), Some(*set), "{}", f.display());
            assert_eq!(
                crate::selftest::recognise(&text),
                Some(crate::selftest::FileKind::MlKem(*set))
            );
            let records = parse_records(&text);
            assert_eq!(records.len(), 50, "{}", f.display());
            for r in &records {
                let v = vector(*set, r).unwrap();
                let (_, ek, h, z) = v.sk_parts();
                assert_eq!(ek, v.pk.as_slice());
                assert_eq!(h, sha3::Sha3_256::digest(&v.pk).as_slice());
                assert_eq!(z, v.z.as_slice());
                assert_eq!(&v.seed[32..], &v.z);
                let jobs = v.jobs(3, [0; 32]);
                assert_eq!(jobs.len(), JOBS_PER_VECTOR);
                assert!(jobs.iter().all(
                    |j| j.slot() == 3 || matches!(j, Job::Hash { .. } | Job::KemEncaps { .. })
                ));
            }
        }
        assert_eq!(recognise("pk = 00\nsk = 00\nct_n = 00\nss_n = 00\n"), None);
        assert_eq!(recognise("count = 0\n"), None);
    }
}
