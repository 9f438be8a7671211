//! Tests of the GF(2^128) blocks and the GHASH accumulator: the Rust side in
//! rust-hdl's simulator, the generated Verilog through Verilator, both
//! against references that live only here (a bit-by-bit SP 800-38D
//! multiply, the RustCrypto `ghash` and `xts-mode` crates).

mod lint;
mod rng;
mod verilate;
use ghash::universal_hash::{KeyInit, UniversalHash};
use hsm_hdl::gf128::{gf128_mul, Gf128Mul, XtsMulAlpha};
use hsm_hdl::ghash::Ghash;
use lint::lint;
use rng::Rng;
use rust_hdl::prelude::*;

/// A block as it sits in memory -> the value of a `Bits<128>` port.
fn mem(block: &[u8]) -> u128 {
    u128::from_le_bytes(block.try_into().unwrap())
}

/// SP 800-38D section 6.3, Algorithm 1, bit by bit: blocks are byte strings,
/// bit 0 is the most significant bit of byte 0.
fn ref_mul(x: [u8; 16], y: [u8; 16]) -> [u8; 16] {
    let bit = |b: &[u8; 16], i: usize| (b[i / 8] >> (7 - i % 8)) & 1 == 1;
    let mut z = [0u8; 16];
    let mut v = y;
    for i in 0..128 {
        if bit(&x, i) {
            for k in 0..16 {
                z[k] ^= v[k];
            }
        }
        let lsb = bit(&v, 127);
        // V >> 1 over the whole 128-bit string.
        for k in (0..16).rev() {
            v[k] = (v[k] >> 1) | if k > 0 { v[k - 1] << 7 } else { 0 };
        }
        if lsb {
            v[0] ^= 0xe1; // R = 11100001 || 0^120
        }
    }
    z
}

/// [`ref_mul`] on port values.
fn ref_mul_mem(x: u128, y: u128) -> u128 {
    u128::from_le_bytes(ref_mul(x.to_le_bytes(), y.to_le_bytes()))
}

/// IEEE 1619 section 5.2: the tweak as a little-endian integer, times alpha.
fn ref_mul_alpha(t: [u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut carry = 0u8;
    for k in 0..16 {
        out[k] = (t[k] << 1) | carry;
        carry = t[k] >> 7;
    }
    if carry == 1 {
        out[0] ^= 0x87;
    }
    out
}

/// GHASH of a message (zero-padded to whole blocks) by the `ghash` crate.
fn crate_ghash(h: u128, msg: &[u8]) -> u128 {
    let mut g = ghash::GHash::new(&h.to_le_bytes().into());
    g.update_padded(msg);
    mem(&g.finalize())
}

fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 50), "logic did not settle");
}

fn gf128_mul_sim(uut: &mut Gf128Mul, a: u128, b: u128) -> u128 {
    uut.a.next = a.to_bits();
    uut.b.next = b.to_bits();
    settle(uut);
    uut.p.val().to_u128()
}

/// Products that exercise the edges: zero, the unit (x^0 = 0x80 in byte
/// 0), x^127 (0x01 in byte 15) whose square needs the full reduction, all
/// ones.
fn edge_values() -> Vec<u128> {
    vec![0, 0x80, 0x01 << 120, 0x40, !0, 0x80 | (0x01 << 120), 1]
}

#[test]
fn gf128_mul_matches_algorithm_1() {
    let mut uut = Gf128Mul::default();
    uut.connect_all();
    let mut rng = Rng::new(1);
    let mut pairs = Vec::new();
    for &a in &edge_values() {
        for &b in &edge_values() {
            pairs.push((a, b));
        }
    }
    for _ in 0..300 {
        pairs.push((rng.u128(), rng.u128()));
    }
    for (a, b) in pairs {
        let want = ref_mul_mem(a, b);
        assert_eq!(gf128_mul(a, b), want, "model: {a:032x} * {b:032x}");
        assert_eq!(gf128_mul_sim(&mut uut, a, b), want, "{a:032x} * {b:032x}");
    }
    // 0x80 in byte 0 is the field's one.
    assert_eq!(gf128_mul(0x80, 0x1234_5678), 0x1234_5678);
}

#[test]
fn gf128_mul_is_commutative_and_distributive() {
    let mut rng = Rng::new(2);
    for _ in 0..200 {
        let (a, b, c) = (rng.u128(), rng.u128(), rng.u128());
        assert_eq!(gf128_mul(a, b), gf128_mul(b, a));
        assert_eq!(gf128_mul(a, b ^ c), gf128_mul(a, b) ^ gf128_mul(a, c));
        assert_eq!(gf128_mul(gf128_mul(a, b), c), gf128_mul(a, gf128_mul(b, c)));
    }
}

