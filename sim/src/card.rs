//! The card thread: owns the [`Model`] and clocks it.
//!
//! Everything else talks to the card by sending it closures over a channel
//! ([`CardHandle::call`]); the card thread runs them between chunks of
//! simulation, so the model is only ever touched by the thread that created
//! it. While the card is busy (or DMA is in flight) the thread clocks it in
//! chunks of [`CHUNK_CYCLES`] cycles and checks the channel in between; when
//! the card is idle it blocks on the channel, so an idle card costs no CPU.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::loader::{self, ImageInfo, Staged};
use crate::model::{Model, NoiseSource};
use crate::SimError;

/// Cycles simulated between two looks at the request channel while the card
/// is busy: about half a millisecond of host time.
pub const CHUNK_CYCLES: u64 = 10_000;

/// The card's state as the card thread sees it.
pub(crate) struct Card {
    /// The Verilated RTL and its DMA host side.
    pub model: Model,
    /// One eventfd (or none) per interrupt vector, as set by SET_IRQS.
    pub irq_fds: Vec<Option<File>>,
    /// The test-mode strap used at every reset.
    pub test_mode: bool,
    /// The DMA read latency every model of this card gets.
    pub dma_read_latency: u32,
    /// The image the model runs.
    pub image: ImageInfo,
    /// The highest security version this card has accepted.
    pub min_security_version: u32,
    /// What feeds the noise-source port (kept across image loads).
    pub noise: NoiseSource,
    /// The self-test fault-injection mask (kept across image loads).
    pub selftest_inject: u32,
}

impl Card {
    /// Switches to a staged image: makes its model (checking its build id),
    /// stores the package in `state_dir` when there is one, then replaces
    /// the model, carrying the DMA mappings over. Nothing changes when an
    /// error is returned.
    pub fn switch(
        &mut self,
        staged: Staged,
        state_dir: Option<&Path>,
    ) -> Result<ImageInfo, SimError> {
        let mut model = loader::instantiate(&staged, self.test_mode, None)?;
        model.set_dma_read_latency(self.dma_read_latency);
        model.set_noise(self.noise);
        model.set_selftest_inject(self.selftest_inject);
        if let Some(dir) = state_dir {
            // The new image opens the same storage: the slots survive.
            model.set_storage(dir)?;
            model.reset(self.test_mode);
            loader::persist(dir, &staged)?;
        }
        for mapping in self.model.take_mappings() {
            // The mappings did not overlap in the old model, so they do
            // not in the new one.
            let _ = model.map(mapping);
        }
        self.model = model;
        self.min_security_version = self.min_security_version.max(staged.info.security_version);
        self.image = staged.info;
        Ok(self.image.clone())
    }

    /// Signals interrupt vector `vector` `count` times (one eventfd write).
    pub fn fire(&mut self, vector: usize, count: u64) {
        if count == 0 {
            return;
        }
        if let Some(Some(fd)) = self.irq_fds.get_mut(vector) {
            // An eventfd write only fails when the counter would overflow,
            // which means the host is not listening; the interrupt is lost
            // as it would be on a masked vector without a pending bit.
            let _ = fd.write_all(&count.to_ne_bytes());
        }
    }
}

type Job = Box<dyn FnOnce(&mut Card) + Send>;

enum Msg {
    Job(Job),
    Shutdown,
}

/// A way to reach the card thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct CardHandle {
    tx: Sender<Msg>,
    cycles: Arc<AtomicU64>,
    socket: PathBuf,
}

impl CardHandle {
    /// Runs `f` on the card thread and returns its result.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Card) -> R + Send + 'static,
    ) -> Result<R, SimError> {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |card| {
            let _ = rtx.send(f(card));
        });
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| SimError::CardThread {
                path: self.socket.clone(),
            })?;
        rrx.recv().map_err(|_| SimError::CardThread {
            path: self.socket.clone(),
        })
    }

    /// Total cycles simulated, as of the card thread's last report.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Relaxed)
    }
}

