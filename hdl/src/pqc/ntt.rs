//! [`NttEngine`]: one polynomial of 256 coefficients in banked RAM, four
//! [`Butterfly`] units, and the forward and inverse NTT of FIPS 203
//! (ML-KEM, 7 layers) and FIPS 204 (ML-DSA, 8 layers) as commands.
//!
//! # Memory organisation
//!
//! Coefficient `j` (0..256) is lane `j % 4` of word `w = j / 4` (0..64).
//! Word `w` lives in bank `parity(w)` (XOR of its six bits) at address
//! `w >> 1` (0..32). Each bank is four `RAM<Bits<24>, 5>` (one per lane, 24
//! coefficient bits each), all four addressed together, with one read and
//! one write port: 2 banks x 4 lanes = 8 RAMs of 32 x 24 bits.
//!
//! Every NTT layer pairs words that differ in exactly one bit, so the two
//! words of a pair are always in different banks: each cycle reads one
//! word from each bank (8 coefficients), runs 4 butterflies and writes 8
//! coefficients back in place, without conflicts:
//! - layers with `len = 4 * 2^k >= 4` (k = 5..0): step `s` (0..32) pairs
//!   word `wA = insert0(s, k)` (a zero inserted at bit k) with
//!   `wB = wA | 2^k`; butterfly `u` takes lane `u` of both words; all four
//!   share one zeta (`base + (s >> k)`);
//! - `len = 2`: words `2s`, `2s+1`; the butterflies are (lanes 0,2) and
//!   (lanes 1,3) of each word, two zetas (`base + 2s`, `base + 2s + 1`);
//! - `len = 1` (ML-DSA only): (lanes 0,1) and (lanes 2,3) of the same two
//!   words, four zetas `base + 4s + u`.
//!
//! The external port reads or writes 8 coefficients `8i..8i+8` per cycle:
//! words `2i` and `2i+1`, at address `i` in both banks.
//!
//! # Schedule and timing
//!
//! A command runs `32 * passes` issue cycles without bubbles: one step per
//! cycle, layer after layer, each pass 32 steps. A step reads its words
//! (cycle c), feeds the butterflies in cycle c+1 and writes back at the end
//! of cycle c+8 ([`BUTTERFLY_LATENCY`] = 7). The step order makes this
//! safe with no stall between layers: layer k-1 (forward) or k+1 (inverse)
//! at step s only reads words written by the previous layer at steps
//! `<= s + 16`, i.e. at least 16 cycles earlier, more than the 9-cycle
//! read-to-write distance. Cycle counts, from the cycle with `start` to
//! the cycle with `done` (see [`ntt_cycles`]):
//!
//! | command | passes | cycles |
//! |---|---|---|
//! | ML-KEM NTT  | 7 | 233 |
//! | ML-KEM INTT | 8 | 265 |
//! | ML-DSA NTT  | 8 | 265 |
//! | ML-DSA INTT | 9 | 297 |
//!
//! The inverse NTT's final scaling by n^-1 (3303 for ML-KEM over 7 layers,
//! 8347681 for ML-DSA over 8) costs one extra pass: the last layer
//! (`len = 128`) multiplies its `b` outputs (coefficients 128..256) by
//! `zeta * n^-1` (a different table entry, so for free), and a 32-cycle
//! scaling pass multiplies coefficients 0..128 by n^-1 with the four
//! multipliers (butterflies in GS mode with `a = 0`).
//!
//! # Zeta ROM
//!
//! Four `SyncROM<Bits<24>, 8>` (lane l holds table entries `4e + l`),
//! addressed by `{inverse, mldsa, e}`. The forward table is FIPS 203's
//! `zetas[i] = 17^BitRev7(i) mod 3329` (i < 128) or FIPS 204's
//! `zetas[i] = 1753^BitRev8(i) mod 8380417` (i < 256). The inverse table
//! is the forward one reversed (`inv[i] = zetas[N-1-i]`), except for its
//! two top entries: `inv[N-2] = zetas[1] * n^-1` (the last layer) and
//! `inv[N-1] = n^-1` (the scaling pass). Everything is computed in
//! [`zeta_tables`] from the modulus, not stored as literals.
//!
//! All operations are constant time: the schedule depends only on the
//! command and `mldsa`, never on coefficient values.

use super::butterfly::{Butterfly, BUTTERFLY_LATENCY};
use super::modarith::{Q_DSA, Q_KEM};
use rust_hdl::prelude::*;

