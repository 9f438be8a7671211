//! The noise source's SP 800-90B health tests ([`EntropyHealth`]): the
//! cutoffs recomputed from the 90B formulas, start-up, the Repetition Count
//! and Adaptive Proportion tests at their cutoffs, gaps, restart and reset,
//! a long run of full-entropy samples, and the exported Verilog (lint, and
//! a Verilator run against the same reference model).
//!
//! Every cycle of every test is also checked against [`Model`], a
//! sample-by-sample transcription of 90B sections 4.3, 4.4.1 and 4.4.2
//! that lives only here; on top of that, the tests assert what the block's
//! documentation promises, case by case.

mod lint;
mod verilate;

use hsm_hdl::entropy::{
    EntropyHealth, ALPHA_LOG2, APT_CUTOFF, APT_WINDOW, NOISE_MIN_ENTROPY_BITS, RCT_CUTOFF,
    STARTUP_SAMPLES,
};
use lint::lint;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rust_hdl::prelude::*;

const STARTUP: usize = STARTUP_SAMPLES as usize;
const W: usize = APT_WINDOW as usize;
const RCT_C: usize = RCT_CUTOFF as usize;
const APT_C: usize = APT_CUTOFF as usize;

/// One cycle's inputs.
#[derive(Clone, Copy, Debug, Default)]
struct In {
    reset: bool,
    restart: bool,
    valid: bool,
    sample: u8,
}

impl In {
    fn sample(x: u8) -> In {
        In {
            valid: true,
            sample: x,
            ..Default::default()
        }
    }
}

/// The outputs, as seen in the cycle after the inputs were applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Out {
    out_valid: bool,
    out_sample: u8,
    healthy: bool,
    starting: bool,
    rct_fail: bool,
    apt_fail: bool,
}

impl Out {
    fn failed(&self) -> bool {
        self.rct_fail || self.apt_fail
    }
}

/// SP 800-90B 4.3 and 4.4 for one noise source, sample by sample.
#[derive(Default)]
struct Model {
    /// RCT: the previous sample, none after reset/restart.
    last: Option<u8>,
    /// RCT: how many consecutive samples equal `last`.
    run: usize,
    /// APT: the first sample of the window, and how often it occurred.
    apt_a: u8,
    apt_b: usize,
    /// APT: samples of the current window seen.
    apt_n: usize,
    /// Start-up: samples passed; start-up is over at `STARTUP`.
    passed: usize,
    rct_fail: bool,
    apt_fail: bool,
    /// What the last cycle released.
    released: Option<u8>,
}

impl Model {
    fn step(&mut self, i: In) {
        self.released = None;
        if i.reset || i.restart {
            *self = Model::default();
            return;
        }
        if !i.valid || self.rct_fail || self.apt_fail {
            return;
        }
        let x = i.sample;
        // 4.4.1: A is the previous sample, B the length of its run.
        if self.last == Some(x) {
            self.run += 1;
        } else {
            self.last = Some(x);
            self.run = 1;
        }
        let rct = self.run >= RCT_C;
        // 4.4.2: A is the window's first sample, B counts it in the window.
        if self.apt_n == 0 {
            self.apt_a = x;
            self.apt_b = 1;
        } else if x == self.apt_a {
            self.apt_b += 1;
        }
        let apt = self.apt_b >= APT_C;
        self.apt_n = (self.apt_n + 1) % W;
        self.rct_fail |= rct;
        self.apt_fail |= apt;
        if rct || apt {
            return;
        }
        // 4.3: the start-up samples are tested and discarded.
        if self.passed < STARTUP {
            self.passed += 1;
        } else {
            self.released = Some(x);
        }
    }

    fn out(&self) -> Out {
        let failed = self.rct_fail || self.apt_fail;
        Out {
            out_valid: self.released.is_some(),
            out_sample: self.released.unwrap_or(0),
            healthy: self.passed == STARTUP && !failed,
            starting: self.passed < STARTUP && !failed,
            rct_fail: self.rct_fail,
            apt_fail: self.apt_fail,
        }
    }
}

/// The block in rust-hdl's simulator, one clock cycle per [`Bench::tick`],
/// checked against [`Model`] and the port invariants every cycle.
struct Bench {
    uut: Box<EntropyHealth>,
    model: Model,
    cycle: u64,
}

