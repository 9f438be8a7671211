//! `hsmctl selftest --vectors FILE...`: NIST CAVP known-answer files run
//! through the card.
//!
//! Files are recognised by content:
//! - AES-GCM (SP 800-38D): `[Keylen = ..]` sections of records
//!   `Count, Key, IV, PT, AAD, CT, Tag` (encryption) or
//!   `Count, Key, IV, CT, AAD, Tag` followed by `PT = ..` or `FAIL`
//!   (decryption).
//! - XTS-AES (SP 800-38E): `[ENCRYPT]` / `[DECRYPT]` sections of records
//!   `COUNT, DataUnitLen, Key, i, PT, CT`. Data units of any length in
//!   bits run as such: the job names the unused low-order bits of the last
//!   byte.
//!
//! - SHA-3 (FIPS 202): `[L = ..]` sections of records `Len, Msg, MD`
//!   (`Len` in bits; the files are byte-oriented).
//! - SHAKE: records `Len, Msg, Output` or `COUNT, Outputlen, Msg, Output`
//!   (VariableOut); the function is the one the file's header names.
//! - ML-KEM (FIPS 203): records `count, z, d, msg, seed, pk, sk, ct, ss,
//!   ct_n, ss_n`; the set is the one `pk`'s length gives. Each vector runs
//!   as six jobs ([`crate::selftest_kem`]).
//!
//! Each keyed vector becomes three jobs, run in order: load its key into a free
//! slot, run the operation, clear the slot. Thousands of vectors go to the
//! card per batch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use hsm_contract::crypto::{policy, KeyAlg};
use hsm_contract::hash::HashAlg;
use hsm_contract::kem::KemSet;
use hsm_contract::Status;
use hsm_driver::{label_bytes, GcmIv, Job, JobOutput, JobResult};

use crate::login::{LoginArgs, RoleArg};
use crate::{print_json, print_out, DeviceArg};

/// `hsmctl selftest` arguments.
#[derive(Args, Debug)]
pub struct SelftestArgs {
    #[command(flatten)]
    device: DeviceArg,
    /// With `--vectors`, on an initialised card: the login for the key jobs (the user's by default).
    #[command(flatten)]
    login: LoginArgs,
    /// NIST vector files (.rsp): AES-GCM encrypt/decrypt, XTS-AES, SHA-3, SHAKE, ML-KEM. Without
    /// them: rerun the card's power-on known-answer tests (a device reset)
    #[arg(long, value_name = "FILE", num_args = 1..)]
    vectors: Vec<PathBuf>,
    /// Print one JSON object (failures included) instead of text
    #[arg(long)]
    json: bool,
}

/// One `name = value` record of a CAVP file, with its section headers.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// Section headers in force (`[Keylen = 128]`, `[ENCRYPT]`, ...).
    pub section: Vec<String>,
    /// Fields, in file order, names as written.
    pub fields: Vec<(String, String)>,
    /// A `FAIL` line ended the record.
    pub fail: bool,
}

impl Record {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn pos(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// A field's value decoded from hex.
    pub(crate) fn hex(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        let v = self
            .get(name)
            .with_context(|| format!("record without {name}"))?;
        hex(v).with_context(|| format!("{name} is not hex"))
    }

    /// The record's name in reports: section and first field.
    pub(crate) fn id(&self) -> String {
        format!(
            "{} {}",
            self.section.join(""),
            self.fields
                .first()
                .map(|(n, v)| format!("{n} = {v}"))
                .unwrap_or_default()
        )
        .trim()
        .to_string()
    }
}

fn hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        bail!("odd number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(Into::into))
        .collect()
}

/// Split a CAVP file into records. A record starts at a `Count`/`COUNT`
/// field, or, in files without counts (SHA-3), at a `Len` field.
pub fn parse_records(text: &str) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    let mut section: Vec<String> = Vec::new();
    let mut cur: Option<Record> = None;
    let mut in_header_block = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            if !in_header_block {
                section.clear();
                in_header_block = true;
            }
            section.push(line.to_string());
            if let Some(r) = cur.take() {
                out.push(r);
            }
            continue;
        }
        in_header_block = false;
        if line.eq_ignore_ascii_case("FAIL") {
            if let Some(r) = cur.as_mut() {
                r.fail = true;
            }
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim().to_string(), value.trim().to_string());
        let starts = name.eq_ignore_ascii_case("count")
            || (name.eq_ignore_ascii_case("len")
                && cur.as_ref().is_none_or(|r| r.get("count").is_none()));
        if starts {
            if let Some(r) = cur.take() {
                out.push(r);
            }
            cur = Some(Record {
                section: section.clone(),
                ..Record::default()
            });
        }
        if let Some(r) = cur.as_mut() {
            r.fields.push((name, value));
        }
    }
    out.extend(cur);
    out
}

