#!/usr/bin/env bash
# scripts/pg.sh: a private PostgreSQL cluster for `make run` and `make check`.
#
#   scripts/pg.sh start DIR [DBNAME]   initdb (first time) and start; prints the DSN
#   scripts/pg.sh stop DIR             fast shutdown
#   scripts/pg.sh dsn DIR [DBNAME]     print the DSN of a cluster under DIR
#   scripts/pg.sh log DIR              print the server log
#
# The cluster listens only on a unix socket (DIR/sock or, when that path is
# too long for a socket, a short directory under /tmp recorded in DIR/sockdir).
# initdb and postgres refuse to run as root, so as root the cluster belongs to
# the unprivileged `postgres` user (created by the Debian package) and both
# run through runuser. Tuned for tests: fsync off, no WAL archiving.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
db=${3:-sentry_bridge}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|dsn|log DIR [DBNAME]" >&2; exit 2; }

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
owner=""
if [ "$(id -u)" -eq 0 ]; then
	owner=postgres
	id "$owner" >/dev/null 2>&1 || owner=nobody
fi
as_owner() {
	if [ -n "$owner" ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

# Where the cluster's files live: DIR/data, unless the cluster's owner cannot
# reach DIR (a checkout under /root, say), then a directory under /var/tmp
# named after DIR. The choice is recorded in DIR/datadir.
datadir() {
	if [ -f "$dir/datadir" ]; then cat "$dir/datadir"; return; fi
	local d="$dir/data"
	if [ -n "$owner" ]; then
		chown "$owner" "$dir"
		if ! runuser -u "$owner" -- test -w "$dir"; then
			d="/var/tmp/sentry-bridge-pg/$(echo "$dir" | md5sum | cut -c1-12)/data"
			mkdir -p "$(dirname "$d")"
			chown "$owner" "$(dirname "$d")"
		fi
	fi
	echo "$d" >"$dir/datadir"
	echo "$d"
}

sockdir() {
	if [ -f "$dir/sockdir" ]; then cat "$dir/sockdir"; return; fi
	local s="$dir/sock"
	# sun_path holds 107 bytes; leave room for "/.s.PGSQL.5432".
	if [ ${#s} -gt 90 ] || { [ -n "$owner" ] && ! runuser -u "$owner" -- test -w "$dir"; }; then
		s=$(mktemp -d /tmp/sb-pg.XXXXXX)
	fi
	echo "$s" >"$dir/sockdir"
	echo "$s"
}

dsn() { echo "host=$(sockdir) port=5432 user=postgres dbname=$db"; }

case "$cmd" in
start)
	data=$(datadir)
	sd=$(sockdir)
	mkdir -p "$sd"
	[ -n "$owner" ] && chown "$owner" "$sd"
	chmod 755 "$sd"
	logf="$(dirname "$data")/postgres.log"
	if [ ! -f "$data/PG_VERSION" ]; then
		as_owner "$pgbin/initdb" -D "$data" -U postgres -A trust --nosync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			as_owner "$pgbin/initdb" -D "$data" -U postgres -A trust --nosync -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
		cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sd'
fsync = off
synchronous_commit = on
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_destination = stderr
log_min_messages = warning
CONF
	fi
	if ! as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_owner "$pgbin/pg_ctl" -D "$data" -l "$logf" -w -t 60 start >/dev/null ||
			{ echo "pg.sh: PostgreSQL failed to start; its log:" >&2; cat "$logf" >&2; exit 1; }
	fi
	if ! as_owner "$pgbin/psql" -h "$sd" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
		as_owner "$pgbin/createdb" -h "$sd" -U postgres "$db"
	fi
	dsn
	;;
stop)
	data=$(datadir)
	if [ -f "$data/PG_VERSION" ]; then
		as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	;;
dsn) dsn ;;
log) cat "$(dirname "$(datadir)")/postgres.log" 2>/dev/null || true ;;
*) echo "usage: $0 start|stop|dsn|log DIR [DBNAME]" >&2; exit 2 ;;
esac
