//! The vfio-user transport: a simulated card served on a Unix socket.
//!
//! The simulated card (crate `hsm-sim`) is a process serving the card over
//! the vfio-user protocol. BAR0 accesses travel as region read/write
//! messages, DMA memory is shared by passing memfds in DMA_MAP messages, and
//! the completion interrupt arrives on an eventfd registered with SET_IRQS.
//!
//! The card serves one client at a time and refuses a second one with an
//! EBUSY reply to its handshake. `vfio_user::Client` cannot tell that reply
//! from a broken connection, so before connecting the driver asks the card's
//! control socket (`SOCKET.ctl`, one line of text in, one line of JSON out)
//! whether it is busy, asks again when the handshake fails, and bounds the
//! handshake with a timeout in case the peer is not a card at all.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use vfio_bindings::bindings::vfio::{
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX,
};

use crate::dma::{DmaBuffer, DmaMapper, HostMemory, IovaAllocator};
use crate::error::{Error, Result};
use crate::transport::{wait_irq_event, IrqEvent, Transport};

/// How long the vfio-user handshake may take before the driver concludes
/// the card is serving someone else.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// The control socket of the simulated card serving `socket`:
/// the same path with `.ctl` appended.
pub fn control_socket(socket: &Path) -> PathBuf {
    let mut s = socket.as_os_str().to_owned();
    s.push(".ctl");
    PathBuf::from(s)
}

/// What the simulated card's control socket says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlState {
    /// `"idle"` or `"busy"` (or a state a newer card defines).
    pub state: String,
    /// The simulated card's server process.
    pub pid: Option<u32>,
    /// The whole JSON answer.
    pub raw: serde_json::Value,
}

impl ControlState {
    /// Whether another client is connected.
    pub fn is_busy(&self) -> bool {
        self.state == "busy"
    }
}

/// Ask the simulated card serving `socket` for its state, over its
/// control socket (`status\n` in, one JSON line out).
///
/// # Errors
/// [`Error::NoSimCard`] when nothing listens on the control socket,
/// [`Error::Control`] when the answer is not the expected JSON.
pub fn control_status(socket: &Path) -> Result<ControlState> {
    let ctl = control_socket(socket);
    let line = control_request(&ctl, "status").map_err(|e| match e {
        ControlFailure::Connect(source) => Error::NoSimCard {
            socket: socket.to_path_buf(),
            source,
        },
        ControlFailure::Io(source) => Error::Control {
            socket: ctl.clone(),
            reason: format!("no answer to `status`: {source}"),
        },
    })?;
    parse_status(&ctl, &line)
}

fn parse_status(ctl: &Path, line: &str) -> Result<ControlState> {
    let raw: serde_json::Value = serde_json::from_str(line.trim()).map_err(|e| Error::Control {
        socket: ctl.to_path_buf(),
        reason: format!("answer {:?} is not JSON: {e}", line.trim()),
    })?;
    let state = raw
        .get("state")
        .and_then(|s| s.as_str())
        .ok_or_else(|| Error::Control {
            socket: ctl.to_path_buf(),
            reason: format!("answer {:?} has no \"state\"", line.trim()),
        })?
        .to_string();
    let pid = raw
        .get("pid")
        .and_then(|p| p.as_u64())
        .and_then(|p| u32::try_from(p).ok());
    Ok(ControlState { state, pid, raw })
}

enum ControlFailure {
    Connect(std::io::Error),
    Io(std::io::Error),
}

fn control_request(ctl: &Path, cmd: &str) -> std::result::Result<String, ControlFailure> {
    let mut s = UnixStream::connect(ctl).map_err(ControlFailure::Connect)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(ControlFailure::Io)?;
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .map_err(ControlFailure::Io)?;
    s.write_all(format!("{cmd}\n").as_bytes())
        .map_err(ControlFailure::Io)?;
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .map_err(ControlFailure::Io)?;
    if line.is_empty() {
        return Err(ControlFailure::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed without an answer",
        )));
    }
    Ok(line)
}

struct Shared {
    socket: PathBuf,
    client: Mutex<vfio_user::Client>,
    iova: Mutex<IovaAllocator>,
}

