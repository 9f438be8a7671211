//! AES-GCM, XTS-AES and the key store through the whole stack: driver,
//! vfio-user, Verilator, RTL. The software references are the RustCrypto
//! `aes-gcm`, `aes` and `xts-mode` crates (dev-dependencies only).

use std::time::Instant;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce};
use hsm_contract::crypto::{policy, GcmParams, KeyAlg, KeyLoadParams};
use hsm_contract::{Descriptor, Opcode, Status, DESCRIPTOR_VERSION};
use hsm_driver::{label_bytes, Card, GcmIv, Job, JobOutput, JobResult};
use hsm_tests::{pattern, TestCard};
use rand::{Rng, SeedableRng};

const BOTH: u16 = policy::ENCRYPT | policy::DECRYPT;

fn load(card: &mut Card, slot: u16, alg: KeyAlg, key: &[u8], label: &str) {
    card.key_load(slot, alg, BOTH, label_bytes(label).unwrap(), key)
        .unwrap_or_else(|e| panic!("loading slot {slot}: {e}"));
}

/// Software GCM: (ciphertext, full 16-byte tag).
fn sw_gcm(key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut buf = pt.to_vec();
    let n = Nonce::from_slice(iv);
    let tag = match key.len() {
        16 => Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, aad, &mut buf),
        32 => Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, aad, &mut buf),
        _ => unreachable!("GCM keys are 16 or 32 bytes"),
    }
    .unwrap();
    (buf, tag.to_vec())
}

fn sw_xts(key: &[u8], tweak: [u8; 16], data: &[u8], encrypt: bool) -> Vec<u8> {
    let x = xts_mode::Xts128::new(
        aes::Aes256::new_from_slice(&key[..32]).unwrap(),
        aes::Aes256::new_from_slice(&key[32..]).unwrap(),
    );
    let mut buf = data.to_vec();
    if encrypt {
        x.encrypt_sector(&mut buf, tweak);
    } else {
        x.decrypt_sector(&mut buf, tweak);
    }
    buf
}

fn skip_unless_engines(card: &Card) -> bool {
    let caps = card.capabilities();
    assert!(
        caps.op_aes_gcm && caps.op_aes_xts && caps.key_store,
        "the card does not report AES-GCM, XTS and key slots: {caps:?}"
    );
    true
}

/// One random job and what the software says it must produce.
enum Expect {
    Sealed {
        key: usize,
        iv: Option<Vec<u8>>,
        aad: Vec<u8>,
        pt: Vec<u8>,
        tag_len: usize,
    },
    Opened(Option<Vec<u8>>),
    Xts(Vec<u8>),
}

struct Case {
    slot: u16,
    kind: u8,
    iv: Vec<u8>,
    tag: Vec<u8>,
    aad: Vec<u8>,
    data: Vec<u8>,
    tweak: [u8; 16],
    expect: Expect,
}

impl Case {
    fn job(&self) -> Job<'_> {
        match self.kind {
            0 => Job::GcmEncrypt {
                slot: self.slot,
                iv: if self.iv.is_empty() {
                    GcmIv::Card
                } else {
                    GcmIv::Caller(&self.iv)
                },
                tag_len: self.tag.len() as u8,
                aad: &self.aad,
                plaintext: &self.data,
            },
            1 => Job::GcmDecrypt {
                slot: self.slot,
                iv: &self.iv,
                tag: &self.tag,
                aad: &self.aad,
                ciphertext: &self.data,
            },
            2 => Job::XtsEncrypt {
                slot: self.slot,
                tweak: self.tweak,
                data: &self.data,
                pad_bits: 0,
            },
            _ => Job::XtsDecrypt {
                slot: self.slot,
                tweak: self.tweak,
                data: &self.data,
                pad_bits: 0,
            },
        }
    }
}

/// Lengths skewed small, with a few large ones, up to `max`.
fn length(rng: &mut impl Rng, min: usize, max: usize) -> usize {
    match rng.gen_range(0..100) {
        0 => rng.gen_range(min..=max),
        1..=9 => rng.gen_range(min..=min.max(16 << 10)),
        _ => rng.gen_range(min..=min.max(512)),
    }
}

