//! The crypto engine through the whole card in rust-hdl's simulator: key
//! load, slot records, AES-GCM both ways, XTS-AES with ciphertext
//! stealing, and the stateful checks. References (RustCrypto) in tests only.

mod bench;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use bench::*;
use hsm_contract::crypto::{
    kcv_plaintext, pad16, policy, GcmParams, KeyAlg, KeyLoadParams, SlotRecord,
};
use hsm_contract::{storage, Completion, Descriptor, Opcode, Status};

/// The key check value of an AES key: its encryption of sixteen 0x01
/// bytes, first three bytes.
fn kcv(key: &[u8]) -> [u8; 3] {
    use aes::cipher::{BlockEncrypt, KeyInit as _};
    let mut block = kcv_plaintext().into();
    match key.len() {
        16 => aes::Aes128::new_from_slice(key)
            .unwrap()
            .encrypt_block(&mut block),
        _ => aes::Aes256::new_from_slice(&key[..32])
            .unwrap()
            .encrypt_block(&mut block),
    }
    [block[0], block[1], block[2]]
}

fn card() -> (Bench, Rings) {
    let mut b = Bench::new(4 << 20, true);
    let r = Rings::setup(&mut b, 3, 3);
    (b, r)
}

#[test]
fn key_load_slot_info_and_clear() {
    let (mut b, mut r) = card();
    let c = load_key(
        &mut b,
        &mut r,
        5,
        KeyAlg::Aes256,
        &pattern(32, 1),
        "disk-key",
    );
    assert_eq!(c.status(), Some(Status::Ok));
    let c = load_key(&mut b, &mut r, 5, KeyAlg::Aes128, &pattern(16, 2), "again");
    assert_eq!(c.status(), Some(Status::SlotOccupied));

    let mut d = desc(Opcode::SlotInfo, 5);
    d.dst_addr = DST_ADDR;
    d.dst_len = 64;
    b.put(DST_ADDR, &[0xee; 64]);
    let c = run1(&mut b, &mut r, d);
    assert_eq!(c.status(), Some(Status::Ok));
    assert_eq!(c.out_len, 64);
    let rec = SlotRecord::from_bytes(&b.get(DST_ADDR, 64).try_into().unwrap());
    assert_eq!(rec.alg, KeyAlg::Aes256 as u8);
    assert_eq!(rec.policy, policy::ENCRYPT | policy::DECRYPT);
    assert_eq!(&rec.label[..8], b"disk-key");
    assert_eq!(rec.invocations, 0);
    assert_eq!(rec.kcv, kcv(&pattern(32, 1)), "key check value");
    assert_eq!(rec.created, 1, "the first key since reset");
    // The record holds no key material.
    let raw = b.get(DST_ADDR, 64);
    assert!(raw
        .windows(4)
        .all(|w| !pattern(32, 1).windows(4).any(|k| k == w)));

    let c = run1(&mut b, &mut r, desc(Opcode::KeyClear, 5));
    assert_eq!(c.status(), Some(Status::Ok));
    let c = run1(&mut b, &mut r, d);
    assert_eq!(
        SlotRecord::from_bytes(&b.get(DST_ADDR, 64).try_into().unwrap()).alg,
        0
    );
    assert_eq!(c.status(), Some(Status::Ok));
}

fn gcm_job(
    op: Opcode,
    slot: u16,
    iv: &[u8],
    tag: Option<&[u8; 16]>,
    aad: &[u8],
    len: usize,
    tag_len: u8,
) -> Descriptor {
    let p = GcmParams {
        iv_len: iv.len() as u16,
        tag_len,
        flags: 0,
        aad_len: aad.len() as u32,
    };
    let mut d = desc(op, slot);
    d.src_addr = SRC_ADDR;
    d.src_len = len as u32;
    d.dst_addr = DST_ADDR;
    d.dst_len = p.dst_len(len as u64, tag.is_some()) as u32;
    d.aux_addr = AUX_ADDR;
    d.aux_len = p.aux_len(tag.is_some()) as u32;
    d.params = p.to_bytes();
    d
}

fn put_aux(b: &mut Bench, iv: &[u8], tag: Option<&[u8; 16]>, aad: &[u8]) {
    let mut aux = iv.to_vec();
    aux.resize(pad16(iv.len() as u64) as usize, 0);
    if let Some(t) = tag {
        aux.extend_from_slice(t);
    }
    aux.extend_from_slice(aad);
    b.put(AUX_ADDR, &aux);
}

