//! Modular arithmetic for ML-KEM (q = 3329) and ML-DSA (q = 8380417) on
//! 24-bit coefficient lanes, the modulus chosen per operation by `mldsa`.
//!
//! Every operand must already be reduced (`0 <= x < q`); every result is
//! reduced. ML-KEM values use the low 12 bits of a lane, the rest is zero.
//!
//! - [`ModAdd`] and [`ModSub`] are combinational: one 24-bit add or
//!   subtract and one conditional correction by q (`2q < 2^24` for both
//!   moduli, so nothing overflows a lane).
//! - [`ModMul`] is a pipelined multiplier with an exact Barrett reduction,
//!   latency [`MODMUL_LATENCY`] cycles, one product per cycle, no
//!   data-dependent timing. See its documentation for the stages and the
//!   error bound.

use rust_hdl::prelude::*;

/// The ML-KEM modulus (FIPS 203): 3329 = 2^11 + 2^10 + 2^8 + 1.
pub const Q_KEM: u32 = 3329;
/// The ML-DSA modulus (FIPS 204): 8380417 = 2^23 - 2^13 + 1.
pub const Q_DSA: u32 = 8_380_417;

/// Barrett pre-shift of the product `t = a*b` for ML-KEM (`x = t >> 0`).
pub const BARRETT_S1_KEM: u32 = 0;
/// Barrett post-shift for ML-KEM: `qhat = (x * mu) >> 43`.
pub const BARRETT_S2_KEM: u32 = 43;
/// Barrett pre-shift for ML-DSA (`x = t >> 14`, so `x < 2^32`).
pub const BARRETT_S1_DSA: u32 = 14;
/// Barrett post-shift for ML-DSA: `qhat = (x * mu) >> 40`.
pub const BARRETT_S2_DSA: u32 = 40;
/// Barrett constant for ML-KEM, `floor(2^43 / 3329)` (32 bits).
pub const MU_KEM: u64 = (1u64 << (BARRETT_S1_KEM + BARRETT_S2_KEM)) / Q_KEM as u64;
/// Barrett constant for ML-DSA, `floor(2^54 / 8380417)` (32 bits).
pub const MU_DSA: u64 = (1u64 << (BARRETT_S1_DSA + BARRETT_S2_DSA)) / Q_DSA as u64;

/// Latency of [`ModMul`]: operands presented in cycle `c` (sampled at the
/// rising edge that ends it) give the product on `p` in cycle
/// `c + MODMUL_LATENCY`.
pub const MODMUL_LATENCY: usize = 6;

/// The modulus: [`Q_DSA`] when `mldsa`, else [`Q_KEM`].
pub fn modulus(mldsa: bool) -> u32 {
    if mldsa {
        Q_DSA
    } else {
        Q_KEM
    }
}

/// Bit-exact software model of [`ModMul`]'s arithmetic (partial products,
/// Barrett quotient estimate, one correction). For reduced operands it
/// equals `a * b mod q`; it exists so that the reduction can be checked
/// exhaustively (ML-KEM) and at the edges (ML-DSA) without the simulator.
pub fn modmul_model(a: u32, b: u32, mldsa: bool) -> u32 {
    let (a0, a1) = ((a & 0xffff) as u64, ((a >> 16) & 0xff) as u64);
    let (b0, b1) = ((b & 0xffff) as u64, ((b >> 16) & 0xff) as u64);
    let t = (a0 * b0 + ((a0 * b1) << 16) + ((a1 * b0) << 16) + ((a1 * b1) << 32)) & ((1 << 48) - 1);
    let (s1, s2, mu) = if mldsa {
        (BARRETT_S1_DSA, BARRETT_S2_DSA, MU_DSA)
    } else {
        (BARRETT_S1_KEM, BARRETT_S2_KEM, MU_KEM)
    };
    let x = (t >> s1) & 0xffff_ffff;
    let y = (x as u128 * mu as u128) as u64;
    let qhat = ((y >> s2) & 0xff_ffff) as u32;
    let q = modulus(mldsa);
    let r = ((t as u32).wrapping_sub(qhat.wrapping_mul(q))) & 0xff_ffff;
    if r >= q {
        r - q
    } else {
        r
    }
}

