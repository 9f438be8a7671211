//! DMA memory: memfd-backed buffers shared with the card, and the IOVA
//! allocator that places them in the card's address space.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::Weak;

use crate::error::{Error, Result};

/// Granule of DMA buffers and IOVA ranges: every buffer starts on a 4 KiB
/// boundary of host memory and of the card's address space, and its mapping
/// covers whole 4 KiB pages.
pub const DMA_PAGE: u64 = 4096;

/// Where the IOVA allocator starts handing out addresses (64 GiB): above
/// 4 GiB, so every descriptor exercises the card's 64-bit addressing.
pub const IOVA_BASE: u64 = 0x10_0000_0000;

/// Round `len` up to whole [`DMA_PAGE`]s (at least one page).
pub fn page_round(len: u64) -> u64 {
    len.max(1).div_ceil(DMA_PAGE) * DMA_PAGE
}

/// The device side of a DMA mapping: undoes what a [`crate::Transport`]
/// mapped when it created a [`DmaBuffer`].
///
/// Implemented by transports; a buffer holds a weak reference to it, so a
/// buffer that outlives its transport only releases host memory (closing
/// the device released the device-side mappings).
pub trait DmaMapper: Send + Sync {
    /// Remove the mapping of exactly `[iova, iova + len)`, as it was mapped,
    /// and return the IOVA range to the allocator.
    ///
    /// # Errors
    /// When the transport fails to unmap; the IOVA range is then not reused.
    fn unmap(&self, iova: u64, len: u64) -> Result<()>;
}

/// Host memory that can be shared with a device: an anonymous memory file
/// (memfd) mapped shared into this process.
///
/// Sharing a file rather than anonymous memory is what lets a vfio-user
/// server (the simulated card, another process) map the same pages; on a
/// kernel VFIO card the IOMMU pins the pages instead.
pub struct HostMemory {
    fd: OwnedFd,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: HostMemory owns its mapping exclusively; the raw pointer is only
// dereferenced through methods that take &self/&mut self, like a Vec.
unsafe impl Send for HostMemory {}
// SAFETY: shared access only hands out & slices or volatile reads.
unsafe impl Sync for HostMemory {}

impl HostMemory {
    /// Create `len` bytes (rounded up to whole pages) of zeroed shared memory.
    ///
    /// # Errors
    /// When `memfd_create`, `ftruncate` or `mmap` fail (for example when
    /// memory is exhausted).
    pub fn new(len: usize) -> Result<HostMemory> {
        let len = page_round(len as u64) as usize;
        let name = c"hsm-dma";
        // SAFETY: name is a valid NUL-terminated string; flags are valid.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(Error::last_os("memfd_create for a DMA buffer"));
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: fd is a valid memfd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(Error::last_os(format!(
                "ftruncate of a {len}-byte DMA buffer"
            )));
        }
        // SAFETY: mapping a fresh file of `len` bytes at an address the
        // kernel chooses; the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last_os(format!("mmap of a {len}-byte DMA buffer")));
        }
        Ok(HostMemory {
            fd,
            ptr: NonNull::new(p.cast()).expect("mmap returned a non-null mapping"),
            len,
        })
    }

    /// Length in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: it has at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memfd backing the memory.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Start of the mapping in this process.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly the mapping created in new().
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A buffer in host memory that the card can reach by DMA.
///
/// It is memfd-backed, mapped in this process, and mapped for the device
/// at [`DmaBuffer::iova`]. Dropping it (or calling [`DmaBuffer::free`])
/// unmaps exactly the range that was mapped, then releases the memory.
///
/// The card reads and writes this memory while jobs naming it are in
/// flight: do not use [`DmaBuffer::as_slice`] or
/// [`DmaBuffer::as_mut_slice`] on a buffer with outstanding jobs (the
/// synchronous helpers such as [`crate::Card::copy`] guarantee that).
pub struct DmaBuffer {
    mem: HostMemory,
    len: usize,
    iova: u64,
    mapper: Option<Weak<dyn DmaMapper>>,
}

impl std::fmt::Debug for DmaBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaBuffer")
            .field("len", &self.len)
            .field("iova", &format_args!("{:#x}", self.iova))
            .field("mapped_len", &self.mem.len())
            .finish()
    }
}

impl DmaBuffer {
    /// Wrap memory that a transport has mapped at `iova` (all of
    /// `mem.len()` bytes). `len` is the length the user asked for.
    /// `mapper` is told to unmap `[iova, iova + mem.len())` when the
    /// buffer is freed.
    pub fn from_mapped(
        mem: HostMemory,
        len: usize,
        iova: u64,
        mapper: Weak<dyn DmaMapper>,
    ) -> DmaBuffer {
        DmaBuffer {
            mem,
            len,
            iova,
            mapper: Some(mapper),
        }
    }

    /// The buffer's address in the card's address space.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The length asked for, in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer has length 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes mapped for the device: [`DmaBuffer::len`] rounded up to whole
    /// pages.
    pub fn mapped_len(&self) -> usize {
        self.mem.len()
    }

    /// The bus address of byte `offset`.
    ///
    /// # Panics
    /// When `offset` is beyond the buffer.
    pub fn iova_at(&self, offset: usize) -> u64 {
        assert!(
            offset <= self.len,
            "offset {offset} beyond a {}-byte buffer",
            self.len
        );
        self.iova + offset as u64
    }

