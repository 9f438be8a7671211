//! Computes the build hash the card reports in `BUILD_HASH_LO/HI`: the
//! first 8 bytes of SHA-256 over the RTL's sources (this crate's `src/` and
//! the contract crate's `src/`), in sorted path order, so the same source
//! always gives the same hash and the same Verilog; and SHA-384 over the
//! same input (`SOURCE_SHA384`), which card-image manifests record.

use sha2::{Digest, Sha256, Sha384};
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let roots = [manifest.join("src"), manifest.join("../contract/src")];
    let mut files = Vec::new();
    for r in &roots {
        println!("cargo:rerun-if-changed={}", r.display());
        collect(r, &mut files);
    }
    let base = manifest.join("..");
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&base)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            (rel, p)
        })
        .collect();
    named.sort();
    let mut h = Sha256::new();
    let mut h384 = Sha384::new();
    for (rel, p) in &named {
        let body = std::fs::read(p).expect("read RTL source");
        for h in [&mut h as &mut dyn sha2::digest::DynDigest, &mut h384] {
            h.update(&(rel.len() as u64).to_le_bytes());
            h.update(rel.as_bytes());
            h.update(&(body.len() as u64).to_le_bytes());
            h.update(&body);
        }
    }
    let d = h.finalize();
    let d384 = h384.finalize();
    let hash = u64::from_le_bytes(d[..8].try_into().unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("build_hash.rs");
    std::fs::write(
        out,
        format!(
            "/// First 8 bytes of SHA-256 over the RTL sources, little-endian.\n\
             pub const BUILD_HASH: u64 = 0x{hash:016x};\n\
             /// SHA-384 over the RTL sources (the same input as [`BUILD_HASH`]): the\n\
             /// source hash of card-image manifests.\n\
             pub const SOURCE_SHA384: [u8; 48] = {:?};\n",
            d384.as_slice()
        ),
    )
    .unwrap();
}
