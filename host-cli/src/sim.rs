//! `hsmctl sim ...`: run the simulated card in the background.
//!
//! `sim start` re-executes this program as `hsmctl sim serve` in a new
//! session (detached from the terminal, stdin from /dev/null, output to a
//! log file) and waits until the card answers on its control socket.
//! `sim serve` links the simulator (crate `hsm-sim`) and serves in the
//! foreground until `sim stop` asks it to stop.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hsm_driver::vfio_user::{control_socket, control_status, ControlState};

use crate::{print_json, print_out};

/// The card is not running (exit code 3).
#[derive(Debug)]
pub struct NotRunning(pub PathBuf);

impl std::fmt::Display for NotRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no simulated card at {}: start one with `hsmctl sim start`",
            self.0.display()
        )
    }
}

impl std::error::Error for NotRunning {}

/// `hsmctl sim` commands.
#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Start a simulated card in the background
    Start(StartArgs),
    /// Stop the simulated card
    Stop {
        /// Its socket [default: the local simulated card's]
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// How long to wait for it to stop, in seconds
        #[arg(long, default_value_t = 15)]
        timeout: u64,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Show whether the simulated card runs, and whether a client uses it
    Status {
        /// Its socket [default: the local simulated card's]
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Fault injection for tests: choose what feeds the simulated card's
    /// noise source
    #[command(
        long_about = "Fault injection for tests: choose what feeds the simulated card's noise source from the next sample on.\n\n  getrandom  the host's getrandom(2) (the default)\n  stuck      one value forever: the repetition count test must fail\n  biased     every other sample the same value: the adaptive proportion test must fail\n\nThe card draws samples when it seeds its DRBG after a reset and when it reseeds, before every ML-KEM KeyGen and Encaps. After a health-test failure STATUS.RNG_FAULT is set (`hsmctl info` says FAILED) and every job that needs randomness fails with ENTROPY_FAILURE until the card is reset; set the source back to getrandom first, then restart the card (`hsmctl sim stop`, `hsmctl sim start`). A restarted card starts with getrandom."
    )]
    Noise {
        /// getrandom, stuck or biased
        #[arg(value_enum)]
        source: NoiseArg,
        /// Its socket [default: the local simulated card's]
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Open the simulated card's enclosure: pulse its tamper input, which
    /// zeroizes it (master key, every key slot, the DRBG)
    #[command(
        long_about = "Open the simulated card's enclosure: pulse its tamper input, as a real card's tamper switch would. The card zeroizes at once, whatever it is doing: it stops its queues, overwrites its master-key store, erases every key slot's record from its state directory, overwrites every memory and register that held a key, and reseeds its DRBG. It then reports ZEROIZED (`hsmctl info`) and holds no key. The command returns once the card has finished; jobs in flight never complete."
    )]
    Tamper {
        /// Its socket [default: the local simulated card's]
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Serve the simulated card in the foreground (what `sim start` runs)
    #[command(hide = true)]
    Serve(ServeArgs),
}

/// What feeds the simulated card's noise source (`hsmctl sim noise`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NoiseArg {
    /// The host's getrandom(2) (the default)
    Getrandom,
    /// One value forever (fails the repetition count test)
    Stuck,
    /// Every other sample the same value (fails the adaptive proportion test)
    Biased,
}

impl NoiseArg {
    fn source(self) -> hsm_sim::NoiseSource {
        match self {
            NoiseArg::Getrandom => hsm_sim::NoiseSource::Getrandom,
            NoiseArg::Stuck => hsm_sim::NoiseSource::Stuck,
            NoiseArg::Biased => hsm_sim::NoiseSource::Biased,
        }
    }
}

/// What the card is configured with, shared by `start` and `serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Directory for the card's persistent state (what a real card keeps
    /// in non-volatile memory: its sealed key slots, its master-key store,
    /// its card image). Without it the keys last as long as the process
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Socket to serve on [default: $HSM_SIM_SOCKET, else
    /// $XDG_RUNTIME_DIR/hsm/card.sock, else /tmp/hsm-$UID/card.sock]
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Bring the card out of reset in test mode
    #[arg(long)]
    test_mode: bool,
    /// Write a waveform trace (VCD) of the card to FILE
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Extra card cycles before DMA read data returns (models bus latency)
    #[arg(long, value_name = "CYCLES", default_value_t = 0)]
    dma_read_latency: u32,
}

impl ServeArgs {
    fn socket(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(hsm_driver::default_sim_socket)
    }
}

/// `hsmctl sim start` arguments.
#[derive(Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// How long to wait for the card to come up, in seconds
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