    /// The contents. Do not call while a job using this buffer is in flight.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is valid for mem.len() >= len bytes for the
        // lifetime of self.
        unsafe { std::slice::from_raw_parts(self.mem.as_ptr(), self.len) }
    }

    /// The contents, writable. Do not call while a job using this buffer is
    /// in flight.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in as_slice, and &mut self makes this the only
        // reference from this process.
        unsafe { std::slice::from_raw_parts_mut(self.mem.as_ptr(), self.len) }
    }

    /// Raw pointer to the start, for volatile access to memory the device
    /// writes asynchronously (rings).
    pub fn as_ptr(&self) -> *mut u8 {
        self.mem.as_ptr()
    }

    /// Unmap from the device and release the memory, reporting errors that
    /// dropping would ignore.
    ///
    /// # Errors
    /// When the transport fails to unmap the range.
    pub fn free(mut self) -> Result<()> {
        self.unmap()
    }

    fn unmap(&mut self) -> Result<()> {
        if let Some(mapper) = self.mapper.take().and_then(|w| w.upgrade()) {
            mapper.unmap(self.iova, self.mem.len() as u64)?;
        }
        Ok(())
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; free() reports them.
        let _ = self.unmap();
    }
}

/// Hands out page-aligned ranges of the card's address space.
///
/// First fit over a list of freed ranges (merged with their neighbours),
/// then fresh space above [`IOVA_BASE`]. Ranges are whole pages.
#[derive(Debug)]
pub struct IovaAllocator {
    next: u64,
    limit: u64,
    free: BTreeMap<u64, u64>,
}

impl Default for IovaAllocator {
    fn default() -> Self {
        IovaAllocator::new(IOVA_BASE, 1 << 48)
    }
}

impl IovaAllocator {
    /// An allocator for `[base, limit)`; `base` is rounded up to a page.
    pub fn new(base: u64, limit: u64) -> IovaAllocator {
        IovaAllocator {
            next: base.div_ceil(DMA_PAGE) * DMA_PAGE,
            limit,
            free: BTreeMap::new(),
        }
    }

    /// Reserve `len` bytes (rounded up to pages); returns the start.
    ///
    /// # Errors
    /// When the address space is exhausted.
    pub fn alloc(&mut self, len: u64) -> Result<u64> {
        let len = page_round(len);
        let hit = self
            .free
            .iter()
            .find(|(_, &l)| l >= len)
            .map(|(&s, &l)| (s, l));
        if let Some((start, flen)) = hit {
            self.free.remove(&start);
            if flen > len {
                self.free.insert(start + len, flen - len);
            }
            return Ok(start);
        }
        let start = self.next;
        match start.checked_add(len) {
            Some(end) if end <= self.limit => {
                self.next = end;
                Ok(start)
            }
            _ => Err(Error::InvalidArgument(format!(
                "IOVA space exhausted: cannot place {len} bytes below {:#x}",
                self.limit
            ))),
        }
    }

    /// Return a range handed out by [`IovaAllocator::alloc`].
    pub fn release(&mut self, start: u64, len: u64) {
        let mut start = start;
        let mut len = page_round(len);
        // Merge with the following free range.
        if let Some(next_len) = self.free.remove(&(start + len)) {
            len += next_len;
        }
        // Merge with the preceding free range.
        if let Some((&ps, &pl)) = self.free.range(..start).next_back() {
            if ps + pl == start {
                self.free.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        // Give back to the bump pointer when it ends there.
        if start + len == self.next {
            self.next = start;
        } else {
            self.free.insert(start, len);
        }
    }

    /// Bytes currently handed out (for tests and diagnostics).
    pub fn in_use(&self, base: u64) -> u64 {
        self.next - base - self.free.values().sum::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_high_aligned_and_reuses() {
        let mut a = IovaAllocator::default();
        let x = a.alloc(1).unwrap();
        let y = a.alloc(5000).unwrap();
        let z = a.alloc(4096).unwrap();
        assert_eq!(x, IOVA_BASE);
        assert!(x > u32::MAX as u64);
        assert_eq!(y, IOVA_BASE + 4096);
        assert_eq!(z, IOVA_BASE + 3 * 4096);
        a.release(y, 5000);
        // A smaller request fits in the freed hole.
        assert_eq!(a.alloc(4096).unwrap(), y);
        assert_eq!(a.alloc(4096).unwrap(), y + 4096);
        assert_eq!(a.in_use(IOVA_BASE), 4 * 4096);
    }

    #[test]
    fn release_merges_neighbours_and_shrinks_top() {
        let mut a = IovaAllocator::default();
        let r: Vec<u64> = (0..4).map(|_| a.alloc(4096).unwrap()).collect();
        a.release(r[1], 4096);
        a.release(r[2], 4096);
        // Merged: an 8 KiB request fits at r[1].
        assert_eq!(a.alloc(8192).unwrap(), r[1]);
        a.release(r[1], 8192);
        a.release(r[3], 4096);
        a.release(r[0], 4096);
        assert_eq!(a.in_use(IOVA_BASE), 0);
        assert_eq!(a.alloc(4096).unwrap(), IOVA_BASE);
    }

    #[test]
    fn exhaustion_is_an_error() {
        let mut a = IovaAllocator::new(0x1000, 0x3000);
        a.alloc(0x2000).unwrap();
        let e = a.alloc(1).unwrap_err().to_string();
        assert!(e.contains("exhausted"), "{e}");
    }

    #[test]
    fn host_memory_is_zeroed_pages() {
        let m = HostMemory::new(10).unwrap();
        assert_eq!(m.len(), 4096);
        // SAFETY: the mapping is 4096 bytes long.
        let s = unsafe { std::slice::from_raw_parts(m.as_ptr(), m.len()) };
        assert!(s.iter().all(|&b| b == 0));
    }
}
