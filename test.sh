#!/usr/bin/env bash
# Run dbvault's whole test suite on a fresh Debian machine with the Rust toolchain.
# Installs what is missing (libclang-dev, needed to build RocksDB), then runs every test in the
# release profile (the same build the demo uses, so RocksDB's C++ is compiled once).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
cargo test --release --workspace --all-targets "$@"
