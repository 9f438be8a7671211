#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the main job on the
# simulated card: start a card, read its identity, run the benchmark (COPY and
# NOP jobs through driver, vfio-user, Verilator and the RTL), stop the card.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release -p hsmctl
hsmctl=target/release/hsmctl

sock="${HSM_SIM_SOCKET:-$(mktemp -d)/card.sock}"
export HSM_SIM_SOCKET="$sock"
trap '"$hsmctl" sim stop --socket "$sock" >/dev/null 2>&1 || true' EXIT

"$hsmctl" sim start --socket "$sock" --test-mode
"$hsmctl" info
"$hsmctl" bench
