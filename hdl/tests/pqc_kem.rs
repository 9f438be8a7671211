//! The ML-KEM compute core (`hsm_hdl::pqc::kem::MlKemCore`) against the
//! NIST vectors of FIPS 203: KeyGen_internal(d, z) for ML-KEM-512, -768
//! and -1024 must give the vector's encapsulation key, and the first
//! 384 k bytes of its decapsulation key (dk_PKE), through the exported
//! Verilog in Verilator; plus lint, and the program's shape.

mod lint;
mod verilate;
use hsm_hdl::pqc::kem::{
    decaps_program, encaps_program, keygen_ek_program, keygen_program, program_rom, Insn,
    MlKemCore, INSN_BITS,
};
use rust_hdl::prelude::*;

/// One vector: d, z, ek, dk, m, ct, ss.
struct Vector {
    d: Vec<u8>,
    z: Vec<u8>,
    ek: Vec<u8>,
    dk: Vec<u8>,
    m: Vec<u8>,
    ct: Vec<u8>,
    ss: Vec<u8>,
    ct_n: Vec<u8>,
    ss_n: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The vectors of `../shared/vectors/mlkem/kat_MLKEM_<set>.rsp`.
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
            out.push(Vector {
                d: unhex(&cur["d"]),
                z: unhex(&cur["z"]),
                ek: unhex(&cur["pk"]),
                dk: unhex(&cur["sk"]),
                m: unhex(&cur["msg"]),
                ct: unhex(&cur["ct"]),
                ss: unhex(&cur["ss"]),
                ct_n: unhex(&cur["ct_n"]),
                ss_n: unhex(&cur["ss_n"]),
            });
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

/// KeyGen: 2k NTTs and k^2 products.
fn keygen_commands(k: usize) -> usize {
    2 * k + k * k
}

/// Encaps: k NTTs, k^2 + k products, k + 1 INTTs, k + 2 additions.
fn encaps_commands(k: usize) -> usize {
    k + k * k + k + (k + 1) + (k + 2)
}

/// Decaps: KeyGen, then decryption (k NTTs, k products, an INTT, a
/// subtraction), then Encaps' encryption.
fn decaps_commands(k: usize) -> usize {
    keygen_commands(k) + (k + k + 1 + 1) + encaps_commands(k)
}

#[test]
fn programs_fit_and_use_the_units_as_planned() {
    let (rom, entries) = program_rom();
    assert!(rom.len() <= 1024);
    for k in 2..=4 {
        for (entry, p, cmds) in [
            (entries[0][k - 2], keygen_program(k), keygen_commands(k)),
            (entries[1][k - 2], encaps_program(k), encaps_commands(k)),
            (entries[2][k - 2], decaps_program(k), decaps_commands(k)),
            (entries[3][k - 2], keygen_ek_program(k), keygen_commands(k)),
        ] {
            let words: Vec<u64> = p.iter().map(|i| i.encode()).collect();
            assert_eq!(&rom[entry..entry + p.len()], &words[..]);
            assert!(words.iter().all(|&w| w < 1 << INSN_BITS));
            assert_eq!(p.last(), Some(&Insn::End));
            let polys = p.iter().filter(|i| matches!(i, Insn::Poly { .. })).count();
            assert_eq!(polys, cmds, "polynomial commands");
        }
    }
}

#[test]
fn verilog_is_lint_clean() {
    let mut uut = MlKemCore::default();
    uut.connect_all();
    lint::lint("pqc_kem", &generate_verilog(&uut));
}

/// C++ harness: each line `prog k n` and n input lanes in hex; prints
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
    // The memories are overwritten with zeros after reset.
    while (t->busy) tick();
        unsigned prog, k, n;
    while (std::scanf("%u %u %u", &prog, &k, &n) == 3) {
        std::vector<unsigned long long> in(n);
        for (auto& l : in)
            if (std::scanf("%llx", &l) != 1) return 1;
        t->start = 1;
        t->prog = prog;
        t->k = k;
        t->out_ready = 1;
        t->in_valid = 0;
        tick();
        t->start = 0;
                unsigned next = 0;
        int cycles = 1, poly_busy = 0;
        std::vector<unsigned long long> out;
        while (!t->done && cycles < 200000) {
                        t->in_valid = next < n;
            t->in_data = next < n ? in[next] : 0;
            t->eval();
            if (t->in_valid && t->in_ready) next++;
            if (t->out_valid && t->out_ready) out.push_back(t->out_data);
            if (t->units_busy & 2) poly_busy++;
            tick();
            cycles++;
        }
        for (auto l : out) std::printf("%016llx ", l);
                std::printf("%d %d %d %d %d %u\n", cycles, (int)t->poly_cmds, (int)t->fault, poly_busy,
                    (int)t->input_err, next);
    }
    t->final();
    delete t;
    return 0;
}
"#;

