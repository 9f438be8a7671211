//! Tests of the ML-KEM samplers (`hsm_hdl::pqc::sampler`): SampleNtt and
//! SampleCbd against references written here from FIPS 203 Algorithms 7
//! and 8, on SHAKE128 / SHAKE256 streams and adversarial streams; a few
//! polynomials in rust-hdl's simulator with random stalls (every word,
//! index order, done, lanes consumed, data-independent timing), thousands
//! through the exported Verilog in Verilator, and Verilator lint.

mod lint;
mod rng;
mod verilate;
use hsm_hdl::pqc::sampler::{SampleCbd, SampleNtt, SAMPLE_CBD_CYCLES, SAMPLE_NTT_OVERHEAD};
use lint::lint;
use rng::Rng;
use rust_hdl::prelude::*;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::{Shake128, Shake256};

const Q: u64 = 3329;

// ---------------------------------------------------------------------
// References, from the FIPS 203 pseudo-code.

/// FIPS 203 Algorithm 7 (SampleNTT) on a finite prefix of the XOF stream:
/// the 256 coefficients and the number of 8-byte lanes holding the bytes
/// it read, or `None` if the stream is too short.
fn ref_sample_ntt(b: &[u8]) -> Option<(Vec<u64>, usize)> {
    let mut a = Vec::with_capacity(256);
    let mut pos = 0;
    while a.len() < 256 {
        let c = b.get(pos..pos + 3)?;
        pos += 3;
        let d1 = c[0] as u64 + 256 * (c[1] as u64 % 16);
        let d2 = c[1] as u64 / 16 + 16 * c[2] as u64;
        if d1 < Q {
            a.push(d1);
        }
        if d2 < Q && a.len() < 256 {
            a.push(d2);
        }
    }
    Some((a, pos.div_ceil(8)))
}

/// FIPS 203 Algorithm 8 (SamplePolyCBD_eta) on 64 * eta bytes.
fn ref_cbd(b: &[u8], eta: usize) -> Vec<u64> {
    assert_eq!(b.len(), 64 * eta);
    let bit = |k: usize| ((b[k / 8] >> (k % 8)) & 1) as u64;
    (0..256)
        .map(|i| {
            let x: u64 = (0..eta).map(|j| bit(2 * i * eta + j)).sum();
            let y: u64 = (0..eta).map(|j| bit(2 * i * eta + eta + j)).sum();
            (x + Q - y) % Q
        })
        .collect()
}

