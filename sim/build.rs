//! Builds the simulated card: exports the RTL to Verilog, runs Verilator on
//! it, and compiles the generated C++ with the wrapper in `csrc/`.
//!
//! The Verilog comes from `hsm_hdl::verilog()`, or from the file named by the
//! environment variable `HSM_SIM_VERILOG` when it is set (to simulate another
//! image of the card; its top module must be `top` with the ports of
//! `docs/card-ports.md`). With the `trace` feature (default) the model is
//! built with VCD tracing support.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

include!("src/verilator_flags.rs");

/// The Verilator release the project is built and measured with.
const VERILATOR_VERSION: &str = "5.006";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc");
    println!("cargo:rerun-if-changed=src/verilator_flags.rs");
    println!("cargo:rerun-if-env-changed=HSM_SIM_VERILOG");
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=VERILATOR_ROOT");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let verilog = match env::var_os("HSM_SIM_VERILOG") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read HSM_SIM_VERILOG={}: {e}", path.display()))
        }
        None => hsm_hdl::verilog(),
    };
    let source = out.join("top.v");
    fs::write(&source, verilog)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", source.display()));

    let verilator = env::var("VERILATOR").unwrap_or_else(|_| "verilator".to_owned());
    check_verilator(&verilator);

    // A clean folder for every run: Verilator reuses stale files otherwise.
    let mdir = out.join("verilated");
    if mdir.exists() {
        fs::remove_dir_all(&mdir)
            .unwrap_or_else(|e| panic!("cannot remove {}: {e}", mdir.display()));
    }
    // Tracing support costs about a quarter of the simulation speed even
    // when no trace is written, so it is a cargo feature (on by default).
    let trace = env::var_os("CARGO_FEATURE_TRACE").is_some();
    let status = Command::new(&verilator)
        .args(trace.then_some("--trace"))
        .args(VERILATOR_ARGS)
        .arg("--Mdir")
        .arg(&mdir)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {verilator}: {e}"));
    if !status.success() {
        panic!(
            "{verilator} failed on {} ({status}); see the messages above",
            source.display()
        );
    }

    // The generated classes as one translation unit: much faster to build
    // and to run than one object per file.
    let mut generated: Vec<String> = fs::read_dir(&mdir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", mdir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("Vtop") && name.ends_with(".cpp"))
        .collect();
    generated.sort();
    if generated.is_empty() {
        panic!("{verilator} generated no C++ in {}", mdir.display());
    }
    let unity = mdir.join("hsm_card_all.cpp");
    let includes: String = generated
        .iter()
        .map(|name| format!("#include \"{name}\"\n"))
        .collect();
    fs::write(&unity, includes).unwrap_or_else(|e| panic!("cannot write {}: {e}", unity.display()));

    let root = verilator_root(&verilator);
    let include = root.join("include");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        // -O3: the model runs 1.5x faster than at -O2 (0.31 against 0.20 M
        // cycles/s for the card with its AES engines) for ~4 s more compile.
        .opt_level(3)
        .debug(false)
        .warnings(false)
        .define("VM_TRACE", if trace { "1" } else { "0" })
        .define("VM_TRACE_VCD", if trace { "1" } else { "0" })
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .include(&mdir)
        .include(&include)
        .include(include.join("vltstd"))
        .file(&unity)
        .file(include.join("verilated.cpp"))
        .file(include.join("verilated_threads.cpp"))
        .file("csrc/hsm_sim.cpp");
    if trace {
        build.file(include.join("verilated_vcd_c.cpp"));
    }
    build.compile("hsm_card");
}

/// Fails the build with instructions when Verilator is missing, and warns
/// when its version is not the one the project is tested with.
fn check_verilator(verilator: &str) {
    let output = match Command::new(verilator).arg("--version").output() {
        Ok(output) if output.status.success() => output,
        _ => panic!(
            "\n\nhsm-sim needs Verilator {VERILATOR_VERSION} to build the simulated card, and \
             `{verilator} --version` did not run.\nInstall it with `apt-get install verilator` \
             (Debian 12 ships {VERILATOR_VERSION}), or point the VERILATOR environment variable \
             at the binary.\n\n"
        ),
    };
    let version = String::from_utf8_lossy(&output.stdout);
    if !version.contains(&format!("Verilator {VERILATOR_VERSION} ")) {
        println!(
            "cargo:warning=hsm-sim is tested with Verilator {VERILATOR_VERSION}; found {}",
            version.trim()
        );
    }
}

/// The Verilator installation's root (holding `include/verilated.cpp`).
fn verilator_root(verilator: &str) -> PathBuf {
    find_verilator_root(verilator).unwrap_or_else(|e| panic!("{e}"))
}
