//! Every job meets its login gate, through the whole stack (driver,
//! vfio-user, Verilator, RTL): on an initialised, operational card, each
//! operation's well-formed descriptor is run with no login, as the
//! security officer and as the user, and the card answers as the
//! contract's rule (`hsm_contract::auth::access`) says: `NOT_LOGGED_IN`
//! without a login, `ROLE_DENIED` for the wrong role, and no login status
//! at all where the rule lets the job run.

use hsm_contract::auth::{access, required_role, AuthState, Need, Role};
use hsm_contract::crypto::{policy, GcmParams, KeyAlg, KeyLoadParams};
use hsm_contract::kem::{KemParams, KemSet};
use hsm_contract::{Descriptor, Opcode, Status, DESCRIPTOR_VERSION};
use hsm_driver::{Card, DmaBuffer};
use hsm_tests::{run_raw, TestCard, SO_PIN, USER_PIN};

/// The operations whose gate is their own (the auth jobs: `CARD_INIT`
/// refuses an initialised card, `LOGIN` checks a PIN, `SET_PIN` its own
/// roles, `LOGOUT` ends whatever login there is); their tests are the
/// auth tests (`hdl/tests/auth.rs`, `host-cli/tests/operator_cli.rs`).
const OWN_GATE: [Opcode; 4] = [
    Opcode::CardInit,
    Opcode::Login,
    Opcode::SetPin,
    Opcode::Logout,
];

/// A well-formed descriptor of `op` on the card's buffers: `src` (an
/// all-zero ML-KEM-512 key or ciphertext, or data), `dst` and `aux`
/// (an all-zero label, IV and AAD). Key jobs name slots the user's turn
/// fills: slot 5 an AES-256 key, slot 7 an ML-KEM-512 key.
fn well_formed(op: Opcode, src: &DmaBuffer, dst: &DmaBuffer, aux: &DmaBuffer) -> Descriptor {
    let mut d = Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: op as u8,
        ..Descriptor::default()
    };
    let set = KemSet::MlKem512;
    let kem = |policy: u16, target: u8| {
        KemParams {
            alg: set.key_alg() as u8,
            policy,
            target,
        }
        .to_bytes()
    };
    let gcm = GcmParams {
        iv_len: 12,
        tag_len: 16,
        flags: 0,
        aad_len: 16,
    };
    match op {
        op if OWN_GATE.contains(&op) => unreachable!("{op:?} is not run here"),
        Opcode::Nop | Opcode::CardZeroize => {}
        Opcode::Copy => {
            d = Descriptor::copy(0, src.iova(), 64, dst.iova(), 64);
        }
        Opcode::AesGcmEncrypt | Opcode::AesGcmDecrypt => {
            let dec = op == Opcode::AesGcmDecrypt;
            // An operational card chooses an encryption's IV itself.
            let gcm = if dec {
                gcm
            } else {
                GcmParams {
                    iv_len: 0,
                    flags: GcmParams::CARD_IV,
                    ..gcm
                }
            };
            d.src_addr = src.iova();
            d.src_len = 32;
            d.aux_addr = aux.iova();
            d.aux_len = gcm.aux_len(dec) as u32;
            d.dst_addr = dst.iova();
            d.dst_len = gcm.dst_len(32, dec) as u32;
            d.key_slot = 5;
            d.params = gcm.to_bytes();
        }
        Opcode::AesXtsEncrypt | Opcode::AesXtsDecrypt => {
            d.src_addr = src.iova();
            d.src_len = 32;
            d.dst_addr = dst.iova();
            d.dst_len = 32;
            d.key_slot = 6;
            d.params = [0x5a; 16];
        }
        Opcode::KeyLoad | Opcode::KeyGenerate => {
            if op == Opcode::KeyLoad {
                d.src_addr = src.iova();
                d.src_len = 32;
            }
            d.aux_addr = aux.iova();
            d.aux_len = 32;
            d.key_slot = 5;
            d.params = KeyLoadParams {
                alg: KeyAlg::Aes256 as u8,
                policy: policy::ENCRYPT | policy::DECRYPT,
            }
            .to_bytes();
        }
        Opcode::KeyClear => d.key_slot = 9,
        Opcode::SlotInfo => {
            d.dst_addr = dst.iova();
            d.dst_len = 64;
            d.key_slot = 5;
        }
        Opcode::KemKeygen | Opcode::KemEncaps | Opcode::KemDecaps => {
            // Each creates a slot, with the label at `aux`.
            d.aux_addr = aux.iova();
            d.aux_len = 32;
            match op {
                Opcode::KemKeygen => {
                    d.dst_addr = dst.iova();
                    d.dst_len = set.ek_bytes();
                    d.key_slot = 7;
                    d.params = kem(policy::DERIVE, 0);
                }
                Opcode::KemEncaps => {
                    d.src_addr = src.iova();
                    d.src_len = set.ek_bytes();
                    d.dst_addr = dst.iova();
                    d.dst_len = set.ct_bytes();
                    d.params = kem(policy::ENCRYPT | policy::DECRYPT, 8);
                }
                _ => {
                    d.src_addr = src.iova();
                    d.src_len = set.ct_bytes();
                    d.key_slot = 7;
                    d.params = kem(policy::ENCRYPT | policy::DECRYPT, 9);
                }
            }
        }
        Opcode::RngGenerate | Opcode::CardInfo => {
            d.dst_addr = dst.iova();
            d.dst_len = 64;
        }
        _ => {
            // The hash jobs.
            d.src_addr = src.iova();
            d.src_len = 16;
            d.dst_addr = dst.iova();
            d.dst_len = 64;
        }
    }
    d
}

