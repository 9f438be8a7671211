//! The card API, the same over every transport.

use std::sync::Arc;

use hsm_contract::regs;
use hsm_contract::Descriptor;

use crate::dma::DmaBuffer;
use crate::error::{Error, Result};
use crate::queue::{JobCompletion, QueueConfig, QueuePair};
use crate::spec::DeviceSpec;
use crate::transport::Transport;

/// The card's capabilities register, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// The raw `CAPABILITIES` value.
    pub raw: u32,
    /// NOP jobs are supported.
    pub op_nop: bool,
    /// COPY jobs are supported.
    pub op_copy: bool,
    /// AES-GCM jobs are supported.
    pub op_aes_gcm: bool,
    /// XTS-AES jobs are supported.
    pub op_aes_xts: bool,
    /// Key slots and the KEY_LOAD, KEY_CLEAR and SLOT_INFO jobs are
    /// supported.
    pub key_store: bool,
    /// SHA-3 and SHAKE jobs are supported.
    pub op_hash: bool,
    /// ML-KEM jobs (KEM_KEYGEN, KEM_ENCAPS, KEM_DECAPS) are supported.
    pub op_ml_kem: bool,
    /// Number of key slots (0 without a key store).
    pub key_slots: u32,
    /// Largest ring size, log2 of entries.
    pub ring_max_log2: u32,
    /// DMA beat size in bytes.
    pub dma_beat_bytes: u32,
}

impl Capabilities {
    /// Decode a `CAPABILITIES` value.
    pub fn from_raw(raw: u32) -> Capabilities {
        use regs::capabilities as c;
        Capabilities {
            raw,
            op_nop: c::OP_NOP.get(raw) != 0,
            op_copy: c::OP_COPY.get(raw) != 0,
            op_aes_gcm: c::OP_AES_GCM.get(raw) != 0,
            op_aes_xts: c::OP_AES_XTS.get(raw) != 0,
            key_store: c::KEY_STORE.get(raw) != 0,
            op_hash: c::OP_HASH.get(raw) != 0,
            op_ml_kem: c::OP_ML_KEM.get(raw) != 0,
            key_slots: if c::KEY_STORE.get(raw) != 0 {
                1u32 << c::KEY_SLOTS_LOG2.get(raw).min(16)
            } else {
                0
            },
            ring_max_log2: c::RING_MAX_LOG2.get(raw),
            dma_beat_bytes: 1u32 << c::DMA_BEAT_LOG2.get(raw).min(31),
        }
    }
}

/// The card's status register, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CardStatus {
    /// The raw `STATUS` value.
    pub raw: u32,
    /// The card came out of reset in test mode.
    pub test_mode: bool,
    /// The job queue is enabled.
    pub queue_enabled: bool,
    /// The dispatcher has work.
    pub busy: bool,
    /// A fault bit is set.
    pub fault: bool,
    /// The random bit generator is seeded and serving (`RNG_READY`).
    pub rng_ready: bool,
    /// The noise source failed an SP 800-90B health test (`RNG_FAULT`):
    /// jobs that need randomness fail with `ENTROPY_FAILURE` until the card
    /// is reset ([`Card::device_reset`]).
    pub rng_fault: bool,
    /// A power-on self-test failed (`SELFTEST_FAILED`): every job completes
    /// with `SELFTEST_FAILED` until the card is reset ([`Card::selftest`]
    /// says which test).
    pub selftest_failed: bool,
    /// The card holds no master key and so no key: new, or zeroized.
    pub zeroized: bool,
}

/// The card's power-on self-test results (`SELFTEST`), decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SelfTest {
    /// The raw `SELFTEST` value.
    pub raw: u32,
    /// The self-tests have finished since the last reset.
    pub done: bool,
    /// The DRBG's known-answer test failed.
    pub drbg_failed: bool,
    /// An AES known-answer test failed (key expansion, GCM, XTS).
    pub aes_failed: bool,
    /// A SHA-3 known-answer test failed (SHA3-256, SHAKE128).
    pub sha3_failed: bool,
    /// The ML-KEM known-answer test failed.
    pub mlkem_failed: bool,
}

