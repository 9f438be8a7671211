//! One AES round, combinational: [`AesEncRound`] (cipher, FIPS-197 5.1) and
//! [`AesDecRound`] (straightforward inverse cipher, FIPS-197 5.3).
//!
//! The state is the 16 bytes of a `Bits<128>`, byte i at bits 8i+7..8i,
//! so column c is the 32-bit word at bits 32c+31..32c with row 0 in its
//! low byte. The row and column permutations are then masks and constant
//! shifts of the whole word:
//! - ShiftRows moves row r right by r columns (a right rotation of the
//!   128-bit word by 32r bits of the row-r bytes); InvShiftRows rotates
//!   left.
//! - Within each column, `rotk(s)` (row r takes row r+k mod 4) is a
//!   shift by 8k bits with masks that keep it inside the column.
//! - `xtime` (multiplication by x in GF(2^8)) on all 16 bytes at once:
//!   shift left by one, and XOR 0x1b into the bytes whose top bit was set.
//! - MixColumns: `2s_r + 3s_{r+1} + s_{r+2} + s_{r+3}` is
//!   `t ^ rot1(t ^ s) ^ rot2(s) ^ rot3(s)` with `t = xtime(s)`.
//! - InvMixColumns is MixColumns after the pre-multiplication by
//!   `{05,00,04,00}` (circulant): `p = a ^ xtime(xtime(a ^ rot2(a)))`.
//!
//! Each round holds one 16-lane [`AesSbox`]; the rest is XOR logic. The
//! S-box is fed straight from `state_in` and the `pass` multiplexer sits
//! inside the round, so that the exported Verilog (one `always @(*)` per
//! block) has no false combinational loops for Verilator's scheduler.

use super::{column_mask, sbox::AesSbox};
use rust_hdl::prelude::*;

/// One encryption round: SubBytes, ShiftRows, MixColumns (skipped when
/// `last`), AddRoundKey; or nothing when `pass`. Combinational.
#[derive(LogicBlock)]
pub struct AesEncRound {
    /// State before the round.
    pub state_in: Signal<In, Bits<128>>,
    /// The round key of this round.
    pub round_key: Signal<In, Bits<128>>,
    /// The final round: no MixColumns.
    pub last: Signal<In, Bit>,
    /// Skip the round: `state_out` = `state_in` (the unused stages of a
    /// shorter key size).
    pub pass: Signal<In, Bit>,
    /// State after the round.
    pub state_out: Signal<Out, Bits<128>>,

    sbox: AesSbox<128>,
    sr: Signal<Local, Bits<128>>,
    msb: Signal<Local, Bits<128>>,
    xt: Signal<Local, Bits<128>>,
    mc: Signal<Local, Bits<128>>,

    byte_lsb: Constant<Bits<128>>,
    byte_hi7: Constant<Bits<128>>,
    row1: Constant<Bits<128>>,
    row2: Constant<Bits<128>>,
    lo1: Constant<Bits<128>>,
    lo2: Constant<Bits<128>>,
    lo3: Constant<Bits<128>>,
    hi1: Constant<Bits<128>>,
    hi2: Constant<Bits<128>>,
    hi3: Constant<Bits<128>>,
}

impl Default for AesEncRound {
    fn default() -> Self {
        Self {
            state_in: Default::default(),
            round_key: Default::default(),
            last: Default::default(),
            pass: Default::default(),
            state_out: Default::default(),
            sbox: AesSbox::forward(),
            sr: Default::default(),
            msb: Default::default(),
            xt: Default::default(),
            mc: Default::default(),
            byte_lsb: column_mask(0x0101_0101),
            byte_hi7: column_mask(0xfefe_fefe),
            row1: column_mask(0x0000_ff00),
            row2: column_mask(0x00ff_0000),
            lo1: column_mask(0x0000_00ff),
            lo2: column_mask(0x0000_ffff),
            lo3: column_mask(0x00ff_ffff),
            hi1: column_mask(0xff00_0000),
            hi2: column_mask(0xffff_0000),
            hi3: column_mask(0xffff_ff00),
        }
    }
}

