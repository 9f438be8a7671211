//! ML-KEM (FIPS 203) polynomial codecs: [`PolyEncoder`] (Compress_d, then
//! ByteEncode_d) and [`PolyDecoder`] (ByteDecode_d, then Decompress_d),
//! between coefficient words and 64-bit byte lanes.
//!
//! # Data layout
//!
//! - A coefficient word is a `Bits<192>` of 8 coefficients, coefficient
//!   `l` at bits `24l + 23 .. 24l`; a polynomial is 32 words, word `i`
//!   holding coefficients `8i .. 8i + 8`.
//! - A byte stream is a sequence of `Bits<64>` lanes, little-endian (byte
//!   0 at bits 7..0). Bits are packed LSB-first as in ByteEncode_d /
//!   ByteDecode_d (FIPS 203 Algorithms 5 and 6): coefficient `j`'s bit `b`
//!   is stream bit `d*j + b`. One word encodes to exactly `d` bytes, a
//!   polynomial to `32*d` bytes = `4*d` lanes.
//!
//! Supported `d`: 1, 4, 5, 10, 11 and 12 (the ML-KEM widths). Any other
//! value finishes the job at once: `done` pulses in the next cycle, no
//! transfer happens and `busy` stays low.
//!
//! # Arithmetic
//!
//! - Compress_d(x) = round(2^d x / q) mod 2^d (FIPS 203 eq. 4.7) is
//!   computed as `((((x * M) >> (S - d - 1)) + 1) >> 1) mod 2^d` with
//!   `S =` [`COMPRESS_SHIFT`] (33) and `M =` [`COMPRESS_MUL`]
//!   `= ceil(2^33 / q)` (22 bits); exact for every `x < q` and every
//!   `d <= 11` (see [`compress_model`], checked exhaustively by the tests).
//!   Why: with `e = M q - 2^33 = 623`, `x M / 2^(32-d)` exceeds
//!   `v = 2^(d+1) x / q` by `x 2^(d+1) e / (q 2^33) < 1/q` (as
//!   `x 2^12 e < 2^33` for `x < 3366`), and the fractional part of `v` is
//!   a multiple of `1/q`, so the floor is `floor(v)`; then `(floor(v) +
//!   1) >> 1 = floor(v/2 + 1/2)`, the rounding (q is odd: no ties). The
//!   product `x * M` is two 16x16 multiplications.
//! - Decompress_d(y) = round(q y / 2^d) (FIPS 203 eq. 4.8) is
//!   `(q y + 2^(d-1)) >> d`: exact by construction (ties round up, as
//!   FIPS 203's rounding does); `q y` is three shift-adds
//!   (q = 2^11 + 2^10 + 2^8 + 1). See [`decompress_model`].
//!
//! # Structure and timing
//!
//! Both blocks are a bit accumulator (a shift register holding `cnt` valid
//! bits at its bottom) between the two ports; each cycle it may take one
//! item from the wide side and give one to the narrow side. Every output
//! (`in_ready`, `out_valid`, `out_data`, `busy`, `done`, `range_err`) is a
//! register, so a parent may feed outputs back to inputs without
//! combinational loops.
//!
//! - [`PolyEncoder`]: an input word is range-checked, compressed and
//!   packed into a 96-bit holding register (`8d` valid bits), appended to a
//!   192-bit accumulator when there is room, and the accumulator's low 64
//!   bits are the output lane whenever it holds at least 64 bits.
//! - [`PolyDecoder`]: input lanes are appended to a 224-bit accumulator;
//!   whenever it holds `8d` bits and the output register is free (or being
//!   read), the low `8d` bits are unpacked, decompressed or range-reduced
//!   into the output register.
//!
//! With `out_ready` held high and inputs always valid, both blocks move one
//! lane per cycle for `d >= 8` and one word per cycle for `d <= 8`; from
//! the cycle with `start` to the cycle with `done` takes
//! [`codec_cycles`]`(d) = max(32, 4d) + 3` cycles: 35 for d = 1, 4, 5; 43
//! for d = 10; 47 for d = 11; 51 for d = 12. Stalls on either port only add
//! cycles. The schedule depends only on `d` and the handshakes, never on
//! coefficient values: there is no data-dependent control at all (range
//! checks only set a sticky flag).