/// `s = (a + b) mod q`, combinational. `a`, `b` must be reduced.
#[derive(LogicBlock)]
pub struct ModAdd {
    /// ML-DSA modulus when high, ML-KEM when low.
    pub mldsa: Signal<In, Bit>,
    /// First operand (`< q`).
    pub a: Signal<In, Bits<24>>,
    /// Second operand (`< q`).
    pub b: Signal<In, Bits<24>>,
    /// `(a + b) mod q`.
    pub s: Signal<Out, Bits<24>>,
    q: Signal<Local, Bits<24>>,
    sum: Signal<Local, Bits<24>>,
    q_kem: Constant<Bits<24>>,
    q_dsa: Constant<Bits<24>>,
}

impl Default for ModAdd {
    fn default() -> Self {
        Self {
            mldsa: Default::default(),
            a: Default::default(),
            b: Default::default(),
            s: Default::default(),
            q: Default::default(),
            sum: Default::default(),
            q_kem: Constant::new(bits(Q_KEM as u64)),
            q_dsa: Constant::new(bits(Q_DSA as u64)),
        }
    }
}

impl Logic for ModAdd {
    #[hdl_gen]
    fn update(&mut self) {
        self.q.next = self.q_kem.val();
        if self.mldsa.val() {
            self.q.next = self.q_dsa.val();
        }
        self.sum.next = self.a.val() + self.b.val();
        self.s.next = self.sum.val();
        if self.sum.val() >= self.q.val() {
            self.s.next = self.sum.val() - self.q.val();
        }
    }
}

/// `d = (a - b) mod q`, combinational. `a`, `b` must be reduced.
#[derive(LogicBlock)]
pub struct ModSub {
    /// ML-DSA modulus when high, ML-KEM when low.
    pub mldsa: Signal<In, Bit>,
    /// Minuend (`< q`).
    pub a: Signal<In, Bits<24>>,
    /// Subtrahend (`< q`).
    pub b: Signal<In, Bits<24>>,
    /// `(a - b) mod q`.
    pub d: Signal<Out, Bits<24>>,
    q: Signal<Local, Bits<24>>,
    diff: Signal<Local, Bits<24>>,
    q_kem: Constant<Bits<24>>,
    q_dsa: Constant<Bits<24>>,
}

impl Default for ModSub {
    fn default() -> Self {
        Self {
            mldsa: Default::default(),
            a: Default::default(),
            b: Default::default(),
            d: Default::default(),
            q: Default::default(),
            diff: Default::default(),
            q_kem: Constant::new(bits(Q_KEM as u64)),
            q_dsa: Constant::new(bits(Q_DSA as u64)),
        }
    }
}

impl Logic for ModSub {
    #[hdl_gen]
    fn update(&mut self) {
        self.q.next = self.q_kem.val();
        if self.mldsa.val() {
            self.q.next = self.q_dsa.val();
        }
        self.diff.next = self.a.val() - self.b.val();
        self.d.next = self.diff.val();
        if self.a.val() < self.b.val() {
            self.d.next = self.diff.val() + self.q.val();
        }
    }
}

