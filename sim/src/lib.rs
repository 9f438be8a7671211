//! The simulated HSM card: the card's RTL built with Verilator, served to
//! host software over vfio-user.
//!
//! # Concepts
//!
//! - **The model.** `build.rs` exports the RTL as Verilog (module `top`, from
//!   `hsm_hdl::verilog()`, or from the file named by the `HSM_SIM_VERILOG`
//!   environment variable at build time, to simulate another image), runs
//!   Verilator on it and compiles the result with a small C++ wrapper
//!   (`csrc/hsm_sim.cpp`). [`Model`] is the safe Rust handle on it: register
//!   reads and writes through the card's register port, and
//!   [`Model::run`], which clocks the card in C++ while it is busy and serves
//!   its DMA port from host memory mappings ([`DmaMapping`]). The port
//!   protocol is `docs/card-ports.md`.
//! - **DMA.** Read bursts are served in request order from a FIFO, after a
//!   fixed latency ([`DEFAULT_DMA_READ_LATENCY`] cycles unless configured),
//!   one 16-byte beat per cycle; a beat not wholly inside one readable
//!   mapping is returned as zeroes with `dmar_data_err`. A write beat outside
//!   the writable mappings is dropped and answered with a `dmaw_err` pulse.
//! - **The card thread.** A running card ([`SimCard`], from [`start`]) owns
//!   its model on one thread, which clocks it in chunks while it is busy and
//!   sleeps while it is idle, so an idle card costs no CPU and its cycle
//!   counter counts simulated cycles only.
//! - **vfio-user.** The card is a PCI device (vendor and device ids from
//!   `hsm-contract`) on a Unix socket: BAR0 ([`hsm_contract::BAR0_SIZE`]
//!   bytes) carries the registers as region reads and writes (aligned 32-bit
//!   only), BAR2 holds the MSI-X table, and MSI-X has
//!   [`hsm_contract::IRQ_VECTORS`] vectors whose eventfds the client sets with
//!   SET_IRQS. DMA memory arrives as file descriptors (memfd) in DMA_MAP and
//!   is mapped shared; DMA_UNMAP removes exactly a mapped range. Device reset
//!   resets the RTL (with the configured test-mode strap).
//! - **One client at a time.** A card serves one host process at a time, as
//!   a real card bound to one process would. Another client connecting
//!   meanwhile is answered with a vfio-user error reply carrying `EBUSY` and
//!   disconnected within [`BUSY_GRACE`], never left waiting (see the
//!   `server` module's source for how). When a client disconnects, its DMA mappings and eventfds are
//!   dropped; registers, key material and counters stay, as on a real card.
//! - **The control socket.** `<socket>.ctl` answers `status` and `stop`
//!   ([`control_status`], [`control_stop`]), so a host tool can tell "busy"
//!   from "broken" and stop a card it started.
//! - **Tracing.** With the `trace` cargo feature (on by default) the model
//!   can write a VCD trace of every RTL signal ([`SimConfig::trace`]); the
//!   support costs about a quarter of the simulation speed even when no
//!   trace is written, so builds that only need speed can turn it off
//!   (`default-features = false`).
//! - **Card images.** The card runs its built-in model (the factory image)
//!   or a card image loaded from a signed package ([`loader`]: `load PATH`
//!   on the control socket, after the host verified the signature; the card
//!   checks the images, target, contract, rollback and build id itself).
//!   [`image::build`] makes such an image; [`ModelLibrary`] runs it.
//! - **State directory.** [`SimConfig::state_dir`] is created if missing. It
//!   holds the stored card image (`image.pkg`), which the card starts from,
//!   the highest security version accepted (`security-version`), and the
//!   card's persistent storage (`hsm_contract::storage`): the master-key
//!   store `master.key` (the master key, the boot epoch and the records'
//!   freshness table: a real card keeps it in battery-backed RAM, apart
//!   from the records, where nobody can put back an older copy) and one
//!   sealed record per key slot (`record-NN.bin`), each written
//!   atomically. Without a state directory
//!   the storage lives in memory: keys survive a device reset, not the
//!   process, nor a card-image load.
//!
//! The `hsm-sim` binary serves a card in the foreground:
//! `hsm-sim --socket PATH [--state DIR] [--test-mode] [--trace FILE]
//! [--dma-latency N]`.
#![deny(missing_docs)]

mod card;
mod control;
pub mod image;
pub mod library;
pub mod loader;
pub mod model;
pub mod pci;
mod server;
mod sock;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use control::{
    control_load, control_noise, control_path, control_selftest_inject, control_status,
    control_stop, control_tamper, CardState, ControlStatus, TamperReport,
};
pub use library::ModelLibrary;
pub use loader::ImageInfo;
pub use model::{DmaMapping, Model, NoiseSource, RunResult, Stats, DEFAULT_DMA_READ_LATENCY};
pub use server::BUSY_GRACE;

