#!/usr/bin/env bash
# The web console's pages (issue 10, second step), with the real server,
# PostgreSQL and the simulated Okta/Sentry, driven with curl and the
# simulated Okta sign-in: each page renders for the right person and 403s
# for non-admins; every new POST refuses a missing or wrong CSRF token; HTML
# in every field that reaches a page is escaped (request reasons, project
# names, silence comments, Slack text of alerts, sync plan reasons and guard
# refusals); form errors re-show the form (422) naming the problem. Request
# access, cancel, extend; dry run and apply through the sync job; the audit
# log's filters and paging; projects check and create; silences create and
# expire; the GitLab and Slack status pages.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token OIDC_SECRET=sim-console-secret

start_sim sim --demo
db=$(fresh_db it_console_pages)
port=$(free_port)
URL="http://127.0.0.1:$port"
ISS="$SIM_URL/oauth2/default"
write_config "$T/c.yaml" "$port" "$db" "$(console_config "provisioning:
  default_team: acme
  env_suffixes: [pre, gstg, gprd, staging, production, prod, dev]
  allow_team_creation: true
  team_creator_groups: [okta-sentry-admin-users]
  requester_groups: [okta-sentry-member-users, okta-sentry-admin-users]
routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
    - { name: backend, channel: \"#backend\" }
  route:
    receiver: default
    routes:
      - matchers: [\"team=backend\"]
        receiver: backend")"

rc=0; "$SB_BIN" --config "$T/c.yaml" --log-level warn sync >/dev/null 2>"$T/sync.err" || rc=$?
eq "the first sync fills the mirrors" "$rc" 0
start_bridge b "$T/c.yaml"
check "ready" wait_ready "$URL" 20

j() { local jar=$1; shift; http "$1" "$2" -b "$T/$jar.jar" -c "$T/$jar.jar" "${@:3}"; }
loc() { header Location; }
signin() {
	j "$1" GET "$URL/console/login"
	local authz cb
	authz=$(loc)
	http GET "$authz&login_hint=$2"
	cb=$(loc)
	j "$1" GET "$cb"
}
csrf_of() { grep -o 'name="csrf" value="[^"]*"' <<<"$BODY" | head -n 1 | sed 's/.*value="//; s/"$//'; }
h1_of() { grep -o '<h1>[^<]*</h1>' <<<"$BODY" | head -n 1; }
XSS='<script>alert(1)</script>'
XSS_ESC='&lt;script&gt;alert(1)&lt;/script&gt;'

signin bob bob.brown@acme.example
eq "bob signs in" "$STATUS" 303
signin victor victor.vega@acme.example
eq "victor (admin) signs in" "$STATUS" 303
j bob GET "$URL/console/"
BCSRF=$(csrf_of)
j victor GET "$URL/console/"
VCSRF=$(csrf_of)
check "CSRF tokens on the pages" test -n "$BCSRF" -a -n "$VCSRF"

# --- every page: an <h1>, who is signed in, the navigation; admin pages 403 for others ---------------
for p in "/console/|My access" "/console/request|Request access" "/console/approvals|Approvals" \
	"/console/projects|Projects" "/console/alerts|Alerts"; do
	j bob GET "$URL${p%%|*}"
	eq "bob: ${p%%|*} 200" "$STATUS" 200
	eq "bob: ${p%%|*} names itself" "$(h1_of)" "<h1>${p#*|}</h1>"
	contains "bob: ${p%%|*} shows who is signed in" "$BODY" "&lt;bob.brown@acme.example&gt;"
	contains "bob: ${p%%|*} has the navigation" "$BODY" '<a href="/console/alerts">Alerts</a>'
	not_contains "bob: ${p%%|*} no admin links" "$BODY" '<a href="/console/gitlab">'
done
for p in /console/sync /console/sync/1 /console/sync/apply /console/audit /console/gitlab /console/slack; do
	j bob GET "$URL$p"
	eq "bob: $p 403" "$STATUS" 403
	contains "bob: $p says why" "$BODY" "console admins"
done
for p in "/console/sync|Sync runs" "/console/sync/1|Sync run #1" "/console/sync/apply|Apply the sync plan" \
	"/console/audit|Audit log" "/console/gitlab|GitLab cache" "/console/slack|Slack directory"; do
	j victor GET "$URL${p%%|*}"
	eq "victor: ${p%%|*} 200" "$STATUS" 200
	eq "victor: ${p%%|*} names itself" "$(h1_of)" "<h1>${p#*|}</h1>"
	contains "victor: ${p%%|*} shows who is signed in" "$BODY" "&lt;victor.vega@acme.example&gt;"
	contains "victor: ${p%%|*} admin navigation" "$BODY" '<a href="/console/slack">Slack</a>'
done
runs0=$(sql "SELECT count(*) FROM sync_runs")
j bob POST "$URL/console/sync/dry-run" --data "csrf=$BCSRF"
eq "bob: POST dry-run 403" "$STATUS" 403
j bob POST "$URL/console/sync/apply" --data "csrf=$BCSRF&confirm=yes"
eq "bob: POST apply 403" "$STATUS" 403
eq "no run queued by a non-admin" "$(sql "SELECT count(*) FROM sync_runs")" "$runs0"

# --- CSRF on every new POST ----------------------------------------------------------------------------
for p in "/console/request|kind=role&role=manager&duration=1h&reason=x" "/console/requests/1/cancel|" \
	"/console/grants/1/extend|" "/console/projects/check|name=abc" "/console/projects|name=abc" \
	"/console/silences|matchers=project%3Dapi&duration=1h&comment=x" "/console/silences/1/expire|"; do
	j bob POST "$URL${p%%|*}" --data "${p#*|}"
	eq "bob: ${p%%|*} without CSRF: 403" "$STATUS" 403
	j bob POST "$URL${p%%|*}" --data "${p#*|}&csrf=wrong$BCSRF"
	eq "bob: ${p%%|*} wrong CSRF: 403" "$STATUS" 403
	j bob POST "$URL${p%%|*}" --data "${p#*|}&csrf=$VCSRF"
	eq "bob: ${p%%|*} another session's CSRF: 403" "$STATUS" 403
done
for p in "/console/sync/dry-run|" "/console/sync/apply|confirm=yes"; do
	j victor POST "$URL${p%%|*}" --data "${p#*|}"
	eq "victor: ${p%%|*} without CSRF: 403" "$STATUS" 403
	j victor POST "$URL${p%%|*}" --data "${p#*|}&csrf=x$VCSRF"
	eq "victor: ${p%%|*} wrong CSRF: 403" "$STATUS" 403
done
eq "nothing filed by refused forms" "$(sql "SELECT count(*) FROM access_requests")" 0
eq "no silence by refused forms" "$(sql "SELECT count(*) FROM slack_silences")" 0
eq "no run by refused forms" "$(sql "SELECT count(*) FROM sync_runs")" "$runs0"

# --- Request access: the rules shown, errors re-show the form, a request filed -------------------------
j bob GET "$URL/console/request"
contains "shows the max role" "$BODY" "access_requests.max_role</code>: manager"
contains "shows requestable teams" "$BODY" "<code>observability</code>, <code>payments</code>"
contains "shows the max duration" "$BODY" "at most 1d"
contains "says the reason is required" "$BODY" "<dt>Reason</dt><dd>required</dd>"
contains "says bob may ask" "$BODY" '(you are)'
contains "the kind select" "$BODY" '<select id="kind" name="kind">'
contains "the Request button" "$BODY" '<button class="primary">Request</button>'
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=role&role=manager&duration=2h" \
	--data-urlencode "reason="
eq "no reason: 422" "$STATUS" 422
contains "names the problem" "$BODY" 'class="err"'
contains "names the field" "$BODY" "reason"
contains "the form is shown again" "$BODY" 'action="/console/request"'
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=role&role=owner&duration=2h" \
	--data-urlencode "reason=$XSS"
eq "owner: 422" "$STATUS" 422
contains "owner: says why" "$BODY" "owner cannot be requested"
contains "the reason is re-shown escaped" "$BODY" "<textarea id=\"reason\" name=\"reason\">$XSS_ESC</textarea>"
not_contains "no raw script on the error page" "$BODY" "$XSS"
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=role&role=manager&duration=3d&reason=x"
eq "too long: 422" "$STATUS" 422
contains "too long: names the duration" "$BODY" "duration"
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=team&team=nope&duration=1h&reason=x"
eq "a team not requestable: 422" "$STATUS" 422
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=bogus&reason=x"
eq "a bad kind: 422" "$STATUS" 422
eq "nothing filed by the errors" "$(sql "SELECT count(*) FROM access_requests")" 0
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=role&role=manager&duration=2h" \
	--data-urlencode "reason=$XSS & \"x\""
eq "request: 303" "$STATUS" 303
eq "to My access with a notice" "$(loc)" "/console/?msg=requested"
rq1=$(sql "SELECT id FROM access_requests ORDER BY id DESC LIMIT 1")
eq "filed with source web by bob" "$(sql "SELECT requester || ' ' || source || ' ' || created_by || ' ' || status FROM access_requests WHERE id = $rq1")" \
	"bob.brown@acme.example web bob.brown@acme.example pending"
eq "audited with source web" "$(sql "SELECT details->>'source' FROM audit_log WHERE action = 'access.request' AND target = 'access-request:$rq1'")" web
j bob GET "$URL/console/?msg=requested"
contains "the notice" "$BODY" "Your request is filed"
contains "the pending request with its reason escaped" "$BODY" "$XSS_ESC &amp; &quot;x&quot;"
not_contains "no raw script on My access" "$BODY" "$XSS"
contains "a Cancel button" "$BODY" "action=\"/console/requests/$rq1/cancel\""
contains "a Request access link" "$BODY" 'href="/console/request"'
contains "why: the access group and its role" "$BODY" "<li><code>okta-sentry-member-users</code>: access group (<code>roles.access_groups</code>): member</li>"
j victor GET "$URL/console/"
contains "why: a role mapping" "$BODY" "<code>okta-sentry-admin-users</code>: role mapping: manager</li>"
j bob GET "$URL/console/?msg=%3Cb%3Eanything%3C%2Fb%3E"
not_contains "a made-up notice is not shown" "$BODY" "anything"
j victor GET "$URL/console/approvals"
contains "approver sees the reason escaped" "$BODY" "$XSS_ESC"
contains "the requester links to the audit log (admin)" "$BODY" 'href="/console/audit?person=bob.brown%40acme.example"'
contains "the request links to its audit entries" "$BODY" 'href="/console/audit?target=access-request%3A'"$rq1"'"'

# --- cancel ----------------------------------------------------------------------------------------------
j victor POST "$URL/console/requests/$rq1/cancel" --data "csrf=$VCSRF"
eq "someone else cannot cancel: 403" "$STATUS" 403
eq "still pending" "$(sql "SELECT status FROM access_requests WHERE id = $rq1")" pending
j bob POST "$URL/console/requests/$rq1/cancel" --data "csrf=$BCSRF"
eq "cancel: 303" "$STATUS" 303
eq "cancel: to My access" "$(loc)" "/console/?msg=cancelled"
eq "cancelled" "$(sql "SELECT status FROM access_requests WHERE id = $rq1")" cancelled
eq "cancel audited with source web" "$(sql "SELECT actor || ' ' || (details->>'source') FROM audit_log WHERE action = 'access.cancel' AND target = 'access-request:$rq1'")" \
	"bob.brown@acme.example web"
j bob POST "$URL/console/requests/$rq1/cancel" --data "csrf=$BCSRF"
eq "cancel twice: 409" "$STATUS" 409
j bob POST "$URL/console/requests/abc/cancel" --data "csrf=$BCSRF"
eq "cancel a bad id: 400" "$STATUS" 400

# --- approve, then extend -----------------------------------------------------------------------------
j bob POST "$URL/console/request" --data-urlencode "csrf=$BCSRF" --data "kind=team&team=payments&duration=2h&reason=oncall"
eq "team request: 303" "$STATUS" 303
rq2=$(sql "SELECT id FROM access_requests ORDER BY id DESC LIMIT 1")
j victor POST "$URL/console/approvals/$rq2" --data "action=approve&reason=ok&csrf=$VCSRF"
eq "victor approves: 200" "$STATUS" 200
gid=$(sql "SELECT id FROM access_grants WHERE request_id = $rq2")
check "a grant" test -n "$gid"
j bob GET "$URL/console/"
contains "the grant with an Extend button" "$BODY" "action=\"/console/grants/$gid/extend\""
j bob POST "$URL/console/grants/$gid/extend" --data "csrf=$BCSRF"
eq "extend: 303" "$STATUS" 303
eq "extend: to the prefilled form" "$(loc)" "/console/request?extend=$gid"
j bob GET "$URL/console/request?extend=$gid"
eq "extend form: 200" "$STATUS" 200
contains "says which grant" "$BODY" "Extending grant #$gid"
contains "kind team chosen" "$BODY" '<option value="team" selected>'
contains "team payments chosen" "$BODY" '<option value="payments" selected>'
contains "the grant id travels with the form" "$BODY" "name=\"extend\" value=\"$gid\""
j victor GET "$URL/console/request?extend=$gid"
eq "someone else's grant: 404" "$STATUS" 404
j bob GET "$URL/console/request?extend=99999"
eq "no such grant: 404" "$STATUS" 404

# --- sync: a plan with a change, dry run, apply ---------------------------------------------------------
SS=(-H "Authorization: Bearer sim-sentry-token" -H "Content-Type: application/json")
carol=$(curl -s "${SS[@]}" "$SIM_URL/api/0/organizations/acme/members/" | jq -r '.[] | select(.email == "carol.chen@acme.example") | .id')
curl -s -o /dev/null -X PUT "${SS[@]}" --data '{"orgRole":"manager"}' "$SIM_URL/api/0/organizations/acme/members/$carol/"
eq "drift made in Sentry: carol is a manager" "$(curl -s "${SS[@]}" "$SIM_URL/api/0/organizations/acme/members/$carol/" | jq -r '.orgRole // .role')" manager
wait_run() { # wait_run ID: until the run is no longer queued/running
	for _ in $(seq 1 150); do
		case $(sql "SELECT status FROM sync_runs WHERE id = $1") in queued | running | "") sleep 0.2 ;; *) return 0 ;; esac
	done
	return 1
}
j victor GET "$URL/console/sync"
contains "the Dry run now button" "$BODY" '<button class="primary">Dry run now</button>'
contains "runs link to their page" "$BODY" '<a href="/console/sync/1">#1</a>'
j victor POST "$URL/console/sync/dry-run" --data "csrf=$VCSRF"
eq "dry run: 303" "$STATUS" 303
dry=$(sql "SELECT max(id) FROM sync_runs")
eq "dry run: to its page" "$(loc)" "/console/sync/$dry?msg=queued"
eq "dry run: a dry run with trigger web" "$(sql "SELECT dry_run || ' ' || trigger FROM sync_runs WHERE id = $dry")" "true web"
eq "dry run: audited" "$(sql "SELECT actor || ' ' || (details->>'source') FROM audit_log WHERE action = 'sync.plan_requested' AND run_id = $dry")" \
	"victor.vega@acme.example web"
