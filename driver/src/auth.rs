//! Card initialisation, logins and PINs (`hsm_contract::auth`).
//!
//! A login belongs to the card's queue, so it lasts as long as this
//! [`Card`] keeps its queue: opening the card again starts without one.
//! PINs pass through the job arena, which the driver wipes after every
//! batch; callers keep theirs in [`zeroize::Zeroizing`] buffers.

use hsm_contract::auth::{AuthInfo, Role, CARD_LABEL_BYTES};
use hsm_contract::Status;

use crate::card::Card;
use crate::error::{Error, Result};
use crate::jobs::{label_bytes, unexpected, Job, JobOutput};

impl Card {
    /// Initialise a new or zeroized card: its label (at most
    /// [`CARD_LABEL_BYTES`] bytes), the security officer's PIN and the
    /// number of wrong PINs before a role locks (0: the card's default).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a label or PIN of the wrong size;
    /// [`Error::JobFailed`] (`ALREADY_INITIALIZED`, `ENTROPY_FAILURE`,
    /// `STORAGE_FAILED`, ...); as [`Card::run_jobs`].
    pub fn card_init(&mut self, label: &str, so_pin: &[u8], failure_limit: u8) -> Result<()> {
        // A card label has a key label's form.
        const _: () = assert!(CARD_LABEL_BYTES == hsm_contract::crypto::LABEL_BYTES);
        let label = label_bytes(label)?;
        self.run_one(Job::CardInit {
            label,
            pin: so_pin,
            failure_limit,
        })
        .map(|_| ())
    }

    /// Log this card's queue in as `role`.
    ///
    /// # Errors
    /// [`Error::PinIncorrect`] with the tries left; [`Error::JobFailed`]
    /// (`PIN_LOCKED`, `PIN_NOT_SET`, `NOT_INITIALIZED`, ...); as
    /// [`Card::run_jobs`].
    pub fn login(&mut self, role: Role, pin: &[u8]) -> Result<()> {
        let r = self.run_one_result(Job::Login { role, pin })?;
        if r.completion.status == Status::PinIncorrect {
            return Err(Error::PinIncorrect {
                role: role.name(),
                tries_left: r.completion.out_len,
            });
        }
        r.into_output().map(|_| ())
    }

    /// End this card's login.
    ///
    /// # Errors
    /// As [`Card::run_jobs`].
    pub fn logout(&mut self) -> Result<()> {
        self.run_one(Job::Logout).map(|_| ())
    }

    /// Set `role`'s PIN. The security officer sets either role's (setting
    /// the user's unlocks it); the user only its own.
    ///
    /// # Errors
    /// [`Error::JobFailed`] (`NOT_LOGGED_IN`, `ROLE_DENIED`, ...); as
    /// [`Card::run_jobs`].
    pub fn set_pin(&mut self, role: Role, pin: &[u8]) -> Result<()> {
        self.run_one(Job::SetPin { role, pin }).map(|_| ())
    }

    /// The card's public auth state: label, roles, failure counters and
    /// this queue's login.
    ///
    /// # Errors
    /// As [`Card::run_jobs`].
    pub fn auth_info(&mut self) -> Result<AuthInfo> {
        match self.run_one(Job::CardInfo)? {
            JobOutput::Auth(a) => Ok(a),
            other => Err(unexpected(other)),
        }
    }
}