impl Logic for AesEncRound {
    #[hdl_gen]
    fn update(&mut self) {
        // SubBytes.
        self.sbox.din.next = self.state_in.val();
        // ShiftRows: row r of column c comes from column c + r.
        self.sr.next = (self.sbox.dout.val() & self.lo1.val())
            | ((self.sbox.dout.val() & self.row1.val()) >> 32)
            | ((self.sbox.dout.val() & self.row1.val()) << 96)
            | ((self.sbox.dout.val() & self.row2.val()) >> 64)
            | ((self.sbox.dout.val() & self.row2.val()) << 64)
            | ((self.sbox.dout.val() & self.hi1.val()) >> 96)
            | ((self.sbox.dout.val() & self.hi1.val()) << 32);
        // MixColumns.
        self.msb.next = (self.sr.val() >> 7) & self.byte_lsb.val();
        self.xt.next = ((self.sr.val() << 1) & self.byte_hi7.val())
            ^ self.msb.val()
            ^ (self.msb.val() << 1)
            ^ (self.msb.val() << 3)
            ^ (self.msb.val() << 4);
        self.mc.next = self.xt.val()
            ^ (((self.xt.val() ^ self.sr.val()) >> 8) & self.lo3.val())
            ^ (((self.xt.val() ^ self.sr.val()) << 24) & self.hi1.val())
            ^ ((self.sr.val() >> 16) & self.lo2.val())
            ^ ((self.sr.val() << 16) & self.hi2.val())
            ^ ((self.sr.val() >> 24) & self.lo1.val())
            ^ ((self.sr.val() << 8) & self.hi3.val());
        // AddRoundKey.
        self.state_out.next = self.mc.val() ^ self.round_key.val();
        if self.last.val() {
            self.state_out.next = self.sr.val() ^ self.round_key.val();
        }
        if self.pass.val() {
            self.state_out.next = self.state_in.val();
        }
    }
}

/// One round of the straightforward inverse cipher: InvShiftRows,
/// InvSubBytes (computed in the other order; they commute), AddRoundKey, InvMixColumns (skipped when `last`); or nothing when `pass`. It uses
/// the encryption round keys unchanged, in reverse order. Combinational.
#[derive(LogicBlock)]
pub struct AesDecRound {
    /// State before the round.
    pub state_in: Signal<In, Bits<128>>,
    /// The round key of this round (an encryption round key).
    pub round_key: Signal<In, Bits<128>>,
    /// The final round: no InvMixColumns.
    pub last: Signal<In, Bit>,
    /// Skip the round: `state_out` = `state_in` (the unused stages of a
    /// shorter key size).
    pub pass: Signal<In, Bit>,
    /// State after the round.
    pub state_out: Signal<Out, Bits<128>>,

    sbox: AesSbox<128>,
    ark: Signal<Local, Bits<128>>,
    d: Signal<Local, Bits<128>>,
    m1: Signal<Local, Bits<128>>,
    x1: Signal<Local, Bits<128>>,
    m2: Signal<Local, Bits<128>>,
    p: Signal<Local, Bits<128>>,
    m3: Signal<Local, Bits<128>>,
    xt: Signal<Local, Bits<128>>,
    imc: Signal<Local, Bits<128>>,

    byte_lsb: Constant<Bits<128>>,
    byte_hi7: Constant<Bits<128>>,
    row1: Constant<Bits<128>>,
    row2: Constant<Bits<128>>,
    lo1: Constant<Bits<128>>,
    lo2: Constant<Bits<128>>,
    lo3: Constant<Bits<128>>,
    hi1: Constant<Bits<128>>,
    hi2: Constant<Bits<128>>,
    hi3: Constant<Bits<128>>,
}