#[test]
fn gcm_matches_the_reference_both_ways_and_withholds_on_bad_tag() {
    let (mut b, mut r) = card();
    for (slot, key) in [(1u16, pattern(32, 7)), (2, pattern(16, 8))] {
        let alg = if key.len() == 32 {
            KeyAlg::Aes256
        } else {
            KeyAlg::Aes128
        };
        assert_eq!(
            load_key(&mut b, &mut r, slot, alg, &key, &format!("k{slot}")).status(),
            Some(Status::Ok)
        );
        for (len, aad_len) in [(0usize, 0usize), (1, 0), (16, 16), (100, 20), (257, 3)] {
            let iv = pattern(12, len as u64 + 100);
            let aad = pattern(aad_len, 3);
            let pt = pattern(len, 4 + len as u64);
            let mut want = pt.clone();
            let want_tag: [u8; 16] = if key.len() == 32 {
                aes_gcm::Aes256Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_in_place_detached((&iv[..]).into(), &aad, &mut want)
                    .unwrap()
                    .into()
            } else {
                aes_gcm::Aes128Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_in_place_detached((&iv[..]).into(), &aad, &mut want)
                    .unwrap()
                    .into()
            };
            // Encrypt.
            b.put(SRC_ADDR, &pt);
            put_aux(&mut b, &iv, None, &aad);
            let c = run1(
                &mut b,
                &mut r,
                gcm_job(Opcode::AesGcmEncrypt, slot, &iv, None, &aad, len, 16),
            );
            assert_eq!(c.status(), Some(Status::Ok), "len {len}");
            assert_eq!(c.out_len, len as u32);
            assert_eq!(b.get(DST_ADDR, len), want, "ciphertext, len {len}");
            assert_eq!(
                b.get(DST_ADDR + pad16(len as u64), 16),
                want_tag,
                "tag, len {len}"
            );
            // Decrypt.
            b.put(SRC_ADDR, &want);
            put_aux(&mut b, &iv, Some(&want_tag), &aad);
            b.put(DST_ADDR, &vec![0xcc; len + 16]);
            let c = run1(
                &mut b,
                &mut r,
                gcm_job(
                    Opcode::AesGcmDecrypt,
                    slot,
                    &iv,
                    Some(&want_tag),
                    &aad,
                    len,
                    16,
                ),
            );
            assert_eq!(c.status(), Some(Status::Ok), "decrypt len {len}");
            assert_eq!(b.get(DST_ADDR, len), pt);
            // A flipped tag bit: the plaintext is overwritten.
            let mut bad = want_tag;
            bad[5] ^= 0x10;
            put_aux(&mut b, &iv, Some(&bad), &aad);
            b.put(DST_ADDR, &vec![0xcc; len + 16]);
            let c = run1(
                &mut b,
                &mut r,
                gcm_job(Opcode::AesGcmDecrypt, slot, &iv, Some(&bad), &aad, len, 16),
            );
            assert_eq!(c.status(), Some(Status::AuthFailed), "bad tag len {len}");
            assert_eq!(c.out_len, 0);
            assert_eq!(b.get(DST_ADDR, len), vec![0; len], "plaintext not withheld");
            assert_eq!(
                b.get(DST_ADDR + len as u64, 1),
                [0xcc],
                "wrote past the output"
            );
        }
    }
}

#[test]
fn gcm_long_iv_and_short_tag() {
    let (mut b, mut r) = card();
    let key = pattern(32, 9);
    load_key(&mut b, &mut r, 0, KeyAlg::Aes256, &key, "k");
    let iv = pattern(60, 10);
    let aad = pattern(33, 11);
    let pt = pattern(50, 12);
    type Gcm60 = aes_gcm::AesGcm<aes::Aes256, aes_gcm::aead::consts::U60>;
    let mut want = pt.clone();
    let tag = Gcm60::new_from_slice(&key)
        .unwrap()
        .encrypt_in_place_detached((&iv[..]).into(), &aad, &mut want)
        .unwrap();
    b.put(SRC_ADDR, &pt);
    put_aux(&mut b, &iv, None, &aad);
    b.put(DST_ADDR + 64, &[0xcc; 16]);
    let c = run1(
        &mut b,
        &mut r,
        gcm_job(Opcode::AesGcmEncrypt, 0, &iv, None, &aad, 50, 13),
    );
    assert_eq!(c.status(), Some(Status::Ok));
    assert_eq!(b.get(DST_ADDR, 50), want);
    assert_eq!(b.get(DST_ADDR + 64, 13), tag[..13].to_vec());
    assert_eq!(b.get(DST_ADDR + 64 + 13, 3), vec![0xcc; 3], "tag strobes");
}

/// AES-GCM encryption of `pt` with `slot`'s key and a card IV (written
/// after the ciphertext and tag); its completion.
fn card_iv_encrypt(b: &mut Bench, r: &mut Rings, slot: u16, pt: &[u8]) -> Completion {
    b.put(SRC_ADDR, pt);
    let p = GcmParams {
        iv_len: 0,
        tag_len: 16,
        flags: GcmParams::CARD_IV,
        aad_len: 0,
    };
    let mut d = gcm_job(Opcode::AesGcmEncrypt, slot, &[], None, &[], pt.len(), 16);
    d.params = p.to_bytes();
    d.aux_len = 0;
    d.dst_len = p.dst_len(pt.len() as u64, false) as u32;
    run1(b, r, d)
}

#[test]
fn gcm_card_iv_counts_invocations() {
    let (mut b, mut r) = card();
    let key = pattern(32, 13);
    load_key(&mut b, &mut r, 9, KeyAlg::Aes256, &key, "k");
    let fixed = slot_info(&mut b, &mut r, 9).iv_fixed;
    for n in 0..2u64 {
        let pt = pattern(40, n);
        let c = card_iv_encrypt(&mut b, &mut r, 9, &pt);
        assert_eq!(c.status(), Some(Status::Ok));
        let iv = b.get(DST_ADDR + 64, 12);
        let mut want_iv = fixed.to_vec();
        want_iv.extend_from_slice(&n.to_le_bytes());
        assert_eq!(iv, want_iv, "IV = the key's fixed field || invocation");
        let mut want = pt.clone();
        let tag = aes_gcm::Aes256Gcm::new_from_slice(&key)
            .unwrap()
            .encrypt_in_place_detached((&iv[..]).into(), &[], &mut want)
            .unwrap();
        assert_eq!(b.get(DST_ADDR, 40), want);
        assert_eq!(b.get(DST_ADDR + 48, 16), tag.to_vec());
    }
}

