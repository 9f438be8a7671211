//! The queue pair: a submission ring and a completion ring in host memory.
//!
//! The host writes 64-byte descriptors into the submission ring (SQ) and
//! tells the card how far it has written with one doorbell write
//! (`SQ_TAIL`) per batch. The card fetches descriptors by DMA, runs the
//! jobs in order and writes one 16-byte completion per job into the
//! completion ring (CQ). A completion carries a phase bit that the card
//! writes as 1 on its first pass through the ring, 0 on the next, and so
//! on, so the host finds new completions by reading memory, without
//! touching a register; it hands entries back with one `CQ_HEAD` write per
//! batch it consumed.
//!
//! Capacity: the card never overwrites a completion the host has not
//! handed back, so at most `CQ size - 1` completions may be outstanding,
//! and a submitted descriptor's SQ slot is known to be free once its
//! completion has arrived. The queue therefore keeps at most
//! `min(SQ size, CQ size) - 1` jobs in flight.

use std::collections::VecDeque;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hsm_contract::regs;
use hsm_contract::{Completion, Descriptor, Status, COMPLETION_BYTES, DESCRIPTOR_BYTES};

use crate::dma::DmaBuffer;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// How long a wait for completions goes without asking whether the card
/// still answers (one `ID` register read): a card that died fails the wait
/// within this, not at the queue's timeout.
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(100);

/// How [`QueuePair::wait`] waits when polling finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// Keep polling the completion ring (spinning, then yielding the CPU).
    /// Lowest latency; costs a CPU while waiting.
    Poll,
    /// Sleep on the completion interrupt (an eventfd) when polling finds
    /// nothing. Costs one register write per sleep.
    Interrupt,
}

/// Sizes and behaviour of a queue pair.
#[derive(Clone, Copy, Debug)]
pub struct QueueConfig {
    /// log2 of the number of submission ring entries.
    pub sq_log2: u32,
    /// log2 of the number of completion ring entries.
    pub cq_log2: u32,
    /// How to wait for completions.
    pub mode: WaitMode,
    /// How long a wait may go without any completion before it fails.
    pub timeout: Duration,
}

