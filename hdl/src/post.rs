//! The engines' power-on self-tests: known-answer tests built into the RTL.
//!
//! After every reset, before the card serves a job, it runs these tests
//! through the same engines, data paths and job logic that serve the host,
//! with vectors from NIST's published test files (`../shared/vectors`):
//!
//! | group (`SELFTEST` bit) | test | vector |
//! |---|---|---|
//! | `AES` | AES-256 key expansion and encryption: the key check value of the GCM key, and of the XTS pair's data key | CAVP `gcmEncryptExtIV256.rsp` and `XTSGenAES256.rsp` keys |
//! | `AES` | AES-256-GCM encryption (96-bit IV, 16 bytes of AAD, 32 of plaintext, 16-byte tag): CTR mode, GHASH, the tag | CAVP `gcmEncryptExtIV256.rsp`, `[PTlen = 256][AADlen = 128][Taglen = 128]` Count 0 |
//! | `AES` | XTS-AES-256 decryption of one 256-bit data unit: the inverse cipher and the tweak | CAVP `XTSGenAES256.rsp`, `[DECRYPT]` COUNT 1 |
//! | `SHA3` | SHA3-256 of a 16-byte message | CAVP `SHA3_256ShortMsg.rsp`, `Len = 128` |
//! | `SHA3` | SHAKE128 of a 16-byte message, 32 bytes out | CAVP `SHAKE128VariableOut.rsp`, COUNT 144 |
//! | `MLKEM` | ML-KEM-512 Encaps_internal(ek, m): ciphertext and shared secret | `kat_MLKEM_512.rsp` count 0 |
//!
//! (The DRBG's own known-answer test runs in [`crate::rng`] at the same
//! time: `SELFTEST.DRBG`.)
//!
//! # How they run
//! 1. The crypto engine, after clearing its key store, lets the two test
//!    keys ([`kat_keys`]) enter slots 0 and 1 the way a key restored from
//!    persistent storage enters: expansion, then the key check value,
//!    compared in full with the built-in one.
//! 2. The dispatcher then runs [`kat_jobs`] one after the other, each a
//!    descriptor handed to its engine exactly as a host's would be, except
//!    that the engine's DMA port is served by the built-in test memory
//!    ([`kat_memory`]) instead of the host: reads return the vector's
//!    input, and every write is compared with the expected output at its
//!    address (whole beats only). A test passes when the job completes
//!    with `OK`, the expected output length, exactly the expected number of
//!    beats written, and every beat as expected. The host's memory is never
//!    touched and no host job runs meanwhile.
//! 3. The crypto engine overwrites the test keys' slots and restores the
//!    operator's keys.
//!
//! A failed test sets its group's `SELFTEST` bit and `STATUS.SELFTEST_FAILED`;
//! the card then refuses every job but `CARD_ZEROIZE` until it is reset.
//!
//! The fault-injection input (`selftest_inject`, a test hook of the
//! simulated card) flips one bit of a group's first input beat, so that
//! the comparison, not a forced flag, fails the test.

use hsm_contract::crypto::{policy, GcmParams, KeyAlg, SlotRecord, LABEL_BYTES};
use hsm_contract::hash::HashAlg;
use hsm_contract::kem::{flags as kem_flags, KemParams, KemSet};
use hsm_contract::layout::Descriptor;
use hsm_contract::regs::selftest;
use hsm_contract::{Opcode, DESCRIPTOR_VERSION};

