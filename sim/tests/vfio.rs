//! The simulated card over vfio-user: registers, DMA, interrupts, one
//! client at a time, the control socket, stopping.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use hsm_contract::{regs, Status, DESIGN_ID, IRQ_VECTORS, PCI_DEVICE_ID, PCI_VENDOR_ID};
use hsm_sim::{control_status, control_stop, CardState, SimConfig};
use vfio_bindings::bindings::vfio::{
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSIX_IRQ_INDEX,
};
use vfio_user::Client;

const BAR0: u32 = VFIO_PCI_BAR0_REGION_INDEX;

fn read_reg(client: &mut Client, offset: u32) -> u32 {
    let mut b = [0u8; 4];
    client
        .region_read(BAR0, u64::from(offset), &mut b)
        .expect("BAR0 read");
    u32::from_le_bytes(b)
}

fn write_reg(client: &mut Client, offset: u32, value: u32) {
    client
        .region_write(BAR0, u64::from(offset), &value.to_le_bytes())
        .expect("BAR0 write");
}

/// Connects a vfio-user client in another thread; the test fails instead of
/// hanging if the connection neither succeeds nor fails within `limit`.
fn connect_within(socket: &Path, limit: Duration) -> Result<Client, vfio_user::Error> {
    let (tx, rx) = mpsc::channel();
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(Client::new(&socket));
    });
    rx.recv_timeout(limit)
        .expect("connecting neither succeeded nor failed: the client hangs")
}

/// Connects, retrying while the server refuses (it may not have noticed a
/// previous client's disconnect yet).
fn connect_when_free(socket: &Path) -> Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match connect_within(socket, Duration::from_secs(10)) {
            Ok(client) => return client,
            Err(e) => {
                assert!(Instant::now() < deadline, "never served: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn eventfd() -> File {
    // SAFETY: eventfd creates a fresh descriptor; checked below.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0);
    // SAFETY: fd is fresh and owned by nobody else.
    unsafe { File::from_raw_fd(fd) }
}

/// Waits until `fd` is readable, at most `limit`.
fn readable_within(fd: &File, limit: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, limit.as_millis() as libc::c_int) };
    rc == 1
}

