//! SIGINT, SIGTERM and SIGHUP become a flag that long operations check
//! between card batches, so that they stop cleanly: temporary files are
//! removed and no half-written output is left behind.

use std::sync::atomic::{AtomicI32, Ordering};

static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// The operation was interrupted by a signal.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by signal {0}; no output was left behind")]
pub struct Interrupted(pub i32);

/// Catch SIGINT, SIGTERM and SIGHUP from now on (without `SA_RESTART`, so a
/// blocked read returns and the flag is seen).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // only stores to an atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// `Err(Interrupted)` once a caught signal arrived.
///
/// # Errors
/// [`Interrupted`] after a signal.
pub fn check() -> Result<(), Interrupted> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => Ok(()),
        sig => Err(Interrupted(sig)),
    }
}
