#!/usr/bin/env bash
# Slack alert routing (issue 8): the `routes` CLI on a route tree, config
# errors naming file and line, and (below) the Sentry intake.
source "$(dirname "$0")/lib.sh"

# ---- routes show / routes test (offline) ----
cat >"$T/routes.yaml" <<'YAML'
routing:
  receivers:
    - { name: default, channel: "#alerts" }
    - { name: backend, channel: "#backend" }
    - { name: backend-prod, channel: C0BACKPROD }
    - { name: oncall, email: "oncall@acme.example" }
    - { name: audit, channel: "#audit" }
  time_intervals:
    - { name: nights, location: Europe/Madrid, times: ["00:00-07:00"] }
  route:
    receiver: default
    group_wait: 10s
    routes:
      - matchers: ['alert_rule=~"audit.*"']
        receiver: audit
        continue: true
      - matchers: ["team=backend"]
        receiver: backend
        group_interval: 10m
        routes:
          - matchers: ["environment=production", 'level=~"error|fatal"']
            receiver: backend-prod
            mute_time_intervals: [nights]
      - matchers: ["level=fatal"]
        receiver: oncall
YAML
routes() { "$SB_BIN" --config "$T/routes.yaml" routes "$@" 2>"$T/routes.err"; }

out=$(routes show)
contains "show prints the root" "$out" "routing.route
  receiver=default -> channel #alerts"
contains "show prints a nested node with its matchers" "$out" \
	'routing.route.routes[1].routes[0]  [environment=production, level=~"error|fatal"]'
contains "show marks inherited values" "$out" "group_wait=(10s) group_interval=(10m)"
contains "show prints continue" "$out" "continue"

out=$(routes test --at 2026-11-23T12:00:00Z project=api issue=7 team=backend environment=production level=error)
contains "test: nested receiver" "$out" "1 receiver:
  backend-prod  channel C0BACKPROD"
contains "test: the path" "$out" \
	'path: routing.route > routing.route.routes[1] {team=backend} > routing.route.routes[1].routes[0] {environment=production, level=~"error|fatal"}'
contains "test: group key" "$out" 'group: routing.route.routes[1].routes[0]{project="api",issue="7"}'
contains "test: inherited timers" "$out" "timers: group_wait=10s group_interval=10m repeat_interval=4h"
not_contains "test: not muted at noon" "$out" "MUTED"

out=$(routes test --at 2026-11-23T05:00:00Z project=api team=backend environment=production level=error)
contains "test: muted at night in Madrid" "$out" 'muted by time interval "nights"'

