//! `hsmctl key`, `slot`, `encrypt`, `decrypt` and `selftest` end to end,
//! against a simulated card started by `hsmctl sim start`.

use std::path::{Path, PathBuf};

mod common;

use common::{s, text, Sim};

fn data(len: usize) -> Vec<u8> {
    let mut x = 0x1234_5678_9abc_def1u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Files in the folder other than the card's own.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("card.sock") && !keep.contains(&n.as_str()))
        .collect()
}

const CHUNK: usize = 4096;
const RECORD: usize = 5 + 12 + CHUNK + 16;

#[test]
fn keys_slots_and_a_multi_chunk_round_trip() {
    let sim = Sim::start("crypt", true);
    let key = sim.path("k.hex");
    std::fs::write(
        &key,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
    )
    .unwrap();
    let o = sim.ok(
        &[
            "key",
            "load",
            "--alg",
            "aes-256",
            "--label",
            "disk",
            "--key-file",
            s(&key),
            "--json",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let slot = v["slot"].as_u64().unwrap();
    assert_eq!(slot, 0, "the first empty slot");
    // Key material never appears in output.
    assert!(!text(&o.stdout).contains("00112233") && !text(&o.stderr).contains("00112233"));
    // Duplicate labels and all-digit labels are refused.
    let o = sim.run(
        &[
            "key",
            "load",
            "--alg",
            "aes-256",
            "--label",
            "disk",
            "--key-file",
            s(&key),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("already used by slot 0"),
        "{}",
        text(&o.stderr)
    );
    let o = sim.run(
        &[
            "key",
            "load",
            "--alg",
            "aes-256",
            "--label",
            "12",
            "--key-file",
            s(&key),
        ],
        b"",
    );
    assert!(
        text(&o.stderr).contains("all digits"),
        "{}",
        text(&o.stderr)
    );
    // A raw 16-byte key from stdin, into a chosen slot, encrypt-only.
    sim.ok(
        &[
            "key",
            "load",
            "--alg",
            "aes-128",
            "--label",
            "sealer",
            "--key-file",
            "-",
            "--slot",
            "9",
            "--policy",
            "encrypt",
        ],
        &[0x42; 16],
    );
    let o = sim.ok(&["slot", "list", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["used"], 2);
    assert_eq!(v["total"], 64);
    assert_eq!(v["slots"][0]["label"], "disk");
    assert_eq!(v["slots"][0]["alg"], "aes-256");
    assert_eq!(v["slots"][1]["slot"], 9);
    assert_eq!(v["slots"][1]["policy"], serde_json::json!(["encrypt"]));
    assert!(!text(&o.stdout).contains("0011223344"));

    // A multi-chunk file, files in and out, with AAD.
    let plain = data(10 * CHUNK + 123);
    let (pin, enc, dec, aad) = (
        sim.path("p"),
        sim.path("p.hsm"),
        sim.path("p.out"),
        sim.path("aad"),
    );
    std::fs::write(&pin, &plain).unwrap();
    std::fs::write(&aad, b"volume 7").unwrap();
    sim.ok(
        &[
            "encrypt",
            "--slot",
            "disk",
            "--chunk-size",
            "4096",
            "--aad",
            s(&aad),
            "--in",
            s(&pin),
            "--out",
            s(&enc),
        ],
        b"",
    );
    let file = std::fs::read(&enc).unwrap();
    assert_eq!(&file[..8], b"HSMCRYPT");
    assert_eq!(file.len(), 32 + 4 + 10 * RECORD + (5 + 12 + 123 + 16));
    sim.ok(
        &[
            "decrypt",
            "--aad",
            s(&aad),
            "--in",
            s(&enc),
            "--out",
            s(&dec),
        ],
        b"",
    );
    assert!(std::fs::read(&dec).unwrap() == plain);
    // An existing output is not replaced without --force.
    let o = sim.run(
        &[
            "decrypt",
            "--aad",
            s(&aad),
            "--in",
            s(&enc),
            "--out",
            s(&dec),
        ],
        b"",
    );
    assert!(text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    // stdin to stdout, both ways, by slot number.
    let o = sim.ok(&["encrypt", "--slot", "0", "--chunk-size", "4096"], &plain);
    let o = sim.ok(&["decrypt", "--slot", "disk"], &o.stdout);
    assert!(o.stdout == plain);
    // Empty input.
    let o = sim.ok(&["encrypt", "--slot", "disk"], b"");
    let o = sim.ok(&["decrypt"], &o.stdout);
    assert!(o.stdout.is_empty());
    // The encrypt-only key cannot decrypt.
    let o = sim.ok(&["encrypt", "--slot", "sealer"], b"x");
    let o = sim.run(&["decrypt"], &o.stdout);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o.stderr).contains("does not allow decrypt"),
        "{}",
        text(&o.stderr)
    );

    // Tampering: every case exits 4, says why, and leaves nothing behind.
    let keep = ["p", "p.hsm", "p.out", "aad", "k.hex"];
    let start = 32 + 4;
    let mut flipped = file.clone();
    flipped[start + 3 * RECORD + 100] ^= 0x01;
    let truncated = file[..start + 4 * RECORD].to_vec();
    let mut reordered = file.clone();
    let (a, b) = (start + RECORD, start + 2 * RECORD);
    reordered[a..b].copy_from_slice(&file[b..b + RECORD]);
    reordered[b..b + RECORD].copy_from_slice(&file[a..b]);
    let mut extended = file.clone();
    extended.extend_from_slice(&file[start..start + RECORD]);
    let cut_inside = file[..file.len() - 7].to_vec();
    for (name, bad, why) in [
        ("flipped", &flipped, "chunk 3 failed authentication"),
        ("truncated", &truncated, "without its final chunk"),
        ("reordered", &reordered, "chunk 1 failed authentication"),
        ("extended", &extended, "extended"),
        ("cut", &cut_inside, "truncated inside chunk 10"),
    ] {
        let bad_path = sim.path("bad.hsm");
        std::fs::write(&bad_path, bad).unwrap();
        let out = sim.path("bad.out");
        let o = sim.run(
            &[
                "decrypt",
                "--aad",
                s(&aad),
                "--in",
                s(&bad_path),
                "--out",
                s(&out),
            ],
            b"",
        );
        assert_eq!(o.status.code(), Some(4), "{name}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(why), "{name}: {}", text(&o.stderr));
        assert!(!out.exists(), "{name}: an output file was left");
        std::fs::remove_file(&bad_path).unwrap();
        assert!(
            leftovers(&sim.dir, &keep).is_empty(),
            "{name}: {:?}",
            leftovers(&sim.dir, &keep)
        );
        // Through stdout: nothing at all is written.
        let o = sim.run(&["decrypt", "--aad", s(&aad)], bad);
        assert_eq!(
            o.status.code(),
            Some(4),
            "{name} (stdout): {}",
            text(&o.stderr)
        );
        assert!(
            o.stdout.is_empty(),
            "{name}: {} bytes reached stdout",
            o.stdout.len()
        );
    }
    // Wrong AAD.
    let o = sim.run(&["decrypt", "--in", s(&enc)], b"");
    assert_eq!(o.status.code(), Some(4));
    assert!(o.stdout.is_empty());

    // key clear: refused without a terminal or --force, then done.
    let o = sim.run(&["key", "clear", "--slot", "disk"], b"yes\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("pass --force"),
        "{}",
        text(&o.stderr)
    );
    let o = sim.ok(&["key", "clear", "--slot", "disk", "--force"], b"");
    assert!(
        text(&o.stdout).contains("cleared slot 0"),
        "{}",
        text(&o.stdout)
    );
    let o = sim.run(&["decrypt", "--aad", s(&aad), "--in", s(&enc)], b"");
    assert!(
        text(&o.stderr).contains("no slot has the label \"disk\""),
        "{}",
        text(&o.stderr)
    );
    let o = sim.ok(&["slot", "list", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["used"], 1);
}

fn vectors() -> PathBuf {
    let v = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    assert!(
        v.is_dir(),
        "the NIST vectors are missing: expected {} (the shared/ folder beside the repository)",
        v.display()
    );
    v
}

#[test]
fn selftest_runs_every_nist_vector() {
    let v = vectors();
    let files: Vec<PathBuf> = [
        "aes-gcm/gcmEncryptExtIV128.rsp",
        "aes-gcm/gcmEncryptExtIV256.rsp",
        "aes-gcm/gcmDecrypt128.rsp",
        "aes-xts/XTSGenAES256.rsp",
    ]
    .iter()
    .map(|f| v.join(f))
    .collect();
    // What the files hold, counted independently of hsmctl's parser.
    let mut records = 0usize;
    let mut fails = 0usize;
    let mut bit_units = 0usize;
    for f in &files {
        let t = std::fs::read_to_string(f).unwrap();
        records += t
            .lines()
            .filter(|l| l.starts_with("Count = ") || l.starts_with("COUNT = "))
            .count();
        fails += t.lines().filter(|l| l.trim() == "FAIL").count();
        bit_units += t
            .lines()
            .filter_map(|l| l.strip_prefix("DataUnitLen = "))
            .filter(|n| n.trim().parse::<u64>().unwrap() % 8 != 0)
            .count();
    }
    assert!(
        records > 23_000 && fails > 1000 && bit_units > 0,
        "{records} records, {fails} FAIL, {bit_units} XTS units of a bit length not a multiple of 8"
    );
    let sim = Sim::start("selftest", true);
    let mut args = vec!["selftest".to_string()];
    for f in &files {
        args.push("--vectors".into());
        args.push(f.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t0 = std::time::Instant::now();
    let o = sim.run(&args, b"");
    eprintln!(
        "selftest of {records} vectors: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    let last = out.lines().last().unwrap();
    assert_eq!(last, format!("{records} passed, 0 failed"), "{out}");
    // A file that is not a vector file is an error.
    let junk = sim.path("junk.rsp");
    std::fs::write(&junk, "hello\n").unwrap();
    let o = sim.run(&["selftest", "--vectors", s(&junk)], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not understood"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn test_mode_commands_refuse_an_operational_card() {
    let sim = Sim::start("optmode", false);
    let key = sim.path("k");
    std::fs::write(&key, [1u8; 16]).unwrap();
    let o = sim.run(
        &[
            "key",
            "load",
            "--alg",
            "aes-128",
            "--label",
            "x",
            "--key-file",
            s(&key),
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("not in test mode"),
        "{}",
        text(&o.stderr)
    );
    let o = sim.run(&["selftest", "--vectors", s(&key)], b"");
    assert!(
        text(&o.stderr).contains("not in test mode"),
        "{}",
        text(&o.stderr)
    );
    let b = sim.ok(&["bench", "--json", "--batch", "50", "--rounds", "1"], b"");
    let v: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert!(v["aes256_gcm_encrypt_bytes_per_cycle"].is_null());
    assert!(v["aes_note"].as_str().unwrap().contains("not in test mode"));
    assert!(v["host_sw_aes256_gcm_bytes_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_reports_the_aes_figures() {
    let sim = Sim::start("aesbench", true);
    let b = sim.ok(&["bench", "--json", "--batch", "200", "--rounds", "1"], b"");
    let v: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    for k in [
        "aes256_gcm_encrypt_bytes_per_cycle",
        "aes256_gcm_decrypt_bytes_per_cycle",
        "aes256_xts_bytes_per_cycle",
    ] {
        let x = v[k].as_f64().unwrap_or_else(|| panic!("{k}: {v}"));
        assert!(x > 0.0 && x <= 16.0, "{k} = {x}: a 16-byte beat bounds it");
    }
    assert!(v["aes256_gcm_64b_job_cycles"].as_f64().unwrap() > 0.0);
    assert_eq!(v["aes256_gcm_64b_jobs"], 200);
    assert!(v["host_sw_aes256_gcm_bytes_per_second"].as_f64().unwrap() > 0.0);
    eprintln!("{}", serde_json::to_string_pretty(&v).unwrap());
    // The bench cleared its keys.
    let o = sim.ok(&["slot", "list", "--json"], b"");
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(l["used"], 0);
}

#[test]
fn selftest_runs_every_sha3_and_shake_vector() {
    let v = vectors();
    let mut files = Vec::new();
    for sub in ["sha3", "shake"] {
        for e in std::fs::read_dir(v.join(sub)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    // Records counted independently of hsmctl's parser: `Len =` starts a
    // ShortMsg/LongMsg record, `COUNT =` a VariableOut one.
    let mut records = 0usize;
    for f in &files {
        let t = std::fs::read_to_string(f).unwrap();
        records += t
            .lines()
            .filter(|l| l.starts_with("Len = ") || l.starts_with("COUNT = "))
            .count();
    }
    assert!(records > 2000, "{records} hash records");
    let sim = Sim::start("selftest-hash", true);
    let mut args = vec!["selftest".to_string()];
    for f in &files {
        args.push("--vectors".into());
        args.push(f.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sim.run(&args, b"");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    assert_eq!(
        out.lines().last().unwrap(),
        format!("{records} passed, 0 failed"),
        "{out}"
    );
}

#[test]
fn hash_command_matches_sha3_and_refuses_bad_arguments() {
    use sha3::digest::{Digest, ExtendableOutput, Update};
    let sim = Sim::start("hash", false);
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let f = sim.path("data.bin");
    std::fs::write(&f, &data).unwrap();
    let o = sim.ok(&["hash", "--alg", "sha3-256", "--in", s(&f)], b"");
    let want = hex(&sha3::Sha3_256::digest(&data));
    assert_eq!(text(&o.stdout), format!("{want}  {}\n", f.display()));
    // stdin, SHAKE with a length, JSON.
    let o = sim.ok(
        &["hash", "--alg", "shake256", "--len", "100", "--json"],
        b"abc",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut x = [0u8; 100];
    sha3::Shake256::default()
        .chain(b"abc")
        .finalize_xof_into(&mut x);
    assert_eq!(v["output"], hex(&x));
    assert_eq!(v["input_bytes"], 3);
    assert_eq!(v["jobs"], 1);
    // --raw writes bytes.
    let o = sim.ok(&["hash", "--alg", "sha3-512", "--raw"], b"");
    assert_eq!(o.stdout, sha3::Sha3_512::digest(b"").to_vec());
    // Bad arguments say what is wrong.
    let o = sim.run(&["hash", "--alg", "md5"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("shake256"), "{}", text(&o.stderr));
    let o = sim.run(&["hash", "--alg", "sha3-256", "--len", "16"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("fixed 32-byte output"),
        "{}",
        text(&o.stderr)
    );
    let o = sim.run(
        &["hash", "--alg", "sha3-256", "--in", "/nonexistent/x"],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("/nonexistent/x"),
        "{}",
        text(&o.stderr)
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `hsmctl kem` end to end on an operational card (KeyGen and Encaps take
/// the card's DRBG): a card key pair, an encapsulation to its PEM public
/// key, a decapsulation, and the two new AES-256 slots agree (what one
/// encrypts, the other decrypts). A bad public key is refused with the
/// card's status and leaves no ciphertext file.
#[test]
fn kem_keygen_encaps_decaps_agree_through_hsmctl() {
    let sim = Sim::start("kem", false);
    sim.init_card();
    let (pem, ct) = (sim.path("alice.pem"), sim.path("ct.bin"));
    let o = sim.ok(
        &[
            "kem",
            "keygen",
            "--alg",
            "ml-kem-768",
            "--slot",
            "alice",
            "--pub",
            s(&pem),
            "--json",
        ],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["set"], "ml-kem-768", "{v}");
    let key = std::fs::read(&pem).unwrap();
    let parsed = hsm_keyfmt::KemPublicKey::from_pem(std::str::from_utf8(&key).unwrap()).unwrap();
    assert_eq!(parsed.ek.len(), 1184);
    sim.ok(
        &[
            "kem",
            "encaps",
            "--pub",
            s(&pem),
            "--ct",
            s(&ct),
            "--into-slot",
            "to-alice",
        ],
        b"",
    );
    assert_eq!(std::fs::read(&ct).unwrap().len(), 1088);
    sim.ok(
        &[
            "kem",
            "decaps",
            "--slot",
            "alice",
            "--ct",
            s(&ct),
            "--into-slot",
            "from-bob",
        ],
        b"",
    );
    let o = sim.ok(&["slot", "list", "--json"], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let algs: Vec<String> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            format!(
                "{}={}",
                x["label"].as_str().unwrap(),
                x["alg"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        algs,
        ["alice=ml-kem-768", "to-alice=aes-256", "from-bob=aes-256"],
        "{v}"
    );
    // The two secrets are one key: encrypt with one slot, decrypt with the other.
    let plain = data(5000);
    let (pin, enc, dec) = (sim.path("m"), sim.path("m.hsm"), sim.path("m.out"));
    std::fs::write(&pin, &plain).unwrap();
    sim.ok(
        &[
            "encrypt",
            "--slot",
            "to-alice",
            "--in",
            s(&pin),
            "--out",
            s(&enc),
        ],
        b"",
    );
    sim.ok(
        &[
            "decrypt",
            "--slot",
            "from-bob",
            "--in",
            s(&enc),
            "--out",
            s(&dec),
        ],
        b"",
    );
    assert!(std::fs::read(&dec).unwrap() == plain);
    // An encapsulation key that fails the modulus check.
    let bad = sim.path("bad.pub");
    std::fs::write(&bad, vec![0xff; 1184]).unwrap();
    let ct2 = sim.path("ct2.bin");
    let o = sim.run(
        &[
            "kem",
            "encaps",
            "--pub",
            s(&bad),
            "--ct",
            s(&ct2),
            "--into-slot",
            "x",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("EK_CHECK_FAILED"),
        "{}",
        text(&o.stderr)
    );
    assert!(!ct2.exists(), "no ciphertext file after a refusal");
}

/// `hsmctl selftest --vectors` runs every ML-KEM vector file through the
/// card: KeyGen, Encaps, Decaps and implicit rejection, 150 vectors.
#[test]
fn selftest_runs_every_ml_kem_vector() {
    let v = vectors();
    let sim = Sim::start("kemkat", true);
    let mut args = vec!["selftest".to_string()];
    for n in [512, 768, 1024] {
        args.push("--vectors".into());
        args.push(
            v.join(format!("mlkem/kat_MLKEM_{n}.rsp"))
                .display()
                .to_string(),
        );
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sim.ok(&args, b"");
    let out = text(&o.stdout);
    assert_eq!(out.lines().last().unwrap(), "150 passed, 0 failed", "{out}");
}

/// The test-mode tools log in like every other command on an initialised
/// card: `selftest --vectors` and `bench` take `--pin-file`, and without
/// it (and no terminal) say so instead of failing job by job.
#[test]
fn test_mode_tools_log_in_on_an_initialised_card() {
    let sim = Sim::start("test-login", true);
    sim.info();
    sim.init_card();
    let user = sim.pin_files().1;
    // The first ten [ENCRYPT] vectors of XTSGenAES256.rsp.
    let xts =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/aes-xts/XTSGenAES256.rsp");
    let text_xts = std::fs::read_to_string(xts).unwrap();
    let cut = text_xts.match_indices("COUNT = ").nth(10).unwrap().0;
    let file = sim.path("xts10.rsp");
    std::fs::write(&file, &text_xts[..cut]).unwrap();

    let o = sim.run(&["selftest", "--vectors", s(&file)], b"");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--pin-file"),
        "{}",
        text(&o.stderr)
    );
    let o = sim.ok(
        &["selftest", "--vectors", s(&file), "--pin-file", s(&user)],
        b"",
    );
    assert_eq!(text(&o.stdout).lines().last(), Some("10 passed, 0 failed"));

    let o = sim.run(&["bench", "--json", "--batch", "20", "--rounds", "1"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--pin-file"),
        "{}",
        text(&o.stderr)
    );
    let args = ["bench", "--json", "--batch", "20", "--rounds", "1"];
    let o = sim.ok(&[&args[..], &["--pin-file", s(&user)]].concat(), b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["aes256_gcm_encrypt_bytes_per_cycle"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert!(v["aes_note"].is_null(), "{v}");
}