/// A job for the harness: program, k, input bytes.
fn job_line(prog: u8, k: usize, input: &[u8]) -> String {
    let l = lanes(input);
    let mut line = format!("{prog} {k} {}", l.len());
    for x in l {
        line += &format!(" {x:x}");
    }
    line + "\n"
}

/// A harness result: output bytes, cycles, polynomial commands, fault,
/// cycles with the polynomial unit busy, input error, input lanes taken.
struct Run {
    out: Vec<u8>,
    cycles: usize,
    cmds: usize,
    fault: bool,
    poly_busy: usize,
    input_err: bool,
    taken: usize,
}

fn parse_run(line: &str) -> Run {
    let f: Vec<&str> = line.split(' ').collect();
    let (out, tail) = f.split_at(f.len() - 6);
    let n = |i: usize| tail[i].parse::<usize>().unwrap();
    Run {
        out: out
            .iter()
            .flat_map(|h| u64::from_str_radix(h, 16).unwrap().to_le_bytes())
            .collect(),
        cycles: n(0),
        cmds: n(1),
        fault: n(2) != 0,
        poly_busy: n(3),
        input_err: n(4) != 0,
        taken: n(5),
    }
}

fn report(what: &str, runs: &[&Run]) {
    let cycles: Vec<usize> = runs.iter().map(|r| r.cycles).collect();
    let busy: usize = runs.iter().map(|r| r.poly_busy).sum();
    println!(
        "{what}: {}..{} cycles, mean {}; polynomial unit busy {}%",
        cycles.iter().min().unwrap(),
        cycles.iter().max().unwrap(),
        cycles.iter().sum::<usize>() / cycles.len(),
        100 * busy / cycles.iter().sum::<usize>()
    );
}

