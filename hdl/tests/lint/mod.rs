//! Verilator lint of exported Verilog, with the project's only waivers.

/// Lint `verilog` (a module tree with top `name`); panics with Verilator's
/// report when it is not clean.
pub fn lint(name: &str, verilog: &str) {
    let dir = std::env::temp_dir().join(format!("hsm-lint-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.v"));
    std::fs::write(&file, verilog).unwrap();
    let out = std::process::Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "-Wno-WIDTH",
            "-Wno-DECLFILENAME",
            "-Wno-UNUSEDPARAM",
            // As in the simulated card's build (sim/src/verilator_flags.rs,
            // which says why): the dispatcher routes the engines' DMA ports
            // through always blocks Verilator does not split.
            "-Wno-UNOPTFLAT",
        ])
        .arg(&file)
        .current_dir(&dir)
        .output()
        .expect("verilator 5.006 or later is needed (apt-get install verilator)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "verilator lint of {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
