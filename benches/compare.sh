#!/usr/bin/env bash
# End-to-end comparison of dbvault with restic and borg on real daily dump series.
#
# usage: benches/compare.sh [WORK_DIR]
#   env ROWS    rows per table (default 2500000: pg_dump files of ~190-240 MB)
#       DAYS    days per series (default 7)
#       SERIES  which series (default "pg-app pg-bench mariadb-app", see benches/series.sh)
#       TOOLS   which tools (default "dbvault dbvault_nodelta restic borg"; the first is compared
#               with the others; dbvault_nodelta is dbvault in a repository made with --no-deltas,
#               dbvault_pipe is dbvault reading the dump through a pipe, `cat DUMP | dbvault`;
#               dbvault_before and dbvault_before_pipe run the binary named by DBVAULT_BEFORE, a
#               build of another commit, to measure a change side by side)
#       REPEAT  runs of the day-0 ingest (each into a fresh repository) and of the restore, whose
#               median is reported (default 5; later days are medians over days already)
#
# Generates the series with benches/series.sh (real PostgreSQL and MariaDB servers, private, in
# temporary folders) unless WORK_DIR already holds them for the same ROWS and DAYS. Then, for each
# series and each tool, in a fresh repository with encryption on: ingests day 0..DAYS-1 from stdin
# (tools interleaved day by day, so machine noise hits all alike), restores the last day and checks
# it is byte-identical, forgets all but the last 4 snapshots and prunes. Each dump is read once
# before the tools ingest it: this machine's page cache does not keep the series, and the first
# tool to read a file from disk would otherwise pay for it alone (0.5 s for 200 MB here). Wall time
# and peak RSS come from /usr/bin/time, bytes added from the repository folder's size before and
# after (without dbvault's local index: restic's and borg's caches are not counted either). Prints
# one markdown report (also saved as WORK_DIR/report.md); raw figures are in WORK_DIR/results.tsv.
# Everything lives in WORK_DIR (default: a new folder under /tmp), never in the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
need=()
command -v restic >/dev/null || need+=(restic)
command -v borg >/dev/null || need+=(borgbackup)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release -q -p dbvault-cli -p dbvault-benches --bins
bin="$CARGO_TARGET_DIR/release"

rows=${ROWS:-2500000} days=${DAYS:-7}
series=${SERIES:-pg-app pg-bench mariadb-app}
tools=${TOOLS:-dbvault dbvault_nodelta restic borg}
case " $tools " in *" dbvault_before"*) [ -x "${DBVAULT_BEFORE-}" ] || { echo "dbvault_before needs DBVAULT_BEFORE, the path of a dbvault binary" >&2; exit 2; } ;; esac
repeat=${REPEAT:-5}
[ "$repeat" -ge 1 ] 2>/dev/null || { echo "REPEAT must be a whole number of at least 1 (got '$repeat')" >&2; exit 2; }
work=$(realpath -m "${1:-$(mktemp -d /tmp/dbvault-compare.XXXXXX)}")
mkdir -p "$work"
# Each series is kept with its own parameters: asking for fewer series, or others, regenerates
# only those missing or made with other ROWS or DAYS.
missing=()
for s in $series; do
  [ "$(cat "$work/series/$s/params" 2>/dev/null)" = "$rows $days" ] || missing+=("$s")
