//! The CTR_DRBG block (AES-256 with derivation function) against NIST
//! CAVP's known answers and a software model built on the RustCrypto `aes`
//! crate: random command sequences, every input length, refusals,
//! back-pressure, constant timing and zeroization in rust-hdl's simulator;
//! its Verilog through Verilator's lint and, built with Verilator, against
//! the model.

mod aes_bench;
mod drbg_model;
mod lint;
mod verilate;

use aes_bench::hex;
use drbg_model::SwDrbg;
use hsm_hdl::aes::bits128;
use hsm_hdl::drbg::{
    drbg_cycles, CtrDrbg, DRBG_CMD_GENERATE, DRBG_CMD_INSTANTIATE, DRBG_CMD_RESEED,
    DRBG_CMD_ZEROIZE, DRBG_IN_BYTES, DRBG_MAX_GEN_BLOCKS, DRBG_REFUSED_CYCLES,
};
use lint::lint;
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use rust_hdl::prelude::*;

const INST: u64 = DRBG_CMD_INSTANTIATE;
const RESEED: u64 = DRBG_CMD_RESEED;
const GEN: u64 = DRBG_CMD_GENERATE;
const ZEROIZE: u64 = DRBG_CMD_ZEROIZE;

// ---------------------------------------------------------------------------
// Known-answer vectors.

#[derive(Debug, Default)]
struct Kat {
    /// 1-based record number in the file.
    n: usize,
    pr: bool,
    entropy: Vec<u8>,
    nonce: Vec<u8>,
    pers: Vec<u8>,
    entropy_reseed: Vec<u8>,
    add_reseed: Vec<u8>,
    add_a: Vec<u8>,
    entropy_pr_a: Vec<u8>,
    add_b: Vec<u8>,
    entropy_pr_b: Vec<u8>,
    returned: Vec<u8>,
}

fn kats() -> Vec<Kat> {
    let text = include_str!("vectors/ctr-drbg-aes256-df.txt");
    let mut out = Vec::new();
    let mut cur = Kat::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').expect("name = value");
        let (name, value) = (name.trim(), value.trim());
        match name {
            "PredictionResistance" => {
                cur = Kat {
                    n: out.len() + 1,
                    pr: value == "1",
                    ..Kat::default()
                }
            }
            "EntropyInput" => cur.entropy = hex(value),
            "Nonce" => cur.nonce = hex(value),
            "PersonalizationString" => cur.pers = hex(value),
            "EntropyInputReseed" => cur.entropy_reseed = hex(value),
            "AdditionalInputReseed" => cur.add_reseed = hex(value),
            "AdditionalInputA" => cur.add_a = hex(value),
            "EntropyInputPRA" => cur.entropy_pr_a = hex(value),
            "AdditionalInputB" => cur.add_b = hex(value),
            "EntropyInputPRB" => cur.entropy_pr_b = hex(value),
            "ReturnedBits" => {
                cur.returned = hex(value);
                out.push(std::mem::take(&mut cur));
            }
            _ => panic!("unknown field {name}"),
        }
    }
    out
}

/// One command of a known-answer test: (cmd, input, gen_blocks).
fn kat_commands(k: &Kat) -> Vec<(u64, Vec<u8>, usize)> {
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    let blocks = k.returned.len() / 16;
    let mut cmds = vec![(INST, [&k.entropy[..], &k.nonce, &k.pers].concat(), 0)];
    if !k.entropy_reseed.is_empty() {
        cmds.push((RESEED, cat(&k.entropy_reseed, &k.add_reseed), 0));
    }
    if k.pr {
        cmds.push((RESEED, cat(&k.entropy_pr_a, &k.add_a), 0));
        cmds.push((GEN, vec![], blocks));
        cmds.push((RESEED, cat(&k.entropy_pr_b, &k.add_b), 0));
        cmds.push((GEN, vec![], blocks));
    } else {
        cmds.push((GEN, k.add_a.clone(), blocks));
        cmds.push((GEN, k.add_b.clone(), blocks));
    }
    cmds
}

