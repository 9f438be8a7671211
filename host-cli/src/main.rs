//! `hsmctl`: the operator's tool for the HSM card.
//!
//! Noun-verb commands (`hsmctl sim start`, `hsmctl info`), `--json` for
//! scripts, documented exit codes, errors that say what to do.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hsm_driver::{Card, DeviceSpec, RngState};

mod bench;
mod bench_aes;
mod bench_hash;
mod bench_kem;
mod bitstream;
mod card;
mod crypt;
mod filefmt;
mod hash;
mod kem;
mod keys;
mod login;
mod random;
mod secret;
mod selftest;
mod selftest_kem;
mod signals;
mod sim;

/// Exit codes, shared by every command.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other error.
    pub const ERROR: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// The device is unavailable: no card, card busy, wrong card, card
    /// stopped answering, VFIO not set up.
    pub const UNAVAILABLE: u8 = 3;
    /// A job completed with an error status.
    pub const JOB_FAILED: u8 = 4;
    /// A package failed verification or policy (`hsmctl bitstream`).
    pub const REFUSED: u8 = 5;
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  error (anything not listed below)
  2  usage error (bad command line)
  3  device unavailable: no card at the socket or PCI address, the card is
     busy with another client, not this design, stopped answering, or VFIO
     is not set up
  4  a job on the card failed (its status code is printed), or the input of
     `decrypt` is not authentic: a tag did not verify, or the file was
     truncated, reordered, extended or is not an hsmctl file
  5  a package failed verification or policy (`bitstream verify`, `load`):
     malformed, unsigned, signed by an unknown or revoked key, bad
     signature, an image that does not match its manifest, or (load) the
     wrong target or contract, or a security version below the card's

Devices (--device):
  sim:SOCKET           a simulated card served at a Unix socket
  vfio:DDDD:BB:DD.F    a card bound to vfio-pci, e.g. vfio:0000:01:00.0
  default: the local simulated card at $HSM_SIM_SOCKET, else
  $XDG_RUNTIME_DIR/hsm/card.sock, else /tmp/hsm-$UID/card.sock";

/// Operate the HSM card.
#[derive(Parser, Debug)]
#[command(name = "hsmctl", version, about, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A command line that parses but does not make sense (options that
/// cannot go together, one missing that the others need): `hsmctl` exits
/// with [`exit::USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Which card to talk to.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArg {
    /// The card: `sim:SOCKET` or `vfio:PCI-ADDRESS` [default: the local simulated card]
    #[arg(long, short = 'd', value_name = "DEV")]
    device: Option<DeviceSpec>,
}

impl DeviceArg {
    /// The device named, or the default.
    pub fn spec(&self) -> DeviceSpec {
        self.device.clone().unwrap_or_default()
    }

    /// The device named on the command line, if one was.
    pub fn given(&self) -> Option<&DeviceSpec> {
        self.device.as_ref()
    }

