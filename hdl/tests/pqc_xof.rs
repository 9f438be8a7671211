//! Tests of the PQC sponge front end (`hsm_hdl::pqc::xof::XofStream`):
//! every SHA-3 and SHAKE function of FIPS 202 against the `sha3` crate,
//! for message lengths across block boundaries, with random stalls on
//! both streams, in rust-hdl's simulator and in the exported Verilog;
//! timing independent of the data; Verilator lint.

mod lint;
mod rng;
mod verilate;
use hsm_hdl::pqc::xof::XofStream;
use rng::Rng;
use rust_hdl::prelude::*;
use sha3::digest::{Digest, ExtendableOutput, Update, XofReader};

/// The functions: (name, rate in lanes, domain byte, fixed digest bytes).
const FUNCS: [(&str, u64, u64, Option<usize>); 6] = [
    ("SHA3-224", 18, 0x06, Some(28)),
    ("SHA3-256", 17, 0x06, Some(32)),
    ("SHA3-384", 13, 0x06, Some(48)),
    ("SHA3-512", 9, 0x06, Some(64)),
    ("SHAKE128", 21, 0x1f, None),
    ("SHAKE256", 17, 0x1f, None),
];

/// `out` bytes of the function's output for `msg` (for SHA-3, `out` must
/// not exceed the digest).
fn reference(name: &str, msg: &[u8], out: usize) -> Vec<u8> {
    let digest = match name {
        "SHA3-224" => sha3::Sha3_224::digest(msg).to_vec(),
        "SHA3-256" => sha3::Sha3_256::digest(msg).to_vec(),
        "SHA3-384" => sha3::Sha3_384::digest(msg).to_vec(),
        "SHA3-512" => sha3::Sha3_512::digest(msg).to_vec(),
        _ => {
            let mut v = vec![0; out];
            if name == "SHAKE128" {
                let mut h = sha3::Shake128::default();
                h.update(msg);
                h.finalize_xof().read(&mut v);
            } else {
                let mut h = sha3::Shake256::default();
                h.update(msg);
                h.finalize_xof().read(&mut v);
            }
            v
        }
    };
    digest[..out].to_vec()
}

