//! Zeroization, by CARD_ZEROIZE and by the tamper input, through the whole
//! card in rust-hdl's simulator. After it, every signal and every RAM word
//! of the card is searched for the keys it held (and for the master key,
//! the DRBG's state and the PIN salts and verifiers): none is left, every
//! RAM holds zeros, and the storage holds neither master key nor records.

mod bench;

use bench::scan::{snapshot, BitVec, Needles, Shadow};
use bench::*;
use hsm_contract::auth::{Role, AUTH_RECORD};
use hsm_contract::crypto::{policy, GcmParams, KeyAlg, SlotRecord};
use hsm_contract::kem::{KemParams, KemSet};
use hsm_contract::{regs, storage, Descriptor, Opcode, Status};

fn load(b: &mut Bench, r: &mut Rings, slot: u16, alg: KeyAlg, key: &[u8]) {
    let c = load_key(b, r, slot, alg, key, &format!("key-{slot}"));
    assert_eq!(c.status(), Some(Status::Ok), "{alg:?}");
}

/// An ML-KEM-512 key from a known seed d || z (test mode).
fn kem_keygen(b: &mut Bench, r: &mut Rings, slot: u16, seed: &[u8]) {
    b.put(SRC_ADDR, seed);
    put_label(b, "kem");
    let mut d = desc(Opcode::KemKeygen, slot);
    d.src_addr = SRC_ADDR;
    d.src_len = seed.len() as u32;
    d.dst_addr = DST_ADDR;
    d.dst_len = KemSet::MlKem512.ek_bytes();
    d.aux_addr = LABEL_ADDR;
    d.aux_len = 32;
    d.params = KemParams {
        alg: KeyAlg::MlKem512 as u8,
        policy: policy::DERIVE,
        target: 0,
    }
    .to_bytes();
    assert_eq!(run1(b, r, d).status(), Some(Status::Ok));
}

/// A GCM encryption of `len` bytes with the key in `slot`.
fn gcm(slot: u16, len: usize) -> Descriptor {
    let p = GcmParams {
        iv_len: 12,
        tag_len: 16,
        flags: 0,
        aad_len: 0,
    };
    let mut d = desc(Opcode::AesGcmEncrypt, slot);
    d.src_addr = SRC_ADDR;
    d.src_len = len as u32;
    d.dst_addr = DST_ADDR;
    d.dst_len = p.dst_len(len as u64, false) as u32;
    d.aux_addr = AUX_ADDR;
    d.aux_len = p.aux_len(false) as u32;
    d.params = p.to_bytes();
    d
}

fn slot_alg(b: &mut Bench, r: &mut Rings, slot: u16) -> u8 {
    let mut d = desc(Opcode::SlotInfo, slot);
    d.dst_addr = DST_ADDR;
    d.dst_len = 64;
    assert_eq!(run1(b, r, d).status(), Some(Status::Ok));
    SlotRecord::from_bytes(&b.get(DST_ADDR, 64).try_into().unwrap()).alg
}

fn status_bit(b: &mut Bench, f: &regs::Field) -> bool {
    b.read(&regs::STATUS) & f.mask() != 0
}

/// The card's secrets: three keys, a KEM seed, and everything it has drawn
/// for itself (the master key, the DRBG's working state, the PIN salts and
/// verifiers).
struct Secrets {
    aes: Vec<u8>,
    xts: Vec<u8>,
    kem_seed: Vec<u8>,
}

const SO_PIN: &[u8] = b"officer-pin";
const USER_PIN: &[u8] = b"user-pin";

