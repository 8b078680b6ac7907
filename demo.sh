#!/usr/bin/env bash
# Build dbvault and run the daily loop on a local repository folder:
# init, ingest a generated pg_dump-style dump on two days, list, restore, compare.
# Everything it creates lives in a temporary folder (printed at the end; kept for a look).
set -euo pipefail
cd "$(dirname "$0")"
DBVAULT_WITH_SERVERS="" source scripts/setup.sh
cargo build --release -q -p dbvault-cli -p dbvault-benches --bins
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d "${TMPDIR:-/tmp}/dbvault-demo.XXXXXX")"
export DBVAULT_REPOSITORY="$work/repo" DBVAULT_PASSWORD="demo password"
if [ -t 1 ]; then step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }; else step() { printf '\n$ %s\n' "$*"; }; fi

"$bin/dbvault-gendump" --rows "${DEMO_ROWS:-400000}" --days 2 "$work/dumps" >/dev/null
step dbvault init;                                     "$bin/dbvault" init
step "dbvault ingest --db shop < day-00.sql";          "$bin/dbvault" ingest --db shop --tag daily < "$work/dumps/day-00.sql"
step "dbvault ingest --db shop < day-01.sql  # next day: ~0.5% of rows changed"
"$bin/dbvault" ingest --db shop --tag daily < "$work/dumps/day-01.sql"
step dbvault snapshots;                                "$bin/dbvault" snapshots
step "dbvault restore latest --db shop -o restored.sql"; "$bin/dbvault" restore latest --db shop -o "$work/restored.sql"
step "cmp restored.sql day-01.sql"
cmp "$work/restored.sql" "$work/dumps/day-01.sql" && echo "identical: $(stat -c %s "$work/restored.sql") bytes"
step "du -sh dumps repo"; du -sh "$work/dumps" "$work/repo"
if [ -n "${DEMO_CLEANUP:-}" ]; then rm -rf "$work"; else echo; echo "demo files are in $work (remove with: rm -rf $work)"; fi
