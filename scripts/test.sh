#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of every crate,
# from the contract to hsmctl against the simulated card running the RTL.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The open ECP5 flow (YoWASP Yosys and nextpnr-ecp5 in a venv); its tests
# must run here, not skip.
scripts/install-fpga-tools.sh --warm >/dev/null
export HSM_REQUIRE_FPGA_TOOLS=1
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
