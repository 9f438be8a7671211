//! `hsmctl bitstream trust add|revoke|list`: the trust directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use hsm_bitstream::{KeyError, KeyId, PublicKey, TrustStore, REVOKED_FILE};

use super::{flat, TrustDirArg, AFTER_HELP};
use crate::{print_json, print_out};

/// `hsmctl bitstream trust ...`
#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Trust a public key: copy it into the trust directory as KEYID.pub
    /// (the directory is created if needed)
    #[command(after_help = AFTER_HELP)]
    Add(AddArgs),
    /// Revoke a key id: add it to the trust directory's `revoked` file;
    /// its packages are refused even if its public key stays
    #[command(after_help = AFTER_HELP)]
    Revoke(RevokeArgs),
    /// List the key ids in the trust directory, revoked or not
    #[command(after_help = AFTER_HELP)]
    List(ListArgs),
}

/// `hsmctl bitstream trust add` arguments.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The public key file (the .pub that `hsmctl bitstream keygen` wrote)
    #[arg(value_name = "PUBFILE")]
    public_key: PathBuf,
    #[command(flatten)]
    trust: TrustDirArg,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `hsmctl bitstream trust revoke` arguments.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The key id to revoke: 32 hex digits, as `keygen` and `trust list`
    /// print it
    #[arg(value_name = "KEYID", value_parser = parse_key_id)]
    key_id: KeyId,
    #[command(flatten)]
    trust: TrustDirArg,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// `hsmctl bitstream trust list` arguments.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    trust: TrustDirArg,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

fn parse_key_id(s: &str) -> Result<KeyId, String> {
    s.trim().parse().map_err(|_| {
        format!("{s:?} is not a key id: 32 hex digits, as `keygen` and `trust list` print it")
    })
}

/// Run `hsmctl bitstream trust ...`.
pub fn run(cmd: TrustCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrustCommand::Add(a) => add(&a),
        TrustCommand::Revoke(a) => revoke(&a),
        TrustCommand::List(a) => list(&a),
    }
}

/// Creates the trust directory if it does not exist (rwxr-xr-x on Unix:
/// only its owner may change it).
fn create_dir(dir: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o755);
    }
    b.create(dir)
        .with_context(|| format!("creating the trust directory {}", dir.display()))
}

fn add(a: &AddArgs) -> anyhow::Result<ExitCode> {
    let key = PublicKey::read_file(&a.public_key).map_err(|e| match e {
        KeyError::Format(f) => anyhow::anyhow!(
            "{} is not a bitstream public key file ({f}); pass the .pub file that \
             `hsmctl bitstream keygen` wrote",
            a.public_key.display()
        ),
        e => flat(e).context("reading the public key to trust"),
    })?;
    let dir = a.trust.dir();
    create_dir(&dir)?;
    let path = TrustStore::install_key(&dir, &key)
        .map_err(flat)
        .context("adding the key")?;
    // What `verify` will see: a directory that does not load refuses
    // everything, so say so now.
    let store = TrustStore::load_dir(&dir).map_err(flat).with_context(|| {
        format!(
            "the key was added as {}, but the trust directory does not load, so every \
             package would be refused: fix the file named",
            path.display()
        )
    })?;
    let revoked = store.is_revoked(key.key_id());
    if a.json {
        print_json(&serde_json::json!({
            "key_id": key.key_id().to_string(),
            "file": path.display().to_string(),
            "trust_dir": dir.display().to_string(),
            "revoked": revoked,
        }))?;
    } else {
        print_out(&format!(
            "trusted key {} as {}\n",
            key.key_id(),
            path.display()
        ))?;
    }
    if revoked {
        eprintln!(
            "hsmctl: warning: key {} is revoked in {}: its packages stay refused while its \
             id is listed there",
            key.key_id(),
            dir.join(REVOKED_FILE).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: &RevokeArgs) -> anyhow::Result<ExitCode> {
    // Not created: a revocation in a mistyped directory would protect
    // nothing.
    let dir = a.trust.existing()?;
    let added = TrustStore::revoke_in_dir(&dir, a.key_id)
        .map_err(flat)
        .with_context(|| {
            format!(
                "revoking key {} in {} (nothing was changed)",
                a.key_id,
                dir.display()
            )
        })?;
    let file = dir.join(REVOKED_FILE);
    if a.json {
        print_json(&serde_json::json!({
            "key_id": a.key_id.to_string(),
            "revoked_file": file.display().to_string(),
            "already_revoked": !added,
        }))?;
    } else if added {
        print_out(&format!(
            "revoked key {}: added to {}\n",
            a.key_id,
            file.display()
        ))?;
    } else {
        print_out(&format!(
            "key {} was already revoked in {}\n",
            a.key_id,
            file.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let dir = a.trust.existing()?;
    let store = TrustStore::load_dir(&dir).map_err(flat).with_context(|| {
        format!(
            "loading the trust directory {} (fix or remove the file named)",
            dir.display()
        )
    })?;
    // Key id -> (has a public key file, revoked).
    let mut ids: BTreeMap<KeyId, (bool, bool)> = BTreeMap::new();
    for k in store.keys() {
        ids.insert(k.key_id(), (true, store.is_revoked(k.key_id())));
    }
    for id in store.revoked() {
        ids.entry(id).or_insert((false, true));
    }
    if a.json {
        let keys: Vec<serde_json::Value> = ids
            .iter()
            .map(|(id, (public, revoked))| {
                serde_json::json!({
                    "key_id": id.to_string(),
                    "public_key": public,
                    "revoked": revoked,
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "trust_dir": dir.display().to_string(),
            "keys": keys,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = format!("trust directory {}\n", dir.display());
    if ids.is_empty() {
        s.push_str("no keys: add one with `hsmctl bitstream trust add SIGNER.pub`\n");
    }
    for (id, (public, revoked)) in &ids {
        let state = match (public, revoked) {
            (true, false) => "trusted",
            (true, true) => "revoked",
            (false, _) => "revoked (no public key file)",
        };
        s.push_str(&format!("{id}  {state}\n"));
    }
    print_out(&s)?;
    Ok(ExitCode::SUCCESS)
}