impl Shared {
    fn fail(&self, op: impl Into<String>) -> impl FnOnce(vfio_user::Error) -> Error + '_ {
        let op = op.into();
        move |source| Error::VfioUser {
            socket: self.socket.clone(),
            op,
            source,
        }
    }

    fn client(&self) -> std::sync::MutexGuard<'_, vfio_user::Client> {
        // A panic while holding the lock leaves the client usable: each
        // message is written and answered whole or the stream fails.
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DmaMapper for Shared {
    fn unmap(&self, iova: u64, len: u64) -> Result<()> {
        self.client()
            .dma_unmap(iova, len)
            .map_err(self.fail(format!("DMA_UNMAP of {len} bytes at IOVA {iova:#x}")))?;
        self.iova
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(iova, len);
        Ok(())
    }
}

/// A simulated card reached over vfio-user.
pub struct VfioUserTransport {
    shared: Arc<Shared>,
    name: String,
    irq: Option<IrqEvent>,
}

impl VfioUserTransport {
    /// Connect to the simulated card serving `socket`, check that BAR0 is
    /// there, and wire the completion interrupt to an eventfd.
    ///
    /// # Errors
    /// [`Error::NoSimCard`] when nothing serves the socket,
    /// [`Error::CardBusy`] when another process is using the card,
    /// [`Error::VfioUser`] when the protocol fails.
    pub fn connect(socket: &Path) -> Result<VfioUserTransport> {
        if let Err(source) = std::fs::metadata(socket) {
            return Err(Error::NoSimCard {
                socket: socket.to_path_buf(),
                source,
            });
        }
        // Ask first: a busy card would accept the connection and never
        // answer the handshake.
        if let Ok(state) = control_status(socket) {
            if state.is_busy() {
                return Err(Error::CardBusy {
                    socket: socket.to_path_buf(),
                    server_pid: state.pid,
                });
            }
        }
        let client = connect_bounded(socket)?;
        let shared = Arc::new(Shared {
            socket: socket.to_path_buf(),
            client: Mutex::new(client),
            iova: Mutex::new(IovaAllocator::default()),
        });
        let name = format!("sim:{}", socket.display());
        {
            let c = shared.client();
            let bar0 = c
                .region(VFIO_PCI_BAR0_REGION_INDEX)
                .ok_or_else(|| Error::Control {
                    socket: socket.to_path_buf(),
                    reason: "the device has no BAR0 region".into(),
                })?;
            if bar0.size < hsm_contract::BAR0_SIZE {
                return Err(Error::Control {
                    socket: socket.to_path_buf(),
                    reason: format!(
                        "BAR0 is {} bytes, the contract needs {}",
                        bar0.size,
                        hsm_contract::BAR0_SIZE
                    ),
                });
            }
        }
        let irq = wire_irq(&shared)?;
        Ok(VfioUserTransport { shared, name, irq })
    }

    /// The socket this transport is connected to.
    pub fn socket(&self) -> &Path {
        &self.shared.socket
    }
}

/// Run the handshake on a helper thread so that a card that accepted the
/// connection but serves someone else cannot hang us.
fn connect_bounded(socket: &Path) -> Result<vfio_user::Client> {
    let (tx, rx) = mpsc::channel();
    let path = socket.to_path_buf();
    std::thread::Builder::new()
        .name("vfio-user-connect".into())
        .spawn(move || {
            // If the receiver gave up, the client is dropped here, which
            // closes the connection.
            let _ = tx.send(vfio_user::Client::new(&path));
        })
        .map_err(|e| Error::os("spawning the vfio-user connect thread", e))?;
    // A busy card refuses the handshake (EBUSY) or, around the start of a
    // session, the connection; its control socket tells busy from broken.
    let busy = || match control_status(socket) {
        Ok(s) if s.is_busy() => Some(Error::CardBusy {
            socket: socket.to_path_buf(),
            server_pid: s.pid,
        }),
        _ => None,
    };
    match rx.recv_timeout(HANDSHAKE_TIMEOUT) {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(vfio_user::Error::Connect(source))) => Err(busy().unwrap_or(Error::NoSimCard {
            socket: socket.to_path_buf(),
            source,
        })),
        Ok(Err(source)) => Err(busy().unwrap_or(Error::VfioUser {
            socket: socket.to_path_buf(),
            op: "handshake".into(),
            source,
        })),
        Err(_) => Err(busy().unwrap_or(Error::Timeout {
            device: format!("sim:{}", socket.display()),
            what: "the vfio-user handshake".into(),
            waited: HANDSHAKE_TIMEOUT,
        })),
    }
}

