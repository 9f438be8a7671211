//! `hsmctl bitstream keygen` and `hsmctl bitstream sign`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use hsm_bitstream::{
    check_images_against, write_atomic, KdfParams, KeyError, Overwrite, Package, ReadError,
    SigningKey, TrustStore, VerifyError,
};

use super::{flat, PassphraseArg, Refused, INSECURE_FAST_KDF_ENV};
use crate::{print_json, print_out};

/// `hsmctl bitstream keygen` arguments.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the private key file; the public key file is written
    /// beside it with the extension .pub (KEYFILE must not end in .pub)
    #[arg(long, value_name = "KEYFILE")]
    out: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseArg,
    /// Replace existing key files (the old key is lost)
    #[arg(long)]
    force: bool,
    /// Print one JSON object (key id, file paths, Argon2id parameters)
    #[arg(long)]
    json: bool,
}

/// `hsmctl bitstream sign` arguments.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The private key file (made by `hsmctl bitstream keygen`)
    #[arg(long, value_name = "KEYFILE")]
    key: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseArg,
    /// The package to sign; replaced by the signed package unless --out is
    /// given
    #[arg(value_name = "PKG")]
    package: PathBuf,
    /// Write the signed package here instead (replaced if it exists)
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// Print one JSON object (package, key id, design, target, security
    /// version)
    #[arg(long)]
    json: bool,
}

/// The Argon2id parameters for a new key file: the default, or the
/// test-only ones when `HSM_INSECURE_FAST_KDF=1` (with a warning).
fn kdf_params() -> anyhow::Result<KdfParams> {
    match std::env::var_os(INSECURE_FAST_KDF_ENV) {
        None => Ok(KdfParams::DEFAULT),
        Some(v) if v.is_empty() || v == "0" => Ok(KdfParams::DEFAULT),
        Some(v) if v == "1" => {
            eprintln!(
                "hsmctl: warning: {INSECURE_FAST_KDF_ENV}=1: the key file uses the test-only \
                 Argon2id parameters (32 KiB, 1 pass), so its passphrase can be searched \
                 quickly; never use such a key for real packages"
            );
            Ok(KdfParams::INSECURE_FAST)
        }
        Some(v) => bail!(
            "{INSECURE_FAST_KDF_ENV}={}: set it to 1 (tests only) or leave it unset",
            v.to_string_lossy()
        ),
    }
}

/// Run `hsmctl bitstream keygen`.
pub fn keygen(a: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let pub_path = SigningKey::public_path(&a.out).map_err(|_| {
        anyhow::anyhow!(
            "--out {}: the private key file must not end in .pub (the public key is written \
             beside it with that extension); use e.g. signer.key",
            a.out.display()
        )
    })?;
    if !a.force {
        for p in [&a.out, &pub_path] {
            if p.symlink_metadata().is_ok() {
                bail!(
                    "{} already exists; pass --force to replace it (the key it holds is lost \
                     unless you have a copy)",
                    p.display()
                );
            }
        }
    }
    let params = kdf_params()?;
    let passphrase = a.passphrase.new_key(&a.out)?;
    let key = SigningKey::generate()
        .map_err(flat)
        .context("generating the signing key")?;
    let written = if a.force {
        key.overwrite_files(&a.out, &passphrase, params)
    } else {
        key.write_files(&a.out, &passphrase, params)
    };
    let pub_path = written.map_err(|e| match e {
        KeyError::Exists { path } => anyhow::anyhow!(
            "{} already exists (it appeared while the key was made); pass --force to replace it",
            path.display()
        ),
        e => flat(e).context(format!("writing the key files {}", a.out.display())),
    })?;
    if a.json {
        print_json(&serde_json::json!({
            "key_id": key.key_id().to_string(),
            "algorithm": "ML-DSA-87",
            "private_key": a.out.display().to_string(),
            "public_key": pub_path.display().to_string(),
            "kdf": {
                "algorithm": "argon2id",
                "m_kib": params.m_kib(),
                "t": params.t(),
                "p": params.p(),
            },
        }))?;
    } else {
        print_out(&format!(
            "key id:      {}\n\
             private key: {} (ML-DSA-87; passphrase-protected, Argon2id m={} KiB t={} p={})\n\
             public key:  {}\n\
             Trust it where packages are verified: hsmctl bitstream trust add {}\n",
            key.key_id(),
            a.out.display(),
            params.m_kib(),
            params.t(),
            params.p(),
            pub_path.display(),
            pub_path.display(),
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the signing key, saying what to do when that fails.
fn read_key(path: &Path, passphrase: &[u8]) -> anyhow::Result<SigningKey> {
    SigningKey::read_file(path, passphrase).map_err(|e| match e {
        KeyError::WrongPassphrase => anyhow::anyhow!(
            "{}: wrong passphrase (or the key file was modified); check the passphrase or \
             --passphrase-file and try again",
            path.display()
        ),
        KeyError::Format(f) => anyhow::anyhow!(
            "{} is not a bitstream private key file ({f}); pass the file `hsmctl bitstream \
             keygen --out` wrote, not its .pub",
            path.display()
        ),
        e => flat(e).context(format!("reading the signing key {}", path.display())),
    })
}

/// The permission bits to give a rewritten file: those of the file it
/// replaces, else rw-r--r--.
fn mode_of(path: &Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(path) {
            return m.permissions().mode() & 0o777;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    0o644
}

/// Run `hsmctl bitstream sign`.
pub fn sign(a: &SignArgs) -> anyhow::Result<ExitCode> {
    let mut package = Package::read_file(&a.package).map_err(|e| match e {
        ReadError::Format { path, source } => {
            anyhow::Error::new(Refused::new(&path, VerifyError::Format(source), None))
        }
        e => flat(e).context("reading the package to sign"),
    })?;
    // Signing vouches for the images through their hashes: refuse a
    // package whose images already differ from its manifest.
    check_images_against(package.manifest(), package.images())
        .map_err(|e| Refused::new(&a.package, e, None))?;
    let passphrase = a.passphrase.existing(&a.key)?;
    let key = read_key(&a.key, &passphrase)?;
    drop(passphrase);
    let replaced = package.signature().map(|s| s.key_id);
    if let Some(old) = replaced {
        eprintln!("hsmctl: replacing the signature by key {old}");
    }
    package
        .sign(&key)
        .map_err(flat)
        .context("signing the manifest")?;
    // Check the new signature before writing anything.
    let mut own = TrustStore::new();
    own.add(key.public_key().clone());
    package
        .verify(&own)
        .map_err(flat)
        .context("the new signature does not verify with the key's own public key")?;
    let dest = a.out.as_deref().unwrap_or(&a.package);
    write_atomic(dest, &package.encode(), mode_of(dest), Overwrite::Replace)
        .with_context(|| format!("writing the signed package {}", dest.display()))?;
    let m = package.manifest();
    if a.json {
        print_json(&serde_json::json!({
            "package": dest.display().to_string(),
            "key_id": key.key_id().to_string(),
            "design": m.design,
            "design_version": m.design_version,
            "target": m.target,
            "security_version": m.security_version,
            "replaced_signature_by": replaced.map(|k| k.to_string()),
        }))?;
    } else {
        print_out(&format!(
            "signed {} with key {}\n\
             design:           {} {}\n\
             target:           {}\n\
             security version: {}\n",
            dest.display(),
            key.key_id(),
            m.design,
            m.design_version,
            m.target,
            m.security_version,
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
