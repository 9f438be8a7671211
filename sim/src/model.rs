//! The Verilated card model, as a safe Rust type.
//!
//! [`Model`] owns one instance of the C++ wrapper in `csrc/hsm_sim.cpp`,
//! which owns the Verilated RTL. Register accesses are one FFI call each;
//! [`Model::run`] clocks the card in C++ for up to a given number of cycles,
//! serving its DMA port from the [`DmaMapping`]s registered with
//! [`Model::map`], so no per-cycle work crosses the FFI boundary.

use std::ffi::{c_int, CString};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use crate::library::ModelLibrary;
use crate::SimError;

/// Default read latency of the simulated DMA port, in cycles: the first beat
/// of a read burst is presented this many cycles after the earliest cycle it
/// could be (0 means in the cycle right after the request was accepted).
/// Later beats follow one per cycle.
pub const DEFAULT_DMA_READ_LATENCY: u32 = 4;

/// Cycles [`Model::reset`] holds `reset` high (the port protocol asks for at
/// least 2).
pub const RESET_CYCLES: u32 = 4;

#[repr(C)]
pub(crate) struct RawSim {
    _opaque: [u8; 0],
}

/// Counters kept by the simulated card's host side.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Clock cycles simulated since the model was created (reset included).
    pub cycles: u64,
    /// DMA read beats delivered to the card.
    pub read_beats: u64,
    /// Of those, beats delivered with `dmar_data_err` (unmapped address).
    pub read_errors: u64,
    /// DMA write beats accepted from the card.
    pub write_beats: u64,
    /// Of those, beats that could not be written (answered with `dmaw_err`).
    pub write_errors: u64,
    /// `irq` pulses seen.
    pub irqs: u64,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct RawRun {
    pub(crate) cycles: u64,
    pub(crate) irqs: u64,
    pub(crate) busy: u8,
    pub(crate) dma_pending: u8,
}

/// What one [`Model::run`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// Cycles clocked by this call.
    pub cycles: u64,
    /// `irq` pulses seen since the previous `run` (register accesses clock
    /// the card too, so pulses may come from them).
    pub irqs: u64,
    /// The card's `busy` output when the call returned.
    pub busy: bool,
    /// Whether DMA traffic was still in flight when the call returned.
    pub dma_pending: bool,
}

impl RunResult {
    /// Whether the card has nothing to do until the host acts.
    pub fn idle(&self) -> bool {
        !self.busy && !self.dma_pending
    }
}

/// Host memory the card may reach by DMA, at a bus address (IOVA).
///
/// The model keeps a raw pointer to the memory while the mapping is
/// registered, so the memory must stay valid until it is unmapped; that is
/// why [`DmaMapping::new`] is unsafe and why [`Model`] takes ownership of the
/// value. Two ways to make one: [`DmaMapping::from_fd`] (a shared `mmap` of
/// a file descriptor such as a memfd, which is how vfio-user hands memory
/// over), or [`DmaMapping::new`] over memory owned elsewhere.
pub struct DmaMapping {
    iova: u64,
    len: u64,
    host: *mut u8,
    readable: bool,
    writable: bool,
    _owner: Box<dyn Send>,
}

impl std::fmt::Debug for DmaMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaMapping")
            .field("iova", &format_args!("{:#x}", self.iova))
            .field("len", &format_args!("{:#x}", self.len))
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

// SAFETY: a DmaMapping is plain data plus an owner that is itself Send; the
// memory it points to is owned by `_owner` (or, for `new`, guaranteed valid
// by its caller) and is only accessed by the thread that owns the Model.
unsafe impl Send for DmaMapping {}

impl DmaMapping {
    /// A mapping of `len` bytes at `host` to bus address `iova`.
    ///
    /// # Safety
    ///
    /// `host` must be valid for reads (when `readable`) and writes (when
    /// `writable`) of `len` bytes for as long as `owner` lives, and nothing
    /// else may hold a Rust reference to that memory while the card may
    /// access it (the card writes it from the model's thread).
    pub unsafe fn new(
        iova: u64,
        len: u64,
        host: *mut u8,
        readable: bool,
        writable: bool,
        owner: Box<dyn Send>,
    ) -> DmaMapping {
        DmaMapping {
            iova,
            len,
            host,
            readable,
            writable,
            _owner: owner,
        }
    }

