//! Tests of the ML-KEM polynomial codecs (`hsm_hdl::pqc::codec`):
//! references written here from the FIPS 203 pseudo-code (ByteEncode_d,
//! ByteDecode_d, Compress_d, Decompress_d with exact rational rounding);
//! the codecs' arithmetic checked exhaustively against them; both blocks in
//! rust-hdl's simulator with random stalls on both ports; their Verilog in
//! Verilator on thousands of polynomials per mode; and Verilator lint.

mod lint;
mod rng;
mod verilate;
use hsm_hdl::pqc::codec::{
    codec_cycles, compress_model, decompress_model, PolyDecoder, PolyEncoder, CODEC_WIDTHS,
    COMPRESS_MUL, COMPRESS_SHIFT,
};
use lint::lint;
use rng::Rng;
use rust_hdl::prelude::*;

const Q: u32 = 3329;

// ---------------------------------------------------------------------
// References, from FIPS 203.

/// round(n / m) for n >= 0, m > 0, with exact rational arithmetic:
/// floor(n/m + 1/2) (FIPS 203 section 2.3: halves round up).
fn round_div(n: u64, m: u64) -> u64 {
    (2 * n + m) / (2 * m)
}

/// FIPS 203 eq. 4.7: Compress_d(x) = round((2^d / q) * x) mod 2^d.
fn ref_compress(x: u32, d: u32) -> u32 {
    (round_div((x as u64) << d, Q as u64) % (1 << d)) as u32
}

/// FIPS 203 eq. 4.8: Decompress_d(y) = round((q / 2^d) * y).
fn ref_decompress(y: u32, d: u32) -> u32 {
    round_div(Q as u64 * y as u64, 1 << d) as u32
}

/// FIPS 203 Algorithm 3, BitsToBytes.
fn bits_to_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; b.len() / 8];
    for (i, &bit) in b.iter().enumerate() {
        out[i / 8] += bit << (i % 8);
    }
    out
}

/// FIPS 203 Algorithm 4, BytesToBits.
fn bytes_to_bits(bytes: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for &byte in bytes {
        let mut c = byte;
        for _ in 0..8 {
            b.push(c % 2);
            c /= 2;
        }
    }
    b
}

/// FIPS 203 Algorithm 5, ByteEncode_d (`f[i] < 2^d`, or `< q` for d = 12).
fn byte_encode(f: &[u32], d: u32) -> Vec<u8> {
    let d = d as usize;
    let mut b = vec![0u8; 256 * d];
    for (i, &x) in f.iter().enumerate() {
        let mut a = x;
        for j in 0..d {
            b[i * d + j] = (a % 2) as u8;
            a = (a - b[i * d + j] as u32) / 2;
        }
    }
    bits_to_bytes(&b)
}

/// FIPS 203 Algorithm 6, ByteDecode_d (mod 2^d, or mod q for d = 12), and
/// (second result) the values before the reduction mod q.
fn byte_decode(bytes: &[u8], d: u32) -> (Vec<u32>, Vec<u32>) {
    let m = if d < 12 { 1 << d } else { Q };
    let d = d as usize;
    let b = bytes_to_bits(bytes);
    let raw: Vec<u32> = (0..256)
        .map(|i| (0..d).map(|j| (b[i * d + j] as u32) << j).sum())
        .collect();
    (raw.iter().map(|&v| v % m).collect(), raw)
}