/// Decode a hexadecimal string at compile time.
const fn hex<const N: usize>(s: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 2 * N, "wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// AES-256-GCM key (CAVP `gcmEncryptExtIV256.rsp`, 256-bit PT, 128-bit AAD
/// and tag, Count 0).
pub const GCM_KEY: [u8; 32] =
    hex("37ccdba1d929d6436c16bba5b5ff34deec88ed7df3d15d0f4ddf80c0c731ee1f");
/// Its key check value: AES-256(key, `kcv_plaintext`), first 3 bytes.
pub const GCM_KCV: [u8; 3] = hex("f2c549");
/// The IV.
pub const GCM_IV: [u8; 12] = hex("5c1b21c8998ed6299006d3f9");
/// The AAD.
pub const GCM_AAD: [u8; 16] = hex("22ed235946235a85a45bc5fad7140bfa");
/// The plaintext.
pub const GCM_PT: [u8; 32] =
    hex("ad4260e3cdc76bcc10c7b2c06b80b3be948258e5ef20c508a81f51e96a518388");
/// The ciphertext.
pub const GCM_CT: [u8; 32] =
    hex("3b335f8b08d33ccdcad228a74700f1007542a4d1e7fc1ebe3f447fe71af29816");
/// The tag.
pub const GCM_TAG: [u8; 16] = hex("1fbf49cc46f458bf6e88f6370975e6d4");

/// XTS-AES-256 key pair, data key first (CAVP `XTSGenAES256.rsp`,
/// `[DECRYPT]` COUNT 1, a 256-bit data unit).
pub const XTS_KEY: [u8; 64] = hex(concat!(
    "d6c4cf73c639e025654dd3232fe3aa7138f21bc8922271b4a6c0af999100b6b5",
    "e380ec7ec8da88e6816cd7f4f26e7ac0f86e4caac3be55234ebcd4347cda2fa5"
));
/// The data key's check value.
pub const XTS_KCV: [u8; 3] = hex("c9e34d");
/// The tweak `i`.
pub const XTS_TWEAK: [u8; 16] = hex("041f41fa30b78898040b5e0ecba27d2b");
/// The ciphertext.
pub const XTS_CT: [u8; 32] =
    hex("d083f37a6160ac25c3229800ae0721d94bf6a9ff2f73a418544e6c787cbcd34a");
/// The plaintext.
pub const XTS_PT: [u8; 32] =
    hex("b8f33dd38c138daca227728e19b62c4ad5ad516ee2c3af3431097ff281956d7d");

/// SHA3-256 message (CAVP `SHA3_256ShortMsg.rsp`, `Len = 128`).
pub const SHA3_MSG: [u8; 16] = hex("d83c721ee51b060c5a41438a8221e040");
/// Its digest.
pub const SHA3_MD: [u8; 32] =
    hex("b87d9e4722edd3918729ded9a6d03af8256998ee088a1ae662ef4bcaff142a96");

/// SHAKE128 message (CAVP `SHAKE128VariableOut.rsp`, COUNT 144).
pub const SHAKE_MSG: [u8; 16] = hex("d94be6703183babe2a30331b0028193c");
/// Its first 32 bytes of output.
pub const SHAKE_OUT: [u8; 32] =
    hex("0583c92e58ec7df9365dfa9ae3fab8bab0ae1a85c24cc834751a39159fe17d77");

// ML-KEM-512, `kat_MLKEM_512.rsp` count 0.
/// ML-KEM-512 encapsulation key (`pk`).
pub const MLKEM_EK: [u8; 800] = hex(concat!(
    "80b70100831d7ee168f47392483119f93863ecb0bc605312d35728876b00f5f57af4c85eda97281d574390bc72561936",
    "68dc98625354ab52b9bce781c5771cc26099f6fbacbee1784d194887731f097c87e082cbeac57d30b7b9a293872c8414",
    "66f2244cc65ff4ba653d6751dfa22051d553369942c31c29f91307af573292d697a8c31612e07b5335cf08329fd246bf",
    "2a32200a8cb0c4b03b9d09c5ba1c3919539e9229c696924348282f696b1525e5603806b4db618b3dc8630cb286e43117",
    "21bc5031f257aa925bf80960445aa8d8e69788e99da95c1d10cc3be858528db0cfea003c74693780a65a36e62843b3be",
    "15406543d22d83507c87b2786792c80fa5628454a310394dda4c2ab59493850257d6d3bc107186d9062707f354e81a1a",
    "10fcb763d31a4ec409aa243ed2e59bb189855eb1656266bb37500785ea08cd88c222a8c53a8777cab42c9c238a00d593",
    "69425026e99d2ae6040af6709029ca8789c897b329fba748d69c8a7148c95abb0c71787c58f12f21f2213e389242aa7f",
    "bd320c12ac42c611606cb8c1d1b4625886a145a535bd65bd0d996b330c1657d61a87e90417003225759820a3bbec505c",
    "daf11193229aae173cd12bad22a7a30a76a9fa7636c3d5aa48e1784012a012f14168b7853d2a16f90ca02cc33b2006c0",
    "8f26c15fca29612cc792e1cf02e1321a75a810891986667d4148af36e65e1a592589029617734c315c0e39b7518c8660",
    "cdc265d0c813ef20a043317fae5b8e40546eecf71d6c054fa66b49401309bef30fd51a5519755da9104689b26f083915",
    "4c847bef2365943c0249483aad9a7367c980a3d1ce46d2008a15275ca3bca4834e6f9a3036c0cd80ba228d34b9780244",
    "d5c0cbe907c6fb43824a9c0746471639cb86188c60c3b253215cc91692bcd1493d6a444d536446e02968138001cc287e",
    "0e518f3aa25d8c3b95b3c35c59f4819d484976029af05a263c35336b261f77b2cdc29389f084c04cbb370c48562b5b50",
    "771c0fb816908e198dd6d53f76e48bf042c2b1f82a3a40b8daf51f46d76fa4bcc9d3c894ff850c0faa32e0ac33901a4c",
    "79139f5f20417ec1a190607044f18bb824cf350c78ab3ddf3c2c86ca5543f715",
));
/// Encapsulation randomness m (`msg`).
pub const MLKEM_M: [u8; 32] =
    hex("20a7b7e10f70496cc38220b944def699bf14d14e55cf4c90a12c1b33fc80ffff");
/// The ciphertext (`ct`).
pub const MLKEM_CT: [u8; 768] = hex(concat!(
    "917e59d1e182a29648a61955a154b304a842f458eba593f3065fb7d744fba24fa3a0d538854e32844db248d48100c389",
    "c4c4b3ca6c234f2f61a67932aeee808dbfe98d896d1e9668820965c6343bbb4a4de64b7a99fb53b5264e3199d587ffa5",
    "e0479f6b7386b23cb9c243fa6f5457fc97dbc96dcc039bd6c4e7e85a90b5c5232416434ea942cc71134bb9a2f4991e05",
    "95e3487feabac479cab9510d57b86250ee7c96a67a9f2c6121f7daa02c5cfa3b23b0c732c2b15694e1ccbac82b787cf2",
    "118d08425cbba121882217940c894cbe47aae2541f5c6e0bd1baab31fd2b2ecb34b9e693f6fc0fdeea906716d08818f5",
    "1df0c4694029e8c3234be0b62471b2769d9ac4ceb947602380f3a497b2a01ff7b8746c1c7ae81983e016bd65c7cd1762",
    "c191857e41c2321981f6c7aa8d7afaaa9fa0b557ec1ec1285f8b4d6c788aff159ea5862e814d0825c8834b7ca45db7c8",
    "eda3fa6a6a7b8a40519529bf74b6a0f80c484917f40c107d182bce3e344fd36d1b377a982f6bf2361b8d662875c166dc",
    "ca73240b86df5ee0fa4231b356f0cdd6b3170ff89113db0b1b9dd264335783222cbe7be844642b0b1988d18b268da6f7",
    "8cc944f43b827143c4dc5ee1f0d658b87b9c00862f263d6f5798fc82e8be079a1108defdd4c7863c3147e9bdf0fbc84d",
    "eba215fdfb9ca4237a8419b26fdeff63a7f95c442bce67966ebe6b5f9af1fd2a7cbed648ea7276db742dac3e470f6cc7",
    "41d82e77e9c0dd019b5458177551975b59633be67b35c0d430b725524deafdeba6d3643c5c82ebb52479669c411bb56b",
    "397f8d37b8f7fa4ced0316546caaee419c0e7f1d96a0ec614c6c9c8e03e010031765121f1eb8fd549fde046a50443eba",
    "b9fea2e78a29f4964455928db1f9e7820e533c5712989b3a3637ea00a1de3e469a800c431d4df243c1dc7d6a89ba7900",
    "d52b78bcc103474f9d2c2128025c3193c4d1a09f50905ad2de7fe8e09f047e0e72e6dab0edf7e3b08ed1316acf857254",
    "b6c1fbf64ce582f2990ccecf9505fd7e8517998aaf583be1aa641e9b54dbb91ca9d0700913967fb0349201b5d679b32d",
));
/// The shared secret (`ss`).
pub const MLKEM_SS: [u8; 32] =
    hex("2b5c52ee72946331983ba050be0f435055c0547901e03559b356517889ea27c5");

/// The engine that runs a test job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KatUnit {
    /// The crypto engine (AES-GCM, XTS-AES).
    Crypto,
    /// The hash engine.
    Hash,
    /// The ML-KEM engine.
    Kem,
}

