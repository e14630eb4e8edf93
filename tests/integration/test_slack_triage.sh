#!/usr/bin/env bash
# Triage from Slack (issue 8): Resolve, Archive (until escalating, for a
# duration) and Assign to me act on the issue through Sentry's issue API
# (the simulator's PUT /api/0/organizations/acme/issues/{id}/), the head
# message shows who did what, errors reach the person as ephemeral
# messages, replays and double clicks act once, everything is audited.
source "$(dirname "$0")/lib.sh"

export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789" SENTRY_TOKEN=sim-sentry-token \
	SENTRY_CLIENT_SECRET=it-sentry-client-secret-0123 SLACK_BOT_TOKEN=xoxb-sim-slack-token \
	SLACK_SIGNING_SECRET=it-slack-signing-secret
start_sim sim --demo
SL="$SIM_URL/slack"
port=$(free_port)
db=$(fresh_db it_slack_triage)
URL="http://127.0.0.1:$port"
ADMIN=(-H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN")
write_config "$T/bridge.yaml" "$port" "$db" "jobs:
  backoff_base: 200ms
  backoff_max: 400ms
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
  client_secret_env: SENTRY_CLIENT_SECRET
  http:
    timeout: 1s
    connect_timeout: 1s
slack:
  api_url: \"$SL/api\"
  bot_token_env: SLACK_BOT_TOKEN
  signing_secret_env: SLACK_SIGNING_SECRET
  forward_to_sentry:
    enabled: false
routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
    - { name: oncall, email: \"oncall@acme.example\" }
  route:
    receiver: default
    group_wait: 0s
    group_interval: 1s
    routes:
      - { matchers: [\"environment=dm\"], receiver: oncall }"
start_bridge bridge "$T/bridge.yaml"
check "ready" wait_ready "$URL" 20

# People: alice and bob are Sentry members (demo org), stranger is not.
# Alice is known to Slack only (users.info); bob only to the bridge's
# directory table (another engineer's refresh fills it) and the member mirror.
wait_for() { # wait_for SECONDS COMMAND...
	local s=$1
	shift
	for _ in $(seq 1 $((s * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
# The directory's first walk is waited for (refresh_interval 1h: no other
# walk during the test), so it neither lists alice nor takes bob out.
dir_loaded() {
	[ "$(sql "SELECT count(*) FROM slack_directory_state WHERE kind = 'users' AND last_success_at IS NOT NULL AND running_since IS NULL")" = 1 ]
}
check "the directory's first walk is done" wait_for 30 dir_loaded
curl -s -X POST "$SL/_sim/users" -d '{"id":"U0ALICE","name":"alice","email":"alice.anderson@acme.example"}' >/dev/null
sql "DELETE FROM slack_users WHERE id = 'U0ALICE'" >/dev/null
sql "INSERT INTO slack_users (id, name, email) VALUES ('U0BOBB', 'bob', 'bob.brown@acme.example') ON CONFLICT (id) DO UPDATE SET email = excluded.email, deleted = false" >/dev/null
sql "INSERT INTO sentry_members (id, email, role) VALUES ('3', 'bob.brown@acme.example', 'member')" >/dev/null

sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SENTRY_CLIENT_SECRET" | sed 's/^.* //'; }
hook() { # hook REQUEST-ID BODY
	http POST "$URL/hooks/sentry" -H 'Content-Type: application/json' -H "Sentry-Hook-Resource: event_alert" \
		-H "Request-ID: $1" -H "Sentry-Hook-Signature: $(sign "$2")" --data-binary "$2"
}
alert() { # alert ISSUE
	printf '{"action":"triggered","installation":{"uuid":"inst-1"},"data":{"event":{"event_id":"ev%s","project":1,"issue_id":"%s","level":"error","title":"KeyError: %s","culprit":"app.views","environment":"production","web_url":"https://sentry.example/organizations/acme/issues/%s/","tags":[["level","error"]]},"triggered_rule":"Errors"},"actor":{"type":"application","id":"sentry","name":"Sentry"}}' \
		"$1" "$1" "$1" "$1"
}
ssign() { # ssign TIMESTAMP BODY
	printf 'v0=%s' "$(printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SLACK_SIGNING_SECRET" | sed 's/^.* //')"
}
slack_post() { # slack_post PATH CONTENT-TYPE BODY [TIMESTAMP]
	local ts=${4:-$(date +%s)}
	http POST "$URL$1" -H "Content-Type: $2" -H "X-Slack-Request-Timestamp: $ts" \
		-H "X-Slack-Signature: $(ssign "$ts" "$3")" --data-binary "$3"
}
form_payload() { printf 'payload=%s' "$(jq -rn --arg p "$1" '$p|@uri')"; }
n=0
click_body() { # click_body USER ACTION ISSUE [CHOICE]: a signed-ready form body, a new trigger each time
	n=$((n + 1))
	local sel=""
	[ -n "${4:-}" ] && sel=",\"type\":\"static_select\",\"selected_option\":{\"value\":\"$4\"}"
	form_payload "{\"type\":\"block_actions\",\"user\":{\"id\":\"$1\",\"username\":\"u$1\"},\"trigger_id\":\"trig-$n-$RANDOM\",\"channel\":{\"id\":\"C0000ALERTS\"},\"actions\":[{\"action_id\":\"sb_$2\",\"block_id\":\"sb_triage:$3\",\"value\":\"$3\",\"action_ts\":\"$n.5\"$sel}]}"
}
click() { slack_post /slack/interactions application/x-www-form-urlencoded "$(click_body "$@")"; }

issue() { curl -s "$SIM_URL/_sim/sentry/issues/$1"; }
msgs() { curl -s "$SL/_sim/messages?channel=C0000ALERTS"; }
head_of() { msgs | jq -c --arg i "$1" '[.messages[] | select(.ephemeral | not) | select(.thread_ts == null) | select(.blocks[0].text.text | endswith("KeyError: " + $i))] | last'; }
head_with() { # head_with ISSUE TEXT: the head's blocks mention TEXT
	head_of "$1" | jq -e --arg t "$2" 'tostring | contains($t)' >/dev/null
}
ephemeral_for() { # ephemeral_for USER TEXT
	msgs | jq -e --arg u "$1" --arg t "$2" '[.messages[] | select(.ephemeral and .user == $u and (.text | contains($t)))] | length > 0' >/dev/null
}
issue_is() { [ "$(issue "$1" | jq -r "$2")" = "$3" ]; } # issue_is ID JQ WANT
posted() { [ "$(head_of "$1")" != "null" ]; }
audit() { sql "SELECT action || ' | ' || reason FROM audit_log WHERE target = 'sentry-issue:$1' ORDER BY id"; }

for i in 1001 1002 1003 1004 1005 1006 1007 1008; do hook "rid-$i" "$(alert $i)"; done
hook rid-unknown "$(alert 950000)"
for i in 1001 1002 1003 1004 1005 1006 1007 1008 950000; do
	check "head posted for $i" wait_for 20 posted $i
done
eq "buttons and the Archive menu" "$(head_of 1001 | jq -r '[.blocks[] | select(.type == "actions") | .elements[] | .action_id + ":" + .type] | join(",")')" \
	"sb_resolve:button,sb_archive:static_select,sb_assign:button,sb_silence:static_select"
eq "archive options" "$(head_of 1001 | jq -r '[.blocks[] | select(.type == "actions") | .elements[] | select(.action_id == "sb_archive") | .options[].value] | join(",")')" \
	"until_escalating,60,1440,10080"

# ---- Resolve ----
click U0ALICE resolve 1001
eq "click acknowledged at once" "$STATUS" 200
eq "ack body empty" "$BODY" ""
check "resolved in Sentry" wait_for 10 issue_is 1001 .status resolved
check "head says who resolved it" wait_for 10 head_with 1001 "Resolved by <@U0ALICE> via the bridge"
eq "resolved head has no buttons" "$(head_of 1001 | jq '[.blocks[] | select(.type == "actions")] | length')" 0
contains "resolved header" "$(head_of 1001 | jq -r '.blocks[0].text.text')" "Resolved: KeyError: 1001"
eq "one PUT" "$(issue 1001 | jq .puts)" 1
contains "audited with the person" "$(audit 1001)" "issue.resolve | issue.resolve via Slack by alice.anderson@acme.example (slack:U0ALICE)"
eq "audit actor is the e-mail" "$(sql "SELECT actor FROM audit_log WHERE target = 'sentry-issue:1001' AND action = 'issue.resolve'")" alice.anderson@acme.example
eq "triage state recorded" "$(sql "SELECT status || ' ' || status_by FROM slack_triage WHERE issue = '1001'")" "resolved U0ALICE"

# A second click (another trigger: a double click) acts once.
click U0ALICE resolve 1001
check "second click told it is already resolved" wait_for 10 ephemeral_for U0ALICE "Issue 1001 is already resolved"
eq "still one PUT" "$(issue 1001 | jq .puts)" 1
contains "duplicate audited" "$(audit 1001)" "issue.resolve.duplicate"

# Sentry reopens it (issue.unresolved): the status line and the buttons come back.
body_unres='{"action":"unresolved","data":{"issue":{"id":"1001","title":"KeyError: 1001","level":"error","status":"unresolved","project":{"id":"1","slug":"my-awesome-app"}}},"actor":{"type":"application","id":"sentry","name":"Sentry"}}'
http POST "$URL/hooks/sentry" -H 'Content-Type: application/json' -H "Sentry-Hook-Resource: issue" \
	-H "Request-ID: rid-1001-unresolved" -H "Sentry-Hook-Signature: $(sign "$body_unres")" --data-binary "$body_unres"
eq "issue.unresolved accepted" "$STATUS" 200
reopened() { head_of 1001 | jq -e '[.blocks[] | select(.type == "actions")] | length == 1' >/dev/null; }
check "reopened head has its buttons again" wait_for 10 reopened
not_contains "reopened head: no resolved line" "$(head_of 1001)" "Resolved by"
eq "triage status cleared" "$(sql "SELECT coalesce(status, 'none') FROM slack_triage WHERE issue = '1001'")" none

# Two clicks at the same moment on another issue: one PUT.
b1=$(click_body U0ALICE resolve 1005)
b2=$(click_body U0ALICE resolve 1005)
slack_post /slack/interactions application/x-www-form-urlencoded "$b1" &
bg=$!
slack_post /slack/interactions application/x-www-form-urlencoded "$b2"
wait "$bg"
check "concurrent double click resolved" wait_for 10 issue_is 1005 .status resolved
check "the other click settled" wait_for 10 ephemeral_for U0ALICE "Issue 1005 is already resolved"
eq "concurrent double click: one PUT" "$(issue 1005 | jq .puts)" 1

# Replays: the same request again is stored once; an old timestamp is refused.
before=$(sql "SELECT count(*) FROM inbox WHERE source = 'slack'")
slack_post /slack/interactions application/x-www-form-urlencoded "$b1"
eq "redelivered click acknowledged" "$STATUS" 200
eq "redelivered click not stored again" "$(sql "SELECT count(*) FROM inbox WHERE source = 'slack'")" "$before"
slack_post /slack/interactions application/x-www-form-urlencoded "$(click_body U0ALICE resolve 1006)" $(($(date +%s) - 400))
eq "stale timestamp refused" "$STATUS" 401
contains "stale says why" "$BODY" "outside the allowed window"
sleep 0.5
eq "stale click changed nothing" "$(issue 1006 | jq -r .status)" unresolved

# ---- Archive ----
click U0ALICE archive 1002 until_escalating
check "archived until escalating" wait_for 10 issue_is 1002 .substatus archived_until_escalating
eq "archived status" "$(issue 1002 | jq -r .status)" ignored
check "head says archived" wait_for 10 head_with 1002 "Archived until escalating by <@U0ALICE> via the bridge"
eq "archived head: no Archive menu, Resolve kept" "$(head_of 1002 | jq -r '[.blocks[] | select(.type == "actions") | .elements[].action_id] | join(",")')" \
	"sb_resolve,sb_assign,sb_silence"
click U0ALICE archive 1003 60
check "archived for an hour" wait_for 10 issue_is 1003 .statusDetails.ignoreDuration 60
eq "for a duration: substatus" "$(issue 1003 | jq -r .substatus)" archived_until_condition_met
check "head says for 1 hour" wait_for 10 head_with 1003 "Archived for 1 hour by <@U0ALICE>"
contains "archive audited" "$(audit 1003)" "issue.archive | issue.archive via Slack by alice.anderson@acme.example (slack:U0ALICE) for 1 hour"

# ---- Assign to me (bob: e-mail from the directory table, member from Sentry) ----
click U0BOBB assign 1002
check "assigned in Sentry" wait_for 10 issue_is 1002 .assignedTo.email bob.brown@acme.example
eq "assigned by user id" "$(issue 1002 | jq -r .assignedTo.type)" user
check "head says assigned" wait_for 10 head_with 1002 "Assigned to <@U0BOBB> via the bridge"
check "head keeps the archive line" head_with 1002 "Archived until escalating"
eq "assignee recorded" "$(sql "SELECT assignee || ' ' || sentry_actor FROM slack_triage WHERE issue = '1002'")" \
	"U0BOBB user:$(issue 1002 | jq -r .assignedTo.id)"
click U0BOBB assign 1002
check "assign twice: told" wait_for 10 ephemeral_for U0BOBB "Issue 1002 is already assigned to you"

# A later alert of the archived and assigned issue updates the head and keeps both lines.
hook rid-1002-again "$(alert 1002)"
check "head updated with the count" wait_for 15 head_with 1002 "2 alerts in this group"
check "update keeps the archive line" head_with 1002 "Archived until escalating by <@U0ALICE>"
check "update keeps the assignee" head_with 1002 "Assigned to <@U0BOBB>"

# ---- not a member ----
click U0STRANGER resolve 1004
check "non-member told" wait_for 10 ephemeral_for U0STRANGER "You are not a member of the Sentry organisation as stranger@elsewhere.example"
eq "non-member changed nothing" "$(issue 1004 | jq '"\(.status) \(.puts)"' -r)" "unresolved 0"
contains "non-member audited" "$(audit 1004)" "issue.resolve.refused | issue.resolve via Slack by stranger@elsewhere.example (slack:U0STRANGER): not a Sentry member"

# ---- Sentry refuses (unknown issue: 404 with its detail) ----
click U0ALICE resolve 950000
check "refusal told with Sentry's reason" wait_for 10 ephemeral_for U0ALICE "Sentry refused to change issue 950000 (HTTP 404): The requested resource does not exist"

# ---- Sentry failing: retried through the queue ----
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"PUT /api/0/organizations/acme/issues/1006/","status":500,"count":2}' >/dev/null
click U0ALICE resolve 1006
check "resolved after two 500s" wait_for 15 issue_is 1006 .status resolved
eq "two 500s, then the PUT that landed" "$(curl -s "$SIM_URL/_sim/requests?upstream=sentry&limit=10000" | jq -r '[.requests[] | select(.method == "PUT" and (.path | contains("/issues/1006/"))) | .status] | map(tostring) | join(",")')" "500,500,200"
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"PUT /api/0/organizations/acme/issues/1007/","status":500,"count":100}' >/dev/null
click U0ALICE resolve 1007
check "Sentry down: told after the retries" wait_for 20 ephemeral_for U0ALICE "Sentry did not answer after 4 tries (HTTP 500: Internal Error). Issue 1007 was not changed"
eq "Sentry down: nothing changed" "$(issue 1007 | jq -r .status)" unresolved
contains "Sentry down audited" "$(audit 1007)" "issue.resolve.failed"
eq "inbox item failed" "$(sql "SELECT status FROM inbox WHERE source = 'slack' AND payload::text LIKE '%sb_triage:1007%'")" failed
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"PUT /api/0/organizations/acme/issues/1008/","latency_ms":2500,"count":100}' >/dev/null
click U0ALICE archive 1008 1440
check "Sentry slow: told after the retries" wait_for 30 ephemeral_for U0ALICE "Issue 1008 may not have been changed; please check it in Sentry"
contains "Sentry slow: the timeout named" "$(msgs | jq -r '[.messages[] | select(.ephemeral and (.text | contains("Issue 1008")))][0].text')" "timed out"
eq "Sentry slow: four runs, then audited as failed" "$(grep -c '"issue":"1008","error":"sentry: PUT' "$T/bridge.log")/$(audit 1008 | cut -d' ' -f1)" "4/issue.archive.failed"
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

# ---- a DM's first post interrupted between send and record (docs/slack.md) ----
# The bot's IM channel is opened (conversations.open) and recorded before the
# post, so the interrupted post is found in its history and not posted again.
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /slack/api/chat.postMessage","latency_ms":2500,"count":1}' >/dev/null
hook rid-dm-1 "$(alert 7001 | jq -c '.data.event.environment = "dm"')"
dm_group() { sql "SELECT coalesce(slack_channel, '-') || ' ' || coalesce(head_ts, '-') || ' ' || coalesce(inflight_key, '-') FROM slack_groups WHERE group_key LIKE '%issue=\"7001\"%'"; }
inflight() { [[ "$(dm_group)" == *" ob:"* ]]; }
check "DM post in flight" wait_for 10 inflight
contains "DM channel recorded before the post" "$(dm_group)" "D0ONCALL - ob:"
dm_sent() { [ "$(sql "SELECT status FROM slack_outbox WHERE issue = '7001'")" = sent ]; }
check "DM posted" wait_for 15 dm_sent
eq "one DM" "$(curl -s "$SL/_sim/messages?channel=D0ONCALL" | jq '[.messages[] | select(.ephemeral | not)] | length')" 1
rowid=$(sql "SELECT id FROM slack_outbox WHERE issue = '7001'")
gk=$(sql "SELECT group_key FROM slack_groups WHERE group_key LIKE '%issue=\"7001\"%'")
# the state a crash right after Slack accepted the post leaves behind
psql "$db" -qAt -v ON_ERROR_STOP=1 -c "UPDATE slack_outbox SET status = 'sending', slack_ts = NULL WHERE id = $rowid" \
	-c "UPDATE slack_groups SET head_ts = NULL, inflight_key = 'ob:$rowid', inflight_oldest = '0' WHERE group_key = '$gk'" >/dev/null
sql "INSERT INTO jobs (kind, payload, max_attempts) VALUES ('slack.deliver', json_build_object('group_key', '$gk')::jsonb, 5)" >/dev/null
sql "SELECT pg_notify('sb_jobs', 'slack.deliver')" >/dev/null
check "DM recovered" wait_for 15 dm_sent
eq "DM not posted again" "$(curl -s "$SL/_sim/messages?channel=D0ONCALL" | jq '[.messages[] | select(.ephemeral | not)] | length')" 1
eq "DM head recorded" "$(dm_group | cut -d' ' -f1,3)" "D0ONCALL -"
http GET "$URL/metrics"
contains "DM recovery metric" "$BODY" 'sb_slack_recovered_posts_total{outcome="found"} 1'
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

# ---- triage done in Sentry's own UI shows on the head, with Sentry's names ----
ihook() { # ihook REQUEST-ID BODY: an issue webhook
	http POST "$URL/hooks/sentry" -H 'Content-Type: application/json' -H "Sentry-Hook-Resource: issue" \
		-H "Request-ID: $1" -H "Sentry-Hook-Signature: $(sign "$2")" --data-binary "$2"
}
ibody() { # ibody ACTION ISSUE-EXTRA-JSON ACTOR-JSON
	jq -cn --arg a "$1" --argjson x "$2" --argjson who "$3" '{action: $a, installation: {uuid: "inst-1"},
		data: {issue: ({id: "1010", title: "KeyError: 1010", level: "error", status: "unresolved",
		project: {id: "1", slug: "my-awesome-app"}} + $x)}, actor: $who}'
}
ada='{"type":"user","id":"7","name":"Ada Lovelace"}'
hook rid-1010 "$(alert 1010)"
check "head posted for 1010" wait_for 20 posted 1010
ihook rid-1010-assigned "$(ibody assigned '{"assignedTo":{"type":"team","id":"5","name":"backend"}}' "$ada")"
eq "issue.assigned from Sentry's UI accepted" "$STATUS" 200
check "head: assigned in Sentry, with Sentry's name" wait_for 10 head_with 1010 "Assigned to backend in Sentry"
eq "recorded without a Slack person" "$(sql "SELECT coalesce(assignee, '-') || ' ' || assignee_name || ' ' || sentry_actor FROM slack_triage WHERE issue = '1010'")" "- backend team:5"
ihook rid-1010-ignored "$(ibody ignored '{"status":"ignored","substatus":"archived_until_escalating","statusDetails":{}}' "$ada")"
check "head: archived in Sentry by the person" wait_for 10 head_with 1010 "Archived until escalating by Ada Lovelace in Sentry"
eq "archived head: no Archive menu" "$(head_of 1010 | jq '[.blocks[] | select(.type == "actions") | .elements[] | select(.action_id == "sb_archive")] | length')" 0
contains "archived head: still assigned" "$(head_of 1010)" "Assigned to backend in Sentry"
# The bridge's own token is an application: such webhooks do not overwrite
# what the bridge recorded with the person who clicked (issue 1001 above).
ihook rid-1010-app "$(ibody ignored '{"status":"ignored","substatus":"archived_forever","statusDetails":{}}' '{"type":"application","id":"sentry","name":"Sentry"}')"
eq "an application's change accepted" "$STATUS" 200
app_done() { [ "$(sql "SELECT status FROM inbox WHERE external_id = 'rid-1010-app'")" = done ]; }
check "an application's change routed" wait_for 10 app_done
eq "an application's change is not recorded as a person's" "$(sql "SELECT status || ' ' || status_detail || ' ' || status_by_name FROM slack_triage WHERE issue = '1010'")" "ignored until escalating Ada Lovelace"
ihook rid-1010-resolved "$(ibody resolved '{"status":"resolved"}' "$ada")"
check "head: resolved in Sentry by the person" wait_for 10 head_with 1010 "Resolved by Ada Lovelace in Sentry"
eq "resolved in Sentry: no buttons" "$(head_of 1010 | jq '[.blocks[] | select(.type == "actions")] | length')" 0

http GET "$URL/metrics"
contains "actions metric" "$BODY" 'sb_slack_actions_total{action="issue.resolve",outcome="done"}'
eq "audited clicks" "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE 'issue.%'")" \
	"$(sql "SELECT count(*) FROM inbox WHERE source = 'slack' AND status <> 'pending'")"

finish
