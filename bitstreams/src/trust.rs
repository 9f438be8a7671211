//! Trust stores: the public keys a loader accepts, and the key ids it no
//! longer accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::atomic::{write_atomic, Overwrite};
use crate::error::{TrustError, VerifyError};
use crate::keys::{read_limited, KeyId, PublicKey};

/// Name of the revocation list in a trust directory.
pub const REVOKED_FILE: &str = "revoked";
/// Extension of public key files in a trust directory.
pub const PUBLIC_KEY_EXTENSION: &str = "pub";
/// Largest `revoked` file read (64 KiB, some 1,800 key ids with comments).
pub const REVOKED_FILE_MAX: usize = 64 * 1024;

/// Trusted public keys and revoked key ids. Revocation wins: a key id in
/// both is refused.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: BTreeMap<KeyId, PublicKey>,
    revoked: BTreeSet<KeyId>,
}

impl TrustStore {
    /// An empty store (it trusts nothing).
    pub fn new() -> TrustStore {
        TrustStore::default()
    }

    /// Trusts `key`.
    pub fn add(&mut self, key: PublicKey) {
        self.keys.insert(key.key_id(), key);
    }

    /// Revokes `key_id`, whether or not its key is in the store.
    pub fn revoke(&mut self, key_id: KeyId) {
        self.revoked.insert(key_id);
    }

    /// The trusted keys, by key id (revoked ones included).
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values()
    }

    /// Whether `key_id` is revoked.
    pub fn is_revoked(&self, key_id: KeyId) -> bool {
        self.revoked.contains(&key_id)
    }

    /// The key a signature by `key_id` is checked with.
    ///
    /// # Errors
    ///
    /// [`VerifyError::RevokedKey`] if the key id is revoked,
    /// [`VerifyError::UnknownKey`] if no key has it.
    pub fn lookup(&self, key_id: KeyId) -> Result<&PublicKey, VerifyError> {
        if self.is_revoked(key_id) {
            return Err(VerifyError::RevokedKey { key_id });
        }
        self.keys
            .get(&key_id)
            .ok_or(VerifyError::UnknownKey { key_id })
    }

    /// The revoked key ids, in order.
    pub fn revoked(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.revoked.iter().copied()
    }

    /// Installs `key` in the trust directory `dir` (which must exist) as
    /// `KEYID.pub`, atomically ([`write_atomic`]), replacing a file of that
    /// name. Returns the file's path. Installing does not undo a
    /// revocation.
    ///
    /// # Errors
    ///
    /// [`TrustError::Io`] naming the file.
    pub fn install_key(dir: &Path, key: &PublicKey) -> Result<PathBuf, TrustError> {
        let path = dir.join(format!("{}.{PUBLIC_KEY_EXTENSION}", key.key_id()));
        write_atomic(&path, &key.to_file_bytes(), 0o644, Overwrite::Replace).map_err(|source| {
            TrustError::Io {
                path: path.clone(),
                source,
            }
        })?;
        Ok(path)
    }

    /// Adds `key_id` to the `revoked` file of the trust directory `dir`
    /// (which must exist), creating the file if needed. The file is
    /// rewritten atomically ([`write_atomic`]) with its lines kept and the
    /// key id appended. Returns `false`, writing nothing, if the key id is
    /// already revoked. The existing file is checked first: a malformed
    /// one is not touched. Not safe against another process changing the
    /// file at the same time (one of the two changes would be lost).
    ///
    /// # Errors
    ///
    /// [`TrustError::Io`], or [`TrustError::RevokedSyntax`] if the file is
    /// malformed or would grow past [`REVOKED_FILE_MAX`].
    pub fn revoke_in_dir(dir: &Path, key_id: KeyId) -> Result<bool, TrustError> {
        let path = dir.join(REVOKED_FILE);
        let io = |source| TrustError::Io {
            path: path.clone(),
            source,
        };
        let mut text = match read_limited(&path, REVOKED_FILE_MAX) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        if parse_revoked(&path, &text)?.contains(&key_id) {
            return Ok(false);
        }
        if !text.is_empty() && !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        text.extend_from_slice(format!("{key_id}\n").as_bytes());
        if text.len() > REVOKED_FILE_MAX {
            return Err(TrustError::RevokedSyntax {
                path: path.clone(),
                line: 0,
                reason: "one more key id would make the file larger than 64 KiB",
            });
        }
        write_atomic(&path, &text, 0o644, Overwrite::Replace).map_err(io)?;
        Ok(true)
    }

    /// Loads a trust directory: every `*.pub` file in it is a trusted
    /// public key file, and the file `revoked`, if present, lists revoked
    /// key ids (one per line; `#` starts a comment; blank lines are
    /// ignored). Other entries are ignored. Loading fails closed: a bad key
    /// file or line refuses the whole directory. On Unix the directory and
    /// the files read must not be writable by group or others.
    ///
    /// # Errors
    ///
    /// [`TrustError`] naming the file and what is wrong with it.
    pub fn load_dir(dir: &Path) -> Result<TrustStore, TrustError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TrustError::Io { path, source }
        };
        check_permissions(dir)?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io(dir))?;
        paths.sort();
        let mut store = TrustStore::new();
        for path in paths {
            if path.file_name().is_some_and(|n| n == REVOKED_FILE) {
                check_permissions(&path)?;
                let text = read_limited(&path, REVOKED_FILE_MAX).map_err(io(&path))?;
                store.revoked.extend(parse_revoked(&path, &text)?);
            } else if path.extension().is_some_and(|e| e == PUBLIC_KEY_EXTENSION) {
                check_permissions(&path)?;
                let bytes =
                    read_limited(&path, crate::keys::PUBLIC_KEY_LEN + 12).map_err(io(&path))?;
                let key = PublicKey::from_file_bytes(&bytes)
                    .map_err(|source| TrustError::KeyFile { path, source })?;
                store.add(key);
            }
        }
        Ok(store)
    }
}

/// The key ids of a `revoked` file.
fn parse_revoked(path: &Path, text: &[u8]) -> Result<Vec<KeyId>, TrustError> {
    let err = |line, reason| TrustError::RevokedSyntax {
        path: path.to_owned(),
        line,
        reason,
    };
    if text.len() > REVOKED_FILE_MAX {
        return Err(err(0, "the file is larger than 64 KiB"));
    }
    let text = std::str::from_utf8(text).map_err(|_| err(0, "the file is not UTF-8 text"))?;
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let id = content
            .parse::<KeyId>()
            .map_err(|_| err(i + 1, "not a key id (32 hex digits)"))?;
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), TrustError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .map_err(|source| TrustError::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        return Err(TrustError::Permissions {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), TrustError> {
    Ok(())
}
