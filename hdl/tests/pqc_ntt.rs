//! Tests of the PQC polynomial arithmetic blocks (`hsm_hdl::pqc`): modular
//! add/subtract/multiply for both moduli, the butterfly, and the NTT
//! engine, in rust-hdl's simulator against straightforward references
//! written here from the FIPS 203 / FIPS 204 pseudo-code; and Verilator
//! lint of each block's Verilog.

mod lint;
mod verilate;
use hsm_hdl::pqc::butterfly::{Butterfly, BUTTERFLY_LATENCY};
use hsm_hdl::pqc::modarith::{modmul_model, ModAdd, ModMul, ModSub, MODMUL_LATENCY, Q_DSA, Q_KEM};
use hsm_hdl::pqc::ntt::{ntt_cycles, zeta_tables, NttEngine, CMD_INTT, CMD_NTT};
use lint::lint;
use rust_hdl::prelude::*;

/// Deterministic test data (xorshift64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.u64() % n
    }
    fn bit(&mut self) -> bool {
        self.u64() & 1 == 1
    }
}

fn q_of(mldsa: bool) -> u64 {
    if mldsa {
        8_380_417
    } else {
        3329
    }
}

/// A reduced value, biased towards the edges 0, 1, q-1 and q/2.
fn coeff(rng: &mut Rng, q: u64) -> u64 {
    match rng.below(8) {
        0 => 0,
        1 => q - 1,
        2 => [1, 2, q / 2, q - 2][rng.below(4) as usize],
        _ => rng.below(q),
    }
}

fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 100), "logic did not settle");
}

fn tick<B: Block>(uut: &mut B, clock: impl Fn(&mut B, bool)) {
    clock(uut, false);
    settle(uut);
    clock(uut, true);
    settle(uut);
}

// ---------------------------------------------------------------------
// References, from the FIPS pseudo-code.

fn pow_mod(b: u64, e: u64, q: u64) -> u64 {
    (0..e).fold(1, |r, _| r * b % q)
}

fn bitrev(x: usize, bits: u32) -> usize {
    (0..bits).fold(0, |r, i| r | (((x >> i) & 1) << (bits - 1 - i)))
}

/// FIPS 203 Appendix A / FIPS 204 Appendix B: zetas[i] = zeta^BitRev(i).
fn ref_zetas(mldsa: bool) -> Vec<u64> {
    if mldsa {
        (0..256)
            .map(|i| pow_mod(1753, bitrev(i, 8) as u64, Q_DSA as u64))
            .collect()
    } else {
        (0..128)
            .map(|i| pow_mod(17, bitrev(i, 7) as u64, Q_KEM as u64))
            .collect()
    }
}

/// FIPS 203 Algorithm 9 (NTT) or FIPS 204 Algorithm 41 (NTT).
fn ref_ntt(f: &[u64], mldsa: bool) -> Vec<u64> {
    let mut f = f.to_vec();
    let q = q_of(mldsa);
    let zetas = ref_zetas(mldsa);
    if mldsa {
        let mut m = 0;
        let mut len = 128;
        while len >= 1 {
            let mut start = 0;
            while start < 256 {
                m += 1;
                let z = zetas[m];
                for j in start..start + len {
                    let t = z * f[j + len] % q;
                    f[j + len] = (f[j] + q - t) % q;
                    f[j] = (f[j] + t) % q;
                }
                start += 2 * len;
            }
            len /= 2;
        }
    } else {
        let mut i = 1;
        let mut len = 128;
        while len >= 2 {
            for start in (0..256).step_by(2 * len) {
                let zeta = zetas[i];
                i += 1;
                for j in start..start + len {
                    let t = zeta * f[j + len] % q;
                    f[j + len] = (f[j] + q - t) % q;
                    f[j] = (f[j] + t) % q;
                }
            }
            len /= 2;
        }
    }
    f
}

/// FIPS 203 Algorithm 10 (NTT^-1) or FIPS 204 Algorithm 42 (NTT^-1).
fn ref_intt(f: &[u64], mldsa: bool) -> Vec<u64> {
    let mut f = f.to_vec();
    let q = q_of(mldsa);
    let zetas = ref_zetas(mldsa);
    if mldsa {
        let mut m = 256;
        let mut len = 1;
        while len < 256 {
            let mut start = 0;
            while start < 256 {
                m -= 1;
                let z = q - zetas[m];
                for j in start..start + len {
                    let t = f[j];
                    f[j] = (t + f[j + len]) % q;
                    f[j + len] = (t + q - f[j + len]) % q;
                    f[j + len] = z * f[j + len] % q;
                }
                start += 2 * len;
            }
            len *= 2;
        }
        f.iter().map(|&w| w * 8_347_681 % q).collect()
    } else {
        let mut i = 127;
        let mut len = 2;
        while len <= 128 {
            for start in (0..256).step_by(2 * len) {
                let zeta = zetas[i];
                i -= 1;
                for j in start..start + len {
                    let t = f[j];
                    f[j] = (t + f[j + len]) % q;
                    f[j + len] = zeta * ((f[j + len] + q - t) % q) % q;
                }
            }
            len *= 2;
        }
        f.iter().map(|&w| w * 3303 % q).collect()
    }
}