impl Default for QueueConfig {
    /// 256-entry rings, polling, 30 s timeout.
    fn default() -> Self {
        QueueConfig {
            sq_log2: 8,
            cq_log2: 8,
            mode: WaitMode::Poll,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A completed job, with its status decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobCompletion {
    /// The job's tag, as given in its descriptor.
    pub job_id: u32,
    /// The outcome.
    #[serde(serialize_with = "ser_status")]
    pub status: Status,
    /// Bytes written to the output.
    pub out_len: u32,
    /// Card cycles from the descriptor's arrival to the completion write.
    pub cycles: u32,
}

fn ser_status<S: serde::Serializer>(s: &Status, ser: S) -> std::result::Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}

impl JobCompletion {
    /// `Ok(self)` when the job succeeded, else [`Error::JobFailed`].
    ///
    /// # Errors
    /// When the status is not [`Status::Ok`].
    pub fn check(self) -> Result<JobCompletion> {
        if self.status == Status::Ok {
            Ok(self)
        } else {
            Err(Error::JobFailed {
                job_id: self.job_id,
                status: self.status,
            })
        }
    }
}

/// Counters of what the queue did, for benchmarks and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// Descriptors submitted.
    pub submitted: u64,
    /// Completions consumed.
    pub completed: u64,
    /// `SQ_TAIL` doorbell writes.
    pub doorbells: u64,
    /// `CQ_HEAD` writes.
    pub cq_head_writes: u64,
    /// Sleeps on the interrupt eventfd.
    pub irq_sleeps: u64,
    /// With profiling on: thread CPU time (ns) spent encoding descriptors
    /// into the ring, excluding the doorbell write.
    pub submit_cpu_ns: u64,
    /// With profiling on: thread CPU time (ns) spent in polls that found
    /// completions (phase checks, decoding, id checks), excluding the
    /// `CQ_HEAD` write.
    pub reap_cpu_ns: u64,
}

/// The card's one queue pair. Created by [`crate::Card::start_queue`].
pub struct QueuePair {
    t: Arc<dyn Transport>,
    sq: DmaBuffer,
    cq: DmaBuffer,
    sq_log2: u32,
    cq_log2: u32,
    sq_tail: u32,
    cq_head: u32,
    phase: bool,
    inflight: VecDeque<u32>,
    mode: WaitMode,
    timeout: Duration,
    next_job_id: u32,
    stats: QueueStats,
    profiling: bool,
    broken: Option<String>,
}

/// Thread CPU time in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to fill; the clock id is valid.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl QueuePair {
    /// Allocate the rings, program the ring registers and enable the queue.
    /// The card should be freshly soft-reset (the queue disabled).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for ring sizes outside
    /// `RING_MIN_LOG2..=max_log2`, [`Error::NoInterrupt`] for interrupt mode
    /// on a transport without one, [`Error::Register`] when the card flags
    /// the configuration (`FAULT.RING_CONFIG`), and transport errors.
    pub(crate) fn new(t: Arc<dyn Transport>, cfg: QueueConfig, max_log2: u32) -> Result<QueuePair> {
        for (name, v) in [("SQ", cfg.sq_log2), ("CQ", cfg.cq_log2)] {
            if !(hsm_contract::RING_MIN_LOG2..=max_log2).contains(&v) {
                return Err(Error::InvalidArgument(format!(
                    "{name} ring size 2^{v} is out of range: the card supports 2^{} to 2^{max_log2} entries",
                    hsm_contract::RING_MIN_LOG2
                )));
            }
        }
        let sq = t.alloc_dma(DESCRIPTOR_BYTES << cfg.sq_log2)?;
        let cq = t.alloc_dma(COMPLETION_BYTES << cfg.cq_log2)?;
        let mut q = QueuePair {
            t,
            sq,
            cq,
            sq_log2: cfg.sq_log2,
            cq_log2: cfg.cq_log2,
            sq_tail: 0,
            cq_head: 0,
            phase: true,
            inflight: VecDeque::new(),
            mode: WaitMode::Poll,
            timeout: cfg.timeout,
            next_job_id: 1,
            stats: QueueStats::default(),
            profiling: false,
            broken: None,
        };
        let t = &q.t;
        let program = [
            (regs::SQ_BASE_LO, q.sq.iova() as u32),
            (regs::SQ_BASE_HI, (q.sq.iova() >> 32) as u32),
            (regs::SQ_SIZE_LOG2, cfg.sq_log2),
            (regs::CQ_BASE_LO, q.cq.iova() as u32),
            (regs::CQ_BASE_HI, (q.cq.iova() >> 32) as u32),
            (regs::CQ_SIZE_LOG2, cfg.cq_log2),
        ];
        for (r, v) in &program {
            t.write32(r.offset, *v)?;
        }
        // Read the configuration back: a card that dropped a write would
        // otherwise fetch descriptors from the wrong memory.
        for (r, v) in &program {
            let got = t.read32(r.offset)?;
            if got != *v {
                return Err(Error::Register {
                    device: t.device().into(),
                    register: r.name,
                    offset: r.offset,
                    reason: format!(
                        "wrote {v:#010x} while the queue was disabled, read back {got:#010x}"
                    ),
                });
            }
        }
        t.write32(regs::CONTROL.offset, regs::control::QUEUE_ENABLE.mask())?;
        let fault = t.read32(regs::FAULT.offset)?;
        if regs::fault::RING_CONFIG.get(fault) != 0 {
            return Err(Error::Register {
                device: t.device().into(),
                register: regs::FAULT.name,
                offset: regs::FAULT.offset,
                reason: format!(
                    "RING_CONFIG set after enabling the queue (SQ at {:#x}, 2^{} entries; CQ at {:#x}, 2^{} entries): the card rejected the ring configuration",
                    q.sq.iova(), cfg.sq_log2, q.cq.iova(), cfg.cq_log2
                ),
            });
        }
        let status = t.read32(regs::STATUS.offset)?;
        if regs::status::QUEUE_ENABLED.get(status) == 0 {
            return Err(Error::Register {
                device: t.device().into(),
                register: regs::STATUS.name,
                offset: regs::STATUS.offset,
                reason: format!("QUEUE_ENABLED is clear after setting CONTROL.QUEUE_ENABLE (STATUS {status:#010x})"),
            });
        }
        q.set_mode(cfg.mode)?;
        Ok(q)
    }

    /// Number of submission ring entries.
    pub fn sq_entries(&self) -> u32 {
        1 << self.sq_log2
    }