/// A group of tests, reported by one bit of `SELFTEST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KatGroup {
    /// AES-256 key expansion, encryption and decryption; GCM; XTS.
    Aes,
    /// SHA3-256 and SHAKE128.
    Sha3,
    /// ML-KEM-512.
    MlKem,
}

impl KatGroup {
    /// Every group.
    pub const ALL: [KatGroup; 3] = [KatGroup::Aes, KatGroup::Sha3, KatGroup::MlKem];

    /// The group's bit in `SELFTEST` (and in the fault-injection mask).
    pub const fn bit(self) -> u32 {
        match self {
            KatGroup::Aes => selftest::AES.lsb,
            KatGroup::Sha3 => selftest::SHA3.lsb,
            KatGroup::MlKem => selftest::MLKEM.lsb,
        }
    }
}

/// One known-answer job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KatJob {
    /// What it tests.
    pub name: &'static str,
    /// Its group.
    pub group: KatGroup,
    /// The engine that runs it.
    pub unit: KatUnit,
    /// The descriptor, with addresses in the test memory.
    pub desc: Descriptor,
    /// The completion's expected `out_len`.
    pub out_len: u32,
    /// The number of 16-byte beats it must write.
    pub out_beats: u32,
}

/// log2 of the test memory's size in 16-byte beats.
pub const MEM_BEATS_LOG2: usize = 8;

