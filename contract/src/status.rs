//! Completion status codes.

/// The outcome of a job, carried in its completion entry.
///
/// Codes are stable: a code keeps its number and meaning across contract
/// versions, and new codes are only added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Status {
    /// The job succeeded.
    Ok = 0x0000,
    /// The descriptor's `version` is not one this card speaks.
    BadVersion = 0x0001,
    /// The descriptor's `opcode` is unknown to this card.
    BadOpcode = 0x0002,
    /// A field the operation does not use, or a reserved field, is not zero.
    ReservedField = 0x0003,
    /// A length is over [`crate::MAX_JOB_BYTES`].
    LengthTooLarge = 0x0004,
    /// The output buffer (`dst_len`) is too small for the result.
    OutputTooSmall = 0x0005,
    /// A DMA read of the job's input failed (unmapped or faulting address).
    DmaReadError = 0x0006,
    /// A DMA write of the job's output failed.
    DmaWriteError = 0x0007,
    /// An address the operation needs 16-byte aligned is not.
    Misaligned = 0x0008,
    /// A length is inconsistent with the operation's layout.
    BadLength = 0x0009,
    /// The key slot index is out of range.
    BadSlot = 0x000a,
    /// The key slot holds no key.
    SlotEmpty = 0x000b,
    /// The key slot already holds a key.
    SlotOccupied = 0x000c,
    /// The slot's algorithm does not fit the operation.
    WrongKeyType = 0x000d,
    /// The slot's usage policy does not allow the operation.
    PolicyDenied = 0x000e,
    /// The operation exists only in test mode.
    NotTestMode = 0x000f,
    /// The authentication tag did not verify.
    AuthFailed = 0x0010,
    /// The IV length is out of range.
    BadIvLength = 0x0011,
    /// The tag length is out of range.
    BadTagLength = 0x0012,
    /// The key material is not acceptable.
    WeakKey = 0x0013,
    /// The algorithm code is unknown.
    BadAlgorithm = 0x0014,
    /// An ML-KEM encapsulation key failed FIPS 203's modulus check.
    EkCheckFailed = 0x0015,
    /// An engine's self-check failed: a hardware fault.
    EngineFault = 0x0016,
    /// The card's noise source failed its SP 800-90B health tests: the card
    /// makes no random numbers, and so no keys, until it is reset.
    EntropyFailure = 0x0017,
    /// A power-on self-test failed: the card refuses every job until it
    /// is reset.
    SelfTestFailed = 0x0018,
    /// Another slot holds a key with the same label.
    LabelInUse = 0x0019,
    /// The card could not store the key in its persistent storage; the
    /// slot stays empty.
    StorageFailed = 0x001a,
    /// The key has made every GCM invocation this boot allows
    /// (2^44, see [`crate::storage`]); card-IV encryption with it works
    /// again after a reset.
    InvocationsExhausted = 0x001b,
    /// The card holds no auth record: initialise it first.
    NotInitialized = 0x001c,
    /// The card is already initialised.
    AlreadyInitialized = 0x001d,
    /// The job needs a login the queue does not have.
    NotLoggedIn = 0x001e,
    /// The queue's role may not run the job.
    RoleDenied = 0x001f,
    /// The PIN is wrong.
    PinIncorrect = 0x0020,
    /// The role is locked after too many wrong PINs.
    PinLocked = 0x0021,
    /// The user's PIN has not been set.
    PinNotSet = 0x0022,
    /// The role code is unknown.
    BadRole = 0x0023,
}

