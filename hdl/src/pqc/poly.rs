//! [`PolyUnit`]: the polynomial unit of the PQC engine. A memory of
//! [`POLYS`] polynomials of 256 coefficients in banked RAM, four
//! [`Butterfly`] units, and commands over those polynomials: the forward
//! and inverse NTT of FIPS 203 (ML-KEM, 7 layers) and FIPS 204 (ML-DSA, 8
//! layers), multiplication in the NTT domain (with or without
//! accumulation), addition and subtraction.
//!
//! # Memory organisation
//!
//! Coefficient `j` (0..256) of a polynomial is lane `j % 4` of word
//! `w = j / 4` (0..64). Word `w` lives in bank `parity(w)` (XOR of its six
//! bits) at address `w >> 1` (0..32) within the polynomial's 32-word
//! region: RAM address `{poly, w >> 1}`. Each bank is four
//! `RAM<Bits<24>, 10>` (one per lane, 24 coefficient bits each), all four
//! addressed together, with one read and one write port: 2 banks x 4 lanes
//! = 8 RAMs of 1024 x 24 bits. Write enables are per lane.
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
//! The external port and the coefficient-wise commands read or write 8
//! coefficients `8i..8i+8` per cycle: words `2i` and `2i+1`, at address
//! `i` in both banks.
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
//! # Coefficient-wise commands
//!
//! With polynomial operands `pa`, `pb` and result `pc` (`pc` may be `pa`
//! or `pb`):
//! - [`CMD_MUL`]: `c = a * b` in the NTT domain; [`CMD_MULACC`]:
//!   `c = c + a * b`. For ML-KEM this is FIPS 203's MultiplyNTTs
//!   (Algorithm 11): for each pair `i` (0..128), BaseCaseMultiply
//!   (Algorithm 12) with `gamma_i = 17^(2 BitRev7(i) + 1)`. For ML-DSA it
//!   is the coefficient-wise product of FIPS 204's NTT domain.
//! - [`CMD_ADD`]: `c = a + b`; [`CMD_SUB`]: `c = a - b`.
//!
//! They work in frames of 8 coefficients (words `2f`, `2f+1`, RAM address
//! `f` in both banks, so one read per operand): a frame reads `a`, `b`
//! and (MULACC) `c` in successive cycles, and the next frame's reads
//! overlap this frame's arithmetic. Products take 4-cycle frames and do
//! one ML-KEM pair per cycle with Karatsuba: `m0 = a0 b0`, `m1 = a1 b1`,
//! `m2 = (a0 + a1)(b0 + b1)` on three multipliers, then
//! `c0 = acc0 + m0 + gamma * m1` on the fourth (seven cycles later) and
//! `c1 = acc1 + m2 - m0 - m1`: four multiplications per pair, all four
//! multipliers busy every cycle. ML-DSA products use two multipliers for
//! two coefficients per cycle. ADD and SUB take 2-cycle frames and do 4
//! coefficients per cycle (butterflies with `zeta = 1`: `a + b`, `a - b`).
//! Cycles from `start` to `done`, see [`pointwise_cycles`]:
//!
//! | command | ML-KEM | ML-DSA |
//! |---|---|---|
//! | MUL, MULACC | 149 | 142 |
//! | ADD, SUB | 76 | 76 |
//!
//! All operations are constant time: the schedule depends only on the
//! command and `mldsa`, never on coefficient values.

use super::butterfly::{Butterfly, BUTTERFLY_LATENCY};
use super::modarith::{ModAdd, ModSub, Q_DSA, Q_KEM};
use super::pipe::{Delay7, DELAY7_CYCLES};
use rust_hdl::prelude::*;

/// Number of polynomials in the unit's memory (`pa`, `pb`, `pc`,
/// `wr_poly`, `rd_poly` are 5-bit indices).
pub const POLYS: usize = 32;
/// Cycles `clear` takes: one per address of a bank.
pub const POLY_CLEAR_CYCLES: u64 = 1024;

/// `cmd` code: forward NTT (FIPS 203 Algorithm 9 / FIPS 204 Algorithm 41).
pub const CMD_NTT: u64 = 0;
/// `cmd` code: inverse NTT including the multiplication by n^-1 (FIPS 203
/// Algorithm 10 / FIPS 204 Algorithm 42).
pub const CMD_INTT: u64 = 1;
/// `cmd` code: `c = a * b` in the NTT domain (FIPS 203 MultiplyNTTs, or
/// the coefficient-wise product for ML-DSA).
pub const CMD_MUL: u64 = 2;
/// `cmd` code: `c = c + a * b` in the NTT domain.
pub const CMD_MULACC: u64 = 3;
/// `cmd` code: `c = a + b`.
pub const CMD_ADD: u64 = 4;
/// `cmd` code: `c = a - b`.
pub const CMD_SUB: u64 = 5;

