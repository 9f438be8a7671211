//! The vfio-user side of the simulated card: one client at a time, and a
//! clear "busy" answer for the others.
//!
//! # Sessions
//!
//! The `vfio_user` crate's [`Server::run`] accepts one connection from its
//! listener and serves it until the client disconnects. The accept thread
//! therefore gives it a fresh listener for every session, and moves
//! listeners onto the socket path with `rename(2)`, which atomically changes
//! which socket a new `connect(2)` to the path reaches. Every listener is
//! bound at a private name first and has an accept queue of one
//! (`listen(fd, 0)`): a client connecting while one is queued blocks in
//! `connect`, and the kernel makes it look the path up again when woken.
//!
//! 1. Idle: the path names listener *L1*; the accept thread waits for a
//!    connection to be queued on it.
//! 2. Session start: a fresh listener *L2* is renamed onto the path, then
//!    *L1*'s read side is shut (a client that looked the path up before the
//!    rename but was not queued yet gets ECONNREFUSED rather than waiting
//!    unseen behind the session), and only then does [`Server::run`] accept
//!    from *L1*: the one connection it can still hold is the queued one.
//! 3. During the session, a busy thread watches *L2*. A client queued there
//!    gets [`BUSY_GRACE`] for the session to end (a host tool that reconnects
//!    right after disconnecting must not be refused just because the server
//!    has not yet noticed the disconnect); after that it is accepted, its
//!    VERSION message is answered with a vfio-user error reply carrying
//!    `EBUSY`, and it is disconnected. `vfio_user::Client::new` reports that
//!    as a stream read error; ask the control socket (`<socket>.ctl`) to tell
//!    busy from broken.
//! 4. Session end: the client's DMA mappings and interrupt eventfds are
//!    dropped (card state stays, as on a real card), the busy thread is
//!    stopped, and *L2* becomes *L1*: a client still queued on it is served
//!    next.
//!
//! So a client that connects while the card is free is served; one that
//! connects while it is busy is refused within [`BUSY_GRACE`] (or, in a
//! window of microseconds at the start of a session, gets ECONNREFUSED);
//! none is left hanging.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hsm_contract::{BAR0_SIZE, IRQ_VECTORS};
use vfio_bindings::bindings::vfio::{
    vfio_region_info, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_TRIGGER,
    VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_NUM_IRQS, VFIO_PCI_NUM_REGIONS,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_user::{DmaMapFlags, DmaUnmapFlags, IrqInfo, Server, ServerBackend, ServerRegion};

use crate::card::CardHandle;
use crate::model::DmaMapping;
use crate::pci::{ConfigSpace, MsixBar, CONFIG_SIZE, MSIX_BAR, MSIX_BAR_SIZE};
use crate::sock;
use crate::SimError;

/// State shared by the server's threads and [`crate::SimCard`].
pub(crate) struct Shared {
    /// The vfio-user socket path.
    pub socket: PathBuf,
    /// The control socket path.
    pub control: PathBuf,
    /// Whether the card is reset in test mode.
    pub test_mode: bool,
    /// Where the card keeps its state (the stored image, among others).
    pub state_dir: Option<PathBuf>,
    /// Set once a stop was asked for.
    pub stop: AtomicBool,
    /// Readable once a stop was asked for (wakes every `poll`).
    pub stop_fd: OwnedFd,
    /// While a client is connected: the address its connection was accepted
    /// on (the session listener's private name).
    pub session: Mutex<Option<PathBuf>>,
}

impl Shared {
    /// Asks every thread to stop, and ends the current session.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        sock::signal(&self.stop_fd);
        self.end_session();
    }

    /// Whether a stop was asked for.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Whether a client is connected.
    pub fn busy(&self) -> bool {
        self.session.lock().map(|s| s.is_some()).unwrap_or(true)
    }

    /// Shuts down the connection of the current session, if any, so that
    /// [`Server::run`] returns.
    pub fn end_session(&self) {
        let addr = self.session.lock().ok().and_then(|s| s.clone());
        if let Some(addr) = addr {
            sock::shutdown_streams_bound_to(&addr);
        }
    }

    fn private_name(&self, n: u64) -> PathBuf {
        with_suffix(&self.socket, &format!(".s{n}"))
    }

    /// Binds a new session listener and moves it onto the socket path.
    pub fn publish_session_listener(&self, n: u64) -> Result<(UnixListener, PathBuf), SimError> {
        let name = self.private_name(n);
        let listener = sock::bind_single(&name)?;
        sock::rename_onto(&name, &self.socket)?;
        Ok((listener, name))
    }
}