impl Bench {
    /// A block just after power-on: no reset yet.
    fn power_on() -> Bench {
        let mut uut = Box::<EntropyHealth>::default();
        uut.connect_all();
        Bench {
            uut,
            model: Model::default(),
            cycle: 0,
        }
    }

    /// A block after two cycles of reset.
    fn new() -> Bench {
        let mut b = Bench::power_on();
        let rst = In {
            reset: true,
            ..Default::default()
        };
        b.tick(rst);
        b.tick(rst);
        b
    }

    fn outputs(&self) -> Out {
        let u = &self.uut;
        Out {
            out_valid: u.out_valid.val(),
            out_sample: u.out_sample.val().to_u64() as u8,
            healthy: u.healthy.val(),
            starting: u.starting.val(),
            rct_fail: u.rct_fail.val(),
            apt_fail: u.apt_fail.val(),
        }
    }

    /// Apply `i`, clock, and return the outputs of the next cycle.
    fn tick(&mut self, i: In) -> Out {
        let u = &mut self.uut;
        u.clock.next = false.into();
        u.reset.next = i.reset;
        u.restart.next = i.restart;
        u.sample_valid.next = i.valid;
        u.sample.next = (i.sample as u64).into();
        assert!(simulate(&mut **u, 100), "logic did not settle");
        u.clock.next = true.into();
        assert!(simulate(&mut **u, 100), "logic did not settle");
        let o = self.outputs();
        self.model.step(i);
        assert_eq!(o, self.model.out(), "cycle {} after {i:?}", self.cycle);
        check_invariants(&o, self.cycle);
        self.cycle += 1;
        o
    }

    /// One sample; the outputs of the cycle after it.
    fn sample(&mut self, x: u8) -> Out {
        self.tick(In::sample(x))
    }

    /// The samples back to back; the outputs of the cycle after each.
    fn feed(&mut self, xs: &[u8]) -> Vec<Out> {
        xs.iter().map(|&x| self.sample(x)).collect()
    }

    fn restart(&mut self) -> Out {
        self.tick(In {
            restart: true,
            ..Default::default()
        })
    }
}

/// What the ports promise in every cycle.
fn check_invariants(o: &Out, cycle: u64) {
    if !o.out_valid {
        assert_eq!(o.out_sample, 0, "cycle {cycle}: sample lingers on the port");
    }
    assert!(
        !o.out_valid || o.healthy,
        "cycle {cycle}: released while not healthy"
    );
    let states = o.healthy as u8 + o.starting as u8 + o.failed() as u8;
    assert_eq!(states, 1, "cycle {cycle}: {o:?}");
}

/// Test streams: random filler bytes that never repeat the previous sample
/// (so they make no runs and are spread over 255 values), and placed runs.
struct Stream {
    rng: StdRng,
    v: Vec<u8>,
    /// The last sample of the stream so far, taken or not.
    prev: Option<u8>,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        Stream {
            rng: StdRng::seed_from_u64(seed),
            v: Vec::new(),
            prev: None,
        }
    }

    fn push(&mut self, x: u8) {
        self.v.push(x);
        self.prev = Some(x);
    }

    /// A random byte that differs from the last sample.
    fn fresh(&mut self) -> u8 {
        let prev = self.prev;
        self.other(prev.as_slice())
    }

    /// A random byte not in `avoid`.
    fn other(&mut self, avoid: &[u8]) -> u8 {
        loop {
            let x: u8 = self.rng.gen();
            if !avoid.contains(&x) {
                return x;
            }
        }
    }

    /// A filler sample that differs from the previous one and from `avoid`.
    fn fill_one(&mut self, avoid: u8) {
        let prev = self.prev.unwrap_or(avoid);
        let x = self.other(&[prev, avoid]);
        self.push(x);
    }

    /// `n` filler samples (none equal to `avoid`).
    fn fill(&mut self, n: usize, avoid: u8) -> &mut Self {
        for _ in 0..n {
            self.fill_one(avoid);
        }
        self
    }

    /// A run of `n` samples `x`; the caller makes sure the sample before
    /// differs from `x`.
    fn run(&mut self, x: u8, n: usize) -> &mut Self {
        assert_ne!(self.prev, Some(x));
        for _ in 0..n {
            self.push(x);
        }
        self
    }

    /// `len` samples with `a` at `at` (sorted) and filler elsewhere.
    fn place(&mut self, len: usize, a: u8, at: &[usize]) -> &mut Self {
        for i in 0..len {
            if at.contains(&i) {
                self.push(a);
            } else {
                self.fill_one(a);
            }
        }
        self
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.v)
    }
}

