#!/usr/bin/env bash
# tests/bench/sync.sh: the reconcile benchmark of issue #3 (`make bench-sync`).
#
# 20,000 Okta users in 300 groups, 10 of them used by the config (the access
# group, the admin mapping and 8 team groups), a Sentry org generated from
# them with drift, and 50 ms added latency on every upstream call. Runs one
# applying sync and then a second one with no drift, and prints for each:
# wall time, upstream calls per endpoint next to the minimum the data needs,
# writes, and peak RSS. Measurements only: nothing here passes or fails.
#
# SB_BENCH_USERS (20000), SB_BENCH_GROUPS (300), SB_BENCH_LATENCY_MS (50).
set -euo pipefail
cd "$(dirname "$0")/../.."
users=${SB_BENCH_USERS:-20000}
groups=${SB_BENCH_GROUPS:-300}
latency=${SB_BENCH_LATENCY_MS:-50}
command -v jq >/dev/null || { echo "bench-sync needs jq" >&2; exit 1; }
work=$(mktemp -d /tmp/sb-bench-sync.XXXXXX)
chmod 755 "$work"
sim_pid=""
cleanup() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
	wait 2>/dev/null || true
	scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

build/release/sentry-bridge-sim --listen 127.0.0.1:0 --port-file "$work/sim.port" --users "$users" \
	--groups "$groups" --seed 7 --latency-ms "$latency" --quiet 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
sim="http://127.0.0.1:$(cat "$work/sim.port")"
dsn=$(scripts/pg.sh start "$work/pg")

# The config: 8 team groups whose Sentry team exists, largest first.
state=$(curl -s "$sim/_sim/state?full=1")
teams=$(echo "$state" | jq -r '
	(.sentry.teams | map(.slug)) as $slugs
	| .okta.groups | map(select(.profile.name | startswith("team-")))
	| map({g: .profile.name, t: (.profile.name | sub("^team-"; "")), n: (.members | length)})
	| map(select(.t as $t | $slugs | index($t))) | sort_by(-.n) | .[:8][]
	| "  - { group: \"\(.g)\", team: \"\(.t)\", role: contributor }"')
cat >"$work/bench.yaml" <<YAML
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: warn }
okta:
  base_url: "$sim"
  api_token_env: OKTA_API_TOKEN
  http: { max_concurrency: 16, rate_per_sec: 0 }
sentry:
  base_url: "$sim"
  organization: acme
  token_env: SENTRY_TOKEN
  http: { max_concurrency: 32, rate_per_sec: 0 }
sync:
  unmanaged_members: keep
  apply_concurrency: 32
  guards: { max_removals: "100%", max_demotions: "100%" }
roles:
  access_groups: [okta-sentry-member-users]
  default_role: member
  mappings:
    - { group: okta-sentry-admin-users, role: manager }
  owners: [ops-contact@acme.example]
teams:
$teams
YAML
export BRIDGE_ADMIN_TOKEN=bench OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token

# The minimum number of calls the data needs.
minimum() {
	local st
	st=$(curl -s "$sim/_sim/state?full=1")
	echo "$st" | jq -r --argjson teams "$(echo "$teams" | sed -n 's/.*team: "\([^"]*\)".*/"\1"/p' | jq -s .)" \
		--argjson groups "$(echo "$teams" | sed -n 's/.*group: "\([^"]*\)".*/"\1"/p' | jq -s '. + ["okta-sentry-member-users","okta-sentry-admin-users"]')" '
	def pages(n; size): if n == 0 then 1 else ((n + size - 1) / size | floor) end;
	(.okta.groups | map(select(.profile.name as $n | $groups | index($n)))) as $gs
	| (.sentry.members | length) as $m
	| [ "GET /api/v1/groups \(pages($gs | length; 200))",
	    "GET /api/v1/groups/{id}/users \($gs | map(pages(.members | length; 1000)) | add)",
	    "GET /api/0/organizations/acme/members/ \(pages($m; 100))",
	    "GET /api/0/organizations/acme/teams/ \(pages(.sentry.teams | length; 100))",
	    "GET /api/0/teams/acme/{team}/members/ \([$teams[] as $t | [.sentry.members[] | select(.pending != true) | select(.teamRoles // [] | map(.teamSlug) | index($t))] | length | pages(.; 100)] | add)" ] | .[]'
}

run() { # run LABEL
	local label=$1 seq0 t0 t1 pid peak=0 hwm
	seq0=$(curl -s "$sim/_sim/requests?limit=100000" | jq .next)
	echo
	echo "== $label"
	echo "minimum reads the data needs (before the run):"
	minimum | sed 's/^/    /'
	t0=$(date +%s.%N)
	build/release/sentry-bridge --config "$work/bench.yaml" sync --output json >"$work/out.json" 2>"$work/err.log" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		[ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
		sleep 0.05
	done
	wait "$pid" || echo "    (exit status $?)"
	t1=$(date +%s.%N)
	printf '    wall time: %.2f s, peak RSS: %d MiB\n' "$(awk "BEGIN {print $t1 - $t0}")" $((peak / 1024))
	jq -r '"    plan: \(.summary.invites) invites, \(.summary.role_changes) role changes, \(.summary.team_additions) team additions, \(.summary.team_removals) team removals, \(.summary.removals) removals; applied \(.summary.applied), failed \(.summary.failed); \(.summary.okta_users) Okta users, \(.summary.sentry_members) Sentry members"' "$work/out.json"
	echo "calls made (from the simulator's request log):"
	curl -s "$sim/_sim/requests?since=$seq0&limit=100000" | jq -r '
		[.requests[] | .method + " " + (.path
			| sub("/api/v1/groups/[^/]+/users"; "/api/v1/groups/{id}/users")
			| sub("/api/0/teams/acme/[^/]+/members/"; "/api/0/teams/acme/{team}/members/")
			| sub("/members/[0-9]+/teams/[^/]+/"; "/members/{id}/teams/{team}/")
			| sub("/members/[0-9]+/$"; "/members/{id}/"))]
		| group_by(.) | map("    \(.[0]) \(length)") | .[]'
	echo "    writes: $(curl -s "$sim/_sim/requests?since=$seq0&limit=100000" | jq '[.requests[] | select(.method != "GET")] | length')"
}

echo "sentry-bridge reconcile benchmark: $users Okta users, $groups groups, 10 used, ${latency} ms upstream latency"
run "first run: applies the drift"
run "second run: no drift"
