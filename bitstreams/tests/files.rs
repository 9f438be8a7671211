//! Writing files: atomic writes, key files that are not overwritten unless
//! asked, and trust directories changed through the library.

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::{set_mode, TempDir};

use std::path::Path;

use hsm_bitstream::{
    write_atomic, KdfParams, KeyError, KeyId, Overwrite, PublicKey, SigningKey, TrustError,
    TrustStore, REVOKED_FILE,
};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

const PASS: &[u8] = b"correct horse battery staple";

#[test]
fn write_atomic_refuses_or_replaces_and_leaves_no_temporary_file() {
    let dir = TempDir::new("atomic");
    let path = dir.path().join("out.bin");
    write_atomic(&path, b"first", 0o600, Overwrite::Refuse).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    let e = write_atomic(&path, b"second", 0o600, Overwrite::Refuse).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&path).unwrap(), b"first");

    write_atomic(&path, b"third", 0o600, Overwrite::Replace).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"third");
    assert_eq!(dir.names(), ["out.bin"]);

    // A directory that does not exist: an error, nothing created.
    let missing = dir.path().join("no-such-dir").join("x");
    assert!(write_atomic(&missing, b"x", 0o600, Overwrite::Replace).is_err());
    assert_eq!(dir.names(), ["out.bin"]);
}

#[test]
fn key_files_are_written_atomically_and_not_overwritten_unless_asked() {
    let dir = TempDir::new("keys");
    let path = dir.path().join("signer.key");
    let k1 = SigningKey::from_seed(&[1; 32]);
    let k2 = SigningKey::from_seed(&[2; 32]);
    let pub_path = k1
        .write_files(&path, PASS, KdfParams::INSECURE_FAST)
        .unwrap();
    assert_eq!(pub_path, dir.path().join("signer.pub"));
    assert_eq!(dir.names(), ["signer.key", "signer.pub"]);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let private = std::fs::read(&path).unwrap();
    let public = std::fs::read(&pub_path).unwrap();

    // Either file existing refuses the pair, and nothing changes.
    assert!(matches!(
        k2.write_files(&path, PASS, KdfParams::INSECURE_FAST),
        Err(KeyError::Exists { path: p }) if p == path
    ));
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        k2.write_files(&path, PASS, KdfParams::INSECURE_FAST),
        Err(KeyError::Exists { path: p }) if p == pub_path
    ));
    assert_eq!(dir.names(), ["signer.pub"]);
    assert_eq!(std::fs::read(&pub_path).unwrap(), public);
    std::fs::write(&path, &private).unwrap();

    // Overwriting replaces both.
    k2.overwrite_files(&path, PASS, KdfParams::INSECURE_FAST)
        .unwrap();
    assert_eq!(dir.names(), ["signer.key", "signer.pub"]);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let read = SigningKey::read_file(&path, PASS).unwrap();
    assert_eq!(read.key_id(), k2.key_id());
    assert_eq!(
        PublicKey::read_file(&pub_path).unwrap().key_id(),
        k2.key_id()
    );
}

#[test]
fn keys_are_installed_and_revoked_in_a_trust_directory() {
    let dir = TempDir::new("trust");
    let k1 = SigningKey::from_seed(&[1; 32]);
    let k2 = SigningKey::from_seed(&[2; 32]);
    let installed = TrustStore::install_key(dir.path(), k1.public_key()).unwrap();
    assert_eq!(installed, dir.path().join(format!("{}.pub", k1.key_id())));
    // Installing again is harmless.
    TrustStore::install_key(dir.path(), k1.public_key()).unwrap();
    let store = TrustStore::load_dir(dir.path()).unwrap();
    assert!(store.lookup(k1.key_id()).is_ok());
    assert_eq!(store.revoked().count(), 0);

    // Revoking keeps what the file had, appends, and is idempotent.
    let revoked = dir.path().join(REVOKED_FILE);
    std::fs::write(&revoked, "# retired keys\n0123456789abcdef0123456789ABCDEF").unwrap();
    set_mode(&revoked, 0o600);
    assert!(TrustStore::revoke_in_dir(dir.path(), k1.key_id()).unwrap());
    assert!(!TrustStore::revoke_in_dir(dir.path(), k1.key_id()).unwrap());
    assert!(TrustStore::revoke_in_dir(dir.path(), k2.key_id()).unwrap());
    assert_eq!(
        std::fs::read_to_string(&revoked).unwrap(),
        format!(
            "# retired keys\n0123456789abcdef0123456789ABCDEF\n{}\n{}\n",
            k1.key_id(),
            k2.key_id()
        )
    );
    let store = TrustStore::load_dir(dir.path()).unwrap();
    assert!(store.is_revoked(k1.key_id()));
    let old: KeyId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    let mut ids: Vec<KeyId> = store.revoked().collect();
    ids.sort();
    let mut want = vec![old, k1.key_id(), k2.key_id()];
    want.sort();
    assert_eq!(ids, want);
    let mut names = dir.names();
    names.retain(|n| n.starts_with('.'));
    assert!(names.is_empty(), "temporary files left: {names:?}");

    // A malformed file is refused and left as it was.
    std::fs::write(&revoked, "not a key id\n").unwrap();
    assert!(matches!(
        TrustStore::revoke_in_dir(dir.path(), k2.key_id()),
        Err(TrustError::RevokedSyntax { line: 1, .. })
    ));
    assert_eq!(std::fs::read_to_string(&revoked).unwrap(), "not a key id\n");
}

#[test]
fn a_revoked_file_is_created_when_missing() {
    let dir = TempDir::new("revoke-new");
    let id = SigningKey::from_seed(&[3; 32]).key_id();
    assert!(TrustStore::revoke_in_dir(dir.path(), id).unwrap());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(REVOKED_FILE)).unwrap(),
        format!("{id}\n")
    );
    // A directory that does not exist is an error, not created.
    let missing = dir.path().join("missing");
    assert!(matches!(
        TrustStore::revoke_in_dir(&missing, id),
        Err(TrustError::Io { .. })
    ));
    assert!(!missing.exists());
}
