//! `hsmctl key generate`, `hsmctl slot list` and `hsmctl slot delete` end
//! to end, against an operational simulated card (keys generated in the
//! card need no test mode).

mod common;

use common::{s, text, Sim};

fn slots(sim: &Sim) -> serde_json::Value {
    let o = sim.ok(&["slot", "list", "--json"], b"");
    serde_json::from_slice(&o.stdout).unwrap()
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
    let o = sim.ok(
        &[
            "key",
            "generate",
            "--alg",
            "ml-kem-1024",
            "--label",
            "kem",
            "--pub",
            s(&public),
            "--json",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["set"], "ml-kem-1024", "{v}");
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    let v = slots(&sim);
    assert_eq!(v["used"], 4, "{v}");
    let by_label = |l: &str| {
        v["slots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["label"] == l)
            .unwrap_or_else(|| panic!("{l} not listed: {v}"))
            .clone()
    };
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
/// known-answer tests (a reset, refused while keys are loaded unless
/// `--force`); `hsmctl info` reports them, and a failed one (injected by
/// the simulator) blocks every job until a reset that passes.
#[test]
fn power_on_self_tests_on_demand_and_in_info() {
    let sim = Sim::start("selftest-post", false);
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
    let o = sim.run(&["selftest"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("\"kept\"") && text(&o.stderr).contains("--force"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(slots(&sim)["used"], 1, "a refused selftest reset the card");
    let o = sim.ok(&["selftest", "--force", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], true, "{v}");

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
    hsm_sim::control_selftest_inject(&sim.sock, 0).unwrap();
    sim.ok(&["selftest"], b"");
    sim.ok(&["random", "--bytes", "16", "--hex"], b"");
}