/// Little-endian 64-bit lanes of a byte stream (zero-padded).
fn lanes_of(b: &[u8]) -> Vec<u64> {
    b.chunks(8)
        .map(|c| {
            let mut l = [0u8; 8];
            l[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(l)
        })
        .collect()
}

/// The SampleNTT input of ML-KEM's matrix entry (i, j): SHAKE128(rho||j||i),
/// `n` bytes.
fn shake128_stream(rho: &[u8; 32], i: u8, j: u8, n: usize) -> Vec<u8> {
    let mut h = Shake128::default();
    h.update(rho);
    h.update(&[j, i]);
    let mut out = vec![0; n];
    h.finalize_xof().read(&mut out);
    out
}

/// PRF_eta(s, b) = SHAKE256(s||b, 64 * eta bytes).
fn prf(s: &[u8; 32], b: u8, eta: usize) -> Vec<u8> {
    let mut h = Shake256::default();
    h.update(s);
    h.update(&[b]);
    let mut out = vec![0; 64 * eta];
    h.finalize_xof().read(&mut out);
    out
}

/// Three bytes giving candidates d1, d2 (each < 4096).
fn group(d1: u64, d2: u64) -> [u8; 3] {
    [
        d1 as u8,
        ((d1 >> 8) | (d2 & 15) << 4) as u8,
        (d2 >> 4) as u8,
    ]
}

/// An adversarial SampleNTT stream: many rejections (runs of 0xff bytes
/// and 0xfff candidates), candidates at the edge q - 1, q, and groups
/// split across lanes in every way; long enough for 256 coefficients plus
/// `extra` lanes.
fn adversarial_stream(rng: &mut Rng, extra: usize) -> Vec<u8> {
    let edge = [0, 1, Q - 2, Q - 1, Q, Q + 1, 4095, 4094];
    let rate = rng.below(4);
    let mut b = Vec::new();
    for it in 1.. {
        match rng.below(8) {
            0 => {
                let run = rng.below(40) as usize;
                b.extend(vec![0xff; run]);
            }
            1 if rate > 0 => b.push(rng.u64() as u8),
            _ => {
                let mut d = || match rng.below(4) {
                    0 => edge[rng.below(8) as usize],
                    1 if rate > 1 => rng.below(Q),
                    _ => 4096 - 1 - rng.below(700),
                };
                let (d1, d2) = (d(), d());
                b.extend(group(d1, d2));
            }
        }
        // (Checked now and then: the reference is linear in the length.)
        if it % 32 == 0 {
            if let Some((_, lanes)) = ref_sample_ntt(&b) {
                if b.len() >= 8 * (lanes + extra) {
                    return b;
                }
            }
        }
    }
    unreachable!()
}

#[test]
fn references_follow_fips_203() {
    // d1 = C0 + 256 (C1 mod 16), d2 = C1 / 16 + 16 C2.
    let mut s = vec![0x01, 0x23, 0x45];
    s.extend(group(Q, Q - 1)); // d1 rejected, d2 accepted
    s.extend([0xff; 3]); // both rejected
    s.extend(group(Q - 1, 0));
    s.extend(vec![0; 3 * 125]); // 250 zeros
    s.extend(group(7, 8)); // the 256th is 7; 8 is dropped
    let (a, lanes) = ref_sample_ntt(&s).unwrap();
    assert_eq!(&a[..5], &[0x301, 2 + 16 * 0x45, Q - 1, Q - 1, 0]);
    assert_eq!(a[255], 7);
    assert_eq!(lanes, s.len().div_ceil(8));
    assert!(ref_sample_ntt(&s[..s.len() - 1]).is_none());
    // CBD: x - y from consecutive bit pairs / triples.
    let mut b = vec![0u8; 128];
    b[0] = 0b1100_0011; // f0 = 2 - 0, f1 = 0 - 2
    b[1] = 0b0100_0001; // f2 = 1 - 0, f3 = 0 - 1
    let f = ref_cbd(&b, 2);
    assert_eq!(&f[..5], &[2, Q - 2, 1, Q - 1, 0]);
    let mut b = vec![0u8; 192];
    b[0] = 0b1100_0111; // f0 = 3 - 0, f1 starts with 1, 1
    b[1] = 0b0000_1110; // f1 = 2 - 3
    assert_eq!(&ref_cbd(&b, 3)[..3], &[3, Q - 1, 0]);
    assert_eq!(ref_cbd(&[0xff; 192], 3), vec![0; 256]);
}

// ---------------------------------------------------------------------
// Simulation in rust-hdl.

fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 100), "logic did not settle");
}

/// The interface both samplers share.
trait Sampler: Block {
    fn clock(&mut self, c: bool);
    fn drive(&mut self, reset: bool, start: bool, in_valid: bool, in_data: u64, out_ready: bool);
    /// in_ready, out_valid, out_index, out_data, busy, done.
    fn outs(&self) -> (bool, bool, u64, Bits<192>, bool, bool);
}

macro_rules! sampler {
    ($t:ty) => {
        impl Sampler for $t {
            fn clock(&mut self, c: bool) {
                self.clock.next = c.into();
            }
            fn drive(&mut self, reset: bool, start: bool, iv: bool, data: u64, ordy: bool) {
                self.reset.next = reset;
                self.start.next = start;
                self.in_valid.next = iv;
                self.in_data.next = bits(data);
                self.out_ready.next = ordy;
            }
            fn outs(&self) -> (bool, bool, u64, Bits<192>, bool, bool) {
                (
                    self.in_ready.val(),
                    self.out_valid.val(),
                    self.out_index.val().to_u64(),
                    self.out_data.val(),
                    self.busy.val(),
                    self.done.val(),
                )
            }
        }
    };
}
sampler!(SampleNtt);
sampler!(SampleCbd);

