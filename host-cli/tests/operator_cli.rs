//! The operator's session of issue 5, through `hsmctl` alone, on an
//! operational simulated card with a state directory: initialise the card,
//! set the user's PIN, generate an AES-256 and an ML-KEM-1024 key, encrypt
//! and decrypt a file, restart the card and decrypt again, lock the user
//! out with wrong PINs and unlock it, delete a key, zeroize, and find
//! nothing left. Along the way: no key job runs without a login, and a role
//! runs only its own jobs.

mod common;

use common::{fails, json, lasting_slots, s, text, Sim};

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

    // A PIN from standard input (`--pin-file -`), as a script would pass it.
    let o = sim.ok(
        &["slot", "list", "--pin-file", "-", "--json"],
        b"battery staple\n",
    );
    let listed = json(&o).to_string();
    assert!(
        listed.contains("\"disk\"") && listed.contains("\"kem\""),
        "{listed}"
    );

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

/// The auth state as `hsmctl info --json` reports it.
fn auth(sim: &Sim) -> serde_json::Value {
    sim.info()["auth"].clone()
}

/// `hsmctl ARGS --device CARD` in a plain child process (for a worker
/// thread, which cannot share the `Sim`): whether it succeeded, or `None`
/// when the card was gone.
fn hsmctl(device: &str, args: &[&str]) -> Option<bool> {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hsmctl"))
        .args(args)
        .args(["--device", device])
        .output()
        .ok()?;
    let err = text(&o.stderr);
    (o.status.success() || err.contains("tries left")).then_some(o.status.success())
}

/// SIGKILL at any moment of a stream of PIN operations loses nothing: the
/// officer setting the user's PIN (a new auth record), and the user's logins
/// with a wrong PIN and with the right one (each seals the failure counter
/// before the comparison and again after it). After every restart the card
/// is initialised and whole, its label and the officer's PIN are unchanged,
/// the user's PIN is the old one or the new one, no counter is past what
/// one interrupted login can leave, and the key made before is intact.
#[test]
fn a_card_killed_during_pin_operations_keeps_its_label_pins_and_keys() {
    let sim = Sim::start_with_state("pin-kill", false);
    sim.info();
    sim.init_card();
    let (so, user_a) = sim.pin_files();
    let user_b = sim.path("user-b.pin");
    std::fs::write(&user_b, "user-b-pin\n").unwrap();
    let wrong = sim.path("wrong.pin");
    std::fs::write(&wrong, "not-the-pin\n").unwrap();
    sim.ok(
        &["key", "generate", "--alg", "aes-256", "--label", "keep"],
        b"",
    );
    let list =
        |pin: &std::path::Path| sim.run(&["slot", "list", "--json", "--pin-file", s(pin)], b"");
    let kept = lasting_slots(&json(&list(&user_a)));
    let mut current = user_a.clone();
    for round in 0..4u64 {
        let device = sim.device.clone();
        let paths = [so.clone(), user_a.clone(), user_b.clone(), wrong.clone()];
        let killed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = std::sync::Arc::clone(&killed);
        let worker = std::thread::spawn(move || {
            let [so, a, b, wrong] = paths.each_ref().map(|p| s(p).to_owned());
            let mut done = 0;
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break; // not on the restarted card
                }
                let new = if i % 2 == 0 { &b } else { &a };
                let steps: [&[&str]; 3] = [
                    &["user", "set-pin", "--role", "so", "--pin-file", &so],
                    &["slot", "list", "--pin-file", &wrong],
                    &["slot", "list", "--pin-file", new],
                ];
                for (k, step) in steps.iter().enumerate() {
                    let mut args = step.to_vec();
                    if k == 0 {
                        args.extend(["--new-pin-file", new]);
                    }
                    match hsmctl(&device, &args) {
                        Some(ok) => assert_eq!(ok, k != 1, "{args:?}"),
                        None => return done,
                    }
                    done += 1;
                }
            }
            done
        });
        std::thread::sleep(std::time::Duration::from_millis(200 + 170 * round));
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
        sim.kill_and_restart();
        let done = worker.join().unwrap();
        let v = auth(&sim);
        assert_eq!(v["initialized"], true, "round {round}: {v}");
        assert_eq!(v["damaged"], false, "round {round}: {v}");
        assert_eq!(v["label"], "test-card", "round {round}: {v}");
        assert_eq!(v["user_pin_set"], true, "round {round}: {v}");
        // A kill between a login's two seals leaves one failure counted;
        // the user's wrong login before it may have left another.
        assert!(
            v["so_failures"].as_u64().unwrap() <= 1,
            "round {round}: {v}"
        );
        assert!(
            v["user_failures"].as_u64().unwrap() <= 2,
            "round {round}: {v}"
        );
        // The user's PIN is one of the two; the other is merely wrong.
        let (right, other) = if list(&user_a).status.success() {
            (&user_a, &user_b)
        } else {
            (&user_b, &user_a)
        };
        let o = list(right);
        assert!(o.status.success(), "round {round}: {}", text(&o.stderr));
        assert_eq!(lasting_slots(&json(&o)), kept, "round {round}");
        fails(&list(other), 4, &["tries left"]);
        // The officer's PIN still works, and resets the user's counter.
        sim.ok(
            &["user", "set-pin", "--role", "so", "--pin-file", s(&so)]
                .into_iter()
                .chain(["--new-pin-file", s(right)])
                .collect::<Vec<_>>(),
            b"",
        );
        eprintln!(
            "round {round}: killed after {done} operations, user PIN {}",
            if *right == current {
                "unchanged"
            } else {
                "changed"
            }
        );
        current = right.clone();
    }
}

