//! The ML-KEM samplers of FIPS 203: [`SampleNtt`] (Algorithm 7, uniform
//! coefficients mod q by rejection from a SHAKE128 stream) and
//! [`SampleCbd`] (Algorithm 8, SamplePolyCBD_eta for eta = 2 and 3 from
//! PRF output).
//!
//! # Interfaces
//!
//! Both take a byte stream as 64-bit lanes (`in_valid` / `in_ready` /
//! `in_data`, byte 0 of a lane at bits 7..0, contiguous across Keccak
//! blocks) and deliver the polynomial as 32 words (`out_valid` /
//! `out_ready` / `out_index` / `out_data`), word `i` holding coefficients
//! `8i .. 8i + 8`, coefficient `8i + l` at bits `24l + 23 .. 24l`, reduced
//! mod q = 3329 (upper bits zero). A transfer happens at a rising edge where
//! valid and ready are both high. `start` is a one-cycle pulse, ignored
//! while `busy`; `busy` is high from the next cycle until `done` pulses,
//! the cycle after word 31 was transferred; `reset` is synchronous and
//! returns to idle. All outputs are registers or simple logic of registers
//! (no combinational path from an input to an output).
//!
//! # SampleNtt
//!
//! Each lane is cut into 3-byte groups (a group may straddle two lanes: up
//! to two bytes are carried over; three lanes hold exactly eight groups)
//! and each group gives two 12-bit candidates. The lane's complete groups
//! (two or three, so four or six candidates) are compared with q, the
//! accepted ones packed in order (stage 1, registered), then appended to a
//! queue of at most seven pending coefficients, which emits a word whenever
//! it reaches eight (stage 2) into a three-word output FIFO. One lane is
//! taken per cycle as long as the FIFO has room, i.e. sustained while
//! `out_ready` is high. When the lane in which the 256th coefficient is
//! accepted has been taken, `in_ready` stays low: the rest of the stream is
//! the caller's to discard. Coefficients accepted beyond the 256th are
//! dropped (Algorithm 7 stops at 256).
//!
//! Timing depends on the stream (public: it is derived from the seed rho).
//! With a lane offered every cycle and `out_ready` high, a polynomial that
//! needs `L` lanes (about 60 for SHAKE128 output, i.e. three Keccak blocks
//! of 21 lanes; at least 48) takes `L + 3` cycles from the cycle with
//! `start` to the cycle with `done`; see [`SAMPLE_NTT_OVERHEAD`].
//!
//! # SampleCbd
//!
//! The 64 * eta bytes (16 or 24 lanes) go into a 192-bit bit queue; each
//! word of eight coefficients takes the next 16 * eta bits
//! (`x = sum of eta bits`, `y = sum of the next eta bits`,
//! `f = x - y mod q`). A lane is taken when the queue holds at most 128
//! bits; a word is produced when it holds 16 * eta bits and the output
//! register is free or being read. The schedule depends only on `eta3`,
//! `in_valid` and `out_ready`, never on the data: the output is secret.
//! Without stalls the first word is valid 3 cycles after the cycle with
//! `start`, then one word per cycle: [`SAMPLE_CBD_CYCLES`] cycles from the
//! cycle with `start` to the cycle with `done`, for either eta.

use rust_hdl::prelude::*;

/// Cycles of [`SampleNtt`] beyond the number of lanes it takes, from the
/// cycle with `start` to the cycle with `done`, when a lane is offered in
/// every cycle and `out_ready` is always high.
pub const SAMPLE_NTT_OVERHEAD: usize = 3;

/// Cycles of [`SampleCbd`] from the cycle with `start` to the cycle with
/// `done` when a lane is offered in every cycle and `out_ready` is always
/// high (the same for eta = 2 and eta = 3).
pub const SAMPLE_CBD_CYCLES: usize = 35;

