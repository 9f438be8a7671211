//! Secrets an operator types or keeps in files (key passphrases, PINs):
//! read from a file or standard input, or asked on the terminal without
//! echo; never from the command line. Held in [`Zeroizing`] buffers.

use std::io::{IsTerminal as _, Read};
use std::path::Path;

use anyhow::{bail, Context};
use zeroize::Zeroizing;

/// Fails unless standard input is a terminal to ask on; `option` is the
/// file option that would have supplied the secret instead.
pub fn need_terminal(option: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no {option} was given and standard input is not a terminal to ask on: \
             pass {option} FILE (`-` reads it from standard input)"
        );
    }
    Ok(())
}

/// Asks on the terminal without echo; `what` names the secret.
pub fn prompt(text: &str, what: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let s = Zeroizing::new(
        rpassword::prompt_password(text)
            .with_context(|| format!("reading the {what} from the terminal"))?,
    );
    Ok(Zeroizing::new(s.as_bytes().to_vec()))
}

/// Reads a secret file (`-`: standard input) of at most `max` bytes,
/// removing one trailing `\n` or `\r\n`; `what` names the secret.
pub fn from_file(file: &Path, what: &str, max: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let name = if file == Path::new("-") {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    // Room for the limit and one more byte up front, so that the buffer is
    // never reallocated (which would leave a copy of the secret behind).
    let mut buf = Zeroizing::new(Vec::with_capacity(max + 1));
    let limit = max as u64 + 1;
    let read = if file == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    read.with_context(|| format!("reading the {what} from {name}"))?;
    let ending = if buf.ends_with(b"\r\n") {
        2
    } else if buf.ends_with(b"\n") {
        1
    } else {
        0
    };
    if buf.len() - ending > max {
        bail!("the {what} file {name} is longer than {max} bytes: is it the right file?");
    }
    let len = buf.len() - ending;
    // The bytes cut off stay in the spare capacity, which `Zeroizing`
    // wipes too.
    buf.truncate(len);
    if buf.is_empty() {
        bail!("the {what} read from {name} is empty");
    }
    Ok(buf)
}