use super::modarith::Q_KEM;
use rust_hdl::prelude::*;

/// Post-shift `S` of the compression multiply-shift (see the module docs).
pub const COMPRESS_SHIFT: u32 = 33;
/// Multiplier `M = ceil(2^S / q)` of the compression multiply-shift.
pub const COMPRESS_MUL: u64 = (1u64 << COMPRESS_SHIFT).div_ceil(Q_KEM as u64);

/// The `d` values the codecs support (the widths ML-KEM uses).
pub const CODEC_WIDTHS: [u32; 6] = [1, 4, 5, 10, 11, 12];

/// Cycles of a job with both ports never stalling: from the cycle in which
/// `start` is high (sampled at the edge ending it) to the cycle in which
/// `done` is high. The same for [`PolyEncoder`] and [`PolyDecoder`], and
/// for compressing or not.
pub fn codec_cycles(d: u32) -> usize {
    (32usize).max(4 * d as usize) + 3
}

/// Bit-exact model of the encoder's Compress_d (`1 <= d <= 11`, `x < q`):
/// `round(2^d x / q) mod 2^d` as the hardware computes it.
pub fn compress_model(x: u32, d: u32) -> u32 {
    let y = x as u64 * COMPRESS_MUL;
    let r = ((y >> (COMPRESS_SHIFT - d - 1)) + 1) >> 1;
    (r as u32) & ((1 << d) - 1)
}

/// Bit-exact model of the decoder's Decompress_d (`1 <= d <= 11`,
/// `y < 2^d`): `round(q y / 2^d)` as the hardware computes it.
pub fn decompress_model(y: u32, d: u32) -> u32 {
    (Q_KEM * y + (1 << (d - 1))) >> d
}

/// Compress_d (optional) and ByteEncode_d of one polynomial: 32 coefficient
/// words in, `4*d` byte lanes out.
///
/// A job: `start` high for one cycle (ignored while `busy`) with `d` and
/// `compress`. Words are taken on `in_valid & in_ready`, lanes given on
/// `out_valid & out_ready`; `done` pulses in the cycle after the last lane
/// was transferred, when `busy` falls. Timing: see the module docs and
/// [`codec_cycles`].
///
/// Each coefficient is a 24-bit lane that must be in range: `< q` when
/// compressing or when `d = 12`, `< 2^d` when encoding without compression
/// at `d < 12` (FIPS 203 ByteEncode_d's domain). An out-of-range input sets
/// the sticky `range_err` (cleared by `start` or `reset`); the job still runs
/// and encodes the low 12 bits (compressed) or the low `d` bits.
#[derive(LogicBlock)]
pub struct PolyEncoder {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: abandons a job and returns to idle.
    pub reset: Signal<In, Bit>,
    /// Pulse: start a job with `d` and `compress` (ignored while busy).
    pub start: Signal<In, Bit>,
    /// Bits per coefficient: 1, 4, 5, 10, 11 or 12; sampled with `start`.
    pub d: Signal<In, Bits<4>>,
    /// Apply Compress_d before encoding (ignored for d = 12); sampled with
    /// `start`.
    pub compress: Signal<In, Bit>,
    /// A coefficient word is offered on `in_data`.
    pub in_valid: Signal<In, Bit>,
    /// 8 coefficients, `l` at bits `24l + 23 .. 24l`.
    pub in_data: Signal<In, Bits<192>>,
    /// The encoder takes a word at this edge if `in_valid`.
    pub in_ready: Signal<Out, Bit>,
    /// An encoded lane is offered on `out_data`.
    pub out_valid: Signal<Out, Bit>,
    /// 8 bytes of the ByteEncode_d stream, byte 0 at bits 7..0.
    pub out_data: Signal<Out, Bits<64>>,
    /// The consumer takes the lane at this edge if `out_valid`.
    pub out_ready: Signal<In, Bit>,
    /// A job is running.
    pub busy: Signal<Out, Bit>,
    /// Pulse: the job's last lane has been transferred.
    pub done: Signal<Out, Bit>,
    /// Sticky: an input coefficient of this job was out of range.
    pub range_err: Signal<Out, Bit>,

