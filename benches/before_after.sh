#!/usr/bin/env bash
# Two builds of dbvault side by side on the same repository keys, for a change that must not alter
# what is stored or how fast (e.g. a refactor).
#
# usage: benches/before_after.sh NEW_BIN OLD_BIN SERIES_DIR [ROUNDS]
#   SERIES_DIR holds series as benches/compare.sh leaves them (SERIES_DIR/<series>/day-NN.sql).
#
# 1. Bytes: one repository is initialised, copied twice, and every day of each series is ingested
#    into one copy by each build: the bytes added per day must be equal (up to a few bytes of the
#    manifest, whose times differ), since both builds see the same keys and chunker seed.
# 2. Speed: day 1 of each series is ingested ROUNDS times (default 15) by each build into fresh
#    copies of a repository holding day 0, the builds alternating which goes first; wall time
#    (ms) and CPU time (perf's task-clock, ms, when perf works) per run, then medians and minima.
# Dumps are fed through a pipe, as from `pg_dump | dbvault ingest`. Everything lives in a temporary
# folder that is removed at the end.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,14p "$0" >&2; exit 2; }
NEW=$(realpath "$1") OLD=$(realpath "$2") SERIES_DIR=$(realpath "$3") ROUNDS=${4:-15}
W=$(mktemp -d /tmp/dbvault-before-after.XXXXXX)
trap 'rm -rf "$W"' EXIT
export DBVAULT_PASSWORD=before-after
series=$(cd "$SERIES_DIR" && ls -d */ | tr -d /)
bytes() { du -sb --exclude=local "$1" | cut -f1; }

echo "## Bytes added per day (same keys)"
echo "| series | day | new | old | new - old |"
echo "|---|---|---|---|---|"
for s in $series; do
  DBVAULT_REPOSITORY=$W/base "$NEW" init -q
  cp -a "$W/base" "$W/new"; cp -a "$W/base" "$W/old"
  for f in "$SERIES_DIR/$s"/day-*.sql; do
    declare -A added=()
    for t in new old; do
      bin=$NEW; [ $t = old ] && bin=$OLD
      b0=$(bytes "$W/$t"); cat "$f" | DBVAULT_REPOSITORY=$W/$t "$bin" ingest -q --db "$s"; b1=$(bytes "$W/$t")
      added[$t]=$((b1 - b0))
    done
    echo "| $s | $(basename "$f" .sql) | ${added[new]} | ${added[old]} | $((added[new] - added[old])) |"
  done
  rm -rf "$W/base" "$W/new" "$W/old"
done

echo
echo "## Ingest of day 1 into a repository holding day 0, $ROUNDS rounds"
runs="$W/runs.tsv"; : > "$runs"
for s in $series; do
  DBVAULT_REPOSITORY=$W/base "$NEW" init -q
  cat "$SERIES_DIR/$s/day-00.sql" | DBVAULT_REPOSITORY=$W/base "$NEW" ingest -q --db "$s"
  day="$SERIES_DIR/$s/day-01.sql"
  for r in $(seq "$ROUNDS"); do
    order="new old"; [ $((r % 2)) = 0 ] && order="old new"
    for t in $order; do
      bin=$NEW; [ $t = old ] && bin=$OLD
      rm -rf "$W/run"; cp -a "$W/base" "$W/run"
      s0=$(date +%s%N)
      if perf stat -x, -e task-clock -o "$W/stat" true 2>/dev/null; then
        perf stat -x, -e task-clock -o "$W/stat" sh -c 'cat "$1" | DBVAULT_REPOSITORY="$2" "$3" ingest -q --db "$4"' sh "$day" "$W/run" "$bin" "$s"
        cpu=$(grep task-clock "$W/stat" | cut -d, -f1)
      else
        cat "$day" | DBVAULT_REPOSITORY=$W/run "$bin" ingest -q --db "$s"; cpu=nan
      fi
      s1=$(date +%s%N)
      echo "$s $t $(( (s1 - s0) / 1000000 )) $cpu" >> "$runs"
    done
  done
  rm -rf "$W/base" "$W/run"
done
python3 - "$runs" <<'PY'
import statistics, sys, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    s, t, wall, cpu = line.split()
    d[(s, t)].append((float(wall), float(cpu)))
print("| series | wall median new / old, ms | ratio | wall minimum new / old | ratio | CPU median new / old, ms | ratio |")
print("|---|---|---|---|---|---|---|")
for s in dict.fromkeys(k[0] for k in d):
    n, o = d[(s, "new")], d[(s, "old")]
    wn, wo = statistics.median(x for x, _ in n), statistics.median(x for x, _ in o)
    mn, mo = min(x for x, _ in n), min(x for x, _ in o)
    cn, co = statistics.median(y for _, y in n), statistics.median(y for _, y in o)
    print(f"| {s} | {wn:.0f} / {wo:.0f} | {wn / wo:.3f} | {mn:.0f} / {mo:.0f} | {mn / mo:.3f} | {cn:.0f} / {co:.0f} | {cn / co:.3f} |")
PY
