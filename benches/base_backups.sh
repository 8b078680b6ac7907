#!/usr/bin/env bash
# What the next base backup of a cluster costs after a day's changes (issue 39): two
# `ingest --base -- pg_basebackup` of one pgbench cluster, with TRANSACTIONS pgbench transactions
# between them (each updates one account, teller and branch row and adds a history row), beside
# what gzip -1 makes of each tar.
#
#   benches/base_backups.sh WORKDIR [SCALE=30] [TRANSACTIONS=30000]
set -euo pipefail
work=${1:?usage: base_backups.sh WORKDIR [SCALE] [TRANSACTIONS]}
scale=${2:-30}
transactions=${3:-30000}
. "$(dirname "$0")/postgres_workdir.sh"
dbv=("$work/dbvault" --repo "$work/repo" --password-file "$work/password")
as_pg "${dbv[@]}" init -q
as_pg "$pgbin/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-c listen_addresses='' -k $work -c fsync=off" start >/dev/null
trap 'as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null' EXIT
"$pgbin/pgbench" -h "$work" -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
backup() {
    as_pg "$pgbin/pg_basebackup" -h "$work" -U postgres -D - -Ft -X none -c fast 2>/dev/null | tee >(gzip -1 | wc -c > "$work/gzip.$1") \
        | as_pg "${dbv[@]}" ingest --db main --base --json > "$work/ingest.$1"
    python3 - "$work/ingest.$1" "$work/gzip.$1" "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); g = int(open(sys.argv[2]).read())
print(f"base backup {sys.argv[3]}: tar {d['size'] / 2**20:.1f} MiB, gzip -1 {g / 2**20:.1f} MiB, dbvault added {d['added_bytes'] / 2**20:.2f} MiB "
      f"({d['new_chunks']} new of {d['chunks']} chunks), in {d['elapsed_secs']:.1f} s")
EOF
}
backup 1
"$pgbin/pgbench" -h "$work" -U postgres -c 2 -t $((transactions / 2)) -n postgres >/dev/null 2>&1
"$pgbin/psql" -h "$work" -U postgres -X -q -c CHECKPOINT postgres
backup 2
