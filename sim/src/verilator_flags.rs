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
    // The auth unit and the dispatcher read each other's outputs within a
    // cycle through always blocks Verilator does not split, which it
    // reports as a circular path although no bit depends on itself; it
    // then settles those blocks by iterating. (Registering the auth
    // unit's DMA port would remove the warning; see the auth unit.)
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