use card::CardThread;
use server::Shared;

/// Everything that can go wrong with the simulated card. Messages name the
/// socket path, file or address involved.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The Verilated model could not be created.
    #[error("cannot create the Verilated card model: {0}")]
    Model(String),
    /// The card's persistent storage in the state directory cannot be used.
    #[error("the card's persistent storage: {0}")]
    Storage(String),
    /// The trace file could not be written.
    #[error("cannot write the trace file {path}: {reason}")]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The card did not answer a register read.
    #[error("the card did not answer a read of register {offset:#05x} within 1000 cycles")]
    RegisterTimeout {
        /// BAR0 offset of the register.
        offset: u32,
    },
    /// A DMA mapping could not be made.
    #[error("cannot map DMA range {iova:#x}+{len:#x}: {reason}")]
    DmaMap {
        /// Bus address of the range.
        iova: u64,
        /// Length of the range.
        len: u64,
        /// Why.
        reason: String,
    },
    /// DMA_UNMAP named a range that is not exactly one mapping.
    #[error("no DMA mapping is exactly {iova:#x}+{len:#x}; unmap exactly the ranges mapped")]
    DmaUnmap {
        /// Bus address of the range.
        iova: u64,
        /// Length of the range.
        len: u64,
    },
    /// An operating-system call on a path failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The socket or directory involved.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another simulated card (or other server) already serves this path.
    #[error("{path} is in use by a running server; stop it first (hsm-sim's control socket is {path}.ctl)")]
    SocketInUse {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket path exists and is not a socket.
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The control socket could not be reached or answered unexpectedly.
    #[error("control socket {path}: {detail}")]
    Control {
        /// The control socket path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The card thread is gone.
    #[error("the card thread of {path} stopped unexpectedly")]
    CardThread {
        /// The card's socket path.
        path: PathBuf,
    },
    /// A card image was refused or could not be loaded.
    #[error("card image {name}: {reason}")]
    Image {
        /// Where it came from (a package's path).
        name: String,
        /// Why.
        reason: String,
    },
    /// A server thread panicked.
    #[error("a server thread of {path} panicked")]
    Panicked {
        /// The card's socket path.
        path: PathBuf,
    },
}

/// How to run a simulated card.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The vfio-user socket path; the control socket is `<socket>.ctl`.
    pub socket: PathBuf,
    /// Where the card's non-volatile state lives (created if missing): the
    /// stored card image and the highest security version accepted.
    pub state_dir: Option<PathBuf>,
    /// Whether the card comes out of reset in test mode.
    pub test_mode: bool,
    /// Write a VCD trace of every RTL signal to this file (large: use for
    /// short runs). Needs the `trace` feature.
    pub trace: Option<PathBuf>,
    /// DMA read latency in cycles (see [`DEFAULT_DMA_READ_LATENCY`]).
    pub dma_read_latency: u32,
}

impl SimConfig {
    /// A card on `socket`: no state directory, not in test mode, no trace,
    /// the default DMA read latency.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        SimConfig {
            socket: socket.into(),
            state_dir: None,
            test_mode: false,
            trace: None,
            dma_read_latency: DEFAULT_DMA_READ_LATENCY,
        }
    }
}

/// A running simulated card: its card, accept and control threads.
/// Dropping it stops it, as [`SimCard::stop`] does.
pub struct SimCard {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<Result<(), SimError>>>,
    control: Option<JoinHandle<()>>,
    card: Option<CardThread>,
}

/// Asks a running [`SimCard`] to stop, from any thread (a signal handler
/// thread, for instance). Cheap to clone.
#[derive(Clone)]
pub struct StopHandle {
    shared: Arc<Shared>,
}

impl StopHandle {
    /// Asks the card to stop: the current session is ended and the threads
    /// wind down; [`SimCard::wait`] then returns.
    pub fn stop(&self) {
        self.shared.request_stop();
    }
}

