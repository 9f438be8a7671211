//! The AES S-box and inverse S-box (FIPS-197 5.1.1 and 5.3.2).
//!
//! The tables are computed at compile time from their definition (the
//! multiplicative inverse in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1,
//! followed by the affine transform), not transcribed, and the inverse
//! table is derived from the forward one.
//!
//! [`AesSbox`] applies the S-box to every byte of a `Bits<N>` word
//! (N = 8, 32 or 128: one S-box, `SubWord`, `SubBytes`). Each byte lane is a
//! 256-entry combinational ROM (a Verilog `case` in a function), which on an
//! FPGA maps to 32 LUT6 (plus the wide multiplexers) per lane and which
//! Verilator compiles into a lookup table. The lanes of one word share one
//! Verilog function, so the exported text grows by a single table per word,
//! not per byte.
//!
//! Constant time: this is pure combinational logic. Every input byte goes
//! through the same gates and the result is registered by the caller at the
//! next clock edge, so no timing depends on the data or the key. (Power and
//! electromagnetic side channels are not addressed here.)

use rust_hdl::prelude::*;

/// Multiplication in GF(2^8) with the AES polynomial 0x11b.
const fn gf_mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut p = 0u8;
    let mut i = 0;
    while i < 8 {
        if b & 1 != 0 {
            p ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
        i += 1;
    }
    p
}

/// Multiplicative inverse in GF(2^8) as x^254 (0 maps to 0).
const fn gf_inv(x: u8) -> u8 {
    let mut r = 1u8;
    let mut i = 0;
    while i < 254 {
        r = gf_mul(r, x);
        i += 1;
    }
    r
}

const fn build_sbox() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = gf_inv(i as u8);
        t[i] = b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63;
        i += 1;
    }
    t
}

const fn build_inv_sbox(s: &[u8; 256]) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[s[i] as usize] = i as u8;
        i += 1;
    }
    t
}

/// The AES S-box, `SBOX[x]` = S(x).
pub const SBOX: [u8; 256] = build_sbox();
/// The inverse AES S-box, `INV_SBOX[S(x)]` = x.
pub const INV_SBOX: [u8; 256] = build_inv_sbox(&SBOX);

/// The AES S-box (or its inverse) on each byte of an N-bit word, purely
/// combinational: byte i of `dout` (bits 8i+7..8i) is S(byte i of `din`).
/// N must be a multiple of 8, at most 128.
#[derive(LogicBlock)]
pub struct AesSbox<const N: usize> {
    /// Input bytes.
    pub din: Signal<In, Bits<N>>,
    /// Substituted bytes.
    pub dout: Signal<Out, Bits<N>>,
    _table: &'static [u8; 256],
}

impl<const N: usize> AesSbox<N> {
    fn with_table(table: &'static [u8; 256]) -> Self {
        assert!(
            N.is_multiple_of(8) && (8..=128).contains(&N),
            "AesSbox width {N} is not 8..=128 bits in whole bytes"
        );
        Self {
            din: Default::default(),
            dout: Default::default(),
            _table: table,
        }
    }

    /// The forward S-box (`SubBytes`, `SubWord`).
    pub fn forward() -> Self {
        Self::with_table(&SBOX)
    }

    /// The inverse S-box (`InvSubBytes`).
    pub fn inverse() -> Self {
        Self::with_table(&INV_SBOX)
    }
}

impl<const N: usize> Default for AesSbox<N> {
    /// The forward S-box.
    fn default() -> Self {
        Self::forward()
    }
}

impl<const N: usize> Logic for AesSbox<N> {
    fn update(&mut self) {
        let x = self.din.val().to_u128();
        let mut y = 0u128;
        for i in 0..N / 8 {
            let b = ((x >> (8 * i)) & 0xff) as usize;
            y |= (self._table[b] as u128) << (8 * i);
        }
        let mut out = Bits::<N>::from(y as u64);
        if N > 64 {
            out = out | (Bits::<N>::from((y >> 64) as u64) << 64);
        }
        self.dout.next = out;
    }

    fn connect(&mut self) {
        self.dout.connect();
    }

    fn hdl(&self) -> Verilog {
        // A 256-entry table indexed by each input byte: Verilator turns it
        // into an array lookup (a `case` would be expanded at every use), and
        // FPGA tools map it to LUTs or ROM the same way.
        let init = self
            ._table
            .iter()
            .enumerate()
            .map(|(i, v)| format!("    sbox_t[{i}] = 8'h{v:02x};"))
            .collect::<Vec<_>>()
            .join("\n");
        let lanes = (0..N / 8)
            .rev()
            .map(|i| format!("sbox_t[din[{}:{}]]", 8 * i + 7, 8 * i))
            .collect::<Vec<_>>()
            .join(", ");
        Verilog::Custom(format!(
            "\
reg [7:0] sbox_t [0:255];
initial begin
{init}
end
always @(*) dout = {{{lanes}}};
"
        ))
    }
}
