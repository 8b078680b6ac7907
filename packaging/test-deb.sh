#!/usr/bin/env bash
# Build the Debian package, install it with dpkg -i, and run the nightly routine from the installed
# files (binary, example configuration) against a private PostgreSQL server; then check the man
# pages, completions and systemd units it installed, and remove it. Needs root (dpkg).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-deb: dpkg -i needs root; run as root (CI does)" >&2; exit 1; }
deb=$(packaging/build-deb.sh | tail -1)
echo "test-deb: installing $deb"
dpkg -i "$deb" > /dev/null
trap 'dpkg -r dbvault > /dev/null 2>&1 || true; [ -n "${pgbin:-}" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/data" -m immediate stop > /dev/null 2>&1; rm -rf "$work"' EXIT
work=$(mktemp -d /tmp/dbvault-deb-test.XXXXXX)
chmod 755 "$work"

for f in /usr/bin/dbvault /usr/share/man/man1/dbvault.1.gz /usr/share/man/man1/dbvault-run.1.gz \
         /usr/share/bash-completion/completions/dbvault /usr/share/zsh/vendor-completions/_dbvault \
         /usr/share/fish/vendor_completions.d/dbvault.fish /usr/lib/systemd/system/dbvault.service \
         /usr/lib/systemd/system/dbvault.timer /usr/share/doc/dbvault/examples/dbvault.toml; do
    [ -s "$f" ] || { echo "test-deb: the package did not install $f" >&2; exit 1; }
done
zcat /usr/share/man/man1/dbvault-run.1.gz | grep -q 'read_data_cycle' || { echo "test-deb: dbvault-run(1) lacks the configuration" >&2; exit 1; }
grep -q 'ExecStart=/usr/bin/dbvault run /etc/dbvault/dbvault.toml' /usr/lib/systemd/system/dbvault.service
if command -v systemd-analyze > /dev/null; then
    systemd-analyze verify /usr/lib/systemd/system/dbvault.timer /usr/lib/systemd/system/dbvault.service 2>&1 | grep -v 'Failed to\|not found' >&2 || true
fi

# A private PostgreSQL with two databases and a role, on a socket in $work.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
chown postgres "$work"
runuser -u postgres -- "$pgbin/initdb" -D "$work/data" -A trust -U postgres --no-sync > /dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-c listen_addresses='' -k $work -c fsync=off" start > /dev/null
psql() { "$pgbin/psql" -X -q -h "$work" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql -d postgres -c "CREATE ROLE shopkeeper" -c "CREATE DATABASE shop OWNER shopkeeper" -c "CREATE DATABASE crm"
psql -d shop -c "CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 1000) g"

# The installed example, pointed at this server and a repository in $work.
echo "deb-test-password" > "$work/password"
sed -e "s|^repository = .*|repository = \"$work/repo\"|" -e "s|^password_file = .*|password_file = \"$work/password\"|" \
    -e "s|^host = .*|host = \"$work\"\nbin_dir = \"$pgbin\"|" /usr/share/doc/dbvault/examples/dbvault.toml > "$work/dbvault.toml"
export TMPDIR="$work"
/usr/bin/dbvault --password-file "$work/password" -r "$work/repo" -q init
/usr/bin/dbvault run --dry-run "$work/dbvault.toml" | grep -q 'shop <-'
/usr/bin/dbvault --json run "$work/dbvault.toml" > "$work/summary.json" || { cat "$work/summary.json"; exit 1; }
python3 - "$work/summary.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["ok"], doc
backed = sorted(s["target"] for s in doc["steps"] if s["step"] == "backup" and s["result"] == "ok")
assert backed == ["crm", "postgres", "postgres-globals", "shop"], backed
steps = {s["step"] for s in doc["steps"]}
assert {"discover", "retention", "prune", "drill", "check"} <= steps, steps
print("test-deb: the installed dbvault ran the routine:", ", ".join(f'{s["step"]} {s["target"]} {s["result"]}' for s in doc["steps"]))
PY
/usr/bin/dbvault --password-file "$work/password" -r "$work/repo" restore latest --db shop | grep -q 'CREATE TABLE public.orders'
dpkg -r dbvault > /dev/null
[ ! -e /usr/bin/dbvault ] || { echo "test-deb: dpkg -r left /usr/bin/dbvault" >&2; exit 1; }
echo "test-deb: ok"
