#!/usr/bin/env bash
# Okta event hooks (issue 4): verification, authentication, bad bodies,
# durable and deduplicated storage, the end-to-end path from an Okta change
# to the role in Sentry, out-of-order events, lifecycle events, the guards'
# sliding window, retries, dead items and replay, a database that is down
# and a bridge killed with events queued.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token
export OKTA_HOOK_SECRET="hook-secret-0123456789abcdef"

start_sim sim --demo
db=$(fresh_db it_hooks)
hooks_cfg() { # hooks_cfg FILE PORT DB [max_removals]
	write_config "$1" "$2" "$3" "okta:
  base_url: \"$SIM_URL\"
  api_token_env: OKTA_API_TOKEN
  event_hook:
    auth_header: Authorization
    secret_env: OKTA_HOOK_SECRET
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
sync:
  interval: 1h
  guards: { max_removals: ${4:-5}, max_demotions: 5, event_window: 1h }
jobs:
  backoff_base: 200ms
  backoff_max: 1s
  max_attempts: 4
roles:
  access_groups: [okta-sentry-member-users]
  default_role: member
  mappings:
    - { group: okta-sentry-admin-users, role: manager }
  owners: [ops-contact@acme.example]
teams:
  - { group: team-observability, team: observability, role: contributor }
  - { group: team-payments, team: payments, role: contributor }"
}
port=$(free_port)
URL="http://127.0.0.1:$port"
hooks_cfg "$T/h.yaml" "$port" "$db" 2
gid_of() { okta "$SIM_URL/api/v1/groups?q=$1" | jq -r --arg n "$1" '[.[] | select(.profile.name == $n)][0].id'; }
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
event() { # event TYPE USER_ID LOGIN [GROUP_ID GROUP_NAME] [PUBLISHED] [UUID]
	jq -nc --arg t "$1" --arg u "$2" --arg l "$3" --arg g "${4:-}" --arg gn "${5:-}" \
		--arg p "${6:-$(now_iso)}" --arg id "${7:-$(cat /proc/sys/kernel/random/uuid)}" '
	{uuid: $id, published: $p, eventType: $t, version: "0", severity: "INFO",
	 displayMessage: $t, actor: {id: "00uadmin", type: "User", alternateId: "admin@acme.example", displayName: "Admin"},
	 target: ([{id: $u, type: "User", alternateId: $l, displayName: $l}]
	          + (if $g == "" then [] else [{id: $g, type: "UserGroup", alternateId: "unknown", displayName: $gn}] end)),
	 outcome: {result: "SUCCESS", reason: null}}'
}
delivery() { # delivery EVENT_JSON...: the envelope around them
	printf '%s\n' "$@" | jq -sc '{eventType: "com.okta.event_hook", eventTypeVersion: "1.0", cloudEventsVersion: "0.1",
	  source: "https://acme.okta.example/api/v1/eventHooks/who1", eventId: "env-\(now)", eventTime: "2026-11-23T10:00:00.000Z",
	  contentType: "application/json", data: {events: .}}'
}
deliver() { # deliver BODY [curl args]: POST /hooks/okta with the secret
	local body=$1
	shift
	http POST "$URL/hooks/okta" -H "Authorization: $OKTA_HOOK_SECRET" -H 'Content-Type: application/json' \
		--data-binary "$body" "$@"
}

# The mirrors come from a first full sync (what a new installation does).
"$SB_BIN" --config "$T/h.yaml" --log-level warn sync >/dev/null 2>&1
eq "first sync fills the mirrors" "$(sql "SELECT count(*) > 0 FROM okta_users")" t
start_bridge b "$T/h.yaml"
check "ready" wait_ready "$URL" 20
check "the first scheduled sync is done" wait_first_scheduled_sync

# --- verification ----------------------------------------------------------------------
http GET "$URL/hooks/okta" -H "Authorization: $OKTA_HOOK_SECRET" -H 'X-Okta-Verification-Challenge: chal-123'
eq "verification 200" "$STATUS" 200
eq "verification echoes the challenge" "$(jq -r .verification <<<"$BODY")" chal-123
http GET "$URL/hooks/okta" -H 'X-Okta-Verification-Challenge: chal-123'
eq "verification without the secret 401" "$STATUS" 401
http GET "$URL/hooks/okta" -H "Authorization: $OKTA_HOOK_SECRET"
eq "verification without a challenge 400" "$STATUS" 400

