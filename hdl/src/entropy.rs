//! [`EntropyHealth`]: the health tests of the card's noise source, after
//! NIST SP 800-90B: the continuous Repetition Count Test (4.4.1) and
//! Adaptive Proportion Test (4.4.2), and the start-up test (4.3) that runs
//! both over the first [`STARTUP_SAMPLES`] samples.
//!
//! On a real card the noise source is a ring oscillator sampled into 8-bit
//! samples; the simulated card feeds the same port from the host's
//! `getrandom`. The block sits between the noise source and whatever
//! conditions or seeds from it, and passes on only samples that were
//! tested.
//!
//! # Parameters
//!
//! Samples are 8 bits. The claimed min-entropy is
//! [`NOISE_MIN_ENTROPY_BITS`] = 4 bits per sample and the false-positive
//! probability of each test is alpha = 2^-20 ([`ALPHA_LOG2`]), within
//! the 2^-20..2^-40 range SP 800-90B recommends. The cutoffs follow from
//! these: [`RCT_CUTOFF`] = 6, [`APT_WINDOW`] = 512 (the window for
//! non-binary samples), [`APT_CUTOFF`] = 62. `hdl/tests/entropy.rs`
//! recomputes both cutoffs from the 90B formulas.
//!
//! # Timing
//!
//! One sample is examined per clock, every cycle `sample_valid` is high,
//! with no stall and no branch that depends on the sample's value: the
//! processing of a sample takes the same time (one cycle) whatever it is.

use rust_hdl::prelude::*;

/// The claimed min-entropy of one 8-bit noise sample, in bits (H).
pub const NOISE_MIN_ENTROPY_BITS: u32 = hsm_contract::rng::NOISE_MIN_ENTROPY_BITS;

/// The false-positive probability of each test is alpha = 2^-`ALPHA_LOG2`.
pub const ALPHA_LOG2: u32 = 20;

/// Repetition Count Test cutoff (SP 800-90B 4.4.1):
/// C = 1 + ceil(-log2(alpha) / H) = 1 + ceil(20 / 4) = 6. A run of C
/// identical consecutive samples is a failure; a run of C - 1 passes.
pub const RCT_CUTOFF: u32 = 1 + ALPHA_LOG2.div_ceil(NOISE_MIN_ENTROPY_BITS);

/// Adaptive Proportion Test window (SP 800-90B 4.4.2): W = 512 samples,
/// the size 90B prescribes for non-binary samples.
pub const APT_WINDOW: u32 = hsm_contract::rng::APT_WINDOW;

/// Adaptive Proportion Test cutoff (SP 800-90B 4.4.2):
/// C = 1 + CRITBINOM(W, 2^-H, 1 - alpha) = 1 + CRITBINOM(512, 1/16,
/// 1 - 2^-20) = 1 + 61 = 62, where CRITBINOM(n, p, q) is the smallest k
/// with P(X <= k) >= q for X binomial(n, p): P(X >= 62) is about
/// 6.5e-7 <= 2^-20 but P(X >= 61) is about 1.4e-6 > 2^-20. A window in
/// which its first sample's value occurs C times is a failure; C - 1
/// times passes.
pub const APT_CUTOFF: u32 = hsm_contract::rng::APT_CUTOFF;

/// Start-up test length (SP 800-90B 4.3): this many consecutive samples
/// must pass both continuous tests before any sample is released, the
/// minimum of 1024 that 90B sets. The start-up samples are discarded.
pub const STARTUP_SAMPLES: u32 = hsm_contract::rng::STARTUP_SAMPLES;

// The contract states the cutoff too; the two must agree.
const _: () = assert!(RCT_CUTOFF == hsm_contract::rng::RCT_CUTOFF);
// The register widths below are sized for these values.
const _: () = assert!(RCT_CUTOFF <= 7 && APT_CUTOFF <= 63);
const _: () = assert!(APT_WINDOW <= 512 && STARTUP_SAMPLES <= 1024);
const _: () = assert!(STARTUP_SAMPLES >= 1024 && RCT_CUTOFF >= 2 && APT_CUTOFF >= 2);