    /// Number of completion ring entries.
    pub fn cq_entries(&self) -> u32 {
        1 << self.cq_log2
    }

    /// Most jobs in flight at once: `min(SQ, CQ entries) - 1`.
    pub fn capacity(&self) -> usize {
        (self.sq_entries().min(self.cq_entries()) - 1) as usize
    }

    /// Jobs submitted whose completions have not been consumed.
    pub fn outstanding(&self) -> usize {
        self.inflight.len()
    }

    /// Jobs that can be submitted now.
    pub fn free_slots(&self) -> usize {
        self.capacity() - self.inflight.len()
    }

    /// The wait mode.
    pub fn mode(&self) -> WaitMode {
        self.mode
    }

    /// Counters since the queue was created.
    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// Measure the thread CPU time of the queue's own ring work
    /// ([`QueueStats::submit_cpu_ns`], [`QueueStats::reap_cpu_ns`]). Off by
    /// default: it costs two clock reads per submit and per poll.
    pub fn set_profiling(&mut self, on: bool) {
        self.profiling = on;
    }

    /// Reset the counters.
    pub fn reset_stats(&mut self) {
        self.stats = QueueStats::default();
    }

    /// How long a wait may go without a completion.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// A fresh job id (a wrapping counter starting at 1).
    pub fn next_job_id(&mut self) -> u32 {
        let id = self.next_job_id;
        self.next_job_id = self.next_job_id.wrapping_add(1);
        id
    }

    /// Switch between polling and interrupt-driven waiting. Interrupt mode
    /// sets `IRQ_ENABLE.COMPLETION`; polling mode clears it.
    ///
    /// # Errors
    /// [`Error::NoInterrupt`] when the transport has no interrupt.
    pub fn set_mode(&mut self, mode: WaitMode) -> Result<()> {
        let enable = match mode {
            WaitMode::Poll => 0,
            WaitMode::Interrupt => {
                if !self.t.has_irq() {
                    return Err(Error::NoInterrupt {
                        device: self.t.device().into(),
                        vector: hsm_contract::IRQ_VECTOR_QUEUE,
                    });
                }
                regs::irq::COMPLETION.mask()
            }
        };
        self.t.write32(regs::IRQ_ENABLE.offset, enable)?;
        self.mode = mode;
        Ok(())
    }

    fn check_usable(&self) -> Result<()> {
        match &self.broken {
            Some(why) => Err(Error::InvalidArgument(format!(
                "the queue is unusable after an earlier error ({why}); reset the card or start a new queue"
            ))),
            None => Ok(()),
        }
    }

