//! The control socket, `<socket>.ctl`: a line protocol for asking a running
//! simulated card about its state and for stopping it.
//!
//! A client connects, sends one command line and reads one line of JSON back:
//!
//! | command | reply |
//! |---|---|
//! | `status` | `{"state":"idle"\|"busy","pid":N,"test_mode":bool,"cycles":N,"target":"sim-verilator","image":{...},"min_security_version":N}` ([`ControlStatus`], [`ImageInfo`]) |
//! | `load PATH` | `{"loaded":{...}}` ([`ImageInfo`]) once the card runs the package at PATH (checked as the [`crate::loader`] module says), or `{"error":"..."}` with the card unchanged; refused while a client is connected |
//! | `noise getrandom\|stuck\|biased` | `{"noise":"..."}`: what feeds the card's noise-source port from the next sample on ([`crate::NoiseSource`]; `stuck` and `biased` are faults for tests of the card's health tests) |
//! | `selftest-inject MASK` | `{"selftest_inject":MASK}`: the card's self-test fault-injection input, one bit per `SELFTEST` group (bit 0 the DRBG, 1 AES, 2 SHA3, 3 MLKEM), which makes that group's tests fail at the next reset; `0` ends it. A test hook |
//! | `tamper` | `{"tamper":{"cycles":N,"zeroized":bool}}` once the card has zeroized: a pulse on the card's tamper input (as an enclosure's tamper switch gives), then the card clocked until it is idle; `cycles` counts from the pulse, `zeroized` is `STATUS.ZEROIZED` afterwards ([`TamperReport`]) |
//! | `stop` | `{"stopping":true}`; the server then ends the current session at once (its client sees the connection close), removes its sockets and, in the `hsm-sim` binary, exits |
//! | anything else | `{"error":"..."}` |

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::card::CardHandle;
use crate::loader::{self, ImageInfo};
use crate::model::NoiseSource;
use crate::server::{with_suffix, Shared};
use crate::sock;
use crate::SimError;

/// How long either side waits for the other on the control socket.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client waits for a `load` (reading, hashing and loading an
/// image of many megabytes).
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest command line accepted (`load` and a path).
const MAX_LINE: u64 = 4096 + 8;

/// The control socket path that goes with a card's vfio-user socket path.
pub fn control_path(socket: &Path) -> PathBuf {
    with_suffix(socket, ".ctl")
}

/// Whether a client is connected to the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardState {
    /// No client: the next one is served.
    Idle,
    /// A client is connected: others are refused with EBUSY.
    Busy,
}

/// A running simulated card's answer to `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlStatus {
    /// Whether a client is connected.
    pub state: CardState,
    /// The process id of the server.
    pub pid: u32,
    /// Whether the card runs in test mode.
    pub test_mode: bool,
    /// Clock cycles simulated since the server started.
    pub cycles: u64,
    /// The card's target name, as packages name it.
    #[serde(default)]
    pub target: String,
    /// The image the card runs.
    #[serde(default)]
    pub image: Option<ImageInfo>,
    /// The highest security version the card has accepted: it refuses
    /// packages below it.
    #[serde(default)]
    pub min_security_version: u32,
}

/// Asks the simulated card serving `socket` (its vfio-user socket path; the
/// control socket is `<socket>.ctl`) for its state.
pub fn control_status(socket: &Path) -> Result<ControlStatus, SimError> {
    let path = control_path(socket);
    let line = request(&path, "status", TIMEOUT)?;
    serde_json::from_str(&line).map_err(|e| SimError::Control {
        path,
        detail: format!("unexpected reply {line:?}: {e}"),
    })
}

/// Asks the simulated card serving `socket` to stop. Returns once the server
/// has acknowledged; it then ends the current session and removes its
/// sockets.
pub fn control_stop(socket: &Path) -> Result<(), SimError> {
    let path = control_path(socket);
    let line = request(&path, "stop", TIMEOUT)?;
    #[derive(Deserialize)]
    struct Stopping {
        stopping: bool,
    }
    match serde_json::from_str::<Stopping>(&line) {
        Ok(Stopping { stopping: true }) => Ok(()),
        _ => Err(SimError::Control {
            path,
            detail: format!("unexpected reply {line:?}"),
        }),
    }
}

/// Tells the simulated card serving `socket` what to feed its noise-source
/// port from the next sample on: the host's `getrandom`, or a fault that
/// the card's health tests must catch.
pub fn control_noise(socket: &Path, source: NoiseSource) -> Result<(), SimError> {
    command(
        socket,
        &format!("noise {}", source.name()),
        serde_json::json!({ "noise": source.name() }),
    )
}