fn bytes_of(blocks: &[u128]) -> Vec<u8> {
    blocks.iter().flat_map(|b| b.to_le_bytes()).collect()
}

// ---------------------------------------------------------------------------
// The block under test, driven cycle by cycle.

#[derive(Debug)]
struct Outcome {
    error: bool,
    blocks: Vec<u128>,
    /// Cycles from the `start` cycle to the `done` cycle.
    cycles: u64,
}

struct Hw {
    uut: Box<CtrDrbg>,
    /// Random `out_ready` (probability of high, in percent) when set.
    stall: Option<(StdRng, u32)>,
    /// Buffer bytes past the input: a pattern that must be ignored.
    junk: u8,
}

impl Hw {
    fn new(limit: u32) -> Hw {
        let mut uut = Box::<CtrDrbg>::default();
        uut.connect_all();
        uut.reseed_limit.next = (limit as u64).to_bits();
        uut.out_ready.next = true;
        let mut hw = Hw {
            uut,
            stall: None,
            junk: 0x5c,
        };
        hw.uut.reset.next = true;
        hw.tick();
        hw.uut.reset.next = false;
        hw.tick();
        assert!(hw.uut.ready.val() && hw.uut.secret_state_is_zero());
        hw
    }

    fn tick(&mut self) {
        self.uut.clock.next = false.into();
        assert!(simulate(&mut *self.uut, 200));
        self.uut.clock.next = true.into();
        assert!(simulate(&mut *self.uut, 200));
        self.uut.in_write.next = false;
        self.uut.start.next = false;
    }

    /// Write all eight buffer blocks: the input, then junk.
    fn load(&mut self, input: &[u8]) {
        let mut buf = [0u8; DRBG_IN_BYTES];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = match input.get(i) {
                Some(&x) => x,
                None => self.junk.wrapping_add((i as u8).wrapping_mul(37)),
            };
        }
        self.junk = self.junk.wrapping_add(1);
        for (i, chunk) in buf.chunks(16).enumerate() {
            self.uut.in_write.next = true;
            self.uut.in_index.next = (i as u64).to_bits();
            self.uut.in_block.next = bits128(u128::from_le_bytes(chunk.try_into().unwrap()));
            self.tick();
        }
    }

    /// Load the input and pulse `start`: the block is then in the cycle
    /// after the `start` cycle.
    fn start(&mut self, cmd: u64, input: &[u8], gen_blocks: usize) {
        assert!(self.uut.ready.val());
        self.load(input);
        self.uut.cmd.next = cmd.to_bits();
        self.uut.in_len.next = (input.len() as u64).to_bits();
        self.uut.gen_blocks.next = (gen_blocks as u64).to_bits();
        self.uut.start.next = true;
        self.tick();
    }

    /// Run a command; every cycle's `out_ready` from `stall` (or high).
    /// Checks that an output block is held until taken and that the
    /// temporaries are zero afterwards.
    fn run(&mut self, cmd: u64, input: &[u8], gen_blocks: usize) -> Outcome {
        self.start(cmd, input, gen_blocks);
        let mut cycles = 1;
        let mut blocks = Vec::new();
        let mut held: Option<u128> = None;
        while !self.uut.done.val() {
            assert!(!self.uut.ready.val());
            if let Some(b) = held {
                assert!(self.uut.out_valid.val(), "output block dropped");
                assert_eq!(
                    self.uut.out_block.val().to_u128(),
                    b,
                    "output block changed"
                );
            }
            let ready = match &mut self.stall {
                Some((rng, p)) => rng.gen_range(0..100) < *p,
                None => true,
            };
            self.uut.out_ready.next = ready;
            held = None;
            if self.uut.out_valid.val() {
                if ready {
                    blocks.push(self.uut.out_block.val().to_u128());
                } else {
                    held = Some(self.uut.out_block.val().to_u128());
                }
            } else {
                assert!(!self.uut.out_block.val().any(), "out_block while not valid");
            }
            self.tick();
            cycles += 1;
            assert!(cycles < 2_000_000, "no done");
        }
        let error = self.uut.error.val();
        assert!(!self.uut.out_valid.val(), "output pending at done");
        self.uut.out_ready.next = true;
        self.tick();
        assert!(self.uut.ready.val() && !self.uut.done.val() && !self.uut.error.val());
        assert!(
            self.uut.scratch_is_zero(),
            "temporaries not cleared after cmd {cmd}"
        );
        Outcome {
            error,
            blocks,
            cycles,
        }
    }

    fn instantiated(&self) -> bool {
        self.uut.instantiated.val()
    }

    fn reseed_required(&self) -> bool {
        self.uut.reseed_required.val()
    }
}