/// A key the self-tests use, and the slot it enters for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KatKey {
    /// The slot (overwritten after the tests, before the operator's keys
    /// are restored).
    pub slot: u16,
    /// Its record: algorithm, policy and the expected key check value.
    pub record: SlotRecord,
    /// The key bits as a slot holds them (an AES-256 key in the first 32
    /// bytes; an XTS pair's data key then its tweak key).
    pub key: [u8; 64],
}

/// The two test keys: the GCM key in slot 0, the XTS pair in slot 1.
pub fn kat_keys() -> [KatKey; 2] {
    let record = |alg: KeyAlg, kcv: [u8; 3]| SlotRecord {
        alg: alg as u8,
        policy: policy::ENCRYPT | policy::DECRYPT,
        kcv,
        invocations: 0,
        created: 0,
        iv_fixed: [0; 4],
        label: [0; LABEL_BYTES],
    };
    let mut gcm = [0u8; 64];
    gcm[..32].copy_from_slice(&GCM_KEY);
    [
        KatKey {
            slot: 0,
            record: record(KeyAlg::Aes256, GCM_KCV),
            key: gcm,
        },
        KatKey {
            slot: 1,
            record: record(KeyAlg::XtsAes256, XTS_KCV),
            key: XTS_KEY,
        },
    ]
}

/// The test memory and the jobs, laid out together.
struct Layout {
    beats: Vec<[u8; 16]>,
}

impl Layout {
    /// Place `parts`, each zero-padded to whole beats; returns the address.
    fn place(&mut self, parts: &[&[u8]]) -> u64 {
        let at = self.beats.len() as u64 * 16;
        for part in parts {
            for chunk in part.chunks(16) {
                let mut beat = [0u8; 16];
                beat[..chunk.len()].copy_from_slice(chunk);
                self.beats.push(beat);
            }
        }
        at
    }
}

fn desc(opcode: Opcode, job_id: u32) -> Descriptor {
    Descriptor {
        version: DESCRIPTOR_VERSION,
        opcode: opcode as u8,
        flags: 0,
        job_id,
        src_addr: 0,
        dst_addr: 0,
        src_len: 0,
        dst_len: 0,
        aux_addr: 0,
        aux_len: 0,
        key_slot: 0,
        reserved0: 0,
        params: [0; 16],
    }
}

