//! The operator's session of issue 5, through `hsmctl` alone, on an
//! operational simulated card with a state directory: initialise the card,
//! set the user's PIN, generate an AES-256 and an ML-KEM-1024 key, encrypt
//! and decrypt a file, restart the card and decrypt again, lock the user
//! out with wrong PINs and unlock it, delete a key, zeroize, and find
//! nothing left. Along the way: no key job runs without a login, and a role
//! runs only its own jobs.

mod common;

use common::{fails, json, s, text, Sim};

#[test]
fn an_operator_session_from_init_to_zeroization() {
    let sim = Sim::start_with_state("operator", false);
    let state = sim.state.clone().unwrap();
    let pin = |name: &str, pin: &str| {
        let p = sim.path(name);
        std::fs::write(&p, format!("{pin}\n")).unwrap();
        p
    };
    let so = pin("so.pin", "correct horse");
    let user = pin("user.pin", "battery staple");
    let wrong = pin("wrong.pin", "not the pin");
    let run = |args: &[&str]| sim.run(args, b"");
    let ok = |args: &[&str]| sim.ok(args, b"");

    // A new card serves no key.
    let v = sim.info();
    assert_eq!(v["auth"]["initialized"], false, "{v}");
    let o = run(&["key", "generate", "--alg", "aes-256", "--label", "disk"]);
    fails(&o, 4, &["NOT_INITIALIZED", "hsmctl card init"]);

    // Initialisation, then the user's PIN, set by the security officer.
    let o = ok(&[
        "card",
        "init",
        "--label",
        "ops-card",
        "--new-pin-file",
        s(&so),
        "--json",
    ]);
    assert_eq!(json(&o)["label"], "ops-card");
    let o = run(&["card", "init", "--label", "again", "--new-pin-file", s(&so)]);
    fails(&o, 4, &["already initialised"]);
    let o = run(&[
        "user",
        "set-pin",
        "--role",
        "user",
        "--pin-file",
        s(&user),
        "--new-pin-file",
        s(&user),
    ]);
    fails(&o, 4, &["PIN_NOT_SET"]);
    ok(&[
        "user",
        "set-pin",
        "--role",
        "so",
        "--pin-file",
        s(&so),
        "--new-pin-file",
        s(&user),
    ]);
    let v = sim.info();
    assert_eq!(v["auth"]["user_pin_set"], true, "{v}");
    let o = ok(&["info"]);
    assert!(
        text(&o.stdout).contains("initialised:      yes, label \"ops-card\""),
        "{}",
        text(&o.stdout)
    );

    // No login, no key job; the officer uses no key.
    let o = run(&["key", "generate", "--alg", "aes-256", "--label", "disk"]);
    fails(&o, 1, &["--pin-file"]);
    let o = run(&[
        "key",
        "generate",
        "--alg",
        "aes-256",
        "--label",
        "disk",
        "--role",
        "so",
        "--pin-file",
        s(&so),
    ]);
    fails(&o, 4, &["ROLE_DENIED"]);

    // The user's keys, a file encrypted and decrypted.
    let as_user = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--pin-file", s(&user)]);
        sim.ok(&a, b"")
    };
    as_user(&["key", "generate", "--alg", "aes-256", "--label", "disk"]);
    let public = sim.path("kem.pem");
    as_user(&[
        "key",
        "generate",
        "--alg",
        "ml-kem-1024",
        "--label",
        "kem",
        "--pub",
        s(&public),
    ]);
    let (pt, enc, dec) = (sim.path("doc"), sim.path("doc.hsm"), sim.path("doc.out"));
    std::fs::write(&pt, b"the minutes of the meeting, classified").unwrap();
    as_user(&[
        "encrypt",
        "--slot",
        "disk",
        "--in",
        s(&pt),
        "--out",
        s(&enc),
    ]);
    as_user(&["decrypt", "--in", s(&enc), "--out", s(&dec)]);
    assert_eq!(std::fs::read(&dec).unwrap(), std::fs::read(&pt).unwrap());
    std::fs::remove_file(&dec).unwrap();

    // A power cycle: the keys, the PINs and the label come back.
    sim.restart();
    as_user(&["decrypt", "--in", s(&enc), "--out", s(&dec)]);
    assert_eq!(std::fs::read(&dec).unwrap(), std::fs::read(&pt).unwrap());
    assert_eq!(sim.info()["auth"]["label"], "ops-card");

    // Five wrong PINs lock the user; the right one then does not help.
    for left in (0..5).rev() {
        let o = run(&["slot", "list", "--pin-file", s(&wrong)]);
        fails(&o, 4, &[&format!("{left} tries left")]);
    }
    let o = run(&["slot", "list", "--pin-file", s(&user)]);
    fails(&o, 4, &["locked", "PIN_LOCKED"]);
    assert_eq!(sim.info()["auth"]["user_locked"], true);
    // The officer unlocks it with a new PIN.
    let user2 = pin("user2.pin", "a new user pin");
    ok(&[
        "user",
        "set-pin",
        "--role",
        "so",
        "--pin-file",
        s(&so),
        "--new-pin-file",
        s(&user2),
    ]);
    let o = run(&["slot", "list", "--pin-file", s(&user)]);
    fails(&o, 4, &["4 tries left"]);
    let o = ok(&["slot", "list", "--json", "--pin-file", s(&user2)]);
    assert_eq!(json(&o)["used"], 2);

    // A key deleted.
    ok(&["slot", "delete", "kem", "--force", "--pin-file", s(&user2)]);
    let o = ok(&["slot", "list", "--json", "--pin-file", s(&user2)]);
    assert_eq!(json(&o)["used"], 1);

    // Zeroization is the officer's.
    let o = run(&[
        "card",
        "zeroize",
        "--force",
        "--role",
        "user",
        "--pin-file",
        s(&user2),
    ]);
    fails(&o, 4, &["ROLE_DENIED"]);
    let o = ok(&["card", "zeroize", "--force", "--json", "--pin-file", s(&so)]);
    assert_eq!(json(&o)["destroyed"], 1);

    // Nothing is left: no key, no PIN, no label, no record in storage.
    let v = sim.info();
    assert_eq!(v["auth"]["initialized"], false, "{v}");
    assert_eq!(v["status"]["zeroized"], true, "{v}");
    let o = ok(&["slot", "list", "--json"]);
    assert_eq!(json(&o)["used"], 0);
    let records: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.starts_with("record-").then_some(n)
        })
        .collect();
    assert!(records.is_empty(), "{records:?}");
    std::fs::remove_file(&dec).unwrap();
    let o = run(&[
        "decrypt",
        "--in",
        s(&enc),
        "--out",
        s(&dec),
        "--pin-file",
        s(&user2),
    ]);
    assert!(!o.status.success(), "decrypted after zeroization");
    assert!(!dec.exists());
    let o = run(&["slot", "list", "--pin-file", s(&so), "--role", "so"]);
    assert!(o.status.success(), "an uninitialised card asks for no PIN");
    // And it is initialised again from scratch.
    ok(&["card", "init", "--label", "fresh", "--new-pin-file", s(&so)]);
    assert_eq!(sim.info()["auth"]["label"], "fresh");
}