fn bytes_to_lanes(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn lanes_to_bytes(lanes: &[u64]) -> Vec<u8> {
    lanes.iter().flat_map(|l| l.to_le_bytes()).collect()
}

/// What the encoder must output for 24-bit input lanes `f`: Compress_d
/// then ByteEncode_d; and whether `range_err` must rise. Out-of-range
/// inputs (not produced by FIPS 203) are modelled as documented: the low
/// 12 bits compressed, or the low d bits.
fn ref_encoder(f: &[u32], d: u32, compress: bool) -> (Vec<u64>, bool) {
    let compress = compress && d < 12;
    let bound = if compress || d == 12 { Q } else { 1 << d };
    let err = f.iter().any(|&x| x >= bound);
    let g: Vec<u32> = f
        .iter()
        .map(|&x| {
            if !compress {
                x & ((1 << d) - 1)
            } else if x < Q {
                ref_compress(x, d)
            } else {
                compress_model(x & 0xfff, d)
            }
        })
        .collect();
    (bytes_to_lanes(&byte_encode(&g, d)), err)
}

/// What the decoder must output for the lanes: ByteDecode_d then
/// Decompress_d; and whether `range_err` must rise.
fn ref_decoder(lanes: &[u64], d: u32, decompress: bool) -> (Vec<u32>, bool) {
    let (f, raw) = byte_decode(&lanes_to_bytes(lanes), d);
    let err = d == 12 && raw.iter().any(|&v| v >= Q);
    if decompress && d < 12 {
        (f.iter().map(|&y| ref_decompress(y, d)).collect(), err)
    } else {
        (f, err)
    }
}

/// A reduced coefficient, biased towards the edges 0, 1, q-1 and q/2.
fn coeff(rng: &mut Rng) -> u32 {
    match rng.below(8) {
        0 => 0,
        1 => Q - 1,
        2 => [1, 2, Q / 2, Q / 2 + 1, Q - 2][rng.below(5) as usize],
        _ => rng.below(Q as u64) as u32,
    }
}

/// A d-bit value, biased towards 0, 1, 2^d - 1 and 2^(d-1).
fn dbits(rng: &mut Rng, d: u32) -> u32 {
    let m = 1u32 << d;
    match rng.below(8) {
        0 => 0,
        1 => m - 1,
        2 => [1, m / 2, m / 2 - 1, m - 2][rng.below(4) as usize] % m,
        _ => rng.below(m as u64) as u32,
    }
}

/// Valid encoder input for a mode: reduced, or d-bit without compression.
fn enc_input(rng: &mut Rng, d: u32, compress: bool) -> Vec<u32> {
    (0..256)
        .map(|_| {
            if compress || d == 12 {
                coeff(rng)
            } else {
                dbits(rng, d)
            }
        })
        .collect()
}

/// Decoder input for a mode: an encoding of edge-biased values; for
/// d = 12, often with values >= q (3329, 4095 and random ones).
fn dec_input(rng: &mut Rng, d: u32) -> Vec<u64> {
    let f: Vec<u32> = if d == 12 {
        let bad = rng.below(2) == 0;
        (0..256)
            .map(|_| match rng.below(if bad { 40 } else { 1 }) {
                1 => Q,
                2 => 4095,
                3 => Q + rng.below((4096 - Q) as u64) as u32,
                _ => coeff(rng),
            })
            .collect()
    } else {
        (0..256).map(|_| dbits(rng, d)).collect()
    };
    bytes_to_lanes(&byte_encode(&f, d))
}

/// The modes: every supported d, with and without (de)compression.
fn modes() -> Vec<(u32, bool)> {
    let mut v = Vec::new();
    for d in CODEC_WIDTHS {
        v.push((d, true));
        v.push((d, false));
    }
    v
}

#[test]
fn references_agree_with_fips_203() {
    // ByteEncode_d / ByteDecode_d are inverse, and pack LSB-first.
    let mut rng = Rng::new(1);
    for d in CODEC_WIDTHS {
        let f = enc_input(&mut rng, d, d == 12);
        let b = byte_encode(&f, d);
        assert_eq!(b.len(), 32 * d as usize);
        assert_eq!(byte_decode(&b, d).0, f);
    }
    let mut f = vec![0; 256];
    f[0] = 1;
    f[9] = 1;
    assert_eq!(&byte_encode(&f, 1)[..2], &[0x01, 0x02]);
    f[0] = 0xabc;
    f[1] = 0x123;
    assert_eq!(&byte_encode(&f, 12)[..3], &[0xbc, 0x3a, 0x12]);
    // ByteDecode_12 reduces mod q.
    let mut b = vec![0u8; 384];
    b[0] = 0xff;
    b[1] = 0x0f;
    assert_eq!(byte_decode(&b, 12).0[0], 4095 - Q);
    // Compress/Decompress: the known edges, and Compress(Decompress(y)) = y
    // (FIPS 203 section 4.2.1).
    assert_eq!(ref_compress(Q / 2, 1), 1);
    assert_eq!(ref_compress(832, 1), 0);
    assert_eq!(ref_compress(833, 1), 1);
    assert_eq!(ref_compress(Q - 1, 4), 0);
    assert_eq!(ref_decompress(1, 1), 1665);
    for d in [1, 4, 5, 10, 11] {
        for y in 0..1 << d {
            assert_eq!(ref_compress(ref_decompress(y, d), d), y);
        }
    }
}

#[test]
fn compress_and_decompress_arithmetic_is_exact_for_every_input() {
    assert_eq!(COMPRESS_MUL, (1u64 << COMPRESS_SHIFT).div_ceil(Q as u64));
    for d in [1, 4, 5, 10, 11] {
        for x in 0..Q {
            assert_eq!(compress_model(x, d), ref_compress(x, d), "d {d} x {x}");
        }
        for y in 0..1 << d {
            assert_eq!(decompress_model(y, d), ref_decompress(y, d), "d {d} y {y}");
        }
    }
}

// ---------------------------------------------------------------------
// rust-hdl simulation.

fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 100), "logic did not settle");
}