/// Cycles of a coefficient-wise command ([`CMD_MUL`], [`CMD_MULACC`],
/// [`CMD_ADD`], [`CMD_SUB`]), from the cycle with `start` to the cycle
/// with `done`; `None` for other commands. Depends only on the command and
/// the modulus.
pub fn pointwise_cycles(cmd: u64, mldsa: bool) -> Option<usize> {
    let (frame, steps, latency) = match cmd {
        CMD_MUL | CMD_MULACC if mldsa => (4, 4, BUTTERFLY_LATENCY),
        CMD_MUL | CMD_MULACC => (4, 4, BUTTERFLY_LATENCY + DELAY7_CYCLES),
        CMD_ADD | CMD_SUB => (2, 2, BUTTERFLY_LATENCY),
        _ => return None,
    };
    // 32 frames of issue (the first in the cycle after `start`), then the
    // last frame's data cycle, its steps, the operand register, the
    // arithmetic (written at the end of its last cycle), and `done`.
    Some(32 * frame + 1 + steps + 1 + latency + 1)
}

/// FIPS 203's `gamma_i = 17^(2 BitRev7(i) + 1) mod 3329` for the 128
/// pairs of BaseCaseMultiply (the table after Algorithm 12).
pub fn gamma_table() -> Vec<u32> {
    (0..128)
        .map(|i| pow_mod(17, 2 * bitrev(i, 7) as u64 + 1, Q_KEM as u64) as u32)
        .collect()
}

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

/// The polynomial unit: a memory of [`POLYS`] polynomials, commands on
/// them for ML-KEM and ML-DSA, and an 8-coefficient load/read port.
///
/// Coefficients are 24-bit lanes and must be reduced (`< q`); ML-KEM uses
/// the low 12 bits.
///
/// Commands: `start` high for one cycle with `cmd` ([`CMD_NTT`] and
/// [`CMD_INTT`] on polynomial `pa` in place; [`CMD_MUL`], [`CMD_MULACC`],
/// [`CMD_ADD`], [`CMD_SUB`] from `pa`, `pb` into `pc`; codes 6 and 7
/// finish without touching the memory), `mldsa`, `pa`, `pb` and `pc`.
/// `busy` is high from the next cycle until `done` pulses, [`ntt_cycles`]
/// or [`pointwise_cycles`] cycles after `start`. `start` while busy is
/// ignored.
///
/// With `a_ext` (products only), operand `a` is read through the external
/// operand port instead of the memory: the unit puts out the index of the
/// 8 coefficients it wants on `ext_rd_index` and takes them on
/// `ext_rd_data` in the next cycle (a synchronous RAM's timing), so that a
/// sampler can fill a buffer while the unit computes.
///
/// Port (only while not busy; ignored while busy): `wr_en` writes
/// coefficients `8*wr_index .. 8*wr_index + 8` of polynomial `wr_poly`
/// from `wr_data` (coefficient `8i + l` at bits `24l + 23 .. 24l`) at the
/// rising edge; `rd_en` reads the same layout at `rd_poly`/`rd_index`,
/// delivered on `rd_data` with `rd_valid` in the next cycle (a read in the
/// cycle of a write to the same place returns the old value). `reset`
/// stops a command; the memory keeps its contents. `clear` overwrites the
/// whole memory with zeros, one address of every bank per cycle
/// ([`POLY_CLEAR_CYCLES`]), busy meanwhile.
#[derive(LogicBlock)]
pub struct PolyUnit {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: aborts a command (memory contents are kept).
    pub reset: Signal<In, Bit>,
    /// Pulse: overwrite the memory with zeros (wins over `reset`).
    pub clear: Signal<In, Bit>,
    /// Pulse: start command `cmd` for modulus `mldsa`.
    pub start: Signal<In, Bit>,
    /// Command code (`CMD_*`), sampled with `start`.
    pub cmd: Signal<In, Bits<3>>,
    /// ML-DSA (q = 8380417, 8 layers) when high, ML-KEM (q = 3329, 7
    /// layers) when low; sampled with `start`.
    pub mldsa: Signal<In, Bit>,
    /// Operand `a` (and the polynomial of NTT and INTT), sampled with
    /// `start`.
    pub pa: Signal<In, Bits<5>>,
    /// Operand `b`, sampled with `start`.
    pub pb: Signal<In, Bits<5>>,
    /// Result `c` (and the accumulator of MULACC), sampled with `start`.
    pub pc: Signal<In, Bits<5>>,
    /// Products only: operand `a` comes from the external operand port
    /// instead of polynomial `pa`; sampled with `start`.
    pub a_ext: Signal<In, Bit>,
    /// External operand port: which 8 coefficients of `a` are read in this
    /// cycle (valid during the command; its data is due in the next).
    pub ext_rd_index: Signal<Out, Bits<5>>,
    /// External operand port: the coefficients asked for in the previous
    /// cycle (layout as `wr_data`), e.g. from a synchronous RAM.
    pub ext_rd_data: Signal<In, Bits<192>>,
    /// A command is running.
    pub busy: Signal<Out, Bit>,
    /// Pulse: the command has finished; its result is readable.
    pub done: Signal<Out, Bit>,
    /// Write 8 coefficients at the next rising edge (ignored while busy).
    pub wr_en: Signal<In, Bit>,
    /// Which polynomial.
    pub wr_poly: Signal<In, Bits<5>>,
    /// Which 8 coefficients (`8*wr_index ..`).
    pub wr_index: Signal<In, Bits<5>>,
    /// The coefficients, `8i + l` at bits `24l + 23 .. 24l`.
    pub wr_data: Signal<In, Bits<192>>,
    /// Read 8 coefficients (ignored while busy).
    pub rd_en: Signal<In, Bit>,
    /// Which polynomial.
    pub rd_poly: Signal<In, Bits<5>>,
    /// Which 8 coefficients (`8*rd_index ..`).
    pub rd_index: Signal<In, Bits<5>>,
    /// The coefficients read in the previous cycle (layout as `wr_data`).
    pub rd_data: Signal<Out, Bits<192>>,
    /// `rd_data` holds the result of a read requested in the previous cycle.
    pub rd_valid: Signal<Out, Bit>,

