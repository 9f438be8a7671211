//! A scan-chain wrapper that puts a block with hundreds of ports on five pins.
//!
//! Place and route needs every top-level port on a pin, and a block of the
//! card has far more port bits than the package has pins. [`scan_wrapper`]
//! reads the block's port list ([`parse_ports`]) and writes a module
//! `fpga_top` with five ports:
//!
//! | pin        | dir | what |
//! | ---------- | --- | ---- |
//! | `clk`      | in  | the block's clock |
//! | `rst`      | in  | the block's reset inputs |
//! | `scan_in`  | in  | serial data into the input chain |
//! | `scan_en`  | in  | high: both chains shift; low: the output chain captures |
//! | `scan_out` | out | serial data out of the output chain |
//!
//! Every other input bit of the block comes from the input chain, a shift
//! register that takes `scan_in` at its top bit and shifts towards bit 0
//! on each clock edge with `scan_en` high. Every output bit goes into the
//! output chain, which loads all outputs on each edge with `scan_en` low
//! and shifts towards bit 0 (and out on `scan_out`) with `scan_en` high.
//! So every output reaches a pin and synthesis can optimise nothing away,
//! and every path in the design is register to register, which makes the
//! reported fmax the block's own.
//!
//! The chains' bit layout follows the block's port order: the first
//! non-clock, non-reset input takes the lowest bits of the input chain
//! (its bit 0 at chain bit 0), the next one the bits above, and likewise
//! for the outputs.

use std::fmt::Write as _;

/// A port's direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `input`.
    Input,
    /// `output`.
    Output,
    /// `inout`.
    Inout,
}

/// One port of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Its name.
    pub name: String,
    /// Its direction.
    pub direction: Direction,
    /// Its width in bits (1 for a scalar).
    pub width: u32,
}

/// Why a port list could not be read or a wrapper not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScanError {
    /// There is no `module NAME` in the text.
    #[error("no module {0:?} in the Verilog")]
    NoModule(String),
    /// The module has no `endmodule`, or its port list no `)`.
    #[error("module {0:?} is not closed")]
    Unclosed(String),
    /// A port is in the module's header but has no direction.
    #[error("port {0:?} has no input/output declaration")]
    Undeclared(String),
    /// A declaration could not be read (e.g. a width that is not two numbers).
    #[error("cannot read the port declaration {0:?}")]
    BadDeclaration(String),
    /// A port the wrapper must connect (clock or reset) is missing, or is
    /// not a 1-bit input.
    #[error("{role} port {name:?} is not a 1-bit input of the module")]
    BadSpecialPort {
        /// `clock` or `reset`.
        role: &'static str,
        /// The port's name.
        name: String,
    },
    /// The block has an `inout` port, which no scan chain can drive.
    #[error("inout port {0:?} cannot be wrapped")]
    Inout(String),
    /// The block has no output: there would be nothing to keep.
    #[error("the module has no outputs")]
    NoOutputs,
}

/// The ports of module `module` in `verilog`, in header order.
///
/// Reads both header styles: a list of names with `input`/`output`
/// declarations in the body (what rust-hdl writes), and declarations in
/// the header (`module m(input wire [7:0] a, output reg b);`). Widths must
/// be `[hi:lo]` with decimal numbers. Comments are skipped.
///
/// # Errors
/// [`ScanError`] when the module is missing or a declaration cannot be read.
pub fn parse_ports(verilog: &str, module: &str) -> Result<Vec<Port>, ScanError> {
    let text = strip_comments(verilog);
    let start = find_module(&text, module).ok_or_else(|| ScanError::NoModule(module.into()))?;
    let rest = &text[start..];
    let unclosed = || ScanError::Unclosed(module.into());
    let end = find_word(rest, "endmodule").ok_or_else(unclosed)?;
    let body = &rest[..end];
    // Skip a parameter list `#( ... )` before the port list.
    let mut header_at = body.find('(').ok_or_else(unclosed)?;
    if body[..header_at].trim_end().ends_with('#') {
        let close = matching_paren(body, header_at).ok_or_else(unclosed)?;
        header_at = close + 1 + body[close + 1..].find('(').ok_or_else(unclosed)?;
    }
    let header_end = matching_paren(body, header_at).ok_or_else(unclosed)?;
    let header = &body[header_at + 1..header_end];
    let after = &body[header_end + 1..];

    if header.trim().is_empty() {
        return Ok(Vec::new());
    }
    let ansi = header
        .split(|c: char| !is_ident_char(c))
        .any(|w| matches!(w, "input" | "output" | "inout"));
    if ansi {
        return parse_ansi_header(header);
    }

    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut declared: Vec<Port> = Vec::new();
    for stmt in after.split(';') {
        if let Some(mut ports) = parse_declaration(stmt)? {
            declared.append(&mut ports);
        }
    }
    names
        .into_iter()
        .map(|n| {
            declared
                .iter()
                .find(|p| p.name == n)
                .cloned()
                .ok_or_else(|| ScanError::Undeclared(n.into()))
        })
        .collect()
}

