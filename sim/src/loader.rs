//! The simulated card's image loader: what a real card's configuration
//! flash and loader do.
//!
//! The card starts from its built-in image (the model this program was
//! built with, the factory image), or from the image stored in its state
//! directory (`image.pkg`) by an earlier load. A load (`load PATH` on the
//! control socket, which `hsmctl bitstream load` sends after verifying the
//! package's signature against the operator's trusted keys) is checked by
//! the card itself before anything changes:
//!
//! - the package parses, and every image matches the manifest's size and
//!   SHA-384;
//! - the target is this card's ([`TARGET`]) and the contract major version
//!   is the one this card's host interface speaks;
//! - the security version is not below the highest the card has accepted
//!   (kept in `security-version` in the state directory);
//! - the model loads, speaks this simulator's interface, and reports the
//!   manifest's build id in its `BUILD_HASH` registers after reset.
//!
//! Only then does the card switch to the new model (DMA mappings and
//! interrupt eventfds carry over), store the package and raise its security
//! version, in that order, each file replaced atomically: a crash between
//! the two leaves the new image stored with the old security version, which
//! the next start raises. A refused or failed load leaves the card running
//! its previous image.
//!
//! Card images are built without trace support: a card started with a
//! trace and a stored image refuses to start, and a load replaces a traced
//! model with an untraced one.
//!
//! Until the card has persistent key storage (issue 5), a load is like a
//! power cycle for the key store: the new model starts with empty slots.

use std::path::{Path, PathBuf};

use hsm_bitstream::{check_images_against, Manifest, Package};
use serde::{Deserialize, Serialize};

use crate::image::{LIBRARY_NAME, TARGET};
use crate::library::ModelLibrary;
use crate::model::Model;
use crate::SimError;

/// The stored image in a state directory.
pub const STORED_IMAGE: &str = "image.pkg";
/// The highest security version accepted, in a state directory.
pub const SECURITY_VERSION_FILE: &str = "security-version";

/// What the card runs, as its control socket reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// `built-in`, or `package` for a loaded one.
    pub source: String,
    /// The design's name (from the manifest; `open-hsm` when built in).
    pub design: String,
    /// The design's version.
    pub design_version: String,
    /// The build id the model reports (`BUILD_HASH_HI:LO`).
    pub build_id: u64,
    /// The package's security version (0 for the built-in image).
    pub security_version: u32,
    /// SHA-384 of the package's manifest, hex (absent when built in).
    pub manifest_sha384: Option<String>,
    /// The source revision the manifest names.
    pub source_revision: Option<String>,
}

impl ImageInfo {
    /// The built-in image, which reports `build_id`.
    pub(crate) fn builtin(build_id: u64) -> ImageInfo {
        ImageInfo {
            source: "built-in".to_owned(),
            design: "open-hsm".to_owned(),
            design_version: env!("CARGO_PKG_VERSION").to_owned(),
            build_id,
            security_version: 0,
            manifest_sha384: None,
            source_revision: None,
        }
    }

    fn of(manifest: &Manifest, manifest_bytes: &[u8]) -> ImageInfo {
        ImageInfo {
            source: "package".to_owned(),
            design: manifest.design.clone(),
            design_version: manifest.design_version.clone(),
            build_id: manifest.build_id,
            security_version: manifest.security_version,
            manifest_sha384: Some(hex(&hsm_bitstream::sha384(manifest_bytes))),
            source_revision: Some(manifest.source_revision.clone()),
        }
    }
}

/// A package the card has checked and whose model it has loaded, ready to
/// switch to.
pub(crate) struct Staged {
    pub lib: &'static ModelLibrary,
    pub info: ImageInfo,
    pub encoded: Vec<u8>,
}

