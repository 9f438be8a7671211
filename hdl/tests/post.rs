//! The engines' power-on self-tests (`hsm_hdl::post`), through the whole
//! card in rust-hdl's simulator: they pass and leave nothing behind, each
//! injected fault fails its group alone and blocks the card, the operator's
//! keys come back after them, and the vectors built into the RTL are NIST's.

mod bench;

use bench::*;
use hsm_contract::crypto::{kcv_plaintext, KeyAlg};
use hsm_contract::hash::HashAlg;
use hsm_contract::{regs, Opcode, Status};
use hsm_hdl::post::{self, KatGroup};

/// Cycles from reset until `SELFTEST.DONE`.
fn wait_selftest(b: &mut Bench) -> u64 {
    let start = b.cycle;
    while regs::selftest::DONE.get(b.read(&regs::SELFTEST)) == 0 {
        for _ in 0..256 {
            b.tick();
        }
        assert!(b.cycle - start < 200_000, "the self-tests did not finish");
    }
    b.cycle - start
}

/// A SHA3-256 job of 16 bytes (no login needed).
fn sha3_job(b: &mut Bench, r: &mut Rings) -> Status {
    b.put(SRC_ADDR, &[0x5a; 16]);
    let mut d = desc(HashAlg::Sha3_256.opcode(), 0);
    d.src_addr = SRC_ADDR;
    d.src_len = 16;
    d.dst_addr = DST_ADDR;
    d.dst_len = 32;
    run1(b, r, d).status().unwrap()
}

/// On a fresh card every test passes, no host memory is read or written,
/// the test keys are gone afterwards, and an operator's keys in slots 0
/// and 1 come back after the tests across a power cycle.
#[test]
fn self_tests_pass_and_leave_the_slots_to_the_operator() {
    let mut b = Bench::new(0x80_0000, true);
    let cycles = wait_selftest(&mut b);
    let st = b.read(&regs::SELFTEST);
    assert_eq!(st, regs::selftest::DONE.mask(), "SELFTEST {st:#x}");
    assert_eq!(
        regs::status::SELFTEST_FAILED.get(b.read(&regs::STATUS)),
        0,
        "STATUS.SELFTEST_FAILED"
    );
    assert!(
        b.mem.iter().all(|x| *x == 0),
        "the self-tests wrote host memory"
    );
    println!("power-on self-tests: SELFTEST.DONE {cycles} cycles after reset (DRBG, AES, SHA3, ML-KEM; an empty key store)");

    let mut r = Rings::setup(&mut b, 4, 4);
    for slot in [0, 1] {
        assert_eq!(
            slot_info(&mut b, &mut r, slot).alg,
            KeyAlg::Empty as u8,
            "slot {slot} holds a self-test key"
        );
    }
    assert_eq!(sha3_job(&mut b, &mut r), Status::Ok);

    // The operator's keys in the test keys' slots, across a power cycle.
    let k0 = pattern(32, 1);
    let k1 = pattern(64, 2);
    for (slot, alg, key) in [(0, KeyAlg::Aes256, &k0), (1, KeyAlg::XtsAes256, &k1)] {
        let c = load_key(&mut b, &mut r, slot, alg, key, &format!("op-{slot}"));
        assert_eq!(c.status(), Some(Status::Ok));
    }
    let before = [slot_info(&mut b, &mut r, 0), slot_info(&mut b, &mut r, 1)];
    let mut b = Bench::with_store(0x80_0000, true, b.store.clone());
    wait_selftest(&mut b);
    assert_eq!(b.read(&regs::SELFTEST), regs::selftest::DONE.mask());
    let mut r = Rings::setup(&mut b, 4, 4);
    for (slot, was) in before.iter().enumerate() {
        let now = slot_info(&mut b, &mut r, slot as u16);
        assert_eq!(now.label, was.label, "slot {slot}");
        assert_eq!(now.kcv, was.kcv, "slot {slot}");
        assert_eq!(now.alg, was.alg, "slot {slot}");
    }
}