#[test]
fn xts_matches_the_reference_with_stealing() {
    use aes::cipher::KeyInit as _;
    let (mut b, mut r) = card();
    let key = pattern(64, 21);
    assert_eq!(
        load_key(&mut b, &mut r, 4, KeyAlg::XtsAes256, &key, "x").status(),
        Some(Status::Ok)
    );
    let xts = xts_mode::Xts128::new(
        aes::Aes256::new_from_slice(&key[..32]).unwrap(),
        aes::Aes256::new_from_slice(&key[32..]).unwrap(),
    );
    for len in [16usize, 17, 31, 32, 47, 64, 100] {
        let tweak = pattern(16, len as u64);
        let pt = pattern(len, 50 + len as u64);
        let mut want = pt.clone();
        xts.encrypt_sector(&mut want, tweak.clone().try_into().unwrap());
        for (op, input, output) in [
            (Opcode::AesXtsEncrypt, &pt, &want),
            (Opcode::AesXtsDecrypt, &want, &pt),
        ] {
            b.put(SRC_ADDR, input);
            b.put(DST_ADDR, &vec![0xcc; len + 16]);
            let mut d = desc(op, 4);
            d.src_addr = SRC_ADDR;
            d.src_len = len as u32;
            d.dst_addr = DST_ADDR;
            d.dst_len = len as u32;
            d.params = tweak.clone().try_into().unwrap();
            let c = run1(&mut b, &mut r, d);
            assert_eq!(c.status(), Some(Status::Ok), "{op:?} len {len}");
            assert_eq!(&b.get(DST_ADDR, len), output, "{op:?} len {len}");
            assert_eq!(
                b.get(DST_ADDR + len as u64, 1),
                [0xcc],
                "wrote past the unit"
            );
        }
    }
}

#[test]
fn slot_state_checks() {
    let (mut b, mut r) = card();
    load_key(&mut b, &mut r, 1, KeyAlg::XtsAes256, &pattern(64, 1), "x");
    let key = pattern(32, 2);
    let mut xts_weak = key.clone();
    xts_weak.extend_from_slice(&key);
    assert_eq!(
        load_key(&mut b, &mut r, 2, KeyAlg::XtsAes256, &xts_weak, "w").status(),
        Some(Status::WeakKey)
    );
    let iv = [0u8; 12];
    let d = gcm_job(Opcode::AesGcmEncrypt, 1, &iv, None, &[], 16, 16);
    put_aux(&mut b, &iv, None, &[]);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::WrongKeyType));
    let d = gcm_job(Opcode::AesGcmEncrypt, 3, &iv, None, &[], 16, 16);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::SlotEmpty));
    // A key that may only encrypt.
    b.put(KEY_ADDR, &key);
    b.put(LABEL_ADDR, &[0; 32]);
    let mut kl = desc(Opcode::KeyLoad, 6);
    kl.src_addr = KEY_ADDR;
    kl.src_len = 32;
    kl.aux_addr = LABEL_ADDR;
    kl.aux_len = 32;
    kl.params = KeyLoadParams {
        alg: KeyAlg::Aes256 as u8,
        policy: policy::ENCRYPT,
    }
    .to_bytes();
    assert_eq!(run1(&mut b, &mut r, kl).status(), Some(Status::Ok));
    let tag = [0u8; 16];
    put_aux(&mut b, &iv, Some(&tag), &[]);
    let d = gcm_job(Opcode::AesGcmDecrypt, 6, &iv, Some(&tag), &[], 16, 16);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::PolicyDenied));
    // The card keeps serving.
    put_aux(&mut b, &iv, None, &[]);
    let d = gcm_job(Opcode::AesGcmEncrypt, 6, &iv, None, &[], 16, 16);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::Ok));
}

