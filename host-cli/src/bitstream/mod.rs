//! `hsmctl bitstream ...`: signed card-image packages (the `hsm-bitstream`
//! library, formats in `docs/bitstream-package.md`).
//!
//! - `keygen` makes an ML-DSA-87 signing key: a passphrase-protected
//!   private key file and its public key file;
//! - `sign` signs a package's manifest with it;
//! - `verify` checks a package against a trust directory: a signature by a
//!   trusted, unrevoked key, and every image against its manifest entry;
//! - `trust add|revoke|list` manage that trust directory.
//!
//! - `build` makes a package from this source tree, `load` verifies one
//!   and puts it on a card: the simulated card, or a real one through the
//!   Linux FPGA Manager (`--fpga-manager`, in [`fpga`]).
//!
//! A package that fails verification is refused with [`Refused`], one the
//! card does not take (policy) with [`NotLoadable`]; `hsmctl` turns both
//! into exit code [`crate::exit::REFUSED`].

mod fpga;
mod image;
mod passphrase;
mod sign;
mod trust;
mod verify;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use hsm_bitstream::VerifyError;

pub use fpga::NoFpgaManager;
pub use image::{BuildArgs, LoadArgs, NotLoadable};
pub use passphrase::PassphraseArg;
pub use sign::{KeygenArgs, SignArgs};
pub use trust::TrustCommand;
pub use verify::VerifyArgs;

/// The trust directory used when neither `--trust-dir` nor
/// [`TRUST_DIR_ENV`] names one.
pub const TRUST_DIR_DEFAULT: &str = "/etc/hsm/bitstream-trust";
/// The environment variable naming the trust directory.
pub const TRUST_DIR_ENV: &str = "HSM_TRUST_DIR";
/// The environment variable that makes `keygen` use the test-only Argon2id
/// parameters when set to `1`.
pub const INSECURE_FAST_KDF_ENV: &str = "HSM_INSECURE_FAST_KDF";

const AFTER_HELP: &str = "\
Trust directory (verify, trust): --trust-dir DIR, else $HSM_TRUST_DIR, else
/etc/hsm/bitstream-trust. It holds the trusted public keys (`*.pub`) and a
`revoked` file of key ids; `hsmctl bitstream trust add KEY.pub` creates it.
It and its files must not be writable by group or others.

Passphrases (keygen, sign): --passphrase-file FILE (`-`: standard input; one
trailing newline is removed), else asked on the terminal without echo; never
on the command line. New keys need at least 12 bytes.
HSM_INSECURE_FAST_KDF=1 makes keygen use the cheapest Argon2id parameters:
for tests only, such a key file's passphrase can be searched quickly.

Real cards (load): --fpga-manager DEV (e.g. fpga0, see /sys/class/fpga_manager)
loads the package's card.bit through the Linux FPGA Manager; the package must
be for target ecp5-lfe5um5g-85f. --device vfio:ADDR alone is not enough: name
the FPGA manager that programs that card. If a load fails after the kernel
started it, the FPGA may be unconfigured: load the previous package again
with --recover. The minimum security version of a real card is, for now, an
INTERIM RECORD ON THIS HOST, not on the card: --loader-state DIR (default
/var/lib/hsm/bitstream) holds DEV.security-version, read before the policy
check (missing: 0) and raised after each successful load. It protects only
against rollback through this host and this manager name, until the card
records the minimum itself.

Exit codes:
  0  success
  1  error (anything not listed below; a failed load on a real card)
  2  usage error (bad command line)
  3  (load) the card is unavailable: the simulated card is not running, or
     there is no such FPGA manager
  5  a package failed verification or policy: malformed, unsigned, signed by
     an unknown or revoked key, bad signature, an image that does not match
     the manifest, or (load) the wrong target or contract, a security version
     below the highest the card has accepted, or the card's own checks";

