//! The FPGA Manager loader against a fake sysfs tree and a fake kernel
//! (`support/fake_kernel.rs`, which says how the fake kernel behaves).
//! Tests that must not reach the kernel use a plain file for `firmware`
//! and check it stays empty.

#![cfg(unix)]

#[allow(dead_code)] // hsmctl's tests use the rest
#[path = "support/fake_kernel.rs"]
mod fake_kernel;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hsm_bitstream::fpga_manager::{
    fpga_image, FpgaError, FpgaManager, FpgaState, LoadStep, FIRMWARE_PATH_PARAMETER,
    FPGA_IMAGE_NAME,
};
use hsm_bitstream::{
    sha384, Image, ImageEntry, LoadPolicy, Manifest, Package, PolicyError, Resources, SigningKey,
    TrustStore,
};

use fake_kernel::{kernel_result, set_attr, End, FakeRoot};

const BITSTREAM: &[u8] = b"\xff\xff\xff\xff\xaa\x99\x55\x66 a pretend bitstream";
const DRIVER_NAME: &str = "Xilinx ZynqMP FPGA Manager";

/// A fresh fake root under the system's temporary directory, with `fpga0`
/// in `state`; `name` tells the tests' trees apart.
fn fake_root(name: &str, state: &str) -> FakeRoot {
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "hsm-bitstream-fpga-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&root).unwrap();
    FakeRoot::at(&root, DRIVER_NAME, state)
}

fn no_progress() -> impl FnMut(&LoadStep) {
    |_| {}
}

#[test]
fn load_succeeds_and_removes_the_staged_file() {
    let fake = fake_root("ok", "operating");
    let kernel = fake.kernel(BITSTREAM, End::Operating);
    let mut steps = Vec::new();
    let report = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut |s| steps.push(s.clone()))
        .unwrap();
    let name = kernel_result(&kernel);

    let digest = sha384(BITSTREAM);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(report.firmware_name, format!("hsm-{hex}-card.bit"));
    assert_eq!(report.firmware_name, name);
    assert_eq!(report.firmware_path, fake.firmware_dir().join(&name));
    assert_eq!(report.device, "fpga0");
    assert_eq!(report.sha384, digest);
    assert_eq!(report.previous_state, FpgaState::Operating);
    assert_eq!(report.final_state, FpgaState::Operating);
    assert_eq!(report.states.last(), Some(&FpgaState::Operating));
    assert!(report.states.iter().all(|s| !s.is_error()));
    assert_eq!(report.leftover, None);
    // Removed afterwards, and no temporary file left behind.
    assert_eq!(fake.firmware_files(), Vec::<String>::new());

    assert_eq!(
        steps.first(),
        Some(&LoadStep::Checked {
            state: FpgaState::Operating
        })
    );
    assert_eq!(
        steps[1],
        LoadStep::Staged {
            path: report.firmware_path.clone()
        }
    );
    assert_eq!(
        steps[2],
        LoadStep::Triggered {
            firmware_name: name.clone()
        }
    );
    assert_eq!(
        steps.last(),
        Some(&LoadStep::Removed {
            path: report.firmware_path.clone()
        })
    );
    assert!(steps.contains(&LoadStep::State {
        state: FpgaState::Operating
    }));
    assert_eq!(fake.manager().state().unwrap(), FpgaState::Operating);
}

#[test]
fn load_from_unknown_state_succeeds() {
    let fake = fake_root("unknown", "unknown");
    let kernel = fake.kernel(BITSTREAM, End::Operating);
    let report = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap();
    kernel_result(&kernel);
    assert_eq!(report.previous_state, FpgaState::Unknown);
    assert_eq!(fake.firmware_files(), Vec::<String>::new());
}