check "the dry run ran (through the job)" wait_run "$dry"
eq "planned" "$(sql "SELECT status FROM sync_runs WHERE id = $dry")" planned
j victor GET "$URL/console/sync/$dry"
eq "run page: 200" "$STATUS" 200
contains "the plan grouped by kind" "$BODY" "<h3>Role changes</h3>"
contains "carol's change" "$BODY" "carol.chen@acme.example</a></td><td>manager → member</td>"
contains "an Apply button on a dry run" "$BODY" '<form class="inline" method="get" action="/console/sync/apply"><button>Apply…</button></form>'
j victor GET "$URL/console/sync/apply"
contains "the confirmation names the latest dry run" "$BODY" "<a href=\"/console/sync/$dry\">#$dry</a>"
contains "the confirm field" "$BODY" 'name="confirm" value="yes"'
j victor POST "$URL/console/sync/apply" --data "csrf=$VCSRF"
eq "apply without confirm: 400" "$STATUS" 400
j victor POST "$URL/console/sync/apply" --data "csrf=$VCSRF&confirm=yes"
eq "apply: 303" "$STATUS" 303
app=$(sql "SELECT max(id) FROM sync_runs")
eq "apply: to its page" "$(loc)" "/console/sync/$app?msg=queued"
check "the apply ran" wait_run "$app"
eq "applied" "$(sql "SELECT status || ' ' || dry_run FROM sync_runs WHERE id = $app")" "applied false"
eq "carol is a member again in Sentry" "$(curl -s "${SS[@]}" "$SIM_URL/api/0/organizations/acme/members/$carol/" | jq -r '.orgRole // .role')" member
eq "apply audited with source web" "$(sql "SELECT actor || ' ' || (details->>'source') FROM audit_log WHERE action = 'sync.requested' AND run_id = $app")" \
	"victor.vega@acme.example web"
