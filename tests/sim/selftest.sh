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