fn tick<B: Sampler>(uut: &mut B) {
    uut.clock(false);
    settle(uut);
    uut.clock(true);
    settle(uut);
}

fn reset<B: Sampler>(uut: &mut B) {
    uut.drive(true, false, false, 0, false);
    tick(uut);
    uut.drive(false, false, false, 0, false);
    tick(uut);
}

/// One polynomial through a sampler.
struct Run {
    coeffs: Vec<u64>,
    /// Lanes taken.
    taken: usize,
    /// Cycles from the cycle with `start` to the cycle with `done`.
    cycles: usize,
    /// (in_ready, out_valid) in each cycle.
    trace: Vec<(bool, bool)>,
}

/// Starts a polynomial and feeds `lanes` until `done`, checking the
/// protocol: busy throughout, words in index order, `done` the cycle after
/// word 31, then idle (no lane taken, no word offered). With `stall`,
/// `in_valid` and `out_ready` drop at random and `start` is pulsed at
/// random while busy (it must be ignored).
fn run<B: Sampler>(uut: &mut B, lanes: &[u64], mut stall: Option<&mut Rng>) -> Run {
    uut.drive(false, true, false, 0, false);
    tick(uut);
    let mut r = Run {
        coeffs: Vec::new(),
        taken: 0,
        cycles: 1,
        trace: Vec::new(),
    };
    let mut last_word = 0;
    loop {
        let (irdy, ovalid, oidx, odata, busy, done) = uut.outs();
        if done {
            assert!(!busy, "busy with done");
            assert_eq!(r.coeffs.len(), 256, "done before word 31");
            assert_eq!(r.cycles, last_word + 1, "done not right after word 31");
            break;
        }
        assert!(busy, "busy drops before done (cycle {})", r.cycles);
        assert!(r.cycles < 2000, "no done");
        let (mut iv, mut ordy, mut start) = (r.taken < lanes.len(), true, false);
        if let Some(rng) = stall.as_deref_mut() {
            iv &= rng.below(4) != 0;
            ordy = rng.below(4) != 0;
            start = rng.below(8) == 0;
        }
        let data = if iv {
            lanes[r.taken]
        } else {
            rng_garbage(r.cycles)
        };
        uut.drive(false, start, iv, data, ordy);
        r.trace.push((irdy, ovalid));
        if irdy && iv {
            r.taken += 1;
        }
        if ovalid && ordy {
            assert_eq!(oidx as usize, r.coeffs.len() / 8, "word order");
            for l in 0..8 {
                r.coeffs.push(odata.get_bits::<24>(24 * l).to_u64());
            }
            last_word = r.cycles;
        }
        tick(uut);
        r.cycles += 1;
    }
    // Idle afterwards, even with lanes offered and the consumer ready.
    for k in 0..3 {
        uut.drive(false, false, true, rng_garbage(k), true);
        let (irdy, ovalid, _, _, busy, done) = uut.outs();
        assert!(!irdy && !ovalid && !busy, "not idle after done");
        assert!(k == 0 || !done, "done is a pulse");
        tick(uut);
    }
    r
}

/// Data on the lane bus while `in_valid` is low: must be ignored.
fn rng_garbage(k: usize) -> u64 {
    (k as u64).wrapping_mul(0xa076_1d64_78bd_642f) | 0xfff
}

