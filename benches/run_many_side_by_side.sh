#!/usr/bin/env bash
# Side by side after benches/run_many.sh WORKDIR: two binaries (OLD, NEW) on copies of its
# repository for three more nights, alternating which runs first, then each on the first night of
# an empty repository, twice. Prints seconds and peak MiB (GNU time).
#
#   benches/run_many_side_by_side.sh WORKDIR OLD_BINARY NEW_BINARY
set -euo pipefail
w=${1:?usage: run_many_side_by_side.sh WORKDIR OLD NEW}; old=${2:?OLD binary}; new=${3:?NEW binary}
export DBVAULT_PASSWORD=bench
rm -rf $w/repoA $w/repoB; cp -a $w/repo $w/repoA; cp -a $w/repo $w/repoB
for x in A B; do sed "s|^repository = .*|repository = \"$w/repo$x\"|" $w/repo.toml > $w/repo$x.toml; done
change() { python3 - "$w" "$1" <<'PY'
import glob, sys
work, night = sys.argv[1], int(sys.argv[2])
for f in glob.glob(f"{work}/dumps/*.sql"):
    lines = open(f).read().split("\n")
    k = 7 + (night * 37) % 300
    parts = lines[k].split("\t"); parts[2] = f"{night}.5"; lines[k] = "\t".join(parts)
    open(f, "w").write("\n".join(lines))
PY
}
t() { /usr/bin/time -f "%e %M" -o $w/t "$1" -q run "$2" > /dev/null; read -r s k < $w/t; echo "$s $((k/1024))"; }
echo "three more nights on the run_many repository (seconds, peak MiB)"
for r in 1 2 3; do
  change $((101 + r))
  if [ $((r % 2)) = 1 ]; then echo "round $r old $(t $old $w/repoA.toml) new $(t $new $w/repoB.toml)"; else echo "round $r new $(t $new $w/repoB.toml) old $(t $old $w/repoA.toml)"; fi
done
echo "first night into an empty repository"
for r in 1 2; do
  for x in A B; do rm -rf $w/fresh$x; $new -q -r $w/fresh$x init --kdf-memory-kib 64 --kdf-iterations 1; sed "s|^repository = .*|repository = \"$w/fresh$x\"|" $w/repo.toml > $w/fresh$x.toml; done
  echo "round $r old $(t $old $w/freshA.toml) new $(t $new $w/freshB.toml)"
done