/// `cmd` code: forward NTT (FIPS 203 Algorithm 9 / FIPS 204 Algorithm 41).
pub const CMD_NTT: u64 = 0;
/// `cmd` code: inverse NTT including the multiplication by n^-1 (FIPS 203
/// Algorithm 10 / FIPS 204 Algorithm 42).
pub const CMD_INTT: u64 = 1;

/// Cycles of a command: from the cycle in which `start` is high (sampled at
/// the edge ending it) to the cycle in which `done` is high, when the
/// result can be read. Depends only on the command and the modulus.
pub fn ntt_cycles(inverse: bool, mldsa: bool) -> usize {
    let layers = if mldsa { 8 } else { 7 };
    let passes = layers + inverse as usize;
    32 * passes + BUTTERFLY_LATENCY + 2
}

fn pow_mod(mut b: u64, mut e: u64, q: u64) -> u64 {
    let mut r = 1;
    b %= q;
    while e > 0 {
        if e & 1 == 1 {
            r = r * b % q;
        }
        b = b * b % q;
        e >>= 1;
    }
    r
}

fn bitrev(x: usize, bits: u32) -> usize {
    x.reverse_bits() >> (usize::BITS - bits)
}

/// The forward and inverse zeta tables the engine's ROM holds for one
/// modulus: `(forward, inverse)`, each with 128 (ML-KEM) or 256 (ML-DSA)
/// entries. See the module documentation for their layout.
pub fn zeta_tables(mldsa: bool) -> (Vec<u32>, Vec<u32>) {
    let (q, zeta, bits) = if mldsa {
        (Q_DSA as u64, 1753, 8)
    } else {
        (Q_KEM as u64, 17, 7)
    };
    let n = 1usize << bits;
    let fwd: Vec<u64> = (0..n)
        .map(|i| pow_mod(zeta, bitrev(i, bits) as u64, q))
        .collect();
    // n^-1 for the number of layers: 2^-bits mod q.
    let ninv = pow_mod(pow_mod(2, bits as u64, q), q - 2, q);
    let mut inv: Vec<u64> = (0..n).map(|i| fwd[n - 1 - i]).collect();
    inv[n - 2] = fwd[1] * ninv % q;
    inv[n - 1] = ninv;
    (
        fwd.into_iter().map(|v| v as u32).collect(),
        inv.into_iter().map(|v| v as u32).collect(),
    )
}

/// ROM lane `lane` (0..4): entry `{inverse, mldsa, e}` holds table entry
/// `4e + lane`.
fn zeta_rom(lane: usize) -> SyncROM<Bits<24>, 8> {
    let mut words = vec![0u64; 256];
    for mldsa in [false, true] {
        let (fwd, inv) = zeta_tables(mldsa);
        for (inverse, table) in [(false, &fwd), (true, &inv)] {
            for e in 0..64 {
                if let Some(&z) = table.get(4 * e + lane) {
                    words[(inverse as usize) << 7 | (mldsa as usize) << 6 | e] = z as u64;
                }
            }
        }
    }
    SyncROM::from(words.into_iter().map(bits::<24>))
}

