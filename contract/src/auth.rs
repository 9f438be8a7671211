//! Card initialisation, roles and PINs: who may use the card, and how the
//! card checks it.
//!
//! # Roles
//! Two roles log in: the security officer ([`Role::SecurityOfficer`]),
//! who sets the user's PIN (which also unlocks it) and zeroizes the card,
//! and the user ([`Role::User`]), who generates, uses and deletes keys.
//!
//! # Initialisation
//! A new or zeroized card holds no auth record: it is *not initialised*.
//! [`crate::Opcode::CardInit`] gives it its label, the security officer's
//! PIN and the failure limit, in one sealed record. The user's PIN is then
//! set by the security officer ([`crate::Opcode::SetPin`]). An initialised
//! card is initialised again only after zeroization.
//!
//! # Logins are bound to the queue
//! [`crate::Opcode::Login`] binds the role to the card's queue. The login
//! ends with [`crate::Opcode::Logout`], a queue reset (a driver that opens
//! the card starts with none), a soft reset, a reset, or a wrong PIN.
//! [`required_role`] says which jobs need which login ([`access`] is the
//! reference the RTL is tested against).
//!
//! # PIN records
//! A PIN is [`PIN_MIN_BYTES`] to [`PIN_MAX_BYTES`] bytes at `src`. The
//! card keeps, per role, a 16-byte salt drawn from its DRBG and the
//! verifier: the first [`VERIFIER_BYTES`] bytes of
//! SHA3-256(salt || PIN zero-padded to 64 bytes || PIN length)
//! ([`pin_message`]). Salts, verifiers, failure counters, the limit and the
//! label live in one record of the persistent store ([`AUTH_RECORD`]),
//! sealed by the vault as key slots are, so it is written atomically and a
//! damaged or swapped record is refused (the card then reports it damaged
//! and every login fails with [`crate::Status::PinLocked`] until it is
//! zeroized).
//!
//! A login first stores the role's failure counter plus one, then compares
//! the verifiers (all bits at once, in one cycle), then stores the counter
//! again: zero when the PIN matched, unchanged otherwise. The second write
//! happens either way, so the job's cycles do not depend on the PIN, and an
//! interrupted login has already counted as a failure. When a role's
//! failures reach the limit it is locked: its logins fail with
//! [`crate::Status::PinLocked`] without looking at the PIN. The security
//! officer unlocks the user by setting a new user PIN; a locked security
//! officer leaves zeroization (which then needs no login) and a new
//! initialisation.

use crate::Opcode;
use crate::Status;

/// The record of the persistent store that holds the auth record (after
/// the 64 key slots).
pub const AUTH_RECORD: usize = 64;
/// Shortest PIN, in bytes.
pub const PIN_MIN_BYTES: u32 = 4;
/// Longest PIN, in bytes.
pub const PIN_MAX_BYTES: u32 = 64;
/// Bytes of a PIN salt.
pub const SALT_BYTES: usize = 16;
/// Bytes of a PIN verifier (a truncated SHA3-256).
pub const VERIFIER_BYTES: usize = 16;
/// Bytes of the message hashed into a verifier.
pub const PIN_MESSAGE_BYTES: usize = SALT_BYTES + PIN_MAX_BYTES as usize + 1;
/// Failures before a role locks, when `CARD_INIT` names none.
pub const DEFAULT_FAILURE_LIMIT: u8 = 5;
/// Bytes of the card label.
pub const CARD_LABEL_BYTES: usize = 32;
/// Bytes `CARD_INFO` writes.
pub const AUTH_INFO_BYTES: usize = 64;
/// Byte 0 of the sealed auth record: what kind of record it is.
pub const AUTH_RECORD_KIND: u8 = 0xc0;

/// A role that logs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    /// The security officer.
    SecurityOfficer = 1,
    /// The user.
    User = 2,
}

