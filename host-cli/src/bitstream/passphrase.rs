//! Passphrases of signing keys: from a file or standard input
//! (`--passphrase-file`), or asked on the terminal without echo. Never
//! from the command line. Held in [`Zeroizing`] buffers, wiped when dropped.

use std::io::{IsTerminal as _, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use zeroize::Zeroizing;

/// The shortest passphrase `keygen` accepts, in bytes.
pub const MIN_NEW_PASSPHRASE: usize = 12;
/// The longest passphrase file read, in bytes.
const MAX_PASSPHRASE_FILE: usize = 4096;

/// Where a key's passphrase comes from.
#[derive(clap::Args, Debug, Clone)]
pub struct PassphraseArg {
    /// Read the key's passphrase from FILE (`-`: standard input; one
    /// trailing newline is removed) [default: ask on the terminal]
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

impl PassphraseArg {
    /// The passphrase of an existing key file (asked once on the terminal).
    ///
    /// # Errors
    ///
    /// If the file cannot be read, is empty, or there is no file and no
    /// terminal.
    pub fn existing(&self, key_file: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        if let Some(file) = &self.passphrase_file {
            return from_file(file);
        }
        need_terminal()?;
        let p = prompt(&format!("Passphrase for {}: ", key_file.display()))?;
        if p.is_empty() {
            bail!("no passphrase was entered");
        }
        Ok(p)
    }

    /// The passphrase of a new key file: asked twice on the terminal (the
    /// two must match), at least [`MIN_NEW_PASSPHRASE`] bytes.
    ///
    /// # Errors
    ///
    /// As [`Self::existing`], and if the passphrase is too short or the
    /// two entries differ.
    pub fn new_key(&self, key_file: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let p = match &self.passphrase_file {
            Some(file) => from_file(file)?,
            None => {
                need_terminal()?;
                let p = prompt(&format!(
                    "New passphrase for {} (at least {MIN_NEW_PASSPHRASE} bytes): ",
                    key_file.display()
                ))?;
                let again = prompt("Repeat the passphrase: ")?;
                if p != again {
                    bail!("the two passphrases differ; nothing was written, run keygen again");
                }
                p
            }
        };
        if p.len() < MIN_NEW_PASSPHRASE {
            bail!(
                "the passphrase is {} bytes; a signing key needs at least {MIN_NEW_PASSPHRASE} \
                 (a few random words make a good one)",
                p.len()
            );
        }
        Ok(p)
    }
}

/// Fails unless standard input is a terminal to ask on.
fn need_terminal() -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no --passphrase-file was given and standard input is not a terminal to ask on: \
             pass --passphrase-file FILE (`-` reads it from standard input)"
        );
    }
    Ok(())
}

/// Asks on the terminal without echo.
fn prompt(text: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let s = Zeroizing::new(
        rpassword::prompt_password(text).context("reading the passphrase from the terminal")?,
    );
    Ok(Zeroizing::new(s.as_bytes().to_vec()))
}

/// Reads a passphrase file (`-`: standard input), removing one trailing
/// `\n` or `\r\n`.
fn from_file(file: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let name = if file == Path::new("-") {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    // Room for the limit and one more byte up front, so that the buffer is
    // never reallocated (which would leave a copy of the secret behind).
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PASSPHRASE_FILE + 1));
    let limit = MAX_PASSPHRASE_FILE as u64 + 1;
    let read = if file == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    read.with_context(|| format!("reading the passphrase from {name}"))?;
    if buf.len() > MAX_PASSPHRASE_FILE {
        bail!(
            "the passphrase file {name} is longer than {MAX_PASSPHRASE_FILE} bytes: is it the \
             right file?"
        );
    }
    let ending = if buf.ends_with(b"\r\n") {
        2
    } else if buf.ends_with(b"\n") {
        1
    } else {
        0
    };
    let len = buf.len() - ending;
    // The bytes cut off stay in the spare capacity, which `Zeroizing`
    // wipes too.
    buf.truncate(len);
    if buf.is_empty() {
        bail!("the passphrase read from {name} is empty");
    }
    Ok(buf)
}
