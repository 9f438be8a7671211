//! `hsmctl kem keygen`, `hsmctl kem encaps`, `hsmctl kem decaps`: ML-KEM
//! (FIPS 203) key establishment with the decapsulation key in a card slot.
//!
//! The decapsulation key never leaves the card; the shared secret never
//! leaves it either: it becomes an AES-256 key in a new slot, which
//! `hsmctl encrypt` and `decrypt` then use. Public keys are files in the
//! formats of `hsm-keyfmt` (raw FIPS 203 bytes, SubjectPublicKeyInfo DER
//! or PEM).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use hsm_contract::crypto::{policy, KeyAlg};
use hsm_contract::kem::KemSet;
use hsm_contract::Status;
use hsm_driver::{Card, Job, JobOutput, KemTarget, SlotEntry};
use hsm_keyfmt::{Format, KemPublicKey, MlKem};

use crate::crypt::TempOut;
use crate::keys::{allocate_slot, check_label, parse_policy, policy_list, policy_names};
use crate::login::{LoginArgs, RoleArg};
use crate::{print_json, print_out, DeviceArg};

/// The longest public-key or ciphertext file read (the largest is a PEM
/// ML-KEM-1024 key of about 2.2 KiB).
const MAX_FILE_BYTES: u64 = 64 << 10;

const KEM_AFTER_HELP: &str = "\
Randomness: keygen and encaps take their random bytes from the card's own
DRBG (SP 800-90A CTR_DRBG, reseeded from its health-tested noise source
before each job); the host supplies none. All three run on operational
cards. If the noise source has failed, keygen and encaps fail with
ENTROPY_FAILURE until the card is reset (`hsmctl info` shows the state).";

/// `hsmctl kem ...`
#[derive(Subcommand, Debug)]
pub enum KemCommand {
    /// Generate an ML-KEM key pair in a new slot and write its public key
    #[command(after_help = KEM_AFTER_HELP)]
    Keygen(KeygenArgs),
    /// Encapsulate to a public key: write the ciphertext, keep the shared
    /// secret as an AES-256 key in a new slot
    #[command(after_help = KEM_AFTER_HELP)]
    Encaps(EncapsArgs),
    /// Decapsulate a ciphertext with an ML-KEM key in a slot: the shared
    /// secret becomes an AES-256 key in a new slot
    #[command(after_help = KEM_AFTER_HELP)]
    Decaps(DecapsArgs),
}

/// Public-key file formats, as `--format` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The FIPS 203 encapsulation key bytes, nothing else
    Raw,
    /// X.509 SubjectPublicKeyInfo, DER
    Der,
    /// X.509 SubjectPublicKeyInfo, PEM (`-----BEGIN PUBLIC KEY-----`)
    Pem,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Raw => Format::Raw,
            FormatArg::Der => Format::Der,
            FormatArg::Pem => Format::Pem,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FormatArg::Raw => "raw",
            FormatArg::Der => "der",
            FormatArg::Pem => "pem",
        }
    }

    /// The default for an output file: by its extension.
    fn for_path(p: &Path) -> FormatArg {
        match p.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("pem") => FormatArg::Pem,
            Some(e) if e.eq_ignore_ascii_case("der") => FormatArg::Der,
            _ => FormatArg::Raw,
        }
    }
}

/// `hsmctl kem keygen` arguments (also built by `hsmctl key generate`).
#[derive(Args, Debug)]
pub struct KeygenArgs {
    #[command(flatten)]
    pub(crate) device: DeviceArg,
    #[command(flatten)]
    pub(crate) login: LoginArgs,
    /// Parameter set: ml-kem-512, ml-kem-768 or ml-kem-1024
    #[arg(long, value_parser = parse_set)]
    pub(crate) alg: KemSet,
    /// Label of the new key's slot, unique among the loaded keys: 1 to 32
    /// bytes, not all digits (the first empty slot is used)
    #[arg(long, value_name = "LABEL")]
    pub(crate) slot: String,
    /// Where to write the public (encapsulation) key
    #[arg(long = "pub", value_name = "FILE")]
    pub(crate) public: PathBuf,
    /// Public-key format [default: pem if FILE ends in .pem, der if it
    /// ends in .der, else raw]
    #[arg(long, value_enum)]
    pub(crate) format: Option<FormatArg>,
    /// Usage policy of the new key: comma-separated names; decapsulation
    /// needs derive
    #[arg(long, default_value = "derive")]
    pub(crate) policy: String,
    /// Replace an existing public-key file
    #[arg(long)]
    pub(crate) force: bool,
    /// Print one JSON object
    #[arg(long)]
    pub(crate) json: bool,
}