/// What the card starts from.
pub(crate) struct Boot {
    /// The stored image, checked and loaded; the built-in one when `None`.
    pub staged: Option<Staged>,
    /// The highest security version the card has accepted.
    pub min_security_version: u32,
    /// The state directory, which holds the card's persistent storage.
    pub state_dir: Option<PathBuf>,
}

/// The running card thread.
pub(crate) struct CardThread {
    handle: CardHandle,
    join: Option<JoinHandle<()>>,
}

impl CardThread {
    /// Starts the card thread: builds and resets the model there, and returns
    /// once it is ready (or failed).
    pub fn start(
        socket: PathBuf,
        test_mode: bool,
        trace: Option<PathBuf>,
        dma_read_latency: u32,
        boot: Boot,
    ) -> Result<CardThread, SimError> {
        let (tx, rx) = mpsc::channel();
        let cycles = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread_cycles = Arc::clone(&cycles);
        let join = std::thread::Builder::new()
            .name("hsm-card".to_owned())
            .spawn(move || {
                let booted = match boot.staged {
                    Some(staged) => loader::instantiate(&staged, test_mode, trace.as_deref())
                        .map(|model| (model, staged.info)),
                    None => Model::new(test_mode, trace.as_deref()).and_then(|mut model| {
                        let id = loader::read_build_id(&mut model)?;
                        Ok((model, ImageInfo::builtin(id)))
                    }),
                };
                // The persistent storage is read at reset: attach it, then
                // boot again from it.
                let booted = booted.and_then(|(mut model, image)| {
                    if let Some(dir) = &boot.state_dir {
                        model.set_storage(dir)?;
                        model.reset(test_mode);
                    }
                    Ok((model, image))
                });
                let (model, image) = match booted {
                    Ok((mut model, image)) => {
                        model.set_dma_read_latency(dma_read_latency);
                        let _ = ready_tx.send(Ok(()));
                        (model, image)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let vectors = hsm_contract::IRQ_VECTORS as usize;
                let min_security_version = boot.min_security_version.max(image.security_version);
                let card = Card {
                    model,
                    irq_fds: (0..vectors).map(|_| None).collect(),
                    test_mode,
                    dma_read_latency,
                    image,
                    min_security_version,
                    noise: NoiseSource::default(),
                    selftest_inject: 0,
                };
                card_loop(card, &rx, &thread_cycles);
            })
            .map_err(|source| SimError::Io {
                path: socket.clone(),
                what: "cannot start the card thread",
                source,
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(CardThread {
                handle: CardHandle { tx, cycles, socket },
                join: Some(join),
            }),
            Ok(Err(e)) => {
                let _ = join.join();
                Err(e)
            }
            Err(_) => {
                let _ = join.join();
                Err(SimError::CardThread { path: socket })
            }
        }
    }

    /// A handle for sending work to the card thread.
    pub fn handle(&self) -> CardHandle {
        self.handle.clone()
    }

    /// Stops the card thread and destroys the model (which flushes and closes
    /// the trace).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.handle.tx.send(Msg::Shutdown);
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

impl Drop for CardThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn card_loop(mut card: Card, rx: &Receiver<Msg>, cycles: &AtomicU64) {
    // Whether the card may have work: checked by running it, which returns at
    // once when it has none.
    let mut active = true;
    loop {
        let msg = if active {
            match rx.try_recv() {
                Ok(msg) => Some(msg),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(msg) => Some(msg),
                Err(_) => return,
            }
        };
        match msg {
            Some(Msg::Shutdown) => return,
            Some(Msg::Job(job)) => {
                job(&mut card);
                cycles.store(card.model.cycles(), Ordering::Relaxed);
                active = true;
            }
            None => {
                let result = card.model.run(CHUNK_CYCLES);
                card.fire(hsm_contract::IRQ_VECTOR_QUEUE as usize, result.irqs);
                cycles.store(card.model.cycles(), Ordering::Relaxed);
                active = !result.idle() || result.irqs > 0;
            }
        }
    }
}