#[test]
fn references_match_the_fips_tables_and_invert_each_other() {
    // FIPS 203 Appendix A and FIPS 204 Appendix B, first entries.
    assert_eq!(
        &ref_zetas(false)[..8],
        &[1, 1729, 2580, 3289, 2642, 630, 1897, 848]
    );
    assert_eq!(&ref_zetas(true)[..4], &[1, 4808194, 3765607, 3761513]);
    assert_eq!(3303 * 128 % 3329, 1);
    assert_eq!(8_347_681u64 * 256 % 8_380_417, 1);
    let mut rng = Rng::new(1);
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        let f: Vec<u64> = (0..256).map(|_| rng.below(q)).collect();
        assert_eq!(ref_intt(&ref_ntt(&f, mldsa), mldsa), f);
        // The engine's ROM tables come from the same definition.
        let (fwd, inv) = zeta_tables(mldsa);
        let z = ref_zetas(mldsa);
        let n = z.len();
        assert_eq!(fwd.iter().map(|&v| v as u64).collect::<Vec<_>>(), z);
        for i in 0..n - 2 {
            assert_eq!(inv[i] as u64, z[n - 1 - i]);
        }
        let ninv = if mldsa { 8_347_681 } else { 3303 };
        assert_eq!(inv[n - 1] as u64, ninv);
        assert_eq!(inv[n - 2] as u64, z[1] * ninv % q);
    }
}

// ---------------------------------------------------------------------
// Modular arithmetic.

#[test]
fn modmul_model_is_exact() {
    // ML-KEM: every pair of reduced operands.
    let q = Q_KEM;
    for a in 0..q {
        for b in 0..q {
            let want = a * b % q;
            assert_eq!(modmul_model(a, b, false), want, "{a} * {b}");
        }
    }
    // ML-DSA: edges and a million random pairs; plus the largest products.
    let q = Q_DSA as u64;
    let mut rng = Rng::new(2);
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for a in [0, 1, 2, q / 2, q - 2, q - 1] {
        for b in [0, 1, 2, q / 2, q - 2, q - 1] {
            pairs.push((a, b));
        }
    }
    for d in 0..4096 {
        pairs.push((q - 1 - d, q - 1));
        pairs.push((q - 1 - d, q - 1 - (d * 7919) % q));
    }
    for _ in 0..1_000_000 {
        pairs.push((rng.below(q), rng.below(q)));
    }
    for (a, b) in pairs {
        assert_eq!(
            modmul_model(a as u32, b as u32, true) as u64,
            a * b % q,
            "{a} * {b}"
        );
    }
}

fn add_sub_cases(rng: &mut Rng) -> Vec<(bool, u64, u64)> {
    let mut v = Vec::new();
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        for a in [0, 1, q / 2, q - 2, q - 1] {
            for b in [0, 1, q / 2, q - 2, q - 1] {
                v.push((mldsa, a, b));
            }
        }
    }
    for _ in 0..2000 {
        let mldsa = rng.bit();
        let q = q_of(mldsa);
        v.push((mldsa, coeff(rng, q), coeff(rng, q)));
    }
    v
}

#[test]
fn mod_add_and_sub_match_the_reference() {
    let mut add = ModAdd::default();
    add.connect_all();
    let mut sub = ModSub::default();
    sub.connect_all();
    let mut rng = Rng::new(3);
    for (mldsa, a, b) in add_sub_cases(&mut rng) {
        let q = q_of(mldsa);
        add.mldsa.next = mldsa;
        add.a.next = bits(a);
        add.b.next = bits(b);
        settle(&mut add);
        assert_eq!(add.s.val().to_u64(), (a + b) % q, "{a} + {b} mod {q}");
        sub.mldsa.next = mldsa;
        sub.a.next = bits(a);
        sub.b.next = bits(b);
        settle(&mut sub);
        assert_eq!(sub.d.val().to_u64(), (a + q - b) % q, "{a} - {b} mod {q}");
    }
}

