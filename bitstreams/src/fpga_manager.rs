//! Loading a verified bitstream onto a real card through the Linux FPGA
//! Manager framework.
//!
//! # The kernel interface
//!
//! Each FPGA the kernel can program is a device of the class
//! `fpga_manager`, `/sys/class/fpga_manager/<dev>/` (`fpga0`, `fpga1`...),
//! with the attributes
//!
//! - `name`: the low-level driver's name for the device;
//! - `state`: one of the strings of [`FpgaState`] (`operating` once an
//!   image runs, `write init`, `write`... while one is being written, and
//!   an `... error` state after a failed load, which stays until the next
//!   load);
//! - `status`: after a failure, the driver's reasons, one per line
//!   (`reconfig CRC error`...), empty otherwise (not every driver has it);
//! - `flags` (vendor kernels): the `FPGA_MGR_*` flags of the next load, in
//!   hexadecimal; 0 is a full reconfiguration.
//!
//! The kernel never reads a bitstream from user memory: it asks the
//! firmware loader for a *file name*, which it looks up in the firmware
//! search path: the directory in `/sys/module/firmware_class/parameters/path`
//! if that is set, then `/lib/firmware/updates/<release>`,
//! `/lib/firmware/updates`, `/lib/firmware/<release>` and `/lib/firmware`.
//!
//! Two ways start a load:
//!
//! 1. **The `firmware` attribute** that the Xilinx/AMD and Intel SoCFPGA
//!    kernel trees add to the fpga_manager device: writing a file name to it
//!    programs the FPGA with that file, and the write returns when the load
//!    has finished (its error is the load's error). [`FpgaManager::load`]
//!    uses this.
//! 2. **A device-tree overlay** on an fpga-region, mainline's way: an
//!    overlay whose fragment sets `firmware-name` on the region, applied by
//!    creating `/sys/kernel/config/device-tree/overlays/<name>/` and writing
//!    the `.dtbo` to its `dtbo` attribute (or its path to `path`); removing
//!    the directory removes the overlay. This module does not do it yet. It
//!    would share every step of [`FpgaManager::load`] but the trigger: the
//!    checks, the staged firmware file (a [`StagedFirmware`]) and the
//!    polling of `state`, so it can be added as a second trigger method
//!    without changing the API here.
//!
//! # What a failed load leaves behind
//!
//! [`FpgaManager::load`] makes every check it can *before* it asks the
//! kernel for anything: the image name and size, the manager, its state,
//! the `firmware` attribute, the firmware directory, and the staged file
//! written and synced. A load refused by one of those checks leaves the
//! card running its previous image ([`FpgaError::card_untouched`] is true).
//!
//! Once the kernel has started writing, the FPGA's old configuration is
//! gone: a failure from then on (the kernel's error, an error state, a
//! timeout) leaves the FPGA unconfigured or in an unknown state on real
//! hardware. The operator should load the previous package again. The
//! manager then reports an error state, which [`FpgaManager::load`]
//! refuses by default; [`FpgaManager::allow_error_state`] is the recovery
//! switch that accepts it.
//!
//! One load at a time: the kernel serialises loads on one manager, but two
//! loaders of the same image on the same host would share its staged file
//! name.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::atomic::{write_atomic, Overwrite};
use crate::codec::{check_string, hex, CharClass};
use crate::error::PolicyError;
use crate::limits;
use crate::manifest::sha384;
use crate::package::{Image, Verified};
use crate::policy::LoadPolicy;

/// The class directory of the FPGA managers, relative to the root.
pub const FPGA_MANAGER_CLASS: &str = "sys/class/fpga_manager";
/// The kernel parameter that adds a directory in front of the firmware
/// search path, relative to the root.
pub const FIRMWARE_PATH_PARAMETER: &str = "sys/module/firmware_class/parameters/path";
/// The default firmware directory, relative to the root.
pub const DEFAULT_FIRMWARE_DIR: &str = "lib/firmware";
/// The kernel release (`uname -r`), relative to the root: the firmware
/// search path has directories named after it.
pub const OS_RELEASE: &str = "proc/sys/kernel/osrelease";
/// The name of the bitstream image in a package for an FPGA target.
pub const FPGA_IMAGE_NAME: &str = "card.bit";
/// The manifest target of the real card's FPGA, a Lattice ECP5
/// LFE5UM5G-85F: the target [`FpgaManager::load_verified`]'s caller puts in
/// its [`LoadPolicy`] for that card.
pub const ECP5_TARGET: &str = "ecp5-lfe5um5g-85f";
/// The prefix of the firmware files this module stages.
pub const STAGED_PREFIX: &str = "hsm-";

