//! `hsmctl encrypt` and `hsmctl decrypt`: files of any size through a card
//! key slot, in chunks, in the format of docs/file-format.md.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Args;
use hsm_contract::crypto::{policy, KeyAlg};
use hsm_contract::Status;
use hsm_driver::{Card, GcmIv, Job, JobOutput};

use crate::filefmt::{self, ChunkCipher, Header, OpenRequest, SealedChunk};
use crate::login::{LoginArgs, RoleArg};
use crate::DeviceArg;

/// Default plaintext bytes per chunk (the card's largest job).
pub const DEFAULT_CHUNK: u32 = hsm_contract::MAX_JOB_BYTES;
/// Bytes of chunks handed to the card per batch.
const BATCH_BYTES: usize = 8 << 20;

/// Arguments shared by `encrypt` and `decrypt`.
#[derive(Args, Debug)]
pub struct CryptArgs {
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    login: LoginArgs,
    /// Key slot, by number or label (decrypt: default, the label in the file's header)
    #[arg(long, value_name = "ID|LABEL")]
    slot: Option<String>,
    /// File of additional authenticated data bound to every chunk (its
    /// SHA-256 is); decryption needs the same file
    #[arg(long, value_name = "FILE")]
    aad: Option<PathBuf>,
    /// Input file [default: stdin; `-` is stdin]
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file, written through a temporary file and renamed on success
    /// [default: stdout; `-` is stdout]
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace an existing output file
    #[arg(long)]
    force: bool,
    /// Show progress on stderr even when it is not a terminal
    #[arg(long, conflicts_with = "quiet")]
    progress: bool,
    /// No progress on stderr
    #[arg(long)]
    quiet: bool,
    /// Encrypt only: plaintext bytes per chunk, 16 to 1048576
    #[arg(long, default_value_t = DEFAULT_CHUNK, value_parser = clap::value_parser!(u32).range(16..=1048576))]
    chunk_size: u32,
    /// Decrypt to stdout only: folder for the spool file that holds the
    /// plaintext until the whole input verified [default: $TMPDIR]
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
}

/// The card as a [`ChunkCipher`] through one key slot.
pub struct CardCipher<'a> {
    /// The card.
    pub card: &'a mut Card,
    /// The slot.
    pub slot: u16,
}

impl ChunkCipher for CardCipher<'_> {
    fn seal(&mut self, chunks: &[(&[u8], &[u8])]) -> anyhow::Result<Vec<SealedChunk>> {
        let jobs: Vec<Job<'_>> = chunks
            .iter()
            .map(|(p, a)| Job::GcmEncrypt {
                slot: self.slot,
                iv: GcmIv::Card,
                tag_len: filefmt::TAG_BYTES as u8,
                aad: a,
                plaintext: p,
            })
            .collect();
        self.card
            .run_jobs(&jobs)?
            .into_iter()
            .map(|r| match r.into_output()? {
                JobOutput::GcmSealed(s) => Ok(SealedChunk {
                    iv: s.iv,
                    ciphertext: s.ciphertext,
                    tag: s.tag,
                }),
                o => bail!("unexpected output {o:?} of a GCM encryption"),
            })
            .collect()
    }

    fn open(&mut self, chunks: &[OpenRequest<'_>]) -> anyhow::Result<Vec<Option<Vec<u8>>>> {
        let jobs: Vec<Job<'_>> = chunks
            .iter()
            .map(|r| Job::GcmDecrypt {
                slot: self.slot,
                iv: r.iv,
                tag: r.tag,
                aad: r.aad,
                ciphertext: r.ciphertext,
            })
            .collect();
        self.card
            .run_jobs(&jobs)?
            .into_iter()
            .map(|r| {
                if r.status() == Status::AuthFailed {
                    return Ok(None);
                }
                match r.into_output()? {
                    JobOutput::Plaintext(p) => Ok(Some(p)),
                    o => bail!("unexpected output {o:?} of a GCM decryption"),
                }
            })
            .collect()
    }
}

/// Progress on stderr.
struct Meter {
    verb: &'static str,
    total: Option<u64>,
    done: u64,
    last: Instant,
    every: Duration,
    tty: bool,
    on: bool,
    printed: bool,
}

impl Meter {
    fn new(verb: &'static str, total: Option<u64>, a: &CryptArgs) -> Meter {
        let tty = std::io::stderr().is_terminal();
        let big = total.is_none_or(|t| t >= 4 << 20);
        Meter {
            verb,
            total,
            done: 0,
            last: Instant::now(),
            every: if tty {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(2)
            },
            tty,
            on: !a.quiet && (a.progress || (tty && big)),
            printed: false,
        }
    }

