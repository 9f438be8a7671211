//! Bench helpers for the AES blocks: a cycle driver for the pipelines, a
//! driver for the key expansion, a software key schedule and the RustCrypto
//! `aes` reference.
#![allow(dead_code)]

use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};
use hsm_hdl::aes::{bits128, sbox::SBOX, AesDecPipe, AesEncPipe, AesKeyExpand};
use rust_hdl::prelude::*;

/// A block as the hardware sees it: byte i at bits 8i+7..8i.
pub fn block(bytes: &[u8]) -> u128 {
    u128::from_le_bytes(bytes.try_into().expect("16 bytes"))
}

/// Bytes of a hex string.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The FIPS-197 key schedule in software: Nr + 1 round keys.
pub fn expand_key(key: &[u8]) -> Vec<u128> {
    let nk = key.len() / 4;
    assert!(nk == 4 || nk == 8);
    let nr = nk + 6;
    let mut w: Vec<[u8; 4]> = key.chunks(4).map(|c| c.try_into().unwrap()).collect();
    let mut rcon = 1u8;
    for i in nk..4 * (nr + 1) {
        let mut t = w[i - 1];
        if i % nk == 0 {
            t = [t[1], t[2], t[3], t[0]];
            t = t.map(|b| SBOX[b as usize]);
            t[0] ^= rcon;
            rcon = (rcon << 1) ^ if rcon & 0x80 != 0 { 0x1b } else { 0 };
        } else if nk > 6 && i % nk == 4 {
            t = t.map(|b| SBOX[b as usize]);
        }
        let p = w[i - nk];
        w.push([p[0] ^ t[0], p[1] ^ t[1], p[2] ^ t[2], p[3] ^ t[3]]);
    }
    w.chunks(4).map(|c| block(&c.concat())).collect::<Vec<_>>()
}

/// 15 round-key inputs for the pipes (unused ones zero).
pub fn pipe_keys(key: &[u8]) -> [u128; 15] {
    let mut rk = [0u128; 15];
    for (i, k) in expand_key(key).into_iter().enumerate() {
        rk[i] = k;
    }
    rk
}

/// Reference encryption with the `aes` crate.
pub fn ref_encrypt(key: &[u8], pt: u128) -> u128 {
    let mut b = GenericArray::clone_from_slice(&pt.to_le_bytes());
    match key.len() {
        16 => aes::Aes128::new_from_slice(key)
            .unwrap()
            .encrypt_block(&mut b),
        32 => aes::Aes256::new_from_slice(key)
            .unwrap()
            .encrypt_block(&mut b),
        n => panic!("key of {n} bytes"),
    }
    block(&b)
}

/// Reference decryption with the `aes` crate.
pub fn ref_decrypt(key: &[u8], ct: u128) -> u128 {
    let mut b = GenericArray::clone_from_slice(&ct.to_le_bytes());
    match key.len() {
        16 => aes::Aes128::new_from_slice(key)
            .unwrap()
            .decrypt_block(&mut b),
        32 => aes::Aes256::new_from_slice(key)
            .unwrap()
            .decrypt_block(&mut b),
        n => panic!("key of {n} bytes"),
    }
    block(&b)
}

/// Port access common to [`AesEncPipe`] and [`AesDecPipe`].
pub trait PipePorts: Block {
    fn set_clock(&mut self, level: bool);
    fn set_inputs(&mut self, i: &Input);
    fn set_keys(&mut self, rk: &[u128; 15], aes256: bool);
    fn output(&self) -> (bool, u128, u128, u8);
}

macro_rules! pipe_ports {
    ($t:ty) => {
        impl PipePorts for $t {
            fn set_clock(&mut self, level: bool) {
                self.clock.next = level.into();
            }
            fn set_inputs(&mut self, i: &Input) {
                self.reset.next = i.reset;
                self.enable.next = i.enable;
                self.in_valid.next = i.valid;
                self.in_block.next = bits128(i.block);
                self.in_side.next = bits128(i.side);
                self.in_tag.next = (i.tag as u64).into();
            }
            fn set_keys(&mut self, rk: &[u128; 15], aes256: bool) {
                self.aes256.next = aes256;
                let ports = [
                    &mut self.rk0,
                    &mut self.rk1,
                    &mut self.rk2,
                    &mut self.rk3,
                    &mut self.rk4,
                    &mut self.rk5,
                    &mut self.rk6,
                    &mut self.rk7,
                    &mut self.rk8,
                    &mut self.rk9,
                    &mut self.rk10,
                    &mut self.rk11,
                    &mut self.rk12,
                    &mut self.rk13,
                    &mut self.rk14,
                ];
                for (p, k) in ports.into_iter().zip(rk) {
                    p.next = bits128(*k);
                }
            }
            fn output(&self) -> (bool, u128, u128, u8) {
                (
                    self.out_valid.val(),
                    self.out_block.val().to_u128(),
                    self.out_side.val().to_u128(),
                    self.out_tag.val().to_u64() as u8,
                )
            }
        }
    };
}

