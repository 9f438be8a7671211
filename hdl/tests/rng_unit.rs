//! The card's random bit generator ([`RngUnit`]): seeding from tested
//! noise samples, requests, reseeding for prediction resistance, and
//! noise-source failures, against the software CTR_DRBG of `drbg_model`
//! fed with the same samples.

mod drbg_model;
mod lint;

use drbg_model::SwDrbg;
use hsm_contract::rng::{ENTROPY_INPUT_SAMPLES, NONCE_SAMPLES, PERSONALIZATION, STARTUP_SAMPLES};
use hsm_hdl::rng::{RngUnit, KAT_ENTROPY, KAT_NONCE, KAT_RETURNED};
use lint::lint;
use rand::{rngs::StdRng, RngCore, SeedableRng};
use rust_hdl::prelude::*;

/// What the bench feeds the noise port.
#[derive(Clone, Copy, PartialEq)]
enum Noise {
    Random,
    Stuck,
}

struct Bench {
    uut: Box<RngUnit>,
    rng: StdRng,
    noise: Noise,
    /// Every sample fed, in order.
    fed: Vec<u8>,
    cycles: u64,
}

impl Bench {
    fn new(seed: u64) -> Bench {
        let mut uut = Box::<RngUnit>::default();
        uut.connect_all();
        let mut b = Bench {
            uut,
            rng: StdRng::seed_from_u64(seed),
            noise: Noise::Random,
            fed: Vec::new(),
            cycles: 0,
        };
        b.uut.reset.next = true;
        b.tick();
        b.tick();
        b.uut.reset.next = false;
        // Samples offered during reset are dropped by the health tests.
        b.fed.clear();
        b
    }

    fn settle(&mut self) {
        assert!(simulate(self.uut.as_mut(), 100), "logic did not settle");
    }

    /// One clock cycle; the noise port offers a sample whenever the unit
    /// enables it.
    fn tick(&mut self) {
        self.settle();
        let enable = self.uut.noise_enable.val();
        let sample = match self.noise {
            Noise::Random => (self.rng.next_u32() & 0xff) as u8,
            Noise::Stuck => 0x5a,
        };
        self.uut.noise_valid.next = enable;
        self.uut.noise_sample.next = (if enable { sample } else { 0 } as u64).into();
        if enable {
            self.fed.push(sample);
        }
        self.settle();
        self.uut.clock.next = true.into();
        self.settle();
        self.uut.clock.next = false.into();
        self.cycles += 1;
    }

    fn wait_ready(&mut self, limit: u64) {
        let start = self.cycles;
        while {
            self.settle();
            !self.uut.seeded.val() || self.uut.busy.val()
        } {
            assert!(
                self.cycles - start < limit,
                "not ready after {limit} cycles"
            );
            self.tick();
        }
    }

    /// Runs a request of `blocks` blocks with `out_ready` pattern `ready`;
    /// returns the blocks and whether it failed.
    fn request(&mut self, blocks: u32, pr: bool, ready: impl Fn(u64) -> bool) -> (Vec<u128>, bool) {
        self.settle();
        let mut held = true;
        let mut out = Vec::new();
        let start = self.cycles;
        loop {
            self.uut.req.next = held;
            self.uut.req_blocks.next = ((blocks & 0xffff) as u64).into();
            self.uut.req_pr.next = pr;
            let r = ready(self.cycles);
            self.uut.out_ready.next = r;
            self.settle();
            if self.uut.out_valid.val() {
                if r {
                    out.push(self.uut.out_block.val().to_u128());
                }
            } else {
                assert_eq!(
                    self.uut.out_block.val().to_u128(),
                    0,
                    "idle output must be zero"
                );
            }
            let done = self.uut.req_done.val();
            let fail = self.uut.req_fail.val();
            self.tick();
            if done {
                self.uut.req.next = false;
                self.uut.out_ready.next = false;
                self.settle();
                return (out, fail);
            }
            held = true;
            assert!(self.cycles - start < 2_000_000, "request never ended");
        }
    }
}

