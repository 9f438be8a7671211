//! The card's power-on self-tests through the whole stack (driver,
//! simulated card, RTL): they pass at every reset; an injected failure of
//! the DRBG's known-answer test, or of the engines' (AES, SHA-3, ML-KEM),
//! blocks every job with SELFTEST_FAILED until a reset without it.

use std::time::Duration;

use hsm_contract::crypto::{policy, KeyAlg};
use hsm_contract::hash::HashAlg;
use hsm_contract::Status;
use hsm_driver::{label_bytes, Card};
use hsm_tests::TestCard;
use sha3::Digest;

const WAIT: Duration = Duration::from_secs(30);

/// Every kind of job the card serves works (or fails for another reason
/// than the self-tests).
fn card_serves(card: &mut Card) {
    assert_eq!(
        card.hash(HashAlg::Sha3_256, b"abc", 0).unwrap(),
        sha3::Sha3_256::digest(b"abc").to_vec()
    );
    assert_eq!(card.random(32).unwrap().len(), 32);
    card.key_generate(
        3,
        KeyAlg::Aes256,
        policy::ENCRYPT,
        label_bytes("k").unwrap(),
    )
    .unwrap();
    card.key_clear(3).unwrap();
}

#[test]
fn self_tests_pass_at_reset_and_a_failure_blocks_the_card() {
    let sim = TestCard::start(false);
    let mut card = sim.open();
    let t = card.wait_selftest(WAIT).unwrap();
    assert!(t.done && t.failed().is_empty(), "{t:?}");
    assert!(!card.status().unwrap().selftest_failed);
    card.wait_rng(WAIT).unwrap();
    sim.login_user(&mut card);
    card_serves(&mut card);

    // The injection acts on the next reset's self-tests only.
    hsm_sim::control_selftest_inject(sim.socket(), 1).unwrap();
    card_serves(&mut card);
    card.device_reset().unwrap();
    let t = card.wait_selftest(WAIT).unwrap();
    assert!(t.drbg_failed && t.failed() == ["drbg"], "{t:?}");
    let st = card.status().unwrap();
    assert!(
        st.selftest_failed && st.rng_fault && !st.rng_ready,
        "{st:?}"
    );
    // Every job is refused, those that need no randomness too.
    let e = card.hash(HashAlg::Sha3_256, b"abc", 0).unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");
    assert!(e.to_string().contains("self-test"), "{e}");
    let e = card.random(16).unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");
    let e = card.slot_info(0).unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");
    let e = card
        .key_generate(
            3,
            KeyAlg::Aes256,
            policy::ENCRYPT,
            label_bytes("k").unwrap(),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");
    // Still so after the injection ends, until a reset.
    hsm_sim::control_selftest_inject(sim.socket(), 0).unwrap();
    let e = card.random(16).unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");
    card.device_reset().unwrap();
    let t = card.wait_selftest(WAIT).unwrap();
    assert!(t.done && t.failed().is_empty(), "{t:?}");
    card.wait_rng(WAIT).unwrap();
    sim.login_user(&mut card);
    card_serves(&mut card);
}

/// The engines' known-answer tests (AES, SHA-3, ML-KEM: `hsm_hdl::post`)
/// run at reset too; a fault injected into their inputs fails them, the
/// driver names each, and the card refuses jobs until a reset without it.
#[test]
fn an_engine_self_test_failure_blocks_the_card() {
    let sim = TestCard::start(true);
    let mut card = sim.open();
    let t = card.wait_selftest(WAIT).unwrap();
    assert!(t.done && t.failed().is_empty(), "{t:?}");

    hsm_sim::control_selftest_inject(sim.socket(), 0b1110).unwrap();
    card.device_reset().unwrap();
    let t = card.wait_selftest(WAIT).unwrap();
    assert_eq!(t.failed(), ["aes", "sha3", "mlkem"], "{t:?}");
    let st = card.status().unwrap();
    // The DRBG passed its own test and is seeded; the card still refuses.
    assert!(st.selftest_failed, "{st:?}");
    card.wait_rng(WAIT).unwrap();
    let e = card.hash(HashAlg::Sha3_256, b"abc", 0).unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");
    let e = card.random(16).unwrap_err();
    assert_eq!(e.status(), Some(Status::SelfTestFailed), "{e}");

    hsm_sim::control_selftest_inject(sim.socket(), 1 << 3).unwrap();
    card.device_reset().unwrap();
    let t = card.wait_selftest(WAIT).unwrap();
    assert_eq!(t.failed(), ["mlkem"], "{t:?}");

    hsm_sim::control_selftest_inject(sim.socket(), 0).unwrap();
    card.device_reset().unwrap();
    let t = card.wait_selftest(WAIT).unwrap();
    assert!(t.done && t.failed().is_empty(), "{t:?}");
    card_serves_test_mode(&mut card);
}

/// A test-mode card with no initialisation serves hashes, random numbers
/// and keys.
fn card_serves_test_mode(card: &mut Card) {
    card.wait_rng(WAIT).unwrap();
    card_serves(card);
}
