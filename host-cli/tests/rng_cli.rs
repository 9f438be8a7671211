//! `hsmctl random`, the random-number line of `hsmctl info` and `hsmctl
//! sim noise` end to end, against simulated cards started by `hsmctl sim
//! start` (operational mode: the card's DRBG needs no test mode).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

mod common;

use common::{s, text, Sim, HSMCTL};

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `hsmctl random` to stdout as hex and to files (atomic, mode 0600,
/// `--force` to replace), in text and JSON; `hsmctl info` says the
/// generator is ready.
#[test]
fn random_writes_hex_and_files() {
    let sim = Sim::start("random", false);
    let v = sim.info();
    assert_eq!(v["rng"], "ready", "{v}");
    assert_eq!(v["status"]["rng_ready"], true, "{v}");
    assert_eq!(v["status"]["rng_fault"], false, "{v}");
    let o = sim.ok(&["info"], b"");
    let info = text(&o.stdout);
    assert!(info.contains("random numbers:   ready"), "{info}");
    assert!(info.contains("rng-ready"), "{info}");

    // Hex on stdout: lowercase, one line, fresh every time.
    let a = text(&sim.ok(&["random", "--bytes", "32", "--hex"], b"").stdout);
    let b = text(&sim.ok(&["random", "--bytes", "32", "--hex"], b"").stdout);
    let a = a.strip_suffix('\n').expect("one line");
    assert_eq!(a.len(), 64);
    assert!(is_lower_hex(a), "{a}");
    assert_ne!(a, b.trim_end());
    let o = sim.ok(&["random", "--bytes", "5", "--hex", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bytes"], 5, "{v}");
    let h = v["hex"].as_str().unwrap();
    assert!(h.len() == 10 && is_lower_hex(h), "{v}");

    // A file over one job (1 MiB + 5 bytes): mode 0600, nothing else left.
    let f = sim.path("r.bin");
    let n = (1 << 20) + 5;
    let o = sim.ok(&["random", "--bytes", &n.to_string(), "--out", s(&f)], b"");
    assert!(text(&o.stdout).contains(&format!("wrote {n} random bytes")));
    let first = std::fs::read(&f).unwrap();
    assert_eq!(first.len(), n);
    let blocks: std::collections::HashSet<&[u8]> = first.chunks_exact(16).collect();
    assert_eq!(blocks.len(), n / 16, "a 16-byte block repeats");
    let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let names: Vec<String> = std::fs::read_dir(&sim.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("card.sock"))
        .collect();
    assert_eq!(names, ["r.bin"], "no temporary file is left");

    // An existing file is kept without --force, replaced with it.
    let o = sim.run(&["random", "--bytes", "16", "--out", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("pass --force"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&f).unwrap(), first);
    let o = sim.ok(
        &[
            "random",
            "--bytes",
            "16",
            "--out",
            s(&f),
            "--force",
            "--json",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bytes"], 16, "{v}");
    assert_eq!(v["out"], s(&f), "{v}");
    assert_eq!(std::fs::read(&f).unwrap().len(), 16);
}

/// Command lines `hsmctl random` refuses, with the usage exit code (2)
/// and nothing written.
#[test]
fn random_refuses_bad_command_lines() {
    let dir = std::env::temp_dir().join(format!("hsmctl-randargs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("x.bin");
    let max = (64u64 << 20).to_string();
    let over = ((64u64 << 20) + 1).to_string();
    for (args, says) in [
        (vec!["--bytes", "0", "--hex"], "--bytes"),
        (vec!["--bytes", over.as_str(), "--hex"], "--bytes"),
        (
            vec!["--bytes", "16", "--hex", "--out", s(&f)],
            "cannot be used with",
        ),
        (vec!["--bytes", "16"], "--out"),
        (vec!["--bytes", "16", "--hex", "--force"], "--force"),
    ] {
        let o = Command::new(HSMCTL)
            .arg("random")
            .args(&args)
            .args(["--device", "sim:/nonexistent/hsm-cli-test/card.sock"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    // In range, but no card: the device is unavailable (3), no file.
    let o = Command::new(HSMCTL)
        .args(["random", "--bytes", &max, "--out", s(&f)])
        .args(["--device", "sim:/nonexistent/hsm-cli-test/card.sock"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(!f.exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a leftover");
    let o = Command::new(HSMCTL)
        .args(["random", "--help"])
        .output()
        .unwrap();
    assert!(
        text(&o.stdout).contains("SP 800-90A"),
        "{}",
        text(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hsmctl sim noise stuck` breaks the simulated card's noise source: the
/// next KeyGen fails with ENTROPY_FAILURE, `hsmctl info` says FAILED and
/// what to do, `hsmctl random` fails (exit 4) and leaves no file, hashing
/// works on. A restarted card is healthy again.
#[test]
fn a_failed_noise_source_shows_everywhere() {
    let sim = Sim::start("noise", false);
    assert_eq!(sim.info()["rng"], "ready");
    sim.init_card();
    let o = Command::new(HSMCTL)
        .args(["sim", "noise", "stuck", "--socket", s(&sim.sock), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["noise"], "stuck", "{v}");
    // The card draws samples for the reseed of the next key generation.
    let pem = sim.path("k.pem");
    let o = sim.run(
        &[
            "kem",
            "keygen",
            "--alg",
            "ml-kem-512",
            "--slot",
            "k",
            "--pub",
            s(&pem),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("ENTROPY_FAILURE") && err.contains("hsmctl info"),
        "{err}"
    );
    assert!(!pem.exists(), "no public key after a failed KeyGen");
    let o = sim.ok(&["slot", "list", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["used"], 0, "{v}");

    let v = sim.info();
    assert_eq!(v["rng"], "failed", "{v}");
    assert_eq!(v["status"]["rng_fault"], true, "{v}");
    let info = text(&sim.ok(&["info"], b"").stdout);
    assert!(
        info.contains("random numbers:   FAILED")
            && info.contains("health tests")
            && info.contains("out of service"),
        "{info}"
    );
    let f = sim.path("r.bin");
    let o = sim.run(&["random", "--bytes", "64", "--out", s(&f)], b"");
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("ENTROPY_FAILURE") && err.contains("noise source"),
        "{err}"
    );
    assert!(!f.exists());
    let o = sim.run(&["random", "--bytes", "8", "--hex"], b"");
    assert_eq!(o.status.code(), Some(4));
    assert!(o.stdout.is_empty());
    // Hashing needs no randomness.
    let m = sim.path("m.txt");
    std::fs::write(&m, b"abc").unwrap();
    let o = sim.ok(&["hash", "--alg", "sha3-256", "--in", s(&m)], b"");
    use sha3::Digest;
    let want: String = sha3::Sha3_256::digest(b"abc")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(text(&o.stdout).starts_with(&want), "{}", text(&o.stdout));

    // Unknown sources are usage errors; a card that is not running is
    // unavailable.
    let o = Command::new(HSMCTL)
        .args(["sim", "noise", "loud", "--socket", s(&sim.sock)])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = Command::new(HSMCTL)
        .args(["sim", "noise", "getrandom", "--socket"])
        .arg(sim.path("none.sock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let o = Command::new(HSMCTL)
        .args(["sim", "noise", "--help"])
        .output()
        .unwrap();
    assert!(
        text(&o.stdout).contains("Fault injection"),
        "{}",
        text(&o.stdout)
    );

    // A restart brings a healthy generator.
    let o = Command::new(HSMCTL)
        .args(["sim", "stop", "--socket", s(&sim.sock)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = Command::new(HSMCTL)
        .args(["sim", "start", "--socket", s(&sim.sock)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(sim.info()["rng"], "ready");
    sim.ok(&["random", "--bytes", "16", "--hex"], b"");
}
