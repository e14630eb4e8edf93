#!/usr/bin/env bash
# tests/bench/hooks.sh: the Okta event hook benchmark of issue #4
# (`make bench-hooks`). Measurements only: nothing here passes or fails.
#
# 1. Acknowledgements: wrk sends single-event deliveries to POST /hooks/okta
#    for SB_BENCH_SECONDS (10) from SB_BENCH_CONNS (12) connections, each
#    pausing 20 ms between requests (about 500 deliveries/s); prints the rate,
#    p50/p99 latency, and checks every acknowledged event is in the inbox.
# 2. A burst of SB_BENCH_EVENTS (1000) group.user_membership.add events (100
#    deliveries of 10, 10 at a time) with 50 ms added latency on every
#    upstream call; prints p50/p99 from delivery (received_at) to the change
#    applied in Sentry (processed_at, written after Sentry answered) and
#    checks the roles in the simulated Sentry.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${SB_BENCH_SECONDS:-10}
conns=${SB_BENCH_CONNS:-12}
nevents=${SB_BENCH_EVENTS:-1000}
latency=${SB_BENCH_LATENCY_MS:-50}
for t in jq wrk curl; do command -v $t >/dev/null || { echo "bench-hooks needs $t" >&2; exit 1; }; done
source tests/bench/lib.sh
bench_start hooks --users 3000 --groups 30 --seed 7
cat >"$work/bench.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: warn }
server: { threads: 8 }
database: { pool_size: 16 }
okta:
  base_url: "$sim"
  api_token_env: OKTA_API_TOKEN
  event_hook: { auth_header: Authorization, secret_env: OKTA_HOOK_SECRET }
  http: { max_concurrency: 16, rate_per_sec: 0 }
sentry:
  base_url: "$sim"
  organization: acme
  token_env: SENTRY_TOKEN
  http: { max_concurrency: 64, rate_per_sec: 0 }
sync:
  interval: 24h
  unmanaged_members: keep
  apply_concurrency: 64
  guards: { max_removals: "100%", max_demotions: "100%" }
roles:
  access_groups: [okta-sentry-member-users]
  default_role: member
  mappings:
    - { group: okta-sentry-admin-users, role: manager }
  owners: [ops-contact@acme.example]
YAML
export BRIDGE_ADMIN_TOKEN=bench OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token
export OKTA_HOOK_SECRET=bench-hook-secret
sql() { psql "$dsn" -qAt -c "$1"; }

echo "== setup: a full sync fills the mirrors =="
build/release/sentry-bridge --config "$work/bench.yaml" sync >/dev/null 2>"$work/sync.err" || {
	cat "$work/sync.err" >&2
	exit 1
}
echo "mirror: $(sql "SELECT count(*) FROM okta_users") Okta users, $(sql "SELECT count(*) FROM sentry_members") Sentry members"
bench_serve "$work/bench.yaml"

echo
echo "== 1. acknowledgements: POST /hooks/okta, $conns connections, 20 ms pause each, ${secs}s =="
cat >"$work/hooks.lua" <<'LUA'
local threads = {}
local n = 0
function setup(thread)
	n = n + 1
	thread:set("tid", n)
end
function init(args)
	counter = 0
end
function delay()
	return 20
end
function request()
	counter = counter + 1
	local uuid = string.format("bench-%d-%d", tid, counter)
	local body = '{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"' .. uuid ..
		'","published":"2026-11-23T10:00:00.000Z","eventType":"user.session.start","version":"0",' ..
		'"target":[{"id":"00ubench' .. tid .. '","type":"User","alternateId":"bench@acme.example"}]}]}}'
	return wrk.format("POST", "/hooks/okta",
		{["Authorization"] = os.getenv("OKTA_HOOK_SECRET"), ["Content-Type"] = "application/json"}, body)
end
LUA
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/hooks.lua" "$url/hooks/okta" >"$work/wrk.out" 2>&1 || true
grep -E "Requests/sec|Non-2xx|Socket errors|requests in" "$work/wrk.out" || true
awk '/Latency Distribution/{f=1;next} f&&/%/{print "  latency p" $1 " " $2} /requests in/{f=0}' "$work/wrk.out" | grep -E "p50%|p99%" | sed 's/%//'
sent=$(awk '/requests in/{print $1}' "$work/wrk.out")
sleep 1
stored=$(sql "SELECT count(*) FROM inbox WHERE external_id LIKE 'bench-%'")
echo "acknowledged deliveries: $sent, events in the inbox: $stored (each acknowledged event stored: $([ "$stored" -ge "$sent" ] && echo yes || echo NO))"

