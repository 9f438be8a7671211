//! `hsmctl bitstream keygen|sign|verify|trust` end to end. No card is
//! needed: packages are made here with the `hsm-bitstream` library. Key
//! files use the test-only Argon2id parameters (`HSM_INSECURE_FAST_KDF=1`)
//! so that the tests stay fast.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{
    json, keygen, keygen_args, manifest, ok, revoke_args, run, run_env, s, sign_args, text,
    trust_add_args, trust_list_args, verify_args, Dir, Signer, PASSPHRASE,
};
use hsm_bitstream::{sha384, Image, Manifest, Package, Resources, ToolVersion};

fn images() -> Vec<Image> {
    vec![
        Image {
            name: "model.so".into(),
            data: b"the verilated model, in a few bytes".to_vec(),
        },
        Image {
            name: "card.v".into(),
            data: b"module card(); endmodule\n".to_vec(),
        },
    ]
}

fn manifest_for(images: &[Image]) -> Manifest {
    Manifest {
        contract_major: 1,
        contract_minor: 2,
        tools: vec![ToolVersion {
            name: "verilator".into(),
            version: "5.030".into(),
        }],
        resources: Resources {
            luts: Some(41_000),
            fmax_khz: Some(62_500),
            ..Resources::default()
        },
        ..manifest("sim-verilator", 7, images)
    }
}

/// The encoded unsigned test package.
fn unsigned_package() -> Vec<u8> {
    let images = images();
    Package::new(manifest_for(&images), images)
        .unwrap()
        .encode()
}

/// A [`Signer`] and an unsigned package.
struct Setup {
    signer: Signer,
    pkg: PathBuf,
}

common::deref_signer!(Setup);

impl Setup {
    fn new(tag: &str) -> Setup {
        let signer = Signer::new(tag);
        let pkg = signer.dir.path("card.hsmpkg");
        std::fs::write(&pkg, unsigned_package()).unwrap();
        Setup { signer, pkg }
    }

    fn verify(&self, pkg: &Path) -> Output {
        run(&verify_args(pkg, &self.trust, &[]))
    }

    /// Verifying `bytes` is refused with exit code 5 and a message that
    /// contains each of `needles`; the file is left as it was.
    #[track_caller]
    fn assert_refused(&self, name: &str, bytes: &[u8], needles: &[&str]) {
        let path = self.dir.path(name);
        std::fs::write(&path, bytes).unwrap();
        let o = self.verify(&path);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{name}: {err}");
        for n in needles {
            assert!(err.contains(n), "{name}: {n:?} not in {err}");
        }
        assert!(
            err.contains(s(&path)),
            "{name}: the file is not named: {err}"
        );
        assert!(o.stdout.is_empty(), "{name}: {}", text(&o.stdout));
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}: file changed");
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_trust_sign_verify_round_trip() {
    let dir = Dir::new("round-trip");
    let pass = dir.path("pass.txt");
    std::fs::write(&pass, format!("{PASSPHRASE}\r\n")).unwrap();
    let key = dir.path("signer.key");
    let o = ok(&keygen_args(&key, &pass, &["--json"]));
    assert!(
        text(&o.stderr).contains("HSM_INSECURE_FAST_KDF=1"),
        "no warning about the test-only KDF: {}",
        text(&o.stderr)
    );
    let k = json(&o);
    let key_id = k["key_id"].as_str().unwrap().to_string();
    assert_eq!(key_id.len(), 32);
    assert!(key_id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(k["algorithm"], "ML-DSA-87");
    assert_eq!(k["private_key"], s(&key));
    let public = dir.path("signer.pub");
    assert_eq!(k["public_key"], s(&public));
    assert_eq!(k["kdf"]["algorithm"], "argon2id");
    assert_eq!(k["kdf"]["m_kib"], 32);
    #[cfg(unix)]
    assert_eq!(mode(&key), 0o600);
    assert!(public.is_file());

    // Text output: the key id and both paths.
    let key2 = dir.path("other.key");
    let o = ok(&keygen_args(&key2, &pass, &[]));
    let out = text(&o.stdout);
    assert!(out.contains("key id:") && out.contains(s(&key2)), "{out}");
    assert!(out.contains(s(&dir.path("other.pub"))), "{out}");

    // Trust the first key.
    let trust = dir.path("trust");
    let o = ok(&trust_add_args(&public, &trust, &["--json"]));
    let installed = trust.join(format!("{key_id}.pub"));
    assert_eq!(json(&o)["file"], s(&installed));
    assert_eq!(json(&o)["revoked"], false);
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&public).unwrap()
    );