/// A vector ready to run.
enum Vector {
    GcmEncrypt {
        key: Vec<u8>,
        iv: Vec<u8>,
        pt: Vec<u8>,
        aad: Vec<u8>,
        ct: Vec<u8>,
        tag: Vec<u8>,
    },
    GcmDecrypt {
        key: Vec<u8>,
        iv: Vec<u8>,
        ct: Vec<u8>,
        aad: Vec<u8>,
        tag: Vec<u8>,
        /// `None`: the vector must fail authentication.
        pt: Option<Vec<u8>>,
    },
    Xts {
        encrypt: bool,
        key: Vec<u8>,
        tweak: [u8; 16],
        pad_bits: u8,
        input: Vec<u8>,
        output: Vec<u8>,
    },
    Hash {
        alg: HashAlg,
        msg: Vec<u8>,
        output: Vec<u8>,
    },
}

impl Vector {
    fn key(&self) -> &[u8] {
        match self {
            Vector::GcmEncrypt { key, .. }
            | Vector::GcmDecrypt { key, .. }
            | Vector::Xts { key, .. } => key,
            Vector::Hash { .. } => &[],
        }
    }

    /// The vector needs a key in a slot.
    fn keyed(&self) -> bool {
        !matches!(self, Vector::Hash { .. })
    }

    fn alg(&self) -> anyhow::Result<KeyAlg> {
        Ok(match (self, self.key().len()) {
            (Vector::Xts { .. }, 64) => KeyAlg::XtsAes256,
            (Vector::GcmEncrypt { .. } | Vector::GcmDecrypt { .. }, 16) => KeyAlg::Aes128,
            (Vector::GcmEncrypt { .. } | Vector::GcmDecrypt { .. }, 32) => KeyAlg::Aes256,
            (_, n) => bail!("a {n}-byte key is not one the card holds for this operation"),
        })
    }

    fn job(&self, slot: u16) -> Job<'_> {
        match self {
            Vector::GcmEncrypt {
                iv, pt, aad, tag, ..
            } => Job::GcmEncrypt {
                slot,
                iv: GcmIv::Caller(iv),
                tag_len: tag.len() as u8,
                aad,
                plaintext: pt,
            },
            Vector::GcmDecrypt {
                iv, ct, aad, tag, ..
            } => Job::GcmDecrypt {
                slot,
                iv,
                tag,
                aad,
                ciphertext: ct,
            },
            Vector::Xts {
                encrypt: true,
                tweak,
                input,
                pad_bits,
                ..
            } => Job::XtsEncrypt {
                slot,
                tweak: *tweak,
                data: input,
                pad_bits: *pad_bits,
            },
            Vector::Xts {
                tweak,
                input,
                pad_bits,
                ..
            } => Job::XtsDecrypt {
                slot,
                tweak: *tweak,
                data: input,
                pad_bits: *pad_bits,
            },
            Vector::Hash { alg, msg, output } => Job::Hash {
                alg: *alg,
                data: msg,
                out_len: output.len() as u32,
                resume: None,
                partial: false,
            },
        }
    }

    /// `Ok(())` when the result is the expected one, else why not.
    fn check(&self, r: JobResult) -> Result<(), String> {
        let status = r.status();
        match self {
            Vector::GcmDecrypt { pt: None, .. } => match status {
                Status::AuthFailed => Ok(()),
                s => Err(format!(
                    "expected AUTH_FAILED (a FAIL vector), the card said {}",
                    s.name()
                )),
            },
            _ => {
                let out = r.into_output().map_err(|e| e.to_string())?;
                match (self, out) {
                    (Vector::GcmEncrypt { ct, tag, .. }, JobOutput::GcmSealed(s)) => {
                        if &s.ciphertext != ct {
                            Err("ciphertext differs".into())
                        } else if &s.tag != tag {
                            Err("tag differs".into())
                        } else {
                            Ok(())
                        }
                    }
                    (Vector::GcmDecrypt { pt: Some(pt), .. }, JobOutput::Plaintext(p)) => {
                        if &p == pt {
                            Ok(())
                        } else {
                            Err("plaintext differs".into())
                        }
                    }
                    (Vector::Hash { output, .. }, JobOutput::Digest(o)) => {
                        if &o == output {
                            Ok(())
                        } else {
                            Err("output differs".into())
                        }
                    }
                    (Vector::Xts { output, .. }, JobOutput::Xts(o)) => {
                        if &o == output {
                            Ok(())
                        } else {
                            Err("output differs".into())
                        }
                    }
                    (_, o) => Err(format!("unexpected output {o:?}")),
                }
            }
        }
    }
}