/// The NTT engine: a 256-coefficient polynomial memory, commands NTT and
/// INTT for ML-KEM and ML-DSA, and an 8-coefficient load/read port.
///
/// Coefficients are 24-bit lanes and must be reduced (`< q`); ML-KEM uses
/// the low 12 bits.
///
/// Commands: `start` high for one cycle with `cmd` ([`CMD_NTT`],
/// [`CMD_INTT`]; other codes finish without touching the memory) and
/// `mldsa`. `busy` is high from the next cycle until `done` pulses,
/// [`ntt_cycles`] cycles after `start`. `start` while busy is ignored.
///
/// Port (only while not busy; ignored while busy): `wr_en` writes
/// coefficients `8*wr_index .. 8*wr_index + 8` from `wr_data` (coefficient
/// `8i + l` at bits `24l + 23 .. 24l`) at the rising edge; `rd_en` reads
/// the same layout at `rd_index`, delivered on `rd_data` with `rd_valid` in
/// the next cycle (a read in the cycle of a write to the same index returns
/// the old value). `reset` stops a command; the memory keeps its contents.
#[derive(LogicBlock)]
pub struct NttEngine {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: aborts a command (memory contents are kept).
    pub reset: Signal<In, Bit>,
    /// Pulse: start command `cmd` for modulus `mldsa`.
    pub start: Signal<In, Bit>,
    /// Command code ([`CMD_NTT`] or [`CMD_INTT`]), sampled with `start`.
    pub cmd: Signal<In, Bits<2>>,
    /// ML-DSA (q = 8380417, 8 layers) when high, ML-KEM (q = 3329, 7
    /// layers) when low; sampled with `start`.
    pub mldsa: Signal<In, Bit>,
    /// A command is running.
    pub busy: Signal<Out, Bit>,
    /// Pulse: the command has finished; its result is readable.
    pub done: Signal<Out, Bit>,
    /// Write 8 coefficients at the next rising edge (ignored while busy).
    pub wr_en: Signal<In, Bit>,
    /// Which 8 coefficients (`8*wr_index ..`).
    pub wr_index: Signal<In, Bits<5>>,
    /// The coefficients, `8i + l` at bits `24l + 23 .. 24l`.
    pub wr_data: Signal<In, Bits<192>>,
    /// Read 8 coefficients (ignored while busy).
    pub rd_en: Signal<In, Bit>,
    /// Which 8 coefficients (`8*rd_index ..`).
    pub rd_index: Signal<In, Bits<5>>,
    /// The coefficients read in the previous cycle (layout as `wr_data`).
    pub rd_data: Signal<Out, Bits<192>>,
    /// `rd_data` holds the result of a read requested in the previous cycle.
    pub rd_valid: Signal<Out, Bit>,

    /// Banks: `ram[4*bank + lane]`.
    ram: [RAM<Bits<24>, 5>; 8],
    zrom: [SyncROM<Bits<24>, 8>; 4],
    bf: [Butterfly; 4],

    // Command state.
    run: DFF<Bit>,
    busy_q: DFF<Bit>,
    done_q: DFF<Bit>,
    inv: DFF<Bit>,
    dsa: DFF<Bit>,
    pass: DFF<Bits<4>>,
    step: DFF<Bits<5>>,
    drain: DFF<Bits<4>>,
    rdv: DFF<Bit>,
    // Step control in the RAM-data cycle: bit 0 valid, 2:1 type, 3 swap,
    // 8:4 bank-0 address, 13:9 bank-1 address, 15:14 zeta lane.
    c1: DFF<Bits<16>>,
    // The same (bits 13:0) delayed to the write-back cycle.
    cw2: DFF<Bits<14>>,
    cw3: DFF<Bits<14>>,
    cw4: DFF<Bits<14>>,
    cw5: DFF<Bits<14>>,
    cw6: DFF<Bits<14>>,
    cw7: DFF<Bits<14>>,
    cw8: DFF<Bits<14>>,

    // Issue-cycle decode.
    nl: Signal<Local, Bits<4>>,
    layer: Signal<Local, Bits<4>>,
    scale: Signal<Local, Bit>,
    last_pass: Signal<Local, Bit>,
    k: Signal<Local, Bits<3>>,
    ty: Signal<Local, Bits<2>>,
    nbase: Signal<Local, Bits<8>>,
    base: Signal<Local, Bits<8>>,
    zidx: Signal<Local, Bits<8>>,
    zhi: Signal<Local, Bits<8>>,
    s6: Signal<Local, Bits<6>>,
    lowmask: Signal<Local, Bits<6>>,
    himask: Signal<Local, Bits<6>>,
    wa: Signal<Local, Bits<6>>,
    wb_ad: Signal<Local, Bits<5>>,
    swap: Signal<Local, Bit>,
    ad0: Signal<Local, Bits<5>>,
    ad1: Signal<Local, Bits<5>>,
    // RAM-data cycle: the A and B words, zeta lane choice.
    ty1: Signal<Local, Bits<2>>,
    zl1: Signal<Local, Bits<2>>,
    zl_hi: Signal<Local, Bits<2>>,
    wa0: Signal<Local, Bits<24>>,
    wa1: Signal<Local, Bits<24>>,
    wa2: Signal<Local, Bits<24>>,
    wa3: Signal<Local, Bits<24>>,
    wb0: Signal<Local, Bits<24>>,
    wb1: Signal<Local, Bits<24>>,
    wb2: Signal<Local, Bits<24>>,
    wb3: Signal<Local, Bits<24>>,
    zlo: Signal<Local, Bits<24>>,
    zhi2: Signal<Local, Bits<24>>,
    // Write-back cycle: new A and B words.
    ty8: Signal<Local, Bits<2>>,
    na0: Signal<Local, Bits<24>>,
    na1: Signal<Local, Bits<24>>,
    na2: Signal<Local, Bits<24>>,
    na3: Signal<Local, Bits<24>>,
    nb0: Signal<Local, Bits<24>>,
    nb1: Signal<Local, Bits<24>>,
    nb2: Signal<Local, Bits<24>>,
    nb3: Signal<Local, Bits<24>>,
    wswap: Signal<Local, Bit>,

