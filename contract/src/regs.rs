//! The BAR0 register map.
//!
//! Every register is 32 bits wide and 32-bit aligned; the host accesses them
//! with 32-bit reads and writes only. 64-bit quantities are split into `_LO`
//! and `_HI` halves: reading a `_LO` half of a counter latches its `_HI`
//! half, so the pair reads as one consistent 64-bit value (read `_LO` first).
//!
//! [`ALL`] lists every register in address order; the RTL's register decoder,
//! the driver and `docs/registers.md` are all derived from it.

/// How software may access a register or field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read-only: writes are ignored.
    Ro,
    /// Read-write.
    Rw,
    /// Read, and write 1 to clear a bit.
    Rw1c,
    /// Write-only: a write is a command (such as a doorbell); reads return
    /// the value documented for the register.
    Wo,
}

impl Access {
    /// The short name used in the generated documentation.
    pub const fn name(self) -> &'static str {
        match self {
            Access::Ro => "RO",
            Access::Rw => "RW",
            Access::Rw1c => "RW1C",
            Access::Wo => "WO",
        }
    }

    /// Whether a host write to a register with this access reaches the card's
    /// logic.
    pub const fn writable(self) -> bool {
        !matches!(self, Access::Ro)
    }
}

/// A bit field inside a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name, upper case.
    pub name: &'static str,
    /// Least significant bit.
    pub lsb: u32,
    /// Width in bits (1 to 32).
    pub width: u32,
    /// One-line description.
    pub summary: &'static str,
}

impl Field {
    /// The field's bits in place, as a register mask.
    pub const fn mask(&self) -> u32 {
        (u32::MAX >> (32 - self.width)) << self.lsb
    }

    /// Extract this field from a register value.
    pub const fn get(&self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.lsb
    }

    /// Put `value` into this field of `reg`; bits of `value` beyond the
    /// field's width are dropped.
    pub const fn set(&self, reg: u32, value: u32) -> u32 {
        (reg & !self.mask()) | ((value << self.lsb) & self.mask())
    }
}

/// One 32-bit register of BAR0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Register {
    /// Register name, upper case.
    pub name: &'static str,
    /// Byte offset in BAR0.
    pub offset: u32,
    /// How software may access it.
    pub access: Access,
    /// Value after reset. Registers whose value is fixed at build time
    /// (`BUILD_HASH_*`) document 0 here and their meaning in `summary`.
    pub reset: u32,
    /// What it is for.
    pub summary: &'static str,
    /// Its bit fields; empty when the register is one 32-bit value.
    pub fields: &'static [Field],
}

const fn reg(
    name: &'static str,
    offset: u32,
    access: Access,
    reset: u32,
    summary: &'static str,
    fields: &'static [Field],
) -> Register {
    Register {
        name,
        offset,
        access,
        reset,
        summary,
        fields,
    }
}

const fn bit(name: &'static str, lsb: u32, summary: &'static str) -> Field {
    Field {
        name,
        lsb,
        width: 1,
        summary,
    }
}

const fn field(name: &'static str, lsb: u32, width: u32, summary: &'static str) -> Field {
    Field {
        name,
        lsb,
        width,
        summary,
    }
}

/// Fields of [`CAPABILITIES`].
pub mod capabilities {
    use super::{bit, field, Field};
    /// The NOP operation is supported.
    pub const OP_NOP: Field = bit("OP_NOP", 0, "NOP jobs are supported");
    /// The COPY operation is supported.
    pub const OP_COPY: Field = bit("OP_COPY", 1, "COPY jobs are supported");
    /// AES-GCM jobs are supported.
    pub const OP_AES_GCM: Field = bit("OP_AES_GCM", 2, "AES-GCM jobs are supported");
    /// XTS-AES jobs are supported.
    pub const OP_AES_XTS: Field = bit("OP_AES_XTS", 3, "XTS-AES-256 jobs are supported");
    /// Key slots and the key jobs are supported.
    pub const KEY_STORE: Field = bit(
        "KEY_STORE",
        4,
        "key slots and the KEY_LOAD, KEY_CLEAR and SLOT_INFO jobs are supported",
    );
    /// SHA-3 and SHAKE jobs are supported.
    pub const OP_HASH: Field = bit(
        "OP_HASH",
        5,
        "SHA3-224/256/384/512 and SHAKE128/256 jobs are supported",
    );
    /// ML-KEM jobs are supported.
    pub const OP_ML_KEM: Field = bit(
        "OP_ML_KEM",
        6,
        "ML-KEM-512/768/1024 KEM_KEYGEN, KEM_ENCAPS and KEM_DECAPS jobs are supported",
    );
    /// log2 of the number of key slots.
    pub const KEY_SLOTS_LOG2: Field =
        field("KEY_SLOTS_LOG2", 8, 4, "log2 of the number of key slots");
    /// Largest ring size supported, as log2 of entries.
    pub const RING_MAX_LOG2: Field = field(
        "RING_MAX_LOG2",
        16,
        5,
        "largest ring size supported, log2 of entries",
    );
    /// log2 of the DMA beat size in bytes.
    pub const DMA_BEAT_LOG2: Field =
        field("DMA_BEAT_LOG2", 24, 4, "log2 of the DMA beat size in bytes");
    /// All fields, in bit order.
    pub const FIELDS: &[Field] = &[
        OP_NOP,
        OP_COPY,
        OP_AES_GCM,
        OP_AES_XTS,
        KEY_STORE,
        OP_HASH,
        OP_ML_KEM,
        KEY_SLOTS_LOG2,
        RING_MAX_LOG2,
        DMA_BEAT_LOG2,
    ];
}