    fn line(&self) -> String {
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        match self.total {
            Some(t) if t > 0 => format!(
                "hsmctl: {} {:.1} of {:.1} MiB ({:.0}%)",
                self.verb,
                mib(self.done),
                mib(t),
                100.0 * self.done as f64 / t as f64
            ),
            _ => format!("hsmctl: {} {:.1} MiB", self.verb, mib(self.done)),
        }
    }

    fn finish(&mut self) {
        if self.on && self.printed {
            if self.tty {
                eprintln!("\r{}", self.line());
            } else {
                eprintln!("{}", self.line());
            }
        }
    }
}

impl filefmt::Progress for Meter {
    fn advance(&mut self, n: u64) {
        self.done += n;
        if self.on && self.last.elapsed() >= self.every {
            self.last = Instant::now();
            self.printed = true;
            if self.tty {
                eprint!("\r{}", self.line());
            } else {
                eprintln!("{}", self.line());
            }
        }
    }
}

/// An output file being written under a temporary name in its destination
/// folder; renamed over the destination by [`TempOut::commit`], removed
/// when dropped uncommitted: an interrupted hsmctl leaves no half-written
/// output. Shared by every command that writes a file.
pub(crate) struct TempOut {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl TempOut {
    /// Start writing `dest` (refused when it exists, unless `force`).
    pub(crate) fn create(dest: &Path, force: bool) -> anyhow::Result<TempOut> {
        if dest.exists() && !force {
            bail!("{} exists; pass --force to replace it", dest.display());
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .with_context(|| format!("{} is not a file name", dest.display()))?;
        let mut nonce = [0u8; 6];
        random_bytes(&mut nonce)?;
        let tmp = dir.join(format!(
            ".{}.hsmctl-{}-{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating the temporary file {}", tmp.display()))?;
        Ok(TempOut {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(file),
        })
    }

    /// The temporary file.
    pub(crate) fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until commit")
    }

