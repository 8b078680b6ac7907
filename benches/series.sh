#!/usr/bin/env bash
# Produce daily dump series from real, private database servers (for benches/compare.sh).
#
# usage: benches/series.sh OUT_DIR [DAYS]
#   env ROWS             rows per table (default 2000000)
#       SERIES           which series (default "pg-app pg-bench mariadb-app")
#       INSERT_PERMILLE  rows inserted per day in the `orders` series, per mille of ROWS (default 10)
#
# Writes OUT_DIR/<series>/day-NN.sql for each series, DAYS days long:
#   pg-app       PostgreSQL, application table `orders`: each day ~1% rows inserted, 0.2% updated
#                (scattered), 0.05% deleted, then VACUUM; pg_dump --format=plain.
#   pg-bench     PostgreSQL, pgbench (`pgbench -i -s ROWS/100000`), then each day real pgbench
#                simple-update transactions touching 1% of the accounts, then VACUUM; pg_dump plain.
#   mariadb-app  MariaDB, the same `orders` workload; mariadb-dump --single-transaction (extended
#                inserts, its default).
# After VACUUM, PostgreSQL puts new row versions into freed space, so changed rows also move within
# the dump: the workload that defeats large chunks. Servers listen on a Unix socket in a temporary
# folder (PostgreSQL also on 127.0.0.1 for pgbench), with durability off; they are stopped at exit.
set -euo pipefail
out=$(realpath -m "${1:?usage: series.sh OUT_DIR [DAYS]}")
days=${2:-7}
rows=${ROWS:-2000000}
series=" ${SERIES:-pg-app pg-bench mariadb-app} "
ins=$((rows * ${INSERT_PERMILLE:-10} / 1000))
want() { [[ "$series" == *" $1 "* ]]; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/postgres" ] || { echo "PostgreSQL server not installed: apt-get install postgresql" >&2; exit 1; }
! want mariadb-app || [ -x /usr/sbin/mariadbd ] || { echo "MariaDB server not installed: apt-get install mariadb-server" >&2; exit 1; }
id postgres >/dev/null 2>&1 || { echo "no postgres user (install the postgresql package)" >&2; exit 1; }
work=$(mktemp -d /tmp/dbvault-series.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/pg"
for s in $series; do mkdir -p "$out/$s"; done
chown postgres "$work/pg"
port=${PGPORT_SERIES:-55433}
as_pg() { runuser -u postgres -- "$@"; }
myuser=$(id -un)
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  [ -z "${mypid:-}" ] || { kill "$mypid" 2>/dev/null; wait "$mypid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

# --- servers -------------------------------------------------------------------------------
as_pg "$pgbin/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
psql() { as_pg "$pgbin/psql" -h "$work/pg" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
pg_dump() { as_pg "$pgbin/pg_dump" -h "$work/pg" -p "$port" -U postgres --format=plain "$@"; }

if want mariadb-app; then
  mariadb-install-db --no-defaults --datadir="$work/my" --user="$myuser" --auth-root-authentication-method=normal --skip-test-db >/dev/null
  /usr/sbin/mariadbd --no-defaults --datadir="$work/my" --socket="$work/my.sock" --pid-file="$work/my.pid" \
    --log-error="$work/my.err" --skip-networking --user="$myuser" --innodb-flush-log-at-trx-commit=0 \
    --innodb-buffer-pool-size=512M </dev/null >/dev/null 2>&1 &
  mypid=$!
  my() { mariadb --no-defaults -u root -S "$work/my.sock" "$@"; }
  for _ in $(seq 300); do mariadb-admin --no-defaults -u root -S "$work/my.sock" ping >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb-admin --no-defaults -u root -S "$work/my.sock" ping >/dev/null || { cat "$work/my.err" >&2; exit 1; }
fi

# --- day 0 ---------------------------------------------------------------------------------
psql -c "CREATE DATABASE shop" -c "CREATE DATABASE bench"
psql -d shop <<SQL
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
  amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL, note text);
INSERT INTO orders (customer_id, status, amount, created_at, note)
  SELECT 1 + (random() * $rows / 20)::bigint, 'new', round((random() * 500)::numeric, 2),
         '2026-01-01'::timestamptz + g * interval '7 seconds', md5(g::text)
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE orders;
SQL
want pg-bench && as_pg "$pgbin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -q -s $((rows / 100000 > 0 ? rows / 100000 : 1)) bench 2>/dev/null
want mariadb-app && my <<SQL
CREATE DATABASE shop;
USE shop;
CREATE TABLE orders (id bigint AUTO_INCREMENT PRIMARY KEY, customer_id bigint NOT NULL,
  status varchar(16) NOT NULL, amount decimal(12,2) NOT NULL, created_at datetime NOT NULL, note varchar(64));
INSERT INTO orders (customer_id, status, amount, created_at, note)
  SELECT 1 + FLOOR(RAND() * $rows / 20), 'new', ROUND(RAND() * 500, 2),
         '2026-01-01' + INTERVAL seq * 7 SECOND, MD5(seq)
  FROM seq_1_to_$rows;
SQL

# --- days ----------------------------------------------------------------------------------
for ((day = 0; day < days; day++)); do
  if [ "$day" -gt 0 ]; then
    psql -d shop <<SQL
UPDATE orders SET status = 'paid', amount = amount + 1 WHERE random() < 0.002;
DELETE FROM orders WHERE random() < 0.0005;
INSERT INTO orders (customer_id, status, amount, created_at, note)
  SELECT 1 + (random() * $rows / 20)::bigint, 'new', round((random() * 500)::numeric, 2),
         '2026-02-01'::timestamptz + ($day * 86400 + g) * interval '1 second', md5(random()::text)
  FROM generate_series(1, $ins) g;
VACUUM orders;
SQL
    if want pg-bench; then
      as_pg "$pgbin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -N -c 2 -j 2 -t $((rows / 200)) bench >/dev/null
      psql -d bench -c "VACUUM"
    fi
    want mariadb-app && my -D shop <<SQL
UPDATE orders SET status = 'paid', amount = amount + 1 WHERE RAND() < 0.002;
DELETE FROM orders WHERE RAND() < 0.0005;
INSERT INTO orders (customer_id, status, amount, created_at, note)
  SELECT 1 + FLOOR(RAND() * $rows / 20), 'new', ROUND(RAND() * 500, 2),
         '2026-02-01' + INTERVAL ($day * 86400 + seq) SECOND, MD5(RAND())
  FROM seq_1_to_$ins;
SQL
  fi
  name=$(printf 'day-%02d.sql' "$day")
  ! want pg-app || pg_dump shop > "$out/pg-app/$name"
  ! want pg-bench || pg_dump bench > "$out/pg-bench/$name"
  ! want mariadb-app || mariadb-dump --no-defaults -u root -S "$work/my.sock" --single-transaction shop > "$out/mariadb-app/$name"
  for s in $series; do echo "$out/$s/$name"; done
done
