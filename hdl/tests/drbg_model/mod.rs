//! A software CTR_DRBG (SP 800-90A Rev. 1, 10.2.1 with the derivation
//! function 10.3.2) with AES-256 from the RustCrypto `aes` crate: the
//! reference model of the DRBG block tests and of the card's random bit
//! generator.
#![allow(dead_code)]

use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use hsm_hdl::drbg::{
    drbg_params_refused, DRBG_CMD_INSTANTIATE as INST, DRBG_CMD_RESEED as RESEED,
    DRBG_CMD_ZEROIZE as ZEROIZE,
};

// ---------------------------------------------------------------------------
// Software model (SP 800-90A Rev. 1, 10.2.1 with 10.3.2).

pub fn aes256(key: &[u8; 32], x: [u8; 16]) -> [u8; 16] {
    let mut b = GenericArray::from(x);
    aes::Aes256::new_from_slice(key)
        .unwrap()
        .encrypt_block(&mut b);
    b.into()
}

pub fn xor16(a: [u8; 16], b: &[u8]) -> [u8; 16] {
    core::array::from_fn(|i| a[i] ^ b[i])
}

/// Block_Cipher_df(input, 384) with BCC.
pub fn block_cipher_df(input: &[u8]) -> [u8; 48] {
    let mut s = Vec::new();
    s.extend((input.len() as u32).to_be_bytes());
    s.extend(48u32.to_be_bytes());
    s.extend(input);
    s.push(0x80);
    while s.len() % 16 != 0 {
        s.push(0);
    }
    let k: [u8; 32] = core::array::from_fn(|i| i as u8);
    let mut temp = Vec::new();
    for i in 0..3u32 {
        let mut iv = [0u8; 16];
        iv[..4].copy_from_slice(&i.to_be_bytes());
        let mut cv = aes256(&k, iv);
        for chunk in s.chunks(16) {
            cv = aes256(&k, xor16(cv, chunk));
        }
        temp.extend(cv);
    }
    let k: [u8; 32] = temp[..32].try_into().unwrap();
    let mut x: [u8; 16] = temp[32..].try_into().unwrap();
    let mut out = [0u8; 48];
    for chunk in out.chunks_mut(16) {
        x = aes256(&k, x);
        chunk.copy_from_slice(&x);
    }
    out
}

/// Why the model (and the block) refuses a command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Refusal {
    /// Lengths out of range.
    Params,
    /// Not instantiated.
    NotInstantiated,
    /// The reseed counter is over the limit.
    ReseedRequired,
}

#[derive(Clone, Debug, Default)]
/// CTR_DRBG state.
pub struct SwDrbg {
    /// Key.
    pub key: [u8; 32],
    /// V.
    pub v: [u8; 16],
    /// reseed_counter.
    pub reseed_counter: u64,
    /// Instantiated.
    pub instantiated: bool,
}

impl SwDrbg {
    pub fn inc_v(&mut self) {
        self.v = u128::from_be_bytes(self.v).wrapping_add(1).to_be_bytes();
    }

    pub fn update(&mut self, provided: &[u8; 48]) {
        let mut temp = [0u8; 48];
        for chunk in temp.chunks_mut(16) {
            self.inc_v();
            chunk.copy_from_slice(&aes256(&self.key, self.v));
        }
        for (t, p) in temp.iter_mut().zip(provided) {
            *t ^= p;
        }
        self.key.copy_from_slice(&temp[..32]);
        self.v.copy_from_slice(&temp[32..]);
    }

    pub fn instantiate(&mut self, seed_material: &[u8]) {
        self.key = [0; 32];
        self.v = [0; 16];
        self.update(&block_cipher_df(seed_material));
        self.reseed_counter = 1;
        self.instantiated = true;
    }

    pub fn reseed(&mut self, seed_material: &[u8]) {
        self.update(&block_cipher_df(seed_material));
        self.reseed_counter = 1;
    }

    /// Output blocks as the block presents them (byte 0 at bits 7:0).
    pub fn generate(&mut self, additional: &[u8], blocks: usize) -> Vec<u128> {
        let mut a = [0u8; 48];
        if !additional.is_empty() {
            a = block_cipher_df(additional);
            self.update(&a);
        }
        let mut out = Vec::with_capacity(blocks);
        for _ in 0..blocks {
            self.inc_v();
            out.push(u128::from_le_bytes(aes256(&self.key, self.v)));
        }
        self.update(&a);
        self.reseed_counter += 1;
        out
    }

    pub fn reseed_required(&self, limit: u32) -> bool {
        self.reseed_counter > limit as u64
    }

    /// A command with the block's acceptance rules.
    pub fn command(
        &mut self,
        cmd: u64,
        input: &[u8],
        gen_blocks: usize,
        limit: u32,
    ) -> Result<Vec<u128>, Refusal> {
        if cmd == ZEROIZE {
            *self = SwDrbg::default();
            return Ok(vec![]);
        }
        if drbg_params_refused(cmd, input.len(), gen_blocks) {
            return Err(Refusal::Params);
        }
        if cmd != INST && !self.instantiated {
            return Err(Refusal::NotInstantiated);
        }
        match cmd {
            INST => self.instantiate(input),
            RESEED => self.reseed(input),
            _ => {
                if self.reseed_required(limit) {
                    return Err(Refusal::ReseedRequired);
                }
                return Ok(self.generate(input, gen_blocks));
            }
        }
        Ok(vec![])
    }
}
