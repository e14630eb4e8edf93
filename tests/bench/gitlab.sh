#!/usr/bin/env bash
# tests/bench/gitlab.sh: the GitLab proxy benchmark of issue #6
# (`make bench-gitlab`). Measurements only: nothing here passes or fails.
#
# A simulated GitLab scope of SB_BENCH_PROJECTS (50,000) projects in
# SB_BENCH_SUBGROUPS (5,000) subgroups of group bigco:
#   0. the cache walk (`sentry-bridge gitlab refresh`): time, requests;
#   1. Sentry's full listing sequence (ten pages of 100, include_subgroups=True,
#      order_by=last_activity_at, sequential, 10 s client timeout) through
#      the proxy;
#   2. searches at SB_BENCH_RATE (200) requests/s for SB_BENCH_SECONDS (20)
#      through the proxy (open loop, tests/bench/open_load.c): p50/p99;
#   3. the same sequence sent directly to the simulated GitLab, whose
#      include_subgroups=true query slows down with the size of the group.
set -euo pipefail
cd "$(dirname "$0")/../.."
nproj=${SB_BENCH_PROJECTS:-50000}
nsub=${SB_BENCH_SUBGROUPS:-5000}
rate=${SB_BENCH_RATE:-200}
secs=${SB_BENCH_SECONDS:-20}
for t in curl cc pkg-config; do command -v $t >/dev/null || { echo "bench-gitlab needs $t" >&2; exit 1; }; done
work=$(mktemp -d /tmp/sb-bench-gitlab.XXXXXX)
chmod 755 "$work"
sim_pid="" sb_pid=""
cleanup() {
	[ -n "$sb_pid" ] && kill "$sb_pid" 2>/dev/null
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
	wait 2>/dev/null || true
	scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/open_load" tests/bench/open_load.c $(pkg-config --cflags --libs libcurl libcrypto) -lpthread
cc -std=c11 -D_GNU_SOURCE -O2 -iquote . -iquote bridge/core -o "$work/gl_index" tests/bench/gl_index.c integrations/gitlab/gl_cache.c \
	integrations/gitlab/gl_query.c bridge/core/buf.c bridge/core/http.c bridge/core/err.c $(pkg-config --cflags --libs jansson)
build/release/sentry-bridge-sim --listen 127.0.0.1:0 --port-file "$work/sim.port" --gitlab-projects "$nproj" \
	--gitlab-subgroups "$nsub" --threads 8 --quiet 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
sim="http://127.0.0.1:$(cat "$work/sim.port")"
dsn=$(scripts/pg.sh start "$work/pg")
port=$(( (RANDOM % 12000) + 20000 ))
url="http://127.0.0.1:$port"
cat >"$work/bench.yaml" <<YAML
listen: "127.0.0.1:$port"
database_url: "$dsn"
admin_token_env: BRIDGE_ADMIN_TOKEN
log: { level: warn }
server: { threads: 8 }
gitlab:
  base_url: "$sim"
  token_env: GITLAB_TOKEN
  scope: [bigco]
  refresh_interval: 24h
  http: { max_concurrency: 16, rate_per_sec: 0, timeout: 30s }
YAML
export BRIDGE_ADMIN_TOKEN=bench GITLAB_TOKEN=sim-gitlab-token
AUTH="Authorization: Bearer sim-gitlab-alice"

echo "== 0. cache walk: $nproj projects in $nsub subgroups =="
build/release/sentry-bridge --config "$work/bench.yaml" gitlab refresh 2>"$work/refresh.err" || {
	cat "$work/refresh.err" >&2
	exit 1
}
echo "snapshot stored: $(psql "$dsn" -qAt -c "SELECT pg_size_pretty(sum(length(data))::bigint) FROM gitlab_cache_snapshots")"
echo "the index alone (tests/bench/gl_index.c, no HTTP):"
psql "$dsn" -qAt -c "SELECT data FROM gitlab_cache_snapshots ORDER BY id DESC LIMIT 1" >"$work/snap.json"
"$work/gl_index" "$work/snap.json" 1 alpha alp orbit-or "xenon 1" api gateway zzz kep
t_start=$(date +%s%N)
build/release/sentry-bridge --config "$work/bench.yaml" serve 2>"$work/serve.log" &
sb_pid=$!
for _ in $(seq 1 600); do
	curl -fs "$url/readyz" 2>/dev/null | grep -q '"cache_loaded":true' && break
	sleep 0.05
done
echo "restart to first cached answer possible: $(( ($(date +%s%N) - t_start) / 1000000 )) ms (process start, schema check, snapshot load and index)"
echo "bridge resident memory with the cache loaded: $(( $(ps -o rss= -p "$sb_pid") / 1024 )) MiB"

sequence() { # sequence BASE: Sentry's ten pages, sequential, 10 s timeout each
	local base=$1 total=0 page t code
	for page in $(seq 1 10); do
		read -r code t < <(curl -s -o "$work/page.json" -w '%{http_code} %{time_total}\n' --max-time 10 -H "$AUTH" \
			"$base/api/v4/groups/1/projects?include_subgroups=True&simple=True&order_by=last_activity_at&page=$page&per_page=100" || true)
		total=$(awk -v a="$total" -v b="$t" 'BEGIN{printf "%.3f", a+b}')
		if [ "$code" != 200 ]; then
			echo "  page $page: status ${code:-none} after ${t} s -> Sentry gives up; sequence failed after ${total} s"
			return
		fi
		printf '  page %2d: %s items in %.1f ms\n' "$page" "$(grep -o '"name_with_namespace"' "$work/page.json" | wc -l)" \
			"$(awk -v t="$t" 'BEGIN{print t*1000}')"
	done
	echo "  full sequence: $(awk -v t="$total" 'BEGIN{printf "%.1f", t*1000}') ms"
}

echo
echo "== 1. Sentry's full sequence through the proxy =="
sequence "$url/gitlab" # the first call also checks alice's token upstream
echo "  (again, token verdict cached)"
sequence "$url/gitlab"

echo
echo "== 2. searches at $rate req/s for ${secs}s through the proxy =="
words="alpha bravo cargo delta ember falcon garnet harbor indigo jasper kepler lumen magnet nova orbit pixel quartz raven sierra tango api web worker gateway billing search auth ledger mobile infra data ml docs tools"
: >"$work/urls"
for w in $words; do
	for s in "$w" "${w:0:3}" "$w-${w:0:2}" "$w 1"; do
		echo "$url/gitlab/api/v4/groups/1/projects?include_subgroups=True&simple=True&order_by=last_activity_at&page=1&per_page=100&search=$(printf %s "$s" | sed 's/ /%20/g')" >>"$work/urls"
	done
done
echo "  $(wc -l <"$work/urls") distinct search URLs, e.g. search=alp and search=orbit"
"$work/open_load" "$work/urls" "$rate" "$secs" 8 "$AUTH" | sed 's/^/  /'
echo "  time inside the bridge, from sb_http_request_duration_seconds (cumulative buckets):"
curl -s "$url/metrics" | grep -E '^sb_http_request_duration_seconds_(bucket|count).*route="/gitlab/\*"' |
	grep -E 'le="0.001"|le="0.0025"|le="0.005"|le="0.01"|le="0.025"|_count' | sed 's/^/    /'

echo
echo "== 3. the same sequence sent directly to the simulated GitLab =="
sequence "$sim"
