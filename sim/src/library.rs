//! Card images as code: the Verilated model built into this program, or one
//! loaded at run time from a card image (a shared library built by
//! [`crate::image::build`]).
//!
//! Both expose the C interface of `csrc/hsm_sim.cpp`; [`ModelLibrary`] is
//! its table of entry points. A loaded image is checked for the interface
//! version ([`ABI_VERSION`]) before any other call, and stays mapped until
//! the process exits: unloading C++ code that may have registered
//! thread-local destructors is not safe, and a card loads few images.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

use crate::model::{RawRun, RawSim, Stats};
use crate::SimError;

/// The version of the C interface this simulator speaks
/// (`kAbiVersion` in `csrc/hsm_sim.cpp`).
pub const ABI_VERSION: u32 = 5;

extern "C" {
    fn hsm_sim_abi_version() -> u32;
    fn hsm_sim_create(trace: *const c_char, err: *mut c_char, err_len: usize) -> *mut RawSim;
    fn hsm_sim_destroy(sim: *mut RawSim);
    fn hsm_sim_reset(sim: *mut RawSim, test_mode: c_int, cycles: u32);
    fn hsm_sim_reg_read(sim: *mut RawSim, addr: u32, value: *mut u32) -> c_int;
    fn hsm_sim_reg_write(sim: *mut RawSim, addr: u32, value: u32);
    fn hsm_sim_tick(sim: *mut RawSim);
    fn hsm_sim_run(sim: *mut RawSim, max_cycles: u64, out: *mut RawRun);
    fn hsm_sim_clock(sim: *mut RawSim, cycles: u64);
    fn hsm_sim_map(
        sim: *mut RawSim,
        iova: u64,
        len: u64,
        host: *mut u8,
        readable: c_int,
        writable: c_int,
    ) -> c_int;
    fn hsm_sim_unmap(sim: *mut RawSim, iova: u64, len: u64) -> c_int;
    fn hsm_sim_unmap_all(sim: *mut RawSim);
    fn hsm_sim_set_read_latency(sim: *mut RawSim, cycles: u32);
    fn hsm_sim_set_noise(sim: *mut RawSim, mode: u32);
    fn hsm_sim_set_selftest_inject(sim: *mut RawSim, mask: u32);
    fn hsm_sim_set_tamper(sim: *mut RawSim, level: u32);
    fn hsm_sim_set_storage(
        sim: *mut RawSim,
        dir: *const c_char,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn hsm_sim_stats(sim: *const RawSim, out: *mut Stats);
    fn hsm_sim_flush_trace(sim: *mut RawSim);
}

type CreateFn = unsafe extern "C" fn(*const c_char, *mut c_char, usize) -> *mut RawSim;
type SimFn = unsafe extern "C" fn(*mut RawSim);
type ResetFn = unsafe extern "C" fn(*mut RawSim, c_int, u32);
type RegReadFn = unsafe extern "C" fn(*mut RawSim, u32, *mut u32) -> c_int;
type RegWriteFn = unsafe extern "C" fn(*mut RawSim, u32, u32);
type RunFn = unsafe extern "C" fn(*mut RawSim, u64, *mut RawRun);
type ClockFn = unsafe extern "C" fn(*mut RawSim, u64);
type MapFn = unsafe extern "C" fn(*mut RawSim, u64, u64, *mut u8, c_int, c_int) -> c_int;
type UnmapFn = unsafe extern "C" fn(*mut RawSim, u64, u64) -> c_int;
/// A setter taking one `uint32_t` (read latency, noise mode, self-test
/// fault injection).
type SetU32Fn = unsafe extern "C" fn(*mut RawSim, u32);
type StorageFn = unsafe extern "C" fn(*mut RawSim, *const c_char, *mut c_char, usize) -> c_int;
type StatsFn = unsafe extern "C" fn(*const RawSim, *mut Stats);
type VersionFn = unsafe extern "C" fn() -> u32;

/// The entry points of one model (see `csrc/hsm_sim.cpp` for each).
pub(crate) struct Abi {
    pub create: CreateFn,
    pub destroy: SimFn,
    pub reset: ResetFn,
    pub reg_read: RegReadFn,
    pub reg_write: RegWriteFn,
    pub tick: SimFn,
    pub run: RunFn,
    pub clock: ClockFn,
    pub map: MapFn,
    pub unmap: UnmapFn,
    pub unmap_all: SimFn,
    pub set_read_latency: SetU32Fn,
    pub set_noise: SetU32Fn,
    pub set_selftest_inject: SetU32Fn,
    pub set_tamper: SetU32Fn,
    pub set_storage: StorageFn,
    pub stats: StatsFn,
    pub flush_trace: SimFn,
}

/// One card model's code: its entry points and where they came from.
pub struct ModelLibrary {
    pub(crate) abi: Abi,
    origin: String,
}

impl std::fmt::Debug for ModelLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelLibrary")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ModelLibrary {
    /// The model built into this program (by `build.rs`, from the RTL of
    /// this source tree): the card's factory image.
    pub fn builtin() -> &'static ModelLibrary {
        static BUILTIN: OnceLock<ModelLibrary> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // SAFETY: a call without arguments into the linked wrapper.
            debug_assert_eq!(unsafe { hsm_sim_abi_version() }, ABI_VERSION);
            ModelLibrary {
                abi: Abi {
                    create: hsm_sim_create,
                    destroy: hsm_sim_destroy,
                    reset: hsm_sim_reset,
                    reg_read: hsm_sim_reg_read,
                    reg_write: hsm_sim_reg_write,
                    tick: hsm_sim_tick,
                    run: hsm_sim_run,
                    clock: hsm_sim_clock,
                    map: hsm_sim_map,
                    unmap: hsm_sim_unmap,
                    unmap_all: hsm_sim_unmap_all,
                    set_read_latency: hsm_sim_set_read_latency,
                    set_noise: hsm_sim_set_noise,
                    set_selftest_inject: hsm_sim_set_selftest_inject,
                    set_tamper: hsm_sim_set_tamper,
                    set_storage: hsm_sim_set_storage,
                    stats: hsm_sim_stats,
                    flush_trace: hsm_sim_flush_trace,
                },
                origin: "built-in".to_owned(),
            }
        })
    }

    /// Loads a card image (the bytes of a shared library built by
    /// [`crate::image::build`]) and checks its interface version. `name`
    /// says where it came from, for messages.
    ///
    /// The bytes are loaded from an anonymous in-memory file, so what runs
    /// is exactly what the caller checked: no file can change between the
    /// check and the load.
    ///
    /// # Errors
    ///
    /// [`SimError::Image`] when the bytes are not a loadable shared library,
    /// lack an entry point, or speak another interface version.
    ///
    /// # Safety
    ///
    /// Loading runs the library's initialisers, and calls into it run its
    /// code: the caller must trust the bytes (a card image whose hash it has
    /// checked against a verified manifest) to be a model built for this
    /// interface.
    pub unsafe fn load(bytes: &[u8], name: &str) -> Result<&'static ModelLibrary, SimError> {
        let fail = |reason: String| SimError::Image {
            name: name.to_owned(),
            reason,
        };
        let fd = memfd(bytes).map_err(|e| fail(format!("cannot stage it in memory: {e}")))?;
        let path = CString::new(format!("/proc/self/fd/{}", fd.0)).expect("no NUL in a path");
        // SAFETY: path is a valid C string naming the memfd just written;
        // running the library's initialisers is the caller's contract.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        drop(fd);
        if handle.is_null() {
            return Err(fail(dl_error()));
        }
        let sym = |symbol: &str| -> Result<*mut c_void, SimError> {
            let c = CString::new(symbol).expect("no NUL in a symbol name");
            // SAFETY: handle is a live library handle and c a valid C string.
            let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
            if p.is_null() {
                Err(fail(format!("it has no entry point {symbol}")))
            } else {
                Ok(p)
            }
        };
        // SAFETY: the symbol is the image's `uint32_t hsm_sim_abi_version(void)`
        // (the caller's contract), called with no arguments.
        let version = unsafe {
            let f = std::mem::transmute::<*mut c_void, VersionFn>(sym("hsm_sim_abi_version")?);
            f()
        };
        if version != ABI_VERSION {
            return Err(fail(format!(
                "it speaks simulator interface version {version}; this simulator speaks {ABI_VERSION}"
            )));
        }
        macro_rules! entry {
            ($name:literal, $ty:ty) => {
                // SAFETY: an image of this interface version exports this
                // symbol with the signature of the field it fills (the
                // declarations above mirror csrc/hsm_sim.cpp).
                unsafe { std::mem::transmute::<*mut c_void, $ty>(sym($name)?) }
            };
        }
        let abi = Abi {
            create: entry!("hsm_sim_create", CreateFn),
            destroy: entry!("hsm_sim_destroy", SimFn),
            reset: entry!("hsm_sim_reset", ResetFn),
            reg_read: entry!("hsm_sim_reg_read", RegReadFn),
            reg_write: entry!("hsm_sim_reg_write", RegWriteFn),
            tick: entry!("hsm_sim_tick", SimFn),
            run: entry!("hsm_sim_run", RunFn),
            clock: entry!("hsm_sim_clock", ClockFn),
            map: entry!("hsm_sim_map", MapFn),
            unmap: entry!("hsm_sim_unmap", UnmapFn),
            unmap_all: entry!("hsm_sim_unmap_all", SimFn),
            set_read_latency: entry!("hsm_sim_set_read_latency", SetU32Fn),
            set_noise: entry!("hsm_sim_set_noise", SetU32Fn),
            set_selftest_inject: entry!("hsm_sim_set_selftest_inject", SetU32Fn),
            set_tamper: entry!("hsm_sim_set_tamper", SetU32Fn),
            set_storage: entry!("hsm_sim_set_storage", StorageFn),
            stats: entry!("hsm_sim_stats", StatsFn),
            flush_trace: entry!("hsm_sim_flush_trace", SimFn),
        };
        Ok(Box::leak(Box::new(ModelLibrary {
            abi,
            origin: name.to_owned(),
        })))
    }

    /// Where this model came from: `built-in`, or the name given to
    /// [`ModelLibrary::load`].
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// An owned file descriptor, closed on drop.
struct Fd(c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by self and closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// An anonymous in-memory file holding `bytes`.
fn memfd(bytes: &[u8]) -> std::io::Result<Fd> {
    let name = c"hsm-card-image";
    // SAFETY: name is a valid C string; the call has no other inputs.
    let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = Fd(raw);
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: rest is a valid readable buffer of the length passed.
        let n = unsafe { libc::write(fd.0, rest.as_ptr().cast(), rest.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        rest = &rest[n as usize..];
    }
    Ok(fd)
}

/// The dynamic loader's last error message.
fn dl_error() -> String {
    // SAFETY: dlerror returns null or a valid C string owned by the loader,
    // copied at once.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        "the dynamic loader refused it".to_owned()
    } else {
        // SAFETY: p is a valid NUL-terminated string (checked non-null).
        let text = unsafe { CStr::from_ptr(p) };
        format!("not a loadable card image: {}", text.to_string_lossy())
    }
}
