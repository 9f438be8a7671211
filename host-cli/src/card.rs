//! `hsmctl card init` and `hsmctl card zeroize`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use crate::login::{LoginArgs, RoleArg};
use crate::{print_json, print_out, DeviceArg};

/// How long the card may take to zeroize and serve again.
const ZEROIZE_TIMEOUT: Duration = Duration::from_secs(60);

/// `hsmctl card ...`
#[derive(Subcommand, Debug)]
pub enum CardCommand {
    /// Initialise a new or zeroized card: its label and the security officer's PIN
    Init(crate::login::InitArgs),
    /// Zeroize the card: erase its master key, every key slot, the PINs and its DRBG state (security officer); shows what it destroys and asks for confirmation, or takes --force
    Zeroize(ZeroizeArgs),
}

/// `hsmctl card zeroize` arguments.
#[derive(Args, Debug)]
pub struct ZeroizeArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long)]
    force: bool,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// Runs `hsmctl card ...`.
pub fn run(cmd: CardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CardCommand::Init(a) => crate::login::init(&a),
        CardCommand::Zeroize(a) => zeroize(&a),
    }
}

fn zeroize(a: &ZeroizeArgs) -> anyhow::Result<ExitCode> {
    let mut card = a.device.open()?;
    // The security officer zeroizes an initialised card. A card whose
    // officer is locked, or whose self-tests failed (it answers no
    // CARD_INFO), is zeroized without a login: it can still be emptied.
    match card.auth_info() {
        Ok(i) if i.initialized && !i.so_locked() => a.login.login(&mut card, RoleArg::So)?,
        _ => {}
    }
    // What it destroys. A card whose self-tests failed lists nothing (it
    // refuses every job but this one), and is zeroized all the same.
    let used = card.list_slots().map(|slots| {
        slots
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let what = match &used {
        Ok(used) if used.is_empty() => "the card's master key (it holds no key)".to_owned(),
        Ok(used) => {
            let labels: Vec<String> = used
                .iter()
                .map(|s| format!("{} ({:?})", s.slot, s.label()))
                .collect();
            format!(
                "the card's master key and its {} key(s), in slots {}",
                used.len(),
                labels.join(", ")
            )
        }
        Err(e) => {
            format!("the card's master key and every key it holds (they cannot be listed: {e})")
        }
    };
    if !a.force {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to zeroize without confirmation: stdin is not a terminal; pass --force"
            );
        }
        eprint!(
            "This destroys {what}.\nNothing encrypted under them can be decrypted again. Type `zeroize` to continue: "
        );
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim() != "zeroize" {
            eprintln!("hsmctl: not zeroized");
            return Ok(ExitCode::from(crate::exit::ERROR));
        }
    }
    eprintln!("hsmctl: zeroizing {} ...", card.device());
    let selftest = card
        .zeroize(ZEROIZE_TIMEOUT)
        .context("zeroizing the card")?;
    let failed = selftest.failed();
    if failed.is_empty() {
        let left = card
            .list_slots()
            .context("listing the key slots after zeroization")?
            .iter()
            .filter(|s| !s.is_empty())
            .count();
        if left != 0 {
            bail!("the card still lists {left} key(s) after zeroization; take it out of service");
        }
    } else {
        eprintln!(
            "hsmctl: the card is zeroized (STATUS.ZEROIZED), but its power-on self-tests failed again: {}; it refuses every job. Take it out of service",
            failed.join(", ")
        );
    }
    if a.json {
        print_json(&serde_json::json!({
            "device": card.device(),
            "zeroized": true,
            "destroyed": used.as_ref().ok().map(Vec::len),
            "selftest_passed": failed.is_empty(),
        }))?;
    } else {
        print_out(&format!(
            "zeroized {}: destroyed {what}; the card holds no key\n",
            card.device()
        ))?;
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::ERROR)
    })
}
