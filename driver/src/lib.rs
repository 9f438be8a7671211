//! Host driver for the HSM card.
//!
//! # Concepts
//!
//! **The card** is reached through two things: its *registers* (BAR0, 4 KiB
//! of 32-bit registers defined in [`hsm_contract::regs`]) and *DMA*: the card
//! reads and writes host memory at bus addresses (IOVAs) that the host has
//! mapped for it. Jobs are not started through registers; they travel
//! through rings in host memory.
//!
//! **A transport** ([`Transport`]) carries register accesses, DMA mappings,
//! the completion interrupt and device reset. There are two:
//! - [`vfio_user::VfioUserTransport`]: the simulated card, a process serving
//!   the card over the vfio-user protocol on a Unix socket (`sim:SOCKET`).
//!   DMA memory is shared with it as memfds; the interrupt is an eventfd.
//! - [`vfio::VfioTransport`]: a real card bound to the kernel's `vfio-pci`
//!   driver (`vfio:0000:01:00.0`). BAR0 is mmapped from the device file;
//!   DMA memory is pinned and mapped in the IOMMU; MSI-X signals an
//!   eventfd. The module docs list the host set-up it needs.
//!
//! Everything above the transport is the same for both.
//!
//! **DMA buffers** ([`DmaBuffer`]) are memfd-backed memory mapped in this
//! process and for the card. Dropping one unmaps exactly the range mapped.
//! IOVAs come from an allocator ([`IovaAllocator`]) that starts above 4 GiB,
//! so every job exercises the card's 64-bit addressing.
//!
//! **The queue pair** ([`QueuePair`]): the host writes 64-byte descriptors
//! into a submission ring and rings one doorbell per batch; the card writes
//! 16-byte completions, each with a phase bit, into a completion ring,
//! which the host polls in memory. When polling finds nothing the host can
//! sleep on the interrupt instead ([`WaitMode::Interrupt`]).
//!
//! **The card API** ([`Card`]): open a [`DeviceSpec`], check the identity
//! and contract version, reset, run jobs. Synchronous helpers
//! ([`Card::copy`], [`Card::nop`]) sit on the batched core
//! ([`QueuePair::submit`], [`QueuePair::poll`], [`QueuePair::wait`],
//! [`QueuePair::run_batch`]).
//!
//! **Crypto and key-slot jobs** ([`Job`], [`Card::run_jobs`]): AES-GCM and
//! XTS-AES with keys held in card slots, key load (test mode), key clear and
//! slot records. A batch of jobs shares one DMA arena and one doorbell per
//! ring-full; [`Card::gcm_encrypt`], [`Card::gcm_decrypt`],
//! [`Card::xts_encrypt`], [`Card::key_load`], [`Card::slot_info`],
//! [`Card::list_slots`] and [`Card::resolve_slot`] are the synchronous
//! helpers. A GCM decryption whose tag fails never returns plaintext.
//!
//! **ML-KEM** ([`Job::KemKeygen`], [`Job::KemEncaps`], [`Job::KemDecaps`];
//! [`Card::kem_keygen`], [`Card::kem_encaps`], [`Card::kem_decaps`] and
//! their test-mode deterministic forms): decapsulation keys stay in card
//! slots, shared secrets become AES-256 keys in slots ([`KemTarget`]).
//! KeyGen and Encaps take their randomness from the card's DRBG; only the
//! known-answer forms ([`Card::kem_keygen_internal`],
//! [`Card::kem_encaps_internal`]) pass it in the job, in test mode.
//!
//! **Random numbers** ([`Job::RngGenerate`], [`Card::random`]): bytes
//! from the card's SP 800-90A CTR_DRBG, seeded from its SP 800-90B
//! health-tested noise source. [`CardStatus::rng_state`] says whether it
//! is seeding, ready or failed; a failed noise source makes every job
//! that needs randomness complete with `ENTROPY_FAILURE` until
//! [`Card::device_reset`].
//!
//! # Example
//!
//! ```no_run
//! use hsm_driver::{Card, DeviceSpec};
//! # fn main() -> hsm_driver::Result<()> {
//! let mut card = Card::open(&DeviceSpec::default())?;
//! println!("{:?}", card.identify()?);
//! let mut src = card.alloc_dma(4096)?;
//! src.as_mut_slice().fill(0xab);
//! let mut dst = card.alloc_dma(4096)?;
//! let done = card.copy(&src, 0, 4096, &mut dst, 0)?;
//! println!("copied in {} cycles", done.cycles);
//! assert_eq!(src.as_slice(), dst.as_slice());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod auth;
mod card;
mod dma;
mod error;
mod jobs;
mod kem;
mod queue;
mod rng;
mod spec;
mod transport;
pub mod vfio;
pub mod vfio_user;

#[cfg(test)]
mod mock;

pub use card::{Capabilities, Card, CardStatus, Faults, Identity, RngState, SelfTest};
pub use dma::{page_round, DmaBuffer, DmaMapper, HostMemory, IovaAllocator, DMA_PAGE, IOVA_BASE};
pub use error::{Error, Result};
pub use jobs::{
    label_bytes, label_text, GcmIv, GcmSealed, Hasher, Job, JobOutput, JobResult, SlotEntry,
};
pub use kem::{KemDecapsOutput, KemEncapsOutput, KemKeygenOutput, KemTarget, SharedSecret};
pub use queue::{thread_cpu_ns, JobCompletion, QueueConfig, QueuePair, QueueStats, WaitMode};
pub use spec::{default_sim_socket, DeviceSpec, PciAddress, SIM_SOCKET_ENV};
pub use transport::Transport;
