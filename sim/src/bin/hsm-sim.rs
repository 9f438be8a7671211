//! `hsm-sim`: serves the simulated HSM card over vfio-user in the foreground.
//!
//! ```text
//! hsm-sim --socket PATH [--state DIR] [--test-mode] [--trace FILE] [--dma-latency N]
//! ```
//!
//! Stops on SIGTERM or SIGINT, or when a client sends `stop` to the control
//! socket `PATH.ctl`; either way it ends the current session, flushes the
//! trace and removes its sockets. Exit codes: 0 stopped cleanly, 1 the card
//! failed, 2 bad usage.

use std::path::PathBuf;
use std::process::ExitCode;

use hsm_sim::{SimConfig, DEFAULT_DMA_READ_LATENCY};

const USAGE: &str =
    "usage: hsm-sim --socket PATH [--state DIR] [--test-mode] [--trace FILE] [--dma-latency N]

Serves the simulated HSM card over vfio-user on PATH, with a control socket
on PATH.ctl (send `status` or `stop`). Stops on SIGTERM or SIGINT.

  --socket PATH     vfio-user socket to create (required)
  --state DIR       state directory (created if missing)
  --test-mode       reset the card in test mode
  --trace FILE      write a VCD trace of every RTL signal to FILE
  --dma-latency N   DMA read latency in cycles";

fn parse(args: impl Iterator<Item = String>) -> Result<SimConfig, String> {
    let mut socket = None;
    let mut state = None;
    let mut test_mode = false;
    let mut trace = None;
    let mut latency = DEFAULT_DMA_READ_LATENCY;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--socket" => socket = Some(PathBuf::from(value("--socket")?)),
            "--state" => state = Some(PathBuf::from(value("--state")?)),
            "--test-mode" => test_mode = true,
            "--trace" => trace = Some(PathBuf::from(value("--trace")?)),
            "--dma-latency" => {
                let v = value("--dma-latency")?;
                latency = v
                    .parse()
                    .map_err(|_| format!("--dma-latency: {v:?} is not a number of cycles"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let socket = socket.ok_or("--socket PATH is required")?;
    let mut config = SimConfig::new(socket);
    config.state_dir = state;
    config.test_mode = test_mode;
    config.trace = trace;
    config.dma_read_latency = latency;
    Ok(config)
}

/// Blocks SIGINT and SIGTERM in this thread (and so in every thread started
/// after), to be taken by `sigwait` in one thread instead.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid sigset_t; the calls only modify it and this
    // thread's signal mask.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    set
}

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(msg) => {
            if msg.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("hsm-sim: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let set = block_signals();
    let socket = config.socket.clone();
    let card = match hsm_sim::start(config) {
        Ok(card) => card,
        Err(e) => {
            eprintln!("hsm-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stopper = card.stop_handle();
    let signals = std::thread::Builder::new()
        .name("hsm-signals".to_owned())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: set is a valid, initialised sigset_t and sig a valid
            // place for the result.
            if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
                eprintln!("hsm-sim: signal {sig}: stopping");
                stopper.stop();
            }
        });
    if let Err(e) = signals {
        eprintln!("hsm-sim: cannot start the signal thread: {e}");
        let _ = card.stop();
        return ExitCode::FAILURE;
    }
    eprintln!(
        "hsm-sim: serving the card on {} (control: {}.ctl)",
        socket.display(),
        socket.display()
    );
    match card.wait() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hsm-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
