#!/usr/bin/env bash
# Access requests (issue 9): request, refusals, approval by an approver, the
# role applied in Sentry, a full sync during the grant, revoke, expiry back
# to the group role, deny, cancel, deactivation ending grants, the CLI.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token

start_sim sim --demo
db=$(fresh_db it_access)
port=$(free_port)
URL="http://127.0.0.1:$port"
write_config "$T/a.yaml" "$port" "$db" "okta:
  base_url: \"$SIM_URL\"
  api_token_env: OKTA_API_TOKEN
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
sync:
  interval: 1h
  guards: { max_removals: 5, max_demotions: 5 }
jobs:
  backoff_base: 200ms
  backoff_max: 1s
roles:
  access_groups: [okta-sentry-member-users]
  default_role: member
  mappings:
    - { group: okta-sentry-admin-users, role: manager }
  owners: [ops-contact@acme.example]
teams:
  - { group: team-observability, team: observability, role: contributor }
access_requests:
  enabled: true
  max_role: manager
  requestable_teams: [observability, payments]
  default_duration: 1h
  max_duration: 1d
  require_reason: true
  expiry_check_interval: 5s
  approvers:
    - { kind: role, groups: [okta-sentry-admin-users] }
    - { kind: team, groups: [okta-sentry-admin-users] }"
api() { # api METHOD PATH [JSON]
	if [ -n "${3:-}" ]; then
		http "$1" "$URL$2" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H 'Content-Type: application/json' --data "$3"
	else
		http "$1" "$URL$2" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
	fi
}

rc=0; "$SB_BIN" --config "$T/a.yaml" --log-level warn sync >/dev/null 2>"$T/sync.err" || rc=$?
eq "the first sync converges the demo org" "$rc" 0
start_bridge b "$T/a.yaml"
check "ready" wait_ready "$URL" 20
check "the first scheduled sync is done" wait_first_scheduled_sync

# --- refusals ------------------------------------------------------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"bob.brown@acme.example","kind":"role","role":"owner","reason":"x"}'
eq "owner: 422" "$STATUS" 422
eq "names the field" "$(jq -r .field <<<"$BODY")" role
api POST /api/v1/access-requests '{"on_behalf_of":"bob.brown@acme.example","kind":"role","role":"manager","duration":"30d","reason":"x"}'
eq "over max duration: 422" "$STATUS" 422
contains "says max_duration" "$BODY" "max_duration"
api POST /api/v1/access-requests '{"on_behalf_of":"bob.brown@acme.example","kind":"role","role":"manager","duration":"-1h","reason":"x"}'
eq "negative duration: 422" "$STATUS" 422
api POST /api/v1/access-requests '{"on_behalf_of":"bob.brown@acme.example","kind":"role","role":"manager"}'
eq "no reason: 422" "$(jq -r .field <<<"$BODY")" reason
api POST /api/v1/access-requests '{"on_behalf_of":"bob.brown@acme.example","kind":"team","team":"nope","reason":"x"}'
eq "team not requestable: 422" "$STATUS" 422
api POST /api/v1/access-requests '{"on_behalf_of":"yara.young@acme.example","kind":"role","role":"manager","reason":"x"}'
eq "requester outside the access groups: 422" "$(jq -r .field <<<"$BODY")" on_behalf_of
http POST "$URL/api/v1/access-requests" --data '{}'
eq "without the admin token: 401" "$STATUS" 401

# --- request, approval, applied -------------------------------------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"Bob.Brown@acme.example","kind":"role","role":"manager","duration":"1h","reason":"INC-123"}'
eq "request filed: 201" "$STATUS" 201
rid=$(jq -r .id <<<"$BODY")
eq "pending" "$(jq -r .status <<<"$BODY")" pending
api POST "/api/v1/access-requests/$rid/approve" '{"by":"bob.brown@acme.example"}'
eq "self-approval: 403" "$STATUS" 403
contains "says why" "$BODY" "own request"
api POST "/api/v1/access-requests/$rid/approve" '{"by":"alice.anderson@acme.example"}'
eq "non-approver: 403" "$STATUS" 403
t0=$(date +%s%N)
api POST "/api/v1/access-requests/$rid/approve" '{"by":"victor.vega@acme.example"}'
eq "approved: 200" "$STATUS" 200
eq "grant active" "$(jq -r .grant.status <<<"$BODY")" active
check "bob is manager in Sentry" wait_role bob.brown@acme.example manager 10
echo "    approval to applied: $((($(date +%s%N) - t0) / 1000000)) ms"
api POST "/api/v1/access-requests/$rid/approve" '{"by":"wendy.wu@acme.example"}'
eq "approving a decided request: 409" "$STATUS" 409

