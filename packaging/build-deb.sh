#!/usr/bin/env bash
# Build the Debian package of dbvault: the release binary, its man pages and shell completions
# (generated from the clap definitions by the binary itself), the systemd units and an example
# configuration. Prints the .deb's path. Installs cargo-deb when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --version '^3'
cargo build --release -p dbvault-cli
bin="$CARGO_TARGET_DIR/release/dbvault"
assets="$CARGO_TARGET_DIR/release/deb-assets"
rm -rf "$assets" && mkdir -p "$assets/man"
"$bin" man --out-dir "$assets/man" -q
"$bin" completions bash > "$assets/dbvault.bash"
"$bin" completions zsh > "$assets/_dbvault"
"$bin" completions fish > "$assets/dbvault.fish"
gzip -9n "$assets"/man/*.1
mkdir -p "$CARGO_TARGET_DIR/debian"
cargo deb -p dbvault-cli --no-build --output "$CARGO_TARGET_DIR/debian/"