    busy_q: DFF<Bit>,
    done_q: DFF<Bit>,
    err_q: DFF<Bit>,
    dq: DFF<Bits<4>>,
    cq: DFF<Bit>,
    words: DFF<Bits<6>>,
    lanes: DFF<Bits<6>>,
    wv: DFF<Bit>,
    wq: DFF<Bits<96>>,
    acc: DFF<Bits<192>>,
    cnt: DFF<Bits<8>>,
    ird: DFF<Bit>,
    ovq: DFF<Bit>,

    dok: Signal<Local, Bit>,
    nbits: Signal<Local, Bits<8>>,
    room: Signal<Local, Bits<8>>,
    csh: Signal<Local, Bits<6>>,
    bound: Signal<Local, Bits<24>>,
    lane: Signal<Local, Bits<24>>,
    x: Signal<Local, Bits<12>>,
    p0: Signal<Local, Bits<32>>,
    p1: Signal<Local, Bits<32>>,
    y: Signal<Local, Bits<40>>,
    r: Signal<Local, Bits<40>>,
    cx: Signal<Local, Bits<12>>,
    cv: Signal<Local, Bits<96>>,
    bad: Signal<Local, Bit>,
    pk: Signal<Local, Bits<96>>,
    f1: Signal<Local, Bits<1>>,
    f4: Signal<Local, Bits<4>>,
    f5: Signal<Local, Bits<5>>,
    f10: Signal<Local, Bits<10>>,
    f11: Signal<Local, Bits<11>>,
    f12: Signal<Local, Bits<12>>,
    emit: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    absorb: Signal<Local, Bit>,
    base: Signal<Local, Bits<192>>,
    cnt1: Signal<Local, Bits<8>>,
    cnt_n: Signal<Local, Bits<8>>,
    wv_n: Signal<Local, Bit>,
    words_n: Signal<Local, Bits<6>>,
    last: Signal<Local, Bit>,
    busy_n: Signal<Local, Bit>,

    q24: Constant<Bits<24>>,
    m_lo: Constant<Bits<16>>,
    m_hi: Constant<Bits<16>>,
}

impl Default for PolyEncoder {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            d: Default::default(),
            compress: Default::default(),
            in_valid: Default::default(),
            in_data: Default::default(),
            in_ready: Default::default(),
            out_valid: Default::default(),
            out_data: Default::default(),
            out_ready: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            range_err: Default::default(),
            busy_q: Default::default(),
            done_q: Default::default(),
            err_q: Default::default(),
            dq: Default::default(),
            cq: Default::default(),
            words: Default::default(),
            lanes: Default::default(),
            wv: Default::default(),
            wq: Default::default(),
            acc: Default::default(),
            cnt: Default::default(),
            ird: Default::default(),
            ovq: Default::default(),
            dok: Default::default(),
            nbits: Default::default(),
            room: Default::default(),
            csh: Default::default(),
            bound: Default::default(),
            lane: Default::default(),
            x: Default::default(),
            p0: Default::default(),
            p1: Default::default(),
            y: Default::default(),
            r: Default::default(),
            cx: Default::default(),
            cv: Default::default(),
            bad: Default::default(),
            pk: Default::default(),
            f1: Default::default(),
            f4: Default::default(),
            f5: Default::default(),
            f10: Default::default(),
            f11: Default::default(),
            f12: Default::default(),
            emit: Default::default(),
            take: Default::default(),
            absorb: Default::default(),
            base: Default::default(),
            cnt1: Default::default(),
            cnt_n: Default::default(),
            wv_n: Default::default(),
            words_n: Default::default(),
            last: Default::default(),
            busy_n: Default::default(),
            q24: Constant::new(bits(Q_KEM as u64)),
            m_lo: Constant::new(bits(COMPRESS_MUL & 0xffff)),
            m_hi: Constant::new(bits(COMPRESS_MUL >> 16)),
        }
    }
}

// x * M is built from two 16x16 products (M must fit in 32 bits) into a
// 40-bit sum (x is any 12-bit value).
const _: () = assert!(COMPRESS_MUL >> 16 < 1 << 16);
const _: () = assert!(4095 * COMPRESS_MUL < 1 << 40);

