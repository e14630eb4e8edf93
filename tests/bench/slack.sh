#!/usr/bin/env bash
# tests/bench/slack.sh: the Slack alerting benchmark of issue #8
# (`make bench-slack`). Measurements only: nothing here passes or fails.
#
# 1. Acknowledgements: signed Sentry webhooks (event_alert) to POST
#    /hooks/sentry, open loop at SB_BENCH_RATE (500) per second for
#    SB_BENCH_SECONDS (10) over 16 connections (tests/bench/open_load.c:
#    each latency from its scheduled start). Prints p50/p99 and checks every
#    acknowledged delivery is a row of the inbox (target p99 < 20 ms). These
#    alerts are routed (a muted route), so routing runs too, but they are
#    not posted; the routing lag (received to routed) shows it kept up.
# 2. Alert to message posted, with SB_BENCH_LATENCY_MS (50) added to every
#    upstream answer (the simulator's faults): 100 alerts of 100 new issues
#    at 10/s over 20 channels (0.5 post/s per channel, below Slack's
#    1/s): p50/p99 from the inbox's received_at to the outbox's sent_at
#    (recorded after Slack answered). Target p99 < 1 s.
# 3. A storm of 1,000 alerts (20 issues, one per channel) at 500/s:
#    messages posted, alerts accounted for (the group counts sum to 1,000,
#    every outbox row sent or grouped), and the shortest gap between two
#    posts to one channel as the simulated Slack saw it (>= 1000 ms: the
#    per-channel rate was never exceeded).
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${SB_BENCH_RATE:-500}
secs=${SB_BENCH_SECONDS:-10}
latency=${SB_BENCH_LATENCY_MS:-50}
for t in jq curl cc pkg-config psql; do command -v $t >/dev/null || { echo "bench-slack needs $t" >&2; exit 1; }; done
source tests/bench/lib.sh
bench_start slack --demo
cc -O2 -o "$work/open_load" tests/bench/open_load.c $(pkg-config --cflags --libs libcurl libcrypto) -lpthread

export BRIDGE_ADMIN_TOKEN=bench SENTRY_TOKEN=sim-sentry-token SENTRY_CLIENT_SECRET=bench-sentry-client-secret \
	SLACK_BOT_TOKEN=xoxb-sim-slack-token SLACK_SIGNING_SECRET=bench-slack-signing-secret
sql() { psql "$dsn" -qAt -c "$1"; }

# 20 channels the bot is in, one receiver and one route each.
receivers="" routes=""
for c in $(seq -w 0 19); do
	curl -s -X POST "$sim/slack/_sim/channels" -d "{\"id\":\"CBENCH$c\",\"name\":\"bench-$c\"}" >/dev/null
	receivers+="    - { name: ch$c, channel: CBENCH$c }"$'\n'
	routes+="          - { matchers: [\"tag:ch=ch$c\"], receiver: ch$c }"$'\n'
done
cat >"$work/bench.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: warn }
server: { threads: 8 }
database: { pool_size: 24 }
jobs: { workers: 8 }
sentry:
  base_url: "$sim"
  organization: acme
  token_env: SENTRY_TOKEN
  client_secret_env: SENTRY_CLIENT_SECRET
  http: { max_concurrency: 16, rate_per_sec: 0 }
slack:
  api_url: "$sim/slack/api"
  bot_token_env: SLACK_BOT_TOKEN
  signing_secret_env: SLACK_SIGNING_SECRET
  forward_to_sentry: { enabled: false }
  http: { max_concurrency: 32, rate_per_sec: 0 }
routing:
  receivers:
    - { name: default, channel: "#alerts" }
$receivers
  time_intervals:
    - { name: always, location: UTC, times: ["00:00-24:00"] }
  route:
    receiver: default
    group_wait: 0s
    group_interval: 2s
    routes:
      - matchers: ["tag:phase=ack"]
        mute_time_intervals: [always]
      - matchers: ["tag:phase=latency"]
        routes:
$routes
      - matchers: ["tag:phase=storm"]
        group_wait: 1s
        routes:
$routes
YAML
bench_serve "$work/bench.yaml"
curl -fs -o /dev/null "$url/readyz" || { echo "sentry-bridge did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

body() { # body PHASE ISSUE CHANNEL
	printf '{"action":"triggered","installation":{"uuid":"bench"},"data":{"event":{"event_id":"e%s","project":1,"issue_id":"%s","level":"error","title":"TimeoutError: upstream %s","culprit":"worker.run","environment":"production","web_url":"https://sentry.example/organizations/acme/issues/%s/","tags":[["phase","%s"],["ch","ch%02d"]]},"triggered_rule":"bench"},"actor":{"type":"application","id":"sentry","name":"Sentry"}}\n' \
		"$2" "$2" "$2" "$2" "$1" "$3"
}
settled() { # settled LIKE: no outbox row of these deliveries pending or sending, and every delivery routed
	[ "$(sql "SELECT count(*) FROM inbox WHERE external_id LIKE '$1' AND status = 'pending'")" = 0 ] &&
		[ "$(sql "SELECT count(*) FROM slack_outbox o JOIN inbox i ON i.id = o.inbox_id WHERE i.external_id LIKE '$1' AND o.status IN ('pending', 'sending')")" = 0 ]
}
wait_settled() { # wait_settled LIKE SECONDS
	for _ in $(seq 1 $(($2 * 10))); do settled "$1" && return 0; sleep 0.1; done
	return 1
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo
echo "== 1. acknowledgements: POST /hooks/sentry, signed, open loop at $rate/s for ${secs}s, 16 connections =="
for i in $(seq 0 49); do body ack $((100000 + i)) 0; done >"$work/ack.bodies"
"$work/open_load" --sentry-hook "$url/hooks/sentry" "$SENTRY_CLIENT_SECRET" "$work/ack.bodies" "$rate" "$secs" 16 bench-ack |
	tee "$work/ack.out" | sed 's/^/  /'
ok=$(awk '{print $4}' "$work/ack.out")
stored=$(sql "SELECT count(*) FROM inbox WHERE source = 'sentry' AND external_id LIKE 'bench-ack-%'")
echo "  acknowledged (2xx): $ok, deliveries in the inbox: $stored (every acknowledged delivery stored: $([ "$stored" -ge "$ok" ] && echo yes || echo NO))"
wait_settled 'bench-ack-%' 60 || echo "  (routing of the acknowledged deliveries still running)"
echo "  routed: $(sql "SELECT count(*) FROM slack_outbox o JOIN inbox i ON i.id = o.inbox_id WHERE i.external_id LIKE 'bench-ack-%'") outbox rows (muted route: not posted)"
sql "SELECT '  routing lag (received to routed): p50 ' || round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d) * 1000)::numeric)
            || ' ms, p99 ' || round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d) * 1000)::numeric)
            || ' ms; the last routed ' || round((extract(epoch FROM max(processed_at) - max(received_at)) * 1000)::numeric)
            || ' ms after the last arrived'
     FROM (SELECT processed_at, received_at, extract(epoch FROM processed_at - received_at) AS d FROM inbox
           WHERE external_id LIKE 'bench-ack-%') x"

