//! ML-KEM (FIPS 203) through the whole stack: descriptors from the driver's
//! queue, vfio-user, Verilator, RTL. References: the NIST vectors in
//! `../shared/vectors/mlkem` and the RustCrypto `ml-kem` and `aes-gcm`
//! crates (dev-dependencies only).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use hsm_contract::crypto::{policy, GcmParams, KeyAlg, KeyLoadParams};
use hsm_contract::kem::{flags, KemParams, KemSet};
use hsm_contract::{Descriptor, Opcode, Status, DESCRIPTOR_VERSION};
use hsm_driver::{Card, DmaBuffer};
use hsm_tests::TestCard;
use ml_kem::kem::Decapsulate;
use ml_kem::{EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem1024, MlKem512, MlKem768};
use rand::{Rng, RngCore, SeedableRng};

/// Bytes of DMA memory per job of a batch: src, dst and aux regions.
const JOB_BYTES: u64 = 0x4000;
const DST: u64 = 0x1000;
const AUX: u64 = 0x3000;

/// A job's inputs laid out in the DMA buffer at region `i`.
struct Region<'a> {
    buf: &'a mut DmaBuffer,
    i: u64,
}

impl Region<'_> {
    fn base(&self) -> u64 {
        self.i * JOB_BYTES
    }
    fn put(&mut self, off: u64, data: &[u8]) {
        let at = (self.base() + off) as usize;
        self.buf.as_mut_slice()[at..at + data.len()].copy_from_slice(data);
    }
    fn iova(&self, off: u64) -> u64 {
        self.buf.iova() + self.base() + off
    }
}

fn r(buf: &mut DmaBuffer, i: u64) -> Region<'_> {
    Region { buf, i }
}

fn get(buf: &DmaBuffer, i: u64, off: u64, len: usize) -> Vec<u8> {
    let at = (i * JOB_BYTES + off) as usize;
    buf.as_slice()[at..at + len].to_vec()
}

fn label(s: &str) -> [u8; 32] {
    let mut l = [0u8; 32];
    l[..s.len()].copy_from_slice(s.as_bytes());
    l
}

fn kem_desc(op: Opcode, set: KemSet, r: &mut Region, src: &[u8], dst_len: u32) -> Descriptor {
    r.put(0, src);
    Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: op as u8,
        job_id: r.i as u32,
        src_addr: r.iova(0),
        src_len: src.len() as u32,
        dst_addr: r.iova(DST),
        dst_len,
        params: KemParams {
            alg: set.key_alg() as u8,
            policy: 0,
            target: 0,
        }
        .to_bytes(),
        ..Descriptor::default()
    }
}

/// KeyGen_internal(d, z) into `slot`; with `expose` dk_PKE follows ek.
fn keygen(
    set: KemSet,
    r: &mut Region,
    seed: &[u8],
    slot: u16,
    pol: u16,
    expose: bool,
) -> Descriptor {
    let extra = if expose { set.dk_pke_bytes() } else { 0 };
    let mut d = kem_desc(Opcode::KemKeygen, set, r, seed, set.ek_bytes() + extra);
    r.put(AUX, &label(&format!("kem-{slot}")));
    d.aux_addr = r.iova(AUX);
    d.aux_len = 32;
    d.key_slot = slot;
    d.params = KemParams {
        alg: set.key_alg() as u8,
        policy: pol,
        target: 0,
    }
    .to_bytes();
    d.flags = if expose { flags::EXPOSE } else { 0 };
    d
}

/// Encaps_internal(ek, m), K exposed after the ciphertext.
fn encaps_exposed(set: KemSet, r: &mut Region, ek: &[u8], m: &[u8]) -> Descriptor {
    let mut d = kem_desc(
        Opcode::KemEncaps,
        set,
        r,
        &[ek, m].concat(),
        set.ct_bytes() + 32,
    );
    d.flags = flags::EXPOSE;
    d
}

/// Decaps with the key in `slot`, K exposed.
fn decaps_exposed(set: KemSet, r: &mut Region, slot: u16, ct: &[u8]) -> Descriptor {
    let mut d = kem_desc(Opcode::KemDecaps, set, r, ct, 32);
    d.flags = flags::EXPOSE;
    d.key_slot = slot;
    d
}