/// The regions presented: BAR0 (registers), BAR2 (MSI-X) and the
/// configuration space; the other PCI region indices are empty.
fn regions() -> Vec<ServerRegion> {
    (0..VFIO_PCI_NUM_REGIONS)
        .map(|index| {
            let size = match index {
                VFIO_PCI_BAR0_REGION_INDEX => BAR0_SIZE,
                i if i == MSIX_BAR => MSIX_BAR_SIZE as u64,
                VFIO_PCI_CONFIG_REGION_INDEX => CONFIG_SIZE as u64,
                _ => 0,
            };
            let flags = if size > 0 {
                VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
            } else {
                0
            };
            ServerRegion {
                region_info: vfio_region_info {
                    argsz: std::mem::size_of::<vfio_region_info>() as u32,
                    flags,
                    index,
                    size,
                    ..Default::default()
                },
                sparse_areas: Vec::new(),
                mmap_fd: None,
            }
        })
        .collect()
}

/// The interrupts presented: MSI-X with [`IRQ_VECTORS`] vectors, nothing
/// else.
fn irqs() -> Vec<IrqInfo> {
    (0..VFIO_PCI_NUM_IRQS)
        .map(|index| {
            if index == VFIO_PCI_MSIX_IRQ_INDEX {
                IrqInfo {
                    index,
                    flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
                    count: IRQ_VECTORS,
                }
            } else {
                IrqInfo {
                    index,
                    flags: 0,
                    count: 0,
                }
            }
        })
        .collect()
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, msg)
}

fn backend_error(e: SimError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Serves one client's requests: BAR0 goes to the card, configuration space
/// and MSI-X BAR are emulated here.
struct Backend<'a> {
    card: &'a CardHandle,
    config: &'a mut ConfigSpace,
    msix: &'a mut MsixBar,
}

impl Backend<'_> {
    fn check_bar0(offset: u64, len: usize) -> io::Result<u32> {
        if len != 4 || !offset.is_multiple_of(4) || offset >= BAR0_SIZE {
            return Err(invalid(format!(
                "BAR0 access of {len} bytes at {offset:#x}: only aligned 32-bit accesses inside \
                 the {BAR0_SIZE}-byte BAR are supported"
            )));
        }
        Ok(offset as u32)
    }
}

