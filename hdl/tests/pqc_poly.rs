//! Tests of the PQC polynomial arithmetic blocks (`hsm_hdl::pqc`): modular
//! add/subtract/multiply for both moduli, the butterfly, and the NTT
//! engine, in rust-hdl's simulator against straightforward references
//! written here from the FIPS 203 / FIPS 204 pseudo-code; and Verilator
//! lint of each block's Verilog.

mod lint;
mod rng;
mod verilate;
use hsm_hdl::pqc::butterfly::{Butterfly, BUTTERFLY_LATENCY};
use hsm_hdl::pqc::modarith::{modmul_model, ModAdd, ModMul, ModSub, MODMUL_LATENCY, Q_DSA, Q_KEM};
use hsm_hdl::pqc::poly::{
    gamma_table, ntt_cycles, pointwise_cycles, zeta_tables, PolyUnit, CMD_ADD, CMD_INTT, CMD_MUL,
    CMD_MULACC, CMD_NTT, CMD_SUB,
};
use lint::lint;
use rng::Rng;
use rust_hdl::prelude::*;

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
// The polynomial unit.

struct Engine {
    uut: Box<PolyUnit>,
}

impl Engine {
    fn new() -> Engine {
        let mut uut = Box::<PolyUnit>::default();
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

    fn load(&mut self, p: u64, f: &[u64]) {
        assert_eq!(f.len(), 256);
        for i in 0..32 {
            let mut w = Bits::<192>::default();
            for l in (0..8).rev() {
                w = (w << 24) | bit_cast::<192, 24>(bits::<24>(f[8 * i + l]));
            }
            self.uut.wr_en.next = true;
            self.uut.wr_poly.next = bits(p);
            self.uut.wr_index.next = bits(i as u64);
            self.uut.wr_data.next = w;
            self.tick();
        }
    }

    fn read(&mut self, p: u64) -> Vec<u64> {
        let mut f = Vec::new();
        for i in 0..32 {
            self.uut.rd_en.next = true;
            self.uut.rd_poly.next = bits(p);
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
    fn run(&mut self, cmd: u64, mldsa: bool, [pa, pb, pc]: [u64; 3]) -> usize {
        assert!(!self.uut.busy.val());
        self.uut.start.next = true;
        self.uut.cmd.next = bits(cmd);
        self.uut.mldsa.next = mldsa;
        self.uut.pa.next = bits(pa);
        self.uut.pb.next = bits(pb);
        self.uut.pc.next = bits(pc);
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

/// FIPS 203 MultiplyNTTs (Algorithms 11 and 12) for ML-KEM; the
/// coefficient-wise product for ML-DSA.
fn ref_mul(a: &[u64], b: &[u64], mldsa: bool) -> Vec<u64> {
    let q = q_of(mldsa);
    if mldsa {
        return a.iter().zip(b).map(|(x, y)| x * y % q).collect();
    }
    let mut c = vec![0; 256];
    for i in 0..128 {
        let gamma = pow_mod(17, 2 * bitrev(i, 7) as u64 + 1, q);
        let (a0, a1, b0, b1) = (a[2 * i], a[2 * i + 1], b[2 * i], b[2 * i + 1]);
        c[2 * i] = (a0 * b0 + a1 * b1 % q * gamma) % q;
        c[2 * i + 1] = (a0 * b1 + a1 * b0) % q;
    }
    c
}

fn ref_add(a: &[u64], b: &[u64], q: u64) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| (x + y) % q).collect()
}

fn ref_sub(a: &[u64], b: &[u64], q: u64) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| (x + q - y) % q).collect()
}

/// Schoolbook product in Z_q[X]/(X^256 + 1): what NTT, MUL and INTT
/// together must compute.
fn ref_negacyclic(f: &[u64], g: &[u64], q: u64) -> Vec<u64> {
    let mut h = vec![0; 256];
    for (i, fi) in f.iter().enumerate() {
        for (j, gj) in g.iter().enumerate() {
            let p = fi * gj % q;
            let k = (i + j) % 256;
            h[k] = if i + j < 256 {
                (h[k] + p) % q
            } else {
                (h[k] + q - p) % q
            };
        }
    }
    h
}

#[test]
fn gamma_table_is_fips_203s() {
    let g = gamma_table();
    assert_eq!(g.len(), 128);
    // The first entries of the table after FIPS 203 Algorithm 12.
    assert_eq!(&g[..8], &[17, 3312, 2761, 568, 583, 2746, 2649, 680]);
    for i in 0..64 {
        assert_eq!(g[2 * i] + g[2 * i + 1], 3329, "gamma_(2i+1) = -gamma_2i");
    }
}

#[test]
fn engine_load_and_read_back() {
    let mut e = Engine::new();
    let polys: Vec<(u64, Vec<u64>)> = [0u64, 7, 31]
        .iter()
        .map(|&p| (p, (0..256).map(|j| j * 1000 + 7 + p).collect()))
        .collect();
    for (p, f) in &polys {
        e.load(*p, f);
    }
    for (p, f) in &polys {
        assert_eq!(e.read(*p), *f, "polynomial {p}");
    }
}

#[test]
fn engine_ntt_and_intt_match_fips_203_and_204() {
    let mut e = Engine::new();
    let mut rng = Rng::new(6);
    // A neighbour that no command may touch.
    let fence: Vec<u64> = (0..256).map(|j| j + 1).collect();
    e.load(6, &fence);
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        let name = if mldsa { "ML-DSA" } else { "ML-KEM" };
        let mut polys: Vec<Vec<u64>> = vec![vec![0; 256], vec![q - 1; 256], {
            let mut d = vec![0; 256];
            d[0] = 1;
            d
        }];
        for _ in 0..2 {
            polys.push(random_poly(&mut rng, q));
        }
        let (mut fwd_cycles, mut inv_cycles) = (Vec::new(), Vec::new());
        for f in &polys {
            e.load(5, f);
            fwd_cycles.push(e.run(CMD_NTT, mldsa, [5, 0, 0]));
            let fh = e.read(5);
            assert_eq!(fh, ref_ntt(f, mldsa), "{name} NTT");
            inv_cycles.push(e.run(CMD_INTT, mldsa, [5, 0, 0]));
            assert_eq!(e.read(5), *f, "{name} round trip");
            // INTT on its own, of an arbitrary input.
            let g = random_poly(&mut rng, q);
            e.load(7, &g);
            inv_cycles.push(e.run(CMD_INTT, mldsa, [7, 0, 0]));
            assert_eq!(e.read(7), ref_intt(&g, mldsa), "{name} INTT");
        }
        println!(
            "{name}: NTT {} cycles, INTT {} cycles (start to done)",
            fwd_cycles[0], inv_cycles[0]
        );
        assert!(fwd_cycles.iter().all(|&c| c == ntt_cycles(false, mldsa)));
        assert!(inv_cycles.iter().all(|&c| c == ntt_cycles(true, mldsa)));
    }
    assert_eq!(e.read(6), fence);
    assert_eq!(ntt_cycles(false, false), 233);
    assert_eq!(ntt_cycles(true, false), 265);
    assert_eq!(ntt_cycles(false, true), 265);
    assert_eq!(ntt_cycles(true, true), 297);
}