/// SIGKILL during `hsmctl card init` leaves the card either initialised,
/// with its label and the officer's PIN, or not initialised at all (and then
/// initialisable), never half of it.
#[test]
fn a_card_killed_during_initialisation_is_initialised_or_new() {
    let sim = Sim::start_with_state("init-kill", false);
    sim.info();
    let so = sim.path("so.pin");
    std::fs::write(&so, "officer-pin\n").unwrap();
    let mut seen = [0u32; 2];
    // Kills 5 ms apart, from before the init job to after hsmctl is done
    // (it takes some 40 ms here).
    for round in 0..10u64 {
        let label = format!("card-{round}");
        let device = sim.device.clone();
        let args = ["card", "init", "--label", &label, "--new-pin-file", s(&so)].map(str::to_owned);
        let worker = std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            hsmctl(&device, &args)
        });
        std::thread::sleep(std::time::Duration::from_millis(10 + 5 * round));
        sim.kill_and_restart();
        let _ = worker.join().unwrap();
        let v = auth(&sim);
        assert_eq!(v["damaged"], false, "round {round}: {v}");
        if v["initialized"] == true {
            seen[1] += 1;
            assert_eq!(v["label"], label.as_str(), "round {round}: {v}");
            assert_eq!(v["user_pin_set"], false, "round {round}: {v}");
        } else {
            seen[0] += 1;
            assert_eq!(v["label"], "", "round {round}: {v}");
            sim.ok(
                &["card", "init", "--label", &label, "--new-pin-file", s(&so)],
                b"",
            );
        }
        // The officer's PIN works: it zeroizes the card for the next round.
        let o = sim.ok(
            &["card", "zeroize", "--force", "--json", "--pin-file", s(&so)],
            b"",
        );
        assert_eq!(json(&o)["zeroized"], true);
    }
    eprintln!(
        "kills left the card new {} times, initialised {} times",
        seen[0], seen[1]
    );
}

/// A card killed while `hsmctl encrypt` streams a file through it: hsmctl
/// fails at once (not at the queue's 30 s timeout) with the "device
/// unavailable" exit code and says the card stopped answering, and leaves
/// neither the output file nor its temporary file behind.
#[test]
fn encryption_on_a_card_that_dies_fails_at_once_and_leaves_no_output() {
    let sim = Sim::start("enc-kill", false);
    sim.info();
    sim.init_card();
    let user = sim.pin_files().1;
    sim.ok(
        &["key", "generate", "--alg", "aes-256", "--label", "disk"],
        b"",
    );
    let out_dir = sim.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let (pt, enc) = (sim.path("big.img"), out_dir.join("big.img.hsm"));
    std::fs::write(&pt, vec![0x5a; 64 << 20]).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hsmctl"))
        .args([
            "encrypt",
            "--slot",
            "disk",
            "--in",
            s(&pt),
            "--out",
            s(&enc),
        ])
        .args(["--device", &sim.device, "--pin-file", s(&user)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let killed = std::time::Instant::now();
    sim.kill_and_restart();
    let o = child.wait_with_output().unwrap();
    let after = killed.elapsed();
    let err = fails(&o, 3, &["stopped answering"]);
    assert!(
        after < std::time::Duration::from_secs(5),
        "hsmctl took {after:?} to notice"
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{err}");
    eprintln!("hsmctl failed within {after:?} of the kill (the restart included): {err}");
}