    drain_len: Constant<Bits<4>>,
}

impl Default for NttEngine {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            cmd: Default::default(),
            mldsa: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            wr_en: Default::default(),
            wr_index: Default::default(),
            wr_data: Default::default(),
            rd_en: Default::default(),
            rd_index: Default::default(),
            rd_data: Default::default(),
            rd_valid: Default::default(),
            ram: Default::default(),
            zrom: [zeta_rom(0), zeta_rom(1), zeta_rom(2), zeta_rom(3)],
            bf: Default::default(),
            run: Default::default(),
            busy_q: Default::default(),
            done_q: Default::default(),
            inv: Default::default(),
            dsa: Default::default(),
            pass: Default::default(),
            step: Default::default(),
            drain: Default::default(),
            rdv: Default::default(),
            c1: Default::default(),
            cw2: Default::default(),
            cw3: Default::default(),
            cw4: Default::default(),
            cw5: Default::default(),
            cw6: Default::default(),
            cw7: Default::default(),
            cw8: Default::default(),
            nl: Default::default(),
            layer: Default::default(),
            scale: Default::default(),
            last_pass: Default::default(),
            k: Default::default(),
            ty: Default::default(),
            nbase: Default::default(),
            base: Default::default(),
            zidx: Default::default(),
            zhi: Default::default(),
            s6: Default::default(),
            lowmask: Default::default(),
            himask: Default::default(),
            wa: Default::default(),
            wb_ad: Default::default(),
            swap: Default::default(),
            ad0: Default::default(),
            ad1: Default::default(),
            ty1: Default::default(),
            zl1: Default::default(),
            zl_hi: Default::default(),
            wa0: Default::default(),
            wa1: Default::default(),
            wa2: Default::default(),
            wa3: Default::default(),
            wb0: Default::default(),
            wb1: Default::default(),
            wb2: Default::default(),
            wb3: Default::default(),
            zlo: Default::default(),
            zhi2: Default::default(),
            ty8: Default::default(),
            na0: Default::default(),
            na1: Default::default(),
            na2: Default::default(),
            na3: Default::default(),
            nb0: Default::default(),
            nb1: Default::default(),
            nb2: Default::default(),
            nb3: Default::default(),
            wswap: Default::default(),
            drain_len: Constant::new(bits((BUTTERFLY_LATENCY + 1) as u64)),
        }
    }
}

// The write-back delay line (c1, cw2..cw8) is built for this latency.
const _: () = assert!(BUTTERFLY_LATENCY == 7);