j victor GET "$URL/console/sync/$app?msg=queued"
contains "applied change shown" "$BODY" "<td>applied</td>"
not_contains "a finished run no longer says queued (the redirect's msg)" "$BODY" "The sync run is queued"
not_contains "no Apply button on an applied run" "$BODY" "Apply…</button>"
# a run refused by a guard, and HTML in a reason (stored as a run would be)
ref=$(sql "INSERT INTO sync_runs (trigger, dry_run, status, finished_at, plan, summary) VALUES ('schedule', true, 'refused', now(),
	'{\"refusals\": [\"6 removals exceed sync.guards.max_removals (5) <script>x</script>\"], \"warnings\": []}', '{}') RETURNING id" | head -n 1)
sql "INSERT INTO sync_changes (run_id, seq, kind, email, reason) VALUES ($ref, 0, 'remove_member', 'x@acme.example', 'gone from Okta $XSS')" >/dev/null
j victor GET "$URL/console/sync/$ref"
contains "the guard's refusal" "$BODY" "<h2>Refused by a safety guard</h2>"
contains "its cause, escaped" "$BODY" "<li>6 removals exceed sync.guards.max_removals (5) &lt;script&gt;x&lt;/script&gt;</li>"
contains "the change's reason, escaped" "$BODY" "gone from Okta $XSS_ESC"
not_contains "no raw script on the run page" "$BODY" "<script>"
j victor GET "$URL/console/sync/99999"
eq "no such run: 404" "$STATUS" 404
j victor GET "$URL/console/sync/abc"
eq "a bad run id: 400" "$STATUS" 400