#[test]
fn ten_thousand_random_jobs_match_the_software() {
    const JOBS: usize = 10_240;
    let sim = TestCard::start(true);
    let mut card = sim.open();
    skip_unless_engines(&card);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0003);
    // Several keys of each kind in scattered slots.
    let gcm_keys: Vec<(u16, Vec<u8>)> = [(3u16, 16usize), (17, 32), (40, 16), (63, 32)]
        .iter()
        .map(|&(s, n)| (s, (0..n).map(|_| rng.gen()).collect()))
        .collect();
    let xts_keys: Vec<(u16, Vec<u8>)> = [5u16, 33]
        .iter()
        .map(|&s| (s, (0..64).map(|_| rng.gen()).collect()))
        .collect();
    for (i, (s, k)) in gcm_keys.iter().enumerate() {
        let alg = if k.len() == 16 {
            KeyAlg::Aes128
        } else {
            KeyAlg::Aes256
        };
        load(&mut card, *s, alg, k, &format!("gcm-{i}"));
    }
    for (i, (s, k)) in xts_keys.iter().enumerate() {
        load(&mut card, *s, KeyAlg::XtsAes256, k, &format!("xts-{i}"));
    }
    // Each key's card-IV fixed field, drawn from the DRBG when it entered.
    let fixed: std::collections::HashMap<u16, [u8; 4]> = gcm_keys
        .iter()
        .map(|(s, _)| (*s, card.slot_info(*s).unwrap().iv_fixed))
        .collect();
    let start = Instant::now();
    let (mut done, mut bytes, mut auth_failures) = (0usize, 0usize, 0usize);
    let mut kinds = [0usize; 4];
    while done < JOBS {
        let mut cases = Vec::new();
        for _ in 0..512 {
            let kind: u8 = rng.gen_range(0..4);
            kinds[kind as usize] += 1;
            let case = if kind < 2 {
                let ki = rng.gen_range(0..gcm_keys.len());
                let (slot, key) = &gcm_keys[ki];
                let pt: Vec<u8> = pattern(length(&mut rng, 0, 64 << 10), rng.gen());
                let aad = pattern(
                    if rng.gen_bool(0.3) {
                        0
                    } else {
                        length(&mut rng, 0, 4 << 10)
                    },
                    rng.gen(),
                );
                let tag_len = if rng.gen_bool(0.8) {
                    16
                } else {
                    rng.gen_range(4..=16)
                };
                if kind == 0 {
                    let iv: Vec<u8> = if rng.gen_bool(0.5) {
                        Vec::new()
                    } else {
                        (0..12).map(|_| rng.gen()).collect()
                    };
                    Case {
                        slot: *slot,
                        kind,
                        iv: iv.clone(),
                        tag: vec![0; tag_len],
                        aad: aad.clone(),
                        data: pt.clone(),
                        tweak: [0; 16],
                        expect: Expect::Sealed {
                            key: ki,
                            iv: (!iv.is_empty()).then_some(iv),
                            aad,
                            pt,
                            tag_len,
                        },
                    }
                } else {
                    let iv: Vec<u8> = (0..12).map(|_| rng.gen()).collect();
                    let (ct, tag) = sw_gcm(key, &iv, &aad, &pt);
                    let mut tag = tag[..tag_len].to_vec();
                    let forged = rng.gen_bool(0.05);
                    if forged {
                        let b = rng.gen_range(0..tag.len());
                        tag[b] ^= 1 << rng.gen_range(0..8);
                    }
                    Case {
                        slot: *slot,
                        kind,
                        iv,
                        tag,
                        aad,
                        data: ct,
                        tweak: [0; 16],
                        expect: Expect::Opened((!forged).then_some(pt)),
                    }
                }
            } else {
                let (slot, key) = &xts_keys[rng.gen_range(0..xts_keys.len())];
                let data = pattern(length(&mut rng, 16, 64 << 10), rng.gen());
                let tweak: [u8; 16] = rng.gen();
                let out = sw_xts(key, tweak, &data, kind == 2);
                Case {
                    slot: *slot,
                    kind,
                    iv: Vec::new(),
                    tag: Vec::new(),
                    aad: Vec::new(),
                    data,
                    tweak,
                    expect: Expect::Xts(out),
                }
            };
            bytes += case.data.len() + case.aad.len();
            cases.push(case);
        }
        let jobs: Vec<Job<'_>> = cases.iter().map(Case::job).collect();
        let results = card.run_jobs(&jobs).unwrap();
        for (c, r) in cases.iter().zip(results) {
            check(c, r, &gcm_keys, &fixed, &mut auth_failures);
        }
        done += cases.len();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{done} random jobs ({} GCM enc, {} GCM dec incl. {auth_failures} forged, {} XTS enc, {} XTS dec), {:.1} MiB, in {secs:.1} s",
        kinds[0],
        kinds[1],
        kinds[2],
        kinds[3],
        bytes as f64 / (1 << 20) as f64
    );
    assert!(done >= 10_000);
    assert!(auth_failures > 0, "some forged tags were tried");
}