/// What kind of file it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// AES-GCM (encrypt or decrypt records).
    Gcm,
    /// XTS-AES.
    Xts,
    /// SHA-3 or SHAKE.
    Hash(HashAlg),
    /// ML-KEM known-answer vectors of one parameter set.
    MlKem(KemSet),
}

/// Recognise a vector file by its content.
pub fn recognise(text: &str) -> Option<FileKind> {
    let has = |s: &str| text.contains(s);
    if let Some(set) = crate::selftest_kem::recognise(text) {
        Some(FileKind::MlKem(set))
    } else if has("[Keylen = ") && has("IV = ") && has("Tag = ") {
        Some(FileKind::Gcm)
    } else if has("DataUnitLen") && (has("[ENCRYPT]") || has("[DECRYPT]")) {
        Some(FileKind::Xts)
    } else if has("Msg = ") && has("MD = ") {
        let l = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("[L = ")
                .and_then(|r| r.strip_suffix(']'))
        })?;
        HashAlg::from_name(&format!("sha3-{}", l.trim())).map(FileKind::Hash)
    } else if has("Msg = ") && has("Output = ") {
        if has("SHAKE256") {
            Some(FileKind::Hash(HashAlg::Shake256))
        } else if has("SHAKE128") {
            Some(FileKind::Hash(HashAlg::Shake128))
        } else {
            None
        }
    } else {
        None
    }
}

/// Turn a record into a vector.
fn vector(kind: FileKind, r: &Record) -> anyhow::Result<Vector> {
    match kind {
        FileKind::Gcm => {
            let key = r.hex("Key")?;
            let iv = r.hex("IV")?;
            let aad = r.hex("AAD")?;
            let ct = r.hex("CT")?;
            let tag = r.hex("Tag")?;
            let tag_pos = r.pos("Tag").expect("read above");
            let decrypt = r.fail || r.pos("PT").is_some_and(|p| p > tag_pos);
            if decrypt {
                let pt = if r.fail { None } else { Some(r.hex("PT")?) };
                Ok(Vector::GcmDecrypt {
                    key,
                    iv,
                    ct,
                    aad,
                    tag,
                    pt,
                })
            } else {
                Ok(Vector::GcmEncrypt {
                    key,
                    iv,
                    pt: r.hex("PT")?,
                    aad,
                    ct,
                    tag,
                })
            }
        }
        FileKind::Hash(alg) => {
            let msg = r.hex("Msg")?;
            let bits: Option<u64> = match r.get("Len") {
                Some(v) => Some(v.parse().context("Len is not a number")?),
                None => None,
            };
            let msg = match bits {
                Some(b) if b % 8 != 0 => {
                    bail!("Len {b} is not whole bytes (bit-oriented files are not supported)")
                }
                Some(b) if (b / 8) as usize <= msg.len() => msg[..(b / 8) as usize].to_vec(),
                Some(b) => bail!("Len {b} is longer than Msg"),
                None => msg,
            };
            let output = if alg.digest_bytes().is_some() {
                r.hex("MD")?
            } else {
                r.hex("Output")?
            };
            if let Some(d) = alg.digest_bytes() {
                if output.len() != d as usize {
                    bail!(
                        "MD is {} bytes, not the {d} bytes of {}",
                        output.len(),
                        alg.name()
                    );
                }
            }
            Ok(Vector::Hash { alg, msg, output })
        }
        FileKind::MlKem(_) => unreachable!("ML-KEM records are read by selftest_kem"),
        FileKind::Xts => {
            let bits: u64 = r
                .get("DataUnitLen")
                .context("record without DataUnitLen")?
                .parse()
                .context("DataUnitLen is not a number")?;
            let encrypt = if r
                .section
                .iter()
                .any(|s| s.eq_ignore_ascii_case("[ENCRYPT]"))
            {
                true
            } else if r
                .section
                .iter()
                .any(|s| s.eq_ignore_ascii_case("[DECRYPT]"))
            {
                false
            } else {
                bail!("record outside an [ENCRYPT] or [DECRYPT] section");
            };
            let (pt, ct) = (r.hex("PT")?, r.hex("CT")?);
            // A unit of any bit length: its bits run from the most
            // significant bit of the first byte; the last byte's unused
            // low-order bits are zero.
            if pt.len() as u64 != bits.div_ceil(8) || ct.len() != pt.len() {
                bail!("DataUnitLen {bits} does not match PT/CT lengths");
            }
            let pad_bits = (pt.len() as u64 * 8 - bits) as u8;
            let tweak: [u8; 16] = r
                .hex("i")?
                .try_into()
                .map_err(|_| anyhow::anyhow!("the tweak i is not 16 bytes"))?;
            let (input, output) = if encrypt { (pt, ct) } else { (ct, pt) };
            Ok(Vector::Xts {
                encrypt,
                key: r.hex("Key")?,
                tweak,
                pad_bits,
                input,
                output,
            })
        }
    }
}