#[test]
fn engine_products_and_sums_match_fips_203_and_204() {
    let mut e = Engine::new();
    let mut rng = Rng::new(9);
    let fence: Vec<u64> = (0..256).map(|j| 2 * j + 1).collect();
    e.load(0, &fence);
    for mldsa in [false, true] {
        let q = q_of(mldsa);
        let name = if mldsa { "ML-DSA" } else { "ML-KEM" };
        let (a, b, c) = (
            random_poly(&mut rng, q),
            random_poly(&mut rng, q),
            random_poly(&mut rng, q),
        );
        e.load(1, &a);
        e.load(2, &b);
        e.load(3, &c);
        let check = |e: &mut Engine, cmd: u64, ops: [u64; 3], want: Vec<u64>, what: &str| {
            let n = e.run(cmd, mldsa, ops);
            assert_eq!(
                n,
                pointwise_cycles(cmd, mldsa).unwrap(),
                "{name} {what} cycles"
            );
            assert_eq!(e.read(ops[2]), want, "{name} {what}");
            println!("{name} {what}: {n} cycles");
        };
        check(&mut e, CMD_MUL, [1, 2, 4], ref_mul(&a, &b, mldsa), "MUL");
        let ab = ref_mul(&a, &b, mldsa);
        check(&mut e, CMD_MULACC, [1, 2, 3], ref_add(&c, &ab, q), "MULACC");
        check(&mut e, CMD_ADD, [1, 2, 5], ref_add(&a, &b, q), "ADD");
        check(&mut e, CMD_SUB, [1, 2, 5], ref_sub(&a, &b, q), "SUB");
        // In place: the result over an operand.
        check(
            &mut e,
            CMD_SUB,
            [2, 1, 2],
            ref_sub(&b, &a, q),
            "SUB in place",
        );
        let b2 = ref_sub(&b, &a, q);
        check(
            &mut e,
            CMD_MULACC,
            [1, 2, 1],
            ref_add(&a, &ref_mul(&a, &b2, mldsa), q),
            "MULACC in place",
        );
        // The operands that were not results are unchanged.
        assert_eq!(e.read(0), fence);
    }
}