impl Default for AesDecRound {
    fn default() -> Self {
        Self {
            state_in: Default::default(),
            round_key: Default::default(),
            last: Default::default(),
            pass: Default::default(),
            state_out: Default::default(),
            sbox: AesSbox::inverse(),
            ark: Default::default(),
            d: Default::default(),
            m1: Default::default(),
            x1: Default::default(),
            m2: Default::default(),
            p: Default::default(),
            m3: Default::default(),
            xt: Default::default(),
            imc: Default::default(),
            byte_lsb: column_mask(0x0101_0101),
            byte_hi7: column_mask(0xfefe_fefe),
            row1: column_mask(0x0000_ff00),
            row2: column_mask(0x00ff_0000),
            lo1: column_mask(0x0000_00ff),
            lo2: column_mask(0x0000_ffff),
            lo3: column_mask(0x00ff_ffff),
            hi1: column_mask(0xff00_0000),
            hi2: column_mask(0xffff_0000),
            hi3: column_mask(0xffff_ff00),
        }
    }
}

impl Logic for AesDecRound {
    #[hdl_gen]
    fn update(&mut self) {
        // InvSubBytes, then InvShiftRows (row r of column c comes from
        // column c - r), then AddRoundKey. The two commute; substituting
        // first feeds the S-box straight from the input port, which keeps
        // the exported Verilog free of false combinational loops.
        self.sbox.din.next = self.state_in.val();
        self.ark.next = ((self.sbox.dout.val() & self.lo1.val())
            | ((self.sbox.dout.val() & self.row1.val()) << 32)
            | ((self.sbox.dout.val() & self.row1.val()) >> 96)
            | ((self.sbox.dout.val() & self.row2.val()) << 64)
            | ((self.sbox.dout.val() & self.row2.val()) >> 64)
            | ((self.sbox.dout.val() & self.hi1.val()) << 96)
            | ((self.sbox.dout.val() & self.hi1.val()) >> 32))
            ^ self.round_key.val();
        // InvMixColumns = MixColumns(a ^ 4 (a ^ rot2(a))).
        self.d.next = self.ark.val()
            ^ ((self.ark.val() >> 16) & self.lo2.val())
            ^ ((self.ark.val() << 16) & self.hi2.val());
        self.m1.next = (self.d.val() >> 7) & self.byte_lsb.val();
        self.x1.next = ((self.d.val() << 1) & self.byte_hi7.val())
            ^ self.m1.val()
            ^ (self.m1.val() << 1)
            ^ (self.m1.val() << 3)
            ^ (self.m1.val() << 4);
        self.m2.next = (self.x1.val() >> 7) & self.byte_lsb.val();
        self.p.next = self.ark.val()
            ^ ((self.x1.val() << 1) & self.byte_hi7.val())
            ^ self.m2.val()
            ^ (self.m2.val() << 1)
            ^ (self.m2.val() << 3)
            ^ (self.m2.val() << 4);
        self.m3.next = (self.p.val() >> 7) & self.byte_lsb.val();
        self.xt.next = ((self.p.val() << 1) & self.byte_hi7.val())
            ^ self.m3.val()
            ^ (self.m3.val() << 1)
            ^ (self.m3.val() << 3)
            ^ (self.m3.val() << 4);
        self.imc.next = self.xt.val()
            ^ (((self.xt.val() ^ self.p.val()) >> 8) & self.lo3.val())
            ^ (((self.xt.val() ^ self.p.val()) << 24) & self.hi1.val())
            ^ ((self.p.val() >> 16) & self.lo2.val())
            ^ ((self.p.val() << 16) & self.hi2.val())
            ^ ((self.p.val() >> 24) & self.lo1.val())
            ^ ((self.p.val() << 8) & self.hi3.val());
        self.state_out.next = self.imc.val();
        if self.last.val() {
            self.state_out.next = self.ark.val();
        }
        if self.pass.val() {
            self.state_out.next = self.state_in.val();
        }
    }
}
