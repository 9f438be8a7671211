//! `hsmctl key generate`, `hsmctl slot list` and `hsmctl slot delete` end
//! to end, against an operational simulated card (keys generated in the
//! card need no test mode).

mod common;

use common::{lasting, lasting_slots, s, text, Sim};

fn slots(sim: &Sim) -> serde_json::Value {
    let o = sim.ok(&["slot", "list", "--json"], b"");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `hsmctl key generate --alg ml-kem-1024 --label LABEL --pub PUBLIC EXTRA`,
/// which must succeed.
fn generate_kem(
    sim: &Sim,
    label: &str,
    public: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "key",
        "generate",
        "--alg",
        "ml-kem-1024",
        "--label",
        label,
        "--pub",
        s(public),
    ];
    args.extend_from_slice(extra);
    sim.ok(&args, b"")
}

/// Encrypts `data` with the key labelled `disk`: the plaintext file, the
/// encrypted file, and where a decryption may go.
fn encrypt_with_disk(
    sim: &Sim,
    data: &[u8],
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (pt, enc, dec) = (sim.path("p"), sim.path("p.hsm"), sim.path("p.out"));
    std::fs::write(&pt, data).unwrap();
    sim.ok(
        &[
            "encrypt",
            "--slot",
            "disk",
            "--in",
            s(&pt),
            "--out",
            s(&enc),
        ],
        b"",
    );
    (pt, enc, dec)
}

