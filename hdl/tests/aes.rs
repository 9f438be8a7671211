//! AES datapath blocks: S-boxes, key expansion and the encryption and
//! decryption pipelines, against FIPS-197 and the RustCrypto `aes` crate.

mod aes_bench;
mod lint;

use aes_bench::*;
use hsm_hdl::aes::{
    bits128,
    sbox::{INV_SBOX, SBOX},
    AesDecPipe, AesEncPipe, AesKeyExpand, AesSbox, AES_PIPE_LATENCY,
};
use lint::lint;
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use rust_hdl::prelude::*;

const LAT: u64 = AES_PIPE_LATENCY as u64;

fn random_key(rng: &mut StdRng, aes256: bool) -> Vec<u8> {
    let mut k = vec![0u8; if aes256 { 32 } else { 16 }];
    rng.fill_bytes(&mut k);
    k
}

#[test]
fn sbox_tables() {
    // FIPS-197 5.1.1 examples and Figure 7 corners.
    assert_eq!(SBOX[0x00], 0x63);
    assert_eq!(SBOX[0x53], 0xed);
    assert_eq!(SBOX[0xff], 0x16);
    assert_eq!(INV_SBOX[0x00], 0x52);
    for x in 0..256 {
        assert_eq!(INV_SBOX[SBOX[x] as usize] as usize, x);
        // No fixed points or opposite fixed points.
        assert_ne!(SBOX[x] as usize, x);
        assert_ne!(SBOX[x] as usize, x ^ 0xff);
    }
}

#[test]
fn sbox_blocks_all_lanes() {
    let mut fwd = AesSbox::<128>::forward();
    let mut inv = AesSbox::<128>::inverse();
    let mut one = AesSbox::<8>::forward();
    fwd.connect_all();
    inv.connect_all();
    one.connect_all();
    for (v, &s) in SBOX.iter().enumerate() {
        let bytes: Vec<u8> = (0..16).map(|i| (v + 37 * i) as u8).collect();
        let x = block(&bytes);
        fwd.din.next = bits128(x);
        inv.din.next = bits128(x);
        one.din.next = (v as u64).into();
        assert!(simulate(&mut fwd, 10) && simulate(&mut inv, 10) && simulate(&mut one, 10));
        let f: Vec<u8> = bytes.iter().map(|&b| SBOX[b as usize]).collect();
        let g: Vec<u8> = bytes.iter().map(|&b| INV_SBOX[b as usize]).collect();
        assert_eq!(fwd.dout.val().to_u128(), block(&f));
        assert_eq!(inv.dout.val().to_u128(), block(&g));
        assert_eq!(one.dout.val().to_u64(), s as u64);
    }
}

/// FIPS-197 Appendix A.1 and A.3: software schedule and hardware unit.
#[test]
fn key_expansion_fips197_appendix_a() {
    let w = |s: &str| block(&hex(s));
    let k128 = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let k256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    let sw128 = expand_key(&k128);
    let sw256 = expand_key(&k256);
    assert_eq!(sw128.len(), 11);
    assert_eq!(sw256.len(), 15);
    assert_eq!(sw128[0], block(&k128));
    assert_eq!(sw128[1], w("a0fafe1788542cb123a339392a6c7605"));
    assert_eq!(sw128[10], w("d014f9a8c9ee2589e13f0cc8b6630ca6"));
    assert_eq!(sw256[1], block(&k256[16..]));
    assert_eq!(sw256[2], w("9ba354118e6925afa51a8b5f2067fcde"));
    assert_eq!(sw256[14], w("fe4890d1e6188d0b046df344706c631e"));

    let mut ke = AesKeyExpand::default();
    ke.connect_all();
    for (key, sw) in [(&k128, &sw128), (&k256, &sw256)] {
        let (keys, done) = hw_expand(&mut ke, key);
        let got: Vec<u128> = keys.iter().map(|k| k.1).collect();
        assert_eq!(&got, sw);
        for (i, (cycle, _)) in keys.iter().enumerate() {
            assert_eq!(*cycle, i as u64 + 1, "round key {i} cycle");
        }
        assert_eq!(done, sw.len() as u64 + 1);
    }
}

