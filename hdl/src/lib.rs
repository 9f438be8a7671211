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
#![deny(missing_docs)]

pub mod dispatcher;
pub mod regs;
mod top;

pub use top::HsmCard;

include!(concat!(env!("OUT_DIR"), "/build_hash.rs"));

use rust_hdl::prelude::*;

/// The whole card as Verilog, top module `top`. Deterministic: the same
/// source gives the same text.
pub fn verilog() -> String {
    let mut card = HsmCard::default();
    card.connect_all();
    generate_verilog(&card)
}
