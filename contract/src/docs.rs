//! Markdown documentation generated from the contract tables.
//!
//! `cargo run -p hsm-contract --bin gen-docs` writes `docs/registers.md` and
//! `docs/descriptors.md`; the test `docs_are_current` fails when the files
//! in the tree differ from what these functions produce.

use crate::layout::{LayoutField, COMPLETION_FIELDS, DESCRIPTOR_FIELDS};
use crate::regs::{self, Register};
use crate::{Opcode, Status};
use std::fmt::Write;

const HEADER: &str = "<!-- Generated from the hsm-contract crate by `cargo run -p hsm-contract --bin gen-docs`. Do not edit. -->\n\n";

fn register_row(out: &mut String, r: &Register) {
    let _ = writeln!(
        out,
        "| `0x{:03x}` | `{}` | {} | `0x{:08x}` | {} |",
        r.offset,
        r.name,
        r.access.name(),
        r.reset,
        r.summary
    );
}

/// The contents of `docs/registers.md`.
pub fn registers_md() -> String {
    let mut out = String::from(HEADER);
    let _ = writeln!(
        out,
        "# BAR0 registers\n\nContract version {}.{}. BAR0 is {} bytes. Every register is 32 bits; access them with aligned 32-bit reads and writes. \
         Reading the `_LO` half of a 64-bit counter latches its `_HI` half.\n",
        crate::CONTRACT_MAJOR,
        crate::CONTRACT_MINOR,
        crate::BAR0_SIZE
    );
    out.push_str("| offset | name | access | reset | description |\n|---|---|---|---|---|\n");
    for r in regs::ALL {
        register_row(&mut out, r);
    }
    for r in regs::ALL.iter().filter(|r| !r.fields.is_empty()) {
        let _ = writeln!(
            out,
            "\n## `{}` fields\n\n| bits | name | description |\n|---|---|---|",
            r.name
        );
        for f in r.fields {
            let bits = if f.width == 1 {
                format!("{}", f.lsb)
            } else {
                format!("{}:{}", f.lsb + f.width - 1, f.lsb)
            };
            let _ = writeln!(out, "| {} | `{}` | {} |", bits, f.name, f.summary);
        }
    }
    out
}

fn layout_table(out: &mut String, fields: &[LayoutField]) {
    out.push_str("| offset | size | name | description |\n|---|---|---|---|\n");
    for f in fields {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} |",
            f.offset, f.size, f.name, f.summary
        );
    }
}

/// The contents of `docs/descriptors.md`.
pub fn descriptors_md() -> String {
    let mut out = String::from(HEADER);
    let _ = writeln!(
        out,
        "# Descriptors, completions, opcodes and status codes\n\nContract version {}.{}. All multi-byte fields are little-endian.\n",
        crate::CONTRACT_MAJOR,
        crate::CONTRACT_MINOR
    );
    let _ = writeln!(
        out,
        "## Submission descriptor ({} bytes, version {})\n\nThe host writes descriptors into the submission ring (base `SQ_BASE`, 2^`SQ_SIZE_LOG2` entries) and then writes the index after the last one to `SQ_TAIL`, once per batch.\n",
        crate::DESCRIPTOR_BYTES,
        crate::DESCRIPTOR_VERSION
    );
    layout_table(&mut out, DESCRIPTOR_FIELDS);
    let _ = writeln!(
        out,
        "\n## Completion entry ({} bytes, version {})\n\nThe card writes one completion per descriptor, in submission order, as a single 16-byte DMA write. \
         The host finds new entries by their phase bit: on the first pass through the ring it is 1, on the next 0, and so on. \
         The host returns entries by writing the index of the next entry it will read to `CQ_HEAD`; the card never writes an entry the host has not returned, \
         so at most 2^`CQ_SIZE_LOG2` - 1 completions are outstanding.\n",
        crate::COMPLETION_BYTES,
        crate::COMPLETION_VERSION
    );
    layout_table(&mut out, COMPLETION_FIELDS);
    out.push_str(
        "\n## Opcodes\n\n| code | name | fields used | description |\n|---|---|---|---|\n",
    );
    for op in Opcode::ALL {
        let used = if op.fields_used().is_empty() {
            "none".to_string()
        } else {
            op.fields_used()
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `0x{:02x}` | `{}` | {} | {} |",
            *op as u8,
            op.name(),
            used,
            op.summary()
        );
    }
    out.push_str(
        "\nThe card checks a descriptor in this order and completes it with the first failing status: \
         `version`, `opcode`, then every field the operation does not use (and `flags`, `reserved0`, `params`) must be zero, \
         then lengths (over 1 MiB: `LENGTH_TOO_LARGE`), then the output capacity (`OUTPUT_TOO_SMALL`). A failed check writes nothing but the completion.\n",
    );
    out.push_str("\n## Status codes\n\n| code | name | meaning |\n|---|---|---|\n");
    for s in Status::ALL {
        let _ = writeln!(
            out,
            "| `0x{:04x}` | `{}` | {} |",
            *s as u16,
            s.name(),
            s.summary()
        );
    }
    out
}

/// Every generated document: (path relative to the workspace root, contents).
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("docs/registers.md", registers_md()),
        ("docs/descriptors.md", descriptors_md()),
    ]
}