done
if [ ${#missing[@]} -gt 0 ]; then
  for s in "${missing[@]}"; do rm -rf "${work:?}/series/$s"; done
  echo "generating $days days of ${missing[*]} with $rows rows per table in $work/series ..." >&2
  ROWS=$rows SERIES="${missing[*]}" benches/series.sh "$work/series" "$days" >&2
  for s in "${missing[@]}"; do echo "$rows $days" > "$work/series/$s/params"; done
fi
results="$work/results.tsv"
: > "$results"
password="compare password"

# --- one adapter per tool: init REPO, ingest REPO FILE DAY, restore REPO DAY OUT, prune REPO -----
# Every tool restores to its standard output redirected to the file, as `restic dump` and
# `borg extract --stdout` do: the same work, none of them syncs the file. dbvault's own way to a
# file, `restore -o` (which syncs it before giving it its name), is measured too, as restore_file.
dbvault_env() { export DBVAULT_REPOSITORY=$1 DBVAULT_PASSWORD=$password; }
dbvault_init() { dbvault_env "$1"; "$bin/dbvault" init -q; }
dbvault_ingest() { dbvault_env "$1"; "$bin/dbvault" ingest -q --db "$series_name" < "$2"; }
dbvault_restore() { dbvault_env "$1"; "$bin/dbvault" restore -q latest --db "$series_name" > "$3"; }
dbvault_restore_file() { dbvault_env "$1"; "$bin/dbvault" restore -q latest --db "$series_name" -o "$3"; }
dbvault_prune() { dbvault_env "$1"; "$bin/dbvault" forget -q --keep-last 4 --prune; }
dbvault_nodelta_init() { dbvault_env "$1"; "$bin/dbvault" init -q --no-deltas; }
dbvault_nodelta_ingest() { dbvault_ingest "$@"; }
dbvault_nodelta_restore() { dbvault_restore "$@"; }
dbvault_nodelta_restore_file() { dbvault_restore_file "$@"; }
dbvault_nodelta_prune() { dbvault_prune "$@"; }
# dbvault fed through a pipe, as from `pg_dump | dbvault ingest`: a dump file on standard input is
# mapped, not read (SPEC.md section 11), and a pipe shows what reading costs.
dbvault_pipe_init() { dbvault_init "$@"; }
dbvault_pipe_ingest() { dbvault_env "$1"; cat "$2" | "$bin/dbvault" ingest -q --db "$series_name"; }
dbvault_pipe_restore() { dbvault_restore "$@"; }
dbvault_pipe_prune() { dbvault_prune "$@"; }
# dbvault built from another commit, to measure a change side by side (env DBVAULT_BEFORE: that
# build's binary), e.g. TOOLS="dbvault_pipe dbvault_before_pipe".
dbvault_before_init() { dbvault_env "$1"; "$DBVAULT_BEFORE" init -q; }
dbvault_before_ingest() { dbvault_env "$1"; "$DBVAULT_BEFORE" ingest -q --db "$series_name" < "$2"; }
dbvault_before_restore() { dbvault_env "$1"; "$DBVAULT_BEFORE" restore -q latest --db "$series_name" > "$3"; }
dbvault_before_prune() { dbvault_env "$1"; "$DBVAULT_BEFORE" forget -q --keep-last 4 --prune; }
dbvault_before_pipe_init() { dbvault_before_init "$@"; }
dbvault_before_pipe_ingest() { dbvault_env "$1"; cat "$2" | "$DBVAULT_BEFORE" ingest -q --db "$series_name"; }
dbvault_before_pipe_restore() { dbvault_before_restore "$@"; }
dbvault_before_pipe_prune() { dbvault_before_prune "$@"; }

restic_env() { export RESTIC_REPOSITORY=$1 RESTIC_PASSWORD=$password RESTIC_CACHE_DIR=$1.cache; }
restic_init() { restic_env "$1"; restic init -q; }
restic_ingest() { restic_env "$1"; restic backup -q --stdin --stdin-filename dump.sql < "$2"; }
restic_restore() { restic_env "$1"; restic dump -q latest dump.sql > "$3"; }
restic_prune() { restic_env "$1"; restic forget -q --keep-last 4 --prune >/dev/null; }

borg_env() { export BORG_REPO=$1 BORG_PASSPHRASE=$password BORG_BASE_DIR=$1.base BORG_RELOCATED_REPO_ACCESS_IS_OK=yes; }
borg_init() { borg_env "$1"; borg init -e repokey; }
borg_ingest() { borg_env "$1"; borg create --stdin-name dump.sql "::day-$3" - < "$2"; }
borg_restore() { borg_env "$1"; borg extract --stdout "::day-$2" > "$3"; }
borg_prune() { borg_env "$1"; borg prune --keep-last 4 && borg compact; }

export -f dbvault_env dbvault_init dbvault_ingest dbvault_restore dbvault_restore_file dbvault_prune \
  dbvault_nodelta_init dbvault_nodelta_ingest dbvault_nodelta_restore dbvault_nodelta_restore_file \
  dbvault_nodelta_prune dbvault_pipe_init dbvault_pipe_ingest dbvault_pipe_restore dbvault_pipe_prune \
  dbvault_before_init dbvault_before_ingest dbvault_before_restore dbvault_before_prune \
  dbvault_before_pipe_init dbvault_before_pipe_ingest dbvault_before_pipe_restore dbvault_before_pipe_prune \
  restic_env restic_init \
  restic_ingest restic_restore restic_prune borg_env borg_init borg_ingest borg_restore borg_prune
export bin password DBVAULT_BEFORE="${DBVAULT_BEFORE-}"

# repo_size REPO: bytes in the repository folder, without local caches. restic's and borg's caches
# live outside it (RESTIC_CACHE_DIR, BORG_BASE_DIR); dbvault's local index (local/: chunk
# locations, which sync rebuilds from the repository, and super-feature hints) lives inside a local
# repository's folder, and counting it would add its growth and RocksDB's compactions (0.37 MB on
# a pgbench day) to the repository's bytes.
repo_size() { du -sb --exclude="$1/local" "$1" | cut -f1; }

# measure SERIES TOOL OP DAY BYTES REPO CMD...: run CMD, append a results row.
measure() {
  local s=$1 t=$2 op=$3 day=$4 bytes=$5 repo=$6; shift 6
  /usr/bin/time -f '%e %M' -o "$work/time" bash -c '"$@"' measured "$@" || { echo "$t $op failed on $s day $day" >&2; exit 1; }
  read -r secs rss < <(tail -1 "$work/time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$t" "$op" "$day" "$bytes" "$secs" "$rss" "$(repo_size "$repo")" >> "$results"
}

for series_name in $series; do
  export series_name
  dir="$work/series/$series_name"
  repos="$work/repos/$series_name"
  rm -rf "$repos"; mkdir -p "$repos"
  for t in $tools; do "${t}_init" "$repos/$t" >/dev/null 2>&1 || { echo "$t init failed" >&2; exit 1; }; done
  last=$((days - 1))
  for ((day = 0; day < days; day++)); do
    f=$(printf '%s/day-%02d.sql' "$dir" "$day")
    size=$(stat -c %s "$f")
    if [ "$day" -gt 0 ]; then
      printf '%s\tnovelty\tlimit\t%s\t%s\t0\t0\t%s\n' "$series_name" "$day" "$size" \
        "$("$bin/novelty" "$(printf '%s/day-%02d.sql' "$dir" $((day - 1)))" "$f")" >> "$results"
    fi
    cat "$f" > /dev/null
    if [ "$day" -eq 0 ]; then
      # Extra day-0 runs into throwaway repositories first; the kept repository's run is the last row.
      for ((r = 1; r < repeat; r++)); do
        for t in $tools; do
          "${t}_init" "$repos/$t.extra" >/dev/null 2>&1 || { echo "$t init failed" >&2; exit 1; }
          measure "$series_name" "$t" ingest "$day" "$size" "$repos/$t.extra" "${t}_ingest" "$repos/$t.extra" "$f" "$day"
          rm -rf "$repos/$t.extra" "$repos/$t.extra".*
        done
      done
    fi
    for t in $tools; do measure "$series_name" "$t" ingest "$day" "$size" "$repos/$t" "${t}_ingest" "$repos/$t" "$f" "$day"; done
    echo "$series_name day $day ingested by: $tools" >&2
  done
  f=$(printf '%s/day-%02d.sql' "$dir" "$last")
  for ((r = 0; r < repeat; r++)); do
    for t in $tools; do
      for op in restore restore_file; do
        declare -F "${t}_$op" >/dev/null || continue
        measure "$series_name" "$t" "$op" "$last" "$(stat -c %s "$f")" "$repos/$t" "${t}_$op" "$repos/$t" "$last" "$work/restored"
        cmp -s "$work/restored" "$f" || { echo "$t ($op) restored day $last of $series_name with different bytes" >&2; exit 1; }
        rm -f "$work/restored"
      done
    done
  done
  for t in $tools; do measure "$series_name" "$t" prune "$last" 0 "$repos/$t" "${t}_prune" "$repos/$t"; done
  rm -rf "$repos"
done
"$bin/compare-report" "$results" "$tools" | tee "$work/report.md"
echo "report: $work/report.md; raw figures: $results" >&2