# --- audit log: filters, paging, links -------------------------------------------------------------------
rows() { grep -o '<tr><td>[0-9]*</td>' <<<"$BODY" | wc -l; }
j victor GET "$URL/console/audit?person=bob.brown%40acme.example"
eq "person filter: 200" "$STATUS" 200
check "person filter: rows" test "$(rows)" -gt 3
not_contains "person filter: not victor's sign-in" "$BODY" "<td>console.sign_in</td><td><a href=\"/console/audit?person=victor"
j victor GET "$URL/console/audit?source=web"
check "source filter: rows" test "$(rows)" -gt 3
eq "source filter: all web" "$(grep -o '</td><td>[a-z]*</td></tr>' <<<"$BODY" | sort -u)" "</td><td>web</td></tr>"
contains "the source is kept selected" "$BODY" "<option selected>web</option>"
j victor GET "$URL/console/audit?action=access.cancel&source=web"
eq "action and source: one entry" "$(rows)" 1
j victor GET "$URL/console/audit?since=1h&action=access.request"
eq "since 1h: both requests" "$(rows)" 2
j victor GET "$URL/console/audit?until=2000-01-01&action=access.request"
contains "until 2000: none" "$BODY" "No entries."
j victor GET "$URL/console/audit?since=$(date -u +%Y-%m-%dT00:00)&until=2100-01-01T00:00:00Z&action=access.request"
eq "a date range: both" "$(rows)" 2
j victor GET "$URL/console/audit?since=yesterday"
eq "a bad since: 400" "$STATUS" 400
j victor GET "$URL/console/audit?run=$app"
check "entries of the applied run" test "$(rows)" -ge 2
contains "they link to the run" "$BODY" "<a href=\"/console/sync/$app\">run #$app</a>"
j victor GET "$URL/console/audit?target=access-request%3A$rq1"
eq "a request's entries" "$(rows)" 2
sql "INSERT INTO audit_log (actor, action, target, reason, details) SELECT 'pager@acme.example', 'page.test', 't' || i, 'r' || i, '{\"source\":\"web\"}' FROM generate_series(1, 120) i" >/dev/null
j victor GET "$URL/console/audit?person=pager%40acme.example&source=web"
eq "first page: 50" "$(rows)" 50
more=$(grep -o 'href="/console/audit?before[^"]*">Older entries' <<<"$BODY" | sed 's/^href="//; s/">Older entries$//; s/&amp;/\&/g; s/&#61;/=/g')
contains "the older link keeps the filters" "$more" "&person=pager%40acme.example&source=web"
j victor GET "$URL$more"
eq "second page: 50" "$(rows)" 50
more=$(grep -o 'href="/console/audit?before[^"]*">Older entries' <<<"$BODY" | sed 's/^href="//; s/">Older entries$//; s/&amp;/\&/g; s/&#61;/=/g')
j victor GET "$URL$more"
eq "third page: 20" "$(rows)" 20
not_contains "no more pages" "$BODY" "Older entries"
j victor GET "$URL/console/audit?person=%22%3E%3Cscript%3Ex"
contains "a filter value is escaped back" "$BODY" 'value="&quot;&gt;&lt;script&gt;x"'

