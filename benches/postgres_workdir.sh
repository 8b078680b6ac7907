# Sourced by the benchmarks that run a PostgreSQL server (wal_push.sh, base_backups.sh): the
# newest installed server binaries in $pgbin, `as_pg` to run a command as the server's account
# when root, and a fresh $work holding a copy of dbvault and a password file, owned by that
# account (the server runs dbvault as its archive_command).
bin=${DBVAULT:-${CARGO_TARGET_DIR:-target}/release/dbvault}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
cp "$bin" "$work/dbvault"
echo bench > "$work/password"
if [ "$(id -u)" = 0 ]; then chown -R postgres "$work"; fi
