#!/usr/bin/env bash
# How fast `dbvault wal push` archives a busy PostgreSQL cluster's WAL, and how far archiving
# lags behind (issue 39), side by side with the documentation's `cp` archive_command and with
# `gzip -1`, in one run.
#
#   benches/wal_push.sh WORKDIR [SECONDS=60] [ROUNDS=2] [SCALE=30]
#
# For each archive_command in turn (rounds alternate them, the machine being shared), a fresh
# cluster (fsync off, so that the server makes WAL as fast as it can) is loaded by `pgbench -i -s
# SCALE` (a burst: ~16 MiB of WAL per scale unit) and then runs `pgbench -c 2 -T SECONDS` (steady
# load). Every second the script samples pg_stat_archiver and the current WAL position: the lag is
# the number of finished segments not yet archived. At the end it waits until archiving caught up,
# and prints per command: segments archived, pushes per second over the workload, median and
# largest lag, catch-up time after the workload, and the bytes the archive holds.
set -euo pipefail
work=${1:?usage: wal_push.sh WORKDIR [SECONDS] [ROUNDS]}
seconds=${2:-60}
rounds=${3:-2}
scale=${4:-30}
. "$(dirname "$0")/postgres_workdir.sh"

# Finished segments not archived yet.
LAG="WITH c AS (SELECT pg_walfile_name(pg_current_wal_lsn()) AS cur, last_archived_wal AS arc FROM pg_stat_archiver)
SELECT ('x' || substr(cur, 9, 8))::bit(32)::bigint * 256 + ('x' || substr(cur, 17, 8))::bit(32)::bigint
     - ('x' || substr(arc, 9, 8))::bit(32)::bigint * 256 - ('x' || substr(arc, 17, 8))::bit(32)::bigint - 1 FROM c"

wait_archived() { # PSQL... : switch segments and wait until the one left is archived
    local seg
    seg=$("$@" -c "SELECT pg_walfile_name(pg_switch_wal())")
    until [ "$("$@" -c "SELECT coalesce(last_archived_wal, '') >= '$seg' FROM pg_stat_archiver")" = t ]; do sleep 0.2; done
}

run_one() { # NAME ARCHIVE_COMMAND ARCHIVE_DIR [INIT_COMMAND]
    local name=$1 command=$2 archive=$3 init=${4:-} dir=$work/pg-$1
    rm -rf "$dir" "$archive"
    as_pg mkdir -p "$dir"
    if [ -n "$init" ]; then as_pg sh -c "$init"; else as_pg mkdir -p "$archive"; fi
    as_pg "$pgbin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-c listen_addresses='' -k $dir -c fsync=off -c archive_mode=on -c \"archive_command=$command\"" start >/dev/null
    local psql=("$pgbin/psql" -h "$dir" -U postgres -X -q -A -t -d postgres)
    wait_archived "${psql[@]}"
    local before started
    before=$("${psql[@]}" -c "SELECT archived_count FROM pg_stat_archiver")
    started=$(date +%s.%N)
    { "$pgbin/pgbench" -h "$dir" -U postgres -i -s "$scale" -q postgres && "$pgbin/pgbench" -h "$dir" -U postgres -c 2 -T "$seconds" -n postgres; } >/dev/null 2>&1 &
    local bench=$! lags=()
    while kill -0 $bench 2>/dev/null; do
        lags+=("$("${psql[@]}" -c "$LAG")")
        sleep 1
    done
    wait $bench || true
    local elapsed during
    elapsed=$(echo "$(date +%s.%N) - $started" | bc)
    during=$("${psql[@]}" -c "SELECT archived_count FROM pg_stat_archiver")
    local t0
    t0=$(date +%s.%N)
    wait_archived "${psql[@]}"
    local catchup failed wal_bytes stored
    catchup=$(echo "$(date +%s.%N) - $t0" | bc)
    failed=$("${psql[@]}" -c "SELECT failed_count FROM pg_stat_archiver")
    wal_bytes=$(( $("${psql[@]}" -c "SELECT archived_count FROM pg_stat_archiver") * 16 * 1024 * 1024 ))
    stored=$(du -sb --exclude=local "$archive" | cut -f1)
    as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null
    local sorted median max
    sorted=$(printf '%s\n' "${lags[@]}" | sort -n)
    median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    max=$(echo "$sorted" | tail -1)
    printf '%-8s archived %4d segments in %.0f s (%.2f/s), lag median %s max %s segments, catch-up %.1f s, failures %s, WAL %s MiB stored as %s MiB\n' \
        "$name" $((during - before)) "$elapsed" "$(echo "($during - $before) / $elapsed" | bc -l)" "$median" "$max" "$catchup" "$failed" \
        $((wal_bytes >> 20)) $((stored >> 20))
}