fn check(
    c: &Case,
    r: JobResult,
    keys: &[(u16, Vec<u8>)],
    fixed: &std::collections::HashMap<u16, [u8; 4]>,
    auth_failures: &mut usize,
) {
    let what = format!(
        "{} on slot {} with {} bytes",
        r.opcode.name(),
        c.slot,
        c.data.len()
    );
    match &c.expect {
        Expect::Sealed {
            key,
            iv,
            aad,
            pt,
            tag_len,
        } => {
            let JobOutput::GcmSealed(s) = r.into_output().expect(&what) else {
                panic!("{what}: not a sealed output");
            };
            if let Some(iv) = iv {
                assert_eq!(&s.iv, iv, "{what}: caller IV echoed");
            } else {
                assert_eq!(s.iv.len(), 12, "{what}: card IV length");
                assert_eq!(
                    s.iv[..4],
                    fixed[&c.slot],
                    "{what}: card IV fixed field is the key's"
                );
            }
            let (ct, tag) = sw_gcm(&keys[*key].1, &s.iv, aad, pt);
            assert!(s.ciphertext == ct, "{what}: ciphertext differs");
            assert_eq!(s.tag, tag[..*tag_len], "{what}: tag differs");
        }
        Expect::Opened(Some(pt)) => {
            let JobOutput::Plaintext(p) = r.into_output().expect(&what) else {
                panic!("{what}: not a plaintext output");
            };
            assert!(&p == pt, "{what}: plaintext differs");
        }
        Expect::Opened(None) => {
            assert_eq!(r.status(), Status::AuthFailed, "{what}: forged tag");
            let e = r.into_output().unwrap_err();
            assert_eq!(e.status(), Some(Status::AuthFailed));
            *auth_failures += 1;
        }
        Expect::Xts(out) => {
            let JobOutput::Xts(o) = r.into_output().expect(&what) else {
                panic!("{what}: not an XTS output");
            };
            assert!(&o == out, "{what}: output differs");
        }
    }
}