/// Register an eventfd for MSI-X vector [`hsm_contract::IRQ_VECTOR_QUEUE`]
/// (or MSI when the device presents no MSI-X). `None` when the device
/// presents neither.
fn wire_irq(shared: &Shared) -> Result<Option<IrqEvent>> {
    let mut c = shared.client();
    for index in [VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX] {
        let info = c
            .get_irq_info(index)
            .map_err(shared.fail(format!("GET_IRQ_INFO for IRQ index {index}")))?;
        let needed = hsm_contract::IRQ_VECTOR_QUEUE + 1;
        if info.count < needed {
            continue;
        }
        let ev = IrqEvent::new()?;
        c.set_irqs(
            index,
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            hsm_contract::IRQ_VECTOR_QUEUE,
            1,
            &[ev.raw_fd()],
        )
        .map_err(shared.fail(format!("SET_IRQS (eventfd) for IRQ index {index}")))?;
        if index == VFIO_PCI_MSIX_IRQ_INDEX {
            enable_msix_in_config(shared, &mut c)?;
        }
        return Ok(Some(ev));
    }
    Ok(None)
}

/// PCI capability id of MSI-X.
const PCI_CAP_ID_MSIX: u8 = 0x11;
/// MSI-X Message Control: MSI-X Enable (bit 15) and Function Mask (bit 14).
const MSIX_ENABLE: u16 = 1 << 15;
const MSIX_FUNCTION_MASK: u16 = 1 << 14;

/// Set MSI-X Enable in the device's PCI configuration space, as a PCI host
/// does after programming the vectors (under kernel VFIO the kernel does
/// this on SET_IRQS; a vfio-user client owns config space itself).
/// Does nothing when the device exposes no config region or no MSI-X
/// capability.
fn enable_msix_in_config(shared: &Shared, c: &mut vfio_user::Client) -> Result<()> {
    let cfg = VFIO_PCI_CONFIG_REGION_INDEX;
    if c.region(cfg).is_none_or(|r| r.size < 256) {
        return Ok(());
    }
    let read32 = |c: &mut vfio_user::Client, off: u64| -> Result<u32> {
        let mut b = [0u8; 4];
        c.region_read(cfg, off, &mut b)
            .map_err(shared.fail(format!("config space read at {off:#x}")))?;
        Ok(u32::from_le_bytes(b))
    };
    let mut ptr = (read32(c, 0x34)? & 0xfc) as u64;
    // At most 48 capabilities fit in the 192 bytes after the header.
    for _ in 0..48 {
        if ptr < 0x40 {
            return Ok(());
        }
        let head = read32(c, ptr)?;
        if head as u8 == PCI_CAP_ID_MSIX {
            let ctl = (head >> 16) as u16;
            let ctl = (ctl | MSIX_ENABLE) & !MSIX_FUNCTION_MASK;
            return c
                .region_write(cfg, ptr + 2, &ctl.to_le_bytes())
                .map_err(shared.fail("config space write (MSI-X enable)"));
        }
        ptr = ((head >> 8) & 0xfc) as u64;
    }
    Ok(())
}

impl Transport for VfioUserTransport {
    fn device(&self) -> &str {
        &self.name
    }

    fn read32(&self, offset: u32) -> Result<u32> {
        let mut b = [0u8; 4];
        self.shared
            .client()
            .region_read(VFIO_PCI_BAR0_REGION_INDEX, offset.into(), &mut b)
            .map_err(self.shared.fail(format!("BAR0 read at {offset:#05x}")))?;
        Ok(u32::from_le_bytes(b))
    }

