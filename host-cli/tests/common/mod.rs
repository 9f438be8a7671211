//! Helpers shared by the `hsmctl` tests: running hsmctl, simulated cards,
//! temporary directories, signing keys and trust directories, and test
//! packages. Each test binary uses only some of them.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hsm_bitstream::{Image, ImageEntry, Manifest, Resources};

pub const HSMCTL: &str = env!("CARGO_BIN_EXE_hsmctl");
pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(tag: &str) -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hsmctl-bitstream-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Dir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs hsmctl with `stdin` piped in (so never a terminal), the fast KDF,
/// no trust directory from the environment, and `env` set.
pub fn run_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(HSMCTL);
    cmd.args(args)
        .env("HSM_INSECURE_FAST_KDF", "1")
        .env_remove("HSM_TRUST_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

/// [`run_env`] with an empty stdin and nothing more in the environment.
pub fn run(args: &[&str]) -> Output {
    run_env(args, b"", &[])
}

/// Runs hsmctl, which must succeed.
#[track_caller]
pub fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "hsmctl {args:?}: exit {:?}\n{}",
        o.status.code(),
        text(&o.stderr)
    );
    o
}

/// hsmctl failed with `code` and a message containing each of `needles`,
/// and wrote nothing to stdout; returns the message.
#[track_caller]
pub fn fails(o: &Output, code: i32, needles: &[&str]) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    err
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
}

/// `base` followed by `extra`.
fn with<'a>(mut base: Vec<&'a str>, extra: &[&'a str]) -> Vec<&'a str> {
    base.extend_from_slice(extra);
    base
}

/// `hsmctl bitstream keygen --out KEY --passphrase-file PASS EXTRA...`.
pub fn keygen_args<'a>(key: &'a Path, pass: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    with(
        vec![
            "bitstream",
            "keygen",
            "--out",
            s(key),
            "--passphrase-file",
            s(pass),
        ],
        extra,
    )
}

/// Makes the key pair `key` (and its `.pub`); returns its key id.
#[track_caller]
pub fn keygen(key: &Path, pass: &Path) -> String {
    let o = ok(&keygen_args(key, pass, &["--json"]));
    json(&o)["key_id"].as_str().unwrap().to_string()
}

/// `hsmctl bitstream sign --key KEY --passphrase-file PASS PKG EXTRA...`.
pub fn sign_args<'a>(
    key: &'a Path,
    pass: &'a Path,
    pkg: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    with(
        vec![
            "bitstream",
            "sign",
            "--key",
            s(key),
            "--passphrase-file",
            s(pass),
            s(pkg),
        ],
        extra,
    )
}

/// `hsmctl bitstream verify PKG --trust-dir TRUST EXTRA...`.
pub fn verify_args<'a>(pkg: &'a Path, trust: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    with(
        vec!["bitstream", "verify", s(pkg), "--trust-dir", s(trust)],
        extra,
    )
}

/// `hsmctl bitstream trust add PUBLIC --trust-dir TRUST EXTRA...`.
pub fn trust_add_args<'a>(public: &'a Path, trust: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    with(
        vec![
            "bitstream",
            "trust",
            "add",
            s(public),
            "--trust-dir",
            s(trust),
        ],
        extra,
    )
}

/// `hsmctl bitstream trust list --trust-dir TRUST EXTRA...`.
pub fn trust_list_args<'a>(trust: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    with(
        vec!["bitstream", "trust", "list", "--trust-dir", s(trust)],
        extra,
    )
}

/// `hsmctl bitstream trust revoke KEY_ID --trust-dir TRUST`.
pub fn revoke_args<'a>(key_id: &'a str, trust: &'a Path) -> Vec<&'a str> {
    vec![
        "bitstream",
        "trust",
        "revoke",
        key_id,
        "--trust-dir",
        s(trust),
    ]
}

/// A folder with a signing key (`signer.key`, `signer.pub`), a passphrase
/// file, and a trust directory trusting the key.
pub struct Signer {
    pub dir: Dir,
    pub key: PathBuf,
    pub public: PathBuf,
    pub pass: PathBuf,
    pub trust: PathBuf,
    pub key_id: String,
}

