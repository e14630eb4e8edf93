#!/usr/bin/env bash
# tests/bench/console.sh: web console figures of issue #10 (`make bench-console`).
# Server time (the access log's duration_ms) of My access and of the audit log
# (first page, a page deep in the log, filtered) with SB_BENCH_MEMBERS (20,000) Sentry
# members and SB_BENCH_AUDIT (100,000) audit rows in PostgreSQL, SB_BENCH_N
# (300) requests each, one after the other, signed in through the simulated
# Okta as an admin. Measurements only.
set -euo pipefail
cd "$(dirname "$0")/../.."
members=${SB_BENCH_MEMBERS:-20000}
audit=${SB_BENCH_AUDIT:-100000}
n=${SB_BENCH_N:-300}
for t in jq curl psql; do command -v $t >/dev/null || { echo "bench-console needs $t" >&2; exit 1; }; done
source tests/bench/lib.sh
bench_start console --demo
cat >"$work/b.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
public_url: "$url"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: info }
okta: { base_url: "$sim", api_token_env: OKTA_API_TOKEN }
sentry: { base_url: "$sim", organization: acme, token_env: SENTRY_TOKEN }
sync: { interval: 24h, guards: { max_removals: 5, max_demotions: 5 } }
roles:
  access_groups: [okta-sentry-member-users]
  mappings: [{ group: okta-sentry-admin-users, role: manager }]
  owners: [ops-contact@acme.example]
console:
  oidc: { issuer: "$sim/oauth2/default", client_id: sim-console, client_secret_env: OIDC_SECRET }
  admin_groups: [okta-sentry-admin-users]
YAML
export BRIDGE_ADMIN_TOKEN=bench OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token OIDC_SECRET=sim-console-secret
build/release/sentry-bridge --config "$work/b.yaml" sync >/dev/null 2>&1 || true
psql "$dsn" -qAt -c "INSERT INTO sentry_members (id, email, role, teams)
	SELECT 'bench-' || i, 'bench' || i || '@acme.example', 'member', ARRAY['observability']
	FROM generate_series(1, $members) i" \
	-c "INSERT INTO audit_log (actor, action, target, reason)
	SELECT 'bench', 'member.role', 'bench' || (i % $members) || '@acme.example', 'bench row ' || i
	FROM generate_series(1, $audit) i" -c "ANALYZE"
bench_serve "$work/b.yaml"
jar="$work/jar"
authz=$(curl -s -o /dev/null -c "$jar" -b "$jar" -w '%{redirect_url}' "$url/console/login")
cb=$(curl -s -o /dev/null -w '%{redirect_url}' "$authz&login_hint=victor.vega@acme.example")
curl -s -o /dev/null -c "$jar" -b "$jar" "$cb"
mid=$(psql "$dsn" -qAt -c "SELECT max(id) / 2 FROM audit_log")
# measure PATH LABEL: n requests, then p50/p99 of the server's duration_ms for that path
measure() {
	local path=$1 label=$2 before
	before=$(wc -l <"$work/serve.log")
	for _ in $(seq 1 "$n"); do
		code=$(curl -s -o /dev/null -b "$jar" -w '%{http_code}' "$url$path")
		[ "$code" = 200 ] || { echo "$label: HTTP $code" >&2; exit 1; }
	done
	tail -n +"$((before + 1))" "$work/serve.log" | jq -r --arg p "${path%%\?*}" \
		'select(.msg == "request" and .path == $p) | .duration_ms' | sort -n >"$work/d"
	local cnt p50 p99
	cnt=$(wc -l <"$work/d")
	p50=$(sed -n "$(( (cnt + 1) / 2 ))p" "$work/d")
	p99=$(sed -n "$(( (cnt * 99 + 99) / 100 ))p" "$work/d")
	printf '%-34s n=%d  p50 %6.2f ms  p99 %6.2f ms\n' "$label" "$cnt" "$p50" "$p99"
}
echo "== console server time: $members Sentry members, $audit audit rows, release build =="
measure "/console/" "My access"
measure "/console/audit" "Audit log, first page"
measure "/console/audit?before=$mid" "Audit log, page at the middle"
measure "/console/audit?person=bench77%40acme.example" "Audit log, filtered by person"
measure "/console/audit?action=member.role&since=1d" "Audit log, action and since"
measure "/console/approvals" "Approvals"
measure "/console/request" "Request access"
measure "/console/sync" "Sync runs"
measure "/console/alerts" "Alerts"