/// Sets a job's shared secret to go into slot `target` (AES-256, policy
/// `pol`) instead of `dst`.
fn into_slot(mut d: Descriptor, r: &mut Region, target: u8, pol: u16) -> Descriptor {
    let mut p = KemParams::from_bytes(&d.params).unwrap();
    p.target = target;
    p.policy = pol;
    d.params = p.to_bytes();
    d.flags = 0;
    r.put(AUX, &label(&format!("ss-{target}")));
    d.aux_addr = r.iova(AUX);
    d.aux_len = 32;
    if d.opcode == Opcode::KemDecaps as u8 {
        d.dst_addr = 0;
        d.dst_len = 0;
    } else {
        d.dst_len -= 32;
    }
    d
}

fn key_clear(slot: u16, id: u32) -> Descriptor {
    Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: Opcode::KeyClear as u8,
        job_id: id,
        key_slot: slot,
        ..Descriptor::default()
    }
}

fn ok(c: &hsm_driver::JobCompletion, what: &str) {
    assert_eq!(c.status, Status::Ok, "{what}: {c:?}");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Vector {
    z: Vec<u8>,
    d: Vec<u8>,
    msg: Vec<u8>,
    pk: Vec<u8>,
    sk: Vec<u8>,
    ct: Vec<u8>,
    ss: Vec<u8>,
    ct_n: Vec<u8>,
    ss_n: Vec<u8>,
}

fn vectors(set: KemSet) -> Vec<Vector> {
    let n = set.name().trim_start_matches("ml-kem-");
    let path = format!(
        "{}/../../shared/vectors/mlkem/kat_MLKEM_{n}.rsp",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut f = std::collections::HashMap::new();
    for line in text.lines().chain(std::iter::once("")) {
        if let Some((k, v)) = line.split_once(" = ") {
            if k.trim() == "count" {
                continue;
            }
            f.insert(k.trim().to_string(), hex(v.trim()));
        } else if f.contains_key("ss_n") {
            let mut take = |k: &str| f.remove(k).unwrap();
            out.push(Vector {
                z: take("z"),
                d: take("d"),
                msg: take("msg"),
                pk: take("pk"),
                sk: take("sk"),
                ct: take("ct"),
                ss: take("ss"),
                ct_n: take("ct_n"),
                ss_n: take("ss_n"),
            });
            f.clear();
        }
    }
    out
}

/// Every NIST vector of every set: KeyGen_internal (ek and dk_PKE),
/// Encaps_internal (c and K), Decaps (K, and the implicit-rejection K̄ of
/// the invalid ciphertext in the same cycles).
#[test]
fn nist_vectors_pass_through_the_card() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    let mut buf = card.alloc_dma(5 * JOB_BYTES as usize).unwrap();
    for &set in KemSet::ALL {
        let vs = vectors(set);
        assert_eq!(vs.len(), 50, "{} vectors", set.name());
        let dkp = set.dk_pke_bytes() as usize;
        let ekl = set.ek_bytes() as usize;
        for (n, v) in vs.iter().enumerate() {
            let descs = [
                keygen(
                    set,
                    &mut Region {
                        buf: &mut buf,
                        i: 0,
                    },
                    &[&v.d[..], &v.z[..]].concat(),
                    7,
                    policy::DERIVE,
                    true,
                ),
                encaps_exposed(
                    set,
                    &mut Region {
                        buf: &mut buf,
                        i: 1,
                    },
                    &v.pk,
                    &v.msg,
                ),
                decaps_exposed(
                    set,
                    &mut Region {
                        buf: &mut buf,
                        i: 2,
                    },
                    7,
                    &v.ct,
                ),
                decaps_exposed(
                    set,
                    &mut Region {
                        buf: &mut buf,
                        i: 3,
                    },
                    7,
                    &v.ct_n,
                ),
                key_clear(7, 4),
            ];
            let c = card.run_batch(&descs).unwrap();
            let what = format!("{} vector {n}", set.name());
            for x in &c {
                ok(x, &what);
            }
            assert_eq!(get(&buf, 0, DST, ekl), v.pk, "{what}: ek");
            assert_eq!(
                get(&buf, 0, DST + ekl as u64, dkp),
                v.sk[..dkp],
                "{what}: dk_PKE"
            );
            assert_eq!(
                v.sk[dkp..dkp + ekl],
                v.pk,
                "{what}: the vector's dk holds ek"
            );
            assert_eq!(
                v.sk[v.sk.len() - 32..],
                v.z,
                "{what}: the vector's dk ends in z"
            );
            let ctl = set.ct_bytes() as usize;
            assert_eq!(get(&buf, 1, DST, ctl), v.ct, "{what}: ciphertext");
            assert_eq!(get(&buf, 1, DST + ctl as u64, 32), v.ss, "{what}: Encaps K");
            assert_eq!(get(&buf, 2, DST, 32), v.ss, "{what}: Decaps K");
            assert_eq!(get(&buf, 3, DST, 32), v.ss_n, "{what}: implicit rejection");
            assert_eq!(
                c[2].cycles, c[3].cycles,
                "{what}: rejection takes the same cycles"
            );
            assert_eq!(c[0].out_len as usize, ekl + dkp);
            assert_eq!(c[1].out_len as usize, ctl + 32);
            assert_eq!(c[2].out_len, 32);
        }
    }
}

/// Runs `$body` with `$k` the `ml-kem` type of parameter set `$set`.
macro_rules! with_set {
    ($set:expr, $k:ident => $body:expr) => {
        match $set {
            KemSet::MlKem512 => {
                type $k = MlKem512;
                $body
            }
            KemSet::MlKem768 => {
                type $k = MlKem768;
                $body
            }
            KemSet::MlKem1024 => {
                type $k = MlKem1024;
                $body
            }
        }
    };
}

/// The software reference's (dk, ek) for seed (d, z), as bytes.
fn sw_keygen(set: KemSet, d: &[u8; 32], z: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
    with_set!(set, K => {
        let (dk, ek) = K::generate_deterministic(d.into(), z.into());
        (dk.as_bytes().to_vec(), ek.as_bytes().to_vec())
    })
}

/// The software reference's (c, K) = Encaps_internal(ek, m).
fn sw_encaps(set: KemSet, ek: &[u8], m: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
    with_set!(set, K => {
        let ek = <K as KemCore>::EncapsulationKey::from_bytes(ek.try_into().unwrap());
        let (ct, k) = ek.encapsulate_deterministic(m.into()).unwrap();
        (ct.to_vec(), k.to_vec())
    })
}

/// The software reference's K = Decaps(dk, c).
fn sw_decaps(set: KemSet, dk: &[u8], ct: &[u8]) -> Vec<u8> {
    with_set!(set, K => {
        let dk = <K as KemCore>::DecapsulationKey::from_bytes(dk.try_into().unwrap());
        dk.decapsulate(ct.try_into().unwrap()).unwrap().to_vec()
    })
}

fn rounds() -> usize {
    std::env::var("HSM_KEM_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

/// Random rounds per set against the `ml-kem` crate: KeyGen (ek and
/// dk_PKE), Encaps with random m (c and K), Decaps of that ciphertext and
/// of a random one (implicit rejection), in batches of eight rounds.
fn random_rounds(set: KemSet) {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    const BATCH: usize = 8;
    let mut buf = card.alloc_dma(4 * BATCH * JOB_BYTES as usize).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b656d ^ set.k() as u64);
    let ekl = set.ek_bytes() as usize;
    let ctl = set.ct_bytes() as usize;
    let dkp = set.dk_pke_bytes() as usize;
    let n = rounds();
    let mut done = 0;
    while done < n {
        let b = BATCH.min(n - done);
        let mut want = Vec::new();
        let mut descs = Vec::new();
        for j in 0..b {
            let (mut d, mut z, mut m) = ([0u8; 32], [0u8; 32], [0u8; 32]);
            rng.fill_bytes(&mut d);
            rng.fill_bytes(&mut z);
            rng.fill_bytes(&mut m);
            let mut bad = vec![0u8; ctl];
            rng.fill_bytes(&mut bad);
            let (dk, ek) = sw_keygen(set, &d, &z);
            let (ct, k) = sw_encaps(set, &ek, &m);
            let k_bad = sw_decaps(set, &dk, &bad);
            let slot = j as u16;
            let i = 4 * j as u64;
            descs.push(keygen(
                set,
                &mut Region { buf: &mut buf, i },
                &[d, z].concat(),
                slot,
                policy::DERIVE,
                true,
            ));
            descs.push(encaps_exposed(
                set,
                &mut Region {
                    buf: &mut buf,
                    i: i + 1,
                },
                &ek,
                &m,
            ));
            descs.push(decaps_exposed(
                set,
                &mut Region {
                    buf: &mut buf,
                    i: i + 2,
                },
                slot,
                &ct,
            ));
            descs.push(decaps_exposed(
                set,
                &mut Region {
                    buf: &mut buf,
                    i: i + 3,
                },
                slot,
                &bad,
            ));
            want.push((dk, ek, ct, k, k_bad));
        }
        for (j, d) in descs.iter_mut().enumerate() {
            d.job_id = j as u32;
        }
        let c = card.run_batch(&descs).unwrap();
        for (j, (dk, ek, ct, k, k_bad)) in want.iter().enumerate() {
            let what = format!("{} round {}", set.name(), done + j);
            let i = 4 * j as u64;
            for x in &c[4 * j..4 * j + 4] {
                ok(x, &what);
            }
            assert_eq!(&get(&buf, i, DST, ekl), ek, "{what}: ek");
            assert_eq!(
                get(&buf, i, DST + ekl as u64, dkp),
                dk[..dkp],
                "{what}: dk_PKE"
            );
            assert_eq!(&get(&buf, i + 1, DST, ctl), ct, "{what}: c");
            assert_eq!(
                &get(&buf, i + 1, DST + ctl as u64, 32),
                k,
                "{what}: Encaps K"
            );
            assert_eq!(&get(&buf, i + 2, DST, 32), k, "{what}: Decaps K");
            assert_eq!(
                &get(&buf, i + 3, DST, 32),
                k_bad,
                "{what}: implicit rejection"
            );
            // (Cycles differ between keys with rho, which is public: the
            // SampleNTT rejections. For one key they do not move.)
            assert_eq!(
                c[4 * j + 2].cycles,
                c[4 * j + 3].cycles,
                "{what}: implicit rejection takes the same cycles"
            );
        }
        let clears: Vec<_> = (0..b as u16).map(|s| key_clear(s, s as u32)).collect();
        for x in card.run_batch(&clears).unwrap() {
            ok(&x, "clear");
        }
        done += b;
    }
}

#[test]
fn random_rounds_match_ml_kem_512() {
    random_rounds(KemSet::MlKem512);
}

#[test]
fn random_rounds_match_ml_kem_768() {
    random_rounds(KemSet::MlKem768);
}

#[test]
fn random_rounds_match_ml_kem_1024() {
    random_rounds(KemSet::MlKem1024);
}

/// Encrypts `pt` with AES-256-GCM under the card's key in `slot` (caller
/// IV, test mode) and returns ciphertext || tag.
fn card_gcm(card: &mut Card, buf: &mut DmaBuffer, slot: u16, iv: &[u8; 12], pt: &[u8]) -> Vec<u8> {
    let mut r = Region { buf, i: 4 };
    r.put(0, pt);
    r.put(AUX, iv);
    let p = GcmParams {
        iv_len: 12,
        tag_len: 16,
        flags: 0,
        aad_len: 0,
    };
    let d = Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: Opcode::AesGcmEncrypt as u8,
        job_id: 99,
        src_addr: r.iova(0),
        src_len: pt.len() as u32,
        dst_addr: r.iova(DST),
        dst_len: p.dst_len(pt.len() as u64, false) as u32,
        aux_addr: r.iova(AUX),
        aux_len: p.aux_len(false) as u32,
        key_slot: slot,
        params: p.to_bytes(),
        ..Descriptor::default()
    };
    let c = card.run_batch(&[d]).unwrap();
    ok(&c[0], "GCM with the shared secret");
    let n = pt.len() as u64;
    [
        get(buf, 4, DST, pt.len()),
        get(buf, 4, DST + ((n + 15) & !15), 16),
    ]
    .concat()
}

fn sw_gcm(key: &[u8], iv: &[u8; 12], pt: &[u8]) -> Vec<u8> {
    let c = aes_gcm::Aes256Gcm::new_from_slice(key).unwrap();
    let mut b = pt.to_vec();
    let tag = c.encrypt_in_place_detached(iv.into(), b"", &mut b).unwrap();
    [b, tag.to_vec()].concat()
}

/// The shared secret becomes an AES-256 key in the card: an encapsulation
/// by the `ml-kem` crate against a card-generated key decapsulates in the
/// card to the secret the crate holds, and a card encapsulation against a
/// crate key gives the crate's decapsulation; checked by encrypting with
/// the card's new slot and with `aes-gcm` under the crate's secret.
#[test]
fn secrets_cross_between_the_card_and_the_ml_kem_crate() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    let mut buf = card.alloc_dma(5 * JOB_BYTES as usize).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let iv = [9u8; 12];
    let pt = b"the shared secret is an AES-256 key in the card";
    let both = policy::ENCRYPT | policy::DECRYPT;
    for &set in KemSet::ALL {
        // Card key, crate encapsulation, card decapsulation into slot 11.
        let mut seed = [0u8; 64];
        rng.fill_bytes(&mut seed);
        let c = card
            .run_batch(&[keygen(
                set,
                &mut Region {
                    buf: &mut buf,
                    i: 0,
                },
                &seed,
                10,
                policy::DERIVE,
                false,
            )])
            .unwrap();
        ok(&c[0], "keygen");
        assert_eq!(c[0].out_len, set.ek_bytes(), "no dk_PKE without EXPOSE");
        let ek = get(&buf, 0, DST, set.ek_bytes() as usize);
        let mut m = [0u8; 32];
        rng.fill_bytes(&mut m);
        let (ct, k) = sw_encaps(set, &ek, &m);
        let mut r = Region {
            buf: &mut buf,
            i: 1,
        };
        let d = decaps_exposed(set, &mut r, 10, &ct);
        let d = into_slot(d, &mut r, 11, both);
        ok(&card.run_batch(&[d]).unwrap()[0], "decaps into a slot");
        let info = card.slot_info(11).unwrap();
        assert_eq!(info.alg, KeyAlg::Aes256 as u8);
        assert_eq!(info.policy, both);
        assert_eq!(
            card_gcm(&mut card, &mut buf, 11, &iv, pt),
            sw_gcm(&k, &iv, pt)
        );
        // Crate key, card encapsulation into slot 12, crate decapsulation.
        let (mut d2, mut z2) = ([0u8; 32], [0u8; 32]);
        rng.fill_bytes(&mut d2);
        rng.fill_bytes(&mut z2);
        let (dk, ek2) = sw_keygen(set, &d2, &z2);
        let mut r = Region {
            buf: &mut buf,
            i: 2,
        };
        let e = encaps_exposed(set, &mut r, &ek2, &m);
        let e = into_slot(e, &mut r, 12, both);
        let c = card.run_batch(&[e]).unwrap();
        ok(&c[0], "encaps into a slot");
        assert_eq!(c[0].out_len, set.ct_bytes());
        let ct2 = get(&buf, 2, DST, set.ct_bytes() as usize);
        let k2 = sw_decaps(set, &dk, &ct2);
        assert_eq!(
            card_gcm(&mut card, &mut buf, 12, &iv, pt),
            sw_gcm(&k2, &iv, pt)
        );
        for s in [10, 11, 12] {
            ok(&card.run_batch(&[key_clear(s, 0)]).unwrap()[0], "clear");
        }
    }
}

