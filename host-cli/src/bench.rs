//! `hsmctl bench`: measure the card with its own cycle counters.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use clap::Args;
use hsm_contract::{Descriptor, Status};
use hsm_driver::{QueueConfig, WaitMode};

use crate::login::{LoginArgs, RoleArg};
use crate::{print_json, print_out, DeviceArg};

const COPY_BYTES: usize = 1 << 20;

const NOP_CYCLES_METHOD: &str = "CYCLES register read before and after one batch of N NOPs \
submitted with one doorbell and left in the completion ring until all N were written \
(no register traffic in between besides the doorbell), divided by N";

const HOST_NS_SCOPE: &str = "thread CPU time (CLOCK_THREAD_CPUTIME_ID) in the driver's \
ring code per NOP job: encoding descriptors into the submission ring plus consuming their \
completions (phase check, decode, job-id check); excludes the transport (doorbell and \
CQ_HEAD register writes, i.e. vfio-user messages or MMIO), polls that found nothing, and \
time waiting for the card; mean over the rounds";

/// `hsmctl bench` arguments.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    device: DeviceArg,
    /// On an initialised card the key jobs need a login (the user's by default).
    #[command(flatten)]
    login: LoginArgs,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
    /// NOP jobs per batch (one doorbell each), 1 to 65535
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=65535))]
    batch: u32,
    /// Batches of NOPs to run for the host-time figure
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Give up when the card makes no progress for this many seconds
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// Run the benchmark.
pub fn run(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    let mut card = a.device.open()?;
    let device = card.device().to_string();
    let wall0 = Instant::now();
    let cycles0 = card.cycles()?;
    let n = a.batch as usize;
    // Rings big enough for the whole batch in flight: 2^k > n.
    let log2 = (usize::BITS - n.leading_zeros()).max(hsm_contract::RING_MIN_LOG2);
    ensure!(
        log2 <= card.capabilities().ring_max_log2,
        "--batch {n} needs rings of 2^{log2} entries, the card supports 2^{}",
        card.capabilities().ring_max_log2
    );
    card.start_queue(QueueConfig {
        sq_log2: log2,
        cq_log2: log2,
        mode: WaitMode::Poll,
        timeout: Duration::from_secs(a.timeout),
    })?;
    // The login belongs to the queue, so it follows the queue's start.
    a.login.login(&mut card, RoleArg::User)?;
    let q = card.queue()?;

    // NOP batches.
    eprintln!("bench: {} rounds of {n} NOP jobs on {device} ...", a.rounds);
    let warm_up = Descriptor::nop(q.next_job_id());
    q.run_batch(&[warm_up])?.remove(0).check()?;
    let mut host_ns = 0u64;
    let mut nop_cycles_total = 0u64;
    let mut completion_cycles_total = 0u64;
    let mut doorbells = 0u64;
    for round in 0..a.rounds {
        let q = card.queue()?;
        let descs: Vec<Descriptor> = (0..n).map(|_| Descriptor::nop(q.next_job_id())).collect();
        q.reset_stats();
        q.set_profiling(true);
        let c0 = card.cycles()?;
        let q = card.queue()?;
        let sent = q.submit(&descs)?;
        ensure!(sent == n, "submitted {sent} of {n} NOPs");
        q.wait_ready(n)?;
        let c1 = card.cycles()?;
        let q = card.queue()?;
        let mut out = Vec::with_capacity(n);
        let got = q.poll(&mut out)?;
        ensure!(got == n, "consumed {got} of {n} completions");
        for (c, d) in out.iter().zip(&descs) {
            ensure!(
                c.job_id == d.job_id,
                "completion order: job {} where {} was due",
                c.job_id,
                d.job_id
            );
            if c.status != Status::Ok {
                c.check()?;
            }
            completion_cycles_total += c.cycles as u64;
        }
        let s = q.stats();
        q.set_profiling(false);
        host_ns += s.submit_cpu_ns + s.reap_cpu_ns;
        doorbells += s.doorbells;
        nop_cycles_total += c1 - c0;
        eprintln!(
            "bench: round {} of {}: {} cycles per NOP",
            round + 1,
            a.rounds,
            (c1 - c0) as f64 / n as f64
        );
    }
    let jobs = n as f64 * a.rounds as f64;
    let nop_job_cycles = nop_cycles_total as f64 / jobs;
    let nop_completion_cycles_mean = completion_cycles_total as f64 / jobs;
    let host_ns_per_job = host_ns as f64 / jobs;

    // One 1 MiB COPY.
    eprintln!("bench: copying 1 MiB ...");
    let mut src = card.alloc_dma(COPY_BYTES + 64)?;
    let mut dst = card.alloc_dma(COPY_BYTES + 64)?;
    fill_pattern(src.as_mut_slice(), 0x5eed);
    let done = card.copy(&src, 0, COPY_BYTES, &mut dst, 0)?;
    if src.as_slice()[..COPY_BYTES] != dst.as_slice()[..COPY_BYTES] {
        bail!("the 1 MiB COPY job completed OK but the destination differs from the source");
    }
    ensure!(done.cycles > 0, "the COPY completion reports 0 cycles");
    let copy_bytes_per_cycle = COPY_BYTES as f64 / done.cycles as f64;

    // AES figures (test mode: the key enters by KEY_LOAD).
    let aes = crate::bench_aes::run(&mut card, n)?;
    let host_sw = crate::bench_aes::host_sw_gcm()?;
    let sha3 = crate::bench_hash::run(&mut card)?;
    let kem = crate::bench_kem::run(&mut card)?;
    let host_sw_kem = crate::bench_kem::host_sw()?;

    let cycles1 = card.cycles()?;
    let wall = wall0.elapsed().as_secs_f64();
    let sim_cycles_per_second = (cycles1 - cycles0) as f64 / wall;

    let mut v = serde_json::json!({
        "device": device,
        "batch": n,
        "rounds": a.rounds,
        "copy_bytes": COPY_BYTES,
        "copy_cycles": done.cycles,
        "copy_bytes_per_cycle": round3(copy_bytes_per_cycle),
        "copy_cycles_source": "the COPY job's completion entry (cycles field)",
        "nop_job_cycles": round3(nop_job_cycles),
        "nop_job_cycles_method": NOP_CYCLES_METHOD,
        "nop_completion_cycles_mean": round3(nop_completion_cycles_mean),
        "nop_doorbells_per_batch": doorbells as f64 / a.rounds as f64,
        "host_ns_per_job": round3(host_ns_per_job),
        "host_ns_per_job_scope": HOST_NS_SCOPE,
        "card_cycles": cycles1 - cycles0,
        "wall_seconds": round3(wall),
        "sim_cycles_per_second": sim_cycles_per_second.round(),
        "sim_cycles_per_second_note": "card cycles elapsed during the benchmark / wall time; meaningful for the simulated card, which clocks only while busy or serving a register access",
    });
    let obj = v.as_object_mut().expect("an object");
    obj.extend(aes.json());
    obj.extend(sha3.json());
    obj.extend(kem.json());
    obj.extend(host_sw_kem.json());
    obj.insert(
        "host_sw_aes256_gcm_bytes_per_second".into(),
        host_sw.round().into(),
    );
    obj.insert(
        "host_sw_aes256_gcm_method".into(),
        crate::bench_aes::HOST_SW_METHOD.into(),
    );
    if cfg!(debug_assertions) {
        obj.insert(
            "host_sw_note".into(),
            "hsmctl is a debug build: its software AES-GCM and ML-KEM code is unoptimised, so the host figures are far too slow; build with --release for a fair comparison".into(),
        );
    }
    if a.json {
        print_json(&v)?;
    } else {
        print_out(&format!(
            "device:                 {device}\n\
             COPY 1 MiB:             {} cycles, {:.3} bytes/cycle\n\
             {:<24}{:.3} cycles/job (CYCLES delta / N); completion entries report {:.1} cycles each\n\
             driver CPU per job:     {:.1} ns (ring code only, no transport)\n\
             card cycles:            {} in {:.3} s = {:.0} cycles/s\n\
             {}\
             {}\
             {}\
             host software GCM:      {:.0} MB/s (aes-gcm crate, AES-256, 1 MiB messages)\n\
             {}",
            done.cycles,
            copy_bytes_per_cycle,
            format!("NOP (batch of {n}):"),
            nop_job_cycles,
            nop_completion_cycles_mean,
            host_ns_per_job,
            cycles1 - cycles0,
            wall,
            sim_cycles_per_second,
            aes.text(),
            sha3.text(),
            kem.text(),
            host_sw / 1e6,
            host_sw_kem.text(),
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The first two empty key slots, for a benchmark's own keys; `None` when
/// fewer are empty.
///
/// # Errors
/// Card errors while listing the slots.
pub fn two_free_slots(card: &mut hsm_driver::Card) -> anyhow::Result<Option<(u16, u16)>> {
    let free: Vec<u16> = card
        .list_slots()?
        .into_iter()
        .filter(|s| s.is_empty())
        .map(|s| s.slot)
        .take(2)
        .collect();
    Ok(match free[..] {
        [a, b] => Some((a, b)),
        _ => None,
    })
}

/// `x` rounded to three decimals, as the JSON figures carry it.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A reproducible byte pattern (xorshift), so a wrong copy cannot match by
/// accident.
pub fn fill_pattern(buf: &mut [u8], seed: u64) {
    let mut x = seed | 1;
    for b in buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}
