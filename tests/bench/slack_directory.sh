#!/usr/bin/env bash
# tests/bench/slack_directory.sh: the Slack channel and user directory of
# issue 8 (`make bench-slack-directory`). Measurements only: nothing here
# passes or fails.
#
#  1. A refresh of SB_BENCH_CHANNELS (50,000) channels and SB_BENCH_USERS
#     (100,000) users from the simulated Slack: conversations.list with
#     limit=1000, users.list with limit=200, both Tier 2. Slack's Tier 2 is
#     20+ calls per minute per method; the simulator counts calls in 60 s
#     windows, and here its Tier 2 is scaled by SB_BENCH_TIER_SCALE (20):
#     20 x 20 = 400 calls per 60 s window, so the 550 calls meet Slack's
#     429 + Retry-After as they would at the real rate, in a minute or two
#     instead of half an hour. Printed: calls, 429s, wall time per kind,
#     and the time the same number of calls takes at the real 20/min.
#  2. GET /api/v1/slack/channels?search= at SB_BENCH_RATE (100) requests/s
#     for SB_BENCH_SECONDS (20) s, open loop (tests/bench/open_load.c): p50/p99
#     (target p99 under 5 ms), and the same for users?search= and ?email=.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/lib.sh
nch=${SB_BENCH_CHANNELS:-50000}
nus=${SB_BENCH_USERS:-100000}
scale=${SB_BENCH_TIER_SCALE:-20}
rate=${SB_BENCH_RATE:-100}
secs=${SB_BENCH_SECONDS:-20}
for t in curl cc pkg-config jq psql; do command -v $t >/dev/null || { echo "bench-slack-directory needs $t" >&2; exit 1; }; done

bench_start slackdir
cc -O2 -o "$work/open_load" tests/bench/open_load.c $(pkg-config --cflags --libs libcurl libcrypto) -lpthread
SL="$sim/slack"
tier2=$((20 * scale))
curl -s -X POST "$SL/_sim/config" -d "{\"tier2\": $tier2}" >/dev/null
curl -s -X POST "$SL/_sim/channels" -d "{\"generate\": $nch}" >/dev/null
curl -s -X POST "$SL/_sim/users" -d "{\"generate\": $nus}" >/dev/null
curl -s -X DELETE "$SL/_sim/messages" >/dev/null # and the call counters
cat >"$work/bench.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: info }
server: { threads: 8 }
slack:
  api_url: "$SL/api"
  bot_token_env: SLACK_BOT_TOKEN
  signing_secret_env: SLACK_SIGNING_SECRET
  forward_to_sentry: { enabled: false }
  http: { rate_per_sec: 0, max_response_bytes: 64MiB }
YAML
export BRIDGE_ADMIN_TOKEN=bench SLACK_BOT_TOKEN=xoxb-sim-slack-token SLACK_SIGNING_SECRET=bench-signing-secret
AUTH="Authorization: Bearer $BRIDGE_ADMIN_TOKEN"

echo "== 1. directory refresh: $nch channels, $nus users; simulated Tier 2 = $tier2 calls per 60 s (x$scale) =="
t0=$(date +%s%N)
bench_serve "$work/bench.yaml"
kill -0 "$sb_pid" 2>/dev/null || { echo "serve did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
# serve queues the first refresh at start (the scheduler has never run it).
for _ in $(seq 1 3000); do
	done_kinds=$(psql "$dsn" -qAt -c "SELECT count(*) FROM slack_directory_state WHERE last_success_at IS NOT NULL OR last_error IS NOT NULL" 2>/dev/null || echo 0)
	[ "$done_kinds" = 2 ] && break
	sleep 0.2
done
t1=$(date +%s%N)
psql "$dsn" -qAt -F ' ' -c "SELECT kind, entries, calls, rate_limited, duration_ms, coalesce(last_error, 'ok') FROM slack_directory_state ORDER BY kind" |
	while read -r kind entries calls limited ms status; do
		real=$(awk -v c="$calls" 'BEGIN { printf "%.1f", c / 20 }')
		printf '  %-8s %7d entries  %4d calls  %3d x 429  %7.1f s  (%s; at the real 20 calls/min: ~%s min)\n' \
			"$kind" "$entries" "$calls" "$limited" "$(awk -v m="$ms" 'BEGIN { print m / 1000 }')" "$status" "$real"
	done
echo "  whole refresh from start: $(( (t1 - t0) / 1000000 )) ms"
echo "  simulator: $(curl -s "$SL/_sim/stats" | jq -c '.methods | with_entries(select(.key | test("list"))) ')"
grep -o '"msg":"directory refreshed"[^}]*' "$work/serve.log" | sed 's/^/  log: /' || true
echo "  PostgreSQL: $(psql "$dsn" -qAt -c "SELECT 'slack_channels ' || pg_size_pretty(pg_total_relation_size('slack_channels')) || ', slack_users ' || pg_size_pretty(pg_total_relation_size('slack_users')) || ', pg_trgm ' || CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN 'installed' ELSE 'absent' END")"

echo
echo "== 2. searches from the cache at $rate req/s for ${secs}s (load average now: $(cut -d" " -f1-3 /proc/loadavg)) =="
: >"$work/urls"
for s in gen-4242 gen-12 gen-999 4242 42 gen-1 alerts payments zz-none gen-4999 777 gen-3 0001 -12 99999; do
	echo "$url/api/v1/slack/channels?search=$s" >>"$work/urls"
done
echo "  channels?search= ($(wc -l <"$work/urls") terms, limit 100 by default: gen-4242, gen-12, 42, zz-none, ...)"
"$work/open_load" "$work/urls" "$rate" "$secs" 4 "$AUTH" | sed 's/^/    /'
: >"$work/urls"
for s in user4242 user12 99999 ada acme zz-none user1 5000; do
	echo "$url/api/v1/slack/users?search=$s" >>"$work/urls"
done
echo "  users?search= ($(wc -l <"$work/urls") terms)"
"$work/open_load" "$work/urls" "$rate" "$secs" 4 "$AUTH" | sed 's/^/    /'
: >"$work/urls"
for i in 1 77 4242 9999 31337 65000 99998; do
	echo "$url/api/v1/slack/users?email=user$i@acme.example" >>"$work/urls"
done
echo "  users?email= ($(wc -l <"$work/urls") addresses)"
"$work/open_load" "$work/urls" "$rate" "$secs" 4 "$AUTH" | sed 's/^/    /'
echo "  time inside the bridge, from sb_http_request_duration_seconds (cumulative buckets):"
curl -s "$url/metrics" | grep -E '^sb_http_request_duration_seconds_(bucket|count).*route="/api/v1/slack/(channels|users)"' |
	grep -E 'le="0.001"|le="0.0025"|le="0.005"|le="0.01"|_count' | sed 's/^/    /'