/// Checks a package (the card's own checks, above) and loads its model.
/// `min_security_version` is the highest the card has accepted.
pub(crate) fn stage(
    bytes: Vec<u8>,
    name: &str,
    min_security_version: u32,
) -> Result<Staged, SimError> {
    let refuse = |reason: String| SimError::Image {
        name: name.to_owned(),
        reason,
    };
    let package = Package::decode(&bytes).map_err(|e| refuse(e.to_string()))?;
    let manifest = package.manifest();
    check_images_against(manifest, package.images()).map_err(|e| refuse(e.to_string()))?;
    if manifest.target != TARGET {
        return Err(refuse(format!(
            "it is for target {:?}; this card is {TARGET:?}",
            manifest.target
        )));
    }
    if manifest.contract_major != hsm_contract::CONTRACT_MAJOR {
        return Err(refuse(format!(
            "it implements contract {}.{}; this card's host interface speaks major version {}",
            manifest.contract_major,
            manifest.contract_minor,
            hsm_contract::CONTRACT_MAJOR
        )));
    }
    if manifest.security_version < min_security_version {
        return Err(refuse(format!(
            "its security version {} is below {min_security_version}, the highest this card has accepted (rollback refused)",
            manifest.security_version
        )));
    }
    let library = package
        .image(LIBRARY_NAME)
        .ok_or_else(|| refuse(format!("it has no {LIBRARY_NAME} image")))?;
    // SAFETY: the library's bytes match the SHA-384 in the manifest (checked
    // above); the host verified the manifest's signature against the
    // operator's trusted keys before asking for the load, and the loader is
    // only reachable by the card's owner (the control socket's permissions).
    let lib = unsafe { ModelLibrary::load(&library.data, name)? };
    let info = ImageInfo::of(manifest, package.manifest_bytes());
    Ok(Staged {
        lib,
        info,
        encoded: bytes,
    })
}

/// Makes a model of a staged image, with a trace when given (images are
/// built without trace support, so that fails with a message saying so),
/// and checks that it reports the build id its manifest names.
pub(crate) fn instantiate(
    staged: &Staged,
    test_mode: bool,
    trace: Option<&Path>,
) -> Result<Model, SimError> {
    let mut model = Model::from_library(staged.lib, test_mode, trace)?;
    let got = read_build_id(&mut model)?;
    if got != staged.info.build_id {
        return Err(SimError::Image {
            name: staged.lib.origin().to_owned(),
            reason: format!(
                "the model reports build id {got:016x}, the manifest {:016x}",
                staged.info.build_id
            ),
        });
    }
    Ok(model)
}

/// The build id a model reports in `BUILD_HASH_HI:LO`.
pub(crate) fn read_build_id(model: &mut Model) -> Result<u64, SimError> {
    let lo = model.read(hsm_contract::regs::BUILD_HASH_LO.offset)?;
    let hi = model.read(hsm_contract::regs::BUILD_HASH_HI.offset)?;
    Ok(u64::from(hi) << 32 | u64::from(lo))
}

/// The highest security version recorded in `state_dir` (0 when none).
pub(crate) fn recorded_security_version(state_dir: &Path) -> Result<u32, SimError> {
    let path = state_dir.join(SECURITY_VERSION_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|_| SimError::Image {
            name: path.display().to_string(),
            reason: format!("{text:?} is not a security version; the card's state is damaged"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(SimError::Io {
            path,
            what: "cannot read the recorded security version",
            source,
        }),
    }
}

/// Stores an accepted package and raises the recorded security version.
pub(crate) fn persist(state_dir: &Path, staged: &Staged) -> Result<(), SimError> {
    write_atomic(&state_dir.join(STORED_IMAGE), &staged.encoded)?;
    raise_security_version(state_dir, staged.info.security_version)
}

/// Records `version` as the highest accepted, unless a higher one is.
pub(crate) fn raise_security_version(state_dir: &Path, version: u32) -> Result<(), SimError> {
    if recorded_security_version(state_dir)? < version {
        write_atomic(
            &state_dir.join(SECURITY_VERSION_FILE),
            format!("{version}\n").as_bytes(),
        )?;
    }
    Ok(())
}

/// Reads the stored image of `state_dir`, if there is one.
pub(crate) fn stored_image(state_dir: &Path) -> Result<Option<(Vec<u8>, PathBuf)>, SimError> {
    let path = state_dir.join(STORED_IMAGE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some((bytes, path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SimError::Io {
            path,
            what: "cannot read the stored card image",
            source,
        }),
    }
}

/// Replaces `path` with `data` atomically (the library's
/// [`hsm_bitstream::write_atomic`]: temporary file, sync, rename, directory
/// sync), owner-only.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), SimError> {
    hsm_bitstream::write_atomic(path, data, 0o600, hsm_bitstream::Overwrite::Replace).map_err(
        |source| SimError::Io {
            path: path.to_path_buf(),
            what: "cannot store",
            source,
        },
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
