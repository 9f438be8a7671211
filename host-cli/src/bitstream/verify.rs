//! `hsmctl bitstream verify`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use hsm_bitstream::{Manifest, VerifyError};

use super::{hex, load_trust, read_package, ReadFailure, Refused, TrustDirArg};
use crate::{print_json, print_out};

/// `hsmctl bitstream verify` arguments.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The package to verify (it is only read)
    #[arg(value_name = "PKG")]
    package: PathBuf,
    #[command(flatten)]
    trust: TrustDirArg,
    /// Print one JSON object: the manifest when the package verifies, else
    /// `verified: false` with the reason (the exit code is then 5)
    #[arg(long)]
    json: bool,
}

/// Run `hsmctl bitstream verify`.
pub fn run(a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let (trust, dir) = load_trust(&a.trust, "verifies")?;
    let package = match read_package(&a.package, &dir) {
        Ok(p) => p,
        Err(ReadFailure::Refused(r)) => return Err(refuse(a, r)),
        Err(ReadFailure::Other(e)) => return Err(e.context("reading the package to verify")),
    };
    let verified = match package.verify(&trust) {
        Ok(v) => v,
        Err(e) => return Err(refuse(a, Refused::new(&a.package, e, Some(&dir)))),
    };
    let m = verified.manifest();
    let key_id = verified.key_id().to_string();
    if a.json {
        let mut obj = serde_json::Map::new();
        obj.insert("verified".into(), true.into());
        obj.insert("package".into(), a.package.display().to_string().into());
        obj.insert("key_id".into(), key_id.into());
        if let serde_json::Value::Object(fields) = manifest_json(m) {
            obj.extend(fields);
        }
        print_json(&obj.into())?;
    } else {
        print_out(&format!(
            "{}: verified, signed by trusted key {key_id}\n{}",
            a.package.display(),
            manifest_text(m)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// With `--json`, prints the refusal as JSON on stdout too; returns it as
/// the command's error (exit code 5, message on stderr).
fn refuse(a: &VerifyArgs, r: Refused) -> anyhow::Error {
    if a.json {
        let key_id = match &r.reason {
            VerifyError::UnknownKey { key_id }
            | VerifyError::RevokedKey { key_id }
            | VerifyError::BadSignature { key_id } => Some(key_id.to_string()),
            _ => None,
        };
        let image = match &r.reason {
            VerifyError::ImageMissing { name }
            | VerifyError::ImageUnexpected { name }
            | VerifyError::ImageSize { name, .. }
            | VerifyError::ImageHash { name } => Some(name.clone()),
            _ => None,
        };
        let mut v = serde_json::json!({
            "verified": false,
            "package": a.package.display().to_string(),
            "reason": r.kind(),
            "error": r.reason.to_string(),
        });
        let obj = v.as_object_mut().expect("an object");
        if let Some(k) = key_id {
            obj.insert("key_id".into(), k.into());
        }
        if let Some(i) = image {
            obj.insert("image".into(), i.into());
        }
        // A closed stdout must not hide the refusal: the error is returned
        // either way.
        let _ = print_json(&v);
    }
    anyhow::Error::new(r)
}

/// The resource figures present: JSON name, value, text.
fn resources(m: &Manifest) -> Vec<(&'static str, u32, String)> {
    let r = &m.resources;
    let mut out = Vec::new();
    for (name, value, unit) in [
        ("luts", r.luts, "LUTs"),
        ("flip_flops", r.flip_flops, "flip-flops"),
        ("block_rams", r.block_rams, "block RAMs"),
        ("dsps", r.dsps, "DSPs"),
    ] {
        if let Some(v) = value {
            out.push((name, v, format!("{v} {unit}")));
        }
    }
    if let Some(khz) = r.fmax_khz {
        out.push((
            "fmax_khz",
            khz,
            format!("fmax {}.{:03} MHz", khz / 1000, khz % 1000),
        ));
    }
    out
}

/// The manifest as a JSON object.
pub(super) fn manifest_json(m: &Manifest) -> serde_json::Value {
    let res = resources(m);
    let resources = if res.is_empty() {
        serde_json::Value::Null
    } else {
        res.iter()
            .map(|(name, v, _)| ((*name).to_string(), serde_json::Value::from(*v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    serde_json::json!({
        "target": m.target,
        "design": m.design,
        "design_version": m.design_version,
        "build_id": format!("{:016x}", m.build_id),
        "source_revision": m.source_revision,
        "source_sha384": hex(&m.source_sha384),
        "contract_version": format!("{}.{}", m.contract_major, m.contract_minor),
        "security_version": m.security_version,
        "tools": m.tools.iter().map(|t| serde_json::json!({
            "name": t.name,
            "version": t.version,
        })).collect::<Vec<_>>(),
        "resources": resources,
        "images": m.images.iter().map(|i| serde_json::json!({
            "name": i.name,
            "size": i.size,
            "sha384": hex(&i.sha384),
        })).collect::<Vec<_>>(),
    })
}

/// The manifest as text, one field a line.
pub(super) fn manifest_text(m: &Manifest) -> String {
    let mut s = String::new();
    let revision = if m.source_revision.is_empty() {
        "(unknown)"
    } else {
        &m.source_revision
    };
    let _ = write!(
        s,
        "target:           {}\n\
         design:           {} {}\n\
         build id:         {:016x}\n\
         source revision:  {revision}\n\
         source SHA-384:   {}\n\
         contract version: {}.{}\n\
         security version: {}\n",
        m.target,
        m.design,
        m.design_version,
        m.build_id,
        hex(&m.source_sha384),
        m.contract_major,
        m.contract_minor,
        m.security_version,
    );
    if !m.tools.is_empty() {
        let tools: Vec<String> = m
            .tools
            .iter()
            .map(|t| format!("{} {}", t.name, t.version))
            .collect();
        let _ = writeln!(s, "tools:            {}", tools.join(", "));
    }
    let res = resources(m);
    if !res.is_empty() {
        let res: Vec<&str> = res.iter().map(|(_, _, t)| t.as_str()).collect();
        let _ = writeln!(s, "resources:        {}", res.join(", "));
    }
    let _ = writeln!(s, "images:");
    let width = m.images.iter().map(|i| i.name.len()).max().unwrap_or(0);
    for i in &m.images {
        let _ = writeln!(
            s,
            "  {:width$}  {:>10} bytes  SHA-384 {}",
            i.name,
            i.size,
            hex(&i.sha384)
        );
    }
    s
}
