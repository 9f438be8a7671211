//! `hsmctl` end to end: the real binary starts a simulated card in the
//! background, reads its identity, benchmarks it and stops it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HSMCTL: &str = env!("CARGO_BIN_EXE_hsmctl");

fn hsmctl(args: &[&str]) -> Output {
    Command::new(HSMCTL)
        .args(args)
        // Never touch a user's own card.
        .env("HSM_SIM_SOCKET", "/nonexistent/hsm-cli-test/card.sock")
        .output()
        .expect("running hsmctl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("hsmctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // Stop a card a failed test left running.
        let sock = self.0.join("card.sock");
        if sock.exists() {
            let _ = hsmctl(&["sim", "stop", "--socket", sock.to_str().unwrap()]);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn start_info_bench_stop() {
    let dir = Dir::new("e2e");
    let sock = dir.0.join("card.sock");
    let state = dir.0.join("state");
    let device = format!("sim:{}", sock.display());

    let o = hsmctl(&[
        "sim",
        "start",
        "--socket",
        s(&sock),
        "--state",
        s(&state),
        "--test-mode",
        "--json",
    ]);
    let started = json(&o);
    assert_eq!(started["socket"], s(&sock));
    assert!(
        !text(&o.stderr).contains("no --state"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        state.join("card.log").exists(),
        "the log goes to the state dir"
    );

    // A second start on the same socket is refused.
    let o = hsmctl(&["sim", "start", "--socket", s(&sock)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("already serves"),
        "{}",
        text(&o.stderr)
    );

    let st = json(&hsmctl(&["sim", "status", "--socket", s(&sock), "--json"]));
    assert_eq!(st["running"], true);
    assert_eq!(st["state"], "idle");

    let info = json(&hsmctl(&["info", "--json", "--device", &device]));
    assert_eq!(info["design_name"], "HSM1");
    assert_eq!(info["contract_major"], hsm_contract::CONTRACT_MAJOR);
    assert_eq!(info["contract_minor"], hsm_contract::CONTRACT_MINOR);
    assert_eq!(info["test_mode"], true);
    assert_eq!(info["capabilities"]["op_copy"], true);
    let hash = info["build_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 16);
    assert!(u64::from_str_radix(hash, 16).unwrap() != 0);

    let o = hsmctl(&["info", "--device", &device]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout).contains(&format!(
            "contract version: {}.{}",
            hsm_contract::CONTRACT_MAJOR,
            hsm_contract::CONTRACT_MINOR
        )),
        "{}",
        text(&o.stdout)
    );

    let b = json(&hsmctl(&[
        "bench", "--json", "--batch", "300", "--rounds", "2", "--device", &device,
    ]));
    let bpc = b["copy_bytes_per_cycle"].as_f64().unwrap();
    assert!(
        bpc > 0.0 && bpc <= 16.0,
        "a 16-byte beat bounds bytes per cycle: {bpc}"
    );
    assert_eq!(b["copy_bytes"], 1 << 20);
    assert!(b["nop_job_cycles"].as_f64().unwrap() > 0.0);
    assert!(b["nop_job_cycles_method"]
        .as_str()
        .unwrap()
        .contains("divided by N"));
    assert!(b["host_ns_per_job"].as_f64().unwrap() > 0.0);
    assert!(b["host_ns_per_job_scope"]
        .as_str()
        .unwrap()
        .contains("CLOCK_THREAD_CPUTIME_ID"));
    assert!(b["sim_cycles_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(b["nop_doorbells_per_batch"], 1.0);
    assert_eq!(b["batch"], 300);

    let o = hsmctl(&["sim", "stop", "--socket", s(&sock)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!sock.exists());

    // Now nothing serves: exit code 3 and advice.
    let o = hsmctl(&["info", "--device", &device]);
    assert_eq!(o.status.code(), Some(3));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("no simulated card at {}", sock.display())),
        "{err}"
    );
    assert!(err.contains("hsmctl sim start"), "{err}");
    let o = hsmctl(&["sim", "status", "--socket", s(&sock)]);
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn busy_card_exit_code() {
    let dir = Dir::new("busy");
    let sock = dir.0.join("card.sock");
    let device = format!("sim:{}", sock.display());
    assert!(hsmctl(&["sim", "start", "--socket", s(&sock)])
        .status
        .success());
    // Hold the card open from this process, then ask hsmctl for it.
    let card = hsm_driver::Card::open(&device.parse().unwrap()).unwrap();
    let o = hsmctl(&["info", "--device", &device]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("in use by another process"),
        "{}",
        text(&o.stderr)
    );
    drop(card);
    assert!(hsmctl(&["sim", "stop", "--socket", s(&sock)])
        .status
        .success());
}

#[test]
fn usage_errors_and_help() {
    let o = hsmctl(&["info", "--device", "pci:1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("expected `sim:SOCKET-PATH`"),
        "{}",
        text(&o.stderr)
    );
    let o = hsmctl(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = hsmctl(&["--help"]);
    assert!(o.status.success());
    let help = text(&o.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("3  device unavailable"),
        "{help}"
    );
    // Default device: the environment's socket, which is absent here.
    let o = hsmctl(&["info"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("/nonexistent/hsm-cli-test/card.sock"));
}

#[test]
fn vfio_device_without_vfio_is_unavailable() {
    let o = hsmctl(&["info", "--device", "vfio:0000:7f:1f.7"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("0000:7f:1f.7"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn broken_pipe_is_success() {
    use std::process::Stdio;
    // `hsmctl --help | true`-like: stdout closed before hsmctl writes.
    let mut child = Command::new(HSMCTL)
        .args(["sim", "status", "--json", "--socket", "/nonexistent/x.sock"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    // Not running -> 3, but the closed pipe itself is no error message.
    assert!(
        !text(&o.stderr).contains("Broken pipe"),
        "{}",
        text(&o.stderr)
    );
}