#[test]
fn sample_ntt_matches_fips_203_in_simulation() {
    let mut uut = SampleNtt::default();
    uut.connect_all();
    reset(&mut uut);
    let mut rng = Rng::new(1);
    let mut streams = Vec::new();
    for k in 0..3 {
        let rho: [u8; 32] = rng.array();
        streams.push((shake128_stream(&rho, k, 2 - k, 168 * 5), k > 0));
    }
    // All candidates accepted: six per lane in two of three lanes.
    streams.push((vec![0; 8 * 60], false));
    // q and q - 1 in every candidate position of the 3-lane period.
    let edges: Vec<u8> = (0..260)
        .flat_map(|g| {
            let d1 = if g / 8 % 2 == 0 { Q } else { Q - 1 };
            let d2 = if g / 16 % 2 == 0 { Q - 1 } else { Q };
            group(d1, d2)
        })
        .collect();
    streams.push((edges, true));
    streams.push((adversarial_stream(&mut rng, 4), false));
    streams.push((adversarial_stream(&mut rng, 4), true));
    for (n, (s, stalls)) in streams.iter().enumerate() {
        let (want, need) = ref_sample_ntt(s).unwrap();
        let mut srng = Rng::new(100 + n as u64);
        let r = run(&mut uut, &lanes_of(s), stalls.then_some(&mut srng));
        assert_eq!(r.coeffs, want, "stream {n}");
        assert_eq!(r.taken, need, "stream {n}: lanes consumed");
        if !stalls {
            assert_eq!(r.cycles, need + SAMPLE_NTT_OVERHEAD, "stream {n}: cycles");
            // One lane per cycle, from the cycle after start.
            let ready: Vec<bool> = r.trace.iter().map(|t| t.0).collect();
            assert!(ready[..need].iter().all(|&x| x), "stream {n}: throughput");
        }
        println!("stream {n}: {need} lanes, {} cycles", r.cycles);
    }

    // Reset in the middle of a polynomial: idle at once, then a full
    // polynomial from a fresh start.
    let s = &streams[0].0;
    let lanes = lanes_of(s);
    uut.drive(false, true, false, 0, false);
    tick(&mut uut);
    for l in &lanes[..20] {
        uut.drive(false, false, true, *l, false);
        tick(&mut uut);
    }
    reset(&mut uut);
    let (irdy, ovalid, _, _, busy, done) = uut.outs();
    assert!(!irdy && !ovalid && !busy && !done);
    let r = run(&mut uut, &lanes, None);
    assert_eq!((r.coeffs, r.taken), ref_sample_ntt(s).unwrap());
}

#[test]
fn sample_cbd_matches_fips_203_in_simulation() {
    let mut uut = SampleCbd::default();
    uut.connect_all();
    reset(&mut uut);
    let mut rng = Rng::new(2);
    for eta in [2, 3] {
        uut.eta3.next = eta == 3;
        let mut traces = Vec::new();
        for k in 0..4u8 {
            let sigma: [u8; 32] = rng.array();
            let b = prf(&sigma, k, eta);
            let lanes = lanes_of(&b);
            // Same stall pattern for polynomials 0, 1 and for 2, 3.
            let mut srng = Rng::new(10 + (k / 2) as u64);
            let r = run(&mut uut, &lanes, (k >= 2).then_some(&mut srng));
            assert_eq!(r.coeffs, ref_cbd(&b, eta), "eta {eta} poly {k}");
            assert_eq!(r.taken, 8 * eta, "eta {eta}: lanes consumed");
            if k < 2 {
                assert_eq!(r.cycles, SAMPLE_CBD_CYCLES, "eta {eta}: cycles");
            }
            traces.push((r.cycles, r.trace));
        }
        // Constant time: the handshakes do not depend on the data.
        assert_eq!(traces[0], traces[1], "eta {eta}: timing depends on data");
        assert_eq!(traces[2], traces[3], "eta {eta}: timing depends on data");
        // Extreme values: +eta everywhere (bit groups 1..1 0..0), -eta.
        let (plus, minus) = if eta == 2 {
            (0x3333, 0xcccc)
        } else {
            (0o07_07_07_07u32, 0o70_70_70_70)
        };
        for (pattern, want) in [(plus, eta as u64), (minus, Q - eta as u64)] {
            let b: Vec<u8> = (0..64)
                .flat_map(|_| pattern.to_le_bytes()[..eta].to_vec())
                .collect();
            let r = run(&mut uut, &lanes_of(&b), None);
            assert_eq!(r.coeffs, vec![want; 256], "eta {eta} extreme");
        }
    }
}

#[test]
fn samplers_are_lint_clean() {
    let mut s = SampleNtt::default();
    s.connect_all();
    lint("pqc_sample_ntt", &generate_verilog(&s));
    let mut c = SampleCbd::default();
    c.connect_all();
    lint("pqc_sample_cbd", &generate_verilog(&c));
}

// ---------------------------------------------------------------------
// The exported Verilog in Verilator.

