//! `hsmctl bitstream load --fpga-manager DEV`: putting a verified package
//! on a real card through the Linux FPGA Manager
//! ([`hsm_bitstream::fpga_manager`]; the kernel interface and the procedure
//! are in `docs/bitstream-package.md`, "Loading a real card").
//!
//! The flow, after [`super::image::load`] has verified the package:
//!
//! 1. find the manager (its `name`) and read the interim security version
//!    record, `<loader-state>/<DEV>.security-version` (missing: 0);
//! 2. apply the load policy for the card's target, [`ECP5_TARGET`], with
//!    that minimum: a refusal exits with [`crate::exit::REFUSED`] and
//!    touches nothing;
//! 3. load the bitstream ([`FpgaManager::load_verified`]), one progress
//!    line per step on stderr;
//! 4. raise the record to the package's security version (atomically), and
//!    only after a successful load;
//! 5. print the report.
//!
//! # The interim security version record
//!
//! Rollback protection needs the highest security version the card has
//! accepted. The simulated card keeps it itself; a real card will once it
//! has persistent state. Until then this module keeps it on the host, one
//! file per FPGA manager. That is weaker than a record on the card: anyone
//! who can write the file (root), another host, or a renumbered manager
//! (`fpga0` is the kernel's name of the moment) gets around it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hsm_bitstream::fpga_manager::{
    fpga_image, FpgaError, FpgaManager, LoadReport, LoadStep, ECP5_TARGET, FPGA_MANAGER_CLASS,
};
use hsm_bitstream::{write_atomic, LoadPolicy, Overwrite, PolicyError, Verified};
use hsm_driver::DeviceSpec;

use super::hex;
use super::image::NotLoadable;
use super::verify::{manifest_json, manifest_text};
use crate::{print_json, print_out, DeviceArg, UsageError};

/// Where the interim security version records live by default.
pub const LOADER_STATE_DEFAULT: &str = "/var/lib/hsm/bitstream";
/// The suffix of a record's file name: `<DEV>.security-version`.
pub const RECORD_SUFFIX: &str = ".security-version";
/// Longest record file read (a `u32` in decimal and a newline fit easily).
const RECORD_MAX: u64 = 64;

/// The options of `hsmctl bitstream load` for a real card.
#[derive(Args, Debug)]
pub struct FpgaArgs {
    /// Load a real card: the Linux FPGA manager that programs its FPGA, a
    /// device under /sys/class/fpga_manager (e.g. fpga0). The package must
    /// be for the card's target (ecp5-lfe5um5g-85f) and carry its bitstream
    /// as the image card.bit
    #[arg(long, value_name = "DEV")]
    pub fpga_manager: Option<String>,
    /// The directory standing for / when looking for sysfs and the firmware
    /// directory (for tests and chroots)
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub sysfs_root: PathBuf,
    /// Stage the bitstream in this directory, which must be in the kernel's
    /// firmware search path [default: the directory in
    /// /sys/module/firmware_class/parameters/path if set, else /lib/firmware]
    #[arg(long, value_name = "DIR", requires = "fpga_manager")]
    pub firmware_dir: Option<PathBuf>,
    /// Recovery: load even though the FPGA manager reports an error state.
    /// Use it to load the previous (known-good) package again after a
    /// failed load, which may have left the FPGA unconfigured
    #[arg(long, requires = "fpga_manager")]
    pub recover: bool,
    /// How long to wait for the FPGA to reach "operating" once the kernel
    /// has started the load
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600),
          requires = "fpga_manager")]
    pub timeout: u64,
    /// Where the interim, host-side record of the highest security version
    /// loaded onto each FPGA is kept: DIR/DEV.security-version. Until the
    /// card records it itself, the rollback check of a real card relies on
    /// this file
    #[arg(long, value_name = "DIR", default_value = LOADER_STATE_DEFAULT,
          requires = "fpga_manager")]
    pub loader_state: PathBuf,
}

/// No FPGA manager of that name (or none at all): `hsmctl` exits with
/// [`crate::exit::UNAVAILABLE`].
#[derive(Debug)]
pub struct NoFpgaManager(pub String);