/// `p = a * b mod q`, pipelined: one product per cycle, latency
/// [`MODMUL_LATENCY`] (= 6) cycles, the same for both moduli and all data.
/// `mldsa` travels with its operands, so the modulus may change from one
/// cycle to the next.
///
/// Stages (each ends in a register):
/// 1. the 24x24-bit product as four 16x16 -> 32 partial products
///    (`a = a1*2^16 + a0`, `a1` 8 bits; the DSP-block shape);
/// 2. their sum `t = a*b < q^2` (48 bits);
/// 3. Barrett: `x = t >> s1` (< 2^32) and the four 16x16 partial products
///    of `x * mu`, `mu = floor(2^(s1+s2) / q)` (< 2^32); `t mod 2^24` kept;
/// 4. `qhat = (x * mu) >> s2` (64-bit sum of the partial products);
/// 5. `r = t - qhat*q` mod 2^24, with `qhat*q` as shift-adds (both moduli
///    are sparse: 2^11+2^10+2^8+1 and 2^23-2^13+1);
/// 6. `p = r - q` if `r >= q`, else `r`.
///
/// Parameters: ML-KEM `s1 = 0, s2 = 43`; ML-DSA `s1 = 14, s2 = 40`.
/// Error bound: with `Q = floor(t/q)`,
/// `x*mu/2^s2 > t/q - t/2^(s1+s2) - 2^s1/q`, and both terms together are
/// below 2^-7 for `t < q^2`, so `qhat` is `Q` or `Q - 1` and `0 <= r < 2q`
/// (`< 2^24`, so computing `r` modulo 2^24 is exact); one conditional
/// subtraction finishes. Cost: eight 16x16 multipliers, no divider.
#[derive(LogicBlock)]
pub struct ModMul {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// ML-DSA modulus when high, ML-KEM when low (per operation).
    pub mldsa: Signal<In, Bit>,
    /// First factor (`< q`).
    pub a: Signal<In, Bits<24>>,
    /// Second factor (`< q`).
    pub b: Signal<In, Bits<24>>,
    /// `a * b mod q` for the operands of [`MODMUL_LATENCY`] cycles ago.
    pub p: Signal<Out, Bits<24>>,

    pp00: DFF<Bits<32>>,
    pp01: DFF<Bits<32>>,
    pp10: DFF<Bits<32>>,
    pp11: DFF<Bits<32>>,
    m1: DFF<Bit>,
    t2: DFF<Bits<48>>,
    m2: DFF<Bit>,
    xm00: DFF<Bits<32>>,
    xm01: DFF<Bits<32>>,
    xm10: DFF<Bits<32>>,
    xm11: DFF<Bits<32>>,
    tl3: DFF<Bits<24>>,
    m3: DFF<Bit>,
    qh4: DFF<Bits<24>>,
    tl4: DFF<Bits<24>>,
    m4: DFF<Bit>,
    r5: DFF<Bits<24>>,
    m5: DFF<Bit>,
    p6: DFF<Bits<24>>,

    x: Signal<Local, Bits<32>>,
    mu: Signal<Local, Bits<32>>,
    y40: Signal<Local, Bits<24>>,
    qq: Signal<Local, Bits<24>>,
    q5: Signal<Local, Bits<24>>,

    mu_kem: Constant<Bits<32>>,
    mu_dsa: Constant<Bits<32>>,
    q_kem: Constant<Bits<24>>,
    q_dsa: Constant<Bits<24>>,
}

impl Default for ModMul {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            mldsa: Default::default(),
            a: Default::default(),
            b: Default::default(),
            p: Default::default(),
            pp00: Default::default(),
            pp01: Default::default(),
            pp10: Default::default(),
            pp11: Default::default(),
            m1: Default::default(),
            t2: Default::default(),
            m2: Default::default(),
            xm00: Default::default(),
            xm01: Default::default(),
            xm10: Default::default(),
            xm11: Default::default(),
            tl3: Default::default(),
            m3: Default::default(),
            qh4: Default::default(),
            tl4: Default::default(),
            m4: Default::default(),
            r5: Default::default(),
            m5: Default::default(),
            p6: Default::default(),
            x: Default::default(),
            mu: Default::default(),
            y40: Default::default(),
            qq: Default::default(),
            q5: Default::default(),
            mu_kem: Constant::new(bits(MU_KEM)),
            mu_dsa: Constant::new(bits(MU_DSA)),
            q_kem: Constant::new(bits(Q_KEM as u64)),
            q_dsa: Constant::new(bits(Q_DSA as u64)),
        }
    }
}