fn word_bits(c: &[u32]) -> Bits<192> {
    let mut w = Bits::<192>::default();
    for l in (0..8).rev() {
        w = (w << 24) | bit_cast::<192, 24>(bits::<24>(c[l] as u64));
    }
    w
}

fn word_coeffs(w: Bits<192>) -> Vec<u32> {
    (0..8)
        .map(|l| w.get_bits::<24>(24 * l).to_u64() as u32)
        .collect()
}

fn garbage192(rng: &mut Rng) -> Bits<192> {
    (0..3).fold(Bits::<192>::default(), |w, _| {
        (w << 64) | bit_cast::<192, 64>(bits::<64>(rng.u64()))
    })
}

/// What a job did: the data out, `range_err` after `done`, cycles from
/// `start` to `done`, and the handshake trace (`in_ready` and `out_valid`
/// each cycle), which must not depend on data.
struct Job<T> {
    out: Vec<T>,
    err: bool,
    cycles: usize,
    trace: Vec<u8>,
}

/// Port access common to both blocks, for one driver.
trait Codec: Block {
    type In: Clone;
    type Out;
    fn set(&mut self, clock: bool);
    fn begin(&mut self, start: bool, d: u32, flag: bool);
    fn feed(&mut self, valid: bool, data: Option<&Self::In>, rng: &mut Rng);
    fn drain(&mut self, ready: bool);
    fn in_ready(&self) -> bool;
    fn out_valid(&self) -> bool;
    fn out(&self) -> Self::Out;
    fn status(&self) -> (bool, bool, bool);
    fn reset(&mut self, on: bool);
}

impl Codec for PolyEncoder {
    type In = Vec<u32>;
    type Out = u64;
    fn set(&mut self, clock: bool) {
        self.clock.next = clock.into();
    }
    fn begin(&mut self, start: bool, d: u32, flag: bool) {
        self.start.next = start;
        self.d.next = bits(d as u64);
        self.compress.next = flag;
    }
    fn feed(&mut self, valid: bool, data: Option<&Vec<u32>>, rng: &mut Rng) {
        self.in_valid.next = valid;
        self.in_data.next = match data {
            Some(c) => word_bits(c),
            None => garbage192(rng),
        };
    }
    fn drain(&mut self, ready: bool) {
        self.out_ready.next = ready;
    }
    fn in_ready(&self) -> bool {
        self.in_ready.val()
    }
    fn out_valid(&self) -> bool {
        self.out_valid.val()
    }
    fn out(&self) -> u64 {
        self.out_data.val().to_u64()
    }
    fn status(&self) -> (bool, bool, bool) {
        (self.busy.val(), self.done.val(), self.range_err.val())
    }
    fn reset(&mut self, on: bool) {
        self.reset.next = on;
    }
}

