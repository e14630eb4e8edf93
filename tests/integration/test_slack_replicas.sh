#!/usr/bin/env bash
# Slack delivery under failure (issue 8): two replicas sharing one database
# post each group once; kill -9 with a full outbox posts every message once
# after the restart.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789" SENTRY_TOKEN=sim-sentry-token \
	SENTRY_CLIENT_SECRET=it-sentry-client-secret-0123 SLACK_BOT_TOKEN=xoxb-sim-slack-token \
	SLACK_SIGNING_SECRET=it-slack-signing-secret
start_sim sim --demo
SL="$SIM_URL/slack"
db=$(fresh_db it_slack_replicas)
cfg() { # cfg FILE PORT [GROUP_WAIT]
	write_config "$1" "$2" "$db" "jobs:
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
routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
  route:
    receiver: default
    group_wait: ${3:-3s}
    group_interval: 2s"
}
pa=$(free_port)
pb=$(free_port)
cfg "$T/a.yaml" "$pa"
cfg "$T/b.yaml" "$pb"
start_bridge a "$T/a.yaml"
start_bridge b "$T/b.yaml"
check "replica a ready" wait_ready "http://127.0.0.1:$pa" 20
check "replica b ready" wait_ready "http://127.0.0.1:$pb" 20
curl -s -X DELETE "$SL/_sim/messages" >/dev/null

sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SENTRY_CLIENT_SECRET" | sed 's/^.* //'; }
hook_to() { # hook_to PORT REQUEST-ID BODY
	http POST "http://127.0.0.1:$1/hooks/sentry" -H 'Content-Type: application/json' \
		-H 'Sentry-Hook-Resource: event_alert' -H "Request-ID: $2" -H "Sentry-Hook-Signature: $(sign "$3")" \
		--data-binary "$3"
}
ev() { # ev ISSUE
	printf '{"action":"triggered","data":{"event":{"project":1,"issue_id":"%s","level":"error","title":"Boom %s","environment":"production","tags":[]},"triggered_rule":"r"}}' "$1" "$1"
}
rows() { psql "$db" -qAt -c "SELECT count(*) FROM slack_outbox WHERE issue LIKE '$1%'"; }
settled() { # settled PREFIX N: N rows, none pending or sending
	for _ in $(seq 1 600); do
		[ "$(psql "$db" -qAt -c "SELECT count(*) FROM slack_outbox WHERE issue LIKE '$1%' AND status IN ('sent', 'grouped')")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
heads() { # heads PREFIX: messages (not replies) about issues with this prefix
	curl -s "$SL/_sim/messages?channel=C0000ALERTS" |
		jq --arg p "Boom $1" '[.messages[] | select(.thread_ts == null and (.blocks[0].text.text | startswith($p)))] | length'
}

# Two replicas: alerts of 4 issues arrive at both, each delivery twice (a
# redelivery to the other replica).
bad=0
for i in $(seq 1 40); do
	body=$(ev "90$((i % 4))")
	hook_to "$pa" "rid-rep-$i" "$body"
	[ "$STATUS" = 200 ] || bad=$((bad + 1))
	hook_to "$pb" "rid-rep-$i" "$body"
	[ "$STATUS" = 200 ] || bad=$((bad + 1))
done
eq "every delivery acknowledged" "$bad" 0
check "two replicas: all 40 alerts delivered" settled 90 40
eq "redeliveries stored once" "$(rows 90)" 40
eq "two replicas: one head message per issue" "$(heads 90)" 4
eq "two replicas: heads count every alert" "$(psql "$db" -qAt -c "SELECT sum(alerts) FROM slack_groups WHERE group_key LIKE '%issue=\"90%'")" 40
echo "  (chat.postMessage 429s from the simulator while two replicas posted: $(curl -s "$SL/_sim/stats" | jq '.methods["chat.postMessage"].limited'))"
stop_bridge b
stop_bridge a
cfg "$T/k.yaml" "$pa" 15s
start_bridge a "$T/k.yaml"
check "replica a ready again (group_wait 15s)" wait_ready "http://127.0.0.1:$pa" 20

# kill -9 with a full outbox: the alerts are routed and waiting for
# group_wait when the process dies; after the restart each group is posted once.
for i in $(seq 1 20); do hook_to "$pa" "rid-kill-$i" "$(ev "91$((i % 2))")"; done
for _ in $(seq 1 100); do [ "$(rows 91)" = 20 ] && break; sleep 0.1; done
eq "outbox full before the kill" "$(psql "$db" -qAt -c "SELECT count(*) FROM slack_outbox WHERE issue LIKE '91%' AND status = 'pending'")" 20
kill -9 "$(cat "$T/a.pid")"
rm -f "$T/a.pid"
sleep 0.5
eq "nothing posted before the restart" "$(heads 91)" 0
start_bridge a2 "$T/k.yaml"
check "after kill -9: all 20 alerts delivered" settled 91 20
eq "after kill -9: one head per issue" "$(heads 91)" 2

finish
