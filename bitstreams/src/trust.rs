//! Trust stores: the public keys a loader accepts, and the key ids it no
//! longer accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