impl Codec for PolyDecoder {
    type In = u64;
    type Out = Vec<u32>;
    fn set(&mut self, clock: bool) {
        self.clock.next = clock.into();
    }
    fn begin(&mut self, start: bool, d: u32, flag: bool) {
        self.start.next = start;
        self.d.next = bits(d as u64);
        self.decompress.next = flag;
    }
    fn feed(&mut self, valid: bool, data: Option<&u64>, rng: &mut Rng) {
        self.in_valid.next = valid;
        self.in_data.next = bits(data.copied().unwrap_or_else(|| rng.u64()));
    }
    fn drain(&mut self, ready: bool) {
        self.out_ready.next = ready;
    }
    fn in_ready(&self) -> bool {
        self.in_ready.val()
    }
    fn out_valid(&self) -> bool {
        self.out_valid.val()
    }
    fn out(&self) -> Vec<u32> {
        word_coeffs(self.out_data.val())
    }
    fn status(&self) -> (bool, bool, bool) {
        (self.busy.val(), self.done.val(), self.range_err.val())
    }
    fn reset(&mut self, on: bool) {
        self.reset.next = on;
    }
}

fn tick<B: Codec>(uut: &mut B) {
    uut.set(false);
    settle(uut);
    uut.set(true);
    settle(uut);
}

fn new_block<B: Codec + Default>() -> Box<B> {
    let mut uut = Box::<B>::default();
    uut.connect_all();
    uut.reset(true);
    tick(&mut *uut);
    uut.reset(false);
    tick(&mut *uut);
    uut
}

/// Runs one job: `start` with `d` and `flag`, then offers `input` items
/// and takes outputs, each side stalling at random (about one cycle in
/// three) when `stall` is a seed, never when it is `None`. Checks the
/// protocol: `busy` from start to `done`, `done` one pulse, nothing
/// offered while idle, every item taken, `range_err` cleared by `start`.
fn run<B: Codec>(
    uut: &mut B,
    d: u32,
    flag: bool,
    input: &[B::In],
    stall: Option<u64>,
) -> Job<B::Out> {
    let mut srng = Rng::new(stall.unwrap_or(0));
    let mut grng = Rng::new(input.len() as u64 + 77);
    let stalls = stall.is_some();
    assert!(!uut.status().0);
    uut.begin(true, d, flag);
    uut.feed(false, None, &mut grng);
    uut.drain(false);
    tick(uut);
    uut.begin(false, 0, false);
    let (mut next, mut out, mut trace) = (0, Vec::new(), Vec::new());
    let mut cycles = 1;
    assert!(!uut.status().2, "range_err cleared by start");
    while !uut.status().1 {
        assert!(uut.status().0, "busy until done");
        let valid = next < input.len() && !(stalls && srng.below(3) == 0);
        let data = if valid { Some(&input[next]) } else { None };
        uut.feed(valid, data, &mut grng);
        let ready = !(stalls && srng.below(3) == 0);
        uut.drain(ready);
        trace.push(uut.in_ready() as u8 | (uut.out_valid() as u8) << 1);
        if valid && uut.in_ready() {
            next += 1;
        }
        if ready && uut.out_valid() {
            out.push(uut.out());
        }
        tick(uut);
        cycles += 1;
        assert!(cycles < 2000, "no done");
    }
    let err = uut.status().2;
    assert!(!uut.status().0, "busy falls with done");
    assert_eq!(next, input.len(), "every input item taken");
    assert!(!uut.in_ready() && !uut.out_valid());
    uut.feed(true, None, &mut grng);
    uut.drain(true);
    tick(uut);
    assert!(!uut.status().1, "done is a pulse");
    assert_eq!(uut.status().2, err, "range_err is sticky");
    assert!(!uut.in_ready() && !uut.out_valid());
    Job {
        out,
        err,
        cycles,
        trace,
    }
}

fn words_of(f: &[u32]) -> Vec<Vec<u32>> {
    f.chunks(8).map(|c| c.to_vec()).collect()
}

fn check_encoder_job(
    uut: &mut PolyEncoder,
    d: u32,
    c: bool,
    f: &[u32],
    stall: Option<u64>,
) -> Job<u64> {
    let job = run(uut, d, c, &words_of(f), stall);
    let (want, err) = ref_encoder(f, d, c);
    assert_eq!(job.out, want, "encoder d {d} compress {c}");
    assert_eq!(job.err, err, "encoder range_err d {d} compress {c}");
    job
}

fn check_decoder_job(
    uut: &mut PolyDecoder,
    d: u32,
    c: bool,
    lanes: &[u64],
    stall: Option<u64>,
) -> Job<Vec<u32>> {
    let job = run(uut, d, c, lanes, stall);
    let (want, err) = ref_decoder(lanes, d, c);
    assert_eq!(job.out.concat(), want, "decoder d {d} decompress {c}");
    assert_eq!(job.err, err, "decoder range_err d {d} decompress {c}");
    job
}