/// Longest attribute value read: sysfs attributes are at most one page.
const ATTRIBUTE_MAX: usize = 4096;
/// The kernel copies the firmware name into a `NAME_MAX` buffer.
const FIRMWARE_NAME_MAX: usize = 255;

/// The state of an FPGA manager, as its `state` attribute reads (the
/// strings of the kernel's `fpga-mgr.c`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FpgaState {
    /// `unknown`: the driver cannot tell (many report this until their
    /// first load).
    Unknown,
    /// `power off`.
    PowerOff,
    /// `power up`.
    PowerUp,
    /// `reset`.
    Reset,
    /// `firmware request`: the kernel is reading the firmware file.
    FirmwareRequest,
    /// `firmware request error`: the kernel could not read it.
    FirmwareRequestError,
    /// `write init`: preparing the FPGA for the bitstream.
    WriteInit,
    /// `write init error`.
    WriteInitError,
    /// `write`: writing the bitstream.
    Write,
    /// `write error`.
    WriteError,
    /// `write complete`: finishing the load.
    WriteComplete,
    /// `write complete error`.
    WriteCompleteError,
    /// `operating`: an image runs.
    Operating,
    /// A string this module does not know.
    Other(String),
}

impl FpgaState {
    /// Parses a `state` attribute's value (surrounding white space
    /// ignored).
    pub fn parse(text: &str) -> FpgaState {
        match text.trim() {
            "unknown" => FpgaState::Unknown,
            "power off" => FpgaState::PowerOff,
            "power up" => FpgaState::PowerUp,
            "reset" => FpgaState::Reset,
            "firmware request" => FpgaState::FirmwareRequest,
            "firmware request error" => FpgaState::FirmwareRequestError,
            "write init" => FpgaState::WriteInit,
            "write init error" => FpgaState::WriteInitError,
            "write" => FpgaState::Write,
            "write error" => FpgaState::WriteError,
            "write complete" => FpgaState::WriteComplete,
            "write complete error" => FpgaState::WriteCompleteError,
            "operating" => FpgaState::Operating,
            other => FpgaState::Other(other.to_owned()),
        }
    }

    /// The kernel's string for the state.
    pub fn as_str(&self) -> &str {
        match self {
            FpgaState::Unknown => "unknown",
            FpgaState::PowerOff => "power off",
            FpgaState::PowerUp => "power up",
            FpgaState::Reset => "reset",
            FpgaState::FirmwareRequest => "firmware request",
            FpgaState::FirmwareRequestError => "firmware request error",
            FpgaState::WriteInit => "write init",
            FpgaState::WriteInitError => "write init error",
            FpgaState::Write => "write",
            FpgaState::WriteError => "write error",
            FpgaState::WriteComplete => "write complete",
            FpgaState::WriteCompleteError => "write complete error",
            FpgaState::Operating => "operating",
            FpgaState::Other(s) => s,
        }
    }

    /// An error state: the last load failed (the FPGA may be unconfigured).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            FpgaState::FirmwareRequestError
                | FpgaState::WriteInitError
                | FpgaState::WriteError
                | FpgaState::WriteCompleteError
        ) || matches!(self, FpgaState::Other(s) if s.ends_with(" error"))
    }

    /// A load is in progress.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            FpgaState::FirmwareRequest
                | FpgaState::WriteInit
                | FpgaState::Write
                | FpgaState::WriteComplete
        )
    }

    /// A settled state in which a load may start: `unknown`, `power off`,
    /// `power up`, `reset` or `operating`.
    pub fn accepts_load(&self) -> bool {
        matches!(
            self,
            FpgaState::Unknown
                | FpgaState::PowerOff
                | FpgaState::PowerUp
                | FpgaState::Reset
                | FpgaState::Operating
        )
    }
}

