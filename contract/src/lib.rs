//! The single definition of the contract between the HSM card and its host
//! software.
//!
//! Everything the hardware and the software must agree on lives here, once:
//! the BAR0 register map ([`regs`]), the descriptor and completion layouts
//! ([`layout`]), operation codes ([`Opcode`]) and completion status codes
//! ([`Status`]). The RTL generates its register decoder and descriptor codecs
//! from these tables (see `hdl/build.rs`), the simulator and the driver use
//! them directly, and `docs/registers.md` and `docs/descriptors.md` are
//! generated from them ([`docs`]).
//!
//! This crate has no dependencies and no `unsafe`, so that it can be read and
//! audited on its own.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod crypto;
pub mod docs;
pub mod hash;
pub mod kem;
pub mod layout;
mod opcode;
pub mod regs;
pub mod rng;
mod status;
pub mod storage;

pub use layout::{Completion, Descriptor, DescriptorError};
pub use opcode::Opcode;
pub use status::Status;

/// Major version of the contract. Incompatible changes bump it; a driver
/// refuses a card whose major version differs from its own.
pub const CONTRACT_MAJOR: u16 = 1;
/// Minor version of the contract. Compatible additions bump it.
pub const CONTRACT_MINOR: u16 = 11;
/// The contract version as the card reports it in `CONTRACT_VERSION`:
/// major in bits 31:16, minor in bits 15:0.
pub const CONTRACT_VERSION: u32 = ((CONTRACT_MAJOR as u32) << 16) | CONTRACT_MINOR as u32;

/// The value of the `ID` register: ASCII "HSM1" read as a little-endian u32.
pub const DESIGN_ID: u32 = u32::from_le_bytes(*b"HSM1");

/// PCI vendor id the card presents (0x1d1d is reserved here for the open
/// design; a production card uses its shell's ids).
pub const PCI_VENDOR_ID: u16 = 0x1d1d;
/// PCI device id the card presents.
pub const PCI_DEVICE_ID: u16 = 0x45c1;

/// Size of BAR0 (registers and doorbells), in bytes.
pub const BAR0_SIZE: u64 = 4096;

/// Width of each DMA data channel, in bytes per beat (128 bits).
pub const DMA_BEAT_BYTES: u64 = 16;
/// The longest burst the card requests on the DMA read channel, in beats.
/// Bursts never cross a [`DMA_BOUNDARY`].
pub const DMA_MAX_BURST_BEATS: u64 = 256;
/// Address boundary no DMA burst crosses (the PCIe 4 KiB rule).
pub const DMA_BOUNDARY: u64 = 4096;

/// The largest data length a single job may name, in bytes (1 MiB).
pub const MAX_JOB_BYTES: u32 = 1 << 20;

/// Smallest ring size, as log2 of the number of entries.
pub const RING_MIN_LOG2: u32 = 1;
/// Largest ring size, as log2 of the number of entries (65536 entries).
pub const RING_MAX_LOG2: u32 = 16;

/// Size of one submission descriptor in bytes.
pub const DESCRIPTOR_BYTES: usize = 64;
/// Size of one completion entry in bytes.
pub const COMPLETION_BYTES: usize = 16;
/// Version of the descriptor layout, carried in every descriptor.
pub const DESCRIPTOR_VERSION: u8 = 1;
/// Version of the completion layout, carried in every completion.
pub const COMPLETION_VERSION: u8 = 1;

/// Interrupt vector (MSI-X table entry) used for completions and faults.
pub const IRQ_VECTOR_QUEUE: u32 = 0;
/// Number of MSI-X vectors the card exposes.
pub const IRQ_VECTORS: u32 = 1;