/// Run a `sim` command.
pub fn run(cmd: SimCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SimCommand::Start(a) => start(&a),
        SimCommand::Stop {
            socket,
            timeout,
            json,
        } => stop(
            &socket.unwrap_or_else(hsm_driver::default_sim_socket),
            Duration::from_secs(timeout),
            json,
        ),
        SimCommand::Status { socket, json } => {
            status(&socket.unwrap_or_else(hsm_driver::default_sim_socket), json)
        }
        SimCommand::Noise {
            source,
            socket,
            json,
        } => noise(
            &socket.unwrap_or_else(hsm_driver::default_sim_socket),
            source.source(),
            json,
        ),
        SimCommand::Tamper { socket, json } => {
            tamper(&socket.unwrap_or_else(hsm_driver::default_sim_socket), json)
        }
        SimCommand::Serve(a) => serve(&a),
    }
}

fn tamper(socket: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if probe(socket).is_none() {
        return Err(NotRunning(socket.to_path_buf()).into());
    }
    let report = hsm_sim::control_tamper(socket).with_context(|| {
        format!(
            "pulsing the tamper input of the simulated card at {}",
            socket.display()
        )
    })?;
    if json {
        print_json(&serde_json::json!({
            "socket": socket,
            "tamper": true,
            "cycles": report.cycles,
            "zeroized": report.zeroized,
        }))?;
    } else if report.zeroized {
        print_out(&format!(
            "simulated card at {}: tampered; zeroized in {} cycles: it holds no key\n",
            socket.display(),
            report.cycles
        ))?;
    }
    if !report.zeroized {
        anyhow::bail!(
            "the simulated card at {} did not confirm its zeroization: its master-key store refused the overwrite; check its state directory (permissions, free space), then stop it and delete master.key by hand",
            socket.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn noise(socket: &Path, source: hsm_sim::NoiseSource, json: bool) -> anyhow::Result<ExitCode> {
    if probe(socket).is_none() {
        return Err(NotRunning(socket.to_path_buf()).into());
    }
    hsm_sim::control_noise(socket, source).with_context(|| {
        format!(
            "setting the noise source of the simulated card at {} to {}",
            socket.display(),
            source.name()
        )
    })?;
    if json {
        print_json(&serde_json::json!({ "socket": socket, "noise": source.name() }))?;
    } else {
        let note = if source == hsm_sim::NoiseSource::Getrandom {
            "; a card whose noise source already failed stays failed until it is restarted"
        } else {
            " (a fault: the card's health tests catch it when the card draws samples, for the reseed before every ML-KEM KeyGen and Encaps)"
        };
        print_out(&format!(
            "simulated card at {}: noise source {}{note}\n",
            socket.display(),
            source.name()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let socket = a.socket();
    let mut cfg = hsm_sim::SimConfig::new(socket.clone());
    cfg.state_dir = a.state.clone();
    cfg.test_mode = a.test_mode;
    cfg.trace = a.trace.clone();
    cfg.dma_read_latency = a.dma_read_latency;
    let card = hsm_sim::start(cfg)
        .with_context(|| format!("starting the simulated card at {}", socket.display()))?;
    eprintln!(
        "hsmctl sim serve: serving at {} (pid {})",
        socket.display(),
        std::process::id()
    );
    card.wait()
        .with_context(|| format!("serving the simulated card at {}", socket.display()))?;
    eprintln!("hsmctl sim serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Whether something answers on the card's sockets: `Some(state)` when the
/// control socket answers.
fn probe(socket: &Path) -> Option<ControlState> {
    control_status(socket).ok()
}

/// Remove a socket file nobody listens on (left by a killed card).
fn remove_if_stale(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => bail!(
            "{} is in use by a process that does not answer as a simulated card; stop it or choose another --socket",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .with_context(|| format!("removing the stale socket {}", path.display())),
        Err(e) => Err(e).with_context(|| format!("checking {}", path.display())),
    }
}

fn log_path(a: &ServeArgs, socket: &Path) -> PathBuf {
    match &a.state {
        Some(dir) => dir.join("card.log"),
        None => {
            let mut s = socket.as_os_str().to_owned();
            s.push(".log");
            PathBuf::from(s)
        }
    }
}

fn tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s.trim_end().to_string()
}

fn start(a: &StartArgs) -> anyhow::Result<ExitCode> {
    let socket = a.serve.socket();
    if let Some(st) = probe(&socket) {
        bail!(
            "a simulated card already serves {} (state {}{}); stop it first with `hsmctl sim stop{}`",
            socket.display(),
            st.state,
            st.pid.map(|p| format!(", server pid {p}")).unwrap_or_default(),
            a.serve.socket.as_ref().map(|s| format!(" --socket {}", s.display())).unwrap_or_default()
        );
    }
    remove_if_stale(&socket)?;
    remove_if_stale(&control_socket(&socket))?;
    if let Some(parent) = socket.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    if let Some(dir) = &a.serve.state {
        create_private_dir(dir)?;
    }
    let log = log_path(&a.serve, &socket);
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening the log file {}", log.display()))?;
    let exe = std::env::current_exe().context("finding this program to run `sim serve`")?;
    let mut cmd = Command::new(exe);
    cmd.args(["sim", "serve", "--socket"]).arg(&socket);
    if let Some(d) = &a.serve.state {
        cmd.arg("--state").arg(absolute(d)?);
    }
    if a.serve.test_mode {
        cmd.arg("--test-mode");
    }
    if let Some(t) = &a.serve.trace {
        cmd.arg("--trace").arg(absolute(t)?);
    }
    cmd.arg("--dma-read-latency")
        .arg(a.serve.dma_read_latency.to_string());
    cmd.stdin(Stdio::null())
        .stdout(
            logf.try_clone()
                .context("duplicating the log file handle")?,
        )
        .stderr(logf);
    // SAFETY: setsid is async-signal-safe and touches no memory of ours;
    // it detaches the card from our terminal and process group.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting `hsmctl sim serve`")?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    eprintln!(
        "hsmctl: starting the simulated card at {} ...",
        socket.display()
    );
    loop {
        if let Some(st) = probe(&socket) {
            if a.json {
                print_json(&serde_json::json!({
                    "socket": socket,
                    "pid": pid,
                    "log": log,
                    "state": st.state,
                }))?;
            } else {
                print_out(&format!(
                    "simulated card serving at {} (pid {pid}, log {})\n",
                    socket.display(),
                    log.display()
                ))?;
            }
            if a.serve.state.is_none() {
                eprintln!(
                    "hsmctl: no --state DIR: the card's keys live in the simulator's memory and are lost when it stops"
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait().context("checking on `hsmctl sim serve`")? {
            bail!(
                "the simulated card exited ({status}) before serving at {}; log {}:\n{}",
                socket.display(),
                log.display(),
                tail(&log, 2000)
            );
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the simulated card did not answer at {} within {}s (killed pid {pid}); log {}:\n{}",
                control_socket(&socket).display(),
                a.timeout,
                log.display(),
                tail(&log, 2000)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

fn stop(socket: &Path, timeout: Duration, json: bool) -> anyhow::Result<ExitCode> {
    if probe(socket).is_none() {
        return Err(NotRunning(socket.to_path_buf()).into());
    }
    hsm_sim::control_stop(socket)
        .with_context(|| format!("asking the simulated card at {} to stop", socket.display()))?;
    let deadline = Instant::now() + timeout;
    while std::fs::symlink_metadata(socket).is_ok() {
        if Instant::now() >= deadline {
            bail!(
                "the simulated card at {} was asked to stop but its socket is still there after {}s; if its process is gone, remove the socket",
                socket.display(),
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if json {
        print_json(&serde_json::json!({ "socket": socket, "stopped": true }))?;
    } else {
        print_out(&format!("simulated card at {} stopped\n", socket.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn status(socket: &Path, json: bool) -> anyhow::Result<ExitCode> {
    match probe(socket) {
        Some(st) => {
            if json {
                let mut v = serde_json::json!({ "socket": socket, "running": true });
                v["control"] = st.raw.clone();
                v["state"] = st.state.clone().into();
                print_json(&v)?;
            } else {
                let detail = |k: &str| st.raw.get(k).map(|v| v.to_string());
                let mut text = format!(
                    "simulated card at {}: running, {}{}\n",
                    socket.display(),
                    st.state,
                    if st.is_busy() {
                        " (a client is connected)"
                    } else {
                        " (no client)"
                    }
                );
                for (key, label) in [
                    ("pid", "server pid"),
                    ("test_mode", "test mode"),
                    ("cycles", "cycles"),
                ] {
                    if let Some(v) = detail(key) {
                        text.push_str(&format!("  {label}: {v}\n"));
                    }
                }
                print_out(&text)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            if json {
                print_json(&serde_json::json!({ "socket": socket, "running": false }))?;
                Ok(ExitCode::from(crate::exit::UNAVAILABLE))
            } else {
                Err(NotRunning(socket.to_path_buf()).into())
            }
        }
    }
}