impl std::fmt::Display for FpgaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An FPGA manager found by [`FpgaManager::find`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerInfo {
    /// The device, e.g. `fpga0`.
    pub device: String,
    /// Its driver's name (the `name` attribute), empty if unreadable.
    pub name: String,
    /// Its state, if readable.
    pub state: Option<FpgaState>,
}

/// A step of [`FpgaManager::load`], reported as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadStep {
    /// The checks passed; the manager was in this state.
    Checked {
        /// The state before the load.
        state: FpgaState,
    },
    /// The bitstream was written (and synced) to this firmware file.
    Staged {
        /// The file.
        path: PathBuf,
    },
    /// The firmware name was written to the `firmware` attribute: the
    /// kernel has started; the FPGA's previous image is gone.
    Triggered {
        /// The firmware file name written.
        firmware_name: String,
    },
    /// The manager's state changed.
    State {
        /// The new state.
        state: FpgaState,
    },
    /// The staged firmware file was removed.
    Removed {
        /// The file.
        path: PathBuf,
    },
}

/// What a successful [`FpgaManager::load`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// The manager, e.g. `fpga0`.
    pub device: String,
    /// The firmware file name given to the kernel.
    pub firmware_name: String,
    /// Where the file was staged (removed again unless `leftover` says
    /// otherwise).
    pub firmware_path: PathBuf,
    /// SHA-384 of the bitstream loaded.
    pub sha384: crate::Sha384Digest,
    /// The state before the load.
    pub previous_state: FpgaState,
    /// The state at the end: [`FpgaState::Operating`].
    pub final_state: FpgaState,
    /// Every state seen after the trigger, in order, without repeats.
    pub states: Vec<FpgaState>,
    /// From the trigger to `operating`.
    pub elapsed: Duration,
    /// The staged file if removing it failed (the load itself succeeded),
    /// with the error: delete it by hand.
    pub leftover: Option<(PathBuf, String)>,
}

/// Why an FPGA could not be found, read or loaded. Every message names the
/// file involved and says what to do; [`FpgaError::card_untouched`] tells
/// whether the card still runs its previous image.
#[derive(Debug, thiserror::Error)]
pub enum FpgaError {
    /// The image name cannot make a firmware file name.
    #[error("image name {name:?} is not allowed ({reason}); use 1 to 64 characters of A-Z a-z 0-9 . _ + -, not starting with '.'")]
    BadImageName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The device name is not a plain sysfs device name.
    #[error("FPGA manager name {device:?} is not a device name; give one of the names under {class} (e.g. fpga0)")]
    BadDevice {
        /// The name given.
        device: String,
        /// The class directory.
        class: PathBuf,
    },
    /// The bitstream is empty.
    #[error(
        "the bitstream for {name} is empty; refusing to load it (check the package's {name} image)"
    )]
    EmptyBitstream {
        /// The image name.
        name: String,
    },
    /// The bitstream is larger than an image may be.
    #[error("the bitstream for {name} is {len} bytes, more than the limit of {max}")]
    BitstreamTooLarge {
        /// The image name.
        name: String,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No such FPGA manager.
    #[error("{dir} does not exist: no FPGA manager {device} (found: {}); check the device name with `ls {}`, and that the card's FPGA manager driver is loaded", if found.is_empty() { "none".to_owned() } else { found.join(", ") }, dir.parent().unwrap_or(dir.as_path()).display())]
    NoSuchManager {
        /// The device name.
        device: String,
        /// The directory that does not exist.
        dir: PathBuf,
        /// The managers that do exist, as `device (name)`.
        found: Vec<String>,
    },
    /// The manager has no `firmware` attribute (a mainline kernel).
    #[error("{path} does not exist: this kernel has no firmware attribute on its FPGA manager (vendor kernels from Xilinx/AMD and Intel add it); load through a device-tree overlay on an fpga-region instead")]
    NoFirmwareAttribute {
        /// The missing attribute.
        path: PathBuf,
    },
    /// The manager reports an error state from an earlier failed load.
    #[error("{path} reads \"{state}\"{}: an earlier load failed and the FPGA may be unconfigured; load a known-good package (the previous one) with error states allowed (recovery)", status_suffix(status))]
    ErrorState {
        /// The `state` attribute.
        path: PathBuf,
        /// The state.
        state: FpgaState,
        /// The `status` attribute's text, if any.
        status: String,
    },
    /// A load is in progress.
    #[error(
        "{path} reads \"{state}\": a load is in progress; wait for it to finish and try again"
    )]
    Busy {
        /// The `state` attribute.
        path: PathBuf,
        /// The state.
        state: FpgaState,
    },
    /// The state is not one this module knows to be safe to load from.
    #[error("{path} reads \"{state}\", a state this loader does not know; refusing to load (check the driver)")]
    UnexpectedState {
        /// The `state` attribute.
        path: PathBuf,
        /// The state.
        state: FpgaState,
    },
    /// The firmware directory is missing or not a directory.
    #[error("firmware directory {dir}: {reason}; create it (the kernel's firmware loader must search it) or give another one")]
    FirmwareDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A different file of the same name is earlier in the kernel's
    /// firmware search path and would be loaded instead.
    #[error("{path} has the name of the staged bitstream but other contents, and the kernel would load it instead of {staged_dir}/{name}; remove it")]
    Shadowed {
        /// The shadowing file.
        path: PathBuf,
        /// The directory the bitstream would be staged in.
        staged_dir: PathBuf,
        /// The firmware name.
        name: String,
    },
    /// Reading or writing a file failed before the kernel was asked for
    /// anything.
    #[error("{path}: {source} (check the file and its permissions; loading an FPGA needs root)")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The kernel refused the firmware name (the write to `firmware`
    /// failed): the load failed.
    #[error("{path}: the kernel failed to load {firmware_name}: {source}; state \"{state}\"{}. {AFTER_FAILURE}", status_suffix(status))]
    Trigger {
        /// The `firmware` attribute.
        path: PathBuf,
        /// The firmware name written.
        firmware_name: String,
        /// The write's error.
        source: std::io::Error,
        /// The state afterwards (empty if unreadable).
        state: String,
        /// The `status` text afterwards.
        status: String,
    },
    /// The manager went to an error state after the trigger.
    #[error(
        "{path} reads \"{state}\" after loading {firmware_name}{}. {AFTER_FAILURE}",
        status_suffix(status)
    )]
    LoadFailed {
        /// The `state` attribute.
        path: PathBuf,
        /// The firmware name.
        firmware_name: String,
        /// The error state.
        state: FpgaState,
        /// The `status` text.
        status: String,
    },
    /// The manager did not reach `operating` in time.
    #[error("{path} still reads \"{state}\" {waited:?} after loading {firmware_name}{}. {AFTER_FAILURE}", status_suffix(status))]
    Timeout {
        /// The `state` attribute.
        path: PathBuf,
        /// The firmware name.
        firmware_name: String,
        /// The last state read.
        state: FpgaState,
        /// The `status` text.
        status: String,
        /// How long the loader waited.
        waited: Duration,
    },
    /// Reading `state` failed after the trigger.
    #[error("{path}: {source} while loading {firmware_name}. {AFTER_FAILURE}")]
    LostState {
        /// The `state` attribute.
        path: PathBuf,
        /// The firmware name.
        firmware_name: String,
        /// The error.
        source: std::io::Error,
    },
    /// The package has no bitstream image for an FPGA.
    #[error("the package has no image {FPGA_IMAGE_NAME} (it has: {}); it is not a package for an FPGA card", images.join(", "))]
    NoBitstreamImage {
        /// The package's images.
        images: Vec<String>,
    },
    /// The load-time policy refused the package.
    #[error("refused by the load policy: {0}")]
    Policy(#[from] PolicyError),
}

