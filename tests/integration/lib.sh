#!/usr/bin/env bash
# tests/integration/lib.sh: helpers for integration tests that run the real
# sentry-bridge binary (SB_BIN, under ASan or valgrind) against the private
# PostgreSQL (SB_TEST_PG_DSN) and the simulator (SB_SIM_BIN).
#
# Each test script sources this, calls the helpers, and ends with `finish`.
# Processes it starts are recorded in $SB_TEST_WORK/*.pid and stopped by the
# EXIT trap even when an assertion fails.
set -euo pipefail

: "${SB_BIN:?run through tests/run.sh}"
: "${SB_TEST_PG_DSN:?run through tests/run.sh}"
T=$(mktemp -d "${SB_TEST_WORK:-/tmp}/it.XXXXXX")
chmod 755 "$T"
FAILS=0
PASSES=0
# The schema version this build carries (the highest NNN_ prefix; numbers
# may have gaps while work lands in parallel) and how many migrations it has.
LATEST=$(ls "${SB_SRCDIR:-.}"/bridge/migrations/*.sql | sed -E 's|.*/0*([0-9]+)_[^/]*$|\1|' | sort -n | tail -n 1)
NMIGRATIONS=$(ls "${SB_SRCDIR:-.}"/bridge/migrations/*.sql | wc -l)
TEST_NAME=$(basename "$0" .sh)

_cleanup() {
	for pidf in "$T"/*.pid; do
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}
trap _cleanup EXIT

pass() { PASSES=$((PASSES + 1)); echo "  PASS $*"; }
fail() {
	FAILS=$((FAILS + 1))
	echo "  FAIL $*" >&2
}
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}
eq() { # eq DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got [$2], want [$3]"; fi
}
contains() { # contains DESCRIPTION HAYSTACK NEEDLE
	if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1: [$3] not found in [${2:0:600}]"; fi
}
not_contains() {
	if [[ "$2" != *"$3"* ]]; then pass "$1"; else fail "$1: [$3] unexpectedly found"; fi
}

free_port() {
	# A random port nobody listens on (bash's /dev/tcp probes it), below the
	# kernel's ephemeral range (32768+ on Linux): a port the sockets of
	# outgoing connections may hold could not be listened on a moment later.
	local p
	for _ in $(seq 1 50); do
		p=$(shuf -i 20000-32000 -n 1)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# A fresh, empty database for one test; prints its conninfo.
fresh_db() {
	local name=$1
	PGOPTIONS="-c client_min_messages=warning" psql "$SB_TEST_PG_DSN" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
	echo "${SB_TEST_PG_DSN/dbname=sentry_bridge/dbname=$name}"
}

# HTTP helper: http METHOD URL [curl args...]; sets STATUS, BODY, HEADERS.
http() {
	local method=$1 url=$2
	shift 2
	local hf="$T/h.$$" bf="$T/b.$$"
	STATUS=$(curl -sS -o "$bf" -D "$hf" -w '%{http_code}' -X "$method" --max-time "${SB_HTTP_MAX_TIME:-10}" "$@" "$url" || true)
	BODY=$(cat "$bf" 2>/dev/null || true)
	HEADERS=$(tr -d '\r' <"$hf" 2>/dev/null || true)
	rm -f "$hf" "$bf"
}
header() { # header NAME: value of a response header from the last http call
	echo "$HEADERS" | grep -i "^$1:" | head -n 1 | sed 's/^[^:]*: *//'
}

# launch_bridge NAME CONFIG [ENV=VAL...]: start `serve` in the background.
launch_bridge() {
	local name=$1 cfg=$2
	shift 2
	env "$@" ${SB_WRAP:-} "$SB_BIN" --config "$cfg" serve >"$T/$name.log" 2>&1 &
	echo $! >"$T/$name.pid"
	echo "$cfg" >"$T/$name.cfg"
}

# wait_healthy NAME: wait until the bridge NAME answers /healthz.
wait_healthy() {
	local name=$1 port
	port=$(grep -E '^listen:' "$(cat "$T/$name.cfg")" | sed -E 's/.*:([0-9]+)"?$/\1/')
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then return 0; fi
		if ! kill -0 "$(cat "$T/$name.pid")" 2>/dev/null; then
			echo "sentry-bridge ($name) exited early; its log:" >&2
			cat "$T/$name.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "sentry-bridge ($name) did not answer /healthz; its log:" >&2
	cat "$T/$name.log" >&2
	return 1
}

# start_bridge NAME CONFIG [ENV=VAL...]: launch and wait for /healthz.
start_bridge() {
	launch_bridge "$@"
	wait_healthy "$1"
}

# wait_ready URL SECONDS
wait_ready() {
	for _ in $(seq 1 $(($2 * 10))); do
		if curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

# stop_bridge NAME: SIGTERM, wait, and return its exit code in STOP_RC.
stop_bridge() {
	local pid
	pid=$(cat "$T/$1.pid")
	rm -f "$T/$1.pid"
	if ! kill -TERM "$pid" 2>/dev/null; then
		STOP_RC="exited before SIGTERM"
		wait "$pid" 2>/dev/null || STOP_RC="exited before SIGTERM with status $?"
		return 0
	fi
	STOP_RC=0
	wait "$pid" || STOP_RC=$?
}

log_of() { cat "$T/$1.log"; }

# Start the simulator; sets SIM_URL.
start_sim() {
	local name=$1
	shift
	${SB_WRAP:-} "$SB_SIM_BIN" --listen 127.0.0.1:0 --port-file "$T/$name.port" --quiet "$@" >"$T/$name.log" 2>&1 &
	echo $! >"$T/$name.pid"
	for _ in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.1
	done
	SIM_URL="http://127.0.0.1:$(cat "$T/$name.port")"
}

# The simulator as Okta and Sentry (after start_sim, with its demo tokens).
okta() { curl -s -H 'Authorization: SSWS sim-okta-token' "$@"; }
uid_of() { okta "$SIM_URL/api/v1/users/$1" | jq -r '.id'; } # uid_of LOGIN
member_of() { # member_of EMAIL: the Sentry member JSON (or null)
	curl -s -H 'Authorization: Bearer sim-sentry-token' "$SIM_URL/api/0/organizations/acme/members/?per_page=100" |
		jq -c --arg e "$1" '[.[] | select((.email | ascii_downcase) == $e)][0]'
}
role_of() { member_of "$1" | jq -r '.orgRole // .role // "none"'; } # role_of EMAIL: its org role, or none
wait_role() { # wait_role EMAIL ROLE [SECONDS]: 0 when the role shows up in time
	for _ in $(seq 1 $((${3:-10} * 10))); do
		[ "$(role_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_first_scheduled_sync: serve runs the scheduled sync at once when it
# never ran; tests that then change Okta wait for it so it cannot race them.
wait_first_scheduled_sync() {
	for _ in $(seq 1 300); do
		[ "$(sql "SELECT count(*) FROM sync_runs WHERE trigger = 'schedule' AND status NOT IN ('queued', 'running')")" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}
# sql QUERY: one query on the test's database ($db), values only.
sql() { psql "$db" -qAt -c "$1"; }

# The base config most tests use: write_config FILE PORT DBURL [extra yaml]
write_config() {
	local file=$1 port=$2 db=$3 extra=${4:-}
	cat >"$file" <<YAML
listen: "127.0.0.1:$port"
database_url: "$db"
public_url: "http://127.0.0.1:$port"
admin_token_env: BRIDGE_ADMIN_TOKEN
log:
  level: debug
$extra
YAML
}

# The console's config (the simulated Okta and Sentry, the demo org's role
# mapping, access requests, OIDC sign-in) for test_console*.sh and the
# browser tests: console_config [extra yaml]. Needs SIM_URL and the
# environment OKTA_API_TOKEN, SENTRY_TOKEN, OIDC_SECRET.
console_config() {
	cat <<YAML
okta:
  base_url: "$SIM_URL"
  api_token_env: OKTA_API_TOKEN
sentry:
  base_url: "$SIM_URL"
  organization: acme
  token_env: SENTRY_TOKEN
sync:
  interval: 1h
  guards: { max_removals: 5, max_demotions: 5 }
roles:
  access_groups: [okta-sentry-member-users]
  default_role: member
  mappings:
    - { group: okta-sentry-admin-users, role: manager }
  owners: [ops-contact@acme.example]
access_requests:
  enabled: true
  max_role: manager
  requestable_teams: [observability, payments]
  default_duration: 1h
  max_duration: 1d
  require_reason: true
  approvers:
    - { kind: role, groups: [okta-sentry-admin-users] }
    - { kind: team, groups: [okta-sentry-admin-users] }
console:
  oidc:
    issuer: "$SIM_URL/oauth2/default"
    client_id: sim-console
    client_secret_env: OIDC_SECRET
  admin_groups: [okta-sentry-admin-users]
${1:-}
YAML
}

finish() {
	_cleanup
	echo "  $TEST_NAME: $PASSES passed, $FAILS failed"
	if [ "$FAILS" -ne 0 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $(basename "$f") ----" >&2
			tail -n 60 "$f" >&2
		done
		exit 1
	fi
}