    /// Banks: `ram[4*bank + lane]`, address `{poly, word >> 1}`.
    ram: [RAM<Bits<24>, 10>; 8],
    zrom: [SyncROM<Bits<24>, 8>; 4],
    grom: SyncROM<Bits<12>, 7>,
    bf: [Butterfly; 4],

    // Clearing: the address, and whether it runs.
    clr: DFF<Bit>,
    clr_addr: DFF<Bits<10>>,
    // Command state.
    run: DFF<Bit>,
    busy_q: DFF<Bit>,
    done_q: DFF<Bit>,
    inv: DFF<Bit>,
    dsa: DFF<Bit>,
    op: DFF<Bits<3>>,
    pa_r: DFF<Bits<5>>,
    pb_r: DFF<Bits<5>>,
    pc_r: DFF<Bits<5>>,
    aext_r: DFF<Bit>,
    pass: DFF<Bits<4>>,
    step: DFF<Bits<5>>,
    drain: DFF<Bits<5>>,
    rdv: DFF<Bit>,
    // NTT step control in the RAM-data cycle: bit 0 valid, 2:1 type, 3
    // swap, 8:4 bank-0 address, 13:9 bank-1 address, 15:14 zeta lane.
    c1: DFF<Bits<16>>,
    // The same (bits 13:0) delayed to the write-back cycle.
    cw2: DFF<Bits<14>>,
    cw3: DFF<Bits<14>>,
    cw4: DFF<Bits<14>>,
    cw5: DFF<Bits<14>>,
    cw6: DFF<Bits<14>>,
    cw7: DFF<Bits<14>>,
    cw8: DFF<Bits<14>>,

    // Coefficient-wise commands: issue (frame, slot), the operand read in
    // the previous cycle (0 none, 1 a, 2 b, 3 c) and whether it was the
    // frame's last read, the frame's words as they arrive (ha, hb) and
    // as a whole (xa, xb, xc, shifted by one pair or word per step), the
    // step counter, and the operand registers of the step.
    pw: DFF<Bit>,
    frame: DFF<Bits<5>>,
    slot: DFF<Bits<2>>,
    rtag: DFF<Bits<2>>,
    rlast: DFF<Bit>,
    rframe: DFF<Bits<5>>,
    ha: DFF<Bits<192>>,
    hb: DFF<Bits<192>>,
    xa: DFF<Bits<192>>,
    xb: DFF<Bits<192>>,
    xc: DFF<Bits<192>>,
    pv: DFF<Bit>,
    pp: DFF<Bits<2>>,
    pf: DFF<Bits<5>>,
    oa: DFF<Bits<96>>,
    ob: DFF<Bits<96>>,
    oc: DFF<Bits<48>>,
    // Step control: bit 0 valid, 5:1 frame, 6 lane pair, 7 word.
    octl: DFF<Bits<8>>,
    // Step control and ML-KEM operands to the multipliers' outputs, and on
    // to the second multiplication's output.
    dl_ctl1: Delay7<8>,
    dl_ctl2: Delay7<8>,
    dl_c0a: Delay7<24>,
    dl_c1a: Delay7<24>,
    dl_g: Delay7<12>,
    dl_c1: Delay7<24>,
    add_sa: ModAdd,
    add_sb: ModAdd,
    add_c0: ModAdd,
    add_c1: ModAdd,
    sub_m0: ModSub,
    sub_m1: ModSub,

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
    rpoly: Signal<Local, Bits<5>>,
    pwm: Signal<Local, Bit>,
    prod: Signal<Local, Bit>,
    kemmul: Signal<Local, Bit>,
    acc: Signal<Local, Bit>,
    last_slot: Signal<Local, Bit>,
    rtag_n: Signal<Local, Bits<2>>,
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
    rdw: Signal<Local, Bits<192>>,
    zlo: Signal<Local, Bits<24>>,
    zhi2: Signal<Local, Bits<24>>,
    // Write-back cycle: new A and B words (NTT); the coefficient-wise
    // result and where it goes.
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
    wctl: Signal<Local, Bits<8>>,
    wv: Signal<Local, Bit>,
    wbank: Signal<Local, Bit>,
    wlo: Signal<Local, Bit>,
    whi: Signal<Local, Bit>,
    waddr: Signal<Local, Bits<10>>,
    c0w: Signal<Local, Bits<24>>,
    c1w: Signal<Local, Bits<24>>,
    wd0: Signal<Local, Bits<24>>,
    wd1: Signal<Local, Bits<24>>,
    wd2: Signal<Local, Bits<24>>,
    wd3: Signal<Local, Bits<24>>,

