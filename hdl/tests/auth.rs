//! Card initialisation, roles and PINs through the whole card in rust-hdl's
//! simulator: which jobs each login lets run, the failure counter written
//! before the comparison, lockout and unlock, a login's cycles whatever the
//! PIN, the auth record across a power cycle, and a damaged record.

mod bench;

use bench::*;
use hsm_contract::auth::{AuthInfo, Role, AUTH_RECORD};
use hsm_contract::crypto::KeyAlg;
use hsm_contract::{regs, Completion, Descriptor, Opcode, Status};

fn info(b: &mut Bench, r: &mut Rings) -> AuthInfo {
    let mut d = desc(Opcode::CardInfo, 0);
    d.dst_addr = DST_ADDR;
    d.dst_len = 64;
    let c = run1(b, r, d);
    assert_eq!(c.status(), Some(Status::Ok));
    assert_eq!(c.out_len, 64);
    AuthInfo::from_bytes(&b.get(DST_ADDR, 64).try_into().unwrap())
}

fn generate(b: &mut Bench, r: &mut Rings, slot: u16, label: &str) -> Completion {
    key_generate(b, r, slot, KeyAlg::Aes256, label)
}

fn slot_info(b: &mut Bench, r: &mut Rings, slot: u16) -> Completion {
    let mut d = desc(Opcode::SlotInfo, slot);
    d.dst_addr = DST_ADDR;
    d.dst_len = 64;
    run1(b, r, d)
}

fn simple(b: &mut Bench, r: &mut Rings, op: Opcode) -> Completion {
    run1(b, r, desc(op, 0))
}

fn st(c: Completion) -> Option<Status> {
    c.status()
}

const SO: &[u8] = b"officer-pin-1";
const USER: &[u8] = b"user-pin";