/// FIPS 203 Algorithm 7 (SampleNTT): a polynomial with coefficients
/// uniform mod 3329, by rejection sampling from a SHAKE128 stream. See the
/// module documentation for the interface and timing.
#[derive(LogicBlock, Default)]
pub struct SampleNtt {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: back to idle.
    pub reset: Signal<In, Bit>,
    /// Pulse: start sampling a polynomial (ignored while busy).
    pub start: Signal<In, Bit>,
    /// `in_data` holds the next lane of the stream.
    pub in_valid: Signal<In, Bit>,
    /// The next 8 bytes of the stream, byte 0 at bits 7..0.
    pub in_data: Signal<In, Bits<64>>,
    /// The sampler takes a lane at the rising edge (with `in_valid`).
    pub in_ready: Signal<Out, Bit>,
    /// `out_data` holds word `out_index` of the polynomial.
    pub out_valid: Signal<Out, Bit>,
    /// Which word (0..32, in order).
    pub out_index: Signal<Out, Bits<5>>,
    /// Coefficients `8i .. 8i + 8`, `8i + l` at bits `24l + 23 .. 24l`.
    pub out_data: Signal<Out, Bits<192>>,
    /// The consumer takes the word at the rising edge (with `out_valid`).
    pub out_ready: Signal<In, Bit>,
    /// Sampling is in progress.
    pub busy: Signal<Out, Bit>,
    /// Pulse: word 31 has been transferred.
    pub done: Signal<Out, Bit>,

    busy_q: DFF<Bit>,
    done_q: DFF<Bit>,
    // 256 coefficients accepted: no more lanes.
    stop: DFF<Bit>,
    // Lane position in the 3-lane period, and the bytes carried over.
    phase: DFF<Bits<2>>,
    carry: DFF<Bits<16>>,
    // Coefficients accepted so far (at most 261: no lane after 256).
    got: DFF<Bits<9>>,
    // Stage 1: the accepted candidates of a lane, packed, and their count.
    pv: DFF<Bit>,
    pk: DFF<Bits<72>>,
    pn: DFF<Bits<3>>,
    // Stage 2: pending coefficients (12 bits each) and their count.
    acc: DFF<Bits<84>>,
    acc_n: DFF<Bits<3>>,
    // Output FIFO (eight 12-bit coefficients per word), head f0.
    f0: DFF<Bits<96>>,
    f1: DFF<Bits<96>>,
    f2: DFF<Bits<96>>,
    cnt: DFF<Bits<2>>,
    oidx: DFF<Bits<5>>,

    rdy: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    win: Signal<Local, Bits<72>>,
    third: Signal<Local, Bit>,
    p5: Signal<Local, Bits<72>>,
    p4: Signal<Local, Bits<72>>,
    p3: Signal<Local, Bits<72>>,
    p2: Signal<Local, Bits<72>>,
    p1: Signal<Local, Bits<72>>,
    p0: Signal<Local, Bits<72>>,
    n5: Signal<Local, Bits<3>>,
    n4: Signal<Local, Bits<3>>,
    n3: Signal<Local, Bits<3>>,
    n2: Signal<Local, Bits<3>>,
    n1: Signal<Local, Bits<3>>,
    n0: Signal<Local, Bits<3>>,
    sum: Signal<Local, Bits<9>>,
    sh: Signal<Local, Bits<7>>,
    comb: Signal<Local, Bits<156>>,
    tot: Signal<Local, Bits<4>>,
    push: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    cpop: Signal<Local, Bits<2>>,
}