#[test]
fn modmul_pipeline_matches_the_reference() {
    let mut uut = ModMul::default();
    uut.connect_all();
    let mut rng = Rng::new(4);
    // Operands for each cycle, the modulus changing freely between cycles.
    let mut ops = Vec::new();
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        for a in [0, 1, 2, q / 2, q - 2, q - 1] {
            for b in [0, 1, 2, q / 2, q - 2, q - 1] {
                ops.push((mldsa, a, b));
            }
        }
    }
    for _ in 0..4000 {
        let mldsa = rng.bit();
        let q = q_of(mldsa);
        ops.push((mldsa, coeff(&mut rng, q), coeff(&mut rng, q)));
    }
    let clk = |u: &mut ModMul, c: bool| u.clock.next = c.into();
    let mut out = Vec::new();
    for n in 0..ops.len() + MODMUL_LATENCY {
        let (mldsa, a, b) = ops.get(n).copied().unwrap_or((false, 0, 0));
        uut.mldsa.next = mldsa;
        uut.a.next = bits(a);
        uut.b.next = bits(b);
        tick(&mut uut, clk);
        // After n + 1 edges, p holds the product of cycle n + 1 - LATENCY.
        if n + 1 >= MODMUL_LATENCY {
            out.push(uut.p.val().to_u64());
        }
    }
    for (n, ((mldsa, a, b), p)) in ops.iter().zip(&out).enumerate() {
        let q = q_of(*mldsa);
        assert_eq!(*p, a * b % q, "op {n}: {a} * {b} mod {q}");
    }
}

#[test]
fn butterfly_ct_and_gs_match_the_reference() {
    let mut uut = Butterfly::default();
    uut.connect_all();
    let mut rng = Rng::new(5);
    let mut ops = Vec::new();
    for _ in 0..3000 {
        let mldsa = rng.bit();
        let q = q_of(mldsa);
        ops.push((
            mldsa,
            rng.bit(),
            coeff(&mut rng, q),
            coeff(&mut rng, q),
            coeff(&mut rng, q),
        ));
    }
    let clk = |u: &mut Butterfly, c: bool| u.clock.next = c.into();
    let mut out = Vec::new();
    for n in 0..ops.len() + BUTTERFLY_LATENCY {
        let (mldsa, inverse, a, b, z) = ops.get(n).copied().unwrap_or((false, false, 0, 0, 0));
        uut.mldsa.next = mldsa;
        uut.inverse.next = inverse;
        uut.a.next = bits(a);
        uut.b.next = bits(b);
        uut.zeta.next = bits(z);
        tick(&mut uut, clk);
        if n + 1 >= BUTTERFLY_LATENCY {
            out.push((uut.a_out.val().to_u64(), uut.b_out.val().to_u64()));
        }
    }
    for (n, ((mldsa, inverse, a, b, z), got)) in ops.iter().zip(&out).enumerate() {
        let q = q_of(*mldsa);
        let want = if *inverse {
            ((a + b) % q, z * ((b + q - a) % q) % q)
        } else {
            let t = z * b % q;
            ((a + t) % q, (a + q - t) % q)
        };
        assert_eq!(
            *got, want,
            "op {n}: inverse {inverse} mldsa {mldsa} a {a} b {b} z {z}"
        );
    }
}

// ---------------------------------------------------------------------
// The NTT engine.

struct Engine {
    uut: Box<NttEngine>,
}

impl Engine {
    fn new() -> Engine {
        let mut uut = Box::<NttEngine>::default();
        uut.connect_all();
        let mut e = Engine { uut };
        e.uut.reset.next = true;
        e.tick();
        e.uut.reset.next = false;
        e.tick();
        e
    }

    fn tick(&mut self) {
        tick(&mut *self.uut, |u, c| u.clock.next = c.into());
        self.uut.start.next = false;
        self.uut.wr_en.next = false;
        self.uut.rd_en.next = false;
    }

    fn load(&mut self, f: &[u64]) {
        assert_eq!(f.len(), 256);
        for i in 0..32 {
            let mut w = Bits::<192>::default();
            for l in (0..8).rev() {
                w = (w << 24) | bit_cast::<192, 24>(bits::<24>(f[8 * i + l]));
            }
            self.uut.wr_en.next = true;
            self.uut.wr_index.next = bits(i as u64);
            self.uut.wr_data.next = w;
            self.tick();
        }
    }

    fn read(&mut self) -> Vec<u64> {
        let mut f = Vec::new();
        for i in 0..32 {
            self.uut.rd_en.next = true;
            self.uut.rd_index.next = bits(i as u64);
            self.tick();
            assert!(self.uut.rd_valid.val());
            let w = self.uut.rd_data.val();
            for l in 0..8 {
                f.push(w.get_bits::<24>(24 * l).to_u64());
            }
        }
        f
    }