/// Run `cmd` on the block and the model; they must agree on refusal,
/// output and status. Returns the outcome.
fn both(
    hw: &mut Hw,
    sw: &mut SwDrbg,
    limit: u32,
    cmd: u64,
    input: &[u8],
    gen_blocks: usize,
    what: &str,
) -> Outcome {
    let out = hw.run(cmd, input, gen_blocks);
    match sw.command(cmd, input, gen_blocks, limit) {
        Ok(blocks) => {
            assert!(!out.error, "{what}: refused by the block");
            assert_eq!(out.blocks, blocks, "{what}: output");
        }
        Err(why) => {
            assert!(out.error, "{what}: the model refuses ({why:?})");
            assert!(out.blocks.is_empty(), "{what}: output from a refusal");
            assert_eq!(out.cycles, DRBG_REFUSED_CYCLES, "{what}: refusal time");
        }
    }
    assert_eq!(hw.instantiated(), sw.instantiated, "{what}: instantiated");
    assert_eq!(
        hw.reseed_required(),
        sw.reseed_required(limit),
        "{what}: reseed_required"
    );
    out
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn software_model_matches_known_answers() {
    let kats = kats();
    assert_eq!(kats.len(), 720);
    for k in kats.iter().step_by(37) {
        let mut sw = SwDrbg::default();
        let mut last = vec![];
        for (cmd, input, blocks) in kat_commands(k) {
            last = sw.command(cmd, &input, blocks, u32::MAX).unwrap();
        }
        assert_eq!(bytes_of(&last), k.returned, "record {}", k.n);
    }
}

fn run_kats(pr: bool) {
    let mut hw = Hw::new(u32::MAX);
    let mut n = 0;
    for k in kats().iter().filter(|k| k.pr == pr) {
        let mut last = None;
        for (cmd, input, blocks) in kat_commands(k) {
            let out = hw.run(cmd, &input, blocks);
            assert!(!out.error, "record {}: cmd {cmd} refused", k.n);
            assert_eq!(
                out.cycles,
                drbg_cycles(cmd, input.len(), blocks),
                "record {}: cycles of cmd {cmd}",
                k.n
            );
            last = Some(out.blocks);
        }
        assert_eq!(
            bytes_of(&last.unwrap()),
            k.returned,
            "record {}: returned bits",
            k.n
        );
        n += 1;
    }
    assert_eq!(n, if pr { 240 } else { 480 });
}

/// All 480 records without prediction resistance through the block.
#[test]
fn known_answers_without_prediction_resistance() {
    run_kats(false);
}

/// All 240 records with prediction resistance (reseed before each
/// generate) through the block.
#[test]
fn known_answers_with_prediction_resistance() {
    run_kats(true);
}

/// Random command sequences (random input lengths 0..=128, 1..=20 output
/// blocks, a small reseed interval) against the model, `out_ready` high:
/// outputs, refusals and status agree, and every command takes
/// `drbg_cycles`.
#[test]
fn random_sequences_match_the_model() {
    let mut rng = StdRng::seed_from_u64(0xd7b6_0001);
    let limit = 5;
    let mut hw = Hw::new(limit);
    let mut sw = SwDrbg::default();
    let mut generated = 0;
    for step in 0..200 {
        let cmd = match rng.gen_range(0..100) {
            0..=14 => INST,
            15..=34 => RESEED,
            35..=95 => GEN,
            _ => ZEROIZE,
        };
        // Mostly lengths the command accepts, sometimes any.
        let len = match cmd {
            INST if rng.gen_bool(0.85) => rng.gen_range(48..=128),
            RESEED if rng.gen_bool(0.85) => rng.gen_range(32..=128),
            GEN if rng.gen_bool(0.3) => 0,
            _ => rng.gen_range(0..=128),
        };
        let mut input = vec![0u8; len];
        rng.fill_bytes(&mut input);
        let gen_blocks = rng.gen_range(1..=20);
        let what = format!("step {step}: cmd {cmd}, {len} bytes, {gen_blocks} blocks");
        let out = both(&mut hw, &mut sw, limit, cmd, &input, gen_blocks, &what);
        if !out.error {
            assert_eq!(
                out.cycles,
                drbg_cycles(cmd, len, gen_blocks),
                "{what}: cycles"
            );
            generated += out.blocks.len();
        }
        if cmd == ZEROIZE {
            assert!(hw.uut.secret_state_is_zero(), "{what}: state after ZEROIZE");
        }
    }
    assert!(generated > 500, "only {generated} blocks generated");
}

/// GENERATE with additional input of every length 0..=128 (every padding
/// position of the df's S), against the model, at `drbg_cycles`.
#[test]
fn every_input_length() {
    let mut rng = StdRng::seed_from_u64(0xd7b6_0002);
    let mut hw = Hw::new(u32::MAX);
    let mut sw = SwDrbg::default();
    let mut seed = vec![0u8; 128];
    rng.fill_bytes(&mut seed);
    both(&mut hw, &mut sw, u32::MAX, INST, &seed, 0, "instantiate");
    for len in 0..=DRBG_IN_BYTES {
        let mut input = vec![0u8; len];
        rng.fill_bytes(&mut input);
        let what = format!("generate with {len} bytes");
        let out = both(&mut hw, &mut sw, u32::MAX, GEN, &input, 1, &what);
        assert_eq!(out.cycles, drbg_cycles(GEN, len, 1), "{what}: cycles");
    }
    for len in [32, 33, 47, 48, 100, 127, 128] {
        let mut input = vec![0u8; len];
        rng.fill_bytes(&mut input);
        let what = format!("reseed with {len} bytes");
        let out = both(&mut hw, &mut sw, u32::MAX, RESEED, &input, 0, &what);
        assert_eq!(out.cycles, drbg_cycles(RESEED, len, 0), "{what}: cycles");
        both(
            &mut hw,
            &mut sw,
            u32::MAX,
            GEN,
            &[],
            2,
            "generate after reseed",
        );
    }
}

/// Refusals: before INSTANTIATE, lengths and block counts out of range,
/// the reseed interval; each changes nothing (the next output still equals
/// the model's), and a RESEED clears `reseed_required`.
#[test]
fn refused_commands_change_nothing() {
    let limit = 2;
    let mut rng = StdRng::seed_from_u64(0xd7b6_0003);
    let mut bytes = |n: usize| {
        let mut v = vec![0u8; n];
        rng.fill_bytes(&mut v);
        v
    };
    let mut hw = Hw::new(limit);
    let mut sw = SwDrbg::default();
    let refused = |hw: &mut Hw, sw: &mut SwDrbg, cmd: u64, input: &[u8], gb: usize| {
        let what = format!("cmd {cmd}, {} bytes, {gb} blocks", input.len());
        let out = both(hw, sw, limit, cmd, input, gb, &what);
        assert!(out.error, "{what}: accepted");
        assert_eq!(out.cycles, DRBG_REFUSED_CYCLES);
    };
    // Not instantiated.
    refused(&mut hw, &mut sw, GEN, &[], 1);
    refused(&mut hw, &mut sw, GEN, &bytes(40), 4);
    refused(&mut hw, &mut sw, RESEED, &bytes(48), 0);
    assert!(hw.uut.secret_state_is_zero());
    // Lengths.
    refused(&mut hw, &mut sw, INST, &bytes(47), 0);
    refused(&mut hw, &mut sw, INST, &bytes(129), 0);
    assert!(hw.uut.secret_state_is_zero());
    both(&mut hw, &mut sw, limit, INST, &bytes(48), 0, "instantiate");
    refused(&mut hw, &mut sw, RESEED, &bytes(31), 0);
    refused(&mut hw, &mut sw, RESEED, &bytes(129), 0);
    refused(&mut hw, &mut sw, GEN, &bytes(129), 1);
    refused(&mut hw, &mut sw, GEN, &bytes(16), 0);
    refused(&mut hw, &mut sw, GEN, &[], DRBG_MAX_GEN_BLOCKS + 1);
    refused(&mut hw, &mut sw, INST, &bytes(20), 0);
    // The reseed interval: `limit` generates, then refusals until a reseed.
    for i in 0..limit {
        assert!(!hw.reseed_required());
        let out = both(
            &mut hw,
            &mut sw,
            limit,
            GEN,
            &bytes(i as usize * 9),
            3,
            "generate",
        );
        assert_eq!(out.blocks.len(), 3);
    }
    assert!(hw.reseed_required());
    refused(&mut hw, &mut sw, GEN, &[], 1);
    refused(&mut hw, &mut sw, GEN, &bytes(32), 2);
    both(&mut hw, &mut sw, limit, RESEED, &bytes(32), 0, "reseed");
    assert!(!hw.reseed_required());
    let out = both(
        &mut hw,
        &mut sw,
        limit,
        GEN,
        &[],
        2,
        "generate after reseed",
    );
    assert_eq!(out.blocks.len(), 2);
    // The largest request.
    both(
        &mut hw,
        &mut sw,
        limit,
        GEN,
        &bytes(5),
        DRBG_MAX_GEN_BLOCKS,
        "4096 blocks",
    );
    // A new INSTANTIATE replaces an instantiated state.
    both(
        &mut hw,
        &mut sw,
        limit,
        INST,
        &bytes(128),
        0,
        "instantiate again",
    );
    both(&mut hw, &mut sw, limit, GEN, &[], 4, "generate");
}

/// A consumer that often (or mostly) holds `out_ready` low gets the same
/// blocks; a GENERATE then takes longer, the others do not.
#[test]
fn backpressure_does_not_change_outputs() {
    let mut rng = StdRng::seed_from_u64(0xd7b6_0004);
    let mut hw = Hw::new(u32::MAX);
    let mut sw = SwDrbg::default();
    let mut seed = vec![0u8; 64];
    rng.fill_bytes(&mut seed);
    both(&mut hw, &mut sw, u32::MAX, INST, &seed, 0, "instantiate");
    for (i, p) in [50u32, 20, 3, 80].into_iter().enumerate() {
        hw.stall = Some((StdRng::seed_from_u64(i as u64), p));
        for _ in 0..3 {
            let len = rng.gen_range(0..=64);
            let mut input = vec![0u8; len];
            rng.fill_bytes(&mut input);
            let blocks = rng.gen_range(1..=12);
            let what = format!("out_ready {p}%, {len} bytes, {blocks} blocks");
            let out = both(&mut hw, &mut sw, u32::MAX, GEN, &input, blocks, &what);
            assert!(out.cycles >= drbg_cycles(GEN, len, blocks), "{what}");
        }
        let out = both(&mut hw, &mut sw, u32::MAX, RESEED, &seed[..40], 0, "reseed");
        assert_eq!(out.cycles, drbg_cycles(RESEED, 40, 0));
    }
}

/// The time from `start` to `done` is `drbg_cycles` and the same for
/// different data (and DRBG states) of the same lengths.
#[test]
fn timing_depends_only_on_lengths() {
    let cases = [
        (INST, 48, 0),
        (INST, 128, 0),
        (RESEED, 32, 0),
        (RESEED, 77, 0),
        (GEN, 0, 1),
        (GEN, 0, 9),
        (GEN, 1, 2),
        (GEN, 64, 3),
        (GEN, 128, 1),
        (ZEROIZE, 0, 0),
    ];
    for (cmd, len, gb) in cases {
        let mut seen = Vec::new();
        for fill in [0x00u8, 0xff, 0x3c] {
            let mut hw = Hw::new(u32::MAX);
            // A different state each time, then data of the same length.
            hw.run(INST, &vec![fill ^ 0x5a; 48 + fill as usize % 64], 0);
            let input: Vec<u8> = (0..len).map(|i| fill ^ (i as u8)).collect();
            let out = hw.run(cmd, &input, gb);
            assert!(!out.error, "cmd {cmd}, {len} bytes");
            seen.push(out.cycles);
        }
        let want = drbg_cycles(cmd, len, gb);
        assert!(
            seen.iter().all(|&c| c == want),
            "cmd {cmd}, {len} bytes, {gb} blocks: {seen:?} cycles, formula {want}"
        );
    }
    assert_eq!(drbg_cycles(INST, 48, 0), 16 * 21 + 1);
    assert_eq!(drbg_cycles(GEN, 0, 4), 16 * 7 + 1);
    assert_eq!(drbg_cycles(GEN, 32, 4), 16 * 25 + 1);
    assert_eq!(drbg_cycles(GEN, 0, 0), DRBG_REFUSED_CYCLES);
}

/// ZEROIZE clears Key, V, the counter and `instantiated` at the edge that
/// takes `start` and the rest with `done`; reset clears everything at once,
/// even in the middle of a command.
#[test]
fn zeroize_and_reset_clear_the_state() {
    let mut rng = StdRng::seed_from_u64(0xd7b6_0005);
    let mut seed = vec![0u8; 80];
    rng.fill_bytes(&mut seed);
    let mut hw = Hw::new(u32::MAX);
    let mut sw = SwDrbg::default();
    both(&mut hw, &mut sw, u32::MAX, INST, &seed, 0, "instantiate");
    both(&mut hw, &mut sw, u32::MAX, GEN, &seed[..20], 3, "generate");
    assert!(!hw.uut.secret_state_is_zero());

    hw.start(ZEROIZE, &seed[..50], 0);
    assert!(hw.uut.done.val() && !hw.uut.error.val());
    assert!(!hw.instantiated() && !hw.reseed_required());
    hw.tick();
    assert!(hw.uut.ready.val());
    assert!(hw.uut.secret_state_is_zero(), "state after ZEROIZE");
    sw.command(ZEROIZE, &[], 0, u32::MAX).unwrap();
    both(
        &mut hw,
        &mut sw,
        u32::MAX,
        GEN,
        &[],
        1,
        "generate after ZEROIZE",
    );

    // Reset in the middle of a GENERATE, with an output block pending.
    both(&mut hw, &mut sw, u32::MAX, INST, &seed, 0, "instantiate");
    hw.start(GEN, &seed[..33], 20);
    for cycle in 0..700 {
        hw.uut.out_ready.next = cycle < 600;
        hw.tick();
    }
    assert!(hw.uut.out_valid.val() && !hw.uut.ready.val());
    hw.uut.reset.next = true;
    hw.tick();
    hw.uut.reset.next = false;
    hw.uut.out_ready.next = true;
    assert!(hw.uut.ready.val() && !hw.uut.out_valid.val() && !hw.instantiated());
    assert!(hw.uut.secret_state_is_zero(), "state after reset");
    sw.command(ZEROIZE, &[], 0, u32::MAX).unwrap();
    both(
        &mut hw,
        &mut sw,
        u32::MAX,
        INST,
        &seed[..48],
        0,
        "instantiate after reset",
    );
    both(
        &mut hw,
        &mut sw,
        u32::MAX,
        GEN,
        &[],
        2,
        "generate after reset",
    );
}

#[test]
fn verilog_is_lint_clean() {
    let mut uut = CtrDrbg::default();
    uut.connect_all();
    lint("ctr_drbg", &generate_verilog(&uut));
}

/// C++ driver of the Verilated block: per command a line `cmd in_len
/// gen_blocks reseed_limit buffer` (the 128 buffer bytes in hex); prints the
/// output blocks (`b` and one hex value each, as `Bits<128>`) on one line,
/// then `error cycles` on the next. `out_ready` is high throughout.
const HARNESS: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
static Vtop* t;
static void tick() {
    t->clock = 0;
    t->eval();
    t->clock = 1;
    t->eval();
}
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    t = new Vtop;
    t->out_ready = 1;
    t->reset = 1;
    tick();
    t->reset = 0;
    tick();
    unsigned cmd, len, gb, limit;
    static char hex[300];
    while (std::scanf("%u %u %u %u %256s", &cmd, &len, &gb, &limit, hex) == 5) {
        t->reseed_limit = limit;
        for (int i = 0; i < 8; i++) {
            for (int k = 0; k < 4; k++) {
                unsigned v = 0;
                for (int b = 3; b >= 0; b--) {
                    unsigned x;
                    std::sscanf(hex + 2 * (16 * i + 4 * k + b), "%2x", &x);
                    v = (v << 8) | x;
                }
                t->in_block[k] = v;
            }
            t->in_index = i;
            t->in_write = 1;
            tick();
        }
        t->in_write = 0;
        t->cmd = cmd;
        t->in_len = len;
        t->gen_blocks = gb;
        t->start = 1;
        tick();
        t->start = 0;
        unsigned long cycles = 1;
        std::printf("b");
        while (!t->done) {
            if (t->out_valid)
                std::printf(" %08x%08x%08x%08x", t->out_block[3], t->out_block[2],
                            t->out_block[1], t->out_block[0]);
            tick();
            cycles++;
        }
        std::printf("\n%u %lu\n", (unsigned)t->error, cycles);
        tick();
    }
    t->final();
    delete t;
    return 0;
}
"#;