# --- projects ------------------------------------------------------------------------------------------------
j bob GET "$URL/console/projects"
contains "the project form" "$BODY" 'action="/console/projects/check"'
not_contains "no lint for non-admins" "$BODY" "Projects lint"
j victor GET "$URL/console/projects"
contains "admins see the lint report" "$BODY" "<h2>Projects lint</h2>"
contains "with violations" "$BODY" "violation(s) in"
j bob POST "$URL/console/projects/check" --data-urlencode "csrf=$BCSRF" --data "name=my-awsome-app"
eq "a near-duplicate: 409" "$STATUS" 409
contains "names the existing project" "$BODY" "<code>my-awesome-app</code>"
contains "says refused" "$BODY" "Refused: a duplicate"
not_contains "no create button for a refusal" "$BODY" 'action="/console/projects"><input'
j bob POST "$URL/console/projects/check" --data-urlencode "csrf=$BCSRF" --data-urlencode "name=Billing $XSS-gprd" \
	--data-urlencode "team=$XSS"
contains "the name is escaped in the form" "$BODY" "value=\"Billing $XSS_ESC-gprd\""
not_contains "no raw script on the projects page" "$BODY" "<script>"
j bob POST "$URL/console/projects/check" --data-urlencode "csrf=$BCSRF" --data "name="
eq "an empty name: 422" "$STATUS" 422
contains "says name is required" "$BODY" "name is required"
w0=$(curl -s "$SIM_URL/_sim/requests?limit=100000" | jq '[.requests[] | select(.method != "GET")] | length')
j bob POST "$URL/console/projects/check" --data-urlencode "csrf=$BCSRF" --data "name=Ledger Service-gprd&platform=python"
eq "check: 200" "$STATUS" 200
contains "the canonical name" "$BODY" "<dt>Canonical name</dt><dd>Ledger Service</dd>"
contains "the slug" "$BODY" "<code>ledger-service</code>"
contains "the stripped suffix" "$BODY" "<code>gprd</code>"
contains "the team and why" "$BODY" "<dt>Team</dt><dd><code>acme</code> (default)"
contains "no duplicates" "$BODY" "None: no existing project"
contains "a create button" "$BODY" '<button class="primary">Create the project</button>'
eq "check writes nothing to Sentry" "$(curl -s "$SIM_URL/_sim/requests?limit=100000" | jq '[.requests[] | select(.method != "GET")] | length')" "$w0"
j bob POST "$URL/console/projects" --data-urlencode "csrf=$BCSRF" --data "name=Ledger Service-gprd&platform=python&team="
eq "create: 200" "$STATUS" 200
contains "says created" "$BODY" "Created the project <code>ledger-service</code> in team <code>acme</code>"
eq "in Sentry" "$(curl -s "${SS[@]}" "$SIM_URL/api/0/organizations/acme/projects/" | jq -r '.[] | select(.slug == "ledger-service") | .name')" "Ledger Service"
eq "audited: bob, source web" "$(sql "SELECT actor || ' ' || (details->>'source') FROM audit_log WHERE action = 'project.create' AND target = 'project:ledger-service'")" \
	"bob.brown@acme.example web"
