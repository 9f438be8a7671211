//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use hsm_contract::{regs, Completion, Descriptor, COMPLETION_BYTES};

/// Bus address of the submission ring in the tests.
pub const SQ_IOVA: u64 = 0x10_0000;
/// Bus address of the completion ring in the tests.
pub const CQ_IOVA: u64 = 0x10_1000;
/// Entries per ring, as log2.
pub const RING_LOG2: u32 = 2;

/// An anonymous memfd of `len` bytes.
pub fn memfd(len: u64) -> File {
    // SAFETY: memfd_create with a valid NUL-terminated name; checked below.
    let fd = unsafe { libc::memfd_create(c"hsm-sim-test".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: fd is fresh and owned by nobody else.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(len).expect("size the memfd");
    file
}

/// Writes a NOP descriptor with `job_id` into entry `index` of a submission
/// ring at offset 0 of `mem`.
pub fn put_nop(mem: &File, index: u64, job_id: u32) {
    mem.write_all_at(&Descriptor::nop(job_id).to_bytes(), index * 64)
        .expect("write descriptor");
}

/// Reads completion entry `index` of a completion ring at offset `base` of
/// `mem`.
pub fn get_completion(mem: &File, base: u64, index: u64) -> Completion {
    let mut b = [0u8; COMPLETION_BYTES];
    mem.read_exact_at(&mut b, base + index * COMPLETION_BYTES as u64)
        .expect("read completion");
    Completion::from_bytes(&b)
}

/// The register writes that configure both rings and enable the queue and
/// the completion interrupt, in order.
pub fn queue_setup(sq: u64, cq: u64) -> Vec<(u32, u32)> {
    vec![
        (regs::SQ_BASE_LO.offset, sq as u32),
        (regs::SQ_BASE_HI.offset, (sq >> 32) as u32),
        (regs::SQ_SIZE_LOG2.offset, RING_LOG2),
        (regs::CQ_BASE_LO.offset, cq as u32),
        (regs::CQ_BASE_HI.offset, (cq >> 32) as u32),
        (regs::CQ_SIZE_LOG2.offset, RING_LOG2),
        (regs::IRQ_ENABLE.offset, regs::irq::COMPLETION.mask()),
        (regs::CONTROL.offset, regs::control::QUEUE_ENABLE.mask()),
    ]
}

/// A fresh, empty directory for one test's sockets, removed on drop.
pub struct TestDir(pub PathBuf);

impl TestDir {
    /// A directory named after the test and this process.
    pub fn new(name: &str) -> TestDir {
        let dir = std::env::temp_dir().join(format!("hsm-sim-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