impl Role {
    /// Decode a role code (`params` byte 0 of `LOGIN` and `SET_PIN`).
    pub fn from_u8(v: u8) -> Option<Role> {
        match v {
            1 => Some(Role::SecurityOfficer),
            2 => Some(Role::User),
            _ => None,
        }
    }

    /// Lower-case name, as `hsmctl` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Role::SecurityOfficer => "so",
            Role::User => "user",
        }
    }
}

/// The login a job needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// None.
    Nothing,
    /// Either role.
    AnyRole,
    /// The user.
    User,
    /// The security officer (unless that role is locked, or the card
    /// failed its self-tests: see [`access`]).
    SecurityOfficer,
}

/// The login an operation needs on an initialised card.
pub const fn required_role(op: Opcode) -> Need {
    match op {
        Opcode::AesGcmEncrypt
        | Opcode::AesGcmDecrypt
        | Opcode::AesXtsEncrypt
        | Opcode::AesXtsDecrypt
        | Opcode::KeyLoad
        | Opcode::KeyClear
        | Opcode::KeyGenerate
        | Opcode::KemKeygen
        | Opcode::KemEncaps
        | Opcode::KemDecaps => Need::User,
        Opcode::SlotInfo => Need::AnyRole,
        Opcode::CardZeroize => Need::SecurityOfficer,
        _ => Need::Nothing,
    }
}

/// What the card knows about logins when a job arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthState {
    /// The card holds an auth record (initialised, or damaged).
    pub initialized: bool,
    /// The security officer's role is locked (or the record is damaged).
    pub so_locked: bool,
    /// The queue's login.
    pub role: Option<Role>,
}

/// The status the card gives a job that passed the descriptor checks
/// (`Descriptor::precheck`), from the login state alone; `None` lets it
/// run. The job-specific checks of the auth jobs themselves (for example
/// `ALREADY_INITIALIZED`) come after.
///
/// - On a card that is not initialised, only test mode runs the jobs that
///   need the user (so that the engines' known-answer tests can load
///   keys); otherwise they end with `NOT_INITIALIZED`. `SLOT_INFO` and
///   `CARD_ZEROIZE` need no login there.
/// - `CARD_ZEROIZE` needs no login while the security officer is locked
///   or the self-tests failed (`blocked`): a card nobody can manage can
///   still be emptied.
pub fn access(op: Opcode, st: AuthState, test_mode: bool, blocked: bool) -> Option<Status> {
    let need = required_role(op);
    if !st.initialized {
        return match need {
            Need::User if !test_mode => Some(Status::NotInitialized),
            _ => None,
        };
    }
    match (need, st.role) {
        (Need::Nothing, _) => None,
        (Need::SecurityOfficer, _) if st.so_locked || blocked => None,
        (_, None) => Some(Status::NotLoggedIn),
        (Need::AnyRole, Some(_)) => None,
        (Need::User, Some(Role::User)) => None,
        (Need::SecurityOfficer, Some(Role::SecurityOfficer)) => None,
        _ => Some(Status::RoleDenied),
    }
}

/// The message whose SHA3-256 (first [`VERIFIER_BYTES`] bytes) is a PIN's
/// verifier: the salt, the PIN zero-padded to [`PIN_MAX_BYTES`], and the
/// PIN's length. It fits in one SHA3-256 block, so every PIN takes the
/// same hashing time.
pub fn pin_message(salt: &[u8; SALT_BYTES], pin: &[u8]) -> [u8; PIN_MESSAGE_BYTES] {
    assert!(pin.len() <= PIN_MAX_BYTES as usize, "PIN too long");
    let mut m = [0u8; PIN_MESSAGE_BYTES];
    m[..SALT_BYTES].copy_from_slice(salt);
    m[SALT_BYTES..SALT_BYTES + pin.len()].copy_from_slice(pin);
    m[PIN_MESSAGE_BYTES - 1] = pin.len() as u8;
    m
}