    /// Sync the temporary file and rename it over the destination.
    pub(crate) fn commit(mut self) -> anyhow::Result<()> {
        let f = self.file.take().expect("open until commit");
        f.sync_all()
            .with_context(|| format!("syncing {}", self.tmp.display()))?;
        drop(f);
        std::fs::rename(&self.tmp, &self.dest).with_context(|| {
            format!("renaming {} to {}", self.tmp.display(), self.dest.display())
        })?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Fill `buf` from the kernel's random source.
pub fn random_bytes(buf: &mut [u8]) -> anyhow::Result<()> {
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("reading /dev/urandom")
}

fn is_dash(p: &Option<PathBuf>) -> bool {
    p.as_deref().is_none_or(|p| p == Path::new("-"))
}

fn open_input(a: &CryptArgs) -> anyhow::Result<(Box<dyn Read>, Option<u64>)> {
    if is_dash(&a.input) {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let p = a.input.as_ref().expect("not stdin");
    let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
    let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    Ok((Box::new(std::io::BufReader::with_capacity(1 << 20, f)), len))
}

fn user_aad_hash(a: &CryptArgs) -> anyhow::Result<[u8; 32]> {
    match &a.aad {
        None => Ok(filefmt::sha256(b"")),
        Some(p) => {
            let mut f =
                File::open(p).with_context(|| format!("opening the AAD file {}", p.display()))?;
            Ok(filefmt::sha256_reader(&mut f)
                .with_context(|| format!("reading the AAD file {}", p.display()))?)
        }
    }
}

/// Look the slot up and check it can do `need` with GCM.
fn gcm_slot(card: &mut Card, r: &str, need: u16) -> anyhow::Result<(u16, String)> {
    let slot = card.resolve_slot(r)?;
    let rec = card.slot_info(slot)?;
    let alg = KeyAlg::from_u8(rec.alg);
    match alg {
        Some(KeyAlg::Aes128 | KeyAlg::Aes256) => {}
        Some(KeyAlg::Empty) => {
            bail!("slot {slot} is empty; `hsmctl slot list` shows the loaded keys")
        }
        _ => bail!(
            "slot {slot} holds a {} key; encrypt and decrypt need an aes-128 or aes-256 key",
            alg.map_or("unknown", |a| a.name())
        ),
    }
    if rec.policy & need == 0 {
        bail!(
            "slot {slot}'s policy ({}) does not allow {}",
            crate::keys::policy_names(rec.policy),
            if need == policy::ENCRYPT {
                "encrypt"
            } else {
                "decrypt"
            }
        );
    }
    Ok((slot, hsm_driver::label_text(&rec.label)))
}

fn batch_for(chunk: u32) -> usize {
    (BATCH_BYTES / chunk as usize).clamp(1, 128)
}

/// `hsmctl encrypt`.
pub fn encrypt(a: &CryptArgs) -> anyhow::Result<ExitCode> {
    crate::signals::install();
    let Some(slot_ref) = &a.slot else {
        bail!("encrypt needs --slot ID|LABEL: the key slot to encrypt with");
    };
    let aad = user_aad_hash(a)?;
    let (mut input, total) = open_input(a)?;
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    let (slot, label) = gcm_slot(&mut card, slot_ref, policy::ENCRYPT)?;
    ensure!(
        !label.is_empty(),
        "slot {slot} has no label; the file format records the label"
    );
    let mut file_id = [0u8; 16];
    random_bytes(&mut file_id)?;
    let header = Header {
        chunk_size: a.chunk_size,
        label,
        file_id,
    };
    let mut meter = Meter::new("encrypted", total, a);
    let mut cipher = CardCipher {
        card: &mut card,
        slot,
    };
    let batch = batch_for(a.chunk_size);
    if is_dash(&a.output) {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        filefmt::encrypt_stream(
            &mut input,
            &mut out,
            &mut cipher,
            &header,
            &aad,
            batch,
            &mut meter,
        )?;
    } else {
        let mut out = TempOut::create(a.output.as_ref().expect("not stdout"), a.force)?;
        {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out.file());
            filefmt::encrypt_stream(
                &mut input,
                &mut w,
                &mut cipher,
                &header,
                &aad,
                batch,
                &mut meter,
            )?;
            w.flush()?;
        }
        crate::signals::check()?;
        out.commit()?;
    }
    meter.finish();
    Ok(ExitCode::SUCCESS)
}

/// `hsmctl decrypt`.
pub fn decrypt(a: &CryptArgs) -> anyhow::Result<ExitCode> {
    crate::signals::install();
    let aad = user_aad_hash(a)?;
    let (mut input, total) = open_input(a)?;
    let header = Header::read(&mut input)?;
    let mut card = a.login.open(&a.device, RoleArg::User)?;
    let slot_ref = a.slot.clone().unwrap_or_else(|| header.label.clone());
    let (slot, label) = gcm_slot(&mut card, &slot_ref, policy::DECRYPT)?;
    if label != header.label {
        eprintln!(
            "hsmctl: warning: the file was encrypted with the key labelled {:?}; decrypting with slot {slot} ({label:?})",
            header.label
        );
    }
    let mut meter = Meter::new("decrypted", total, a);
    let mut cipher = CardCipher {
        card: &mut card,
        slot,
    };
    let batch = batch_for(header.chunk_size);
    if is_dash(&a.output) {
        // Nothing reaches stdout before the whole input verified: the
        // plaintext waits in an unlinked spool file (gone when hsmctl exits,
        // however it exits), then is copied out.
        let dir = a.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        let mut spool = spool_file(&dir)?;
        {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut spool);
            filefmt::decrypt_stream(
                &mut input,
                &header,
                &mut w,
                &mut cipher,
                &aad,
                batch,
                &mut meter,
            )?;
            w.flush()?;
        }
        crate::signals::check()?;
        spool.rewind()?;
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut spool, &mut out)?;
        out.flush()?;
    } else {
        let mut out = TempOut::create(a.output.as_ref().expect("not stdout"), a.force)?;
        {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, out.file());
            filefmt::decrypt_stream(
                &mut input,
                &header,
                &mut w,
                &mut cipher,
                &aad,
                batch,
                &mut meter,
            )?;
            w.flush()?;
        }
        crate::signals::check()?;
        out.commit()?;
    }
    meter.finish();
    Ok(ExitCode::SUCCESS)
}

/// A read-write file in `dir` that has no name (unlinked at once).
fn spool_file(dir: &Path) -> anyhow::Result<File> {
    let mut nonce = [0u8; 8];
    random_bytes(&mut nonce)?;
    let p = dir.join(format!(
        ".hsmctl-spool-{}-{}",
        std::process::id(),
        nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)
        .with_context(|| format!("creating a spool file in {} (--spool-dir)", dir.display()))?;
    std::fs::remove_file(&p).with_context(|| format!("unlinking {}", p.display()))?;
    Ok(f)
}
