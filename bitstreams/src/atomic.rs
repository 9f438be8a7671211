//! Writing a file atomically: a reader sees the old file or the whole new
//! one, never part of it, and a crash leaves no half-written file under the
//! final name.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What [`write_atomic`] does when the destination exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail with [`std::io::ErrorKind::AlreadyExists`] and leave it alone.
    Refuse,
    /// Replace it.
    Replace,
}

/// Writes `bytes` to `path` atomically: into a new temporary file in the
/// same directory (named `.NAME.PID-RANDOM.tmp`, created with permission
/// bits `mode` less the umask on Unix), synced to disk, then moved to
/// `path`, and the directory synced. With [`Overwrite::Refuse`] the move is
/// a hard link, which fails if `path` exists, so an existing file is never
/// replaced even by a concurrent writer (on a file system without hard
/// links it falls back to checking, then renaming). The temporary file is
/// removed on every error.
///
/// # Errors
///
/// The I/O error of the step that failed; `AlreadyExists` if `path` exists
/// and `overwrite` is [`Overwrite::Refuse`].
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path does not name a file",
        )
    })?;
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).map_err(|_| {
        std::io::Error::other("the operating system's random number generator failed")
    })?;
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        crate::codec::hex(&nonce)
    ));
    let result = write_then_move(&tmp, path, bytes, mode, overwrite);
    // After a successful rename the temporary name is gone; after a hard
    // link (or any error) it must go.
    let _ = std::fs::remove_file(&tmp);
    result?;
    sync_dir(&dir)
}

fn write_then_move(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = opts.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    match overwrite {
        Overwrite::Replace => std::fs::rename(tmp, path),
        Overwrite::Refuse => match std::fs::hard_link(tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
            Err(_) if path.symlink_metadata().is_ok() => {
                Err(std::io::ErrorKind::AlreadyExists.into())
            }
            Err(_) => std::fs::rename(tmp, path),
        },
    }
}

/// Syncs a directory, so that a rename in it is on disk (Unix only: other
/// systems cannot open a directory as a file).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
