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
    crypto_md(&mut out);
    hash_md(&mut out);
    kem_md(&mut out);
    auth_md(&mut out);
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

fn crypto_md(out: &mut String) {
    use crate::crypto::{policy, KeyAlg, KEY_SLOTS};
    let _ = writeln!(
        out,
        "\n## Key slots\n\nThe card has {KEY_SLOTS} key slots. A slot holds an algorithm, a usage policy, a 32-byte label and the key; no register or DMA path returns key material.\n\n| code | algorithm | key bytes |\n|---|---|---|"
    );
    for a in KeyAlg::ALL {
        let _ = writeln!(out, "| {} | `{}` | {} |", *a as u8, a.name(), a.key_bytes());
    }
    out.push_str("\n| policy bit | name |\n|---|---|\n");
    for (bit, name) in policy::NAMES {
        let _ = writeln!(out, "| `0x{bit:04x}` | `{name}` |");
    }
    out.push_str(
        "\nThe 64-byte slot record (`SLOT_INFO`): byte 0 algorithm, bytes 2-3 policy, bytes 8-15 the GCM invocation counter, bytes 32-63 the label; other bytes zero.\n\n\
         `KEY_LOAD` params: byte 0 algorithm, bytes 2-3 policy; `src` holds the key (an XTS pair is the data key then the tweak key, which must differ), `aux` the 32-byte label. Test mode only.\n",
    );
    out.push_str(
        "\n## AES-GCM and XTS-AES jobs\n\n\
         Every address of a crypto or key job is 16-byte aligned.\n\n\
         GCM `params`: bytes 0-1 `iv_len` (1 to 128, or 0 with `CARD_IV`), byte 2 `tag_len` (4 to 16 in test mode, 16 otherwise), byte 3 flags (bit 0 `CARD_IV`: the card generates the IV), bytes 4-7 `aad_len` (at most 1 MiB), bytes 8-15 zero.\n\n\
         GCM `aux`: the IV zero-padded to a multiple of 16 bytes (absent with `CARD_IV`); for decryption the expected tag (16 bytes, the first `tag_len` compared); then the AAD. `aux_len` is exactly their sum.\n\n\
         GCM `dst`: the ciphertext or plaintext (`src_len` bytes); encryption then writes the tag at `dst + pad16(src_len)` and, with `CARD_IV`, the 12-byte IV at `dst + pad16(src_len) + 16`. \
         A decryption whose tag does not verify has its plaintext overwritten with zeros and completes with `AUTH_FAILED`.\n\n\
         In operational mode the card builds each IV (SP 800-38D 8.2.1): the slot index as a 4-byte little-endian fixed field, then the slot's 8-byte invocation counter. Caller IVs and short tags need test mode.\n\n\
         XTS `params`: the 128-bit tweak (IEEE 1619 data unit number, little-endian). One data unit of `src_len` bytes (16 to 1 MiB) less `flags` bits 2:0 pad bits: a unit's bits run from the most significant bit of its first byte, and the unused low-order bits of the last byte are written as zero; the unit is at least 128 bits. A partial last block, of bytes or bits, uses ciphertext stealing.\n",
    );
}

fn hash_md(out: &mut String) {
    use crate::hash::{flags, HashAlg, SPONGE_STATE_BYTES};
    out.push_str(
        "\n## Hash jobs (FIPS 202)\n\n| opcode | function | rate (bytes) | output |\n|---|---|---|---|\n",
    );
    for a in HashAlg::ALL {
        let output = match a.digest_bytes() {
            Some(n) => format!("{n}-byte digest"),
            None => "`dst_len` bytes".to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            a.opcode().name(),
            a.name(),
            a.rate_bytes(),
            output
        );
    }
    let _ = writeln!(
        out,
        "\nThe message is `src_len` bytes at `src` (0 to 1 MiB); `src`, `dst` and `aux` are 16-byte aligned. \
         SHA-3 writes its digest (`dst_len` at least the digest length); SHAKE writes exactly `dst_len` bytes (at most 1 MiB).\n\n\
         A longer message is a chain of jobs carrying the {SPONGE_STATE_BYTES}-byte sponge state (FIPS 202's S: lane (x, y) is the little-endian word at byte 8(5y + x)) through host memory. \
         `flags` bit 1 (`PARTIAL`, 0x{:x}): absorb `src` without padding and write the state to `dst` (`dst_len` at least {SPONGE_STATE_BYTES}); `src_len` must be a multiple of the rate, or the job completes with `BAD_LENGTH` and writes nothing. \
         `flags` bit 0 (`RESUME`, 0x{:x}): start from the state at `aux` (`aux_len` = {SPONGE_STATE_BYTES}; otherwise `aux_len` is 0).",
        flags::PARTIAL,
        flags::RESUME
    );
}

