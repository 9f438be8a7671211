// The Verilator arguments (before `--Mdir DIR FILE`) for the card model,
// shared by `build.rs` (the built-in model) and `image.rs` (card images), so
// both make the same model from the same Verilog.

/// Verilator's arguments for the card model (without `--trace`).
pub const VERILATOR_ARGS: &[&str] = &[
    "--cc",
    "--top-module",
    "top",
    "--prefix",
    "Vtop",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "--noassert",
    "-Wno-WIDTH",
    "-Wno-DECLFILENAME",
    "-Wno-UNUSEDPARAM",
    // The dispatcher's one always block routes the DMA ports of the crypto,
    // ML-KEM, hash and auth engines (and the self-tests' memory), and each
    // engine's one always block both reads its port's ready and data and
    // drives its request. Verilator does not split always blocks, so it
    // reports each pair as a circular path although no bit depends on
    // itself (a true loop would not settle: Verilator stops with "didn't
    // converge"); it settles those blocks by iterating. Removing it means
    // registering the routed ports (a cycle per handshake) or moving each
    // engine's request logic into a block of its own.
    "-Wno-UNOPTFLAT",
];

/// Where Debian's `verilator` package puts the runtime sources.
const VERILATOR_ROOT_DEFAULT: &str = "/usr/share/verilator";

/// The Verilator installation's root (holding `include/verilated.cpp`):
/// `$VERILATOR_ROOT`, Debian's location, or what `verilator` says.
fn find_verilator_root(verilator: &str) -> Result<std::path::PathBuf, String> {
    if let Some(root) = std::env::var_os("VERILATOR_ROOT") {
        return Ok(std::path::PathBuf::from(root));
    }
    let default = std::path::Path::new(VERILATOR_ROOT_DEFAULT);
    if default.join("include/verilated.cpp").exists() {
        return Ok(default.to_path_buf());
    }
    let output = std::process::Command::new(verilator)
        .arg("--getenv")
        .arg("VERILATOR_ROOT")
        .output()
        .map_err(|e| format!("cannot run {verilator} --getenv VERILATOR_ROOT: {e}"))?;
    let root = std::path::PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !root.join("include/verilated.cpp").exists() {
        return Err(format!(
            "cannot find Verilator's runtime sources (include/verilated.cpp) under {}; \
             set VERILATOR_ROOT",
            root.display()
        ));
    }
    Ok(root)
}
