//! Single blocks of the card, exported on their own as Verilog.
//!
//! The FPGA flow (`hsm_bitstream::ecp5`) synthesises, places and routes a
//! block by itself to learn its size and clock rate without the rest of the
//! card. [`block_verilog`] exports one [`Block`] with top module `top` and
//! the block's own ports, the same way [`crate::verilog`] exports the card.

use crate::aes::{AesDecPipe, AesEncPipe, AesKeyExpand};
use crate::engine::CryptoEngine;
use rust_hdl::prelude::{generate_verilog, Block as HdlBlock};

/// A block that can be exported alone.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Block {
    /// The crypto engine ([`CryptoEngine`]): the biggest self-contained AES
    /// unit, with the key store RAMs, the AES-128/256 encryption and
    /// decryption pipelines, the key expansion, GHASH and the XTS tweak
    /// multiplier, and its DMA port.
    CryptoEngine,
    /// The unrolled AES-128/256 encryption pipeline ([`AesEncPipe`]).
    AesEncPipe,
    /// The unrolled AES-128/256 decryption pipeline ([`AesDecPipe`]).
    AesDecPipe,
    /// The iterative AES key expansion ([`AesKeyExpand`]).
    AesKeyExpand,
}

impl Block {
    /// Every block, in a fixed order.
    pub const ALL: [Block; 4] = [
        Block::CryptoEngine,
        Block::AesEncPipe,
        Block::AesDecPipe,
        Block::AesKeyExpand,
    ];

    /// The block's name in snake case (`crypto_engine`, `aes_enc_pipe`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Block::CryptoEngine => "crypto_engine",
            Block::AesEncPipe => "aes_enc_pipe",
            Block::AesDecPipe => "aes_dec_pipe",
            Block::AesKeyExpand => "aes_key_expand",
        }
    }

    /// The block named `name` (as [`Block::name`] spells it).
    pub fn from_name(name: &str) -> Option<Block> {
        Block::ALL.into_iter().find(|b| b.name() == name)
    }
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One block as Verilog, top module `top` with the block's ports (its
/// clock input is `clock`). Deterministic: the same source gives the same
/// text. Runs on a big stack ([`crate::on_big_stack`]).
pub fn block_verilog(block: Block) -> String {
    crate::on_big_stack(move || match block {
        Block::CryptoEngine => export(Box::<CryptoEngine>::default()),
        Block::AesEncPipe => export(Box::<AesEncPipe>::default()),
        Block::AesDecPipe => export(Box::<AesDecPipe>::default()),
        Block::AesKeyExpand => export(Box::<AesKeyExpand>::default()),
    })
}

fn export<B: HdlBlock>(mut b: Box<B>) -> String {
    b.connect_all();
    generate_verilog(b.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Block::ALL {
            assert_eq!(Block::from_name(b.name()), Some(b));
            assert_eq!(b.to_string(), b.name());
        }
        assert_eq!(Block::from_name("nope"), None);
    }

    #[test]
    fn export_is_deterministic_with_top_module_top() {
        let a = block_verilog(Block::AesKeyExpand);
        assert!(
            a.contains("module top(clock,"),
            "no module top with a clock"
        );
        assert_eq!(a, block_verilog(Block::AesKeyExpand));
    }
}