/// Fields of [`STATUS`].
pub mod status {
    use super::{bit, Field};
    /// The card was reset in test mode.
    pub const TEST_MODE: Field = bit(
        "TEST_MODE",
        0,
        "the card came out of reset in test mode (strap sampled at reset)",
    );
    /// The job queue is enabled.
    pub const QUEUE_ENABLED: Field = bit("QUEUE_ENABLED", 1, "the job queue is enabled");
    /// The dispatcher is working on a job or has descriptors to fetch.
    pub const BUSY: Field = bit(
        "BUSY",
        2,
        "the dispatcher is working on a job or has descriptors to fetch",
    );
    /// A bit of [`super::FAULT`] is set.
    pub const FAULT: Field = bit("FAULT", 3, "a bit of FAULT is set");
    /// The DRBG is seeded and serving.
    pub const RNG_READY: Field = bit(
        "RNG_READY",
        4,
        "the DRBG has been instantiated from the noise source (start-up health test passed) and serves random numbers",
    );
    /// The noise source failed a health test.
    pub const RNG_FAULT: Field = bit(
        "RNG_FAULT",
        5,
        "the noise source failed an SP 800-90B health test (repetition count or adaptive proportion); the DRBG is zeroized and jobs that need randomness complete with ENTROPY_FAILURE until the card is reset",
    );
    /// A power-on self-test failed.
    pub const SELFTEST_FAILED: Field = bit(
        "SELFTEST_FAILED",
        6,
        "a power-on self-test failed (SELFTEST says which): every job but CARD_ZEROIZE completes with SELFTEST_FAILED until the card is reset",
    );
    /// The card holds no master key, so no key.
    pub const ZEROIZED: Field = bit(
        "ZEROIZED",
        7,
        "the card holds no master key and so no key: it is new, or it was zeroized (CARD_ZEROIZE or the tamper input) and the master-key store confirmed the erasure; clear once the first key is sealed",
    );
    /// All fields, in bit order.
    pub const FIELDS: &[Field] = &[
        TEST_MODE,
        QUEUE_ENABLED,
        BUSY,
        FAULT,
        RNG_READY,
        RNG_FAULT,
        SELFTEST_FAILED,
        ZEROIZED,
    ];
}

/// Fields of [`SELFTEST`].
pub mod selftest {
    use super::{bit, Field};
    /// The DRBG's known-answer test failed.
    pub const DRBG: Field = bit(
        "DRBG",
        0,
        "the CTR_DRBG known-answer test failed (a NIST CAVP vector built into the RTL: instantiate, generate twice, compare, zeroize)",
    );
    /// The AES known-answer tests failed.
    pub const AES: Field = bit(
        "AES",
        1,
        "an AES known-answer test failed: AES-256 key expansion and encryption (two keys' check values), AES-256-GCM encryption, or XTS-AES-256 decryption (NIST CAVP vectors built into the RTL, run through the crypto engine)",
    );
    /// The SHA-3 known-answer tests failed.
    pub const SHA3: Field = bit(
        "SHA3",
        2,
        "a SHA-3 known-answer test failed: SHA3-256 or SHAKE128 (NIST CAVP vectors built into the RTL, run through the hash engine)",
    );
    /// The ML-KEM known-answer test failed.
    pub const MLKEM: Field = bit(
        "MLKEM",
        3,
        "the ML-KEM known-answer test failed: ML-KEM-512 Encaps_internal (a NIST vector built into the RTL, run through the ML-KEM engine)",
    );
    /// The power-on self-tests have finished.
    pub const DONE: Field = bit(
        "DONE",
        31,
        "the power-on self-tests have finished since the last reset, passed or failed",
    );
    /// All fields, in bit order.
    pub const FIELDS: &[Field] = &[DRBG, AES, SHA3, MLKEM, DONE];
}