#[test]
fn cycles_depend_only_on_lengths() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    skip_unless_engines(&card);
    load(&mut card, 0, KeyAlg::Aes256, &[0x11; 32], "a");
    load(&mut card, 1, KeyAlg::Aes256, &pattern(32, 2), "b");
    load(&mut card, 2, KeyAlg::Aes128, &pattern(16, 3), "c");
    let mut xk = pattern(64, 4);
    load(&mut card, 3, KeyAlg::XtsAes256, &xk, "x");
    xk[0] ^= 0xff;
    load(&mut card, 4, KeyAlg::XtsAes256, &xk, "y");
    let datas: Vec<Vec<u8>> = vec![vec![0; 1000], vec![0xff; 1000], pattern(1000, 5)];
    let aads: Vec<Vec<u8>> = vec![vec![0; 37], pattern(37, 6), vec![0xaa; 37]];
    let cycles = |card: &mut Card, jobs: &[Job<'_>]| -> Vec<u32> {
        card.run_jobs(jobs)
            .unwrap()
            .into_iter()
            .map(|r| {
                assert_eq!(r.status(), Status::Ok, "{}", r.opcode.name());
                r.cycles()
            })
            .collect()
    };
    // GCM encryption: card IV and caller IV, two AES-256 keys.
    let iv = [9u8; 12];
    for gciv in [GcmIv::Card, GcmIv::Caller(&iv)] {
        let mut jobs = Vec::new();
        for slot in [0u16, 1] {
            for (d, a) in datas.iter().zip(&aads) {
                jobs.push(Job::GcmEncrypt {
                    slot,
                    iv: gciv,
                    tag_len: 16,
                    aad: a,
                    plaintext: d,
                });
            }
        }
        let c = cycles(&mut card, &jobs);
        eprintln!("GCM-256 encrypt of 1000 B + 37 B AAD ({gciv:?}): cycles {c:?}");
        assert!(c.iter().all(|&x| x == c[0]), "{c:?}");
    }
    // GCM decryption with valid tags, different keys and data.
    let mut sealed = Vec::new();
    for slot in [0u16, 1] {
        for (d, a) in datas.iter().zip(&aads) {
            let s = card.gcm_encrypt(slot, GcmIv::Card, 16, a, d).unwrap();
            sealed.push((slot, a.clone(), s));
        }
    }
    let jobs: Vec<Job<'_>> = sealed
        .iter()
        .map(|(slot, a, s)| Job::GcmDecrypt {
            slot: *slot,
            iv: &s.iv,
            tag: &s.tag,
            aad: a,
            ciphertext: &s.ciphertext,
        })
        .collect();
    let good = cycles(&mut card, &jobs);
    eprintln!("GCM-256 decrypt, tag valid: cycles {good:?}");
    assert!(good.iter().all(|&x| x == good[0]), "{good:?}");
    // Forged tags: the failure is not secret (the status says it), but its
    // timing must not depend on the key or the data either.
    let forged: Vec<Vec<u8>> = sealed
        .iter()
        .enumerate()
        .map(|(i, (_, _, s))| {
            let mut t = s.tag.clone();
            t[i % 16] ^= 0x80;
            t
        })
        .collect();
    let jobs: Vec<Job<'_>> = sealed
        .iter()
        .zip(&forged)
        .map(|((slot, a, s), t)| Job::GcmDecrypt {
            slot: *slot,
            iv: &s.iv,
            tag: t,
            aad: a,
            ciphertext: &s.ciphertext,
        })
        .collect();
    let bad: Vec<u32> = card
        .run_jobs(&jobs)
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.status(), Status::AuthFailed);
            r.cycles()
        })
        .collect();
    eprintln!(
        "GCM-256 decrypt, tag forged (AUTH_FAILED): cycles {bad:?} (valid tag: {})",
        good[0]
    );
    assert!(bad.iter().all(|&x| x == bad[0]), "{bad:?}");
    // AES-128 has its own (shorter) schedule but is as constant.
    let jobs: Vec<Job<'_>> = datas
        .iter()
        .zip(&aads)
        .map(|(d, a)| Job::GcmEncrypt {
            slot: 2,
            iv: GcmIv::Card,
            tag_len: 16,
            aad: a,
            plaintext: d,
        })
        .collect();
    let c = cycles(&mut card, &jobs);
    eprintln!("GCM-128 encrypt: cycles {c:?}");
    assert!(c.iter().all(|&x| x == c[0]), "{c:?}");
    // XTS with a partial last block (ciphertext stealing), two keys.
    for len in [1000usize, 4096] {
        let mut jobs = Vec::new();
        let ds: Vec<Vec<u8>> = vec![vec![0; len], vec![0xff; len], pattern(len, 7)];
        for slot in [3u16, 4] {
            for (i, d) in ds.iter().enumerate() {
                jobs.push(Job::XtsEncrypt {
                    slot,
                    tweak: [i as u8; 16],
                    data: d,
                    pad_bits: 0,
                });
                jobs.push(Job::XtsDecrypt {
                    slot,
                    tweak: [i as u8; 16],
                    data: d,
                    pad_bits: 0,
                });
            }
        }
        let c = cycles(&mut card, &jobs);
        eprintln!("XTS-256 {len} B encrypt/decrypt: cycles {c:?}");
        let enc: Vec<u32> = c.iter().step_by(2).copied().collect();
        let dec: Vec<u32> = c.iter().skip(1).step_by(2).copied().collect();
        assert!(enc.iter().all(|&x| x == enc[0]), "{enc:?}");
        assert!(dec.iter().all(|&x| x == dec[0]), "{dec:?}");
    }
}

