#!/usr/bin/env bash
# Produce a series of real daily pg_dump (plain) files from a private PostgreSQL instance.
#
# usage: benches/pg-series.sh OUT_DIR [ROWS] [DAYS]
#
# A table of ROWS orders receives, each "day", 0.2% updated rows, 0.3% inserted and 0.05% deleted,
# then VACUUM (what autovacuum does overnight), then pg_dump --format=plain. PostgreSQL places new
# row versions into space freed by earlier updates, so changes are scattered and rows move: the
# workload that defeats large chunks. The server runs as the `postgres` user on 127.0.0.1 with all
# its data in a temporary folder, and is stopped at the end.
set -euo pipefail
out=$(realpath -m "${1:?usage: pg-series.sh OUT_DIR [ROWS] [DAYS]}")
rows=${2:-400000}
days=${3:-5}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bin/postgres" ] || { echo "PostgreSQL server not installed: apt-get install postgresql" >&2; exit 1; }
id postgres >/dev/null 2>&1 || { echo "no postgres user (install the postgresql package)" >&2; exit 1; }
work=$(mktemp -d /tmp/dbvault-pg.XXXXXX)
chown postgres "$work"
mkdir -p "$out"
port=${PGPORT_SERIES:-55432}
as_pg() { runuser -u postgres -- "$@"; }
cleanup() { as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as_pg "$bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c fsync=off" start >/dev/null
psql() { as_pg "$bin/psql" -h "$work" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -c "CREATE DATABASE shop"
psql -d shop <<SQL
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
  amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text);
INSERT INTO orders (customer_id, status, amount, created_at, note)
  SELECT 1 + (random() * $rows / 20)::bigint, 'new', round((random() * 500)::numeric, 2),
         '2026-01-01'::timestamptz + g * interval '7 seconds', md5(g::text)
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE orders;
SQL
for ((day = 0; day < days; day++)); do
  if [ "$day" -gt 0 ]; then
    psql -d shop <<SQL
UPDATE orders SET status = 'paid', amount = amount + 1
  WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT ($rows * 0.002)::int);
DELETE FROM orders WHERE id IN (SELECT id FROM orders ORDER BY random() LIMIT ($rows * 0.0005)::int);
INSERT INTO orders (customer_id, status, amount, created_at, note)
  SELECT 1 + (random() * $rows / 20)::bigint, 'new', round((random() * 500)::numeric, 2),
         now() + g * interval '1 second', md5(random()::text)
  FROM generate_series(1, ($rows * 0.003)::int) g;
VACUUM orders;
SQL
  fi
  f=$(printf '%s/day-%02d.sql' "$out" "$day")
  as_pg "$bin/pg_dump" -h "$work" -p "$port" -U postgres --format=plain shop > "$f"
  echo "$f"
done
