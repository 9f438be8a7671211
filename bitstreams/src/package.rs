//! The package container: manifest, signature block and image files.

use std::path::Path;

use crate::codec::{check_string, CharClass, Reader, Writer};
use crate::error::{FormatError, KeyError, PolicyError, VerifyError};
use crate::keys::{read_limited, KeyId, SigningKey, SIGNATURE_LEN};
use crate::limits;
use crate::manifest::{check_sorted, sha384, Manifest};
use crate::policy::LoadPolicy;
use crate::trust::TrustStore;

/// Magic number of a package.
pub const PACKAGE_MAGIC: [u8; 8] = *b"HSMBSPKG";
/// The package format version this library writes and reads.
pub const PACKAGE_VERSION: u16 = 1;

/// An image file carried in a package.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// Its name (the rules of [`crate::ImageEntry::name`]).
    pub name: String,
    /// Its contents, at most [`limits::IMAGE_LEN`] bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}, {} bytes)", self.name, self.data.len())
    }
}

/// A detached signature over a manifest, with the id of the key that made
/// it.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureBlock {
    /// The signing key's id.
    pub key_id: KeyId,
    /// The ML-DSA-87 signature, [`SIGNATURE_LEN`] bytes.
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for SignatureBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignatureBlock(key {})", self.key_id)
    }
}

/// A bitstream package, signed or not. Its manifest is kept both parsed
/// and as the exact bytes the signature covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    signature: Option<SignatureBlock>,
    images: Vec<Image>,
}

impl Package {
    /// An unsigned package (what a build produces). Sorts the manifest's
    /// image entries and the images by name. The images are not checked
    /// against the manifest here; [`Package::verify`] does that.
    ///
    /// # Errors
    ///
    /// [`FormatError`] if the manifest or an image breaks a limit, or two
    /// images share a name.
    pub fn new(mut manifest: Manifest, mut images: Vec<Image>) -> Result<Package, FormatError> {
        manifest.images.sort_by(|a, b| a.name.cmp(&b.name));
        images.sort_by(|a, b| a.name.cmp(&b.name));
        check_images(&images)?;
        let manifest_bytes = manifest.encode()?;
        Ok(Package {
            manifest,
            manifest_bytes,
            signature: None,
            images,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The encoded manifest: the bytes the signature covers.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// The signature, if the package is signed.
    pub fn signature(&self) -> Option<&SignatureBlock> {
        self.signature.as_ref()
    }

    /// The images, sorted by name.
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The image `name`.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }

    /// Signs the manifest with `key`, replacing any signature.
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if the random number generator fails.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), KeyError> {
        let signature = key.sign_manifest(&self.manifest_bytes)?;
        self.signature = Some(SignatureBlock {
            key_id: key.key_id(),
            signature,
        });
        Ok(())
    }

    /// Removes the signature.
    pub fn unsign(&mut self) {
        self.signature = None;
    }

    /// Verifies the package: a signature by a trusted, unrevoked key over
    /// the exact manifest bytes, then every image against its size and
    /// SHA-384 in the manifest.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] that names the first check that failed, in this
    /// order: unsigned, revoked key, unknown key, bad signature, then each
    /// manifest entry by name (missing, size, hash), then images the
    /// manifest does not list.
    pub fn verify(&self, trust: &TrustStore) -> Result<Verified<'_>, VerifyError> {
        let block = self.signature.as_ref().ok_or(VerifyError::Unsigned)?;
        let key = trust.lookup(block.key_id)?;
        if !key.verify_manifest(&self.manifest_bytes, &block.signature) {
            return Err(VerifyError::BadSignature {
                key_id: block.key_id,
            });
        }
        check_images_against(&self.manifest, &self.images)?;
        Ok(Verified {
            package: self,
            key_id: block.key_id,
        })
    }

