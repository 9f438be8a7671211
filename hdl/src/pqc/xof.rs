//! [`XofStream`]: a whole sponge (FIPS 202) around one [`KeccakCore`],
//! with a lane stream in and a lane stream out: the hash functions and
//! XOFs of ML-KEM (G = SHA3-512, H = SHA3-256, J and PRF = SHAKE256, the
//! SampleNTT stream = SHAKE128) and, later, of ML-DSA.
//!
//! # Interface
//!
//! `start` (accepted when `ready`) takes the rate in lanes (`rate`: 21 for
//! SHAKE128, 17 for SHAKE256 and SHA3-256, 9 for SHA3-512; any rate of 2
//! to 21 lanes), the domain byte (`dom`: 0x1F for SHAKE, 0x06 for SHA3)
//! and the message length in bytes (`len`). The message then arrives as
//! `ceil(len / 8)` lanes on `in_valid` / `in_ready` / `in_data` (byte 0 at
//! bits 7..0; bytes of the last lane beyond `len` are ignored). After the
//! padding (`dom` after the message, 0x80 in the last byte of the block)
//! and the final permutation, the output stream runs on `out_valid` /
//! `out_ready` / `out_data`, as many lanes as the consumer takes, permuting
//! again after every `rate` lanes. A new `start` (in the squeeze phase,
//! when `ready`) abandons the output; `stop` ends it and returns to idle.
//!
//! # Timing
//!
//! One lane per cycle in and out; a full block waits for the previous
//! permutation (12 cycles). From the cycle after `start`: the message
//! lanes, two padding cycles, the final permutation (12 cycles), then the
//! output at one lane per cycle with a 12-cycle pause after every `rate`
//! lanes. The schedule depends only on `rate`, `len` and the handshakes,
//! never on the data (keys and seeds pass through here).

use crate::sponge::KeccakCore;
use rust_hdl::prelude::*;

/// A sponge with a lane stream in (the message) and a lane stream out (the
/// output), around one [`KeccakCore`].
#[derive(LogicBlock, Default)]
pub struct XofStream {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: back to idle, state cleared.
    pub reset: Signal<In, Bit>,
    /// Pulse: start a new message (accepted when `ready`).
    pub start: Signal<In, Bit>,
    /// Rate in lanes (2 to 21), sampled with `start`.
    pub rate: Signal<In, Bits<5>>,
    /// Domain byte (FIPS 202: 0x06 for SHA-3, 0x1F for SHAKE), sampled
    /// with `start`.
    pub dom: Signal<In, Bits<8>>,
    /// Message length in bytes, sampled with `start`.
    pub len: Signal<In, Bits<16>>,
    /// A message lane is offered.
    pub in_valid: Signal<In, Bit>,
    /// Message lane, little-endian.
    pub in_data: Signal<In, Bits<64>>,
    /// The lane is taken at this edge if `in_valid`.
    pub in_ready: Signal<Out, Bit>,
    /// An output lane is offered.
    pub out_valid: Signal<Out, Bit>,
    /// Output lane, little-endian.
    pub out_data: Signal<Out, Bits<64>>,
    /// The consumer takes the lane at this edge.
    pub out_ready: Signal<In, Bit>,
    /// Pulse: end the output stream, back to idle.
    pub stop: Signal<In, Bit>,
    /// `start` would be accepted: idle, or squeezing between permutations.
    pub ready: Signal<Out, Bit>,
    /// Sticky until `reset`: the core's busy flag disagreed with this
    /// block's own count of the permutation's cycles (a fault, e.g. an
    /// injected glitch; never set in normal operation).
    pub fault: Signal<Out, Bit>,

