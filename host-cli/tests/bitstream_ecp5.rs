//! `hsmctl bitstream build --target ecp5`: one block of the card through the
//! open ECP5 flow into a package whose manifest carries the flow's figures.
//!
//! Needs the tools of `scripts/install-fpga-tools.sh`; without them the
//! build test says so and passes, unless `HSM_REQUIRE_FPGA_TOOLS=1` (CI).

use std::path::Path;
use std::process::{Command, Output};

const HSMCTL: &str = env!("CARGO_BIN_EXE_hsmctl");

fn tools_present() -> bool {
    match hsm_bitstream::ecp5::Ecp5Tools::locate(None) {
        Ok(_) => true,
        Err(e) if std::env::var("HSM_REQUIRE_FPGA_TOOLS").as_deref() == Ok("1") => {
            panic!("HSM_REQUIRE_FPGA_TOOLS=1 but {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: the FPGA tools are not installed: {e}");
            false
        }
    }
}

/// `hsmctl bitstream build --target ecp5 EXTRA... --out OUT`.
fn build_ecp5(extra: &[&str], out: &Path) -> Output {
    Command::new(HSMCTL)
        .args(["bitstream", "build", "--target", "ecp5"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_block_builds_into_a_package_with_its_figures() {
    if !tools_present() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("hsmctl-ecp5-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pkg = dir.join("block.pkg");
    let o = build_ecp5(&["--block", "aes_key_expand", "--json"], &pkg);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // Progress on stderr, one line per step.
    for step in ["synthesising", "placing and routing", "packing"] {
        assert!(err.contains(step), "no {step:?} progress in {err}");
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &v["manifest"];
    assert_eq!(m["target"], "ecp5-lfe5um5g-85f");
    assert_eq!(m["design"], "open-hsm-block-aes-key-expand");
    for figure in ["luts", "flip_flops", "fmax_khz"] {
        assert!(
            m["resources"][figure].as_u64().unwrap_or(0) > 0,
            "{figure} missing: {m}"
        );
    }
    let names: Vec<&str> = m["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "block-aes-key-expand.bit",
            "design.v",
            "nextpnr-report.json"
        ]
    );
    // The package is what the manifest says, and the figures are in it.
    let package = hsm_bitstream::Package::read_file(&pkg).unwrap();
    assert!(package.manifest().resources.luts.unwrap() > 0);
    let bit = package.image("block-aes-key-expand.bit").unwrap();
    assert!(!bit.data.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_ecp5_target_names_its_blocks() {
    let never = std::env::temp_dir().join("never-written.pkg");
    let o = build_ecp5(&[], &never);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--block") && err.contains("aes_enc_pipe"),
        "{err}"
    );
    let o = build_ecp5(&["--block", "nope"], &never);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no block \"nope\""));
}