    /// Runs a command; returns the cycles from `start` to `done`.
    fn run(&mut self, cmd: u64, mldsa: bool) -> usize {
        assert!(!self.uut.busy.val());
        self.uut.start.next = true;
        self.uut.cmd.next = bits(cmd);
        self.uut.mldsa.next = mldsa;
        self.tick();
        let mut n = 1;
        while !self.uut.done.val() {
            assert!(self.uut.busy.val(), "busy drops before done");
            self.tick();
            n += 1;
            assert!(n < 1000, "no done");
        }
        assert!(!self.uut.busy.val());
        self.tick();
        assert!(!self.uut.done.val(), "done is a pulse");
        n
    }
}

fn random_poly(rng: &mut Rng, q: u64) -> Vec<u64> {
    (0..256).map(|_| coeff(rng, q)).collect()
}

#[test]
fn engine_load_and_read_back() {
    let mut e = Engine::new();
    let f: Vec<u64> = (0..256).map(|j| j * 1000 + 7).collect();
    e.load(&f);
    assert_eq!(e.read(), f);
}

#[test]
fn engine_ntt_and_intt_match_fips_203_and_204() {
    let mut e = Engine::new();
    let mut rng = Rng::new(6);
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        let name = if mldsa { "ML-DSA" } else { "ML-KEM" };
        let mut polys: Vec<Vec<u64>> = vec![vec![0; 256], vec![q - 1; 256], {
            let mut d = vec![0; 256];
            d[0] = 1;
            d
        }];
        for _ in 0..3 {
            polys.push(random_poly(&mut rng, q));
        }
        let (mut fwd_cycles, mut inv_cycles) = (Vec::new(), Vec::new());
        for f in &polys {
            e.load(f);
            fwd_cycles.push(e.run(CMD_NTT, mldsa));
            let fh = e.read();
            assert_eq!(fh, ref_ntt(f, mldsa), "{name} NTT");
            inv_cycles.push(e.run(CMD_INTT, mldsa));
            assert_eq!(e.read(), *f, "{name} round trip");
            // INTT on its own, of an arbitrary input.
            let g = random_poly(&mut rng, q);
            e.load(&g);
            inv_cycles.push(e.run(CMD_INTT, mldsa));
            assert_eq!(e.read(), ref_intt(&g, mldsa), "{name} INTT");
        }
        println!(
            "{name}: NTT {} cycles, INTT {} cycles (start to done)",
            fwd_cycles[0], inv_cycles[0]
        );
        assert!(fwd_cycles.iter().all(|&c| c == ntt_cycles(false, mldsa)));
        assert!(inv_cycles.iter().all(|&c| c == ntt_cycles(true, mldsa)));
    }
    assert_eq!(ntt_cycles(false, false), 233);
    assert_eq!(ntt_cycles(true, false), 265);
    assert_eq!(ntt_cycles(false, true), 265);
    assert_eq!(ntt_cycles(true, true), 297);
}

#[test]
fn engine_reserved_command_and_busy_port_are_harmless() {
    let mut e = Engine::new();
    let mut rng = Rng::new(7);
    let f = random_poly(&mut rng, Q_KEM as u64);
    e.load(&f);
    assert_eq!(e.run(2, false), 2);
    assert_eq!(e.read(), f);
    // Writes and a second start while busy are ignored.
    e.uut.start.next = true;
    e.uut.cmd.next = bits(CMD_NTT);
    e.tick();
    for i in 0..10 {
        e.uut.start.next = true;
        e.uut.cmd.next = bits(CMD_INTT);
        e.uut.wr_en.next = true;
        e.uut.wr_index.next = bits(i);
        e.uut.wr_data.next = Bits::default();
        e.tick();
    }
    while !e.uut.done.val() {
        e.tick();
    }
    e.tick();
    assert_eq!(e.read(), ref_ntt(&f, false));

    // Reset in the middle of a command stops it; the engine is usable
    // again at once (no write of the aborted command lands afterwards).
    e.uut.start.next = true;
    e.uut.cmd.next = bits(CMD_INTT);
    e.uut.mldsa.next = true;
    e.tick();
    for _ in 0..50 {
        e.tick();
    }
    e.uut.reset.next = true;
    e.tick();
    e.uut.reset.next = false;
    assert!(!e.uut.busy.val());
    let g = random_poly(&mut rng, Q_DSA as u64);
    e.load(&g);
    assert_eq!(e.run(CMD_NTT, true), ntt_cycles(false, true));
    assert_eq!(e.read(), ref_ntt(&g, true));
}