impl Logic for SampleNtt {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, busy_q, done_q, stop, phase, carry, got, pv, pk, pn, acc, acc_n, f0, f1,
            f2, cnt, oidx
        );

        // ---- Stage 1: candidates of the lane, accepted ones packed. ----
        // Room for this lane's word: the FIFO words plus the one stage 2
        // may push must stay within its three entries.
        self.rdy.next = self.busy_q.q.val()
            & !self.stop.q.val()
            & (self.cnt.q.val() != bits::<2>(3))
            & !((self.cnt.q.val() == bits::<2>(2)) & self.pv.q.val());
        self.take.next = self.rdy.val() & self.in_valid.val();
        // The lane's complete groups, group k at bits 24k + 23 .. 24k:
        // phase 0 has two (bytes 0..6, bytes 6, 7 carried), phase 1 three
        // (two carried bytes and bytes 0..7, byte 7 carried), phase 2
        // three (one carried byte and bytes 0..8).
        self.win.next = bit_cast::<72, 64>(self.in_data.val());
        self.third.next = false;
        if self.phase.q.val() == bits::<2>(1) {
            self.win.next = (bit_cast::<72, 64>(self.in_data.val()) << 16)
                | bit_cast::<72, 16>(self.carry.q.val());
            self.third.next = true;
        }
        if self.phase.q.val() == bits::<2>(2) {
            self.win.next = (bit_cast::<72, 64>(self.in_data.val()) << 8)
                | bit_cast::<72, 8>(self.carry.q.val().get_bits::<8>(0));
            self.third.next = true;
        }
        // Candidate j is win[12j + 11 .. 12j]; pack the accepted ones from
        // the last to the first, so that the first lands at the bottom.
        self.p5.next = bits::<72>(0);
        self.n5.next = bits::<3>(0);
        if self.third.val() & (self.win.val().get_bits::<12>(60) < bits::<12>(3329)) {
            self.p5.next = bit_cast::<72, 12>(self.win.val().get_bits::<12>(60));
            self.n5.next = bits::<3>(1);
        }
        self.p4.next = self.p5.val();
        self.n4.next = self.n5.val();
        if self.third.val() & (self.win.val().get_bits::<12>(48) < bits::<12>(3329)) {
            self.p4.next =
                (self.p5.val() << 12) | bit_cast::<72, 12>(self.win.val().get_bits::<12>(48));
            self.n4.next = self.n5.val() + bits::<3>(1);
        }
        self.p3.next = self.p4.val();
        self.n3.next = self.n4.val();
        if self.win.val().get_bits::<12>(36) < bits::<12>(3329) {
            self.p3.next =
                (self.p4.val() << 12) | bit_cast::<72, 12>(self.win.val().get_bits::<12>(36));
            self.n3.next = self.n4.val() + bits::<3>(1);
        }
        self.p2.next = self.p3.val();
        self.n2.next = self.n3.val();
        if self.win.val().get_bits::<12>(24) < bits::<12>(3329) {
            self.p2.next =
                (self.p3.val() << 12) | bit_cast::<72, 12>(self.win.val().get_bits::<12>(24));
            self.n2.next = self.n3.val() + bits::<3>(1);
        }
        self.p1.next = self.p2.val();
        self.n1.next = self.n2.val();
        if self.win.val().get_bits::<12>(12) < bits::<12>(3329) {
            self.p1.next =
                (self.p2.val() << 12) | bit_cast::<72, 12>(self.win.val().get_bits::<12>(12));
            self.n1.next = self.n2.val() + bits::<3>(1);
        }
        self.p0.next = self.p1.val();
        self.n0.next = self.n1.val();
        if self.win.val().get_bits::<12>(0) < bits::<12>(3329) {
            self.p0.next =
                (self.p1.val() << 12) | bit_cast::<72, 12>(self.win.val().get_bits::<12>(0));
            self.n0.next = self.n1.val() + bits::<3>(1);
        }
        self.sum.next = self.got.q.val() + bit_cast::<9, 3>(self.n0.val());
        self.pv.d.next = self.take.val();
        if self.take.val() {
            self.pk.d.next = self.p0.val();
            self.pn.d.next = self.n0.val();
            self.got.d.next = self.sum.val();
            self.stop.d.next = self.sum.val().get_bit(8);
            self.phase.d.next = self.phase.q.val() + bits::<2>(1);
            self.carry.d.next = self.in_data.val().get_bits::<16>(48);
            if self.phase.q.val() == bits::<2>(1) {
                self.carry.d.next = bit_cast::<16, 8>(self.in_data.val().get_bits::<8>(56));
            }
            if self.phase.q.val() == bits::<2>(2) {
                self.phase.d.next = bits::<2>(0);
                self.carry.d.next = bits::<16>(0);
            }
        }

        // ---- Stage 2: append to the pending coefficients, emit words. ----
        self.sh.next = (bit_cast::<7, 3>(self.acc_n.q.val()) << 3)
            + (bit_cast::<7, 3>(self.acc_n.q.val()) << 2);
        self.comb.next = bit_cast::<156, 84>(self.acc.q.val())
            | (bit_cast::<156, 72>(self.pk.q.val()) << self.sh.val());
        self.tot.next = bit_cast::<4, 3>(self.acc_n.q.val()) + bit_cast::<4, 3>(self.pn.q.val());
        self.push.next = self.pv.q.val() & self.tot.val().get_bit(3);
        if self.pv.q.val() {
            // tot < 16: after a word is emitted, tot - 8 is its low bits.
            self.acc_n.d.next = self.tot.val().get_bits::<3>(0);
            self.acc.d.next = self.comb.val().get_bits::<84>(0);
            if self.tot.val().get_bit(3) {
                self.acc.d.next = bit_cast::<84, 60>(self.comb.val().get_bits::<60>(96));
            }
        }

        // ---- Output FIFO. ----
        self.pop.next = (self.cnt.q.val() != bits::<2>(0)) & self.out_ready.val();
        self.cpop.next = self.cnt.q.val();
        if self.pop.val() {
            self.cpop.next = self.cnt.q.val() - bits::<2>(1);
            self.f0.d.next = self.f1.q.val();
            self.f1.d.next = self.f2.q.val();
        }
        if self.push.val() {
            if self.cpop.val() == bits::<2>(0) {
                self.f0.d.next = self.comb.val().get_bits::<96>(0);
            }
            if self.cpop.val() == bits::<2>(1) {
                self.f1.d.next = self.comb.val().get_bits::<96>(0);
            }
            if self.cpop.val() == bits::<2>(2) {
                self.f2.d.next = self.comb.val().get_bits::<96>(0);
            }
            self.cnt.d.next = self.cpop.val() + bits::<2>(1);
        } else {
            self.cnt.d.next = self.cpop.val();
        }

        // ---- Control. ----
        self.done_q.d.next = false;
        if self.pop.val() {
            self.oidx.d.next = self.oidx.q.val() + bits::<5>(1);
            if self.oidx.q.val() == bits::<5>(31) {
                self.done_q.d.next = true;
                self.busy_q.d.next = false;
            }
        }
        if self.start.val() & !self.busy_q.q.val() {
            self.busy_q.d.next = true;
            self.stop.d.next = false;
            self.phase.d.next = bits::<2>(0);
            self.carry.d.next = bits::<16>(0);
            self.got.d.next = bits::<9>(0);
            self.pv.d.next = false;
            self.acc.d.next = bits::<84>(0);
            self.acc_n.d.next = bits::<3>(0);
            self.cnt.d.next = bits::<2>(0);
            self.oidx.d.next = bits::<5>(0);
        }
        if self.reset.val() {
            self.busy_q.d.next = false;
            self.done_q.d.next = false;
            self.stop.d.next = false;
            self.pv.d.next = false;
            self.acc.d.next = bits::<84>(0);
            self.acc_n.d.next = bits::<3>(0);
            self.cnt.d.next = bits::<2>(0);
            self.oidx.d.next = bits::<5>(0);
        }

        self.in_ready.next = self.rdy.val();
        self.out_valid.next = self.cnt.q.val() != bits::<2>(0);
        self.out_index.next = self.oidx.q.val();
        self.out_data.next = bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(0))
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(12)) << 24)
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(24)) << 48)
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(36)) << 72)
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(48)) << 96)
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(60)) << 120)
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(72)) << 144)
            | (bit_cast::<192, 12>(self.f0.q.val().get_bits::<12>(84)) << 168);
        self.busy.next = self.busy_q.q.val();
        self.done.next = self.done_q.q.val();
    }
}

