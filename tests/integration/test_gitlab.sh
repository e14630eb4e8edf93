#!/usr/bin/env bash
# The GitLab proxy (issue 6) against the simulated GitLab and a real
# PostgreSQL: compatibility of cached answers with GitLab's own (status,
# body, pagination headers; Sentry's exact request sequence), authorization
# with the caller's token, pass-through, refresh under 429s and 5xx, the
# `gitlab refresh` command, readiness details and a restart on a warm cache.
source "$(dirname "$0")/lib.sh"

start_sim sim
port=$(free_port)
db=$(fresh_db it_gitlab)
URL="http://127.0.0.1:$port"
P="$URL/gitlab"
write_config "$T/bridge.yaml" "$port" "$db" "gitlab:
  base_url: \"$SIM_URL\"
  token_env: GITLAB_TOKEN
  proxy_prefix: /gitlab
  scope: [acme]
  refresh_interval: 1h
  auth_cache_ttl: 5m
  proxy_timeout: 5s"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export GITLAB_TOKEN="sim-gitlab-token"
ALICE="PRIVATE-TOKEN: sim-gitlab-alice"

fault() { curl -sS -o /dev/null -X POST "$SIM_URL/_sim/faults" -d "$1"; }
clear_faults() { curl -sS -o /dev/null -X DELETE "$SIM_URL/_sim/faults"; }

# The first refresh fails: GitLab answers 500 to every subgroup listing.
fault '{"match": "GET /api/v4/groups/*/subgroups", "status": 500}'
start_bridge bridge "$T/bridge.yaml"
check "ready within 20 s" wait_ready "$URL" 20
for _ in $(seq 1 100); do
	http GET "$URL/readyz"
	case "$BODY" in *'"last_refresh":"failed"'*) break ;; esac
	sleep 0.1
done
contains "readyz says the refresh failed" "$BODY" '"last_refresh":"failed"'
contains "readyz names the error" "$BODY" 'GitLab answered 500'
contains "readyz: no cache yet" "$BODY" '"cache_loaded":false'
http GET "$URL/metrics"
contains "refresh failure metric" "$BODY" 'sb_gitlab_refresh_ok 0'
http GET "$P/api/v4/groups/100/projects?simple=true&include_subgroups=true" -H "$ALICE"
eq "no cache: passes through" "$STATUS" 200
eq "no cache: not a cache hit" "$(header X-Bridge-Cache)" ""

# `gitlab refresh` under 429s: the walk waits and retries.
clear_faults
fault '{"match": "GET /api/v4/groups/*/projects", "status": 429, "retry_after": 1, "count": 3}'
rc=0
out=$("$SB_BIN" --config "$T/bridge.yaml" gitlab refresh 2>"$T/cli.err") || rc=$?
eq "refresh under 429s exits 0" "$rc" 0
[ "$rc" = 0 ] || cat "$T/cli.err"
contains "refresh reports the tree" "$out" "6 groups, 143 projects"
clear_faults
for _ in $(seq 1 100); do
	http GET "$URL/readyz"
	case "$BODY" in *'"cache_loaded":true'*) break ;; esac
	sleep 0.1
done
contains "the service loaded the stored snapshot" "$BODY" '"projects":143'

# A refresh that fails on 5xx leaves the stored snapshot alone.
before=$(psql "$db" -qAt -c 'SELECT max(id) FROM gitlab_cache_snapshots')
fault '{"match": "GET /api/v4/groups/102/projects", "status": 503}'
rc=0
"$SB_BIN" --config "$T/bridge.yaml" gitlab refresh >/dev/null 2>"$T/cli.err" || rc=$?
check "refresh under 5xx fails" test "$rc" -ne 0
contains "refresh failure names GitLab's answer" "$(cat "$T/cli.err")" "GitLab answered 503"
eq "stored snapshot unchanged" "$(psql "$db" -qAt -c 'SELECT max(id) FROM gitlab_cache_snapshots')" "$before"
clear_faults

# ---- compatibility: the same request to GitLab and through the proxy ----
norm_link() { sed -E 's#<https?://[^/>]*(/gitlab)?#<#g'; }
compare() { # compare DESCRIPTION PATH?QUERY [auth header]
	local desc=$1 path=$2 auth=${3:-$ALICE}
	http GET "$SIM_URL$path" -H "$auth"
	local s1=$STATUS b1=$BODY
	local h1
	h1=$(for h in X-Page X-Per-Page X-Next-Page X-Prev-Page X-Total X-Total-Pages Link; do
		printf '%s=%s\n' "$h" "$(header "$h")"
	done | norm_link)
	http GET "$P$path" -H "$auth"
	local h2
	h2=$(for h in X-Page X-Per-Page X-Next-Page X-Prev-Page X-Total X-Total-Pages Link; do
		printf '%s=%s\n' "$h" "$(header "$h")"
	done | norm_link)
	if [ "$s1" = "$STATUS" ] && [ "$b1" = "$BODY" ] && [ "$h1" = "$h2" ]; then
		pass "$desc"
	else
		fail "$desc: status $s1 vs $STATUS"
		[ "$b1" = "$BODY" ] || echo "    body differs: ${b1:0:200} | ${BODY:0:200}"
		[ "$h1" = "$h2" ] || diff <(echo "$h1") <(echo "$h2") | head -10 || true
	fi
	LAST_CACHE=$(header X-Bridge-Cache || true)
}

