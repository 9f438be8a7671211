//! The manifest: what a package holds and what it is for. The signature
//! covers its exact encoded bytes.

use sha2::{Digest, Sha384};

use crate::codec::{check_string, CharClass, Reader, Writer};
use crate::error::FormatError;
use crate::limits;

/// Magic number of an encoded manifest.
pub const MANIFEST_MAGIC: [u8; 8] = *b"HSMBSMAN";
/// The manifest format version this library writes and reads.
pub const MANIFEST_VERSION: u16 = 1;

/// A SHA-384 digest.
pub type Sha384Digest = [u8; 48];

/// SHA-384 of `data`.
pub fn sha384(data: &[u8]) -> Sha384Digest {
    Sha384::digest(data).into()
}

/// A build tool and its version, e.g. `yosys` `0.47`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolVersion {
    /// The tool's name: 1 to [`limits::IDENT`] bytes of `A-Z a-z 0-9 . _ + -`.
    pub name: String,
    /// Its version as the tool prints it: 1 to [`limits::TEXT`] bytes of
    /// printable ASCII.
    pub version: String,
}

/// Resource use and timing of the image, where the target's flow reports
/// them (none for the simulated card).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Look-up tables.
    pub luts: Option<u32>,
    /// Flip-flops.
    pub flip_flops: Option<u32>,
    /// Block RAMs.
    pub block_rams: Option<u32>,
    /// DSP blocks.
    pub dsps: Option<u32>,
    /// Maximum clock frequency from timing analysis, in kHz.
    pub fmax_khz: Option<u32>,
}

impl Resources {
    fn fields(&self) -> [Option<u32>; 5] {
        [
            self.luts,
            self.flip_flops,
            self.block_rams,
            self.dsps,
            self.fmax_khz,
        ]
    }
}

/// One image file the manifest vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageEntry {
    /// The file name: 1 to [`limits::IDENT`] bytes of
    /// `A-Z a-z 0-9 . _ + -`, not starting with `.`.
    pub name: String,
    /// Its size in bytes, at most [`limits::IMAGE_LEN`].
    pub size: u64,
    /// SHA-384 of its contents.
    pub sha384: Sha384Digest,
}

impl ImageEntry {
    /// The entry for an image file with these contents.
    pub fn describe(name: &str, data: &[u8]) -> ImageEntry {
        ImageEntry {
            name: name.to_owned(),
            size: data.len() as u64,
            sha384: sha384(data),
        }
    }
}

/// The manifest of a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The target the images are for, e.g. `sim-verilator` or
    /// `ecp5-lfe5um5g-85f`: 1 to [`limits::IDENT`] bytes of
    /// `A-Z a-z 0-9 . _ + -`. The loader refuses any target but its own.
    pub target: String,
    /// The design's name, e.g. `open-hsm` (an identifier like `target`).
    pub design: String,
    /// The design's version, e.g. `0.1.0` (printable ASCII, 1 to
    /// [`limits::TEXT`] bytes).
    pub design_version: String,
    /// What the card reports in its identity registers when it runs these
    /// images, `BUILD_HASH_HI << 32 | BUILD_HASH_LO`, so the loader can
    /// check what came up (0 if the target has no such registers).
    pub build_id: u64,
    /// The revision of the sources, e.g. a git commit id (printable ASCII,
    /// 0 to [`limits::TEXT`] bytes; empty if unknown).
    pub source_revision: String,
    /// SHA-384 over the design sources, as the build flow defines it.
    pub source_sha384: Sha384Digest,
    /// The major version of the hardware/software contract the design
    /// implements ([`hsm_contract::CONTRACT_MAJOR`] when built).
    pub contract_major: u16,
    /// The minor version of that contract.
    pub contract_minor: u16,
    /// Security version for rollback protection: the loader refuses a
    /// package whose security version is below the highest it has accepted.
    pub security_version: u32,
    /// The tools that built the images, in the order the build lists them
    /// (at most [`limits::TOOLS`]).
    pub tools: Vec<ToolVersion>,
    /// Resource and timing figures, where the target has them.
    pub resources: Resources,
    /// The image files, sorted by name without duplicates (1 to
    /// [`limits::IMAGES`]).
    pub images: Vec<ImageEntry>,
}