/// The wrapper module `fpga_top` (see the module docs) around module `top`
/// of `verilog`, whose clock input is `clock` and whose reset inputs are
/// `resets` (each connected to the `rst` pin). Returns only the wrapper's
/// text: synthesise it together with `verilog`.
///
/// # Errors
/// [`ScanError`] when the port list cannot be read, `clock` or a reset is
/// not a 1-bit input, the block has an `inout`, or no outputs.
pub fn scan_wrapper(
    verilog: &str,
    top: &str,
    clock: &str,
    resets: &[&str],
) -> Result<String, ScanError> {
    let ports = parse_ports(verilog, top)?;
    let special = |role: &'static str, name: &str| -> Result<(), ScanError> {
        match ports.iter().find(|p| p.name == name) {
            Some(p) if p.direction == Direction::Input && p.width == 1 => Ok(()),
            _ => Err(ScanError::BadSpecialPort {
                role,
                name: name.into(),
            }),
        }
    };
    special("clock", clock)?;
    for r in resets {
        special("reset", r)?;
    }
    if let Some(p) = ports.iter().find(|p| p.direction == Direction::Inout) {
        return Err(ScanError::Inout(p.name.clone()));
    }
    let n_in: u32 = ports
        .iter()
        .filter(|p| {
            p.direction == Direction::Input && p.name != clock && !resets.contains(&&*p.name)
        })
        .map(|p| p.width)
        .sum();
    let n_out: u32 = ports
        .iter()
        .filter(|p| p.direction == Direction::Output)
        .map(|p| p.width)
        .sum();
    if n_out == 0 {
        return Err(ScanError::NoOutputs);
    }

    let mut v = String::new();
    let w = &mut v;
    // Writing to a String cannot fail.
    let _ = writeln!(
        w,
        "// Scan-chain wrapper around module {top}: {n_in} input bits, {n_out} output bits.\n\
         // Generated by hsm_bitstream::ecp5::scan; do not edit.\n\
         module fpga_top(\n    input wire clk,\n    input wire rst,\n    input wire scan_in,\n    \
         input wire scan_en,\n    output wire scan_out\n);"
    );
    if n_in > 0 {
        let _ = writeln!(w, "    reg [{}:0] in_chain = 0;", n_in - 1);
        let shifted = if n_in == 1 {
            "scan_in".to_string()
        } else {
            format!("{{scan_in, in_chain[{}:1]}}", n_in - 1)
        };
        let _ = writeln!(
            w,
            "    always @(posedge clk) if (scan_en) in_chain <= {shifted};"
        );
    }
    let _ = writeln!(w, "    wire [{}:0] outs;", n_out - 1);
    let _ = writeln!(w, "    reg [{}:0] out_chain = 0;", n_out - 1);
    let shifted = if n_out == 1 {
        "1'b0".to_string()
    } else {
        format!("{{1'b0, out_chain[{}:1]}}", n_out - 1)
    };
    let _ = writeln!(
        w,
        "    always @(posedge clk) out_chain <= scan_en ? {shifted} : outs;"
    );
    let _ = writeln!(w, "    assign scan_out = out_chain[0];");

    let mut conns = Vec::with_capacity(ports.len());
    let (mut at_in, mut at_out) = (0u32, 0u32);
    for p in &ports {
        let slice = |base: u32, name: &str| {
            if p.width == 1 {
                format!("{name}[{base}]")
            } else {
                format!("{name}[{}:{base}]", base + p.width - 1)
            }
        };
        let source = if p.name == clock {
            "clk".to_string()
        } else if resets.contains(&&*p.name) {
            "rst".to_string()
        } else if p.direction == Direction::Input {
            at_in += p.width;
            slice(at_in - p.width, "in_chain")
        } else {
            at_out += p.width;
            slice(at_out - p.width, "outs")
        };
        conns.push(format!("        .{}({source})", p.name));
    }
    let _ = writeln!(w, "    {top} block(\n{}\n    );", conns.join(",\n"));
    let _ = writeln!(w, "endmodule");
    Ok(v)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `text` with `//` and `/* */` comments replaced by spaces (string
/// literals are not expected in port declarations).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let line = rest.find("//");
        let block = rest.find("/*");
        match (line, block) {
            (Some(l), b) if b.is_none_or(|b| l < b) => {
                out.push_str(&rest[..l]);
                out.push(' ');
                rest = rest[l..].find('\n').map_or("", |e| &rest[l + e..]);
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                out.push(' ');
                rest = rest[b + 2..]
                    .find("*/")
                    .map_or("", |e| &rest[b + 2 + e + 2..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// Byte offset of `word` as a whole word in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Byte offset just after `module NAME` in `text`.
fn find_module(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_word(&text[from..], "module") {
        let at = from + i + "module".len();
        let rest = &text[at..];
        let trimmed = rest.trim_start();
        let ident_len = trimmed
            .find(|c: char| !is_ident_char(c))
            .unwrap_or(trimmed.len());
        if &trimmed[..ident_len] == name {
            return Some(at + (rest.len() - trimmed.len()) + ident_len);
        }
        from = at;
    }
    None
}

/// Offset of the `)` that closes the `(` at `open`.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A direction keyword, its net type and width, and the rest of a
/// declaration: `input wire [7:0] a, b` gives (Input, 8, "a, b").
fn parse_decl_head(stmt: &str) -> Result<Option<(Direction, u32, &str)>, ScanError> {
    let s = stmt.trim_start();
    let (direction, mut rest) = if let Some(r) = strip_keyword(s, "input") {
        (Direction::Input, r)
    } else if let Some(r) = strip_keyword(s, "output") {
        (Direction::Output, r)
    } else if let Some(r) = strip_keyword(s, "inout") {
        (Direction::Inout, r)
    } else {
        return Ok(None);
    };
    for kw in ["wire", "reg", "logic", "signed", "unsigned"] {
        if let Some(r) = strip_keyword(rest, kw) {
            rest = r;
        }
    }
    let bad = || ScanError::BadDeclaration(stmt.trim().into());
    let mut width = 1;
    let r = rest.trim_start();
    if let Some(r) = r.strip_prefix('[') {
        let close = r.find(']').ok_or_else(bad)?;
        let (hi, lo) = r[..close].split_once(':').ok_or_else(bad)?;
        let hi: i64 = hi.trim().parse().map_err(|_| bad())?;
        let lo: i64 = lo.trim().parse().map_err(|_| bad())?;
        width = u32::try_from((hi - lo).abs() + 1).map_err(|_| bad())?;
        rest = &r[close + 1..];
    }
    Ok(Some((direction, width, rest)))
}

fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let s = s.trim_start();
    let r = s.strip_prefix(kw)?;
    (!r.starts_with(is_ident_char)).then_some(r)
}

fn parse_name(raw: &str, stmt: &str) -> Result<String, ScanError> {
    // A default value (`output reg a = 0`) is not part of the name.
    let name = raw.split('=').next().unwrap_or("").trim();
    if name.is_empty() || !name.chars().all(is_ident_char) {
        return Err(ScanError::BadDeclaration(stmt.trim().into()));
    }
    Ok(name.into())
}

/// The ports declared by one body statement, or `None` for another statement.
fn parse_declaration(stmt: &str) -> Result<Option<Vec<Port>>, ScanError> {
    let Some((direction, width, rest)) = parse_decl_head(stmt)? else {
        return Ok(None);
    };
    rest.split(',')
        .map(|n| {
            Ok(Port {
                name: parse_name(n, stmt)?,
                direction,
                width,
            })
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Ports declared in the header: each item either starts a declaration or
/// names one more port of the previous one.
fn parse_ansi_header(header: &str) -> Result<Vec<Port>, ScanError> {
    let mut ports: Vec<Port> = Vec::new();
    let mut current: Option<(Direction, u32)> = None;
    for item in header.split(',') {
        let name = match parse_decl_head(item)? {
            Some((d, w, rest)) => {
                current = Some((d, w));
                rest
            }
            None => item,
        };
        let (direction, width) =
            current.ok_or_else(|| ScanError::Undeclared(item.trim().into()))?;
        ports.push(Port {
            name: parse_name(name, item)?,
            direction,
            width,
        });
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUST_HDL_STYLE: &str = "\
module sub(a, b);
    input wire a;
    output reg b;
endmodule // sub
module top(clock,reset,start,key,rk_valid,rk); // the block

    // Module arguments
    input wire  clock;
    input wire  reset;
    input wire  start;
    input wire  [255:0] key;
    output reg  rk_valid;
    output reg  [127:0] rk;
    /* output reg fake; */
    reg [3:0] idx;
    wire [7:0] x, y;
endmodule // top
";

    fn port(name: &str, direction: Direction, width: u32) -> Port {
        Port {
            name: name.into(),
            direction,
            width,
        }
    }

    #[test]
    fn parses_rust_hdl_port_lists() {
        use Direction::*;
        assert_eq!(
            parse_ports(RUST_HDL_STYLE, "top").unwrap(),
            vec![
                port("clock", Input, 1),
                port("reset", Input, 1),
                port("start", Input, 1),
                port("key", Input, 256),
                port("rk_valid", Output, 1),
                port("rk", Output, 128),
            ]
        );
        assert_eq!(
            parse_ports(RUST_HDL_STYLE, "sub").unwrap(),
            vec![port("a", Input, 1), port("b", Output, 1)]
        );
    }

    #[test]
    fn parses_ansi_headers_and_parameters() {
        use Direction::*;
        let v = "module m #(parameter W = 4) (input wire clk, input [0:3] a, b,\n\
                 output reg signed [15:8] q = 0, inout io); endmodule";
        assert_eq!(
            parse_ports(v, "m").unwrap(),
            vec![
                port("clk", Input, 1),
                port("a", Input, 4),
                port("b", Input, 4),
                port("q", Output, 8),
                port("io", Inout, 1),
            ]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(
            parse_ports(RUST_HDL_STYLE, "to"),
            Err(ScanError::NoModule("to".into()))
        );
        assert_eq!(
            parse_ports("module top(a, b); input a; endmodule", "top"),
            Err(ScanError::Undeclared("b".into()))
        );
        assert!(matches!(
            parse_ports("module top(a); input [W-1:0] a; endmodule", "top"),
            Err(ScanError::BadDeclaration(_))
        ));
        assert_eq!(
            parse_ports("module top(a); input a;", "top"),
            Err(ScanError::Unclosed("top".into()))
        );
    }

    #[test]
    fn wrapper_connects_every_port() {
        let w = scan_wrapper(RUST_HDL_STYLE, "top", "clock", &["reset"]).unwrap();
        let expected = "\
// Scan-chain wrapper around module top: 257 input bits, 129 output bits.
// Generated by hsm_bitstream::ecp5::scan; do not edit.
module fpga_top(
    input wire clk,
    input wire rst,
    input wire scan_in,
    input wire scan_en,
    output wire scan_out
);
    reg [256:0] in_chain = 0;
    always @(posedge clk) if (scan_en) in_chain <= {scan_in, in_chain[256:1]};
    wire [128:0] outs;
    reg [128:0] out_chain = 0;
    always @(posedge clk) out_chain <= scan_en ? {1'b0, out_chain[128:1]} : outs;
    assign scan_out = out_chain[0];
    top block(
        .clock(clk),
        .reset(rst),
        .start(in_chain[0]),
        .key(in_chain[256:1]),
        .rk_valid(outs[0]),
        .rk(outs[128:1])
    );
endmodule
";
        assert_eq!(w, expected);
    }

    #[test]
    fn wrapper_handles_single_bits_and_no_reset() {
        let v = "module top(clk, d, q); input clk; input d; output q; endmodule";
        let w = scan_wrapper(v, "top", "clk", &[]).unwrap();
        assert!(w.contains("in_chain <= scan_in;"), "{w}");
        assert!(w.contains("out_chain <= scan_en ? 1'b0 : outs;"), "{w}");
        assert!(
            w.contains(".clk(clk),\n        .d(in_chain[0]),\n        .q(outs[0])"),
            "{w}"
        );
    }

    #[test]
    fn wrapper_checks_its_special_ports() {
        assert_eq!(
            scan_wrapper(RUST_HDL_STYLE, "top", "clk", &[]),
            Err(ScanError::BadSpecialPort {
                role: "clock",
                name: "clk".into()
            })
        );
        assert_eq!(
            scan_wrapper(RUST_HDL_STYLE, "top", "clock", &["key"]),
            Err(ScanError::BadSpecialPort {
                role: "reset",
                name: "key".into()
            })
        );
        let no_out = "module top(clk, d); input clk; input d; endmodule";
        assert_eq!(
            scan_wrapper(no_out, "top", "clk", &[]),
            Err(ScanError::NoOutputs)
        );
        let inout = "module top(clk, d, q); input clk; inout d; output q; endmodule";
        assert_eq!(
            scan_wrapper(inout, "top", "clk", &[]),
            Err(ScanError::Inout("d".into()))
        );
    }
}