/// `hsmctl kem encaps` arguments.
#[derive(Args, Debug)]
pub struct EncapsArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// The recipient's public key: raw, DER or PEM (recognised by content;
    /// a raw key's length gives its parameter set)
    #[arg(long = "pub", value_name = "FILE")]
    public: PathBuf,
    /// Require this parameter set (ml-kem-512, ml-kem-768, ml-kem-1024)
    #[arg(long, value_parser = parse_set)]
    alg: Option<KemSet>,
    /// Where to write the ciphertext (raw bytes) for the recipient
    #[arg(long, value_name = "FILE")]
    ct: PathBuf,
    /// Label of the new slot that receives the shared secret as an
    /// AES-256 key (unique; the first empty slot is used)
    #[arg(long, value_name = "LABEL")]
    into_slot: String,
    /// Usage policy of the new AES-256 key
    #[arg(long, default_value = "encrypt,decrypt")]
    policy: String,
    /// Replace an existing ciphertext file
    #[arg(long)]
    force: bool,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `hsmctl kem decaps` arguments.
#[derive(Args, Debug)]
#[command(
    long_about = "Decapsulate a ciphertext with an ML-KEM key in a slot: the shared secret becomes an AES-256 key in a new slot.\n\nA ciphertext that was not made for this key gives an unrelated key (FIPS 203's implicit rejection), not an error: check the new key by decrypting with it."
)]
pub struct DecapsArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// The ML-KEM key's slot, by number or label (its algorithm gives the
    /// parameter set)
    #[arg(long, value_name = "ID|LABEL")]
    slot: String,
    /// The ciphertext file (raw bytes)
    #[arg(long, value_name = "FILE")]
    ct: PathBuf,
    /// Label of the new slot that receives the shared secret as an
    /// AES-256 key (unique; the first empty slot is used)
    #[arg(long, value_name = "LABEL")]
    into_slot: String,
    /// Usage policy of the new AES-256 key
    #[arg(long, default_value = "encrypt,decrypt")]
    policy: String,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// Run `hsmctl kem ...`.
pub fn run(cmd: KemCommand) -> anyhow::Result<ExitCode> {
    crate::signals::install();
    match cmd {
        KemCommand::Keygen(a) => keygen(&a),
        KemCommand::Encaps(a) => encaps(&a),
        KemCommand::Decaps(a) => decaps(&a),
    }
}

/// Parse `--alg`.
pub fn parse_set(s: &str) -> Result<KemSet, String> {
    KemSet::from_name(&s.to_ascii_lowercase()).ok_or_else(|| {
        format!("unknown ML-KEM parameter set {s:?}; use ml-kem-512, ml-kem-768 or ml-kem-1024")
    })
}

/// The `hsm-keyfmt` name of a parameter set.
pub fn keyfmt_set(set: KemSet) -> MlKem {
    match set {
        KemSet::MlKem512 => MlKem::MlKem512,
        KemSet::MlKem768 => MlKem::MlKem768,
        KemSet::MlKem1024 => MlKem::MlKem1024,
    }
}

fn contract_set(alg: MlKem) -> KemSet {
    match alg {
        MlKem::MlKem512 => KemSet::MlKem512,
        MlKem::MlKem768 => KemSet::MlKem768,
        MlKem::MlKem1024 => KemSet::MlKem1024,
    }
}

/// Start writing an output file atomically (`-`, stdout, is refused: the
/// output is binary or goes beside `--json`).
fn create_output(p: &Path, option: &str, force: bool) -> anyhow::Result<TempOut> {
    if p == Path::new("-") {
        bail!("{option} -: this command writes files only; name a file");
    }
    TempOut::create(p, force)
}

