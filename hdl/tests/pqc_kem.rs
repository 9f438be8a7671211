//! The ML-KEM compute core (`hsm_hdl::pqc::kem::MlKemCore`) against the
//! NIST vectors of FIPS 203: KeyGen_internal(d, z) for ML-KEM-512, -768
//! and -1024 must give the vector's encapsulation key, and the first
//! 384 k bytes of its decapsulation key (dk_PKE), through the exported
//! Verilog in Verilator; plus lint, and the program's shape.

mod lint;
mod verilate;
use hsm_hdl::pqc::kem::{keygen_program, program_rom, Insn, MlKemCore};
use rust_hdl::prelude::*;

/// One KeyGen vector: (d, z, ek, dk).
type Vector = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The KeyGen fields of `../shared/vectors/mlkem/kat_MLKEM_<set>.rsp`.
fn vectors(set: usize) -> Vec<Vector> {
    let path = format!(
        "{}/../../shared/vectors/mlkem/kat_MLKEM_{set}.rsp",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut cur: std::collections::HashMap<String, String> = Default::default();
    for line in text.lines().chain(std::iter::once("")) {
        if let Some((k, v)) = line.split_once(" = ") {
            cur.insert(k.trim().to_string(), v.trim().to_string());
        } else if line.trim().is_empty() && cur.contains_key("pk") {
            out.push((
                unhex(&cur["d"]),
                unhex(&cur["z"]),
                unhex(&cur["pk"]),
                unhex(&cur["sk"]),
            ));
            cur.clear();
        }
    }
    out
}

fn lanes(b: &[u8]) -> Vec<u64> {
    b.chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn programs_fit_and_use_the_units_as_planned() {
    let (rom, entries) = program_rom();
    assert!(rom.len() <= 1024);
    for (k, entry) in (2..=4).zip(entries) {
        let p = keygen_program(k);
        assert_eq!(
            &rom[entry..entry + p.len()],
            &p.iter().map(|i| i.encode()).collect::<Vec<_>>()[..]
        );
        assert_eq!(p.last(), Some(&Insn::End));
        let polys = p.iter().filter(|i| matches!(i, Insn::Poly { .. })).count();
        assert_eq!(polys, 2 * k + k * k, "NTTs and MULACCs");
    }
}

#[test]
fn verilog_is_lint_clean() {
    let mut uut = MlKemCore::default();
    uut.connect_all();
    lint::lint("pqc_kem", &generate_verilog(&uut));
}

/// C++ harness: each line `k` and the 8 lanes of d || z in hex; prints
/// the output lanes in hex, then the cycles from `start` to `done`, the
/// polynomial-unit commands, the fault flag and the cycles the
/// polynomial unit was busy.
const HARNESS: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
#include <vector>
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
    t->reset = 1;
    tick();
    t->reset = 0;
    tick();
    unsigned k;
    while (std::scanf("%u", &k) == 1) {
        unsigned long long in[8];
        for (int i = 0; i < 8; i++)
            if (std::scanf("%llx", &in[i]) != 1) return 1;
        t->start = 1;
        t->k = k;
        t->out_ready = 1;
        t->in_valid = 0;
        tick();
        t->start = 0;
        int next = 0, cycles = 1, poly_busy = 0;
        std::vector<unsigned long long> out;
        while (!t->done && cycles < 200000) {
            t->in_valid = next < 8;
            t->in_data = next < 8 ? in[next] : 0;
            t->eval();
            if (t->in_valid && t->in_ready) next++;
            if (t->out_valid && t->out_ready) out.push_back(t->out_data);
            if (t->units_busy & 2) poly_busy++;
            tick();
            cycles++;
        }
        for (auto l : out) std::printf("%016llx ", l);
        std::printf("%d %d %d %d\n", cycles, (int)t->poly_cmds, (int)t->fault, poly_busy);
    }
    t->final();
    delete t;
    return 0;
}
"#;

#[test]
fn keygen_in_verilator_matches_every_nist_vector() {
    let mut uut = MlKemCore::default();
    uut.connect_all();
    let model = verilate::Model::build("pqc-kem-verilator", &generate_verilog(&uut), HARNESS);
    for (set, k) in [(512, 2), (768, 3), (1024, 4)] {
        let vs = vectors(set);
        assert_eq!(vs.len(), 50, "ML-KEM-{set} vectors");
        let mut input = String::new();
        for (d, z, _, _) in &vs {
            input += &k.to_string();
            for l in lanes(d).iter().chain(&lanes(z)) {
                input += &format!(" {l:x}");
            }
            input += "\n";
        }
        let lines = model.run(&input);
        assert_eq!(lines.len(), vs.len());
        let mut cycles = Vec::new();
        let mut busy = Vec::new();
        for (n, (line, (_, _, ek, dk))) in lines.iter().zip(&vs).enumerate() {
            let f: Vec<&str> = line.split(' ').collect();
            let (out, tail) = f.split_at(f.len() - 4);
            let bytes: Vec<u8> = out
                .iter()
                .flat_map(|h| u64::from_str_radix(h, 16).unwrap().to_le_bytes())
                .collect();
            assert_eq!(
                bytes.len(),
                ek.len() + 384 * k,
                "ML-KEM-{set} vector {n}: output length"
            );
            assert!(bytes[..ek.len()] == ek[..], "ML-KEM-{set} vector {n}: ek");
            assert!(
                bytes[ek.len()..] == dk[..384 * k],
                "ML-KEM-{set} vector {n}: dk_PKE"
            );
            assert_eq!(tail[1], (2 * k + k * k).to_string(), "polynomial commands");
            assert_eq!(tail[2], "0", "fault");
            cycles.push(tail[0].parse::<usize>().unwrap());
            busy.push(tail[3].parse::<usize>().unwrap());
        }
        let mean = cycles.iter().sum::<usize>() / cycles.len();
        println!(
            "ML-KEM-{set} KeyGen (to ek and dk_PKE out): {}..{} cycles, mean {mean}; polynomial unit busy {}%",
            cycles.iter().min().unwrap(),
            cycles.iter().max().unwrap(),
            100 * busy.iter().sum::<usize>() / cycles.iter().sum::<usize>()
        );
    }
}
