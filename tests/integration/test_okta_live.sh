#!/usr/bin/env bash
# Okta event hooks end to end with the simulator as Okta (issue 4): the sim
# verifies the hook, delivers the events of real Okta changes (batched,
# duplicated, shuffled), and System Log polling catches what no hook
# delivered, deduplicated by uuid against the deliveries.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token
export OKTA_HOOK_SECRET="live-hook-secret-0123456789"

start_sim sim --demo --threads 4
db=$(fresh_db it_okta_live)
port=$(free_port)
URL="http://127.0.0.1:$port"
write_config "$T/l.yaml" "$port" "$db" "okta:
  base_url: \"$SIM_URL\"
  api_token_env: OKTA_API_TOKEN
  event_hook:
    auth_header: Authorization
    secret_env: OKTA_HOOK_SECRET
  system_log_poll:
    enabled: true
    interval: 10s
    lookback: 10m
sentry:
  base_url: \"$SIM_URL\"
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
  owners: [ops-contact@acme.example]"
admin_g=$(okta "$SIM_URL/api/v1/groups?q=okta-sentry-admin-users" | jq -r '.[0].id')

rc=0; "$SB_BIN" --config "$T/l.yaml" --log-level warn sync >/dev/null 2>&1 || rc=$?
eq "the first sync converges" "$rc" 0
start_bridge b "$T/l.yaml"
check "ready" wait_ready "$URL" 20
check "the first scheduled sync is done" wait_first_scheduled_sync

# --- Okta verifies the hook ------------------------------------------------------------------
http POST "$SIM_URL/_sim/okta/event-hooks" -H 'Content-Type: application/json' \
	--data "{\"url\":\"$URL/hooks/okta\",\"auth_header\":\"Authorization\",\"secret\":\"$OKTA_HOOK_SECRET\"}"
eq "hook registered" "$STATUS" 201
eq "hook verified by the bridge" "$(jq -r .verified <<<"$BODY")" true
http POST "$SIM_URL/_sim/okta/event-hooks" -H 'Content-Type: application/json' \
	--data "{\"url\":\"$URL/hooks/okta\",\"auth_header\":\"Authorization\",\"secret\":\"wrong\"}"
eq "a wrong secret fails verification" "$(jq -r .verified <<<"$BODY")" false

# --- a real Okta change reaches Sentry through the hook ---------------------------------------
bob=$(okta "$SIM_URL/api/v1/users/bob.brown@acme.example" | jq -r .id)
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$bob" >/dev/null
check "bob becomes manager via the delivered event" wait_role bob.brown@acme.example manager 10
hooks=$(curl -s "$SIM_URL/_sim/okta/event-hooks")
check "the sim delivered with 2xx" test "$(jq '[.hooks[] | select(.last_status == 200)] | length' <<<"$hooks")" -ge 1
okta -X DELETE "$SIM_URL/api/v1/groups/$admin_g/users/$bob" >/dev/null
check "and back to member when removed" wait_role bob.brown@acme.example member 10

# --- duplicated and shuffled deliveries: stored once, applied in published order ----------------
curl -s -X DELETE "$SIM_URL/_sim/okta/event-hooks" >/dev/null
http POST "$SIM_URL/_sim/okta/event-hooks" -H 'Content-Type: application/json' \
	--data "{\"url\":\"$URL/hooks/okta\",\"secret\":\"$OKTA_HOOK_SECRET\",\"duplicate\":true,\"shuffle\":true,\"batch_ms\":300}"
eq "faulty hook registered" "$STATUS" 201
burst=$(jq -nc --arg g "$admin_g" '{add: ([ "carol.chen", "dave.diaz", "erin.evans", "frank.fischer" ] | map({user: "\(.)@acme.example", group: $g}))}')
curl -s -X POST "$SIM_URL/_sim/okta/memberships" -H 'Content-Type: application/json' --data "$burst" >/dev/null
ok=1
for who in dave.diaz erin.evans frank.fischer; do wait_role $who@acme.example manager 10 || ok=0; done
eq "every burst member becomes manager" "$ok" 1
dups=$(curl -s "$URL/metrics" | awk '/^sb_okta_events_total\{result="duplicate"\}/{print $2}')
check "duplicate deliveries recognised, not stored twice" test "${dups%.*}" -gt 0
# grace: added then removed inside one shuffled batch; the later remove wins
grace=$(okta "$SIM_URL/api/v1/users/grace.garcia@acme.example" | jq -r .id)
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$grace" >/dev/null
okta -X DELETE "$SIM_URL/api/v1/groups/$admin_g/users/$grace" >/dev/null
sleep 3
eq "add then remove in one shuffled batch: grace stays member" "$(role_of grace.garcia@acme.example)" member

# --- no hook: the System Log poll catches up ----------------------------------------------------
curl -s -X DELETE "$SIM_URL/_sim/okta/event-hooks" >/dev/null
henry=$(okta "$SIM_URL/api/v1/users/henry.huang@acme.example" | jq -r .id)
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$henry" >/dev/null
check "henry becomes manager via System Log polling" wait_role henry.huang@acme.example manager 25
eq "the poll reads /api/v1/logs" \
	"$(curl -s "$SIM_URL/_sim/requests?limit=100000" | jq '[.requests[] | select(.path == "/api/v1/logs")] | length > 0')" true
polled=$(curl -s "$URL/metrics" | awk '/^sb_okta_syslog_events_total\{result="duplicate"\}/{print $2}')
check "events the hooks delivered are recognised by the poll, not stored twice" test "${polled%.*}" -gt 0
check "the poll keeps its cursor" test -n "$(sql "SELECT next_url FROM okta_syslog_state")"

stop_bridge b
eq "SIGTERM exits 0" "$STOP_RC" 0
finish