#[test]
fn gcm_cycles_do_not_depend_on_key_or_data() {
    let (mut b, mut r) = card();
    load_key(&mut b, &mut r, 1, KeyAlg::Aes256, &pattern(32, 1), "a");
    load_key(&mut b, &mut r, 2, KeyAlg::Aes256, &pattern(32, 2), "b");
    let mut cycles = Vec::new();
    for (slot, seed) in [(1u16, 1u64), (2, 2), (1, 3)] {
        let iv = pattern(12, seed);
        let aad = pattern(16, seed);
        b.put(SRC_ADDR, &pattern(64, seed));
        put_aux(&mut b, &iv, None, &aad);
        let c = run1(
            &mut b,
            &mut r,
            gcm_job(Opcode::AesGcmEncrypt, slot, &iv, None, &aad, 64, 16),
        );
        assert_eq!(c.status(), Some(Status::Ok));
        cycles.push(c.cycles);
    }
    assert!(cycles.iter().all(|c| *c == cycles[0]), "{cycles:?}");
    eprintln!("64-byte GCM job with 16 bytes of AAD: {} cycles", cycles[0]);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn xts_data_units_of_any_bit_length() {
    // Two records of NIST's XTSGenAES256.rsp (DataUnitLen 250 and 140).
    let cases = [
        (
            250u32,
            "d6b58f6638f64c3692a5b53671c5d51e0abf5169437aacb363fbcfcb91f9f6b0f536d0e12dd662d3151a77524eae5ad5e1b9cf860199981edd09ccf99f86fcd2",
            "f5bf2260198883d03b133810fafec16c",
            "8b81371f87661e49b904c8272def606717c3050c125905d23a2f0c142132ee00",
            "84a7f42be588fa36442d33f098ec56e554a8629d76db46d0c516fca52c9c9000",
        ),
        (
            140,
            "4272a2be234ff9763e4996b1bdcc1b6bfb89fcbaf5097e737ca52c6f1b25807c81de7433738c6d5347740c8626bc9a7f8609a34298e01c3beb4b2fbd5a824284",
            "3034e9dcf27b260970cc555027bc0ec7",
            "77348d634fc8e2b057c940cdf94abda3e050",
            "2c40695ba73014e0db5ecacd54b239557570",
        ),
    ];
    let (mut b, mut r) = card();
    for (slot, (bits, key, tweak, pt, ct)) in cases.iter().enumerate() {
        let slot = slot as u16;
        let (key, tweak, pt, ct) = (hex(key), hex(tweak), hex(pt), hex(ct));
        assert_eq!(
            load_key(
                &mut b,
                &mut r,
                slot,
                KeyAlg::XtsAes256,
                &key,
                &format!("x{slot}")
            )
            .status(),
            Some(Status::Ok)
        );
        let len = pt.len();
        let pad = (8 * len as u32 - bits) as u16;
        for (op, input, output) in [
            (Opcode::AesXtsEncrypt, &pt, &ct),
            (Opcode::AesXtsDecrypt, &ct, &pt),
        ] {
            b.put(SRC_ADDR, input);
            b.put(DST_ADDR, &vec![0xcc; len + 16]);
            let mut d = desc(op, slot);
            d.flags = pad;
            d.src_addr = SRC_ADDR;
            d.src_len = len as u32;
            d.dst_addr = DST_ADDR;
            d.dst_len = len as u32;
            d.params = tweak.clone().try_into().unwrap();
            let c = run1(&mut b, &mut r, d);
            assert_eq!(c.status(), Some(Status::Ok), "{op:?} {bits} bits");
            assert_eq!(&b.get(DST_ADDR, len), output, "{op:?} {bits} bits");
            assert_eq!(
                b.get(DST_ADDR + len as u64, 1),
                [0xcc],
                "wrote past the unit"
            );
        }
    }
}

/// A GCM encryption of `pt` with a caller IV (test mode), for comparing
/// keys the bench cannot see.
fn seal(b: &mut Bench, r: &mut Rings, slot: u16, pt: &[u8]) -> Vec<u8> {
    let iv = [7u8; 12];
    b.put(SRC_ADDR, pt);
    put_aux(b, &iv, None, &[]);
    let d = gcm_job(Opcode::AesGcmEncrypt, slot, &iv, None, &[], pt.len(), 16);
    assert_eq!(run1(b, r, d).status(), Some(Status::Ok));
    b.get(DST_ADDR, pt.len() + 16)
}

#[test]
fn key_generate_fills_a_slot_from_the_drbg() {
    let (mut b, mut r) = card();
    let algs = [
        KeyAlg::Aes128,
        KeyAlg::Aes256,
        KeyAlg::XtsAes256,
        KeyAlg::Aes256,
    ];
    let mut cycles = Vec::new();
    for (i, alg) in algs.iter().enumerate() {
        let slot = 10 + i as u16;
        let c = key_generate(&mut b, &mut r, slot, *alg, &format!("gen-{i}"));
        assert_eq!(c.status(), Some(Status::Ok), "{alg:?}");
        assert_eq!(c.out_len, 0);
        cycles.push((*alg, c.cycles));
        let rec = slot_info(&mut b, &mut r, slot);
        assert_eq!(rec.alg, *alg as u8);
        assert_eq!(rec.policy, policy::ENCRYPT | policy::DECRYPT);
        assert_eq!(&rec.label[..5], format!("gen-{i}").as_bytes());
        assert_eq!(rec.created, i as u64 + 1, "creation counter");
        assert_eq!(rec.invocations, 0);
    }
    // Fixed fields and check values come out different for every key.
    let recs: Vec<_> = (10..14).map(|s| slot_info(&mut b, &mut r, s)).collect();
    for (i, a) in recs.iter().enumerate() {
        for c in &recs[i + 1..] {
            assert_ne!(a.iv_fixed, c.iv_fixed);
            assert_ne!(a.kcv, c.kcv);
        }
    }
    // The two AES-256 keys differ, and each one works both ways.
    let pt = pattern(48, 5);
    let (c1, c2) = (seal(&mut b, &mut r, 11, &pt), seal(&mut b, &mut r, 13, &pt));
    assert_ne!(c1, c2, "two generated keys encrypt alike");
    let iv = [7u8; 12];
    let tag: [u8; 16] = c1[48..].try_into().unwrap();
    b.put(SRC_ADDR, &c1[..48]);
    put_aux(&mut b, &iv, Some(&tag), &[]);
    let d = gcm_job(Opcode::AesGcmDecrypt, 11, &iv, Some(&tag), &[], 48, 16);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::Ok));
    assert_eq!(b.get(DST_ADDR, 48), pt);
    // Same algorithm, same cycles: the count depends on the lengths only.
    assert_eq!(cycles[1].1, cycles[3].1, "{cycles:?}");
    eprintln!("KEY_GENERATE cycles: {cycles:?}");

    // An occupied slot, an ML-KEM algorithm, a bad label length.
    let c = key_generate(&mut b, &mut r, 10, KeyAlg::Aes256, "again");
    assert_eq!(c.status(), Some(Status::SlotOccupied));
    let mut d = desc(Opcode::KeyGenerate, 20);
    d.aux_addr = LABEL_ADDR;
    d.aux_len = 32;
    d.params = KeyLoadParams {
        alg: KeyAlg::MlKem768 as u8,
        policy: policy::DERIVE,
    }
    .to_bytes();
    assert_eq!(d.precheck(false), Some(Status::BadAlgorithm));
    assert_eq!(r.run(&mut b, &[d])[0].status(), Some(Status::BadAlgorithm));
    d.params[0] = KeyAlg::Aes128 as u8;
    d.aux_len = 16;
    assert_eq!(d.precheck(false), Some(Status::BadLength));
    assert_eq!(r.run(&mut b, &[d])[0].status(), Some(Status::BadLength));
    d.aux_len = 32;
    d.src_len = 16;
    assert_eq!(d.precheck(false), Some(Status::ReservedField));
    assert_eq!(r.run(&mut b, &[d])[0].status(), Some(Status::ReservedField));
    assert_eq!(slot_info(&mut b, &mut r, 20).alg, 0, "nothing was stored");
}