#[test]
fn encoder_simulation_matches_the_reference_with_stalls() {
    let mut uut = new_block::<PolyEncoder>();
    let mut rng = Rng::new(10);
    for (n, (d, c)) in modes().into_iter().enumerate() {
        let f = enc_input(&mut rng, d, c);
        let free = check_encoder_job(&mut uut, d, c, &f, None);
        assert_eq!(free.cycles, codec_cycles(d), "d {d}: cycles without stalls");
        // The same stalls with other data (all maximal, then random): the
        // same handshake trace and cycle count.
        let edge = vec![if c || d == 12 { Q - 1 } else { (1 << d) - 1 }; 256];
        let a = check_encoder_job(&mut uut, d, c, &edge, Some(100 + n as u64));
        let g = enc_input(&mut rng, d, c);
        let b = check_encoder_job(&mut uut, d, c, &g, Some(100 + n as u64));
        assert_eq!(a.trace, b.trace, "d {d}: timing depends on data");
        assert_eq!(a.cycles, b.cycles);
        assert!(a.cycles > free.cycles);
    }
}

#[test]
fn decoder_simulation_matches_the_reference_with_stalls() {
    let mut uut = new_block::<PolyDecoder>();
    let mut rng = Rng::new(11);
    for (n, (d, c)) in modes().into_iter().enumerate() {
        let lanes = dec_input(&mut rng, d);
        let free = check_decoder_job(&mut uut, d, c, &lanes, None);
        assert_eq!(free.cycles, codec_cycles(d), "d {d}: cycles without stalls");
        let ones = vec![u64::MAX; 4 * d as usize];
        let a = check_decoder_job(&mut uut, d, c, &ones, Some(200 + n as u64));
        let zeros = vec![0; 4 * d as usize];
        let b = check_decoder_job(&mut uut, d, c, &zeros, Some(200 + n as u64));
        assert_eq!(a.trace, b.trace, "d {d}: timing depends on data");
        assert_eq!(a.cycles, b.cycles);
        assert_eq!(a.err, d == 12);
        assert!(!b.err);
    }
}