impl Logic for PolyEncoder {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, busy_q, done_q, err_q, dq, cq, words, lanes, wv, wq, acc, cnt, ird, ovq
        );
        self.dok.next = (self.d.val() == bits::<4>(1))
            | (self.d.val() == bits::<4>(4))
            | (self.d.val() == bits::<4>(5))
            | (self.d.val() == bits::<4>(10))
            | (self.d.val() == bits::<4>(11))
            | (self.d.val() == bits::<4>(12));
        // Bits per word, and the accumulator fill level that leaves room
        // for one more word (192 - 8d).
        self.nbits.next = bit_cast::<8, 4>(self.dq.q.val()) << 3;
        self.room.next = bits::<8>(192) - self.nbits.val();

        // ---- Input word: range check, Compress_d, in 12-bit fields. ----
        self.csh.next = bits::<6>(32) - bit_cast::<6, 4>(self.dq.q.val());
        self.bound.next = self.q24.val();
        if !self.cq.q.val() & (self.dq.q.val() != bits::<4>(12)) {
            self.bound.next = bits::<24>(1) << self.dq.q.val();
        }
        self.cv.next = bits::<96>(0);
        self.bad.next = false;
        // Coefficient 7 - i; cv ends with coefficient l at bits 12l + 11..12l.
        for i in 0..8 {
            self.lane.next = self.in_data.val().get_bits::<24>(168 - 24 * i);
            self.x.next = self.lane.val().get_bits::<12>(0);
            self.p0.next = bit_cast::<16, 12>(self.x.val()) * self.m_lo.val();
            self.p1.next = bit_cast::<16, 12>(self.x.val()) * self.m_hi.val();
            self.y.next =
                bit_cast::<40, 32>(self.p0.val()) + (bit_cast::<40, 32>(self.p1.val()) << 16);
            self.r.next = (self.y.val() >> self.csh.val()) + bits::<40>(1);
            self.cx.next = bit_cast::<12, 40>(self.r.val() >> 1);
            if !self.cq.q.val() {
                self.cx.next = self.x.val();
            }
            self.cv.next = (self.cv.val() << 12) | bit_cast::<96, 12>(self.cx.val());
            self.bad.next = self.bad.val() | (self.lane.val() >= self.bound.val());
        }
        // ---- ByteEncode_d: the low d bits of each field, LSB-first. ----
        self.pk.next = bits::<96>(0);
        self.f1.next = bits::<1>(0);
        self.f4.next = bits::<4>(0);
        self.f5.next = bits::<5>(0);
        self.f10.next = bits::<10>(0);
        self.f11.next = bits::<11>(0);
        self.f12.next = bits::<12>(0);
        for i in 0..8 {
            if self.dq.q.val() == bits::<4>(1) {
                self.f1.next = self.cv.val().get_bits::<1>(84 - 12 * i);
                self.pk.next = (self.pk.val() << 1) | bit_cast::<96, 1>(self.f1.val());
            }
            if self.dq.q.val() == bits::<4>(4) {
                self.f4.next = self.cv.val().get_bits::<4>(84 - 12 * i);
                self.pk.next = (self.pk.val() << 4) | bit_cast::<96, 4>(self.f4.val());
            }
            if self.dq.q.val() == bits::<4>(5) {
                self.f5.next = self.cv.val().get_bits::<5>(84 - 12 * i);
                self.pk.next = (self.pk.val() << 5) | bit_cast::<96, 5>(self.f5.val());
            }
            if self.dq.q.val() == bits::<4>(10) {
                self.f10.next = self.cv.val().get_bits::<10>(84 - 12 * i);
                self.pk.next = (self.pk.val() << 10) | bit_cast::<96, 10>(self.f10.val());
            }
            if self.dq.q.val() == bits::<4>(11) {
                self.f11.next = self.cv.val().get_bits::<11>(84 - 12 * i);
                self.pk.next = (self.pk.val() << 11) | bit_cast::<96, 11>(self.f11.val());
            }
            if self.dq.q.val() == bits::<4>(12) {
                self.f12.next = self.cv.val().get_bits::<12>(84 - 12 * i);
                self.pk.next = (self.pk.val() << 12) | bit_cast::<96, 12>(self.f12.val());
            }
        }

        // ---- Accumulator: give a lane, append the held word, take one. ----
        self.emit.next = self.ovq.q.val() & self.out_ready.val();
        self.take.next = self.ird.q.val() & self.in_valid.val();
        self.base.next = self.acc.q.val();
        self.cnt1.next = self.cnt.q.val();
        if self.emit.val() {
            self.base.next = self.acc.q.val() >> 64;
            self.cnt1.next = self.cnt.q.val() - bits::<8>(64);
        }
        self.absorb.next = self.wv.q.val() & (self.cnt1.val() <= self.room.val());
        self.acc.d.next = self.base.val();
        self.cnt_n.next = self.cnt1.val();
        if self.absorb.val() {
            self.acc.d.next =
                self.base.val() | (bit_cast::<192, 96>(self.wq.q.val()) << self.cnt1.val());
            self.cnt_n.next = self.cnt1.val() + self.nbits.val();
        }
        self.cnt.d.next = self.cnt_n.val();
        self.wv_n.next = self.take.val() | (self.wv.q.val() & !self.absorb.val());
        self.wv.d.next = self.wv_n.val();
        self.words_n.next = self.words.q.val();
        if self.take.val() {
            self.wq.d.next = self.pk.val();
            self.words_n.next = self.words.q.val() - bits::<6>(1);
            if self.bad.val() {
                self.err_q.d.next = true;
            }
        }
        self.words.d.next = self.words_n.val();
        self.last.next = self.emit.val() & (self.lanes.q.val() == bits::<6>(1));
        if self.emit.val() {
            self.lanes.d.next = self.lanes.q.val() - bits::<6>(1);
        }
        self.busy_n.next = self.busy_q.q.val() & !self.last.val();
        self.busy_q.d.next = self.busy_n.val();
        self.done_q.d.next = self.last.val();
        // in_ready: a taken word must find the holding register free at
        // the next edge: empty, or sure to be appended (enough room even
        // if no lane leaves).
        self.ird.d.next = self.busy_n.val()
            & (self.words_n.val() != bits::<6>(0))
            & (!self.wv_n.val() | (self.cnt_n.val() <= self.room.val()));
        self.ovq.d.next = self.busy_n.val() & (self.cnt_n.val() >= bits::<8>(64));

        if self.start.val() & !self.busy_q.q.val() {
            self.dq.d.next = self.d.val();
            self.cq.d.next = self.compress.val() & (self.d.val() != bits::<4>(12));
            self.words.d.next = bits::<6>(32);
            self.lanes.d.next = bit_cast::<6, 4>(self.d.val()) << 2;
            self.wv.d.next = false;
            self.acc.d.next = bits::<192>(0);
            self.cnt.d.next = bits::<8>(0);
            self.err_q.d.next = false;
            self.busy_q.d.next = self.dok.val();
            self.done_q.d.next = !self.dok.val();
            self.ird.d.next = self.dok.val();
            self.ovq.d.next = false;
        }
        if self.reset.val() {
            self.busy_q.d.next = false;
            self.done_q.d.next = false;
            self.err_q.d.next = false;
            self.wv.d.next = false;
            self.cnt.d.next = bits::<8>(0);
            self.acc.d.next = bits::<192>(0);
            self.ird.d.next = false;
            self.ovq.d.next = false;
        }
        self.in_ready.next = self.ird.q.val();
        self.out_valid.next = self.ovq.q.val();
        self.out_data.next = self.acc.q.val().get_bits::<64>(0);
        self.busy.next = self.busy_q.q.val();
        self.done.next = self.done_q.q.val();
        self.range_err.next = self.err_q.q.val();
    }
}

