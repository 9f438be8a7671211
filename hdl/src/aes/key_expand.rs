//! [`AesKeyExpand`]: iterative AES-128/AES-256 key expansion (FIPS-197
//! 5.2), one round key per cycle.
//!
//! Two 128-bit registers hold the last two round keys. Round key r + 1 is
//! - AES-128: `rk_r` XOR-chained with `SubWord(RotWord(w)) ^ Rcon` (w the
//!   last word of `rk_r`);
//! - AES-256: for r = 0, the high half of the key; then `rk_(r-1)`
//!   XOR-chained with `SubWord(RotWord(w)) ^ Rcon` when r + 1 is even and
//!   with `SubWord(w)` when it is odd.
//!
//! One 4-lane [`AesSbox`] serves every step. The schedule has no
//! data-dependent branches: the number of cycles depends only on `aes256`.

use super::sbox::AesSbox;
use rust_hdl::prelude::*;

/// Iterative key expansion.
///
/// A `start` pulse (sampled at a rising edge) loads `key` and `aes256`.
/// Round key i is then on `rk` with `rk_valid` high and `rk_index` = i in
/// the (i + 1)-th cycle after the `start` edge, for i = 0..=10 (AES-128)
/// or 0..=14 (AES-256), one per cycle without gaps; `done` pulses in the
/// cycle after the last one (12 or 16 cycles after `start`). The unit then
/// zeroes its key registers (`rk` reads 0 while `rk_valid` is low).
/// A `start` while busy restarts with the new key; `reset` (synchronous)
/// aborts and zeroes.
#[derive(LogicBlock)]
pub struct AesKeyExpand {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Pulse: load `key` and `aes256` and start the expansion.
    pub start: Signal<In, Bit>,
    /// The cipher key, byte 0 at bits 7:0; AES-128 uses bits 127:0.
    pub key: Signal<In, Bits<256>>,
    /// AES-256 when high, AES-128 when low (sampled with `start`).
    pub aes256: Signal<In, Bit>,
    /// `rk` and `rk_index` hold a round key.
    pub rk_valid: Signal<Out, Bit>,
    /// Index of the round key on `rk` (0..=10 or 0..=14).
    pub rk_index: Signal<Out, Bits<4>>,
    /// Round key `rk_index`: FIPS-197 w\[4i..4i+4\], byte 0 at bits 7:0.
    pub rk: Signal<Out, Bits<128>>,
    /// Pulse: the last round key was emitted in the previous cycle.
    pub done: Signal<Out, Bit>,
    /// An expansion is under way (same as `rk_valid`).
    pub busy: Signal<Out, Bit>,

    sub_word: AesSbox<32>,
    run: DFF<Bit>,
    done_q: DFF<Bit>,
    k256: DFF<Bit>,
    idx: DFF<Bits<4>>,
    cur: DFF<Bits<128>>,
    prv: DFF<Bits<128>>,
    rcon: DFF<Bits<8>>,

    rot: Signal<Local, Bit>,
    last: Signal<Local, Bit>,
    temp: Signal<Local, Bits<32>>,
    base: Signal<Local, Bits<128>>,
    n0: Signal<Local, Bits<32>>,
    n1: Signal<Local, Bits<32>>,
    n2: Signal<Local, Bits<32>>,
    n3: Signal<Local, Bits<32>>,
    rcon_next: Signal<Local, Bits<8>>,

    last128: Constant<Bits<4>>,
    last256: Constant<Bits<4>>,
}

impl Default for AesKeyExpand {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            key: Default::default(),
            aes256: Default::default(),
            rk_valid: Default::default(),
            rk_index: Default::default(),
            rk: Default::default(),
            done: Default::default(),
            busy: Default::default(),
            sub_word: AesSbox::forward(),
            run: Default::default(),
            done_q: Default::default(),
            k256: Default::default(),
            idx: Default::default(),
            cur: Default::default(),
            prv: Default::default(),
            rcon: Default::default(),
            rot: Default::default(),
            last: Default::default(),
            temp: Default::default(),
            base: Default::default(),
            n0: Default::default(),
            n1: Default::default(),
            n2: Default::default(),
            n3: Default::default(),
            rcon_next: Default::default(),
            last128: Constant::new(10u64.into()),
            last256: Constant::new(14u64.into()),
        }
    }
}