    drain_ntt: Constant<Bits<5>>,
    drain_kem: Constant<Bits<5>>,
    drain_dsa: Constant<Bits<5>>,
    drain_add: Constant<Bits<5>>,
}

impl Default for PolyUnit {
    fn default() -> Self {
        let gamma = gamma_table().into_iter().map(|g| bits::<12>(g as u64));
        // Cycles from the last issue cycle to `done` (see
        // `ntt_cycles` and `pointwise_cycles`), less one.
        let drain =
            |cycles: usize, frame: usize| Constant::new(bits((cycles - 32 * frame - 1) as u64));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            clear: Default::default(),
            start: Default::default(),
            cmd: Default::default(),
            mldsa: Default::default(),
            pa: Default::default(),
            pb: Default::default(),
            pc: Default::default(),
            a_ext: Default::default(),
            ext_rd_index: Default::default(),
            ext_rd_data: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            wr_en: Default::default(),
            wr_poly: Default::default(),
            wr_index: Default::default(),
            wr_data: Default::default(),
            rd_en: Default::default(),
            rd_poly: Default::default(),
            rd_index: Default::default(),
            rd_data: Default::default(),
            rd_valid: Default::default(),
            ram: Default::default(),
            zrom: [zeta_rom(0), zeta_rom(1), zeta_rom(2), zeta_rom(3)],
            grom: SyncROM::from(gamma),
            bf: Default::default(),
            run: Default::default(),
            busy_q: Default::default(),
            clr: Default::default(),
            clr_addr: Default::default(),
            done_q: Default::default(),
            inv: Default::default(),
            dsa: Default::default(),
            op: Default::default(),
            pa_r: Default::default(),
            pb_r: Default::default(),
            pc_r: Default::default(),
            aext_r: Default::default(),
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
            pw: Default::default(),
            frame: Default::default(),
            slot: Default::default(),
            rtag: Default::default(),
            rlast: Default::default(),
            rframe: Default::default(),
            ha: Default::default(),
            hb: Default::default(),
            xa: Default::default(),
            xb: Default::default(),
            xc: Default::default(),
            pv: Default::default(),
            pp: Default::default(),
            pf: Default::default(),
            oa: Default::default(),
            ob: Default::default(),
            oc: Default::default(),
            octl: Default::default(),
            dl_ctl1: Default::default(),
            dl_ctl2: Default::default(),
            dl_c0a: Default::default(),
            dl_c1a: Default::default(),
            dl_g: Default::default(),
            dl_c1: Default::default(),
            add_sa: Default::default(),
            add_sb: Default::default(),
            add_c0: Default::default(),
            add_c1: Default::default(),
            sub_m0: Default::default(),
            sub_m1: Default::default(),
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
            rpoly: Default::default(),
            pwm: Default::default(),
            prod: Default::default(),
            kemmul: Default::default(),
            acc: Default::default(),
            last_slot: Default::default(),
            rtag_n: Default::default(),
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
            rdw: Default::default(),
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
            wctl: Default::default(),
            wv: Default::default(),
            wbank: Default::default(),
            wlo: Default::default(),
            whi: Default::default(),
            waddr: Default::default(),
            c0w: Default::default(),
            c1w: Default::default(),
            wd0: Default::default(),
            wd1: Default::default(),
            wd2: Default::default(),
            wd3: Default::default(),
            drain_ntt: Constant::new(bits((BUTTERFLY_LATENCY + 1) as u64)),
            drain_kem: drain(pointwise_cycles(CMD_MUL, false).unwrap(), 4),
            drain_dsa: drain(pointwise_cycles(CMD_MUL, true).unwrap(), 4),
            drain_add: drain(pointwise_cycles(CMD_ADD, false).unwrap(), 2),
        }
    }
}