impl Logic for ModMul {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, pp00, pp01, pp10, pp11, m1, t2, m2, xm00, xm01, xm10, xm11, tl3, m3, qh4,
            tl4, m4, r5, m5, p6
        );
        // 1: partial products of a * b.
        self.pp00.d.next = self.a.val().get_bits::<16>(0) * self.b.val().get_bits::<16>(0);
        self.pp01.d.next =
            self.a.val().get_bits::<16>(0) * bit_cast::<16, 8>(self.b.val().get_bits::<8>(16));
        self.pp10.d.next =
            bit_cast::<16, 8>(self.a.val().get_bits::<8>(16)) * self.b.val().get_bits::<16>(0);
        self.pp11.d.next = bit_cast::<16, 8>(self.a.val().get_bits::<8>(16))
            * bit_cast::<16, 8>(self.b.val().get_bits::<8>(16));
        self.m1.d.next = self.mldsa.val();

        // 2: t = a * b.
        self.t2.d.next = bit_cast::<48, 32>(self.pp00.q.val())
            + (bit_cast::<48, 32>(self.pp01.q.val()) << 16)
            + (bit_cast::<48, 32>(self.pp10.q.val()) << 16)
            + (bit_cast::<48, 32>(self.pp11.q.val()) << 32);
        self.m2.d.next = self.m1.q.val();

        // 3: partial products of x * mu.
        self.x.next = self.t2.q.val().get_bits::<32>(0);
        self.mu.next = self.mu_kem.val();
        if self.m2.q.val() {
            self.x.next = self.t2.q.val().get_bits::<32>(14);
            self.mu.next = self.mu_dsa.val();
        }
        self.xm00.d.next = self.x.val().get_bits::<16>(0) * self.mu.val().get_bits::<16>(0);
        self.xm01.d.next = self.x.val().get_bits::<16>(0) * self.mu.val().get_bits::<16>(16);
        self.xm10.d.next = self.x.val().get_bits::<16>(16) * self.mu.val().get_bits::<16>(0);
        self.xm11.d.next = self.x.val().get_bits::<16>(16) * self.mu.val().get_bits::<16>(16);
        self.tl3.d.next = self.t2.q.val().get_bits::<24>(0);
        self.m3.d.next = self.m2.q.val();

        // 4: qhat = (x * mu) >> s2.
        // (x * mu) >> 40, summed at 64 bits (x * mu < 2^64).
        self.y40.next = bit_cast::<24, 64>(
            (bit_cast::<64, 32>(self.xm00.q.val())
                + (bit_cast::<64, 32>(self.xm01.q.val()) << 16)
                + (bit_cast::<64, 32>(self.xm10.q.val()) << 16)
                + (bit_cast::<64, 32>(self.xm11.q.val()) << 32))
                >> 40,
        );
        self.qh4.d.next = self.y40.val() >> 3;
        if self.m3.q.val() {
            self.qh4.d.next = self.y40.val();
        }
        self.tl4.d.next = self.tl3.q.val();
        self.m4.d.next = self.m3.q.val();

        // 5: r = t - qhat * q (mod 2^24), 0 <= r < 2q.
        self.qq.next = (self.qh4.q.val() << 11)
            + (self.qh4.q.val() << 10)
            + (self.qh4.q.val() << 8)
            + self.qh4.q.val();
        if self.m4.q.val() {
            self.qq.next = (self.qh4.q.val() << 23) - (self.qh4.q.val() << 13) + self.qh4.q.val();
        }
        self.r5.d.next = self.tl4.q.val() - self.qq.val();
        self.m5.d.next = self.m4.q.val();

        // 6: final correction.
        self.q5.next = self.q_kem.val();
        if self.m5.q.val() {
            self.q5.next = self.q_dsa.val();
        }
        self.p6.d.next = self.r5.q.val();
        if self.r5.q.val() >= self.q5.val() {
            self.p6.d.next = self.r5.q.val() - self.q5.val();
        }
        self.p.next = self.p6.q.val();
    }
}