/// Labels other than zeros name one key: KEY_LOAD and KEY_GENERATE of a
/// label another slot has are refused and store nothing; the label is free
/// again once that slot is cleared; zero labels may repeat; the check takes
/// the same cycles whatever it finds.
#[test]
fn labels_are_unique_among_the_slots() {
    let (mut b, mut r) = card();
    // An AES-128 key of its own into `slot` under `label`: the status.
    let load = |b: &mut Bench, r: &mut Rings, slot: u16, label: &[u8]| {
        let label = std::str::from_utf8(label).unwrap();
        let key = pattern(16, slot.into());
        load_key(b, r, slot, KeyAlg::Aes128, &key, label)
    };
    // (The card's first key also draws its master key: slot 0 takes that.)
    assert_eq!(load(&mut b, &mut r, 0, b"").status(), Some(Status::Ok));
    let first = load(&mut b, &mut r, 40, b"payroll");
    assert_eq!(first.status(), Some(Status::Ok));
    assert_eq!(
        load(&mut b, &mut r, 2, b"payroll").status(),
        Some(Status::LabelInUse)
    );
    let c = key_generate(&mut b, &mut r, 63, KeyAlg::XtsAes256, "payroll");
    assert_eq!(c.status(), Some(Status::LabelInUse));
    for slot in [2, 63] {
        assert_eq!(
            slot_info(&mut b, &mut r, slot).alg,
            0,
            "a duplicate was stored"
        );
    }
    // A label that differs in its last byte is another label.
    let mut other = [b'x'; 32];
    assert_eq!(load(&mut b, &mut r, 3, &other).status(), Some(Status::Ok));
    other[31] = b'y';
    assert_eq!(load(&mut b, &mut r, 4, &other).status(), Some(Status::Ok));
    // Zero labels repeat.
    for slot in [5, 6] {
        assert_eq!(load(&mut b, &mut r, slot, b"").status(), Some(Status::Ok));
    }
    // Cleared, the label is free; the check takes the same cycles.
    let c = run1(&mut b, &mut r, desc(Opcode::KeyClear, 40));
    assert_eq!(c.status(), Some(Status::Ok));
    let again = load(&mut b, &mut r, 2, b"payroll");
    assert_eq!(again.status(), Some(Status::Ok));
    assert_eq!(
        again.cycles, first.cycles,
        "the label check's cycles depend on the slots"
    );
}

/// The sealed copy of `slot` in the bench's storage, opened with the
/// reference key unwrap (`aes-kw`) under the master key: slot record, then
/// key entry.
fn open_record(store: &Store, slot: u8) -> Vec<u8> {
    let (mk, _) = store.master.expect("a master key");
    let rec = &store.records[&slot];
    assert_eq!(rec[storage::SEALED_BYTES..], [0u8; 8], "the fill");
    aes_kw::KekAes256::from(mk)
        .unwrap_vec(&rec[..storage::SEALED_BYTES])
        .expect("the record opens with the reference")
}

/// The version sealed in slot `slot`'s record of `store`.
fn sealed_version(store: &Store, slot: u8) -> u64 {
    u64::from_le_bytes(open_record(store, slot)[8..16].try_into().unwrap())
}

/// A card whose storage is `store`, booted.
fn reboot(store: Store) -> (Bench, Rings) {
    let mut b = Bench::with_store(4 << 20, true, store);
    let r = Rings::setup(&mut b, 3, 3);
    (b, r)
}