// The write-back delay lines (c1, cw2..cw8; Delay7) are built for this
// latency.
const _: () = assert!(BUTTERFLY_LATENCY == 7 && DELAY7_CYCLES == 7);

impl Logic for PolyUnit {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, clr, clr_addr, run, busy_q, done_q, inv, dsa, op, pa_r, pb_r, pc_r,
            aext_r, pass, step, drain, rdv, c1, cw2, cw3, cw4, cw5, cw6, cw7, cw8, pw, frame, slot,
            rtag, rlast, rframe, ha, hb, xa, xb, xc, pv, pp, pf, oa, ob, oc, octl
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
        self.grom.clock.next = self.clock.val();
        self.dl_ctl1.clock.next = self.clock.val();
        self.dl_ctl2.clock.next = self.clock.val();
        self.dl_c0a.clock.next = self.clock.val();
        self.dl_c1a.clock.next = self.clock.val();
        self.dl_g.clock.next = self.clock.val();
        self.dl_c1.clock.next = self.clock.val();
        self.dl_ctl1.clear.next = self.reset.val();
        self.dl_ctl2.clear.next = self.reset.val();
        self.dl_c0a.clear.next = self.reset.val();
        self.dl_c1a.clear.next = self.reset.val();
        self.dl_g.clear.next = self.reset.val();
        self.dl_c1.clear.next = self.reset.val();
        self.add_sa.mldsa.next = self.dsa.q.val();
        self.add_sb.mldsa.next = self.dsa.q.val();
        self.add_c0.mldsa.next = self.dsa.q.val();
        self.add_c1.mldsa.next = self.dsa.q.val();
        self.sub_m0.mldsa.next = self.dsa.q.val();
        self.sub_m1.mldsa.next = self.dsa.q.val();

        // Command class: coefficient-wise (codes >= 2), products (2, 3),
        // ML-KEM products (through the second multiplication), MULACC.
        self.pwm.next = self.op.q.val().get_bits::<2>(1) != bits::<2>(0);
        self.prod.next = self.op.q.val().get_bits::<2>(1) == bits::<2>(1);
        self.kemmul.next = self.prod.val() & !self.dsa.q.val();
        self.acc.next = self.op.q.val() == bits::<3>(3);

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
        self.rpoly.next = self.pa_r.q.val();
        // Coefficient-wise issue: products read a, b, c in slots 1, 2, 3
        // (c only for MULACC); ADD and SUB read a, b in slots 0, 1. Each
        // read is words 2f and 2f + 1 (address f in both banks).
        self.rtag_n.next = bits::<2>(0);
        self.last_slot.next = false;
        if self.pw.q.val() {
            self.swap.next = self.frame.q.val().xor();
            self.ad0.next = self.frame.q.val();
            self.ad1.next = self.frame.q.val();
            if self.prod.val() {
                self.last_slot.next = self.slot.q.val() == bits::<2>(3);
                if self.slot.q.val() == bits::<2>(1) {
                    self.rtag_n.next = bits::<2>(1);
                }
                if self.slot.q.val() == bits::<2>(2) {
                    self.rtag_n.next = bits::<2>(2);
                    self.rpoly.next = self.pb_r.q.val();
                }
                if (self.slot.q.val() == bits::<2>(3)) & self.acc.val() {
                    self.rtag_n.next = bits::<2>(3);
                    self.rpoly.next = self.pc_r.q.val();
                }
            } else {
                self.last_slot.next = self.slot.q.val().get_bit(0);
                self.rtag_n.next = bits::<2>(1);
                if self.slot.q.val().get_bit(0) {
                    self.rtag_n.next = bits::<2>(2);
                    self.rpoly.next = self.pb_r.q.val();
                }
            }
        } else if !self.run.q.val() {
            // External read: words 2i (bank parity(i)) and 2i + 1.
            self.swap.next = self.rd_index.val().xor();
            self.ad0.next = self.rd_index.val();
            self.ad1.next = self.rd_index.val();
            self.rpoly.next = self.rd_poly.val();
        }
        for i in 0..4 {
            self.ram[i].read_address.next =
                (bit_cast::<10, 5>(self.rpoly.val()) << 5) | bit_cast::<10, 5>(self.ad0.val());
            self.ram[i + 4].read_address.next =
                (bit_cast::<10, 5>(self.rpoly.val()) << 5) | bit_cast::<10, 5>(self.ad1.val());
        }
        self.c1.d.next = bit_cast::<16, 1>(self.run.q.val().into())
            | (bit_cast::<16, 2>(self.ty.val()) << 1)
            | (bit_cast::<16, 1>(self.swap.val().into()) << 3)
            | (bit_cast::<16, 5>(self.ad0.val()) << 4)
            | (bit_cast::<16, 5>(self.ad1.val()) << 9)
            | (bit_cast::<16, 2>(self.zidx.val().get_bits::<2>(0)) << 14);

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
        self.rdw.next = bit_cast::<192, 24>(self.wa0.val())
            | (bit_cast::<192, 24>(self.wa1.val()) << 24)
            | (bit_cast::<192, 24>(self.wa2.val()) << 48)
            | (bit_cast::<192, 24>(self.wa3.val()) << 72)
            | (bit_cast::<192, 24>(self.wb0.val()) << 96)
            | (bit_cast::<192, 24>(self.wb1.val()) << 120)
            | (bit_cast::<192, 24>(self.wb2.val()) << 144)
            | (bit_cast::<192, 24>(self.wb3.val()) << 168);
        self.rd_data.next = self.rdw.val();
        self.rd_valid.next = self.rdv.q.val();