fn kem_md(out: &mut String) {
    use crate::kem::{flags, KemSet, SHARED_SECRET_BYTES};
    out.push_str(
        "\n## ML-KEM jobs (FIPS 203)\n\n| set | slot algorithm | ek bytes | ciphertext bytes | dk_PKE bytes |\n|---|---|---|---|---|\n",
    );
    for s in KemSet::ALL {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            s.name(),
            s.key_alg() as u8,
            s.ek_bytes(),
            s.ct_bytes(),
            s.dk_pke_bytes()
        );
    }
    let _ = writeln!(
        out,
        "\n`params`: byte 0 the parameter set as its slot algorithm code, bytes 2-3 the policy of the slot the job creates, byte 4 `target` (Encaps, Decaps: the slot that receives the shared secret as an AES-256 key); other bytes zero. \
         Every address is 16-byte aligned. A decapsulation key is held as its 64-byte seed (d, z) and never leaves the card. \
         `flags` bit 0 (`EXPOSE`, 0x{:x}, test mode only): KeyGen also writes dk_PKE after ek; Encaps and Decaps write the {SHARED_SECRET_BYTES}-byte shared secret to `dst` (after the ciphertext) instead of a slot, and then `aux`, `policy` and `target` are zero.\n\n\
         - `KEM_KEYGEN`: `src` = d || z (64 bytes), `key_slot` the empty slot for the key, `aux` its 32-byte label; `dst` receives ek.\n\
         - `KEM_ENCAPS`: `src` = ek || m; `dst` receives the ciphertext; the secret goes into the empty slot `target` with the label at `aux`. An ek that fails the modulus check completes with `EK_CHECK_FAILED` and writes nothing.\n\
         - `KEM_DECAPS`: `src` = the ciphertext, `key_slot` the ML-KEM key (algorithm `params` byte 0, policy `derive`); the secret (FIPS 203's implicit-rejection secret when the ciphertext does not re-encrypt to itself, in the same cycles) goes into the empty slot `target` with the label at `aux`.\n\n\
         Until the card has a DRBG, KeyGen's d, z and Encaps's m come from the host in `src`, in test mode only; outside test mode both complete with `NOT_TEST_MODE`.",
        flags::EXPOSE
    );
}

fn auth_md(out: &mut String) {
    use crate::auth::{
        required_role, Need, AUTH_INFO_BYTES, AUTH_RECORD, CARD_LABEL_BYTES, DEFAULT_FAILURE_LIMIT,
        PIN_MAX_BYTES, PIN_MIN_BYTES, VERIFIER_BYTES,
    };
    let _ = writeln!(
        out,
        "\n## Card initialisation, roles and PINs\n\n\
         Two roles log in: the security officer (`params` byte 0 = 1) and the user (2). A login is bound to the queue: `LOGOUT`, a queue reset, a soft reset, a reset or a wrong PIN ends it. \
         PINs are {PIN_MIN_BYTES} to {PIN_MAX_BYTES} bytes at `src` (16-byte aligned). The card keeps per role a salt from its DRBG and the first {VERIFIER_BYTES} bytes of SHA3-256(salt || PIN zero-padded to {PIN_MAX_BYTES} bytes || PIN length), \
         with the {CARD_LABEL_BYTES}-byte card label, the failure limit (default {DEFAULT_FAILURE_LIMIT}) and both failure counters, in record {AUTH_RECORD} of the persistent store, sealed by the vault like a key slot. \
         A login stores the failure counter plus one before it compares, then stores it again (zero on a match) in the same cycles either way; at the limit the role is locked (`PIN_LOCKED`). \
         The security officer unlocks the user by setting the user's PIN; a locked security officer leaves zeroization, which then needs no login.\n\n\
         `CARD_INFO` writes {AUTH_INFO_BYTES} bytes: byte 0 flags (bit 0 initialised, bit 1 the auth record is damaged, bit 2 the user's PIN is set), byte 1 the failure limit, byte 2 the security officer's failures, byte 3 the user's, byte 4 the queue's role (0 none), bytes 32-63 the label.\n\n\
         After the descriptor checks, a job is checked against the queue's login (`NOT_LOGGED_IN`, `ROLE_DENIED`). A card that is not initialised runs jobs that need the user only in test mode (`NOT_INITIALIZED`).\n\n\
         | login needed | operations |\n|---|---|"
    );
    for (need, what) in [
        (Need::User, "the user"),
        (Need::AnyRole, "either role"),
        (
            Need::SecurityOfficer,
            "the security officer (none while that role is locked or a self-test failed)",
        ),
    ] {
        let ops: Vec<String> = Opcode::ALL
            .iter()
            .filter(|o| required_role(**o) == need)
            .map(|o| format!("`{}`", o.name()))
            .collect();
        let _ = writeln!(out, "| {what} | {} |", ops.join(", "));
    }
}

/// Every generated document: (path relative to the workspace root, contents).
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("docs/registers.md", registers_md()),
        ("docs/descriptors.md", descriptors_md()),
        ("sim/csrc/contract.h", crate::storage::c_header()),
    ]
}