/// Starts a simulated card: builds and resets the model, binds the vfio-user
/// socket and the control socket, and starts the threads. Returns when a
/// client can connect.
///
/// A stale socket left at the path by a server that died is replaced; a path
/// where a server still answers is refused ([`SimError::SocketInUse`]).
pub fn start(config: SimConfig) -> Result<SimCard, SimError> {
    let socket = config.socket.clone();
    let control = control_path(&socket);
    if sock::is_live(&control) || sock::is_live(&socket) {
        return Err(SimError::SocketInUse { path: socket });
    }
    sock::remove_socket_file(&socket)?;
    sock::remove_socket_file(&control)?;
    if let Some(dir) = &config.state_dir {
        std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
            path: dir.clone(),
            what: "cannot create the state directory",
            source,
        })?;
    }

    let boot = boot(config.state_dir.as_deref())?;
    let card = CardThread::start(
        socket.clone(),
        config.test_mode,
        config.trace.clone(),
        config.dma_read_latency,
        boot,
    )?;
    let stop_fd = sock::eventfd().map_err(|source| SimError::Io {
        path: socket.clone(),
        what: "cannot create an eventfd",
        source,
    })?;
    let shared = Arc::new(Shared {
        socket: socket.clone(),
        control: control.clone(),
        test_mode: config.test_mode,
        state_dir: config.state_dir.clone(),
        stop: AtomicBool::new(false),
        stop_fd,
        session: Mutex::new(None),
    });

    let control_listener =
        std::os::unix::net::UnixListener::bind(&control).map_err(|source| SimError::Io {
            path: control.clone(),
            what: "cannot bind the control socket",
            source,
        })?;
    let (first, first_name) = match shared.publish_session_listener(0) {
        Ok(first) => first,
        Err(e) => {
            server::remove_sockets(&shared);
            return Err(e);
        }
    };

    let spawn_err = |source| SimError::Io {
        path: socket.clone(),
        what: "cannot start a server thread",
        source,
    };
    let accept = {
        let shared = Arc::clone(&shared);
        let handle = card.handle();
        std::thread::Builder::new()
            .name("hsm-accept".to_owned())
            .spawn(move || {
                let result = server::accept_loop(Arc::clone(&shared), handle, first, first_name);
                if result.is_err() {
                    // Wake SimCard::wait, which reports the error.
                    shared.request_stop();
                }
                result
            })
            .map_err(spawn_err)?
    };
    let control_thread = {
        let shared = Arc::clone(&shared);
        let handle = card.handle();
        std::thread::Builder::new()
            .name("hsm-control".to_owned())
            .spawn(move || control::control_loop(shared, handle, control_listener))
    };
    let mut sim = SimCard {
        shared,
        accept: Some(accept),
        control: None,
        card: Some(card),
    };
    match control_thread {
        Ok(join) => sim.control = Some(join),
        Err(source) => {
            sim.shared.request_stop();
            let _ = sim.shutdown();
            return Err(spawn_err(source));
        }
    }
    Ok(sim)
}

/// What a card with state directory `state_dir` starts from: its stored
/// image, checked as a load is ([`loader`]), and its recorded security
/// version. A stored image that fails a check stops the start, with a
/// message saying how to fall back to the built-in image.
fn boot(state_dir: Option<&Path>) -> Result<card::Boot, SimError> {
    let Some(dir) = state_dir else {
        return Ok(card::Boot {
            staged: None,
            min_security_version: 0,
            state_dir: None,
        });
    };
    let min = loader::recorded_security_version(dir)?;
    let staged = match loader::stored_image(dir)? {
        None => None,
        Some((bytes, path)) => {
            let name = path.display().to_string();
            let staged = loader::stage(bytes, &name, min).map_err(|e| SimError::Image {
                name: name.clone(),
                reason: format!(
                    "the stored card image was refused ({e}); remove {name} to start from the built-in image, or load another package"
                ),
            })?;
            // A crash between storing the image and raising the version
            // leaves the version behind; catch up.
            loader::raise_security_version(dir, staged.info.security_version)?;
            Some(staged)
        }
    };
    Ok(card::Boot {
        staged,
        min_security_version: min,
        state_dir: Some(dir.to_path_buf()),
    })
}

impl SimCard {
    /// The vfio-user socket path.
    pub fn socket(&self) -> &Path {
        &self.shared.socket
    }

    /// A handle that stops this card from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Stops the card, even while a client is connected (its connection is
    /// closed), destroys the model (flushing the trace) and removes the
    /// sockets.
    pub fn stop(mut self) -> Result<(), SimError> {
        self.shared.request_stop();
        self.shutdown()
    }

    /// Waits until the card is stopped through the control socket or a
    /// [`StopHandle`], then cleans up as [`SimCard::stop`] does.
    pub fn wait(mut self) -> Result<(), SimError> {
        let _ = sock::poll_readable(&[std::os::fd::AsRawFd::as_raw_fd(&self.shared.stop_fd)], -1);
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), SimError> {
        let mut result = Ok(());
        if let Some(accept) = self.accept.take() {
            // The accept thread may be entering a session as the stop comes;
            // keep ending sessions until it has returned.
            while !accept.is_finished() {
                self.shared.end_session();
                std::thread::sleep(Duration::from_millis(5));
            }
            result = match accept.join() {
                Ok(r) => r,
                Err(_) => Err(SimError::Panicked {
                    path: self.shared.socket.clone(),
                }),
            };
        }
        if let Some(control) = self.control.take() {
            let _ = control.join();
        }
        if let Some(card) = self.card.take() {
            card.shutdown();
        }
        server::remove_sockets(&self.shared);
        result
    }
}

impl Drop for SimCard {
    fn drop(&mut self) {
        if self.accept.is_some() || self.card.is_some() {
            self.shared.request_stop();
            let _ = self.shutdown();
        }
    }
}
