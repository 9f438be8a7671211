//! `hsmctl bitstream load --fpga-manager` against a fake sysfs tree and a
//! fake kernel, end to end.
//!
//! The tree is a temporary directory given to `--sysfs-root`:
//! `sys/class/fpga_manager/fpga0/{name,state,status,flags,firmware}` and
//! `lib/firmware`. The vendor kernels' `firmware` attribute does the whole
//! load inside the `write`; the fake kernel (a thread of this test) imitates
//! it with a FIFO, as `bitstreams/tests/fpga_manager.rs` does: it waits for
//! the staged `hsm-*` file, sets `state` to `firmware request`, then opens
//! the FIFO (so hsmctl's write cannot return before the load has visibly
//! begun), reads the name, checks the file's contents and that `flags` is
//! 0, and steps `state` through `write init` and `write` to its end. Tests
//! that must not reach the kernel leave `firmware` a plain, empty file and
//! check that it stays so.
//!
//! Packages are made with the `hsm-bitstream` library and signed with
//! `hsmctl bitstream sign`; key files use the test-only Argon2id parameters
//! (`HSM_INSECURE_FAST_KDF=1`).

#![cfg(unix)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hsm_bitstream::fpga_manager::{ECP5_TARGET, FPGA_IMAGE_NAME};
use hsm_bitstream::{Image, ImageEntry, Manifest, Package, Resources};

const HSMCTL: &str = env!("CARGO_BIN_EXE_hsmctl");
const PASSPHRASE: &str = "correct horse battery staple";
const DRIVER_NAME: &str = "Lattice ECP5 FPGA Manager";
const CARD: &str = "vfio:0000:01:00.0";
/// Long enough for a slow, shared machine; the fake kernel answers in
/// milliseconds.
const TIMEOUT: Duration = Duration::from_secs(20);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        use std::os::unix::fs::PermissionsExt as _;
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hsmctl-fpga-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        Dir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs hsmctl with an empty stdin, the fast KDF and no trust directory
/// from the environment.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(HSMCTL)
        .args(args)
        .env("HSM_INSECURE_FAST_KDF", "1")
        .env_remove("HSM_TRUST_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "hsmctl {args:?}: exit {:?}\n{}",
        o.status.code(),
        text(&o.stderr)
    );
    o
}

/// hsmctl failed with `code` and a message containing each of `needles`.
#[track_caller]
fn fails(o: &Output, code: i32, needles: &[&str]) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    err
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
}

/// A pretend bitstream; `tag` makes each different.
fn bitstream(tag: &str) -> Vec<u8> {
    format!("\u{ff}\u{ff} a pretend ECP5 bitstream {tag}").into_bytes()
}

/// A signing key trusted in a trust directory, a loader state directory,
/// and a fake root with `fpga0`.
struct Setup {
    dir: Dir,
    key: PathBuf,
    pass: PathBuf,
    trust: PathBuf,
    state: PathBuf,
    key_id: String,
    fake: FakeRoot,
}