impl Signer {
    pub fn new(tag: &str) -> Signer {
        let dir = Dir::new(tag);
        let pass = dir.path("pass.txt");
        std::fs::write(&pass, format!("{PASSPHRASE}\n")).unwrap();
        let key = dir.path("signer.key");
        let key_id = keygen(&key, &pass);
        let trust = dir.path("trust");
        let public = dir.path("signer.pub");
        ok(&trust_add_args(&public, &trust, &[]));
        Signer {
            dir,
            key,
            public,
            pass,
            trust,
            key_id,
        }
    }

    /// Signs `pkg` in place with the key.
    #[track_caller]
    pub fn sign(&self, pkg: &Path) {
        ok(&sign_args(&self.key, &self.pass, pkg, &[]));
    }
}

/// Lets a test's own setup, which holds a [`Signer`], be used as one.
#[allow(unused_macros)] // not every test binary has such a setup
macro_rules! deref_signer {
    ($setup:ty) => {
        impl std::ops::Deref for $setup {
            type Target = common::Signer;
            fn deref(&self) -> &common::Signer {
                &self.signer
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use deref_signer;

/// A manifest for `images` for `target` at `security_version`, from the
/// current contract, without tools or resource figures.
pub fn manifest(target: &str, security_version: u32, images: &[Image]) -> Manifest {
    Manifest {
        target: target.into(),
        design: "open-hsm".into(),
        design_version: "0.1.0".into(),
        build_id: 0x0123_4567_89ab_cdef,
        source_revision: "601d60b".into(),
        source_sha384: [0x5a; 48],
        contract_major: hsm_contract::CONTRACT_MAJOR,
        contract_minor: hsm_contract::CONTRACT_MINOR,
        security_version,
        tools: Vec::new(),
        resources: Resources::default(),
        images: images
            .iter()
            .map(|i| ImageEntry::describe(&i.name, &i.data))
            .collect(),
    }
}

/// A simulated card started by `hsmctl sim start` in its own folder,
/// stopped (and the folder removed) on drop.
pub struct Sim {
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub device: String,
    /// The card's state directory, when it has one.
    pub state: Option<PathBuf>,
    test_mode: bool,
    pid: std::cell::Cell<u32>,
    /// Set by [`Sim::init_card`]: commands that log in get the PIN files.
    logged: std::cell::Cell<bool>,
}

/// The security officer's PIN that [`Sim::init_card`] sets.
pub const SO_PIN: &str = "officer-1234";
/// The user's PIN that [`Sim::init_card`] sets.
pub const USER_PIN: &str = "user-5678";

impl Sim {
    /// Start a card; `test_mode` passes `--test-mode`.
    pub fn start(tag: &str, test_mode: bool) -> Sim {
        Sim::start_with(tag, test_mode, false)
    }

    /// Start a card with a state directory (`state` in its folder), whose
    /// keys survive [`Sim::restart`] and [`Sim::kill_and_restart`].
    pub fn start_with_state(tag: &str, test_mode: bool) -> Sim {
        Sim::start_with(tag, test_mode, true)
    }

    fn start_with(tag: &str, test_mode: bool, state: bool) -> Sim {
        let dir = std::env::temp_dir().join(format!("hsmctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("card.sock");
        let sim = Sim {
            device: format!("sim:{}", sock.display()),
            state: state.then(|| dir.join("state")),
            sock,
            dir,
            test_mode,
            pid: std::cell::Cell::new(0),
            logged: std::cell::Cell::new(false),
        };
        sim.launch();
        sim
    }

    /// `hsmctl sim start` for this card; panics with its message on failure.
    fn launch(&self) {
        let o = self.try_launch();
        assert!(o.status.success(), "{}", text(&o.stderr));
        // Whether the keys outlive the process is said at start.
        assert_eq!(
            text(&o.stderr).contains("no --state DIR"),
            self.state.is_none(),
            "{}",
            text(&o.stderr)
        );
    }

    /// `hsmctl sim start` for this card.
    pub fn try_launch(&self) -> Output {
        let mut args = vec!["sim", "start", "--json", "--socket", s(&self.sock)];
        if self.test_mode {
            args.push("--test-mode");
        }
        if let Some(state) = &self.state {
            args.extend(["--state", s(state)]);
        }
        let o = Command::new(HSMCTL).args(&args).output().unwrap();
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            self.pid.set(v["pid"].as_u64().unwrap() as u32);
        }
        o
    }

    /// A power cycle: `hsmctl sim stop`, then start again on the same state.
    pub fn restart(&self) {
        self.stop();
        self.launch();
    }

    /// Starts a card stopped with [`Sim::stop`] again.
    pub fn restart_stopped(&self) {
        self.launch();
    }

    /// Stops the card (`hsmctl sim stop`).
    pub fn stop(&self) {
        let o = Command::new(HSMCTL)
            .args(["sim", "stop", "--socket", s(&self.sock)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    }

    /// Kills the card's process with SIGKILL (whatever it was doing), then
    /// starts it again on the same state.
    pub fn kill_and_restart(&self) {
        let pid = self.pid.get().to_string();
        let o = Command::new("kill").args(["-KILL", &pid]).output().unwrap();
        assert!(o.status.success(), "kill {pid}: {}", text(&o.stderr));
        // Wait until the process is gone before starting another.
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_dir.exists() && Instant::now() < deadline {
            let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
            if stat.contains(") Z ") {
                break; // a zombie: dead, not yet reaped by its parent
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.launch();
    }

    /// The PIN files [`Sim::init_card`] writes: the officer's, the user's.
    pub fn pin_files(&self) -> (PathBuf, PathBuf) {
        (self.path("so.pin"), self.path("user.pin"))
    }

    /// Initialises the card (`hsmctl card init`) with [`SO_PIN`], sets the
    /// user's PIN to [`USER_PIN`], and from then on gives every command
    /// that logs in the PIN file of its default role (unless it names
    /// one).
    pub fn init_card(&self) {
        let (so, user) = self.pin_files();
        std::fs::write(&so, format!("{SO_PIN}\n")).unwrap();
        std::fs::write(&user, format!("{USER_PIN}\n")).unwrap();
        self.ok(
            &[
                "card",
                "init",
                "--label",
                "test-card",
                "--new-pin-file",
                s(&so),
            ],
            b"",
        );
        self.ok(
            &[
                "user",
                "set-pin",
                "--role",
                "so",
                "--pin-file",
                s(&so),
                "--new-pin-file",
                s(&user),
            ],
            b"",
        );
        self.logged.set(true);
    }

    /// `hsmctl ARGS --device THIS-CARD` with `stdin` piped in (so never a
    /// terminal), and no default card from the environment. After
    /// [`Sim::init_card`], commands that log in get `--pin-file`.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let (so, user) = self.pin_files();
        let login = match args {
            ["card", "zeroize", ..] => Some(so),
            ["key" | "slot" | "kem", ..] | ["encrypt" | "decrypt", ..] => Some(user),
            _ => None,
        }
        .filter(|_| self.logged.get() && !args.contains(&"--pin-file"));
        let mut child = Command::new(HSMCTL)
            .args(args)
            .args(["--device", &self.device])
            .args(
                login
                    .iter()
                    .flat_map(|p| ["--pin-file".as_ref(), p.as_os_str()]),
            )
            .env("HSM_SIM_SOCKET", "/nonexistent/hsm-cli-test/card.sock")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let o = child.wait_with_output().unwrap();
        writer.join().unwrap();
        o
    }

    /// [`Sim::run`], which must succeed.
    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Output {
        let o = self.run(args, stdin);
        assert!(
            o.status.success(),
            "hsmctl {args:?}: exit {:?}\n{}",
            o.status.code(),
            text(&o.stderr)
        );
        o
    }

    /// `hsmctl info --json`, once the generator has left the seeding state.
    pub fn info(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let o = self.ok(&["info", "--json"], b"");
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            if v["rng"] != "seeding" || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A path in the card's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = Command::new(HSMCTL)
            .args(["sim", "stop", "--socket", s(&self.sock)])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A listed slot without what moves at a reset (the GCM invocations of this
/// boot and the boot epoch).
pub fn lasting(e: &serde_json::Value) -> serde_json::Value {
    let mut e = e.clone();
    let o = e.as_object_mut().unwrap();
    o.remove("invocations");
    o.remove("boot_epoch");
    e
}

/// Every slot of a `slot list --json` listing, [`lasting`].
pub fn lasting_slots(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["slots"].as_array().unwrap().iter().map(lasting).collect()
}