echo
echo "== 2. burst: $nevents membership events, ${latency} ms on every upstream call =="
curl -s -X POST "$sim/_sim/faults" -d "{\"match\":\"* /api/*\",\"latency_ms\":$latency}" >/dev/null
admin=$(sql "SELECT id FROM okta_groups WHERE name = 'okta-sentry-admin-users'")
# Users in the access group, ACTIVE, with a Sentry member, not yet in the admin group.
sql "SELECT u.id, u.login FROM okta_users u JOIN okta_memberships m ON m.user_id = u.id
     JOIN okta_groups g ON g.id = m.group_id AND g.name = 'okta-sentry-member-users'
     JOIN sentry_members s ON lower(s.email) = lower(u.email) AND s.role = 'member' AND NOT s.pending
     WHERE u.status = 'ACTIVE' AND NOT EXISTS (SELECT 1 FROM okta_memberships a WHERE a.user_id = u.id AND a.group_id = '$admin')
     ORDER BY u.id LIMIT $nevents" >"$work/users.txt"
got=$(wc -l <"$work/users.txt")
echo "users moved into okta-sentry-admin-users: $got"
mkdir -p "$work/d"
i=0
while read -r line; do
	uid=${line%%|*} login=${line#*|}
	printf '{"uuid":"burst-%d","published":"%s","eventType":"group.user_membership.add","version":"0","target":[{"id":"%s","type":"User","alternateId":"%s"},{"id":"%s","type":"UserGroup","alternateId":"unknown","displayName":"okta-sentry-admin-users"}]}\n' \
		"$i" "$(date -u -d '+5 sec' +%Y-%m-%dT%H:%M:%S.000Z)" "$uid" "$login" "$admin" >>"$work/d/$((i / 10))"
	i=$((i + 1))
done <"$work/users.txt"
for f in "$work"/d/*; do jq -sc '{eventType: "com.okta.event_hook", data: {events: .}}' "$f" >"$f.json"; done
t0=$(date +%s%N)
ls "$work"/d/*.json | xargs -P 10 -I{} curl -s -o /dev/null -H "Authorization: $OKTA_HOOK_SECRET" \
	-H 'Content-Type: application/json' --data-binary @{} "$url/hooks/okta"
t1=$(date +%s%N)
for _ in $(seq 1 600); do
	[ "$(sql "SELECT count(*) FROM inbox WHERE external_id LIKE 'burst-%' AND status = 'pending'")" = 0 ] && break
	sleep 0.1
done
t2=$(date +%s%N)
echo "delivered in $(((t1 - t0) / 1000000)) ms; all applied $(((t2 - t0) / 1000000)) ms after the first delivery"
sql "SELECT 'delivery to applied: p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s, p99 '
            || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY d)::numeric, 3) || ' s, max ' || round(max(d)::numeric, 3)
            || ' s over ' || count(*) || ' events (' || sum((status = 'done')::int) || ' done)'
     FROM (SELECT extract(epoch FROM processed_at - received_at) AS d, status FROM inbox WHERE external_id LIKE 'burst-%') x"
managers=$(curl -s -H 'Authorization: Bearer sim-sentry-token' "$sim/_sim/state?full=1" |
	jq --rawfile ids "$work/users.txt" '($ids | split("\n") | map(select(length > 0) | split("|")[1] | ascii_downcase)) as $l
	  | [.sentry.members[] | select((.email | ascii_downcase) as $e | $l | index($e)) | select(.role == "manager" or .orgRole == "manager")] | length')
echo "Sentry members now manager among them: $managers of $got"
echo "upstream writes: $(curl -s "$sim/_sim/requests?limit=100000" | jq '[.requests[] | select(.method == "PUT")] | length') PUT"
echo "peak RSS of sentry-bridge: $(awk '/VmHWM/{print $2 " " $3}' /proc/$sb_pid/status)"
