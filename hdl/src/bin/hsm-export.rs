//! Writes the card's Verilog (top module `top`) to a file or stdout, or one
//! block's (`--block NAME`, see `hsm_hdl::Block`).
//!
//! Usage: `cargo run -p hsm-hdl --bin hsm-export [--block NAME] [OUT.v]`.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1).collect::<Vec<_>>();
    let text = if args.first().map(String::as_str) == Some("--block") {
        let names = || hsm_hdl::Block::ALL.map(|b| b.name()).join(", ");
        let Some(name) = args.get(1).cloned() else {
            eprintln!("--block needs a name: {}", names());
            std::process::exit(2);
        };
        let Some(block) = hsm_hdl::Block::from_name(&name) else {
            eprintln!("unknown block {name:?}: known are {}", names());
            std::process::exit(2);
        };
        args.drain(..2);
        hsm_hdl::block_verilog(block)
    } else {
        hsm_hdl::verilog()
    };
    match args.first() {
        Some(path) => std::fs::write(path, text),
        None => std::io::stdout().write_all(text.as_bytes()),
    }
}