#[test]
fn key_expansion_random_keys_and_restart() {
    let mut rng = StdRng::seed_from_u64(0xae5_0001);
    let mut ke = AesKeyExpand::default();
    ke.connect_all();
    for n in 0..40 {
        let key = random_key(&mut rng, n % 2 == 1);
        let (keys, done) = hw_expand(&mut ke, &key);
        let got: Vec<u128> = keys.iter().map(|k| k.1).collect();
        assert_eq!(got, expand_key(&key));
        // Cycle count depends on the key size only.
        assert_eq!(done, if key.len() == 32 { 16 } else { 12 });
    }
    // A start in the middle of an expansion restarts it with the new key.
    let first = random_key(&mut rng, true);
    let second = random_key(&mut rng, false);
    let mut k = [0u8; 32];
    k.copy_from_slice(&first);
    ke.start.next = true;
    ke.key.next = (bit_cast::<256, 128>(bits128(block(&k[16..]))) << 128)
        | bit_cast::<256, 128>(bits128(block(&k[..16])));
    ke.aes256.next = true;
    for _ in 0..5 {
        ke.clock.next = false.into();
        assert!(simulate(&mut ke, 100));
        ke.clock.next = true.into();
        assert!(simulate(&mut ke, 100));
        ke.start.next = false;
    }
    let (keys, done) = hw_expand(&mut ke, &second);
    assert_eq!(
        keys.iter().map(|k| k.1).collect::<Vec<_>>(),
        expand_key(&second)
    );
    assert_eq!(done, 12);
}

/// FIPS-197 Appendix C.1 and C.3, through both pipes, with round keys from
/// the hardware key expansion.
#[test]
fn fips197_appendix_c() {
    let pt = block(&hex("00112233445566778899aabbccddeeff"));
    let cases = [
        (
            hex("000102030405060708090a0b0c0d0e0f"),
            block(&hex("69c4e0d86a7b0430d8cdb78070b4c55a")),
        ),
        (
            hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            block(&hex("8ea2b7ca516745bfeafc49904b496089")),
        ),
    ];
    let mut ke = AesKeyExpand::default();
    ke.connect_all();
    for (key, ct) in cases {
        let (keys, _) = hw_expand(&mut ke, &key);
        let mut rk = [0u128; 15];
        for (i, (_, k)) in keys.iter().enumerate() {
            rk[i] = *k;
        }
        let aes256 = key.len() == 32;

        let mut enc = PipeDriver::<AesEncPipe>::new();
        enc.uut.set_keys(&rk, aes256);
        let out = enc.run(&[(pt, 0x5a5a, 0x3c)]);
        assert_eq!(out[0].block, ct, "encrypt, {}-byte key", key.len());
        assert_eq!((out[0].side, out[0].tag), (0x5a5a, 0x3c));

        let mut dec = PipeDriver::<AesDecPipe>::new();
        dec.uut.set_keys(&rk, aes256);
        let out = dec.run(&[(ct, 7, 1)]);
        assert_eq!(out[0].block, pt, "decrypt, {}-byte key", key.len());
        assert_eq!((out[0].side, out[0].tag), (7, 1));
    }
}

/// A few hundred random blocks under random keys of both sizes, against the
/// `aes` crate; the key changes between bursts (after a drain).
#[test]
fn random_blocks_match_reference() {
    let mut rng = StdRng::seed_from_u64(0xae5_0002);
    let mut enc = PipeDriver::<AesEncPipe>::new();
    let mut dec = PipeDriver::<AesDecPipe>::new();
    let mut total = 0;
    for job in 0..8 {
        let key = random_key(&mut rng, job % 2 == 0);
        // Keys stay on the inputs of the other size's unused rounds too.
        enc.set_keys(&key);
        dec.set_keys(&key);
        let blocks: Vec<(u128, u128, u8)> =
            (0..40).map(|_| (rng.gen(), rng.gen(), rng.gen())).collect();
        let out = enc.run(&blocks);
        let back = dec.run(
            &out.iter()
                .map(|o| (o.block, o.side, o.tag))
                .collect::<Vec<_>>(),
        );
        for ((b, o), r) in blocks.iter().zip(&out).zip(&back) {
            assert_eq!(o.block, ref_encrypt(&key, b.0), "job {job}");
            assert_eq!(r.block, b.0, "job {job}");
            assert_eq!((o.side, o.tag), (b.1, b.2));
            assert_eq!((r.side, r.tag), (b.1, b.2));
        }
        // Decrypt independent random ciphertexts too.
        let cts: Vec<(u128, u128, u8)> = (0..8).map(|i| (rng.gen(), 0, i)).collect();
        let pts = dec.run(&cts);
        for (c, p) in cts.iter().zip(&pts) {
            assert_eq!(p.block, ref_decrypt(&key, c.0));
        }
        total += blocks.len() + cts.len();
    }
    assert!(total >= 300);
}