# Sentry's exact sequence: pages of 100 until one comes back short.
q='include_subgroups=True&simple=True&order_by=last_activity_at&page=PAGE&per_page=100'
for page in 1 2; do
	compare "Sentry's listing, page $page" "/api/v4/groups/100/projects?${q/PAGE/$page}"
	eq "Sentry's listing, page $page from the cache" "$LAST_CACHE" "hit"
done
http GET "$P/api/v4/groups/100/projects?${q/PAGE/2}" -H "Authorization: Bearer sim-gitlab-alice"
n=$(echo "$BODY" | jq length)
eq "page 2 is short (143 projects)" "$n" 43
compare "Sentry's search" "/api/v4/groups/100/projects?include_subgroups=True&simple=True&order_by=last_activity_at&page=1&per_page=100&search=serv"
compare "search, Bearer token" "/api/v4/groups/100/projects?search=API&simple=true&include_subgroups=true" "Authorization: Bearer sim-gitlab-alice"
compare "search without match" "/api/v4/groups/100/projects?search=zzz&simple=1&include_subgroups=1"
compare "own projects only" "/api/v4/groups/102/projects?simple=true"
compare "by name asc, small pages" "/api/v4/groups/100/projects?simple=true&include_subgroups=true&order_by=name&sort=asc&per_page=7&page=3"
for ob in id path created_at updated_at star_count; do
	compare "order_by=$ob" "/api/v4/groups/100/projects?simple=true&include_subgroups=true&order_by=$ob&per_page=100&page=2"
done
compare "similarity" "/api/v4/groups/100/projects?simple=true&include_subgroups=true&order_by=similarity&search=alert"
compare "archived only" "/api/v4/groups/100/projects?simple=true&include_subgroups=true&archived=true"
compare "not archived" "/api/v4/groups/102/projects?simple=true&archived=false"
compare "with_shared=false" "/api/v4/groups/102/projects?simple=true&with_shared=false"
compare "full path id" "/api/v4/groups/acme%2Fplatform/projects?simple=true&include_subgroups=true"
compare "full path, other case" "/api/v4/groups/ACME%2FPlatform/projects?simple=True"
compare "per_page above 100 is clamped" "/api/v4/groups/100/projects?simple=true&include_subgroups=true&per_page=500"
compare "page past the end" "/api/v4/groups/100/projects?simple=true&include_subgroups=true&page=99"
compare "per_page=0 is refused" "/api/v4/groups/100/projects?simple=true&per_page=0"
compare "page=abc is refused" "/api/v4/groups/100/projects?simple=true&page=abc"
compare "bad boolean is refused" "/api/v4/groups/100/projects?simple=true&include_subgroups=maybe"
compare "bad order_by is refused" "/api/v4/groups/100/projects?simple=true&order_by=stars"
compare "bad sort is refused" "/api/v4/groups/100/projects?simple=true&sort=up"
compare "subgroups" "/api/v4/groups/100/subgroups"
eq "subgroups from the cache" "$LAST_CACHE" "hit"
compare "subgroups by path desc" "/api/v4/groups/100/subgroups?order_by=path&sort=desc&per_page=2&page=2"
compare "descendant groups" "/api/v4/groups/100/descendant_groups"
compare "descendant groups, search" "/api/v4/groups/acme%2Fmobile/descendant_groups?search=DES"
compare "descendant groups by id" "/api/v4/groups/100/descendant_groups?order_by=id&per_page=3"
compare "group" "/api/v4/groups/100"
eq "group from the cache" "$LAST_CACHE" "hit"
compare "group by path without projects" "/api/v4/groups/acme%2Fpayments?with_projects=false"
compare "instance-level projects" "/api/v4/projects?membership=True&simple=True&search=design&order_by=last_activity_at&per_page=100&page=1"
eq "instance-level from the cache" "$LAST_CACHE" "hit"

