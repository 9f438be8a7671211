//! SHA-3 figures for `hsmctl bench`: the Keccak-f[1600] permutation and
//! SHA3-256 throughput, from the cycle counts in the jobs' completions.

use anyhow::ensure;
use hsm_contract::hash::HashAlg;
use hsm_driver::{Card, Job};

/// How `keccak_f1600_cycles` is measured.
pub const KECCAK_METHOD: &str = "marginal cycles per absorbed block: (SHA3-512 of 256 blocks - SHA3-512 of 128 blocks) / 128, from completion entries; SHA3-512's 72-byte block needs 4.5 DMA beats, so the permutation bounds the rate";

/// The SHA-3 figures.
pub struct HashFigures {
    keccak_f1600_cycles: f64,
    sha3_256_cycles: u32,
    sha3_256_bytes_per_cycle: f64,
}

const MIB: usize = 1 << 20;

fn cycles(card: &mut Card, alg: HashAlg, data: &[u8]) -> anyhow::Result<u32> {
    let r = card
        .run_jobs(&[Job::Hash {
            alg,
            data,
            out_len: 0,
            resume: None,
            partial: false,
        }])?
        .pop()
        .expect("one result");
    let c = r.cycles();
    r.into_output()?;
    Ok(c)
}

/// Measure.
pub fn run(card: &mut Card) -> anyhow::Result<HashFigures> {
    eprintln!("bench: SHA-3 ...");
    let data: Vec<u8> = (0..MIB).map(|i| (i * 31 + i / 977) as u8).collect();
    let rate = HashAlg::Sha3_512.rate_bytes() as usize;
    let c256 = cycles(card, HashAlg::Sha3_512, &data[..256 * rate])?;
    let c128 = cycles(card, HashAlg::Sha3_512, &data[..128 * rate])?;
    ensure!(
        c256 > c128,
        "SHA3-512 cycle counts do not grow with the message"
    );
    let big = cycles(card, HashAlg::Sha3_256, &data)?;
    ensure!(big > 0, "the SHA3-256 completion reports 0 cycles");
    Ok(HashFigures {
        keccak_f1600_cycles: f64::from(c256 - c128) / 128.0,
        sha3_256_cycles: big,
        sha3_256_bytes_per_cycle: MIB as f64 / f64::from(big),
    })
}

impl HashFigures {
    /// The JSON fields.
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert(
            "keccak_f1600_cycles".into(),
            crate::bench::round3(self.keccak_f1600_cycles).into(),
        );
        m.insert("keccak_f1600_method".into(), KECCAK_METHOD.into());
        m.insert("sha3_256_1mib_cycles".into(), self.sha3_256_cycles.into());
        m.insert(
            "sha3_256_bytes_per_cycle".into(),
            crate::bench::round3(self.sha3_256_bytes_per_cycle).into(),
        );
        m
    }

    /// The text lines.
    pub fn text(&self) -> String {
        format!(
            "Keccak-f[1600]:         {:.1} cycles per permutation (marginal, SHA3-512 blocks)\n\
             SHA3-256 1 MiB:         {} cycles, {:.3} bytes/cycle\n",
            self.keccak_f1600_cycles, self.sha3_256_cycles, self.sha3_256_bytes_per_cycle
        )
    }
}
