#!/usr/bin/env bash
# tests/bench/run.sh: the benchmarks `make bench` runs. Each prints its
# figures; none of them pass or fail on a number (they are measurements,
# not tests). Needs wrk (apt-get install wrk).
#
#   1. the simulator: requests/s on a simple call and a 200-item Okta page
#   2. sentry-bridge: /healthz and /readyz (a database round trip) latency
#      and throughput at a fixed rate of connections
#
# SB_BENCH_SECONDS (default 10) sets each run's length.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
secs=${SB_BENCH_SECONDS:-10}
command -v wrk >/dev/null || {
	if [ "$(id -u)" -eq 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
	else echo "make bench needs wrk: sudo apt-get install wrk" >&2; exit 1; fi
}
work=$(mktemp -d /tmp/sb-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print int($2/1024)}') MiB"

# --- 1. the simulator -------------------------------------------------------
build/release/sentry-bridge-sim --listen 127.0.0.1:0 --port-file "$work/sim.port" --users 20000 --groups 300 \
	--seed 1 --quiet 2>"$work/sim.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
sim="http://127.0.0.1:$(cat "$work/sim.port")"
echo
echo "== simulator: GET /_sim/health (wrk -t2 -c32 -d${secs}s)"
wrk -t2 -c32 -d"${secs}s" --latency "$sim/_sim/health" | grep -E 'Requests/sec|Latency|99%'
echo
echo "== simulator: GET /api/v1/users?limit=200, 20,000 users (wrk -t2 -c32 -d${secs}s)"
wrk -t2 -c32 -d"${secs}s" --latency -H 'Authorization: SSWS sim-okta-token' "$sim/api/v1/users?limit=200" |
	grep -E 'Requests/sec|Latency|99%|Transfer'

# --- 2. sentry-bridge ---------------------------------------------------------
dsn=$(scripts/pg.sh start "$work/pg")
port=$(shuf -i 20000-32000 -n 1)
cat >"$work/bench.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: warn }
YAML
BRIDGE_ADMIN_TOKEN=bench-admin-token build/release/sentry-bridge --config "$work/bench.yaml" serve 2>"$work/bridge.log" &
pids+=($!)
for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break; sleep 0.1; done
echo
echo "== sentry-bridge: GET /healthz (wrk -t2 -c32 -d${secs}s)"
wrk -t2 -c32 -d"${secs}s" --latency "http://127.0.0.1:$port/healthz" | grep -E 'Requests/sec|Latency|99%'
echo
echo "== sentry-bridge: GET /readyz, one PostgreSQL round trip each (wrk -t2 -c16 -d${secs}s)"
wrk -t2 -c16 -d"${secs}s" --latency "http://127.0.0.1:$port/readyz" | grep -E 'Requests/sec|Latency|99%'
rss=$(awk '/VmRSS/ {print $2}' "/proc/${pids[-1]}/status")
echo
echo "== sentry-bridge resident memory after the runs: $((rss / 1024)) MiB"
