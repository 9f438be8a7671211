//! The HSM card's hardware, written in rust-hdl.
//!
//! The card is [`HsmCard`]: a register block ([`regs::RegisterFile`]) and a
//! job dispatcher ([`dispatcher::Dispatcher`]) behind a register port and a
//! 128-bit DMA master port (`docs/card-ports.md`). Every address, field,
//! layout offset, opcode and status code it uses comes from the
//! `hsm-contract` crate.
//!
//! [`verilog`] exports the card as Verilog (module `top`); the simulated card
//! (`hsm-sim`) builds that Verilog with Verilator. Block-level tests run the
//! same design in rust-hdl's own simulator.
//!
//! # Where rust-hdl's simulation and its Verilog can disagree
//! Block tests run the Rust model; the end-to-end tests run the exported
//! Verilog. They differ where Verilog sizes an expression by its context:
//! `!x` on a narrow value inside a wider expression (for example
//! `bit_cast::<512, 64>(!bits::<64>(0))`) is all ones at 64 bits in Rust
//! but at 512 bits in Verilog. Build wide values from fields with shifts and
//! ORs, keep `!` at the width of the signal it is assigned to, and read a
//! `Signal<Local, _>` only after it is written in the same `update`.
#![deny(missing_docs)]

pub mod aes;
pub mod auth;
pub mod blocks;
pub mod checks;
mod consts;
pub mod dispatcher;
pub mod drbg;
pub mod engine;
pub mod entropy;
pub mod gf128;
pub mod ghash;
pub mod hash;
pub mod kem_engine;
pub mod post;
pub mod pqc;
pub mod regs;
pub mod rng;
pub mod rng_job;
pub mod sponge;
mod top;
pub mod vault;

pub use blocks::{block_verilog, Block};
pub use top::HsmCard;

include!(concat!(env!("OUT_DIR"), "/build_hash.rs"));

use rust_hdl::prelude::*;
// `Block` here is `blocks::Block`; rust-hdl's trait of that name is still
// needed for its methods.
use rust_hdl::prelude::Block as _;

/// The whole card as Verilog, top module `top`. Deterministic: the same
/// source gives the same text.
pub fn verilog() -> String {
    on_big_stack(|| {
        let mut card = Box::new(HsmCard::default());
        card.connect_all();
        generate_verilog(card.as_ref())
    })
}

/// Stack for building, connecting and exporting the whole card: rust-hdl
/// builds blocks by value and walks the hierarchy recursively, which needs
/// more than a test thread's default 2 MiB.
pub const CARD_STACK_BYTES: usize = 256 << 20;

/// Run `f` on a thread with [`CARD_STACK_BYTES`] of stack.
///
/// # Panics
/// When the thread cannot start, or re-raises `f`'s panic.
pub fn on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("hsm-hdl-card".into())
        .stack_size(CARD_STACK_BYTES)
        .spawn(f)
        .expect("starting a thread for the card model")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}