    core: KeccakCore,
    // 0 idle, 1 absorb, 2 full block waiting for the core, 3 and 4
    // padding, 5 final permutation waiting for the core, 6 squeeze, 7
    // clearing the core for a new message.
    state: DFF<Bits<3>>,
    rate_r: DFF<Bits<5>>,
    dom_r: DFF<Bits<8>>,
    rem: DFF<Bits<16>>,
    lane: DFF<Bits<5>>,
    pos: DFF<Bits<3>>,
    // Cycles until the permutation started last ends (0: state readable).
    // The outputs follow this count, not the core's busy flag, so that
    // they depend on this block's registers alone (no combinational path
    // from an input through the core to an output).
    perm: DFF<Bits<4>>,
    // The output register and whether it holds a lane.
    olane: DFF<Bits<64>>,
    ov: DFF<Bit>,
    flt: DFF<Bit>,

    last_lane: Signal<Local, Bits<5>>,
    full: Signal<Local, Bit>,
    mask: Signal<Local, Bits<64>>,
    take: Signal<Local, Bit>,
    give: Signal<Local, Bit>,
    can_start: Signal<Local, Bit>,
    absorbing: Signal<Local, Bit>,
    squeezing: Signal<Local, Bit>,
    idle_core: Signal<Local, Bit>,
    kick: Signal<Local, Bit>,
}