    /// Maps `len` bytes of `fd` from `offset` (shared, so writes by the card
    /// are seen by every other mapping of the file) at bus address `iova`.
    pub fn from_fd(
        iova: u64,
        len: u64,
        fd: BorrowedFd<'_>,
        offset: u64,
        readable: bool,
        writable: bool,
    ) -> Result<DmaMapping, SimError> {
        let fail = |reason: String| SimError::DmaMap { iova, len, reason };
        let size = usize::try_from(len).map_err(|_| fail("too long".to_owned()))?;
        if size == 0 {
            return Err(fail("empty".to_owned()));
        }
        let file_offset = libc::off_t::try_from(offset)
            .map_err(|_| fail(format!("file offset {offset:#x} too large")))?;
        // Touching a shared mapping past the end of its file raises SIGBUS;
        // refuse ranges that do not fit the file as it is now.
        // SAFETY: libc::stat is plain data; all zeroes is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes one stat into `st`.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            let err = std::io::Error::last_os_error();
            return Err(fail(format!("fstat of the file descriptor failed: {err}")));
        }
        if st.st_mode & libc::S_IFMT == libc::S_IFREG
            && offset
                .checked_add(len)
                .is_none_or(|end| end > st.st_size as u64)
        {
            return Err(fail(format!(
                "the file holds {} bytes, fewer than offset {offset:#x} + length",
                st.st_size
            )));
        }
        let mut prot = 0;
        if readable {
            prot |= libc::PROT_READ;
        }
        if writable {
            prot |= libc::PROT_WRITE;
        }
        if prot == 0 {
            prot = libc::PROT_NONE;
        }
        // SAFETY: mmap with a null hint creates a new mapping and touches no
        // existing memory; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                file_offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            let err = std::io::Error::last_os_error();
            return Err(fail(format!("mmap of the file descriptor failed: {err}")));
        }
        let owner = Mmap {
            ptr: ptr.cast(),
            len: size,
        };
        // SAFETY: the memory was just mapped with exactly these permissions
        // and stays mapped until `owner` (kept in the DmaMapping) drops; no
        // Rust reference to it exists.
        Ok(unsafe { DmaMapping::new(iova, len, ptr.cast(), readable, writable, Box::new(owner)) })
    }

    /// The bus address of the first byte.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the mapping is empty (never true for a registered mapping).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An `mmap`ed range, unmapped on drop.
struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is process-wide; unmapping it from another thread is
// fine, and Mmap gives no access to the memory itself.
unsafe impl Send for Mmap {}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly a mapping made by DmaMapping::from_fd,
        // unmapped only here, once.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// One simulated card: the Verilated RTL and its host side (DMA mappings,
/// counters, optional VCD trace).
///
/// Not `Send`: the Verilated model is used from the thread that created it
/// (the server creates it on its card thread).
pub struct Model {
    lib: &'static ModelLibrary,
    raw: *mut RawSim,
    mappings: Vec<DmaMapping>,
    trace: Option<PathBuf>,
    _not_send: PhantomData<*mut ()>,
}

impl Model {
    /// Builds the model of the card image built into this program and resets
    /// it (in test mode when `test_mode`), with a VCD trace of every signal
    /// written to `trace` when given.
    pub fn new(test_mode: bool, trace: Option<&Path>) -> Result<Model, SimError> {
        Model::from_library(ModelLibrary::builtin(), test_mode, trace)
    }

    /// As [`Model::new`], with the model of `lib` (a card image loaded with
    /// [`ModelLibrary::load`], or the built-in one).
    pub fn from_library(
        lib: &'static ModelLibrary,
        test_mode: bool,
        trace: Option<&Path>,
    ) -> Result<Model, SimError> {
        let trace_c = match trace {
            Some(path) => Some(CString::new(path.as_os_str().as_encoded_bytes()).map_err(
                |_| SimError::Trace {
                    path: path.to_path_buf(),
                    reason: "the path contains a NUL byte".to_owned(),
                },
            )?),
            None => None,
        };
        let mut err = [0u8; 128];
        // SAFETY: the trace path is a valid NUL-terminated string or null, and
        // `err` is a writable buffer of the length passed.
        let raw = unsafe {
            (lib.abi.create)(
                trace_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                err.as_mut_ptr().cast(),
                err.len(),
            )
        };
        if raw.is_null() {
            let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
            let reason = String::from_utf8_lossy(&err[..end]).into_owned();
            return Err(match trace {
                Some(path) => SimError::Trace {
                    path: path.to_path_buf(),
                    reason,
                },
                None => SimError::Model(reason),
            });
        }
        let mut model = Model {
            lib,
            raw,
            mappings: Vec::new(),
            trace: trace.map(Path::to_path_buf),
            _not_send: PhantomData,
        };
        model.reset(test_mode);
        Ok(model)
    }