        // Coefficient-wise: collect a frame's operands; at its last read's
        // data, the whole frame moves to xa/xb/xc and its steps begin.
        self.rtag.d.next = self.rtag_n.val();
        self.rlast.d.next = self.last_slot.val();
        self.rframe.d.next = self.frame.q.val();
        if self.rtag.q.val() == bits::<2>(1) {
            self.ha.d.next = self.rdw.val();
            if self.aext_r.q.val() {
                self.ha.d.next = self.ext_rd_data.val();
            }
        }
        if self.rtag.q.val() == bits::<2>(2) {
            self.hb.d.next = self.rdw.val();
        }
        if self.pv.q.val() {
            self.pp.d.next = self.pp.q.val() + 1;
            if self.prod.val() {
                self.xa.d.next = self.xa.q.val() >> 48;
                self.xb.d.next = self.xb.q.val() >> 48;
                self.xc.d.next = self.xc.q.val() >> 48;
                if self.pp.q.val() == bits::<2>(3) {
                    self.pv.d.next = false;
                }
            } else {
                self.xa.d.next = self.xa.q.val() >> 96;
                self.xb.d.next = self.xb.q.val() >> 96;
                if self.pp.q.val().get_bit(0) {
                    self.pv.d.next = false;
                }
            }
        }
        if self.rlast.q.val() {
            self.xa.d.next = self.ha.q.val();
            self.xb.d.next = self.hb.q.val();
            if self.rtag.q.val() == bits::<2>(2) {
                self.xb.d.next = self.rdw.val();
            }
            self.xc.d.next = bits::<192>(0);
            if self.rtag.q.val() == bits::<2>(3) {
                self.xc.d.next = self.rdw.val();
            }
            self.pv.d.next = true;
            self.pp.d.next = bits::<2>(0);
            self.pf.d.next = self.rframe.q.val();
        }
        // Step: one ML-KEM pair or ML-DSA coefficient pair (products), or
        // one word (ADD, SUB), into the operand registers; gamma for the
        // pair (4f + step) from its ROM.
        self.oa.d.next = self.xa.q.val().get_bits::<96>(0);
        self.ob.d.next = self.xb.q.val().get_bits::<96>(0);
        self.oc.d.next = self.xc.q.val().get_bits::<48>(0);
        self.grom.address.next =
            (bit_cast::<7, 5>(self.pf.q.val()) << 2) | bit_cast::<7, 2>(self.pp.q.val());
        self.octl.d.next = bits::<8>(0);
        if self.pv.q.val() {
            self.octl.d.next = bits::<8>(1)
                | (bit_cast::<8, 5>(self.pf.q.val()) << 1)
                | (bit_cast::<8, 2>(self.pp.q.val()) << 6);
            if !self.prod.val() {
                self.octl.d.next = bits::<8>(1)
                    | (bit_cast::<8, 5>(self.pf.q.val()) << 1)
                    | (bit_cast::<8, 2>(self.pp.q.val()) << 7);
            }
        }

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