pipe_ports!(AesEncPipe);
pipe_ports!(AesDecPipe);

/// Inputs of one cycle.
#[derive(Clone, Copy, Debug, Default)]
pub struct Input {
    pub reset: bool,
    pub enable: bool,
    pub valid: bool,
    pub block: u128,
    pub side: u128,
    pub tag: u8,
}

/// A block retired from a pipe: cycle, block, side word, tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retired {
    pub cycle: u64,
    pub block: u128,
    pub side: u128,
    pub tag: u8,
}

/// Drives a pipe one clock cycle at a time.
pub struct PipeDriver<P: PipePorts> {
    pub uut: Box<P>,
    pub cycle: u64,
}

impl<P: PipePorts + Default> PipeDriver<P> {
    /// A pipe after two cycles of reset.
    pub fn new() -> Self {
        let mut uut = Box::<P>::default();
        uut.connect_all();
        let mut d = PipeDriver { uut, cycle: 0 };
        let rst = Input {
            reset: true,
            enable: true,
            ..Default::default()
        };
        d.tick(&rst);
        d.tick(&rst);
        d.cycle = 0;
        d
    }
}

impl<P: PipePorts> PipeDriver<P> {
    pub fn set_keys(&mut self, key: &[u8]) {
        self.uut.set_keys(&pipe_keys(key), key.len() == 32);
    }

    /// One cycle: apply `i`, settle, sample what the edge retires, clock.
    pub fn tick(&mut self, i: &Input) -> Option<Retired> {
        self.uut.set_clock(false);
        self.uut.set_inputs(i);
        assert!(simulate(&mut *self.uut, 100), "logic did not settle");
        let (v, block, side, tag) = self.uut.output();
        let out = (v && i.enable && !i.reset).then_some(Retired {
            cycle: self.cycle,
            block,
            side,
            tag,
        });
        self.uut.set_clock(true);
        assert!(simulate(&mut *self.uut, 100), "logic did not settle");
        self.cycle += 1;
        out
    }

    /// Stream `blocks` (block, side, tag) through with `enable` high and no
    /// gaps, then drain; returns what came out.
    pub fn run(&mut self, blocks: &[(u128, u128, u8)]) -> Vec<Retired> {
        let mut out = Vec::new();
        for &(block, side, tag) in blocks {
            out.extend(self.tick(&Input {
                enable: true,
                valid: true,
                block,
                side,
                tag,
                ..Default::default()
            }));
        }
        while out.len() < blocks.len() {
            out.extend(self.tick(&Input {
                enable: true,
                ..Default::default()
            }));
            assert!(
                self.cycle < 100_000,
                "pipe lost blocks: {} of {}",
                out.len(),
                blocks.len()
            );
        }
        out
    }
}

/// Run the hardware key expansion from a `start` pulse; returns the round
/// keys with the cycle (after `start`) each appeared in, and the cycle of
/// `done`.
pub fn hw_expand(ke: &mut AesKeyExpand, key: &[u8]) -> (Vec<(u64, u128)>, u64) {
    let mut k = [0u8; 32];
    k[..key.len()].copy_from_slice(key);
    let lo = block(&k[..16]);
    let hi = block(&k[16..]);
    let wide: Bits<256> =
        (bit_cast::<256, 128>(bits128(hi)) << 128) | bit_cast::<256, 128>(bits128(lo));
    ke.start.next = true;
    ke.key.next = wide;
    ke.aes256.next = key.len() == 32;
    let mut keys = Vec::new();
    for cycle in 0..40u64 {
        ke.clock.next = false.into();
        assert!(simulate(ke, 100));
        if cycle > 0 {
            if ke.rk_valid.val() {
                assert_eq!(ke.rk_index.val().to_u64() as usize, keys.len());
                keys.push((cycle, ke.rk.val().to_u128()));
            }
            if ke.done.val() {
                assert!(!ke.rk_valid.val());
                assert_eq!(ke.rk.val().to_u128(), 0, "key registers not zeroed");
                return (keys, cycle);
            }
        }
        ke.clock.next = true.into();
        assert!(simulate(ke, 100));
        ke.start.next = false;
        ke.key.next = Bits::default();
    }
    panic!("no done after 40 cycles");
}