impl std::fmt::Display for NoFpgaManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoFpgaManager {}

/// Which way `hsmctl bitstream load` goes, from `--device` and
/// `--fpga-manager`: `Some(manager)` for a real card, `None` for a
/// simulated one.
///
/// # Errors
///
/// A [`UsageError`] if `--fpga-manager` comes with a simulated card, or a
/// real card (`vfio:ADDR`) comes without it; the latter lists the FPGA
/// managers there are.
pub fn route<'a>(device: &DeviceArg, a: &'a FpgaArgs) -> anyhow::Result<Option<&'a str>> {
    match (a.fpga_manager.as_deref(), device.given()) {
        (Some(_), Some(spec @ DeviceSpec::Sim(_))) => Err(UsageError(format!(
            "--fpga-manager loads a real card and cannot be used with the simulated card \
             {spec}: leave out --fpga-manager to load the simulated card, or --device to load \
             the real one"
        ))
        .into()),
        (Some(manager), _) => Ok(Some(manager)),
        (None, Some(DeviceSpec::Vfio(addr))) => Err(UsageError(format!(
            "card vfio:{addr} is loaded through the Linux FPGA manager that programs its FPGA: \
             name it with --fpga-manager DEV ({})",
            available(&a.sysfs_root)
        ))
        .into()),
        (None, _) => Ok(None),
    }
}

/// The FPGA managers under `root`, for messages.
fn available(root: &Path) -> String {
    let class = root.join(FPGA_MANAGER_CLASS);
    match FpgaManager::find(root) {
        Ok(found) if found.is_empty() => format!(
            "there are none under {}: is the card's FPGA manager driver loaded?",
            class.display()
        ),
        Ok(found) => {
            let list: Vec<String> = found
                .iter()
                .map(|m| {
                    let state = m
                        .state
                        .as_ref()
                        .map_or("unreadable".into(), |s| s.to_string());
                    format!("{} ({}, {state})", m.device, m.name)
                })
                .collect();
            format!(
                "found under {}: {}; `ls -l {}/*/device` shows the device each belongs to",
                class.display(),
                list.join(", "),
                class.display()
            )
        }
        Err(e) => format!("listing them failed: {e}"),
    }
}

/// The interim, host-side record of the highest security version loaded
/// onto one FPGA: a file holding the number in decimal and a newline.
#[derive(Debug)]
pub struct SecurityVersionRecord {
    path: PathBuf,
}

impl SecurityVersionRecord {
    /// The record of `manager` in `dir`. `manager` must be a plain device
    /// name (checked by [`FpgaManager::name`] before this is used).
    pub fn new(dir: &Path, manager: &str) -> SecurityVersionRecord {
        SecurityVersionRecord {
            path: dir.join(format!("{manager}{RECORD_SUFFIX}")),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The recorded minimum: 0 if there is no record yet.
    ///
    /// # Errors
    ///
    /// If the file cannot be read or does not hold a number: nothing is
    /// loaded then (a damaged record must not lower the minimum).
    pub fn read(&self) -> anyhow::Result<u32> {
        use std::io::Read as _;
        let mut text = String::new();
        match std::fs::File::open(&self.path) {
            Ok(f) => f
                .take(RECORD_MAX)
                .read_to_string(&mut text)
                .with_context(|| format!("reading {}", self.path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "reading the security version record {}; nothing was loaded",
                    self.path.display()
                )))
            }
        };
        text.trim().parse::<u32>().map_err(|_| {
            anyhow::anyhow!(
                "{} does not hold a security version (one decimal number): it is the record of \
                 the highest security version loaded onto this FPGA; write the security version \
                 of the package the card runs into it, then try again. Nothing was loaded",
                self.path.display()
            )
        })
    }

