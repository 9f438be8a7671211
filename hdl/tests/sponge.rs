//! The Keccak-f[1600] sponge core against the `keccak` crate, in rust-hdl's
//! simulator; and its Verilog through Verilator's lint.

mod lint;

use hsm_hdl::sponge::KeccakCore;
use rust_hdl::prelude::*;

/// The permutation's latency: `start` at one edge, state readable (busy
/// low) 12 edges later.
const LATENCY: usize = 12;

struct Core {
    uut: Box<KeccakCore>,
}

impl Core {
    fn new() -> Core {
        let mut uut = Box::<KeccakCore>::default();
        uut.connect_all();
        let mut c = Core { uut };
        c.uut.reset.next = true;
        c.tick();
        c.uut.reset.next = false;
        c.tick();
        c
    }

    fn tick(&mut self) {
        self.uut.clock.next = false.into();
        assert!(simulate(&mut *self.uut, 50));
        self.uut.clock.next = true.into();
        assert!(simulate(&mut *self.uut, 50));
        self.uut.buf_we.next = false;
        self.uut.st_we.next = false;
        self.uut.start.next = false;
        self.uut.init.next = false;
    }

    fn write(&mut self, idx: usize, mask: u8, lo: u64, hi: u64) {
        self.uut.buf_we.next = true;
        self.uut.buf_idx.next = (idx as u64).to_bits();
        self.uut.buf_mask.next = (mask as u64).to_bits();
        self.uut.buf_data.next = b128(((hi as u128) << 64) | lo as u128);
    }

    fn lanes(&mut self) -> [u64; 25] {
        let mut out = [0u64; 25];
        for (k, o) in out.iter_mut().enumerate() {
            self.uut.rd_idx.next = (k as u64).to_bits();
            assert!(simulate(&mut *self.uut, 50));
            let v = self.uut.rd_data.val().to_u128();
            *o = v as u64;
            if k < 24 {
                assert_eq!((v >> 64) as u64, self.peek(k + 1));
            } else {
                assert_eq!(v >> 64, 0);
            }
        }
        out
    }

    fn peek(&mut self, k: usize) -> u64 {
        let save = self.uut.rd_idx.val();
        self.uut.rd_idx.next = (k as u64).to_bits();
        assert!(simulate(&mut *self.uut, 50));
        let v = self.uut.rd_data.val().to_u128() as u64;
        self.uut.rd_idx.next = save;
        assert!(simulate(&mut *self.uut, 50));
        v
    }

    /// Start, and count the edges until `busy` falls.
    fn permute(&mut self) -> usize {
        assert!(!self.uut.busy.val());
        self.uut.start.next = true;
        self.tick();
        let mut n = 1;
        while self.uut.busy.val() {
            assert!(n < 40, "busy for ever");
            self.tick();
            n += 1;
        }
        n
    }
}

fn b128(v: u128) -> Bits<128> {
    let lo: Bits<128> = (v as u64).into();
    let hi: Bits<128> = ((v >> 64) as u64).into();
    (hi << 64) | lo
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn permutations_match_the_keccak_crate() {
    let mut c = Core::new();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut sw = [0u64; 25];
    assert_eq!(c.lanes(), sw);
    for round in 0..6 {
        // A random block through random write patterns: pairs, singles,
        // repeated XORs.
        let mut block = [0u64; 21];
        for _ in 0..30 {
            let idx = (rng.next() % 21) as usize;
            let mask = (rng.next() % 4) as u8;
            let (lo, hi) = (rng.next(), rng.next());
            c.write(idx, mask, lo, hi);
            c.tick();
            if mask & 1 != 0 {
                block[idx] ^= lo;
            }
            if mask & 2 != 0 && idx < 20 {
                block[idx + 1] ^= hi;
            }
        }
        for (s, b) in sw.iter_mut().zip(block) {
            *s ^= b;
        }
        keccak::f1600(&mut sw);
        assert_eq!(c.permute(), LATENCY, "round {round}");
        assert_eq!(c.lanes(), sw, "after permutation {round}");
    }
    // Writes while busy, and a write in the start cycle, land in the next
    // block; the block being permuted is the one before.
    c.write(3, 1, 0xdead, 0);
    c.tick();
    sw[3] ^= 0xdead;
    c.uut.start.next = true;
    c.write(5, 3, 7, 9);
    c.tick();
    keccak::f1600(&mut sw);
    for _ in 0..4 {
        c.write(0, 1, 1, 0);
        c.tick();
    }
    while c.uut.busy.val() {
        c.tick();
    }
    assert_eq!(c.lanes(), sw);
    sw[5] ^= 7;
    sw[6] ^= 9;
    keccak::f1600(&mut sw);
    assert_eq!(c.permute(), LATENCY);
    assert_eq!(c.lanes(), sw);
    // A state load, then init clears everything.
    c.uut.st_we.next = true;
    c.uut.st_idx.next = 24u64.to_bits();
    c.uut.st_mask.next = 1u64.to_bits();
    c.uut.st_data.next = b128(0x55);
    c.tick();
    sw[24] = 0x55;
    assert_eq!(c.lanes(), sw);
    c.write(2, 1, 5, 0);
    c.tick();
    c.uut.init.next = true;
    c.tick();
    assert_eq!(c.lanes(), [0; 25]);
    assert_eq!(c.permute(), LATENCY);
    let mut z = [0u64; 25];
    keccak::f1600(&mut z);
    assert_eq!(c.lanes(), z, "init also clears the buffer");
}

#[test]
fn the_core_is_lint_clean() {
    let mut uut = KeccakCore::default();
    uut.connect_all();
    lint::lint("keccak_core", &generate_verilog(&uut));
}
