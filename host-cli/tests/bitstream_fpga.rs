//! `hsmctl bitstream load --fpga-manager` against a fake sysfs tree and a
//! fake kernel, end to end.
//!
//! The tree is a temporary directory given to `--sysfs-root`:
//! `sys/class/fpga_manager/fpga0/{name,state,status,flags,firmware}` and
//! `lib/firmware`. The vendor kernels' `firmware` attribute does the whole
//! load inside the `write`; the fake kernel (a thread of this test,
//! `bitstreams/tests/support/fake_kernel.rs`, shared with the library's
//! tests) imitates it with a FIFO: it waits for the staged `hsm-*` file,
//! sets `state` to `firmware request`, then opens the FIFO (so hsmctl's
//! write cannot return before the load has visibly begun), reads the name,
//! checks the file's contents and mode and that `flags` is 0, and steps
//! `state` through `write init` and `write` to its end. Tests
//! that must not reach the kernel leave `firmware` a plain, empty file and
//! check that it stays so.
//!
//! Packages are made with the `hsm-bitstream` library and signed with
//! `hsmctl bitstream sign`; key files use the test-only Argon2id parameters
//! (`HSM_INSECURE_FAST_KDF=1`).

#![cfg(unix)]

mod common;
#[allow(dead_code)] // the library's own tests use the rest
#[path = "../../bitstreams/tests/support/fake_kernel.rs"]
mod fake_kernel;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{fails, json, manifest, run, s, text, Signer};
use fake_kernel::{kernel_result, End, FakeRoot};
use hsm_bitstream::fpga_manager::{ECP5_TARGET, FPGA_IMAGE_NAME};
use hsm_bitstream::{Image, Package};

const DRIVER_NAME: &str = "Lattice ECP5 FPGA Manager";
const CARD: &str = "vfio:0000:01:00.0";

/// A pretend bitstream; `tag` makes each different.
fn bitstream(tag: &str) -> Vec<u8> {
    format!("\u{ff}\u{ff} a pretend ECP5 bitstream {tag}").into_bytes()
}

/// A [`Signer`], a loader state directory, and a fake root with `fpga0`.
struct Setup {
    signer: Signer,
    state: PathBuf,
    fake: FakeRoot,
}

common::deref_signer!(Setup);

impl Setup {
    fn new(tag: &str, fpga_state: &str) -> Setup {
        let signer = Signer::new(tag);
        let fake = FakeRoot::at(&signer.dir.path("root"), DRIVER_NAME, fpga_state);
        Setup {
            state: signer.dir.path("loader-state"),
            signer,
            fake,
        }
    }

    /// Writes and signs a package `name` with `images` for `target` at
    /// `security_version`.
    fn package_with(
        &self,
        name: &str,
        target: &str,
        security_version: u32,
        images: Vec<Image>,
    ) -> PathBuf {
        let manifest = manifest(target, security_version, &images);
        let path = self.dir.path(name);
        std::fs::write(&path, Package::new(manifest, images).unwrap().encode()).unwrap();
        self.sign(&path);
        path
    }

    /// A signed package for the real card with `bits` as `card.bit`.
    fn package(&self, name: &str, security_version: u32, bits: &[u8]) -> PathBuf {
        let images = vec![Image {
            name: FPGA_IMAGE_NAME.into(),
            data: bits.to_vec(),
        }];
        self.package_with(name, ECP5_TARGET, security_version, images)
    }

    /// `hsmctl bitstream load PKG --fpga-manager fpga0 ...` with `extra`.
    fn load(&self, pkg: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "bitstream",
            "load",
            s(pkg),
            "--fpga-manager",
            "fpga0",
            "--sysfs-root",
            s(self.fake.root()),
            "--loader-state",
            s(&self.state),
            "--trust-dir",
            s(&self.trust),
        ];
        args.extend_from_slice(extra);
        run(&args)
    }

    fn record_path(&self) -> PathBuf {
        self.state.join("fpga0.security-version")
    }

    /// The record's contents, `None` if there is none.
    fn record(&self) -> Option<String> {
        std::fs::read_to_string(self.record_path()).ok()
    }
}

