//! The AES figures of `hsmctl bench`: GCM and XTS throughput on 1 MiB jobs,
//! cycles per small GCM job in a batch, and the host's own software GCM
//! rate on the same data for comparison.

use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use anyhow::{bail, ensure, Context};
use hsm_contract::crypto::{pad16, policy, GcmParams, KeyAlg};
use hsm_contract::{Descriptor, Opcode, Status, DESCRIPTOR_VERSION};
use hsm_driver::{label_bytes, Card, GcmIv, Job, JobOutput};

use crate::bench::fill_pattern;

const MIB: usize = 1 << 20;

/// How the host software figure is measured.
pub const HOST_SW_METHOD: &str = "aes-gcm crate (RustCrypto; AES-NI and PCLMULQDQ when the CPU has them), AES-256-GCM encryption of 1 MiB messages with 16 bytes of AAD, in place, one thread, repeated for at least 0.5 s";

const SMALL_METHOD: &str = "N AES-256-GCM encryptions of 64 bytes with 16 bytes of AAD and a card IV, submitted with one doorbell and left in the completion ring until all were written; CYCLES register delta / N";

/// What the AES part of the benchmark found.
pub enum AesFigures {
    /// Measured.
    Measured {
        gcm_encrypt_cycles: u32,
        gcm_decrypt_cycles: u32,
        xts_cycles: u32,
        small_jobs: usize,
        small_job_cycles: f64,
        small_completion_cycles_mean: f64,
    },
    /// Not measured, and why.
    Skipped(String),
}

impl AesFigures {
    /// JSON fields.
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        let bpc = |c: u32| ((MIB as f64 / c as f64) * 1000.0).round() / 1000.0;
        match self {
            AesFigures::Measured {
                gcm_encrypt_cycles,
                gcm_decrypt_cycles,
                xts_cycles,
                small_jobs,
                small_job_cycles,
                small_completion_cycles_mean,
            } => {
                m.insert(
                    "aes256_gcm_encrypt_bytes_per_cycle".into(),
                    bpc(*gcm_encrypt_cycles).into(),
                );
                m.insert(
                    "aes256_gcm_encrypt_cycles".into(),
                    (*gcm_encrypt_cycles).into(),
                );
                m.insert(
                    "aes256_gcm_decrypt_bytes_per_cycle".into(),
                    bpc(*gcm_decrypt_cycles).into(),
                );
                m.insert(
                    "aes256_gcm_decrypt_cycles".into(),
                    (*gcm_decrypt_cycles).into(),
                );
                m.insert("aes256_xts_bytes_per_cycle".into(), bpc(*xts_cycles).into());
                m.insert("aes256_xts_cycles".into(), (*xts_cycles).into());
                m.insert(
                    "aes256_gcm_64b_job_cycles".into(),
                    ((small_job_cycles * 1000.0).round() / 1000.0).into(),
                );
                m.insert("aes256_gcm_64b_jobs".into(), (*small_jobs).into());
                m.insert(
                    "aes256_gcm_64b_job_cycles_method".into(),
                    SMALL_METHOD.into(),
                );
                m.insert(
                    "aes256_gcm_64b_completion_cycles_mean".into(),
                    ((small_completion_cycles_mean * 1000.0).round() / 1000.0).into(),
                );
                m.insert(
                    "aes_cycles_source".into(),
                    "1 MiB figures: 1 MiB / the job's completion cycles (outputs checked against the aes-gcm and a decrypt round trip)".into(),
                );
            }
            AesFigures::Skipped(why) => {
                for k in [
                    "aes256_gcm_encrypt_bytes_per_cycle",
                    "aes256_gcm_decrypt_bytes_per_cycle",
                    "aes256_gcm_64b_job_cycles",
                    "aes256_xts_bytes_per_cycle",
                ] {
                    m.insert(k.into(), serde_json::Value::Null);
                }
                m.insert("aes_note".into(), why.clone().into());
            }
        }
        m
    }

    /// Text lines.
    pub fn text(&self) -> String {
        match self {
            AesFigures::Measured {
                gcm_encrypt_cycles,
                gcm_decrypt_cycles,
                xts_cycles,
                small_jobs,
                small_job_cycles,
                ..
            } => {
                let bpc = |c: &u32| MIB as f64 / *c as f64;
                format!(
                    "AES-256-GCM 1 MiB:      encrypt {} cycles ({:.3} bytes/cycle), decrypt {} cycles ({:.3} bytes/cycle)\n\
                     XTS-AES-256 1 MiB:      {} cycles ({:.3} bytes/cycle)\n\
                     GCM 64 B + 16 B AAD:    {:.1} cycles/job (batch of {})\n",
                    gcm_encrypt_cycles,
                    bpc(gcm_encrypt_cycles),
                    gcm_decrypt_cycles,
                    bpc(gcm_decrypt_cycles),
                    xts_cycles,
                    bpc(xts_cycles),
                    small_job_cycles,
                    small_jobs
                )
            }
            AesFigures::Skipped(why) => format!("AES figures:            skipped: {why}\n"),
        }
    }
}