fn expect(card: &mut Card, d: Descriptor, want: Status, what: &str) {
    let c = card.run_batch(&[d]).unwrap();
    assert_eq!(c[0].status, want, "{what}: {d:?}");
    if want != Status::Ok {
        assert_eq!(c[0].out_len, 0, "{what}: a failed job reports no output");
    }
    assert_eq!(
        card.nop().unwrap().status,
        Status::Ok,
        "{what}: the card serves on"
    );
}

/// Every malformed ML-KEM job gets its own status, and the card keeps
/// serving.
#[test]
fn malformed_kem_jobs_get_their_own_status() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    let mut buf = card.alloc_dma(5 * JOB_BYTES as usize).unwrap();
    let set = KemSet::MlKem768;
    let seed = [5u8; 64];
    // A good key in slot 2, and an AES key in slot 3.
    let kg = keygen(set, &mut r(&mut buf, 0), &seed, 2, policy::DERIVE, false);
    expect(&mut card, kg, Status::Ok, "keygen");
    let ek = get(&buf, 0, DST, set.ek_bytes() as usize);
    let aes = {
        let mut rr = r(&mut buf, 1);
        rr.put(0, &[1; 32]);
        rr.put(AUX, &label("aes"));
        Descriptor {
            version: DESCRIPTOR_VERSION,
            opcode: Opcode::KeyLoad as u8,
            src_addr: rr.iova(0),
            src_len: 32,
            aux_addr: rr.iova(AUX),
            aux_len: 32,
            key_slot: 3,
            params: KeyLoadParams {
                alg: KeyAlg::Aes256 as u8,
                policy: policy::DERIVE | policy::ENCRYPT,
            }
            .to_bytes(),
            ..Descriptor::default()
        }
    };
    expect(&mut card, aes, Status::Ok, "key load");
    let m = [3u8; 32];
    let (ct, _) = sw_encaps(set, &ek, &m);

    expect(
        &mut card,
        kg,
        Status::SlotOccupied,
        "keygen into an occupied slot",
    );
    let mut d = kg;
    d.src_len = 32;
    expect(&mut card, d, Status::BadLength, "a short seed");
    let mut d = encaps_exposed(set, &mut r(&mut buf, 1), &ek, &m);
    d.src_len -= 16;
    expect(&mut card, d, Status::BadLength, "a short ek");
    let mut d = decaps_exposed(set, &mut r(&mut buf, 1), 2, &ct);
    d.params[0] = 9;
    expect(
        &mut card,
        d,
        Status::BadAlgorithm,
        "an unknown parameter set",
    );
    // The modulus check: coefficient 0 of t̂_0 set to 4095.
    let mut bad = ek.clone();
    bad[0] = 0xff;
    bad[1] |= 0x0f;
    let d = encaps_exposed(set, &mut r(&mut buf, 1), &bad, &m);
    expect(&mut card, d, Status::EkCheckFailed, "ek modulus check");
    let d = decaps_exposed(set, &mut r(&mut buf, 1), 4, &ct);
    expect(&mut card, d, Status::SlotEmpty, "decaps from an empty slot");
    let d = decaps_exposed(set, &mut r(&mut buf, 1), 3, &ct);
    expect(&mut card, d, Status::WrongKeyType, "decaps with an AES key");
    let d = decaps_exposed(KemSet::MlKem1024, &mut r(&mut buf, 1), 2, &[0; 1568]);
    expect(
        &mut card,
        d,
        Status::WrongKeyType,
        "decaps with another set's key",
    );
    let d = decaps_exposed(set, &mut r(&mut buf, 1), 70, &ct);
    expect(&mut card, d, Status::BadSlot, "decaps from slot 70");
    let mut rr = r(&mut buf, 1);
    let d = decaps_exposed(set, &mut rr, 2, &ct);
    let d = into_slot(d, &mut rr, 3, policy::ENCRYPT);
    expect(
        &mut card,
        d,
        Status::SlotOccupied,
        "a secret into an occupied slot",
    );
    // A key whose policy does not allow DERIVE.
    let kg5 = keygen(set, &mut r(&mut buf, 0), &seed, 5, policy::ENCRYPT, false);
    expect(&mut card, kg5, Status::Ok, "keygen without derive");
    let d = decaps_exposed(set, &mut r(&mut buf, 1), 5, &ct);
    expect(&mut card, d, Status::PolicyDenied, "decaps without derive");
    // DMA faults: nothing is stored, and the slot stays empty.
    let mut d = keygen(set, &mut r(&mut buf, 0), &seed, 6, policy::DERIVE, false);
    d.src_addr = 0x7000_0000_0000;
    expect(
        &mut card,
        d,
        Status::DmaReadError,
        "keygen from unmapped memory",
    );
    let mut d = keygen(set, &mut r(&mut buf, 0), &seed, 6, policy::DERIVE, false);
    d.dst_addr = 0x7000_0000_0000;
    expect(
        &mut card,
        d,
        Status::DmaWriteError,
        "keygen to unmapped memory",
    );
    let mut rr = r(&mut buf, 1);
    let d = decaps_exposed(set, &mut rr, 2, &ct);
    let mut d = into_slot(d, &mut rr, 6, policy::ENCRYPT);
    d.src_addr = 0x7000_0000_0000;
    expect(
        &mut card,
        d,
        Status::DmaReadError,
        "decaps from unmapped memory",
    );
    assert_eq!(card.slot_info(6).unwrap().alg, KeyAlg::Empty as u8);
    card.clear_faults().unwrap();
    let d = keygen(set, &mut r(&mut buf, 0), &seed, 6, policy::DERIVE, false);
    expect(
        &mut card,
        d,
        Status::Ok,
        "keygen into the slot the failures left empty",
    );
    // Outside test mode: no host randomness, no EXPOSE; Decaps works.
    drop(card);
    drop(sim);
    let sim = TestCard::start(false);
    let mut card = sim.open_user();
    let mut buf = card.alloc_dma(5 * JOB_BYTES as usize).unwrap();
    let kg = keygen(set, &mut r(&mut buf, 0), &seed, 2, policy::DERIVE, false);
    expect(
        &mut card,
        kg,
        Status::NotTestMode,
        "keygen in operational mode",
    );
    let d = encaps_exposed(set, &mut r(&mut buf, 1), &ek, &m);
    expect(
        &mut card,
        d,
        Status::NotTestMode,
        "encaps in operational mode",
    );
    let mut rr = r(&mut buf, 1);
    let d = encaps_exposed(set, &mut rr, &ek, &m);
    let d = into_slot(d, &mut rr, 4, policy::ENCRYPT);
    expect(
        &mut card,
        d,
        Status::NotTestMode,
        "encaps into a slot in operational mode",
    );
    let mut rr = r(&mut buf, 1);
    let d = decaps_exposed(set, &mut rr, 2, &ct);
    let d = into_slot(d, &mut rr, 4, policy::ENCRYPT);
    expect(
        &mut card,
        d,
        Status::SlotEmpty,
        "decaps in operational mode reaches the key store",
    );
}