/// What `CARD_INFO` writes to `dst` ([`AUTH_INFO_BYTES`] bytes): the card's
/// public auth state, never a salt or verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthInfo {
    /// The card holds an auth record.
    pub initialized: bool,
    /// The auth record did not open (damaged, swapped or from another
    /// card): nobody can log in until the card is zeroized.
    pub damaged: bool,
    /// The user's PIN is set.
    pub user_pin_set: bool,
    /// Failures before a role locks.
    pub failure_limit: u8,
    /// The security officer's consecutive failures.
    pub so_failures: u8,
    /// The user's consecutive failures.
    pub user_failures: u8,
    /// This queue's login.
    pub role: Option<Role>,
    /// The card label.
    pub label: [u8; CARD_LABEL_BYTES],
}

impl AuthInfo {
    /// Flag bits of byte 0.
    pub const INITIALIZED: u8 = 1;
    /// The auth record is damaged.
    pub const DAMAGED: u8 = 2;
    /// The user's PIN is set.
    pub const USER_PIN_SET: u8 = 4;

    /// Decode the bytes `CARD_INFO` wrote.
    pub fn from_bytes(b: &[u8; AUTH_INFO_BYTES]) -> AuthInfo {
        let mut label = [0u8; CARD_LABEL_BYTES];
        label.copy_from_slice(&b[32..64]);
        AuthInfo {
            initialized: b[0] & Self::INITIALIZED != 0,
            damaged: b[0] & Self::DAMAGED != 0,
            user_pin_set: b[0] & Self::USER_PIN_SET != 0,
            failure_limit: b[1],
            so_failures: b[2],
            user_failures: b[3],
            role: Role::from_u8(b[4]),
            label,
        }
    }

    /// The security officer's role is locked.
    pub fn so_locked(&self) -> bool {
        self.damaged || (self.initialized && self.so_failures >= self.failure_limit)
    }

    /// The user's role is locked.
    pub fn user_locked(&self) -> bool {
        self.damaged || (self.user_pin_set && self.user_failures >= self.failure_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_follows_the_roles() {
        let init = |role| AuthState {
            initialized: true,
            so_locked: false,
            role,
        };
        let user = init(Some(Role::User));
        let so = init(Some(Role::SecurityOfficer));
        let none = init(None);
        let gen = Opcode::KeyGenerate;
        assert_eq!(access(gen, user, false, false), None);
        assert_eq!(access(gen, so, false, false), Some(Status::RoleDenied));
        assert_eq!(access(gen, none, true, false), Some(Status::NotLoggedIn));
        assert_eq!(access(Opcode::SlotInfo, so, false, false), None);
        assert_eq!(access(Opcode::Sha3_256, none, false, false), None);
        let zz = Opcode::CardZeroize;
        assert_eq!(access(zz, user, false, false), Some(Status::RoleDenied));
        assert_eq!(access(zz, so, false, false), None);
        assert_eq!(access(zz, none, false, true), None);
        let locked = AuthState {
            so_locked: true,
            ..none
        };
        assert_eq!(access(zz, locked, false, false), None);
        let new = AuthState::default();
        assert_eq!(access(gen, new, false, false), Some(Status::NotInitialized));
        assert_eq!(access(gen, new, true, false), None);
        assert_eq!(access(zz, new, false, false), None);
        assert_eq!(access(Opcode::SlotInfo, new, false, false), None);
    }

    #[test]
    fn the_pin_message_fills_one_sha3_256_block() {
        // SHA3-256's rate is 136 bytes, less the two padding bytes.
        const _: () = assert!(PIN_MESSAGE_BYTES <= 134);
        let m = pin_message(&[7; SALT_BYTES], b"1234");
        assert_eq!(&m[16..20], b"1234");
        assert_eq!(m[PIN_MESSAGE_BYTES - 1], 4);
        assert!(m[20..PIN_MESSAGE_BYTES - 1].iter().all(|&b| b == 0));
    }
}