#[test]
fn roles_pins_lockout_and_a_power_cycle() {
    let mut b = Bench::new(4 << 20, false);
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);

    // A new card: nothing but its own initialisation.
    let i = info(&mut b, &mut r);
    assert!(!i.initialized && !i.damaged && i.role.is_none());
    assert_eq!(
        st(generate(&mut b, &mut r, 0, "k")),
        Some(Status::NotInitialized)
    );
    assert_eq!(
        st(login(&mut b, &mut r, Role::SecurityOfficer, SO)),
        Some(Status::NotInitialized)
    );
    assert_eq!(
        st(set_pin(&mut b, &mut r, Role::User, USER)),
        Some(Status::NotLoggedIn)
    );
    let c = card_init(&mut b, &mut r, "vault-a", SO, 3);
    assert_eq!(st(c), Some(Status::Ok));
    println!("CARD_INIT: {} cycles", c.cycles);
    assert_eq!(
        st(card_init(&mut b, &mut r, "again", SO, 3)),
        Some(Status::AlreadyInitialized)
    );
    let i = info(&mut b, &mut r);
    assert!(i.initialized && !i.user_pin_set && i.role.is_none());
    assert_eq!(i.failure_limit, 3);
    assert_eq!(&i.label[..7], b"vault-a");
    assert!(b.store.records.contains_key(&(AUTH_RECORD as u8)));

    // No login: no key job, no slot listing, no zeroization.
    assert_eq!(
        st(generate(&mut b, &mut r, 0, "k")),
        Some(Status::NotLoggedIn)
    );
    assert_eq!(st(slot_info(&mut b, &mut r, 0)), Some(Status::NotLoggedIn));
    assert_eq!(
        st(simple(&mut b, &mut r, Opcode::CardZeroize)),
        Some(Status::NotLoggedIn)
    );
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, USER)),
        Some(Status::PinNotSet)
    );

    // A wrong PIN costs a try; the right one resets the count. Both take
    // the same cycles.
    let bad = login(&mut b, &mut r, Role::SecurityOfficer, b"officer-pin-2");
    assert_eq!(st(bad), Some(Status::PinIncorrect));
    assert_eq!(bad.out_len, 2, "tries left");
    assert_eq!(info(&mut b, &mut r).so_failures, 1);
    // A prefix is another PIN (the length is hashed).
    let short = login(&mut b, &mut r, Role::SecurityOfficer, &SO[..SO.len() - 1]);
    assert_eq!(st(short), Some(Status::PinIncorrect));
    assert_eq!(short.out_len, 1);
    let good = login(&mut b, &mut r, Role::SecurityOfficer, SO);
    assert_eq!(st(good), Some(Status::Ok));
    println!("LOGIN: {} cycles right, {} wrong", good.cycles, bad.cycles);
    assert_eq!(
        good.cycles, bad.cycles,
        "a login's cycles depend on the PIN"
    );
    let i = info(&mut b, &mut r);
    assert_eq!((i.so_failures, i.role), (0, Some(Role::SecurityOfficer)));

    // The officer manages, and uses no key.
    assert_eq!(
        st(generate(&mut b, &mut r, 0, "k")),
        Some(Status::RoleDenied)
    );
    assert_eq!(st(slot_info(&mut b, &mut r, 0)), Some(Status::Ok));
    let c = set_pin(&mut b, &mut r, Role::User, USER);
    assert_eq!(st(c), Some(Status::Ok));
    println!("SET_PIN: {} cycles", c.cycles);
    assert!(info(&mut b, &mut r).user_pin_set);
    assert_eq!(st(simple(&mut b, &mut r, Opcode::Logout)), Some(Status::Ok));
    assert_eq!(
        st(generate(&mut b, &mut r, 0, "k")),
        Some(Status::NotLoggedIn)
    );

    // The user uses keys, and may not zeroize or set the officer's PIN.
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, USER)),
        Some(Status::Ok)
    );
    assert_eq!(st(generate(&mut b, &mut r, 0, "disk")), Some(Status::Ok));
    assert_eq!(st(slot_info(&mut b, &mut r, 0)), Some(Status::Ok));
    assert_eq!(
        st(simple(&mut b, &mut r, Opcode::CardZeroize)),
        Some(Status::RoleDenied)
    );
    assert_eq!(
        st(set_pin(&mut b, &mut r, Role::SecurityOfficer, b"mine")),
        Some(Status::RoleDenied)
    );
    // Hashing and random numbers need no login.
    let mut d = desc(Opcode::RngGenerate, 0);
    d.dst_addr = DST_ADDR;
    d.dst_len = 16;
    assert_eq!(st(run1(&mut b, &mut r, d)), Some(Status::Ok));

    // A queue reset (a driver opening the card) ends the login.
    b.write(&regs::CONTROL, 0);
    let mut r = Rings::setup(&mut b, 4, 4);
    assert_eq!(info(&mut b, &mut r).role, None);
    assert_eq!(
        st(generate(&mut b, &mut r, 1, "k")),
        Some(Status::NotLoggedIn)
    );

    // Three wrong PINs lock the user; the right one then fails unread.
    for left in [2, 1, 0] {
        let c = login(&mut b, &mut r, Role::User, b"guess");
        assert_eq!((st(c), c.out_len), (Some(Status::PinIncorrect), left));
    }
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, USER)),
        Some(Status::PinLocked)
    );
    assert!(AuthInfo::from_bytes(&b.get(DST_ADDR, 64).try_into().unwrap()).initialized);
    let i = info(&mut b, &mut r);
    assert!(i.user_locked() && !i.so_locked());
    // The officer unlocks it with a new PIN.
    assert_eq!(
        st(login(&mut b, &mut r, Role::SecurityOfficer, SO)),
        Some(Status::Ok)
    );
    assert_eq!(
        st(set_pin(&mut b, &mut r, Role::User, b"user-pin-2")),
        Some(Status::Ok)
    );
    assert!(!info(&mut b, &mut r).user_locked());
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, USER)),
        Some(Status::PinIncorrect)
    );
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, b"user-pin-2")),
        Some(Status::Ok)
    );
    // The user changes its own PIN.
    assert_eq!(
        st(set_pin(&mut b, &mut r, Role::User, b"user-pin-3")),
        Some(Status::Ok)
    );

    // A store that refuses the write: the login fails before any
    // comparison, and nothing changes.
    b.store.fail_commits = true;
    let c = login(&mut b, &mut r, Role::User, b"user-pin-3");
    assert_eq!(st(c), Some(Status::StorageFailed));
    b.store.fail_commits = false;
    assert_eq!(info(&mut b, &mut r).user_failures, 0);

    // A power cycle keeps the label, the PINs and the counters; not the login.
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, b"wrong")),
        Some(Status::PinIncorrect)
    );
    let store = b.store.clone();
    let mut b = Bench::with_store(4 << 20, false, store.clone());
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    let i = info(&mut b, &mut r);
    assert!(i.initialized && !i.damaged && i.user_pin_set && i.role.is_none());
    assert_eq!((i.failure_limit, i.so_failures, i.user_failures), (3, 0, 1));
    assert_eq!(&i.label[..7], b"vault-a");
    assert_eq!(
        st(login(&mut b, &mut r, Role::User, b"user-pin-3")),
        Some(Status::Ok)
    );
    assert_eq!(st(slot_info(&mut b, &mut r, 0)), Some(Status::Ok));
    assert_eq!(
        b.get(DST_ADDR, 1)[0],
        KeyAlg::Aes256 as u8,
        "the key came back"
    );

    // A flipped bit in the sealed auth record: nobody logs in, the card
    // cannot be initialised over it, and zeroization needs no login.
    let mut bad = store;
    bad.records.get_mut(&(AUTH_RECORD as u8)).unwrap()[20] ^= 1;
    let mut b = Bench::with_store(4 << 20, false, bad);
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    let i = info(&mut b, &mut r);
    assert!(i.initialized && i.damaged && i.so_locked() && i.user_locked());
    assert_eq!(
        st(login(&mut b, &mut r, Role::SecurityOfficer, SO)),
        Some(Status::PinLocked)
    );
    assert_eq!(
        st(card_init(&mut b, &mut r, "new", SO, 0)),
        Some(Status::AlreadyInitialized)
    );
    assert_eq!(
        st(simple(&mut b, &mut r, Opcode::CardZeroize)),
        Some(Status::Ok)
    );
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    let i = info(&mut b, &mut r);
    assert!(!i.initialized && !i.damaged);
    assert!(!b.store.records.contains_key(&(AUTH_RECORD as u8)));
    // Initialised again, with the default limit.
    assert_eq!(
        st(card_init(&mut b, &mut r, "vault-b", b"0000", 0)),
        Some(Status::Ok)
    );
    assert_eq!(info(&mut b, &mut r).failure_limit, 5);
}