/// Fields of [`CONTROL`].
pub mod control {
    use super::{bit, Field};
    /// Enable the job queue.
    pub const QUEUE_ENABLE: Field = bit(
        "QUEUE_ENABLE",
        0,
        "1 enables the queue (checks the ring configuration and resets head, tail and phase); 0 stops fetching after the job in progress",
    );
    /// Soft reset of the job engine.
    pub const SOFT_RESET: Field = bit(
        "SOFT_RESET",
        1,
        "write 1 to reset queues, dispatcher, interrupts and faults (not the identity, scratch or cycle counter); reads 0",
    );
    /// All fields, in bit order.
    pub const FIELDS: &[Field] = &[QUEUE_ENABLE, SOFT_RESET];
}

/// Fields of [`FAULT`].
pub mod fault {
    use super::{bit, Field};
    /// A DMA read returned an error.
    pub const DMA_READ: Field = bit(
        "DMA_READ",
        0,
        "a DMA read failed (address in FAULT_ADDR); the job, or descriptor fetch, failed",
    );
    /// A DMA write returned an error.
    pub const DMA_WRITE: Field = bit("DMA_WRITE", 1, "a DMA write failed (address in FAULT_ADDR)");
    /// The ring configuration was invalid when the queue was enabled.
    pub const RING_CONFIG: Field = bit(
        "RING_CONFIG",
        2,
        "QUEUE_ENABLE was set with a ring size out of range or a misaligned ring base; the queue stays disabled",
    );
    /// A doorbell named an index outside its ring.
    pub const DOORBELL: Field = bit(
        "DOORBELL",
        3,
        "a doorbell write named an index outside its ring; it was ignored",
    );
    /// All fields, in bit order.
    pub const FIELDS: &[Field] = &[DMA_READ, DMA_WRITE, RING_CONFIG, DOORBELL];
}

/// Fields of [`IRQ_ENABLE`] and [`IRQ_STATUS`].
pub mod irq {
    use super::{bit, Field};
    /// A completion was written.
    pub const COMPLETION: Field = bit("COMPLETION", 0, "a completion entry was written");
    /// A fault bit was set.
    pub const FAULT: Field = bit("FAULT", 1, "a bit of FAULT was set");
    /// All fields, in bit order.
    pub const FIELDS: &[Field] = &[COMPLETION, FAULT];
}