# ---- authorization ----
compare "no access: GitLab's 404" "/api/v4/groups/100/projects?simple=true" "PRIVATE-TOKEN: sim-gitlab-mallory"
contains "404 body" "$BODY" '{"message":"404 Group Not Found"}'
compare "bad token: GitLab's 401" "/api/v4/groups/100/projects?simple=true" "PRIVATE-TOKEN: not-a-token"
contains "401 body" "$BODY" '{"message":"401 Unauthorized"}'
compare "no token: 404" "/api/v4/groups/100/subgroups" "X-None: 1"
eq "no token: GitLab answers" "$LAST_CACHE" ""
compare "NUL in the group id" "/api/v4/groups/acme%00x/projects?simple=true"
eq "NUL in the group id: GitLab answers" "$LAST_CACHE" ""
compare "bob cannot see acme" "/api/v4/groups/100/projects?simple=true&include_subgroups=true" "PRIVATE-TOKEN: sim-gitlab-bob"
compare "bob sees acme/platform" "/api/v4/groups/101/projects?simple=true&include_subgroups=true" "PRIVATE-TOKEN: sim-gitlab-bob"
eq "bob's answer from the cache" "$LAST_CACHE" "hit"
compare "bob's instance-level listing" "/api/v4/projects?membership=true&simple=true&per_page=100" "PRIVATE-TOKEN: sim-gitlab-bob"
eq "bob sees part of a root: GitLab answers" "$LAST_CACHE" ""
http GET "$URL/metrics"
contains "auth verdicts are cached" "$BODY" 'sb_gitlab_auth_checks_total{result="allowed",cached="yes"}'
contains "cache hits counted" "$BODY" 'sb_gitlab_cache_hits_total{endpoint="group_projects"}'

# ---- pass-through ----
http POST "$P/api/v4/projects/1001/issues" -H "$ALICE" -H 'Content-Type: application/json' \
	--data '{"title": "Crash in checkout", "description": "From Sentry"}'
eq "POST issue passes through: 201" "$STATUS" 201
contains "created issue" "$BODY" '"title":"Crash in checkout"'
http GET "$SIM_URL/api/v4/projects/1001/issues" -H "$ALICE"
contains "the issue is in GitLab" "$BODY" '"title":"Crash in checkout"'
http POST "$P/api/v4/projects/1001/issues" -H "$ALICE" -H 'Content-Type: application/json' --data '{}'
eq "GitLab's 400 passes through" "$STATUS" 400
eq "its body too" "$BODY" '{"error":"title is missing"}'
compare "out of scope passes through" "/api/v4/groups/900000/projects?simple=true" "PRIVATE-TOKEN: sim-gitlab-token"
eq "out of scope: not from the cache" "$LAST_CACHE" ""
compare "unsupported parameter passes through" "/api/v4/groups/100/projects?simple=true&visibility=private"
eq "unsupported parameter: not from the cache" "$LAST_CACHE" ""
http GET "$P/api/v4/groups/100/projects?simple=true" -H "$ALICE"
check "RateLimit headers of GitLab are not invented on cached answers" test -z "$(header RateLimit-Limit)"
http GET "$P/api/v4/user" -H "$ALICE"
eq "GET /user passes through" "$STATUS" 200
check "upstream headers are relayed" test -n "$(header RateLimit-Limit)"
http GET "$P/api/v4/groups/%2E%2E/projects" -H "$ALICE"
eq "dot segment refused" "$STATUS" 404
http GET "$URL/gitl%61b/api/v4/user" -H "$ALICE"
eq "an escaped prefix is refused (it would shift the upstream URL)" "$STATUS" 404
fault '{"match": "GET /api/v4/user", "status": 502}'
http GET "$P/api/v4/user" -H "$ALICE"
eq "upstream 502 relayed" "$STATUS" 502
clear_faults
fault '{"match": "GET /api/v4/user", "latency_ms": 8000}'
http GET "$P/api/v4/user" -H "$ALICE"
eq "upstream timeout: 504" "$STATUS" 504
clear_faults

# ---- restart on a warm cache, with GitLab's listings failing ----
stop_bridge bridge
eq "clean stop" "$STOP_RC" 0
fault '{"match": "GET /api/v4/groups/*/subgroups", "status": 500}'
start_bridge bridge2 "$T/bridge.yaml"
check "ready again" wait_ready "$URL" 20
for _ in $(seq 1 50); do
	http GET "$URL/readyz"
	case "$BODY" in *'"cache_loaded":true'*) break ;; esac
	sleep 0.1
done
contains "warm cache loaded at start" "$BODY" '"projects":143'
compare "served at once after a restart" "/api/v4/groups/100/projects?${q/PAGE/1}"
eq "restart: from the cache" "$LAST_CACHE" "hit"
clear_faults
stop_bridge bridge2
finish