/// Run `d` on `card` and return its status (the card must keep serving).
fn status(card: &mut Card, d: Descriptor) -> Status {
    let c = run_raw(card, d);
    if c.status != Status::Ok {
        assert_eq!(c.out_len, 0, "{d:?}: a refused job writes nothing");
    }
    c.status
}

/// Run every operation but the auth jobs (and `CARD_ZEROIZE` unless
/// `zeroize`) in login state `role`; check each answer against the rule.
/// Returns how many jobs the gate refused.
fn every_job(card: &mut Card, bufs: &[DmaBuffer; 3], role: Option<Role>, zeroize: bool) -> usize {
    let st = AuthState {
        initialized: true,
        so_locked: false,
        role,
    };
    let who = role.map_or("no login", Role::name);
    let mut refused = 0;
    for &op in Opcode::ALL {
        if OWN_GATE.contains(&op) || (op == Opcode::CardZeroize && !zeroize) {
            continue;
        }
        let d = well_formed(op, &bufs[0], &bufs[1], &bufs[2]);
        // The descriptor is well formed, so the gate decides; but for
        // KEY_LOAD, which an operational card never runs.
        let pre = d.precheck(false);
        if op == Opcode::KeyLoad {
            assert_eq!(pre, Some(Status::NotTestMode));
        } else {
            assert_eq!(pre, None, "{op:?} is not well formed");
        }
        let got = status(card, d);
        match pre.or(access(op, st, false, false)) {
            Some(want) => {
                assert_eq!(got, want, "{op:?} with {who}");
                refused += usize::from(pre.is_none());
            }
            None => assert!(
                !matches!(
                    got,
                    Status::NotLoggedIn | Status::RoleDenied | Status::NotInitialized
                ),
                "{op:?} with {who}: {got:?}, but the rule lets it run"
            ),
        }
    }
    refused
}

#[test]
fn every_job_meets_its_login_gate() {
    let sim = TestCard::start(false);
    let mut card = sim.open_user();
    let bufs = [0; 3].map(|_| card.alloc_dma(4096).unwrap());
    card.logout().unwrap();
    assert_eq!(card.auth_info().unwrap().role, None);

    // Without a login every job that needs one is refused: every key job,
    // SLOT_INFO and CARD_ZEROIZE.
    let gated = Opcode::ALL
        .iter()
        .filter(|&&op| {
            !OWN_GATE.contains(&op) && op != Opcode::KeyLoad && required_role(op) != Need::Nothing
        })
        .count();
    assert_eq!(gated, 11);
    assert_eq!(every_job(&mut card, &bufs, None, true), gated);

    // The officer: every user job is refused, SLOT_INFO runs.
    card.login(Role::SecurityOfficer, SO_PIN).unwrap();
    assert_eq!(
        every_job(&mut card, &bufs, Some(Role::SecurityOfficer), false),
        9
    );

    // The user: CARD_ZEROIZE is refused, and the key jobs run (the first
    // ones fill the slots the later ones use).
    card.login(Role::User, USER_PIN).unwrap();
    assert_eq!(every_job(&mut card, &bufs, Some(Role::User), true), 1);
    let slot = card.slot_info(5).unwrap();
    assert_eq!(slot.alg, KeyAlg::Aes256 as u8, "KEY_GENERATE ran");
    let slot = card.slot_info(7).unwrap();
    assert_eq!(slot.alg, KeyAlg::MlKem512 as u8, "KEM_KEYGEN ran");

    // And the officer's CARD_ZEROIZE runs.
    card.login(Role::SecurityOfficer, SO_PIN).unwrap();
    card.zeroize(std::time::Duration::from_secs(60)).unwrap();
    assert!(!card.auth_info().unwrap().initialized);
}
