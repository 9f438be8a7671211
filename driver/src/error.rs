//! The driver's one error type.

use std::path::PathBuf;
use std::time::Duration;

use hsm_contract::Status;

/// Everything that can go wrong between the host and the card.
///
/// Each message names the device (socket path or PCI address), the register
/// or job involved, and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A device string (`sim:SOCKET`, `vfio:PCI-ADDRESS`) could not be parsed.
    #[error("invalid device `{spec}`: {reason}; expected `sim:SOCKET-PATH` or `vfio:DDDD:BB:DD.F` (for example `vfio:0000:01:00.0`)")]
    BadDeviceSpec {
        /// The string given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Nothing serves the simulated card's socket.
    #[error("no simulated card at {}: start one with `hsmctl sim start` (or pass --device)", socket.display())]
    NoSimCard {
        /// The vfio-user socket path.
        socket: PathBuf,
        /// Why connecting failed.
        #[source]
        source: std::io::Error,
    },

    /// The simulated card serves one client at a time and another process
    /// is using it.
    #[error("the simulated card at {}{} is in use by another process: it serves one client at a time; wait for the other client to finish and retry (`hsmctl sim status` shows the card's state)", socket.display(), server_pid.map(|p| format!(" (server pid {p})")).unwrap_or_default())]
    CardBusy {
        /// The vfio-user socket path.
        socket: PathBuf,
        /// The simulated card's server process, if its control socket said.
        server_pid: Option<u32>,
    },

    /// The vfio-user protocol failed.
    #[error("vfio-user {op} on {} failed", socket.display())]
    VfioUser {
        /// The socket path.
        socket: PathBuf,
        /// What the driver was doing.
        op: String,
        /// The protocol error.
        #[source]
        source: vfio_user::Error,
    },

    /// The simulated card's control socket answered something unexpected.
    #[error("control socket {} of the simulated card: {reason}", socket.display())]
    Control {
        /// The control socket path.
        socket: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// A kernel VFIO operation failed.
    #[error("VFIO {op} for PCI device {addr} failed; {hint}")]
    Vfio {
        /// The PCI address.
        addr: String,
        /// What the driver was doing.
        op: String,
        /// What to check.
        hint: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A system call failed.
    #[error("{op} failed")]
    Os {
        /// What the driver was doing.
        op: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The device does not look like this card.
    #[error("{device} is not an HSM card of this design: ID register reads {id:#010x}, expected {expected:#010x} (\"HSM1\")")]
    WrongDevice {
        /// The device.
        device: String,
        /// The ID register's value.
        id: u32,
        /// The expected value.
        expected: u32,
    },

    /// The card speaks a different major version of the contract.
    #[error("{device} speaks contract version {major}.{minor} (CONTRACT_VERSION register), but this driver speaks {driver_major}.{driver_minor}: use a driver and card image with the same major version")]
    IncompatibleContract {
        /// The device.
        device: String,
        /// Card's major version.
        major: u16,
        /// Card's minor version.
        minor: u16,
        /// Driver's major version.
        driver_major: u16,
        /// Driver's minor version.
        driver_minor: u16,
    },

    /// A register held an unexpected value.
    #[error("{device}: register {register} ({offset:#05x}): {reason}")]
    Register {
        /// The device.
        device: String,
        /// Register name.
        register: &'static str,
        /// Register offset.
        offset: u32,
        /// What was wrong.
        reason: String,
    },

    /// An argument was out of range.
    #[error("{0}")]
    InvalidArgument(String),

    /// Waiting for the card took too long.
    #[error("{device}: timed out waiting for {what} after {waited:?}")]
    Timeout {
        /// The device.
        device: String,
        /// What the driver waited for.
        what: String,
        /// How long it waited.
        waited: Duration,
    },

    /// The card stopped answering while jobs were outstanding: a simulated
    /// card's process ended, or a real card left the bus. Its outstanding
    /// jobs are lost.
    #[error("{device}: the card stopped answering while waiting for {what}: {reason}; the outstanding jobs are lost: restart the card (`hsmctl sim start` for a simulated one), then run them again")]
    CardGone {
        /// The device.
        device: String,
        /// What the driver waited for.
        what: String,
        /// How it found out.
        reason: String,
    },

    /// A job completed with a status other than OK.
    #[error("job {job_id} failed with status {} ({:#06x}): {}", status.name(), *status as u16, status.summary())]
    JobFailed {
        /// The job's tag.
        job_id: u32,
        /// The status the card returned.
        status: Status,
    },

    /// A login's PIN was wrong: the card counted the failure and ended the
    /// queue's login.
    #[error("the {role} PIN is wrong: {tries_left} tries left before the role locks")]
    PinIncorrect {
        /// The role (`so`, `user`).
        role: &'static str,
        /// Wrong PINs the role may still take.
        tries_left: u32,
    },

    /// A crypto or key-slot job completed with a status other than OK.
    /// For a GCM decryption with [`Status::AuthFailed`] no plaintext was
    /// returned: the card overwrote it and the driver zeroed its buffer.
    #[error("{op} job {job_id} on key slot {slot} failed with status {} ({:#06x}): {}", status.name(), *status as u16, status.summary())]
    SlotJobFailed {
        /// The operation's name (`AES_GCM_DECRYPT`, ...).
        op: &'static str,
        /// The key slot the job named.
        slot: u16,
        /// The job's tag.
        job_id: u32,
        /// The status the card returned.
        status: Status,
    },

    /// A job completed OK but reported less output than it was asked
    /// for: a card fault. The output was discarded.
    #[error("{device}: {op} job {job_id} completed OK but wrote {got} of the {expected} bytes asked for; the output was discarded (a card fault: report it)")]
    ShortOutput {
        /// The device.
        device: String,
        /// The operation's name (`RNG_GENERATE`).
        op: &'static str,
        /// The job's tag.
        job_id: u32,
        /// Bytes asked for.
        expected: usize,
        /// Bytes the completion reported.
        got: usize,
    },

    /// An ML-KEM input does not have its parameter set's length; the job
    /// was not sent.
    #[error("{set} {what} of {got} bytes: it must be {expected} bytes")]
    KemLength {
        /// The parameter set (`ml-kem-768`).
        set: &'static str,
        /// The input (`encapsulation key`, `ciphertext`).
        what: &'static str,
        /// The length the set requires.
        expected: usize,
        /// The length given.
        got: usize,
    },

    /// A slot reference (number or label) names no slot.
    #[error("{0}")]
    NoSuchSlot(String),

    /// The card wrote a completion the driver cannot make sense of.
    #[error("{device}: bad completion at CQ index {index}: {reason}")]
    BadCompletion {
        /// The device.
        device: String,
        /// Index in the completion ring.
        index: u32,
        /// What was wrong.
        reason: String,
    },

    /// The queue has no room for the submission.
    #[error("queue full: {outstanding} jobs outstanding, capacity {capacity}; wait for completions first")]
    QueueFull {
        /// Jobs in flight.
        outstanding: usize,
        /// Most jobs in flight at once.
        capacity: usize,
    },

    /// Interrupt-driven waiting was asked for but the device has no
    /// interrupt wired to an eventfd.
    #[error("{device} has no usable interrupt (MSI-X vector {vector}); use polling mode")]
    NoInterrupt {
        /// The device.
        device: String,
        /// The vector.
        vector: u32,
    },
}

/// The driver's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn os(op: impl Into<String>, source: std::io::Error) -> Error {
        Error::Os {
            op: op.into(),
            source,
        }
    }

    pub(crate) fn last_os(op: impl Into<String>) -> Error {
        Error::os(op, std::io::Error::last_os_error())
    }

    /// The card's status, when the error is a failed job.
    pub fn status(&self) -> Option<Status> {
        match self {
            Error::JobFailed { status, .. } | Error::SlotJobFailed { status, .. } => Some(*status),
            Error::PinIncorrect { .. } => Some(Status::PinIncorrect),
            _ => None,
        }
    }

    /// Whether the error means the device cannot be reached, is in use or
    /// stopped answering (as opposed to a failed job or a driver bug): CLI
    /// tools map these to their "device unavailable" exit code.
    pub fn is_device_unavailable(&self) -> bool {
        matches!(
            self,
            Error::NoSimCard { .. }
                | Error::CardBusy { .. }
                | Error::Vfio { .. }
                | Error::WrongDevice { .. }
                | Error::IncompatibleContract { .. }
                | Error::CardGone { .. }
        )
    }
}