# --- a full sync during the grant keeps it, with the grant as the reason ----------------------
out=$("$SB_BIN" --config "$T/a.yaml" --log-level warn sync --dry-run --output json 2>/dev/null)
eq "the sync plans nothing for bob" "$(jq '[.changes[] | select(.email == "bob.brown@acme.example")] | length' <<<"$out")" 0
"$SB_BIN" --config "$T/a.yaml" --log-level warn sync >/dev/null 2>&1 || true
eq "bob still manager after a sync" "$(role_of bob.brown@acme.example)" manager

# --- revoke: back to the group role ------------------------------------------------------------
api POST "/api/v1/access-requests/$rid/revoke" '{"by":"victor.vega@acme.example","reason":"done"}'
eq "revoked: 200" "$STATUS" 200
check "bob back to member" wait_role bob.brown@acme.example member 10
out=$("$SB_BIN" --config "$T/a.yaml" --log-level warn sync --dry-run --output json 2>/dev/null)
eq "a sync after the grant does not bring it back" "$(jq '[.changes[] | select(.email == "bob.brown@acme.example")] | length' <<<"$out")" 0

# --- expiry ------------------------------------------------------------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"carol.chen@acme.example","kind":"team","team":"payments","duration":"3s","reason":"review"}'
eid=$(jq -r .id <<<"$BODY")
api POST "/api/v1/access-requests/$eid/approve" '{"by":"wendy.wu@acme.example"}'
on_payments() { curl -s -H 'Authorization: Bearer sim-sentry-token' "$SIM_URL/api/0/teams/acme/payments/members/" |
	jq '[.[] | select(.email == "carol.chen@acme.example")] | length'; }
ok=0; for _ in $(seq 1 50); do [ "$(on_payments)" = 1 ] && { ok=1; break; }; sleep 0.1; done
eq "carol on payments during the grant" "$ok" 1
ok=0; for _ in $(seq 1 200); do [ "$(on_payments)" = 0 ] && { ok=1; break; }; sleep 0.1; done
eq "carol off payments after the end" "$ok" 1
eq "grant expired" "$(sql "SELECT status FROM access_grants WHERE request_id = $eid")" expired
lag=$(sql "SELECT round(extract(epoch FROM ended_at - ends_at)::numeric, 1) FROM access_grants WHERE request_id = $eid")
echo "    expiry lag: ${lag}s (expiry_check_interval 5s)"
check "ended within 60 s of ends_at" test "${lag%.*}" -lt 60
eq "expiry audited" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'access.expire' AND target = 'access-request:$eid'")" 1

# --- deny and cancel -----------------------------------------------------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"dave.diaz@acme.example","kind":"role","role":"manager","reason":"x"}'
did=$(jq -r .id <<<"$BODY")
api POST "/api/v1/access-requests/$did/deny" '{"by":"victor.vega@acme.example"}'
eq "deny without a reason: 422" "$STATUS" 422
api POST "/api/v1/access-requests/$did/deny" '{"by":"victor.vega@acme.example","reason":"not needed"}'
eq "denied" "$(jq -r .status <<<"$BODY")" denied
api POST /api/v1/access-requests '{"on_behalf_of":"dave.diaz@acme.example","kind":"role","role":"manager","reason":"y"}'
cid=$(jq -r .id <<<"$BODY")
api POST "/api/v1/access-requests/$cid/cancel" '{"by":"victor.vega@acme.example"}'
eq "only the requester cancels: 403" "$STATUS" 403
api POST "/api/v1/access-requests/$cid/cancel" '{"by":"dave.diaz@acme.example"}'
eq "cancelled" "$(jq -r .status <<<"$BODY")" cancelled
api POST "/api/v1/access-requests/$cid/cancel" '{"by":"dave.diaz@acme.example"}'
eq "cancel twice: 409" "$STATUS" 409
api GET "/api/v1/access-requests?status=denied"
eq "list by status" "$(jq '.items | length' <<<"$BODY")" 1
api GET "/api/v1/access-requests/$did"
eq "show" "$(jq -r .decided_by <<<"$BODY")" victor.vega@acme.example
api GET "/api/v1/access-requests/99999"
eq "unknown: 404" "$STATUS" 404

