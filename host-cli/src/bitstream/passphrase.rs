//! Passphrases of signing keys: from a file or standard input
//! (`--passphrase-file`), or asked on the terminal without echo. Never
//! from the command line. Held in [`Zeroizing`] buffers, wiped when dropped.

use std::path::{Path, PathBuf};

use anyhow::bail;
use zeroize::Zeroizing;

use crate::secret;

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

fn need_terminal() -> anyhow::Result<()> {
    secret::need_terminal("--passphrase-file")
}

fn prompt(text: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    secret::prompt(text, "passphrase")
}

fn from_file(file: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    secret::from_file(file, "passphrase", MAX_PASSPHRASE_FILE)
}