    fn write32(&self, offset: u32, value: u32) -> Result<()> {
        self.shared
            .client()
            .region_write(
                VFIO_PCI_BAR0_REGION_INDEX,
                offset.into(),
                &value.to_le_bytes(),
            )
            .map_err(self.shared.fail(format!("BAR0 write at {offset:#05x}")))
    }

    fn alloc_dma(&self, len: usize) -> Result<DmaBuffer> {
        let mem = HostMemory::new(len)?;
        let size = mem.len() as u64;
        let iova = self
            .shared
            .iova
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .alloc(size)?;
        let mapped = self.shared.client().dma_map(0, iova, size, mem.fd());
        if let Err(source) = mapped {
            self.shared
                .iova
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .release(iova, size);
            return Err(Error::VfioUser {
                socket: self.shared.socket.clone(),
                op: format!("DMA_MAP of {size} bytes at IOVA {iova:#x}"),
                source,
            });
        }
        let shared: Arc<dyn DmaMapper> = self.shared.clone();
        Ok(DmaBuffer::from_mapped(
            mem,
            len,
            iova,
            Arc::downgrade(&shared),
        ))
    }

    fn has_irq(&self) -> bool {
        self.irq.is_some()
    }

    fn wait_irq(&self, timeout: Duration) -> Result<bool> {
        wait_irq_event(self.irq.as_ref(), &self.name, timeout)
    }

    fn reset(&self) -> Result<()> {
        self.shared
            .client()
            .reset()
            .map_err(self.shared.fail("DEVICE_RESET"))
    }
}

impl Drop for VfioUserTransport {
    fn drop(&mut self) {
        let _ = self.shared.client().shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn control_path_appends_ctl() {
        assert_eq!(
            control_socket(Path::new("/run/hsm/card.sock")),
            PathBuf::from("/run/hsm/card.sock.ctl")
        );
    }

    #[test]
    fn parses_status_lines() {
        let s = parse_status(
            Path::new("x.ctl"),
            "{\"state\":\"busy\",\"pid\":123,\"cycles\":5}\n",
        )
        .unwrap();
        assert!(s.is_busy());
        assert_eq!(s.pid, Some(123));
        let s = parse_status(Path::new("x.ctl"), "{\"state\":\"idle\"}").unwrap();
        assert!(!s.is_busy());
        let e = parse_status(Path::new("x.ctl"), "nope").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
        let e = parse_status(Path::new("x.ctl"), "{}").unwrap_err();
        assert!(e.to_string().contains("no \"state\""), "{e}");
    }

    #[test]
    fn busy_card_is_reported_without_handshake() {
        // A fake card: the vfio-user socket exists but never answers, and
        // its control socket says busy.
        let dir = std::env::temp_dir().join(format!("hsm-drv-busy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("card.sock");
        let _card = UnixListener::bind(&sock).unwrap();
        let ctl = UnixListener::bind(control_socket(&sock)).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = ctl.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            assert_eq!(line, "status\n");
            (&s).write_all(b"{\"state\":\"busy\",\"pid\":4242}\n")
                .unwrap();
        });
        let t0 = std::time::Instant::now();
        let e = VfioUserTransport::connect(&sock).err().expect("busy");
        assert!(t0.elapsed() < Duration::from_secs(1));
        server.join().unwrap();
        match &e {
            Error::CardBusy { socket, server_pid } => {
                assert_eq!(socket, &sock);
                assert_eq!(*server_pid, Some(4242));
            }
            other => panic!("expected CardBusy, got {other}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("(server pid 4242) is in use by another process"),
            "{msg}"
        );
        assert!(msg.contains(&sock.display().to_string()), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_socket_says_how_to_start_one() {
        let e = VfioUserTransport::connect(Path::new("/nonexistent/hsm/card.sock"))
            .err()
            .expect("no card");
        let msg = e.to_string();
        assert!(
            msg.contains("no simulated card at /nonexistent/hsm/card.sock"),
            "{msg}"
        );
        assert!(msg.contains("hsmctl sim start"), "{msg}");
    }
}