not_contains "no audit link for a member" "$BODY" "The audit entry"
j bob POST "$URL/console/projects" --data-urlencode "csrf=$BCSRF" --data "name=ledger-service"
eq "create it again: 409" "$STATUS" 409
j victor POST "$URL/console/projects" --data-urlencode "csrf=$VCSRF" --data "name=Quartz Scheduler&team=payments"
eq "an admin creates one: 200" "$STATUS" 200
contains "with a link to its audit entry" "$BODY" 'href="/console/audit?target=project%3Aquartz-scheduler">The audit entry</a>'

# --- alerts: route tree, outbox, silences ------------------------------------------------------------
sql "INSERT INTO slack_outbox (idem_key, kind, receiver, target, route_path, route_trail, group_key, status, alert, slack_channel, slack_ts, sent_at)
	VALUES ('it:1', 'alert', 'default', '#alerts', 'route', 'route', 'g1', 'sent',
	'{\"project\": \"api\", \"level\": \"error\", \"title\": \"<img src=x onerror=alert(1)> TypeError\"}', 'C0ALERTS', '1700000000.000100', now())" >/dev/null
j bob GET "$URL/console/alerts"
contains "the route tree as routes show prints it" "$BODY" "routing.route.routes[0]  [team&#61;backend]"
contains "receivers with their channel" "$BODY" "receiver&#61;backend -&gt; channel #backend"
contains "the alert's Slack text, escaped" "$BODY" "&lt;img src&#61;x onerror&#61;alert(1)&gt; TypeError"
not_contains "no raw img tag" "$BODY" "<img"
contains "where it went" "$BODY" "<td>C0ALERTS 1700000000.000100</td>"
contains "its status" "$BODY" "<td>sent</td>"
contains "the silence form" "$BODY" '<button class="primary">Create silence</button>'
j bob POST "$URL/console/silences" --data-urlencode "csrf=$BCSRF" --data-urlencode 'matchers=level=~"(oops"' \
	--data "duration=2h&comment=x"