/// One centred-binomial coefficient (combinational): `x - y mod 3329`
/// where x sums the first eta of the coefficient's 2 * eta stream bits and
/// y the next eta.
#[derive(LogicBlock, Default)]
pub struct CbdCoef {
    /// The coefficient's 4 stream bits for eta = 2, the first at bit 0.
    pub raw2: Signal<In, Bits<4>>,
    /// The coefficient's 6 stream bits for eta = 3, the first at bit 0.
    pub raw3: Signal<In, Bits<6>>,
    /// eta = 3 (use `raw3`) when high, 2 (use `raw2`) when low.
    pub eta3: Signal<In, Bit>,
    /// `x - y mod 3329` (0..3329).
    pub coef: Signal<Out, Bits<12>>,
    x: Signal<Local, Bits<12>>,
    y: Signal<Local, Bits<12>>,
}

impl Logic for CbdCoef {
    #[hdl_gen]
    fn update(&mut self) {
        self.x.next = bit_cast::<12, 1>(self.raw2.val().get_bits::<1>(0))
            + bit_cast::<12, 1>(self.raw2.val().get_bits::<1>(1));
        self.y.next = bit_cast::<12, 1>(self.raw2.val().get_bits::<1>(2))
            + bit_cast::<12, 1>(self.raw2.val().get_bits::<1>(3));
        if self.eta3.val() {
            self.x.next = bit_cast::<12, 1>(self.raw3.val().get_bits::<1>(0))
                + bit_cast::<12, 1>(self.raw3.val().get_bits::<1>(1))
                + bit_cast::<12, 1>(self.raw3.val().get_bits::<1>(2));
            self.y.next = bit_cast::<12, 1>(self.raw3.val().get_bits::<1>(3))
                + bit_cast::<12, 1>(self.raw3.val().get_bits::<1>(4))
                + bit_cast::<12, 1>(self.raw3.val().get_bits::<1>(5));
        }
        self.coef.next = self.x.val() - self.y.val();
        if self.x.val() < self.y.val() {
            self.coef.next = self.x.val() + bits::<12>(3329) - self.y.val();
        }
    }
}

