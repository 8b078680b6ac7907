# Sourced by test.sh and demo.sh: install what a fresh Debian machine lacks, choose the build folder.
#   libclang-dev     RocksDB's build (bindgen)
#   postgresql       real PostgreSQL server and pg_dump for the end-to-end tests
#   mariadb-server   real MariaDB server and mariadb-dump for the end-to-end tests
# The tests start their own private servers on Unix sockets; package installation must not start
# the system-wide services, so a temporary policy-rc.d forbids that while apt runs.
need_apt=()
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
if [ -n "${DBVAULT_WITH_SERVERS-1}" ]; then
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
  [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server mariadb-client)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  [ -z "$added_policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
# One build folder outside the checkout: RocksDB's C++ (15-35 min cold on 2 cores) is built once
# and reused by later clones, test runs and CI on the same machine. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbvault/target}"