        // Coefficient-wise operands (all butterflies in CT mode, whose
        // `a + zeta * b` output is the multiply-add):
        // - ML-KEM product, stage 1: m0 = a0 b0, m1 = a1 b1,
        //   m2 = (a0 + a1)(b0 + b1); stage 2 (seven cycles later) on
        //   butterfly 3: c0 = (acc0 + m0) + gamma * m1;
        // - ML-DSA product: c_j = acc_j + a_j b_j on butterflies 0 and 1;
        // - ADD/SUB: a + 1 * b and a - 1 * b on all four.
        self.add_sa.a.next = self.oa.q.val().get_bits::<24>(0);
        self.add_sa.b.next = self.oa.q.val().get_bits::<24>(24);
        self.add_sb.a.next = self.ob.q.val().get_bits::<24>(0);
        self.add_sb.b.next = self.ob.q.val().get_bits::<24>(24);
        self.add_c0.a.next = self.dl_c0a.q.val();
        self.add_c0.b.next = self.bf[0].a_out.val();
        self.add_c1.a.next = self.dl_c1a.q.val();
        self.add_c1.b.next = self.bf[2].a_out.val();
        self.sub_m0.a.next = self.add_c1.s.val();
        self.sub_m0.b.next = self.bf[0].a_out.val();
        self.sub_m1.a.next = self.sub_m0.d.val();
        self.sub_m1.b.next = self.bf[1].a_out.val();
        self.dl_c1.d.next = self.sub_m1.d.val();
        self.dl_c0a.d.next = self.oc.q.val().get_bits::<24>(0);
        self.dl_c1a.d.next = self.oc.q.val().get_bits::<24>(24);
        self.dl_g.d.next = self.grom.data.val();
        self.dl_ctl1.d.next = self.octl.q.val();
        self.dl_ctl2.d.next = self.dl_ctl1.q.val();
        if self.pwm.val() {
            if self.prod.val() {
                for i in 0..2 {
                    self.bf[i].a.next = self.oc.q.val().get_bits::<24>(24 * i);
                    self.bf[i].b.next = self.oa.q.val().get_bits::<24>(24 * i);
                    self.bf[i].zeta.next = self.ob.q.val().get_bits::<24>(24 * i);
                }
                self.bf[2].a.next = bits::<24>(0);
                self.bf[2].b.next = bits::<24>(0);
                self.bf[2].zeta.next = bits::<24>(0);
                self.bf[3].a.next = bits::<24>(0);
                self.bf[3].b.next = bits::<24>(0);
                self.bf[3].zeta.next = bits::<24>(0);
                if self.kemmul.val() {
                    self.bf[0].a.next = bits::<24>(0);
                    self.bf[1].a.next = bits::<24>(0);
                    self.bf[2].b.next = self.add_sa.s.val();
                    self.bf[2].zeta.next = self.add_sb.s.val();
                    self.bf[3].a.next = self.add_c0.s.val();
                    self.bf[3].b.next = self.bf[1].a_out.val();
                    self.bf[3].zeta.next = bit_cast::<24, 12>(self.dl_g.q.val());
                }
            } else {
                for i in 0..4 {
                    self.bf[i].a.next = self.oa.q.val().get_bits::<24>(24 * i);
                    self.bf[i].b.next = self.ob.q.val().get_bits::<24>(24 * i);
                    self.bf[i].zeta.next = bits::<24>(1);
                }
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
        // Coefficient-wise result: ML-KEM products after the second
        // multiplication, the rest after the first. A pair goes to lanes
        // (0, 1) or (2, 3) of its word; ADD/SUB write whole words.
        self.wctl.next = self.dl_ctl1.q.val();
        self.c0w.next = self.bf[0].a_out.val();
        self.c1w.next = self.bf[1].a_out.val();
        if self.kemmul.val() {
            self.wctl.next = self.dl_ctl2.q.val();
            self.c0w.next = self.bf[3].a_out.val();
            self.c1w.next = self.dl_c1.q.val();
        }
        self.wv.next = self.pwm.val() & self.wctl.val().get_bit(0);
        self.wbank.next = self.wctl.val().get_bits::<5>(1).xor() ^ self.wctl.val().get_bit(7);
        self.wlo.next = !self.prod.val() | !self.wctl.val().get_bit(6);
        self.whi.next = !self.prod.val() | self.wctl.val().get_bit(6);
        self.waddr.next = (bit_cast::<10, 5>(self.pc_r.q.val()) << 5)
            | bit_cast::<10, 5>(self.wctl.val().get_bits::<5>(1));
        self.wd0.next = self.c0w.val();
        self.wd1.next = self.c1w.val();
        self.wd2.next = self.c0w.val();
        self.wd3.next = self.c1w.val();
        if !self.prod.val() {
            self.wd0.next = self.bf[0].a_out.val();
            self.wd1.next = self.bf[1].a_out.val();
            self.wd2.next = self.bf[2].a_out.val();
            self.wd3.next = self.bf[3].a_out.val();
            if self.op.q.val().get_bit(0) {
                self.wd0.next = self.bf[0].b_out.val();
                self.wd1.next = self.bf[1].b_out.val();
                self.wd2.next = self.bf[2].b_out.val();
                self.wd3.next = self.bf[3].b_out.val();
            }
        }
        for i in 0..8 {
            self.ram[i].write_enable.next = false;
        }
        if self.cw8.q.val().get_bit(0) {
            for i in 0..4 {
                self.ram[i].write_address.next = (bit_cast::<10, 5>(self.pa_r.q.val()) << 5)
                    | bit_cast::<10, 5>(self.cw8.q.val().get_bits::<5>(4));
                self.ram[i + 4].write_address.next = (bit_cast::<10, 5>(self.pa_r.q.val()) << 5)
                    | bit_cast::<10, 5>(self.cw8.q.val().get_bits::<5>(9));
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
        } else if self.wv.val() {
            for i in 0..8 {
                self.ram[i].write_address.next = self.waddr.val();
            }
            self.ram[0].write_enable.next = !self.wbank.val() & self.wlo.val();
            self.ram[1].write_enable.next = !self.wbank.val() & self.wlo.val();
            self.ram[2].write_enable.next = !self.wbank.val() & self.whi.val();
            self.ram[3].write_enable.next = !self.wbank.val() & self.whi.val();
            self.ram[4].write_enable.next = self.wbank.val() & self.wlo.val();
            self.ram[5].write_enable.next = self.wbank.val() & self.wlo.val();
            self.ram[6].write_enable.next = self.wbank.val() & self.whi.val();
            self.ram[7].write_enable.next = self.wbank.val() & self.whi.val();
            self.ram[0].write_data.next = self.wd0.val();
            self.ram[1].write_data.next = self.wd1.val();
            self.ram[2].write_data.next = self.wd2.val();
            self.ram[3].write_data.next = self.wd3.val();
            self.ram[4].write_data.next = self.wd0.val();
            self.ram[5].write_data.next = self.wd1.val();
            self.ram[6].write_data.next = self.wd2.val();
            self.ram[7].write_data.next = self.wd3.val();
        } else {
            // External write: word 2i (wr_data 95:0) to bank parity(i),
            // word 2i + 1 (191:96) to the other.
            for i in 0..8 {
                self.ram[i].write_address.next = (bit_cast::<10, 5>(self.wr_poly.val()) << 5)
                    | bit_cast::<10, 5>(self.wr_index.val());
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

        if self.clr.q.val() {
            for i in 0..8 {
                self.ram[i].write_address.next = self.clr_addr.q.val();
                self.ram[i].write_data.next = bits::<24>(0);
                self.ram[i].write_enable.next = true;
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
                    self.drain.d.next = self.drain_ntt.val();
                }
            }
        }
        if self.pw.q.val() {
            self.slot.d.next = self.slot.q.val() + 1;
            if self.last_slot.val() {
                self.slot.d.next = bits::<2>(0);
                self.frame.d.next = self.frame.q.val() + 1;
                if self.frame.q.val() == bits::<5>(31) {
                    self.pw.d.next = false;
                    self.drain.d.next = self.drain_add.val();
                    if self.prod.val() {
                        self.drain.d.next = self.drain_kem.val();
                        if self.dsa.q.val() {
                            self.drain.d.next = self.drain_dsa.val();
                        }
                    }
                }
            }
        }
        if self.drain.q.val() != bits::<5>(0) {
            self.drain.d.next = self.drain.q.val() - 1;
            if self.drain.q.val() == bits::<5>(1) {
                self.done_q.d.next = true;
                self.busy_q.d.next = false;
            }
        }
        if self.start.val() & !self.busy_q.q.val() {
            self.busy_q.d.next = true;
            self.inv.d.next = self.cmd.val() == bits::<3>(1);
            self.dsa.d.next = self.mldsa.val();
            self.op.d.next = self.cmd.val();
            self.pa_r.d.next = self.pa.val();
            self.pb_r.d.next = self.pb.val();
            self.pc_r.d.next = self.pc.val();
            self.aext_r.d.next = self.a_ext.val();
            self.pass.d.next = bits::<4>(0);
            self.step.d.next = bits::<5>(0);
            self.frame.d.next = bits::<5>(0);
            self.slot.d.next = bits::<2>(0);
            if self.cmd.val().get_bits::<2>(1) == bits::<2>(0) {
                self.run.d.next = true;
            } else if self.cmd.val().get_bits::<2>(1) == bits::<2>(3) {
                // Reserved command: finish without touching the memory.
                self.drain.d.next = bits::<5>(1);
            } else {
                self.pw.d.next = true;
            }
        }
        if self.reset.val() {
            self.run.d.next = false;
            self.pw.d.next = false;
            self.pv.d.next = false;
            self.rtag.d.next = bits::<2>(0);
            self.rlast.d.next = false;
            self.octl.d.next = bits::<8>(0);
            self.op.d.next = bits::<3>(0);
            self.busy_q.d.next = false;
            self.done_q.d.next = false;
            self.drain.d.next = bits::<5>(0);
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
        if self.clr.q.val() {
            self.clr_addr.d.next = self.clr_addr.q.val() + 1;
            if self.clr_addr.q.val().all() {
                self.clr.d.next = false;
                self.busy_q.d.next = false;
            }
        }
        if self.clear.val() {
            self.clr.d.next = true;
            self.clr_addr.d.next = bits::<10>(0);
            self.busy_q.d.next = true;
            self.run.d.next = false;
            self.pw.d.next = false;
            self.drain.d.next = bits::<5>(0);
        }
        self.ext_rd_index.next = self.frame.q.val();
        self.busy.next = self.busy_q.q.val();
        self.done.next = self.done_q.q.val();
    }
}