/// Read a whole input file of at most [`MAX_FILE_BYTES`].
fn read_small(p: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(p)
        .with_context(|| format!("opening {what} {}", p.display()))?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {what} {}", p.display()))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "{} is over {MAX_FILE_BYTES} bytes: it is not {what}",
            p.display()
        );
    }
    Ok(buf)
}

/// Read a public-key file (raw, DER or PEM), of parameter set `expect`
/// when given.
///
/// # Errors
/// An unreadable file, or one that is not an ML-KEM public key (of that
/// set).
pub fn read_public_key(p: &Path, expect: Option<KemSet>) -> anyhow::Result<KemPublicKey> {
    let bytes = read_small(p, "the public key")?;
    KemPublicKey::from_file_bytes(&bytes, expect.map(keyfmt_set))
        .with_context(|| format!("{} is not a usable ML-KEM public key", p.display()))
}

/// What to tell the operator about a failed ML-KEM job's status.
fn status_hint(s: Status) -> Option<&'static str> {
    Some(match s {
        Status::EntropyFailure => "the card's noise source has failed its health tests, so it makes no keys until it is reset (`hsmctl info` shows the state)",
        Status::EkCheckFailed => "the public key is not a valid ML-KEM key; ask its owner for it again",
        Status::PolicyDenied => "the key's policy does not allow derive, which decapsulation needs",
        Status::WrongKeyType => "the slot's algorithm is not the ML-KEM parameter set of the job",
        Status::SlotOccupied => "the new slot was taken in the meantime; run the command again",
        Status::BadOpcode => "this card image has no ML-KEM engine",
        _ => return None,
    })
}

/// Run one ML-KEM job: its output and card cycles, or an error chain with
/// the card's status, `what` and a hint.
fn run_kem(card: &mut Card, job: Job<'_>, what: &str) -> anyhow::Result<(JobOutput, u32)> {
    let r = card
        .run_jobs(&[job])
        .with_context(|| what.to_string())?
        .pop()
        .context("the driver returned no result")?;
    let cycles = r.cycles();
    let status = r.status();
    match r.into_output() {
        Ok(o) => Ok((o, cycles)),
        Err(e) => {
            let e = anyhow::Error::new(e);
            Err(match status_hint(status) {
                Some(h) => e.context(format!("{what}: {h}")),
                None => e.context(what.to_string()),
            })
        }
    }
}

/// Clear a slot this command filled, after a later step failed.
fn roll_back(card: &mut Card, slot: u16, e: anyhow::Error) -> anyhow::Error {
    match card.key_clear(slot) {
        Ok(()) => e.context(format!("slot {slot}, which this command had filled, was cleared again")),
        Err(c) => e.context(format!(
            "slot {slot}, which this command had filled, could not be cleared ({c}); clear it with `hsmctl key clear --slot {slot}`"
        )),
    }
}

/// The slots and the slot for a new key labelled `label`.
fn new_slot(card: &mut Card, label: &str) -> anyhow::Result<(Vec<SlotEntry>, u16)> {
    let slots = card.list_slots().context("listing the slots")?;
    let slot = allocate_slot(&slots, label, None, &[])?;
    Ok((slots, slot))
}