    /// Encodes the package (see `docs/bitstream-package.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(&PACKAGE_MAGIC);
        w.u16(PACKAGE_VERSION);
        w.u16(0);
        w.u32(self.manifest_bytes.len() as u32);
        w.bytes(&self.manifest_bytes);
        match &self.signature {
            None => w.u8(0),
            Some(block) => {
                w.u8(1);
                w.bytes(&block.key_id.0);
                w.bytes(&block.signature);
            }
        }
        w.u8(self.images.len() as u8);
        for image in &self.images {
            w.string(&image.name);
            w.u64(image.data.len() as u64);
            w.bytes(&image.data);
        }
        w.buf
    }

    /// Decodes a package, strictly: the one canonical encoding, every
    /// length checked against its limit and the input before allocating,
    /// nothing after the last image. Does not verify anything.
    ///
    /// # Errors
    ///
    /// [`FormatError`] saying what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Package, FormatError> {
        if bytes.len() > limits::PACKAGE_LEN {
            return Err(FormatError::TooLong {
                field: "package length",
                len: bytes.len() as u64,
                max: limits::PACKAGE_LEN as u64,
            });
        }
        let mut r = Reader::new(bytes);
        r.magic(&PACKAGE_MAGIC, "package")?;
        r.version(PACKAGE_VERSION, "package")?;
        if r.u16("reserved")? != 0 {
            return Err(FormatError::BadField {
                field: "reserved",
                reason: "must be zero",
            });
        }
        let len = r.u32("manifest length")?;
        let len = r.checked_len(len.into(), limits::MANIFEST_LEN, "manifest length")?;
        let manifest_bytes = r.take(len, "manifest")?;
        let manifest = Manifest::decode(manifest_bytes)?;
        let signature = match r.u8("signature flag")? {
            0 => None,
            1 => Some(SignatureBlock {
                key_id: KeyId(r.array("key id")?),
                signature: r.take(SIGNATURE_LEN, "signature")?.to_vec(),
            }),
            _ => {
                return Err(FormatError::BadField {
                    field: "signature flag",
                    reason: "must be 0 (unsigned) or 1 (signed)",
                })
            }
        };
        let n = r.u8("image count")?;
        if usize::from(n) > limits::IMAGES {
            return Err(FormatError::TooLong {
                field: "image count",
                len: n.into(),
                max: limits::IMAGES as u64,
            });
        }
        let mut images = Vec::with_capacity(n.into());
        for _ in 0..n {
            let name = r.string("image name", 1, limits::IDENT, CharClass::Ident)?;
            let size = r.u64("image size")?;
            let size = r.checked_len(size, limits::IMAGE_LEN, "image size")?;
            let data = r.take(size, "image data")?.to_vec();
            images.push(Image { name, data });
        }
        r.finish("package")?;
        check_images(&images)?;
        Ok(Package {
            manifest,
            manifest_bytes: manifest_bytes.to_vec(),
            signature,
            images,
        })
    }

    /// Reads and decodes the package file at `path` (refusing files over
    /// [`limits::PACKAGE_LEN`] before reading them).
    ///
    /// # Errors
    ///
    /// [`ReadError::Io`] or [`ReadError::Format`], naming the file.
    pub fn read_file(path: &Path) -> Result<Package, ReadError> {
        let bytes = read_limited(path, limits::PACKAGE_LEN).map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        Package::decode(&bytes).map_err(|source| ReadError::Format {
            path: path.to_owned(),
            source,
        })
    }
}

/// Why a package file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a valid package.
    #[error("{path}: malformed package: {source}")]
    Format {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        source: FormatError,
    },
}

/// Image names and sizes within limits, sorted, no duplicates.
fn check_images(images: &[Image]) -> Result<(), FormatError> {
    if images.len() > limits::IMAGES {
        return Err(FormatError::TooLong {
            field: "image count",
            len: images.len() as u64,
            max: limits::IMAGES as u64,
        });
    }
    for image in images {
        check_string(
            image.name.as_bytes(),
            "image name",
            1,
            limits::IDENT,
            CharClass::Ident,
        )?;
        if image.data.len() > limits::IMAGE_LEN {
            return Err(FormatError::TooLong {
                field: "image size",
                len: image.data.len() as u64,
                max: limits::IMAGE_LEN as u64,
            });
        }
    }
    check_sorted(images.iter().map(|i| i.name.as_str()), "package images")
}

/// Checks `images` against the manifest's entries: each entry's image
/// present with its size and SHA-384, and no image the manifest does not
/// list.
///
/// # Errors
///
/// [`VerifyError::ImageMissing`], [`VerifyError::ImageSize`],
/// [`VerifyError::ImageHash`] or [`VerifyError::ImageUnexpected`], naming
/// the image.
pub fn check_images_against(manifest: &Manifest, images: &[Image]) -> Result<(), VerifyError> {
    for entry in &manifest.images {
        let image = images
            .iter()
            .find(|i| i.name == entry.name)
            .ok_or_else(|| VerifyError::ImageMissing {
                name: entry.name.clone(),
            })?;
        if image.data.len() as u64 != entry.size {
            return Err(VerifyError::ImageSize {
                name: entry.name.clone(),
                expected: entry.size,
                got: image.data.len() as u64,
            });
        }
        if sha384(&image.data) != entry.sha384 {
            return Err(VerifyError::ImageHash {
                name: entry.name.clone(),
            });
        }
    }
    if let Some(extra) = images.iter().find(|i| manifest.image(&i.name).is_none()) {
        return Err(VerifyError::ImageUnexpected {
            name: extra.name.clone(),
        });
    }
    Ok(())
}

/// A package that has passed [`Package::verify`]: what the loader takes.
#[derive(Clone, Copy, Debug)]
pub struct Verified<'a> {
    package: &'a Package,
    key_id: KeyId,
}

impl<'a> Verified<'a> {
    /// The package.
    pub fn package(&self) -> &'a Package {
        self.package
    }

    /// Its manifest.
    pub fn manifest(&self) -> &'a Manifest {
        &self.package.manifest
    }

    /// Its images, each checked against the manifest.
    pub fn images(&self) -> &'a [Image] {
        &self.package.images
    }

    /// The id of the trusted key that signed it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The load-time policy checks ([`LoadPolicy::check`]) on its manifest.
    ///
    /// # Errors
    ///
    /// The [`PolicyError`] of the first check that fails.
    pub fn check_policy(&self, policy: &LoadPolicy) -> Result<(), PolicyError> {
        policy.check(self.manifest())
    }
}