/// The model instantiated as the card does: from the samples fed after the
/// start-up test, at the offset where the unit took them.
fn model_from(fed: &[u8], at: usize) -> SwDrbg {
    let n = (ENTROPY_INPUT_SAMPLES + NONCE_SAMPLES) as usize;
    let mut seed = fed[at..at + n].to_vec();
    seed.extend_from_slice(PERSONALIZATION);
    let mut m = SwDrbg::default();
    m.instantiate(&seed);
    m
}

/// Seeds with the first samples after the start-up test, serves requests
/// of every size class (with back-pressure) as the model says, and reseeds
/// from fresh samples for prediction resistance.
#[test]
fn seeds_from_tested_samples_and_serves_requests() {
    let mut b = Bench::new(7);
    assert!(!b.uut.seeded.val());
    assert!(b.uut.busy.val(), "seeding needs the clock");
    b.wait_ready(20_000);
    assert!(b.uut.seeded.val() && !b.uut.fault.val() && !b.uut.busy.val());
    assert!(!b.uut.noise_enable.val(), "the source is off once seeded");
    let seed_samples = (ENTROPY_INPUT_SAMPLES + NONCE_SAMPLES) as usize;
    // The start-up samples are tested and discarded; the seed is the next
    // ones, with none skipped (the source may run a few cycles longer).
    let at = STARTUP_SAMPLES as usize;
    assert!(b.fed.len() >= at + seed_samples && b.fed.len() <= at + seed_samples + 4);
    let mut m = model_from(&b.fed, at);

    for (blocks, pattern) in [(1u32, 0u64), (3, 1), (4096, 0), (4097, 2), (17, 3)] {
        let (out, fail) = b.request(blocks, false, |c| pattern == 0 || c % (pattern + 1) != 0);
        assert!(!fail);
        let mut want = Vec::new();
        let mut left = blocks as usize;
        while left > 0 {
            let n = left.min(4096);
            want.extend(m.generate(&[], n));
            left -= n;
        }
        assert_eq!(out.len(), want.len(), "{blocks} blocks");
        assert!(out == want, "{blocks} blocks differ from the model");
        assert!(b.uut.seeded.val() && !b.uut.busy.val());
    }

    // Prediction resistance: a reseed from the next 64 samples first.
    let before = b.fed.len();
    let (out, fail) = b.request(4, true, |_| true);
    assert!(!fail);
    let fresh = &b.fed[before..];
    assert!(fresh.len() >= ENTROPY_INPUT_SAMPLES as usize);
    m.reseed(&fresh[..ENTROPY_INPUT_SAMPLES as usize]);
    assert!(out == m.generate(&[], 4), "prediction-resistant request");
}

/// A stuck source fails the start-up test: nothing is ever seeded or
/// served, requests fail at once.
#[test]
fn stuck_source_at_startup_faults() {
    let mut b = Bench::new(1);
    b.noise = Noise::Stuck;
    for _ in 0..200 {
        b.tick();
    }
    b.settle();
    assert!(b.uut.fault.val() && !b.uut.seeded.val());
    assert!(!b.uut.busy.val(), "a failed unit needs no clock");
    let (out, fail) = b.request(2, false, |_| true);
    assert!(fail && out.is_empty());
}

/// A source that fails during a prediction-resistance reseed fails that
/// request and every later one; a reset recovers.
#[test]
fn failure_during_reseed_is_final_until_reset() {
    let mut b = Bench::new(3);
    b.wait_ready(20_000);
    let (out, fail) = b.request(2, false, |_| true);
    assert!(!fail && out.len() == 2);
    b.noise = Noise::Stuck;
    let (out, fail) = b.request(4, true, |_| true);
    assert!(fail && out.is_empty(), "no output from a failed reseed");
    assert!(b.uut.fault.val() && !b.uut.seeded.val());
    b.noise = Noise::Random;
    let (out, fail) = b.request(1, false, |_| true);
    assert!(fail && out.is_empty(), "the fault is sticky");
    b.uut.reset.next = true;
    b.tick();
    b.uut.reset.next = false;
    b.wait_ready(20_000);
    let (out, fail) = b.request(1, false, |_| true);
    assert!(!fail && out.len() == 1);
}