/// C++ harness around either sampler (`#define CBD` for SampleCbd). Each
/// stdin record `eta3 seed n lane0 .. lane(n-1)` (hex seed and lanes) runs
/// one polynomial: `seed` 0 means no stalls, otherwise an xorshift stream
/// drops `in_valid` and `out_ready` in a quarter of the cycles each. It
/// prints `R taken cycles errors trace c0 .. c255`, `errors` a bit mask of
/// protocol violations, `trace` a hash of (in_ready, out_valid) per cycle.
const HARNESS: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>
static Vtop* t;
static uint64_t rs;
static bool coin() {
    if (!rs) return true;
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (rs & 3) != 0;
}
static void tick() {
    t->clock = 0;
    t->eval();
    t->clock = 1;
    t->eval();
}
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    t = new Vtop;
    t->reset = 1;
    tick();
    t->reset = 0;
    tick();
    // Output is kept until stdin ends: the caller writes all its input
    // before it reads.
    std::string out;
    char buf[64];
    unsigned eta3;
    unsigned long long seed;
    int n;
    while (std::scanf("%u %llx %d", &eta3, &seed, &n) == 3) {
        std::vector<unsigned long long> lanes(n);
        for (auto& l : lanes)
            if (std::scanf("%llx", &l) != 1) return 1;
        rs = seed;
        t->start = 1;
#ifdef CBD
        t->eta3 = eta3;
#endif
        t->in_valid = 0;
        t->out_ready = 0;
        tick();
        t->start = 0;
        int taken = 0, words = 0, cycles = 1, err = 0, last = 0;
        unsigned long long trace = 0;
        unsigned c[256] = {0};
        while (!t->done && cycles < 10000) {
            if (!t->busy) err |= 1;
            bool iv = taken < n && coin();
            bool ordy = coin();
            t->in_valid = iv;
            t->in_data = iv ? lanes[taken] : 0xfffULL * cycles;
            t->out_ready = ordy;
            trace = trace * 1000003 + (t->in_ready * 2 + t->out_valid);
            if (t->in_ready && iv) taken++;
            if (t->out_valid && ordy) {
                if (words >= 32 || t->out_index != words) {
                    err |= 2;
                } else {
                    for (int l = 0; l < 8; l++) {
                        int bit = 24 * l;
                        unsigned long long v = t->out_data[bit / 32] >> (bit % 32);
                        if (bit % 32 > 8) v |= (unsigned long long)t->out_data[bit / 32 + 1] << (32 - bit % 32);
                        c[8 * words + l] = v & 0xffffff;
                    }
                }
                words++;
                last = cycles;
            }
            tick();
            cycles++;
        }
        if (words != 32 || cycles != last + 1) err |= 4;
        if (t->busy) err |= 8;
        for (int k = 0; k < 3; k++) {
            t->in_valid = 1;
            t->out_ready = 1;
            if (t->in_ready || t->out_valid || t->busy || (k > 0 && t->done)) err |= 16;
            tick();
        }
        std::snprintf(buf, sizeof buf, "R %d %d %d %llx", taken, cycles, err, trace);
        out += buf;
        for (int j = 0; j < 256; j++) out += " " + std::to_string(c[j]);
        out += "\n";
    }
    std::fputs(out.c_str(), stdout);
    t->final();
    delete t;
    return 0;
}
"#;

/// A parsed harness result line.
struct Result {
    taken: usize,
    cycles: usize,
    errors: u32,
    trace: String,
    coeffs: Vec<u64>,
}

fn record(eta3: bool, seed: u64, lanes: &[u64]) -> String {
    let mut s = format!("{} {seed:x} {}", eta3 as u8, lanes.len());
    for l in lanes {
        s += &format!(" {l:x}");
    }
    s + "\n"
}

fn parse(line: &str) -> Result {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f[0], "R", "{line}");
    assert_eq!(f.len(), 5 + 256);
    Result {
        taken: f[1].parse().unwrap(),
        cycles: f[2].parse().unwrap(),
        errors: f[3].parse().unwrap(),
        trace: f[4].to_string(),
        coeffs: f[5..].iter().map(|c| c.parse().unwrap()).collect(),
    }
}