impl Manifest {
    /// Encodes the manifest in its one canonical form.
    ///
    /// # Errors
    ///
    /// [`FormatError`] if a field breaks its limits, or the images are not
    /// sorted by name without duplicates.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        let mut w = Writer::default();
        w.bytes(&MANIFEST_MAGIC);
        w.u16(MANIFEST_VERSION);
        w.string(&self.target);
        w.string(&self.design);
        w.string(&self.design_version);
        w.u64(self.build_id);
        w.string(&self.source_revision);
        w.bytes(&self.source_sha384);
        w.u16(self.contract_major);
        w.u16(self.contract_minor);
        w.u32(self.security_version);
        w.u8(self.tools.len() as u8);
        for tool in &self.tools {
            w.string(&tool.name);
            w.string(&tool.version);
        }
        let fields = self.resources.fields();
        let present = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_some())
            .fold(0u8, |m, (i, _)| m | 1 << i);
        w.u8(present);
        for v in fields.into_iter().flatten() {
            w.u32(v);
        }
        w.u8(self.images.len() as u8);
        for image in &self.images {
            w.string(&image.name);
            w.u64(image.size);
            w.bytes(&image.sha384);
        }
        Ok(w.buf)
    }

    /// Decodes a manifest, strictly: exactly the canonical encoding of a
    /// valid manifest, nothing after it.
    ///
    /// # Errors
    ///
    /// [`FormatError`] saying what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, FormatError> {
        if bytes.len() > limits::MANIFEST_LEN {
            return Err(FormatError::TooLong {
                field: "manifest length",
                len: bytes.len() as u64,
                max: limits::MANIFEST_LEN as u64,
            });
        }
        let mut r = Reader::new(bytes);
        r.magic(&MANIFEST_MAGIC, "manifest")?;
        r.version(MANIFEST_VERSION, "manifest")?;
        let target = r.string("target", 1, limits::IDENT, CharClass::Ident)?;
        let design = r.string("design name", 1, limits::IDENT, CharClass::Ident)?;
        let design_version = r.string("design version", 1, limits::TEXT, CharClass::Text)?;
        let build_id = r.u64("build id")?;
        let source_revision = r.string("source revision", 0, limits::TEXT, CharClass::Text)?;
        let source_sha384 = r.array("source SHA-384")?;
        let contract_major = r.u16("contract major version")?;
        let contract_minor = r.u16("contract minor version")?;
        let security_version = r.u32("security version")?;
        let n_tools = r.u8("tool count")?;
        if usize::from(n_tools) > limits::TOOLS {
            return Err(FormatError::TooLong {
                field: "tool count",
                len: n_tools.into(),
                max: limits::TOOLS as u64,
            });
        }
        let mut tools = Vec::with_capacity(n_tools.into());
        for _ in 0..n_tools {
            let name = r.string("tool name", 1, limits::IDENT, CharClass::Ident)?;
            let version = r.string("tool version", 1, limits::TEXT, CharClass::Text)?;
            tools.push(ToolVersion { name, version });
        }
        let present = r.u8("resource flags")?;
        if present & !0x1f != 0 {
            return Err(FormatError::BadField {
                field: "resource flags",
                reason: "reserved bits (5 to 7) are set",
            });
        }
        let mut fields = [None; 5];
        for (i, f) in fields.iter_mut().enumerate() {
            if present & (1 << i) != 0 {
                *f = Some(r.u32("resource figure")?);
            }
        }
        let [luts, flip_flops, block_rams, dsps, fmax_khz] = fields;
        let n_images = r.u8("image count")?;
        if usize::from(n_images) > limits::IMAGES {
            return Err(FormatError::TooLong {
                field: "image count",
                len: n_images.into(),
                max: limits::IMAGES as u64,
            });
        }
        let mut images = Vec::with_capacity(n_images.into());
        for _ in 0..n_images {
            let name = r.string("image name", 1, limits::IDENT, CharClass::Ident)?;
            let size = r.u64("image size")?;
            let sha384 = r.array("image SHA-384")?;
            images.push(ImageEntry { name, size, sha384 });
        }
        r.finish("manifest")?;
        let manifest = Manifest {
            target,
            design,
            design_version,
            build_id,
            source_revision,
            source_sha384,
            contract_major,
            contract_minor,
            security_version,
            tools,
            resources: Resources {
                luts,
                flip_flops,
                block_rams,
                dsps,
                fmax_khz,
            },
            images,
        };
        manifest.validate()?;
        Ok(manifest)
    }

    /// The entry for the image `name`.
    pub fn image(&self, name: &str) -> Option<&ImageEntry> {
        self.images.iter().find(|e| e.name == name)
    }

    /// Checks every field against its limits (the checks `decode` makes
    /// that the reading itself does not).
    fn validate(&self) -> Result<(), FormatError> {
        check_string(
            self.target.as_bytes(),
            "target",
            1,
            limits::IDENT,
            CharClass::Ident,
        )?;
        check_string(
            self.design.as_bytes(),
            "design name",
            1,
            limits::IDENT,
            CharClass::Ident,
        )?;
        check_string(
            self.design_version.as_bytes(),
            "design version",
            1,
            limits::TEXT,
            CharClass::Text,
        )?;
        check_string(
            self.source_revision.as_bytes(),
            "source revision",
            0,
            limits::TEXT,
            CharClass::Text,
        )?;
        if self.tools.len() > limits::TOOLS {
            return Err(FormatError::TooLong {
                field: "tool count",
                len: self.tools.len() as u64,
                max: limits::TOOLS as u64,
            });
        }
        for tool in &self.tools {
            check_string(
                tool.name.as_bytes(),
                "tool name",
                1,
                limits::IDENT,
                CharClass::Ident,
            )?;
            check_string(
                tool.version.as_bytes(),
                "tool version",
                1,
                limits::TEXT,
                CharClass::Text,
            )?;
        }
        if self.images.len() > limits::IMAGES {
            return Err(FormatError::TooLong {
                field: "image count",
                len: self.images.len() as u64,
                max: limits::IMAGES as u64,
            });
        }
        if self.images.is_empty() {
            return Err(FormatError::BadField {
                field: "image count",
                reason: "a manifest lists at least one image",
            });
        }
        for image in &self.images {
            check_string(
                image.name.as_bytes(),
                "image name",
                1,
                limits::IDENT,
                CharClass::Ident,
            )?;
            if image.size > limits::IMAGE_LEN as u64 {
                return Err(FormatError::TooLong {
                    field: "image size",
                    len: image.size,
                    max: limits::IMAGE_LEN as u64,
                });
            }
        }
        check_sorted(
            self.images.iter().map(|e| e.name.as_str()),
            "manifest images",
        )
    }
}

/// Names must be strictly increasing (sorted, no duplicates): the one
/// canonical order.
pub(crate) fn check_sorted<'a>(
    names: impl Iterator<Item = &'a str>,
    field: &'static str,
) -> Result<(), FormatError> {
    let mut prev: Option<&str> = None;
    for name in names {
        if prev.is_some_and(|p| p >= name) {
            return Err(FormatError::BadField {
                field,
                reason: "image names are not sorted, or one is repeated",
            });
        }
        prev = Some(name);
    }
    Ok(())
}