/// The exported Verilog, built with Verilator, against the model: random
/// commands with every kind of refusal, outputs and cycle counts.
#[test]
fn generated_verilog_matches_the_model_in_verilator() {
    let mut uut = CtrDrbg::default();
    uut.connect_all();
    let model = verilate::Model::build("ctr-drbg-verilator", &generate_verilog(&uut), HARNESS);
    let mut rng = StdRng::seed_from_u64(0xd7b6_0006);
    let limit = 3;
    let mut sw = SwDrbg::default();
    let mut stimulus = String::new();
    let mut expect = Vec::new();
    for step in 0..120 {
        let (cmd, len) = match step {
            0 => (GEN, 0),
            1 => (INST, 47),
            2 => (INST, 128),
            _ => match rng.gen_range(0..20) {
                0..=2 => (INST, rng.gen_range(40..=129)),
                3..=6 => (RESEED, rng.gen_range(28..=128)),
                7 => (ZEROIZE, 0),
                _ => (GEN, rng.gen_range(0..=128)),
            },
        };
        let gen_blocks = match rng.gen_range(0..30) {
            0 => 0,
            1 => DRBG_MAX_GEN_BLOCKS + 1,
            _ => rng.gen_range(1..=6),
        };
        let mut buf = [0u8; DRBG_IN_BYTES];
        rng.fill_bytes(&mut buf);
        let input = &buf[..len.min(DRBG_IN_BYTES)];
        let input = if len > DRBG_IN_BYTES {
            [input, &[0][..]].concat()
        } else {
            input.to_vec()
        };
        let hexbuf: String = buf.iter().map(|b| format!("{b:02x}")).collect();
        stimulus += &format!("{cmd} {len} {gen_blocks} {limit} {hexbuf}\n");
        let (blocks, error, cycles) = match sw.command(cmd, &input, gen_blocks, limit) {
            Ok(b) => (b, 0, drbg_cycles(cmd, len, gen_blocks)),
            Err(_) => (vec![], 1, DRBG_REFUSED_CYCLES),
        };
        let blocks: String = blocks.iter().map(|b| format!(" {b:032x}")).collect();
        expect.push(format!("b{blocks}"));
        expect.push(format!("{error} {cycles}"));
    }
    let got = model.run(&stimulus);
    assert_eq!(got.len(), expect.len(), "lines from the Verilated model");
    for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
        assert_eq!(g, e, "command {}", i / 2);
    }
}