/// Drives [`Ghash`] one clock at a time, as in the card bench.
struct GhashBench {
    uut: Box<Ghash>,
}

impl GhashBench {
    fn new(h: u128) -> GhashBench {
        let mut uut = Box::<Ghash>::default();
        uut.connect_all();
        uut.h.next = h.to_bits();
        let mut b = GhashBench { uut };
        b.uut.reset.next = true;
        b.tick();
        b.uut.reset.next = false;
        b
    }

    fn tick(&mut self) {
        self.uut.clock.next = false.into();
        settle(&mut *self.uut);
        self.uut.clock.next = true.into();
        settle(&mut *self.uut);
        self.uut.in_valid.next = false;
        self.uut.clear.next = false;
        self.uut.in_block.next = 0.into();
    }

    fn push(&mut self, block: u128) {
        self.uut.in_valid.next = true;
        self.uut.in_block.next = block.to_bits();
        self.tick();
    }

    fn clear(&mut self) {
        self.uut.clear.next = true;
        self.tick();
    }

    fn y(&self) -> u128 {
        self.uut.y.val().to_u128()
    }

    /// Feed a zero-padded message, with 0 to `max_gap` idle cycles after
    /// each block.
    fn message(&mut self, msg: &[u8], rng: &mut Rng, max_gap: u64) {
        for chunk in msg.chunks(16) {
            let mut block = [0u8; 16];
            block[..chunk.len()].copy_from_slice(chunk);
            self.push(mem(&block));
            for _ in 0..rng.below(max_gap + 1) {
                self.tick();
            }
        }
    }
}