fn usage(sim: &Sim, args: &[&str], why: &str) {
    let o = sim.run(args, b"");
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(why),
        "{args:?}: {}",
        text(&o.stderr)
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn generate_list_use_and_delete_keys() {
    let sim = Sim::start("keys", false);
    sim.init_card();
    sim.info();
    // AES keys, each with its check value and creation number.
    let o = sim.ok(
        &[
            "key", "generate", "--alg", "aes-256", "--label", "disk", "--json",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["slot"], 0);
    assert_eq!(v["alg"], "aes-256");
    assert_eq!(v["policy"], serde_json::json!(["encrypt", "decrypt"]));
    assert_eq!(v["created"], 1);
    let kcv = v["kcv"].as_str().unwrap().to_string();
    assert_eq!(kcv.len(), 6, "{v}");
    let o = sim.ok(
        &[
            "key",
            "generate",
            "--alg",
            "xts-aes-256",
            "--label",
            "volume",
            "--slot",
            "7",
        ],
        b"",
    );
    assert!(text(&o.stdout).contains("slot 7"), "{}", text(&o.stdout));
    sim.ok(
        &[
            "key", "generate", "--alg", "aes-128", "--label", "sealer", "--policy", "encrypt",
        ],
        b"",
    );
    // An ML-KEM key pair: the public key goes to a file.
    let public = sim.path("kem.pem");
    let o = generate_kem(&sim, "kem", &public, &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["set"], "ml-kem-1024", "{v}");
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    let v = slots(&sim);
    assert_eq!(v["used"], 4, "{v}");
    let by_label = |l: &str| slot_of(&v, l);
    assert_eq!(by_label("disk")["kcv"], kcv.as_str());
    assert_eq!(by_label("volume")["slot"], 7);
    assert_eq!(by_label("volume")["alg"], "xts-aes-256");
    assert_eq!(by_label("sealer")["policy"], serde_json::json!(["encrypt"]));
    assert_eq!(by_label("kem")["kcv"], "-");
    assert_eq!(by_label("kem")["policy"], serde_json::json!(["derive"]));
    let created: Vec<u64> = ["disk", "volume", "sealer", "kem"]
        .iter()
        .map(|l| by_label(l)["created"].as_u64().unwrap())
        .collect();
    assert_eq!(created, [1, 2, 3, 4]);
    let o = sim.ok(&["slot", "list"], b"");
    let listing = text(&o.stdout);
    assert!(
        listing.contains("KCV") && listing.contains(&kcv),
        "{listing}"
    );

    // Labels are unique; bad combinations are usage errors.
    let o = sim.run(
        &["key", "generate", "--alg", "aes-128", "--label", "disk"],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("already used"),
        "{}",
        text(&o.stderr)
    );
    usage(
        &sim,
        &["key", "generate", "--alg", "ml-kem-768", "--label", "k2"],
        "needs --pub FILE",
    );
    usage(
        &sim,
        &[
            "key", "generate", "--alg", "aes-256", "--label", "k3", "--pub", "x",
        ],
        "a aes-256 key has no public part",
    );
    assert_eq!(slots(&sim)["used"], 4, "a refused command stored a key");

    // The generated key encrypts and decrypts a file; the check value is
    // the same on every listing.
    let (pin, enc, dec) = (sim.path("p"), sim.path("p.hsm"), sim.path("p.out"));
    std::fs::write(&pin, b"generated in the card, never outside it").unwrap();
    sim.ok(
        &[
            "encrypt",
            "--slot",
            "disk",
            "--in",
            s(&pin),
            "--out",
            s(&enc),
        ],
        b"",
    );
    sim.ok(&["decrypt", "--in", s(&enc), "--out", s(&dec)], b"");
    assert_eq!(std::fs::read(&dec).unwrap(), std::fs::read(&pin).unwrap());

    // Delete: refused without a terminal or --force, naming what it would
    // destroy; then done.
    let o = sim.run(&["slot", "delete", "disk"], b"yes\n");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("pass --force") && err.contains(&kcv), "{err}");
    assert_eq!(slots(&sim)["used"], 4);
    let o = sim.ok(&["slot", "delete", "disk", "--force"], b"");
    assert!(
        text(&o.stdout).contains("cleared slot 0"),
        "{}",
        text(&o.stdout)
    );
    let v = slots(&sim);
    assert_eq!(v["used"], 3);
    // The file sealed with it can no longer be opened.
    let o = sim.run(&["decrypt", "--in", s(&enc), "--out", s(&dec)], b"");
    assert_ne!(o.status.code(), Some(0));
    let o = sim.run(&["slot", "delete", "disk", "--force"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no slot has the label"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_failed_noise_source_stops_key_generation() {
    let sim = Sim::start("keys-noise", false);
    sim.info();
    sim.init_card();
    let o = std::process::Command::new(common::HSMCTL)
        .args(["sim", "noise", "stuck", "--socket", s(&sim.sock)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = sim.run(
        &["key", "generate", "--alg", "aes-256", "--label", "never"],
        b"",
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("noise source"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(slots(&sim)["used"], 0, "a key was stored");
}

/// `hsmctl selftest` without vectors reruns the card's power-on
/// known-answer tests (a device reset; the slots come back from persistent
/// storage); `hsmctl info` reports them, and a failed one (injected by the
/// simulator) blocks every job until a reset that passes.
#[test]
fn power_on_self_tests_on_demand_and_in_info() {
    let sim = Sim::start("selftest-post", false);
    sim.init_card();
    let v = sim.info();
    assert_eq!(v["selftest"]["done"], true, "{v}");
    assert_eq!(v["selftest"]["drbg_failed"], false, "{v}");
    let o = sim.ok(&["info"], b"");
    assert!(
        text(&o.stdout).contains("self-tests:       passed"),
        "{}",
        text(&o.stdout)
    );

    let o = sim.ok(&["selftest"], b"");
    assert!(
        text(&o.stdout).contains("self-tests passed"),
        "{}",
        text(&o.stdout)
    );
    sim.ok(
        &["key", "generate", "--alg", "aes-128", "--label", "kept"],
        b"",
    );
    // The reset keeps the slots: the card restores them from its storage.
    let before = slots(&sim);
    let o = sim.ok(&["selftest", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(
        lasting_slots(&slots(&sim)),
        lasting_slots(&before),
        "the self-test reset lost a key"
    );

    hsm_sim::control_selftest_inject(&sim.sock, 1).unwrap();
    let o = sim.run(&["selftest"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("FAILED: drbg"),
        "{}",
        text(&o.stderr)
    );
    let o = sim.ok(&["info"], b"");
    let info = text(&o.stdout);
    assert!(
        info.contains("self-tests:       FAILED: the drbg known-answer test failed"),
        "{info}"
    );
    let o = sim.run(&["random", "--bytes", "16", "--hex"], b"");
    assert_eq!(o.status.code(), Some(4));
    assert!(
        text(&o.stderr).contains("SELFTEST_FAILED"),
        "{}",
        text(&o.stderr)
    );
    // A card that failed its self-tests can still be emptied: it lists
    // nothing, zeroizes, and says that it is still failing.
    let o = sim.run(&["card", "zeroize", "--force", "--json"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["zeroized"], true, "{v}");
    assert_eq!(v["selftest_passed"], false, "{v}");
    assert!(
        text(&o.stderr).contains("self-tests failed again: drbg"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(sim.info()["status"]["zeroized"], true);
    hsm_sim::control_selftest_inject(&sim.sock, 0).unwrap();
    sim.ok(&["selftest"], b"");
    sim.ok(&["random", "--bytes", "16", "--hex"], b"");
    assert_eq!(slots(&sim)["used"], 0, "the key made before is gone");
}

/// The slot `label` of a `slot list --json` listing.
fn slot_of(v: &serde_json::Value, label: &str) -> serde_json::Value {
    v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["label"] == label)
        .unwrap_or_else(|| panic!("{label} not listed: {v}"))
        .clone()
}

/// Keys survive a power cycle (`sim stop`, `sim start` on the same state
/// directory): the listing is the same, a file encrypted before decrypts
/// after, an ML-KEM key still decapsulates. Storage that fails its checks
/// is refused slot by slot and said so; a damaged slot can be deleted; a
/// card without its master key opens none of its records.
#[test]
fn keys_survive_a_restart_and_damaged_storage_is_refused() {
    let sim = Sim::start_with_state("persist", false);
    sim.init_card();
    sim.info();
    let state = sim.state.clone().unwrap();
    sim.ok(
        &["key", "generate", "--alg", "aes-256", "--label", "disk"],
        b"",
    );
    sim.ok(
        &[
            "key",
            "generate",
            "--alg",
            "xts-aes-256",
            "--label",
            "volume",
        ],
        b"",
    );
    let public = sim.path("kem.pem");
    generate_kem(&sim, "kem", &public, &[]);
    let (pt, enc, dec) = encrypt_with_disk(&sim, b"sealed before the power cycle");
    let before = slots(&sim);
    assert_eq!(before["used"], 3, "{before}");
    // The master-key store, apart from one sealed record per key.
    let master = std::fs::metadata(state.join("master.key")).unwrap();
    assert_eq!(
        master.len() as usize,
        hsm_contract::storage::MASTER_KEY_FILE_BYTES
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        master.permissions().mode() & 0o077,
        0,
        "master.key is readable by others"
    );
    let disk_slot = slot_of(&before, "disk")["slot"].as_u64().unwrap();
    let record = |slot: u64| state.join(format!("record-{slot:02}.bin"));
    assert_eq!(std::fs::metadata(record(disk_slot)).unwrap().len(), 144);

    sim.restart();
    let after = slots(&sim);
    // The same keys; GCM invocations count from the new boot's epoch.
    assert_eq!(
        lasting_slots(&after),
        lasting_slots(&before),
        "the keys changed across the power cycle"
    );
    assert_eq!(slot_of(&after, "disk")["invocations"], 0);
    assert_eq!(
        slot_of(&after, "disk")["boot_epoch"].as_u64().unwrap(),
        slot_of(&before, "disk")["boot_epoch"].as_u64().unwrap() + 1
    );
    sim.ok(&["decrypt", "--in", s(&enc), "--out", s(&dec)], b"");
    assert_eq!(std::fs::read(&dec).unwrap(), std::fs::read(&pt).unwrap());
    // The ML-KEM key decapsulates what its public key encapsulated: the
    // two shared secrets, each an AES-256 key in a slot, have one check value.
    let ct = sim.path("ct");
    sim.ok(
        &[
            "kem",
            "encaps",
            "--pub",
            s(&public),
            "--ct",
            s(&ct),
            "--into-slot",
            "ss-enc",
        ],
        b"",
    );
    sim.ok(
        &[
            "kem",
            "decaps",
            "--slot",
            "kem",
            "--ct",
            s(&ct),
            "--into-slot",
            "ss-dec",
        ],
        b"",
    );
    let v = slots(&sim);
    assert_eq!(
        slot_of(&v, "ss-enc")["kcv"],
        slot_of(&v, "ss-dec")["kcv"],
        "{v}"
    );

    // A flipped byte in one record, two records swapped: those slots read
    // as damaged after the next start; the others are intact.
    sim.stop();
    let mut bytes = std::fs::read(record(disk_slot)).unwrap();
    bytes[20] ^= 1;
    std::fs::write(record(disk_slot), &bytes).unwrap();
    let volume_slot = slot_of(&before, "volume")["slot"].as_u64().unwrap();
    let kem_slot = slot_of(&before, "kem")["slot"].as_u64().unwrap();
    let tmp = sim.path("swap");
    std::fs::rename(record(volume_slot), &tmp).unwrap();
    std::fs::rename(record(kem_slot), record(volume_slot)).unwrap();
    std::fs::rename(&tmp, record(kem_slot)).unwrap();
    sim.restart_stopped();
    let v = slots(&sim);
    let damaged: Vec<u64> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["alg"] == "damaged")
        .map(|e| e["slot"].as_u64().unwrap())
        .collect();
    assert_eq!(damaged.len(), 3, "{v}");
    let o = sim.ok(&["slot", "list"], b"");
    assert!(text(&o.stdout).contains("damaged"), "{}", text(&o.stdout));
    let o = sim.run(&["decrypt", "--in", s(&enc), "--out", s(&dec)], b"");
    assert_ne!(o.status.code(), Some(0), "a damaged key decrypted");
    // A damaged slot is cleared like any other, its record with it.
    let slot = disk_slot.to_string();
    sim.ok(&["slot", "delete", &slot, "--force"], b"");
    assert!(!record(disk_slot).exists());
    assert_eq!(slots(&sim)["used"], 4);

    // Without its master-key store the card opens none of its records; a
    // store that is not one stops the start, saying what to do.
    sim.stop();
    std::fs::write(state.join("master.key"), b"short").unwrap();
    let o = sim.try_launch();
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("master.key") && text(&o.stderr).contains("move the file away"),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_file(state.join("master.key")).unwrap();
    sim.restart_stopped();
    // The auth record does not open either: nobody logs in, and the card
    // says why.
    let v = sim.info();
    assert_eq!(v["auth"]["damaged"], true, "{v}");
    let o = sim.run(&["slot", "list"], b"");
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("PIN_LOCKED"),
        "{}",
        text(&o.stderr)
    );
    // Zeroization, which then needs no login, empties it for a new start.
    let o = sim.ok(&["card", "zeroize", "--force", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["zeroized"], true, "{v}");
    assert_eq!(sim.info()["auth"]["initialized"], false);
    assert_eq!(slots(&sim)["used"], 0);
}

/// SIGKILL at any moment of a stream of key generations and deletions
/// loses nothing else: after the restart the keys made before are intact,
/// and every slot is whole (no slot reads as damaged).
#[test]
fn a_killed_card_loses_nothing_but_the_interrupted_operation() {
    let sim = Sim::start_with_state("sigkill", false);
    sim.info();
    sim.init_card();
    let user_pin = sim.pin_files().1;
    for label in ["keep-1", "keep-2"] {
        sim.ok(
            &["key", "generate", "--alg", "aes-256", "--label", label],
            b"",
        );
    }
    let kept = slots(&sim);
    for round in 0..3u64 {
        let device = sim.device.clone();
        let pin = user_pin.clone();
        let killed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = std::sync::Arc::clone(&killed);
        let worker = std::thread::spawn(move || {
            for i in 0..40 {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break; // not on the restarted card
                }
                let label = format!("r{round}-{i}");
                let alg = ["aes-128", "xts-aes-256", "aes-256"][i % 3];
                let ok = std::process::Command::new(env!("CARGO_BIN_EXE_hsmctl"))
                    .args(["key", "generate", "--alg", alg, "--label", &label])
                    .args(["--device", &device, "--pin-file", s(&pin)])
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false);
                if !ok {
                    break; // the card is gone
                }
                if i % 4 == 3 {
                    let _ = std::process::Command::new(env!("CARGO_BIN_EXE_hsmctl"))
                        .args(["slot", "delete", &label, "--force", "--device", &device])
                        .args(["--pin-file", s(&pin)])
                        .output();
                }
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(300 + 250 * round));
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
        sim.kill_and_restart();
        worker.join().unwrap();
        let v = slots(&sim);
        for label in ["keep-1", "keep-2"] {
            assert_eq!(
                lasting(&slot_of(&v, label)),
                lasting(&slot_of(&kept, label)),
                "round {round}"
            );
        }
        for e in v["slots"].as_array().unwrap() {
            assert_ne!(e["alg"], "damaged", "round {round}: {v}");
        }
        eprintln!("round {round}: killed with {} slots in use", v["used"]);
    }
}

/// The master-key store holds no key (valid byte and key all zeros) and no
/// record is left in the state directory.
fn storage_is_empty(state: &std::path::Path) {
    let master = std::fs::read(state.join("master.key")).unwrap();
    assert_eq!(master.len(), hsm_contract::storage::MASTER_KEY_FILE_BYTES);
    assert_eq!(master[..33], [0u8; 33], "valid flag and key overwritten");
    let table = &master[hsm_contract::storage::MASTER_TABLE_OFFSET..];
    assert!(table.iter().all(|&b| b == 0), "freshness table cleared");
    let records: Vec<_> = std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("record-"))
        .collect();
    assert!(records.is_empty(), "records left: {records:?}");
}

#[test]
fn zeroization_and_the_tamper_input_leave_no_key() {
    let sim = Sim::start_with_state("zeroize", false);
    let state = sim.state.clone().unwrap();
    assert_eq!(
        sim.info()["status"]["zeroized"],
        true,
        "a new card holds no master key"
    );
    sim.init_card();
    sim.ok(
        &["key", "generate", "--alg", "aes-256", "--label", "disk"],
        b"",
    );
    generate_kem(&sim, "kem", &sim.path("kem.pem"), &[]);
    let (_, enc, dec) = encrypt_with_disk(&sim, b"sealed before the zeroization");
    assert_eq!(sim.info()["status"]["zeroized"], false);

    // Not without confirmation (stdin is no terminal here).
    let o = sim.run(&["card", "zeroize"], b"zeroize\n");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("pass --force"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(slots(&sim)["used"], 2);

    let o = sim.ok(&["card", "zeroize", "--force", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["zeroized"], true);
    assert_eq!(v["destroyed"], 2);
    assert_eq!(slots(&sim)["used"], 0);
    let info = sim.info();
    assert_eq!(info["status"]["zeroized"], true, "{info}");
    storage_is_empty(&state);
    let o = sim.run(&["decrypt", "--in", s(&enc), "--out", s(&dec)], b"");
    assert!(!o.status.success(), "decrypted with a zeroized key");
    assert!(!dec.exists(), "no output from a failed decryption");
    // Nothing comes back at the next power-on.
    sim.restart();
    assert_eq!(slots(&sim)["used"], 0);
    assert_eq!(sim.info()["status"]["zeroized"], true);

    // The tamper input: a new key (the card is initialised again), then
    // the enclosure opens.
    sim.init_card();
    sim.ok(
        &["key", "generate", "--alg", "aes-128", "--label", "later"],
        b"",
    );
    assert_eq!(sim.info()["status"]["zeroized"], false);
    let o = common::ok(&["sim", "tamper", "--socket", s(&sim.sock), "--json"]);
    let v = common::json(&o);
    assert_eq!(v["zeroized"], true, "{v}");
    let cycles = v["cycles"].as_u64().unwrap();
    assert!(cycles < 10_000, "zeroization took {cycles} cycles");
    eprintln!("tamper: zeroized and idle {cycles} cycles after the pulse");
    assert_eq!(slots(&sim)["used"], 0);
    assert_eq!(sim.info()["status"]["zeroized"], true);
    storage_is_empty(&state);
}

/// No record rolls back through the state directory (the freshness table
/// in the master-key store, `hsm_contract::storage`): an older copy of a
/// key's record put back reads as damaged, an older copy of a deleted key's
/// record stays deleted, and an auth record put back from before a failed
/// login, or removed, leaves the card damaged: not unlocked, and not new
/// (so nobody can initialise it over its keys).
#[test]
fn old_copies_of_records_are_refused() {
    let sim = Sim::start_with_state("rollback", false);
    sim.init_card();
    let state = sim.state.clone().unwrap();
    let record = |slot: u64| state.join(format!("record-{slot:02}.bin"));
    let auth = record(hsm_contract::auth::AUTH_RECORD as u64);
    let generate = |label: &str| {
        sim.ok(
            &["key", "generate", "--alg", "aes-256", "--label", label],
            b"",
        );
        slot_of(&slots(&sim), label)["slot"].as_u64().unwrap()
    };
    let first = generate("first");
    let old_key = std::fs::read(record(first)).unwrap();
    let old_auth = std::fs::read(&auth).unwrap();
    sim.ok(&["slot", "delete", "first", "--force"], b"");
    assert_eq!(generate("second"), first, "the freed slot is reused");
    // The first key's record over the second's: damaged.
    sim.stop();
    let second = std::fs::read(record(first)).unwrap();
    std::fs::write(record(first), &old_key).unwrap();
    sim.restart_stopped();
    let v = slots(&sim);
    assert_eq!(v["used"], 1, "{v}");
    assert_eq!(v["slots"][0]["alg"], "damaged", "{v}");
    // Deleted, then either copy put back: the slot stays free.
    sim.ok(&["slot", "delete", &first.to_string(), "--force"], b"");
    for copy in [&old_key, &second] {
        sim.stop();
        std::fs::write(record(first), copy).unwrap();
        sim.restart_stopped();
        let v = slots(&sim);
        assert_eq!(v["used"], 0, "{v}");
    }

    // A failed login reseals the auth record with its failure counter;
    // the copy from before it: damaged, and every login fails.
    let wrong = sim.path("wrong.pin");
    std::fs::write(&wrong, "not-the-pin\n").unwrap();
    let o = sim.run(&["slot", "list", "--pin-file", s(&wrong)], b"");
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(sim.info()["auth"]["user_failures"], 1);
    sim.stop();
    let counted = std::fs::read(&auth).unwrap();
    std::fs::write(&auth, &old_auth).unwrap();
    sim.restart_stopped();
    let v = sim.info();
    assert_eq!(v["auth"]["damaged"], true, "{v}");
    let o = sim.run(&["slot", "list"], b"");
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    // Removed: still initialised and damaged, so `card init` is refused.
    sim.stop();
    std::fs::remove_file(&auth).unwrap();
    sim.restart_stopped();
    let v = sim.info();
    assert_eq!(v["auth"]["initialized"], true, "{v}");
    assert_eq!(v["auth"]["damaged"], true, "{v}");
    let (so, _) = sim.pin_files();
    let o = sim.run(
        &["card", "init", "--label", "thief", "--new-pin-file", s(&so)],
        b"",
    );
    assert_ne!(o.status.code(), Some(0), "initialised over its keys");
    // The current record back: the card serves again.
    sim.stop();
    std::fs::write(&auth, &counted).unwrap();
    sim.restart_stopped();
    assert_eq!(sim.info()["auth"]["damaged"], false);
    assert_eq!(sim.info()["auth"]["user_failures"], 1);
    sim.ok(&["slot", "list"], b"");
}