/// Design identity: ASCII "HSM1" ([`crate::DESIGN_ID`]).
pub const ID: Register = reg(
    "ID",
    0x000,
    Access::Ro,
    crate::DESIGN_ID,
    "design identity, ASCII \"HSM1\" little-endian",
    &[],
);
/// Contract version ([`crate::CONTRACT_VERSION`]).
pub const CONTRACT_VERSION: Register = reg(
    "CONTRACT_VERSION",
    0x004,
    Access::Ro,
    crate::CONTRACT_VERSION,
    "contract version: major in bits 31:16, minor in bits 15:0",
    &[],
);
/// Low half of the build hash.
pub const BUILD_HASH_LO: Register = reg(
    "BUILD_HASH_LO",
    0x008,
    Access::Ro,
    0,
    "bits 31:0 of the build hash: the first 8 bytes of SHA-256 over the RTL's source, fixed at build time",
    &[],
);
/// High half of the build hash.
pub const BUILD_HASH_HI: Register = reg(
    "BUILD_HASH_HI",
    0x00c,
    Access::Ro,
    0,
    "bits 63:32 of the build hash",
    &[],
);
/// What this card can do.
pub const CAPABILITIES: Register = reg(
    "CAPABILITIES",
    0x010,
    Access::Ro,
    0x0410_067f,
    "operations and limits of this card",
    capabilities::FIELDS,
);
/// Card status.
pub const STATUS: Register = reg(
    "STATUS",
    0x014,
    Access::Ro,
    0,
    "card status",
    status::FIELDS,
);
/// Free register for software (bus checks).
pub const SCRATCH: Register = reg(
    "SCRATCH",
    0x018,
    Access::Rw,
    0,
    "free for software; used to check the register path",
    &[],
);
/// Card control.
pub const CONTROL: Register = reg(
    "CONTROL",
    0x01c,
    Access::Rw,
    0,
    "card control",
    control::FIELDS,
);
/// Low half of the global cycle counter.
pub const CYCLES_LO: Register = reg(
    "CYCLES_LO",
    0x020,
    Access::Ro,
    0,
    "bits 31:0 of the cycles since reset; reading it latches CYCLES_HI",
    &[],
);
/// High half of the global cycle counter.
pub const CYCLES_HI: Register = reg(
    "CYCLES_HI",
    0x024,
    Access::Ro,
    0,
    "bits 63:32 of the cycle counter, as latched by the last read of CYCLES_LO",
    &[],
);
/// Low half of the completed-jobs counter.
pub const JOBS_LO: Register = reg(
    "JOBS_LO",
    0x028,
    Access::Ro,
    0,
    "bits 31:0 of the number of completions written since reset; reading it latches JOBS_HI",
    &[],
);
/// High half of the completed-jobs counter.
pub const JOBS_HI: Register = reg(
    "JOBS_HI",
    0x02c,
    Access::Ro,
    0,
    "bits 63:32 of the completion counter, as latched by the last read of JOBS_LO",
    &[],
);
/// Sticky fault bits.
pub const FAULT: Register = reg(
    "FAULT",
    0x030,
    Access::Rw1c,
    0,
    "sticky fault bits; write 1 to clear",
    fault::FIELDS,
);
/// Power-on self-test results.
pub const SELFTEST: Register = reg(
    "SELFTEST",
    0x03c,
    Access::Ro,
    0,
    "power-on self-tests: which known-answer tests failed, and whether they have finished; they run after every reset, before the card serves anything that needs them",
    selftest::FIELDS,
);
/// Low half of the address of the first DMA fault.
pub const FAULT_ADDR_LO: Register = reg(
    "FAULT_ADDR_LO",
    0x034,
    Access::Ro,
    0,
    "bits 31:0 of the bus address (16-byte aligned) of the first beat whose DMA failed since FAULT was last clear",
    &[],
);
/// High half of the address of the first DMA fault.
pub const FAULT_ADDR_HI: Register = reg(
    "FAULT_ADDR_HI",
    0x038,
    Access::Ro,
    0,
    "bits 63:32 of the fault address",
    &[],
);
/// Submission ring base, low half.
pub const SQ_BASE_LO: Register = reg(
    "SQ_BASE_LO",
    0x040,
    Access::Rw,
    0,
    "bits 31:0 of the submission ring's bus address (64-byte aligned); writable while the queue is disabled",
    &[],
);
/// Submission ring base, high half.
pub const SQ_BASE_HI: Register = reg(
    "SQ_BASE_HI",
    0x044,
    Access::Rw,
    0,
    "bits 63:32 of the submission ring's bus address",
    &[],
);
/// Submission ring size.
pub const SQ_SIZE_LOG2: Register = reg(
    "SQ_SIZE_LOG2",
    0x048,
    Access::Rw,
    0,
    "log2 of the number of submission ring entries (1 to 16); writable while the queue is disabled",
    &[],
);
/// Submission doorbell.
pub const SQ_TAIL: Register = reg(
    "SQ_TAIL",
    0x04c,
    Access::Wo,
    0,
    "doorbell: the index of the entry after the last descriptor the host has written; reads return the last value written",
    &[],
);
/// Submission head.
pub const SQ_HEAD: Register = reg(
    "SQ_HEAD",
    0x050,
    Access::Ro,
    0,
    "index of the next descriptor the card will fetch",
    &[],
);
/// Completion ring base, low half.
pub const CQ_BASE_LO: Register = reg(
    "CQ_BASE_LO",
    0x060,
    Access::Rw,
    0,
    "bits 31:0 of the completion ring's bus address (16-byte aligned); writable while the queue is disabled",
    &[],
);
/// Completion ring base, high half.
pub const CQ_BASE_HI: Register = reg(
    "CQ_BASE_HI",
    0x064,
    Access::Rw,
    0,
    "bits 63:32 of the completion ring's bus address",
    &[],
);
/// Completion ring size.
pub const CQ_SIZE_LOG2: Register = reg(
    "CQ_SIZE_LOG2",
    0x068,
    Access::Rw,
    0,
    "log2 of the number of completion ring entries (1 to 16); writable while the queue is disabled",
    &[],
);
/// Completion head doorbell.
pub const CQ_HEAD: Register = reg(
    "CQ_HEAD",
    0x06c,
    Access::Wo,
    0,
    "doorbell: the index of the next completion the host will read; the card never overwrites an entry the host has not released; reads return the last value written",
    &[],
);
/// Completion tail.
pub const CQ_TAIL: Register = reg(
    "CQ_TAIL",
    0x070,
    Access::Ro,
    0,
    "index of the next completion entry the card will write",
    &[],
);
/// Interrupt enable.
pub const IRQ_ENABLE: Register = reg(
    "IRQ_ENABLE",
    0x080,
    Access::Rw,
    0,
    "interrupt causes that send an MSI-X message",
    irq::FIELDS,
);
/// Interrupt status.
pub const IRQ_STATUS: Register = reg(
    "IRQ_STATUS",
    0x084,
    Access::Rw1c,
    0,
    "pending interrupt causes; write 1 to clear. A message is sent when an enabled cause becomes pending while no enabled cause was pending (coalescing)",
    irq::FIELDS,
);