#[test]
fn engine_reserved_command_and_busy_port_are_harmless() {
    let mut e = Engine::new();
    let mut rng = Rng::new(7);
    let f = random_poly(&mut rng, Q_KEM as u64);
    e.load(0, &f);
    assert_eq!(e.run(6, false, [0, 0, 0]), 2);
    assert_eq!(e.run(7, true, [0, 0, 0]), 2);
    assert_eq!(e.read(0), f);
    // Writes and a second start while busy are ignored.
    e.uut.start.next = true;
    e.uut.cmd.next = bits(CMD_NTT);
    e.uut.mldsa.next = false;
    e.uut.pa.next = bits(0);
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
    assert_eq!(e.read(0), ref_ntt(&f, false));

    // Reset in the middle of a command stops it; the engine is usable
    // again at once (no write of the aborted command lands afterwards).
    for (cmd, mldsa) in [(CMD_INTT, true), (CMD_MUL, false), (CMD_ADD, true)] {
        e.uut.start.next = true;
        e.uut.cmd.next = bits(cmd);
        e.uut.mldsa.next = mldsa;
        e.uut.pa.next = bits(0);
        e.uut.pb.next = bits(0);
        e.uut.pc.next = bits(1);
        e.tick();
        for _ in 0..100 {
            e.tick();
        }
        e.uut.reset.next = true;
        e.tick();
        e.uut.reset.next = false;
        assert!(!e.uut.busy.val());
        let g = random_poly(&mut rng, Q_DSA as u64);
        e.load(1, &g);
        e.load(2, &g);
        assert_eq!(e.run(CMD_NTT, true, [2, 0, 0]), ntt_cycles(false, true));
        assert_eq!(e.read(1), g, "after reset of command {cmd}");
        assert_eq!(e.read(2), ref_ntt(&g, true));
    }
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
    let mut e = PolyUnit::default();
    e.connect_all();
    lint("pqc_poly", &generate_verilog(&e));
}