echo
echo "== 2. alert to message posted: 100 new issues at 10/s over 20 channels, ${latency} ms on every upstream answer =="
curl -s -X DELETE "$sim/slack/_sim/messages" >/dev/null
curl -s -X POST "$sim/_sim/faults" -d "{\"match\":\"*\",\"latency_ms\":$latency}" >/dev/null
for i in $(seq 0 99); do body latency $((200000 + i)) $((i % 20)); done >"$work/lat.bodies"
"$work/open_load" --sentry-hook "$url/hooks/sentry" "$SENTRY_CLIENT_SECRET" "$work/lat.bodies" 10 10 4 bench-lat |
	sed 's/^/  webhooks: /'
wait_settled 'bench-lat-%' 60 || echo "  (not settled after 60 s)"
sql "SELECT '  received to posted: p50 ' || round((percentile_cont(0.5) WITHIN GROUP (ORDER BY d) * 1000)::numeric)
            || ' ms, p99 ' || round((percentile_cont(0.99) WITHIN GROUP (ORDER BY d) * 1000)::numeric)
            || ' ms, max ' || round((max(d) * 1000)::numeric) || ' ms over ' || count(*) || ' messages (' || sum((status = 'sent')::int) || ' sent)'
     FROM (SELECT extract(epoch FROM o.sent_at - i.received_at) AS d, o.status FROM slack_outbox o
           JOIN inbox i ON i.id = o.inbox_id WHERE i.external_id LIKE 'bench-lat-%') x"
curl -s -X DELETE "$sim/_sim/faults" >/dev/null

echo
echo "== 3. storm: 1,000 alerts of 20 issues (one per channel) at 500/s =="
curl -s -X DELETE "$sim/slack/_sim/messages" >/dev/null
for i in $(seq 0 19); do body storm $((300000 + i)) "$i"; done >"$work/storm.bodies"
t0=$(date +%s%N)
"$work/open_load" --sentry-hook "$url/hooks/sentry" "$SENTRY_CLIENT_SECRET" "$work/storm.bodies" 500 2 16 bench-storm |
	sed 's/^/  webhooks: /'
wait_settled 'bench-storm-%' 90 || echo "  (not settled after 90 s)"
t1=$(date +%s%N)
m=$(curl -s "$sim/slack/_sim/messages")
echo "  settled $(((t1 - t0) / 1000000)) ms after the first alert"
echo "  messages posted: $(jq '[.messages[] | select(.channel | startswith("CBENCH")) | select(.thread_ts == null)] | length' <<<"$m") heads," \
	"$(jq '[.messages[] | select(.channel | startswith("CBENCH")) | select(.thread_ts != null)] | length' <<<"$m") thread replies," \
	"$(jq '[.messages[] | select(.channel | startswith("CBENCH")) | .updates] | add // 0' <<<"$m") head updates"
echo "  alerts accounted for: group counts sum to $(sql "SELECT coalesce(sum(alerts), 0) FROM slack_groups WHERE group_key LIKE 'routing.route.routes[2].%'")," \
	"outbox rows sent or grouped: $(sql "SELECT count(*) FROM slack_outbox o JOIN inbox i ON i.id = o.inbox_id WHERE i.external_id LIKE 'bench-storm-%' AND o.status IN ('sent', 'grouped')")" \
	"of $(sql "SELECT count(*) FROM inbox WHERE external_id LIKE 'bench-storm-%'") deliveries"
curl -s "$sim/slack/_sim/stats" >"$work/stats.json"
echo "  shortest gap between two posts to one channel: $(jq '[.min_post_gap_ms | to_entries[] | select(.key | startswith("CBENCH")) | .value] | min // "n/a"' "$work/stats.json") ms" \
	"(per-channel rate exceeded: $(jq '[.min_post_gap_ms | to_entries[] | select(.key | startswith("CBENCH")) | select(.value < 1000)] | if length > 0 then "YES" else "no" end' -r "$work/stats.json"))"
echo "  Slack calls: $(jq -c '.methods | with_entries(.value = "\(.value.calls) (\(.value.limited) x 429)")' "$work/stats.json")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "peak RSS of sentry-bridge: $(awk '/VmHWM/{print $2 " " $3}' /proc/$sb_pid/status)"
