//! `hsmctl bitstream build`, `sign` and `load` end to end on a simulated
//! card: a reproducible build of the card's image from this source tree,
//! every refusal (with the card unchanged), a load that the card then runs
//! and keeps across a restart, and a damaged stored image refused at start.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hsm_bitstream::{Package, SigningKey};

const HSMCTL: &str = env!("CARGO_BIN_EXE_hsmctl");
const PASSPHRASE: &str = "correct horse battery staple\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A folder for one test, with a simulated card's socket and state in it.
struct Bench {
    dir: PathBuf,
    socket: PathBuf,
    device: String,
}

impl Bench {
    fn new(tag: &str) -> Bench {
        let dir = std::env::temp_dir().join(format!("hsmctl-bs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pass"), PASSPHRASE).unwrap();
        let socket = dir.join("card.sock");
        Bench {
            device: format!("sim:{}", socket.display()),
            socket,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(HSMCTL)
            .args(args)
            .env("HSM_INSECURE_FAST_KDF", "1")
            .env("HSM_TRUST_DIR", self.path("trust"))
            .env("HSM_SIM_SOCKET", "/nonexistent/hsm-bs-test/card.sock")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "hsmctl {args:?}: exit {:?}\n{}",
            o.status.code(),
            text(&o.stderr)
        );
        o
    }

    fn start(&self) -> Output {
        self.run(&[
            "sim",
            "start",
            "--socket",
            s(&self.socket),
            "--state",
            s(&self.path("state")),
            "--test-mode",
        ])
    }

    fn stop(&self) {
        let _ = self.run(&["sim", "stop", "--socket", s(&self.socket)]);
    }

