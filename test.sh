#!/usr/bin/env bash
# Run dbvault's whole test suite on a fresh Debian machine with the Rust toolchain.
# Installs what is missing (libclang-dev, needed to build RocksDB), then runs every test in the
# release profile (the same build the demo uses, so RocksDB's C++ is compiled once).
# Then, unless given a test filter, lints with clippy (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
cargo test --release --workspace --all-targets "$@"
if [ $# -eq 0 ]; then
  if ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || { echo "cargo clippy not found: install it (rustup component add clippy)" >&2; exit 1; }
    rustup component add clippy
  fi
  cargo clippy --release --workspace --all-targets -- -D warnings
fi