/// What the operator should do after a failure once the kernel started.
const AFTER_FAILURE: &str =
    "The FPGA may now be unconfigured: load the previous package again (allowing the error state)";

fn status_suffix(status: &str) -> String {
    if status.is_empty() {
        String::new()
    } else {
        format!(" (status: {status})")
    }
}

impl FpgaError {
    /// True if the error came before the kernel was asked to load
    /// anything, so the card still runs its previous image (or, for
    /// [`FpgaError::ErrorState`] and [`FpgaError::Busy`], is as it was).
    /// False for [`FpgaError::Trigger`], [`FpgaError::LoadFailed`],
    /// [`FpgaError::Timeout`] and [`FpgaError::LostState`]: the FPGA may be
    /// unconfigured.
    pub fn card_untouched(&self) -> bool {
        !matches!(
            self,
            FpgaError::Trigger { .. }
                | FpgaError::LoadFailed { .. }
                | FpgaError::Timeout { .. }
                | FpgaError::LostState { .. }
        )
    }
}

/// One FPGA manager device, and how to load it.
#[derive(Clone, Debug)]
pub struct FpgaManager {
    root: PathBuf,
    firmware_dir: Option<PathBuf>,
    device: String,
    timeout: Duration,
    poll: Duration,
    allow_error_state: bool,
}

impl FpgaManager {
    /// How long [`FpgaManager::load`] waits for `operating` by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    /// How often it reads `state` by default.
    pub const DEFAULT_POLL: Duration = Duration::from_millis(50);