# --- deactivation in Okta ends the grants at once ---------------------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"erin.evans@acme.example","kind":"role","role":"manager","duration":"8h","reason":"z"}'
xid=$(jq -r .id <<<"$BODY")
api POST "/api/v1/access-requests/$xid/approve" '{"by":"victor.vega@acme.example"}'
check "erin is manager" wait_role erin.evans@acme.example manager 10
erin=$(okta "$SIM_URL/api/v1/users/erin.evans@acme.example" | jq -r .id)
okta -X POST "$SIM_URL/api/v1/users/$erin/lifecycle/suspend" >/dev/null
"$SB_BIN" --config "$T/a.yaml" --log-level warn sync >/dev/null 2>&1 || true # the mirror learns it
ok=0; for _ in $(seq 1 100); do [ "$(sql "SELECT status FROM access_grants WHERE request_id = $xid")" = revoked ] && { ok=1; break; }; sleep 0.1; done
eq "the grant of a suspended person is revoked" "$ok" 1

# --- the bridge down at a grant's end: ended on the first run after --------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"jack.jones@acme.example","kind":"role","role":"manager","duration":"3s","reason":"restart"}'
rid2=$(jq -r .id <<<"$BODY")
api POST "/api/v1/access-requests/$rid2/approve" '{"by":"victor.vega@acme.example"}'
check "jack is manager" wait_role jack.jones@acme.example manager 10
stop_bridge b
sleep 4
start_bridge b "$T/a.yaml"
check "after a restart past ends_at jack is back to member" wait_role jack.jones@acme.example member 20
eq "the grant expired" "$(sql "SELECT status FROM access_grants WHERE request_id = $rid2")" expired

# --- a holder leaving every group the policy uses loses the grant ----------------------------------
api POST /api/v1/access-requests '{"on_behalf_of":"irene.ito@acme.example","kind":"role","role":"manager","duration":"8h","reason":"leave"}'
lid=$(jq -r .id <<<"$BODY")
api POST "/api/v1/access-requests/$lid/approve" '{"by":"victor.vega@acme.example"}'
check "irene is manager" wait_role irene.ito@acme.example manager 10
member_g=$(okta "$SIM_URL/api/v1/groups?q=okta-sentry-member-users" | jq -r '.[0].id')
okta -X DELETE "$SIM_URL/api/v1/groups/$member_g/users/$(uid_of irene.ito@acme.example)" >/dev/null
"$SB_BIN" --config "$T/a.yaml" --log-level warn sync >/dev/null 2>&1 || true # the mirror learns it
ok=0; for _ in $(seq 1 100); do [ "$(sql "SELECT status FROM access_grants WHERE request_id = $lid")" = revoked ] && { ok=1; break; }; sleep 0.1; done
eq "the grant of a person out of every policy group is revoked" "$ok" 1
contains "and says why" "$(sql "SELECT end_reason FROM access_grants WHERE request_id = $lid")" "no longer in a group"

# --- the CLI ---------------------------------------------------------------------------------------
out=$("$SB_BIN" --config "$T/a.yaml" --log-level warn access grant --person henry.huang@acme.example --role manager --duration 1h --reason "cli test" 2>&1) && rc=0 || rc=$?
eq "access grant exits 0" "$rc" 0
eq "henry is manager" "$(role_of henry.huang@acme.example)" manager
gid=$(sql "SELECT request_id FROM access_grants WHERE person = 'henry.huang@acme.example' AND status = 'active'")
out=$("$SB_BIN" --config "$T/a.yaml" --log-level warn access list --status approved 2>&1)
contains "access list shows it" "$out" "henry.huang@acme.example"
rc=0; "$SB_BIN" --config "$T/a.yaml" --log-level warn access grant --person henry.huang@acme.example --role owner --reason x >/dev/null 2>"$T/cli.err" || rc=$?
eq "owner via the CLI: exit 3" "$rc" 3
contains "says why" "$(cat "$T/cli.err")" "owner cannot be requested"
rc=0; "$SB_BIN" --config "$T/a.yaml" --log-level warn access revoke "$gid" --reason "cli done" >/dev/null 2>&1 || rc=$?
eq "access revoke exits 0" "$rc" 0
eq "henry back to member" "$(role_of henry.huang@acme.example)" member
rc=0; "$SB_BIN" --config "$T/a.yaml" access frobnicate >/dev/null 2>&1 || rc=$?
eq "unknown subcommand: exit 2" "$rc" 2
eq "every step audited" "$(sql "SELECT count(*) > 10 FROM audit_log WHERE action LIKE 'access.%'")" t

stop_bridge b
eq "SIGTERM exits 0" "$STOP_RC" 0
finish
