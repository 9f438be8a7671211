//! Signed card-image packages.
//!
//! A card image is what runs on the card (the Verilated model for the
//! simulated card, a bitstream for an FPGA). A *package* carries one or
//! more image files with a *manifest* that says what they are: the target,
//! the design's identity and source hash, the contract version it
//! implements, the SHA-384 of each image, a security version for rollback
//! protection, the build tools and, where the target has them, resource and
//! timing figures. A detached ML-DSA-87 signature (FIPS 204) over the exact
//! manifest bytes, with the context string [`SIGNATURE_CONTEXT`], binds it
//! all: the images through their hashes.
//!
//! The life of a package:
//!
//! 1. A build makes an unsigned [`Package`] ([`Package::new`]) and writes it
//!    ([`Package::encode`]).
//! 2. The signer reads it ([`Package::decode`]) and signs it
//!    ([`Package::sign`]) with a [`SigningKey`] read from its
//!    passphrase-protected file ([`SigningKey::read_file`]).
//! 3. The loader verifies it ([`Package::verify`]) against a [`TrustStore`]
//!    loaded from a trust directory the operator controls
//!    ([`TrustStore::load_dir`]: `*.pub` key files and a `revoked` list),
//!    then applies the load-time policy ([`LoadPolicy::check`]: target,
//!    contract major version, no rollback) before anything touches the
//!    card.
//!
//! Every format is binary, little-endian and canonical (one encoding per
//! value, so `encode(decode(b)) == b`), starts with a magic number and a
//! format version, and has a documented limit on every length ([`limits`]),
//! checked against the limit and the remaining input before anything is
//! allocated. Parsing is strict: an unknown version, a truncated field, an
//! oversized length or trailing bytes is a typed [`FormatError`], never a
//! panic. `docs/bitstream-package.md` describes the formats byte by byte.
//!
//! [`fpga_manager`] puts the bitstream of a verified package onto a real
//! card through the Linux FPGA Manager framework.
//!
//! Verification fails with a [`VerifyError`] that names what failed: the
//! format, an unknown or revoked key id, the signature, or an image
//! (missing, unexpected, wrong size, wrong hash) by name.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod atomic;
mod codec;
pub mod ecp5;
mod error;
pub mod fpga_manager;
mod keys;
mod manifest;
mod package;
mod policy;
mod trust;

pub use atomic::{write_atomic, Overwrite};
pub use error::{FormatError, KeyError, PolicyError, TrustError, VerifyError};
pub use keys::{
    KdfParams, KeyId, PublicKey, SigningKey, ALG_ML_DSA_87, KDF_ARGON2ID, KEY_FILE_VERSION,
    PRIVATE_KEY_MAGIC, PUBLIC_KEY_LEN, PUBLIC_KEY_MAGIC, SEED_LEN, SIGNATURE_CONTEXT,
    SIGNATURE_LEN,
};
pub use manifest::{
    sha384, ImageEntry, Manifest, Resources, Sha384Digest, ToolVersion, MANIFEST_MAGIC,
    MANIFEST_VERSION,
};
pub use package::{
    check_images_against, Image, Package, ReadError, SignatureBlock, Verified, PACKAGE_MAGIC,
    PACKAGE_VERSION,
};
pub use policy::LoadPolicy;
pub use trust::{TrustStore, PUBLIC_KEY_EXTENSION, REVOKED_FILE, REVOKED_FILE_MAX};

/// The limits of the formats. A decoder refuses anything beyond them with
/// [`FormatError::TooLong`] before allocating for it.
pub mod limits {
    /// Identifiers (target, design name, tool name, image name): bytes.
    pub const IDENT: usize = 64;
    /// Free text (design version, source revision, tool version): bytes.
    pub const TEXT: usize = 128;
    /// Build tools listed in a manifest.
    pub const TOOLS: usize = 16;
    /// Images in a package.
    pub const IMAGES: usize = 16;
    /// One image: 512 MiB.
    pub const IMAGE_LEN: usize = 512 << 20;
    /// An encoded manifest: 16 KiB (the largest valid one is about 5.5 KiB).
    pub const MANIFEST_LEN: usize = 16 << 10;
    /// A whole package: 1 GiB.
    pub const PACKAGE_LEN: usize = 1 << 30;
}
