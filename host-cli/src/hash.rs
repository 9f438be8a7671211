//! `hsmctl hash`: SHA-3 and SHAKE computed by the card.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsm_contract::hash::HashAlg;
use hsm_contract::MAX_JOB_BYTES;
use hsm_driver::Hasher;

use crate::DeviceArg;

/// Arguments of `hsmctl hash`.
#[derive(clap::Args, Debug)]
pub struct HashArgs {
    #[command(flatten)]
    device: DeviceArg,
    /// The function: sha3-224, sha3-256, sha3-384, sha3-512, shake128 or shake256
    #[arg(long, value_parser = parse_alg)]
    alg: HashAlg,
    /// Output length in bytes (SHAKE only; default 32 for shake128, 64 for
    /// shake256; at most 1 MiB)
    #[arg(long, value_name = "BYTES")]
    len: Option<u32>,
    /// The input file (`-` or absent: standard input)
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the raw output bytes to stdout instead of hex
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print one JSON object (algorithm, output, input bytes, jobs, card cycles)
    #[arg(long)]
    json: bool,
}

fn parse_alg(s: &str) -> Result<HashAlg, String> {
    HashAlg::from_name(&s.to_ascii_lowercase()).ok_or_else(|| {
        let names: Vec<&str> = HashAlg::ALL.iter().map(|a| a.name()).collect();
        format!(
            "unknown hash function {s:?}; use one of {}",
            names.join(", ")
        )
    })
}

/// The output length `hsmctl hash` uses.
fn out_len(alg: HashAlg, len: Option<u32>) -> anyhow::Result<u32> {
    match (alg.digest_bytes(), len) {
        (Some(d), None) => Ok(d),
        (Some(d), Some(n)) if n == d => Ok(d),
        (Some(d), Some(n)) => bail!(
            "{} has a fixed {d}-byte output, not {n}; drop --len or use shake128/shake256",
            alg.name()
        ),
        (None, Some(n)) if n > MAX_JOB_BYTES => bail!(
            "--len {n}: the card writes at most {MAX_JOB_BYTES} bytes of SHAKE output per job"
        ),
        (None, Some(n)) => Ok(n),
        (None, None) => Ok(if alg == HashAlg::Shake128 { 32 } else { 64 }),
    }
}

/// Run `hsmctl hash`.
pub fn run(a: &HashArgs) -> anyhow::Result<ExitCode> {
    let len = out_len(a.alg, a.len)?;
    let (mut input, name, total): (Box<dyn Read>, String, Option<u64>) = match &a.input {
        Some(p) if p.as_os_str() != "-" => {
            let f = std::fs::File::open(p)
                .with_context(|| format!("opening {} (the input to hash)", p.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            (Box::new(f), p.display().to_string(), size)
        }
        _ => (Box::new(std::io::stdin().lock()), "-".to_string(), None),
    };
    let mut card = a.device.open()?;
    let mut h = Hasher::new(a.alg);
    let mut buf = vec![0u8; Hasher::chunk_bytes(a.alg)];
    let mut seen = 0u64;
    let progress = std::io::stderr().is_terminal() && total.is_some_and(|t| t >= 64 << 20);
    loop {
        let n = input
            .read(&mut buf)
            .with_context(|| format!("reading {name}"))?;
        if n == 0 {
            break;
        }
        h.update(&mut card, &buf[..n])
            .with_context(|| format!("hashing {name} on the card"))?;
        seen += n as u64;
        if let (true, Some(t)) = (progress, total) {
            eprint!("\rhashing {name}: {} of {} MiB", seen >> 20, t >> 20);
        }
    }
    if progress {
        eprintln!();
    }
    let jobs = h.jobs() + 1;
    let out = h
        .finish(&mut card, len)
        .with_context(|| format!("hashing {name} on the card"))?;
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    if a.json {
        crate::print_json(&serde_json::json!({
            "alg": a.alg.name(),
            "input": name,
            "input_bytes": seen,
            "output_bytes": out.len(),
            "output": hex,
            "jobs": jobs,
        }))?;
    } else if a.raw {
        let mut o = std::io::stdout().lock();
        o.write_all(&out)?;
        o.flush()?;
    } else {
        crate::print_out(&format!("{hex}  {name}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lengths() {
        assert_eq!(out_len(HashAlg::Sha3_256, None).unwrap(), 32);
        assert_eq!(out_len(HashAlg::Sha3_512, Some(64)).unwrap(), 64);
        assert!(out_len(HashAlg::Sha3_256, Some(16)).is_err());
        assert_eq!(out_len(HashAlg::Shake128, None).unwrap(), 32);
        assert_eq!(out_len(HashAlg::Shake256, None).unwrap(), 64);
        assert_eq!(out_len(HashAlg::Shake256, Some(0)).unwrap(), 0);
        let e = out_len(HashAlg::Shake128, Some(MAX_JOB_BYTES + 1)).unwrap_err();
        assert!(e.to_string().contains("at most"));
        assert_eq!(parse_alg("SHA3-384").unwrap(), HashAlg::Sha3_384);
        assert!(parse_alg("sha256").unwrap_err().contains("shake256"));
    }
}