#[test]
fn ghash_known_answer_gcm_test_case_2() {
    // The GCM specification's test case 2 (AES-128, zero key, one zero
    // block): H, the ciphertext, the lengths block and GHASH.
    let h = mem(&hex("66e94bd4ef8a2c3b884cfa59ca342b2e"));
    let c = mem(&hex("0388dace60b6a392f328c2b971b2fe78"));
    let len = mem(&hex("00000000000000000000000000000080"));
    let want = mem(&hex("f38cbb1ad69223dcc3457ae5b6b0f885"));
    let mut b = GhashBench::new(h);
    b.clear();
    b.push(c);
    b.push(len);
    assert_eq!(b.y(), want);
    let mut msg = c.to_le_bytes().to_vec();
    msg.extend_from_slice(&len.to_le_bytes());
    assert_eq!(crate_ghash(h, &msg), want);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn ghash_multi_block_messages_with_gaps_match_the_ghash_crate() {
    let mut rng = Rng::new(3);
    for (n, &len) in [0usize, 1, 15, 16, 17, 48, 100, 257, 1000]
        .iter()
        .enumerate()
    {
        let h = rng.u128();
        let msg = rng.bytes(len);
        let mut b = GhashBench::new(h);
        b.message(&msg, &mut rng, if n % 2 == 0 { 0 } else { 3 });
        // Idle cycles do not change Y.
        let y = b.y();
        b.tick();
        b.tick();
        assert_eq!(b.y(), y);
        assert_eq!(y, crate_ghash(h, &msg), "length {len}");
    }
}

#[test]
fn ghash_follows_the_recurrence_cycle_by_cycle() {
    let mut rng = Rng::new(4);
    let h = rng.u128();
    let mut b = GhashBench::new(h);
    let mut y = 0u128;
    for _ in 0..200 {
        let x = rng.u128();
        if rng.below(3) == 0 {
            b.tick();
        } else {
            b.push(x);
            y = ref_mul_mem(y ^ x, h);
        }
        assert_eq!(b.y(), y);
    }
}

#[test]
fn ghash_clear_mid_stream_starts_a_new_message() {
    let mut rng = Rng::new(5);
    let h = rng.u128();
    let first = rng.bytes(80);
    let second = rng.bytes(70);
    let mut b = GhashBench::new(h);
    b.message(&first[..40], &mut rng, 1);
    assert_ne!(b.y(), 0);
    b.clear();
    assert_eq!(b.y(), 0);
    b.message(&second, &mut rng, 2);
    assert_eq!(b.y(), crate_ghash(h, &second));

    // clear wins over in_valid in the same cycle: the block is dropped.
    b.uut.clear.next = true;
    b.push(rng.u128());
    assert_eq!(b.y(), 0);
    b.message(&first, &mut rng, 0);
    assert_eq!(b.y(), crate_ghash(h, &first));

    // So does reset.
    b.uut.reset.next = true;
    b.push(rng.u128());
    b.uut.reset.next = false;
    assert_eq!(b.y(), 0);
}

#[test]
fn ghash_key_change_between_messages() {
    let mut rng = Rng::new(6);
    let mut b = GhashBench::new(0);
    for _ in 0..4 {
        let h = rng.u128();
        let msg = rng.bytes(64);
        b.uut.h.next = h.to_bits();
        b.clear();
        b.message(&msg, &mut rng, 1);
        assert_eq!(b.y(), crate_ghash(h, &msg));
    }
}

fn mul_alpha_sim(uut: &mut XtsMulAlpha, t: u128) -> u128 {
    uut.tweak.next = t.to_bits();
    settle(uut);
    uut.tweak_alpha.val().to_u128()
}

#[test]
fn xts_mul_alpha_matches_ieee_1619() {
    let mut uut = XtsMulAlpha::default();
    uut.connect_all();
    let mut rng = Rng::new(7);
    let mut tweaks = vec![0u128, 1, 1 << 127, !0, 0x80, 1 << 63, 1 << 64];
    tweaks.extend((0..300).map(|_| rng.u128()));
    for t in tweaks {
        let want = mem(&ref_mul_alpha(t.to_le_bytes()));
        assert_eq!(mul_alpha_sim(&mut uut, t), want, "{t:032x}");
    }
    // alpha^128 = alpha^7 + alpha^2 + alpha + 1.
    let mut t = 1u128;
    for _ in 0..128 {
        t = mul_alpha_sim(&mut uut, t);
    }
    assert_eq!(t, 0x87);
}

#[test]
fn xts_tweak_chain_matches_the_xts_mode_crate() {
    use aes::cipher::{BlockEncrypt, KeyInit as _};
    use aes::Aes128;

    let mut uut = XtsMulAlpha::default();
    uut.connect_all();
    let mut rng = Rng::new(8);
    for sector_index in [0u128, 1, 0x1234_5678_9abc, u128::MAX] {
        let (k1, k2) = (rng.bytes(16), rng.bytes(16));
        let c1 = Aes128::new_from_slice(&k1).unwrap();
        let c2 = Aes128::new_from_slice(&k2).unwrap();
        let plain = rng.bytes(512);
        let mut want = plain.clone();
        let tweak = xts_mode::get_tweak_default(sector_index);
        xts_mode::Xts128::new(c1.clone(), c2.clone()).encrypt_sector(&mut want, tweak);

        // T_0 = E(K2, i), then T_{j+1} = XtsMulAlpha(T_j);
        // C_j = E(K1, P_j xor T_j) xor T_j.
        let mut t = tweak.into();
        c2.encrypt_block(&mut t);
        let mut t = mem(&t);
        for (j, p) in plain.chunks(16).enumerate() {
            let mut x = (mem(p) ^ t).to_le_bytes().into();
            c1.encrypt_block(&mut x);
            assert_eq!(mem(&x) ^ t, mem(&want[16 * j..16 * j + 16]), "block {j}");
            t = mul_alpha_sim(&mut uut, t);
        }
    }
}

#[test]
fn verilog_is_lint_clean() {
    let mut g = Ghash::default();
    g.connect_all();
    lint("ghash", &generate_verilog(&g));
    let mut x = XtsMulAlpha::default();
    x.connect_all();
    lint("xts_mul_alpha", &generate_verilog(&x));
    let mut m = Gf128Mul::default();
    m.connect_all();
    lint("gf128_mul", &generate_verilog(&m));
}

/// [`Ghash`], [`XtsMulAlpha`] and [`Gf128Mul`] side by side, to build all
/// three into one Verilator model.
#[derive(LogicBlock, Default)]
struct Pair {
    clock: Signal<In, Clock>,
    reset: Signal<In, Bit>,
    h: Signal<In, Bits<128>>,
    clear: Signal<In, Bit>,
    in_valid: Signal<In, Bit>,
    in_block: Signal<In, Bits<128>>,
    y: Signal<Out, Bits<128>>,
    tweak: Signal<In, Bits<128>>,
    tweak_alpha: Signal<Out, Bits<128>>,
    mul_a: Signal<In, Bits<128>>,
    mul_b: Signal<In, Bits<128>>,
    mul_p: Signal<Out, Bits<128>>,
    ghash: Ghash,
    xts: XtsMulAlpha,
    mul: Gf128Mul,
}

impl Logic for Pair {
    #[hdl_gen]
    fn update(&mut self) {
        self.ghash.clock.next = self.clock.val();
        self.ghash.reset.next = self.reset.val();
        self.ghash.h.next = self.h.val();
        self.ghash.clear.next = self.clear.val();
        self.ghash.in_valid.next = self.in_valid.val();
        self.ghash.in_block.next = self.in_block.val();
        self.y.next = self.ghash.y.val();
        self.xts.tweak.next = self.tweak.val();
        self.tweak_alpha.next = self.xts.tweak_alpha.val();
        self.mul.a.next = self.mul_a.val();
        self.mul.b.next = self.mul_b.val();
        self.mul_p.next = self.mul.p.val();
    }
}

/// C++ harness: one cycle per input line `reset clear in_valid h in_block
/// tweak mul_a mul_b` (128-bit values as 32 hex digits); prints
/// `tweak_alpha` and `mul_p` before the edge and `y` after it.
const HARNESS: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
static bool get128(VlWide<4>& w) {
    char s[33];
    if (std::scanf("%32s", s) != 1) return false;
    for (int i = 0; i < 4; i++) {
        unsigned v;
        std::sscanf(s + 8 * (3 - i), "%8x", &v);
        w[i] = v;
    }
    return true;
}
static void put128(const VlWide<4>& w) {
    std::printf("%08x%08x%08x%08x", w[3], w[2], w[1], w[0]);
}
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    Vtop* t = new Vtop;
    unsigned r, c, v;
    while (std::scanf("%u %u %u", &r, &c, &v) == 3) {
        t->reset = r;
        t->clear = c;
        t->in_valid = v;
        if (!get128(t->h) || !get128(t->in_block) || !get128(t->tweak)) return 1;
        if (!get128(t->mul_a) || !get128(t->mul_b)) return 1;
        t->clock = 0;
        t->eval();
        put128(t->tweak_alpha);
        std::printf(" ");
        put128(t->mul_p);
        std::printf(" ");
        t->clock = 1;
        t->eval();
        put128(t->y);
        std::printf("\n");
    }
    t->final();
    delete t;
    return 0;
}
"#;

