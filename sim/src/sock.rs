//! Small Unix-socket and eventfd helpers (Linux).

use std::fs;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use crate::SimError;

/// Binds a listening socket at `path` with an accept queue of one: a second
/// client connecting while one is queued waits in `connect` and, when it is
/// woken, looks the path up again (see the module docs of `server`).
pub(crate) fn bind_single(path: &Path) -> Result<UnixListener, SimError> {
    let io_err = |what, source| SimError::Io {
        path: path.to_path_buf(),
        what,
        source,
    };
    remove_socket_file(path)?;
    let listener = UnixListener::bind(path).map_err(|e| io_err("cannot bind socket", e))?;
    // SAFETY: listen on a socket we own; re-listening only changes the
    // backlog.
    if unsafe { libc::listen(listener.as_raw_fd(), 0) } != 0 {
        return Err(io_err(
            "cannot set the socket's backlog",
            io::Error::last_os_error(),
        ));
    }
    Ok(listener)
}

/// Removes `path` if it is a socket (left by an earlier run); refuses to
/// remove anything else.
pub(crate) fn remove_socket_file(path: &Path) -> Result<(), SimError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            fs::remove_file(path).map_err(|source| SimError::Io {
                path: path.to_path_buf(),
                what: "cannot remove stale socket",
                source,
            })
        }
        Ok(_) => Err(SimError::NotASocket {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SimError::Io {
            path: path.to_path_buf(),
            what: "cannot inspect socket path",
            source,
        }),
    }
}

/// Whether something accepts connections at `path`.
pub(crate) fn is_live(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// Atomically moves the socket bound at `from` to `to` (replacing whatever
/// `to` named): new clients of `to` reach it from then on.
pub(crate) fn rename_onto(from: &Path, to: &Path) -> Result<(), SimError> {
    fs::rename(from, to).map_err(|source| SimError::Io {
        path: to.to_path_buf(),
        what: "cannot move a listening socket onto the socket path",
        source,
    })
}

/// An eventfd in non-blocking mode, for waking threads blocked in `poll`.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd creates a new descriptor; checked below.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes an eventfd readable (for good: nobody reads it back).
pub(crate) fn signal(fd: &OwnedFd) {
    let one = 1u64;
    // SAFETY: writes 8 bytes from a valid u64 to an eventfd we own.
    let _ = unsafe {
        libc::write(
            fd.as_raw_fd(),
            (&one as *const u64).cast(),
            mem::size_of::<u64>(),
        )
    };
}

/// Waits until one of `fds` is readable (or hung up), for at most
/// `timeout_ms` milliseconds (-1: no limit); returns which are.
pub(crate) fn poll_readable(fds: &[RawFd], timeout_ms: libc::c_int) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: pfds is a valid array of pollfd of the length passed.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if rc >= 0 {
            return Ok(pfds.iter().map(|p| p.revents != 0).collect());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Shuts down (both directions) every connected socket of this process whose
/// local address is `addr`: the connections accepted from the listener that
/// was bound there. Used to end a vfio-user session that the `vfio_user`
/// crate's server is blocked in, since that crate does not expose its stream.
pub(crate) fn shutdown_streams_bound_to(addr: &Path) {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return;
    };
    let want = addr.as_os_str().as_bytes();
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<RawFd>().ok())
        else {
            continue;
        };
        // Work on a duplicate, so that the socket checked is the socket shut
        // down even if `fd` is closed and reused meanwhile.
        // SAFETY: F_DUPFD_CLOEXEC on any number is harmless; checked below.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            continue;
        }
        // SAFETY: dup is a fresh descriptor we own.
        let dup = unsafe { OwnedFd::from_raw_fd(dup) };
        if !is_connected_socket_at(&dup, want) {
            continue;
        }
        // SAFETY: shutdown on a descriptor we own.
        unsafe {
            libc::shutdown(dup.as_raw_fd(), libc::SHUT_RDWR);
        }
    }
}

fn is_connected_socket_at(fd: &OwnedFd, want: &[u8]) -> bool {
    let mut listening: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `listening`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut listening as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 || listening != 0 {
        return false;
    }
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: getsockname writes at most `len` bytes into `sa`.
    let rc = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut sa as *mut libc::sockaddr_un).cast(),
            &mut len,
        )
    };
    if rc != 0 || sa.sun_family != libc::AF_UNIX as libc::sa_family_t {
        return false;
    }
    let path_len = (len as usize).saturating_sub(mem::size_of::<libc::sa_family_t>());
    let raw: Vec<u8> = sa.sun_path[..path_len.min(sa.sun_path.len())]
        .iter()
        .map(|&c| c as u8)
        .collect();
    let name = raw.split(|&b| b == 0).next().unwrap_or(&[]);
    !name.is_empty() && name == want
}

/// Shuts the read side of a listening socket: clients that already looked
/// its path up but are not yet queued get ECONNREFUSED instead of queuing
/// behind a session; the connection already queued can still be accepted.
pub(crate) fn shutdown_read(listener: &UnixListener) {
    // SAFETY: shutdown on a socket we own.
    unsafe {
        libc::shutdown(listener.as_raw_fd(), libc::SHUT_RD);
    }
}