impl Logic for XofStream {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state, rate_r, dom_r, rem, lane, pos, perm, olane, ov, flt);
        self.core.clock.next = self.clock.val();
        self.core.reset.next = self.reset.val();
        self.core.init.next = false;
        self.core.buf_we.next = false;
        self.core.buf_idx.next = self.lane.q.val();
        self.core.buf_mask.next = bits::<2>(1);
        self.core.buf_data.next = bits::<128>(0);
        self.core.st_we.next = false;
        self.core.st_idx.next = bits::<5>(0);
        self.core.st_mask.next = bits::<2>(0);
        self.core.st_data.next = bits::<128>(0);
        // Aligned lane pairs from the read port, the half chosen here.
        self.core.rd_idx.next = self.lane.q.val() & bits::<5>(30);

        self.last_lane.next = self.rate_r.q.val() - bits::<5>(1);
        // The lane holds 8 message bytes, or the last 1..7 (masked).
        self.full.next = self.rem.q.val() >= bits::<16>(8);
        self.mask.next =
            !((!(bits::<64>(0))) << (bit_cast::<7, 3>(self.rem.q.val().get_bits::<3>(0)) << 3));
        if self.full.val() {
            self.mask.next = !(bits::<64>(0));
        }
        self.idle_core.next = self.perm.q.val() == bits::<4>(0);
        self.absorbing.next =
            (self.state.q.val() == bits::<3>(1)) & (self.rem.q.val() != bits::<16>(0));
        self.squeezing.next = (self.state.q.val() == bits::<3>(6)) & self.idle_core.val();
        self.can_start.next = (self.state.q.val() == bits::<3>(0)) | self.squeezing.val();
        // The outputs are functions of this block's registers alone,
        // written out here rather than through the locals above, so that
        // Verilator can order them apart from the input-driven logic (no
        // combinational path from an input to an output, which a parent
        // closing the handshake loop would otherwise see as a cycle).
        self.in_ready.next =
            (self.state.q.val() == bits::<3>(1)) & (self.rem.q.val() != bits::<16>(0));
        self.out_valid.next = self.ov.q.val();
        self.out_data.next = self.olane.q.val();
        self.ready.next = (self.state.q.val() == bits::<3>(0))
            | ((self.state.q.val() == bits::<3>(6)) & (self.perm.q.val() == bits::<4>(0)));
        self.take.next = self.absorbing.val() & self.in_valid.val();
        self.give.next = self.ov.q.val() & self.out_ready.val();
        self.kick.next = false;

        if self.state.q.val() == bits::<3>(1) {
            if self.take.val() {
                self.core.buf_we.next = true;
                self.core.buf_data.next = bit_cast::<128, 64>(self.in_data.val() & self.mask.val());
                if self.full.val() {
                    self.rem.d.next = self.rem.q.val() - bits::<16>(8);
                    self.lane.d.next = self.lane.q.val() + 1;
                    if self.lane.q.val() == self.last_lane.val() {
                        self.lane.d.next = bits::<5>(0);
                        self.state.d.next = bits::<3>(2);
                    }
                } else {
                    // The last, partial lane: the padding starts in it.
                    self.rem.d.next = bits::<16>(0);
                }
            }
            if self.rem.q.val() == bits::<16>(0) {
                self.state.d.next = bits::<3>(3);
            }
        }
        // A full block: permute it as soon as the previous one is done.
        if (self.state.q.val() == bits::<3>(2)) & self.idle_core.val() {
            self.kick.next = true;
            self.state.d.next = bits::<3>(1);
        }
        if self.state.q.val() == bits::<3>(3) {
            self.core.buf_we.next = true;
            self.core.buf_data.next =
                bit_cast::<128, 8>(self.dom_r.q.val()) << (bit_cast::<7, 3>(self.pos.q.val()) << 3);
            self.state.d.next = bits::<3>(4);
        }
        if self.state.q.val() == bits::<3>(4) {
            self.core.buf_we.next = true;
            self.core.buf_idx.next = self.last_lane.val();
            self.core.buf_data.next = bits::<128>(0x80) << 56;
            self.state.d.next = bits::<3>(5);
        }
        if (self.state.q.val() == bits::<3>(5)) & self.idle_core.val() {
            self.kick.next = true;
            self.lane.d.next = bits::<5>(0);
            self.state.d.next = bits::<3>(6);
        }
        // Squeeze: the output register takes the next lane of the state
        // whenever it is empty or being emptied; after the block's last
        // lane the core permutes for the next block.
        if self.give.val() {
            self.ov.d.next = false;
        }
        if self.squeezing.val() & (!self.ov.q.val() | self.out_ready.val()) {
            self.ov.d.next = true;
            self.olane.d.next = self.core.rd_data.val().get_bits::<64>(0);
            if self.lane.q.val().get_bit(0) {
                self.olane.d.next = self.core.rd_data.val().get_bits::<64>(64);
            }
            self.lane.d.next = self.lane.q.val() + 1;
            if self.lane.q.val() == self.last_lane.val() {
                self.lane.d.next = bits::<5>(0);
                self.kick.next = true;
            }
        }
        if (self.state.q.val() == bits::<3>(6)) & self.stop.val() {
            self.state.d.next = bits::<3>(0);
            self.ov.d.next = false;
        }
        // A new message: the job inputs go straight into registers (only
        // read under `start`, so that no output depends on an input within
        // a cycle), and the core is cleared in the next cycle.
        if self.start.val() & self.can_start.val() {
            self.state.d.next = bits::<3>(7);
            self.ov.d.next = false;
            self.rate_r.d.next = self.rate.val();
            self.dom_r.d.next = self.dom.val();
            self.rem.d.next = self.len.val();
            self.pos.d.next = self.len.val().get_bits::<3>(0);
        }
        if self.state.q.val() == bits::<3>(7) {
            self.core.init.next = true;
            self.state.d.next = bits::<3>(1);
            self.lane.d.next = bits::<5>(0);
        }
        // The permutation: started here, counted here; the core's own
        // busy flag must agree with the count.
        self.core.start.next = self.kick.val();
        if !self.idle_core.val() {
            self.perm.d.next = self.perm.q.val() - bits::<4>(1);
        }
        if self.kick.val() {
            self.perm.d.next = bits::<4>(11);
        }
        if self.state.q.val() == bits::<3>(7) {
            // `init` aborts the permutation.
            self.perm.d.next = bits::<4>(0);
        }
        if self.core.busy.val() == self.idle_core.val() {
            self.flt.d.next = true;
        }
        self.fault.next = self.flt.q.val();
        if self.reset.val() {
            self.perm.d.next = bits::<4>(0);
            self.ov.d.next = false;
            self.flt.d.next = false;
            self.state.d.next = bits::<3>(0);
            self.rem.d.next = bits::<16>(0);
            self.lane.d.next = bits::<5>(0);
        }
    }
}