impl SelfTest {
    /// Decode a `SELFTEST` value.
    pub fn from_raw(raw: u32) -> SelfTest {
        use regs::selftest as t;
        SelfTest {
            raw,
            done: t::DONE.get(raw) != 0,
            drbg_failed: t::DRBG.get(raw) != 0,
            aes_failed: t::AES.get(raw) != 0,
            sha3_failed: t::SHA3.get(raw) != 0,
            mlkem_failed: t::MLKEM.get(raw) != 0,
        }
    }

    /// The names of the known-answer tests that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        [
            ("drbg", self.drbg_failed),
            ("aes", self.aes_failed),
            ("sha3", self.sha3_failed),
            ("mlkem", self.mlkem_failed),
        ]
        .into_iter()
        .filter(|(_, f)| *f)
        .map(|(n, _)| n)
        .collect()
    }
}

/// The state of the card's random bit generator, from `STATUS`
/// ([`CardStatus::rng_state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RngState {
    /// Seeded and serving.
    Ready,
    /// Not seeded yet: the start-up health test and the instantiation run
    /// after every reset. Jobs that need randomness wait for it.
    Seeding,
    /// The noise source failed a health test: no random numbers, and so no
    /// key generation, until the card is reset.
    Failed,
}

impl RngState {
    /// `ready`, `seeding` or `failed`.
    pub fn name(self) -> &'static str {
        match self {
            RngState::Ready => "ready",
            RngState::Seeding => "seeding",
            RngState::Failed => "failed",
        }
    }
}

impl CardStatus {
    /// The random bit generator's state: a failure wins over the rest.
    pub fn rng_state(&self) -> RngState {
        if self.rng_fault {
            RngState::Failed
        } else if self.rng_ready {
            RngState::Ready
        } else {
            RngState::Seeding
        }
    }

    /// Decode a `STATUS` value.
    pub fn from_raw(raw: u32) -> CardStatus {
        use regs::status as s;
        CardStatus {
            raw,
            test_mode: s::TEST_MODE.get(raw) != 0,
            queue_enabled: s::QUEUE_ENABLED.get(raw) != 0,
            busy: s::BUSY.get(raw) != 0,
            fault: s::FAULT.get(raw) != 0,
            rng_ready: s::RNG_READY.get(raw) != 0,
            rng_fault: s::RNG_FAULT.get(raw) != 0,
            selftest_failed: s::SELFTEST_FAILED.get(raw) != 0,
            zeroized: s::ZEROIZED.get(raw) != 0,
        }
    }
}

/// The card's sticky fault bits and the first fault address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Faults {
    /// The raw `FAULT` value.
    pub raw: u32,
    /// A DMA read failed.
    pub dma_read: bool,
    /// A DMA write failed.
    pub dma_write: bool,
    /// The ring configuration was rejected.
    pub ring_config: bool,
    /// A doorbell named an index outside its ring.
    pub doorbell: bool,
    /// Bus address of the first DMA fault (`FAULT_ADDR`).
    pub addr: u64,
}

/// Who the card is: everything its identity registers say.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The device it was read from (`sim:...`, `vfio:...`).
    pub device: String,
    /// The `ID` register.
    pub design_id: u32,
    /// The `ID` register as ASCII ("HSM1").
    pub design_name: String,
    /// Contract major version.
    pub contract_major: u16,
    /// Contract minor version.
    pub contract_minor: u16,
    /// Build hash: the first 8 bytes of SHA-256 over the RTL's source.
    #[serde(serialize_with = "ser_hex64")]
    pub build_hash: u64,
    /// Capabilities.
    pub capabilities: Capabilities,
    /// The card is in test mode (chosen at reset).
    pub test_mode: bool,
    /// The status register.
    pub status: CardStatus,
    /// The power-on self-test results.
    pub selftest: SelfTest,
    /// Card cycles since reset.
    pub cycles: u64,
    /// Completions written since reset.
    pub jobs_completed: u64,
}