/// Keys survive a power cycle: every key that enters a slot is sealed with
/// AES key wrap under the master key (the reference opens it), comes back
/// after a reset with its record (the invocation counter moved to the new
/// boot epoch) and encrypts as before; a cleared key's record is gone.
#[test]
fn slots_survive_a_power_cycle_sealed_under_the_master_key() {
    let (mut b, mut r) = card();
    assert!(b.store.master.is_none(), "a new card has no master key");
    let key128 = pattern(16, 77);
    assert_eq!(
        load_key(&mut b, &mut r, 3, KeyAlg::Aes128, &key128, "loaded").status(),
        Some(Status::Ok)
    );
    for (slot, alg, label) in [
        (7, KeyAlg::Aes256, "gen-256"),
        (9, KeyAlg::XtsAes256, "gen-xts"),
    ] {
        let c = key_generate(&mut b, &mut r, slot, alg, label);
        assert_eq!(c.status(), Some(Status::Ok), "{alg:?}");
        eprintln!("{alg:?} generated and sealed in {} cycles", c.cycles);
    }
    let slots = [3u16, 7, 9];
    let before: Vec<_> = slots
        .iter()
        .map(|&s| slot_info(&mut b, &mut r, s))
        .collect();
    let pt = pattern(64, 8);
    let ct = seal(&mut b, &mut r, 7, &pt);

    // The master key was drawn at the first seal, epoch 0; one record per key.
    let (_, epoch) = b.store.master.expect("the first key made a master key");
    assert_eq!(epoch, 0);
    assert_eq!(b.store.master_writes, 1);
    assert_eq!(
        b.store.records.keys().copied().collect::<Vec<_>>(),
        [3, 7, 9]
    );
    for (i, &slot) in slots.iter().enumerate() {
        let plain = open_record(&b.store, slot as u8);
        assert_eq!(plain[1], slot as u8, "the slot index");
        assert_eq!(plain[7], storage::SLOT_FORMAT);
        // No invocation counter: the version, which the freshness table
        // names as the floor of a live record.
        let version = u64::from_le_bytes(plain[8..16].try_into().unwrap());
        let entry = b.store.versions[&(slot as u8)];
        assert!(storage::is_live(entry), "slot {slot}: entry {entry:#x}");
        assert_eq!(entry, version | 1 << storage::ENTRY_LIVE_BIT);
        assert_eq!(version, storage::version(0, i as u64), "slot {slot}");
        let mut rec = plain[..64].to_vec();
        rec[1] = 0;
        rec[7] = 0;
        rec[8..16].fill(0);
        assert_eq!(rec, before[i].to_bytes(), "slot {slot}: the record");
        // The key entry: the check value says it is the slot's key.
        let key = &plain[64..];
        let alg = KeyAlg::from_u8(before[i].alg).unwrap();
        let data_key = if alg == KeyAlg::XtsAes256 {
            32
        } else {
            alg.key_bytes()
        };
        assert_eq!(kcv(&key[..data_key]), before[i].kcv);
        if slot == 3 {
            assert_eq!(key[..16], key128);
            assert_eq!(key[16..], [0u8; 48]);
        }
    }

    // Power cycle: the keys are back, the epoch moved on.
    let (mut b, mut r) = reboot(b.store.clone());
    for (i, &slot) in slots.iter().enumerate() {
        let mut want = before[i];
        want.invocations = 1 << storage::EPOCH_SHIFT;
        assert_eq!(slot_info(&mut b, &mut r, slot), want, "slot {slot}");
    }
    assert_eq!(b.store.master.unwrap().1, 1, "the boot epoch");
    assert_eq!(seal(&mut b, &mut r, 7, &pt), ct, "the restored key differs");
    // New keys keep counting creations after the restored ones.
    let c = key_generate(&mut b, &mut r, 11, KeyAlg::Aes128, "after");
    assert_eq!(c.status(), Some(Status::Ok));
    assert_eq!(slot_info(&mut b, &mut r, 11).created, 4);

    // A cleared key's record goes with it.
    let d = desc(Opcode::KeyClear, 3);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::Ok));
    assert!(!b.store.records.contains_key(&3));
    let (mut b, mut r) = reboot(b.store.clone());
    assert_eq!(slot_info(&mut b, &mut r, 3).alg, KeyAlg::Empty as u8);
    assert_eq!(b.store.master.unwrap().1, 2, "the boot epoch");
    assert_eq!(slot_info(&mut b, &mut r, 11).label[..5], *b"after");
}