# --- authentication and bad bodies -------------------------------------------------------
ok_body=$(delivery "$(event user.lifecycle.activate 00unobody nobody@acme.example)")
http POST "$URL/hooks/okta" --data-binary "$ok_body"
eq "no secret: 401" "$STATUS" 401
contains "401 names the header" "$BODY" '"code":"unauthorized"'
http POST "$URL/hooks/okta" -H "Authorization: ${OKTA_HOOK_SECRET}x" --data-binary "$ok_body"
eq "wrong secret: 401" "$STATUS" 401
not_contains "the secret is never logged" "$(log_of b)" "$OKTA_HOOK_SECRET"
deliver '{"data": {"events": [}'
eq "malformed JSON: 400" "$STATUS" 400
contains "says it is not JSON" "$BODY" "not valid JSON"
deliver '{"eventType": "com.okta.event_hook", "data": {}}'
eq "no data.events: 400" "$STATUS" 400
contains "names data.events" "$BODY" "data.events"
{ printf '{"data":{"events":[],"pad":"'; head -c 2000000 /dev/zero | tr '\0' 'a'; printf '"}}'; } >"$T/big.json"
http POST "$URL/hooks/okta" -H "Authorization: $OKTA_HOOK_SECRET" --data-binary "@$T/big.json"
eq "oversized body: 413" "$STATUS" 413
before=$(sql "SELECT count(*) FROM inbox")
eq "nothing stored from bad requests" "$before" 0

# --- the end-to-end path: Okta change -> hook -> Sentry role ----------------------------
admin_g=$(gid_of okta-sentry-admin-users)
bob=$(uid_of bob.brown@acme.example)
eq "bob starts as member" "$(role_of bob.brown@acme.example)" member
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$bob" >/dev/null
ev=$(event group.user_membership.add "$bob" bob.brown@acme.example "$admin_g" okta-sentry-admin-users)
t0=$(date +%s%N)
deliver "$(delivery "$ev")"
eq "delivery 200" "$STATUS" 200
eq "one event stored" "$(header X-Bridge-Events-Stored)" 1
check "bob becomes manager in Sentry" wait_role bob.brown@acme.example manager 10
echo "    delivery to applied: $((($(date +%s%N) - t0) / 1000000)) ms"
eq "the change is audited as event-driven" \
	"$(sql "SELECT count(*) FROM audit_log WHERE actor = 'okta-event' AND target = 'bob.brown@acme.example'")" 1
eq "an event run is recorded" "$(sql "SELECT count(*) FROM sync_runs WHERE trigger = 'event' AND status = 'applied'")" 1

# --- the same delivery again (Okta's at-least-once) -------------------------------------
deliver "$(delivery "$ev")"
eq "redelivery 200" "$STATUS" 200
eq "redelivery stores nothing" "$(header X-Bridge-Events-Stored)" 0
eq "redelivery counted as duplicate" "$(header X-Bridge-Events-Duplicate)" 1
uuid=$(jq -r .uuid <<<"$ev")
eq "one inbox row per uuid" "$(sql "SELECT count(*) FROM inbox WHERE external_id = '$uuid'")" 1

# --- out of order: the remove (later) arrives before the add (earlier) ---------------------
erin=$(uid_of erin.evans@acme.example)
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$erin" >/dev/null
okta -X DELETE "$SIM_URL/api/v1/groups/$admin_g/users/$erin" >/dev/null
t_add="2026-11-23T09:00:00.000Z"; t_rm="2026-11-23T09:00:05.000Z"
# both published after the last full sync's read of erin? The sync ran just now, so use future-proof times:
t_add=$(date -u -d '+1 sec' +%Y-%m-%dT%H:%M:%S.000Z); t_rm=$(date -u -d '+2 sec' +%Y-%m-%dT%H:%M:%S.000Z)
deliver "$(delivery "$(event group.user_membership.remove "$erin" erin.evans@acme.example "$admin_g" okta-sentry-admin-users "$t_rm")")"
deliver "$(delivery "$(event group.user_membership.add "$erin" erin.evans@acme.example "$admin_g" okta-sentry-admin-users "$t_add")")"
sleep 2
eq "erin stays member (the later remove wins)" "$(role_of erin.evans@acme.example)" member
eq "the late add was treated as stale (user read from Okta)" \
	"$(sql "SELECT count(*) FROM inbox WHERE subject = '$erin' AND last_error LIKE 'stale%'")" 1