fn ser_hex64<S: serde::Serializer>(v: &u64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:016x}"))
}

/// An open card: identity checked, optionally with its queue running.
pub struct Card {
    t: Arc<dyn Transport>,
    caps: Capabilities,
    queue: Option<QueuePair>,
    /// DMA memory reused by the crypto jobs' batches (see `jobs.rs`).
    pub(crate) arena: Option<DmaBuffer>,
}

impl Card {
    /// Open the card named by `spec` and check that it is this design
    /// with a compatible contract version.
    ///
    /// # Errors
    /// The transport's connection errors ([`Error::NoSimCard`],
    /// [`Error::CardBusy`], [`Error::Vfio`], ...), [`Error::WrongDevice`],
    /// [`Error::IncompatibleContract`].
    pub fn open(spec: &DeviceSpec) -> Result<Card> {
        let t: Box<dyn Transport> = match spec {
            DeviceSpec::Sim(socket) => {
                Box::new(crate::vfio_user::VfioUserTransport::connect(socket)?)
            }
            DeviceSpec::Vfio(addr) => Box::new(crate::vfio::VfioTransport::open(*addr)?),
        };
        Card::from_transport(t)
    }

    /// Use a card reached through `t`, after checking its `ID` and the
    /// major contract version.
    ///
    /// # Errors
    /// [`Error::WrongDevice`], [`Error::IncompatibleContract`], transport
    /// errors.
    pub fn from_transport(t: Box<dyn Transport>) -> Result<Card> {
        let t: Arc<dyn Transport> = Arc::from(t);
        let id = t.read32(regs::ID.offset)?;
        if id != hsm_contract::DESIGN_ID {
            return Err(Error::WrongDevice {
                device: t.device().into(),
                id,
                expected: hsm_contract::DESIGN_ID,
            });
        }
        let v = t.read32(regs::CONTRACT_VERSION.offset)?;
        let (major, minor) = ((v >> 16) as u16, v as u16);
        if major != hsm_contract::CONTRACT_MAJOR {
            return Err(Error::IncompatibleContract {
                device: t.device().into(),
                major,
                minor,
                driver_major: hsm_contract::CONTRACT_MAJOR,
                driver_minor: hsm_contract::CONTRACT_MINOR,
            });
        }
        let caps = Capabilities::from_raw(t.read32(regs::CAPABILITIES.offset)?);
        Ok(Card {
            t,
            caps,
            queue: None,
            arena: None,
        })
    }

    /// The device, as a user names it.
    pub fn device(&self) -> &str {
        self.t.device()
    }

    /// The transport, for register-level work (diagnostics, tests).
    pub fn transport(&self) -> &dyn Transport {
        &*self.t
    }

    /// Read 64-bit counter `lo`/`hi` (reading `lo` latches `hi`).
    fn read64(&self, lo: &regs::Register, hi: &regs::Register) -> Result<u64> {
        let l = self.t.read32(lo.offset)?;
        let h = self.t.read32(hi.offset)?;
        Ok(((h as u64) << 32) | l as u64)
    }

    /// Read every identity register.
    ///
    /// # Errors
    /// Transport errors.
    pub fn identify(&self) -> Result<Identity> {
        let design_id = self.t.read32(regs::ID.offset)?;
        let v = self.t.read32(regs::CONTRACT_VERSION.offset)?;
        let build_hash = self.read64(&regs::BUILD_HASH_LO, &regs::BUILD_HASH_HI)?;
        let capabilities = Capabilities::from_raw(self.t.read32(regs::CAPABILITIES.offset)?);
        let status = CardStatus::from_raw(self.t.read32(regs::STATUS.offset)?);
        Ok(Identity {
            device: self.device().into(),
            design_id,
            design_name: design_id
                .to_le_bytes()
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect(),
            contract_major: (v >> 16) as u16,
            contract_minor: v as u16,
            build_hash,
            capabilities,
            test_mode: status.test_mode,
            status,
            selftest: self.selftest()?,
            cycles: self.cycles()?,
            jobs_completed: self.jobs_completed()?,
        })
    }