/// A fault injected into one group's test inputs fails that group alone;
/// the card then refuses jobs with SELFTEST_FAILED, and a reset without the
/// fault clears it.
#[test]
fn an_injected_fault_fails_its_group_and_blocks_the_card() {
    for g in KatGroup::ALL {
        let mut b = Bench::new(0x80_0000, true);
        b.card.selftest_inject.next = (1u64 << g.bit()).into();
        b.reset(true);
        wait_selftest(&mut b);
        let st = b.read(&regs::SELFTEST);
        assert_eq!(
            st,
            regs::selftest::DONE.mask() | (1 << g.bit()),
            "{g:?}: SELFTEST {st:#x}"
        );
        assert_eq!(
            regs::status::SELFTEST_FAILED.get(b.read(&regs::STATUS)),
            1,
            "{g:?}"
        );
        let mut r = Rings::setup(&mut b, 4, 4);
        assert_eq!(sha3_job(&mut b, &mut r), Status::SelfTestFailed, "{g:?}");

        b.card.selftest_inject.next = 0u64.into();
        b.reset(true);
        wait_selftest(&mut b);
        assert_eq!(
            b.read(&regs::SELFTEST),
            regs::selftest::DONE.mask(),
            "{g:?}"
        );
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The records of a NIST response file, as maps of `name = value`.
fn records(file: &str) -> Vec<std::collections::HashMap<String, String>> {
    let path = format!("{}/../../shared/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut cur = std::collections::HashMap::new();
    for line in text.lines().chain(std::iter::once("")) {
        if let Some((k, v)) = line.trim().split_once(" = ") {
            cur.insert(k.to_string(), v.to_string());
        } else if line.trim().is_empty() && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// The record of `file` whose `key` is `value` and that has every other
/// field given.
fn find(file: &str, fields: &[(&str, &[u8])]) {
    let found = records(file).into_iter().any(|r| {
        fields
            .iter()
            .all(|(k, v)| r.get(*k).map(|x| unhex(x)) == Some(v.to_vec()))
    });
    assert!(
        found,
        "no record of {file} has {:?}",
        fields.iter().map(|f| f.0).collect::<Vec<_>>()
    );
}

/// Every vector built into the RTL is a record of NIST's files, and the
/// test keys' check values are those of the `aes` crate.
#[test]
fn built_in_vectors_are_nists() {
    find(
        "aes-gcm/gcmEncryptExtIV256.rsp",
        &[
            ("Key", &post::GCM_KEY),
            ("IV", &post::GCM_IV),
            ("AAD", &post::GCM_AAD),
            ("PT", &post::GCM_PT),
            ("CT", &post::GCM_CT),
            ("Tag", &post::GCM_TAG),
        ],
    );
    find(
        "aes-xts/XTSGenAES256.rsp",
        &[
            ("Key", &post::XTS_KEY),
            ("i", &post::XTS_TWEAK),
            ("CT", &post::XTS_CT),
            ("PT", &post::XTS_PT),
        ],
    );
    find(
        "sha3/SHA3_256ShortMsg.rsp",
        &[("Msg", &post::SHA3_MSG), ("MD", &post::SHA3_MD)],
    );
    let shake = records("shake/SHAKE128VariableOut.rsp")
        .into_iter()
        .any(|r| {
            r.get("Msg").map(|x| unhex(x)) == Some(post::SHAKE_MSG.to_vec())
                && r.get("Output")
                    .is_some_and(|o| unhex(o).starts_with(&post::SHAKE_OUT))
        });
    assert!(shake, "SHAKE128 vector not in SHAKE128VariableOut.rsp");
    find(
        "mlkem/kat_MLKEM_512.rsp",
        &[
            ("pk", &post::MLKEM_EK),
            ("msg", &post::MLKEM_M),
            ("ct", &post::MLKEM_CT),
            ("ss", &post::MLKEM_SS),
        ],
    );
    use aes::cipher::{BlockEncrypt, KeyInit};
    for (key, kcv) in [
        (&post::GCM_KEY[..], post::GCM_KCV),
        (&post::XTS_KEY[..32], post::XTS_KCV),
    ] {
        let mut block = aes::Block::from(kcv_plaintext());
        aes::Aes256::new_from_slice(key)
            .unwrap()
            .encrypt_block(&mut block);
        assert_eq!(block[..3], kcv);
    }
    // The jobs' expected outputs are the vectors' outputs, in the test
    // memory at their destinations.
    let mem = post::kat_memory();
    let at = |addr: u64, len: usize| -> Vec<u8> {
        mem.iter()
            .flatten()
            .copied()
            .skip(addr as usize)
            .take(len)
            .collect()
    };
    for j in post::kat_jobs() {
        let out = at(j.desc.dst_addr, j.out_beats as usize * 16);
        let expected: Vec<u8> = match j.desc.opcode {
            x if x == HashAlg::Sha3_256.opcode() as u8 => post::SHA3_MD.to_vec(),
            x if x == HashAlg::Shake128.opcode() as u8 => post::SHAKE_OUT.to_vec(),
            x if x == Opcode::AesGcmEncrypt as u8 => [&post::GCM_CT[..], &post::GCM_TAG].concat(),
            x if x == Opcode::AesXtsDecrypt as u8 => post::XTS_PT.to_vec(),
            x if x == Opcode::KemEncaps as u8 => [&post::MLKEM_CT[..], &post::MLKEM_SS].concat(),
            x => panic!("unexpected self-test opcode {x:#x}"),
        };
        assert_eq!(out, expected, "{}", j.name);
    }
}
