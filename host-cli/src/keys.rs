//! `hsmctl key generate`, `hsmctl key load`, `hsmctl key clear`,
//! `hsmctl slot list`, `hsmctl slot delete`.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use hsm_contract::crypto::{policy, KeyAlg, KEY_SLOTS};
use hsm_driver::{label_bytes, Card, SlotEntry};
use zeroize::Zeroizing;

use crate::login::{LoginArgs, RoleArg};
use crate::{print_json, print_out, DeviceArg, UsageError};

/// `hsmctl key ...`
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a key inside the card from its DRBG: AES-128, AES-256, XTS-AES-256 or ML-KEM
    Generate(GenerateArgs),
    /// Load a plaintext key into a slot (test-mode cards only)
    Load(LoadArgs),
    /// Clear a slot, destroying its key (the same as `hsmctl slot delete`)
    Clear(ClearArgs),
}

/// `hsmctl slot ...`
#[derive(Subcommand, Debug)]
pub enum SlotCommand {
    /// List the keys: slot, algorithm, policy, key check value, creation number, GCM invocations, label (never key material)
    List {
        #[command(flatten)]
        device: DeviceArg,
        #[command(flatten)]
        login: LoginArgs,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Delete a key: shows what it destroys and asks for confirmation, or takes --force
    Delete(DeleteArgs),
}

/// `hsmctl slot delete` arguments.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// The slot, by label or number
    #[arg(value_name = "LABEL|SLOT")]
    slot: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long)]
    force: bool,
}

/// Algorithms `hsmctl key generate` makes, as `--alg` spells them.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GenAlgArg {
    /// AES-128, for GCM
    #[value(name = "aes-128")]
    Aes128,
    /// AES-256, for GCM
    #[value(name = "aes-256")]
    Aes256,
    /// XTS-AES-256 key pair
    #[value(name = "xts-aes-256")]
    XtsAes256,
    /// ML-KEM-512 decapsulation key (needs --pub)
    #[value(name = "ml-kem-512")]
    MlKem512,
    /// ML-KEM-768 decapsulation key (needs --pub)
    #[value(name = "ml-kem-768")]
    MlKem768,
    /// ML-KEM-1024 decapsulation key (needs --pub)
    #[value(name = "ml-kem-1024")]
    MlKem1024,
}

impl GenAlgArg {
    /// The ML-KEM parameter set, for the ML-KEM algorithms.
    fn kem_set(self) -> Option<hsm_contract::kem::KemSet> {
        use hsm_contract::kem::KemSet;
        match self {
            GenAlgArg::MlKem512 => Some(KemSet::MlKem512),
            GenAlgArg::MlKem768 => Some(KemSet::MlKem768),
            GenAlgArg::MlKem1024 => Some(KemSet::MlKem1024),
            _ => None,
        }
    }

    /// The AES algorithm, for the others.
    fn aes(self) -> Option<KeyAlg> {
        match self {
            GenAlgArg::Aes128 => Some(KeyAlg::Aes128),
            GenAlgArg::Aes256 => Some(KeyAlg::Aes256),
            GenAlgArg::XtsAes256 => Some(KeyAlg::XtsAes256),
            _ => None,
        }
    }
}

/// `hsmctl key generate` arguments.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// Key algorithm
    #[arg(long, value_enum)]
    alg: GenAlgArg,
    /// Label, unique among the keys: 1 to 32 bytes, not all digits
    #[arg(long)]
    label: String,
    /// Usage policy: comma-separated encrypt, decrypt, wrap, unwrap, sign, verify, derive [default: encrypt,decrypt for AES, derive for ML-KEM]
    #[arg(long)]
    policy: Option<String>,
    /// Slot to generate into [default: the first empty slot; AES only]
    #[arg(long)]
    slot: Option<u16>,
    /// ML-KEM: where to write the public (encapsulation) key
    #[arg(long = "pub", value_name = "FILE")]
    public: Option<PathBuf>,
    /// ML-KEM: public-key format [default: by the file's extension]
    #[arg(long, value_enum)]
    format: Option<crate::kem::FormatArg>,
    /// ML-KEM: replace an existing public-key file
    #[arg(long)]
    force: bool,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// Key algorithms, as `--alg` spells them.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AlgArg {
    /// AES-128 (16-byte key), for GCM
    #[value(name = "aes-128")]
    Aes128,
    /// AES-256 (32-byte key), for GCM
    #[value(name = "aes-256")]
    Aes256,
    /// XTS-AES-256 (64-byte key pair: data key, then tweak key)
    #[value(name = "xts-aes-256")]
    XtsAes256,
}