/// Through the exported Verilog: KeyGen_internal(d, z) gives every
/// vector's ek and dk_PKE; Encaps_internal(ek, m) gives its ciphertext and
/// shared secret; Decaps from the seed (d, z) gives the shared secret of
/// the vector's ciphertext and, by implicit rejection, of its invalid
/// ciphertext, in the same number of cycles; an encapsulation key that
/// fails the modulus check is flagged.
#[test]
fn keygen_encaps_decaps_in_verilator_match_every_nist_vector() {
    let mut uut = MlKemCore::default();
    uut.connect_all();
    let model = verilate::Model::build("pqc-kem-verilator", &generate_verilog(&uut), HARNESS);
    for (set, k) in [(512, 2), (768, 3), (1024, 4)] {
        let vs = vectors(set);
        assert_eq!(vs.len(), 50, "ML-KEM-{set} vectors");
        let mut input = String::new();
        for v in &vs {
            input += &job_line(0, k, &[&v.d[..], &v.z[..]].concat());
            input += &job_line(1, k, &[&v.ek[..], &v.m[..]].concat());
            input += &job_line(2, k, &[&v.d[..], &v.z[..], &v.ct[..], &v.ct[..]].concat());
            input += &job_line(
                2,
                k,
                &[&v.d[..], &v.z[..], &v.ct_n[..], &v.ct_n[..]].concat(),
            );
        }
        // The modulus check: coefficient 0 of t̂_1 set to 4095.
        let mut bad = vs[0].ek.clone();
        bad[384] = 0xff;
        bad[385] |= 0x0f;
        input += &job_line(1, k, &[&bad[..], &vs[0].m[..]].concat());
        // Secrets do not move the schedule: one ek with eight messages m
        // (Encaps), one key with eight random ciphertexts (Decaps).
        let mut seed = 0x1234_5678_9abc_def1u64 ^ k as u64;
        let mut bytes = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        for _ in 0..8 {
            input += &job_line(1, k, &[&vs[1].ek[..], &bytes(32)[..]].concat());
        }
        for _ in 0..8 {
            let c = bytes(vs[1].ct.len());
            input += &job_line(2, k, &[&vs[1].d[..], &vs[1].z[..], &c[..], &c[..]].concat());
        }
        let runs: Vec<Run> = model.run(&input).iter().map(|l| parse_run(l)).collect();
        assert_eq!(runs.len(), 4 * vs.len() + 1 + 16);
        let (runs, secret_runs) = runs.split_at(4 * vs.len() + 1);
        for group in secret_runs.chunks(8) {
            assert!(
                group
                    .iter()
                    .all(|r| r.cycles == group[0].cycles && !r.fault),
                "ML-KEM-{set}: cycles depend on secrets: {:?}",
                group.iter().map(|r| r.cycles).collect::<Vec<_>>()
            );
        }
        assert_eq!(
            secret_runs[8].cycles,
            runs[6].cycles, // vector 1, Decaps of its valid c
            "Decaps of random c"
        );
        for (n, (quad, v)) in runs.chunks(4).zip(&vs).enumerate() {
            let (g, e, d, dn) = (&quad[0], &quad[1], &quad[2], &quad[3]);
            assert!(d.out == v.ss, "ML-KEM-{set} vector {n}: Decaps K (cycles {}, lanes in {}, out {} bytes, poly commands {})", d.cycles, d.taken, d.out.len(), d.cmds);
            assert!(
                dn.out == v.ss_n,
                "ML-KEM-{set} vector {n}: implicit rejection"
            );
            assert_eq!(
                d.cycles, dn.cycles,
                "ML-KEM-{set} vector {n}: Decaps timing"
            );
            assert_eq!((d.cmds, dn.cmds), (decaps_commands(k), decaps_commands(k)));
            assert_eq!(d.taken, 8 + 2 * v.ct.len() / 8);
            for r in [d, dn] {
                assert!(!r.fault && !r.input_err, "ML-KEM-{set} vector {n}");
            }
            assert_eq!(g.out.len(), v.ek.len() + 384 * k, "ML-KEM-{set} vector {n}");
            assert!(
                g.out[..v.ek.len()] == v.ek[..],
                "ML-KEM-{set} vector {n}: KeyGen ek"
            );
            assert!(
                g.out[v.ek.len()..] == v.dk[..384 * k],
                "ML-KEM-{set} vector {n}: dk_PKE"
            );
            assert_eq!(e.out.len(), v.ct.len() + 32, "ML-KEM-{set} vector {n}");
            assert!(
                e.out[..v.ct.len()] == v.ct[..],
                "ML-KEM-{set} vector {n}: Encaps c"
            );
            assert!(
                e.out[v.ct.len()..] == v.ss[..],
                "ML-KEM-{set} vector {n}: Encaps K"
            );
            assert_eq!((g.cmds, e.cmds), (keygen_commands(k), encaps_commands(k)));
            assert_eq!((g.taken, e.taken), (8, (v.ek.len() + 32) / 8));
            for r in [g, e] {
                assert!(!r.fault && !r.input_err, "ML-KEM-{set} vector {n}");
            }
        }
        let last = runs.last().unwrap();
        assert!(last.input_err, "ML-KEM-{set}: the modulus check");
        assert!(!last.fault);
        let every =
            |from: usize| -> Vec<&Run> { runs[from..4 * vs.len()].iter().step_by(4).collect() };
        report(
            &format!("ML-KEM-{set} KeyGen (to ek and dk_PKE out)"),
            &every(0),
        );
        report(&format!("ML-KEM-{set} Encaps (to c and K out)"), &every(1));
        report(&format!("ML-KEM-{set} Decaps (valid c)"), &every(2));
        report(
            &format!("ML-KEM-{set} Decaps (implicit rejection)"),
            &every(3),
        );
    }
}