eq "no erin row left pending" "$(sql "SELECT count(*) FROM inbox WHERE subject = '$erin' AND status = 'pending'")" 0

# --- lifecycle: a deactivated user is removed ----------------------------------------------
alice=$(uid_of alice.anderson@acme.example)
okta -X POST "$SIM_URL/api/v1/users/$alice/lifecycle/deactivate" >/dev/null
deliver "$(delivery "$(event user.lifecycle.deactivate "$alice" alice.anderson@acme.example)")"
check "alice removed from Sentry" wait_role alice.anderson@acme.example none 10

# --- events the policy does not care about ---------------------------------------------------
yara=$(uid_of yara.young@acme.example)
deliver "$(delivery "$(event group.user_membership.add "$yara" yara.young@acme.example 00gunrelated some-other-group)" \
	"$(event user.session.start "$yara" yara.young@acme.example)")"
eq "irrelevant events accepted" "$STATUS" 200
sleep 1.5
eq "group outside the policy: skipped" \
	"$(sql "SELECT count(*) FROM inbox WHERE subject = '$yara' AND status = 'skipped' AND last_error LIKE '%not used by the policy%'")" 1
eq "unknown event type: skipped" \
	"$(sql "SELECT count(*) FROM inbox WHERE kind = 'user.session.start' AND status = 'skipped'")" 1
eq "yara untouched" "$(role_of yara.young@acme.example)" member

# --- an event with missing fields next to a good one ---------------------------------------
carol=$(uid_of carol.chen@acme.example)
good=$(event user.lifecycle.unsuspend "$carol" carol.chen@acme.example)
deliver "$(delivery "$good" '{"eventType": "user.lifecycle.activate", "published": "2026-11-23T10:00:00Z"}')"
eq "mixed delivery 200" "$STATUS" 200
eq "the good one stored" "$(header X-Bridge-Events-Stored)" 1
eq "the bad one kept as invalid" "$(header X-Bridge-Events-Invalid)" 1
eq "invalid event visible as dead with its reason" \
	"$(sql "SELECT count(*) FROM inbox WHERE external_id LIKE 'invalid:%' AND status = 'dead' AND last_error LIKE '%uuid%'")" 1

# --- the guards' sliding window bounds event-driven removals (max_removals: 2) -------------
# alice's removal used one; two more deactivations: one applied, one held back.
for who in frank.fischer grace.garcia; do
	id=$(uid_of $who@acme.example)
	okta -X POST "$SIM_URL/api/v1/users/$id/lifecycle/deactivate" >/dev/null
	deliver "$(delivery "$(event user.lifecycle.deactivate "$id" $who@acme.example)")"
	sleep 1
done
sleep 1
removed=0
for who in frank.fischer grace.garcia; do [ "$(role_of $who@acme.example)" = none ] && removed=$((removed + 1)); done
eq "only the window's budget is removed" "$removed" 1
held=$(sql "SELECT id FROM inbox WHERE status = 'dead' AND last_error LIKE '%held back%' ORDER BY id LIMIT 1")
check "the held-back event is dead with the reason" test -n "$held"
eq "the refusal is audited" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'sync.refused' AND actor = 'okta-event'")" 1
http GET "$URL/api/v1/inbox?status=dead" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
contains "operators see it" "$BODY" "held back"
http POST "$URL/api/v1/inbox/$held/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "replay accepted" "$STATUS" 202
sleep 1.5
eq "replayed, and held back again while the window is full" \
	"$(sql "SELECT status FROM inbox WHERE id = $held")" dead