    /// Whether the card runs in test mode (`STATUS.TEST_MODE`, chosen at
    /// reset): only then does it accept plaintext keys and caller IVs.
    ///
    /// # Errors
    /// Transport errors.
    pub fn test_mode(&self) -> Result<bool> {
        Ok(self.status()?.test_mode)
    }

    /// The status register.
    ///
    /// # Errors
    /// Transport errors.
    pub fn status(&self) -> Result<CardStatus> {
        Ok(CardStatus::from_raw(self.t.read32(regs::STATUS.offset)?))
    }

    /// The power-on self-test results.
    ///
    /// # Errors
    /// Transport errors.
    pub fn selftest(&self) -> Result<SelfTest> {
        Ok(SelfTest::from_raw(self.t.read32(regs::SELFTEST.offset)?))
    }

    /// The capabilities read when the card was opened.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Card cycles since reset (`CYCLES`).
    ///
    /// # Errors
    /// Transport errors.
    pub fn cycles(&self) -> Result<u64> {
        self.read64(&regs::CYCLES_LO, &regs::CYCLES_HI)
    }

    /// Completions written since reset (`JOBS`).
    ///
    /// # Errors
    /// Transport errors.
    pub fn jobs_completed(&self) -> Result<u64> {
        self.read64(&regs::JOBS_LO, &regs::JOBS_HI)
    }

    /// The sticky fault bits and first fault address.
    ///
    /// # Errors
    /// Transport errors.
    pub fn faults(&self) -> Result<Faults> {
        use regs::fault as f;
        let raw = self.t.read32(regs::FAULT.offset)?;
        let addr = self.read64(&regs::FAULT_ADDR_LO, &regs::FAULT_ADDR_HI)?;
        Ok(Faults {
            raw,
            dma_read: f::DMA_READ.get(raw) != 0,
            dma_write: f::DMA_WRITE.get(raw) != 0,
            ring_config: f::RING_CONFIG.get(raw) != 0,
            doorbell: f::DOORBELL.get(raw) != 0,
            addr,
        })
    }

    /// Clear the fault bits that are set.
    ///
    /// # Errors
    /// Transport errors.
    pub fn clear_faults(&self) -> Result<()> {
        let raw = self.t.read32(regs::FAULT.offset)?;
        self.t.write32(regs::FAULT.offset, raw)
    }

    /// Check the register path: write patterns to `SCRATCH` and read them
    /// back, then restore its value.
    ///
    /// # Errors
    /// [`Error::Register`] naming the first pattern that did not read back.
    pub fn scratch_test(&self) -> Result<()> {
        let off = regs::SCRATCH.offset;
        let saved = self.t.read32(off)?;
        let patterns = [0xa5a5_a5a5, 0x5a5a_5a5a, 0, u32::MAX]
            .into_iter()
            .chain((0..32).map(|i| 1u32 << i));
        for p in patterns {
            self.t.write32(off, p)?;
            let got = self.t.read32(off)?;
            if got != p {
                return Err(Error::Register {
                    device: self.device().into(),
                    register: regs::SCRATCH.name,
                    offset: off,
                    reason: format!("wrote {p:#010x}, read back {got:#010x}"),
                });
            }
        }
        self.t.write32(off, saved)
    }

    /// Soft-reset the job engine (`CONTROL.SOFT_RESET`): queues,
    /// dispatcher, interrupts and faults. The queue pair is released; the
    /// next job starts a new one.
    ///
    /// # Errors
    /// Transport errors.
    pub fn reset(&mut self) -> Result<()> {
        self.t
            .write32(regs::CONTROL.offset, regs::control::SOFT_RESET.mask())?;
        // The registers reset at once; the dispatcher then drains the DMA
        // reads it had in flight. Wait until it is idle before the rings
        // are unmapped or reprogrammed.
        let mut status = 0;
        for _ in 0..1000 {
            status = self.t.read32(regs::STATUS.offset)?;
            if regs::status::BUSY.get(status) == 0 {
                break;
            }
        }
        if regs::status::BUSY.get(status) != 0 {
            return Err(Error::Register {
                device: self.device().into(),
                register: regs::STATUS.name,
                offset: regs::STATUS.offset,
                reason: format!("still BUSY after a soft reset and 1000 reads ({status:#010x})"),
            });
        }
        // The card no longer uses the rings: unmap them.
        self.queue = None;
        self.arena = None;
        Ok(())
    }

