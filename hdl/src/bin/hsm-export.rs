//! Writes the card's Verilog (top module `top`) to a file or stdout.
//!
//! Usage: `cargo run -p hsm-hdl --bin hsm-export [OUT.v]`.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let text = hsm_hdl::verilog();
    match std::env::args_os().nth(1) {
        Some(path) => std::fs::write(path, text),
        None => std::io::stdout().write_all(text.as_bytes()),
    }
}