/// Sends `cmd` to the control socket of the card serving `socket` and
/// checks that the reply is `want`.
fn command(socket: &Path, cmd: &str, want: serde_json::Value) -> Result<(), SimError> {
    let path = control_path(socket);
    let line = request(&path, cmd, TIMEOUT)?;
    if serde_json::from_str::<serde_json::Value>(&line).is_ok_and(|v| v == want) {
        Ok(())
    } else {
        Err(SimError::Control {
            path,
            detail: format!("unexpected reply {line:?}"),
        })
    }
}

/// Sets the self-test fault-injection input of the simulated card serving
/// `socket` (bit 0: the DRBG's known-answer test): the self-tests of the
/// card's next reset fail. `0` ends the injection.
pub fn control_selftest_inject(socket: &Path, mask: u8) -> Result<(), SimError> {
    command(
        socket,
        &format!("selftest-inject {mask}"),
        serde_json::json!({ "selftest_inject": mask }),
    )
}

/// What a pulse on the tamper input did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TamperReport {
    /// Cycles from the pulse until the card was idle again.
    pub cycles: u64,
    /// `STATUS.ZEROIZED` afterwards: the master-key store confirmed the
    /// erasure.
    pub zeroized: bool,
}

/// The most cycles a zeroization may take before the card is called
/// stuck: the card's part is a few thousand cycles (the storage's
/// acknowledgements come in between).
const TAMPER_MAX_CYCLES: u64 = 10_000_000;

/// Pulses the tamper input of the simulated card serving `socket` and
/// returns once the card has zeroized.
pub fn control_tamper(socket: &Path) -> Result<TamperReport, SimError> {
    let path = control_path(socket);
    let line = request(&path, "tamper", TIMEOUT)?;
    #[derive(Deserialize)]
    struct Reply {
        tamper: TamperReport,
    }
    serde_json::from_str::<Reply>(&line)
        .map(|r| r.tamper)
        .map_err(|_| SimError::Control {
            path,
            detail: format!("unexpected reply {line:?}"),
        })
}

/// Pulses the tamper input and clocks the card until it is idle.
fn tamper(card: &CardHandle) -> Result<TamperReport, SimError> {
    card.call(|c| {
        let start = c.model.cycles();
        c.model.set_tamper(true);
        c.model.clock(2);
        c.model.set_tamper(false);
        loop {
            let r = c.model.run(crate::card::CHUNK_CYCLES);
            let spent = c.model.cycles() - start;
            if !(r.busy || r.dma_pending) || spent > TAMPER_MAX_CYCLES {
                break;
            }
        }
        let status = c.model.read(hsm_contract::regs::STATUS.offset)?;
        Ok(TamperReport {
            cycles: c.model.cycles() - start,
            zeroized: status & hsm_contract::regs::status::ZEROIZED.mask() != 0,
        })
    })?
}

/// Asks the simulated card serving `socket` to load the package at
/// `package` (an absolute path the card can read), and returns what it runs
/// afterwards. The card makes its own checks (image hashes, target,
/// contract, rollback, build id; see [`crate::loader`]); verifying the
/// package's signature is the caller's job.
///
/// # Errors
///
/// [`SimError::Image`] with the card's reason when it refused the package
/// (it then runs its previous image), [`SimError::Control`] when it could
/// not be asked.
pub fn control_load(socket: &Path, package: &Path) -> Result<ImageInfo, SimError> {
    let path = control_path(socket);
    let text = package
        .to_str()
        .filter(|t| !t.contains('\n'))
        .ok_or_else(|| SimError::Control {
            path: path.clone(),
            detail: format!(
                "{} is not a path the control protocol can carry",
                package.display()
            ),
        })?;
    let line = request(&path, &format!("load {text}"), LOAD_TIMEOUT)?;
    #[derive(Deserialize)]
    struct Reply {
        loaded: Option<ImageInfo>,
        error: Option<String>,
    }
    match serde_json::from_str::<Reply>(&line) {
        Ok(Reply {
            loaded: Some(info), ..
        }) => Ok(info),
        Ok(Reply {
            error: Some(reason),
            ..
        }) => Err(SimError::Image {
            name: package.display().to_string(),
            reason,
        }),
        _ => Err(SimError::Control {
            path,
            detail: format!("unexpected reply {line:?}"),
        }),
    }
}