#[test]
fn no_such_manager() {
    let fake = fake_root("nodev", "operating");
    let e = FpgaManager::with_root(fake.root(), "fpga1")
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    match &e {
        FpgaError::NoSuchManager { device, dir, found } => {
            assert_eq!(device, "fpga1");
            assert_eq!(dir, &fake.root().join("sys/class/fpga_manager/fpga1"));
            assert_eq!(found, &[format!("fpga0 ({DRIVER_NAME})")]);
        }
        other => panic!("{other:?}"),
    }
    assert!(e.card_untouched());
    let msg = e.to_string();
    assert!(msg.contains("fpga_manager/fpga1 does not exist"), "{msg}");
    assert!(msg.contains("found: fpga0 (Xilinx"), "{msg}");
    fake.assert_untouched();

    let e = FpgaManager::with_root(fake.root(), "../fpga0")
        .state()
        .unwrap_err();
    assert!(matches!(e, FpgaError::BadDevice { .. }), "{e:?}");
}

#[test]
fn error_state_before_load_is_refused_unless_recovering() {
    let fake = fake_root("errstate", "write error");
    std::fs::write(fake.dev().join("status"), "reconfig CRC error\n").unwrap();
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    match &e {
        FpgaError::ErrorState {
            path,
            state,
            status,
        } => {
            assert_eq!(path, &fake.dev().join("state"));
            assert_eq!(state, &FpgaState::WriteError);
            assert_eq!(status, "reconfig CRC error");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.card_untouched());
    let msg = e.to_string();
    assert!(msg.contains("\"write error\""), "{msg}");
    assert!(msg.contains("reconfig CRC error"), "{msg}");
    assert!(msg.contains("previous one"), "{msg}");
    fake.assert_untouched();

    // Recovery: loading a known-good image from the error state.
    let kernel = fake.kernel(BITSTREAM, End::Operating);
    let report = fake
        .manager()
        .allow_error_state(true)
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap();
    kernel_result(&kernel);
    assert_eq!(report.previous_state, FpgaState::WriteError);
    assert_eq!(report.final_state, FpgaState::Operating);
}

#[test]
fn busy_and_unknown_states_are_refused() {
    let fake = fake_root("busy", "write");
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    assert!(
        matches!(
            &e,
            FpgaError::Busy {
                state: FpgaState::Write,
                ..
            }
        ),
        "{e:?}"
    );
    set_attr(&fake.dev(), "state", "confused");
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    assert!(matches!(&e, FpgaError::UnexpectedState { .. }), "{e:?}");
    fake.assert_untouched();
}

#[test]
fn kernel_error_reports_state_and_status() {
    let fake = fake_root("kerr", "operating");
    let kernel = fake.kernel(
        BITSTREAM,
        End::Error(
            "write error",
            "reconfig CRC error\nreconfig incompatible image\n",
        ),
    );
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    let name = kernel_result(&kernel);
    match &e {
        FpgaError::LoadFailed {
            path,
            firmware_name,
            state,
            status,
        } => {
            assert_eq!(path, &fake.dev().join("state"));
            assert_eq!(firmware_name, &name);
            assert_eq!(state, &FpgaState::WriteError);
            assert_eq!(status, "reconfig CRC error; reconfig incompatible image");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.card_untouched());
    let msg = e.to_string();
    assert!(msg.contains("\"write error\""), "{msg}");
    assert!(
        msg.contains("reconfig CRC error; reconfig incompatible image"),
        "{msg}"
    );
    assert!(msg.contains("load the previous package again"), "{msg}");
    assert_eq!(fake.firmware_files(), Vec::<String>::new());
}

#[test]
fn timeout_names_the_last_state() {
    let fake = fake_root("timeout", "operating");
    let kernel = fake.kernel(BITSTREAM, End::Stall);
    let e = fake
        .manager()
        .timeout(Duration::from_millis(300))
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    kernel_result(&kernel);
    match &e {
        FpgaError::Timeout { state, waited, .. } => {
            assert_eq!(state, &FpgaState::Write);
            assert!(*waited >= Duration::from_millis(300));
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.card_untouched());
    assert!(e.to_string().contains("still reads \"write\""), "{e}");
    assert_eq!(fake.firmware_files(), Vec::<String>::new());
}

#[test]
fn bad_image_names_are_refused() {
    let fake = fake_root("badname", "operating");
    for name in [
        "",
        "a/b",
        "../card.bit",
        ".card.bit",
        "card bit",
        &"x".repeat(65),
    ] {
        let e = fake
            .manager()
            .load(name, BITSTREAM, &mut no_progress())
            .unwrap_err();
        assert!(
            matches!(&e, FpgaError::BadImageName { .. }),
            "{name:?}: {e:?}"
        );
        assert!(e.card_untouched());
    }
    fake.assert_untouched();
}

#[test]
fn empty_bitstream_is_refused() {
    let fake = fake_root("empty", "operating");
    let e = fake
        .manager()
        .load("card.bit", b"", &mut no_progress())
        .unwrap_err();
    assert!(matches!(&e, FpgaError::EmptyBitstream { .. }), "{e:?}");
    assert!(e.to_string().contains("card.bit"), "{e}");
    fake.assert_untouched();
}

#[test]
fn missing_firmware_dir_is_refused() {
    let fake = fake_root("nofwdir", "operating");
    std::fs::remove_dir(fake.firmware_dir()).unwrap();
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    match &e {
        FpgaError::FirmwareDir { dir, .. } => assert_eq!(dir, &fake.firmware_dir()),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("lib/firmware"), "{e}");
    assert!(e.card_untouched());
    assert_eq!(std::fs::read(fake.dev().join("firmware")).unwrap(), b"");
}

#[test]
fn missing_firmware_attribute_points_to_overlays() {
    let fake = fake_root("noattr", "operating");
    std::fs::remove_file(fake.dev().join("firmware")).unwrap();
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    assert!(matches!(&e, FpgaError::NoFirmwareAttribute { .. }), "{e:?}");
    assert!(e.to_string().contains("device-tree overlay"), "{e}");
    assert_eq!(fake.firmware_files(), Vec::<String>::new());
}

#[test]
fn find_lists_managers_with_names_and_states() {
    let fake = fake_root("find", "operating");
    fake.add_manager("fpga1", DRIVER_NAME, "power off");
    let found = FpgaManager::find(fake.root()).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].device, "fpga0");
    assert_eq!(found[0].name, DRIVER_NAME);
    assert_eq!(found[0].state, Some(FpgaState::Operating));
    assert_eq!(found[1].device, "fpga1");
    assert_eq!(found[1].state, Some(FpgaState::PowerOff));
    assert_eq!(fake.manager().name().unwrap(), DRIVER_NAME);

    let empty = fake_root("find-none", "operating");
    std::fs::remove_dir_all(empty.root().join("sys")).unwrap();
    assert_eq!(FpgaManager::find(empty.root()).unwrap(), vec![]);
}

#[test]
fn firmware_class_path_is_used_and_shadowing_files_refused() {
    let fake = fake_root("fwpath", "operating");
    assert_eq!(fake.manager().resolved_firmware_dir(), fake.firmware_dir());
    let param = fake.root().join(FIRMWARE_PATH_PARAMETER);
    std::fs::create_dir_all(param.parent().unwrap()).unwrap();
    std::fs::write(&param, "/opt/fw\n").unwrap();
    assert_eq!(
        fake.manager().resolved_firmware_dir(),
        fake.root().join("opt/fw")
    );

    // With no custom path, a different file of the same name in
    // lib/firmware/updates would be loaded instead of ours: refused.
    std::fs::write(&param, "\n").unwrap();
    let updates = fake.firmware_dir().join("updates");
    std::fs::create_dir(&updates).unwrap();
    let name = FpgaManager::firmware_name("card.bit", BITSTREAM);
    std::fs::write(updates.join(&name), b"something else").unwrap();
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    match &e {
        FpgaError::Shadowed { path, .. } => assert_eq!(path, &updates.join(&name)),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(fake.dev().join("firmware")).unwrap(), b"");
}

fn fpga_package(images: Vec<Image>) -> Package {
    let manifest = Manifest {
        target: "zynqmp-xczu7ev".into(),
        design: "open-hsm".into(),
        design_version: "0.1.0".into(),
        build_id: 7,
        source_revision: String::new(),
        source_sha384: [1; 48],
        contract_major: hsm_contract::CONTRACT_MAJOR,
        contract_minor: hsm_contract::CONTRACT_MINOR,
        security_version: 2,
        tools: vec![],
        resources: Resources::default(),
        images: images
            .iter()
            .map(|i| ImageEntry::describe(&i.name, &i.data))
            .collect(),
    };
    let mut package = Package::new(manifest, images).unwrap();
    package.sign(&SigningKey::from_seed(&[9; 32])).unwrap();
    package
}

fn trust() -> TrustStore {
    let mut t = TrustStore::new();
    t.add(SigningKey::from_seed(&[9; 32]).public_key().clone());
    t
}

#[test]
fn verified_package_gives_its_card_bit_and_loads_it() {
    let package = fpga_package(vec![
        Image {
            name: FPGA_IMAGE_NAME.into(),
            data: BITSTREAM.to_vec(),
        },
        Image {
            name: "card.ltx".into(),
            data: b"debug probes".to_vec(),
        },
    ]);
    let trust = trust();
    let verified = package.verify(&trust).unwrap();
    assert_eq!(fpga_image(&verified).unwrap().data, BITSTREAM);

    // The policy is checked before anything else.
    let fake = fake_root("verified", "operating");
    let e = fake
        .manager()
        .load_verified(
            &verified,
            &LoadPolicy::for_driver("zynqmp-xczu7ev", 3),
            &mut no_progress(),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            FpgaError::Policy(PolicyError::SecurityVersion {
                package: 2,
                minimum: 3
            })
        ),
        "{e:?}"
    );
    fake.assert_untouched();

    let kernel = fake.kernel(BITSTREAM, End::Operating);
    let report = fake
        .manager()
        .load_verified(
            &verified,
            &LoadPolicy::for_driver("zynqmp-xczu7ev", 2),
            &mut no_progress(),
        )
        .unwrap();
    kernel_result(&kernel);
    assert!(report.firmware_name.ends_with("-card.bit"));
    assert_eq!(report.sha384, sha384(BITSTREAM));

    let no_bit = fpga_package(vec![Image {
        name: "model.so".into(),
        data: b"x".to_vec(),
    }]);
    let verified = no_bit.verify(&trust).unwrap();
    match fpga_image(&verified).unwrap_err() {
        FpgaError::NoBitstreamImage { images } => assert_eq!(images, ["model.so"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn state_strings_round_trip() {
    for s in [
        "unknown",
        "power off",
        "power up",
        "reset",
        "firmware request",
        "firmware request error",
        "write init",
        "write init error",
        "write",
        "write error",
        "write complete",
        "write complete error",
        "operating",
    ] {
        let state = FpgaState::parse(&format!("{s}\n"));
        assert_eq!(state.as_str(), s);
        assert!(!matches!(state, FpgaState::Other(_)), "{s}");
        assert_eq!(state.is_error(), s.ends_with(" error"), "{s}");
        let kinds = [state.is_error(), state.is_busy(), state.accepts_load()];
        assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{s}");
    }
}

#[test]
fn kernel_refusing_the_write_is_a_trigger_error() {
    let fake = fake_root("trigger", "operating");
    // A write to a directory fails, as the kernel's write to `firmware`
    // fails when it cannot load the file.
    let firmware = fake.dev().join("firmware");
    std::fs::remove_file(&firmware).unwrap();
    std::fs::create_dir(&firmware).unwrap();
    let e = fake
        .manager()
        .load("card.bit", BITSTREAM, &mut no_progress())
        .unwrap_err();
    match &e {
        FpgaError::Trigger {
            path,
            firmware_name,
            state,
            ..
        } => {
            assert_eq!(path, &firmware);
            assert_eq!(
                firmware_name,
                &FpgaManager::firmware_name("card.bit", BITSTREAM)
            );
            assert_eq!(state, "operating");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.card_untouched());
    assert_eq!(fake.firmware_files(), Vec::<String>::new());
}