/// The longest run of equal consecutive samples.
fn longest_run(xs: &[u8]) -> usize {
    xs.chunk_by(|a, b| a == b)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// `n` positions `first, first + step, first + 2 * step, ...`.
fn every(first: usize, step: usize, n: usize) -> Vec<usize> {
    (0..n).map(|k| first + k * step).collect()
}

/// The outputs after `xs[i]` released `xs[i]`, for every `i` in `range`.
fn assert_released(outs: &[Out], xs: &[u8], range: std::ops::Range<usize>) {
    for i in range {
        assert!(outs[i].out_valid, "sample {i} not released: {:?}", outs[i]);
        assert_eq!(outs[i].out_sample, xs[i], "sample {i} changed");
    }
}

/// Nothing released after any of `outs`.
fn assert_none_released(outs: &[Out]) {
    assert!(outs.iter().all(|o| !o.out_valid), "a sample was released");
}

/// CRITBINOM(n, p, q) of SP 800-90B: the smallest k with P(X <= k) >= q
/// for X ~ binomial(n, p). Also returns P(X > k - 1) and P(X > k), the
/// tails on either side, to show how far from the threshold they are.
fn critbinom(n: u32, p: f64, q: f64) -> (u32, f64, f64) {
    // P(X = k) by the ratio of consecutive terms from P(X = 0) = (1-p)^n.
    let mut pmf = vec![(1.0 - p).powi(n as i32)];
    for k in 0..n {
        let next = pmf[k as usize] * f64::from(n - k) / f64::from(k + 1) * p / (1.0 - p);
        pmf.push(next);
    }
    let total: f64 = pmf.iter().sum();
    assert!((total - 1.0).abs() < 1e-12, "binomial pmf sums to {total}");
    // Upper tails summed from the small end, so they keep their precision.
    let mut tail = vec![0.0; n as usize + 2];
    for k in (0..=n as usize).rev() {
        tail[k] = tail[k + 1] + pmf[k];
    }
    let mut cdf = 0.0;
    for k in 0..=n {
        cdf += pmf[k as usize];
        if cdf >= q {
            // The same k from the tail: P(X > k) <= 1 - q < P(X > k - 1).
            assert!(tail[k as usize + 1] <= 1.0 - q && tail[k as usize] > 1.0 - q);
            return (k, tail[k as usize], tail[k as usize + 1]);
        }
    }
    unreachable!("the CDF reaches 1")
}

#[test]
fn cutoffs_follow_sp800_90b() {
    let h = f64::from(NOISE_MIN_ENTROPY_BITS);
    let alpha = 2f64.powi(-(ALPHA_LOG2 as i32));
    assert_eq!(NOISE_MIN_ENTROPY_BITS, 4);
    assert_eq!(alpha, 1.0 / 1048576.0);

    // 4.4.1: C = 1 + ceil(-log2(alpha) / H).
    let rct = 1.0 + (-alpha.log2() / h).ceil();
    assert_eq!(rct, 6.0);
    assert_eq!(RCT_CUTOFF, rct as u32);

    // 4.4.2: W = 512 for non-binary samples; C = 1 + CRITBINOM(W, 2^-H, 1 - alpha).
    assert_eq!(APT_WINDOW, 512);
    let (k, below, at) = critbinom(APT_WINDOW, 2f64.powf(-h), 1.0 - alpha);
    assert_eq!(APT_CUTOFF, 1 + k);
    assert_eq!(APT_CUTOFF, 62);
    // Well clear of the threshold for f64: P(X >= 61) ~ 1.36e-6 > alpha
    // ~ 9.5e-7 >= P(X >= 62) ~ 6.5e-7.
    assert!(below > 1.3 * alpha && at < 0.7 * alpha, "{below:e} {at:e}");

    // 4.3: at least 1024 start-up samples.
    assert_eq!(STARTUP_SAMPLES, 1024);
}

#[test]
fn startup_discards_1024_samples_then_releases_every_sample() {
    let mut rng = StdRng::seed_from_u64(0x90b_0001);
    let mut b = Bench::new();
    let o = b.tick(In::default());
    assert!(o.starting && !o.healthy && !o.failed());
    let xs: Vec<u8> = (0..STARTUP + 5000).map(|_| rng.gen()).collect();
    assert!(longest_run(&xs) < RCT_C);
    let outs = b.feed(&xs);
    for (i, o) in outs[..STARTUP].iter().enumerate() {
        assert!(!o.out_valid, "start-up sample {i} released");
        // `healthy` rises in the cycle after the 1024th sample, not before.
        assert_eq!((o.starting, o.healthy), (i + 1 < STARTUP, i + 1 == STARTUP));
    }
    assert_released(&outs, &xs, STARTUP..xs.len());
    assert!(outs.iter().all(|o| !o.failed()));

    // Gaps release nothing and leave the block healthy.
    let o = b.tick(In {
        sample: 0x5a,
        ..Default::default()
    });
    assert!(!o.out_valid && o.healthy && o.out_sample == 0);
}

#[test]
fn power_on_without_reset_runs_the_startup_test() {
    let mut rng = StdRng::seed_from_u64(0x90b_0002);
    let mut b = Bench::power_on();
    let o = b.tick(In::default());
    assert!(o.starting && !o.healthy && !o.failed() && !o.out_valid);
    // The first sample is not a repeat of anything, even when it is 0.
    let mut xs = vec![0; RCT_C - 1];
    xs.extend((0..STARTUP).map(|_| rng.gen_range(1..=255u8)));
    let outs = b.feed(&xs);
    assert_none_released(&outs[..STARTUP - 1]);
    assert!(outs[STARTUP - 1].healthy);
    assert_released(&outs, &xs, STARTUP..xs.len());
}

#[test]
fn repetition_count_test_during_startup() {
    let mut s = Stream::new(0x90b_0003);
    let mut b = Bench::new();
    // After reset the first sample starts a run of 1: five zeros pass
    // (the cleared `A` register holds 0 but is no previous sample).
    let xs = s.run(0, RCT_C - 1).fill(300, 0).take();
    let outs = b.feed(&xs);
    assert!(outs.iter().all(|o| o.starting && !o.out_valid));
    // C - 1 = 5 equal samples pass.
    for _ in 0..20 {
        let x = s.fresh();
        let ys = s.run(x, RCT_C - 1).fill(10, x).take();
        let outs = b.feed(&ys);
        assert!(outs.iter().all(|o| o.starting && !o.out_valid));
    }
    // Six fail, on the sixth.
    let x = 0xa5;
    let ys = s.fill(7, x).run(x, RCT_C).fill(2000, x).take();
    let outs = b.feed(&ys);
    let sixth = 7 + RCT_C - 1;
    assert!(outs[sixth - 1].starting && !outs[sixth - 1].failed());
    let o = outs[sixth];
    assert!(o.rct_fail && !o.apt_fail && !o.starting && !o.healthy && !o.out_valid);
    // Sticky, and the start-up never completes.
    assert!(outs[sixth..].iter().all(|o| *o == outs[sixth]));
    assert!(b.tick(In::default()) == o);
}

#[test]
fn repetition_count_test_after_startup_and_restart() {
    let mut s = Stream::new(0x90b_0004);
    let mut b = Bench::new();
    let xs = s.fill(STARTUP + 100, 0).take();
    let outs = b.feed(&xs);
    assert!(outs[STARTUP - 1].healthy);
    assert_released(&outs, &xs, STARTUP..xs.len());

    // Runs of 5 of every kind of value are released unchanged.
    for x in [0u8, 0xff, 0x80, 0x01, 0x5a] {
        let x = if Some(x) == s.prev { !x } else { x };
        let ys = s.run(x, RCT_C - 1).fill(3, x).take();
        let outs = b.feed(&ys);
        assert_released(&outs, &ys, 0..ys.len());
    }

    // A run of 6: the first five are released; the sixth is not, and
    // `healthy` is low in the cycle it would have been released.
    let x = 0x3c;
    let ys = s.fill(4, x).run(x, RCT_C).fill(500, x).take();
    let outs = b.feed(&ys);
    assert_released(&outs, &ys, 0..4 + RCT_C - 1);
    let o = outs[4 + RCT_C - 1];
    assert_eq!(
        o,
        Out {
            rct_fail: true,
            ..Default::default()
        }
    );
    assert_none_released(&outs[4 + RCT_C - 1..]);
    assert!(outs[4 + RCT_C - 1..].iter().all(|p| *p == o));

    // `restart` clears the flag and runs the start-up test again.
    let o = b.restart();
    assert!(o.starting && !o.failed() && !o.healthy && !o.out_valid);
    let ys = s.fill(STARTUP + 50, 0).take();
    let outs = b.feed(&ys);
    assert_none_released(&outs[..STARTUP]);
    assert!(!outs[STARTUP - 2].healthy && outs[STARTUP - 1].healthy);
    assert_released(&outs, &ys, STARTUP..ys.len());
}

#[test]
fn repetition_count_runs_across_the_end_of_startup() {
    let mut s = Stream::new(0x90b_0005);
    let x = 0x77;
    // Samples 1022..=1026 (1-based) equal: the run of 5 passes and its last
    // two samples are released.
    let mut b = Bench::new();
    let xs = s.fill(STARTUP - 3, x).run(x, RCT_C - 1).fill(20, x).take();
    let outs = b.feed(&xs);
    assert!(outs[STARTUP - 1].healthy);
    assert_released(&outs, &xs, STARTUP..xs.len());
    // A run of 6 at 1022..=1027 fails on its sixth sample, the third that
    // would have been released: the run began during start-up.
    let mut b = Bench::new();
    let xs = s.fill(STARTUP - 3, x).run(x, RCT_C).fill(20, x).take();
    let outs = b.feed(&xs);
    assert!(outs[STARTUP - 1].healthy);
    assert_released(&outs, &xs, STARTUP..STARTUP + 2);
    assert!(outs[STARTUP + 2].rct_fail && !outs[STARTUP + 2].healthy);
    assert_none_released(&outs[STARTUP + 2..]);
}

#[test]
fn adaptive_proportion_test_at_its_cutoff() {
    let mut s = Stream::new(0x90b_0006);
    let a = 0x42;
    // `a` starts each window and occurs 61 times in it, interleaved with
    // filler so that the RCT never fires: two start-up windows, then a
    // window that is released in full.
    let pass = every(0, 2, APT_C - 1);
    let mut b = Bench::new();
    let xs = s
        .place(W, a, &pass)
        .place(W, a, &pass)
        .place(W, a, &pass)
        .take();
    assert_eq!(xs.iter().filter(|&&x| x == a).count(), 3 * (APT_C - 1));
    assert!(longest_run(&xs) == 1);
    let outs = b.feed(&xs);
    assert!(outs.iter().all(|o| !o.failed()));
    assert!(outs[STARTUP - 1].healthy);
    assert_released(&outs, &xs, STARTUP..xs.len());

    // 62 times: the 62nd occurrence fails and is not released.
    let fail = every(0, 2, APT_C);
    let ys = s.place(W, a, &fail).take();
    let outs = b.feed(&ys);
    let last = *fail.last().unwrap();
    assert_released(&outs, &ys, 0..last);
    assert_eq!(
        outs[last],
        Out {
            apt_fail: true,
            ..Default::default()
        }
    );
    assert_none_released(&outs[last..]);
    assert!(outs[last..].iter().all(|o| *o == outs[last]));

    // The same during start-up (first window after a restart).
    b.restart();
    let ys = s.place(W, a, &fail).take();
    let outs = b.feed(&ys);
    assert!(outs[..last].iter().all(|o| o.starting));
    assert!(outs[last].apt_fail && !outs[last].starting && !outs[last].rct_fail);
    assert_none_released(&outs);
}

#[test]
fn adaptive_proportion_window_placement() {
    let mut s = Stream::new(0x90b_0007);
    let a = 0xc3;

    // `A` is the window's first sample: 62 copies of `a` after a first
    // sample of another value pass.
    let mut b = Bench::new();
    let xs = s.place(W, a, &every(1, 2, APT_C)).take();
    assert_ne!(xs[0], a);
    assert!(b.feed(&xs).iter().all(|o| !o.failed()));

    // `A` counts as the first occurrence: `a` first and 61 more fails.
    let mut b = Bench::new();
    let mut at = vec![0];
    at.extend(every(3, 2, APT_C - 1));
    let xs = s.place(W, a, &at).take();
    let outs = b.feed(&xs);
    assert!(outs[at[APT_C - 1]].apt_fail && !outs[at[APT_C - 1] - 1].failed());

    // A window is exactly W samples and the count restarts with each one:
    // `a` first, 60 more at the end of the window (61), then `a` as the
    // next window's first sample and 60 more early in it (61 again) pass,
    // although 121 of them fall within 241 consecutive samples.
    let mut b = Bench::new();
    let mut at = vec![0];
    at.extend(every(W - 120, 2, APT_C - 2));
    assert_eq!(*at.last().unwrap(), W - 2);
    let mut next = vec![0];
    next.extend(every(2, 2, APT_C - 2));
    let xs = s
        .place(W, a, &at)
        .place(W, a, &next)
        .fill(STARTUP, 0)
        .take();
    let outs = b.feed(&xs);
    assert!(outs.iter().all(|o| !o.failed()));
    assert_released(&outs, &xs, STARTUP..xs.len());

    // ... while the same window with one more `a` in its last sample fails
    // there.
    let mut b = Bench::new();
    at.push(W - 1);
    let xs = s.place(W, a, &at).take();
    let outs = b.feed(&xs);
    assert!(!outs[W - 2].failed() && outs[W - 1].apt_fail && !outs[W - 1].rct_fail);

    // Windows stay aligned to the first sample after restart, and carry on
    // across the end of start-up: window 3 (the first released one) fails
    // exactly when its own `A` reaches 62.
    let mut b = Bench::new();
    let xs = s.fill(100, 0).take();
    b.feed(&xs);
    b.restart();
    let ys = s.fill(STARTUP, a).place(W, a, &every(0, 2, APT_C)).take();
    let outs = b.feed(&ys);
    let fail_at = STARTUP + 2 * (APT_C - 1);
    assert_released(&outs, &ys, STARTUP..fail_at);
    assert!(outs[fail_at].apt_fail && !outs[fail_at].out_valid);
}

#[test]
fn both_tests_can_fail_on_one_sample() {
    let mut s = Stream::new(0x90b_0008);
    let a = 0x11;
    let mut at = every(0, 2, APT_C - RCT_C);
    let from = at.last().unwrap() + 2;
    at.extend(from..from + RCT_C);
    assert_eq!(at.len(), APT_C);
    let mut b = Bench::new();
    let xs = s.place(W, a, &at).take();
    let outs = b.feed(&xs);
    let last = *at.last().unwrap();
    assert!(!outs[last - 1].failed());
    assert!(outs[last].rct_fail && outs[last].apt_fail);
}

#[test]
fn restart_and_reset() {
    let mut s = Stream::new(0x90b_0009);
    for reset in [false, true] {
        let clear = |x: u8| In {
            reset,
            restart: !reset,
            valid: true,
            sample: x,
        };
        let mut b = Bench::new();
        // Midway through start-up: the count starts again.
        let xs = s.fill(1000, 0).take();
        assert!(b.feed(&xs).iter().all(|o| o.starting));
        let x = s.fresh();
        // The sample in the restart cycle is dropped: not part of the run
        // of `x` that follows, and not a start-up sample.
        let o = b.tick(clear(x));
        assert!(o.starting && !o.out_valid);
        let xs = s.run(x, RCT_C - 1).fill(STARTUP - (RCT_C - 1), x).take();
        let outs = b.feed(&xs);
        assert!(outs[..STARTUP - 1]
            .iter()
            .all(|o| o.starting && !o.out_valid));
        assert!(outs[STARTUP - 1].healthy);

        // While healthy: releasing stops at once.
        let xs = s.fill(10, 0).take();
        let outs = b.feed(&xs);
        assert_released(&outs, &xs, 0..10);
        let o = b.tick(clear(0x12));
        assert!(o.starting && !o.out_valid && !o.healthy);
        let xs = s.fill(STARTUP - 1, 0).take();
        assert_none_released(&b.feed(&xs));

        // After a failure: the flags clear.
        let x = s.fresh();
        let xs = s.run(x, RCT_C).take();
        let outs = b.feed(&xs);
        assert!(outs[RCT_C - 1].rct_fail);
        let o = b.tick(clear(x));
        assert!(o.starting && !o.failed());
        // A restart held for several cycles keeps the block cleared.
        for _ in 0..3 {
            assert!(b.tick(clear(x)).starting);
        }
        let xs = s.fill(STARTUP + 5, 0).take();
        let outs = b.feed(&xs);
        assert!(outs[STARTUP - 1].healthy);
        assert_released(&outs, &xs, STARTUP..xs.len());
    }
}

#[test]
fn gaps_in_sample_valid_change_nothing() {
    let mut s = Stream::new(0x90b_000a);
    let mut rng = StdRng::seed_from_u64(0x90b_000b);
    let x = 0xe7;
    let a = 0x21;
    // Start-up, released samples, an RCT failure, restart, an APT failure.
    let first = s.fill(1500, x).run(x, RCT_C).fill(100, x).take();
    let second = s
        .fill(STARTUP, a)
        .place(W, a, &every(0, 2, APT_C))
        .fill(50, a)
        .take();
    let gapless = {
        let mut b = Bench::new();
        let mut outs = b.feed(&first);
        b.restart();
        outs.extend(b.feed(&second));
        outs
    };
    assert!(gapless.iter().any(|o| o.rct_fail) && gapless.iter().any(|o| o.apt_fail));

    let mut b = Bench::new();
    let mut outs = Vec::new();
    let mut gaps = 0;
    for (k, &y) in first.iter().chain(&second).enumerate() {
        if k == first.len() {
            b.restart();
        }
        // Idle cycles with any value on `sample`, including the run's.
        while rng.gen_bool(0.3) {
            let before = b.outputs();
            let junk = [x, a, y, rng.gen()][rng.gen_range(0..4)];
            let o = b.tick(In {
                sample: junk,
                ..Default::default()
            });
            assert!(!o.out_valid);
            assert_eq!((o.healthy, o.starting), (before.healthy, before.starting));
            assert_eq!((o.rct_fail, o.apt_fail), (before.rct_fail, before.apt_fail));
            gaps += 1;
        }
        outs.push(b.sample(y));
    }
    assert!(gaps > 1000);
    assert_eq!(outs, gapless);
}

#[test]
fn full_entropy_source_never_fails() {
    // A false positive has probability about 2^-20 per RCT run and per APT
    // window; with this seed none occurs, as expected.
    let mut rng = StdRng::seed_from_u64(0x90b_000c);
    let mut b = Bench::new();
    let n = 200_000;
    let mut released = 0;
    for i in 0..n {
        let x: u8 = rng.gen();
        let o = b.sample(x);
        assert!(!o.failed(), "false positive at sample {i}");
        if o.out_valid {
            assert_eq!(o.out_sample, x);
            released += 1;
        }
    }
    assert_eq!(released, n - STARTUP);
}

/// Stimulus from sources of every quality (full entropy down to a couple
/// of values, sticky and biased ones), with gaps and rare restarts and
/// resets: failures of both tests happen at random points, during start-up
/// and after. A failed block is restarted 100 cycles later.
fn mixed_stimulus(seed: u64, cycles: usize) -> Vec<In> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = Vec::with_capacity(cycles);
    let mut m = Model::default();
    let mut failed_for = 0;
    let mut prev = 0u8;
    while v.len() < cycles {
        let kind = rng.gen_range(0..5);
        let k = rng.gen_range(2..=20u32);
        let hot: u8 = rng.gen();
        let p = rng.gen_range(0.05..0.5);
        let gap = [0.0, 0.1, 0.5][rng.gen_range(0..3)];
        for _ in 0..rng.gen_range(200..3000) {
            let x = match kind {
                0 => rng.gen(),
                1 => rng.gen_range(0..k) as u8,
                2 if rng.gen_bool(p) => prev,
                3 if rng.gen_bool(p / 2.5) => hot,
                _ => rng.gen(),
            };
            let o = m.out();
            failed_for = if o.failed() { failed_for + 1 } else { 0 };
            let i = In {
                valid: !rng.gen_bool(gap),
                sample: x,
                restart: failed_for > 100 || rng.gen_ratio(1, 5000),
                reset: rng.gen_ratio(1, 20000),
            };
            if i.valid {
                prev = x;
            }
            m.step(i);
            v.push(i);
        }
    }
    v.truncate(cycles);
    v
}