    /// Reset the whole device, as at power-on: a function-level reset of a
    /// real card, the vfio-user DEVICE_RESET of the simulated one. Unlike
    /// [`Card::reset`], which resets the job engine only, this also clears
    /// every key slot and restarts the random bit generator: a noise-source
    /// failure (`STATUS.RNG_FAULT`) is cleared, and the DRBG is seeded
    /// again from the start-up health test on ([`Card::wait_rng`] waits
    /// for it). The queue pair is released; the next job starts a new
    /// one. DMA buffers stay mapped.
    ///
    /// # Errors
    /// When the reset request fails (transport errors).
    pub fn device_reset(&mut self) -> Result<()> {
        let r = self.t.reset();
        // The card has forgotten its rings (or, if the reset failed, is in
        // an unknown state): unmap them, and start anew with the next job.
        self.queue = None;
        self.arena = None;
        r
    }

    /// Zeroize the card (`CARD_ZEROIZE`): it erases its master key, every
    /// key slot's persistent record and every memory that held a key, and
    /// reseeds its DRBG; see `hsm_contract::storage`. Returns once the card
    /// reports `STATUS.ZEROIZED` and its power-on self-tests are done, with
    /// their results (the job runs even on a card whose self-tests failed;
    /// they run again during the zeroization). The DRBG is still seeding
    /// then; jobs that need it wait. The card stops every queue; the next
    /// job starts a new one.
    ///
    /// # Errors
    /// [`Error::JobFailed`] when the card refuses the job (nothing is
    /// erased then); [`Error::Timeout`] when it does not report ZEROIZED
    /// within `timeout` (its master-key store did not confirm the erasure);
    /// queue and transport errors.
    pub fn zeroize(&mut self, timeout: std::time::Duration) -> Result<SelfTest> {
        let q = self.queue()?;
        let d = Descriptor {
            opcode: hsm_contract::Opcode::CardZeroize as u8,
            ..Descriptor::nop(q.next_job_id())
        };
        let done = q.run_batch(&[d]).and_then(one);
        // The card has stopped its queue, whatever the completion said.
        self.queue = None;
        self.arena = None;
        done?;
        self.poll_until(
            timeout,
            "the card to confirm its zeroization (STATUS.ZEROIZED)",
            |card| {
                let s = card.status()?;
                Ok((s.zeroized && !s.queue_enabled).then_some(()))
            },
        )?;
        self.wait_selftest(timeout)
    }

    /// Wait until the power-on self-tests have finished (after a reset),
    /// and return their results.
    ///
    /// # Errors
    /// [`Error::Timeout`] when they are still running after `timeout`;
    /// transport errors.
    pub fn wait_selftest(&self, timeout: std::time::Duration) -> Result<SelfTest> {
        self.poll_until(
            timeout,
            "the power-on self-tests to finish (SELFTEST.DONE)",
            |card| {
                let t = card.selftest()?;
                Ok(t.done.then_some(t))
            },
        )
    }

    /// Wait until the random bit generator has left the seeding state
    /// (after a reset): [`RngState::Ready`] or [`RngState::Failed`].
    ///
    /// # Errors
    /// [`Error::Timeout`] when it is still seeding after `timeout`;
    /// transport errors.
    pub fn wait_rng(&self, timeout: std::time::Duration) -> Result<RngState> {
        self.poll_until(
            timeout,
            "the random bit generator to be seeded (STATUS.RNG_READY)",
            |card| {
                let st = card.status()?.rng_state();
                Ok((st != RngState::Seeding).then_some(st))
            },
        )
    }