    /// What the card says it runs: (image source, manifest hash, minimum
    /// security version).
    fn running(&self) -> (String, Option<String>, u64) {
        let o = self.ok(&["info", "--device", &self.device, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            v["image"]["source"].as_str().unwrap().to_owned(),
            v["image"]["manifest_sha384"].as_str().map(str::to_owned),
            v["min_security_version"].as_u64().unwrap(),
        )
    }

    fn keygen(&self, name: &str) -> PathBuf {
        let key = self.path(name);
        self.ok(&[
            "bitstream",
            "keygen",
            "--out",
            s(&key),
            "--passphrase-file",
            s(&self.path("pass")),
        ]);
        key
    }

    fn sign(&self, key: &Path, pkg: &Path) {
        self.ok(&[
            "bitstream",
            "sign",
            "--key",
            s(key),
            "--passphrase-file",
            s(&self.path("pass")),
            s(pkg),
        ]);
    }

    fn load(&self, pkg: &Path) -> Output {
        self.run(&["bitstream", "load", s(pkg), "--device", &self.device])
    }

    /// Loading `pkg` is refused with exit code 5 and a message holding
    /// `needle`, and the card still runs what it ran.
    fn assert_refused(&self, pkg: &Path, needle: &str) {
        let before = self.running();
        let o = self.load(pkg);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{}: {err}", pkg.display());
        assert!(
            err.contains(needle),
            "{}: {needle:?} not in {err}",
            pkg.display()
        );
        assert_eq!(
            self.running(),
            before,
            "{}: the card changed",
            pkg.display()
        );
        self.serves_jobs();
    }

    /// The card hashes a file as the reference does.
    fn serves_jobs(&self) {
        use sha3::Digest;
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        let file = self.path("data");
        std::fs::write(&file, &data).unwrap();
        let o = self.ok(&[
            "hash",
            "--alg",
            "sha3-256",
            "--in",
            s(&file),
            "--device",
            &self.device,
        ]);
        let want: String = sha3::Sha3_256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(text(&o.stdout).starts_with(&want), "{}", text(&o.stdout));
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A copy of `base` with its manifest changed by `edit`, unsigned.
fn variant(base: &Package, out: &Path, edit: impl FnOnce(&mut hsm_bitstream::Manifest)) {
    let mut manifest = base.manifest().clone();
    edit(&mut manifest);
    let package = Package::new(manifest, base.images().to_vec()).unwrap();
    std::fs::write(out, package.encode()).unwrap();
}

fn flip(from: &Path, to: &Path, offset: impl FnOnce(usize) -> usize) {
    let mut bytes = std::fs::read(from).unwrap();
    let at = offset(bytes.len());
    bytes[at] ^= 0x01;
    std::fs::write(to, bytes).unwrap();
}

#[test]
fn build_sign_load_and_every_refusal() {
    let b = Bench::new("load");
    // Two builds of the same source give the same package, byte for byte.
    let built = b.path("built.pkg");
    let again = b.path("again.pkg");
    let o = b.ok(&[
        "bitstream",
        "build",
        "--target",
        "sim",
        "--out",
        s(&built),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["manifest"]["target"], "sim-verilator");
    assert_eq!(v["manifest"]["images"].as_array().unwrap().len(), 2);
    b.ok(&["bitstream", "build", "--target", "sim", "--out", s(&again)]);
    assert!(
        std::fs::read(&built).unwrap() == std::fs::read(&again).unwrap(),
        "two builds of the same source differ"
    );
    let base = Package::read_file(&built).unwrap();
    let security = base.manifest().security_version;

    // Keys: one trusted, one never trusted, one trusted then revoked.
    let trusted = b.keygen("trusted");
    let stranger = b.keygen("stranger");
    let revoked = b.keygen("revoked");
    for key in [&trusted, &revoked] {
        b.ok(&["bitstream", "trust", "add", &format!("{}.pub", s(key))]);
    }
    let revoked_id = SigningKey::read_file(&revoked, PASSPHRASE.trim_end().as_bytes())
        .unwrap()
        .key_id()
        .to_string();
    b.ok(&["bitstream", "trust", "revoke", &revoked_id]);

    let out = b.start();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(b.running(), ("built-in".to_owned(), None, 0));

    // The package to load: security version one above the build's.
    let good = b.path("good.pkg");
    variant(&base, &good, |m| m.security_version = security + 1);
    b.sign(&trusted, &good);

    // Refused before the card is asked.
    b.assert_refused(&built, "not signed");
    let image_flip = b.path("image-flip.pkg");
    flip(&good, &image_flip, |len| len - 10);
    b.assert_refused(&image_flip, "top.v");
    let manifest_flip = b.path("manifest-flip.pkg");
    // Inside the manifest's source hash field, well past its header.
    flip(&good, &manifest_flip, |_| 16 + 120);
    b.assert_refused(&manifest_flip, "refused");
    let truncated = b.path("truncated.pkg");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    b.assert_refused(&truncated, "refused");
    let untrusted = b.path("untrusted.pkg");
    std::fs::copy(&good, &untrusted).unwrap();
    b.sign(&stranger, &untrusted);
    b.assert_refused(&untrusted, "not trusted");
    let by_revoked = b.path("by-revoked.pkg");
    std::fs::copy(&good, &by_revoked).unwrap();
    b.sign(&revoked, &by_revoked);
    b.assert_refused(&by_revoked, "revoked");
    let wrong_target = b.path("wrong-target.pkg");
    variant(&base, &wrong_target, |m| {
        m.target = "ecp5-lfe5um5g-85f".into()
    });
    b.sign(&trusted, &wrong_target);
    b.assert_refused(&wrong_target, "target");
    let wrong_contract = b.path("wrong-contract.pkg");
    variant(&base, &wrong_contract, |m| {
        m.contract_major = hsm_contract::CONTRACT_MAJOR + 1
    });
    b.sign(&trusted, &wrong_contract);
    b.assert_refused(&wrong_contract, "contract");
    // Refused by the card's own check: the model must report the
    // manifest's build id.
    let wrong_build = b.path("wrong-build.pkg");
    variant(&base, &wrong_build, |m| {
        m.build_id ^= 1;
        m.security_version = security + 1;
    });
    b.sign(&trusted, &wrong_build);
    b.assert_refused(&wrong_build, "build id");

    // A key in a slot, and a file sealed with it, before the load.
    b.ok(&[
        "key", "generate", "--alg", "aes-256", "--label", "kept", "--device", &b.device,
    ]);
    let (plain, sealed, opened) = (b.path("p"), b.path("p.hsm"), b.path("p.out"));
    std::fs::write(&plain, b"sealed before the image changed").unwrap();
    b.ok(&[
        "encrypt",
        "--slot",
        "kept",
        "--in",
        s(&plain),
        "--out",
        s(&sealed),
        "--device",
        &b.device,
    ]);
    let kcv = |b: &Bench| {
        let o = b.ok(&["slot", "list", "--json", "--device", &b.device]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["slots"][0]["kcv"].as_str().unwrap().to_owned()
    };
    let kcv_before = kcv(&b);

    // The good one loads; the card runs it and serves jobs.
    let o = b.load(&good);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The key slots survive the reload.
    assert_eq!(kcv(&b), kcv_before, "the key changed with the image");
    b.ok(&[
        "decrypt",
        "--in",
        s(&sealed),
        "--out",
        s(&opened),
        "--device",
        &b.device,
    ]);
    assert_eq!(
        std::fs::read(&opened).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    let hash = hsm_bitstream::sha384(Package::read_file(&good).unwrap().manifest_bytes());
    let hash: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let loaded = ("package".to_owned(), Some(hash), u64::from(security + 1));
    assert_eq!(b.running(), loaded);
    b.serves_jobs();
    let info = text(&b.ok(&["info", "--device", &b.device]).stdout);
    assert!(
        info.contains("image:            package open-hsm"),
        "{info}"
    );

    // Rollback: the build's own security version is now too low.
    let older = b.path("older.pkg");
    std::fs::copy(&built, &older).unwrap();
    b.sign(&trusted, &older);
    b.assert_refused(&older, "security version");

    // A restart runs the stored image and remembers the security version.
    b.stop();
    let out = b.start();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(b.running(), loaded);
    b.serves_jobs();
    b.assert_refused(&older, "security version");

    // A damaged stored image is refused at start, saying what to do.
    b.stop();
    let stored = b.path("state").join("image.pkg");
    flip(&stored, &stored, |len| len - 10);
    let out = b.start();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("stored card image was refused"), "{err}");
    assert!(err.contains("remove"), "{err}");
}