eq "a bad matcher: 422" "$STATUS" 422
contains "names the matcher" "$BODY" "matchers: "
contains "the matchers re-shown escaped" "$BODY" "level&#61;~&quot;(oops&quot;</textarea>"
j bob POST "$URL/console/silences" --data-urlencode "csrf=$BCSRF" --data "matchers=project%3Dapi&duration=99d&comment=x"
eq "too long: 422" "$STATUS" 422
contains "says the maximum" "$BODY" "routing.silence_max_duration"
j bob POST "$URL/console/silences" --data-urlencode "csrf=$BCSRF" --data "matchers=project%3Dapi&duration=2h&comment="
eq "no comment: 422" "$STATUS" 422
j bob POST "$URL/console/silences" --data-urlencode "csrf=$BCSRF" --data "matchers=&duration=2h&comment=x"
eq "no matchers: 422" "$STATUS" 422
eq "no silence from the errors" "$(sql "SELECT count(*) FROM slack_silences")" 0
j bob POST "$URL/console/silences" --data-urlencode "csrf=$BCSRF" --data-urlencode $'matchers=project=api\r\nlevel=~"error|fatal"' \
	--data "duration=2h" --data-urlencode "comment=deploy $XSS"
eq "silence: 303" "$STATUS" 303
eq "silence: back to alerts" "$(loc)" "/console/alerts?msg=silenced"
sid=$(sql "SELECT id FROM slack_silences ORDER BY id DESC LIMIT 1")
eq "stored with bob as author" "$(sql "SELECT author || ' ' || array_length(matchers, 1) || ' ' || (ends_at - starts_at)::text FROM slack_silences WHERE id = $sid")" \
	"bob.brown@acme.example 2 02:00:00"