    // Sign to another file: the original stays unsigned.
    let pkg = dir.path("card.hsmpkg");
    let unsigned = unsigned_package();
    std::fs::write(&pkg, &unsigned).unwrap();
    let signed = dir.path("card-signed.hsmpkg");
    let o = ok(&sign_args(
        &key,
        &pass,
        &pkg,
        &["--out", s(&signed), "--json"],
    ));
    let sj = json(&o);
    assert_eq!(sj["key_id"], key_id.as_str());
    assert_eq!(sj["design"], "open-hsm");
    assert_eq!(sj["target"], "sim-verilator");
    assert_eq!(sj["security_version"], 7);
    assert_eq!(sj["package"], s(&signed));
    assert_eq!(std::fs::read(&pkg).unwrap(), unsigned);

    // Sign in place, with the passphrase on standard input.
    let o = run_env(
        &sign_args(&key, Path::new("-"), &pkg, &[]),
        format!("{PASSPHRASE}\n").as_bytes(),
        &[],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for want in [
        key_id.as_str(),
        "open-hsm",
        "sim-verilator",
        "security version: 7",
    ] {
        assert!(out.contains(want), "{want:?} not in {out}");
    }
    let package = Package::decode(&std::fs::read(&pkg).unwrap()).unwrap();
    assert_eq!(package.signature().unwrap().key_id.to_string(), key_id);

    // Verify, as JSON.
    let o = ok(&verify_args(&pkg, &trust, &["--json"]));
    let v = json(&o);
    assert_eq!(v["verified"], true);
    assert_eq!(v["package"], s(&pkg));
    assert_eq!(v["key_id"], key_id.as_str());
    assert_eq!(v["target"], "sim-verilator");
    assert_eq!(v["design"], "open-hsm");
    assert_eq!(v["design_version"], "0.1.0");
    assert_eq!(v["build_id"], "0123456789abcdef");
    assert_eq!(v["source_revision"], "601d60b");
    assert_eq!(v["source_sha384"], "5a".repeat(48));
    assert_eq!(v["contract_version"], "1.2");
    assert_eq!(v["security_version"], 7);
    assert_eq!(v["tools"][0]["name"], "verilator");
    assert_eq!(v["resources"]["luts"], 41_000);
    assert_eq!(v["resources"]["fmax_khz"], 62_500);
    assert!(v["resources"].get("dsps").is_none());
    let imgs = v["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 2);
    let mut want = images();
    want.sort_by(|a, b| a.name.cmp(&b.name));
    for (got, want) in imgs.iter().zip(&want) {
        assert_eq!(got["name"], want.name.as_str());
        assert_eq!(got["size"], want.data.len());
        let hash: String = sha384(&want.data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got["sha384"], hash.as_str());
    }

    // Verify, as text, with the trust directory from the environment; the
    // copy signed with --out verifies too.
    for p in [&pkg, &signed] {
        let o = run_env(
            &["bitstream", "verify", s(p)],
            b"",
            &[("HSM_TRUST_DIR", s(&trust))],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        for want in [
            "verified",
            key_id.as_str(),
            "target:           sim-verilator",
            "design:           open-hsm 0.1.0",
            "build id:         0123456789abcdef",
            "source revision:  601d60b",
            "contract version: 1.2",
            "security version: 7",
            "41000 LUTs",
            "fmax 62.500 MHz",
            "card.v",
            "model.so",
        ] {
            assert!(out.contains(want), "{want:?} not in {out}");
        }
    }

    // The trust list.
    let o = ok(&trust_list_args(&trust, &["--json"]));
    let l = json(&o);
    assert_eq!(l["keys"].as_array().unwrap().len(), 1);
    assert_eq!(l["keys"][0]["key_id"], key_id.as_str());
    assert_eq!(l["keys"][0]["revoked"], false);
    assert_eq!(l["keys"][0]["public_key"], true);
    let o = ok(&trust_list_args(&trust, &[]));
    assert!(
        text(&o.stdout).contains(&format!("{key_id}  trusted")),
        "{}",
        text(&o.stdout)
    );

    // No temporary files are left anywhere.
    for d in [&dir.0, &trust] {
        for e in std::fs::read_dir(d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with('.'), "left behind: {name}");
        }
    }
}

#[test]
fn keygen_refuses_to_overwrite_and_weak_passphrases() {
    let t = Setup::new("overwrite");
    let key_before = std::fs::read(&t.key).unwrap();
    let pub_before = std::fs::read(&t.public).unwrap();
    let keygen = |extra: &[&str]| {
        let mut args = keygen_args(&t.key, &t.pass, &["--json"]);
        args.extend_from_slice(extra);
        run(&args)
    };
    let o = keygen(&[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&t.key).unwrap(), key_before);
    assert_eq!(std::fs::read(&t.public).unwrap(), pub_before);

    // Only the public key there: still refused, and nothing is written.
    std::fs::remove_file(&t.key).unwrap();
    let o = keygen(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains(s(&t.public)));
    assert!(!t.key.exists());
    std::fs::write(&t.key, &key_before).unwrap();

    // --force replaces both with a new key.
    let o = keygen(&["--force"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_ne!(json(&o)["key_id"], t.key_id.as_str());
    assert_ne!(std::fs::read(&t.key).unwrap(), key_before);
    assert_ne!(std::fs::read(&t.public).unwrap(), pub_before);

    // A short passphrase is refused before anything is written.
    let short = t.dir.path("short.txt");
    std::fs::write(&short, "eleven byte\n").unwrap();
    let new_key = t.dir.path("new.key");
    let o = run(&keygen_args(&new_key, &short, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("at least 12"),
        "{}",
        text(&o.stderr)
    );
    assert!(!new_key.exists() && !t.dir.path("new.pub").exists());

    // A private key path ending in .pub is refused.
    let o = run(&keygen_args(&t.dir.path("x.pub"), &t.pass, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("must not end in .pub"));
}

#[test]
fn wrong_passphrase_on_sign_fails_clearly() {
    let t = Setup::new("wrong-pass");
    let wrong = t.dir.path("wrong.txt");
    std::fs::write(&wrong, "not the passphrase at all\n").unwrap();
    let before = std::fs::read(&t.pkg).unwrap();
    let o = run(&sign_args(&t.key, &wrong, &t.pkg, &[]));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("wrong passphrase") && err.contains(s(&t.key)),
        "{err}"
    );
    assert_eq!(std::fs::read(&t.pkg).unwrap(), before);

    // The public key file is not a private key file.
    let o = run(&sign_args(&t.public, &t.pass, &t.pkg, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not a bitstream private key file"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&t.pkg).unwrap(), before);
}

#[test]
fn verify_refuses_what_does_not_verify() {
    let t = Setup::new("refuse");
    let unsigned = std::fs::read(&t.pkg).unwrap();
    t.sign(&t.pkg);
    let good = std::fs::read(&t.pkg).unwrap();
    assert!(t.verify(&t.pkg).status.success());

    // The last byte of the package is the last byte of the last image.
    let mut b = good.clone();
    *b.last_mut().unwrap() ^= 1;
    t.assert_refused(
        "image.hsmpkg",
        &b,
        &[
            "image model.so does not match its SHA-384",
            "do not load it",
        ],
    );

    // The last byte of the manifest is in the last image's hash.
    let len = u32::from_le_bytes(good[12..16].try_into().unwrap()) as usize;
    let mut b = good.clone();
    b[16 + len - 1] ^= 0x80;
    t.assert_refused(
        "manifest.hsmpkg",
        &b,
        &["does not verify", &t.key_id, "altered"],
    );

    t.assert_refused(
        "truncated.hsmpkg",
        &good[..good.len() - 7],
        &["malformed package", "truncated"],
    );
    t.assert_refused(
        "unsigned.hsmpkg",
        &unsigned,
        &["not signed", "hsmctl bitstream sign"],
    );

    // Signed by a key the trust directory does not have.
    let other = t.dir.path("other.key");
    let other_id = keygen(&other, &t.pass);
    let by_other = t.dir.path("by-other.hsmpkg");
    std::fs::write(&by_other, &unsigned).unwrap();
    ok(&sign_args(&other, &t.pass, &by_other, &[]));
    let b = std::fs::read(&by_other).unwrap();
    t.assert_refused(
        "untrusted.hsmpkg",
        &b,
        &[&other_id, "not trusted", "trust add", s(&t.trust)],
    );

    // --json: the reason on stdout too, still exit code 5.
    let mut b = good.clone();
    *b.last_mut().unwrap() ^= 1;
    let path = t.dir.path("json.hsmpkg");
    std::fs::write(&path, &b).unwrap();
    let o = run(&verify_args(&path, &t.trust, &["--json"]));
    assert_eq!(o.status.code(), Some(5));
    let v = json(&o);
    assert_eq!(v["verified"], false);
    assert_eq!(v["reason"], "image-hash");
    assert_eq!(v["image"], "model.so");

    // Revoke the key: the good package is refused, revoking again is
    // harmless, and the list shows it.
    let o = ok(&revoke_args(&t.key_id, &t.trust));
    assert!(text(&o.stdout).contains("revoked key"));
    let o = ok(&revoke_args(&t.key_id.to_uppercase(), &t.trust));
    assert!(
        text(&o.stdout).contains("already revoked"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(t.trust.join("revoked")).unwrap(),
        format!("{}\n", t.key_id)
    );
    t.assert_refused("revoked.hsmpkg", &good, &[&t.key_id, "revoked"]);
    let o = ok(&trust_list_args(&t.trust, &["--json"]));
    assert_eq!(json(&o)["keys"][0]["revoked"], true);

    // Adding the revoked key again does not undo the revocation.
    let o = ok(&trust_add_args(&t.public, &t.trust, &[]));
    assert!(text(&o.stderr).contains("revoked"), "{}", text(&o.stderr));
    t.assert_refused("revoked-again.hsmpkg", &good, &["revoked"]);
}

#[test]
fn sign_refuses_a_package_whose_images_do_not_match() {
    let t = Setup::new("sign-mismatch");
    let mut b = std::fs::read(&t.pkg).unwrap();
    *b.last_mut().unwrap() ^= 1;
    std::fs::write(&t.pkg, &b).unwrap();
    let o = run(&sign_args(&t.key, &t.pass, &t.pkg, &[]));
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("model.so"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&t.pkg).unwrap(), b);
}

#[test]
fn trust_directory_errors_say_what_to_do() {
    let t = Setup::new("trust-errors");
    t.sign(&t.pkg);
    let missing = t.dir.path("no-such-trust");
    for args in [
        verify_args(&t.pkg, &missing, &[]),
        trust_list_args(&missing, &[]),
        revoke_args(&t.key_id, &missing),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains("does not exist") && err.contains("trust add"),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created the directory");
    }
    // The default comes from HSM_TRUST_DIR.
    let o = run_env(
        &["bitstream", "verify", s(&t.pkg)],
        b"",
        &[("HSM_TRUST_DIR", s(&missing))],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains(s(&missing)));

    // A key id that is not one is a usage error.
    let o = run(&revoke_args("1234", &t.trust));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("32 hex digits"));

    // A file that is not a public key is not added.
    let o = run(&trust_add_args(&t.key, &t.trust, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not a bitstream public key file"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn passphrases_are_never_taken_from_the_command_line() {
    let dir = Dir::new("argv");
    let key = dir.path("k.key");
    for flag in ["--passphrase", "--password", "--pass"] {
        let o = run(&[
            "bitstream",
            "keygen",
            "--out",
            s(&key),
            flag,
            "correct horse battery staple",
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag} was accepted");
    }
    // Without a passphrase file, standard input must be a terminal.
    let o = run(&["bitstream", "keygen", "--out", s(&key)]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("not a terminal") && err.contains("--passphrase-file"),
        "{err}"
    );
    assert!(!key.exists() && !dir.path("k.pub").exists());

    // An empty passphrase file is refused.
    let empty = dir.path("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let o = run(&keygen_args(&key, &empty, &[]));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("empty"), "{}", text(&o.stderr));
}

#[test]
fn help_documents_the_trust_directory_and_exit_codes() {
    let o = ok(&["bitstream", "verify", "--help"]);
    let help = text(&o.stdout);
    for want in [
        "HSM_TRUST_DIR",
        "/etc/hsm/bitstream-trust",
        "5  a package failed verification",
        "HSM_INSECURE_FAST_KDF",
    ] {
        assert!(help.contains(want), "{want:?} not in {help}");
    }
    let o = ok(&["--help"]);
    assert!(text(&o.stdout).contains("5  a package failed verification"));
}