impl Logic for NttEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, run, busy_q, done_q, inv, dsa, pass, step, drain, rdv, c1, cw2, cw3, cw4,
            cw5, cw6, cw7, cw8
        );
        for i in 0..8 {
            self.ram[i].read_clock.next = self.clock.val();
            self.ram[i].write_clock.next = self.clock.val();
        }
        for i in 0..4 {
            self.zrom[i].clock.next = self.clock.val();
            self.bf[i].clock.next = self.clock.val();
            self.bf[i].mldsa.next = self.dsa.q.val();
            self.bf[i].inverse.next = self.inv.q.val();
        }

        // ---- Issue cycle: which layer, which words, which zetas. ----
        self.nl.next = bits::<4>(7);
        if self.dsa.q.val() {
            self.nl.next = bits::<4>(8);
        }
        self.layer.next = self.pass.q.val();
        self.scale.next = false;
        self.last_pass.next = self.pass.q.val() == self.nl.val() - bits::<4>(1);
        if self.inv.q.val() {
            self.layer.next = self.nl.val() - self.pass.q.val() - bits::<4>(1);
            self.scale.next = self.pass.q.val() == self.nl.val();
            self.last_pass.next = self.pass.q.val() == self.nl.val();
        }
        // Type: 0 = len >= 4 (k = 5 - layer), 1 = len 2, 2 = len 1, 3 = scaling.
        self.k.next = bits::<3>(0);
        self.ty.next = bits::<2>(0);
        if self.layer.val() <= bits::<4>(5) {
            self.k.next = bit_cast::<3, 4>(bits::<4>(5) - self.layer.val());
        }
        if self.layer.val() == bits::<4>(6) {
            self.ty.next = bits::<2>(1);
        }
        if self.layer.val() == bits::<4>(7) {
            self.ty.next = bits::<2>(2);
        }
        if self.scale.val() {
            self.ty.next = bits::<2>(3);
        }
        // Zeta index: forward layer p uses zetas[2^p + block], inverse
        // layer p uses inv[N - 2^(p+1) + block]; N = 128 or 256 (0 mod 256).
        self.nbase.next = bits::<8>(128);
        if self.dsa.q.val() {
            self.nbase.next = bits::<8>(0);
        }
        self.base.next = bits::<8>(1) << self.layer.val();
        if self.inv.q.val() {
            self.base.next = self.nbase.val() - (bits::<8>(2) << self.layer.val());
        }
        self.zidx.next = self.base.val() + (bit_cast::<8, 5>(self.step.q.val()) >> self.k.val());
        if self.ty.val() == bits::<2>(1) {
            self.zidx.next = self.base.val() + (bit_cast::<8, 5>(self.step.q.val()) << 1);
        }
        if self.ty.val() == bits::<2>(2) {
            self.zidx.next = self.base.val() + (bit_cast::<8, 5>(self.step.q.val()) << 2);
        }
        if self.scale.val() {
            self.zidx.next = self.nbase.val() - bits::<8>(1);
        }
        self.zhi.next = bits::<8>(0);
        if self.dsa.q.val() {
            self.zhi.next = bits::<8>(64);
        }
        if self.inv.q.val() {
            self.zhi.next = bits::<8>(128);
            if self.dsa.q.val() {
                self.zhi.next = bits::<8>(192);
            }
        }
        for i in 0..4 {
            self.zrom[i].address.next = (self.zidx.val() >> 2) | self.zhi.val();
        }
        // Words: wa = step with a zero inserted at bit k, wb = wa | 2^k
        // (wb_ad = wb >> 1, its address);
        // the scaling pass reads word `step` alone.
        self.s6.next = bit_cast::<6, 5>(self.step.q.val());
        self.lowmask.next = (bits::<6>(1) << self.k.val()) - bits::<6>(1);
        self.himask.next = !self.lowmask.val();
        self.wa.next =
            ((self.s6.val() & self.himask.val()) << 1) | (self.s6.val() & self.lowmask.val());
        if self.scale.val() {
            self.wa.next = self.s6.val();
        }
        self.wb_ad.next =
            bit_cast::<5, 6>((self.wa.val() | (self.lowmask.val() + bits::<6>(1))) >> 1);
        self.swap.next = self.wa.val().xor();
        self.ad0.next = self.wa.val().get_bits::<5>(1);
        self.ad1.next = self.wb_ad.val();
        if self.swap.val() {
            self.ad0.next = self.wb_ad.val();
            self.ad1.next = self.wa.val().get_bits::<5>(1);
        }
        if !self.run.q.val() {
            // External read: words 2i (bank parity(i)) and 2i + 1.
            self.swap.next = self.rd_index.val().xor();
            self.ad0.next = self.rd_index.val();
            self.ad1.next = self.rd_index.val();
        }
        for i in 0..4 {
            self.ram[i].read_address.next = self.ad0.val();
            self.ram[i + 4].read_address.next = self.ad1.val();
        }
        self.c1.d.next = (bit_cast::<16, 2>(self.ty.val()) << 1)
            | (bit_cast::<16, 5>(self.ad0.val()) << 4)
            | (bit_cast::<16, 5>(self.ad1.val()) << 9)
            | (bit_cast::<16, 2>(self.zidx.val().get_bits::<2>(0)) << 14);
        if self.swap.val() {
            self.c1.d.next = (bit_cast::<16, 2>(self.ty.val()) << 1)
                | bits::<16>(8)
                | (bit_cast::<16, 5>(self.ad0.val()) << 4)
                | (bit_cast::<16, 5>(self.ad1.val()) << 9)
                | (bit_cast::<16, 2>(self.zidx.val().get_bits::<2>(0)) << 14);
            if self.run.q.val() {
                self.c1.d.next = (bit_cast::<16, 2>(self.ty.val()) << 1)
                    | bits::<16>(9)
                    | (bit_cast::<16, 5>(self.ad0.val()) << 4)
                    | (bit_cast::<16, 5>(self.ad1.val()) << 9)
                    | (bit_cast::<16, 2>(self.zidx.val().get_bits::<2>(0)) << 14);
            }
        } else if self.run.q.val() {
            self.c1.d.next = (bit_cast::<16, 2>(self.ty.val()) << 1)
                | bits::<16>(1)
                | (bit_cast::<16, 5>(self.ad0.val()) << 4)
                | (bit_cast::<16, 5>(self.ad1.val()) << 9)
                | (bit_cast::<16, 2>(self.zidx.val().get_bits::<2>(0)) << 14);
        }

        // ---- RAM-data cycle: route words and zetas to the butterflies. ----
        self.ty1.next = self.c1.q.val().get_bits::<2>(1);
        self.zl1.next = self.c1.q.val().get_bits::<2>(14);
        self.wa0.next = self.ram[0].read_data.val();
        self.wa1.next = self.ram[1].read_data.val();
        self.wa2.next = self.ram[2].read_data.val();
        self.wa3.next = self.ram[3].read_data.val();
        self.wb0.next = self.ram[4].read_data.val();
        self.wb1.next = self.ram[5].read_data.val();
        self.wb2.next = self.ram[6].read_data.val();
        self.wb3.next = self.ram[7].read_data.val();
        if self.c1.q.val().get_bit(3) {
            self.wa0.next = self.ram[4].read_data.val();
            self.wa1.next = self.ram[5].read_data.val();
            self.wa2.next = self.ram[6].read_data.val();
            self.wa3.next = self.ram[7].read_data.val();
            self.wb0.next = self.ram[0].read_data.val();
            self.wb1.next = self.ram[1].read_data.val();
            self.wb2.next = self.ram[2].read_data.val();
            self.wb3.next = self.ram[3].read_data.val();
        }
        self.rd_data.next = bit_cast::<192, 24>(self.wa0.val())
            | (bit_cast::<192, 24>(self.wa1.val()) << 24)
            | (bit_cast::<192, 24>(self.wa2.val()) << 48)
            | (bit_cast::<192, 24>(self.wa3.val()) << 72)
            | (bit_cast::<192, 24>(self.wb0.val()) << 96)
            | (bit_cast::<192, 24>(self.wb1.val()) << 120)
            | (bit_cast::<192, 24>(self.wb2.val()) << 144)
            | (bit_cast::<192, 24>(self.wb3.val()) << 168);
        self.rd_valid.next = self.rdv.q.val();

        // len >= 4: butterfly u on lane u of both words.
        self.bf[0].a.next = self.wa0.val();
        self.bf[0].b.next = self.wb0.val();
        self.bf[1].a.next = self.wa1.val();
        self.bf[1].b.next = self.wb1.val();
        self.bf[2].a.next = self.wa2.val();
        self.bf[2].b.next = self.wb2.val();
        self.bf[3].a.next = self.wa3.val();
        self.bf[3].b.next = self.wb3.val();
        if self.ty1.val() == bits::<2>(1) {
            // len 2: lanes (0,2) and (1,3) of each word.
            self.bf[0].a.next = self.wa0.val();
            self.bf[0].b.next = self.wa2.val();
            self.bf[1].a.next = self.wa1.val();
            self.bf[1].b.next = self.wa3.val();
            self.bf[2].a.next = self.wb0.val();
            self.bf[2].b.next = self.wb2.val();
            self.bf[3].a.next = self.wb1.val();
            self.bf[3].b.next = self.wb3.val();
        }
        if self.ty1.val() == bits::<2>(2) {
            // len 1: lanes (0,1) and (2,3) of each word.
            self.bf[0].a.next = self.wa0.val();
            self.bf[0].b.next = self.wa1.val();
            self.bf[1].a.next = self.wa2.val();
            self.bf[1].b.next = self.wa3.val();
            self.bf[2].a.next = self.wb0.val();
            self.bf[2].b.next = self.wb1.val();
            self.bf[3].a.next = self.wb2.val();
            self.bf[3].b.next = self.wb3.val();
        }
        if self.ty1.val() == bits::<2>(3) {
            // Scaling: GS with a = 0 gives b' = n^-1 * b.
            self.bf[0].a.next = bits::<24>(0);
            self.bf[0].b.next = self.wa0.val();
            self.bf[1].a.next = bits::<24>(0);
            self.bf[1].b.next = self.wa1.val();
            self.bf[2].a.next = bits::<24>(0);
            self.bf[2].b.next = self.wa2.val();
            self.bf[3].a.next = bits::<24>(0);
            self.bf[3].b.next = self.wa3.val();
        }
        // Zetas: ROM lane zl1 for all, lane zl1 | 1 for butterflies 2 and
        // 3 at len 2, lane u for butterfly u at len 1.
        self.zlo.next = self.zrom[0].data.val();
        if self.zl1.val() == bits::<2>(1) {
            self.zlo.next = self.zrom[1].data.val();
        }
        if self.zl1.val() == bits::<2>(2) {
            self.zlo.next = self.zrom[2].data.val();
        }
        if self.zl1.val() == bits::<2>(3) {
            self.zlo.next = self.zrom[3].data.val();
        }
        self.zl_hi.next = self.zl1.val() | bits::<2>(1);
        self.zhi2.next = self.zrom[1].data.val();
        if self.zl_hi.val() == bits::<2>(3) {
            self.zhi2.next = self.zrom[3].data.val();
        }
        for i in 0..4 {
            self.bf[i].zeta.next = self.zlo.val();
        }
        if self.ty1.val() == bits::<2>(1) {
            self.bf[2].zeta.next = self.zhi2.val();
            self.bf[3].zeta.next = self.zhi2.val();
        }
        if self.ty1.val() == bits::<2>(2) {
            for i in 0..4 {
                self.bf[i].zeta.next = self.zrom[i].data.val();
            }
        }

        // ---- Write-back cycle. ----
        self.cw2.d.next = self.c1.q.val().get_bits::<14>(0);
        self.cw3.d.next = self.cw2.q.val();
        self.cw4.d.next = self.cw3.q.val();
        self.cw5.d.next = self.cw4.q.val();
        self.cw6.d.next = self.cw5.q.val();
        self.cw7.d.next = self.cw6.q.val();
        self.cw8.d.next = self.cw7.q.val();
        self.ty8.next = self.cw8.q.val().get_bits::<2>(1);
        self.wswap.next = self.cw8.q.val().get_bit(3);
        self.na0.next = self.bf[0].a_out.val();
        self.na1.next = self.bf[1].a_out.val();
        self.na2.next = self.bf[2].a_out.val();
        self.na3.next = self.bf[3].a_out.val();
        self.nb0.next = self.bf[0].b_out.val();
        self.nb1.next = self.bf[1].b_out.val();
        self.nb2.next = self.bf[2].b_out.val();
        self.nb3.next = self.bf[3].b_out.val();
        if self.ty8.val() == bits::<2>(1) {
            self.na0.next = self.bf[0].a_out.val();
            self.na1.next = self.bf[1].a_out.val();
            self.na2.next = self.bf[0].b_out.val();
            self.na3.next = self.bf[1].b_out.val();
            self.nb0.next = self.bf[2].a_out.val();
            self.nb1.next = self.bf[3].a_out.val();
            self.nb2.next = self.bf[2].b_out.val();
            self.nb3.next = self.bf[3].b_out.val();
        }
        if self.ty8.val() == bits::<2>(2) {
            self.na0.next = self.bf[0].a_out.val();
            self.na1.next = self.bf[0].b_out.val();
            self.na2.next = self.bf[1].a_out.val();
            self.na3.next = self.bf[1].b_out.val();
            self.nb0.next = self.bf[2].a_out.val();
            self.nb1.next = self.bf[2].b_out.val();
            self.nb2.next = self.bf[3].a_out.val();
            self.nb3.next = self.bf[3].b_out.val();
        }
        if self.ty8.val() == bits::<2>(3) {
            self.na0.next = self.bf[0].b_out.val();
            self.na1.next = self.bf[1].b_out.val();
            self.na2.next = self.bf[2].b_out.val();
            self.na3.next = self.bf[3].b_out.val();
        }
        for i in 0..8 {
            self.ram[i].write_enable.next = false;
        }
        if self.cw8.q.val().get_bit(0) {
            for i in 0..4 {
                self.ram[i].write_address.next = self.cw8.q.val().get_bits::<5>(4);
                self.ram[i + 4].write_address.next = self.cw8.q.val().get_bits::<5>(9);
                self.ram[i].write_enable.next =
                    (self.ty8.val() != bits::<2>(3)) | !self.wswap.val();
                self.ram[i + 4].write_enable.next =
                    (self.ty8.val() != bits::<2>(3)) | self.wswap.val();
            }
            self.ram[0].write_data.next = self.na0.val();
            self.ram[1].write_data.next = self.na1.val();
            self.ram[2].write_data.next = self.na2.val();
            self.ram[3].write_data.next = self.na3.val();
            self.ram[4].write_data.next = self.nb0.val();
            self.ram[5].write_data.next = self.nb1.val();
            self.ram[6].write_data.next = self.nb2.val();
            self.ram[7].write_data.next = self.nb3.val();
            if self.wswap.val() {
                self.ram[0].write_data.next = self.nb0.val();
                self.ram[1].write_data.next = self.nb1.val();
                self.ram[2].write_data.next = self.nb2.val();
                self.ram[3].write_data.next = self.nb3.val();
                self.ram[4].write_data.next = self.na0.val();
                self.ram[5].write_data.next = self.na1.val();
                self.ram[6].write_data.next = self.na2.val();
                self.ram[7].write_data.next = self.na3.val();
            }
        } else {
            // External write: word 2i (wr_data 95:0) to bank parity(i),
            // word 2i + 1 (191:96) to the other.
            for i in 0..8 {
                self.ram[i].write_address.next = self.wr_index.val();
                self.ram[i].write_enable.next = self.wr_en.val() & !self.busy_q.q.val();
            }
            for i in 0..4 {
                self.ram[i].write_data.next = self.wr_data.val().get_bits::<24>(24 * i);
                self.ram[i + 4].write_data.next = self.wr_data.val().get_bits::<24>(24 * i + 96);
                if self.wr_index.val().xor() {
                    self.ram[i].write_data.next = self.wr_data.val().get_bits::<24>(24 * i + 96);
                    self.ram[i + 4].write_data.next = self.wr_data.val().get_bits::<24>(24 * i);
                }
            }
        }

        // ---- Command control. ----
        self.done_q.d.next = false;
        self.rdv.d.next = self.rd_en.val() & !self.busy_q.q.val();
        if self.run.q.val() {
            self.step.d.next = self.step.q.val() + 1;
            if self.step.q.val() == bits::<5>(31) {
                self.pass.d.next = self.pass.q.val() + 1;
                if self.last_pass.val() {
                    self.run.d.next = false;
                    self.drain.d.next = self.drain_len.val();
                }
            }
        }
        if self.drain.q.val() != bits::<4>(0) {
            self.drain.d.next = self.drain.q.val() - 1;
            if self.drain.q.val() == bits::<4>(1) {
                self.done_q.d.next = true;
                self.busy_q.d.next = false;
            }
        }
        if self.start.val() & !self.busy_q.q.val() {
            self.busy_q.d.next = true;
            self.inv.d.next = self.cmd.val() == bits::<2>(1);
            self.dsa.d.next = self.mldsa.val();
            self.pass.d.next = bits::<4>(0);
            self.step.d.next = bits::<5>(0);
            if self.cmd.val().get_bit(1) {
                // Reserved command: finish without touching the memory.
                self.drain.d.next = bits::<4>(1);
            } else {
                self.run.d.next = true;
            }
        }
        if self.reset.val() {
            self.run.d.next = false;
            self.busy_q.d.next = false;
            self.done_q.d.next = false;
            self.drain.d.next = bits::<4>(0);
            self.pass.d.next = bits::<4>(0);
            self.step.d.next = bits::<5>(0);
            self.rdv.d.next = false;
            self.c1.d.next = bits::<16>(0);
            self.cw2.d.next = bits::<14>(0);
            self.cw3.d.next = bits::<14>(0);
            self.cw4.d.next = bits::<14>(0);
            self.cw5.d.next = bits::<14>(0);
            self.cw6.d.next = bits::<14>(0);
            self.cw7.d.next = bits::<14>(0);
            self.cw8.d.next = bits::<14>(0);
        }
        self.busy.next = self.busy_q.q.val();
        self.done.next = self.done_q.q.val();
    }
}