/// The SP 800-90B continuous health tests and start-up test on a stream of
/// 8-bit noise samples.
///
/// # Tests
///
/// - Repetition Count Test: `A` is the last sample and `B` the length of
///   the run of samples equal to it; a sample equal to `A` that makes
///   `B >= RCT_CUTOFF` fails. The first sample after reset or `restart`
///   starts a run of 1 (there is no previous sample to match).
/// - Adaptive Proportion Test: windows of [`APT_WINDOW`] consecutive
///   samples, the first starting with the first sample after reset or
///   `restart` and each next one right after the previous one's last
///   sample. The first sample of a window is `A` and `B` counts the
///   window's samples equal to `A`, starting at 1 with `A` itself; the
///   sample that makes `B >= APT_CUTOFF` fails.
/// - Start-up test: the tests run from the first sample after reset or
///   `restart`; when [`STARTUP_SAMPLES`] samples have passed, the block is
///   `healthy`. The start-up samples themselves are discarded; the counters
///   of both tests carry on across the end of start-up (a run or window that
///   began during start-up continues).
///
/// # Release rule
///
/// A sample with `sample_valid` high in cycle n is tested at the clock
/// edge ending cycle n. If start-up has completed, no test has failed
/// before and the sample passes both tests, it is released: `out_valid`
/// is high and `out_sample` holds it in cycle n + 1. If it fails either
/// test it is not released, the failure flag is set, and `healthy` is low
/// from cycle n + 1, the cycle in which the sample would have been
/// released. From then on nothing is released and the tests stop (their
/// counters hold) until `reset` or `restart`. Hence:
///
/// - `out_valid` high implies `healthy` high in the same cycle, and every
///   released sample passed both tests;
/// - a consumer that collects samples and then checks `healthy` in the
///   cycle after the last one it took (or later) finds it high only if no
///   sample it took, or in between, failed.
///
/// `out_sample` is 0 whenever `out_valid` is low: the samples are secret
/// material and do not linger on the port.
///
/// # Flags
///
/// After reset (or power-on without reset) and after `restart`, `starting`
/// is high and `healthy`, `rct_fail` and `apt_fail` are low. When start-up
/// completes, `starting` falls and `healthy` rises (in the cycle after the
/// [`STARTUP_SAMPLES`]-th sample). On a failure, during start-up or after,
/// `rct_fail` and/or `apt_fail` rise (both if one sample fails both tests)
/// and `starting` and `healthy` are low. Exactly one of `starting`,
/// `healthy` and "a fail flag is set" holds.
///
/// `reset` (synchronous) and `restart` clear the failure flags, the test
/// counters and the start-up count; a sample presented in the same cycle
/// is dropped (not tested, not released), and `reset` takes priority over
/// everything else.
#[derive(LogicBlock)]
pub struct EntropyHealth {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: as `restart`.
    pub reset: Signal<In, Bit>,
    /// A noise-source sample is on `sample`.
    pub sample_valid: Signal<In, Bit>,
    /// The noise-source sample (read when `sample_valid` is high).
    pub sample: Signal<In, Bits<8>>,
    /// Pulse: clear the failure flags and counters and run the start-up test again.
    pub restart: Signal<In, Bit>,
    /// A sample that passed both tests after start-up, one cycle after it arrived.
    pub out_valid: Signal<Out, Bit>,
    /// The released sample while `out_valid` is high; 0 otherwise.
    pub out_sample: Signal<Out, Bits<8>>,
    /// Start-up test passed and no failure since: samples are being released.
    pub healthy: Signal<Out, Bit>,
    /// Start-up test in progress.
    pub starting: Signal<Out, Bit>,
    /// Sticky until reset/restart: the repetition count test failed.
    pub rct_fail: Signal<Out, Bit>,
    /// Sticky until reset/restart: the adaptive proportion test failed.
    pub apt_fail: Signal<Out, Bit>,

    /// RCT `A`: the last sample.
    rct_a: DFF<Bits<8>>,
    /// RCT `B`: length of the run of `A`; 0 when there is no last sample.
    rct_b: DFF<Bits<3>>,
    /// APT `A`: the first sample of the window.
    apt_a: DFF<Bits<8>>,
    /// APT `B`: occurrences of `A` in the window so far.
    apt_b: DFF<Bits<6>>,
    /// Samples of the current window seen so far (0: the next is `A`).
    apt_n: DFF<Bits<9>>,
    /// Samples passed during start-up.
    start_n: DFF<Bits<10>>,
    /// The start-up test passed (low at power-on and after reset/restart).
    ready: DFF<Bit>,
    rct_fail_r: DFF<Bit>,
    apt_fail_r: DFF<Bit>,
    out_valid_r: DFF<Bit>,
    out_sample_r: DFF<Bits<8>>,

    failed: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    rct_same: Signal<Local, Bit>,
    rct_inc: Signal<Local, Bits<3>>,
    rct_hit: Signal<Local, Bit>,
    apt_first: Signal<Local, Bit>,
    apt_same: Signal<Local, Bit>,
    apt_inc: Signal<Local, Bits<6>>,
    apt_hit: Signal<Local, Bit>,
    pass: Signal<Local, Bit>,

    rct_cutoff: Constant<Bits<3>>,
    apt_cutoff: Constant<Bits<6>>,
    apt_last: Constant<Bits<9>>,
    start_last: Constant<Bits<10>>,
}

