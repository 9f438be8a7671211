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
        }
    }
}