fn request(path: &Path, command: &str, timeout: Duration) -> Result<String, SimError> {
    let io_err = |source: io::Error| SimError::Control {
        path: path.to_path_buf(),
        detail: format!("{}: {source}", command.split(' ').next().unwrap_or(command)),
    };
    let mut stream = UnixStream::connect(path).map_err(|e| SimError::Control {
        path: path.to_path_buf(),
        detail: format!("cannot connect ({e}); is the simulated card running?"),
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io_err)?;
    stream
        .write_all(format!("{command}\n").as_bytes())
        .map_err(io_err)?;
    let mut line = String::new();
    BufReader::new(stream.take(64 * 1024))
        .read_line(&mut line)
        .map_err(io_err)?;
    if line.is_empty() {
        return Err(SimError::Control {
            path: path.to_path_buf(),
            detail: format!("{command}: the server closed the connection without a reply"),
        });
    }
    Ok(line.trim_end().to_owned())
}

/// The control thread: answers control clients until stopped.
pub(crate) fn control_loop(shared: Arc<Shared>, card: CardHandle, listener: UnixListener) {
    let _ = listener.set_nonblocking(true);
    loop {
        let ready =
            match sock::poll_readable(&[listener.as_raw_fd(), shared.stop_fd.as_raw_fd()], -1) {
                Ok(ready) => ready,
                Err(_) => return,
            };
        if ready[1] {
            return;
        }
        while let Ok((stream, _)) = listener.accept() {
            let _ = serve(&shared, &card, stream);
        }
    }
}

fn serve(shared: &Shared, card: &CardHandle, stream: UnixStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_LINE)).read_line(&mut line)?;
    let mut stop = false;
    let line = line.trim();
    let reply = match line {
        "status" => {
            let (image, min_security_version) = card
                .call(|c| (c.image.clone(), c.min_security_version))
                .map_err(io::Error::other)?;
            let status = ControlStatus {
                state: if shared.busy() {
                    CardState::Busy
                } else {
                    CardState::Idle
                },
                pid: std::process::id(),
                test_mode: shared.test_mode,
                cycles: card.cycles(),
                target: crate::image::TARGET.to_owned(),
                image: Some(image),
                min_security_version,
            };
            serde_json::to_string(&status).map_err(io::Error::other)?
        }
        "stop" => {
            stop = true;
            r#"{"stopping":true}"#.to_owned()
        }
        _ if line.starts_with("noise ") => match NoiseSource::from_name(&line[6..]) {
            Some(source) => {
                card.call(move |c| {
                    c.noise = source;
                    c.model.set_noise(source);
                })
                .map_err(io::Error::other)?;
                serde_json::json!({ "noise": source.name() }).to_string()
            }
            None => serde_json::json!({
                "error": format!("unknown noise source {:?}: say getrandom, stuck or biased", &line[6..])
            })
            .to_string(),
        },
        _ if line.starts_with("selftest-inject ") => match line[16..].parse::<u8>() {
            Ok(mask) => {
                card.call(move |c| {
                    c.selftest_inject = mask.into();
                    c.model.set_selftest_inject(mask.into());
                })
                .map_err(io::Error::other)?;
                serde_json::json!({ "selftest_inject": mask }).to_string()
            }
            Err(_) => serde_json::json!({
                "error": format!("bad self-test injection mask {:?}: say a number from 0 to 255", &line[16..])
            })
            .to_string(),
        },
        "tamper" => match tamper(card) {
            Ok(report) => serde_json::json!({ "tamper": report }).to_string(),
            Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
        },
        _ if line.starts_with("load ") => match load(shared, card, Path::new(&line[5..])) {
            Ok(info) => serde_json::json!({ "loaded": info }).to_string(),
            Err(e) => serde_json::json!({ "error": e }).to_string(),
        },
        other => serde_json::json!({ "error": format!("unknown command {other:?}") }).to_string(),
    };
    (&stream).write_all(format!("{reply}\n").as_bytes())?;
    if stop {
        shared.request_stop();
    }
    Ok(())
}

/// Loads the package at `path` into the card (see [`crate::loader`]).
/// Returns the reason as text when it is refused.
fn load(shared: &Shared, card: &CardHandle, path: &Path) -> Result<ImageInfo, String> {
    if shared.busy() {
        return Err(
            "a client is connected to the card; a load would pull the device from under it, so close that client first"
                .to_owned(),
        );
    }
    let limit = hsm_bitstream::limits::PACKAGE_LEN as u64;
    let bytes = std::fs::File::open(path)
        .and_then(|f| {
            let mut bytes = Vec::new();
            f.take(limit + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        })
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{} is larger than a package may be ({limit} bytes)",
            path.display()
        ));
    }
    let min = card
        .call(|c| c.min_security_version)
        .map_err(|e| e.to_string())?;
    let name = path.display().to_string();
    let staged = loader::stage(bytes, &name, min).map_err(|e| e.to_string())?;
    let state_dir = shared.state_dir.clone();
    card.call(move |c| c.switch(staged, state_dir.as_deref()))
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