impl Setup {
    fn new(tag: &str, fpga_state: &str) -> Setup {
        let dir = Dir::new(tag);
        let pass = dir.path("pass.txt");
        std::fs::write(&pass, format!("{PASSPHRASE}\n")).unwrap();
        let key = dir.path("signer.key");
        let o = ok(&[
            "bitstream",
            "keygen",
            "--out",
            s(&key),
            "--passphrase-file",
            s(&pass),
            "--json",
        ]);
        let key_id = json(&o)["key_id"].as_str().unwrap().to_string();
        let trust = dir.path("trust");
        ok(&[
            "bitstream",
            "trust",
            "add",
            s(&dir.path("signer.pub")),
            "--trust-dir",
            s(&trust),
        ]);
        let fake = FakeRoot::new(&dir.path("root"), fpga_state);
        Setup {
            state: dir.path("loader-state"),
            dir,
            key,
            pass,
            trust,
            key_id,
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
        let manifest = Manifest {
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
        };
        let path = self.dir.path(name);
        std::fs::write(&path, Package::new(manifest, images).unwrap().encode()).unwrap();
        ok(&[
            "bitstream",
            "sign",
            "--key",
            s(&self.key),
            "--passphrase-file",
            s(&self.pass),
            s(&path),
        ]);
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

/// A fake root directory: the sysfs of one FPGA manager `fpga0` and
/// `lib/firmware`.
struct FakeRoot(PathBuf);

impl FakeRoot {
    /// `fpga0` in `state`, with a plain-file `firmware` attribute.
    fn new(root: &Path, state: &str) -> FakeRoot {
        let fake = FakeRoot(root.to_owned());
        let dev = fake.dev();
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("name"), format!("{DRIVER_NAME}\n")).unwrap();
        std::fs::write(dev.join("state"), format!("{state}\n")).unwrap();
        std::fs::write(dev.join("status"), "").unwrap();
        std::fs::write(dev.join("flags"), "1\n").unwrap();
        std::fs::write(dev.join("firmware"), "").unwrap();
        std::fs::create_dir_all(fake.firmware_dir()).unwrap();
        fake
    }

    fn root(&self) -> &Path {
        &self.0
    }
    fn dev(&self) -> PathBuf {
        self.0.join("sys/class/fpga_manager/fpga0")
    }
    fn firmware_dir(&self) -> PathBuf {
        self.0.join("lib/firmware")
    }
    fn state(&self) -> String {
        std::fs::read_to_string(self.dev().join("state"))
            .unwrap()
            .trim_end()
            .to_owned()
    }
    /// The names in the firmware directory.
    fn firmware_files(&self) -> Vec<String> {
        std::fs::read_dir(self.firmware_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
    /// Makes `firmware` a plain, empty file again (after a fake kernel
    /// replaced it with a FIFO).
    fn plain_firmware_attribute(&self) {
        let firmware = self.dev().join("firmware");
        std::fs::remove_file(&firmware).unwrap();
        std::fs::write(&firmware, "").unwrap();
    }
    /// The kernel was never asked for anything, and nothing is staged.
    #[track_caller]
    fn assert_untouched(&self) {
        assert_eq!(std::fs::read(self.dev().join("firmware")).unwrap(), b"");
        assert_eq!(self.firmware_files(), Vec::<String>::new());
    }
    /// Replaces `firmware` with a FIFO and starts the fake kernel, which
    /// expects `expected` and ends as `end` says.
    fn kernel(&self, expected: &[u8], end: End) -> mpsc::Receiver<Result<String, String>> {
        let firmware = self.dev().join("firmware");
        std::fs::remove_file(&firmware).unwrap();
        let made = Command::new("mkfifo")
            .arg(&firmware)
            .status()
            .expect("mkfifo (coreutils) is needed for the fake firmware attribute");
        assert!(made.success());
        let (tx, rx) = mpsc::channel();
        let dev = self.dev();
        let fw_dir = self.firmware_dir();
        let expected = expected.to_vec();
        std::thread::spawn(move || {
            let _ = tx.send(fake_kernel(&dev, &fw_dir, &expected, end));
        });
        rx
    }
}

/// How the fake kernel's load ends.
#[derive(Clone, Copy)]
enum End {
    /// `operating`.
    Operating,
    /// This error state, with this `status` text.
    Error(&'static str, &'static str),
}

/// Sets an attribute the way the kernel presents it: whole, never
/// half-written.
fn set_attr(dev: &Path, attr: &str, value: &str) {
    let tmp = dev.join(format!(".{attr}.tmp"));
    std::fs::write(&tmp, format!("{value}\n")).unwrap();
    std::fs::rename(&tmp, dev.join(attr)).unwrap();
}

/// The fake kernel: returns the firmware name it loaded, or why it
/// refused.
fn fake_kernel(dev: &Path, fw_dir: &Path, expected: &[u8], end: End) -> Result<String, String> {
    let deadline = Instant::now() + TIMEOUT;
    let staged = loop {
        let found = std::fs::read_dir(fw_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("hsm-"));
        if let Some(name) = found {
            break name;
        }
        if Instant::now() > deadline {
            return Err("no staged firmware file appeared".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    set_attr(dev, "state", "firmware request");
    let mut name = String::new();
    std::fs::File::open(dev.join("firmware"))
        .and_then(|mut f| f.read_to_string(&mut name))
        .map_err(|e| format!("reading the firmware FIFO: {e}"))?;
    let name = name.trim_end_matches('\n').to_owned();
    let fail = |why: String| {
        set_attr(dev, "state", "firmware request error");
        Err(why)
    };
    if name != staged {
        return fail(format!("firmware {name:?} written, {staged:?} staged"));
    }
    let path = fw_dir.join(&name);
    match std::fs::read(&path) {
        Ok(data) if data == expected => {}
        Ok(_) => return fail(format!("{} has the wrong contents", path.display())),
        Err(e) => return fail(format!("{}: {e}", path.display())),
    }
    let flags = std::fs::read_to_string(dev.join("flags")).unwrap();
    if flags.trim() != "0" {
        return fail(format!("flags is {flags:?}, not 0"));
    }
    for state in ["write init", "write"] {
        set_attr(dev, "state", state);
        std::thread::sleep(Duration::from_millis(5));
    }
    match end {
        End::Operating => set_attr(dev, "state", "operating"),
        End::Error(state, status) => {
            set_attr(dev, "status", status);
            set_attr(dev, "state", state);
        }
    }
    Ok(name)
}

/// What the fake kernel loaded (it checked the bytes), or a panic with
/// why it refused.
fn kernel_result(rx: &mpsc::Receiver<Result<String, String>>) -> String {
    rx.recv_timeout(TIMEOUT)
        .expect("the fake kernel did not finish")
        .unwrap_or_else(|e| panic!("fake kernel: {e}"))
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