#[test]
fn load_raises_the_record_and_a_rollback_is_refused() {
    let t = Setup::new("load", "operating");
    let bits = bitstream("v7");
    let pkg = t.package("v7.hsmpkg", 7, &bits);

    let kernel = t.fake.kernel(&bits, End::Operating);
    let o = t.load(&pkg, &["--device", CARD, "--json"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let name = kernel_result(&kernel);
    // Progress lines, one per step.
    for needle in [
        "the checks passed",
        "staged",
        "asked the kernel",
        "operating",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert_eq!(t.record().as_deref(), Some("7\n"));
    assert_eq!(t.fake.state(), "operating");
    assert_eq!(t.fake.firmware_files(), Vec::<String>::new());

    let j = json(&o);
    assert_eq!(j["device"], CARD);
    assert_eq!(j["loaded"], true);
    assert_eq!(j["fpga_manager"]["device"], "fpga0");
    assert_eq!(j["fpga_manager"]["name"], DRIVER_NAME);
    assert_eq!(j["firmware"]["name"], name.as_str());
    assert!(
        name.starts_with("hsm-") && name.ends_with("-card.bit"),
        "{name}"
    );
    assert_eq!(j["firmware"]["path"], s(&t.fake.firmware_dir().join(&name)));
    assert_eq!(j["firmware"]["removed"], true);
    assert_eq!(j["previous_state"], "operating");
    let states: Vec<&str> = j["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"operating"), "{states:?}");
    // The poll (50 ms) may miss the fake kernel's short steps.
    assert!(states.iter().all(|s| !s.ends_with("error")), "{states:?}");
    assert_eq!(j["final_state"], "operating");
    assert!(j["elapsed_ms"].is_u64());
    assert_eq!(j["key_id"], t.key_id.as_str());
    assert_eq!(j["manifest"]["target"], ECP5_TARGET);
    assert_eq!(j["manifest"]["security_version"], 7);
    let rec = &j["security_version_record"];
    assert_eq!(rec["path"], s(&t.record_path()));
    assert_eq!(rec["interim"], true);
    assert_eq!(rec["previous"], 0);
    assert_eq!(rec["now"], 7);
    assert_eq!(rec["raised"], true);

    // A lower security version is refused before the kernel is asked.
    t.fake.plain_firmware_attribute();
    let old = t.package("v6.hsmpkg", 6, &bitstream("v6"));
    let err = fails(
        &t.load(&old, &[]),
        5,
        &["security version", s(&t.record_path()), "not touched"],
    );
    assert!(err.contains('6') && err.contains('7'), "{err}");
    t.fake.assert_untouched();
    assert_eq!(t.record().as_deref(), Some("7\n"));

    // The same version loads again (text report); the record stays.
    let kernel = t.fake.kernel(&bits, End::Operating);
    let o = t.load(&pkg, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    kernel_result(&kernel);
    let out = text(&o.stdout);
    for needle in [
        "loaded onto fpga0",
        DRIVER_NAME,
        "-card.bit",
        "-> operating in",
        &t.key_id,
        "interim record on this host",
        "security version: 7",
    ] {
        assert!(out.contains(needle), "{needle:?} not in {out}");
    }
    assert_eq!(t.record().as_deref(), Some("7\n"));
}

#[test]
fn packages_the_card_does_not_take_are_refused_untouched() {
    let t = Setup::new("refused", "operating");
    let bits = bitstream("sim");
    let sim = t.package_with(
        "sim.hsmpkg",
        "sim-verilator",
        1,
        vec![Image {
            name: FPGA_IMAGE_NAME.into(),
            data: bits,
        }],
    );
    fails(
        &t.load(&sim, &[]),
        5,
        &["target", ECP5_TARGET, "sim-verilator", "not touched"],
    );
    t.fake.assert_untouched();
    assert_eq!(t.record(), None);

    let no_bitstream = t.package_with(
        "no-bit.hsmpkg",
        ECP5_TARGET,
        1,
        vec![Image {
            name: "card.v".into(),
            data: b"module card(); endmodule\n".to_vec(),
        }],
    );
    fails(&t.load(&no_bitstream, &[]), 5, &["card.bit", "card.v"]);
    t.fake.assert_untouched();
    assert_eq!(t.record(), None);

    // A damaged record is not read as 0.
    std::fs::create_dir_all(&t.state).unwrap();
    std::fs::write(t.record_path(), "seven\n").unwrap();
    let pkg = t.package("ok.hsmpkg", 1, &bitstream("ok"));
    fails(
        &t.load(&pkg, &[]),
        1,
        &[s(&t.record_path()), "Nothing was loaded"],
    );
    t.fake.assert_untouched();
}

#[test]
fn a_failed_load_says_to_recover_and_recovery_loads() {
    let t = Setup::new("recover", "operating");
    let bits = bitstream("bad");
    let pkg = t.package("v3.hsmpkg", 3, &bits);

    let kernel = t
        .fake
        .kernel(&bits, End::Error("write error", "reconfig CRC error"));
    fails(
        &t.load(&pkg, &[]),
        1,
        &[
            "write error",
            "reconfig CRC error",
            "unconfigured",
            "--recover",
        ],
    );
    kernel_result(&kernel);
    assert_eq!(t.record(), None, "a failed load must not raise the record");
    assert_eq!(t.fake.firmware_files(), Vec::<String>::new());

    // The error state is refused without --recover...
    t.fake.plain_firmware_attribute();
    fails(
        &t.load(&pkg, &[]),
        1,
        &["write error", "--recover", "Nothing was loaded"],
    );
    t.fake.assert_untouched();

    // ...and accepted with it.
    let kernel = t.fake.kernel(&bits, End::Operating);
    let o = t.load(&pkg, &["--recover", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    kernel_result(&kernel);
    let j = json(&o);
    assert_eq!(j["recover"], true);
    assert_eq!(j["previous_state"], "write error");
    assert_eq!(t.record().as_deref(), Some("3\n"));
}

#[test]
fn a_real_card_needs_its_fpga_manager() {
    let t = Setup::new("device", "operating");
    let pkg = t.package("v1.hsmpkg", 1, &bitstream("v1"));
    let root = s(t.fake.root());
    let trust = s(&t.trust);

    // vfio: without --fpga-manager: a usage error listing the managers.
    let o = run(&[
        "bitstream",
        "load",
        s(&pkg),
        "--device",
        CARD,
        "--sysfs-root",
        root,
        "--trust-dir",
        trust,
    ]);
    fails(
        &o,
        2,
        &["--fpga-manager", "fpga0", DRIVER_NAME, "0000:01:00.0"],
    );

    // --fpga-manager with a simulated card: a usage error.
    let o = t.load(&pkg, &["--device", "sim:/nonexistent/card.sock"]);
    fails(&o, 2, &["--fpga-manager", "simulated"]);

    // An FPGA manager that does not exist: unavailable, naming the others.
    let o = run(&[
        "bitstream",
        "load",
        s(&pkg),
        "--fpga-manager",
        "fpga9",
        "--sysfs-root",
        root,
        "--loader-state",
        s(&t.state),
        "--trust-dir",
        trust,
    ]);
    fails(&o, 3, &["fpga9", "fpga0"]);

    // The real-card options need --fpga-manager.
    let o = run(&[
        "bitstream",
        "load",
        s(&pkg),
        "--recover",
        "--trust-dir",
        trust,
    ]);
    fails(&o, 2, &["--fpga-manager"]);

    t.fake.assert_untouched();
    assert_eq!(t.record(), None);
}
