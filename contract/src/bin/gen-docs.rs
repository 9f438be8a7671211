//! Writes the documents generated from the contract into `docs/`.
//!
//! Usage: `cargo run -p hsm-contract --bin gen-docs [WORKSPACE_ROOT]`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    for (path, text) in hsm_contract::docs::all() {
        let full = root.join(path);
        std::fs::write(&full, text)?;
        eprintln!("wrote {}", full.display());
    }
    Ok(())
}