/// Seeding takes the same cycles whatever the samples are.
#[test]
fn seeding_time_does_not_depend_on_samples() {
    let mut times = Vec::new();
    for seed in [11, 12, 13] {
        let mut b = Bench::new(seed);
        b.wait_ready(20_000);
        times.push(b.cycles);
    }
    assert!(times.windows(2).all(|w| w[0] == w[1]), "{times:?}");
}

/// The first vector of `vectors/ctr-drbg-aes256-df.txt` (NIST CAVP):
/// entropy input, nonce, returned bits.
fn first_cavp_vector() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let text = include_str!("vectors/ctr-drbg-aes256-df.txt");
    let field = |name: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} =")))
            .unwrap_or_else(|| panic!("no {name}"));
        let h = line.split_once('=').unwrap().1.trim();
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    (field("EntropyInput"), field("Nonce"), field("ReturnedBits"))
}

/// Runs until the known-answer test is over; returns its cycles.
fn kat_cycles(b: &mut Bench) -> u64 {
    let start = b.cycles;
    while {
        b.settle();
        !b.uut.kat_done.val()
    } {
        assert!(
            b.cycles - start < 5_000,
            "the known-answer test never ended"
        );
        assert!(!b.uut.seeded.val(), "seeded during the known-answer test");
        b.tick();
    }
    b.cycles - start
}

/// The power-on known-answer test: its vector is NIST's (and the software
/// model agrees), it passes, it leaves the DRBG zeroized, and it ends
/// before the start-up test so that seeding is not delayed.
#[test]
fn known_answer_test_passes_at_reset_and_zeroizes() {
    let (entropy, nonce, returned) = first_cavp_vector();
    assert_eq!(KAT_ENTROPY.to_vec(), entropy);
    assert_eq!(KAT_NONCE.to_vec(), nonce);
    assert_eq!(KAT_RETURNED.to_vec(), returned);
    let mut m = SwDrbg::default();
    m.instantiate(&[entropy, nonce].concat());
    m.generate(&[], 4);
    let out: Vec<u8> = m
        .generate(&[], 4)
        .iter()
        .flat_map(|b| b.to_le_bytes())
        .collect();
    assert_eq!(out, returned, "the model disagrees with the vector");

    let mut b = Bench::new(21);
    let cycles = kat_cycles(&mut b);
    assert!(!b.uut.kat_fail.val() && !b.uut.fault.val());
    assert!(
        b.uut.drbg_secret_state_is_zero(),
        "the test's state was left in the DRBG"
    );
    assert!(
        (b.fed.len() as u64) < STARTUP_SAMPLES as u64,
        "the known-answer test ({cycles} cycles) outlasted the start-up test"
    );
    eprintln!("DRBG known-answer test: {cycles} cycles");
    b.wait_ready(20_000);
    assert!(b.uut.kat_done.val() && !b.uut.kat_fail.val());
    let (out, fail) = b.request(2, false, |_| true);
    assert!(!fail && out.len() == 2);
}

/// A failed known-answer test (injected) is final until reset: nothing is
/// seeded or served, the noise source is switched off, and no clock is
/// needed. A reset without the injection recovers.
#[test]
fn failed_known_answer_test_blocks_the_unit_until_reset() {
    let mut b = Bench::new(22);
    b.uut.kat_inject.next = true;
    b.uut.reset.next = true;
    b.tick();
    b.uut.reset.next = false;
    kat_cycles(&mut b);
    b.uut.kat_inject.next = false;
    for _ in 0..3000 {
        b.tick();
    }
    b.settle();
    assert!(b.uut.kat_fail.val() && b.uut.fault.val() && !b.uut.seeded.val());
    assert!(!b.uut.busy.val() && !b.uut.noise_enable.val());
    assert!(b.uut.drbg_secret_state_is_zero());
    let (out, fail) = b.request(1, false, |_| true);
    assert!(fail && out.is_empty());
    b.uut.reset.next = true;
    b.tick();
    b.uut.reset.next = false;
    b.wait_ready(20_000);
    assert!(!b.uut.kat_fail.val());
    let (out, fail) = b.request(1, false, |_| true);
    assert!(!fail && out.len() == 1);
}

#[test]
fn verilog_is_lint_clean() {
    let mut uut = RngUnit::default();
    uut.connect_all();
    lint("rng_unit", &generate_verilog(&uut));
}