/// A card in test mode, watched from its first cycle, holding an AES-256
/// key (slot 2, used once), an XTS key pair (slot 5) and an ML-KEM-512 key
/// (slot 9), all sealed under its master key.
fn card_with_keys() -> (Bench, Rings, Secrets) {
    let mut b = Bench::new(4 << 20, true);
    b.shadow = Some(Shadow::default());
    b.reset(true);
    let mut r = Rings::setup(&mut b, 3, 3);
    let s = Secrets {
        aes: pattern(32, 11),
        xts: pattern(64, 12),
        kem_seed: pattern(64, 13),
    };
    load(&mut b, &mut r, 2, KeyAlg::Aes256, &s.aes);
    load(&mut b, &mut r, 5, KeyAlg::XtsAes256, &s.xts);
    kem_keygen(&mut b, &mut r, 9, &s.kem_seed);
    b.put(SRC_ADDR, &pattern(64, 14));
    b.put(AUX_ADDR, &pattern(16, 15));
    assert_eq!(run1(&mut b, &mut r, gcm(2, 64)).status(), Some(Status::Ok));
    // Then the card is initialised, both PINs set, and the user logged in.
    let ok = Some(Status::Ok);
    assert_eq!(card_init(&mut b, &mut r, "zz", SO_PIN, 0).status(), ok);
    assert_eq!(
        login(&mut b, &mut r, Role::SecurityOfficer, SO_PIN).status(),
        ok
    );
    assert_eq!(set_pin(&mut b, &mut r, Role::User, USER_PIN).status(), ok);
    assert_eq!(login(&mut b, &mut r, Role::User, USER_PIN).status(), ok);
    assert_eq!(b.store.records.len(), 4);
    (b, r, s)
}