#[test]
fn sample_ntt_verilog_in_verilator_matches_the_reference() {
    let mut s = SampleNtt::default();
    s.connect_all();
    let model = verilate::Model::build("pqc-sample-ntt", &generate_verilog(&s), HARNESS);
    let mut rng = Rng::new(3);
    let mut input = String::new();
    let mut expect = Vec::new();
    let mut stats = (0, usize::MAX, 0);
    for n in 0..1600u64 {
        let bytes = if n < 1200 {
            // ML-KEM matrix entries: SHAKE128(rho || j || i), 5 blocks.
            let rho: [u8; 32] = rng.array();
            shake128_stream(&rho, (n % 3) as u8, (n % 4) as u8, 168 * 5)
        } else if n < 1210 {
            vec![0; 8 * 70]
        } else {
            let extra = rng.below(5) as usize;
            adversarial_stream(&mut rng, extra)
        };
        let (want, need) = ref_sample_ntt(&bytes).unwrap();
        let seed = if n % 2 == 0 { 0 } else { rng.u64() | 1 };
        if n < 1200 && seed == 0 {
            stats = (stats.0 + need, stats.1.min(need), stats.2.max(need));
        }
        input += &record(false, seed, &lanes_of(&bytes));
        expect.push((want, need, seed));
    }
    let t0 = std::time::Instant::now();
    let lines = model.run(&input);
    println!(
        "SHAKE128 streams: {:.1} lanes on average ({}..{}); Verilator run {:?}",
        stats.0 as f64 / 600.0,
        stats.1,
        stats.2,
        t0.elapsed()
    );
    assert_eq!(lines.len(), expect.len());
    for (n, (line, (want, need, seed))) in lines.iter().zip(&expect).enumerate() {
        let r = parse(line);
        assert_eq!(r.errors, 0, "poly {n}: protocol errors");
        assert_eq!(r.coeffs, *want, "poly {n}");
        assert_eq!(r.taken, *need, "poly {n}: lanes consumed");
        if *seed == 0 {
            assert_eq!(r.cycles, need + SAMPLE_NTT_OVERHEAD, "poly {n}: cycles");
        }
    }
}

#[test]
fn sample_cbd_verilog_in_verilator_matches_the_reference() {
    let mut s = SampleCbd::default();
    s.connect_all();
    let model = verilate::Model::build(
        "pqc-sample-cbd",
        &generate_verilog(&s),
        &format!("#define CBD\n{HARNESS}"),
    );
    let mut rng = Rng::new(4);
    let mut input = String::new();
    let mut expect = Vec::new();
    for eta in [2, 3] {
        for n in 0..1200u64 {
            let b = if n < 8 {
                // Extremes and a few fixed patterns.
                vec![[0x00, 0xff, 0x33, 0xcc, 0x0f, 0xf0, 0xc7, 0x38][n as usize]; 64 * eta]
            } else {
                let sigma: [u8; 32] = rng.array();
                prf(&sigma, n as u8, eta)
            };
            // Pairs of polynomials share a stall pattern (n / 2).
            let seed = if n % 4 < 2 {
                0
            } else {
                (n / 2).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
            };
            input += &record(eta == 3, seed, &lanes_of(&b));
            expect.push((ref_cbd(&b, eta), eta, seed));
        }
    }
    let lines = model.run(&input);
    assert_eq!(lines.len(), expect.len());
    let results: Vec<Result> = lines.iter().map(|l| parse(l)).collect();
    for (n, (r, (want, eta, seed))) in results.iter().zip(&expect).enumerate() {
        assert_eq!(r.errors, 0, "poly {n}: protocol errors");
        assert_eq!(r.coeffs, *want, "poly {n} (eta {eta})");
        assert_eq!(r.taken, 8 * eta, "poly {n}: lanes consumed");
        if *seed == 0 {
            assert_eq!(r.cycles, SAMPLE_CBD_CYCLES, "poly {n}: cycles");
        }
        // Constant time: same eta and handshakes, different data, same
        // cycle-by-cycle handshake trace.
        if n % 2 == 1 {
            let p = &results[n - 1];
            assert_eq!(
                (p.cycles, &p.trace),
                (r.cycles, &r.trace),
                "poly {n}: timing"
            );
        }
    }
}