fn lanes(msg: &[u8]) -> Vec<u64> {
    msg.chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

/// A message with junk in the unused bytes of its last lane (which the
/// block must ignore).
fn lanes_with_junk(msg: &[u8], rng: &mut Rng) -> Vec<u64> {
    let mut l = lanes(msg);
    if !msg.len().is_multiple_of(8) {
        let keep = 8 * (msg.len() % 8);
        *l.last_mut().unwrap() |= rng.u64() << keep;
    }
    l
}

/// A job: function, message, output lanes wanted, stall probabilities.
struct Job {
    func: usize,
    msg: Vec<u8>,
    out_lanes: usize,
}

fn out_lanes_for(func: usize, rng: &mut Rng) -> usize {
    match FUNCS[func].3 {
        Some(d) => d.div_ceil(8),
        None => 1 + rng.below(70) as usize,
    }
}

fn check(job: &Job, got: &[u64]) {
    let (name, _, _, digest) = FUNCS[job.func];
    let bytes: Vec<u8> = got.iter().flat_map(|l| l.to_le_bytes()).collect();
    let n = digest.unwrap_or(8 * job.out_lanes);
    assert_eq!(
        bytes[..n],
        reference(name, &job.msg, n),
        "{name} of {} bytes, {} lanes out",
        job.msg.len(),
        job.out_lanes
    );
}

fn settle(uut: &mut XofStream) {
    assert!(simulate(uut, 100), "logic did not settle");
}

fn tick(uut: &mut XofStream) {
    uut.clock.next = false.into();
    settle(uut);
    uut.clock.next = true.into();
    settle(uut);
}

/// Runs a job in rust-hdl's simulator with stalls (percent of cycles with
/// `in_valid` or `out_ready` low); returns the output and the cycles from
/// `start` to the last output lane.
fn run_sim(uut: &mut XofStream, job: &Job, stall: u64, rng: &mut Rng) -> (Vec<u64>, usize) {
    let (_, rate, dom, _) = FUNCS[job.func];
    let input = lanes_with_junk(&job.msg, rng);
    assert!(uut.ready.val());
    uut.start.next = true;
    uut.rate.next = bits(rate);
    uut.dom.next = bits(dom);
    uut.len.next = bits(job.msg.len() as u64);
    uut.in_valid.next = false;
    uut.out_ready.next = false;
    settle(uut);
    tick(uut);
    uut.start.next = false;
    let (mut next_in, mut out, mut cycles) = (0, Vec::new(), 1);
    while out.len() < job.out_lanes {
        uut.in_valid.next = next_in < input.len() && rng.below(100) >= stall;
        uut.in_data.next = bits(*input.get(next_in).unwrap_or(&0));
        uut.out_ready.next = rng.below(100) >= stall;
        settle(uut);
        if uut.in_valid.val() && uut.in_ready.val() {
            next_in += 1;
        }
        if uut.out_valid.val() && uut.out_ready.val() {
            out.push(uut.out_data.val().to_u64());
        }
        tick(uut);
        cycles += 1;
        assert!(cycles < 5000, "stuck");
    }
    assert_eq!(next_in, input.len(), "every message lane taken");
    assert!(
        !uut.fault.val(),
        "the permutation count disagrees with the core"
    );
    uut.in_valid.next = false;
    uut.out_ready.next = false;
    uut.stop.next = true;
    settle(uut);
    tick(uut);
    uut.stop.next = false;
    settle(uut);
    (out, cycles)
}

fn new_uut() -> Box<XofStream> {
    let mut uut = Box::<XofStream>::default();
    uut.connect_all();
    uut.reset.next = true;
    settle(&mut uut);
    tick(&mut uut);
    uut.reset.next = false;
    settle(&mut uut);
    uut
}

#[test]
fn every_function_matches_fips_202_in_simulation() {
    let mut uut = new_uut();
    let mut rng = Rng::new(1);
    for (func, &(_, rate, _, _)) in FUNCS.iter().enumerate() {
        let block = 8 * rate as usize;
        for len in [0, 1, 33, 34, block - 1, block, block + 7] {
            let msg: Vec<u8> = (0..len).map(|_| rng.u64() as u8).collect();
            let job = Job {
                func,
                out_lanes: out_lanes_for(func, &mut rng),
                msg,
            };
            let stall = [0, 30][len % 2];
            let (out, _) = run_sim(&mut uut, &job, stall, &mut rng);
            check(&job, &out);
        }
    }
}

#[test]
fn timing_does_not_depend_on_the_data() {
    let mut uut = new_uut();
    let mut rng = Rng::new(2);
    // SHAKE256 of 64 bytes (ML-KEM's PRF input size class), 50 lanes out,
    // and SHA3-512 of 33 bytes (G(d || k)).
    for (func, len, out_lanes) in [(5, 64, 50), (3, 33, 8)] {
        let mut cycles = Vec::new();
        for fill in [0x00u8, 0xff, 0x5a] {
            let job = Job {
                func,
                msg: vec![fill; len],
                out_lanes,
            };
            let (out, c) = run_sim(&mut uut, &job, 0, &mut rng);
            check(&job, &out);
            cycles.push(c);
        }
        println!(
            "{}: {len} bytes, {out_lanes} lanes out: {} cycles",
            FUNCS[func].0, cycles[0]
        );
        assert!(cycles.iter().all(|&c| c == cycles[0]), "{cycles:?}");
    }
}

#[test]
fn start_while_squeezing_and_reset_begin_afresh() {
    let mut uut = new_uut();
    let mut rng = Rng::new(3);
    // Abandon a SHAKE128 stream after 5 lanes: no `stop`, just `start`.
    let (_, rate, dom, _) = FUNCS[4];
    uut.start.next = true;
    uut.rate.next = bits(rate);
    uut.dom.next = bits(dom);
    uut.len.next = bits(0);
    settle(&mut uut);
    tick(&mut uut);
    uut.start.next = false;
    uut.out_ready.next = true;
    let mut n = 0;
    while n < 5 {
        settle(&mut uut);
        if uut.out_valid.val() {
            n += 1;
        }
        tick(&mut uut);
    }
    uut.out_ready.next = false;
    settle(&mut uut);
    assert!(uut.ready.val());
    let job = Job {
        func: 1,
        msg: b"abc".to_vec(),
        out_lanes: 4,
    };
    let (out, _) = run_sim(&mut uut, &job, 0, &mut rng);
    check(&job, &out);
    // Reset in the middle of absorbing.
    uut.start.next = true;
    uut.len.next = bits(500);
    settle(&mut uut);
    tick(&mut uut);
    uut.start.next = false;
    uut.in_valid.next = true;
    for _ in 0..10 {
        tick(&mut uut);
    }
    uut.in_valid.next = false;
    uut.reset.next = true;
    settle(&mut uut);
    tick(&mut uut);
    uut.reset.next = false;
    settle(&mut uut);
    assert!(uut.ready.val());
    let (out, _) = run_sim(&mut uut, &job, 0, &mut rng);
    check(&job, &out);
}

#[test]
fn verilog_is_lint_clean() {
    let mut uut = XofStream::default();
    uut.connect_all();
    lint::lint("pqc_xof", &generate_verilog(&uut));
}

/// C++ harness: each job line is `rate dom len out_lanes stall seed` and
/// the message lanes in hex; it prints the output lanes in hex and the
/// cycles from `start` to the last output lane.
const HARNESS: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
#include <vector>
static Vtop* t;
static unsigned long long rs;
static unsigned rnd100() {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (unsigned)(rs % 100);
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
    unsigned rate, dom, len, nout, stall;
    unsigned long long seed;
    while (std::scanf("%u %u %u %u %u %llu", &rate, &dom, &len, &nout, &stall, &seed) == 6) {
        std::vector<unsigned long long> in((len + 7) / 8);
        for (auto& l : in)
            if (std::scanf("%llx", &l) != 1) return 1;
        rs = seed | 1;
        t->eval();
        if (!t->ready) return 2;
        t->start = 1;
        t->rate = rate;
        t->dom = dom;
        t->len = len;
        t->in_valid = 0;
        t->out_ready = 0;
        tick();
        t->start = 0;
        size_t next = 0;
        std::vector<unsigned long long> out;
        int cycles = 1;
        while (out.size() < nout && cycles < 100000) {
            t->in_valid = next < in.size() && rnd100() >= stall;
            t->in_data = next < in.size() ? in[next] : 0;
            t->out_ready = rnd100() >= stall;
            t->eval();
            if (t->in_valid && t->in_ready) next++;
            if (t->out_valid && t->out_ready) out.push_back(t->out_data);
            tick();
            cycles++;
        }
        t->in_valid = 0;
        t->out_ready = 0;
        t->stop = 1;
        tick();
        t->stop = 0;
        for (auto l : out) std::printf("%016llx ", l);
        std::printf("%d %zu\n", cycles, next);
    }
    t->final();
    delete t;
    return 0;
}
"#;

/// The exported Verilog on thousands of random jobs: every function,
/// lengths up to four blocks (clustered at block boundaries and at the
/// ML-KEM input sizes), up to 70 SHAKE lanes out, random stalls; and the
/// same job with other data takes the same cycles.
#[test]
fn verilog_in_verilator_matches_the_sha3_crate() {
    let mut uut = XofStream::default();
    uut.connect_all();
    let model = verilate::Model::build("pqc-xof-verilator", &generate_verilog(&uut), HARNESS);
    let mut rng = Rng::new(4);
    let mut input = String::new();
    let mut jobs = Vec::new();
    for n in 0..3000 {
        let func = rng.below(6) as usize;
        let block = 8 * FUNCS[func].1 as usize;
        let len = match rng.below(4) {
            0 => [32, 33, 34, 64, 800, 1184, 1568, 1600][rng.below(8) as usize],
            1 => (block * (1 + rng.below(3) as usize)).saturating_sub(2) + rng.below(5) as usize,
            _ => rng.below(4 * block as u64) as usize,
        };
        let msg: Vec<u8> = (0..len).map(|_| rng.u64() as u8).collect();
        let out_lanes = out_lanes_for(func, &mut rng);
        let stall = [0, 0, 10, 50][n % 4];
        let seed = rng.u64() >> 1;
        let (_, rate, dom, _) = FUNCS[func];
        input += &format!("{rate} {dom} {len} {out_lanes} {stall} {seed}");
        for l in lanes_with_junk(&msg, &mut rng) {
            input += &format!(" {l:x}");
        }
        input += "\n";
        jobs.push((
            Job {
                func,
                msg,
                out_lanes,
            },
            stall,
        ));
        if stall == 0 && n % 8 == 0 {
            // The same shape with other data: the same cycles.
            let other: Vec<u8> = jobs[n].0.msg.iter().map(|b| !b).collect();
            input += &format!("{rate} {dom} {len} {out_lanes} 0 1");
            for l in lanes(&other) {
                input += &format!(" {l:x}");
            }
            input += "\n";
        }
    }
    let lines = model.run(&input);
    let mut lines = lines.iter();
    for (n, (job, stall)) in jobs.iter().enumerate() {
        let line = lines.next().expect("a line per job");
        let f: Vec<&str> = line.split(' ').collect();
        let (lanes_out, tail) = f.split_at(job.out_lanes);
        let got: Vec<u64> = lanes_out
            .iter()
            .map(|h| u64::from_str_radix(h, 16).unwrap())
            .collect();
        check(job, &got);
        assert_eq!(
            tail[1],
            job.msg.len().div_ceil(8).to_string(),
            "job {n}: lanes taken"
        );
        if *stall == 0 && n % 8 == 0 {
            let twin = lines.next().unwrap();
            let cycles_twin = twin.split(' ').nth(job.out_lanes).unwrap();
            assert_eq!(tail[0], cycles_twin, "job {n}: cycles depend on the data");
        }
    }
    assert!(lines.next().is_none());
}