    /// Open the card. A simulated card that is busy with another client
    /// is retried for up to 3 s (a client that just exited may not have
    /// been released yet) before the busy error is returned.
    pub fn open(&self) -> anyhow::Result<Card> {
        let spec = self.spec();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            match Card::open(&spec) {
                Err(hsm_driver::Error::CardBusy { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                r => return r.with_context(|| format!("opening {spec}")),
            }
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run and manage the simulated card
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Sim(sim::SimCommand),
    /// Show the card's identity: design, contract version, build, capabilities, status
    #[command(after_help = EXIT_CODES_HELP)]
    Info {
        #[command(flatten)]
        device: DeviceArg,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Measure the card: copy, AES, SHA-3 and ML-KEM figures, per-job cycles, driver cost per job
    #[command(after_help = EXIT_CODES_HELP)]
    Bench(bench::BenchArgs),
    /// Manage the card itself: initialisation, zeroization
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Card(card::CardCommand),
    /// Manage the roles' PINs
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    User(login::UserCommand),
    /// Manage keys in the card's slots
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Key(keys::KeyCommand),
    /// Inspect the card's key slots
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Slot(keys::SlotCommand),
    /// Encrypt a file or stdin with AES-GCM in a key slot (format: docs/file-format.md)
    #[command(after_help = EXIT_CODES_HELP)]
    Encrypt(crypt::CryptArgs),
    /// Decrypt and verify a file made by `hsmctl encrypt`; nothing is written unless all of it verifies
    #[command(after_help = EXIT_CODES_HELP)]
    Decrypt(crypt::CryptArgs),
    /// Hash a file or stdin on the card: SHA3-224/256/384/512, SHAKE128/256
    #[command(after_help = EXIT_CODES_HELP)]
    Hash(hash::HashArgs),
    /// ML-KEM (FIPS 203) key establishment: keygen, encaps, decaps with keys in card slots
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Kem(kem::KemCommand),
    /// Random bytes from the card's DRBG (SP 800-90A CTR_DRBG, SP 800-90B noise source)
    #[command(after_help = EXIT_CODES_HELP)]
    Random(random::RandomArgs),
    /// Run NIST AES-GCM, XTS-AES, SHA-3, SHAKE and ML-KEM vector files through the card (test mode)
    #[command(after_help = EXIT_CODES_HELP)]
    Selftest(selftest::SelftestArgs),
    /// Signed card-image packages: build, signing keys, sign, verify, the trust directory, load
    #[command(subcommand, after_help = EXIT_CODES_HELP)]
    Bitstream(bitstream::BitstreamCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("hsmctl: error: {e:#}");
            ExitCode::from(exit_code_for(&e))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sim(cmd) => sim::run(cmd),
        Command::Info { device, json } => info(&device, json),
        Command::Bench(args) => bench::run(&args),
        Command::Card(cmd) => card::run(cmd),
        Command::User(cmd) => login::run_user(cmd),
        Command::Key(cmd) => keys::run_key(cmd),
        Command::Slot(cmd) => keys::run_slot(cmd),
        Command::Encrypt(args) => crypt::encrypt(&args),
        Command::Decrypt(args) => crypt::decrypt(&args),
        Command::Selftest(args) => selftest::run(&args),
        Command::Hash(args) => hash::run(&args),
        Command::Kem(cmd) => kem::run(cmd),
        Command::Random(args) => random::run(&args),
        Command::Bitstream(cmd) => bitstream::run(cmd),
    }
}

/// The card's initialisation and roles, for `hsmctl info`.
fn auth_text(a: Option<&hsm_contract::auth::AuthInfo>) -> String {
    let Some(a) = a else {
        return "unknown (the card answers no CARD_INFO)".into();
    };
    if a.damaged {
        return "its auth record is DAMAGED: nobody can log in; zeroize the card and initialise it again".into();
    }
    if !a.initialized {
        return "no: the card serves no key until `hsmctl card init`".into();
    }
    let role = |locked: bool, failures: u8| {
        if locked {
            "LOCKED".to_string()
        } else {
            format!("{failures} of {} wrong PINs", a.failure_limit)
        }
    };
    format!(
        "yes, label {:?}; security officer {}; user {}",
        hsm_driver::label_text(&a.label),
        role(a.so_locked(), a.so_failures),
        if a.user_pin_set {
            role(a.user_locked(), a.user_failures)
        } else {
            "PIN not set".into()
        }
    )
}

fn info(device: &DeviceArg, json: bool) -> anyhow::Result<ExitCode> {
    let mut card = device.open()?;
    let id = card.identify().context("reading the identity registers")?;
    // (A card whose self-tests failed answers no CARD_INFO.)
    let auth = card.auth_info().ok();
    drop(card);
    // A simulated card also says which image it runs (a real card's
    // loader record comes with its persistent state).
    let image = match device.spec() {
        DeviceSpec::Sim(socket) => hsm_sim::control_status(&socket)
            .ok()
            .and_then(|st| st.image.map(|i| (i, st.min_security_version))),
        DeviceSpec::Vfio(_) => None,
    };
    let rng = id.status.rng_state();
    if json {
        let mut v = serde_json::to_value(&id)?;
        v["rng"] = serde_json::to_value(rng)?;
        if let Some((image, min)) = &image {
            v["image"] = serde_json::to_value(image)?;
            v["min_security_version"] = (*min).into();
        }
        v["auth"] = match &auth {
            Some(a) => serde_json::json!({
                "initialized": a.initialized,
                "damaged": a.damaged,
                "label": hsm_driver::label_text(&a.label),
                "failure_limit": a.failure_limit,
                "user_pin_set": a.user_pin_set,
                "so_failures": a.so_failures,
                "user_failures": a.user_failures,
                "so_locked": a.so_locked(),
                "user_locked": a.user_locked(),
            }),
            None => serde_json::Value::Null,
        };
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let caps = &id.capabilities;
    let mut ops = Vec::new();
    if caps.op_nop {
        ops.push("NOP");
    }
    if caps.op_copy {
        ops.push("COPY");
    }
    if caps.op_aes_gcm {
        ops.push("AES-GCM");
    }
    if caps.op_aes_xts {
        ops.push("XTS-AES");
    }
    if caps.op_hash {
        ops.push("SHA-3/SHAKE");
    }
    if caps.op_ml_kem {
        ops.push("ML-KEM");
    }
    if caps.key_store {
        ops.push("key slots");
    }
    let st = &id.status;
    let mut flags = Vec::new();
    for (on, name) in [
        (st.test_mode, "test-mode"),
        (st.queue_enabled, "queue-enabled"),
        (st.busy, "busy"),
        (st.fault, "fault"),
        (st.rng_ready, "rng-ready"),
        (st.rng_fault, "rng-fault"),
        (st.selftest_failed, "selftest-failed"),
        (st.zeroized, "zeroized"),
    ] {
        if on {
            flags.push(name);
        }
    }
    let text = format!(
        "device:           {}\n\
         design:           {} ({:#010x})\n\
         contract version: {}.{}\n\
         build hash:       {:016x}\n\
         test mode:        {}\n\
         operations:       {}\n\
         key slots:        {}\n\
         rings:            up to 2^{} entries\n\
         DMA beat:         {} bytes\n\
         status:           {:#010x} ({})\n\
         self-tests:       {}\n\
         random numbers:   {}\n\
         master key:       {}\n\
         initialised:      {}\n\
         cycles:           {}\n\
         jobs completed:   {}\n",
        id.device,
        id.design_name,
        id.design_id,
        id.contract_major,
        id.contract_minor,
        id.build_hash,
        if id.test_mode {
            "yes (plaintext key import/export allowed)"
        } else {
            "no"
        },
        ops.join(", "),
        caps.key_slots,
        caps.ring_max_log2,
        caps.dma_beat_bytes,
        st.raw,
        if flags.is_empty() {
            "idle".to_string()
        } else {
            flags.join(", ")
        },
        selftest_text(&id.selftest),
        if st.selftest_failed && rng == RngState::Failed {
            "FAILED: its known-answer test failed (see self-tests)"
        } else {
            rng_text(rng)
        },
        if st.zeroized {
            "none: the card is new or zeroized and holds no key"
        } else {
            "held (every key slot is sealed under it)"
        },
        auth_text(auth.as_ref()),
        id.cycles,
        id.jobs_completed,
    );
    let text = match image {
        Some((i, min)) => format!(
            "{text}image:            {}\n\
             security version: {} (the card refuses packages below {min})\n",
            match &i.manifest_sha384 {
                Some(h) => format!(
                    "package {} {}, build {:016x}, manifest SHA-384 {h}",
                    i.design, i.design_version, i.build_id
                ),
                None => format!("built-in (factory image), build {:016x}", i.build_id),
            },
            i.security_version,
        ),
        None => text,
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The `self-tests:` line of `hsmctl info`.
fn selftest_text(t: &hsm_driver::SelfTest) -> String {
    let failed = t.failed();
    if !failed.is_empty() {
        format!(
            "FAILED: the {} known-answer test{} failed. The card refuses every job (status SELFTEST_FAILED) until it is reset (a simulated card: `hsmctl sim stop`, then `hsmctl sim start`); if a test fails again after a reset, take the card out of service",
            failed.join(", "),
            if failed.len() == 1 { "" } else { "s" }
        )
    } else if t.done {
        "passed (known-answer tests at reset: CTR_DRBG, AES-256 key expansion, AES-256-GCM, XTS-AES-256, SHA3-256, SHAKE128, ML-KEM-512)".into()
    } else {
        "running (the known-answer tests run after every reset)".into()
    }
}

/// The `random numbers:` line of `hsmctl info`.
fn rng_text(rng: RngState) -> &'static str {
    match rng {
        RngState::Ready => "ready (SP 800-90A CTR_DRBG seeded from the card's noise source)",
        RngState::Seeding => {
            "seeding (the noise source's start-up test and the DRBG's instantiation run after every reset; jobs that need randomness wait for them)"
        }
        RngState::Failed => {
            "FAILED: the noise source failed its SP 800-90B health tests. The card makes no random numbers and no keys until it is reset (a simulated card: `hsmctl sim stop`, then `hsmctl sim start`); if it fails again after a reset, take the card out of service"
        }
    }
}

/// Write text to stdout (errors, such as a closed pipe, are returned).
pub fn print_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Write a JSON value and a newline to stdout.
pub fn print_json(v: &serde_json::Value) -> std::io::Result<()> {
    print_out(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn exit_code_for(e: &anyhow::Error) -> u8 {
    for c in e.chain() {
        if let Some(d) = c.downcast_ref::<hsm_driver::Error>() {
            if d.is_device_unavailable() {
                return exit::UNAVAILABLE;
            }
            if matches!(
                d,
                hsm_driver::Error::JobFailed { .. }
                    | hsm_driver::Error::SlotJobFailed { .. }
                    | hsm_driver::Error::PinIncorrect { .. }
            ) {
                return exit::JOB_FAILED;
            }
        }
        if c.downcast_ref::<filefmt::NotAuthentic>().is_some() {
            return exit::JOB_FAILED;
        }
        if c.downcast_ref::<bitstream::Refused>().is_some()
            || c.downcast_ref::<bitstream::NotLoadable>().is_some()
        {
            return exit::REFUSED;
        }
        if c.downcast_ref::<sim::NotRunning>().is_some()
            || c.downcast_ref::<bitstream::NoFpgaManager>().is_some()
        {
            return exit::UNAVAILABLE;
        }
        if c.downcast_ref::<UsageError>().is_some() {
            return exit::USAGE;
        }
    }
    exit::ERROR
}