impl Status {
    /// Every status code, in numeric order.
    pub const ALL: &'static [Status] = &[
        Status::Ok,
        Status::BadVersion,
        Status::BadOpcode,
        Status::ReservedField,
        Status::LengthTooLarge,
        Status::OutputTooSmall,
        Status::DmaReadError,
        Status::DmaWriteError,
        Status::Misaligned,
        Status::BadLength,
        Status::BadSlot,
        Status::SlotEmpty,
        Status::SlotOccupied,
        Status::WrongKeyType,
        Status::PolicyDenied,
        Status::NotTestMode,
        Status::AuthFailed,
        Status::BadIvLength,
        Status::BadTagLength,
        Status::WeakKey,
        Status::BadAlgorithm,
        Status::EkCheckFailed,
        Status::EngineFault,
        Status::EntropyFailure,
        Status::SelfTestFailed,
        Status::LabelInUse,
        Status::StorageFailed,
        Status::InvocationsExhausted,
        Status::NotInitialized,
        Status::AlreadyInitialized,
        Status::NotLoggedIn,
        Status::RoleDenied,
        Status::PinIncorrect,
        Status::PinLocked,
        Status::PinNotSet,
        Status::BadRole,
    ];

    /// Decode a completion's status field; `None` for a code this contract
    /// version does not define.
    pub fn from_u16(v: u16) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| *s as u16 == v)
    }

    /// Upper-case name, as in the documentation.
    pub const fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadVersion => "BAD_VERSION",
            Status::BadOpcode => "BAD_OPCODE",
            Status::ReservedField => "RESERVED_FIELD",
            Status::LengthTooLarge => "LENGTH_TOO_LARGE",
            Status::OutputTooSmall => "OUTPUT_TOO_SMALL",
            Status::DmaReadError => "DMA_READ_ERROR",
            Status::DmaWriteError => "DMA_WRITE_ERROR",
            Status::Misaligned => "MISALIGNED",
            Status::BadLength => "BAD_LENGTH",
            Status::BadSlot => "BAD_SLOT",
            Status::SlotEmpty => "SLOT_EMPTY",
            Status::SlotOccupied => "SLOT_OCCUPIED",
            Status::WrongKeyType => "WRONG_KEY_TYPE",
            Status::PolicyDenied => "POLICY_DENIED",
            Status::NotTestMode => "NOT_TEST_MODE",
            Status::AuthFailed => "AUTH_FAILED",
            Status::BadIvLength => "BAD_IV_LENGTH",
            Status::BadTagLength => "BAD_TAG_LENGTH",
            Status::WeakKey => "WEAK_KEY",
            Status::BadAlgorithm => "BAD_ALGORITHM",
            Status::EkCheckFailed => "EK_CHECK_FAILED",
            Status::EngineFault => "ENGINE_FAULT",
            Status::EntropyFailure => "ENTROPY_FAILURE",
            Status::SelfTestFailed => "SELFTEST_FAILED",
            Status::LabelInUse => "LABEL_IN_USE",
            Status::StorageFailed => "STORAGE_FAILED",
            Status::InvocationsExhausted => "INVOCATIONS_EXHAUSTED",
            Status::NotInitialized => "NOT_INITIALIZED",
            Status::AlreadyInitialized => "ALREADY_INITIALIZED",
            Status::NotLoggedIn => "NOT_LOGGED_IN",
            Status::RoleDenied => "ROLE_DENIED",
            Status::PinIncorrect => "PIN_INCORRECT",
            Status::PinLocked => "PIN_LOCKED",
            Status::PinNotSet => "PIN_NOT_SET",
            Status::BadRole => "BAD_ROLE",
        }
    }

    /// What the status means, and what to do about it.
    pub const fn summary(self) -> &'static str {
        match self {
            Status::Ok => "the job succeeded",
            Status::BadVersion => {
                "descriptor version not supported by this card; update the driver or the card image"
            }
            Status::BadOpcode => "unknown opcode; the card image does not implement this operation",
            Status::ReservedField => {
                "a field the operation does not use, or a reserved field, is not zero"
            }
            Status::LengthTooLarge => "a length is over 1 MiB; split the job",
            Status::OutputTooSmall => "dst_len is smaller than the output; nothing was written",
            Status::DmaReadError => {
                "the card could not read the job's input (unmapped address); see FAULT_ADDR. If the descriptor itself could not be read, the completion's job_id is 0xffffffff"
            }
            Status::DmaWriteError => {
                "the card could not write the job's output (unmapped address); see FAULT_ADDR"
            }
            Status::Misaligned => "an address that must be 16-byte aligned (AES jobs: src, dst, aux) is not",
            Status::BadLength => "a length does not fit the operation's layout (for example aux_len against the GCM parameters, an XTS unit under 16 bytes, a key of the wrong size)",
            Status::BadSlot => "key_slot is not below the number of slots",
            Status::SlotEmpty => "the key slot holds no key; load or generate one first",
            Status::SlotOccupied => "the key slot already holds a key; clear it first",
            Status::WrongKeyType => "the slot's algorithm does not fit the operation (for example an XTS key pair for GCM)",
            Status::PolicyDenied => "the slot's usage policy does not allow the operation",
            Status::NotTestMode => "the operation (plaintext key load, caller-chosen GCM IV, EXPOSE, ML-KEM KeyGen and Encaps with randomness from the host) is only allowed when the card is in test mode",
            Status::AuthFailed => "the authentication tag did not verify; the output was overwritten with zeros",
            Status::BadIvLength => "the GCM IV length is out of range (1 to 128 bytes, or 0 with CARD_IV)",
            Status::BadTagLength => "the GCM tag length is out of range (4 to 16 bytes in test mode, 16 otherwise)",
            Status::WeakKey => "the key material is not acceptable (an XTS key pair whose halves are equal)",
            Status::BadAlgorithm => "the key algorithm code is unknown, or not one the operation takes (for example an ML-KEM parameter set that is not one)",
            Status::EkCheckFailed => "the ML-KEM encapsulation key fails FIPS 203's modulus check (a coefficient is not below q): it is not a valid key; nothing was written",
            Status::EngineFault => "an engine's self-check failed (for example the ML-KEM sequencer ran an unexpected number of polynomial commands): a hardware fault; no key was stored and the output must not be used; report it and take the card out of service",
            Status::EntropyFailure => "the card's noise source failed its SP 800-90B health tests (repetition count or adaptive proportion; STATUS.RNG_FAULT is set): the DRBG was zeroized and the card generates no random numbers or keys until it is reset; nothing was written or stored. If it recurs after a reset, take the card out of service",
            Status::SelfTestFailed => "a power-on self-test (known-answer test) failed: STATUS.SELFTEST_FAILED is set and SELFTEST says which; the card ran nothing and refuses every job but CARD_ZEROIZE until it is reset. If it recurs after a reset, take the card out of service",
            Status::LabelInUse => "another slot already holds a key with this label (a label other than 32 zero bytes names one key); nothing was stored. Choose another label, or delete the other key first",
            Status::StorageFailed => "the card could not write the key's sealed record to its persistent storage; the slot stays empty and no other slot changed. Check the storage (the simulated card's state directory) and retry",
            Status::NotInitialized => "the card holds no auth record (it is new or zeroized) and serves no key outside test mode: initialise it (`hsmctl card init`)",
            Status::AlreadyInitialized => "the card is already initialised; zeroize it first to initialise it again",
            Status::NotLoggedIn => "the job needs a login (the user for key jobs, the security officer for zeroization) and the queue has none; log in first (`--pin-file`)",
            Status::RoleDenied => "the queue's role may not run this job (key jobs need the user, zeroization and setting the officer's PIN the security officer)",
            Status::PinIncorrect => "the PIN is wrong; the failure was counted and the queue is logged out; out_len is the number of tries left before the role locks",
            Status::PinLocked => "the role is locked after too many wrong PINs (or the auth record is damaged): the security officer unlocks the user by setting a new user PIN; a locked security officer leaves only zeroization and a new initialisation",
            Status::PinNotSet => "the user's PIN is not set yet; the security officer sets it (`hsmctl user set-pin --role so`)",
            Status::BadRole => "the role code in params byte 0 is not 1 (security officer) or 2 (user)",
            Status::InvocationsExhausted => "the key has made the 2^44 GCM encryptions with card IVs that one boot allows; reset the card (the boot epoch moves its counter on) and retry; after 2^20 - 2 boots the epochs are spent and card IVs are refused for good",
        }
    }
}