/// Tally of one file.
#[derive(Default, serde::Serialize)]
struct Tally {
    file: String,
    kind: String,
    passed: u64,
    failed: u64,
    failures: Vec<String>,
    understood: bool,
}

/// Vectors per `run_jobs` call (three jobs each; six for ML-KEM).
pub(crate) const GROUP: usize = 2000;

/// Run the self-test.
pub fn run(a: &SelftestArgs) -> anyhow::Result<ExitCode> {
    if a.vectors.is_empty() {
        return power_on(a);
    }
    let mut card = a.device.open()?;
    if !card.test_mode()? {
        bail!(
            "{} is not in test mode: the self-test loads the vectors' plaintext keys and chooses IVs, which only a test-mode card allows (start a simulated one with `hsmctl sim start --test-mode`)",
            card.device()
        );
    }
    a.login.login(&mut card, RoleArg::User)?;
    let free: Vec<u16> = card
        .list_slots()?
        .into_iter()
        .filter(|s| s.is_empty())
        .map(|s| s.slot)
        .take(8)
        .collect();
    if free.is_empty() {
        bail!("the self-test needs one empty key slot; every slot holds a key (clear one with `hsmctl key clear`)");
    }
    let label = label_bytes("hsmctl-selftest")?;
    let mut tallies = Vec::new();
    for path in &a.vectors {
        let mut t = Tally {
            file: path.display().to_string(),
            ..Tally::default()
        };
        match run_file(&mut card, path, &free, label, &mut t, a.json) {
            Ok(()) => t.understood = true,
            Err(e) => {
                let msg = format!("{}: not understood: {e:#}", path.display());
                if !a.json {
                    eprintln!("hsmctl: {msg}");
                }
                t.failures.push(msg);
            }
        }
        tallies.push(t);
    }
    let passed: u64 = tallies.iter().map(|t| t.passed).sum();
    let failed: u64 = tallies.iter().map(|t| t.failed).sum();
    let not_understood = tallies.iter().filter(|t| !t.understood).count();
    let ok = failed == 0 && not_understood == 0;
    if a.json {
        print_json(&serde_json::json!({
            "passed": passed,
            "failed": failed,
            "files_not_understood": not_understood,
            "files": tallies,
        }))?;
    } else {
        let mut text = String::new();
        for t in &tallies {
            if t.understood {
                text += &format!(
                    "{}: {} ({}): {} passed, {} failed\n",
                    t.file,
                    t.kind,
                    if t.failed == 0 { "ok" } else { "FAILED" },
                    t.passed,
                    t.failed,
                );
            }
        }
        if not_understood > 0 {
            text += &format!("{not_understood} file(s) not understood\n");
        }
        text += &format!("{passed} passed, {failed} failed\n");
        print_out(&text)?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}

fn run_file(
    card: &mut hsm_driver::Card,
    path: &Path,
    free: &[u16],
    label: [u8; 32],
    t: &mut Tally,
    json: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let kind = recognise(&text).context(
        "not a NIST CAVP AES-GCM (`[Keylen = ..]`, IV, Tag), XTS-AES (`[ENCRYPT]`/`[DECRYPT]`, DataUnitLen), SHA-3 (`[L = ..]`, Msg, MD), SHAKE (Msg, Output) or ML-KEM (pk, sk, ct, ss, ct_n, ss_n) vector file",
    )?;
    let records = parse_records(&text);
    if records.is_empty() {
        bail!("no vector records found");
    }
    if let FileKind::MlKem(set) = kind {
        t.kind = set.name().to_uppercase();
        for (id, verdict) in crate::selftest_kem::run(card, set, &records, free, label)? {
            record(t, path, &id, verdict, json);
        }
        return Ok(());
    }
    let mut vectors = Vec::with_capacity(records.len());
    for r in &records {
        let v = vector(kind, r).with_context(|| format!("vector {}", r.id()))?;
        vectors.push((r.id(), v));
    }
    t.kind = match kind {
        FileKind::Gcm => "AES-GCM".into(),
        FileKind::Xts => "XTS-AES-256".into(),
        FileKind::Hash(a) => a.name().to_uppercase(),
        FileKind::MlKem(s) => s.name().to_uppercase(),
    };
    for group in vectors.chunks(GROUP) {
        crate::signals::check()?;
        let mut jobs = Vec::with_capacity(group.len() * 3);
        for (i, (_, v)) in group.iter().enumerate() {
            let slot = free[i % free.len()];
            if !v.keyed() {
                jobs.push(v.job(slot));
                continue;
            }
            jobs.push(Job::KeyLoad {
                slot,
                alg: v.alg()?,
                policy: policy::ENCRYPT | policy::DECRYPT,
                label,
                key: v.key(),
            });
            jobs.push(v.job(slot));
            jobs.push(Job::KeyClear { slot });
        }
        let mut results = card.run_jobs(&jobs)?.into_iter();
        for (id, v) in group {
            if !v.keyed() {
                let op = results.next().expect("one result per hash vector");
                record(t, path, id, v.check(op), json);
                continue;
            }
            let load = results.next().expect("three results per vector");
            let op = results.next().expect("three results per vector");
            let clear = results.next().expect("three results per vector");
            let verdict = if load.status() != Status::Ok {
                Err(format!("loading its key failed: {}", load.status().name()))
            } else if clear.status() != Status::Ok {
                Err(format!(
                    "clearing its slot failed: {}",
                    clear.status().name()
                ))
            } else {
                v.check(op)
            };
            record(t, path, id, verdict, json);
        }
    }
    Ok(())
}

fn record(t: &mut Tally, path: &Path, id: &str, verdict: Result<(), String>, json: bool) {
    match verdict {
        Ok(()) => t.passed += 1,
        Err(why) => {
            t.failed += 1;
            let msg = format!("{}: {id}: {why}", path.display());
            if !json {
                eprintln!("FAIL {msg}");
            }
            t.failures.push(msg);
        }
    }
}

/// `hsmctl selftest` without vectors: the card's power-on known-answer
/// tests, run again by a device reset. The key slots survive it: the card
/// restores them from its persistent storage as at power-on.
fn power_on(a: &SelftestArgs) -> anyhow::Result<ExitCode> {
    let mut card = a.device.open()?;
    eprintln!(
        "hsmctl: resetting {} to run its power-on self-tests ...",
        card.device()
    );
    card.device_reset().context("resetting the card")?;
    let t = card
        .wait_selftest(std::time::Duration::from_secs(30))
        .context("waiting for the self-tests")?;
    let failed = t.failed();
    if a.json {
        crate::print_json(&serde_json::json!({
            "device": card.device(),
            "passed": failed.is_empty(),
            "failed": failed,
            "selftest": t,
        }))?;
    } else if failed.is_empty() {
        crate::print_out(
            "power-on self-tests passed: the DRBG, AES, SHA-3 and ML-KEM known-answer tests\n",
        )?;
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "hsmctl: power-on self-test FAILED: {}; the card refuses every job until it is reset. If it fails again, take the card out of service",
            failed.join(", ")
        );
        Ok(ExitCode::from(crate::exit::ERROR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCM_DEC: &str = "# CAVS\n\n[Keylen = 128]\n[IVlen = 96]\n\nCount = 0\nKey = 00\nIV = 11\nCT = \nAAD = \nTag = 22\nPT = \n\nCount = 1\nKey = 00\nIV = 11\nCT = 33\nAAD = \nTag = 22\nFAIL\n";
    const XTS: &str = "[ENCRYPT]\n\nCOUNT = 1\nDataUnitLen = 8\nKey = 00\ni = 000102030405060708090a0b0c0d0e0f\nPT = aa\nCT = bb\n\nCOUNT = 2\nDataUnitLen = 12\nKey = 00\ni = 000102030405060708090a0b0c0d0e0f\nPT = aaaa\nCT = bbbb\n\n[DECRYPT]\n\nCOUNT = 3\nDataUnitLen = 8\nKey = 00\ni = 000102030405060708090a0b0c0d0e0f\nCT = cc\nPT = dd\n";

    /// Every SHA-3 and SHAKE vector file is recognised and parsed, and each
    /// parsed vector agrees with the `sha3` crate (so the parser, not the
    /// card, is what this checks).
    #[test]
    fn hash_vector_files_parse_to_what_sha3_computes() {
        use sha3::digest::{Digest, ExtendableOutput, Update};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
        let mut total = 0;
        for sub in ["sha3", "shake"] {
            let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                let Some(FileKind::Hash(alg)) = recognise(&text) else {
                    panic!("{} not recognised", f.display());
                };
                let records = parse_records(&text);
                assert!(!records.is_empty(), "{}", f.display());
                for r in &records {
                    let Vector::Hash { msg, output, .. } = vector(FileKind::Hash(alg), r).unwrap()
                    else {
                        unreachable!()
                    };
                    let want = match alg {
                        HashAlg::Sha3_224 => sha3::Sha3_224::digest(&msg).to_vec(),
                        HashAlg::Sha3_256 => sha3::Sha3_256::digest(&msg).to_vec(),
                        HashAlg::Sha3_384 => sha3::Sha3_384::digest(&msg).to_vec(),
                        HashAlg::Sha3_512 => sha3::Sha3_512::digest(&msg).to_vec(),
                        HashAlg::Shake128 => {
                            let mut o = vec![0; output.len()];
                            sha3::Shake128::default()
                                .chain(&msg)
                                .finalize_xof_into(&mut o);
                            o
                        }
                        HashAlg::Shake256 => {
                            let mut o = vec![0; output.len()];
                            sha3::Shake256::default()
                                .chain(&msg)
                                .finalize_xof_into(&mut o);
                            o
                        }
                    };
                    assert_eq!(output, want, "{}: {}", f.display(), r.id());
                    total += 1;
                }
            }
        }
        assert!(total > 2000, "{total} hash vectors");
    }

    #[test]
    fn parses_gcm_decrypt_records_with_fail() {
        assert_eq!(recognise(GCM_DEC), Some(FileKind::Gcm));
        let r = parse_records(GCM_DEC);
        assert_eq!(r.len(), 2);
        assert!(!r[0].fail && r[1].fail);
        assert_eq!(r[1].section, ["[Keylen = 128]", "[IVlen = 96]"]);
        assert!(matches!(
            vector(FileKind::Gcm, &r[0]).unwrap(),
            Vector::GcmDecrypt { pt: Some(_), .. }
        ));
        assert!(matches!(
            vector(FileKind::Gcm, &r[1]).unwrap(),
            Vector::GcmDecrypt { pt: None, .. }
        ));
    }

    #[test]
    fn xts_sections_and_bit_lengths() {
        assert_eq!(recognise(XTS), Some(FileKind::Xts));
        let r = parse_records(XTS);
        assert_eq!(r.len(), 3);
        assert!(matches!(
            vector(FileKind::Xts, &r[0]).unwrap(),
            Vector::Xts {
                encrypt: true,
                pad_bits: 0,
                ..
            }
        ));
        assert!(
            matches!(
                vector(FileKind::Xts, &r[1]).unwrap(),
                Vector::Xts { pad_bits: 4, .. }
            ),
            "12 bits: two bytes less 4 bits"
        );
        match vector(FileKind::Xts, &r[2]).unwrap() {
            Vector::Xts {
                encrypt: false,
                input,
                output,
                ..
            } => assert_eq!((input, output), (vec![0xcc], vec![0xdd])),
            _ => panic!("decrypt vector expected"),
        }
        assert_eq!(recognise("hello"), None);
    }
}
