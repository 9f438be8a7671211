//! Operation codes carried in descriptors.

/// What a descriptor asks the card to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// Do nothing and complete: measures the job path itself.
    Nop = 0x00,
    /// Read `src_len` bytes at `src_addr` and write them at `dst_addr`
    /// (any alignment; `dst_len` must be at least `src_len`).
    Copy = 0x01,
}

impl Opcode {
    /// Every opcode, in numeric order.
    pub const ALL: &'static [Opcode] = &[Opcode::Nop, Opcode::Copy];

    /// Decode a descriptor's opcode byte.
    pub const fn from_u8(v: u8) -> Option<Opcode> {
        match v {
            0x00 => Some(Opcode::Nop),
            0x01 => Some(Opcode::Copy),
            _ => None,
        }
    }

    /// Upper-case name, as in the documentation.
    pub const fn name(self) -> &'static str {
        match self {
            Opcode::Nop => "NOP",
            Opcode::Copy => "COPY",
        }
    }

    /// What the operation does.
    pub const fn summary(self) -> &'static str {
        match self {
            Opcode::Nop => "completes with OK and does nothing else; every field but version, opcode and job_id must be zero",
            Opcode::Copy => "copies src_len bytes (0 to 1 MiB, any alignment) from src_addr to dst_addr; dst_len must be at least src_len; out_len is src_len",
        }
    }

    /// The descriptor fields this operation reads, besides `version`,
    /// `opcode` and `job_id`. Every other field must be zero, or the job
    /// completes with [`crate::Status::ReservedField`].
    pub const fn fields_used(self) -> &'static [&'static str] {
        match self {
            Opcode::Nop => &[],
            Opcode::Copy => &["src_addr", "dst_addr", "src_len", "dst_len"],
        }
    }
}
