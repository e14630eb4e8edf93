#!/usr/bin/env bash
# tests/bench/provision.sh: `sentry-bridge projects lint` on large
# organisations (`make bench-provision`). For each size, a generated org of
# N projects (realistic names from a word list, ~10 % carrying an
# environment suffix, ~2 % without a team) is loaded into the simulator;
# the lint reads every page and compares every pair of names. Prints wall
# time, pages read and violations found. Measurements only.
#
# SB_BENCH_PROJECTS ("1000 5000"); SB_BENCH_DISTANCE (2; 0 leaves out the
# pairwise comparison, which shows what reading the pages costs).
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=${SB_BENCH_PROJECTS:-"1000 5000"}
command -v jq >/dev/null || { echo "bench-provision needs jq" >&2; exit 1; }
work=$(mktemp -d /tmp/sb-bench-prov.XXXXXX)
sim_pid=""
cleanup() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
build/release/sentry-bridge-sim --listen 127.0.0.1:0 --port-file "$work/sim.port" --quiet 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
sim="http://127.0.0.1:$(cat "$work/sim.port")"
cat >"$work/b.yaml" <<YAML
database_url: "host=/nonexistent"
sentry:
  base_url: "$sim"
  organization: acme
  token_env: SENTRY_TOKEN
provisioning:
  default_team: acme
  near_duplicate_distance: ${SB_BENCH_DISTANCE:-2}
YAML
export SENTRY_TOKEN=sim-sentry-token
printf '%-9s %-9s %-7s %-11s %s\n' projects seconds pages violations "by kind"
for n in $sizes; do
	jq -n --argjson n "$n" '
	  ["checkout","billing","search","ledger","inventory","payments","orders","catalog","identity","reports",
	   "gateway","notifier","exporter","scheduler","pricing","shipping","profile","session","media","audit"] as $w
	  | ["api","web","worker","cron","ui","service"] as $k
	  | ["gprd","gstg","pre","prod"] as $e
	  | {sentry: {org: "acme", teams: [{slug: "acme", name: "Acme"}],
	     projects: [range(0; $n) | . as $i
	       | "\($w[$i % 20])-\($k[($i / 20 | floor) % 6])-\($i / 120 | floor)"
	         + (if $i % 10 == 3 then "-" + $e[$i % 4] else "" end)
	       | {slug: ., name: ., teams: (if $i % 50 == 7 then [] else ["acme"] end)}]}}' >"$work/org.json"
	curl -s -o /dev/null -X POST "$sim/_sim/state" --data-binary @"$work/org.json"
	curl -s -o /dev/null -X DELETE "$sim/_sim/requests"
	t0=$(date +%s.%N)
	rc=0
	build/release/sentry-bridge --config "$work/b.yaml" --log-level error projects lint 2>/dev/null --output json >"$work/out.json" || rc=$?
	t1=$(date +%s.%N)
	[ "$rc" = 0 ] || [ "$rc" = 5 ] || { echo "lint failed ($rc)" >&2; exit 1; }
	pages=$(curl -s "$sim/_sim/requests?limit=100000" | jq '[.requests[] | select(.path | endswith("/projects/"))] | length')
	printf '%-9s %-9.2f %-7s %-11s %s\n' "$(jq .projects "$work/out.json")" "$(echo "$t1 - $t0" | bc)" "$pages" \
		"$(jq .total "$work/out.json")" "$(jq -c .counts "$work/out.json")"
done