/// Needles for everything secret the card holds now: its keys, its master
/// key, its DRBG's key and V. They are found before zeroization, so that
/// the search can fail.
fn needles(b: &Bench, s: &Secrets) -> Needles {
    let (mk, _) = b.store.master.expect("the keys made a master key");
    let drbg: Vec<u8> = snapshot(&b.card)
        .into_iter()
        .filter(|(name, _)| {
            name.contains(".drbg.")
                && [".key0.q", ".key1.q", ".v.q"]
                    .iter()
                    .any(|f| name.ends_with(f))
        })
        .flat_map(|(_, bits)| {
            bits.chunks(8)
                .map(|c| c.iter().rev().fold(0u8, |a, b| (a << 1) | *b as u8))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(drbg.len(), 48, "the DRBG's key and V");
    // The auth record's key entry: each role's salt and verifier.
    let sealed = &b.store.records[&(AUTH_RECORD as u8)];
    let plain = aes_kw::KekAes256::from(mk)
        .unwrap_vec(&sealed[..storage::SEALED_BYTES])
        .expect("the auth record opens with the reference");
    let pins = &plain[64..storage::PLAIN_BYTES];
    assert!(pins.chunks(16).all(|c| c.iter().any(|x| *x != 0)));
    let n = Needles::new(&[&s.aes, &s.xts, &s.kem_seed, &mk, &drbg, pins]);
    let hits = n.find(&b.card, b.shadow.as_ref().unwrap());
    for what in ["engine.rk_ram", "vault.rk_ram", ".drbg.", ".auth."] {
        assert!(
            hits.iter().any(|h| h.contains(what)),
            "before zeroization the search finds secrets in {what}: {hits:?}"
        );
    }
    n
}

/// The RAM words a fresh card holds once its power-on self-tests are over
/// (`hsm_hdl::post`: public vectors only).
fn after_self_tests() -> Vec<(String, u64, BitVec)> {
    let mut b = Bench::new(1 << 16, true);
    b.shadow = Some(Shadow::default());
    b.reset(true);
    b.run_until_idle(100_000);
    let words = b.shadow.as_ref().unwrap().nonzero_words();
    assert!(
        words.iter().all(|(path, _, _)| path.contains(".kem.")),
        "the self-tests leave words outside the ML-KEM engine"
    );
    words
}

/// Runs until the card has zeroized and is ready again; the cycles.
fn until_zeroized(b: &mut Bench) -> u64 {
    let start = b.cycle;
    while !(status_bit(b, &regs::status::ZEROIZED) && status_bit(b, &regs::status::RNG_READY)) {
        assert!(b.cycle - start < 100_000, "no zeroization");
    }
    b.run_until_idle(100_000);
    b.cycle - start
}

/// Nothing of the old keys anywhere in the card or its storage; the card
/// serves new rings (returned).
fn assert_nothing_left(b: &mut Bench, n: &Needles) -> Rings {
    assert!(b.store.master.is_none(), "the master key is erased");
    assert!(b.store.records.is_empty(), "every record is erased");
    assert!(
        b.store.versions.is_empty(),
        "the freshness table is cleared"
    );
    let shadow = b.shadow.as_ref().unwrap();
    // The only words left are those every reset's self-tests leave: the
    // ML-KEM test's public NIST vector, in the ML-KEM engine's memories.
    assert!(
        shadow.nonzero_words() == after_self_tests(),
        "RAM words other than the self-tests' public vectors: {:?}",
        shadow.nonzero()
    );
    let hits = n.find(&b.card, shadow);
    assert_eq!(hits, Vec::<String>::new(), "secrets left in the card");
    assert!(!status_bit(b, &regs::status::QUEUE_ENABLED));
    let mut r = Rings::setup(b, 3, 3);
    for slot in [2, 5, 9] {
        assert_eq!(
            slot_alg(b, &mut r, slot),
            KeyAlg::Empty as u8,
            "slot {slot}"
        );
    }
    assert_eq!(
        run1(b, &mut r, gcm(2, 64)).status(),
        Some(Status::SlotEmpty)
    );
    r
}

#[test]
fn card_zeroize_leaves_nothing_in_the_card_or_its_storage() {
    let (mut b, mut r, s) = card_with_keys();
    let n = needles(&b, &s);
    assert!(!status_bit(&mut b, &regs::status::ZEROIZED));
    let (old_mk, _) = b.store.master.unwrap();
    // The user may not zeroize; the officer may.
    let c = run1(&mut b, &mut r, desc(Opcode::CardZeroize, 0));
    assert_eq!(c.status(), Some(Status::RoleDenied));
    let c = login(&mut b, &mut r, Role::SecurityOfficer, SO_PIN);
    assert_eq!(c.status(), Some(Status::Ok));
    let c = run1(&mut b, &mut r, desc(Opcode::CardZeroize, 0));
    assert_eq!(c.status(), Some(Status::Ok));
    let cycles = until_zeroized(&mut b);
    eprintln!("CARD_ZEROIZE: zeroized and ready {cycles} cycles after the completion");
    let mut r = assert_nothing_left(&mut b, &n);

    // The card serves again: its next key makes a new master key.
    load(&mut b, &mut r, 2, KeyAlg::Aes256, &pattern(32, 99));
    assert!(!status_bit(&mut b, &regs::status::ZEROIZED));
    let (mk, _) = b.store.master.unwrap();
    assert_ne!(mk, old_mk);
}

#[test]
fn the_tamper_input_zeroizes_in_the_middle_of_a_job() {
    let (mut b, mut r, s) = card_with_keys();
    let n = needles(&b, &s);
    // A long GCM job, stopped by the tamper input in its middle.
    b.put(SRC_ADDR, &pattern(64 << 10, 16));
    r.submit(&mut b, &[gcm(2, 64 << 10)]);
    for _ in 0..2_000 {
        b.tick();
    }
    assert!(r.reap(&mut b).is_empty(), "the job is still running");
    b.card.tamper.next = true;
    let start = b.cycle;
    // The master-key store is overwritten first.
    while b.store.master.is_some() {
        b.tick();
        assert!(b.cycle - start < 100, "master key not erased");
    }
    let erased = b.cycle - start;
    let cycles = until_zeroized(&mut b);
    eprintln!(
        "tamper: master key erased after {erased} cycles, zeroized and ready after {}",
        erased + cycles
    );
    // The input held high zeroizes once; the job never completes.
    assert!(r.reap(&mut b).is_empty());
    assert_nothing_left(&mut b, &n);
    // Released and asserted again: zeroizes again.
    b.card.tamper.next = false;
    b.tick();
    b.card.tamper.next = true;
    b.tick();
    b.tick();
    assert!(
        !status_bit(&mut b, &regs::status::ZEROIZED),
        "zeroizing again"
    );
    until_zeroized(&mut b);
}