/// Run one raw descriptor, then check the card still serves a good job.
fn raw_status(card: &mut Card, d: Descriptor) -> Status {
    hsm_tests::run_raw(card, d).status
}

fn gcm_desc(buf: &hsm_driver::DmaBuffer, slot: u16, p: GcmParams, decrypt: bool) -> Descriptor {
    Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: if decrypt {
            Opcode::AesGcmDecrypt
        } else {
            Opcode::AesGcmEncrypt
        } as u8,
        src_addr: buf.iova(),
        src_len: 32,
        aux_addr: buf.iova() + 1024,
        aux_len: p.aux_len(decrypt) as u32,
        dst_addr: buf.iova() + 2048,
        dst_len: p.dst_len(32, decrypt) as u32,
        key_slot: slot,
        params: p.to_bytes(),
        ..Descriptor::default()
    }
}

#[test]
fn every_error_status_is_reachable_and_the_card_keeps_serving() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    skip_unless_engines(&card);
    load(&mut card, 0, KeyAlg::Aes256, &pattern(32, 1), "gcm");
    load(&mut card, 1, KeyAlg::XtsAes256, &pattern(64, 2), "xts");
    card.key_load(
        2,
        KeyAlg::Aes128,
        policy::ENCRYPT,
        label_bytes("enc-only").unwrap(),
        &pattern(16, 3),
    )
    .unwrap();
    let buf = card.alloc_dma(4096).unwrap();
    let ok_params = GcmParams {
        iv_len: 12,
        tag_len: 16,
        flags: 0,
        aad_len: 0,
    };
    let mut seen = Vec::new();
    let mut expect = |card: &mut Card, what: &str, got: Status, want: Status| {
        assert_eq!(got, want, "{what}");
        card.gcm_encrypt(0, GcmIv::Card, 16, b"", b"still serving")
            .unwrap_or_else(|e| panic!("after {what}: {e}"));
        seen.push(want);
    };
    let st = |r: hsm_driver::Result<()>| r.unwrap_err().status().expect("a card status");

    // MISALIGNED: the driver's own buffers are aligned; a raw descriptor.
    let mut d = gcm_desc(&buf, 0, ok_params, false);
    d.src_addr += 1;
    let s = raw_status(&mut card, d);
    expect(&mut card, "misaligned src", s, Status::Misaligned);
    // BAD_LENGTH: aux_len inconsistent with the GCM parameters.
    let mut d = gcm_desc(&buf, 0, ok_params, false);
    d.aux_len += 16;
    let s = raw_status(&mut card, d);
    expect(&mut card, "aux_len", s, Status::BadLength);
    let s = st(card.xts_encrypt(1, [0; 16], &[0; 15]).map(|_| ()));
    expect(&mut card, "XTS unit of 15 bytes", s, Status::BadLength);
    let s = st(card.key_load(9, KeyAlg::Aes128, BOTH, label_bytes("s").unwrap(), &[1; 15]));
    expect(&mut card, "15-byte AES-128 key", s, Status::BadLength);
    // BAD_IV_LENGTH: 129 bytes, and 0 without CARD_IV.
    for iv_len in [0u16, 129] {
        let p = GcmParams {
            iv_len,
            ..ok_params
        };
        let s = raw_status(&mut card, gcm_desc(&buf, 0, p, false));
        expect(
            &mut card,
            &format!("IV of {iv_len} bytes"),
            s,
            Status::BadIvLength,
        );
    }
    // BAD_TAG_LENGTH.
    let s = st(card.gcm_encrypt(0, GcmIv::Card, 3, b"", b"x").map(|_| ()));
    expect(&mut card, "tag of 3 bytes", s, Status::BadTagLength);
    // BAD_SLOT, SLOT_EMPTY, SLOT_OCCUPIED.
    let s = st(card.gcm_encrypt(64, GcmIv::Card, 16, b"", b"x").map(|_| ()));
    expect(&mut card, "slot 64", s, Status::BadSlot);
    let s = st(card.gcm_encrypt(30, GcmIv::Card, 16, b"", b"x").map(|_| ()));
    expect(&mut card, "empty slot", s, Status::SlotEmpty);
    let s = st(card.key_load(0, KeyAlg::Aes128, BOTH, label_bytes("o").unwrap(), &[1; 16]));
    expect(
        &mut card,
        "load into an occupied slot",
        s,
        Status::SlotOccupied,
    );
    // WRONG_KEY_TYPE both ways.
    let s = st(card.gcm_encrypt(1, GcmIv::Card, 16, b"", b"x").map(|_| ()));
    expect(&mut card, "GCM with an XTS key", s, Status::WrongKeyType);
    let s = st(card.xts_encrypt(0, [0; 16], &[0; 16]).map(|_| ()));
    expect(&mut card, "XTS with a GCM key", s, Status::WrongKeyType);
    // POLICY_DENIED: decrypting with an encrypt-only key.
    let sealed = card.gcm_encrypt(2, GcmIv::Card, 16, b"", b"abc").unwrap();
    let s = st(card
        .gcm_decrypt(2, &sealed.iv, &sealed.tag, b"", &sealed.ciphertext)
        .map(|_| ()));
    expect(
        &mut card,
        "decrypt with an encrypt-only key",
        s,
        Status::PolicyDenied,
    );
    // WEAK_KEY: an XTS pair with equal halves.
    let s = st(card.key_load(
        9,
        KeyAlg::XtsAes256,
        BOTH,
        label_bytes("w").unwrap(),
        &[7; 64],
    ));
    expect(&mut card, "XTS key with equal halves", s, Status::WeakKey);
    // BAD_ALGORITHM: a raw KEY_LOAD with algorithm code 9.
    let d = Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: Opcode::KeyLoad as u8,
        src_addr: buf.iova(),
        src_len: 16,
        aux_addr: buf.iova() + 1024,
        aux_len: 32,
        key_slot: 9,
        params: KeyLoadParams { alg: 9, policy: 3 }.to_bytes(),
        ..Descriptor::default()
    };
    let s = raw_status(&mut card, d);
    expect(&mut card, "algorithm 9", s, Status::BadAlgorithm);
    // AUTH_FAILED, with no plaintext handed back.
    let sealed = card
        .gcm_encrypt(0, GcmIv::Card, 16, b"a", b"secret")
        .unwrap();
    let mut tag = sealed.tag.clone();
    tag[15] ^= 1;
    let e = card
        .gcm_decrypt(0, &sealed.iv, &tag, b"a", &sealed.ciphertext)
        .unwrap_err();
    expect(
        &mut card,
        "forged tag",
        e.status().unwrap(),
        Status::AuthFailed,
    );
    // The slot survived all that, and clearing works.
    assert_eq!(
        card.gcm_decrypt(0, &sealed.iv, &sealed.tag, b"a", &sealed.ciphertext)
            .unwrap(),
        b"secret"
    );
    card.key_clear(0).unwrap();
    let s = st(card.gcm_encrypt(0, GcmIv::Card, 16, b"", b"x").map(|_| ()));
    assert_eq!(s, Status::SlotEmpty, "a cleared slot is empty");
    assert_eq!(card.slot_info(0).unwrap().alg, KeyAlg::Empty as u8);
    eprintln!("statuses seen: {seen:?}");

    // NOT_TEST_MODE comes from an operational card.
    drop(card);
    drop(sim);
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let s = st(card.key_load(0, KeyAlg::Aes128, BOTH, label_bytes("k").unwrap(), &[1; 16]));
    assert_eq!(s, Status::NotTestMode);
    card.nop().unwrap();
    let s = st(card
        .gcm_encrypt(0, GcmIv::Caller(&[0; 12]), 16, b"", b"x")
        .map(|_| ()));
    assert_eq!(s, Status::NotTestMode, "caller IVs only in test mode");
    let s = st(card.gcm_encrypt(0, GcmIv::Card, 12, b"", b"x").map(|_| ()));
    assert_eq!(s, Status::BadTagLength, "short tags only in test mode");
    card.nop().unwrap();
}

