#!/usr/bin/env bash
# bench.sh: throughput of sentry-bridge-sim under wrk, so we know the
# simulator is never the bottleneck of the bridge's own benchmarks.
#
# usage: tests/sim/bench.sh /path/to/sentry-bridge-sim [seconds]
#
# Seeds a generated org (20,000 users, 300 team groups), then runs
# `wrk -t2 -c32 -d<seconds>s` (default 5) against a small Okta request, a
# full 200-user Okta page and a full 100-member Sentry page, printing
# requests/s for each. Informational only: it never fails on a number.
set -u

SIM=${1:-}
SECS=${2:-5}
if [ -z "$SIM" ] || [ ! -x "$SIM" ]; then
	echo "usage: $0 /path/to/sentry-bridge-sim [seconds]" >&2
	exit 2
fi
if ! command -v wrk >/dev/null 2>&1; then
	echo "bench: wrk not installed, skipping" >&2
	exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sim-bench.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$SIM" --listen 127.0.0.1:0 --port-file "$TMP/port" --users 20000 --groups 300 --seed 1 \
	--quiet 2>"$TMP/sim.log" &
PID=$!
for _ in $(seq 1 200); do
	[ -s "$TMP/port" ] && break
	kill -0 "$PID" 2>/dev/null || { cat "$TMP/sim.log" >&2; exit 1; }
	sleep 0.05
done
[ -s "$TMP/port" ] || { echo "bench: simulator did not start" >&2; exit 1; }
B="http://127.0.0.1:$(cat "$TMP/port")"

# run NAME AUTH-HEADER PATH
run() {
	local out rps errs
	out=$(wrk -t2 -c32 -d"${SECS}s" -H "$2" "$B$3" 2>&1)
	rps=$(printf '%s\n' "$out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
	errs=$(printf '%s\n' "$out" | grep -E 'Non-2xx|Socket errors' | tr -s ' ' | tr '\n' ' ')
	printf 'bench: %-52s %10s requests/s %s\n' "$1" "${rps:-?}" "$errs"
}

echo "bench: sentry-bridge-sim, 20000 users / 300 groups, wrk -t2 -c32 -d${SECS}s"
run "GET /api/v1/users?limit=1" "Authorization: SSWS sim-okta-token" "/api/v1/users?limit=1"
run "GET /api/v1/users?limit=200" "Authorization: SSWS sim-okta-token" "/api/v1/users?limit=200"
run "GET /api/0/organizations/acme/members/?per_page=100" \
	"Authorization: Bearer sim-sentry-token" "/api/0/organizations/acme/members/?per_page=100"