/// No record rolls back: an older sealed copy of a slot, put back into the
/// store, reads as damaged while its freshness entry is live, and as
/// absent once the slot was cleared; a removed record of a live slot is
/// damaged. What an interrupted seal leaves (the new record committed, its
/// entry not yet written) opens, as does the old record.
#[test]
fn no_record_rolls_back() {
    let (mut b, mut r) = card();
    let gen = |b: &mut Bench, r: &mut Rings, label: &str| {
        let c = key_generate(b, r, 2, KeyAlg::Aes256, label);
        assert_eq!(c.status(), Some(Status::Ok), "{label}");
    };
    let clear = |b: &mut Bench, r: &mut Rings| {
        let c = run1(b, r, desc(Opcode::KeyClear, 2));
        assert_eq!(c.status(), Some(Status::Ok));
    };
    let label_of = |b: &mut Bench, r: &mut Rings| {
        let info = slot_info(b, r, 2);
        (info.alg, info.label[..3].to_vec())
    };
    let aes = KeyAlg::Aes256 as u8;
    gen(&mut b, &mut r, "old");
    let old = b.store.clone();
    clear(&mut b, &mut r);
    gen(&mut b, &mut r, "new");
    let new = b.store.clone();

    // What the contract's rule says of each copy against each table, which
    // the card's answers below follow.
    let floor = |s: &Store| s.versions[&2];
    let (v_old, v_new) = (sealed_version(&old, 2), sealed_version(&new, 2));
    assert!(v_new > v_old);
    assert!(storage::is_live(floor(&new)) && storage::is_fresh(floor(&new), v_new));
    assert!(!storage::is_fresh(floor(&new), v_old));
    assert!(storage::is_fresh(floor(&old), v_new));

    // The old copy put back over the new one: damaged, not the old key.
    let mut rolled = new.clone();
    rolled.records.insert(2, old.records[&2]);
    let (mut b2, mut r2) = reboot(rolled);
    assert_eq!(slot_info(&mut b2, &mut r2, 2).alg, KeyAlg::Damaged as u8);
    // The record removed: damaged, not empty.
    let mut removed = new.clone();
    removed.records.remove(&2);
    let (mut b2, mut r2) = reboot(removed);
    assert_eq!(slot_info(&mut b2, &mut r2, 2).alg, KeyAlg::Damaged as u8);

    // An interrupted seal: the new record with the old table opens, and so
    // does the old record.
    let mut torn = new.clone();
    torn.versions = old.versions.clone();
    let (mut b2, mut r2) = reboot(torn);
    assert_eq!(label_of(&mut b2, &mut r2), (aes, b"new".to_vec()));
    let (mut b2, mut r2) = reboot(old.clone());
    assert_eq!(label_of(&mut b2, &mut r2), (aes, b"old".to_vec()));

    // Cleared: either sealed copy put back reads as an empty slot, which
    // takes a new key.
    let (mut b, mut r) = reboot(new.clone());
    assert_eq!(label_of(&mut b, &mut r), (aes, b"new".to_vec()));
    clear(&mut b, &mut r);
    assert!(!storage::is_live(b.store.versions[&2]));
    let cleared = b.store.clone();
    assert!(!storage::is_fresh(floor(&cleared), v_new));
    for back in [&old, &new] {
        let mut restored = cleared.clone();
        restored.records.insert(2, back.records[&2]);
        let (mut b2, mut r2) = reboot(restored);
        assert_eq!(slot_info(&mut b2, &mut r2, 2).alg, KeyAlg::Empty as u8);
        gen(&mut b2, &mut r2, "3rd");
        assert_eq!(label_of(&mut b2, &mut r2), (aes, b"3rd".to_vec()));
    }
}

/// The boot epochs run out without a card IV coming twice: the last epoch
/// is never used, so a card that reaches it refuses card-IV encryption at
/// that boot and every later one (the vault keeps the epoch), while a key's
/// explicit-IV encryption still works.
#[test]
fn the_last_boot_epoch_is_never_used() {
    let (mut b, mut r) = card();
    let c = key_generate(&mut b, &mut r, 7, KeyAlg::Aes256, "k");
    assert_eq!(c.status(), Some(Status::Ok));
    let last = (1u32 << storage::EPOCH_BITS) - 1;
    let mut store = b.store.clone();
    store.master.as_mut().unwrap().1 = last - 2;
    let pt = pattern(32, 5);
    // Epoch 2^20 - 2, the last one used: card IVs as ever.
    let (mut b, mut r) = reboot(store);
    let c = card_iv_encrypt(&mut b, &mut r, 7, &pt);
    assert_eq!(c.status(), Some(Status::Ok));
    assert_eq!(b.store.master.unwrap().1, last - 1);
    let first = u64::from(last - 1) << storage::EPOCH_SHIFT;
    assert_eq!(b.get(DST_ADDR + 48 + 4, 8), first.to_le_bytes());
    // The next boots reach the last epoch and stay there: refused.
    for boot in 0..2 {
        let (mut b2, mut r2) = reboot(b.store.clone());
        assert_eq!(slot_info(&mut b2, &mut r2, 7).invocations, u64::MAX);
        assert_eq!(b2.store.master.unwrap().1, last, "boot {boot}");
        let c = card_iv_encrypt(&mut b2, &mut r2, 7, &pt);
        assert_eq!(
            c.status(),
            Some(Status::InvocationsExhausted),
            "boot {boot}"
        );
        seal(&mut b2, &mut r2, 7, &pt);
        // No fresh record version either: nothing is sealed.
        let c = key_generate(&mut b2, &mut r2, 8, KeyAlg::Aes128, "late");
        assert_eq!(c.status(), Some(Status::StorageFailed), "boot {boot}");
        assert!(!b2.store.records.contains_key(&8));
        b = b2;
    }
}