/// Constant time through the whole stack: Encaps cycles do not depend on m;
/// Decaps cycles do not depend on the ciphertext or on the key.
#[test]
fn kem_cycles_do_not_depend_on_secrets() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    let mut buf = card.alloc_dma(5 * JOB_BYTES as usize).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    for &set in KemSet::ALL {
        let mut seed = [0u8; 64];
        rng.fill_bytes(&mut seed);
        let kg = keygen(
            set,
            &mut Region {
                buf: &mut buf,
                i: 0,
            },
            &seed,
            1,
            policy::DERIVE,
            false,
        );
        ok(&card.run_batch(&[kg]).unwrap()[0], "keygen");
        let ek = get(&buf, 0, DST, set.ek_bytes() as usize);
        let mut enc = std::collections::HashSet::new();
        let mut dec = std::collections::HashSet::new();
        for _ in 0..6 {
            let m: [u8; 32] = rng.gen();
            let e = encaps_exposed(
                set,
                &mut Region {
                    buf: &mut buf,
                    i: 1,
                },
                &ek,
                &m,
            );
            let c = card.run_batch(&[e]).unwrap();
            ok(&c[0], "encaps");
            enc.insert(c[0].cycles);
            let ct = get(&buf, 1, DST, set.ct_bytes() as usize);
            let mut junk = vec![0u8; ct.len()];
            rng.fill_bytes(&mut junk);
            for c_in in [&ct, &junk] {
                let d = decaps_exposed(
                    set,
                    &mut Region {
                        buf: &mut buf,
                        i: 2,
                    },
                    1,
                    c_in,
                );
                let c = card.run_batch(&[d]).unwrap();
                ok(&c[0], "decaps");
                dec.insert(c[0].cycles);
            }
        }
        println!(
            "{}: encaps cycles {enc:?}, decaps cycles {dec:?}",
            set.name()
        );
        assert_eq!(
            enc.len(),
            1,
            "{}: Encaps cycles vary with m: {enc:?}",
            set.name()
        );
        assert_eq!(
            dec.len(),
            1,
            "{}: Decaps cycles vary with c: {dec:?}",
            set.name()
        );
        ok(&card.run_batch(&[key_clear(1, 0)]).unwrap()[0], "clear");
    }
}