impl Logic for AesKeyExpand {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, run, done_q, k256, idx, cur, prv, rcon);
        self.rk_valid.next = self.run.q.val();
        self.busy.next = self.run.q.val();
        self.rk_index.next = self.idx.q.val();
        self.rk.next = self.cur.q.val();
        self.done.next = self.done_q.q.val();

        // The next round key, rk(idx + 1).
        self.sub_word.din.next = self.cur.q.val().get_bits::<32>(96);
        self.rot.next = !self.k256.q.val() | self.idx.q.val().get_bit(0);
        self.temp.next = self.sub_word.dout.val();
        if self.rot.val() {
            self.temp.next = ((self.sub_word.dout.val() >> 8) | (self.sub_word.dout.val() << 24))
                ^ bit_cast::<32, 8>(self.rcon.q.val());
        }
        self.base.next = self.cur.q.val();
        if self.k256.q.val() {
            self.base.next = self.prv.q.val();
        }
        self.n0.next = self.base.val().get_bits::<32>(0) ^ self.temp.val();
        self.n1.next = self.base.val().get_bits::<32>(32) ^ self.n0.val();
        self.n2.next = self.base.val().get_bits::<32>(64) ^ self.n1.val();
        self.n3.next = self.base.val().get_bits::<32>(96) ^ self.n2.val();
        self.rcon_next.next = self.rcon.q.val() << 1;
        if self.rcon.q.val().get_bit(7) {
            self.rcon_next.next = (self.rcon.q.val() << 1) ^ bits::<8>(0x1b);
        }
        self.last.next = self.idx.q.val() == self.last128.val();
        if self.k256.q.val() {
            self.last.next = self.idx.q.val() == self.last256.val();
        }

        self.done_q.d.next = false;
        if self.run.q.val() {
            self.idx.d.next = self.idx.q.val() + 1;
            self.prv.d.next = self.cur.q.val();
            self.cur.d.next = bit_cast::<128, 32>(self.n0.val())
                | (bit_cast::<128, 32>(self.n1.val()) << 32)
                | (bit_cast::<128, 32>(self.n2.val()) << 64)
                | (bit_cast::<128, 32>(self.n3.val()) << 96);
            if self.k256.q.val() & (self.idx.q.val() == bits::<4>(0)) {
                // rk1 of AES-256 is the high half of the key.
                self.cur.d.next = self.prv.q.val();
            }
            if self.rot.val() {
                self.rcon.d.next = self.rcon_next.val();
            }
            if self.last.val() {
                self.run.d.next = false;
                self.done_q.d.next = true;
                self.k256.d.next = false;
                self.idx.d.next = bits::<4>(0);
                self.cur.d.next = bits::<128>(0);
                self.prv.d.next = bits::<128>(0);
                self.rcon.d.next = bits::<8>(0);
            }
        }
        if self.start.val() {
            self.run.d.next = true;
            self.done_q.d.next = false;
            self.k256.d.next = self.aes256.val();
            self.idx.d.next = bits::<4>(0);
            self.cur.d.next = self.key.val().get_bits::<128>(0);
            self.prv.d.next = self.key.val().get_bits::<128>(128);
            self.rcon.d.next = bits::<8>(1);
        }
        if self.reset.val() {
            self.run.d.next = false;
            self.done_q.d.next = false;
            self.k256.d.next = false;
            self.idx.d.next = bits::<4>(0);
            self.cur.d.next = bits::<128>(0);
            self.prv.d.next = bits::<128>(0);
            self.rcon.d.next = bits::<8>(0);
        }
    }
}