/// `hsmctl bitstream ...`
#[derive(Subcommand, Debug)]
pub enum BitstreamCommand {
    /// Build a card image package from this source tree (unsigned)
    #[command(after_help = AFTER_HELP)]
    Build(BuildArgs),
    /// Verify a package, check it against the card's policy, and load it
    #[command(after_help = AFTER_HELP)]
    Load(LoadArgs),
    /// Make an ML-DSA-87 signing key: a passphrase-protected private key
    /// file and the public key file beside it (.pub)
    #[command(after_help = AFTER_HELP)]
    Keygen(KeygenArgs),
    /// Sign a package's manifest with a signing key (replaces any
    /// signature)
    #[command(after_help = AFTER_HELP)]
    Sign(SignArgs),
    /// Verify a package against the trust directory and print its manifest
    #[command(after_help = AFTER_HELP)]
    Verify(VerifyArgs),
    /// Manage the trust directory: the keys whose packages verify
    #[command(subcommand, after_help = AFTER_HELP)]
    Trust(TrustCommand),
}

/// Run `hsmctl bitstream ...`.
pub fn run(cmd: BitstreamCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BitstreamCommand::Build(a) => image::build(&a),
        BitstreamCommand::Load(a) => image::load(&a),
        BitstreamCommand::Keygen(a) => sign::keygen(&a),
        BitstreamCommand::Sign(a) => sign::sign(&a),
        BitstreamCommand::Verify(a) => verify::run(&a),
        BitstreamCommand::Trust(cmd) => trust::run(cmd),
    }
}

/// Which trust directory to use.
#[derive(clap::Args, Debug, Clone)]
pub struct TrustDirArg {
    /// The trust directory: trusted `*.pub` key files and the `revoked`
    /// list [default: $HSM_TRUST_DIR, else /etc/hsm/bitstream-trust]
    #[arg(long, value_name = "DIR")]
    trust_dir: Option<PathBuf>,
}

impl TrustDirArg {
    /// `--trust-dir`, else `$HSM_TRUST_DIR` (if not empty), else
    /// [`TRUST_DIR_DEFAULT`].
    pub fn dir(&self) -> PathBuf {
        if let Some(d) = &self.trust_dir {
            return d.clone();
        }
        match std::env::var_os(TRUST_DIR_ENV) {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from(TRUST_DIR_DEFAULT),
        }
    }

    /// The directory, which must exist (for commands that read it).
    ///
    /// # Errors
    ///
    /// If it does not exist or is not a directory, saying how to make one.
    pub fn existing(&self) -> anyhow::Result<PathBuf> {
        let dir = self.dir();
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(dir),
            Ok(_) => anyhow::bail!(
                "the trust directory {} is not a directory; pass --trust-dir DIR or set {TRUST_DIR_ENV}",
                dir.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
                "the trust directory {d} does not exist: create it by trusting a key with \
                 `hsmctl bitstream trust add SIGNER.pub --trust-dir {d}`, or name another \
                 with --trust-dir DIR or {TRUST_DIR_ENV}",
                d = dir.display()
            ),
            Err(e) => Err(anyhow::Error::new(e)
                .context(format!("reading the trust directory {}", dir.display()))),
        }
    }
}

/// Loads the trust directory named by `arg`, which must exist; `what`
/// names the command's action for the message ("verifies", "loads").
fn load_trust(
    arg: &TrustDirArg,
    what: &str,
) -> anyhow::Result<(hsm_bitstream::TrustStore, PathBuf)> {
    let dir = arg.existing()?;
    let trust = hsm_bitstream::TrustStore::load_dir(&dir)
        .map_err(flat)
        .with_context(|| {
            format!(
                "loading the trust directory {} (fix or remove the file named; nothing {what} \
                 until it does)",
                dir.display()
            )
        })?;
    Ok((trust, dir))
}