/// The auth record cannot be rolled back or removed by someone who can
/// write the record store: an older copy (before a lockout) or no record
/// at all makes the card damaged, not unlocked and not new.
#[test]
fn the_auth_record_cannot_be_rolled_back_or_removed() {
    let boot = |store| {
        let mut b = Bench::with_store(4 << 20, false, store);
        b.run_until_idle(100_000);
        let r = Rings::setup(&mut b, 4, 4);
        (b, r)
    };
    let mut b = Bench::new(4 << 20, false);
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    assert_eq!(
        st(card_init(&mut b, &mut r, "vault-r", SO, 2)),
        Some(Status::Ok)
    );
    let before = b.store.clone();
    for _ in 0..2 {
        assert_eq!(
            st(login(&mut b, &mut r, Role::SecurityOfficer, b"wrong")),
            Some(Status::PinIncorrect)
        );
    }
    assert!(info(&mut b, &mut r).so_locked());
    let locked = b.store.clone();
    let (mut b, mut r) = boot(locked.clone());
    let i = info(&mut b, &mut r);
    assert!(i.initialized && !i.damaged && i.so_locked());

    // The record from before the lockout: damaged, nobody logs in.
    let mut rolled = locked.clone();
    let auth = AUTH_RECORD as u8;
    rolled.records.insert(auth, before.records[&auth]);
    let (mut b, mut r) = boot(rolled);
    let i = info(&mut b, &mut r);
    assert!(i.initialized && i.damaged, "{i:?}");
    assert_eq!(
        st(login(&mut b, &mut r, Role::SecurityOfficer, SO)),
        Some(Status::PinLocked)
    );
    // No record: damaged too, and not initialisable over its keys.
    let mut removed = locked;
    removed.records.remove(&auth);
    let (mut b, mut r) = boot(removed);
    let i = info(&mut b, &mut r);
    assert!(i.initialized && i.damaged, "{i:?}");
    assert_eq!(
        st(card_init(&mut b, &mut r, "thief", b"0000", 0)),
        Some(Status::AlreadyInitialized)
    );
}

#[test]
fn a_locked_officer_leaves_zeroization_only() {
    let mut b = Bench::new(4 << 20, false);
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    assert_eq!(st(card_init(&mut b, &mut r, "c", SO, 1)), Some(Status::Ok));
    let c = login(&mut b, &mut r, Role::SecurityOfficer, b"nope");
    assert_eq!((st(c), c.out_len), (Some(Status::PinIncorrect), 0));
    assert_eq!(
        st(login(&mut b, &mut r, Role::SecurityOfficer, SO)),
        Some(Status::PinLocked)
    );
    assert!(info(&mut b, &mut r).so_locked());
    assert_eq!(
        st(simple(&mut b, &mut r, Opcode::CardZeroize)),
        Some(Status::Ok)
    );
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    assert!(!info(&mut b, &mut r).initialized);
}

#[test]
fn test_mode_serves_an_uninitialised_card_and_checks_roles_once_initialised() {
    let mut b = Bench::new(4 << 20, true);
    b.run_until_idle(100_000);
    let mut r = Rings::setup(&mut b, 4, 4);
    let key = pattern(32, 1);
    assert_eq!(
        st(load_key(&mut b, &mut r, 0, KeyAlg::Aes256, &key, "t")),
        Some(Status::Ok)
    );
    assert_eq!(
        st(card_init(&mut b, &mut r, "lab", SO, 0)),
        Some(Status::Ok)
    );
    let c = load_key(&mut b, &mut r, 1, KeyAlg::Aes256, &key, "u");
    assert_eq!(st(c), Some(Status::NotLoggedIn));
    // Bad fields come first, from the descriptor alone.
    let mut d: Descriptor = desc(Opcode::Login, 0);
    d.src_addr = PIN_ADDR;
    d.src_len = 3;
    d.params[0] = 2;
    assert_eq!(d.precheck(true), Some(Status::BadLength));
    assert_eq!(r.run(&mut b, &[d])[0].status(), Some(Status::BadLength));
    d.src_len = 4;
    d.params[0] = 3;
    assert_eq!(d.precheck(true), Some(Status::BadRole));
    assert_eq!(r.run(&mut b, &[d])[0].status(), Some(Status::BadRole));
}