# A Sentry event_alert webhook body (sentry-api.md 6.3): tags are pairs,
# the project is a numeric id, the rule is data.triggered_rule.
cat >"$T/event_alert.json" <<'JSON'
{"action": "triggered", "installation": {"uuid": "i-1"},
 "data": {"event": {"event_id": "e1", "project": 42, "issue_id": "1001", "level": "fatal",
   "title": "ZeroDivisionError", "culprit": "app.views in index", "environment": "production",
   "web_url": "https://sentry.example/organizations/acme/issues/1001/events/e1/",
   "tags": [["level", "fatal"], ["customer", "acme"]]},
  "triggered_rule": "audit fatal errors"},
 "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}
JSON
out=$(routes test --alert "$T/event_alert.json" --at 2026-11-23T12:00:00Z)
contains "webhook: continue reaches two receivers" "$out" "2 receivers:
  audit  channel #audit"
contains "webhook: then on-call by DM" "$out" "oncall  dm oncall@acme.example"
contains "webhook: tags read from pairs" "$out" 'tag:customer="acme"'
contains "webhook: project id note" "$out" "project id 42"
out=$(routes test --alert "$T/event_alert.json" --at 2026-11-23T12:00:00Z project=api team=backend)
contains "webhook + label overrides" "$out" "backend-prod  channel C0BACKPROD"

echo '{"project": "web", "team": ["a", "b"], "tags": {"customer": "acme"}}' >"$T/flat.json"
out=$(routes test --alert "$T/flat.json")
contains "flat alert: root receiver" "$out" "1 receiver:
  default  channel #alerts"

set +e
routes test bogus=1 >/dev/null; rc=$?
set -e
eq "unknown label exit 2" "$rc" 2
contains "unknown label message" "$(cat "$T/routes.err")" 'unknown label "bogus"'
echo '{"project": 5}' >"$T/bad.json"
set +e
routes test --alert "$T/bad.json" >/dev/null; rc=$?
set -e
eq "bad alert exit 2" "$rc" 2
contains "bad alert names the file" "$(cat "$T/routes.err")" "$T/bad.json: \"project\" must be a string"

# Config errors name file and line.
cat >"$T/badroutes.yaml" <<'YAML'
routing:
  receivers:
    - { name: default, channel: "#alerts" }
  route:
    receiver: default
    group_wait: 10 minutes
    routes:
      - matchers: ['level=~"(oops"']
        receiver: nobody
YAML
set +e
"$SB_BIN" --config "$T/badroutes.yaml" routes show >/dev/null 2>"$T/bad.err"; rc=$?
set -e
eq "invalid routing config exit 78" "$rc" 78
bad=$(cat "$T/badroutes.yaml" >/dev/null; cat "$T/bad.err")
contains "bad duration named by line" "$bad" "badroutes.yaml:6: routing.route.group_wait"
contains "bad regex named by line" "$bad" "badroutes.yaml:8: routing.route.routes[0].matchers[0]: invalid matcher"
contains "unknown receiver named by line" "$bad" "badroutes.yaml:9: routing.route.routes[0].receiver: unknown receiver \"nobody\""

# ---- intake: POST /hooks/sentry (signature, inbox, dedupe) and the routing job ----
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789" SENTRY_TOKEN=sim-sentry-token \
	SENTRY_CLIENT_SECRET=it-sentry-client-secret-0123
start_sim sim --demo
port=$(free_port)
db=$(fresh_db it_slack)
URL="http://127.0.0.1:$port"
ADMIN=(-H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN")
write_config "$T/bridge.yaml" "$port" "$db" "jobs:
  backoff_base: 100ms
  backoff_max: 200ms
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
  client_secret_env: SENTRY_CLIENT_SECRET
routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
    - { name: payments, channel: \"#payments\", send_resolved: false }
    - { name: rules, channel: C0RULES }
    - { name: debug, channel: \"#debug\" }
  time_intervals:
    - { name: always, location: Europe/Madrid, times: [\"00:00-24:00\"] }
  route:
    receiver: default
    routes:
      - matchers: [\"resource=metric_alert\"]
        receiver: rules
        group_by: [alert_rule]
      - matchers: [\"team=payments\"]
        receiver: payments
      - matchers: [\"level=debug\"]
        receiver: debug
        mute_time_intervals: [always]"
start_bridge bridge "$T/bridge.yaml"
check "ready" wait_ready "$URL" 20

sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SENTRY_CLIENT_SECRET" | sed 's/^.* //'; }
hook() { # hook RESOURCE REQUEST-ID BODY [extra curl args]
	local resource=$1 rid=$2 body=$3
	shift 3
	http POST "$URL/hooks/sentry" -H 'Content-Type: application/json' -H "Sentry-Hook-Resource: $resource" \
		-H "Request-ID: $rid" -H "Sentry-Hook-Signature: $(sign "$body")" --data-binary "$body" "$@"
}
outbox() { curl -s "${ADMIN[@]}" "$URL/api/v1/slack/outbox?limit=1000"; }
outbox_n() { outbox | jq '.items | length'; }
wait_outbox() { # wait_outbox N: until the outbox holds N rows
	for _ in $(seq 1 100); do
		[ "$(outbox_n)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
event_alert() { # event_alert PROJECT-ID ISSUE LEVEL
	printf '{"action":"triggered","installation":{"uuid":"inst-1"},"data":{"event":{"event_id":"ev%s","project":%s,"issue_id":"%s","level":"%s","title":"ZeroDivisionError: division by zero","culprit":"checkout.views in pay","environment":"production","web_url":"https://sentry.example/organizations/acme/issues/%s/events/ev%s/","tags":[["level","%s"],["customer","acme"]]},"triggered_rule":"Errors in checkout"},"actor":{"type":"application","id":"sentry","name":"Sentry"}}' \
		"$2" "$1" "$2" "$3" "$2" "$2" "$3"
}

body=$(event_alert 2 1001 error)
t0=$(date +%s%N)
hook event_alert 0123456789abcdef0123456789abcd01 "$body"
t1=$(date +%s%N)
eq "event_alert accepted" "$STATUS" 200
contains "accepted body" "$BODY" '"status":"accepted"'
echo "  (webhook acknowledged in $(((t1 - t0) / 1000000)) ms including curl start-up)"
check "routed into the outbox" wait_outbox 1
row=$(outbox | jq -c '.items[0]')
eq "enriched from the project mirror: slug" "$(jq -r .alert.project <<<"$row")" checkout-api
eq "enriched: owning team routes to payments" "$(jq -r .receiver <<<"$row")" payments
eq "target channel" "$(jq -r .target <<<"$row")" "#payments"
eq "status pending" "$(jq -r .status <<<"$row")" pending
eq "kind alert" "$(jq -r .kind <<<"$row")" alert
eq "group key" "$(jq -r .group_key <<<"$row")" 'routing.route.routes[1]{project="checkout-api",issue="1001"}'
eq "idempotency key" "$(jq -r .idem_key <<<"$row")" "sentry:0123456789abcdef0123456789abcd01:routing.route.routes[1]"
eq "tags kept" "$(jq -r .alert.tags.customer <<<"$row")" acme
eq "mirror row" "$(psql "$db" -qAt -c "SELECT slug || ':' || array_to_string(teams, ',') FROM sentry_projects WHERE id = 2")" "checkout-api:payments"

hook event_alert 0123456789abcdef0123456789abcd01 "$body"
eq "redelivery 200" "$STATUS" 200
contains "redelivery recognised" "$BODY" '"duplicate":true'
sleep 0.5
eq "redelivery adds nothing" "$(outbox_n)" 1
eq "one inbox row" "$(psql "$db" -qAt -c "SELECT count(*) FROM inbox WHERE source = 'sentry'")" 1

# Refusals.
http POST "$URL/hooks/sentry" -H 'Sentry-Hook-Resource: event_alert' -H 'Request-ID: abc' --data-binary "$body"
eq "no signature 401" "$STATUS" 401
contains "no signature says so" "$BODY" "missing Sentry-Hook-Signature"
http POST "$URL/hooks/sentry" -H 'Sentry-Hook-Resource: event_alert' -H 'Request-ID: abc' \
	-H "Sentry-Hook-Signature: $(sign "$body x")" --data-binary "$body"
eq "wrong signature 401" "$STATUS" 401
contains "wrong signature says so" "$BODY" "does not match"
tampered=${body/checkout/checkOUT}
http POST "$URL/hooks/sentry" -H 'Sentry-Hook-Resource: event_alert' -H 'Request-ID: abc' \
	-H "Sentry-Hook-Signature: $(sign "$body")" --data-binary "$tampered"
eq "tampered body 401" "$STATUS" 401
hook event_alert "" "$body"
eq "missing Request-ID 400" "$STATUS" 400
hook event_alert 'bad id!' "$body"
eq "bad Request-ID 400" "$STATUS" 400
hook event_alert rid-malformed '{"action": "triggered", "data": '
eq "malformed JSON 400" "$STATUS" 400
contains "malformed JSON says so" "$BODY" "not a JSON object"
hook event_alert rid-noaction '{"data": {}}'
eq "no action 400" "$STATUS" 400
http POST "$URL/hooks/sentry" -H 'Sentry-Hook-Signature: 00' -H 'Request-ID: abc' --data-binary "$body"
eq "no resource: refused before anything (401 on the bad signature)" "$STATUS" 401
eq "refusals stored nothing" "$(psql "$db" -qAt -c "SELECT count(*) FROM inbox WHERE source = 'sentry'")" 1

# Unhandled resources are recorded and skipped.
hook comment rid-comment-1 '{"action":"created","data":{"comment":"hi"}}'
eq "comment 200" "$STATUS" 200
contains "comment not handled" "$BODY" '"handled":false'
eq "comment recorded as skipped" "$(psql "$db" -qAt -c "SELECT kind || ':' || status FROM inbox WHERE external_id = 'rid-comment-1'")" "comment.created:skipped"

# A metric alert routes by its rule; the level is the action.
hook metric_alert rid-metric-1 '{"action":"critical","data":{"metric_alert":{"id":"77","alert_rule":{"name":"p95 latency","projects":["checkout-api"]}},"description_title":"p95 latency above 2s","description_text":"2.4s","web_url":"https://sentry.example/alerts/77/"},"actor":{"type":"application","id":"sentry","name":"Sentry"}}'
eq "metric alert 200" "$STATUS" 200
check "metric alert routed" wait_outbox 2
row=$(outbox | jq -c '[.items[] | select(.receiver == "rules")][0]')
eq "metric alert group by rule" "$(jq -r .group_key <<<"$row")" 'routing.route.routes[0]{alert_rule="p95 latency"}'
eq "metric alert level" "$(jq -r .alert.level <<<"$row")" critical

# issue.resolved for a receiver with send_resolved: false is suppressed.
hook issue rid-issue-resolved-1 '{"action":"resolved","data":{"issue":{"id":"1001","shortId":"CHECKOUT-1","title":"ZeroDivisionError","level":"error","status":"resolved","project":{"id":"2","slug":"checkout-api"},"count":"12","userCount":3}},"actor":{"type":"user","id":"1","name":"Ada"}}'
check "issue.resolved routed" wait_outbox 3
row=$(outbox | jq -c '[.items[] | select(.kind == "resolved")][0]')
eq "resolved goes to the issue's team" "$(jq -r .receiver <<<"$row")" payments
eq "resolved suppressed (send_resolved false)" "$(jq -r .status <<<"$row")" suppressed
eq "issue counts kept" "$(jq -r '"\(.alert.count)/\(.alert.user_count)"' <<<"$row")" "12/3"

# Mute intervals and silences are recorded, not sent.
hook event_alert rid-debug-1 "$(event_alert 1 2001 debug)"
check "debug alert routed" wait_outbox 4
eq "muted by the interval" "$(outbox | jq -r '[.items[] | select(.issue == "2001")][0] | .status + " " + .reason')" "muted time interval always"
psql "$db" -qAt -c "INSERT INTO slack_silences (matchers, ends_at, author, comment) VALUES ('{\"project=billing-worker\"}', now() + interval '1 hour', 'it', 'maintenance')" >/dev/null
hook event_alert rid-silenced-1 "$(event_alert 3 3001 error)"
check "silenced alert routed" wait_outbox 5
eq "silenced" "$(outbox | jq -r '[.items[] | select(.issue == "3001")][0] | .status')" silenced
contains "silence named" "$(outbox | jq -r '[.items[] | select(.issue == "3001")][0] | .reason')" "silence "

# An unknown project while Sentry fails: retried, then routed without enrichment.
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"GET /api/0/organizations/acme/projects/","status":503,"count":100}' >/dev/null
hook event_alert rid-unknown-1 "$(event_alert 99 4001 error)"
check "routed after the enrichment retries" wait_outbox 6
row=$(outbox | jq -c '[.items[] | select(.issue == "4001")][0]')
eq "unenriched goes to the root" "$(jq -r .receiver <<<"$row")" default
eq "marked as not enriched" "$(jq -r .alert.enriched <<<"$row")" false
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

http GET "$URL/api/v1/slack/outbox"
eq "outbox API needs the admin token" "$STATUS" 401
http GET "$URL/metrics"
contains "webhook metric" "$BODY" 'sb_sentry_webhooks_total{resource="event_alert",outcome="stored"}'

stop_bridge bridge

# ---- delivery to Slack (the simulator's /slack/api) ----
export SLACK_BOT_TOKEN=xoxb-sim-slack-token SLACK_SIGNING_SECRET=it-slack-signing-secret
SL="$SIM_URL/slack"
port=$(free_port)
db=$(fresh_db it_slack_deliver)
URL="http://127.0.0.1:$port"
write_config "$T/deliver.yaml" "$port" "$db" "jobs:
  backoff_base: 100ms
  backoff_max: 200ms
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
  client_secret_env: SENTRY_CLIENT_SECRET
slack:
  api_url: \"$SL/api\"
  bot_token_env: SLACK_BOT_TOKEN
  signing_secret_env: SLACK_SIGNING_SECRET
  forward_to_sentry:
    timeout: 1500ms
routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
    - { name: payments, channel: \"#payments\", tags: [customer] }
    - { name: archived, channel: \"#old-alerts\" }
    - { name: outsiders, channel: \"#outsiders\" }
    - { name: oncall, email: \"oncall@acme.example\" }
  route:
    receiver: default
    group_wait: 3s
    group_interval: 2s
    routes:
      - matchers: [\"environment=archived\"]
        receiver: archived
        fallback_receiver: default
      - matchers: [\"environment=outsiders\"]
        receiver: outsiders
      - matchers: [\"level=fatal\"]
        receiver: oncall
      - matchers: [\"team=payments\"]
        receiver: payments"
start_bridge deliver "$T/deliver.yaml"
check "delivery bridge ready" wait_ready "$URL" 20
curl -s -X DELETE "$SL/_sim/messages" >/dev/null
msgs() { curl -s "$SL/_sim/messages${1:+?channel=$1}"; }
wait_msgs() { # wait_msgs CHANNEL N
	for _ in $(seq 1 150); do
		[ "$(msgs "$1" | jq '.messages | length')" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_status() { # wait_status ISSUE [SECONDS]: every row of the issue has left pending/sending
	for _ in $(seq 1 $((${2:-15} * 10))); do
		[ "$(outbox | jq --arg i "$1" '[.items[] | select(.issue == $i and (.status == "pending" or .status == "sending"))] | length')" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
ev() { # ev PROJECT ISSUE LEVEL ENV
	event_alert "$1" "$2" "$3" | jq -c --arg env "$4" '.data.event.environment = $env'
}

# Three alerts of one issue within group_wait: one message, count 3.
for i in 1 2 3; do hook event_alert "rid-g1-$i" "$(ev 2 5001 error production)"; done
check "head message posted" wait_msgs C000PAYMENTS 1
check "group delivered" wait_status 5001
sleep 0.5
m=$(msgs C000PAYMENTS)
eq "one message for three alerts" "$(jq '.messages | length' <<<"$m")" 1
head_ts=$(jq -r '.messages[0].ts' <<<"$m")
contains "count in the head" "$(jq -c '.messages[0].blocks' <<<"$m")" "3 alerts in this group"
contains "title header" "$(jq -r '.messages[0].blocks[0].text.text' <<<"$m")" "ZeroDivisionError"
contains "project and env" "$(jq -r '.messages[0].blocks[1].text.text' <<<"$m")" "*Project:* checkout-api"
contains "configured tag shown" "$(jq -r '.messages[0].blocks[1].text.text' <<<"$m")" "*customer:* acme"
contains "route shown" "$(jq -c '.messages[0].blocks[2]' <<<"$m")" 'routing.route.routes[3]'
contains "link to Sentry" "$(jq -c '.messages[0].blocks[2]' <<<"$m")" "View in Sentry"
eq "buttons with our prefix" "$(jq -r '[.messages[0].blocks[3].elements[].action_id] | join(",")' <<<"$m")" "sb_resolve,sb_archive,sb_assign,sb_silence"
eq "metadata carries the outbox key" "$(jq -r '.messages[0].metadata.event_payload.key' <<<"$m")" "$(outbox | jq -r '[.items[] | select(.issue == "5001")] | min_by(.id) | "ob:\(.id)"')"
eq "outbox: one sent, two grouped" "$(outbox | jq -r '[.items[] | select(.issue == "5001") | .status] | sort | join(",")')" "grouped,grouped,sent"
eq "ts recorded" "$(outbox | jq -r '[.items[] | select(.issue == "5001") | .slack_ts] | unique | join(",")')" "$head_ts"

# Two more: the head is updated with the count and one thread reply added.
for i in 4 5; do hook event_alert "rid-g1-$i" "$(ev 2 5001 error production)"; done
check "thread reply posted" wait_msgs C000PAYMENTS 2
check "group delivered again" wait_status 5001
m=$(msgs C000PAYMENTS)
eq "still one head, one reply" "$(jq '[.messages[] | select(.thread_ts == null)] | length' <<<"$m")" 1
eq "reply in the head's thread" "$(jq -r '[.messages[] | select(.thread_ts != null)][0].thread_ts' <<<"$m")" "$head_ts"
contains "reply text" "$(jq -r '[.messages[] | select(.thread_ts != null)][0].text' <<<"$m")" "2 more alerts (5 in total)"
contains "head updated with the count" "$(jq -c '.messages[0].blocks' <<<"$m")" "5 alerts in this group"
eq "head updated once" "$(jq '.messages[0].updates' <<<"$m")" 1

# issue.resolved updates the head and replies in its thread.
hook issue rid-g1-resolved '{"action":"resolved","data":{"issue":{"id":"5001","title":"ZeroDivisionError","level":"error","status":"resolved","project":{"id":"2","slug":"checkout-api"}}},"actor":{"type":"user","id":"1","name":"Ada"}}'
check "resolution replied" wait_msgs C000PAYMENTS 3
m=$(msgs C000PAYMENTS)
contains "head says resolved" "$(jq -r '.messages[0].blocks[0].text.text' <<<"$m")" "Resolved"
eq "buttons gone" "$(jq '[.messages[0].blocks[] | select(.type == "actions")] | length' <<<"$m")" 0
contains "resolved reply" "$(jq -r '.messages[2].text' <<<"$m")" "Resolved in Sentry"

# A DM by e-mail (users.lookupByEmail, then the user's DM).
hook event_alert rid-dm-1 "$(ev 1 5002 fatal production)"
check "DM delivered" wait_msgs D0ONCALL 1

# An archived channel falls back; a channel the bot is not in is dead-lettered.
hook event_alert rid-arch-1 "$(ev 1 5003 error archived)"
check "fallback delivered to #alerts" wait_msgs C0000ALERTS 1
eq "fallback recorded" "$(outbox | jq -r '[.items[] | select(.issue == "5003")][0] | .receiver + " " + .status + " " + .reason')" "default sent fallback after is_archived"
hook event_alert rid-out-1 "$(ev 1 5004 error outsiders)"
check "dead letter settled" wait_status 5004
eq "not_in_channel dead-lettered" "$(outbox | jq -r '[.items[] | select(.issue == "5004")][0] | .status + " " + .last_error')" "dead not_in_channel"
http GET "$URL/metrics"
contains "dead-letter metric" "$BODY" 'sb_slack_dead_letters_total{reason="not_in_channel"} 1'

# Slack answering 429 (Retry-After: 1) three times: delayed, not lost, posted once.
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /slack/api/chat.postMessage","status":429,"retry_after":1,"count":3}' >/dev/null
hook event_alert rid-429-1 "$(ev 1 5005 error production)"
check "posted after the 429s" wait_status 5005
k429=$(outbox | jq -r '[.items[] | select(.issue == "5005")][0] | "ob:\(.id)"')
eq "posted once" "$(msgs C0000ALERTS | jq --arg k "$k429" '[.messages[] | select(.metadata.event_payload.key == $k)] | length')" 1
eq "429 storm: row sent" "$(outbox | jq -r '[.items[] | select(.issue == "5005")][0].status')" sent
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

# A crash between the post and its record: the row is 'sending' and the group
# names the post in flight. The next delivery finds it in Slack and records it.
hook event_alert rid-crash-1 "$(ev 1 5006 error production)"
check "crash scenario: first post" wait_status 5006
before=$(msgs C0000ALERTS | jq '.messages | length')
rowid=$(outbox | jq -r '[.items[] | select(.issue == "5006")][0].id')
gk=$(outbox | jq -r '[.items[] | select(.issue == "5006")][0].group_key')
psql "$db" -qAt -v ON_ERROR_STOP=1 -c "UPDATE slack_outbox SET status = 'sending', slack_ts = NULL WHERE id = $rowid" \
	-c "UPDATE slack_groups SET head_ts = NULL, inflight_key = 'ob:$rowid', inflight_oldest = '0' WHERE group_key = '$gk'" >/dev/null
psql "$db" -qAt -c "INSERT INTO jobs (kind, payload, max_attempts) VALUES ('slack.deliver', json_build_object('group_key', '$gk')::jsonb, 5)" >/dev/null
psql "$db" -qAt -c "SELECT pg_notify('sb_jobs', 'slack.deliver')" >/dev/null
check "recovered" wait_status 5006
eq "not posted again" "$(msgs C0000ALERTS | jq '.messages | length')" "$before"
eq "recovered row sent with its ts" "$(outbox | jq -r '[.items[] | select(.issue == "5006")][0] | .status + " " + (.slack_ts != null | tostring)')" "sent true"
http GET "$URL/metrics"
contains "recovery metric" "$BODY" 'sb_slack_recovered_posts_total{outcome="found"} 1'

# A storm of 100 alerts over 4 issues: a handful of messages, every alert counted.
curl -s -X DELETE "$SL/_sim/messages" >/dev/null
for i in $(seq 1 100); do
	hook event_alert "rid-storm-$i" "$(ev 2 $((6000 + i % 4)) error production)"
	[ "$STATUS" = 200 ] || echo "  storm hook $i: $STATUS $BODY"
done
storm_rows() { outbox | jq '[.items[] | select(.issue != null and (.issue | startswith("600")))] | length'; }
for _ in $(seq 1 300); do [ "$(storm_rows)" -ge 100 ] && break; sleep 0.2; done
eq "every storm alert routed" "$(storm_rows)" 100
for k in 0 1 2 3; do check "storm issue $k settled" wait_status $((6000 + k)) 60; done
m=$(msgs C000PAYMENTS)
heads=$(jq '[.messages[] | select(.thread_ts == null)] | length' <<<"$m")
eq "one head per issue" "$heads" 4
eq "every alert accounted for" "$(outbox | jq '[.items[] | select(.issue != null and (.issue | startswith("600"))) | select(.status == "sent" or .status == "grouped")] | length')" 100
echo "  (storm: $(jq '.messages | length' <<<"$m") Slack messages for 100 alerts)"

eq "per-channel rate never exceeded" "$(curl -s "$SL/_sim/stats" | jq '[.min_post_gap_ms[] | select(. < 1000)] | length')" 0

# ---- silences API ----
http POST "$URL/api/v1/silences" --data '{"matchers":["project=x"],"duration":"1h","author":"a","comment":"c"}'
eq "silences need the admin token" "$STATUS" 401
sil() { http POST "$URL/api/v1/silences" "${ADMIN[@]}" -H 'Content-Type: application/json' --data "$1"; }
sil '{"matchers":["bogus=1"],"duration":"1h","author":"ops@acme.example","comment":"x"}'
eq "bad matcher 400" "$STATUS" 400
contains "bad matcher named" "$BODY" 'matcher \"bogus=1\"'
sil '{"matchers":["project=my-awesome-app"],"duration":"1h","comment":"x"}'
eq "no author 400" "$STATUS" 400
sil '{"matchers":["project=my-awesome-app"],"duration":"40d","author":"ops@acme.example","comment":"x"}'
eq "too long 400" "$STATUS" 400
contains "too long says why" "$BODY" "silence_max_duration"
sil '{"matchers":["project=my-awesome-app"],"author":"ops@acme.example","comment":"x"}'
eq "no end 400" "$STATUS" 400
sil '{"matchers":["project=my-awesome-app"],"ends_at":"not a time","author":"ops@acme.example","comment":"x"}'
eq "bad time 400" "$STATUS" 400
sil 'not json'
eq "bad JSON 400" "$STATUS" 400
sil '{"matchers":["project=my-awesome-app", "level=~\"error|fatal\""],"duration":"1h","author":"ops@acme.example","comment":"deploy"}'
eq "silence created 201" "$STATUS" 201
sid=$(jq -r .id <<<"$BODY")
eq "silence active" "$(jq -r .state <<<"$BODY")" active
hook event_alert rid-sil-1 "$(ev 1 7001 error production)"
check "silenced alert settled" wait_status 7001
eq "alert silenced, not sent" "$(outbox | jq -r '[.items[] | select(.issue == "7001")][0] | .status + " " + .reason')" "silenced silence $sid"
http GET "$URL/api/v1/silences?state=active" "${ADMIN[@]}"
eq "listed as active" "$(jq -r '[.silences[] | select(.id == '"$sid"')] | length' <<<"$BODY")" 1
http DELETE "$URL/api/v1/silences/$sid" "${ADMIN[@]}"
eq "expire 200" "$STATUS" 200
http DELETE "$URL/api/v1/silences/$sid" "${ADMIN[@]}"
eq "expire twice 404" "$STATUS" 404
http GET "$URL/api/v1/silences?state=expired" "${ADMIN[@]}"
eq "kept as expired" "$(jq -r '[.silences[] | select(.id == '"$sid"')][0].state' <<<"$BODY")" expired
hook event_alert rid-sil-2 "$(ev 1 7002 error production)"
check "unsilenced alert delivered" wait_status 7002
eq "sent after expiry" "$(outbox | jq -r '[.items[] | select(.issue == "7002")][0].status')" sent
eq "audited" "$(psql "$db" -qAt -c "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE target = 'silence:$sid'")" "silence.create,silence.expire"

# ---- the Slack Request URL: signatures, url_verification, forwarding, clicks ----
ssign() { # ssign TIMESTAMP BODY
	printf 'v0=%s' "$(printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SLACK_SIGNING_SECRET" | sed 's/^.* //')"
}
slack_post() { # slack_post PATH CONTENT-TYPE BODY [TIMESTAMP]
	local ts=${4:-$(date +%s)}
	http POST "$URL$1" -H "Content-Type: $2" -H "X-Slack-Request-Timestamp: $ts" \
		-H "X-Slack-Signature: $(ssign "$ts" "$3")" --data-binary "$3"
}
form_payload() { printf 'payload=%s' "$(jq -rn --arg p "$1" '$p|@uri')"; }

slack_post /slack/events application/json '{"type":"url_verification","challenge":"chal-123","token":"x"}'
eq "url_verification 200" "$STATUS" 200
eq "challenge answered" "$(jq -r .challenge <<<"$BODY")" chal-123
http POST "$URL/slack/events" -H 'Content-Type: application/json' --data '{"type":"url_verification","challenge":"x"}'
eq "unsigned 401" "$STATUS" 401
ts=$(date +%s)
http POST "$URL/slack/events" -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: $(ssign "$ts" 'other')" \
	--data '{"type":"url_verification","challenge":"x"}'
eq "wrong signature 401" "$STATUS" 401
contains "wrong signature says so" "$BODY" "does not match"
old=$(($(date +%s) - 400))
slack_post /slack/events application/json '{"type":"url_verification","challenge":"x"}' "$old"
eq "replayed (old timestamp) 401" "$STATUS" 401
contains "replay says why" "$BODY" "outside the allowed window"
slack_post /slack/interactions application/x-www-form-urlencoded 'nothing=here'
eq "missing payload 400" "$STATUS" 400
slack_post /slack/interactions application/x-www-form-urlencoded 'payload=%7Bbroken'
eq "malformed payload 400" "$STATUS" 400

# Sentry's own button: forwarded byte for byte, still verifiable with the signing secret.
curl -s -X DELETE "$SIM_URL/extensions/slack/_received" >/dev/null
sentry_click=$(form_payload '{"type":"block_actions","user":{"id":"U0ADA","username":"ada"},"trigger_id":"t-sentry-1","actions":[{"action_id":"resolve_dialog","block_id":"x","value":"1001","action_ts":"1.2"}],"channel":{"id":"C000PAYMENTS"}}')
ts=$(date +%s)
slack_post /slack/interactions application/x-www-form-urlencoded "$sentry_click" "$ts"
eq "forwarded: Sentry's status" "$STATUS" 200
contains "forwarded: Sentry's body" "$BODY" "Sentry got it"
rec=$(curl -s "$SIM_URL/extensions/slack/_received" | jq -c '.received[0]')
eq "forwarded to the action endpoint" "$(jq -r .path <<<"$rec")" "/extensions/slack/action/"
eq "body byte-identical" "$(jq -r .body <<<"$rec")" "$sentry_click"
eq "signature header kept" "$(jq -r .signature <<<"$rec")" "$(ssign "$ts" "$sentry_click")"
eq "forwarded request still verifies" "$(ssign "$(jq -r .timestamp <<<"$rec")" "$(jq -r .body <<<"$rec")")" "$(jq -r .signature <<<"$rec")"
eq "content type kept" "$(jq -r .content_type <<<"$rec")" "application/x-www-form-urlencoded"

slack_post /slack/commands application/x-www-form-urlencoded 'command=%2Fsentry&text=link&user_id=U0ADA'
eq "Sentry's command forwarded" "$(curl -s "$SIM_URL/extensions/slack/_received" | jq -r '.received[1].path')" "/extensions/slack/commands/"
slack_post /slack/commands application/x-www-form-urlencoded 'command=%2Fsentry-access&text=&user_id=U0ADA'
contains "the bridge's own command answered" "$BODY" '"response_type":"ephemeral"'
slack_post /slack/events application/json '{"type":"event_callback","event":{"type":"link_shared"}}'
eq "events forwarded" "$(curl -s "$SIM_URL/extensions/slack/_received" | jq -r '.received[2].path')" "/extensions/slack/event/"

# A slow Sentry: the person gets a clear message inside Slack's 3 s.
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /extensions/slack/action/","latency_ms":4000,"count":1}' >/dev/null
t0=$(date +%s%N)
slack_post /slack/interactions application/x-www-form-urlencoded "$sentry_click"
t1=$(date +%s%N)
contains "slow Sentry: ephemeral message" "$BODY" "Sentry did not answer in time"
echo "  (slow Sentry answered in $(((t1 - t0) / 1000000)) ms, openssl and curl included)"
check "slow Sentry: answered within 3 s" test $(((t1 - t0) / 1000000)) -lt 2500
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

# The bridge's Silence menu: acknowledged at once, then a silence of the issue.
our_click=$(form_payload '{"type":"block_actions","user":{"id":"U0ADA","username":"ada"},"trigger_id":"t-ours-1","channel":{"id":"C000PAYMENTS"},"actions":[{"action_id":"sb_silence","block_id":"sb_triage:8001","type":"static_select","selected_option":{"value":"1h"},"action_ts":"2.3"}]}')
slack_post /slack/interactions application/x-www-form-urlencoded "$our_click"
eq "our click acknowledged" "$STATUS" 200
eq "our click: empty body" "$BODY" ""
for _ in $(seq 1 100); do
	[ "$(psql "$db" -qAt -c "SELECT count(*) FROM slack_silences WHERE issue = '8001'")" = 1 ] && break
	sleep 0.1
done
eq "silence of the issue, authored by the Slack user" "$(psql "$db" -qAt -c "SELECT author || ' ' || (ends_at > now() + interval '59 minutes')::text FROM slack_silences WHERE issue = '8001'")" "slack:U0ADA (ada) true"
check "ephemeral confirmation" wait_msgs C000PAYMENTS 1
contains "confirmation text" "$(msgs C000PAYMENTS | jq -r '[.messages[] | select(.ephemeral)][-1].text')" "Silenced issue 8001 for 1 hour"
hook event_alert rid-sil-slack "$(ev 2 8001 error production)"
check "alert of the silenced issue settled" wait_status 8001
eq "silenced by the click" "$(outbox | jq -r '[.items[] | select(.issue == "8001")][0].status')" silenced
resolve_click=$(form_payload '{"type":"block_actions","user":{"id":"U0ADA","username":"ada"},"trigger_id":"t-ours-2","channel":{"id":"C000PAYMENTS"},"actions":[{"action_id":"sb_resolve","block_id":"sb_triage:8001","value":"8001","action_ts":"3.4"}]}')
slack_post /slack/interactions application/x-www-form-urlencoded "$resolve_click"
eq "resolve click acknowledged" "$STATUS" 200
# ada@acme.example is not a Sentry member of the demo org: told so, nothing
# changes (the triage itself is tests/integration/test_slack_triage.sh).
for _ in $(seq 1 50); do
	msgs C000PAYMENTS | jq -e '[.messages[] | select(.ephemeral and (.text | contains("not a member")))] | length > 0' >/dev/null && break
	sleep 0.1
done
contains "resolve by a non-member: told" "$(msgs C000PAYMENTS | jq -r '[.messages[] | select(.ephemeral)][-1].text')" "You are not a member of the Sentry organisation as ada@acme.example"

finish