#[test]
fn verilog_is_lint_clean() {
    let mut m = ModAdd::default();
    m.connect_all();
    lint("pqc_mod_add", &generate_verilog(&m));
    let mut m = ModSub::default();
    m.connect_all();
    lint("pqc_mod_sub", &generate_verilog(&m));
    let mut m = ModMul::default();
    m.connect_all();
    lint("pqc_mod_mul", &generate_verilog(&m));
    let mut b = Butterfly::default();
    b.connect_all();
    lint("pqc_butterfly", &generate_verilog(&b));
    let mut e = NttEngine::default();
    e.connect_all();
    lint("pqc_ntt", &generate_verilog(&e));
}

/// C++ harness around the engine's Verilog. Commands on stdin:
/// `L c0 .. c255` loads a polynomial, `N cmd mldsa` runs a command and
/// prints `C cycles`, `D` prints the polynomial (256 numbers on a line).
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
    t->start = 0;
    t->wr_en = 0;
    t->rd_en = 0;
}
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    t = new Vtop;
    t->reset = 1;
    tick();
    t->reset = 0;
    tick();
    char op[4];
    while (std::scanf("%3s", op) == 1) {
        if (op[0] == 'L') {
            unsigned c[256];
            for (int j = 0; j < 256; j++)
                if (std::scanf("%u", &c[j]) != 1) return 1;
            for (int i = 0; i < 32; i++) {
                for (int w = 0; w < 6; w++) t->wr_data[w] = 0;
                for (int l = 0; l < 8; l++) {
                    unsigned long long v = c[8 * i + l];
                    int bit = 24 * l;
                    t->wr_data[bit / 32] |= (unsigned)(v << (bit % 32));
                    if (bit % 32 > 8) t->wr_data[bit / 32 + 1] |= (unsigned)(v >> (32 - bit % 32));
                }
                t->wr_en = 1;
                t->wr_index = i;
                tick();
            }
        } else if (op[0] == 'N') {
            unsigned cmd, mldsa;
            if (std::scanf("%u %u", &cmd, &mldsa) != 2) return 1;
            t->start = 1;
            t->cmd = cmd;
            t->mldsa = mldsa;
            tick();
            int n = 1;
            while (!t->done && n < 1000) {
                tick();
                n++;
            }
            std::printf("C %d\n", n);
        } else if (op[0] == 'D') {
            for (int i = 0; i < 32; i++) {
                t->rd_en = 1;
                t->rd_index = i;
                tick();
                for (int l = 0; l < 8; l++) {
                    int bit = 24 * l;
                    unsigned long long v = t->rd_data[bit / 32] >> (bit % 32);
                    if (bit % 32 > 8) v |= (unsigned long long)t->rd_data[bit / 32 + 1] << (32 - bit % 32);
                    std::printf("%llu ", v & 0xffffff);
                }
            }
            std::printf("\n");
        }
    }
    t->final();
    delete t;
    return 0;
}
"#;

/// The exported Verilog (what the card will run) against the references:
/// rust-hdl's simulation and its Verilog can differ (see the crate docs).
#[test]
fn engine_verilog_in_verilator_matches_the_references() {
    let mut e = NttEngine::default();
    e.connect_all();
    let model = verilate::Model::build("pqc-ntt-verilator", &generate_verilog(&e), HARNESS);

    let mut rng = Rng::new(8);
    let mut input = String::new();
    let mut expect = Vec::new();
    let poly_line = |f: &[u64]| f.iter().map(|c| format!("{c} ")).collect::<String>();
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        for _ in 0..3 {
            let f = random_poly(&mut rng, q);
            input += &format!(
                "L {}\nN 0 {}\nD\nN 1 {}\nD\n",
                poly_line(&f),
                mldsa as u8,
                mldsa as u8
            );
            expect.push(format!("C {}", ntt_cycles(false, mldsa)));
            expect.push(poly_line(&ref_ntt(&f, mldsa)));
            expect.push(format!("C {}", ntt_cycles(true, mldsa)));
            expect.push(poly_line(&f));
            let g = random_poly(&mut rng, q);
            input += &format!("L {}\nN 1 {}\nD\n", poly_line(&g), mldsa as u8);
            expect.push(format!("C {}", ntt_cycles(true, mldsa)));
            expect.push(poly_line(&ref_intt(&g, mldsa)));
        }
    }
    let lines = model.run(&input);
    assert_eq!(lines.len(), expect.len());
    for (n, (got, want)) in lines.iter().zip(&expect).enumerate() {
        assert_eq!(got, want, "line {n}");
    }
}