/// Measure the card's AES engines. Needs a test-mode card (keys enter by
/// KEY_LOAD); otherwise the figures are skipped with the reason. The
/// bench's keys are cleared afterwards, whatever happened.
///
/// # Errors
/// Card errors, or outputs that do not match the host's software.
pub fn run(card: &mut Card, batch: usize) -> anyhow::Result<AesFigures> {
    let caps = card.capabilities();
    if !(caps.op_aes_gcm && caps.op_aes_xts && caps.key_store) {
        return Ok(AesFigures::Skipped(
            "the card does not report AES-GCM, XTS-AES and key slots in CAPABILITIES".into(),
        ));
    }
    if !card.test_mode()? {
        return Ok(AesFigures::Skipped(
            "the card is not in test mode: the benchmark loads its own keys with KEY_LOAD, which only test mode allows (`hsmctl sim start --test-mode`)".into(),
        ));
    }
    let Some((gs, xs)) = crate::bench::two_free_slots(card)? else {
        return Ok(AesFigures::Skipped(
            "fewer than two empty key slots; clear some to measure AES".into(),
        ));
    };
    eprintln!("bench: AES-256-GCM and XTS-AES-256 in slots {gs} and {xs} ...");
    let mut key = zeroize::Zeroizing::new([0u8; 64]);
    crate::crypt::random_bytes(&mut key[..])?;
    let both = policy::ENCRYPT | policy::DECRYPT;
    card.key_load(
        gs,
        KeyAlg::Aes256,
        both,
        label_bytes("hsmctl-bench-gcm")?,
        &key[..32],
    )?;
    let r = (|| {
        card.key_load(
            xs,
            KeyAlg::XtsAes256,
            both,
            label_bytes("hsmctl-bench-xts")?,
            &key[..],
        )?;
        measure(card, gs, xs, &key[..32], batch)
    })();
    let c1 = card.key_clear(gs);
    let c2 = card.key_clear(xs);
    let figures = r?;
    c1.context("clearing the bench's GCM slot")?;
    c2.context("clearing the bench's XTS slot")?;
    Ok(figures)
}

fn measure(
    card: &mut Card,
    gs: u16,
    xs: u16,
    key: &[u8],
    batch: usize,
) -> anyhow::Result<AesFigures> {
    let mut data = vec![0u8; MIB];
    fill_pattern(&mut data, 0xae5);
    // 1 MiB GCM encryption, checked against software.
    let r = card
        .run_jobs(&[Job::GcmEncrypt {
            slot: gs,
            iv: GcmIv::Card,
            tag_len: 16,
            aad: b"",
            plaintext: &data,
        }])?
        .remove(0);
    let enc_cycles = r.cycles();
    let JobOutput::GcmSealed(sealed) = r.into_output()? else {
        bail!("a GCM encryption returned another kind of output");
    };
    let mut sw = data.clone();
    let tag = Aes256Gcm::new_from_slice(key)
        .expect("32-byte key")
        .encrypt_in_place_detached(Nonce::from_slice(&sealed.iv), b"", &mut sw)
        .map_err(|_| anyhow::anyhow!("software GCM failed"))?;
    ensure!(
        sw == sealed.ciphertext && tag.as_slice() == sealed.tag.as_slice(),
        "the card's 1 MiB AES-256-GCM output differs from the aes-gcm crate's"
    );
    let r = card
        .run_jobs(&[Job::GcmDecrypt {
            slot: gs,
            iv: &sealed.iv,
            tag: &sealed.tag,
            aad: b"",
            ciphertext: &sealed.ciphertext,
        }])?
        .remove(0);
    let dec_cycles = r.cycles();
    let JobOutput::Plaintext(p) = r.into_output()? else {
        bail!("a GCM decryption returned another kind of output");
    };
    ensure!(
        p == data,
        "the 1 MiB GCM round trip does not give the data back"
    );
    let r = card
        .run_jobs(&[Job::XtsEncrypt {
            slot: xs,
            tweak: [7; 16],
            data: &data,
            pad_bits: 0,
        }])?
        .remove(0);
    let xts_cycles = r.cycles();
    let JobOutput::Xts(ct) = r.into_output()? else {
        bail!("an XTS job returned another kind of output");
    };
    ensure!(ct != data, "XTS output equals its input");
    ensure!(
        card.xts_decrypt(xs, [7; 16], &ct)? == data,
        "the 1 MiB XTS round trip does not give the data back"
    );
    let (small_jobs, small_job_cycles, mean) = small_gcm(card, gs, batch)?;
    Ok(AesFigures::Measured {
        gcm_encrypt_cycles: enc_cycles,
        gcm_decrypt_cycles: dec_cycles,
        xts_cycles,
        small_jobs,
        small_job_cycles,
        small_completion_cycles_mean: mean,
    })
}

