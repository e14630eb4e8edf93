#!/usr/bin/env bash
# selftest.sh: end-to-end check of sentry-bridge-sim through its HTTP API.
#
# usage: tests/sim/selftest.sh /path/to/sentry-bridge-sim
#
# Starts the simulator on a free port (--port-file), exercises the documented
# Okta, Sentry and control calls with curl, prints one PASS/FAIL line per
# check and exits non-zero if any check failed. The simulator is always
# stopped (trap). Needs only bash, curl, coreutils, grep and sed; works as
# root and as a normal user.
set -u

SIM=${1:-}
if [ -z "$SIM" ] || [ ! -x "$SIM" ]; then
	echo "usage: $0 /path/to/sentry-bridge-sim" >&2
	exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sim-selftest.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
CHECKS=0
pass() { CHECKS=$((CHECKS + 1)); echo "PASS: $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*"; }

# ok COND-EXIT-STATUS DESCRIPTION [DETAIL]: record the outcome of the previous test command
ok() {
	if [ "$1" -eq 0 ]; then pass "$2"; else fail "$2${3:+ ($3)}"; fi
}

OKTA_AUTH='Authorization: SSWS sim-okta-token'
SENTRY_AUTH='Authorization: Bearer sim-sentry-token'

# req METHOD URL [curl args...]: sets STATUS, BODY, and $TMP/hdrs; CURLRC is curl's exit code
req() {
	local method=$1 url=$2
	shift 2
	: >"$TMP/body"
	: >"$TMP/hdrs"
	STATUS=$(curl -sS --max-time 20 -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' \
		-X "$method" "$@" "$url" 2>"$TMP/curl.err")
	CURLRC=$?
	BODY=$(cat "$TMP/body")
}

# json_post METHOD URL AUTH-HEADER JSON
json_req() {
	local method=$1 url=$2 auth=$3 data=$4
	req "$method" "$url" -H "$auth" -H 'Content-Type: application/json' --data-binary "$data"
}

# header NAME: value of the first response header NAME (case-insensitive), CR stripped
header() {
	grep -i "^$1:" "$TMP/hdrs" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

# num KEY: first integer value of "KEY": in BODY
num() {
	printf '%s' "$BODY" | grep -o "\"$1\":[0-9]*" | head -n 1 | sed 's/.*://'
}

start_sim() {
	rm -f "$TMP/port"
	"$SIM" --listen 127.0.0.1:0 --port-file "$TMP/port" --quiet "$@" 2>"$TMP/sim.log" &
	PID=$!
	for _ in $(seq 1 200); do
		[ -s "$TMP/port" ] && break
		if ! kill -0 "$PID" 2>/dev/null; then
			echo "FAIL: simulator exited during start-up:" >&2
			cat "$TMP/sim.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	if [ ! -s "$TMP/port" ]; then
		echo "FAIL: no port file after 10 s" >&2
		exit 1
	fi
	PORT=$(cat "$TMP/port")
	B="http://127.0.0.1:$PORT"
}

start_sim --users 1050 --groups 12 --seed 3

# ---- control basics ---------------------------------------------------------------------------
req GET "$B/_sim/health"
[ "$STATUS" = 200 ] && [ "$BODY" = '{"ok":true}' ]
ok $? "control: GET /_sim/health" "$STATUS $BODY"

req GET "$B/_sim/state"
LISTED=$(num usersListed)
MEMBERS=$(printf '%s' "$BODY" | sed 's/.*"sentry":{[^}]*"members":\([0-9]*\).*/\1/')
[ "$STATUS" = 200 ] && [ -n "$LISTED" ] && [ "$LISTED" -gt 900 ] && [ "$MEMBERS" -gt 100 ]
ok $? "control: GET /_sim/state summary (users listed $LISTED, sentry members $MEMBERS)"

# ---- Okta: auth -------------------------------------------------------------------------------
req GET "$B/api/v1/users?limit=1"
[ "$STATUS" = 401 ] && printf '%s' "$BODY" | grep -q '"errorCode":"E0000011"' &&
	[ -n "$(header X-Okta-Request-Id)" ] && [ -n "$(header X-Rate-Limit-Remaining)" ]
ok $? "okta: no token -> 401 E0000011 with request id and rate-limit headers" "$STATUS $BODY"

req GET "$B/api/v1/users?limit=1" -H 'Authorization: SSWS wrong'
[ "$STATUS" = 401 ]
ok $? "okta: wrong token -> 401" "$STATUS"

# ---- Okta: pagination walk over all users ---------------------------------------------------------
: >"$TMP/ids"
url="$B/api/v1/users?limit=200"
pages=0
walk_ok=0
while [ -n "$url" ] && [ $pages -lt 100 ]; do
	req GET "$url" -H "$OKTA_AUTH"
	if [ "$STATUS" != 200 ]; then
		walk_ok=1
		break
	fi
	pages=$((pages + 1))
	printf '%s' "$BODY" | grep -o '"id":"00u[0-9A-Za-z]*"' >>"$TMP/ids"
	grep -qi '^link:.*rel="self"' "$TMP/hdrs" || walk_ok=1
	url=$(grep -i '^link:.*rel="next"' "$TMP/hdrs" | sed 's/^[^<]*<\([^>]*\)>.*/\1/' | tr -d '\r')
done
total=$(wc -l <"$TMP/ids")
uniq=$(sort -u "$TMP/ids" | wc -l)
[ $walk_ok -eq 0 ] && [ "$total" -eq "$LISTED" ] && [ "$uniq" -eq "$total" ] && [ $pages -ge 5 ]
ok $? "okta: link rel=next walk sees every listed user exactly once ($total records, $uniq unique, $pages pages)"

req GET "$B/api/v1/users?limit=500" -H "$OKTA_AUTH"
n=$(printf '%s' "$BODY" | grep -o '"id":"00u[0-9A-Za-z]*"' | wc -l)
[ "$n" -eq 200 ]
ok $? "okta: limit is clamped to 200 on /users" "$n"

req GET "$B/api/v1/users" -H "$OKTA_AUTH" --get --data-urlencode 'filter=status eq "DEPROVISIONED"' \
	--data-urlencode 'limit=200'
ndep=$(printf '%s' "$BODY" | grep -o '"status":"DEPROVISIONED"' | wc -l)
req GET "$B/_sim/state"
[ "$ndep" -gt 0 ] && [ "$ndep" -eq "$(num deprovisioned)" ]
ok $? "okta: filter=status eq \"DEPROVISIONED\" returns the users a plain list hides ($ndep)"

req GET "$B/api/v1/users" -H "$OKTA_AUTH" --get --data-urlencode 'filter=status eq "ACTIVE"' \
	--data-urlencode 'limit=2'
next=$(grep -i '^link:.*rel="next"' "$TMP/hdrs" | tr -d '\r')
printf '%s' "$next" | grep -q 'filter=status+eq+%22ACTIVE%22' && printf '%s' "$next" | grep -q 'after='
ok $? "okta: rel=next keeps the filter and adds the after cursor" "$next"

# ---- Okta: groups and membership writes ----------------------------------------------------------------
req GET "$B/api/v1/groups" -H "$OKTA_AUTH" --get --data-urlencode 'q=okta-sentry-member'
GID=$(printf '%s' "$BODY" | grep -o '"id":"00g[0-9A-Za-z]*"' | head -n 1 | sed 's/.*:"\(.*\)"/\1/')
LMU1=$(printf '%s' "$BODY" | grep -o '"lastMembershipUpdated":"[^"]*"' | head -n 1)
[ "$STATUS" = 200 ] && [ -n "$GID" ]
ok $? "okta: q= prefix search finds okta-sentry-member-users ($GID)"

json_req POST "$B/api/v1/users?activate=true" "$OKTA_AUTH" \
	'{"profile":{"firstName":"Self","lastName":"Test","email":"self.test@acme.example","login":"self.test@acme.example"}}'
UID_NEW=$(printf '%s' "$BODY" | grep -o '"id":"00u[0-9A-Za-z]*"' | head -n 1 | sed 's/.*:"\(.*\)"/\1/')
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q '"status":"ACTIVE"'
ok $? "okta: POST /users?activate=true creates an ACTIVE user" "$STATUS"

req PUT "$B/api/v1/groups/$GID/users/$UID_NEW" -H "$OKTA_AUTH"
s1=$STATUS
req GET "$B/api/v1/groups/$GID" -H "$OKTA_AUTH"
LMU2=$(printf '%s' "$BODY" | grep -o '"lastMembershipUpdated":"[^"]*"' | head -n 1)
[ "$s1" = 204 ] && [ "$LMU1" != "$LMU2" ]
ok $? "okta: PUT /groups/{id}/users/{uid} -> 204 and lastMembershipUpdated moves" "$s1 $LMU1 $LMU2"

req GET "$B/api/v1/users/$UID_NEW/groups" -H "$OKTA_AUTH"
printf '%s' "$BODY" | grep -q "\"id\":\"$GID\""
ok $? "okta: GET /users/{id}/groups lists the new membership"

req POST "$B/api/v1/users/$UID_NEW/lifecycle/unsuspend" -H "$OKTA_AUTH"
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q '"errorCode":"E0000001"'
ok $? "okta: unsuspend of an ACTIVE user -> 400 E0000001" "$STATUS"

req POST "$B/api/v1/users/$UID_NEW/lifecycle/suspend" -H "$OKTA_AUTH"
s1=$STATUS
req GET "$B/api/v1/users/self.test@acme.example" -H "$OKTA_AUTH"
[ "$s1" = 200 ] && printf '%s' "$BODY" | grep -q '"status":"SUSPENDED"'
ok $? "okta: suspend -> SUSPENDED, user readable by login" "$s1"

req GET "$B/api/v1/users/nobody@acme.example" -H "$OKTA_AUTH"
[ "$STATUS" = 404 ] && printf '%s' "$BODY" | grep -q 'Not found: Resource not found: nobody@acme.example (User)'
ok $? "okta: unknown user -> 404 E0000007" "$STATUS $BODY"

# ---- Okta: rate limit ----------------------------------------------------------------------------------------
json_req PUT "$B/_sim/rate-limits" "X-Nothing: 1" '{"limit":3}'
codes=""
for _ in 1 2 3 4; do
	req GET "$B/api/v1/users?limit=1" -H "$OKTA_AUTH"
	codes="$codes $STATUS"
done
rem=$(header X-Rate-Limit-Remaining)
[ "$codes" = " 200 200 200 429" ] && printf '%s' "$BODY" | grep -q '"errorCode":"E0000047"' && [ "$rem" = 0 ]
ok $? "okta: --okta-rate-limit style window: 4th call of 3/min -> 429 E0000047" "$codes rem=$rem"
json_req PUT "$B/_sim/rate-limits" "X-Nothing: 1" '{"limit":0}'

# ---- Sentry: auth and pagination walk over all members ----------------------------------------------------------------
req GET "$B/api/0/organizations/acme/members/"
[ "$STATUS" = 401 ] && [ "$BODY" = '{"detail":"Invalid token"}' ]
ok $? "sentry: no token -> 401 Invalid token" "$STATUS $BODY"

req GET "$B/api/0/organizations/nope/members/" -H "$SENTRY_AUTH"
[ "$STATUS" = 404 ]
ok $? "sentry: unknown org -> 404" "$STATUS"

: >"$TMP/mids"
url="$B/api/0/organizations/acme/members/?per_page=100"
pages=0
walk_ok=0
while [ -n "$url" ] && [ $pages -lt 100 ]; do
	req GET "$url" -H "$SENTRY_AUTH"
	if [ "$STATUS" != 200 ]; then
		walk_ok=1
		break
	fi
	pages=$((pages + 1))
	[ "$(header X-Hits)" = "$MEMBERS" ] || walk_ok=1
	printf '%s' "$BODY" | grep -o '"id":"[0-9]*","email":"[^"]*","name"' >>"$TMP/mids"
	link=$(header Link)
	printf '%s' "$link" | grep -q 'rel="previous"' || walk_ok=1
	nextpart=$(printf '%s' "$link" | sed 's/.*, <\([^>]*\)>; rel="next"; results="\([a-z]*\)".*/\2 \1/')
	case "$nextpart" in
	"true "*) url=${nextpart#true } ;;
	*) url= ;;
	esac
done
total=$(wc -l <"$TMP/mids")
uniq=$(sort -u "$TMP/mids" | wc -l)
[ $walk_ok -eq 0 ] && [ "$total" -eq "$MEMBERS" ] && [ "$uniq" -eq "$total" ] && [ $pages -ge 2 ]
ok $? "sentry: Link rel=next walk while results=\"true\" sees every member exactly once ($total records, $uniq unique, $pages pages)"

req GET "$B/api/0/organizations/acme/members/?per_page=101" -H "$SENTRY_AUTH"
[ "$STATUS" = 400 ] && [ "$BODY" = '{"detail":"Invalid per_page value. Cannot exceed 100."}' ]
ok $? "sentry: per_page=101 -> 400" "$STATUS $BODY"

req GET "$B/api/0/organizations/acme/members/?query=foo:bar" -H "$SENTRY_AUTH"
[ "$STATUS" = 200 ] && [ "$BODY" = '[]' ]
ok $? "sentry: unknown query key -> empty list" "$STATUS $BODY"

# ---- faults --------------------------------------------------------------------------------------------------------------
json_req POST "$B/_sim/faults" "X-Nothing: 1" '{"match":"GET /api/v1/groups*","status":429,"count":1}'
[ "$STATUS" = 201 ] && printf '%s' "$BODY" | grep -q '"id":'
ok $? "control: POST /_sim/faults -> 201" "$STATUS $BODY"
req GET "$B/api/v1/groups?limit=1" -H "$OKTA_AUTH"
s1=$STATUS
b1=$BODY
rem=$(header X-Rate-Limit-Remaining)
req GET "$B/api/v1/groups?limit=1" -H "$OKTA_AUTH"
[ "$s1" = 429 ] && printf '%s' "$b1" | grep -q '"errorCode":"E0000047"' && [ "$rem" = 0 ] && [ "$STATUS" = 200 ]
ok $? "fault: 429 on the first GET /api/v1/groups with Okta's body and headers, then normal" "$s1 rem=$rem then $STATUS"

json_req POST "$B/_sim/faults" "X-Nothing: 1" '{"match":"GET /api/0/*/members/","status":429,"count":1}'
req GET "$B/api/0/organizations/acme/members/?per_page=1" -H "$SENTRY_AUTH"
[ "$STATUS" = 429 ] && printf '%s' "$BODY" | grep -q '^"You are attempting to use this endpoint too frequently' &&
	[ -z "$(header Retry-After)" ]
ok $? "fault: Sentry 429 has a JSON string body and no Retry-After" "$STATUS $BODY"

json_req POST "$B/_sim/faults" "X-Nothing: 1" '{"match":"GET /api/0/*/teams/","status":503,"retry_after":2,"count":1}'
req GET "$B/api/0/organizations/acme/teams/" -H "$SENTRY_AUTH"
[ "$STATUS" = 503 ] && [ "$(header Retry-After)" = 2 ]
ok $? "fault: 503 with retry_after sets Retry-After" "$STATUS"

json_req POST "$B/_sim/faults" "X-Nothing: 1" '{"match":"GET /api/v1/users/*","drop":true,"count":1}'
req GET "$B/api/v1/users/self.test@acme.example" -H "$OKTA_AUTH"
[ "$CURLRC" -ne 0 ] && [ "$STATUS" = 000 ]
ok $? "fault: drop closes the connection without a response (curl rc $CURLRC)"

json_req POST "$B/_sim/faults" "X-Nothing: 1" '{"match":"GET /api/v1/users","truncate":true,"count":1}'
req GET "$B/api/v1/users?limit=5" -H "$OKTA_AUTH"
[ "$CURLRC" -eq 18 ]
ok $? "fault: truncate sends less than Content-Length (curl rc $CURLRC)"

json_req POST "$B/_sim/faults" "X-Nothing: 1" '{"match":"GET /api/v1/groups","latency_ms":300,"count":1}'
t0=$(date +%s%N)
req GET "$B/api/v1/groups?limit=1" -H "$OKTA_AUTH"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
[ "$STATUS" = 200 ] && [ $ms -ge 290 ]
ok $? "fault: latency_ms delays the answer (${ms} ms)"

req GET "$B/_sim/faults"
printf '%s' "$BODY" | grep -q '"hits":1'
ok $? "control: GET /_sim/faults reports hits"
req DELETE "$B/_sim/faults"
[ "$STATUS" = 204 ]
ok $? "control: DELETE /_sim/faults -> 204"

# ---- Sentry semantics on the demo org ------------------------------------------------------------------------------------
req POST "$B/_sim/reset" -H 'Content-Type: application/json' --data-binary '{"demo":true}'
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q '"users":27'
ok $? "control: POST /_sim/reset {\"demo\":true} loads the demo org" "$STATUS $BODY"

O="$B/api/0/organizations/acme"
req DELETE "$O/members/1/" -H "$SENTRY_AUTH"
[ "$STATUS" = 403 ] && [ "$BODY" = '{"detail":"You cannot remove the only remaining owner of the organization."}' ]
ok $? "sentry: DELETE the last owner -> 403" "$STATUS $BODY"

json_req PUT "$O/members/1/" "$SENTRY_AUTH" '{"orgRole":"manager"}'
[ "$STATUS" = 400 ]
ok $? "sentry: demoting the last owner -> 400 (sim rule)" "$STATUS $BODY"

json_req PUT "$O/members/2/" "$SENTRY_AUTH" '{"orgRole":"admin"}'
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q "The role 'admin' is deprecated and may no longer be assigned."
ok $? "sentry: PUT orgRole=admin (retired) -> 400" "$STATUS $BODY"

json_req POST "$O/members/" "$SENTRY_AUTH" '{"email":"new.person@acme.example","orgRole":"admin"}'
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q 'deprecated'
ok $? "sentry: invite with orgRole=admin (retired) -> 400" "$STATUS $BODY"

json_req POST "$O/members/" "$SENTRY_AUTH" '{"email":"new.person@acme.example","orgRole":"member","teamRoles":[{"teamSlug":"payments","role":"admin"}]}'
NEWID=$(printf '%s' "$BODY" | grep -o '^{"id":"[0-9]*"' | grep -o '[0-9]*')
[ "$STATUS" = 201 ] && printf '%s' "$BODY" | grep -q '"pending":true' && printf '%s' "$BODY" | grep -q '"user":null'
ok $? "sentry: invite -> 201 pending member (id $NEWID)" "$STATUS $BODY"
req GET "$O/members/$NEWID/" -H "$SENTRY_AUTH"
printf '%s' "$BODY" | grep -q '"teamRoles":\[{"teamSlug":"payments","role":null}\]'
ok $? "sentry: team roles are ignored on invite (membership kept, role null)"

json_req POST "$O/members/" "$SENTRY_AUTH" '{"email":"new.person@acme.example"}'
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q 'has already been invited'
ok $? "sentry: inviting the same email again -> 400 already invited" "$STATUS $BODY"

# henry.huang (id 9) is in payments and observability
json_req PUT "$O/members/9/" "$SENTRY_AUTH" '{"teamRoles":[{"teamSlug":"payments","role":"admin"}]}'
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q '"teams":\["payments"\]' &&
	printf '%s' "$BODY" | grep -q '"teamRoles":\[{"teamSlug":"payments","role":"admin"}\]'
ok $? "sentry: PUT teamRoles is a full replacement (observability dropped)" "$STATUS"

json_req PUT "$O/members/9/" "$SENTRY_AUTH" '{"orgRole":"manager"}'
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q '"teams":\["payments"\]' &&
	printf '%s' "$BODY" | grep -q '"teamRoles":\[{"teamSlug":"payments","role":null}\]' &&
	printf '%s' "$BODY" | grep -q '"orgRole":"manager"'
ok $? "sentry: PUT without teams keeps them; team admin reads back null for a manager" "$STATUS"

json_req PUT "$O/members/9/" "$SENTRY_AUTH" '{"teamRoles":[{"teamSlug":"no-such-team","role":null}]}'
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q 'Invalid teams'
ok $? "sentry: unknown team slug in teamRoles -> 400 Invalid teams" "$STATUS $BODY"

json_req PUT "$O/members/9/" "$SENTRY_AUTH" '{"teamRoles":[{"teamSlug":"payments","role":"boss"}]}'
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q 'Invalid team-role'
ok $? "sentry: bad team role -> 400 Invalid team-role" "$STATUS $BODY"

json_req PUT "$O/members/$NEWID/" "$SENTRY_AUTH" '{"reinvite":true,"orgRole":"manager"}'
[ "$STATUS" = 403 ] && printf '%s' "$BODY" | grep -q 'Separate requests are required'
ok $? "sentry: reinvite mixed with other changes -> 403" "$STATUS $BODY"

req POST "$O/members/5/teams/payments/" -H "$SENTRY_AUTH"
s1=$STATUS
req POST "$O/members/5/teams/payments/" -H "$SENTRY_AUTH"
[ "$s1" = 201 ] && [ "$STATUS" = 204 ]
ok $? "sentry: POST member team -> 201, again -> 204" "$s1 $STATUS"

json_req POST "$O/teams/" "$SENTRY_AUTH" '{"slug":"platform"}'
s1=$STATUS
json_req POST "$O/teams/" "$SENTRY_AUTH" '{"slug":"platform"}'
[ "$s1" = 201 ] && [ "$STATUS" = 409 ] && printf '%s' "$BODY" | grep -q 'A team with this slug already exists.'
ok $? "sentry: POST team -> 201, duplicate -> 409" "$s1 $STATUS"

json_req POST "$B/api/0/teams/acme/platform/projects/" "$SENTRY_AUTH" '{"name":"Deploy Bot"}'
[ "$STATUS" = 201 ] && printf '%s' "$BODY" | grep -q '"slug":"deploy-bot"'
ok $? "sentry: POST team project -> 201 with a generated slug" "$STATUS"
json_req POST "$B/api/0/teams/acme/platform/projects/" "$SENTRY_AUTH" '{"name":"x","slug":"checkout-api"}'
[ "$STATUS" = 409 ]
ok $? "sentry: duplicate project slug -> 409" "$STATUS"

req DELETE "$O/members/18/" -H "$SENTRY_AUTH"
[ "$STATUS" = 204 ]
ok $? "sentry: DELETE a member -> 204" "$STATUS"

# ---- Okta System Log and event hooks (on the demo org) -------------------------------------------------------------------
# link_next: the rel="next" URL of the last response, or nothing
link_next() { grep -i '^link:.*rel="next"' "$TMP/hdrs" | sed 's/^[^<]*<\([^>]*\)>.*/\1/' | tr -d '\r'; }
# cnt PATTERN: how often the fixed string PATTERN occurs in BODY
cnt() { printf '%s' "$BODY" | grep -oF "$1" | wc -l | tr -d ' '; }
# wait_echo NAME N: wait (up to 5 s) until receiver NAME got at least N requests; BODY = its record
wait_echo() {
	for _ in $(seq 1 100); do
		req GET "$B/_sim/echoes/$1"
		[ "$(num received)" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# wait_hook FIELD N: wait (up to 8 s) until the first hook's counter FIELD reaches N; BODY = the hooks
wait_hook() {
	for _ in $(seq 1 160); do
		req GET "$B/_sim/okta/event-hooks"
		[ "$(num "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
gid() { printf '%s' "$BODY" | grep -o '"id":"00g[0-9A-Za-z]*"' | head -n 1 | sed 's/"id":"//;s/"$//'; }

req GET "$B/api/v1/groups?q=team-payments" -H "$OKTA_AUTH"
PAY=$(gid)
req GET "$B/api/v1/groups?q=team-observability" -H "$OKTA_AUTH"
OBS=$(gid)
SINCE=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
req PUT "$B/api/v1/groups/$PAY/users/yara.young@acme.example" -H "$OKTA_AUTH"
req GET "$B/api/v1/logs?since=$SINCE" -H "$OKTA_AUTH"
[ "$STATUS" = 200 ] && [ "$(cnt '"eventType":"group.user_membership.add"')" = 1 ] &&
	printf '%s' "$BODY" | grep -q '"version":"0","severity":"INFO","displayMessage":"Add user to group membership","legacyEventType":"core.user_group_member.user_add"' &&
	printf '%s' "$BODY" | grep -q '"type":"User","alternateId":"yara.young@acme.example","displayName":"Yara Young"' &&
	printf '%s' "$BODY" | grep -q "{\"id\":\"$PAY\",\"type\":\"UserGroup\",\"alternateId\":\"unknown\",\"displayName\":\"team-payments\"" &&
	printf '%s' "$BODY" | grep -q '"outcome":{"result":"SUCCESS","reason":null}' &&
	printf '%s' "$BODY" | grep -q "\"requestUri\":\"/api/v1/groups/$PAY/users/yara.young@acme.example\"" &&
	printf '%s' "$BODY" | grep -Eq '"uuid":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"' &&
	printf '%s' "$BODY" | grep -Eq '"published":"20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"'
ok $? "okta logs: a membership add through the API is one LogEvent with the documented shape" "$STATUS $BODY"
[ "$(header X-Rate-Limit-Limit)" = 120 ] && grep -qi '^link:.*rel="self"' "$TMP/hdrs" && [ -n "$(link_next)" ]
ok $? "okta logs: System Log bucket (120/min), self link, polling next link" "$(header X-Rate-Limit-Limit)"
NEXT=$(link_next)
req GET "$NEXT" -H "$OKTA_AUTH"
[ "$STATUS" = 200 ] && [ "$BODY" = "[]" ] && [ -n "$(link_next)" ] && ! link_next | grep -q since
ok $? "okta logs: polling at the end -> [] with a next link again (without since)" "$STATUS $BODY"
NEXT=$(link_next)
req POST "$B/api/v1/users/yara.young@acme.example/lifecycle/suspend" -H "$OKTA_AUTH"
json_req POST "$B/api/v1/users/yara.young@acme.example" "$OKTA_AUTH" '{"profile":{"email":"yara.y@acme.example"}}'
req DELETE "$B/api/v1/groups/$PAY/users/yara.young@acme.example" -H "$OKTA_AUTH"
req GET "$NEXT" -H "$OKTA_AUTH"
[ "$(cnt '"eventType":')" = 3 ] && printf '%s' "$BODY" | grep -q '"eventType":"user.lifecycle.suspend"' &&
	printf '%s' "$BODY" | grep -q '"eventType":"user.account.update_profile".*"changedAttributes":"email"' &&
	printf '%s' "$BODY" | grep -q '"eventType":"group.user_membership.remove"' &&
	[ "$(printf '%s' "$BODY" | grep -o '"eventType":"[a-z_.]*"' | head -n 1)" = '"eventType":"user.lifecycle.suspend"' ]
ok $? "okta logs: the next link returns exactly the newer events in order (suspend, profile, remove)" "$BODY"
req GET "$B/api/v1/logs?since=$SINCE&filter=eventType+eq+%22group.user_membership.add%22+or+eventType+eq+%22group.user_membership.remove%22" -H "$OKTA_AUTH"
[ "$(cnt '"eventType":')" = 2 ] && [ "$(cnt '"eventType":"group.user_membership.')" = 2 ]
ok $? "okta logs: filter eventType eq \"x\" or eventType eq \"y\"" "$BODY"
req GET "$B/api/v1/logs?since=$SINCE&filter=target.id+eq+%22$PAY%22" -H "$OKTA_AUTH"
[ "$(cnt '"eventType":')" = 2 ]
ok $? "okta logs: filter target.id eq (any target matches)" "$BODY"
UNTIL=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%S.000Z)
req GET "$B/api/v1/logs?since=$SINCE&until=$UNTIL&limit=3&sortOrder=DESCENDING" -H "$OKTA_AUTH"
P1=$BODY
NEXT=$(link_next)
[ "$(cnt '"eventType":')" = 3 ] && [ -n "$NEXT" ] &&
	[ "$(printf '%s' "$BODY" | grep -o '"eventType":"[a-z_.]*"' | head -n 1)" = '"eventType":"group.user_membership.remove"' ]
ok $? "okta logs: bounded DESCENDING page of 3, newest first, with a next link" "$BODY"
req GET "$NEXT" -H "$OKTA_AUTH"
[ "$(cnt '"eventType":')" = 1 ] && [ -z "$(link_next)" ] && printf '%s' "$BODY" | grep -q '"eventType":"group.user_membership.add"'
ok $? "okta logs: bounded query ends without a next link" "$BODY"
for bad in 'limit=1001' 'sortOrder=UP' 'since=yesterday' "after=1_1&since=$SINCE"; do
	req GET "$B/api/v1/logs?$bad" -H "$OKTA_AUTH"
	[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q '"errorCode":"E0000001"' || break
done
ok $? "okta logs: bad limit, sortOrder, since, after+since -> 400 E0000001" "$bad: $STATUS $BODY"
req GET "$B/api/v1/logs?filter=published+gt+%222024-01-01T00:00:00Z%22" -H "$OKTA_AUTH"
c1=$STATUS
req GET "$B/api/v1/logs?filter=eventType+eq" -H "$OKTA_AUTH"
[ "$c1" = 400 ] && [ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q '"errorCode":"E0000031"'
ok $? "okta logs: filter on published / malformed filter -> 400 E0000031" "$c1 $STATUS"
req GET "$B/api/v1/logs?since=2020-01-01T00:00:00Z" -H "$OKTA_AUTH"
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q '"errorCode":"E0000053"'
ok $? "okta logs: since over 180 days ago -> 400 E0000053" "$STATUS $BODY"
json_req PUT "$B/_sim/rate-limits" "X-Nothing: 1" '{"limit":2}'
codes=""
for _ in 1 2 3; do
	req GET "$B/api/v1/logs?limit=1" -H "$OKTA_AUTH"
	codes="$codes $STATUS"
done
req GET "$B/api/v1/users?limit=1" -H "$OKTA_AUTH"
[ "$codes" = " 200 200 429" ] && [ "$STATUS" = 200 ]
ok $? "okta logs: own rate-limit bucket: 3rd of 2/min -> 429 while /users still answers" "$codes users=$STATUS"
json_req PUT "$B/_sim/rate-limits" "X-Nothing: 1" '{"limit":0}'
req GET "$B/api/v1/users/wendy.wu@acme.example/groups" -H "$OKTA_AUTH"
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q "\"id\":\"$PAY\"" &&
	printf '%s' "$BODY" | grep -q '"name":"okta-sentry-admin-users"' && printf '%s' "$BODY" | grep -q '"name":"Everyone"'
ok $? "okta: GET /users/{id}/groups lists the user's groups" "$STATUS"

# registration: verification GET against the built-in receiver
json_req POST "$B/_sim/okta/event-hooks" "X-Nothing: 1" "{\"url\":\"$B/_sim/echo/h1\",\"auth_header\":\"Authorization\",\"secret\":\"hook-s3cret\",\"event_types\":[\"group.user_membership.add\",\"group.user_membership.remove\",\"user.lifecycle.deactivate\"],\"batch_ms\":2000}"
[ "$STATUS" = 201 ] && printf '%s' "$BODY" | grep -q '"status":"ACTIVE","verificationStatus":"VERIFIED"' &&
	printf '%s' "$BODY" | grep -q '"verified":true'
ok $? "hooks: registration verifies the receiver -> 201 ACTIVE VERIFIED" "$STATUS $BODY"
req GET "$B/_sim/echoes/h1"
[ "$(num received)" = 1 ] && printf '%s' "$BODY" | grep -q '"method":"GET"' &&
	printf '%s' "$BODY" | grep -q '"Authorization":"hook-s3cret"' &&
	printf '%s' "$BODY" | grep -Eq '"X-Okta-Verification-Challenge":"[0-9a-f-]{36}"'
ok $? "hooks: verification is one GET with X-Okta-Verification-Challenge and the auth header" "$BODY"
json_req PUT "$B/_sim/echoes/nover" "X-Nothing: 1" '{"verify":false}'
json_req POST "$B/_sim/okta/event-hooks" "X-Nothing: 1" "{\"url\":\"$B/_sim/echo/nover\",\"secret\":\"x\"}"
v1=$STATUS
req GET "$B/_sim/echoes/nover"
n1=$(num received)
json_req POST "$B/_sim/okta/event-hooks" "X-Nothing: 1" '{"url":"http://10.1.2.3/hook","secret":"x"}'
[ "$v1" = 400 ] && [ "$n1" = 2 ] && [ "$STATUS" = 400 ]
ok $? "hooks: a receiver that ignores the challenge -> 400 after one retry; non-loopback url -> 400" "$v1 $n1 $STATUS"

# delivery: shape and amalgamation (5 changes within the 2 s window -> one POST)
for u in alice.anderson bob.brown carol.chen erin.evans; do
	req PUT "$B/api/v1/groups/$PAY/users/$u@acme.example" -H "$OKTA_AUTH"
done
req DELETE "$B/api/v1/groups/$OBS/users/uma.usman@acme.example" -H "$OKTA_AUTH"
req POST "$B/api/v1/users/yara.young@acme.example/lifecycle/unsuspend" -H "$OKTA_AUTH"
wait_echo h1 2
[ "$(cnt '"method":"POST"')" = 1 ] && [ "$(cnt '"uuid":')" = 5 ] &&
	printf '%s' "$BODY" | grep -q '"Content-Type":"application/json"' &&
	printf '%s' "$BODY" | grep -q '"method":"POST","path":"/_sim/echo/h1","headers":{[^}]*"Authorization":"hook-s3cret"' &&
	printf '%s' "$BODY" | grep -q "\"body\":{\"eventType\":\"com.okta.event_hook\",\"eventTypeVersion\":\"1.0\",\"cloudEventsVersion\":\"0.1\",\"source\":\"$B/api/v1/eventHooks/who" &&
	printf '%s' "$BODY" | grep -Eq '"eventId":"[0-9a-f-]{36}","eventTime":"[0-9T:.-]+Z","contentType":"application/json","data":\{"events":\[' &&
	! printf '%s' "$BODY" | grep -q 'user.lifecycle.unsuspend'
ok $? "hooks: 5 subscribed events close in time -> one POST with the envelope, auth header, unsubscribed types left out" "$BODY"
req GET "$B/_sim/okta/event-hooks"
[ "$(num deliveries)" = 1 ] && [ "$(num events)" = 5 ] && [ "$(num retries)" = 0 ] && [ "$(num failures)" = 0 ]
ok $? "hooks: counters (deliveries 1, events 5)" "$BODY"

# retry on 500 (at most once), no retry on 400, a failed delivery is logged as event_hook.delivery
json_req PUT "$B/_sim/echoes/h1" "X-Nothing: 1" '{"status":500,"count":1}'
req DELETE "$B/api/v1/groups/$PAY/users/alice.anderson@acme.example" -H "$OKTA_AUTH"
wait_hook deliveries 2
[ "$(num retries)" = 1 ] && [ "$(num failures)" = 0 ] && [ "$(num last_status)" = 200 ]
ok $? "hooks: a 500 is retried once and then delivered" "$BODY"
req GET "$B/_sim/echoes/h1"
e1=$(printf '%s' "$BODY" | grep -o '"eventId":"[0-9a-f-]*"' | tail -n 2 | sort -u | wc -l)
[ "$(cnt '"method":"POST"')" = 3 ] && [ "$e1" = 1 ]
ok $? "hooks: the retry resends the same delivery" "$e1"
json_req PUT "$B/_sim/echoes/h1" "X-Nothing: 1" '{"status":500,"count":2}'
req DELETE "$B/api/v1/groups/$PAY/users/bob.brown@acme.example" -H "$OKTA_AUTH"
wait_hook failures 1
[ "$(num retries)" = 2 ] && [ "$(num last_status)" = 500 ]
ok $? "hooks: 500 twice -> one retry, then the delivery fails" "$BODY"
json_req PUT "$B/_sim/echoes/h1" "X-Nothing: 1" '{"status":400,"count":1}'
req DELETE "$B/api/v1/groups/$PAY/users/carol.chen@acme.example" -H "$OKTA_AUTH"
wait_hook failures 2
[ "$(num retries)" = 2 ] && [ "$(num last_status)" = 400 ]
ok $? "hooks: a 400 is not retried" "$BODY"
req GET "$B/api/v1/logs?since=$SINCE&filter=eventType+eq+%22event_hook.delivery%22" -H "$OKTA_AUTH"
[ "$(cnt '"eventType":"event_hook.delivery"')" = 2 ] && printf '%s' "$BODY" | grep -q '"result":"FAILURE"'
ok $? "hooks: failed deliveries appear in the System Log as event_hook.delivery" "$BODY"

# synthetic events, duplicate and shuffled deliveries, a timeout
req DELETE "$B/_sim/okta/event-hooks"
req GET "$B/_sim/okta/event-hooks"
[ "$BODY" = '{"hooks":[]}' ]
ok $? "hooks: DELETE /_sim/okta/event-hooks removes them" "$BODY"
json_req POST "$B/_sim/okta/event-hooks" "X-Nothing: 1" "{\"url\":\"$B/_sim/echo/h2\",\"auth_header\":\"X-Hook-Key\",\"secret\":\"k2\",\"duplicate\":true,\"shuffle\":true,\"batch_ms\":1500,\"max_batch\":2}"
json_req POST "$B/_sim/okta/events" "X-Nothing: 1" '{"eventType":"group.user_membership.add","user":"dave.diaz@acme.example","group":"team-payments","uuid":"11111111-2222-4333-8444-555555555555","published":"2024-01-15T09:00:00.000Z"}'
[ "$STATUS" = 201 ] && printf '%s' "$BODY" | grep -q '"uuid":"11111111-2222-4333-8444-555555555555"' &&
	printf '%s' "$BODY" | grep -q '"published":"2024-01-15T09:00:00.000Z"' &&
	printf '%s' "$BODY" | grep -q '"alternateId":"dave.diaz@acme.example"' && printf '%s' "$BODY" | grep -q '"type":"SystemPrincipal"'
ok $? "events: POST /_sim/okta/events answers the LogEvent (given uuid and published kept)" "$STATUS $BODY"
json_req POST "$B/_sim/okta/events" "X-Nothing: 1" '{"eventType":"user.lifecycle.deactivate","user":"00uNOSUCHUSER0000000","target":null}'
json_req POST "$B/_sim/okta/events" "X-Nothing: 1" '{"eventType":"group.user_membership.remove","user":"frank.fischer@acme.example","group":"team-payments"}'
wait_echo h2 5
[ "$(cnt '"method":"POST"')" = 4 ] && [ "$(cnt '"X-Hook-Key":"k2"')" = 5 ] && [ "$(cnt '"uuid":')" = 6 ] &&
	printf '%s' "$BODY" | grep -q '"target":null'
ok $? "hooks: max_batch 2 splits 3 events into 2 deliveries, each sent twice (duplicate), custom auth header" "$BODY"
req DELETE "$B/_sim/okta/event-hooks"
json_req PUT "$B/_sim/echoes/slow" "X-Nothing: 1" '{"delay_ms":400}'
json_req POST "$B/_sim/okta/event-hooks" "X-Nothing: 1" "{\"url\":\"$B/_sim/echo/slow\",\"secret\":\"s\",\"timeout_ms\":1000,\"batch_ms\":0}"
json_req PUT "$B/_sim/echoes/slow" "X-Nothing: 1" '{"delay_ms":1500}'
json_req POST "$B/_sim/okta/events" "X-Nothing: 1" '{"eventType":"user.lifecycle.activate","user":"zoe.zimmer@acme.example"}'
wait_hook failures 1
[ "$(num retries)" = 1 ] && [ "$(num attempts)" = 2 ] && printf '%s' "$BODY" | grep -q '"last_error":"timeout"'
ok $? "hooks: a receiver slower than the timeout -> one retry, then failure (timeout)" "$BODY"
req DELETE "$B/_sim/okta/event-hooks"

# bulk membership changes and bulk synthetic events through the control API
req GET "$B/_sim/okta/events?limit=1000000"
before=$(num next)
json_req POST "$B/_sim/okta/memberships" "X-Nothing: 1" '{"add":[{"user":"zoe.zimmer@acme.example","group":"team-payments"},{"user":"zoe.zimmer@acme.example","group":"team-payments"}],"remove":[{"user":"dave.diaz@acme.example","group":"team-payments"}]}'
r1="$STATUS $BODY"
json_req POST "$B/_sim/okta/memberships" "X-Nothing: 1" '{"add":[{"user":"zoe.zimmer@acme.example","group":"team-platform"},{"user":"nobody@acme.example","group":"team-payments"}]}'
r2="$STATUS $BODY"
req GET "$B/api/v1/groups/$PAY/users" -H "$OKTA_AUTH"
in_pay=$(cnt '"login":"zoe.zimmer@acme.example"')
req GET "$B/_sim/okta/events?since=$before"
[ "$r1" = '200 {"added":1,"removed":1,"unchanged":1}' ] && [ "${r2%% *}" = 400 ] && [ "$in_pay" = 1 ] &&
	[ "$(num count)" = 2 ] && printf '%s' "$BODY" | grep -q '"requestUri":"/_sim/okta/memberships"'
ok $? "events: POST /_sim/okta/memberships changes the state (all or nothing) and logs each change" "$r1 | $r2 | $BODY"
json_req POST "$B/_sim/okta/events" "X-Nothing: 1" '[{"eventType":"user.lifecycle.suspend","user":"zoe.zimmer@acme.example"},{"eventType":"user.lifecycle.unsuspend","user":"zoe.zimmer@acme.example"}]'
[ "$STATUS" = 201 ] && [ "$(num count)" = 2 ] && [ "$(cnt '"eventType":"user.lifecycle.')" = 2 ]
ok $? "events: POST /_sim/okta/events with an array appends them all" "$STATUS $BODY"

# a fixture replacing the state logs the differences; reset clears the log
req GET "$B/_sim/state?full=1"
printf '%s' "$BODY" | sed '0,/"status":"ACTIVE"/s//"status":"SUSPENDED"/' >"$TMP/fx.json"
req GET "$B/_sim/okta/events?limit=1000000"
before=$(num next)
req POST "$B/_sim/state" -H 'Content-Type: application/json' --data-binary @"$TMP/fx.json"
req GET "$B/_sim/okta/events?since=$before"
[ "$(num count)" = 1 ] && printf '%s' "$BODY" | grep -q '"eventType":"user.lifecycle.suspend"' &&
	printf '%s' "$BODY" | grep -q '"requestUri":"/_sim/state"'
ok $? "events: POST /_sim/state logs the change it makes (one user suspended)" "$BODY"
req POST "$B/_sim/reset"
req GET "$B/_sim/okta/events"
[ "$(num count)" = 0 ]
ok $? "events: POST /_sim/reset clears the System Log" "$BODY"

# ---- request log -------------------------------------------------------------------------------------------------------
req DELETE "$B/_sim/requests"
req GET "$B/api/v1/groups?limit=2" -H "$OKTA_AUTH"
req GET "$O/teams/?detailed=0" -H "$SENTRY_AUTH"
req GET "$B/_sim/requests"
[ "$(num count)" = 2 ] &&
	printf '%s' "$BODY" | grep -q '"method":"GET","path":"/api/v1/groups","query":"limit=2","status":200,"upstream":"okta"' &&
	printf '%s' "$BODY" | grep -q '"path":"/api/0/organizations/acme/teams/","query":"detailed=0","status":200,"upstream":"sentry"' &&
	! printf '%s' "$BODY" | grep -q '"path":"/_sim'
ok $? "control: request log records upstream calls (not /_sim ones)" "$BODY"
NEXT=$(num next)
req GET "$B/api/v1/users?limit=1" -H "$OKTA_AUTH"
req GET "$B/_sim/requests?since=$NEXT"
[ "$(num count)" = 1 ]
ok $? "control: GET /_sim/requests?since=next returns only newer requests"

# ---- OIDC authorization server (sim_oidc.c) -------------------------------------------------------------------------------
# b64url_json PART: decode one base64url JWT part
b64url_json() {
	local s
	s=$(printf '%s' "$1" | tr '_-' '/+')
	while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
	printf '%s' "$s" | base64 -d 2>/dev/null
}
AS="$B/oauth2/default"
CB="http://app.example/console/callback"
VERIFIER="sim-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
CLIENT_BASIC="Authorization: Basic $(printf 'sim-console:sim-console-secret' | base64 | tr -d '\n')"
ALICE="alice.anderson@acme.example"
# authorize [extra query]: sets STATUS, LOCATION and CODE
authorize() {
	req GET "$AS/v1/authorize?client_id=sim-console&response_type=code&scope=openid+email+profile+groups&redirect_uri=$CB&state=st-1&nonce=n-1&code_challenge=$CHALLENGE&code_challenge_method=S256$1"
	LOCATION=$(header Location)
	CODE=$(printf '%s' "$LOCATION" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
}
# token CODE [verifier]
token() {
	req POST "$AS/v1/token" -H "$CLIENT_BASIC" -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-binary "grant_type=authorization_code&code=$1&redirect_uri=$CB&code_verifier=${2:-$VERIFIER}"
}

req POST "$B/_sim/reset" -H 'Content-Type: application/json' --data-binary '{"demo":true}'
req POST "$B/_sim/oidc/reset"
req GET "$AS/.well-known/openid-configuration"
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q "\"issuer\":\"$AS\"" &&
	printf '%s' "$BODY" | grep -q "\"jwks_uri\":\"$AS/v1/keys\"" &&
	printf '%s' "$BODY" | grep -q '"code_challenge_methods_supported":\["S256"\]'
ok $? "oidc: discovery names the issuer, jwks_uri and S256" "$STATUS $BODY"

req GET "$AS/v1/keys"
KID1=$(printf '%s' "$BODY" | grep -o '"kid":"[^"]*"' | head -n 1 | sed 's/.*:"//; s/"$//')
[ "$STATUS" = 200 ] && [ -n "$KID1" ] && printf '%s' "$BODY" | grep -q '"kty":"RSA"' &&
	! printf '%s' "$BODY" | grep -q '"d":'
ok $? "oidc: JWKS publishes an RSA public key with kid (no private part)" "$STATUS $BODY"

authorize ""
[ "$STATUS" = 302 ] && printf '%s' "$LOCATION" | grep -q '^http://app.example/console/callback?error=login_required.*&state=st-1$'
ok $? "oidc: authorize with nobody signed in -> error=login_required with state" "$STATUS $LOCATION"

authorize "&login_hint=kate.kowalski@acme.example"
printf '%s' "$LOCATION" | grep -q 'error=access_denied'
ok $? "oidc: a suspended user is refused (access_denied)" "$LOCATION"

req GET "$AS/v1/authorize?client_id=nobody&response_type=code&scope=openid&redirect_uri=$CB&state=s"
[ "$STATUS" = 400 ] && [ -z "$(header Location)" ]
ok $? "oidc: unknown client_id -> 400, no redirect" "$STATUS"

req GET "$AS/v1/authorize?client_id=sim-console&response_type=code&scope=openid&redirect_uri=$CB&state=s&login_hint=$ALICE"
printf '%s' "$(header Location)" | grep -q 'error=invalid_request.*PKCE'
ok $? "oidc: authorize without PKCE -> invalid_request" "$(header Location)"

req POST "$B/_sim/oidc/login" -H 'Content-Type: application/json' --data-binary "{\"login\":\"$ALICE\"}"
authorize ""
[ "$STATUS" = 302 ] && [ -n "$CODE" ] && printf '%s' "$LOCATION" | grep -q '&state=st-1$'
ok $? "oidc: authorize -> 302 back with code and state" "$STATUS $LOCATION"

token "$CODE" "wrong-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q '"error":"invalid_grant"'
ok $? "oidc: token with a wrong PKCE verifier -> invalid_grant" "$STATUS $BODY"
token "$CODE"
[ "$STATUS" = 400 ]
ok $? "oidc: a code is burnt by a failed redemption" "$STATUS $BODY"

authorize ""
req POST "$AS/v1/token" -H 'Authorization: Basic c2ltLWNvbnNvbGU6d3Jvbmc=' \
	--data-binary "grant_type=authorization_code&code=$CODE&redirect_uri=$CB&code_verifier=$VERIFIER"
[ "$STATUS" = 401 ] && printf '%s' "$BODY" | grep -q '"error":"invalid_client"'
ok $? "oidc: wrong client secret -> 401 invalid_client" "$STATUS $BODY"

authorize ""
req POST "$AS/v1/token" --data-binary \
	"grant_type=authorization_code&code=$CODE&redirect_uri=$CB&code_verifier=$VERIFIER&client_id=sim-console&client_secret=sim-console-secret"
IDT=$(printf '%s' "$BODY" | grep -o '"id_token":"[^"]*"' | sed 's/.*:"//; s/"$//')
AT=$(printf '%s' "$BODY" | grep -o '"access_token":"[^"]*"' | sed 's/.*:"//; s/"$//')
HDR=$(b64url_json "$(printf '%s' "$IDT" | cut -d. -f1)")
CLAIMS=$(b64url_json "$(printf '%s' "$IDT" | cut -d. -f2)")
[ "$STATUS" = 200 ] && printf '%s' "$HDR" | grep -q '"alg":"RS256"' && printf '%s' "$HDR" | grep -q "\"kid\":\"$KID1\"" &&
	printf '%s' "$CLAIMS" | grep -q "\"iss\":\"$AS\"" && printf '%s' "$CLAIMS" | grep -q '"aud":"sim-console"' &&
	printf '%s' "$CLAIMS" | grep -q "\"email\":\"$ALICE\"" && printf '%s' "$CLAIMS" | grep -q '"nonce":"n-1"' &&
	printf '%s' "$CLAIMS" | grep -q '"groups":\[' && printf '%s' "$CLAIMS" | grep -q '"sub":"00u'
ok $? "oidc: token (client_secret_post) -> RS256 ID token with kid, iss, aud, email, nonce, groups" "$STATUS $HDR $CLAIMS"

# signature check with openssl against the published key
python3 - "$IDT" "$AS/v1/keys" <<'PY' >/dev/null 2>&1
import sys, json, base64, urllib.request, subprocess, tempfile, os
tok, url = sys.argv[1], sys.argv[2]
def d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
h, p, s = tok.split(".")
kid = json.loads(d(h))["kid"]
k = [k for k in json.load(urllib.request.urlopen(url))["keys"] if k["kid"] == kid][0]
n, e = int.from_bytes(d(k["n"]), "big"), int.from_bytes(d(k["e"]), "big")
m = pow(int.from_bytes(d(s), "big"), e, n).to_bytes((n.bit_length() + 7) // 8, "big")
import hashlib
sys.exit(0 if m.endswith(hashlib.sha256((h + "." + p).encode()).digest()) else 1)
PY
ok $? "oidc: the ID token's RS256 signature verifies against the JWKS key"

token "$CODE"
[ "$STATUS" = 400 ] && printf '%s' "$BODY" | grep -q '"error":"invalid_grant"'
ok $? "oidc: a code redeemed twice -> invalid_grant" "$STATUS $BODY"

req GET "$AS/v1/userinfo" -H "Authorization: Bearer $AT"
[ "$STATUS" = 200 ] && printf '%s' "$BODY" | grep -q "\"email\":\"$ALICE\""
ok $? "oidc: userinfo with the access token" "$STATUS $BODY"
req GET "$AS/v1/userinfo" -H "Authorization: Bearer nope"
[ "$STATUS" = 401 ]
ok $? "oidc: userinfo with a bad token -> 401" "$STATUS"

req POST "$B/_sim/oidc/rotate"
req GET "$AS/v1/keys"
[ "$(printf '%s' "$BODY" | grep -o '"kid"' | wc -l)" = 2 ]
ok $? "oidc: rotation publishes the new key beside the old one" "$BODY"
authorize ""
token "$CODE"
IDT=$(printf '%s' "$BODY" | grep -o '"id_token":"[^"]*"' | sed 's/.*:"//; s/"$//')
HDR=$(b64url_json "$(printf '%s' "$IDT" | cut -d. -f1)")
! printf '%s' "$HDR" | grep -q "\"kid\":\"$KID1\""
ok $? "oidc: after rotation tokens are signed with the new kid" "$HDR"

req POST "$B/_sim/oidc/faults" -H 'Content-Type: application/json' \
	--data-binary '{"expired":true,"wrong_aud":true,"wrong_iss":true,"unknown_kid":true,"nonce":"other"}'
authorize ""
token "$CODE"
IDT=$(printf '%s' "$BODY" | grep -o '"id_token":"[^"]*"' | sed 's/.*:"//; s/"$//')
CLAIMS=$(b64url_json "$(printf '%s' "$IDT" | cut -d. -f2)")
HDR=$(b64url_json "$(printf '%s' "$IDT" | cut -d. -f1)")
EXP=$(printf '%s' "$CLAIMS" | grep -o '"exp":[0-9]*' | sed 's/.*://')
[ -n "$EXP" ] && [ "$EXP" -lt "$(date +%s)" ] && printf '%s' "$CLAIMS" | grep -q '"aud":"someone-else"' &&
	printf '%s' "$CLAIMS" | grep -q '"iss":"https://evil.example.com"' && printf '%s' "$CLAIMS" | grep -q '"nonce":"other"' &&
	printf '%s' "$HDR" | grep -q '"kid":"sim-key-999"'
ok $? "oidc: fault knobs give expired, wrong aud/iss/nonce, unknown kid" "$HDR $CLAIMS"
req DELETE "$B/_sim/oidc/faults"

req GET "$AS/v1/logout?post_logout_redirect_uri=http://app.example/console/&state=bye"
[ "$STATUS" = 302 ] && [ "$(header Location)" = "http://app.example/console/?state=bye" ]
ok $? "oidc: logout redirects to post_logout_redirect_uri with state" "$STATUS $(header Location)"
authorize ""
printf '%s' "$LOCATION" | grep -q 'error=login_required'
ok $? "oidc: after logout authorize needs a sign-in again" "$LOCATION"

# ---- shutdown ---------------------------------------------------------------------------------------------------------------
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=
[ $rc -eq 0 ]
ok $? "simulator exits 0 on SIGTERM" "rc $rc"
if grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$TMP/sim.log"; then
	fail "sanitizer report in the simulator log"
	cat "$TMP/sim.log"
fi

echo "selftest: $((CHECKS - FAILS))/$CHECKS checks passed"
[ $FAILS -eq 0 ]
