//! `hsmctl random`: random bytes from the card's DRBG.
//!
//! The bytes come from the card's SP 800-90A CTR_DRBG, seeded from its own
//! SP 800-90B health-tested noise source (`hsm_contract::rng`); the host
//! adds nothing. They are drawn in batches of RNG_GENERATE jobs and
//! written to a file (mode 0600, through a temporary file renamed on
//! success) or printed as hex.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hsm_contract::{Status, MAX_JOB_BYTES};
use zeroize::Zeroizing;

use crate::crypt::TempOut;
use crate::DeviceArg;

/// The most one `hsmctl random` writes (64 MiB).
pub const MAX_BYTES: u64 = 64 << 20;
/// Bytes drawn per batch of jobs (and per write).
const BATCH_BYTES: usize = 8 * MAX_JOB_BYTES as usize;
/// From this many bytes on, a terminal sees progress.
const PROGRESS_BYTES: u64 = 16 << 20;

/// Arguments of `hsmctl random`.
#[derive(clap::Args, Debug)]
#[command(
    long_about = "Random bytes from the card's random bit generator: an SP 800-90A CTR_DRBG (AES-256) seeded from the card's own noise source, which passes the SP 800-90B health tests continuously. The host adds nothing.\n\nWhen the noise source has failed its health tests the command fails with ENTROPY_FAILURE (exit code 4); `hsmctl info` shows the generator's state."
)]
pub struct RandomArgs {
    #[command(flatten)]
    device: DeviceArg,
    /// How many bytes: 1 to 67108864 (64 MiB)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_BYTES))]
    bytes: u64,
    /// Write the bytes to FILE (mode 0600, written through a temporary
    /// file and renamed on success)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "hex",
        conflicts_with = "hex"
    )]
    out: Option<PathBuf>,
    /// Print the bytes as lowercase hex on stdout
    #[arg(long)]
    hex: bool,
    /// Replace an existing output file (with --out only)
    #[arg(long, requires = "out", conflicts_with = "hex")]
    force: bool,
    /// Print one JSON object: {"bytes":N,"out":FILE} or {"bytes":N,"hex":"..."}
    #[arg(long)]
    json: bool,
}

/// Where the bytes go.
enum Sink {
    File(TempOut),
    Hex(Zeroizing<String>),
}

/// Run `hsmctl random`.
pub fn run(a: &RandomArgs) -> anyhow::Result<ExitCode> {
    crate::signals::install();
    let total = a.bytes;
    // The output file first: an existing file is refused before the card
    // does anything.
    let mut sink = match &a.out {
        Some(p) if p.as_os_str() == "-" => {
            bail!("--out -: name a file, or use --hex to print the bytes on stdout")
        }
        Some(p) => Sink::File(TempOut::create(p, a.force)?),
        None => Sink::Hex(Zeroizing::new(String::with_capacity(2 * total as usize))),
    };
    let mut card = a.device.open()?;
    let progress = std::io::stderr().is_terminal() && total >= PROGRESS_BYTES;
    let mut done = 0u64;
    let mut jobs = 0u64;
    while done < total {
        let n = (total - done).min(BATCH_BYTES as u64) as usize;
        let bytes = card.random(n).map_err(|e| failed(e, total))?;
        jobs += n.div_ceil(MAX_JOB_BYTES as usize) as u64;
        match &mut sink {
            Sink::File(out) => out.file().write_all(&bytes).with_context(|| {
                format!("writing {}", a.out.as_ref().expect("a file").display())
            })?,
            Sink::Hex(h) => {
                for b in bytes.iter() {
                    h.push(hex_digit(b >> 4));
                    h.push(hex_digit(b & 15));
                }
            }
        }
        done += n as u64;
        crate::signals::check()?;
        if progress {
            eprint!(
                "\rhsmctl: drawing random bytes: {} of {} MiB",
                done >> 20,
                total >> 20
            );
        }
    }
    if progress {
        eprintln!();
    }
    match sink {
        Sink::File(out) => {
            out.commit()?;
            let path = a.out.as_ref().expect("a file").display().to_string();
            if a.json {
                crate::print_json(&serde_json::json!({
                    "bytes": total,
                    "out": path,
                    "jobs": jobs,
                }))?;
            } else {
                crate::print_out(&format!(
                    "wrote {total} random bytes from the card's DRBG to {path}\n"
                ))?;
            }
        }
        Sink::Hex(h) => {
            if a.json {
                crate::print_json(&serde_json::json!({
                    "bytes": total,
                    "hex": h.as_str(),
                    "jobs": jobs,
                }))?;
            } else {
                let mut line = h;
                line.push('\n');
                crate::print_out(&line)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn hex_digit(v: u8) -> char {
    char::from_digit(u32::from(v), 16).expect("a nibble")
}

/// The error of a failed draw; a failed noise source gets the operator's
/// next step.
fn failed(e: hsm_driver::Error, total: u64) -> anyhow::Error {
    let what = format!("drawing {total} random bytes from the card");
    if e.status() == Some(Status::EntropyFailure) {
        anyhow::Error::new(e).context(format!(
            "{what}: its noise source has failed (`hsmctl info` shows the state; only a reset of the card clears it)"
        ))
    } else {
        anyhow::Error::new(e).context(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_lowercase() {
        let s: String = [0x00u8, 0x9f, 0xa0, 0xff]
            .iter()
            .flat_map(|b| [hex_digit(b >> 4), hex_digit(b & 15)])
            .collect();
        assert_eq!(s, "009fa0ff");
    }

    #[test]
    fn batches_are_whole_jobs() {
        assert_eq!(BATCH_BYTES % MAX_JOB_BYTES as usize, 0);
        assert_eq!(MAX_BYTES % BATCH_BYTES as u64, 0);
    }
}