    /// The manager `device` (e.g. `fpga0`) of the running system.
    pub fn new(device: &str) -> FpgaManager {
        FpgaManager::with_root("/", device)
    }

    /// The manager `device` under another root directory: `root` stands
    /// for `/`, so the manager is `ROOT/sys/class/fpga_manager/DEVICE` and
    /// the default firmware directory `ROOT/lib/firmware` (for tests, and
    /// for a system whose sysfs is mounted elsewhere).
    pub fn with_root(root: impl Into<PathBuf>, device: &str) -> FpgaManager {
        FpgaManager {
            root: root.into(),
            firmware_dir: None,
            device: device.to_owned(),
            timeout: FpgaManager::DEFAULT_TIMEOUT,
            poll: FpgaManager::DEFAULT_POLL,
            allow_error_state: false,
        }
    }

    /// Stages bitstreams in `dir` instead of the default (the directory of
    /// `firmware_class.path` if set, else `ROOT/lib/firmware`). It must be
    /// in the kernel's firmware search path.
    pub fn firmware_dir(mut self, dir: impl Into<PathBuf>) -> FpgaManager {
        self.firmware_dir = Some(dir.into());
        self
    }

    /// How long [`FpgaManager::load`] waits for `operating` after the
    /// trigger.
    pub fn timeout(mut self, timeout: Duration) -> FpgaManager {
        self.timeout = timeout;
        self
    }

    /// How often [`FpgaManager::load`] reads `state` while waiting.
    pub fn poll(mut self, poll: Duration) -> FpgaManager {
        self.poll = poll;
        self
    }

    /// Recovery: whether [`FpgaManager::load`] may start from an error
    /// state left by a failed load (refused by default, because the card
    /// may then be unconfigured and the operator should know it).
    pub fn allow_error_state(mut self, allow: bool) -> FpgaManager {
        self.allow_error_state = allow;
        self
    }

    /// The device name, e.g. `fpga0`.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The device's sysfs directory.
    pub fn device_dir(&self) -> PathBuf {
        self.root.join(FPGA_MANAGER_CLASS).join(&self.device)
    }

