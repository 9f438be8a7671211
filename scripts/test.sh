#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of every crate,
# from the contract to hsmctl against the simulated card running the RTL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
