#!/usr/bin/env bash
# tests/bench/access.sh: access request figures of issue #9 (`make bench-access`).
# With SB_BENCH_LATENCY_MS (50) added to every upstream call: the time from
# an approval to the role applied in the simulated Sentry (SB_BENCH_N, 10,
# requests one after the other), and the expiry lag of short grants with the
# default expiry_check_interval (30 s). Measurements only.
set -euo pipefail
cd "$(dirname "$0")/../.."
latency=${SB_BENCH_LATENCY_MS:-50}
n=${SB_BENCH_N:-10}
for t in jq curl; do command -v $t >/dev/null || { echo "bench-access needs $t" >&2; exit 1; }; done
source tests/bench/lib.sh
bench_start access --demo
cat >"$work/b.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: warn }
okta: { base_url: "$sim", api_token_env: OKTA_API_TOKEN }
sentry: { base_url: "$sim", organization: acme, token_env: SENTRY_TOKEN }
sync: { interval: 24h, guards: { max_removals: 5, max_demotions: 5 } }
roles:
  access_groups: [okta-sentry-member-users]
  mappings: [{ group: okta-sentry-admin-users, role: manager }]
  owners: [ops-contact@acme.example]
access_requests:
  enabled: true
  max_role: manager
  require_reason: true
  approvers: [{ kind: role, groups: [okta-sentry-admin-users] }]
YAML
export BRIDGE_ADMIN_TOKEN=bench OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token
build/release/sentry-bridge --config "$work/b.yaml" sync >/dev/null 2>&1 || true
bench_serve "$work/b.yaml"
curl -s -X POST "$sim/_sim/faults" -d "{\"match\":\"* /api/*\",\"latency_ms\":$latency}" >/dev/null
role_of() {
	curl -s -H 'Authorization: Bearer sim-sentry-token' "$sim/api/0/organizations/acme/members/?per_page=100" |
		jq -r --arg e "$1" '[.[] | select(.email == $e)][0].role'
}
api() { curl -s -X POST -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H 'Content-Type: application/json' "$url$1" --data "$2"; }
people=(alice.anderson bob.brown dave.diaz erin.evans frank.fischer grace.garcia henry.huang irene.ito jack.jones uma.usman)
echo "== approval to applied, ${latency} ms upstream latency =="
: >"$work/lat"
for i in $(seq 0 $((n - 1))); do
	who=${people[$((i % ${#people[@]}))]}@acme.example
	id=$(api /api/v1/access-requests "{\"on_behalf_of\":\"$who\",\"kind\":\"role\",\"role\":\"manager\",\"duration\":\"40s\",\"reason\":\"bench\"}" | jq -r .id)
	t0=$(date +%s%N)
	api "/api/v1/access-requests/$id/approve" '{"by":"victor.vega@acme.example"}' >/dev/null
	for _ in $(seq 1 300); do [ "$(role_of "$who")" = manager ] && break; sleep 0.02; done
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$work/lat"
done
sort -n "$work/lat" | awk '{v[NR]=$1} END {printf "approval to applied over %d requests: p50 %d ms, max %d ms\n", NR, v[int((NR+1)/2)], v[NR]}'
echo "== expiry lag (grants of 40 s, expiry_check_interval 30 s) =="
for _ in $(seq 1 120); do
	[ "$(psql "$dsn" -qAt -c "SELECT count(*) FROM access_grants WHERE status = 'active'")" = 0 ] && break
	sleep 1
done
psql "$dsn" -qAt -c "SELECT 'expiry lag: p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1)
	|| ' s, max ' || round(max(l)::numeric, 1) || ' s over ' || count(*) || ' grants'
	FROM (SELECT extract(epoch FROM ended_at - ends_at) AS l FROM access_grants WHERE status = 'expired') x"
# the ends are applied right after they are recorded: give that a moment
for _ in $(seq 1 50); do
	back=0
	for p in "${people[@]}"; do [ "$(role_of "$p@acme.example")" = member ] && back=$((back + 1)); done
	[ "$back" = "${#people[@]}" ] && break
	sleep 0.2
done
echo "back to member after expiry: $back of ${#people[@]}"