/// Every register, in address order.
pub const ALL: &[Register] = &[
    ID,
    CONTRACT_VERSION,
    BUILD_HASH_LO,
    BUILD_HASH_HI,
    CAPABILITIES,
    STATUS,
    SCRATCH,
    CONTROL,
    CYCLES_LO,
    CYCLES_HI,
    JOBS_LO,
    JOBS_HI,
    FAULT,
    FAULT_ADDR_LO,
    FAULT_ADDR_HI,
    SELFTEST,
    SQ_BASE_LO,
    SQ_BASE_HI,
    SQ_SIZE_LOG2,
    SQ_TAIL,
    SQ_HEAD,
    CQ_BASE_LO,
    CQ_BASE_HI,
    CQ_SIZE_LOG2,
    CQ_HEAD,
    CQ_TAIL,
    IRQ_ENABLE,
    IRQ_STATUS,
];

/// Look a register up by its BAR0 offset.
pub fn by_offset(offset: u32) -> Option<&'static Register> {
    ALL.iter().find(|r| r.offset == offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_aligned_unique_and_ordered() {
        for w in ALL.windows(2) {
            assert!(
                w[0].offset < w[1].offset,
                "{} before {}",
                w[0].name,
                w[1].name
            );
        }
        for r in ALL {
            assert_eq!(r.offset % 4, 0, "{} misaligned", r.name);
            assert!(
                (r.offset as u64) < crate::BAR0_SIZE,
                "{} outside BAR0",
                r.name
            );
        }
    }

    #[test]
    fn fields_do_not_overlap_and_reset_fits() {
        for r in ALL {
            let mut used = 0u32;
            for f in r.fields {
                assert!(
                    f.width >= 1 && f.lsb + f.width <= 32,
                    "{}.{}",
                    r.name,
                    f.name
                );
                assert_eq!(used & f.mask(), 0, "{}.{} overlaps", r.name, f.name);
                used |= f.mask();
            }
            if !r.fields.is_empty() {
                assert_eq!(r.reset & !used, 0, "{} reset sets undefined bits", r.name);
            }
        }
    }

    #[test]
    fn capabilities_reset_matches_fields() {
        let v = CAPABILITIES.reset;
        assert_eq!(capabilities::OP_NOP.get(v), 1);
        assert_eq!(capabilities::OP_COPY.get(v), 1);
        assert_eq!(capabilities::OP_AES_GCM.get(v), 1);
        assert_eq!(capabilities::OP_AES_XTS.get(v), 1);
        assert_eq!(capabilities::KEY_STORE.get(v), 1);
        assert_eq!(capabilities::OP_HASH.get(v), 1);
        assert_eq!(capabilities::OP_ML_KEM.get(v), 1);
        assert_eq!(
            1u32 << capabilities::KEY_SLOTS_LOG2.get(v),
            crate::crypto::KEY_SLOTS
        );
        assert_eq!(capabilities::RING_MAX_LOG2.get(v), crate::RING_MAX_LOG2);
        assert_eq!(
            1u64 << capabilities::DMA_BEAT_LOG2.get(v),
            crate::DMA_BEAT_BYTES
        );
    }

    #[test]
    fn field_get_set_round_trip() {
        let f = capabilities::RING_MAX_LOG2;
        assert_eq!(f.get(f.set(0xffff_ffff, 5)), 5);
        assert_eq!(f.set(0, 0xff), 0x1f << 16);
    }
}
