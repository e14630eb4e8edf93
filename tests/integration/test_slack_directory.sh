#!/usr/bin/env bash
# The cached Slack channel and user directory (issue 8): the refresh walks
# every page within the tier limits, archived channels flagged, Slack
# events keep the cache current, a 429 storm delays the walk, a failed walk
# keeps the old copy (and says so in /readyz and /metrics), routing resolves
# names and e-mails from the cache, unknown channels reported at start-up,
# and the admin API.
source "$(dirname "$0")/lib.sh"

export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789" SENTRY_TOKEN=sim-sentry-token \
	SENTRY_CLIENT_SECRET=it-sentry-client-secret-0123 \
	SLACK_BOT_TOKEN=xoxb-sim-slack-token SLACK_SIGNING_SECRET=it-slack-signing-secret
start_sim sim --demo
SL="$SIM_URL/slack"
# A workspace a little larger than one page of each listing.
curl -s -X POST "$SL/_sim/channels" -d '{"generate": 2500}' >/dev/null
curl -s -X POST "$SL/_sim/users" -d '{"generate": 450}' >/dev/null
curl -s -X DELETE "$SL/_sim/messages" >/dev/null # also resets the call counters
port=$(free_port)
db=$(fresh_db it_slack_dir)
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
slack:
  api_url: \"$SL/api\"
  bot_token_env: SLACK_BOT_TOKEN
  signing_secret_env: SLACK_SIGNING_SECRET
  forward_to_sentry:
    timeout: 1500ms
routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
    - { name: payments, channel: \"#payments\" }
    - { name: nowhere, channel: \"#no-such-channel\" }
    - { name: archived, channel: \"old-alerts\" }
    - { name: ada, email: \"ADA@acme.example\" }
  route:
    receiver: default
    group_wait: 0s
    routes:
      - matchers: [\"environment=nowhere\"]
        receiver: nowhere
        fallback_receiver: default
      - matchers: [\"environment=archived\"]
        receiver: archived
      - matchers: [\"level=fatal\"]
        receiver: ada
      - matchers: [\"team=payments\"]
        receiver: payments"
start_bridge bridge "$T/bridge.yaml"
check "ready" wait_ready "$URL" 20

dir_state() { curl -s "${ADMIN[@]}" "$URL/api/v1/slack/directory"; }
wait_loaded() { # wait_loaded [SECONDS]: both kinds loaded, nothing refreshing
	for _ in $(seq 1 $((${1:-30} * 10))); do
		dir_state | jq -e '.channels.loaded and .users.loaded and (.channels.refreshing | not) and (.users.refreshing | not)' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
attempts() { sql "SELECT string_agg(coalesce(last_attempt_at::text, '-'), ',' ORDER BY kind) FROM slack_directory_state"; }
wait_walk() { # wait_walk BEFORE [SECONDS]: both kinds attempted again since BEFORE (attempts) and done
	for _ in $(seq 1 $((${2:-30} * 10))); do
		[ "$(sql "SELECT bool_and(running_since IS NULL) FROM slack_directory_state")" = t ] &&
			[ "$(sql "SELECT count(*) FROM slack_directory_state WHERE last_attempt_at::text > '${1##*,}' AND last_attempt_at::text > '${1%%,*}'")" = 2 ] && return 0
		sleep 0.1
	done
	return 1
}
stats() { curl -s "$SL/_sim/stats"; }
calls() { stats | jq -r --arg m "$1" '.methods[$m].calls // 0'; }

# ---- the first refresh at start: every page, the fewest calls ----
check "directory loaded after start" wait_loaded 30
eq "channels cached" "$(sql 'SELECT count(*) FROM slack_channels')" 2507
eq "users cached" "$(sql 'SELECT count(*) FROM slack_users')" 455
eq "conversations.list: 3 pages of 1000" "$(calls conversations.list)" 3
eq "users.list: 3 pages of 200" "$(calls users.list)" 3
eq "no 429 on the way" "$(stats | jq '[.methods[].limited] | add')" 0
eq "archived channel flagged" "$(sql "SELECT is_archived FROM slack_channels WHERE name = 'old-alerts'")" t
eq "every archived channel flagged" "$(sql 'SELECT count(*) FROM slack_channels WHERE is_archived')" 101
eq "private channels kept" "$(sql 'SELECT count(*) FROM slack_channels WHERE is_private')" 250
eq "membership kept" "$(sql "SELECT is_member FROM slack_channels WHERE id = 'C0NOTMEMBER'")" f
eq "e-mail kept" "$(sql "SELECT email FROM slack_users WHERE id = 'U0ADA'")" ada@acme.example
eq "bots flagged" "$(sql "SELECT is_bot FROM slack_users WHERE id = 'U0BOT'")" t
eq "state: calls and counts" "$(sql "SELECT entries || ' ' || calls || ' ' || rate_limited || ' ' || (last_error IS NULL) FROM slack_directory_state WHERE kind = 'channels'")" "2507 3 0 true"
eq "state: the bot user learned" "$(sql "SELECT bot_user_id FROM slack_directory_state WHERE kind = 'channels'")" U0BOT

# ---- /readyz details, metrics, and the start-up check of the receivers ----
for _ in $(seq 1 100); do
	curl -s "$URL/readyz" | jq -e '.slack_directory.status == "ok" and (.slack_directory.unresolved_receivers | length) == 2' >/dev/null && break
	sleep 0.1
done
http GET "$URL/readyz"
eq "readyz 200" "$STATUS" 200
eq "readyz: directory ok" "$(jq -r .slack_directory.status <<<"$BODY")" ok
eq "readyz: channel entries" "$(jq -r .slack_directory.channels.entries <<<"$BODY")" 2507
eq "readyz: unresolved receivers" "$(jq -c '[.slack_directory.unresolved_receivers[] | .receiver + ":" + .problem]' <<<"$BODY")" '["nowhere:channel_not_found","archived:is_archived"]'
eq "readyz: config file and line" "$(jq -r '.slack_directory.unresolved_receivers[0].config' <<<"$BODY")" "$T/bridge.yaml:25"
contains "start-up warning names the receiver" "$(log_of bridge)" '"msg":"a routing receiver names a channel the Slack workspace does not have"'
contains "start-up warning names file:line" "$(log_of bridge | grep 'no-such-channel' | head -n 1)" "bridge.yaml:25"
http GET "$URL/metrics"
contains "metric: unresolved receivers" "$BODY" "sb_slack_receivers_unresolved 2"
contains "metric: channel entries" "$BODY" 'sb_slack_directory_entries{kind="channels"} 2507'
contains "metric: user entries" "$BODY" 'sb_slack_directory_entries{kind="users"} 455'
contains "metric: refresh ok" "$BODY" 'sb_slack_directory_refresh_total{kind="channels",outcome="ok"} 1'
contains "metric: age" "$BODY" 'sb_slack_directory_age_seconds{kind="channels"}'

# ---- the admin API ----
api() { http GET "$URL/api/v1/slack/$1" "${ADMIN[@]}"; }
api "channels?search=ALERTS"
eq "search: case-insensitive substring" "$(jq -c '[.channels[].name]' <<<"$BODY")" '["alerts","old-alerts"]'
eq "search: archived shown" "$(jq -c '[.channels[].is_archived]' <<<"$BODY")" '[false,true]'
eq "search: freshness" "$(jq -r '.directory.loaded' <<<"$BODY")" true
api "channels?search=alerts&archived=false"
eq "archived=false filter" "$(jq -c '[.channels[].id]' <<<"$BODY")" '["C0000ALERTS"]'
api "channels?search=gen-12&limit=5"
eq "limit 5" "$(jq '.channels | length' <<<"$BODY")" 5
first=$(jq -c '[.channels[].name]' <<<"$BODY")
eq "sorted by name" "$first" '["gen-12","gen-120","gen-1200","gen-1201","gen-1202"]'
cur=$(jq -r .next_cursor <<<"$BODY")
api "channels?search=gen-12&limit=5&cursor=$cur"
eq "next page after the cursor" "$(jq -c '[.channels[].name]' <<<"$BODY")" '["gen-1203","gen-1204","gen-1205","gen-1206","gen-1207"]'
api "channels?search=gen-12&limit=1000"
eq "all matches, no further cursor" "$(jq -r '(.channels | length | tostring) + " " + (.next_cursor | tostring)' <<<"$BODY")" "111 null"
api "channels?search=gen_1"
eq "LIKE characters are literal" "$(jq '.channels | length' <<<"$BODY")" 0
api "channels?search=zz-none&unknown=1"
eq "unknown query parameters ignored" "$STATUS $(jq '.channels | length' <<<"$BODY")" "200 0"
api "users?email=ADA@ACME.example"
eq "user by e-mail (case-insensitive)" "$(jq -c '[.users[].id]' <<<"$BODY")" '["U0ADA"]'
api "users?search=user44"
eq "user search" "$(jq '.users | length' <<<"$BODY")" 11
t0=$(date +%s%N)
for _ in $(seq 1 20); do api "channels?search=gen-24"; done
t1=$(date +%s%N)
echo "  (20 searches in $(((t1 - t0) / 1000000)) ms, curl included)"
api "channels?limit=0"
eq "limit 0: 400" "$STATUS" 400
api "channels?limit=abc"
eq "limit abc: 400" "$STATUS" 400
contains "limit error names the problem" "$BODY" "limit must be an integer from 1 to 1000"
api "channels?cursor=zz"
eq "bad cursor: 400" "$STATUS" 400
api "channels?archived=maybe"
eq "bad archived: 400" "$STATUS" 400
api "channels?search=$(printf 'x%.0s' $(seq 1 201))"
eq "search too long: 400" "$STATUS" 400
api "users?email=nobody"
eq "bad email: 400" "$STATUS" 400
http GET "$URL/api/v1/slack/channels"
eq "no token: 401" "$STATUS" 401
http POST "$URL/api/v1/slack/directory/refresh"
eq "refresh without token: 401" "$STATUS" 401

# ---- Slack events keep the cache current (signed as Slack signs) ----
ssign() { # ssign TIMESTAMP BODY
	printf 'v0=%s' "$(printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SLACK_SIGNING_SECRET" | sed 's/^.* //')"
}
event() { # event EVENT-JSON [EVENT-TIME]: an event_callback, signed
	local body ts
	body=$(jq -cn --argjson ev "$1" --argjson t "${2:-$(date +%s)}" \
		'{token: "x", team_id: "T0ACME", api_app_id: "A0APP", type: "event_callback", event_id: ("Ev" + ($t | tostring)),
		  event_time: $t, authorizations: [{team_id: "T0ACME", user_id: "U0BOT", is_bot: true}], event: $ev}')
	ts=$(date +%s)
	http POST "$URL/slack/events" -H 'Content-Type: application/json' -H "X-Slack-Request-Timestamp: $ts" \
		-H "X-Slack-Signature: $(ssign "$ts" "$body")" --data-binary "$body"
}
curl -s -X DELETE "$SIM_URL/extensions/slack/_received" >/dev/null
now=$(date +%s)
event '{"type":"channel_created","channel":{"id":"C0NEW00001","name":"brand-new","created":1,"creator":"U0ADA"}}' "$now"
eq "channel_created: 200" "$STATUS" 200
eq "channel_created: cached" "$(sql "SELECT name || ' ' || is_archived FROM slack_channels WHERE id = 'C0NEW00001'")" "brand-new false"
api "channels?search=brand-new"
eq "the search sees the new channel at once (in-memory index reloaded)" "$(jq -c '[.channels[].id]' <<<"$BODY")" '["C0NEW00001"]'
event '{"type":"channel_rename","channel":{"id":"C0NEW00001","name":"renamed","created":1}}' $((now + 1))
eq "channel_rename" "$(sql "SELECT name FROM slack_channels WHERE id = 'C0NEW00001'")" renamed
api "channels?search=renamed"
eq "the search sees the rename at once" "$(jq -c '[.channels[].id]' <<<"$BODY")" '["C0NEW00001"]'
api "channels?search=brand-new"
eq "and not the old name" "$(jq '.channels | length' <<<"$BODY")" 0
# A change written by another replica (here: straight into the table) is
# seen within the watcher's check interval (1 s) through the version count.
v0=$(sql "SELECT version FROM slack_directory_state WHERE kind = 'channels'")
sql "UPDATE slack_channels SET name = 'from-elsewhere' WHERE id = 'C0NOTMEMBER'" >/dev/null
eq "a change moves the version" "$(sql "SELECT version > $v0 FROM slack_directory_state WHERE kind = 'channels'")" t
v1=$(sql "SELECT version FROM slack_directory_state WHERE kind = 'channels'")
sql "UPDATE slack_channels SET name = 'nothing' WHERE id = 'C0NOSUCHCHANNEL'" >/dev/null
eq "a statement that changes nothing does not" "$(sql "SELECT version FROM slack_directory_state WHERE kind = 'channels'")" "$v1"
seen=""
for _ in $(seq 1 40); do
	api "channels?search=from-elsewhere"
	seen=$(jq -c '[.channels[].id]' <<<"$BODY")
	[ "$seen" = '["C0NOTMEMBER"]' ] && break
	sleep 0.1
done
eq "another replica's change reaches the search within seconds" "$seen" '["C0NOTMEMBER"]'
event '{"type":"channel_rename","channel":{"id":"C0NEW00001","name":"stale-name","created":1}}' $((now - 10))
eq "an older event does not win" "$(sql "SELECT name FROM slack_channels WHERE id = 'C0NEW00001'")" renamed
event '{"type":"channel_archive","channel":"C0NEW00001","user":"U0ADA"}' $((now + 2))
eq "channel_archive" "$(sql "SELECT is_archived FROM slack_channels WHERE id = 'C0NEW00001'")" t
event '{"type":"channel_unarchive","channel":"C0NEW00001","user":"U0ADA"}' $((now + 3))
eq "channel_unarchive" "$(sql "SELECT is_archived FROM slack_channels WHERE id = 'C0NEW00001'")" f
event '{"type":"member_joined_channel","user":"U0BOT","channel":"C0NEW00001","channel_type":"C","team":"T0ACME"}' $((now + 4))
eq "member_joined_channel (the bot)" "$(sql "SELECT is_member FROM slack_channels WHERE id = 'C0NEW00001'")" t
event '{"type":"member_joined_channel","user":"U0ADA","channel":"C0NOTMEMBER","channel_type":"C","team":"T0ACME"}' $((now + 4))
eq "member_joined_channel (someone else): no change" "$(sql "SELECT is_member FROM slack_channels WHERE id = 'C0NOTMEMBER'")" f
event '{"type":"channel_deleted","channel":"C0NEW00001"}' $((now + 5))
eq "channel_deleted" "$(sql "SELECT count(*) FROM slack_channels WHERE id = 'C0NEW00001'")" 0
event '{"type":"user_change","user":{"id":"U0BOB","name":"bob","real_name":"Robert","deleted":false,"is_bot":false,"profile":{"email":"robert@acme.example","real_name":"Robert"}}}' "$now"
eq "user_change" "$(sql "SELECT real_name || ' ' || email FROM slack_users WHERE id = 'U0BOB'")" "Robert robert@acme.example"
event '{"type":"team_join","user":{"id":"U0NEWBIE","name":"newbie","real_name":"New Bie","profile":{"email":"newbie@acme.example"}}}' "$now"
eq "team_join" "$(sql "SELECT name || ' ' || email FROM slack_users WHERE id = 'U0NEWBIE'")" "newbie newbie@acme.example"
api "users?email=newbie@acme.example"
eq "the API sees the new user" "$(jq -r '.users[0].id' <<<"$BODY")" U0NEWBIE
eq "directory events are not forwarded to Sentry" "$(curl -s "$SIM_URL/extensions/slack/_received" | jq '.received | length')" 0
event '{"type":"app_mention","user":"U0ADA","text":"<@U0BOT> hi","channel":"C0000ALERTS"}'
eq "other events are forwarded" "$(curl -s "$SIM_URL/extensions/slack/_received" | jq -r '.received[0].path')" /extensions/slack/event/
ts=$(date +%s)
bad='{"type":"event_callback","event":{"type":"channel_deleted","channel":"C0000ALERTS"}}'
http POST "$URL/slack/events" -H 'Content-Type: application/json' -H "X-Slack-Request-Timestamp: $ts" \
	-H "X-Slack-Signature: $(ssign "$ts" "$bad x")" --data-binary "$bad"
eq "unsigned event refused" "$STATUS" 401
eq "and not applied" "$(sql "SELECT count(*) FROM slack_channels WHERE id = 'C0000ALERTS'")" 1
http GET "$URL/metrics"
contains "event metric" "$BODY" 'sb_slack_directory_events_total{type="channel_rename"} 2'

# ---- routing resolves from the cache ----
sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SENTRY_CLIENT_SECRET" | sed 's/^.* //'; }
hook() { # hook REQUEST-ID BODY
	http POST "$URL/hooks/sentry" -H 'Content-Type: application/json' -H "Sentry-Hook-Resource: event_alert" \
		-H "Request-ID: $1" -H "Sentry-Hook-Signature: $(sign "$2")" --data-binary "$2"
}
alert() { # alert PROJECT-ID ISSUE LEVEL ENV
	printf '{"action":"triggered","data":{"event":{"event_id":"ev%s","project":%s,"issue_id":"%s","level":"%s","title":"Boom","environment":"%s","web_url":"https://sentry.example/i/%s/","tags":[]},"triggered_rule":"r"},"actor":{"type":"application","id":"sentry","name":"Sentry"}}' \
		"$2" "$1" "$2" "$3" "$4" "$2"
}
outbox() { curl -s "${ADMIN[@]}" "$URL/api/v1/slack/outbox?limit=1000"; }
settled() { # settled ISSUE: the issue's rows left pending/sending
	for _ in $(seq 1 150); do
		outbox | jq -e --arg i "$1" '[.items[] | select(.issue == $i)] | length > 0 and all(.status != "pending" and .status != "sending")' >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
row() { outbox | jq -r --arg i "$1" '[.items[] | select(.issue == $i)] | max_by(.id) | .receiver + " " + .status + " " + (.reason // "-") + " " + (.last_error // "-")'; }
msgs() { curl -s "$SL/_sim/messages${1:+?channel=$1}"; }
curl -s -X DELETE "$SL/_sim/messages" >/dev/null
hook rid-name-1 "$(alert 2 9001 error production)"
check "alert to a channel by name settled" settled 9001
m=$(msgs C000PAYMENTS)
eq "posted to the channel" "$(jq '.messages | length' <<<"$m")" 1
eq "posted with the channel ID, not the name" "$(jq -r '.messages[0].channel_arg' <<<"$m")" C000PAYMENTS
eq "no listing while sending" "$(calls conversations.list)" 0
hook rid-missing-1 "$(alert 1 9002 error nowhere)"
check "alert to an unknown channel settled" settled 9002
eq "unknown channel: fallback receiver" "$(row 9002)" "default sent fallback after channel_not_found -"
hook rid-archived-1 "$(alert 1 9003 error archived)"
check "alert to an archived channel settled" settled 9003
eq "archived channel: dead letter" "$(row 9003)" "archived dead is_archived is_archived"
eq "archived channel: Slack not called" "$(msgs C0ARCHIVED1 | jq '.messages | length')" 0
lookups=$(calls users.lookupByEmail)
hook rid-dm-1 "$(alert 1 9004 fatal production)"
check "DM settled" settled 9004
eq "DM by cached e-mail" "$(msgs D0ADA | jq '.messages | length')" 1
eq "no users.lookupByEmail" "$(calls users.lookupByEmail)" "$lookups"
http GET "$URL/metrics"
contains "dead-letter metric" "$BODY" 'sb_slack_dead_letters_total{reason="is_archived"} 1'

# ---- a 429 storm delays the walk but it completes ----
curl -s -X DELETE "$SL/_sim/messages" >/dev/null
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"GET /slack/api/conversations.list","status":429,"retry_after":1,"count":3}' >/dev/null
curl -s -X POST "$SL/_sim/channels" -d '{"id":"C0LATE00001","name":"late-comer"}' >/dev/null
a0=$(attempts)
http POST "$URL/api/v1/slack/directory/refresh" "${ADMIN[@]}"
eq "refresh queued: 202" "$STATUS $(jq -r .status <<<"$BODY")" "202 queued"
check "refresh after the 429s" wait_walk "$a0" 30
eq "429s counted in the state" "$(sql "SELECT calls || ' ' || rate_limited || ' ' || (last_error IS NULL) FROM slack_directory_state WHERE kind = 'channels'")" "6 3 true"
eq "the new channel is in" "$(sql "SELECT name FROM slack_channels WHERE id = 'C0LATE00001'")" late-comer
eq "events' channel deleted in Slack stays deleted" "$(sql "SELECT count(*) FROM slack_channels WHERE id = 'C0NEW00001'")" 0
eq "a user the walk did not see is removed" "$(sql "SELECT count(*) FROM slack_users WHERE id = 'U0NEWBIE'")" 0 ||
	sql "SELECT kind, last_attempt_at, last_success_at, running_since, calls, last_error FROM slack_directory_state" >&2
sql "SELECT 'U0NEWBIE event_at ' || coalesce(event_at::text, '-') || ', state: ' || (SELECT string_agg(kind || ' ' || last_attempt_at || ' ' || coalesce(last_success_at::text, '-'), '; ') FROM slack_directory_state) FROM slack_users WHERE id = 'U0NEWBIE'" >&2
http GET "$URL/metrics"
contains "429 metric" "$BODY" 'sb_slack_directory_rate_limited_total{kind="channels"} 3'
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null

# ---- a failed walk keeps the old copy and says so ----
before=$(sql 'SELECT count(*) FROM slack_users')
curl -s -X POST "$SL/_sim/users" -d '{"id":"U0LATE","name":"late","email":"late@acme.example"}' >/dev/null
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"GET /slack/api/users.list","skip":1,"status":500,"count":1000}' >/dev/null
http POST "$URL/api/v1/slack/directory/refresh" "${ADMIN[@]}"
for _ in $(seq 1 200); do
	curl -s "$URL/readyz" | jq -e '.slack_directory.status == "degraded"' >/dev/null && break
	sleep 0.1
done
http GET "$URL/readyz"
eq "readyz stays 200" "$STATUS" 200
eq "readyz: degraded" "$(jq -r .slack_directory.status <<<"$BODY")" degraded
contains "readyz: the error" "$(jq -r .slack_directory.users.last_error <<<"$BODY")" "users.list"
eq "readyz: users still loaded" "$(jq -r .slack_directory.users.loaded <<<"$BODY")" true
eq "old copy kept" "$(sql 'SELECT count(*) FROM slack_users')" "$before"
http GET "$URL/metrics"
contains "failed refresh metric" "$BODY" 'sb_slack_directory_refresh_total{kind="users",outcome="failed"}'
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null
http POST "$URL/api/v1/slack/directory/refresh" "${ADMIN[@]}"
for _ in $(seq 1 300); do
	[ "$(sql "SELECT last_error IS NULL FROM slack_directory_state WHERE kind = 'users'")" = t ] && break
	sleep 0.1
done
eq "recovered: the new user is in" "$(sql 'SELECT count(*) FROM slack_users')" $((before + 1))
eq "the unknown receiver was reported once" "$(log_of bridge | grep -c 'the Slack workspace does not have')" 1

stop_bridge bridge
eq "clean stop" "$STOP_RC" 0
finish
