//! Logins and PINs: `--role`, `--pin-file`, `--new-pin-file`, and the
//! `hsmctl card init` and `hsmctl user set-pin` commands.
//!
//! A login lasts as long as the command's connection to the card (the
//! card binds it to its queue), so every command that uses keys logs in
//! itself. A card that is not initialised has no PINs: commands log in
//! only once it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use hsm_contract::auth::{Role, DEFAULT_FAILURE_LIMIT, PIN_MAX_BYTES, PIN_MIN_BYTES};
use hsm_driver::{label_text, Card};
use zeroize::Zeroizing;

use crate::{print_json, print_out, secret, DeviceArg};

/// A role, as the command line spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// The security officer: initialises the card, sets PINs, zeroizes
    #[value(name = "so")]
    So,
    /// The user: generates, uses and deletes keys
    #[value(name = "user")]
    User,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::So => Role::SecurityOfficer,
            RoleArg::User => Role::User,
        }
    }
}

/// How a command logs in.
#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// The role to log in as [default: user; the security officer for `card zeroize` and `user set-pin`]
    #[arg(long, value_enum, value_name = "ROLE")]
    role: Option<RoleArg>,
    /// Read the PIN from PATH (`-`: standard input; one trailing newline is removed) [default: ask on the terminal]
    #[arg(long, value_name = "PATH")]
    pin_file: Option<PathBuf>,
}

/// Reads a PIN from `file`, or asks for it on the terminal.
fn read_pin(file: Option<&Path>, option: &str, prompt: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let pin = match file {
        Some(f) => secret::from_file(f, "PIN", PIN_MAX_BYTES as usize)?,
        None => {
            secret::need_terminal(option)?;
            secret::prompt(prompt, "PIN")?
        }
    };
    if pin.len() < PIN_MIN_BYTES as usize {
        bail!(
            "the PIN is {} bytes; PINs are {PIN_MIN_BYTES} to {PIN_MAX_BYTES} bytes",
            pin.len()
        );
    }
    Ok(pin)
}

/// A new PIN: from `--new-pin-file`, or asked twice on the terminal.
fn new_pin(file: Option<&Path>, whose: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if file.is_some() {
        return read_pin(file, "--new-pin-file", "");
    }
    let p = read_pin(None, "--new-pin-file", &format!("New {whose} PIN: "))?;
    let again = read_pin(None, "--new-pin-file", "Repeat the PIN: ")?;
    if p != again {
        bail!("the two PINs differ; nothing was changed");
    }
    Ok(p)
}

impl LoginArgs {
    /// Opens the card and, once it is initialised, logs in as the role
    /// given (or `default`). On a card that is not initialised nothing
    /// logs in: its jobs then say what they need.
    ///
    /// # Errors
    /// When the card cannot be opened, the PIN cannot be read, or the
    /// login fails (a wrong PIN says how many tries are left).
    pub fn open(&self, device: &DeviceArg, default: RoleArg) -> anyhow::Result<Card> {
        let mut card = device.open()?;
        self.login(&mut card, default)?;
        Ok(card)
    }

    /// Logs `card` in, as [`LoginArgs::open`] does.
    ///
    /// # Errors
    /// As [`LoginArgs::open`].
    pub fn login(&self, card: &mut Card, default: RoleArg) -> anyhow::Result<()> {
        let info = card.auth_info().context("reading the card's login state")?;
        if !info.initialized {
            return Ok(());
        }
        let role = self.role.unwrap_or(default);
        let pin = read_pin(
            self.pin_file.as_deref(),
            "--pin-file",
            &format!("{} PIN for {}: ", role_name(role), label_text(&info.label)),
        )?;
        card.login(role.role(), &pin).map_err(|e| {
            let why = match e.status() {
                Some(hsm_contract::Status::PinLocked) if role == RoleArg::User => {
                    "the user role is locked after too many wrong PINs: the security officer \
                     unlocks it by setting a new user PIN (`hsmctl user set-pin --role so`)"
                        .to_string()
                }
                Some(hsm_contract::Status::PinLocked) => "the security officer role is locked \
                    after too many wrong PINs: only zeroization (`hsmctl card zeroize`, which \
                    then needs no login) and a new `hsmctl card init` are left"
                    .to_string(),
                _ => format!("logging in as {}", role_name(role)),
            };
            anyhow::Error::new(e).context(why)
        })
    }
}