#[test]
fn generated_verilog_matches_the_references_in_verilator() {
    let mut pair = Pair::default();
    pair.connect_all();
    let model = verilate::Model::build("ghash-verilator", &generate_verilog(&pair), HARNESS);

    // Stimulus and the expected trace from the references.
    let mut rng = Rng::new(9);
    let mut input = String::new();
    let mut expect = Vec::new();
    let mut y = 0u128;
    let mut h = rng.u128();
    let mut tweaks = vec![0u128, 1, 1 << 127, !0];
    let mut products = Vec::new();
    for &a in &edge_values() {
        for &b in &edge_values() {
            products.push((a, b));
        }
    }
    let mut msg = Vec::new();
    for cycle in 0..600 {
        let reset = cycle < 2;
        let clear = !reset && rng.below(16) == 0;
        if reset || clear {
            // The message since the last clear ends here: cross-check the
            // recurrence with the crate before starting the next one.
            assert_eq!(crate_ghash(h, &msg), y);
            msg.clear();
            if rng.below(2) == 0 {
                h = rng.u128();
            }
        }
        let valid = !reset && rng.below(4) != 0;
        let x = rng.u128();
        let t = tweaks.pop().unwrap_or_else(|| rng.u128());
        let (ma, mb) = products.pop().unwrap_or_else(|| (rng.u128(), rng.u128()));
        input += &format!(
            "{} {} {} {h:032x} {x:032x} {t:032x} {ma:032x} {mb:032x}\n",
            reset as u8, clear as u8, valid as u8
        );
        if reset || clear {
            y = 0;
        } else if valid {
            y = ref_mul_mem(y ^ x, h);
            msg.extend_from_slice(&x.to_le_bytes());
        }
        expect.push((mem(&ref_mul_alpha(t.to_le_bytes())), ref_mul_mem(ma, mb), y));
    }

    let lines = model.run(&input);
    assert_eq!(lines.len(), expect.len());
    for (n, (line, (alpha, p, y))) in lines.iter().zip(&expect).enumerate() {
        let v: Vec<_> = line
            .split(' ')
            .map(|w| u128::from_str_radix(w, 16).unwrap())
            .collect();
        let (a, mp, g) = (v[0], v[1], v[2]);
        assert_eq!(a, *alpha, "cycle {n}: tweak_alpha");
        assert_eq!(mp, *p, "cycle {n}: Gf128Mul");
        assert_eq!(g, *y, "cycle {n}: y");
    }
}