/// FIPS 203 Algorithm 8 (SamplePolyCBD_eta) for eta = 2 and 3, in
/// constant time. See the module documentation for the interface and
/// timing.
#[derive(LogicBlock, Default)]
pub struct SampleCbd {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: back to idle.
    pub reset: Signal<In, Bit>,
    /// Pulse: start sampling a polynomial (ignored while busy).
    pub start: Signal<In, Bit>,
    /// eta = 3 (24 lanes in) when high, eta = 2 (16 lanes) when low;
    /// sampled with `start`.
    pub eta3: Signal<In, Bit>,
    /// `in_data` holds the next lane of the PRF output.
    pub in_valid: Signal<In, Bit>,
    /// The next 8 bytes of the PRF output, byte 0 at bits 7..0.
    pub in_data: Signal<In, Bits<64>>,
    /// The sampler takes a lane at the rising edge (with `in_valid`).
    pub in_ready: Signal<Out, Bit>,
    /// `out_data` holds word `out_index` of the polynomial.
    pub out_valid: Signal<Out, Bit>,
    /// Which word (0..32, in order).
    pub out_index: Signal<Out, Bits<5>>,
    /// Coefficients `8i .. 8i + 8`, `8i + l` at bits `24l + 23 .. 24l`.
    pub out_data: Signal<Out, Bits<192>>,
    /// The consumer takes the word at the rising edge (with `out_valid`).
    pub out_ready: Signal<In, Bit>,
    /// Sampling is in progress.
    pub busy: Signal<Out, Bit>,
    /// Pulse: word 31 has been transferred.
    pub done: Signal<Out, Bit>,

    coef: [CbdCoef; 8],

    busy_q: DFF<Bit>,
    done_q: DFF<Bit>,
    e3: DFF<Bit>,
    // Bit queue: the oldest stream bit at bit 0, nb bits held.
    bq: DFF<Bits<192>>,
    nb: DFF<Bits<8>>,
    lanes: DFF<Bits<5>>,
    // Output register (eight 12-bit coefficients).
    wq: DFF<Bits<96>>,
    wv: DFF<Bit>,
    oidx: DFF<Bits<5>>,

    rdy: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    emit: Signal<Local, Bit>,
    need: Signal<Local, Bits<8>>,
    nlanes: Signal<Local, Bits<5>>,
    mid_buf: Signal<Local, Bits<192>>,
    mid_nb: Signal<Local, Bits<8>>,
}