    /// Records `version`: creates the directory if needed, then writes the
    /// file atomically (temporary file, fsync, rename, directory fsync).
    ///
    /// # Errors
    ///
    /// The I/O error, naming the file.
    pub fn write(&self, version: u32) -> anyhow::Result<()> {
        self.ensure_dir()?;
        write_atomic(
            &self.path,
            format!("{version}\n").as_bytes(),
            0o644,
            Overwrite::Replace,
        )
        .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Creates the record's directory if it does not exist.
    ///
    /// # Errors
    ///
    /// The I/O error, naming the directory.
    pub fn ensure_dir(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "creating the loader state directory {} (choose another with --loader-state DIR)",
                dir.display()
            )
        })
    }
}

/// Loads `verified` (read from `package`) through the FPGA manager
/// `manager`; `card` is the `--device` given, if any, for the report.
///
/// # Errors
///
/// [`NotLoadable`] if the policy refuses the package, [`NoFpgaManager`] if
/// there is no such manager, otherwise an error that says whether the card
/// still runs its previous image or may be unconfigured, and what to do.
pub fn load(
    a: &FpgaArgs,
    manager: &str,
    card: Option<&DeviceSpec>,
    package: &Path,
    verified: &Verified<'_>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut fpga = FpgaManager::with_root(&a.sysfs_root, manager)
        .timeout(Duration::from_secs(a.timeout))
        .allow_error_state(a.recover);
    if let Some(dir) = &a.firmware_dir {
        fpga = fpga.firmware_dir(dir);
    }
    let driver = fpga
        .name()
        .map_err(|e| load_error(e, package, manager, None))?;
    let record = SecurityVersionRecord::new(&a.loader_state, manager);
    let minimum = record.read()?;
    let policy = LoadPolicy::for_driver(ECP5_TARGET, minimum);
    let manifest = verified.manifest();
    verified
        .check_policy(&policy)
        .map_err(|e| refused(package, &e, &record))?;
    fpga_image(verified).map_err(|e| load_error(e, package, manager, None))?;
    // A state directory that cannot be made would only show after the
    // load; find out while the card is still untouched.
    record.ensure_dir().context("nothing was loaded")?;

    eprintln!(
        "hsmctl: loading {} onto {manager} ({driver}){}",
        package.display(),
        if a.recover {
            ", recovery: an error state is accepted"
        } else {
            ""
        }
    );
    let mut progress = |step: &LoadStep| eprintln!("hsmctl: {}", step_text(manager, step));
    let report = fpga
        .load_verified(verified, &policy, &mut progress)
        .map_err(|e| load_error(e, package, manager, Some(&record)))?;
    if let Some((path, err)) = &report.leftover {
        eprintln!(
            "hsmctl: warning: could not remove the staged bitstream {}: {err}; delete it by hand",
            path.display()
        );
    }

    let raised = manifest.security_version > minimum;
    if raised {
        record.write(manifest.security_version).with_context(|| {
            format!(
                "{manager} now runs {} (security version {}), but raising the record of the \
                 highest security version loaded failed: write {} into {} by hand, or older \
                 packages stay loadable",
                package.display(),
                manifest.security_version,
                manifest.security_version,
                record.path().display()
            )
        })?;
    }

    if json {
        print_json(&serde_json::json!({
            "device": card.map(ToString::to_string),
            "fpga_manager": {
                "device": report.device,
                "name": driver,
                "sysfs": fpga.device_dir(),
            },
            "loaded": true,
            "recover": a.recover,
            "firmware": {
                "name": report.firmware_name,
                "path": report.firmware_path,
                "sha384": hex(&report.sha384),
                "removed": report.leftover.is_none(),
            },
            "previous_state": report.previous_state.as_str(),
            "states": report.states.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "final_state": report.final_state.as_str(),
            "elapsed_ms": report.elapsed.as_millis() as u64,
            "key_id": verified.key_id().to_string(),
            "security_version_record": {
                "path": record.path(),
                "interim": true,
                "previous": minimum,
                "now": minimum.max(manifest.security_version),
                "raised": raised,
            },
            "manifest": manifest_json(manifest),
        }))?;
    } else {
        print_out(&report_text(
            package, card, &driver, &report, verified, &record, minimum,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One progress line.
fn step_text(manager: &str, step: &LoadStep) -> String {
    match step {
        LoadStep::Checked { state } => {
            format!("{manager} is \"{state}\"; the checks passed")
        }
        LoadStep::Staged { path } => format!("staged the bitstream as {}", path.display()),
        LoadStep::Triggered { firmware_name } => format!(
            "asked the kernel to load {firmware_name}: the FPGA's previous image is gone from here on"
        ),
        LoadStep::State { state } => format!("{manager}: {state}"),
        LoadStep::Removed { path } => format!("removed {}", path.display()),
    }
}

/// A policy refusal: exit 5, nothing touched.
fn refused(package: &Path, e: &PolicyError, record: &SecurityVersionRecord) -> anyhow::Error {
    let from = match e {
        PolicyError::SecurityVersion { .. } => format!(
            " (the minimum is the highest security version loaded onto this FPGA, kept in the \
             interim host-side record {})",
            record.path().display()
        ),
        _ => String::new(),
    };
    NotLoadable(format!(
        "{} refused: {e}{from}; the card was not touched",
        package.display()
    ))
    .into()
}

/// An [`FpgaError`] as the operator needs it: whether the card still runs
/// its previous image, and what to do.
fn load_error(
    e: FpgaError,
    package: &Path,
    manager: &str,
    record: Option<&SecurityVersionRecord>,
) -> anyhow::Error {
    let recover =
        format!("hsmctl bitstream load PREVIOUS-PACKAGE --fpga-manager {manager} --recover");
    match e {
        FpgaError::Policy(p) => NotLoadable(format!(
            "{} refused: {p}; the card was not touched",
            package.display()
        ))
        .into(),
        FpgaError::NoBitstreamImage { .. } => NotLoadable(format!(
            "{} refused: {e}; the card was not touched",
            package.display()
        ))
        .into(),
        FpgaError::NoSuchManager { .. } => NoFpgaManager(e.to_string()).into(),
        FpgaError::ErrorState { .. } => anyhow::anyhow!(
            "{e}. Nothing was loaded. To load the previous package again: `{recover}`"
        ),
        FpgaError::Busy { .. } => anyhow::anyhow!("{e}. Nothing was loaded by this command"),
        e if e.card_untouched() => {
            anyhow::anyhow!("{e}. Nothing was loaded: the card still runs its previous image")
        }
        e => {
            let unchanged = record
                .map(|r| format!(" The record {} was not changed.", r.path().display()))
                .unwrap_or_default();
            anyhow::anyhow!(
                "loading {} onto {manager} failed: {e}: `{recover}`.{unchanged}",
                package.display()
            )
        }
    }
}

/// The text report of a successful load.
fn report_text(
    package: &Path,
    card: Option<&DeviceSpec>,
    driver: &str,
    report: &LoadReport,
    verified: &Verified<'_>,
    record: &SecurityVersionRecord,
    minimum: u32,
) -> String {
    let m = verified.manifest();
    let card = card.map(|c| format!(", card {c}")).unwrap_or_default();
    let states: Vec<&str> = report.states.iter().map(|s| s.as_str()).collect();
    let now = minimum.max(m.security_version);
    let mut text = format!(
        "{} loaded onto {} ({driver}{card}): {} {}, build {:016x}, security version {}\n\
         firmware file:    {} ({})\n\
         states:           {} in {:.2} s (was {})\n\
         signed by key:    {}\n\
         minimum security version: {now}{} (interim record on this host, {}, until the card \
         records it itself)\n",
        package.display(),
        report.device,
        m.design,
        m.design_version,
        m.build_id,
        m.security_version,
        report.firmware_path.display(),
        if report.leftover.is_none() {
            "removed after the load"
        } else {
            "NOT removed: delete it by hand"
        },
        states.join(" -> "),
        report.elapsed.as_secs_f64(),
        report.previous_state,
        verified.key_id(),
        if now > minimum {
            format!(", raised from {minimum}")
        } else {
            String::new()
        },
        record.path().display(),
    );
    text.push_str(&manifest_text(m));
    text
}