    /// Resets the card: holds `reset` for [`RESET_CYCLES`] cycles with the
    /// test-mode strap set as given. Read bursts in flight are dropped; DMA
    /// mappings stay (as IOMMU mappings do across a device reset).
    pub fn reset(&mut self, test_mode: bool) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.reset)(self.raw, c_int::from(test_mode), RESET_CYCLES) }
    }

    /// Makes the state directory `dir` the card's persistent storage (its
    /// master-key store and record store, `hsm_contract::storage`): loads
    /// them from there, and from then on writes every change there
    /// atomically. The card reads them at its next [`Model::reset`].
    pub fn set_storage(&mut self, dir: &Path) -> Result<(), SimError> {
        let dir_c = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|_| {
            SimError::Model(format!("{}: the path contains a NUL byte", dir.display()))
        })?;
        let mut err = [0u8; 512];
        // SAFETY: `raw` is live, the path is NUL-terminated, and `err` is a
        // writable buffer of the length passed.
        let rc = unsafe {
            (self.lib.abi.set_storage)(self.raw, dir_c.as_ptr(), err.as_mut_ptr().cast(), err.len())
        };
        if rc != 0 {
            let end = err.iter().position(|&b| b == 0).unwrap_or(err.len());
            return Err(SimError::Storage(
                String::from_utf8_lossy(&err[..end]).into_owned(),
            ));
        }
        Ok(())
    }

    /// Reads the 32-bit register at BAR0 byte offset `offset`.
    pub fn read(&mut self, offset: u32) -> Result<u32, SimError> {
        let mut value = 0u32;
        // SAFETY: `raw` is live and `value` is a valid place to write a u32.
        let rc = unsafe { (self.lib.abi.reg_read)(self.raw, offset, &mut value) };
        if rc != 0 {
            return Err(SimError::RegisterTimeout { offset });
        }
        Ok(value)
    }

    /// Writes the 32-bit register at BAR0 byte offset `offset`.
    pub fn write(&mut self, offset: u32, value: u32) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.reg_write)(self.raw, offset, value) }
    }

    /// Clocks one cycle (serving DMA).
    pub fn tick(&mut self) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.tick)(self.raw) }
    }

    /// Clocks exactly `cycles` cycles, busy or not (serving DMA). Irq pulses
    /// seen are reported by the next [`Model::run`].
    pub fn clock(&mut self, cycles: u64) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.clock)(self.raw, cycles) }
    }

    /// Clocks the card while it is busy or DMA is in flight, for at most
    /// `max_cycles` cycles; returns early when `irq` pulsed.
    pub fn run(&mut self, max_cycles: u64) -> RunResult {
        let mut out = RawRun::default();
        // SAFETY: `raw` is live and `out` is a valid place for the result.
        unsafe { (self.lib.abi.run)(self.raw, max_cycles, &mut out) };
        RunResult {
            cycles: out.cycles,
            irqs: out.irqs,
            busy: out.busy != 0,
            dma_pending: out.dma_pending != 0,
        }
    }

    /// Sets the DMA read latency (see [`DEFAULT_DMA_READ_LATENCY`]).
    pub fn set_dma_read_latency(&mut self, cycles: u32) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.set_read_latency)(self.raw, cycles) }
    }

    /// Chooses what feeds the card's noise-source port: the host's
    /// `getrandom` (the default), or a fault for tests of the card's health
    /// tests. Takes effect from the next sample.
    pub fn set_noise(&mut self, source: NoiseSource) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.set_noise)(self.raw, source as u32) }
    }

    /// Sets the card's self-test fault-injection input (one bit per
    /// known-answer test; bit 0 the DRBG's): a test hook that makes the
    /// self-tests of the next reset fail.
    pub fn set_selftest_inject(&mut self, mask: u32) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.set_selftest_inject)(self.raw, mask) }
    }

    /// Sets the level of the card's tamper input; a rising edge zeroizes
    /// the card (see `hsm_contract::storage`).
    pub fn set_tamper(&mut self, asserted: bool) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.set_tamper)(self.raw, asserted as u32) }
    }

    /// Registers a DMA mapping. Fails when it is empty or overlaps one
    /// already registered.
    pub fn map(&mut self, mapping: DmaMapping) -> Result<(), SimError> {
        // SAFETY: the mapping's memory is valid for its length and
        // permissions while the DmaMapping lives (its constructor's
        // contract), and self keeps it alive until it is unregistered.
        let rc = unsafe {
            (self.lib.abi.map)(
                self.raw,
                mapping.iova,
                mapping.len,
                mapping.host,
                c_int::from(mapping.readable),
                c_int::from(mapping.writable),
            )
        };
        if rc != 0 {
            return Err(SimError::DmaMap {
                iova: mapping.iova,
                len: mapping.len,
                reason: "empty, wrapping, or overlapping an existing mapping".to_owned(),
            });
        }
        self.mappings.push(mapping);
        Ok(())
    }

    /// Unregisters the mapping that covers exactly `[iova, iova + len)` and
    /// returns it.
    pub fn unmap(&mut self, iova: u64, len: u64) -> Result<DmaMapping, SimError> {
        // SAFETY: `raw` is a live model owned by self.
        let rc = unsafe { (self.lib.abi.unmap)(self.raw, iova, len) };
        let index = self
            .mappings
            .iter()
            .position(|m| m.iova == iova && m.len == len);
        match (rc, index) {
            (0, Some(index)) => Ok(self.mappings.swap_remove(index)),
            _ => Err(SimError::DmaUnmap { iova, len }),
        }
    }

    /// Unregisters every mapping.
    pub fn unmap_all(&mut self) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.unmap_all)(self.raw) };
        self.mappings.clear();
    }

    /// Unregisters every mapping and hands them over, so they can be
    /// registered with another model (when the card loads a new image).
    pub fn take_mappings(&mut self) -> Vec<DmaMapping> {
        // SAFETY: `raw` is a live model owned by self; after this call the
        // C++ side holds no pointer into the mappings' memory.
        unsafe { (self.lib.abi.unmap_all)(self.raw) };
        std::mem::take(&mut self.mappings)
    }

    /// The card image this model runs.
    pub fn library(&self) -> &'static ModelLibrary {
        self.lib
    }

    /// The number of registered mappings.
    pub fn mapping_count(&self) -> usize {
        self.mappings.len()
    }

    /// The host side's counters.
    pub fn stats(&self) -> Stats {
        let mut out = Stats::default();
        // SAFETY: `raw` is live and `out` is a valid place for the counters.
        unsafe { (self.lib.abi.stats)(self.raw, &mut out) };
        out
    }

    /// Clock cycles simulated since the model was created.
    pub fn cycles(&self) -> u64 {
        self.stats().cycles
    }

    /// The trace file, when tracing.
    pub fn trace_path(&self) -> Option<&Path> {
        self.trace.as_deref()
    }

    /// Writes buffered trace data to the trace file.
    pub fn flush_trace(&mut self) {
        // SAFETY: `raw` is a live model owned by self.
        unsafe { (self.lib.abi.flush_trace)(self.raw) }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `raw` came from hsm_sim_create and is destroyed once; the
        // C++ side stops using the mappings' memory before they are dropped
        // (fields drop after this body).
        unsafe { (self.lib.abi.destroy)(self.raw) }
    }
}

/// What feeds the simulated card's noise-source port. A real card samples a
/// ring oscillator there; the simulated card feeds bytes from the host's
/// `getrandom`, or a fault that the card's SP 800-90B health tests must
/// catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u32)]
pub enum NoiseSource {
    /// Bytes from the host's `getrandom(2)`.
    #[default]
    Getrandom = 0,
    /// One value forever: the repetition count test fails.
    Stuck = 1,
    /// Two values alternating: no value repeats, so the repetition count
    /// test passes, but each is half of every window, so the adaptive
    /// proportion test fails.
    Biased = 2,
}

impl NoiseSource {
    /// The name used on the control socket and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            NoiseSource::Getrandom => "getrandom",
            NoiseSource::Stuck => "stuck",
            NoiseSource::Biased => "biased",
        }
    }

    /// The source named `name` ([`NoiseSource::name`]).
    pub fn from_name(name: &str) -> Option<NoiseSource> {
        [
            NoiseSource::Getrandom,
            NoiseSource::Stuck,
            NoiseSource::Biased,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}
