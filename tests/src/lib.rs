//! Shared helpers for the end-to-end tests in `tests/`: start a simulated
//! card on a private socket and open it through the driver.
//!
//! Every test starts its own card (each Verilated model has its own
//! context), so tests run in parallel and never see each other's state.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use hsm_contract::Descriptor;
use hsm_driver::{Card, DeviceSpec, JobCompletion};
use hsm_sim::{SimCard, SimConfig};

/// A simulated card serving on a private socket; stopped and cleaned up on
/// drop.
pub struct TestCard {
    sim: Option<SimCard>,
    dir: PathBuf,
    socket: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The security officer's PIN [`TestCard::open_user`] sets.
pub const SO_PIN: &[u8] = b"e2e-officer";
/// The user's PIN [`TestCard::open_user`] sets.
pub const USER_PIN: &[u8] = b"e2e-user";

impl TestCard {
    /// Start a card (in test mode if `test_mode`).
    ///
    /// # Panics
    /// When the card cannot start.
    pub fn start(test_mode: bool) -> TestCard {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // Unix socket paths are limited to 108 bytes: keep this short.
        let dir = std::env::temp_dir().join(format!("hsm-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the test directory");
        let socket = dir.join("card.sock");
        let mut cfg = SimConfig::new(socket.clone());
        cfg.test_mode = test_mode;
        let sim = hsm_sim::start(cfg).expect("starting the simulated card");
        TestCard {
            sim: Some(sim),
            dir,
            socket,
        }
    }

    /// The card's vfio-user socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// The device spec naming this card.
    pub fn spec(&self) -> DeviceSpec {
        DeviceSpec::Sim(self.socket.clone())
    }

    /// Open the card and log in as the user, initialising the card first
    /// (label `e2e`, PINs [`SO_PIN`] and [`USER_PIN`]) when it is not:
    /// an operational card serves keys only to a logged-in user.
    ///
    /// # Panics
    /// When the card cannot be opened, initialised or logged in.
    pub fn open_user(&self) -> Card {
        let mut card = self.open();
        self.login_user(&mut card);
        card
    }

    /// Log `card` in as the user, initialising the card first as
    /// [`TestCard::open_user`] does (after a device reset, for example,
    /// which ends every login).
    ///
    /// # Panics
    /// When the card cannot be initialised or logged in.
    pub fn login_user(&self, card: &mut Card) {
        use hsm_contract::auth::Role;
        if !card.auth_info().expect("CARD_INFO").initialized {
            card.card_init("e2e", SO_PIN, 0).expect("CARD_INIT");
            card.login(Role::SecurityOfficer, SO_PIN).expect("LOGIN so");
            card.set_pin(Role::User, USER_PIN).expect("SET_PIN user");
        }
        card.login(Role::User, USER_PIN).expect("LOGIN user");
    }

    /// Open the card through the driver.
    ///
    /// # Panics
    /// When the card cannot be opened.
    pub fn open(&self) -> Card {
        Card::open(&self.spec()).expect("opening the simulated card")
    }
}

impl Drop for TestCard {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            let _ = sim.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A reproducible byte pattern (xorshift64), different for each seed.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Run one raw descriptor on `card` (its job id set from the queue), then
/// check that the card still serves a good job; the completion.
///
/// # Panics
/// When the queue fails, or the card does not serve the next job.
pub fn run_raw(card: &mut Card, mut d: Descriptor) -> JobCompletion {
    let q = card.queue().expect("the card's queue");
    d.job_id = q.next_job_id();
    let c = q.run_batch(&[d]).expect("running the job").remove(0);
    card.nop().expect("the card keeps serving after the job");
    c
}