/// C++ harness around the unit's Verilog. Commands on stdin:
/// `L p c0 .. c255` loads polynomial p, `N cmd mldsa pa pb pc` runs a
/// command and prints `C cycles`, `D p` prints polynomial p (256 numbers
/// on a line).
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
            unsigned p, c[256];
            if (std::scanf("%u", &p) != 1) return 1;
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
                t->wr_poly = p;
                t->wr_index = i;
                tick();
            }
        } else if (op[0] == 'N') {
            unsigned cmd, mldsa, pa, pb, pc;
            if (std::scanf("%u %u %u %u %u", &cmd, &mldsa, &pa, &pb, &pc) != 5) return 1;
            t->start = 1;
            t->cmd = cmd;
            t->mldsa = mldsa;
            t->pa = pa;
            t->pb = pb;
            t->pc = pc;
            tick();
            int n = 1;
            while (!t->done && n < 1000) {
                tick();
                n++;
            }
            std::printf("C %d\n", n);
        } else if (op[0] == 'D') {
            unsigned p;
            if (std::scanf("%u", &p) != 1) return 1;
            for (int i = 0; i < 32; i++) {
                t->rd_en = 1;
                t->rd_poly = p;
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

/// Stimulus for the Verilator harness and the lines it must print.
#[derive(Default)]
struct Script {
    input: String,
    expect: Vec<String>,
}

impl Script {
    fn load(&mut self, p: u64, f: &[u64]) {
        self.input += &format!("L {p} {}\n", poly_line(f));
    }
    fn run(&mut self, cmd: u64, mldsa: bool, [pa, pb, pc]: [u64; 3]) {
        self.input += &format!("N {cmd} {} {pa} {pb} {pc}\n", mldsa as u8);
        let cycles =
            pointwise_cycles(cmd, mldsa).unwrap_or_else(|| ntt_cycles(cmd == CMD_INTT, mldsa));
        self.expect.push(format!("C {cycles}"));
    }
    fn check(&mut self, p: u64, want: &[u64]) {
        self.input += &format!("D {p}\n");
        self.expect.push(poly_line(want));
    }
}

fn poly_line(f: &[u64]) -> String {
    f.iter().map(|c| format!("{c} ")).collect()
}

/// The exported Verilog (what the card will run) against the references:
/// rust-hdl's simulation and its Verilog can differ (see the crate docs).
/// Every command on random operands in random places, and the
/// whole-product identity INTT(NTT(f) * NTT(g)) = f * g mod (X^256 + 1).
#[test]
fn engine_verilog_in_verilator_matches_the_references() {
    let mut e = PolyUnit::default();
    e.connect_all();
    let model = verilate::Model::build("pqc-poly-verilator", &generate_verilog(&e), HARNESS);

    let mut rng = Rng::new(8);
    let mut s = Script::default();
    let mut mem: Vec<Vec<u64>> = vec![vec![0; 256]; 32];
    for round in 0..120 {
        let mldsa = round % 2 == 1;
        let q = q_of(mldsa);
        if round % 10 < 2 {
            // Negacyclic product through the NTT domain.
            let (f, g) = (random_poly(&mut rng, q), random_poly(&mut rng, q));
            let (pf, pg, ph) = (rng.below(32), rng.below(32), rng.below(32));
            let pg = if pg == pf { (pf + 1) % 32 } else { pg };
            s.load(pf, &f);
            s.load(pg, &g);
            s.run(CMD_NTT, mldsa, [pf, 0, 0]);
            s.run(CMD_NTT, mldsa, [pg, 0, 0]);
            s.run(CMD_MUL, mldsa, [pf, pg, ph]);
            s.run(CMD_INTT, mldsa, [ph, 0, 0]);
            let h = ref_negacyclic(&f, &g, q);
            s.check(ph, &h);
            mem[pf as usize] = ref_ntt(&f, mldsa);
            mem[pg as usize] = ref_ntt(&g, mldsa);
            mem[ph as usize] = h;
            continue;
        }
        // Fresh operands in random places (possibly the same place).
        let ops = [rng.below(32), rng.below(32), rng.below(32)];
        for &p in &ops {
            if rng.below(3) != 0 || mem[p as usize].iter().any(|&c| c >= q) {
                mem[p as usize] = random_poly(&mut rng, q);
                s.load(p, &mem[p as usize]);
            }
        }
        let cmd = [CMD_NTT, CMD_INTT, CMD_MUL, CMD_MULACC, CMD_ADD, CMD_SUB][rng.below(6) as usize];
        let [a, b, c] = ops.map(|p| mem[p as usize].clone());
        let (dst, want) = match cmd {
            CMD_NTT => (ops[0], ref_ntt(&a, mldsa)),
            CMD_INTT => (ops[0], ref_intt(&a, mldsa)),
            CMD_MUL => (ops[2], ref_mul(&a, &b, mldsa)),
            CMD_MULACC => (ops[2], ref_add(&c, &ref_mul(&a, &b, mldsa), q)),
            CMD_ADD => (ops[2], ref_add(&a, &b, q)),
            _ => (ops[2], ref_sub(&a, &b, q)),
        };
        s.run(cmd, mldsa, ops);
        s.check(dst, &want);
        mem[dst as usize] = want;
        // Now and then, check that nothing else moved.
        if round % 7 == 0 {
            let p = rng.below(32);
            if mem[p as usize].iter().any(|&c| c != 0) {
                s.check(p, &mem[p as usize].clone());
            }
        }
    }
    let lines = model.run(&s.input);
    assert_eq!(lines.len(), s.expect.len());
    for (n, (got, want)) in lines.iter().zip(&s.expect).enumerate() {
        assert_eq!(got, want, "line {n}");
    }
}