fn build() -> (Vec<[u8; 16]>, Vec<KatJob>) {
    let mut m = Layout { beats: Vec::new() };
    let mut jobs = Vec::new();
    let mut job = |name, group, unit, desc: Descriptor, out_len: u32| {
        jobs.push(KatJob {
            name,
            group,
            unit,
            desc,
            out_len,
            out_beats: desc.dst_len.div_ceil(16),
        })
    };

    let mut d = desc(HashAlg::Sha3_256.opcode(), 0);
    d.src_addr = m.place(&[&SHA3_MSG]);
    d.src_len = SHA3_MSG.len() as u32;
    d.dst_addr = m.place(&[&SHA3_MD]);
    d.dst_len = SHA3_MD.len() as u32;
    job("SHA3-256", KatGroup::Sha3, KatUnit::Hash, d, d.dst_len);

    let mut d = desc(HashAlg::Shake128.opcode(), 1);
    d.src_addr = m.place(&[&SHAKE_MSG]);
    d.src_len = SHAKE_MSG.len() as u32;
    d.dst_addr = m.place(&[&SHAKE_OUT]);
    d.dst_len = SHAKE_OUT.len() as u32;
    job("SHAKE128", KatGroup::Sha3, KatUnit::Hash, d, d.dst_len);

    let keys = kat_keys();
    let p = GcmParams {
        iv_len: GCM_IV.len() as u16,
        tag_len: 16,
        flags: 0,
        aad_len: GCM_AAD.len() as u32,
    };
    let mut d = desc(Opcode::AesGcmEncrypt, 2);
    d.key_slot = keys[0].slot;
    d.params = p.to_bytes();
    d.aux_addr = m.place(&[&GCM_IV, &GCM_AAD]);
    d.aux_len = p.aux_len(false) as u32;
    d.src_addr = m.place(&[&GCM_PT]);
    d.src_len = GCM_PT.len() as u32;
    d.dst_addr = m.place(&[&GCM_CT, &GCM_TAG]);
    d.dst_len = p.dst_len(GCM_PT.len() as u64, false) as u32;
    job(
        "AES-256-GCM encrypt",
        KatGroup::Aes,
        KatUnit::Crypto,
        d,
        d.src_len,
    );

    let mut d = desc(Opcode::AesXtsDecrypt, 3);
    d.key_slot = keys[1].slot;
    d.params = XTS_TWEAK;
    d.src_addr = m.place(&[&XTS_CT]);
    d.src_len = XTS_CT.len() as u32;
    d.dst_addr = m.place(&[&XTS_PT]);
    d.dst_len = XTS_PT.len() as u32;
    job(
        "XTS-AES-256 decrypt",
        KatGroup::Aes,
        KatUnit::Crypto,
        d,
        d.src_len,
    );

    let mut d = desc(Opcode::KemEncaps, 4);
    d.flags = kem_flags::EXPOSE;
    d.params = KemParams {
        alg: KemSet::MlKem512.key_alg() as u8,
        policy: 0,
        target: 0,
    }
    .to_bytes();
    d.src_addr = m.place(&[&MLKEM_EK, &MLKEM_M]);
    d.src_len = (MLKEM_EK.len() + MLKEM_M.len()) as u32;
    d.dst_addr = m.place(&[&MLKEM_CT, &MLKEM_SS]);
    d.dst_len = (MLKEM_CT.len() + MLKEM_SS.len()) as u32;
    job(
        "ML-KEM-512 encaps",
        KatGroup::MlKem,
        KatUnit::Kem,
        d,
        d.dst_len,
    );

    assert!(
        m.beats.len() <= 1 << MEM_BEATS_LOG2,
        "the test memory overflows"
    );
    (m.beats, jobs)
}

/// The test memory: every job's inputs and expected outputs, in 16-byte
/// beats from address 0 (byte 0 of a beat is its least significant byte,
/// as on the DMA port).
pub fn kat_memory() -> Vec<[u8; 16]> {
    build().0
}

/// The test jobs, in the order they run.
pub fn kat_jobs() -> Vec<KatJob> {
    build().1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every job is a descriptor the contract's checks accept in test mode,
    /// and its output lies inside the test memory.
    #[test]
    fn jobs_are_well_formed() {
        let mem = kat_memory();
        for j in kat_jobs() {
            assert_eq!(j.desc.precheck(true), None, "{}", j.name);
            let end = j.desc.dst_addr + 16 * u64::from(j.out_beats);
            assert!(end <= mem.len() as u64 * 16, "{}", j.name);
        }
    }
}