impl Default for EntropyHealth {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            sample_valid: Default::default(),
            sample: Default::default(),
            restart: Default::default(),
            out_valid: Default::default(),
            out_sample: Default::default(),
            healthy: Default::default(),
            starting: Default::default(),
            rct_fail: Default::default(),
            apt_fail: Default::default(),
            rct_a: Default::default(),
            rct_b: Default::default(),
            apt_a: Default::default(),
            apt_b: Default::default(),
            apt_n: Default::default(),
            start_n: Default::default(),
            ready: Default::default(),
            rct_fail_r: Default::default(),
            apt_fail_r: Default::default(),
            out_valid_r: Default::default(),
            out_sample_r: Default::default(),
            failed: Default::default(),
            take: Default::default(),
            rct_same: Default::default(),
            rct_inc: Default::default(),
            rct_hit: Default::default(),
            apt_first: Default::default(),
            apt_same: Default::default(),
            apt_inc: Default::default(),
            apt_hit: Default::default(),
            pass: Default::default(),
            rct_cutoff: Constant::new((RCT_CUTOFF as u64).into()),
            apt_cutoff: Constant::new((APT_CUTOFF as u64).into()),
            apt_last: Constant::new(((APT_WINDOW - 1) as u64).into()),
            start_last: Constant::new(((STARTUP_SAMPLES - 1) as u64).into()),
        }
    }
}

impl Logic for EntropyHealth {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rct_a,
            rct_b,
            apt_a,
            apt_b,
            apt_n,
            start_n,
            ready,
            rct_fail_r,
            apt_fail_r,
            out_valid_r,
            out_sample_r
        );
        self.failed.next = self.rct_fail_r.q.val() | self.apt_fail_r.q.val();
        self.out_valid.next = self.out_valid_r.q.val();
        self.out_sample.next = self.out_sample_r.q.val();
        self.rct_fail.next = self.rct_fail_r.q.val();
        self.apt_fail.next = self.apt_fail_r.q.val();
        self.healthy.next = self.ready.q.val() & !self.failed.val();
        self.starting.next = !self.ready.q.val() & !self.failed.val();

        // A sample the tests examine: none once a test has failed.
        self.take.next = self.sample_valid.val() & !self.failed.val();

        // Repetition Count Test: the sample continues the run of `A`.
        self.rct_same.next = (self.sample.val() == self.rct_a.q.val()) & self.rct_b.q.val().any();
        self.rct_inc.next = self.rct_b.q.val() + 1;
        self.rct_hit.next = self.rct_same.val() & (self.rct_inc.val() >= self.rct_cutoff.val());

        // Adaptive Proportion Test: the sample is another `A` of the window.
        self.apt_first.next = !self.apt_n.q.val().any();
        self.apt_same.next = !self.apt_first.val() & (self.sample.val() == self.apt_a.q.val());
        self.apt_inc.next = self.apt_b.q.val() + 1;
        self.apt_hit.next = self.apt_same.val() & (self.apt_inc.val() >= self.apt_cutoff.val());

        self.pass.next = self.take.val() & !self.rct_hit.val() & !self.apt_hit.val();

        self.out_valid_r.d.next = false;
        self.out_sample_r.d.next = bits::<8>(0);
        if self.take.val() {
            if self.rct_same.val() {
                self.rct_b.d.next = self.rct_inc.val();
            } else {
                self.rct_a.d.next = self.sample.val();
                self.rct_b.d.next = bits::<3>(1);
            }
            if self.apt_first.val() {
                self.apt_a.d.next = self.sample.val();
                self.apt_b.d.next = bits::<6>(1);
            } else if self.apt_same.val() {
                self.apt_b.d.next = self.apt_inc.val();
            }
            if self.apt_n.q.val() == self.apt_last.val() {
                self.apt_n.d.next = bits::<9>(0);
            } else {
                self.apt_n.d.next = self.apt_n.q.val() + 1;
            }
            if self.rct_hit.val() {
                self.rct_fail_r.d.next = true;
            }
            if self.apt_hit.val() {
                self.apt_fail_r.d.next = true;
            }
        }
        if self.pass.val() {
            if self.ready.q.val() {
                self.out_valid_r.d.next = true;
                self.out_sample_r.d.next = self.sample.val();
            } else if self.start_n.q.val() == self.start_last.val() {
                self.ready.d.next = true;
                self.start_n.d.next = bits::<10>(0);
            } else {
                self.start_n.d.next = self.start_n.q.val() + 1;
            }
        }
        if self.reset.val() | self.restart.val() {
            self.rct_a.d.next = bits::<8>(0);
            self.rct_b.d.next = bits::<3>(0);
            self.apt_a.d.next = bits::<8>(0);
            self.apt_b.d.next = bits::<6>(0);
            self.apt_n.d.next = bits::<9>(0);
            self.start_n.d.next = bits::<10>(0);
            self.ready.d.next = false;
            self.rct_fail_r.d.next = false;
            self.apt_fail_r.d.next = false;
            self.out_valid_r.d.next = false;
            self.out_sample_r.d.next = bits::<8>(0);
        }
    }
}