#[test]
fn mixed_sources_match_the_model() {
    let stim = mixed_stimulus(0x90b_000d, 200_000);
    let mut b = Bench::new();
    let (mut rct, mut apt, mut both, mut released, mut healthy) = (0, 0, 0, 0, 0);
    let mut before = b.outputs();
    for &i in &stim {
        // `Bench::tick` compares with the model.
        let o = b.tick(i);
        rct += (o.rct_fail && !before.rct_fail) as u32;
        apt += (o.apt_fail && !before.apt_fail) as u32;
        both += (o.rct_fail && o.apt_fail && !before.failed()) as u32;
        released += o.out_valid as u32;
        healthy += (o.healthy && !before.healthy) as u32;
        before = o;
    }
    eprintln!("rct {rct} apt {apt} both {both} released {released} healthy {healthy}");
    // The stimulus reaches every case.
    assert!(rct > 20 && apt > 5 && released > 1000 && healthy > 3);
}

/// C++ harness: one cycle per input line `reset restart sample_valid
/// sample`; prints `out_valid out_sample healthy starting rct_fail
/// apt_fail` after the clock edge. No reset before the first line.
const HARNESS: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    Vtop* t = new Vtop;
    unsigned r, s, v, x;
    while (std::scanf("%u %u %u %u", &r, &s, &v, &x) == 4) {
        t->reset = r;
        t->restart = s;
        t->sample_valid = v;
        t->sample = x;
        t->clock = 0;
        t->eval();
        t->clock = 1;
        t->eval();
        std::printf("%u %u %u %u %u %u\n", (unsigned)t->out_valid, (unsigned)t->out_sample,
                    (unsigned)t->healthy, (unsigned)t->starting, (unsigned)t->rct_fail,
                    (unsigned)t->apt_fail);
    }
    t->final();
    delete t;
    return 0;
}
"#;