    /// Polls `probe` every millisecond until it gives a value, for at most
    /// `timeout`; `what` names the wait in the timeout error.
    fn poll_until<T>(
        &self,
        timeout: std::time::Duration,
        what: &str,
        mut probe: impl FnMut(&Self) -> Result<Option<T>>,
    ) -> Result<T> {
        let start = std::time::Instant::now();
        loop {
            if let Some(v) = probe(self)? {
                return Ok(v);
            }
            if start.elapsed() >= timeout {
                return Err(Error::Timeout {
                    device: self.device().into(),
                    what: what.into(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Allocate DMA memory the card can reach.
    ///
    /// # Errors
    /// When the memory cannot be allocated or mapped.
    pub fn alloc_dma(&self, len: usize) -> Result<DmaBuffer> {
        self.t.alloc_dma(len)
    }

    /// Soft-reset the card and start its queue pair with `cfg`. The reset
    /// ends the queue's login: log in again afterwards.
    ///
    /// # Errors
    /// As [`QueuePair`] set-up: bad sizes, rejected configuration,
    /// interrupt mode without an interrupt, transport errors.
    pub fn start_queue(&mut self, cfg: QueueConfig) -> Result<&mut QueuePair> {
        self.reset()?;
        let q = QueuePair::new(self.t.clone(), cfg, self.caps.ring_max_log2)?;
        Ok(self.queue.insert(q))
    }

    /// The queue pair, started with [`QueueConfig::default`] if it is not
    /// running.
    ///
    /// # Errors
    /// As [`Card::start_queue`].
    pub fn queue(&mut self) -> Result<&mut QueuePair> {
        if self.queue.is_none() {
            self.start_queue(QueueConfig::default())?;
        }
        Ok(self.queue.as_mut().expect("queue started above"))
    }

    /// Run a batch of jobs (see [`QueuePair::run_batch`]).
    ///
    /// # Errors
    /// As [`QueuePair::run_batch`].
    pub fn run_batch(&mut self, descs: &[Descriptor]) -> Result<Vec<JobCompletion>> {
        self.queue()?.run_batch(descs)
    }

    /// Run one NOP job.
    ///
    /// # Errors
    /// Queue errors; [`Error::JobFailed`] when the card fails it.
    pub fn nop(&mut self) -> Result<JobCompletion> {
        let q = self.queue()?;
        let d = Descriptor::nop(q.next_job_id());
        one(q.run_batch(&[d])?)
    }

    /// Copy `len` bytes from `src[src_off..]` to `dst[dst_off..]` on the
    /// card, and wait for it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a range is outside its buffer;
    /// [`Error::JobFailed`] when the card fails the job (for example
    /// `LENGTH_TOO_LARGE` over 1 MiB); queue errors.
    pub fn copy(
        &mut self,
        src: &DmaBuffer,
        src_off: usize,
        len: usize,
        dst: &mut DmaBuffer,
        dst_off: usize,
    ) -> Result<JobCompletion> {
        let fits = |b: &DmaBuffer, off: usize| off.checked_add(len).is_some_and(|e| e <= b.len());
        if !fits(src, src_off) || !fits(dst, dst_off) {
            return Err(Error::InvalidArgument(format!(
                "copy of {len} bytes from offset {src_off} of a {}-byte buffer to offset {dst_off} of a {}-byte buffer is out of bounds",
                src.len(),
                dst.len()
            )));
        }
        let len32 = u32::try_from(len)
            .map_err(|_| Error::InvalidArgument(format!("copy length {len} is over 4 GiB")))?;
        let dst_cap = u32::try_from(dst.len() - dst_off).unwrap_or(u32::MAX);
        let q = self.queue()?;
        let d = Descriptor::copy(
            q.next_job_id(),
            src.iova_at(src_off),
            len32,
            dst.iova_at(dst_off),
            dst_cap,
        );
        one(q.run_batch(&[d])?)
    }
}

fn one(mut v: Vec<JobCompletion>) -> Result<JobCompletion> {
    let c = v.pop().expect("run_batch returns one completion per job");
    c.check()
}