#[test]
fn slots_hold_metadata_and_count_card_ivs() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    skip_unless_engines(&card);
    assert_eq!(
        card.list_slots()
            .unwrap()
            .iter()
            .filter(|s| !s.is_empty())
            .count(),
        0
    );
    card.key_load(
        12,
        KeyAlg::Aes256,
        policy::ENCRYPT,
        label_bytes("backups-2025").unwrap(),
        &pattern(32, 12),
    )
    .unwrap();
    for _ in 0..3 {
        card.gcm_encrypt(12, GcmIv::Card, 16, b"", b"m").unwrap();
    }
    let slots = card.list_slots().unwrap();
    let e = &slots[12];
    assert_eq!(e.alg(), Some(KeyAlg::Aes256));
    assert_eq!(e.label(), "backups-2025");
    assert_eq!(e.record.policy, policy::ENCRYPT);
    assert_eq!(e.record.invocations, 3);
    assert_eq!(card.resolve_slot("backups-2025").unwrap(), 12);
    // Card IVs never repeat: the counter follows the slot's invocations.
    let a = card.gcm_encrypt(12, GcmIv::Card, 16, b"", b"m").unwrap();
    let b = card.gcm_encrypt(12, GcmIv::Card, 16, b"", b"m").unwrap();
    assert_ne!(a.iv, b.iv);
    assert_ne!(a.ciphertext, b.ciphertext);
    assert_eq!(a.iv[..4], e.record.iv_fixed, "the key's own fixed field");
    assert_eq!(u64::from_le_bytes(a.iv[4..].try_into().unwrap()), 3);
    assert_eq!(e.record.kcv, sw_kcv(&pattern(32, 12)), "key check value");
    assert_eq!(e.record.created, 1, "the first key since reset");
}

