//! [`Butterfly`]: the NTT butterfly for both directions and both moduli,
//! around one [`ModMul`].
//!
//! - Cooley-Tukey (forward NTT; FIPS 203 Algorithm 9, FIPS 204 Algorithm
//!   41): `t = zeta * b; a' = a + t; b' = a - t`.
//! - Gentleman-Sande (inverse NTT; FIPS 203 Algorithm 10, FIPS 204
//!   Algorithm 42): `a' = a + b; b' = zeta * (b - a)`. FIPS 204 writes this
//!   as `b' = -zeta' * (a - b)`; the caller passes `zeta = -zeta'`, i.e.
//!   the same table entry as FIPS 203's form.
//!
//! The multiplier sits between a pre-stage (the GS add/subtract, a bypass
//! for CT) and a post-stage (the CT add/subtract, a bypass for GS), so both
//! directions have the same latency and share the multiplier. The
//! direction and modulus travel with each operation: they may change from
//! one cycle to the next.

use super::modarith::{ModAdd, ModMul, ModSub, MODMUL_LATENCY};
use rust_hdl::prelude::*;

/// Latency of [`Butterfly`]: inputs presented in cycle `c` (sampled at the
/// rising edge ending it) give `a_out`/`b_out` in cycle
/// `c + BUTTERFLY_LATENCY`, combinationally from registers (so the caller
/// can write them into a RAM at the edge ending that cycle).
pub const BUTTERFLY_LATENCY: usize = 1 + MODMUL_LATENCY;

/// One butterfly per cycle, latency [`BUTTERFLY_LATENCY`]; operands and
/// `zeta` must be reduced mod q.
#[derive(LogicBlock, Default)]
pub struct Butterfly {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// ML-DSA modulus when high, ML-KEM when low (per operation).
    pub mldsa: Signal<In, Bit>,
    /// Gentleman-Sande (inverse NTT) when high, Cooley-Tukey when low (per
    /// operation).
    pub inverse: Signal<In, Bit>,
    /// Coefficient `a` (the lower index, `f[j]`).
    pub a: Signal<In, Bits<24>>,
    /// Coefficient `b` (the upper index, `f[j + len]`).
    pub b: Signal<In, Bits<24>>,
    /// Twiddle factor.
    pub zeta: Signal<In, Bits<24>>,
    /// New `a`: CT `a + zeta*b`, GS `a + b`.
    pub a_out: Signal<Out, Bits<24>>,
    /// New `b`: CT `a - zeta*b`, GS `zeta*(b - a)`.
    pub b_out: Signal<Out, Bits<24>>,

    pre_add: ModAdd,
    pre_sub: ModSub,
    mul: ModMul,
    post_add: ModAdd,
    post_sub: ModSub,
    // Mode pipeline: bit 0 = mldsa, bit 1 = inverse.
    md1: DFF<Bits<2>>,
    md2: DFF<Bits<2>>,
    md3: DFF<Bits<2>>,
    md4: DFF<Bits<2>>,
    md5: DFF<Bits<2>>,
    md6: DFF<Bits<2>>,
    md7: DFF<Bits<2>>,
    // `a` side (after the pre-stage), delayed alongside the multiplier.
    u1: DFF<Bits<24>>,
    u2: DFF<Bits<24>>,
    u3: DFF<Bits<24>>,
    u4: DFF<Bits<24>>,
    u5: DFF<Bits<24>>,
    u6: DFF<Bits<24>>,
    u7: DFF<Bits<24>>,
    // Multiplier operands.
    v1: DFF<Bits<24>>,
    z1: DFF<Bits<24>>,
}

impl Logic for Butterfly {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, md1, md2, md3, md4, md5, md6, md7, u1, u2, u3, u4, u5, u6, u7, v1, z1
        );
        self.mul.clock.next = self.clock.val();

        // Pre-stage: GS add/subtract, CT bypass.
        self.pre_add.mldsa.next = self.mldsa.val();
        self.pre_add.a.next = self.a.val();
        self.pre_add.b.next = self.b.val();
        self.pre_sub.mldsa.next = self.mldsa.val();
        self.pre_sub.a.next = self.b.val();
        self.pre_sub.b.next = self.a.val();
        self.u1.d.next = self.a.val();
        self.v1.d.next = self.b.val();
        if self.inverse.val() {
            self.u1.d.next = self.pre_add.s.val();
            self.v1.d.next = self.pre_sub.d.val();
        }
        self.z1.d.next = self.zeta.val();
        self.md1.d.next = bits::<2>(0);
        if self.mldsa.val() {
            self.md1.d.next = bits::<2>(1);
        }
        if self.inverse.val() {
            self.md1.d.next = bits::<2>(2);
            if self.mldsa.val() {
                self.md1.d.next = bits::<2>(3);
            }
        }

        // Multiplier, with the `a` side and the mode delayed alongside.
        self.mul.mldsa.next = self.md1.q.val().get_bit(0);
        self.mul.a.next = self.v1.q.val();
        self.mul.b.next = self.z1.q.val();
        self.u2.d.next = self.u1.q.val();
        self.u3.d.next = self.u2.q.val();
        self.u4.d.next = self.u3.q.val();
        self.u5.d.next = self.u4.q.val();
        self.u6.d.next = self.u5.q.val();
        self.u7.d.next = self.u6.q.val();
        self.md2.d.next = self.md1.q.val();
        self.md3.d.next = self.md2.q.val();
        self.md4.d.next = self.md3.q.val();
        self.md5.d.next = self.md4.q.val();
        self.md6.d.next = self.md5.q.val();
        self.md7.d.next = self.md6.q.val();

        // Post-stage: CT add/subtract, GS bypass.
        self.post_add.mldsa.next = self.md7.q.val().get_bit(0);
        self.post_add.a.next = self.u7.q.val();
        self.post_add.b.next = self.mul.p.val();
        self.post_sub.mldsa.next = self.md7.q.val().get_bit(0);
        self.post_sub.a.next = self.u7.q.val();
        self.post_sub.b.next = self.mul.p.val();
        self.a_out.next = self.post_add.s.val();
        self.b_out.next = self.post_sub.d.val();
        if self.md7.q.val().get_bit(1) {
            self.a_out.next = self.u7.q.val();
            self.b_out.next = self.mul.p.val();
        }
    }
}