/// A batch of 64-byte GCM jobs with 16 bytes of AAD, one doorbell, timed
/// by the CYCLES counter with no register traffic in between.
fn small_gcm(card: &mut Card, slot: u16, batch: usize) -> anyhow::Result<(usize, f64, f64)> {
    let n = batch.min(card.queue()?.capacity()).max(1);
    const STRIDE: usize = 256;
    let mut mem = card.alloc_dma(n * STRIDE)?;
    fill_pattern(mem.as_mut_slice(), 0x64);
    let p = GcmParams {
        iv_len: 0,
        tag_len: 16,
        flags: GcmParams::CARD_IV,
        aad_len: 16,
    };
    let q = card.queue()?;
    let descs: Vec<Descriptor> = (0..n)
        .map(|i| {
            let base = mem.iova_at(i * STRIDE);
            Descriptor {
                version: DESCRIPTOR_VERSION,
                opcode: Opcode::AesGcmEncrypt as u8,
                job_id: q.next_job_id(),
                src_addr: base,
                src_len: 64,
                aux_addr: base + 64,
                aux_len: p.aux_len(false) as u32,
                dst_addr: base + 128,
                dst_len: p.dst_len(64, false) as u32,
                key_slot: slot,
                params: p.to_bytes(),
                ..Descriptor::default()
            }
        })
        .collect();
    debug_assert!(128 + pad16(64) as usize + 32 <= STRIDE);
    let c0 = card.cycles()?;
    let q = card.queue()?;
    let sent = q.submit(&descs)?;
    ensure!(sent == n, "submitted {sent} of {n} GCM jobs");
    q.wait_ready(n)?;
    let c1 = card.cycles()?;
    let q = card.queue()?;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        q.wait(&mut out)?;
    }
    let mut sum = 0u64;
    for c in &out {
        if c.status != Status::Ok {
            c.check()?;
        }
        sum += u64::from(c.cycles);
    }
    drop(mem);
    Ok((n, (c1 - c0) as f64 / n as f64, sum as f64 / n as f64))
}

/// The host's software AES-256-GCM encryption rate, bytes per second.
///
/// # Errors
/// Never in practice (software GCM of 1 MiB does not fail).
pub fn host_sw_gcm() -> anyhow::Result<f64> {
    let mut key = [0u8; 32];
    crate::crypt::random_bytes(&mut key)?;
    let c = Aes256Gcm::new_from_slice(&key).expect("32-byte key");
    let mut buf = vec![0u8; MIB];
    fill_pattern(&mut buf, 0xae5);
    let start = Instant::now();
    let mut bytes = 0u64;
    let mut i = 0u64;
    while start.elapsed() < Duration::from_millis(500) {
        let mut iv = [0u8; 12];
        iv[..8].copy_from_slice(&i.to_le_bytes());
        c.encrypt_in_place_detached(Nonce::from_slice(&iv), &[0u8; 16], &mut buf)
            .map_err(|_| anyhow::anyhow!("software GCM failed"))?;
        bytes += MIB as u64;
        i += 1;
    }
    Ok(bytes as f64 / start.elapsed().as_secs_f64())
}