impl Logic for SampleCbd {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy_q, done_q, e3, bq, nb, lanes, wq, wv, oidx);

        self.need.next = bits::<8>(32);
        self.nlanes.next = bits::<5>(16);
        if self.e3.q.val() {
            self.need.next = bits::<8>(48);
            self.nlanes.next = bits::<5>(24);
        }
        // Coefficients of the next word from the bottom of the queue.
        for i in 0..8 {
            self.coef[i].eta3.next = self.e3.q.val();
            self.coef[i].raw2.next = self.bq.q.val().get_bits::<4>(4 * i);
            self.coef[i].raw3.next = self.bq.q.val().get_bits::<6>(6 * i);
        }
        // Handshakes: depend only on eta and the queue fill, not the data.
        self.rdy.next = self.busy_q.q.val()
            & (self.lanes.q.val() != self.nlanes.val())
            & (self.nb.q.val() < bits::<8>(129));
        self.take.next = self.rdy.val() & self.in_valid.val();
        self.pop.next = self.wv.q.val() & self.out_ready.val();
        self.emit.next = self.busy_q.q.val()
            & (self.nb.q.val() >= self.need.val())
            & (!self.wv.q.val() | self.out_ready.val());

        self.mid_buf.next = self.bq.q.val();
        self.mid_nb.next = self.nb.q.val();
        if self.emit.val() {
            self.mid_buf.next = self.bq.q.val() >> self.need.val();
            self.mid_nb.next = self.nb.q.val() - self.need.val();
        }
        self.bq.d.next = self.mid_buf.val();
        self.nb.d.next = self.mid_nb.val();
        if self.take.val() {
            self.bq.d.next =
                self.mid_buf.val() | (bit_cast::<192, 64>(self.in_data.val()) << self.mid_nb.val());
            self.nb.d.next = self.mid_nb.val() + bits::<8>(64);
            self.lanes.d.next = self.lanes.q.val() + bits::<5>(1);
        }

        if self.pop.val() {
            self.wv.d.next = false;
        }
        if self.emit.val() {
            self.wv.d.next = true;
            self.wq.d.next = bit_cast::<96, 12>(self.coef[0].coef.val())
                | (bit_cast::<96, 12>(self.coef[1].coef.val()) << 12)
                | (bit_cast::<96, 12>(self.coef[2].coef.val()) << 24)
                | (bit_cast::<96, 12>(self.coef[3].coef.val()) << 36)
                | (bit_cast::<96, 12>(self.coef[4].coef.val()) << 48)
                | (bit_cast::<96, 12>(self.coef[5].coef.val()) << 60)
                | (bit_cast::<96, 12>(self.coef[6].coef.val()) << 72)
                | (bit_cast::<96, 12>(self.coef[7].coef.val()) << 84);
        }

        self.done_q.d.next = false;
        if self.pop.val() {
            self.oidx.d.next = self.oidx.q.val() + bits::<5>(1);
            if self.oidx.q.val() == bits::<5>(31) {
                self.done_q.d.next = true;
                self.busy_q.d.next = false;
            }
        }
        if self.start.val() & !self.busy_q.q.val() {
            self.busy_q.d.next = true;
            self.e3.d.next = self.eta3.val();
            self.bq.d.next = bits::<192>(0);
            self.nb.d.next = bits::<8>(0);
            self.lanes.d.next = bits::<5>(0);
            self.wv.d.next = false;
            self.oidx.d.next = bits::<5>(0);
        }
        if self.reset.val() {
            self.busy_q.d.next = false;
            self.done_q.d.next = false;
            self.bq.d.next = bits::<192>(0);
            self.nb.d.next = bits::<8>(0);
            self.lanes.d.next = bits::<5>(0);
            self.wv.d.next = false;
            self.oidx.d.next = bits::<5>(0);
        }

        self.in_ready.next = self.rdy.val();
        self.out_valid.next = self.wv.q.val();
        self.out_index.next = self.oidx.q.val();
        self.out_data.next = bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(0))
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(12)) << 24)
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(24)) << 48)
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(36)) << 72)
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(48)) << 96)
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(60)) << 120)
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(72)) << 144)
            | (bit_cast::<192, 12>(self.wq.q.val().get_bits::<12>(84)) << 168);
        self.busy.next = self.busy_q.q.val();
        self.done.next = self.done_q.q.val();
    }
}
