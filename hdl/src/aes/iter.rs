//! [`Aes256Iter`]: a small iterative AES-256 core, one round per cycle,
//! for the vault's key wrapping (it needs neither speed nor a pipeline's
//! area).

use super::round::{AesDecRound, AesEncRound};
use rust_hdl::prelude::*;

/// Cycles from a `start` edge to `done`: 15 rounds and the initial
/// AddRoundKey.
pub const AES_ITER_CYCLES: usize = 16;

/// Iterative AES-256 encryption or decryption (the straightforward inverse
/// cipher) of one block.
///
/// The round keys live outside (the vault's round-key RAM): the core puts
/// the index of the round key it wants on `rk_index` and reads it on `rk`
/// in the next cycle, as a synchronous RAM returns it. While idle,
/// `rk_index` is the first round key of the direction on `decrypt`, so a
/// `start` pulse (which samples `block_in` and `decrypt`) begins at once.
/// `done` pulses [`AES_ITER_CYCLES`] cycles after the `start` edge, with the
/// result on `block_out` until the next `start`. The schedule never depends
/// on the key or the data.
#[derive(LogicBlock, Default)]
pub struct Aes256Iter {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: start on `block_in`.
    pub start: Signal<In, Bit>,
    /// Decrypt (sampled with `start`, and read while idle for `rk_index`).
    pub decrypt: Signal<In, Bit>,
    /// The input block.
    pub block_in: Signal<In, Bits<128>>,
    /// The round key wanted on `rk` in the next cycle.
    pub rk_index: Signal<Out, Bits<4>>,
    /// The round key asked for in the previous cycle.
    pub rk: Signal<In, Bits<128>>,
    /// Pulse: `block_out` holds the result.
    pub done: Signal<Out, Bit>,
    /// The result.
    pub block_out: Signal<Out, Bits<128>>,
    /// A block is under way.
    pub busy: Signal<Out, Bit>,

    enc: AesEncRound,
    dec: AesDecRound,
    st: DFF<Bits<128>>,
    rnd: DFF<Bits<4>>,
    run: DFF<Bit>,
    dec_q: DFF<Bit>,
    done_q: DFF<Bit>,
}

impl Logic for Aes256Iter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, st, rnd, run, dec_q, done_q);
        self.enc.state_in.next = self.st.q.val();
        self.enc.round_key.next = self.rk.val();
        self.enc.last.next = self.rnd.q.val() == 14;
        self.enc.pass.next = false;
        self.dec.state_in.next = self.st.q.val();
        self.dec.round_key.next = self.rk.val();
        self.dec.last.next = self.rnd.q.val() == 14;
        self.dec.pass.next = false;
        self.done.next = self.done_q.q.val();
        self.block_out.next = self.st.q.val();
        self.busy.next = self.run.q.val();
        self.done_q.d.next = false;

        // Idle: the direction's first round key; running: the next one.
        self.rk_index.next = bits::<4>(0);
        if self.decrypt.val() {
            self.rk_index.next = bits::<4>(14);
        }
        if self.run.q.val() {
            if self.dec_q.q.val() {
                self.rk_index.next = bits::<4>(13) - self.rnd.q.val();
            } else {
                self.rk_index.next = self.rnd.q.val() + 1;
            }
        }

        if self.run.q.val() {
            self.rnd.d.next = self.rnd.q.val() + 1;
            if !self.rnd.q.val().any() {
                self.st.d.next = self.st.q.val() ^ self.rk.val();
            } else if self.dec_q.q.val() {
                self.st.d.next = self.dec.state_out.val();
            } else {
                self.st.d.next = self.enc.state_out.val();
            }
            if self.rnd.q.val() == 14 {
                self.run.d.next = false;
                self.done_q.d.next = true;
            }
        } else if self.start.val() {
            self.st.d.next = self.block_in.val();
            self.dec_q.d.next = self.decrypt.val();
            self.rnd.d.next = bits::<4>(0);
            self.run.d.next = true;
        }
        if self.reset.val() {
            self.run.d.next = false;
            self.done_q.d.next = false;
            self.st.d.next = bits::<128>(0);
        }
    }
}