/// Whether the AES-256 keys in slots `a` and `b` are one key: what GCM
/// encrypts with `a` (card IV, operational mode), `b` decrypts.
fn same_key(card: &mut Card, a: u16, b: u16) -> bool {
    let pt = b"one shared secret in two slots";
    let s = card
        .gcm_encrypt(a, hsm_driver::GcmIv::Card, 16, b"", pt)
        .unwrap();
    match card.gcm_decrypt(b, &s.iv, &s.tag, b"", &s.ciphertext) {
        Ok(p) => p == pt,
        Err(e) if e.status() == Some(Status::AuthFailed) => false,
        Err(e) => panic!("decrypting with slot {b}: {e}"),
    }
}

/// On a card in operational mode, KeyGen and Encaps take their randomness
/// from the card's DRBG: two key generations give different keys, an
/// encapsulation into one slot and a decapsulation into another give one
/// AES-256 key, and a card key works with the `ml-kem` crate. Randomness
/// from the host is refused there (NOT_TEST_MODE) and stores nothing.
#[test]
fn keygen_and_encaps_use_the_cards_drbg_in_operational_mode() {
    let sim = TestCard::start(false);
    let mut card = sim.open_user();
    assert!(!card.test_mode().unwrap());
    let both = policy::ENCRYPT | policy::DECRYPT;
    let target = |slot: u16| hsm_driver::KemTarget {
        slot,
        policy: both,
        label: label(&format!("k-{slot}")),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xd4b6);
    for &set in KemSet::ALL {
        let ek1 = card
            .kem_keygen(set, 1, policy::DERIVE, label("alice"))
            .unwrap();
        let ek2 = card
            .kem_keygen(set, 2, policy::DERIVE, label("bob"))
            .unwrap();
        assert_eq!(ek1.len(), set.ek_bytes() as usize);
        assert_ne!(ek1, ek2, "{}: two key generations, one key", set.name());
        // Card encapsulation into slot 3, card decapsulation into slot 4.
        let ct = card.kem_encaps(set, &ek1, target(3)).unwrap();
        let ct_again = card.kem_encaps(set, &ek1, target(5)).unwrap();
        assert_ne!(ct, ct_again, "{}: m is fresh every time", set.name());
        card.kem_decaps(set, 1, &ct, target(4)).unwrap();
        assert!(same_key(&mut card, 3, 4), "{}", set.name());
        assert!(!same_key(&mut card, 3, 5), "{}", set.name());
        // The other key decapsulates to an unrelated secret (implicit
        // rejection).
        card.kem_decaps(set, 2, &ct, target(6)).unwrap();
        assert!(!same_key(&mut card, 3, 6), "{}", set.name());
        // The card's key is a FIPS 203 key: the ml-kem crate encapsulates
        // to it, and the card decapsulates to the crate's secret.
        let mut m = [0u8; 32];
        rng.fill_bytes(&mut m);
        let (sw_ct, k) = sw_encaps(set, &ek2, &m);
        card.kem_decaps(set, 2, &sw_ct, target(7)).unwrap();
        let pt = b"checked against aes-gcm";
        let s = card
            .gcm_encrypt(7, hsm_driver::GcmIv::Card, 16, b"", pt)
            .unwrap();
        let iv: [u8; 12] = s.iv.clone().try_into().unwrap();
        assert_eq!(
            [s.ciphertext, s.tag].concat(),
            sw_gcm(&k, &iv, pt),
            "{}",
            set.name()
        );
        for slot in 1..=7 {
            card.key_clear(slot).unwrap();
        }
    }
    // Host randomness outside test mode: refused, nothing stored.
    let set = KemSet::MlKem512;
    let e = card
        .kem_keygen_internal(set, 1, policy::DERIVE, label("kat"), &[7; 64])
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::NotTestMode), "{e}");
    let ek = card
        .kem_keygen(set, 2, policy::DERIVE, label("real"))
        .unwrap();
    let e = card.kem_encaps_internal(set, &ek, &[7; 32]).unwrap_err();
    assert_eq!(e.status(), Some(Status::NotTestMode), "{e}");
    let (seed, m) = ([7u8; 64], [7u8; 32]);
    let results = card
        .run_jobs(&[
            hsm_driver::Job::KemKeygen {
                set,
                slot: 1,
                policy: policy::DERIVE,
                label: label("kat"),
                seed: Some(&seed),
                expose: false,
            },
            hsm_driver::Job::KemEncaps {
                set,
                ek: &ek,
                m: Some(&m),
                target: Some(target(3)),
            },
        ])
        .unwrap();
    for r in &results {
        assert_eq!(r.status(), Status::NotTestMode, "{:?}", r.opcode);
    }
    for slot in [1, 3] {
        assert_eq!(card.slot_info(slot).unwrap().alg, KeyAlg::Empty as u8);
    }
}