pub(crate) fn keygen(a: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let set = a.alg;
    let pol = parse_policy(&a.policy)?;
    if pol & policy::DERIVE == 0 {
        bail!(
            "--policy {}: an ML-KEM key without derive could never decapsulate; add derive",
            a.policy
        );
    }
    let label = check_label(&a.slot)?;
    let format = a.format.unwrap_or_else(|| FormatArg::for_path(&a.public));
    // The output file first: an existing file is refused before the card
    // does anything.
    let mut out = create_output(&a.public, "--pub", a.force)?;
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    let (_, slot) = new_slot(&mut card, &a.slot)?;
    let (o, cycles) = run_kem(
        &mut card,
        Job::KemKeygen {
            set,
            slot,
            policy: pol,
            label,
            // d and z from the card's DRBG.
            seed: None,
            expose: false,
        },
        &format!("generating an {} key in slot {slot}", set.name()),
    )?;
    let JobOutput::KemKeygen(k) = o else {
        bail!("the driver returned another kind of output for KEM_KEYGEN");
    };
    let key = KemPublicKey::new(keyfmt_set(set), k.ek).context("the card's public key")?;
    let bytes = key.encode(format.format());
    let written = (|| {
        out.file()
            .write_all(&bytes)
            .with_context(|| format!("writing {}", a.public.display()))?;
        crate::signals::check()?;
        out.commit()
    })();
    if let Err(e) = written {
        return Err(roll_back(&mut card, slot, e));
    }
    if a.json {
        print_json(&serde_json::json!({
            "slot": slot,
            "label": a.slot,
            "set": set.name(),
            "policy": policy_list(pol),
            "pub": a.public.display().to_string(),
            "format": format.name(),
            "ek_bytes": key.ek.len(),
            "pub_file_bytes": bytes.len(),
            "cycles": cycles,
        }))?;
    } else {
        print_out(&format!(
            "generated an {} key in slot {slot} as {:?} (policy {}); public key written to {} ({}, {} bytes)\n",
            set.name(),
            a.slot,
            policy_names(pol),
            a.public.display(),
            format.name(),
            bytes.len()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn encaps(a: &EncapsArgs) -> anyhow::Result<ExitCode> {
    let pol = parse_policy(&a.policy)?;
    let label = check_label(&a.into_slot)?;
    let key = read_public_key(&a.public, a.alg)?;
    let set = contract_set(key.alg);
    let mut out = create_output(&a.ct, "--ct", a.force)?;
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    let (_, slot) = new_slot(&mut card, &a.into_slot)?;
    let (o, cycles) = run_kem(
        &mut card,
        Job::KemEncaps {
            set,
            ek: &key.ek,
            // m from the card's DRBG.
            m: None,
            target: Some(KemTarget {
                slot,
                policy: pol,
                label,
            }),
        },
        &format!(
            "encapsulating to the {} key in {} into slot {slot}",
            set.name(),
            a.public.display()
        ),
    )?;
    let JobOutput::KemEncaps(e) = o else {
        bail!("the driver returned another kind of output for KEM_ENCAPS");
    };
    let written = (|| {
        out.file()
            .write_all(&e.ciphertext)
            .with_context(|| format!("writing {}", a.ct.display()))?;
        crate::signals::check()?;
        out.commit()
    })();
    if let Err(err) = written {
        return Err(roll_back(&mut card, slot, err));
    }
    if a.json {
        print_json(&serde_json::json!({
            "set": set.name(),
            "pub": a.public.display().to_string(),
            "ct": a.ct.display().to_string(),
            "ct_bytes": e.ciphertext.len(),
            "slot": slot,
            "label": a.into_slot,
            "alg": KeyAlg::Aes256.name(),
            "policy": policy_list(pol),
            "cycles": cycles,
        }))?;
    } else {
        print_out(&format!(
            "encapsulated to the {} key in {}: ciphertext written to {} ({} bytes); the shared secret is an aes-256 key in slot {slot} as {:?} (policy {})\n",
            set.name(),
            a.public.display(),
            a.ct.display(),
            e.ciphertext.len(),
            a.into_slot,
            policy_names(pol)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The parameter set of the ML-KEM key in `slot`.
fn slot_set(e: &SlotEntry) -> anyhow::Result<KemSet> {
    if e.is_empty() {
        bail!(
            "slot {} is empty; `hsmctl slot list` shows the loaded keys",
            e.slot
        );
    }
    KemSet::from_alg(e.record.alg).with_context(|| {
        format!(
            "slot {} ({:?}) holds an {} key, not an ML-KEM key",
            e.slot,
            e.label(),
            e.alg().map_or("unknown", |a| a.name())
        )
    })
}

fn decaps(a: &DecapsArgs) -> anyhow::Result<ExitCode> {
    let pol = parse_policy(&a.policy)?;
    let label = check_label(&a.into_slot)?;
    let ct = read_small(&a.ct, "a ciphertext")?;
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    let key_slot = card.resolve_slot(&a.slot)?;
    let (slots, slot) = new_slot(&mut card, &a.into_slot)?;
    let entry = &slots[key_slot as usize];
    let set = slot_set(entry)?;
    if ct.len() != set.ct_bytes() as usize {
        bail!(
            "{} holds {} bytes, but an {} ciphertext (for slot {key_slot}) is {} bytes",
            a.ct.display(),
            ct.len(),
            set.name(),
            set.ct_bytes()
        );
    }
    if entry.record.policy & policy::DERIVE == 0 {
        bail!(
            "slot {key_slot}'s policy ({}) does not allow derive, which decapsulation needs",
            policy_names(entry.record.policy)
        );
    }
    let key_label = entry.label();
    let (_, cycles) = run_kem(
        &mut card,
        Job::KemDecaps {
            set,
            slot: key_slot,
            ciphertext: &ct,
            target: Some(KemTarget {
                slot,
                policy: pol,
                label,
            }),
        },
        &format!(
            "decapsulating {} with slot {key_slot} into slot {slot}",
            a.ct.display()
        ),
    )?;
    if a.json {
        print_json(&serde_json::json!({
            "set": set.name(),
            "key_slot": key_slot,
            "key_label": key_label,
            "ct": a.ct.display().to_string(),
            "ct_bytes": ct.len(),
            "slot": slot,
            "label": a.into_slot,
            "alg": KeyAlg::Aes256.name(),
            "policy": policy_list(pol),
            "cycles": cycles,
        }))?;
    } else {
        print_out(&format!(
            "decapsulated {} with slot {key_slot} ({key_label:?}, {}): the shared secret is an aes-256 key in slot {slot} as {:?} (policy {})\n",
            a.ct.display(),
            set.name(),
            a.into_slot,
            policy_names(pol)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_default_by_extension() {
        assert_eq!(FormatArg::for_path(Path::new("a.pem")), FormatArg::Pem);
        assert_eq!(FormatArg::for_path(Path::new("dir/a.DER")), FormatArg::Der);
        assert_eq!(FormatArg::for_path(Path::new("a.pub")), FormatArg::Raw);
        assert_eq!(FormatArg::for_path(Path::new("pem")), FormatArg::Raw);
    }

    #[test]
    fn sets_parse_and_map() {
        assert_eq!(parse_set("ML-KEM-768"), Ok(KemSet::MlKem768));
        assert_eq!(parse_set("1024"), Ok(KemSet::MlKem1024));
        assert!(parse_set("kyber").unwrap_err().contains("ml-kem-512"));
        for s in KemSet::ALL {
            assert_eq!(contract_set(keyfmt_set(*s)), *s);
            assert_eq!(keyfmt_set(*s).ek_len(), s.ek_bytes() as usize);
        }
    }

    #[test]
    fn public_key_files_are_read_in_every_format() {
        let dir = std::env::temp_dir().join(format!("hsmctl-kem-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KemPublicKey::new(MlKem::MlKem512, vec![7; 800]).unwrap();
        for f in [Format::Raw, Format::Der, Format::Pem] {
            let p = dir.join("k");
            std::fs::write(&p, key.encode(f)).unwrap();
            assert_eq!(read_public_key(&p, None).unwrap(), key);
            assert_eq!(read_public_key(&p, Some(KemSet::MlKem512)).unwrap(), key);
            let e = format!(
                "{:#}",
                read_public_key(&p, Some(KemSet::MlKem768)).unwrap_err()
            );
            assert!(e.contains("not ML-KEM-768"), "{e}");
        }
        let p = dir.join("short");
        std::fs::write(&p, [0x41u8; 799]).unwrap();
        let e = format!("{:#}", read_public_key(&p, None).unwrap_err());
        assert!(
            e.contains("not a usable ML-KEM public key") && e.contains("799 bytes"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            read_public_key(&dir.join("none"), None).unwrap_err()
        );
        assert!(e.contains("opening the public key"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn statuses_have_hints() {
        assert!(status_hint(Status::EntropyFailure)
            .unwrap()
            .contains("hsmctl info"));
        assert!(status_hint(Status::EkCheckFailed)
            .unwrap()
            .contains("not a valid ML-KEM key"));
        assert!(status_hint(Status::Ok).is_none());
    }
}