/// Back-to-back blocks with random gaps and random `enable` stalls: every
/// block comes out once, in order, with its sideband, after exactly
/// `AES_PIPE_LATENCY` enabled cycles.
fn streaming<P: PipePorts + Default>(decrypt: bool) {
    let mut rng = StdRng::seed_from_u64(0xae5_0003 + decrypt as u64);
    for aes256 in [false, true] {
        let key = random_key(&mut rng, aes256);
        let mut d = PipeDriver::<P>::new();
        d.set_keys(&key);
        let n = 120;
        let blocks: Vec<(u128, u128, u8)> =
            (0..n).map(|i| (rng.gen(), rng.gen(), i as u8)).collect();
        // Enabled-cycle count at which each block went in.
        let mut sent = Vec::new();
        let mut out = Vec::new();
        let mut enabled = 0u64;
        while out.len() < n {
            let enable = rng.gen_bool(0.7);
            let valid = sent.len() < n && rng.gen_bool(0.75);
            let b = blocks[sent.len().min(n - 1)];
            let i = Input {
                enable,
                valid,
                block: b.0,
                side: b.1,
                tag: b.2,
                ..Default::default()
            };
            if let Some(r) = d.tick(&i) {
                out.push((enabled, r));
            }
            if enable && valid {
                sent.push(enabled);
            }
            enabled += enable as u64;
            assert!(d.cycle < 10_000);
        }
        // Nothing more comes out.
        for _ in 0..2 * LAT {
            let r = d.tick(&Input {
                enable: true,
                ..Default::default()
            });
            assert!(r.is_none(), "spurious output");
        }
        for (k, (at, r)) in out.iter().enumerate() {
            let (pt, side, tag) = blocks[k];
            let want = if decrypt {
                ref_decrypt(&key, pt)
            } else {
                ref_encrypt(&key, pt)
            };
            assert_eq!(r.block, want, "block {k}");
            assert_eq!((r.side, r.tag), (side, tag), "sideband of block {k}");
            assert_eq!(at - sent[k], LAT, "enabled cycles in the pipe, block {k}");
        }
    }
}

#[test]
fn encrypt_streaming_with_gaps_and_stalls() {
    streaming::<AesEncPipe>(false);
}

#[test]
fn decrypt_streaming_with_gaps_and_stalls() {
    streaming::<AesDecPipe>(true);
}

/// The latency is `AES_PIPE_LATENCY` cycles whatever the key size, key or
/// data (including all-zero and all-one values).
fn constant_latency<P: PipePorts + Default>() {
    let mut rng = StdRng::seed_from_u64(0xae5_0004);
    let mut d = PipeDriver::<P>::new();
    let mut keys: Vec<Vec<u8>> = vec![vec![0; 16], vec![0xff; 16], vec![0; 32], vec![0xff; 32]];
    keys.extend((0..4).map(|i| random_key(&mut rng, i % 2 == 0)));
    for key in &keys {
        d.set_keys(key);
        for data in [0u128, u128::MAX, rng.gen(), rng.gen()] {
            let start = d.cycle;
            let out = d.run(&[(data, 0, 0)]);
            assert_eq!(out[0].cycle - start, LAT, "key {key:02x?} data {data:032x}");
        }
        // Back-to-back: one block per cycle, each LAT cycles later.
        let blocks: Vec<(u128, u128, u8)> = (0..20).map(|i| (rng.gen(), 0, i)).collect();
        let start = d.cycle;
        let out = d.run(&blocks);
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o.cycle - start, LAT + i as u64);
        }
    }
}

#[test]
fn encrypt_latency_is_constant() {
    constant_latency::<AesEncPipe>();
}

#[test]
fn decrypt_latency_is_constant() {
    constant_latency::<AesDecPipe>();
}

/// Reset drops everything in flight and zeroes the stages (bubbles that
/// follow carry don't-care data with `out_valid` low).
#[test]
fn reset_empties_the_pipe() {
    let mut rng = StdRng::seed_from_u64(0xae5_0005);
    let key = random_key(&mut rng, true);
    let mut d = PipeDriver::<AesEncPipe>::new();
    d.set_keys(&key);
    for i in 0..LAT - 2 {
        d.tick(&Input {
            enable: true,
            valid: true,
            block: rng.gen(),
            side: rng.gen(),
            tag: i as u8,
            ..Default::default()
        });
    }
    d.tick(&Input {
        reset: true,
        ..Default::default()
    });
    assert_eq!(d.uut.output(), (false, 0, 0, 0));
    for _ in 0..2 * LAT {
        let r = d.tick(&Input {
            enable: true,
            ..Default::default()
        });
        assert!(r.is_none(), "block survived reset");
        assert!(!d.uut.output().0);
    }
    // And it works afterwards.
    let b = rng.gen();
    assert_eq!(d.run(&[(b, 1, 2)])[0].block, ref_encrypt(&key, b));
}

#[test]
fn verilog_is_lint_clean() {
    let mut enc = AesEncPipe::default();
    enc.connect_all();
    lint("aes_enc_pipe", &generate_verilog(&enc));
    let mut dec = AesDecPipe::default();
    dec.connect_all();
    lint("aes_dec_pipe", &generate_verilog(&dec));
    let mut ke = AesKeyExpand::default();
    ke.connect_all();
    lint("aes_key_expand", &generate_verilog(&ke));
}