/// A boot whose epoch the master-key store did not take opens no record,
/// and seals none: it never draws a second master key over the stored one
/// (which would lose every key), even once the store works again.
#[test]
fn a_boot_without_its_epoch_never_replaces_the_master_key() {
    let (mut b, mut r) = card();
    let c = key_generate(&mut b, &mut r, 7, KeyAlg::Aes256, "k");
    assert_eq!(c.status(), Some(Status::Ok));
    let mut store = b.store.clone();
    store.fail_master_writes = true;
    let (mut b, mut r) = reboot(store);
    // (A job waits for the boot to end.)
    assert_eq!(slot_info(&mut b, &mut r, 7).alg, KeyAlg::Damaged as u8);
    b.store.fail_master_writes = false;
    let before = b.store.clone();
    let c = key_generate(&mut b, &mut r, 8, KeyAlg::Aes128, "new");
    assert_eq!(c.status(), Some(Status::StorageFailed));
    assert_eq!(b.store.master, before.master, "the master key changed");
    assert_eq!(b.store.records, before.records);
    // The next boot stores its epoch and opens the key again.
    let (mut b, mut r) = reboot(b.store.clone());
    assert_eq!(slot_info(&mut b, &mut r, 7).alg, KeyAlg::Aes256 as u8);
}

/// Storage that fails its checks is refused, slot by slot: an altered
/// record, a record moved to another slot's place, records under another
/// master key. Such a slot reads as damaged, serves nothing and can be
/// cleared; the other slots are intact. A failed commit stores nothing.
#[test]
fn storage_that_fails_its_checks_is_refused() {
    let (mut b, mut r) = card();
    for slot in 1..=3u16 {
        let c = key_generate(&mut b, &mut r, slot, KeyAlg::Aes256, &format!("k{slot}"));
        assert_eq!(c.status(), Some(Status::Ok));
    }
    let pt = pattern(32, 1);
    let ct3 = seal(&mut b, &mut r, 3, &pt);
    let good = b.store.clone();

    // A flipped bit in record 1; record 2 copied over slot 4's place.
    let mut bad = good.clone();
    bad.records.get_mut(&1).unwrap()[40] ^= 0x10;
    let moved = bad.records[&2];
    bad.records.insert(4, moved);
    let (mut b, mut r) = reboot(bad);
    let damaged = KeyAlg::Damaged as u8;
    assert_eq!(slot_info(&mut b, &mut r, 1).alg, damaged);
    assert_eq!(slot_info(&mut b, &mut r, 4).alg, damaged);
    assert_eq!(slot_info(&mut b, &mut r, 2).alg, KeyAlg::Aes256 as u8);
    assert_eq!(seal(&mut b, &mut r, 3, &pt), ct3, "an intact slot changed");
    // A damaged slot serves nothing and takes no key until cleared.
    let iv = [7u8; 12];
    b.put(SRC_ADDR, &pt);
    put_aux(&mut b, &iv, None, &[]);
    let d = gcm_job(Opcode::AesGcmEncrypt, 1, &iv, None, &[], pt.len(), 16);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::WrongKeyType));
    let c = key_generate(&mut b, &mut r, 1, KeyAlg::Aes128, "new");
    assert_eq!(c.status(), Some(Status::SlotOccupied));
    let d = desc(Opcode::KeyClear, 1);
    assert_eq!(run1(&mut b, &mut r, d).status(), Some(Status::Ok));
    assert!(!b.store.records.contains_key(&1));
    let c = key_generate(&mut b, &mut r, 1, KeyAlg::Aes128, "new");
    assert_eq!(c.status(), Some(Status::Ok));

    // Another card's master key opens none of them.
    let mut swapped = good.clone();
    swapped.master = Some(([0x5a; 32], 9));
    let (mut b, mut r) = reboot(swapped);
    for slot in 1..=3 {
        assert_eq!(slot_info(&mut b, &mut r, slot).alg, damaged, "slot {slot}");
    }

    // A commit the storage refuses: STORAGE_FAILED, the slot stays empty,
    // its round keys are overwritten, nothing else changes.
    let (mut b, mut r) = reboot(good.clone());
    b.store.fail_commits = true;
    let c = key_generate(&mut b, &mut r, 5, KeyAlg::XtsAes256, "nowhere");
    assert_eq!(c.status(), Some(Status::StorageFailed));
    assert_eq!(slot_info(&mut b, &mut r, 5).alg, KeyAlg::Empty as u8);
    assert_eq!(b.store.records, good.records);
    assert_eq!(seal(&mut b, &mut r, 3, &pt), ct3);
}

/// A master key the store does not keep seals nothing: the first key is
/// refused with STORAGE_FAILED and its slot stays empty; once the store
/// works, the next key makes the master key and is sealed.
#[test]
fn a_master_key_the_store_refuses_seals_nothing() {
    let (mut b, mut r) = card();
    b.store.fail_master_writes = true;
    let c = key_generate(&mut b, &mut r, 2, KeyAlg::Aes256, "first");
    assert_eq!(c.status(), Some(Status::StorageFailed));
    assert_eq!(slot_info(&mut b, &mut r, 2).alg, KeyAlg::Empty as u8);
    assert!(b.store.master.is_none() && b.store.records.is_empty());
    b.store.fail_master_writes = false;
    let c = key_generate(&mut b, &mut r, 2, KeyAlg::Aes256, "first");
    assert_eq!(c.status(), Some(Status::Ok));
    assert!(b.store.master.is_some());
    open_record(&b.store, 2);
}