for round in $(seq 1 "$rounds"); do
    echo "round $round"
    # A repository opened with a typed password's key (Argon2id, 64 MiB, 3 passes), which each
    # push pays for; and with a key of its own with a generated password (`key add
    # --generate-password-file`), as the README advises for archive_command.
    run_one dbvault "$work/dbvault --repo $work/repo-dbvault --password-file $work/password wal push --db bench -q %p" "$work/repo-dbvault" \
        "$work/dbvault --repo $work/repo-dbvault --password-file $work/password init -q"
    run_one dbv-key "$work/dbvault --repo $work/repo-dbv-key --password-file $work/repo-dbv-key.pw wal push --db bench -q %p" "$work/repo-dbv-key" \
        "rm -f $work/repo-dbv-key.pw && $work/dbvault --repo $work/repo-dbv-key --password-file $work/password init -q && $work/dbvault --repo $work/repo-dbv-key --password-file $work/password key add -q --generate-password-file $work/repo-dbv-key.pw"
    run_one cp "test ! -f $work/archive-cp/%f && cp %p $work/archive-cp/%f" "$work/archive-cp"
    run_one gzip "test ! -f $work/archive-gzip/%f.gz && gzip -1 < %p > $work/archive-gzip/%f.gz" "$work/archive-gzip"
done

# Capacity: the segments the `cp` command archived, pushed one after another as the archiver
# would after an outage (a backlog), by each command; seconds per segment.
echo "backlog of $(ls "$work/archive-cp" | wc -l) segments, pushed one by one"
rm -rf "$work/backlog" && as_pg mkdir -p "$work/backlog/pg_wal" "$work/backlog/global" "$work/backlog/out-cp" "$work/backlog/out-gzip"
as_pg cp "$work"/archive-cp/* "$work/backlog/pg_wal/"
as_pg "$work/dbvault" --repo "$work/backlog/repo" --password-file "$work/password" init -q
as_pg "$work/dbvault" --repo "$work/backlog/repo2" --password-file "$work/password" init -q
as_pg "$work/dbvault" --repo "$work/backlog/repo2" --password-file "$work/password" key add -q --generate-password-file "$work/backlog/key.pw"
for name in dbvault dbv-key cp gzip; do
    t0=$(date +%s.%N)
    for f in $(ls "$work/backlog/pg_wal"); do
        case $name in
            dbvault) (cd "$work/backlog" && as_pg "$work/dbvault" --repo "$work/backlog/repo" --password-file "$work/password" wal push --db bench -q "pg_wal/$f") ;;
            dbv-key) (cd "$work/backlog" && as_pg "$work/dbvault" --repo "$work/backlog/repo2" --password-file "$work/backlog/key.pw" wal push --db bench -q "pg_wal/$f") ;;
            cp) as_pg cp "$work/backlog/pg_wal/$f" "$work/backlog/out-cp/$f" ;;
            gzip) as_pg sh -c "gzip -1 < $work/backlog/pg_wal/$f > $work/backlog/out-gzip/$f.gz" ;;
        esac
    done
    n=$(ls "$work/backlog/pg_wal" | wc -l)
    printf '%-8s %.3f s per segment (%.1f segments/s)\n' "$name" "$(echo "($(date +%s.%N) - $t0) / $n" | bc -l)" "$(echo "$n / ($(date +%s.%N) - $t0)" | bc -l)"
done