/// ByteDecode_d, then Decompress_d (optional), of one polynomial: `4*d`
/// byte lanes in, 32 coefficient words out.
///
/// A job: `start` high for one cycle (ignored while `busy`) with `d` and
/// `decompress`. Lanes are taken on `in_valid & in_ready`, words given on
/// `out_valid & out_ready`; `done` pulses in the cycle after the 32nd word
/// was transferred, when `busy` falls. Timing: see the module docs and
/// [`codec_cycles`].
///
/// Output coefficients are 24-bit lanes with the upper 12 bits zero:
/// Decompress_d(y) (`< q`) when decompressing at `d < 12`, else the
/// decoded `d`-bit value. For `d = 12`, a decoded value `v >= q` is output
/// as `v - q` (ByteDecode_12's reduction mod q) and sets the sticky
/// `range_err` (the encapsulation-key modulus check of FIPS 203 section
/// 7.2), which rises with `out_valid` of the first such word and stays
/// high until the next `start` (or `reset`).
#[derive(LogicBlock)]
pub struct PolyDecoder {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: abandons a job and returns to idle.
    pub reset: Signal<In, Bit>,
    /// Pulse: start a job with `d` and `decompress` (ignored while busy).
    pub start: Signal<In, Bit>,
    /// Bits per coefficient: 1, 4, 5, 10, 11 or 12; sampled with `start`.
    pub d: Signal<In, Bits<4>>,
    /// Apply Decompress_d after decoding (ignored for d = 12); sampled
    /// with `start`.
    pub decompress: Signal<In, Bit>,
    /// A lane is offered on `in_data`.
    pub in_valid: Signal<In, Bit>,
    /// 8 bytes of the ByteDecode_d stream, byte 0 at bits 7..0.
    pub in_data: Signal<In, Bits<64>>,
    /// The decoder takes a lane at this edge if `in_valid`.
    pub in_ready: Signal<Out, Bit>,
    /// A coefficient word is offered on `out_data`.
    pub out_valid: Signal<Out, Bit>,
    /// 8 coefficients, `l` at bits `24l + 23 .. 24l`.
    pub out_data: Signal<Out, Bits<192>>,
    /// The consumer takes the word at this edge if `out_valid`.
    pub out_ready: Signal<In, Bit>,
    /// A job is running.
    pub busy: Signal<Out, Bit>,
    /// Pulse: the job's 32nd word has been transferred.
    pub done: Signal<Out, Bit>,
    /// Sticky: a d = 12 job decoded a value `>= q` (reduced on output).
    pub range_err: Signal<Out, Bit>,