impl AlgArg {
    fn alg(self) -> KeyAlg {
        match self {
            AlgArg::Aes128 => KeyAlg::Aes128,
            AlgArg::Aes256 => KeyAlg::Aes256,
            AlgArg::XtsAes256 => KeyAlg::XtsAes256,
        }
    }
}

/// `hsmctl key load` arguments.
#[derive(Args, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// Key algorithm
    #[arg(long, value_enum)]
    alg: AlgArg,
    /// Label, unique among the loaded keys: 1 to 32 bytes, not all digits
    #[arg(long)]
    label: String,
    /// File holding the key: exactly the key's bytes (raw), or its hex
    /// digits (text; surrounding whitespace ignored). `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// Usage policy: comma-separated encrypt, decrypt, wrap, unwrap, sign, verify, derive
    #[arg(long, default_value = "encrypt,decrypt")]
    policy: String,
    /// Slot to load into [default: the first empty slot]
    #[arg(long)]
    slot: Option<u16>,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `hsmctl key clear` arguments.
#[derive(Args, Debug)]
pub struct ClearArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// The slot, by number or label
    #[arg(long, value_name = "ID|LABEL")]
    slot: String,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long)]
    force: bool,
}

/// Run `hsmctl key ...`.
pub fn run_key(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate(a) => generate(a),
        KeyCommand::Load(a) => load(&a),
        KeyCommand::Clear(a) => clear(&a.device, &a.login, &a.slot, a.force),
    }
}

/// Run `hsmctl slot ...`.
pub fn run_slot(cmd: SlotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SlotCommand::List {
            device,
            login,
            json,
        } => list(&device, &login, json),
        SlotCommand::Delete(a) => clear(&a.device, &a.login, &a.slot, a.force),
    }
}