#[test]
fn range_errors_reset_start_while_busy_and_bad_widths() {
    // Encoder: one coefficient out of range sets range_err (sticky), the
    // next clean job clears it.
    let mut enc = new_block::<PolyEncoder>();
    let mut rng = Rng::new(12);
    for (d, c, bad) in [
        (12, false, Q),
        (10, true, 0x80_0000),
        (4, false, 16),
        (1, true, 4095),
    ] {
        let mut f = enc_input(&mut rng, d, c);
        f[200] = bad;
        assert!(check_encoder_job(&mut enc, d, c, &f, Some(5)).err);
        let f = enc_input(&mut rng, d, c);
        assert!(!check_encoder_job(&mut enc, d, c, &f, None).err);
    }
    // Decoder d = 12: range_err rises with the first word holding a value
    // >= q (word 5 here) and that value comes out reduced.
    let mut dec = new_block::<PolyDecoder>();
    let mut f: Vec<u32> = (0..256).map(|_| coeff(&mut rng)).collect();
    f[45] = 4000;
    let lanes = bytes_to_lanes(&byte_encode(&f, 12));
    dec.begin(true, 12, false);
    tick(&mut *dec);
    dec.begin(false, 0, false);
    dec.drain(true);
    let (mut next, mut words) = (0, 0);
    while !dec.status().1 {
        dec.feed(next < lanes.len(), lanes.get(next), &mut rng);
        if next < lanes.len() && dec.in_ready() {
            next += 1;
        }
        if dec.out_valid() {
            assert_eq!(dec.status().2, words >= 5, "range_err with word {words}");
            if words == 5 {
                assert_eq!(dec.out()[5], 4000 - Q);
            }
            words += 1;
        }
        tick(&mut *dec);
    }
    assert!(dec.status().2);

    // start while busy is ignored; reset abandons a job at once.
    for d in [1, 11] {
        let f = enc_input(&mut rng, d, true);
        enc.begin(true, d, true);
        tick(&mut *enc);
        for _ in 0..5 {
            enc.begin(true, 12, false);
            enc.feed(true, Some(&vec![0; 8]), &mut rng);
            enc.drain(true);
            tick(&mut *enc);
        }
        enc.reset(true);
        enc.begin(false, 0, false);
        tick(&mut *enc);
        enc.reset(false);
        let (busy, done, err) = enc.status();
        assert!(!busy && !done && !err && !enc.in_ready() && !enc.out_valid());
        check_encoder_job(&mut enc, d, true, &f, Some(d as u64));
        let lanes = dec_input(&mut rng, d);
        dec.begin(true, d, true);
        tick(&mut *dec);
        for _ in 0..7 {
            dec.begin(true, 4, false);
            dec.feed(true, Some(&0), &mut rng);
            dec.drain(true);
            tick(&mut *dec);
        }
        dec.reset(true);
        dec.begin(false, 0, false);
        tick(&mut *dec);
        dec.reset(false);
        let (busy, done, err) = dec.status();
        assert!(!busy && !done && !err && !dec.in_ready() && !dec.out_valid());
        check_decoder_job(&mut dec, d, true, &lanes, Some(d as u64));
    }
    // A job started while another runs must be ignored: its d would change
    // the output length.
    let f = enc_input(&mut rng, 5, true);
    enc.begin(true, 5, true);
    tick(&mut *enc);
    enc.begin(true, 12, false);
    tick(&mut *enc);
    enc.begin(false, 0, false);
    let mut lanes_out = 0;
    let mut next = 0;
    let words = words_of(&f);
    enc.drain(true);
    while !enc.status().1 {
        enc.feed(next < 32, words.get(next), &mut rng);
        if next < 32 && enc.in_ready() {
            next += 1;
        }
        lanes_out += enc.out_valid() as usize;
        tick(&mut *enc);
    }
    assert_eq!(lanes_out, 20);

    // Unsupported widths: done in the next cycle, never busy, no transfer.
    for d in [0, 2, 3, 6, 7, 8, 9, 13, 15] {
        enc.begin(true, d, true);
        tick(&mut *enc);
        enc.begin(false, 0, false);
        let (busy, done, _) = enc.status();
        assert!(
            !busy && done && !enc.in_ready() && !enc.out_valid(),
            "d {d}"
        );
        tick(&mut *enc);
        assert!(!enc.status().1);
        dec.begin(true, d, false);
        tick(&mut *dec);
        dec.begin(false, 0, false);
        let (busy, done, _) = dec.status();
        assert!(
            !busy && done && !dec.in_ready() && !dec.out_valid(),
            "d {d}"
        );
        tick(&mut *dec);
        assert!(!dec.status().1);
    }
}

#[test]
fn verilog_is_lint_clean() {
    let mut e = PolyEncoder::default();
    e.connect_all();
    lint("pqc_poly_encoder", &generate_verilog(&e));
    let mut d = PolyDecoder::default();
    d.connect_all();
    lint("pqc_poly_decoder", &generate_verilog(&d));
}

// ---------------------------------------------------------------------
// Verilator.

/// Shared harness part: clocking and the stall generator. A job line is
/// `J d flag seed` and its input items; seed 0 means no stalls, any other
/// seeds an xorshift that stalls each side about one cycle in three. The
/// reply is `O cycles range_err` and the output items. The harness reads
/// all jobs before running any (`Model::run` writes all stimulus before it
/// reads), so large runs cannot fill both pipes and deadlock.
const HARNESS_COMMON: &str = r#"
#include "Vtop.h"
#include "verilated.h"
#include <cstdio>
#include <cstdint>
#include <vector>
static Vtop* t;
static void tick() {
    t->clock = 0;
    t->eval();
    t->clock = 1;
    t->eval();
}
struct Job {
    unsigned d, flag;
    unsigned long long seed;
    std::vector<unsigned long long> in;
};
static uint64_t rs;
static bool stall() {
    if (rs == 0) return false;
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs % 3 == 0;
}
"#;

