#!/usr/bin/env bash
# What a command costs in a repository of many snapshots (issue 34: per-database commands must
# cost what that database has).
#
#   benches/scale.sh DIR [SNAPSHOTS] [DATABASES]     # defaults: 100000 snapshots, 100 databases
#
# Builds (or reuses) DIR/repo with `many-snapshots` (one process, library calls: ~17 ms a snapshot
# on 2 cores, so 100,000 take about half an hour; put DIR on tmpfs, e.g. /dev/shm, to leave the
# disk out), then times each command three times and prints the medians (wall seconds). The
# repository's password is `bench`, with a cheap key derivation, so a command's time is its own
# work, not Argon2's.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: benches/scale.sh DIR [SNAPSHOTS] [DATABASES]}
snapshots=${2:-100000}
databases=${3:-100}
DBVAULT_WITH_SERVERS="" source scripts/setup.sh
cargo build --release -q -p dbvault-cli -p dbvault-benches --bins
bin="$CARGO_TARGET_DIR/release"
mkdir -p "$dir"
export DBVAULT_REPOSITORY="$dir/repo" DBVAULT_PASSWORD=bench
if [ ! -e "$dir/repo/config" ]; then
  "$bin/many-snapshots" "$dir/repo" "$snapshots" "$databases"
fi
printf -- '-- a small dump\nINSERT INTO t VALUES (1);\n' > "$dir/small.sql"
jobs="$dir/jobs.toml"
: > "$jobs"
for i in $(seq 0 49); do printf '[[job]]\ndb = "jobs%d"\ncommand = ["cat", "%s"]\n' "$i" "$dir/small.sql" >> "$jobs"; done

# Median wall time of three runs of "$@" (output discarded).
median() {
  local times=()
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null 2>&1 < "$dir/small.sql" || { echo "FAILED: $*" >&2; return 1; }
    t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

row() { printf '%-58s %8s ms\n' "$1" "$(median "${@:2}")"; }

total=$("$bin/dbvault" snapshots --json | tr ',' '\n' | grep -c '"short_id"')
echo "repository: $total snapshots of $databases databases ($(du -sh "$dir/repo" | cut -f1))"
row "snapshots --db db7" "$bin/dbvault" snapshots --db db7
row "log --db db7" "$bin/dbvault" log --db db7
row "show latest --db db7" "$bin/dbvault" show latest --db db7
row "restore latest --db db7 > /dev/null" "$bin/dbvault" restore latest --db db7
row "ingest --db db7 < small.sql" "$bin/dbvault" ingest --db db7
row "ingest --jobs (50 jobs, one process; per job: /50)" "$bin/dbvault" ingest --jobs "$jobs" --parallel 2
row "stats --db db7" "$bin/dbvault" stats --db db7
row "forget --db db7 --keep-last 500 (removes the extra ones)" "$bin/dbvault" forget --db db7 --keep-last 500
row "snapshots (all databases)" "$bin/dbvault" snapshots
row "check" "$bin/dbvault" check
row "prune" "$bin/dbvault" prune
