#!/usr/bin/env bash
# `dbvault run` over many small databases, night after night (issue 38: 1,000 databases of 50 KB
# in about a minute, on the first night and the hundredth).
#
#   benches/run_many.sh WORKDIR [DATABASES=1000] [NIGHTS=100]
#
# Each database is a pg_dump-like text dump of ~50 KB behind a [[job]] (`cat FILE`), so the run's
# own cost shows, not a server's. Between nights one row of every dump changes. Nights run with
# `parallel = 2` and no retention (the repository keeps every snapshot: the worst case for growth).
# Prints one line per night: wall seconds and peak memory (GNU time). Afterwards, fsyncs per
# snapshot are counted (strace) on one more night, and on the first night of a fresh repository.
set -euo pipefail
work=${1:?usage: run_many.sh WORKDIR [DATABASES] [NIGHTS]}
dbs=${2:-1000}
nights=${3:-100}
bin=${DBVAULT:-${CARGO_TARGET_DIR:-target}/release/dbvault}
export DBVAULT_PASSWORD=bench
mkdir -p "$work"
rm -rf "$work/repo" "$work/fresh" "$work/dumps"
mkdir -p "$work/dumps"

python3 - "$work" "$dbs" <<'EOF'
import random, sys
work, dbs = sys.argv[1], int(sys.argv[2])
random.seed(1)
head = "--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE public.t (id integer, name text, v numeric);\nCOPY public.t (id, name, v) FROM stdin;\n"
tail = "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n"
jobs = []
for i in range(dbs):
    rows, n, j = [], 0, 0
    while n < 50000:
        r = f"{j}\tname {random.randrange(10**9)} db{i}\t{random.random():.6f}\n"
        rows.append(r); n += len(r); j += 1
    open(f"{work}/dumps/db{i:04}.sql", "w").write(head + "".join(rows) + tail)
    jobs.append(f'[[job]]\ndb = "db{i:04}"\ncommand = ["cat", "{work}/dumps/db{i:04}.sql"]\n')
for repo in ("repo", "fresh"):
    open(f"{work}/{repo}.toml", "w").write(f'repository = "{work}/{repo}"\nparallel = 2\n\n' + "\n".join(jobs))
EOF

change_one_row() {
    python3 - "$work" "$1" <<'EOF'
import glob, sys
work, night = sys.argv[1], int(sys.argv[2])
for f in glob.glob(f"{work}/dumps/*.sql"):
    lines = open(f).read().split("\n")
    k = 7 + (night * 37) % 300
    parts = lines[k].split("\t")
    parts[2] = f"{night}.5"
    lines[k] = "\t".join(parts)
    open(f, "w").write("\n".join(lines))
EOF
}

"$bin" -q -r "$work/repo" init --kdf-memory-kib 64 --kdf-iterations 1
"$bin" -q -r "$work/fresh" init --kdf-memory-kib 64 --kdf-iterations 1
echo "night seconds peak_rss_mib"
for night in $(seq 1 "$nights"); do
    [ "$night" -gt 1 ] && change_one_row "$night"
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" -q run "$work/repo.toml" > "$work/summary" || { echo "night $night FAILED"; cat "$work/summary"; exit 1; }
    read -r secs kib < "$work/time"
    echo "$night $secs $((kib / 1024))"
done

fsyncs() {
    strace -f -c -e trace=fsync,fdatasync,sync_file_range,syncfs -o "$work/strace" "$bin" -q run "$1" > /dev/null
    awk '/fsync|fdatasync|sync_file_range|syncfs/ { n += $4 } END { print n + 0 }' "$work/strace"
}
change_one_row $((nights + 1))
echo "fsyncs per snapshot, night $((nights + 1)): $(echo "scale=2; $(fsyncs "$work/repo.toml") / $dbs" | bc)"
echo "fsyncs per snapshot, first night of a fresh repository: $(echo "scale=2; $(fsyncs "$work/fresh.toml") / $dbs" | bc)"
