//! The crate's errors: one enum per kind of operation, each variant saying
//! what failed.

use std::path::PathBuf;

use crate::KeyId;

/// Why bytes are not a valid package, manifest or key file. Every parser of
/// the crate is strict: anything other than the one canonical encoding is
/// one of these, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file does not start with the magic number of `what`.
    #[error("not a {what}: wrong magic number")]
    BadMagic {
        /// The structure expected.
        what: &'static str,
    },
    /// A format version this library does not read.
    #[error(
        "{what} format version {found} is not supported (this library reads version {supported})"
    )]
    UnsupportedVersion {
        /// The structure.
        what: &'static str,
        /// The version found.
        found: u16,
        /// The version this library reads.
        supported: u16,
    },
    /// The input ends inside a field.
    #[error("truncated: {field} at offset {offset} needs {needed} bytes, {available} remain")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Its offset in the structure being decoded.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A length or count above its documented limit.
    #[error("{field} is {len}, more than the limit of {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The length or count found.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A field whose value is not allowed.
    #[error("bad {field}: {reason}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes after the end of the structure.
    #[error("{len} bytes of trailing data after the {what}")]
    TrailingData {
        /// The structure.
        what: &'static str,
        /// How many bytes follow it.
        len: usize,
    },
}

/// Why a package did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The package is malformed.
    #[error("malformed package: {0}")]
    Format(#[from] FormatError),
    /// The package has no signature (`sign` has not been run on it).
    #[error("the package is not signed")]
    Unsigned,
    /// The signing key is not in the trust store.
    #[error("the package is signed by key {key_id}, which is not trusted (no such public key in the trust directory)")]
    UnknownKey {
        /// The signature's key id.
        key_id: KeyId,
    },
    /// The signing key has been revoked.
    #[error("the package is signed by key {key_id}, which is revoked")]
    RevokedKey {
        /// The signature's key id.
        key_id: KeyId,
    },
    /// The signature does not verify over the manifest with that key.
    #[error(
        "the signature by key {key_id} does not verify: the manifest or the signature was altered"
    )]
    BadSignature {
        /// The signature's key id.
        key_id: KeyId,
    },
    /// The manifest lists an image the package does not carry.
    #[error("image {name} is in the manifest but not in the package")]
    ImageMissing {
        /// The image's name.
        name: String,
    },
    /// The package carries an image the manifest does not list.
    #[error("image {name} is in the package but not in the manifest")]
    ImageUnexpected {
        /// The image's name.
        name: String,
    },
    /// An image's size differs from the manifest's.
    #[error("image {name} is {got} bytes, the manifest says {expected}")]
    ImageSize {
        /// The image's name.
        name: String,
        /// The size in the manifest.
        expected: u64,
        /// The image's size.
        got: u64,
    },
    /// An image's SHA-384 differs from the manifest's.
    #[error("image {name} does not match its SHA-384 in the manifest")]
    ImageHash {
        /// The image's name.
        name: String,
    },
}

/// Why a signing key could not be made, read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file is malformed.
    #[error("malformed key file: {0}")]
    Format(#[from] FormatError),
    /// AES-GCM refused the private key: the passphrase is wrong, or the
    /// file was modified.
    #[error("wrong passphrase (or the private key file was modified)")]
    WrongPassphrase,
    /// An empty passphrase was given to protect a key.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// The decrypted seed does not give the key id in the file's header.
    #[error("the private key file's seed does not give its key id {key_id}")]
    KeyIdMismatch {
        /// The key id in the header.
        key_id: KeyId,
    },
    /// Argon2id parameters outside the limits.
    #[error("bad Argon2id parameters: {0}")]
    KdfParams(&'static str),
    /// The passphrase-based key derivation (or the encryption under its
    /// key) failed.
    #[error("deriving or using the key-file key failed: {0}")]
    Kdf(String),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
    /// The key file name does not leave room for the public key beside it.
    #[error("{path}: a private key file must not end in .pub (the public key is written beside it as .pub)")]
    BadPath {
        /// The path given.
        path: PathBuf,
    },
    /// A file to be written already exists.
    #[error("{path} already exists; refusing to overwrite it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Why a trust directory could not be loaded. Loading fails closed: one bad
/// file refuses the whole directory.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Reading the directory or one of its files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A `.pub` file is not a public key file.
    #[error("{path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: FormatError,
    },
    /// A line of the `revoked` file is not a key id.
    #[error("{path} line {line}: {reason}")]
    RevokedSyntax {
        /// The `revoked` file.
        path: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The directory or a file in it can be written by group or others.
    #[error("{path} is writable by group or others (mode {mode:o}); only its owner may change the trust directory")]
    Permissions {
        /// The file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Why the load-time policy refuses a verified package.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Rollback: the package's security version is below the minimum.
    #[error("security version {package} is lower than {minimum}, the highest the card has accepted (rollback refused)")]
    SecurityVersion {
        /// The package's security version.
        package: u32,
        /// The lowest allowed.
        minimum: u32,
    },
    /// The package is built for another target.
    #[error("the package is for target {package}, not {expected}")]
    Target {
        /// The target expected.
        expected: String,
        /// The package's target.
        package: String,
    },
    /// The package's contract major version differs from the driver's.
    #[error("the package implements contract {package}.x, the driver speaks {driver}.x")]
    ContractMajor {
        /// The driver's contract major version.
        driver: u16,
        /// The package's contract major version.
        package: u16,
    },
}