#[test]
fn registers_dma_and_interrupts_over_vfio_user() {
    let dir = TestDir::new("roundtrip");
    let socket = dir.path("card.sock");
    let card = hsm_sim::start(SimConfig::new(&socket)).expect("start");
    assert_eq!(card.socket(), socket);
    assert!(dir.path("card.sock.ctl").exists());

    let mut client = Client::new(&socket).expect("connect");
    assert_eq!(read_reg(&mut client, regs::ID.offset), DESIGN_ID);
    write_reg(&mut client, regs::SCRATCH.offset, 0x600d_f00d);
    assert_eq!(read_reg(&mut client, regs::SCRATCH.offset), 0x600d_f00d);

    // The PCI identity and the BAR the driver relies on.
    let mut ids = [0u8; 4];
    client
        .region_read(VFIO_PCI_CONFIG_REGION_INDEX, 0, &mut ids)
        .unwrap();
    assert_eq!(u16::from_le_bytes([ids[0], ids[1]]), PCI_VENDOR_ID);
    assert_eq!(u16::from_le_bytes([ids[2], ids[3]]), PCI_DEVICE_ID);
    let bar0 = client.region(BAR0).expect("BAR0 region");
    assert_eq!(bar0.size, hsm_contract::BAR0_SIZE);
    let irq = client.get_irq_info(VFIO_PCI_MSIX_IRQ_INDEX).unwrap();
    assert_eq!(irq.count, IRQ_VECTORS);

    // A NOP job through memfd-backed rings, completed with an interrupt.
    let mem = memfd(0x2000);
    put_nop(&mem, 0, 0xc0ffee);
    client
        .dma_map(0, SQ_IOVA, 0x2000, mem.as_raw_fd())
        .expect("DMA_MAP");
    let irq_fd = eventfd();
    client
        .set_irqs(
            VFIO_PCI_MSIX_IRQ_INDEX,
            VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
            0,
            1,
            &[irq_fd.as_raw_fd()],
        )
        .expect("SET_IRQS");
    for (offset, value) in queue_setup(SQ_IOVA, CQ_IOVA) {
        write_reg(&mut client, offset, value);
    }
    write_reg(&mut client, regs::SQ_TAIL.offset, 1);
    assert!(
        readable_within(&irq_fd, Duration::from_secs(10)),
        "no interrupt"
    );
    let c = get_completion(&mem, CQ_IOVA - SQ_IOVA, 0);
    assert_eq!(c.job_id, 0xc0ffee, "{c:?}");
    assert_eq!(c.status(), Some(Status::Ok), "{c:?}");
    assert!(c.phase());
    assert_eq!(read_reg(&mut client, regs::CQ_TAIL.offset), 1);
    let status = control_status(&socket).unwrap();
    assert_eq!(status.state, CardState::Busy);
    assert!(status.cycles > 0);
    assert!(!status.test_mode);
    assert_eq!(status.pid, std::process::id());

    // After DMA_UNMAP the card cannot reach the rings. (Unmapping a range
    // that is not exactly a mapping is refused with an error reply, which
    // the crate's client cannot read; tests/model.rs covers it.)
    client.dma_unmap(SQ_IOVA, 0x2000).unwrap();
    put_nop(&mem, 1, 0xdead);
    write_reg(&mut client, regs::SQ_TAIL.offset, 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    let fault = loop {
        let fault = read_reg(&mut client, regs::FAULT.offset);
        if fault != 0 || Instant::now() > deadline {
            break fault;
        }
    };
    assert_ne!(
        regs::fault::DMA_READ.get(fault),
        0,
        "after DMA_UNMAP the ring must be unreachable"
    );

    // Device reset resets the RTL.
    client.reset().unwrap();
    assert_eq!(read_reg(&mut client, regs::SCRATCH.offset), 0);
    assert_eq!(read_reg(&mut client, regs::FAULT.offset), 0);

    drop(client);
    card.stop().expect("stop");
    assert!(!socket.exists(), "socket left behind");
    assert!(
        !dir.path("card.sock.ctl").exists(),
        "control socket left behind"
    );
}

#[test]
fn second_client_is_refused_while_busy() {
    let dir = TestDir::new("busy");
    let socket = dir.path("card.sock");
    let mut config = SimConfig::new(&socket);
    config.test_mode = true;
    let card = hsm_sim::start(config).expect("start");
    assert_eq!(control_status(&socket).unwrap().state, CardState::Idle);

    let mut first = Client::new(&socket).expect("first client");
    write_reg(&mut first, regs::SCRATCH.offset, 0x1234_5678);
    let status = control_status(&socket).unwrap();
    assert_eq!(status.state, CardState::Busy);
    assert!(status.test_mode);

    // The crate's client fails quickly...
    let start = Instant::now();
    let second = connect_within(&socket, Duration::from_secs(5));
    assert!(second.is_err(), "a second client was served concurrently");
    assert!(start.elapsed() < Duration::from_secs(2), "refusal too slow");

    // ...because the server answers VERSION with an EBUSY error reply.
    let mut raw = UnixStream::connect(&socket).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let caps = b"{\"capabilities\":{}}\0";
    let mut msg = Vec::new();
    msg.extend_from_slice(&7u16.to_le_bytes()); // message id
    msg.extend_from_slice(&1u16.to_le_bytes()); // VERSION
    msg.extend_from_slice(&(20 + caps.len() as u32).to_le_bytes());
    msg.extend_from_slice(&0u32.to_le_bytes()); // flags: command
    msg.extend_from_slice(&0u32.to_le_bytes()); // error
    msg.extend_from_slice(&0u16.to_le_bytes()); // major
    msg.extend_from_slice(&1u16.to_le_bytes()); // minor
    msg.extend_from_slice(caps);
    raw.write_all(&msg).unwrap();
    let mut reply = Vec::new();
    raw.read_to_end(&mut reply).expect("reply, then close");
    assert_eq!(reply.len(), 16, "{reply:?}");
    assert_eq!(u16::from_le_bytes([reply[0], reply[1]]), 7);
    let flags = u32::from_le_bytes(reply[8..12].try_into().unwrap());
    assert_eq!(flags, 1 | 1 << 5, "reply with the error flag");
    let errno = u32::from_le_bytes(reply[12..16].try_into().unwrap());
    assert_eq!(errno, libc::EBUSY as u32);

    // The first client is unaffected.
    assert_eq!(read_reg(&mut first, regs::SCRATCH.offset), 0x1234_5678);

    // Once it disconnects, the next client is served, and the card kept its
    // registers.
    drop(first);
    let mut next = connect_when_free(&socket);
    assert_eq!(read_reg(&mut next, regs::SCRATCH.offset), 0x1234_5678);
    let status = regs::status::TEST_MODE.get(read_reg(&mut next, regs::STATUS.offset));
    assert_eq!(status, 1);
    drop(next);
    card.stop().expect("stop");
}

#[test]
fn reconnecting_at_once_is_served() {
    let dir = TestDir::new("reconnect");
    let socket = dir.path("card.sock");
    let card = hsm_sim::start(SimConfig::new(&socket)).expect("start");
    // Like consecutive hsmctl commands: disconnect and reconnect at once,
    // with no retry.
    for i in 0..20u32 {
        let mut client = connect_within(&socket, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connection {i} refused: {e}"));
        write_reg(&mut client, regs::SCRATCH.offset, i);
        assert_eq!(read_reg(&mut client, regs::SCRATCH.offset), i);
    }
    card.stop().expect("stop");
}

#[test]
fn stop_ends_a_connected_session_and_control_stop_works() {
    let dir = TestDir::new("stop");
    let socket = dir.path("card.sock");
    let card = hsm_sim::start(SimConfig::new(&socket)).expect("start");

    // Starting a second card on the same path is refused.
    let err = hsm_sim::start(SimConfig::new(&socket))
        .err()
        .expect("second server on the same path");
    assert!(err.to_string().contains("card.sock"), "{err}");

    let mut client = Client::new(&socket).expect("connect");
    assert_eq!(read_reg(&mut client, regs::ID.offset), DESIGN_ID);
    let start = Instant::now();
    card.stop().expect("stop with a client connected");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!socket.exists());
    let mut b = [0u8; 4];
    assert!(
        client.region_read(BAR0, 0, &mut b).is_err(),
        "the session must be closed"
    );
    drop(client);

    // Through the control socket, with wait() returning.
    let card = hsm_sim::start(SimConfig::new(&socket)).expect("restart on the same path");
    let _client = Client::new(&socket).expect("connect");
    let waiter = std::thread::spawn(move || card.wait());
    control_stop(&socket).expect("control stop");
    waiter.join().unwrap().expect("wait");
    assert!(!socket.exists());
    assert!(!dir.path("card.sock.ctl").exists());
    let err = control_status(&socket).unwrap_err();
    assert!(err.to_string().contains("card.sock.ctl"), "{err}");
}