/// An AES key's check value: the first 3 bytes of its encryption of
/// `kcv_plaintext()` (for XTS, of the data key).
fn sw_kcv(key: &[u8]) -> [u8; 3] {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let mut b = hsm_contract::crypto::kcv_plaintext().into();
    match key.len() {
        16 => aes::Aes128::new_from_slice(key)
            .unwrap()
            .encrypt_block(&mut b),
        _ => aes::Aes256::new_from_slice(&key[..32])
            .unwrap()
            .encrypt_block(&mut b),
    }
    [b[0], b[1], b[2]]
}

/// KEY_GENERATE on an operational card: keys that work, never leave the
/// card, and each get their own check value, fixed field and creation
/// number; labels and slots as the contract says.
#[test]
fn generated_keys_work_and_stay_in_the_card() {
    let sim = TestCard::start(false);
    let mut card = sim.open_user();
    skip_unless_engines(&card);
    let mut recs = Vec::new();
    for (i, (slot, alg)) in [
        (2u16, KeyAlg::Aes128),
        (5, KeyAlg::Aes256),
        (9, KeyAlg::XtsAes256),
        (11, KeyAlg::Aes256),
    ]
    .into_iter()
    .enumerate()
    {
        let label = format!("generated-{i}");
        card.key_generate(
            slot,
            alg,
            policy::ENCRYPT | policy::DECRYPT,
            label_bytes(&label).unwrap(),
        )
        .unwrap();
        let r = card.slot_info(slot).unwrap();
        assert_eq!(r.alg, alg as u8);
        assert_eq!(r.created, i as u64 + 1);
        assert_eq!(card.resolve_slot(&label).unwrap(), slot);
        recs.push(r);
    }
    for (i, a) in recs.iter().enumerate() {
        for b in &recs[i + 1..] {
            assert_ne!(a.kcv, b.kcv);
            assert_ne!(a.iv_fixed, b.iv_fixed);
        }
    }
    // GCM both ways with each AES key; the two AES-256 keys differ.
    let pt = pattern(1000, 3);
    let mut sealed = Vec::new();
    for slot in [2u16, 5, 11] {
        let s = card
            .gcm_encrypt(slot, GcmIv::Card, 16, b"hdr", &pt)
            .unwrap();
        assert_eq!(s.iv[..4], card.slot_info(slot).unwrap().iv_fixed);
        assert_eq!(
            card.gcm_decrypt(slot, &s.iv, &s.tag, b"hdr", &s.ciphertext)
                .unwrap(),
            pt
        );
        sealed.push(s);
    }
    let e = card
        .gcm_decrypt(
            11,
            &sealed[1].iv,
            &sealed[1].tag,
            b"hdr",
            &sealed[1].ciphertext,
        )
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(Status::AuthFailed),
        "two generated keys are the same"
    );
    // XTS both ways.
    let unit = pattern(4096, 4);
    let c = card.xts_encrypt(9, [1; 16], &unit).unwrap();
    assert_ne!(c, unit);
    assert_eq!(card.xts_decrypt(9, [1; 16], &c).unwrap(), unit);
    // An occupied slot is refused and keeps its key.
    let e = card
        .key_generate(
            5,
            KeyAlg::Aes128,
            policy::ENCRYPT,
            label_bytes("x").unwrap(),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::SlotOccupied), "{e}");
    let now = card.slot_info(5).unwrap();
    assert_eq!(
        (now.alg, now.kcv, now.created, now.iv_fixed, now.label),
        (
            recs[1].alg,
            recs[1].kcv,
            recs[1].created,
            recs[1].iv_fixed,
            recs[1].label
        )
    );
    // No plaintext key path exists in operational mode.
    let e = card
        .key_load(
            20,
            KeyAlg::Aes256,
            policy::ENCRYPT,
            label_bytes("y").unwrap(),
            &[7; 32],
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::NotTestMode), "{e}");
}

