#!/usr/bin/env bash
# Access requests in Slack (issue 9): the /sentry-access command, approver
# notices with Approve / Deny buttons, approval by button applied in Sentry,
# approver messages updated, the requester told, deny with a reason through
# the modal, cancel, self-approval refused, two approvals, double clicks and
# replays, Slack down, the expiry warning's Extend button, team_admins.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token
export SLACK_BOT_TOKEN=xoxb-sim-slack-token SLACK_SIGNING_SECRET=it-slack-signing-secret

start_sim sim --demo --latency-ms 50
SL="$SIM_URL/slack"
db=$(fresh_db it_access_slack)
port=$(free_port)
URL="http://127.0.0.1:$port"
write_config "$T/a.yaml" "$port" "$db" "okta:
  base_url: \"$SIM_URL\"
  api_token_env: OKTA_API_TOKEN
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
slack:
  api_url: \"$SL/api\"
  bot_token_env: SLACK_BOT_TOKEN
  signing_secret_env: SLACK_SIGNING_SECRET
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
access_requests:
  enabled: true
  max_role: manager
  requestable_teams: [observability, payments]
  default_duration: 1h
  max_duration: 1d
  require_reason: true
  expiry_check_interval: 5s
  expiry_warning: 1h
  notify: { channel: \"#access-approvals\", dm_approvers: true }
  approvers:
    - { kind: role, groups: [okta-sentry-admin-users] }
    - { kind: team, teams: [observability], team_admins: true }
    - { kind: team, teams: [payments], groups: [okta-sentry-admin-users], approvals: 2 }"

# Slack: the approvers' channel and the people (by the e-mails Okta knows).
curl -s -X POST "$SL/_sim/channels" -d '{"id":"C0APPROVALS","name":"access-approvals"}' >/dev/null
for u in "U0BOBB bob bob.brown" "U0VICTOR victor victor.vega" "U0WENDY wendy wendy.wu" "U0CAROL carol carol.chen" \
	"U0ALICE alice alice.anderson" "U0DAVE dave dave.diaz"; do
	set -- $u
	curl -s -X POST "$SL/_sim/users" -d "{\"id\":\"$1\",\"name\":\"$2\",\"email\":\"$3@acme.example\"}" >/dev/null
done
curl -s -X POST "$SL/_sim/users" -d '{"id":"U0NOMAIL","name":"nomail"}' >/dev/null

rc=0; "$SB_BIN" --config "$T/a.yaml" --log-level warn sync >/dev/null 2>"$T/sync.err" || rc=$?
eq "the first sync converges the demo org" "$rc" 0
start_bridge b "$T/a.yaml"
check "ready" wait_ready "$URL" 20
check "the first scheduled sync is done" wait_first_scheduled_sync
# Bob is in the bridge's Slack directory; the others are found with users.info:
# once the directory's first walk is done (refresh_interval 1h: no other walk
# during the test), everyone but Bob is taken out of the cache.
dir_loaded() {
	for _ in $(seq 150); do
		[ "$(sql "SELECT count(*) FROM slack_directory_state WHERE kind = 'users' AND last_success_at IS NOT NULL AND running_since IS NULL")" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}
check "the directory's first walk is done" dir_loaded
sql "DELETE FROM slack_users WHERE id <> 'U0BOBB'" >/dev/null
sql "INSERT INTO slack_users (id, name, email) VALUES ('U0BOBB', 'bob', 'bob.brown@acme.example')
     ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, deleted = false" >/dev/null

ssign() { # ssign TIMESTAMP BODY
	printf 'v0=%s' "$(printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SLACK_SIGNING_SECRET" | sed 's/^.* //')"
}
slack_post() { # slack_post PATH BODY [TIMESTAMP]
	local ts=${3:-$(date +%s)}
	http POST "$URL$1" -H "Content-Type: application/x-www-form-urlencoded" -H "X-Slack-Request-Timestamp: $ts" \
		-H "X-Slack-Signature: $(ssign "$ts" "$2")" --data-binary "$2"
}
uri() { jq -rn --arg p "$1" '$p|@uri'; }
N=0
command_body() { # command_body USER TEXT: CMD = the form body of the slash command; RESP its response_url id
	N=$((N + 1))
	RESP="r$N"
	CMD="command=%2Fsentry-access&text=$(uri "$2")&user_id=$1&user_name=x&channel_id=C000GENERAL&team_id=T0ACME&trigger_id=cmd.$N.$RANDOM&response_url=$(uri "$SL/response/$RESP")"
}
command() { command_body "$@"; slack_post /slack/commands "$CMD"; }
msgs() { curl -s "$SL/_sim/messages${1:+?channel=$1}"; }
answer() { msgs "resp:$1" | jq -r '[.messages[].text] | join("\n")'; } # answer RESP: what the response_url got
wait_answer() { # wait_answer RESP
	for _ in $(seq 1 100); do
		[ -n "$(answer "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}
notices_for() { # notices_for CHANNEL REQUEST: the messages about a request there
	msgs "$1" | jq -c --arg r "$2" '[.messages[] | select(.blocks != null and (.blocks | tostring | contains("Access request #" + $r + "*")))]'
}
wait_notice() { # wait_notice CHANNEL REQUEST [SECONDS]
	for _ in $(seq 1 $((${3:-10} * 10))); do
		[ "$(notices_for "$1" "$2" | jq length)" -ge 1 ] && return 0
		sleep 0.1
	done
	return 1
}
ephemerals() { msgs "$1" | jq -r --arg u "$2" '[.messages[] | select(.ephemeral and .user == $u) | .text] | join("\n")'; }
wait_ephemeral() { # wait_ephemeral CHANNEL USER TEXT
	for _ in $(seq 1 100); do
		ephemerals "$1" "$2" | grep -qF "$3" && return 0
		sleep 0.1
	done
	return 1
}
make_click() { # make_click USER VERB REQUEST [CHANNEL] [TRIGGER]: CLICK = the form body of a click on a button of ours
	local tr=${5:-t-$RANDOM$RANDOM}
	CLICK=$(printf 'payload=%s' "$(uri "$(jq -cn --arg u "$1" --arg a "sb_$2" --arg v "$3" --arg c "${4:-C0APPROVALS}" --arg t "$tr" \
		'{type:"block_actions",user:{id:$u,username:$u},trigger_id:$t,channel:{id:$c},actions:[{action_id:$a,block_id:("sb_access:" + $v),type:"button",value:$v,action_ts:"1.1"}]}')")")
}
click() { make_click "$@"; slack_post /slack/interactions "$CLICK"; }
status_of() { sql "SELECT status FROM access_requests WHERE id = $1"; }
wait_status() { # wait_status REQUEST STATUS
	for _ in $(seq 1 100); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
dm_text() { msgs "D${1#U}" | jq -r '[.messages[] | select(.ephemeral | not) | .text] | join("\n")'; }
wait_dm() { # wait_dm USER TEXT [SECONDS]
	for _ in $(seq 1 $((${3:-10} * 10))); do
		dm_text "$1" | grep -qF "$2" && return 0
		sleep 0.1
	done
	return 1
}

# --- the command: help and bad input at once, requests in a job -----------------------------
command U0BOBB "help"
eq "help: 200" "$STATUS" 200
contains "help is ephemeral" "$BODY" '"response_type":"ephemeral"'
contains "help shows the syntax" "$BODY" "manager 8h investigating INC-123"
command U0BOBB "frobnicate now"
contains "unknown subcommand explained" "$BODY" "I do not know"
command U0BOBB "manager -1h oops"
contains "negative duration explained" "$BODY" "must be positive"

command_body U0BOBB "manager 1h investigating INC-123"
ts=$(date +%s)
sig=$(ssign "$ts" "$CMD")
ack=$(curl -s -o "$T/ack.json" -w '%{http_code} %{time_total}' -X POST "$URL/slack/commands" -H "X-Slack-Request-Timestamp: $ts" \
	-H "X-Slack-Signature: $sig" -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$CMD")
STATUS=${ack% *}
BODY=$(cat "$T/ack.json")
ack_ms=$(awk -v t="${ack#* }" 'BEGIN { printf "%.1f", t * 1000 }')
eq "request acknowledged: 200" "$STATUS" 200
contains "acknowledged with an ephemeral" "$BODY" "Filing your request for the manager role for 1h"
echo "    slash command acknowledged in $ack_ms ms (curl's time_total, ASan build)"
check "the answer comes through the response_url" wait_answer "$RESP"
contains "filed, pending" "$(answer "$RESP")" "filed: the manager role for 1h"
rid=$(sql "SELECT max(id) FROM access_requests")
eq "filed with source slack" "$(sql "SELECT source || ' ' || requester || ' ' || reason FROM access_requests WHERE id = $rid")" \
	"slack bob.brown@acme.example investigating INC-123"
eq "audited with the Slack actor" "$(sql "SELECT actor FROM audit_log WHERE action = 'access.request' AND target = 'access-request:$rid'")" "slack:U0BOBB (x)"

# --- refusals explained -----------------------------------------------------------------------
command U0BOBB "owner 1h because"
check "owner refused" wait_answer "$RESP"
contains "owner: the rule says why" "$(answer "$RESP")" "Not filed: owner cannot be requested"
command U0BOBB "manager 30d long"
wait_answer "$RESP" || true
contains "too long: max_duration" "$(answer "$RESP")" "max_duration"
command U0BOBB "team nope 1h x"
wait_answer "$RESP" || true
contains "team not requestable" "$(answer "$RESP")" "not requestable"
command U0NOMAIL "manager 1h x"
wait_answer "$RESP" || true
contains "a Slack user without e-mail is told" "$(answer "$RESP")" "cannot tell who you are"

# --- the approvers are notified once, with buttons ----------------------------------------------
check "approver message in the channel" wait_notice C0APPROVALS "$rid"
check "approver DM to victor" wait_notice D0VICTOR "$rid"
check "approver DM to wendy" wait_notice D0WENDY "$rid"
m=$(notices_for C0APPROVALS "$rid")
eq "one message per request in the channel" "$(jq length <<<"$m")" 1
contains "says who, what, how long, why" "$(jq -r '.[0].blocks[0].text.text' <<<"$m")" "*Who:* bob.brown@acme.example
*What:* the manager role
*For:* 1h
*Reason:* investigating INC-123"
eq "Approve and Deny buttons" "$(jq -r '[.[0].blocks[] | select(.type == "actions") | .elements[] | .action_id + "=" + .value] | join(",")' <<<"$m")" \
	"sb_access_approve=$rid,sb_access_deny=$rid"
eq "the requester gets no approver DM" "$(notices_for D0BOBB "$rid" | jq length)" 0
eq "notices recorded with channel and ts" "$(sql "SELECT count(*) FROM access_notices WHERE request_id = $rid AND kind = 'approver' AND status = 'sent' AND slack_ts IS NOT NULL")" 3
eq "ops-contact is not in Slack: dead letter" "$(sql "SELECT status || ' ' || last_error FROM access_notices WHERE request_id = $rid AND target = 'email:ops-contact@acme.example'")" "dead users_not_found"

# --- self-approval by button refused; a stale replay refused ------------------------------------
click U0BOBB access_approve "$rid"
eq "click acknowledged at once" "$STATUS" 200
check "self-approval explained" wait_ephemeral C0APPROVALS U0BOBB "cannot approve their own request"
eq "still pending" "$(status_of "$rid")" pending
old=$(($(date +%s) - 400))
make_click U0VICTOR access_approve "$rid" C0APPROVALS t-stale
slack_post /slack/interactions "$CLICK" "$old"
eq "a replay with a stale timestamp: 401" "$STATUS" 401
sleep 0.3
eq "the stale replay did nothing" "$(status_of "$rid")" pending

# --- approval by button: applied in Sentry, messages updated, requester told ----------------------
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"/slack/api/*","latency_ms":50}' >/dev/null
t0=$(date +%s%N)
click U0VICTOR access_approve "$rid" C0APPROVALS t-victor-1
first_click=$CLICK
check "bob is manager in Sentry" wait_role bob.brown@acme.example manager 15
applied_ms=$((($(date +%s%N) - t0) / 1000000))
# From the bridge's log: the click's request to the end of Sentry's PUT of the role.
server_ms=$(jq -Rrn --argjson t0 "$((t0 / 1000000))" '
	def ms: (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber);
	[inputs | fromjson? | select(type == "object" and has("ts"))] as $l | $l
	| ([.[] | select(.path == "/slack/interactions" and .status == 200 and (.ts | ms) >= $t0)][0].ts | ms) as $c
	| ([.[] | select(.endpoint == "PUT /api/0/organizations/{org}/members/{id}/" and (.ts | ms) >= $c)][0].ts | ms) - $c
	' "$T/b.log" 2>/dev/null || echo "?")
echo "    Slack approval click to role applied in Sentry: $server_ms ms in the bridge (its log), $applied_ms ms seen by the test's polling (50 ms upstream latency)"
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null
eq "approved by victor from slack" "$(sql "SELECT r.status || ' ' || a.approver || ' ' || a.source FROM access_requests r JOIN access_approvals a ON a.request_id = r.id WHERE r.id = $rid")" \
	"approved victor.vega@acme.example slack"
check "the approver is told" wait_ephemeral C0APPROVALS U0VICTOR "You approved request #$rid"
check "the requester is told by DM" wait_dm U0BOBB "Your access request #$rid for the manager role was approved by victor.vega@acme.example. It lasts until"
upd() { notices_for "$1" "$rid" | jq -r '.[0] | (.updates | tostring) + " " + ([.blocks[] | select(.type == "actions")] | length | tostring)'; }
wait_upd() { for _ in $(seq 1 100); do [ "$(upd "$1")" = "1 0" ] && return 0; sleep 0.1; done; return 1; }
check "the channel message is updated, no buttons" wait_upd C0APPROVALS
check "victor's DM is updated" wait_upd D0VICTOR
check "wendy's DM is updated" wait_upd D0WENDY
contains "decided by victor" "$(notices_for C0APPROVALS "$rid" | jq -r '.[0].blocks | map(.text.text // "") | join(" ")')" "*Approved* by victor.vega@acme.example"
eq "no new approver message: still one" "$(notices_for C0APPROVALS "$rid" | jq length)" 1

# --- double click and replayed payload act once ------------------------------------------------
slack_post /slack/interactions "$first_click"
eq "the same payload again (within the window): 200" "$STATUS" 200
click U0VICTOR access_approve "$rid" C0APPROVALS t-victor-2
check "a second click: already approved by you" wait_ephemeral C0APPROVALS U0VICTOR "already approved by you"
eq "one approval recorded" "$(sql "SELECT count(*) FROM access_approvals WHERE request_id = $rid")" 1
eq "the replay was recognised" "$(sql "SELECT count(*) FROM inbox WHERE source = 'slack' AND external_id LIKE 't-victor-1:%'")" 1
eq "one grant" "$(sql "SELECT count(*) FROM access_grants WHERE request_id = $rid")" 1
eq "the requester was told once" "$(dm_text U0BOBB | grep -c "request #$rid for the manager role was approved")" 1

# --- the expiry warning with its Extend button (expiry_warning 1h > the grant) --------------------
check "warning DM with Extend" wait_dm U0BOBB "Your access (request #$rid, the manager role) ends at" 15
ext=$(msgs D0BOBB | jq -r --arg r "$rid" '[.messages[] | .blocks // [] | .[] | select(.type == "actions") | .elements[] | select(.action_id == "sb_access_extend" and .value == $r)] | length')
eq "the Extend button names the request" "$ext" 1
before=$(sql "SELECT max(id) FROM access_requests")
click U0BOBB access_extend "$rid" D0BOBB
check "extension filed, told" wait_ephemeral D0BOBB U0BOBB "Extension filed as request #"
xid=$(sql "SELECT max(id) FROM access_requests")
check "a new request" test "$xid" -gt "$before"
eq "the extension: same access and duration, pending" "$(sql "SELECT kind || ' ' || role || ' ' || duration_ms || ' ' || status || ' ' || source FROM access_requests WHERE id = $xid")" \
	"role manager 3600000 pending slack"
contains "its reason names the original" "$(sql "SELECT reason FROM access_requests WHERE id = $xid")" "extension of #$rid"
click U0VICTOR access_extend "$rid" D0BOBB
check "only the holder may extend" wait_ephemeral D0BOBB U0VICTOR "Only the holder"

# --- cancel by the command: approver messages updated ----------------------------------------------
check "the extension's approver message" wait_notice C0APPROVALS "$xid"
command U0BOBB "cancel $xid"
check "cancel answered" wait_answer "$RESP"
contains "cancelled" "$(answer "$RESP")" "Request #$xid is cancelled."
eq "status cancelled" "$(status_of "$xid")" cancelled
cx() { notices_for C0APPROVALS "$xid" | jq -r '.[0].blocks | map(.text.text // "") | join(" ")'; }
for _ in $(seq 1 100); do cx | grep -q Cancelled && break; sleep 0.1; done
contains "approver message says cancelled" "$(cx)" "*Cancelled* by bob.brown@acme.example"
command U0BOBB "cancel $xid"
wait_answer "$RESP" || true
contains "cancelling twice explained" "$(answer "$RESP")" "only a pending request can be cancelled"
command U0BOBB "list"
check "list answered" wait_answer "$RESP"
contains "list shows the grant" "$(answer "$RESP")" "#$rid the manager role for 1h: *approved*, grant active until"
contains "list shows the cancelled one" "$(answer "$RESP")" "#$xid the manager role for 1h: *cancelled*"

# --- deny with a reason through the modal ------------------------------------------------------------
command U0CAROL "team payments 2h debugging checkout"
check "carol's request filed" wait_answer "$RESP"
did=$(sql "SELECT max(id) FROM access_requests WHERE requester = 'carol.chen@acme.example'")
check "approver message for carol's request" wait_notice C0APPROVALS "$did"
# A trigger older than Slack's 3 s cannot open the modal.
stale=$(curl -s -X POST "$SL/_sim/triggers" -d '{"user":"U0WENDY"}' | jq -r .trigger_id)
sleep 3.2
click U0WENDY access_deny "$did" C0APPROVALS "$stale"
check "an expired trigger: asked to click again" wait_ephemeral C0APPROVALS U0WENDY "click Deny again"
tr=$(curl -s -X POST "$SL/_sim/triggers" -d '{"user":"U0WENDY"}' | jq -r .trigger_id)
click U0WENDY access_deny "$did" C0APPROVALS "$tr"
view=""
for _ in $(seq 1 50); do
	view=$(curl -s "$SL/_sim/views" | jq -c '[.views[] | select(.view.callback_id == "sb_access_deny")] | last // empty')
	[ -n "$view" ] && break
	sleep 0.1
done
check "the Deny click opens a modal" test -n "$view"
eq "the modal names the request" "$(jq -r '.view.private_metadata | fromjson | .id' <<<"$view")" "$did"
eq "the modal asks for a reason" "$(jq -r '[.view.blocks[] | select(.type == "input") | .element.action_id] | join(",")' <<<"$view")" reason
vid=$(jq -r .id <<<"$view")
http POST "$SL/_sim/view_submission" -d "{\"view_id\":\"$vid\",\"user_id\":\"U0WENDY\",\"values\":{}}"
eq "the reason is required (Slack refuses an empty required input)" "$STATUS" 400
sub=$(curl -s -X POST "$SL/_sim/view_submission" -d "{\"view_id\":\"$vid\",\"user_id\":\"U0WENDY\",\"values\":{\"reason\":\"use the staging dashboards\"}}" | jq -c .payload)
slack_post /slack/interactions "payload=$(uri "$sub")"
eq "submission acknowledged: 200" "$STATUS" 200
eq "empty body closes the modal" "$BODY" ""
check "denied" wait_status "$did" denied
eq "denied by wendy with the reason" "$(sql "SELECT decided_by || ': ' || decision_reason FROM access_requests WHERE id = $did")" \
	"wendy.wu@acme.example: use the staging dashboards"
check "carol told by DM with the reason" wait_dm U0CAROL "was denied by wendy.wu@acme.example: use the staging dashboards"
dx() { notices_for C0APPROVALS "$did" | jq -r '.[0].blocks | map(.text.text // "") | join(" ")'; }
for _ in $(seq 1 100); do dx | grep -q Denied && break; sleep 0.1; done
contains "approver message says denied" "$(dx)" "*Denied* by wendy.wu@acme.example: use the staging dashboards"
tr=$(curl -s -X POST "$SL/_sim/triggers" -d '{"user":"U0VICTOR"}' | jq -r .trigger_id)
click U0VICTOR access_deny "$did" C0APPROVALS "$tr"
check "deny on a decided request explained" wait_ephemeral C0APPROVALS U0VICTOR "is already denied"

# --- two approvals (payments: approvals 2) ------------------------------------------------------------
command U0CAROL "team payments 2h second try"
check "filed" wait_answer "$RESP"
tid=$(sql "SELECT max(id) FROM access_requests WHERE requester = 'carol.chen@acme.example'")
check "its approver message" wait_notice C0APPROVALS "$tid"
click U0VICTOR access_approve "$tid"
check "first approval: one more needed" wait_ephemeral C0APPROVALS U0VICTOR "You approved request #$tid; it needs one more approval"
eq "still pending after one" "$(status_of "$tid")" pending
t1() { notices_for C0APPROVALS "$tid" | jq -r '.[0].blocks | map(.text.text // ((.elements // []) | map(.text | strings) | join(" "))) | join(" ")'; }
for _ in $(seq 1 100); do t1 | grep -q "approved by victor" && break; sleep 0.1; done
contains "the message shows the first approval" "$(t1)" "needs 2 distinct approvals · approved by victor.vega@acme.example"
click U0VICTOR access_approve "$tid"
check "the same approver twice is refused" wait_ephemeral C0APPROVALS U0VICTOR "has already approved this request"
click U0WENDY access_approve "$tid"
check "second approval completes it" wait_status "$tid" approved
on_team() { curl -s -H 'Authorization: Bearer sim-sentry-token' "$SIM_URL/api/0/teams/acme/$1/members/" |
	jq --arg e "$2" '[.[] | select(.email == $e)] | length'; }
ok=0; for _ in $(seq 1 100); do [ "$(on_team payments carol.chen@acme.example)" = 1 ] && { ok=1; break; }; sleep 0.1; done
eq "carol on payments in Sentry" "$ok" 1

# --- team_admins: the team's admins in Sentry approve ----------------------------------------------------
aid=$(member_of alice.anderson@acme.example | jq -r .id)
http PUT "$SIM_URL/api/0/organizations/acme/members/$aid/teams/observability/" -H 'Authorization: Bearer sim-sentry-token' \
	-H 'Content-Type: application/json' --data '{"teamRole":"admin"}'
eq "alice made team admin of observability" "$STATUS" 200
command U0DAVE "team observability 4h on call"
check "dave's request filed" wait_answer "$RESP"
oid=$(sql "SELECT max(id) FROM access_requests WHERE requester = 'dave.diaz@acme.example'")
check "the team admin gets the DM" wait_notice D0ALICE "$oid"
eq "a group approver is not DM'd for a team_admins-only rule" "$(notices_for D0VICTOR "$oid" | jq length)" 0
click U0VICTOR access_approve "$oid"
check "not a team admin: refused" wait_ephemeral C0APPROVALS U0VICTOR "not an approver of this request"
click U0ALICE access_approve "$oid" D0ALICE
check "approved by the team admin" wait_status "$oid" approved
ok=0; for _ in $(seq 1 100); do [ "$(on_team observability dave.diaz@acme.example)" = 1 ] && { ok=1; break; }; sleep 0.1; done
eq "dave on observability in Sentry" "$ok" 1

# --- decisions from the API update the Slack messages too -------------------------------------------
http POST "$URL/api/v1/access-requests/$rid/revoke" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" \
	-H 'Content-Type: application/json' --data '{"by":"victor.vega@acme.example","reason":"incident closed"}'
eq "revoked through the API" "$STATUS" 200
rx() { notices_for C0APPROVALS "$rid" | jq -r '.[0].blocks | map(.text.text // "") | join(" ")'; }
for _ in $(seq 1 100); do rx | grep -q revoked && break; sleep 0.1; done
contains "approver message says revoked" "$(rx)" "*Grant revoked* by victor.vega@acme.example: incident closed"
check "bob told of the revocation" wait_dm U0BOBB "was revoked by victor.vega@acme.example: incident closed"
check "bob back to member" wait_role bob.brown@acme.example member 10

# --- a grant ending at ends_at: the approver messages and the holder are told ------------------------
http POST "$URL/api/v1/access-requests" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data '{"on_behalf_of":"dave.diaz@acme.example","kind":"role","role":"manager","duration":"6s","reason":"a short look"}'
eid=$(jq -r .id <<<"$BODY")
check "its approver message" wait_notice C0APPROVALS "$eid"
http POST "$URL/api/v1/access-requests/$eid/approve" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" \
	-H 'Content-Type: application/json' --data '{"by":"wendy.wu@acme.example"}'
eq "approved through the API" "$STATUS" 200
check "dave told of the end" wait_dm U0DAVE "Your access (request #$eid, the manager role) ended at" 30
ex() { notices_for C0APPROVALS "$eid" | jq -r '.[0].blocks | map(.text.text // "") | join(" ")'; }
for _ in $(seq 1 100); do ex | grep -q "Grant ended" && break; sleep 0.1; done
contains "approver message says the grant ended" "$(ex)" "*Grant ended* at"
eq "dave was told of the approval once" "$(dm_text U0DAVE | grep -c "request #$eid for the manager role was approved by wendy.wu")" 1
eq "and of the end once" "$(dm_text U0DAVE | grep -c "request #$eid, the manager role) ended at")" 1

# --- our modal's view_closed is the bridge's; another app's modal goes to Sentry ----------------------
curl -s -X DELETE "$SIM_URL/extensions/slack/_received" >/dev/null
closed=$(jq -cn '{type:"view_closed",user:{id:"U0WENDY"},view:{id:"V1",callback_id:"sb_access_deny",private_metadata:"{}"},is_cleared:false}')
slack_post /slack/interactions "payload=$(uri "$closed")"
eq "our view_closed: 200" "$STATUS" 200
eq "not forwarded" "$(curl -s "$SIM_URL/extensions/slack/_received" | jq '.received | length')" 0
theirs=$(jq -cn '{type:"view_submission",user:{id:"U0WENDY"},trigger_id:"t-theirs",view:{id:"V2",callback_id:"sentry_link_modal",state:{values:{}}}}')
slack_post /slack/interactions "payload=$(uri "$theirs")"
eq "Sentry's modal forwarded" "$(curl -s "$SIM_URL/extensions/slack/_received" | jq -r '.received[0].path')" "/extensions/slack/action/"
for _ in $(seq 1 50); do [ "$(sql "SELECT status FROM inbox WHERE kind = 'view_closed.sb_access_deny'")" = skipped ] && break; sleep 0.1; done
eq "view_closed recorded and skipped" "$(sql "SELECT status FROM inbox WHERE kind = 'view_closed.sb_access_deny'")" skipped

# --- a crash between a post and its record: found in Slack by its key, not posted again ------------
nid=$(sql "SELECT id FROM access_notices WHERE request_id = $oid AND kind = 'approver' AND target = '#access-approvals'")
before=$(msgs C0APPROVALS | jq '.messages | length')
sql "UPDATE access_notices SET status = 'sending', slack_ts = NULL, slack_channel = 'C0APPROVALS', lease_until = now() - interval '1 second' WHERE id = $nid" >/dev/null
sql "INSERT INTO jobs (kind, payload, max_attempts) VALUES ('access.notify', '{}', 5)" >/dev/null
sql "SELECT pg_notify('sb_jobs', 'access.notify')" >/dev/null
for _ in $(seq 1 100); do [ "$(sql "SELECT status FROM access_notices WHERE id = $nid")" = sent ] && break; sleep 0.1; done
eq "the interrupted notice is recorded with its ts" "$(sql "SELECT status || ' ' || (slack_ts IS NOT NULL)::text FROM access_notices WHERE id = $nid")" "sent true"
eq "and not posted again" "$(msgs C0APPROVALS | jq '.messages | length')" "$before"
dnid=$(sql "SELECT id FROM access_notices WHERE key = 'requester:$rid:approve'")
eq "a DM notice records its DM channel" "$(sql "SELECT slack_channel FROM access_notices WHERE id = $dnid")" D0BOBB
dbefore=$(msgs D0BOBB | jq '.messages | length')
sql "UPDATE access_notices SET status = 'sending', slack_ts = NULL, lease_until = now() - interval '1 second' WHERE id = $dnid" >/dev/null
sql "INSERT INTO jobs (kind, payload, max_attempts) VALUES ('access.notify', '{}', 5)" >/dev/null
sql "SELECT pg_notify('sb_jobs', 'access.notify')" >/dev/null
for _ in $(seq 1 100); do [ "$(sql "SELECT status FROM access_notices WHERE id = $dnid")" = sent ] && break; sleep 0.1; done
eq "an interrupted DM is found in the DM's history" "$(sql "SELECT status || ' ' || (slack_ts IS NOT NULL)::text FROM access_notices WHERE id = $dnid")" "sent true"
eq "and not sent again" "$(msgs D0BOBB | jq '.messages | length')" "$dbefore"
http GET "$URL/metrics"
contains "recoveries counted" "$BODY" 'sb_access_notices_total{outcome="recovered"} 2'

# --- the sweep: a due notice that no job looks at is posted within its interval (15 s) ---------------
sql "INSERT INTO access_notices (key, request_id, kind, target, message) VALUES ('test:sweep', $rid, 'requester', 'email:bob.brown@acme.example', '{\"text\": \"sweep test\"}')" >/dev/null
check "the sweep posts a notice without a job" wait_dm U0BOBB "sweep test" 20

# --- Slack down: the API works, notices go out later, none lost ------------------------------------------
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /slack/api/chat.postMessage","status":503,"count":12}' >/dev/null
http POST "$URL/api/v1/access-requests" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data '{"on_behalf_of":"bob.brown@acme.example","kind":"role","role":"manager","duration":"2h","reason":"Slack is down"}'
eq "the API files while Slack is down" "$STATUS" 201
sid=$(jq -r .id <<<"$BODY")
check "posted once Slack is back" wait_notice C0APPROVALS "$sid" 30
eq "retried, not lost" "$(sql "SELECT bool_or(attempts > 1) FROM access_notices WHERE request_id = $sid AND kind = 'approver'")" t
eq "posted once" "$(notices_for C0APPROVALS "$sid" | jq length)" 1
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null
http GET "$URL/metrics"
contains "notice metrics" "$BODY" 'sb_access_notices_total{outcome="retry"}'

finish
