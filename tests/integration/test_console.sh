#!/usr/bin/env bash
# The web console (issue 10, first step): sign-in with the simulated Okta
# (OIDC code flow, PKCE S256, state, nonce) driven by hand with curl and a
# cookie jar; security headers; refusals (open redirect, replayed state,
# state from another browser, code used twice, bad ID tokens); sessions
# (cookie attributes, new id at sign-in, sign-out ends the session on the
# server and at Okta); CSRF; admin pages; escaping of HTML in a reason;
# an approval through the web form.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token OIDC_SECRET=sim-console-secret

start_sim sim --demo
db=$(fresh_db it_console)
port=$(free_port)
URL="http://127.0.0.1:$port"
ISS="$SIM_URL/oauth2/default"
write_config "$T/c.yaml" "$port" "$db" "$(console_config)"
sim_ctl() { curl -s -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$SIM_URL/_sim/oidc$2" >/dev/null; }

rc=0; "$SB_BIN" --config "$T/c.yaml" --log-level warn sync >/dev/null 2>"$T/sync.err" || rc=$?
eq "the first sync fills the mirrors" "$rc" 0
start_bridge b "$T/c.yaml"
check "ready" wait_ready "$URL" 20

# j JAR METHOD URL [curl args]: a request with cookie jar JAR (no redirects followed)
j() {
	local jar=$1
	shift
	http "$1" "$2" -b "$T/$jar.jar" -c "$T/$jar.jar" "${@:3}"
}
loc() { header Location; }
# start_login JAR [next]: GET /console/login; sets AUTHZ (the authorize URL)
start_login() {
	j "$1" GET "$URL/console/login${2:+?next=$2}"
	AUTHZ=$(loc)
}
# at_okta WHO: the simulated Okta signs WHO in; sets CB (the callback URL)
at_okta() {
	http GET "$AUTHZ&login_hint=$1"
	CB=$(loc)
}
# signin JAR WHO: the whole flow; sets STATUS/Location of the callback
signin() {
	start_login "$1" "${3:-}"
	at_okta "$2"
	j "$1" GET "$CB"
}
csrf_of() { grep -o 'name="csrf" value="[^"]*"' <<<"$BODY" | head -n 1 | sed 's/.*value="//; s/"$//'; }

# --- the authorize request ------------------------------------------------------------------------
start_login bob /console/approvals
eq "login: 302 to Okta" "$STATUS" 302
contains "to the issuer's authorize endpoint" "$AUTHZ" "$ISS/v1/authorize?"
contains "PKCE S256" "$AUTHZ" "code_challenge_method=S256"
contains "a state" "$AUTHZ" "&state="
contains "a nonce" "$AUTHZ" "&nonce="
contains "the redirect URI" "$AUTHZ" "redirect_uri=http%3A%2F%2F127.0.0.1%3A$port%2Fconsole%2Fcallback"
contains "headers on the redirect: CSP" "$(header Content-Security-Policy)" "frame-ancestors 'none'"
contains "login cookie HttpOnly, Lax" "$(header Set-Cookie)" "HttpOnly; SameSite=Lax"

# --- open redirects ----------------------------------------------------------------------------------
for bad in "//evil.example/x" "https://evil.example/" "/%5C%5Cevil.example" "javascript:alert(1)"; do
	http GET "$URL/console/login?next=$bad"
	eq "next=$bad refused: 400" "$STATUS" 400
done

# --- a full sign-in --------------------------------------------------------------------------------
at_okta bob.brown@acme.example
contains "Okta redirects back with a code" "$CB" "/console/callback?code="
j bob GET "$CB"
eq "callback: 303" "$STATUS" 303
eq "back to next" "$(loc)" /console/approvals
cookie=$(grep -i '^Set-Cookie: sb_session=' <<<"$HEADERS" | head -n 1)
contains "session cookie HttpOnly" "$cookie" "HttpOnly"
contains "session cookie SameSite=Lax" "$cookie" "SameSite=Lax"
contains "session cookie Path=/console" "$cookie" "Path=/console"
not_contains "no Secure over http://127.0.0.1" "$cookie" "Secure"
BOB_SID=$(sed 's/^[^=]*=\([^;]*\);.*/\1/' <<<"$cookie")
eq "one live session row, id stored hashed" "$(sql "SELECT count(*) FROM console_sessions WHERE email = 'bob.brown@acme.example' AND ended_ms IS NULL AND id_hash <> '$BOB_SID'")" 1
eq "sign-in audited" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'console.sign_in' AND actor = 'bob.brown@acme.example'")" 1

j bob GET "$CB"
eq "replayed state: 400" "$STATUS" 400
contains "says already used" "$BODY" "already used"

j bob GET "$URL/console/"
eq "my access: 200" "$STATUS" 200
contains "shows who is signed in" "$BODY" "bob.brown@acme.example"
contains "shows the Sentry role" "$BODY" "Organization role: <strong>member</strong>"
contains "CSP" "$(header Content-Security-Policy)" "default-src 'none'"
not_contains "CSP without inline scripts" "$(header Content-Security-Policy)" "unsafe-inline"
eq "nosniff" "$(header X-Content-Type-Options)" nosniff
eq "Referrer-Policy" "$(header Referrer-Policy)" same-origin
contains "html" "$(header Content-Type)" "text/html"
not_contains "no script tags on the page" "$BODY" "<script"

# --- state from another browser, code used twice -----------------------------------------------------
start_login other
at_okta bob.brown@acme.example
j third GET "$CB"
eq "callback without the login cookie of its browser: 400" "$STATUS" 400
start_login bob
at_okta bob.brown@acme.example
code1=$(sed 's/.*code=\([^&]*\).*/\1/' <<<"$CB")
j bob GET "$CB"
eq "sign-in again: 303" "$STATUS" 303
eq "the earlier session was ended at the new sign-in" \
	"$(sql "SELECT count(*) FROM console_sessions WHERE email = 'bob.brown@acme.example' AND ended_ms IS NULL")" 1
NEW_SID=$(grep -i '^Set-Cookie: sb_session=' <<<"$HEADERS" | head -n 1 | sed 's/^[^=]*=\([^;]*\);.*/\1/')
check "a new session id at sign-in" test -n "$NEW_SID" -a "$NEW_SID" != "$BOB_SID"
http GET "$URL/console/" -H "Cookie: sb_session=$BOB_SID"
eq "the id from before this sign-in is refused" "$STATUS" 303
http GET "$URL/console/" -H "Cookie: sb_session=made-up-0123456789abcdefghijklmnopqrstuvwxy"
eq "a made-up session id is refused" "$STATUS" 303
start_login bob
state2=$(sed 's/.*&state=\([^&]*\).*/\1/' <<<"$AUTHZ")
j bob GET "$URL/console/callback?code=$code1&state=$state2"
eq "a code used twice: 401" "$STATUS" 401
contains "says so" "$BODY" "used twice"

# --- ID tokens Okta should never send --------------------------------------------------------------
keys_fetched() { curl -s "$SIM_URL/_sim/requests" | jq '[.requests[] | select(.path == "/oauth2/default/v1/keys")] | length'; }
for f in expired wrong_aud wrong_iss unknown_kid bad_signature; do
	sim_ctl POST /faults "{\"$f\":true}"
	curl -s -X DELETE "$SIM_URL/_sim/requests" >/dev/null
	signin evil bob.brown@acme.example
	eq "ID token fault $f: 401" "$STATUS" 401
	contains "$f: says the token did not verify" "$BODY" "did not verify"
	if [ "$f" = unknown_kid ]; then
		eq "an unknown kid refetches the JWKS exactly once" "$(keys_fetched)" 1
	else
		eq "$f: the cached JWKS is used" "$(keys_fetched)" 0
	fi
done
sim_ctl POST /faults '{"nonce":"not-the-one-sent"}'
signin evil bob.brown@acme.example
eq "nonce mismatch: 401" "$STATUS" 401
sim_ctl DELETE /faults
eq "no session came of the faults" "$(sql "SELECT count(*) FROM console_sessions WHERE email = 'bob.brown@acme.example'")" 2
check "the refusals are logged with their kind" grep -q '"kind":"unknown_kid"' "$T/b.log"

sim_ctl POST /rotate
signin bob bob.brown@acme.example
eq "after a key rotation the new kid is fetched once and sign-in works" "$STATUS" 303

# --- admin pages -----------------------------------------------------------------------------------
j bob GET "$URL/console/sync"
eq "non-admin: sync 403" "$STATUS" 403
j bob GET "$URL/console/audit"
eq "non-admin: audit 403" "$STATUS" 403
contains "403 pages carry the headers too" "$(header Content-Security-Policy)" "frame-ancestors 'none'"
signin victor victor.vega@acme.example
eq "victor signs in" "$STATUS" 303
j victor GET "$URL/console/sync"
eq "admin: sync 200" "$STATUS" 200
contains "lists the first sync run" "$BODY" '<a href="/console/sync/1">#1</a>'
j victor GET "$URL/console/audit"
eq "admin: audit 200" "$STATUS" 200
contains "shows the sign-ins" "$BODY" "console.sign_in"
j victor GET "$URL/console/audit?action=console.sign_in&target=bob.brown%40acme.example"
eq "audit filtered: 200" "$STATUS" 200
eq "only bob's sign-ins" "$(grep -o '<td>console.sign_in</td><td><a [^>]*>[^<]*</a></td>' <<<"$BODY" | sed 's/<a [^>]*>//; s/<[/]a>//' | sort -u)" "<td>console.sign_in</td><td>bob.brown@acme.example</td>"
contains "the filter is kept in the form" "$BODY" 'value="bob.brown@acme.example"'
j victor GET "$URL/console/audit?target=%22%3E%3Cscript%3Ex"
contains "a filter value is escaped back into the form" "$BODY" 'value="&quot;&gt;&lt;script&gt;x"'
j victor GET "$URL/console/audit?before=abc"
eq "a bad before: 400" "$STATUS" 400

# --- HTML in a reason, CSRF, approve through the form ------------------------------------------------
http POST "$URL/api/v1/access-requests" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data '{"on_behalf_of":"bob.brown@acme.example","kind":"role","role":"manager","duration":"1h","reason":"<script>alert(1)</script> & \"x\""}'
eq "request filed" "$STATUS" 201
rid=$(jq -r .id <<<"$BODY")
j victor GET "$URL/console/approvals"
eq "approvals: 200" "$STATUS" 200
contains "the reason is escaped" "$BODY" "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"
not_contains "no raw script from the reason" "$BODY" "<script>alert"
VCSRF=$(csrf_of)
check "the page carries a CSRF token" test -n "$VCSRF"
j victor POST "$URL/console/approvals/$rid" --data "action=approve&reason=ok"
eq "approve without CSRF token: 403" "$STATUS" 403
j victor POST "$URL/console/approvals/$rid" --data "action=approve&reason=ok&csrf=wrong$VCSRF"
eq "approve with a wrong CSRF token: 403" "$STATUS" 403
j bob GET "$URL/console/"
BCSRF=$(csrf_of)
j victor POST "$URL/console/approvals/$rid" --data "action=approve&reason=ok&csrf=$BCSRF"
eq "another session's CSRF token: 403" "$STATUS" 403
eq "nothing changed" "$(sql "SELECT status FROM access_requests WHERE id = $rid")" pending
j victor POST "$URL/console/approvals/$rid" --data "action=approve&reason=<b>fine</b>&csrf=$VCSRF"
eq "approve: 200" "$STATUS" 200
contains "says the approval is recorded" "$BODY" "Your approval is recorded."
eq "approved" "$(sql "SELECT status FROM access_requests WHERE id = $rid")" approved
eq "the approval's source is web" "$(sql "SELECT source FROM access_approvals WHERE request_id = $rid")" web
j victor GET "$URL/console/approvals"
contains "the decision reason is escaped" "$BODY" "&lt;b&gt;fine&lt;/b&gt;"
j bob GET "$URL/console/"
contains "bob sees his grant" "$BODY" "role manager"
check "with time left" grep -Eq "<td>(59m|60m|1h 0m)</td>" <<<"$BODY"
http POST "$URL/api/v1/access-requests" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
	--data '{"on_behalf_of":"carol.chen@acme.example","kind":"team","team":"payments","duration":"1h","reason":"review"}'
eq "carol files a request" "$STATUS" 201
vrid=$(jq -r .id <<<"$BODY")
j bob GET "$URL/console/approvals"
j bob POST "$URL/console/approvals/$vrid" --data "action=approve&csrf=$BCSRF"
eq "a refused decision (bob is no approver): 403" "$STATUS" 403
contains "with the rules' message" "$BODY" "class=\"msg\""
eq "still pending" "$(sql "SELECT status FROM access_requests WHERE id = $vrid")" pending

# --- sign-out ----------------------------------------------------------------------------------------
cp "$T/bob.jar" "$T/bob-old.jar"
j bob POST "$URL/console/logout" --data "csrf=wrong"
eq "sign-out without the right CSRF token: 403" "$STATUS" 403
j bob POST "$URL/console/logout" --data "csrf=$BCSRF"
eq "sign-out: 303" "$STATUS" 303
contains "to Okta's logout" "$(loc)" "$ISS/v1/logout?id_token_hint="
contains "coming back to signed-out" "$(loc)" "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A$port%2Fconsole%2Fsigned-out"
contains "the cookie is cleared" "$(header Set-Cookie)" "sb_session=; Path=/console; Max-Age=0"
eq "the session ended on the server" \
	"$(sql "SELECT count(*) FROM console_sessions WHERE email = 'bob.brown@acme.example' AND ended_ms IS NULL")" 0
http GET "$URL/console/" -b "$T/bob-old.jar"
eq "the signed-out cookie: GET redirects to sign-in" "$STATUS" 303
contains "to login" "$(loc)" "/console/login?next="
http POST "$URL/console/approvals/$vrid" -b "$T/bob-old.jar" --data "action=deny&csrf=$BCSRF"
eq "the signed-out cookie: POST 403" "$STATUS" 403
eq "still pending after it" "$(sql "SELECT status FROM access_requests WHERE id = $vrid")" pending
http GET "$URL/console/nope"
eq "unknown console page: 404" "$STATUS" 404
eq "with the headers" "$(header X-Content-Type-Options)" nosniff

stop_bridge b
eq "bridge stops cleanly" "$STOP_RC" 0
not_contains "no sanitizer report" "$(log_of b)" "Sanitizer"
finish