#[test]
fn generated_verilog_matches_the_model_in_verilator() {
    let mut uut = EntropyHealth::default();
    uut.connect_all();
    let model = verilate::Model::build("entropy-verilator", &generate_verilog(&uut), HARNESS);
    // From power-on, without a reset: a full start-up and release first.
    let mut rng = StdRng::seed_from_u64(0x90b_000e);
    let mut stim: Vec<In> = (0..STARTUP + 500).map(|_| In::sample(rng.gen())).collect();
    stim.extend(mixed_stimulus(0x90b_000f, 150_000));
    let mut input = String::new();
    let mut expect = Vec::new();
    let mut m = Model::default();
    for i in &stim {
        input += &format!(
            "{} {} {} {}\n",
            i.reset as u8, i.restart as u8, i.valid as u8, i.sample
        );
        m.step(*i);
        expect.push(m.out());
    }
    assert!(expect[STARTUP - 1].healthy && expect[STARTUP].out_valid);
    let lines = model.run(&input);
    assert_eq!(lines.len(), expect.len());
    for (n, (line, e)) in lines.iter().zip(&expect).enumerate() {
        let v: Vec<u32> = line.split(' ').map(|w| w.parse().unwrap()).collect();
        let got = Out {
            out_valid: v[0] == 1,
            out_sample: v[1] as u8,
            healthy: v[2] == 1,
            starting: v[3] == 1,
            rct_fail: v[4] == 1,
            apt_fail: v[5] == 1,
        };
        assert_eq!(got, *e, "cycle {n} after {:?}", stim[n]);
    }
}

#[test]
fn verilog_is_lint_clean() {
    let mut uut = EntropyHealth::default();
    uut.connect_all();
    lint("entropy_health", &generate_verilog(&uut));
}