impl ServerBackend for Backend<'_> {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> io::Result<()> {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => {
                let offset = Self::check_bar0(offset, data.len())?;
                let value = self
                    .card
                    .call(move |card| card.model.read(offset))
                    .and_then(|r| r)
                    .map_err(backend_error)?;
                data.copy_from_slice(&value.to_le_bytes());
                Ok(())
            }
            MSIX_BAR if self.msix.read(offset, data) => Ok(()),
            VFIO_PCI_CONFIG_REGION_INDEX if self.config.read(offset, data) => Ok(()),
            _ => Err(invalid(format!(
                "read of {} bytes at {offset:#x} of region {region}: not supported",
                data.len()
            ))),
        }
    }

    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> io::Result<()> {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => {
                let offset = Self::check_bar0(offset, data.len())?;
                let value = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                self.card
                    .call(move |card| card.model.write(offset, value))
                    .map_err(backend_error)
            }
            MSIX_BAR if self.msix.write(offset, data) => Ok(()),
            VFIO_PCI_CONFIG_REGION_INDEX if self.config.write(offset, data) => Ok(()),
            _ => Err(invalid(format!(
                "write of {} bytes at {offset:#x} of region {region}: not supported",
                data.len()
            ))),
        }
    }

    fn dma_map(
        &mut self,
        flags: DmaMapFlags,
        offset: u64,
        address: u64,
        size: u64,
        fd: Option<File>,
    ) -> io::Result<()> {
        let Some(fd) = fd else {
            return Err(invalid(format!(
                "DMA_MAP of {address:#x}+{size:#x} without a file descriptor: the simulated card \
                 only reaches memory shared by file descriptor"
            )));
        };
        let mapping = DmaMapping::from_fd(
            address,
            size,
            fd.as_fd(),
            offset,
            flags.contains(DmaMapFlags::READ),
            flags.contains(DmaMapFlags::WRITE),
        )
        .map_err(backend_error)?;
        self.card
            .call(move |card| card.model.map(mapping))
            .and_then(|r| r)
            .map_err(backend_error)
    }

    fn dma_unmap(&mut self, flags: DmaUnmapFlags, address: u64, size: u64) -> io::Result<()> {
        if flags.contains(DmaUnmapFlags::UNMAP_ALL) {
            return self
                .card
                .call(|card| card.model.unmap_all())
                .map_err(backend_error);
        }
        self.card
            .call(move |card| card.model.unmap(address, size).map(drop))
            .and_then(|r| r)
            .map_err(backend_error)
    }

    fn reset(&mut self) -> io::Result<()> {
        self.card
            .call(|card| {
                let test_mode = card.test_mode;
                card.model.reset(test_mode);
            })
            .map_err(backend_error)
    }

    fn set_irqs(
        &mut self,
        index: u32,
        flags: u32,
        start: u32,
        count: u32,
        fds: Vec<File>,
    ) -> io::Result<()> {
        if index != VFIO_PCI_MSIX_IRQ_INDEX {
            if count == 0 {
                return Ok(());
            }
            return Err(invalid(format!(
                "SET_IRQS on interrupt index {index}: the card only has MSI-X (index \
                 {VFIO_PCI_MSIX_IRQ_INDEX})"
            )));
        }
        let end = start.checked_add(count).filter(|&end| end <= IRQ_VECTORS);
        let Some(end) = end else {
            return Err(invalid(format!(
                "SET_IRQS on vectors {start}..{start}+{count}: the card has {IRQ_VECTORS}"
            )));
        };
        if flags & VFIO_IRQ_SET_ACTION_TRIGGER == 0 {
            // Masking is left to the host side (QEMU emulates the MSI-X
            // table); accepting it keeps generic VFIO users working.
            return Ok(());
        }
        let (start, end) = (start as usize, end as usize);
        if flags & VFIO_IRQ_SET_DATA_EVENTFD != 0 {
            if fds.len() != end - start {
                return Err(invalid(format!(
                    "SET_IRQS with {} file descriptors for {count} vectors",
                    fds.len()
                )));
            }
            self.card
                .call(move |card| {
                    for (slot, fd) in card.irq_fds[start..end].iter_mut().zip(fds) {
                        *slot = Some(fd);
                    }
                })
                .map_err(backend_error)
        } else if flags & VFIO_IRQ_SET_DATA_NONE != 0 {
            self.card
                .call(move |card| {
                    if count == 0 {
                        card.irq_fds.iter_mut().for_each(|fd| *fd = None);
                    } else {
                        (start..end).for_each(|v| card.fire(v, 1));
                    }
                })
                .map_err(backend_error)
        } else {
            Err(invalid(format!("SET_IRQS flags {flags:#x} not supported")))
        }
    }
}

/// The accept thread: serves one client after the other until stopped.
pub(crate) fn accept_loop(
    shared: Arc<Shared>,
    card: CardHandle,
    first: UnixListener,
    first_name: PathBuf,
) -> Result<(), SimError> {
    let mut config = ConfigSpace::new();
    let mut msix = MsixBar::new();
    let mut front = first;
    let mut front_name = first_name;
    let mut n = 0u64;
    loop {
        let ready = sock::poll_readable(&[front.as_raw_fd(), shared.stop_fd.as_raw_fd()], -1)
            .map_err(|source| SimError::Io {
                path: shared.socket.clone(),
                what: "cannot wait for clients",
                source,
            })?;
        if ready[1] || shared.stopping() {
            return Ok(());
        }
        n += 1;
        let (next, next_name) = shared.publish_session_listener(n)?;
        sock::shutdown_read(&front);
        *shared.session.lock().expect("session lock") = Some(front_name.clone());
        if shared.stopping() {
            // Stopped before the session began: dropping the listener closes
            // the queued connection. (A stop between this check and the
            // accept is caught by SimCard::stop, which ends sessions until
            // this thread returns.)
            *shared.session.lock().expect("session lock") = None;
            return Ok(());
        }
        let busy = BusyThread::start(&next, &shared)?;

        let server = Server::from_owned_fd(OwnedFd::from(front), true, irqs(), regions());
        let mut backend = Backend {
            card: &card,
            config: &mut config,
            msix: &mut msix,
        };
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.run(&mut backend)));
        drop(server);
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "hsm-sim: {}: client session ended: {e}",
                shared.socket.display()
            ),
            Err(_) => eprintln!(
                "hsm-sim: {}: client session ended by a malformed message",
                shared.socket.display()
            ),
        }
        // A real card keeps its state when the host process goes away; the
        // host's memory and eventfds go with it.
        let cleared = card.call(|card| {
            card.model.unmap_all();
            card.irq_fds.iter_mut().for_each(|fd| *fd = None);
        });
        *shared.session.lock().expect("session lock") = None;
        busy.finish();
        cleared?;
        if shared.stopping() {
            return Ok(());
        }
        front = next;
        front_name = next_name;
    }
}

