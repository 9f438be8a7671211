//! The control socket, `<socket>.ctl`: a line protocol for asking a running
//! simulated card about its state and for stopping it.
//!
//! A client connects, sends one command line and reads one line of JSON back:
//!
//! | command | reply |
//! |---|---|
//! | `status` | `{"state":"idle"\|"busy","pid":N,"test_mode":bool,"cycles":N}` |
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
use crate::server::{with_suffix, Shared};
use crate::sock;
use crate::SimError;

/// How long either side waits for the other on the control socket.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest command line accepted.
const MAX_LINE: u64 = 256;

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
}

/// Asks the simulated card serving `socket` (its vfio-user socket path; the
/// control socket is `<socket>.ctl`) for its state.
pub fn control_status(socket: &Path) -> Result<ControlStatus, SimError> {
    let path = control_path(socket);
    let line = request(&path, "status")?;
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
    let line = request(&path, "stop")?;
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

fn request(path: &Path, command: &str) -> Result<String, SimError> {
    let io_err = |source: io::Error| SimError::Control {
        path: path.to_path_buf(),
        detail: format!("{command}: {source}"),
    };
    let mut stream = UnixStream::connect(path).map_err(|e| SimError::Control {
        path: path.to_path_buf(),
        detail: format!("cannot connect ({e}); is the simulated card running?"),
    })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io_err)?;
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
    let reply = match line.trim() {
        "status" => {
            let status = ControlStatus {
                state: if shared.busy() {
                    CardState::Busy
                } else {
                    CardState::Idle
                },
                pid: std::process::id(),
                test_mode: shared.test_mode,
                cycles: card.cycles(),
            };
            serde_json::to_string(&status).map_err(io::Error::other)?
        }
        "stop" => {
            stop = true;
            r#"{"stopping":true}"#.to_owned()
        }
        other => serde_json::json!({ "error": format!("unknown command {other:?}") }).to_string(),
    };
    (&stream).write_all(format!("{reply}\n").as_bytes())?;
    if stop {
        shared.request_stop();
    }
    Ok(())
}