    /// Write as many of `descs` as fit into the submission ring, in order,
    /// and ring the doorbell once. Returns how many were submitted (a
    /// prefix of `descs`; 0 when the queue is full).
    ///
    /// # Errors
    /// Transport errors from the doorbell write.
    pub fn submit(&mut self, descs: &[Descriptor]) -> Result<usize> {
        self.check_usable()?;
        let n = descs.len().min(self.free_slots());
        if n == 0 {
            return Ok(0);
        }
        let t0 = self.profiling.then(thread_cpu_ns);
        let mask = self.sq_entries() - 1;
        let base = self.sq.as_ptr();
        for d in &descs[..n] {
            let bytes = d.to_bytes();
            let slot = (self.sq_tail & mask) as usize * DESCRIPTOR_BYTES;
            // SAFETY: slot + 64 <= the ring's length (sq_entries * 64); the
            // card does not read this slot until the doorbell below names
            // it, and it is free because at most capacity() jobs are in
            // flight.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(slot), DESCRIPTOR_BYTES)
            };
            self.sq_tail = (self.sq_tail + 1) & mask;
            self.inflight.push_back(d.job_id);
        }
        if let Some(t0) = t0 {
            self.stats.submit_cpu_ns += thread_cpu_ns() - t0;
        }
        // The descriptors must be in memory before the card can see the
        // doorbell.
        fence(Ordering::Release);
        self.t.write32(regs::SQ_TAIL.offset, self.sq_tail)?;
        self.stats.doorbells += 1;
        self.stats.submitted += n as u64;
        Ok(n)
    }

    /// Read the completion entry at ring index `idx` if the card has
    /// written it on the current pass (its phase matches `phase`).
    fn entry(&self, idx: u32, phase: bool) -> Option<Completion> {
        let p = self.cq.as_ptr();
        let off = idx as usize * COMPLETION_BYTES;
        // SAFETY: off + 16 <= the ring's length and 8-byte aligned (the
        // ring is page aligned). The card writes entries asynchronously, so
        // read with volatile loads, the half holding the phase bit first.
        let hi = unsafe { std::ptr::read_volatile(p.add(off + 8).cast::<u64>()) };
        let flags = (hi >> 56) as u8;
        if (flags & Completion::PHASE != 0) != phase {
            return None;
        }
        // Everything the card wrote before the phase is visible after it.
        fence(Ordering::Acquire);
        // SAFETY: as above.
        let lo = unsafe { std::ptr::read_volatile(p.add(off).cast::<u64>()) };
        let mut b = [0u8; COMPLETION_BYTES];
        b[..8].copy_from_slice(&lo.to_le_bytes());
        b[8..].copy_from_slice(&hi.to_le_bytes());
        Some(Completion::from_bytes(&b))
    }

    /// How many completions are ready to consume, without consuming them
    /// or touching a register.
    pub fn ready(&self) -> usize {
        let mask = self.cq_entries() - 1;
        let (mut idx, mut phase) = (self.cq_head, self.phase);
        let mut n = 0;
        while n < self.inflight.len() && self.entry(idx, phase).is_some() {
            n += 1;
            idx = (idx + 1) & mask;
            if idx == 0 {
                phase = !phase;
            }
        }
        n
    }

    /// Consume every completion the card has written, appending them to
    /// `out` in order, and hand the entries back with one `CQ_HEAD` write.
    /// Returns how many were consumed. Never blocks.
    ///
    /// # Errors
    /// [`Error::BadCompletion`] when an entry has the wrong layout version,
    /// an unknown status, or a job id other than the next one submitted
    /// (the queue is then unusable until restarted); transport errors.
    pub fn poll(&mut self, out: &mut Vec<JobCompletion>) -> Result<usize> {
        self.check_usable()?;
        if self.inflight.is_empty() {
            return Ok(0);
        }
        let t0 = self.profiling.then(thread_cpu_ns);
        let mask = self.cq_entries() - 1;
        let mut n = 0;
        let mut bad = None;
        while let Some(&expected) = self.inflight.front() {
            let Some(c) = self.entry(self.cq_head, self.phase) else {
                break;
            };
            match decode(&c, expected) {
                Ok(jc) => out.push(jc),
                Err(reason) => {
                    bad = Some(Error::BadCompletion {
                        device: self.t.device().into(),
                        index: self.cq_head,
                        reason,
                    });
                    break;
                }
            }
            self.inflight.pop_front();
            self.cq_head = (self.cq_head + 1) & mask;
            if self.cq_head == 0 {
                self.phase = !self.phase;
            }
            n += 1;
        }
        if let (Some(t0), true) = (t0, n > 0) {
            self.stats.reap_cpu_ns += thread_cpu_ns() - t0;
        }
        if n > 0 {
            self.t.write32(regs::CQ_HEAD.offset, self.cq_head)?;
            self.stats.cq_head_writes += 1;
            self.stats.completed += n as u64;
        }
        if let Some(e) = bad {
            self.broken = Some(e.to_string());
            return Err(e);
        }
        Ok(n)
    }

    /// What a wait waits for, for its errors.
    fn awaited(&self) -> String {
        match self.inflight.front() {
            Some(id) => format!(
                "completion of job {id} ({} outstanding, CQ head {})",
                self.inflight.len(),
                self.cq_head
            ),
            None => "completions".into(),
        }
    }

    fn timeout_error(&self, waited: Duration) -> Error {
        Error::Timeout {
            device: self.t.device().into(),
            what: self.awaited(),
            waited,
        }
    }

    /// Whether the card still answers: its `ID` register reads the design
    /// identity. A waiting queue asks every [`LIVENESS_PERIOD`], so that a
    /// card that died (a killed simulator, a surprise removal, where reads
    /// return all ones) fails the wait at once instead of at its timeout.
    ///
    /// # Errors
    /// [`Error::CardGone`].
    fn check_alive(&self) -> Result<()> {
        let reason = match self.t.read32(regs::ID.offset) {
            Ok(hsm_contract::DESIGN_ID) => return Ok(()),
            Ok(id) => format!("the ID register reads {id:#010x}"),
            Err(e) => {
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    // Some errors print their source themselves.
                    let s_text = s.to_string();
                    if !reason.contains(&s_text) {
                        reason = format!("{reason}: {s_text}");
                    }
                    source = s.source();
                }
                reason
            }
        };
        Err(Error::CardGone {
            device: self.t.device().into(),
            what: self.awaited(),
            reason,
        })
    }

    /// Wait until at least one completion arrives, consume what is there
    /// and return how many. Returns 0 at once when nothing is outstanding.
    ///
    /// In [`WaitMode::Interrupt`], when a poll finds nothing the queue
    /// clears `IRQ_STATUS.COMPLETION` (re-arming the interrupt), polls
    /// again (a completion may have landed before the clear, and would
    /// send no interrupt) and only then sleeps on the eventfd.
    ///
    /// # Errors
    /// [`Error::Timeout`] when nothing completes within the queue's timeout
    /// (naming the job waited for), [`Error::CardGone`] when the card stops
    /// answering meanwhile, and the errors of [`QueuePair::poll`].
    pub fn wait(&mut self, out: &mut Vec<JobCompletion>) -> Result<usize> {
        let start = Instant::now();
        let mut checked = start;
        let mut spins = 0u32;
        loop {
            let n = self.poll(out)?;
            if n > 0 || self.inflight.is_empty() {
                return Ok(n);
            }
            let waited = start.elapsed();
            if waited >= self.timeout {
                return Err(self.timeout_error(waited));
            }
            if checked.elapsed() >= LIVENESS_PERIOD {
                self.check_alive()?;
                checked = Instant::now();
            }
            match self.mode {
                WaitMode::Poll => {
                    spins = spins.saturating_add(1);
                    backoff(spins);
                }
                WaitMode::Interrupt => {
                    self.t
                        .write32(regs::IRQ_STATUS.offset, regs::irq::COMPLETION.mask())?;
                    let n = self.poll(out)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    self.stats.irq_sleeps += 1;
                    self.t
                        .wait_irq((self.timeout - waited).min(LIVENESS_PERIOD))?;
                }
            }
        }
    }

    /// Wait until every outstanding job has completed.
    ///
    /// # Errors
    /// As [`QueuePair::wait`].
    pub fn wait_all(&mut self, out: &mut Vec<JobCompletion>) -> Result<()> {
        while !self.inflight.is_empty() {
            self.wait(out)?;
        }
        Ok(())
    }

    /// Wait, reading only memory, until `count` completions are ready
    /// (see [`QueuePair::ready`]); consume nothing. Used to time the card
    /// without register traffic (but for one `ID` read per
    /// [`LIVENESS_PERIOD`] of waiting).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when fewer than `count` jobs are
    /// outstanding; [`Error::Timeout`]; [`Error::CardGone`].
    pub fn wait_ready(&mut self, count: usize) -> Result<()> {
        if count > self.inflight.len() {
            return Err(Error::InvalidArgument(format!(
                "cannot wait for {count} completions with {} jobs outstanding",
                self.inflight.len()
            )));
        }
        let start = Instant::now();
        let mut spins = 0u32;
        let mut last = 0;
        let mut progress = Instant::now();
        let mut checked = progress;
        loop {
            let r = self.ready();
            if r >= count {
                return Ok(());
            }
            if r > last {
                last = r;
                progress = Instant::now();
            }
            if progress.elapsed() >= self.timeout {
                return Err(self.timeout_error(start.elapsed()));
            }
            if checked.elapsed() >= LIVENESS_PERIOD {
                self.check_alive()?;
                checked = Instant::now();
            }
            spins = spins.saturating_add(1);
            backoff(spins);
        }
    }

    /// Run `descs` to completion: submit as many as fit with one doorbell,
    /// wait, refill when at least half the ring is free (or everything left
    /// fits), and so on. Returns the completions in submission order; a
    /// job's failure is in its status (see [`JobCompletion::check`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when jobs are already outstanding;
    /// errors of [`QueuePair::submit`] and [`QueuePair::wait`].
    pub fn run_batch(&mut self, descs: &[Descriptor]) -> Result<Vec<JobCompletion>> {
        if !self.inflight.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "run_batch needs an idle queue, but {} jobs are outstanding",
                self.inflight.len()
            )));
        }
        let mut out = Vec::with_capacity(descs.len());
        let mut next = 0;
        let refill = (self.capacity() / 2).max(1);
        while next < descs.len() || !self.inflight.is_empty() {
            let left = descs.len() - next;
            if left > 0 && (self.free_slots() >= refill.min(left) || self.inflight.is_empty()) {
                next += self.submit(&descs[next..])?;
            } else {
                self.wait(&mut out)?;
            }
        }
        Ok(out)
    }

    /// The ring registers' bus addresses (SQ, CQ), for diagnostics.
    pub fn ring_iovas(&self) -> (u64, u64) {
        (self.sq.iova(), self.cq.iova())
    }
}

