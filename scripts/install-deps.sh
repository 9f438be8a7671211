#!/usr/bin/env bash
# Installs the system packages the project needs on Debian: Verilator (the
# simulated card) and a C++ compiler (its model; waveforms are VCD, so no zlib).
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v verilator >/dev/null 2>&1 || need+=(verilator)
command -v g++ >/dev/null 2>&1 || need+=(g++)

if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
fi

# The simulated card is tested with Verilator 5.006 (Debian 12); older
# releases miss features the generated model uses.
version=$(verilator --version | awk '{print $2}')
major=${version%%.*}
if [ "${major:-0}" -lt 5 ]; then
    echo "Verilator $version is too old: 5.006 or later is needed" >&2
    exit 1
fi