/// The card itself keeps labels unique (whatever the host checks): a key
/// generated, loaded or made by ML-KEM under a label another slot has is
/// refused with LABEL_IN_USE and stores nothing.
#[test]
fn the_card_refuses_a_label_in_use() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    skip_unless_engines(&card);
    let l = label_bytes("only-one").unwrap();
    card.key_generate(4, KeyAlg::Aes256, policy::ENCRYPT, l)
        .unwrap();
    let e = card
        .key_generate(5, KeyAlg::Aes128, policy::ENCRYPT, l)
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::LabelInUse), "{e}");
    let e = card
        .key_load(6, KeyAlg::Aes128, policy::ENCRYPT, l, &[3; 16])
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::LabelInUse), "{e}");
    let set = hsm_contract::kem::KemSet::MlKem512;
    let e = card.kem_keygen(set, 7, policy::DERIVE, l).unwrap_err();
    assert_eq!(e.status(), Some(Status::LabelInUse), "{e}");
    let ek = card
        .kem_keygen(set, 7, policy::DERIVE, label_bytes("kem").unwrap())
        .unwrap();
    let e = card
        .kem_encaps(
            set,
            &ek,
            hsm_driver::KemTarget {
                slot: 8,
                policy: policy::ENCRYPT,
                label: l,
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::LabelInUse), "{e}");
    for slot in [5, 6, 8] {
        assert_eq!(
            card.slot_info(slot).unwrap().alg,
            0,
            "slot {slot} holds a duplicate"
        );
    }
    card.key_clear(4).unwrap();
    card.key_generate(5, KeyAlg::Aes128, policy::ENCRYPT, l)
        .unwrap();
}