/// Policy bits as comma-separated names.
pub fn policy_names(bits: u16) -> String {
    let names: Vec<&str> = policy::NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

/// Parse a comma-separated policy (`encrypt,decrypt`); at least one use.
pub fn parse_policy(s: &str) -> anyhow::Result<u16> {
    let mut bits = 0;
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some((b, _)) = policy::NAMES.iter().find(|(_, n)| *n == name) else {
            bail!(
                "unknown policy {name:?}: use a comma-separated list of {}",
                policy::NAMES
                    .iter()
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        bits |= b;
    }
    if bits == 0 {
        bail!("--policy is empty: a key needs at least one use (for example encrypt,decrypt)");
    }
    Ok(bits)
}

/// Decode key material: exactly `want` raw bytes, or `2 * want` hex digits
/// with surrounding whitespace.
pub fn decode_key(data: &[u8], want: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if data.len() == want {
        return Ok(Zeroizing::new(data.to_vec()));
    }
    let text = data.trim_ascii();
    if text.len() == 2 * want && text.iter().all(u8::is_ascii_hexdigit) {
        let mut key = Zeroizing::new(vec![0u8; want]);
        for (i, pair) in text.chunks(2).enumerate() {
            let hex = |c: u8| (c as char).to_digit(16).expect("checked hex") as u8;
            key[i] = hex(pair[0]) << 4 | hex(pair[1]);
        }
        return Ok(key);
    }
    bail!(
        "the key file holds {} bytes: expected exactly {want} raw bytes or {} hex digits for this algorithm",
        data.len(),
        2 * want
    )
}

fn read_key_file(p: &PathBuf) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    let limit = 4096u64;
    if p.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .context("reading the key from stdin")?;
    } else {
        std::fs::File::open(p)
            .with_context(|| format!("opening the key file {}", p.display()))?
            .take(limit + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading the key file {}", p.display()))?;
    }
    if buf.len() as u64 > limit {
        bail!("the key file is over {limit} bytes; it should hold one key");
    }
    Ok(buf)
}

fn require_test_mode(card: &Card, what: &str) -> anyhow::Result<()> {
    if !card.test_mode()? {
        bail!(
            "{} is not in test mode: {what} needs a card in test mode (plaintext keys enter only then; start a simulated one with `hsmctl sim start --test-mode`)",
            card.device()
        );
    }
    Ok(())
}

/// Check the label of a new key without the card: 1 to 32 bytes, not all
/// digits (it would read as a slot number). Returns it zero-padded.
///
/// # Errors
/// When the label cannot be one.
pub fn check_label(label: &str) -> anyhow::Result<[u8; 32]> {
    if label.bytes().all(|b| b.is_ascii_digit()) {
        bail!("label {label:?} is all digits, which would read as a slot number; choose another");
    }
    Ok(label_bytes(label)?)
}

/// The slot for a new key labelled `label`: `want` when given (it must
/// exist and be empty), else the first empty slot not in `taken`. Refused
/// when an occupied slot already has the label (labels are unique).
///
/// # Errors
/// A duplicate label, a missing or occupied slot, or no empty slot.
pub fn allocate_slot(
    slots: &[SlotEntry],
    label: &str,
    want: Option<u16>,
    taken: &[u16],
) -> anyhow::Result<u16> {
    if let Some(dup) = slots.iter().find(|s| !s.is_empty() && s.label() == label) {
        bail!(
            "the label {label:?} is already used by slot {}; labels must be unique (clear that slot with `hsmctl key clear --slot {}` or choose another label)",
            dup.slot,
            dup.slot
        );
    }
    match want {
        Some(n) => {
            if u32::from(n) >= KEY_SLOTS || slots.get(n as usize).is_none() {
                bail!("slot {n} does not exist: slots are 0 to {}", KEY_SLOTS - 1);
            }
            if !slots[n as usize].is_empty() || taken.contains(&n) {
                bail!(
                    "slot {n} already holds a key ({:?}); clear it first with `hsmctl key clear --slot {n}`",
                    slots[n as usize].label()
                );
            }
            Ok(n)
        }
        None => slots
            .iter()
            .find(|s| s.is_empty() && !taken.contains(&s.slot))
            .map(|s| s.slot)
            .context("every slot holds a key; clear one first (`hsmctl slot list` shows them)"),
    }
}

/// A key check value as hex (`-` for none: ML-KEM seeds have none yet).
fn kcv_hex(e: &SlotEntry) -> String {
    if e.alg().is_some_and(|a| a.is_aes()) {
        e.record.kcv.iter().map(|b| format!("{b:02x}")).collect()
    } else {
        "-".into()
    }
}

fn generate(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    if let Some(set) = a.alg.kem_set() {
        let Some(public) = a.public else {
            return Err(UsageError(format!(
                "--alg {}: an ML-KEM key needs --pub FILE, where its public (encapsulation) key is written",
                set.name()
            ))
            .into());
        };
        if a.slot.is_some() {
            return Err(UsageError(
                "--slot: an ML-KEM key goes into the first empty slot; leave --slot out".into(),
            )
            .into());
        }
        return crate::kem::keygen(&crate::kem::KeygenArgs {
            device: a.device,
            login: a.login,
            alg: set,
            slot: a.label,
            public,
            format: a.format,
            policy: a.policy.unwrap_or_else(|| "derive".into()),
            force: a.force,
            json: a.json,
        });
    }
    let alg = a.alg.aes().expect("AES when not ML-KEM");
    if a.public.is_some() || a.format.is_some() || a.force {
        return Err(UsageError(format!(
            "--pub, --format and --force are for ML-KEM keys; a {} key has no public part",
            alg.name()
        ))
        .into());
    }
    let pol = parse_policy(a.policy.as_deref().unwrap_or("encrypt,decrypt"))?;
    let label = check_label(&a.label)?;
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    let slots = card.list_slots().context("listing the slots")?;
    let slot = allocate_slot(&slots, &a.label, a.slot, &[])?;
    card.key_generate(slot, alg, pol, label)
        .with_context(|| format!("generating a {} key in slot {slot}", alg.name()))?;
    let entry = SlotEntry {
        slot,
        record: card.slot_info(slot)?,
    };
    if a.json {
        print_json(&serde_json::json!({
            "slot": slot,
            "alg": alg.name(),
            "policy": policy_list(pol),
            "label": a.label,
            "kcv": kcv_hex(&entry),
            "created": entry.record.created,
        }))?;
    } else {
        print_out(&format!(
            "generated a {} key in slot {slot} as {:?} (policy {}, check value {})\n",
            alg.name(),
            a.label,
            policy_names(pol),
            kcv_hex(&entry)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn load(a: &LoadArgs) -> anyhow::Result<ExitCode> {
    let alg = a.alg.alg();
    let pol = parse_policy(&a.policy)?;
    let label = check_label(&a.label)?;
    let raw = read_key_file(&a.key_file)?;
    let key = decode_key(&raw, alg.key_bytes())?;
    drop(raw);
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    require_test_mode(&card, "key load")?;
    let slots = card.list_slots().context("listing the slots")?;
    let slot = allocate_slot(&slots, &a.label, a.slot, &[])?;
    card.key_load(slot, alg, pol, label, &key)?;
    drop(key);
    if a.json {
        print_json(&serde_json::json!({
            "slot": slot,
            "alg": alg.name(),
            "policy": policy_list(pol),
            "label": a.label,
        }))?;
    } else {
        print_out(&format!(
            "loaded a {} key into slot {slot} as {:?} (policy {})\n",
            alg.name(),
            a.label,
            policy_names(pol)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(e: &SlotEntry) -> String {
    format!(
        "slot {} ({}, label {:?}, check value {}, policy {}, {} GCM encryptions since the last reset)",
        e.slot,
        e.alg().map_or("unknown algorithm", |a| a.name()),
        e.label(),
        kcv_hex(e),
        policy_names(e.record.policy),
        e.record.boot_invocations()
    )
}

/// `hsmctl key clear` and `hsmctl slot delete`.
fn clear(
    device: &DeviceArg,
    login: &LoginArgs,
    slot_ref: &str,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let mut card = login.open(device, RoleArg::User)?;
    let slot = card.resolve_slot(slot_ref)?;
    let rec = card.slot_info(slot)?;
    let entry = SlotEntry { slot, record: rec };
    if entry.is_empty() {
        print_out(&format!("slot {slot} is already empty\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !force {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to clear {} without confirmation: stdin is not a terminal; pass --force",
                describe(&entry)
            );
        }
        eprint!(
            "This destroys the key in {}.\nData encrypted with it can no longer be decrypted. Type `yes` to clear it: ",
            describe(&entry)
        );
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim() != "yes" {
            eprintln!("hsmctl: not cleared");
            return Ok(ExitCode::from(crate::exit::ERROR));
        }
    }
    card.key_clear(slot)?;
    print_out(&format!("cleared {}\n", describe(&entry)))?;
    Ok(ExitCode::SUCCESS)
}

/// Policy bits as a list of names (for JSON).
pub fn policy_list(bits: u16) -> Vec<&'static str> {
    policy::NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn list(device: &DeviceArg, login: &LoginArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut card = login.open(device, RoleArg::User)?;
    let slots = card.list_slots()?;
    let used: Vec<&SlotEntry> = slots.iter().filter(|s| !s.is_empty()).collect();
    if json {
        let v: Vec<serde_json::Value> = used
            .iter()
            .map(|s| {
                serde_json::json!({
                    "slot": s.slot,
                    "alg": s.alg().map_or("unknown", |a| a.name()),
                    "policy": policy_list(s.record.policy),
                    "kcv": kcv_hex(s),
                    "created": s.record.created,
                    "invocations": s.record.boot_invocations(),
                    "boot_epoch": s.record.boot_epoch(),
                    "label": s.label(),
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "slots": v,
            "used": used.len(),
            "total": slots.len(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "{:<5} {:<12} {:<24} {:<6} {:>7} {:>12}  {}\n",
        "SLOT", "ALG", "POLICY", "KCV", "CREATED", "INVOCATIONS", "LABEL"
    );
    for s in &used {
        text += &format!(
            "{:<5} {:<12} {:<24} {:<6} {:>7} {:>12}  {}\n",
            s.slot,
            s.alg().map_or("unknown", |a| a.name()),
            policy_names(s.record.policy),
            kcv_hex(s),
            s.record.created,
            s.record.boot_invocations(),
            s.label()
        );
    }
    text += &format!("{} of {} slots in use\n", used.len(), slots.len());
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_raw_or_hex() {
        let raw = [0x0au8; 16];
        assert_eq!(&decode_key(&raw, 16).unwrap()[..], &raw);
        let hex = b"000102030405060708090a0b0c0d0E0f\n";
        let k = decode_key(hex, 16).unwrap();
        assert_eq!(k[15], 15);
        assert_eq!(k[0], 0);
        // 32 raw bytes for a 16-byte key that are not hex: refused.
        let e = decode_key(&[0xffu8; 32], 16).unwrap_err().to_string();
        assert!(
            e.contains("expected exactly 16 raw bytes or 32 hex digits"),
            "{e}"
        );
        assert!(decode_key(b"xyz", 32).is_err());
    }

    #[test]
    fn policies_parse_and_print() {
        assert_eq!(parse_policy("encrypt,decrypt").unwrap(), 3);
        assert_eq!(parse_policy("decrypt").unwrap(), 2);
        assert!(parse_policy("fly")
            .unwrap_err()
            .to_string()
            .contains("unknown policy"));
        assert!(parse_policy("").is_err());
        assert_eq!(policy_names(3), "encrypt,decrypt");
        assert_eq!(policy_names(0), "none");
    }
}