    /// Lists the FPGA managers under `root` (`/` for the running system),
    /// sorted by device name. No class directory (no FPGA manager driver
    /// loaded) is an empty list.
    ///
    /// # Errors
    ///
    /// [`FpgaError::Io`] if the class directory cannot be read.
    pub fn find(root: &Path) -> Result<Vec<ManagerInfo>, FpgaError> {
        let class = root.join(FPGA_MANAGER_CLASS);
        let entries = match std::fs::read_dir(&class) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(FpgaError::Io {
                    path: class,
                    source,
                })
            }
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| FpgaError::Io {
                path: class.clone(),
                source,
            })?;
            let device = entry.file_name().to_string_lossy().into_owned();
            let dir = class.join(&device);
            found.push(ManagerInfo {
                name: read_attribute(&dir.join("name")).unwrap_or_default(),
                state: read_attribute(&dir.join("state"))
                    .ok()
                    .map(|s| FpgaState::parse(&s)),
                device,
            });
        }
        found.sort_by(|a, b| a.device.cmp(&b.device));
        Ok(found)
    }

    /// The driver's name for the device (its `name` attribute).
    ///
    /// # Errors
    ///
    /// [`FpgaError::NoSuchManager`] or [`FpgaError::Io`].
    pub fn name(&self) -> Result<String, FpgaError> {
        self.check_present()?;
        let path = self.device_dir().join("name");
        read_attribute(&path).map_err(|source| FpgaError::Io { path, source })
    }

    /// The manager's state (its `state` attribute).
    ///
    /// # Errors
    ///
    /// [`FpgaError::NoSuchManager`] or [`FpgaError::Io`].
    pub fn state(&self) -> Result<FpgaState, FpgaError> {
        self.check_present()?;
        let path = self.device_dir().join("state");
        read_attribute(&path)
            .map(|s| FpgaState::parse(&s))
            .map_err(|source| FpgaError::Io { path, source })
    }

    /// The `status` attribute's text (the driver's reasons for the last
    /// failure, one per line joined with `; `), empty if there is none or
    /// the attribute does not exist.
    pub fn status(&self) -> String {
        read_attribute(&self.device_dir().join("status"))
            .map(|s| {
                s.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    /// The directory bitstreams are staged in: the one given to
    /// [`FpgaManager::firmware_dir`], else the directory in
    /// `firmware_class.path` if set, else `ROOT/lib/firmware`.
    pub fn resolved_firmware_dir(&self) -> PathBuf {
        if let Some(dir) = &self.firmware_dir {
            return dir.clone();
        }
        match self.custom_firmware_path() {
            Some(dir) => dir,
            None => self.root.join(DEFAULT_FIRMWARE_DIR),
        }
    }

    /// The firmware name a bitstream is staged under:
    /// `hsm-<first 16 hex digits of its SHA-384>-<image name>`.
    pub fn firmware_name(image_name: &str, bitstream: &[u8]) -> String {
        format!(
            "{STAGED_PREFIX}{}-{image_name}",
            &hex(&sha384(bitstream))[..16]
        )
    }

    /// Programs the FPGA with `bitstream` through the `firmware` attribute:
    ///
    /// 1. checks the image name, the bitstream (not empty, within
    ///    [`limits::IMAGE_LEN`]), that the manager and its `firmware`
    ///    attribute exist, that its state accepts a load
    ///    ([`FpgaState::accepts_load`], or an error state with
    ///    [`FpgaManager::allow_error_state`]) and that the firmware
    ///    directory exists;
    /// 2. writes the bitstream atomically (temporary file, fsync, rename;
    ///    mode 0644) into the firmware directory as
    ///    [`FpgaManager::firmware_name`], after checking that no other file
    ///    of that name is earlier in the kernel's search path;
    /// 3. writes `0` (full reconfiguration) to `flags` if it exists;
    /// 4. writes the firmware name to `firmware`: from here on the FPGA's
    ///    previous configuration is gone;
    /// 5. reads `state` every poll interval until `operating` (success), an
    ///    error state or the timeout (failure);
    /// 6. removes the staged file, whatever happened.
    ///
    /// `progress` is called with each step as it happens.
    ///
    /// # Errors
    ///
    /// An [`FpgaError`] naming the file and the step that failed. If
    /// [`FpgaError::card_untouched`] is true the card runs what it ran
    /// before; otherwise it may be unconfigured: load the previous package
    /// again, with [`FpgaManager::allow_error_state`].
    pub fn load(
        &self,
        image_name: &str,
        bitstream: &[u8],
        progress: &mut dyn FnMut(&LoadStep),
    ) -> Result<LoadReport, FpgaError> {
        check_string(
            image_name.as_bytes(),
            "image name",
            1,
            limits::IDENT,
            CharClass::Ident,
        )
        .map_err(|e| FpgaError::BadImageName {
            name: image_name.to_owned(),
            reason: match e {
                crate::FormatError::TooLong { .. } => "longer than 64 bytes",
                crate::FormatError::BadField { reason, .. } => reason,
                _ => "malformed",
            },
        })?;
        if bitstream.is_empty() {
            return Err(FpgaError::EmptyBitstream {
                name: image_name.to_owned(),
            });
        }
        if bitstream.len() > limits::IMAGE_LEN {
            return Err(FpgaError::BitstreamTooLarge {
                name: image_name.to_owned(),
                len: bitstream.len(),
                max: limits::IMAGE_LEN,
            });
        }
        let previous_state = self.check_ready()?;
        let firmware_attr = self.device_dir().join("firmware");
        if firmware_attr.symlink_metadata().is_err() {
            return Err(FpgaError::NoFirmwareAttribute {
                path: firmware_attr,
            });
        }
        let dir = self.resolved_firmware_dir();
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(FpgaError::FirmwareDir {
                    dir,
                    reason: "not a directory".into(),
                })
            }
            Err(e) => {
                return Err(FpgaError::FirmwareDir {
                    dir,
                    reason: e.to_string(),
                })
            }
        }
        let firmware_name = FpgaManager::firmware_name(image_name, bitstream);
        debug_assert!(firmware_name.len() < FIRMWARE_NAME_MAX);
        self.check_not_shadowed(&dir, &firmware_name, bitstream)?;
        progress(&LoadStep::Checked {
            state: previous_state.clone(),
        });

        let staged = StagedFirmware::write(&dir, &firmware_name, bitstream)?;
        progress(&LoadStep::Staged {
            path: staged.path().to_owned(),
        });
        let result = self.trigger_and_wait(&firmware_name, &firmware_attr, progress);
        let firmware_path = staged.path().to_owned();
        let leftover = match staged.remove() {
            Ok(()) => {
                progress(&LoadStep::Removed {
                    path: firmware_path.clone(),
                });
                None
            }
            Err(e) => Some((firmware_path.clone(), e.to_string())),
        };
        let (states, elapsed) = result?;
        Ok(LoadReport {
            device: self.device.clone(),
            firmware_name,
            firmware_path,
            sha384: sha384(bitstream),
            previous_state,
            final_state: FpgaState::Operating,
            states,
            elapsed,
            leftover,
        })
    }

    /// Checks a verified package against `policy`, takes its bitstream
    /// ([`fpga_image`]) and loads it ([`FpgaManager::load`]).
    ///
    /// # Errors
    ///
    /// [`FpgaError::Policy`], [`FpgaError::NoBitstreamImage`], or those of
    /// [`FpgaManager::load`].
    pub fn load_verified(
        &self,
        package: &Verified<'_>,
        policy: &LoadPolicy,
        progress: &mut dyn FnMut(&LoadStep),
    ) -> Result<LoadReport, FpgaError> {
        package.check_policy(policy)?;
        let image = fpga_image(package)?;
        self.load(&image.name, &image.data, progress)
    }

    /// The device name is a plain name and its directory exists.
    fn check_present(&self) -> Result<(), FpgaError> {
        let class = self.root.join(FPGA_MANAGER_CLASS);
        if self.device.is_empty()
            || self.device.contains('/')
            || self.device == "."
            || self.device == ".."
        {
            return Err(FpgaError::BadDevice {
                device: self.device.clone(),
                class,
            });
        }
        let dir = self.device_dir();
        if dir.is_dir() {
            return Ok(());
        }
        let found = FpgaManager::find(&self.root)
            .unwrap_or_default()
            .into_iter()
            .map(|m| format!("{} ({})", m.device, m.name))
            .collect();
        Err(FpgaError::NoSuchManager {
            device: self.device.clone(),
            dir,
            found,
        })
    }

    /// The manager exists and its state accepts a load; returns the state.
    fn check_ready(&self) -> Result<FpgaState, FpgaError> {
        let state = self.state()?;
        let path = self.device_dir().join("state");
        if state.accepts_load() || (state.is_error() && self.allow_error_state) {
            Ok(state)
        } else if state.is_error() {
            Err(FpgaError::ErrorState {
                path,
                state,
                status: self.status(),
            })
        } else if state.is_busy() {
            Err(FpgaError::Busy { path, state })
        } else {
            Err(FpgaError::UnexpectedState { path, state })
        }
    }

    /// `firmware_class.path`, rebased under the root, if set.
    fn custom_firmware_path(&self) -> Option<PathBuf> {
        let value = read_attribute(&self.root.join(FIRMWARE_PATH_PARAMETER)).ok()?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        Some(self.root.join(value.trim_start_matches('/')))
    }

    /// The directories the kernel searches for firmware, in order.
    fn search_path(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        dirs.extend(self.custom_firmware_path());
        let base = self.root.join(DEFAULT_FIRMWARE_DIR);
        let release = read_attribute(&self.root.join(OS_RELEASE)).ok();
        let release = release.as_deref().map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = release {
            dirs.push(base.join("updates").join(r));
        }
        dirs.push(base.join("updates"));
        if let Some(r) = release {
            dirs.push(base.join(r));
        }
        dirs.push(base);
        dirs
    }

    /// No other file named `name` earlier in the search path than `dir`
    /// (if `dir` is in it at all) with contents other than `bitstream`.
    fn check_not_shadowed(
        &self,
        dir: &Path,
        name: &str,
        bitstream: &[u8],
    ) -> Result<(), FpgaError> {
        let dir_id = std::fs::canonicalize(dir).ok();
        for earlier in self.search_path() {
            if earlier == dir
                || (dir_id.is_some() && std::fs::canonicalize(&earlier).ok() == dir_id)
            {
                break;
            }
            let path = earlier.join(name);
            if path.symlink_metadata().is_err() {
                continue;
            }
            let same = std::fs::read(&path).is_ok_and(|b| b == bitstream);
            if !same {
                return Err(FpgaError::Shadowed {
                    path,
                    staged_dir: dir.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Steps 3 to 5 of [`FpgaManager::load`]: flags, trigger, wait.
    fn trigger_and_wait(
        &self,
        firmware_name: &str,
        firmware_attr: &Path,
        progress: &mut dyn FnMut(&LoadStep),
    ) -> Result<(Vec<FpgaState>, Duration), FpgaError> {
        let flags = self.device_dir().join("flags");
        if flags.symlink_metadata().is_ok() {
            write_attribute(&flags, "0").map_err(|source| FpgaError::Io {
                path: flags.clone(),
                source,
            })?;
        }
        let start = Instant::now();
        if let Err(source) = write_attribute(firmware_attr, firmware_name) {
            return Err(FpgaError::Trigger {
                path: firmware_attr.to_owned(),
                firmware_name: firmware_name.to_owned(),
                source,
                state: read_attribute(&self.device_dir().join("state")).unwrap_or_default(),
                status: self.status(),
            });
        }
        progress(&LoadStep::Triggered {
            firmware_name: firmware_name.to_owned(),
        });
        self.wait_operating(firmware_name, start, progress)
    }

    /// Reads `state` until `operating`, an error state or the timeout.
    fn wait_operating(
        &self,
        firmware_name: &str,
        start: Instant,
        progress: &mut dyn FnMut(&LoadStep),
    ) -> Result<(Vec<FpgaState>, Duration), FpgaError> {
        let path = self.device_dir().join("state");
        let mut states: Vec<FpgaState> = Vec::new();
        loop {
            let state = read_attribute(&path)
                .map(|s| FpgaState::parse(&s))
                .map_err(|source| FpgaError::LostState {
                    path: path.clone(),
                    firmware_name: firmware_name.to_owned(),
                    source,
                })?;
            if states.last() != Some(&state) {
                progress(&LoadStep::State {
                    state: state.clone(),
                });
                states.push(state.clone());
            }
            if state == FpgaState::Operating {
                return Ok((states, start.elapsed()));
            }
            if state.is_error() {
                return Err(FpgaError::LoadFailed {
                    path,
                    firmware_name: firmware_name.to_owned(),
                    state,
                    status: self.status(),
                });
            }
            let waited = start.elapsed();
            if waited >= self.timeout {
                return Err(FpgaError::Timeout {
                    path,
                    firmware_name: firmware_name.to_owned(),
                    state,
                    status: self.status(),
                    waited,
                });
            }
            std::thread::sleep(self.poll.min(self.timeout - waited));
        }
    }
}

/// The bitstream image of a verified package for an FPGA target: the image
/// named [`FPGA_IMAGE_NAME`] (`card.bit`). Its contents were checked
/// against the signed manifest by [`crate::Package::verify`].
///
/// # Errors
///
/// [`FpgaError::NoBitstreamImage`] listing the images the package has.
pub fn fpga_image<'a>(package: &Verified<'a>) -> Result<&'a Image, FpgaError> {
    package
        .package()
        .image(FPGA_IMAGE_NAME)
        .ok_or_else(|| FpgaError::NoBitstreamImage {
            images: package.images().iter().map(|i| i.name.clone()).collect(),
        })
}

/// A bitstream written into the firmware directory for the kernel to read.
/// Dropping it removes the file; [`StagedFirmware::remove`] does so and
/// reports the error.
#[derive(Debug)]
pub struct StagedFirmware {
    path: PathBuf,
    removed: bool,
}

impl StagedFirmware {
    /// Writes `bitstream` to `dir/name` atomically, mode 0644 (less the
    /// umask), replacing a file of that name (the name is derived from the
    /// contents, so it can only be an earlier copy).
    ///
    /// # Errors
    ///
    /// [`FpgaError::Io`] naming the file.
    pub fn write(dir: &Path, name: &str, bitstream: &[u8]) -> Result<StagedFirmware, FpgaError> {
        let path = dir.join(name);
        write_atomic(&path, bitstream, 0o644, Overwrite::Replace).map_err(|source| {
            FpgaError::Io {
                path: path.clone(),
                source,
            }
        })?;
        Ok(StagedFirmware {
            path,
            removed: false,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file.
    ///
    /// # Errors
    ///
    /// The I/O error (a file already gone is not one).
    pub fn remove(mut self) -> std::io::Result<()> {
        self.removed = true;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for StagedFirmware {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads a sysfs attribute (at most one page), without its trailing
/// newline.
fn read_attribute(path: &Path) -> std::io::Result<String> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(ATTRIBUTE_MAX as u64)
        .read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text.trim_end_matches('\n').to_owned())
}

/// Writes a sysfs attribute in one `write` call, as the kernel expects
/// (the file must exist; it is not created).
fn write_attribute(path: &Path, value: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    let n = file.write(value.as_bytes())?;
    if n != value.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!("short write: {n} of {} bytes", value.len()),
        ));
    }
    Ok(())
}