fn decode(c: &Completion, expected: u32) -> std::result::Result<JobCompletion, String> {
    if !c.version_ok() {
        return Err(format!(
            "completion layout version {} (expected {})",
            c.version,
            hsm_contract::COMPLETION_VERSION
        ));
    }
    if c.job_id != expected {
        return Err(format!(
            "completion for job {} where job {expected} was next",
            c.job_id
        ));
    }
    let status = c.status().ok_or_else(|| {
        format!(
            "job {} completed with status {:#06x}, which contract {}.{} does not define",
            c.job_id,
            c.status,
            hsm_contract::CONTRACT_MAJOR,
            hsm_contract::CONTRACT_MINOR
        )
    })?;
    Ok(JobCompletion {
        job_id: c.job_id,
        status,
        out_len: c.out_len,
        cycles: c.cycles,
    })
}

/// Spin briefly, then yield, then sleep: the simulated card needs a CPU
/// too.
fn backoff(spins: u32) {
    if spins < 64 {
        std::hint::spin_loop();
    } else if spins < 1024 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Card;
    use crate::mock::{MockCard, MockTransport};

    fn card(mock: &Arc<MockCard>) -> Card {
        Card::from_transport(Box::new(MockTransport(mock.clone()))).unwrap()
    }

    fn cfg(sq: u32, cq: u32) -> QueueConfig {
        QueueConfig {
            sq_log2: sq,
            cq_log2: cq,
            mode: WaitMode::Poll,
            timeout: Duration::from_millis(200),
        }
    }

    fn nops(first: u32, n: u32) -> Vec<Descriptor> {
        (first..first + n).map(Descriptor::nop).collect()
    }

    #[test]
    fn programs_rings_and_enables() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c.start_queue(cfg(3, 4)).unwrap();
        let (sq, cq) = q.ring_iovas();
        assert_eq!(q.capacity(), 7);
        let t = MockTransport(mock.clone());
        assert_eq!(t.read32(regs::SQ_BASE_LO.offset).unwrap(), sq as u32);
        assert_eq!(
            t.read32(regs::SQ_BASE_HI.offset).unwrap(),
            (sq >> 32) as u32
        );
        assert_ne!(sq >> 32, 0, "rings live above 4 GiB");
        assert_eq!(t.read32(regs::CQ_BASE_LO.offset).unwrap(), cq as u32);
        assert_eq!(t.read32(regs::CQ_SIZE_LOG2.offset).unwrap(), 4);
        assert_eq!(t.read32(regs::SQ_SIZE_LOG2.offset).unwrap(), 3);
    }

    #[test]
    fn rejects_out_of_range_sizes() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let e = c.start_queue(cfg(0, 4)).err().unwrap().to_string();
        assert!(e.contains("SQ ring size 2^0 is out of range"), "{e}");
        let e = c.start_queue(cfg(4, 17)).err().unwrap().to_string();
        assert!(e.contains("CQ ring size 2^17"), "{e}");
    }

    #[test]
    fn one_doorbell_per_batch_and_one_head_write_per_poll() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c.start_queue(cfg(6, 6)).unwrap();
        mock.state().hold = true;
        assert_eq!(q.submit(&nops(1, 40)).unwrap(), 40);
        assert_eq!(mock.state().doorbells, vec![40]);
        let mut out = Vec::new();
        assert_eq!(q.poll(&mut out).unwrap(), 0, "nothing ran yet");
        assert!(
            mock.state().cq_head_writes.is_empty(),
            "empty polls write nothing"
        );
        mock.release();
        assert_eq!(q.ready(), 40);
        assert_eq!(q.poll(&mut out).unwrap(), 40);
        assert_eq!(mock.state().cq_head_writes, vec![40]);
        let ids: Vec<u32> = out.iter().map(|c| c.job_id).collect();
        assert_eq!(ids, (1..=40).collect::<Vec<_>>());
        assert!(out.iter().all(|c| c.status == Status::Ok));
        let s = q.stats();
        assert_eq!(
            (s.doorbells, s.cq_head_writes, s.submitted, s.completed),
            (1, 1, 40, 40)
        );
    }

    #[test]
    fn capacity_is_respected() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        // SQ of 16, CQ of 8: at most 7 in flight.
        let q = c.start_queue(cfg(4, 3)).unwrap();
        mock.state().hold = true;
        assert_eq!(q.submit(&nops(1, 20)).unwrap(), 7);
        assert_eq!(q.free_slots(), 0);
        assert_eq!(q.submit(&nops(8, 1)).unwrap(), 0);
        assert_eq!(
            mock.state().doorbells,
            vec![7],
            "a full queue rings no doorbell"
        );
        mock.release();
        let mut out = Vec::new();
        q.wait_all(&mut out).unwrap();
        assert_eq!(out.len(), 7);
        assert_eq!(q.free_slots(), 7);
    }

    #[test]
    fn phase_wraps_over_many_passes() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        // 4-entry rings: capacity 3, so 100 jobs take many passes with
        // the phase flipping each time.
        let q = c.start_queue(cfg(2, 2)).unwrap();
        let descs = nops(1000, 100);
        let out = q.run_batch(&descs).unwrap();
        assert_eq!(out.len(), 100);
        for (c, d) in out.iter().zip(&descs) {
            assert_eq!(c.job_id, d.job_id);
        }
        // The tail doorbells walk the ring modulo its size.
        let s = mock.state();
        assert!(s.doorbells.iter().all(|&t| t < 4));
        assert!(s.cq_head_writes.iter().all(|&h| h < 4));
        assert_eq!(s.jobs, 100);
    }

    #[test]
    fn run_batch_refills_in_large_batches() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c.start_queue(cfg(7, 7)).unwrap(); // capacity 127
        let out = q.run_batch(&nops(1, 1000)).unwrap();
        assert_eq!(out.len(), 1000);
        let doorbells = mock.state().doorbells.len();
        // Refill only when half the ring is free: at most 1000 / 63 + 1.
        assert!(doorbells <= 17, "{doorbells} doorbells for 1000 jobs");
    }

    #[test]
    fn statuses_are_typed_and_copy_helper_checks() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let mut bad = Descriptor::nop(5);
        bad.opcode = 0x7f;
        let out = c
            .run_batch(&[Descriptor::nop(4), bad, Descriptor::nop(6)])
            .unwrap();
        assert_eq!(out[1].status, Status::BadOpcode);
        assert_eq!(out[2].status, Status::Ok);
        let e = out[1].check().unwrap_err().to_string();
        assert!(e.contains("job 5 failed with status BAD_OPCODE"), "{e}");
        let src = c.alloc_dma(100).unwrap();
        let mut dst = c.alloc_dma(50).unwrap();
        let e = c.copy(&src, 0, 100, &mut dst, 0).unwrap_err().to_string();
        assert!(e.contains("out of bounds"), "{e}");
        let done = c.copy(&src, 10, 40, &mut dst, 5).unwrap();
        assert_eq!(done.out_len, 40);
    }

    #[test]
    fn mismatched_job_id_is_an_error() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c.start_queue(cfg(4, 4)).unwrap();
        mock.state().hold = true;
        q.submit(&nops(1, 2)).unwrap();
        // Corrupt the second descriptor's id before the card runs it.
        let sq = q.sq.as_ptr();
        // SAFETY: slot 1 of the 16-entry ring; the card has not fetched it.
        unsafe { std::ptr::write_volatile(sq.add(64 + 4).cast::<u32>(), 99) };
        mock.release();
        let mut out = Vec::new();
        let e = q.poll(&mut out).unwrap_err().to_string();
        assert!(
            e.contains("completion for job 99 where job 2 was next"),
            "{e}"
        );
        assert_eq!(out.len(), 1);
        assert!(
            q.submit(&nops(3, 1)).is_err(),
            "queue is unusable afterwards"
        );
    }

    #[test]
    fn timeout_names_the_job_waited_for() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c.start_queue(cfg(4, 4)).unwrap();
        mock.state().hold = true;
        q.submit(&nops(17, 3)).unwrap();
        let mut out = Vec::new();
        let e = q.wait(&mut out).unwrap_err().to_string();
        assert!(
            e.contains("timed out waiting for completion of job 17 (3 outstanding"),
            "{e}"
        );
    }

    #[test]
    fn a_card_that_stops_answering_fails_the_wait_at_once() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c
            .start_queue(QueueConfig {
                timeout: Duration::from_secs(30),
                ..cfg(4, 4)
            })
            .unwrap();
        mock.state().hold = true;
        q.submit(&nops(5, 2)).unwrap();
        mock.state().gone = true;
        let start = Instant::now();
        let e = q.wait(&mut Vec::new()).unwrap_err();
        assert!(matches!(e, Error::CardGone { .. }), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("stopped answering while waiting for completion of job 5")
                && e.contains("reads 0xffffffff"),
            "{e}"
        );
        assert!(
            start.elapsed() < 3 * LIVENESS_PERIOD,
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn interrupt_mode_rearms_then_sleeps() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c
            .start_queue(QueueConfig {
                mode: WaitMode::Interrupt,
                ..cfg(4, 4)
            })
            .unwrap();
        assert_eq!(
            MockTransport(mock.clone())
                .read32(regs::IRQ_ENABLE.offset)
                .unwrap(),
            regs::irq::COMPLETION.mask()
        );
        {
            let mut s = mock.state();
            s.hold = true;
            s.run_on_irq_wait = true;
        }
        q.submit(&nops(1, 5)).unwrap();
        let mut out = Vec::new();
        q.wait_all(&mut out).unwrap();
        assert_eq!(out.len(), 5);
        let s = mock.state();
        // Poll found nothing, so the queue cleared IRQ_STATUS before
        // sleeping, and the card sent one (coalesced) message for 5 jobs.
        assert_eq!(s.irq_status_clears, 1);
        assert_eq!(q.stats().irq_sleeps, 1);
        assert_eq!(s.irq_msgs, 0, "the message was consumed");
    }

    #[test]
    fn interrupt_mode_repoll_catches_early_completion() {
        let mock = MockCard::new();
        let mut c = card(&mock);
        let q = c
            .start_queue(QueueConfig {
                mode: WaitMode::Interrupt,
                ..cfg(4, 4)
            })
            .unwrap();
        q.submit(&nops(1, 2)).unwrap();
        // Completed instantly: the first poll finds them, no sleep at all.
        let mut out = Vec::new();
        q.wait_all(&mut out).unwrap();
        assert_eq!(q.stats().irq_sleeps, 0);
        assert_eq!(mock.state().irq_status_clears, 0);
    }

    #[test]
    fn buffers_unmap_exactly_what_was_mapped() {
        let mock = MockCard::new();
        let c = card(&mock);
        let a = c.alloc_dma(5000).unwrap();
        let b = c.alloc_dma(1).unwrap();
        let (ia, ib) = (a.iova(), b.iova());
        assert_eq!(a.mapped_len(), 8192);
        drop(a);
        b.free().unwrap();
        assert_eq!(mock.state().unmapped, vec![(ia, 8192), (ib, 4096)]);
        // The freed range is reused.
        let again = c.alloc_dma(8192).unwrap();
        assert_eq!(again.iova(), ia);
    }

    #[test]
    fn refuses_other_major_versions() {
        let mock = MockCard::new();
        mock.state().contract_version = 0x0002_0003;
        let e = Card::from_transport(Box::new(MockTransport(mock.clone())))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("speaks contract version 2.3"), "{e}");
        mock.state().contract_version = (hsm_contract::CONTRACT_MAJOR as u32) << 16 | 9;
        assert!(
            Card::from_transport(Box::new(MockTransport(mock))).is_ok(),
            "minor may differ"
        );
    }

    #[test]
    fn identity_and_scratch() {
        let mock = MockCard::new();
        let c = card(&mock);
        let id = c.identify().unwrap();
        assert_eq!(id.design_name, "HSM1");
        assert_eq!(id.contract_major, hsm_contract::CONTRACT_MAJOR);
        assert!(id.capabilities.op_copy && id.capabilities.op_nop);
        assert_eq!(id.capabilities.dma_beat_bytes, 16);
        c.scratch_test().unwrap();
        let j = serde_json::to_value(&id).unwrap();
        assert_eq!(j["build_hash"], "0000000000000000");
    }
}