# --- Sentry failing: retried with backoff, then applied ------------------------------------
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"PUT /api/0/organizations/acme/members/*","status":503,"count":6}' >/dev/null
dave=$(uid_of dave.diaz@acme.example)
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$dave" >/dev/null
deliver "$(delivery "$(event group.user_membership.add "$dave" dave.diaz@acme.example "$admin_g" okta-sentry-admin-users)")"
check "dave becomes manager once Sentry recovers" wait_role dave.diaz@acme.example manager 20
eq "the event was retried" "$(sql "SELECT attempts > 0 FROM inbox WHERE subject = '$dave' ORDER BY id DESC LIMIT 1")" t
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

# --- an email change: the new address is invited, the old member follows unmanaged: keep ------
irene=$(uid_of irene.ito@acme.example)
okta -X POST -H 'Content-Type: application/json' -d '{"profile":{"email":"irene.ito2@acme.example"}}' \
	"$SIM_URL/api/v1/users/$irene" >/dev/null
deliver "$(delivery "$(event user.account.update_profile "$irene" irene.ito@acme.example)")"
check "the new email is invited" wait_role irene.ito2@acme.example member 10
eq "the old member is kept (sync.unmanaged_members: keep)" "$(role_of irene.ito@acme.example)" member
eq "the user was read from Okta" "$(sql "SELECT email FROM okta_users WHERE id = '$irene'")" irene.ito2@acme.example

# --- a policy group deleted in Okta: its members leave the managed team ------------------------
pay_g=$(gid_of team-payments)
wendy_id=$(member_of wendy.wu@acme.example | jq -r .id)
deliver "$(delivery "$(event group.lifecycle.delete "$pay_g" team-payments | jq -c --arg g "$pay_g" \
	'.target = [{id: $g, type: "UserGroup", alternateId: "unknown", displayName: "team-payments"}]')")"
on_team() { curl -s -H 'Authorization: Bearer sim-sentry-token' "$SIM_URL/api/0/teams/acme/payments/members/" |
	jq --arg id "$wendy_id" '[.[] | select(.id == $id)] | length'; }
ok=0
for _ in $(seq 1 50); do [ "$(on_team)" = 0 ] && { ok=1; break; }; sleep 0.2; done
eq "wendy left the payments team" "$ok" 1
contains "the deletion is logged for the operator" "$(log_of b)" "an Okta group the policy uses was deleted"

# --- metrics -------------------------------------------------------------------------------
http GET "$URL/metrics"
contains "received counter" "$BODY" 'sb_okta_events_total{result="received"}'
contains "queue lag gauge" "$BODY" 'sb_okta_event_queue_lag_seconds'
contains "delivery results" "$BODY" 'sb_okta_hook_deliveries_total{result="unauthorized"}'

# --- killed with events queued: nothing acknowledged is lost --------------------------------
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"PUT /api/0/organizations/acme/members/*","latency_ms":3000,"count":1}' >/dev/null
henry=$(uid_of henry.huang@acme.example)
okta -X PUT "$SIM_URL/api/v1/groups/$admin_g/users/$henry" >/dev/null
deliver "$(delivery "$(event group.user_membership.add "$henry" henry.huang@acme.example "$admin_g" okta-sentry-admin-users)")"
eq "acknowledged" "$STATUS" 200
sleep 0.5
kill -9 "$(cat "$T/b.pid")"
wait "$(cat "$T/b.pid")" 2>/dev/null || true
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null
start_bridge b "$T/h.yaml"
check "after the restart henry is manager" wait_role henry.huang@acme.example manager 15

# --- the database down during a delivery: 503, so Okta retries -------------------------------
dport=$(free_port)
hooks_cfg "$T/down.yaml" "$dport" "${SB_TEST_PG_DSN/dbname=sentry_bridge/dbname=it_hooks_missing}"
start_bridge down "$T/down.yaml"
http POST "http://127.0.0.1:$dport/hooks/okta" -H "Authorization: $OKTA_HOOK_SECRET" --data-binary "$ok_body"
eq "database down: 503" "$STATUS" 503
contains "503 says so" "$BODY" "database"
stop_bridge down

stop_bridge b
eq "SIGTERM exits 0" "$STOP_RC" 0
finish