/// Encoder: items in are 256 coefficients (decimal), out are lanes (hex).
const ENC_MAIN: &str = r#"
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    t = new Vtop;
    t->reset = 1;
    tick();
    t->reset = 0;
    tick();
    // All stimulus first: the test writes it all before reading replies.
    std::vector<Job> jobs;
    Job j;
    char op[4];
    while (std::scanf("%3s %u %u %llu", op, &j.d, &j.flag, &j.seed) == 4) {
        j.in.resize(256);
        for (auto& x : j.in)
            if (std::scanf("%llu", &x) != 1) return 1;
        jobs.push_back(j);
    }
    for (const Job& job : jobs) {
        const unsigned d = job.d, flag = job.flag;
        const std::vector<unsigned long long>& c = job.in;
        rs = job.seed;
        t->d = d;
        t->compress = flag;
        t->start = 1;
        tick();
        t->start = 0;
        int n = 1, next = 0;
        std::vector<unsigned long long> out;
        while (!t->done && n < 2000) {
            bool v = next < 32 && !stall();
            for (int w = 0; w < 6; w++) t->in_data[w] = 0;
            if (v) {
                for (int l = 0; l < 8; l++) {
                    unsigned long long x = c[8 * next + l];
                    int bit = 24 * l;
                    t->in_data[bit / 32] |= (unsigned)(x << (bit % 32));
                    if (bit % 32 > 8) t->in_data[bit / 32 + 1] |= (unsigned)(x >> (32 - bit % 32));
                }
            }
            t->in_valid = v;
            bool r = !stall();
            t->out_ready = r;
            if (v && t->in_ready) next++;
            if (r && t->out_valid) out.push_back(t->out_data);
            tick();
            n++;
        }
        std::printf("O %d %d", n, (int)t->range_err);
        for (auto x : out) std::printf(" %016llx", x);
        std::printf("\n");
        t->in_valid = 0;
        tick();
    }
    t->final();
    delete t;
    return 0;
}
"#;

/// Decoder: items in are 4d lanes (hex), out are 256 coefficients.
const DEC_MAIN: &str = r#"
int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    t = new Vtop;
    t->reset = 1;
    tick();
    t->reset = 0;
    tick();
    // All stimulus first: the test writes it all before reading replies.
    std::vector<Job> jobs;
    Job j;
    char op[4];
    while (std::scanf("%3s %u %u %llu", op, &j.d, &j.flag, &j.seed) == 4) {
        j.in.resize(4 * j.d);
        for (auto& x : j.in)
            if (std::scanf("%llx", &x) != 1) return 1;
        jobs.push_back(j);
    }
    for (const Job& job : jobs) {
        const unsigned d = job.d, flag = job.flag;
        const std::vector<unsigned long long>& in = job.in;
        rs = job.seed;
        t->d = d;
        t->decompress = flag;
        t->start = 1;
        tick();
        t->start = 0;
        int n = 1;
        unsigned next = 0;
        std::vector<unsigned> out;
        while (!t->done && n < 2000) {
            bool v = next < in.size() && !stall();
            t->in_data = v ? in[next] : 0;
            t->in_valid = v;
            bool r = !stall();
            t->out_ready = r;
            if (v && t->in_ready) next++;
            if (r && t->out_valid) {
                for (int l = 0; l < 8; l++) {
                    int bit = 24 * l;
                    unsigned long long x = t->out_data[bit / 32] >> (bit % 32);
                    if (bit % 32 > 8) x |= (unsigned long long)t->out_data[bit / 32 + 1] << (32 - bit % 32);
                    out.push_back((unsigned)(x & 0xffffff));
                }
            }
            tick();
            n++;
        }
        std::printf("O %d %d", n, (int)t->range_err);
        for (auto x : out) std::printf(" %u", x);
        std::printf("\n");
        t->in_valid = 0;
        tick();
    }
    t->final();
    delete t;
    return 0;
}
"#;

/// Polynomials per mode in the Verilator runs (besides the sweeps).
const VERILATOR_POLYS: usize = 1000;

/// Stall seed of random job `k`: half the jobs run without stalls (their
/// cycle count must be `codec_cycles`), the others in pairs sharing a seed
/// (their cycle counts must agree: timing independent of data).
fn stall_seed(k: usize) -> u64 {
    if k % 4 < 2 {
        0
    } else {
        (k / 2) as u64 + 1
    }
}