    busy_q: DFF<Bit>,
    done_q: DFF<Bit>,
    err_q: DFF<Bit>,
    dq: DFF<Bits<4>>,
    dcq: DFF<Bit>,
    lanes: DFF<Bits<6>>,
    words: DFF<Bits<6>>,
    acc: DFF<Bits<224>>,
    cnt: DFF<Bits<8>>,
    ird: DFF<Bit>,
    ovq: DFF<Bit>,
    oq: DFF<Bits<192>>,

    dok: Signal<Local, Bit>,
    d12: Signal<Local, Bit>,
    nbits: Signal<Local, Bits<8>>,
    uv: Signal<Local, Bits<96>>,
    f1: Signal<Local, Bits<1>>,
    f4: Signal<Local, Bits<4>>,
    f5: Signal<Local, Bits<5>>,
    f10: Signal<Local, Bits<10>>,
    f11: Signal<Local, Bits<11>>,
    f12: Signal<Local, Bits<12>>,
    half: Signal<Local, Bits<24>>,
    y: Signal<Local, Bits<12>>,
    y24: Signal<Local, Bits<24>>,
    prod: Signal<Local, Bits<24>>,
    v: Signal<Local, Bits<12>>,
    word: Signal<Local, Bits<192>>,
    bad: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    xfer: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    base: Signal<Local, Bits<224>>,
    cnt1: Signal<Local, Bits<8>>,
    cnt_n: Signal<Local, Bits<8>>,
    lanes_n: Signal<Local, Bits<6>>,
    last: Signal<Local, Bit>,
    busy_n: Signal<Local, Bit>,

    q12: Constant<Bits<12>>,
}