/// Reads a package file. A malformed one is a [`Refused`] (exit code 5);
/// `Err(Ok(e))` is any other failure to read it.
fn read_package(path: &Path, trust_dir: &Path) -> Result<hsm_bitstream::Package, ReadFailure> {
    match hsm_bitstream::Package::read_file(path) {
        Ok(p) => Ok(p),
        Err(hsm_bitstream::ReadError::Format { path, source }) => Err(ReadFailure::Refused(
            Refused::new(&path, VerifyError::Format(source), Some(trust_dir)),
        )),
        Err(e) => Err(ReadFailure::Other(flat(e))),
    }
}

/// Why [`read_package`] failed.
enum ReadFailure {
    /// The file is not a well-formed package.
    Refused(Refused),
    /// It could not be read.
    Other(anyhow::Error),
}

/// A package was refused: it is malformed, or did not verify. `hsmctl`
/// exits with [`crate::exit::REFUSED`]. The message names the package,
/// what failed and what to do.
#[derive(Debug)]
pub struct Refused {
    /// The package file.
    pub path: PathBuf,
    /// What failed.
    pub reason: VerifyError,
    /// The trust directory used, if one was.
    pub trust_dir: Option<PathBuf>,
}

impl Refused {
    /// A refusal of the package at `path`.
    pub fn new(path: &Path, reason: VerifyError, trust_dir: Option<&Path>) -> Refused {
        Refused {
            path: path.to_owned(),
            reason,
            trust_dir: trust_dir.map(Path::to_owned),
        }
    }

    /// A short name of the failure, for `--json`.
    pub fn kind(&self) -> &'static str {
        match &self.reason {
            VerifyError::Format(_) => "malformed",
            VerifyError::Unsigned => "unsigned",
            VerifyError::UnknownKey { .. } => "unknown-key",
            VerifyError::RevokedKey { .. } => "revoked-key",
            VerifyError::BadSignature { .. } => "bad-signature",
            VerifyError::ImageMissing { .. } => "image-missing",
            VerifyError::ImageUnexpected { .. } => "image-unexpected",
            VerifyError::ImageSize { .. } => "image-size",
            VerifyError::ImageHash { .. } => "image-hash",
        }
    }

    /// What the operator should do about it.
    fn advice(&self) -> String {
        match &self.reason {
            VerifyError::Format(_) => {
                "the file is damaged, truncated or not a bitstream package: do not load it; \
                 get an intact copy or build it again"
                    .into()
            }
            VerifyError::Unsigned => {
                "sign it with `hsmctl bitstream sign --key KEYFILE PKG`".into()
            }
            VerifyError::UnknownKey { .. } => format!(
                "if you trust that key, add its public key with `hsmctl bitstream trust add \
                 SIGNER.pub`; the trust directory used was {}",
                self.trust_dir_text()
            ),
            VerifyError::RevokedKey { .. } => {
                "do not load it; have the package signed again with a current key".into()
            }
            VerifyError::BadSignature { .. } => {
                "the package was altered or damaged after it was signed: do not load it; \
                 get an intact copy"
                    .into()
            }
            VerifyError::ImageMissing { .. }
            | VerifyError::ImageUnexpected { .. }
            | VerifyError::ImageSize { .. }
            | VerifyError::ImageHash { .. } => {
                "the images are not the ones the manifest vouches for: the package was \
                 altered or damaged; do not load it, get an intact copy"
                    .into()
            }
        }
    }

    fn trust_dir_text(&self) -> String {
        match &self.trust_dir {
            Some(d) => d.display().to_string(),
            None => "(none)".into(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} refused: {}; {}",
            self.path.display(),
            self.reason,
            self.advice()
        )
    }
}

// The reason is part of the message, so it is not also a `source` (the
// error chain would print it twice).
impl std::error::Error for Refused {}

/// A library error as one message. Its `Display` already ends with its
/// cause (`PATH: CAUSE`), which the error chain would print a second time.
fn flat(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