/// How long a client queued while the card is busy waits for the session to
/// end before it is refused with EBUSY.
pub const BUSY_GRACE: Duration = Duration::from_millis(250);
/// How long a refused client has to send its VERSION message.
const BUSY_READ_TIMEOUT: Duration = Duration::from_millis(250);
/// The largest VERSION message read from a refused client.
const BUSY_MAX_MESSAGE: u32 = 64 * 1024;

/// The thread that refuses the clients queued on the next session's
/// listener while a session is active.
struct BusyThread {
    done: OwnedFd,
    join: JoinHandle<()>,
}

impl BusyThread {
    fn start(next: &UnixListener, shared: &Shared) -> Result<BusyThread, SimError> {
        let io_err = |what, source| SimError::Io {
            path: shared.socket.clone(),
            what,
            source,
        };
        // A second descriptor for the same socket: the accept thread keeps
        // the listener for the next session and accepts from it only after
        // this thread has stopped.
        let listener = next
            .try_clone()
            .map_err(|e| io_err("cannot duplicate a listener", e))?;
        let done = sock::eventfd().map_err(|e| io_err("cannot create an eventfd", e))?;
        let done_raw = done.as_raw_fd();
        let grace = BUSY_GRACE.as_millis() as libc::c_int;
        let join = std::thread::Builder::new()
            .name("hsm-busy".to_owned())
            .spawn(move || loop {
                match sock::poll_readable(&[listener.as_raw_fd(), done_raw], -1) {
                    Ok(ready) if !ready[1] => {}
                    _ => return,
                }
                // A client is queued: give the session time to end.
                match sock::poll_readable(&[done_raw], grace) {
                    Ok(ready) if !ready[0] => {}
                    _ => return,
                }
                // Readable, and nobody else accepts from it meanwhile: this
                // does not block.
                if let Ok((stream, _)) = listener.accept() {
                    refuse_busy(stream);
                }
            })
            .map_err(|e| io_err("cannot start the busy thread", e))?;
        Ok(BusyThread { done, join })
    }

    /// Stops the thread; clients still queued are left for the next session.
    fn finish(self) {
        sock::signal(&self.done);
        let _ = self.join.join();
    }
}

/// Answers a client's first message with a vfio-user error reply carrying
/// EBUSY, then closes the connection.
fn refuse_busy(mut stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(BUSY_READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(BUSY_READ_TIMEOUT));
    let mut header = [0u8; 16];
    if stream.read_exact(&mut header).is_err() {
        return;
    }
    let message_id = u16::from_le_bytes([header[0], header[1]]);
    let command = u16::from_le_bytes([header[2], header[3]]);
    let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    // Read the rest of the message, so that closing does not reset the
    // connection before the client has read the reply.
    let rest = size.saturating_sub(16).min(BUSY_MAX_MESSAGE);
    let _ = io::copy(&mut (&mut stream).take(u64::from(rest)), &mut io::sink());
    const REPLY: u32 = 1;
    const ERROR: u32 = 1 << 5;
    let mut reply = [0u8; 16];
    reply[0..2].copy_from_slice(&message_id.to_le_bytes());
    reply[2..4].copy_from_slice(&command.to_le_bytes());
    reply[4..8].copy_from_slice(&16u32.to_le_bytes());
    reply[8..12].copy_from_slice(&(REPLY | ERROR).to_le_bytes());
    reply[12..16].copy_from_slice(&(libc::EBUSY as u32).to_le_bytes());
    let _ = stream.write_all(&reply);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Removes the socket files this server created.
pub(crate) fn remove_sockets(shared: &Shared) {
    for path in [&shared.socket, &shared.control] {
        let _ = sock::remove_socket_file(path);
    }
}

/// `path` with `suffix` appended to its last component.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