impl Default for PolyDecoder {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            d: Default::default(),
            decompress: Default::default(),
            in_valid: Default::default(),
            in_data: Default::default(),
            in_ready: Default::default(),
            out_valid: Default::default(),
            out_data: Default::default(),
            out_ready: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            range_err: Default::default(),
            busy_q: Default::default(),
            done_q: Default::default(),
            err_q: Default::default(),
            dq: Default::default(),
            dcq: Default::default(),
            lanes: Default::default(),
            words: Default::default(),
            acc: Default::default(),
            cnt: Default::default(),
            ird: Default::default(),
            ovq: Default::default(),
            oq: Default::default(),
            dok: Default::default(),
            d12: Default::default(),
            nbits: Default::default(),
            uv: Default::default(),
            f1: Default::default(),
            f4: Default::default(),
            f5: Default::default(),
            f10: Default::default(),
            f11: Default::default(),
            f12: Default::default(),
            half: Default::default(),
            y: Default::default(),
            y24: Default::default(),
            prod: Default::default(),
            v: Default::default(),
            word: Default::default(),
            bad: Default::default(),
            pop: Default::default(),
            xfer: Default::default(),
            take: Default::default(),
            base: Default::default(),
            cnt1: Default::default(),
            cnt_n: Default::default(),
            lanes_n: Default::default(),
            last: Default::default(),
            busy_n: Default::default(),
            q12: Constant::new(bits(Q_KEM as u64)),
        }
    }
}