eq "audited with source web" "$(sql "SELECT actor || ' ' || (details->>'source') FROM audit_log WHERE action = 'silence.create' AND target = 'silence:$sid'")" \
	"bob.brown@acme.example web"
j bob GET "$URL/console/alerts?msg=silenced"
contains "the comment escaped" "$BODY" "deploy $XSS_ESC"
not_contains "no raw script on alerts" "$BODY" "<script>"
contains "an Expire button" "$BODY" "action=\"/console/silences/$sid/expire\""
j bob POST "$URL/console/silences/$sid/expire" --data "csrf=$BCSRF"
eq "expire: 303" "$STATUS" 303
eq "expire: back to alerts" "$(loc)" "/console/alerts?msg=expired"
check "expired, kept" test -n "$(sql "SELECT expired_at FROM slack_silences WHERE id = $sid")"
eq "expire audited" "$(sql "SELECT actor || ' ' || (details->>'source') FROM audit_log WHERE action = 'silence.expire' AND target = 'silence:$sid'")" \
	"bob.brown@acme.example web"
j bob POST "$URL/console/silences/$sid/expire" --data "csrf=$BCSRF"
eq "expire again: 404" "$STATUS" 404

# --- status pages ------------------------------------------------------------------------------------------
j victor GET "$URL/console/gitlab"
contains "gitlab: disabled here" "$BODY" "The GitLab proxy is disabled"
sql "INSERT INTO gitlab_cache_snapshots (groups, projects, duration_ms, data) VALUES (3, 42, 1234, repeat('x', 2048))" >/dev/null
j victor GET "$URL/console/gitlab"
contains "gitlab: a stored snapshot" "$BODY" "<td>3</td><td>42</td><td>1234 ms</td><td>2048 bytes</td>"
sql "INSERT INTO slack_channels (id, name, is_member) VALUES ('C1', 'alerts', true), ('C2', '<b>x</b>', false)" >/dev/null
j victor GET "$URL/console/slack"
contains "slack: channel count" "$BODY" "<dt>Cached</dt><dd>2</dd>"
contains "slack: member count" "$BODY" "<dt>The bot is a member of</dt><dd>1</dd>"
contains "slack: last refresh" "$BODY" "UTC ("
# the refresh state (slack_directory_state, migration 009)
sql "INSERT INTO slack_directory_state (kind, last_success_at, last_attempt_at, last_error, entries, duration_ms, calls, rate_limited, replica)
	VALUES ('users', now() - interval '1 hour', now(), 'ratelimited <b>x</b>', 7, 120, 3, 1, 'r1')
	ON CONFLICT (kind) DO UPDATE SET last_success_at = EXCLUDED.last_success_at, last_attempt_at = EXCLUDED.last_attempt_at,
	last_error = EXCLUDED.last_error, entries = EXCLUDED.entries, duration_ms = EXCLUDED.duration_ms, calls = EXCLUDED.calls,
	rate_limited = EXCLUDED.rate_limited, replica = EXCLUDED.replica" >/dev/null
j victor GET "$URL/console/slack"
contains "slack: the refresh state" "$BODY" "<h2>Refreshes</h2>"
contains "slack: the last error, escaped" "$BODY" "ratelimited &lt;b&gt;x&lt;/b&gt;"
contains "slack: calls and 429s" "$BODY" "<td>3 (1)</td>"

stop_bridge b
eq "bridge stops cleanly" "$STOP_RC" 0
not_contains "no sanitizer report" "$(log_of b)" "Sanitizer"
finish