/// Checks one mode's replies: data and range_err against `want`, cycles
/// against `codec_cycles` or the job's pair.
fn check_replies(lines: &[String], want: &[(u64, String)], d: u32, what: &str) {
    assert_eq!(lines.len(), want.len(), "{what}: replies");
    let mut pair_cycles = std::collections::HashMap::new();
    for (n, (line, (seed, body))) in lines.iter().zip(want).enumerate() {
        let mut it = line.splitn(3, ' ');
        assert_eq!(it.next(), Some("O"));
        let cycles: usize = it.next().unwrap().parse().unwrap();
        let rest = it.next().unwrap_or("");
        assert_eq!(rest, body, "{what} job {n}");
        if *seed == 0 {
            assert_eq!(cycles, codec_cycles(d), "{what} job {n}: cycles");
        } else {
            let c = *pair_cycles.entry(*seed).or_insert(cycles);
            assert_eq!(cycles, c, "{what} job {n}: cycles depend on data");
        }
    }
}

#[test]
fn encoder_verilog_matches_the_reference_on_many_polynomials() {
    let mut e = PolyEncoder::default();
    e.connect_all();
    let model = verilate::Model::build(
        "pqc-codec-enc",
        &generate_verilog(&e),
        &(HARNESS_COMMON.to_string() + ENC_MAIN),
    );
    let mut rng = Rng::new(20);
    for (d, c) in modes() {
        let what = format!("encoder d {d} compress {c}");
        let mut polys: Vec<Vec<u32>> = Vec::new();
        // Sweep every valid input value.
        let top = if c || d == 12 { Q } else { 1 << d };
        for s in 0..top.div_ceil(256) {
            polys.push((0..256).map(|j| (256 * s + j).min(top - 1)).collect());
        }
        for k in 0..VERILATOR_POLYS {
            let mut f = enc_input(&mut rng, d, c);
            if k % 16 == 15 {
                // Out of range: range_err.
                f[rng.below(256) as usize] = [top, 4095, 0xff_ffff][rng.below(3) as usize];
            }
            polys.push(f);
        }
        let mut input = String::new();
        let mut want = Vec::new();
        for (k, f) in polys.iter().enumerate() {
            let seed = stall_seed(k);
            input += &format!("J {d} {} {seed}", c as u8);
            for x in f {
                input += &format!(" {x}");
            }
            input.push('\n');
            let (lanes, err) = ref_encoder(f, d, c);
            let mut body = format!("{}", err as u8);
            for l in lanes {
                body += &format!(" {l:016x}");
            }
            want.push((seed, body));
        }
        check_replies(&model.run(&input), &want, d, &what);
    }
}

#[test]
fn decoder_verilog_matches_the_reference_on_many_polynomials() {
    let mut e = PolyDecoder::default();
    e.connect_all();
    let model = verilate::Model::build(
        "pqc-codec-dec",
        &generate_verilog(&e),
        &(HARNESS_COMMON.to_string() + DEC_MAIN),
    );
    let mut rng = Rng::new(21);
    for (d, c) in modes() {
        let what = format!("decoder d {d} decompress {c}");
        let mut inputs: Vec<Vec<u64>> = Vec::new();
        // Sweep every d-bit value.
        for s in 0..(1u32 << d).div_ceil(256) {
            let f: Vec<u32> = (0..256).map(|j| (256 * s + j) % (1 << d)).collect();
            inputs.push(bytes_to_lanes(&byte_encode(&f, d)));
        }
        for _ in 0..VERILATOR_POLYS {
            inputs.push(dec_input(&mut rng, d));
        }
        let mut input = String::new();
        let mut want = Vec::new();
        let mut errs = 0;
        for (k, lanes) in inputs.iter().enumerate() {
            let seed = stall_seed(k);
            input += &format!("J {d} {} {seed}", c as u8);
            for l in lanes {
                input += &format!(" {l:x}");
            }
            input.push('\n');
            let (f, err) = ref_decoder(lanes, d, c);
            errs += err as usize;
            let mut body = format!("{}", err as u8);
            for x in f {
                body += &format!(" {x}");
            }
            want.push((seed, body));
        }
        if d == 12 {
            assert!(errs > VERILATOR_POLYS / 4 && errs < VERILATOR_POLYS * 3 / 4);
        }
        check_replies(&model.run(&input), &want, d, &what);
    }
}