fn role_name(r: RoleArg) -> &'static str {
    match r {
        RoleArg::So => "security officer",
        RoleArg::User => "user",
    }
}

/// `hsmctl user ...`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Set a PIN: the security officer sets the user's (which also unlocks it) or its own; the user changes its own
    SetPin(SetPinArgs),
}

/// `hsmctl user set-pin` arguments.
#[derive(Args, Debug)]
pub struct SetPinArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// Whose PIN to set
    #[arg(long, value_enum, default_value = "user", value_name = "ROLE")]
    target: RoleArg,
    /// Read the new PIN from PATH (`-`: standard input) [default: ask twice on the terminal]
    #[arg(long, value_name = "PATH")]
    new_pin_file: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// Runs `hsmctl user ...`.
pub fn run_user(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::SetPin(a) => set_pin(&a),
    }
}

fn set_pin(a: &SetPinArgs) -> anyhow::Result<ExitCode> {
    // Read the new PIN first: a mistake there costs no login.
    let pin = new_pin(a.new_pin_file.as_deref(), role_name(a.target))?;
    let mut card = a.device.open()?;
    if !card.auth_info()?.initialized {
        bail!(
            "{} is not initialised: run `hsmctl card init` first",
            card.device()
        );
    }
    a.login.login(&mut card, RoleArg::So)?;
    card.set_pin(a.target.role(), &pin)
        .with_context(|| format!("setting the {} PIN", role_name(a.target)))?;
    if a.json {
        print_json(&serde_json::json!({
            "device": card.device(),
            "role": a.target.role().name(),
            "pin_set": true,
        }))?;
    } else {
        print_out(&format!(
            "set the {} PIN of {}\n",
            role_name(a.target),
            card.device()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `hsmctl card init` arguments.
#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    device: DeviceArg,
    /// The card's label (1 to 32 bytes)
    #[arg(long)]
    label: String,
    /// Read the security officer's new PIN from PATH (`-`: standard input) [default: ask twice on the terminal]
    #[arg(long, value_name = "PATH")]
    new_pin_file: Option<PathBuf>,
    /// Wrong PINs before a role locks
    #[arg(long, default_value_t = DEFAULT_FAILURE_LIMIT, value_parser = clap::value_parser!(u8).range(1..))]
    failure_limit: u8,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `hsmctl card init`.
pub fn init(a: &InitArgs) -> anyhow::Result<ExitCode> {
    hsm_driver::label_bytes(&a.label)?;
    let pin = new_pin(a.new_pin_file.as_deref(), "security officer")?;
    let mut card = a.device.open()?;
    let device = card.device().to_string();
    card.card_init(&a.label, &pin, a.failure_limit)
        .map_err(|e| {
            let why = if e.status() == Some(hsm_contract::Status::AlreadyInitialized) {
                format!(
                    "{device} is already initialised; only a zeroized card (`hsmctl card zeroize`) is initialised again"
                )
            } else {
                "initialising the card".to_string()
            };
            anyhow::Error::new(e).context(why)
        })?;
    let info = card.auth_info()?;
    if a.json {
        print_json(&serde_json::json!({
            "device": card.device(),
            "label": label_text(&info.label),
            "initialized": info.initialized,
            "failure_limit": info.failure_limit,
        }))?;
    } else {
        print_out(&format!(
            "initialised {} as {:?}: the security officer's PIN is set; set the user's with `hsmctl user set-pin --role so`\n",
            card.device(),
            label_text(&info.label)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