impl Logic for PolyDecoder {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, busy_q, done_q, err_q, dq, dcq, lanes, words, acc, cnt, ird, ovq, oq
        );
        self.dok.next = (self.d.val() == bits::<4>(1))
            | (self.d.val() == bits::<4>(4))
            | (self.d.val() == bits::<4>(5))
            | (self.d.val() == bits::<4>(10))
            | (self.d.val() == bits::<4>(11))
            | (self.d.val() == bits::<4>(12));
        self.d12.next = self.dq.q.val() == bits::<4>(12);
        self.nbits.next = bit_cast::<8, 4>(self.dq.q.val()) << 3;

        // ---- ByteDecode_d of the accumulator's low 8d bits into 12-bit
        // fields (coefficient l at bits 12l + 11..12l). ----
        self.uv.next = bits::<96>(0);
        self.f1.next = bits::<1>(0);
        self.f4.next = bits::<4>(0);
        self.f5.next = bits::<5>(0);
        self.f10.next = bits::<10>(0);
        self.f11.next = bits::<11>(0);
        self.f12.next = bits::<12>(0);
        for i in 0..8 {
            if self.dq.q.val() == bits::<4>(1) {
                self.f1.next = self.acc.q.val().get_bits::<1>(7 - i);
                self.uv.next = (self.uv.val() << 12) | bit_cast::<96, 1>(self.f1.val());
            }
            if self.dq.q.val() == bits::<4>(4) {
                self.f4.next = self.acc.q.val().get_bits::<4>(28 - 4 * i);
                self.uv.next = (self.uv.val() << 12) | bit_cast::<96, 4>(self.f4.val());
            }
            if self.dq.q.val() == bits::<4>(5) {
                self.f5.next = self.acc.q.val().get_bits::<5>(35 - 5 * i);
                self.uv.next = (self.uv.val() << 12) | bit_cast::<96, 5>(self.f5.val());
            }
            if self.dq.q.val() == bits::<4>(10) {
                self.f10.next = self.acc.q.val().get_bits::<10>(70 - 10 * i);
                self.uv.next = (self.uv.val() << 12) | bit_cast::<96, 10>(self.f10.val());
            }
            if self.dq.q.val() == bits::<4>(11) {
                self.f11.next = self.acc.q.val().get_bits::<11>(77 - 11 * i);
                self.uv.next = (self.uv.val() << 12) | bit_cast::<96, 11>(self.f11.val());
            }
            if self.d12.val() {
                self.f12.next = self.acc.q.val().get_bits::<12>(84 - 12 * i);
                self.uv.next = (self.uv.val() << 12) | bit_cast::<96, 12>(self.f12.val());
            }
        }
        // ---- Decompress_d = (q y + 2^(d-1)) >> d, or reduce mod q. ----
        self.half.next = (bits::<24>(1) << self.dq.q.val()) >> 1;
        self.word.next = bits::<192>(0);
        self.bad.next = false;
        for i in 0..8 {
            self.y.next = self.uv.val().get_bits::<12>(84 - 12 * i);
            self.y24.next = bit_cast::<24, 12>(self.y.val());
            self.prod.next = (self.y24.val() << 11)
                + (self.y24.val() << 10)
                + (self.y24.val() << 8)
                + self.y24.val()
                + self.half.val();
            self.v.next = self.y.val();
            if self.dcq.q.val() {
                self.v.next = bit_cast::<12, 24>(self.prod.val() >> self.dq.q.val());
            }
            if self.d12.val() & (self.y.val() >= self.q12.val()) {
                self.v.next = self.y.val() - self.q12.val();
                self.bad.next = true;
            }
            self.word.next = (self.word.val() << 24) | bit_cast::<192, 12>(self.v.val());
        }

        // ---- Accumulator: give a word to the output register, take a
        // lane. ----
        self.xfer.next = self.ovq.q.val() & self.out_ready.val();
        self.pop.next = self.busy_q.q.val()
            & (self.cnt.q.val() >= self.nbits.val())
            & (!self.ovq.q.val() | self.out_ready.val());
        self.take.next = self.ird.q.val() & self.in_valid.val();
        self.base.next = self.acc.q.val();
        self.cnt1.next = self.cnt.q.val();
        if self.pop.val() {
            self.base.next = self.acc.q.val() >> self.nbits.val();
            self.cnt1.next = self.cnt.q.val() - self.nbits.val();
            self.oq.d.next = self.word.val();
            self.ovq.d.next = true;
            if self.bad.val() {
                self.err_q.d.next = true;
            }
        } else if self.xfer.val() {
            self.ovq.d.next = false;
        }
        self.acc.d.next = self.base.val();
        self.cnt_n.next = self.cnt1.val();
        self.lanes_n.next = self.lanes.q.val();
        if self.take.val() {
            self.acc.d.next =
                self.base.val() | (bit_cast::<224, 64>(self.in_data.val()) << self.cnt1.val());
            self.cnt_n.next = self.cnt1.val() + bits::<8>(64);
            self.lanes_n.next = self.lanes.q.val() - bits::<6>(1);
        }
        self.cnt.d.next = self.cnt_n.val();
        self.lanes.d.next = self.lanes_n.val();
        self.last.next = self.xfer.val() & (self.words.q.val() == bits::<6>(1));
        if self.xfer.val() {
            self.words.d.next = self.words.q.val() - bits::<6>(1);
        }
        self.busy_n.next = self.busy_q.q.val() & !self.last.val();
        self.busy_q.d.next = self.busy_n.val();
        self.done_q.d.next = self.last.val();
        // in_ready: room for a lane even if no word leaves (224 - 64).
        self.ird.d.next = self.busy_n.val()
            & (self.lanes_n.val() != bits::<6>(0))
            & (self.cnt_n.val() <= bits::<8>(160));

        if self.start.val() & !self.busy_q.q.val() {
            self.dq.d.next = self.d.val();
            self.dcq.d.next = self.decompress.val() & (self.d.val() != bits::<4>(12));
            self.lanes.d.next = bit_cast::<6, 4>(self.d.val()) << 2;
            self.words.d.next = bits::<6>(32);
            self.acc.d.next = bits::<224>(0);
            self.cnt.d.next = bits::<8>(0);
            self.err_q.d.next = false;
            self.busy_q.d.next = self.dok.val();
            self.done_q.d.next = !self.dok.val();
            self.ird.d.next = self.dok.val();
            self.ovq.d.next = false;
        }
        if self.reset.val() {
            self.busy_q.d.next = false;
            self.done_q.d.next = false;
            self.err_q.d.next = false;
            self.cnt.d.next = bits::<8>(0);
            self.acc.d.next = bits::<224>(0);
            self.ird.d.next = false;
            self.ovq.d.next = false;
        }
        self.in_ready.next = self.ird.q.val();
        self.out_valid.next = self.ovq.q.val();
        self.out_data.next = self.oq.q.val();
        self.busy.next = self.busy_q.q.val();
        self.done.next = self.done_q.q.val();
        self.range_err.next = self.err_q.q.val();
    }
}
