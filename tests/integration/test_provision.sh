#!/usr/bin/env bash
# Provisioning of projects and teams (issue #5), end to end: the real binary
# against the simulator's demo organisation (Okta groups for who may ask,
# Sentry teams and projects) and a real PostgreSQL for the audit log.
# Dry run, create, refusals (duplicate, invalid, forbidden), the default
# team, team creation, Sentry refusing between check and create (with the
# created team rolled back), the teams endpoint and `projects lint`.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token

start_sim sim --demo
db=$(fresh_db it_provision)
port=$(free_port)
write_config "$T/p.yaml" "$port" "$db" "okta:
  base_url: \"$SIM_URL\"
  api_token_env: OKTA_API_TOKEN
sentry:
  base_url: \"$SIM_URL\"
  organization: acme
  token_env: SENTRY_TOKEN
provisioning:
  default_team: acme
  env_suffixes: [pre, gstg, gprd, staging, production, prod, dev]
  allow_team_creation: true
  team_creator_groups: [okta-sentry-admin-users]
  requester_groups: [okta-sentry-member-users, okta-sentry-admin-users]
  near_duplicate_distance: 2"
start_bridge b "$T/p.yaml"
wait_ready "http://127.0.0.1:$port" 20 || fail "bridge ready"
B="http://127.0.0.1:$port"
AUTH=(-H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" -H "Content-Type: application/json")
S=(-H "Authorization: Bearer sim-sentry-token")
sim_get() { curl -s "$SIM_URL$1"; }
seq_now() { sim_get "/_sim/requests?limit=100000" | jq '.next'; }
writes_since() { sim_get "/_sim/requests?since=$1&limit=100000" | jq '[.requests[] | select(.method != "GET")] | length'; }
project_teams() { curl -s "${S[@]}" "$SIM_URL/api/0/organizations/acme/projects/" | jq -r --arg s "$1" '[.[] | select(.slug == $s) | .teams[].slug] | join(",")'; }
team_exists() { curl -s -o /dev/null -w '%{http_code}' "${S[@]}" "$SIM_URL/api/0/teams/acme/$1/"; }
audit_count() { psql "$db" -qAt -c "SELECT count(*) FROM audit_log WHERE action = '$1' AND target = '$2'"; }
post() { http POST "$B$1" "${AUTH[@]}" -d "$2"; }

# --- authentication ------------------------------------------------------------
http POST "$B/api/v1/projects" -d '{"name":"x"}'
eq "no token: 401" "$STATUS" 401

# --- dry run: the decision, nothing made ----------------------------------------
s0=$(seq_now)
post "/api/v1/projects?dry_run=true" '{"name":"Inventory Service-gprd","platform":"python"}'
eq "dry run: 200" "$STATUS" 200
eq "dry run: canonical name without the env suffix" "$(echo "$BODY" | jq -r .decision.canonical_name)" "Inventory Service"
eq "dry run: slug" "$(echo "$BODY" | jq -r .decision.slug)" inventory-service
eq "dry run: stripped suffix" "$(echo "$BODY" | jq -r '.decision.stripped_suffixes[0]')" gprd
eq "dry run: default team" "$(echo "$BODY" | jq -r '.decision.team.slug + " " + .decision.team.source')" "acme default"
eq "dry run: writes nothing to Sentry" "$(writes_since "$s0")" 0
eq "dry run: nothing audited" "$(psql "$db" -qAt -c "SELECT count(*) FROM audit_log")" 0
post "/api/v1/projects?dry_run=maybe" '{"name":"x"}'
eq "dry_run must be a boolean" "$STATUS" 400

# --- create under a named team, on behalf of a member ---------------------------
post /api/v1/projects '{"name":"Inventory Service-gprd","team":"payments","platform":"python","requester":"alice.anderson@acme.example"}'
eq "create: 201" "$STATUS" 201
eq "create: the project" "$(echo "$BODY" | jq -r '.project.slug + " " + .project.team')" "inventory-service payments"
eq "create: in Sentry under the team" "$(project_teams inventory-service)" payments
eq "create: Sentry got the canonical name" "$(curl -s "${S[@]}" "$SIM_URL/api/0/organizations/acme/projects/" | jq -r '.[] | select(.slug == "inventory-service") | .name + "/" + .platform')" "Inventory Service/python"
eq "create: audited with the requester" "$(psql "$db" -qAt -c "SELECT actor FROM audit_log WHERE action = 'project.create' AND target = 'project:inventory-service'")" alice.anderson@acme.example

# --- duplicates: 409 naming the project and why ----------------------------------
post /api/v1/projects '{"name":"inventory-service-gstg"}'
eq "same app, other environment: 409" "$STATUS" 409
eq "409 names the project" "$(echo "$BODY" | jq -r '.conflicts[0].slug + " " + .conflicts[0].reason')" "inventory-service same_slug"
post /api/v1/projects '{"name":"my_awesome_app"}'
eq "separators only: 409" "$STATUS" 409
eq "separators: reason" "$(echo "$BODY" | jq -r '.conflicts[0].slug + " " + .conflicts[0].reason')" "my-awesome-app same_name_but_separators"
post /api/v1/projects '{"name":"my-awsome-app"}'
eq "typo: 409" "$STATUS" 409
eq "typo: edit distance 1" "$(echo "$BODY" | jq -r '.conflicts[0].reason + " " + (.conflicts[0].distance | tostring)')" "edit_distance 1"
contains "typo: why" "$(echo "$BODY" | jq -r .error.message)" "my-awesome-app"
eq "refusal audited" "$(audit_count project.refused project:my-awsome-app)" 1

# --- names that cannot be made valid: 422 ----------------------------------------
for n in '""' '"   "' '"prod"' '"gprd-gstg"' '"12345"' '"!!!"' '"settings"' '"Caf\u00e9"' \
	'"this-application-name-is-far-too-long-for-sentry-to-take"'; do
	post /api/v1/projects "{\"name\":$n}"
	eq "422 for $n" "$STATUS" 422
done
post /api/v1/projects '{"name":"prod"}'
contains "only suffixes: says so" "$(echo "$BODY" | jq -r .error.message)" "only environment suffixes"
post /api/v1/projects '{"name":"Caf\u00e9"}'
contains "non-ASCII: says so" "$(echo "$BODY" | jq -r .error.message)" "non-ASCII"
long=$(printf '\\u00e9%.0s' $(seq 1 120))
post /api/v1/projects "{\"name\":\"a$long\"}"
eq "long non-ASCII name: 422" "$STATUS" 422
eq "  ... audited under a valid UTF-8 target" "$(psql "$db" -qAt -c "SELECT count(*) FROM audit_log WHERE action = 'project.refused' AND target LIKE 'project:aéé%'")" 1
post /api/v1/projects '{"team":"payments"}'
eq "no name: 422" "$STATUS" 422
post /api/v1/projects '{"name":"x","teams":["a"]}'
eq "unknown field: 400" "$STATUS" 400
post /api/v1/projects '{"name":"ledger","platform":"Python 3!"}'
eq "bad platform: 422" "$STATUS" 422
post /api/v1/projects '{"name":"ledger","requester":"not an email"}'
eq "bad requester: 400" "$STATUS" 400

# --- who may: 403 ------------------------------------------------------------------
post /api/v1/projects '{"name":"ledger","requester":"yara.young@acme.example"}'
eq "requester outside requester_groups: 403" "$STATUS" 403
contains "403 says why" "$(echo "$BODY" | jq -r .error.message)" "requester_groups"
post /api/v1/projects '{"name":"ledger","requester":"kate.kowalski@acme.example"}'
eq "suspended requester: 403" "$STATUS" 403
eq "forbidden audited" "$(audit_count project.refused project:ledger)" 2

# --- default team ------------------------------------------------------------------
post /api/v1/projects '{"name":"ledger","requester":"bob.brown@acme.example"}'
eq "no team named: 201" "$STATUS" 201
eq "no team named: the default team" "$(project_teams ledger)" acme
post /api/v1/projects '{"name":"reports","team":"Platform","requester":"alice.anderson@acme.example"}'
eq "unknown team, requester may not create teams: 201" "$STATUS" 201
eq "  ... goes to the default team" "$(echo "$BODY" | jq -r .decision.team.source)" default
contains "  ... and says why" "$(echo "$BODY" | jq -r .decision.team.note)" "may not create teams"
eq "  ... no team platform created" "$(team_exists platform)" 404
eq "  ... in Sentry under acme" "$(project_teams reports)" acme
post /api/v1/projects '{"name":"exporter","team":"Observability"}'
eq "team named by its name: 201" "$STATUS" 201
eq "  ... the existing team" "$(project_teams exporter)" observability

# --- team creation -------------------------------------------------------------------
post /api/v1/projects '{"name":"search-indexer","team":"Platform SRE","requester":"victor.vega@acme.example"}'
eq "new team by a team creator: 201" "$STATUS" 201
eq "  ... team created" "$(echo "$BODY" | jq -r '.team_created')" true
eq "  ... team in Sentry" "$(team_exists platform-sre)" 200
eq "  ... project under it" "$(project_teams search-indexer)" platform-sre
eq "  ... team creation audited" "$(audit_count team.create team:platform-sre)" 1

# --- Sentry refuses between check and create: nothing half-made -----------------------
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /api/0/teams/*/projects/","status":409,"count":1}' >/dev/null
post /api/v1/projects '{"name":"warehouse","team":"Data Eng","requester":"victor.vega@acme.example"}'
eq "slug taken meanwhile: 409" "$STATUS" 409
eq "  ... reason" "$(echo "$BODY" | jq -r '.conflicts[0].reason')" created_meanwhile
eq "  ... the new team rolled back" "$(echo "$BODY" | jq -r '.team_rolled_back')" data-eng
eq "  ... and gone from Sentry" "$(team_exists data-eng)" 404
eq "  ... no project" "$(project_teams warehouse)" ""
eq "  ... rollback audited" "$(audit_count team.delete team:data-eng)" 1
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /api/0/teams/*/projects/","status":403,"count":1}' >/dev/null
post /api/v1/projects '{"name":"warehouse","team":"payments"}'
eq "Sentry says 403: 502" "$STATUS" 502
eq "  ... with Sentry's status" "$(echo "$BODY" | jq -r '.sentry_status')" 403
contains "  ... and a clear message" "$(echo "$BODY" | jq -r .error.message)" "You do not have permission"
eq "  ... no project" "$(project_teams warehouse)" ""
# no answer at all (every attempt dropped): the outcome is unknown, the new team
# stays, and a repeat is safe
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"POST /api/0/teams/*/projects/","drop":true,"count":10}' >/dev/null
post /api/v1/projects '{"name":"analytics-api","team":"Analytics","requester":"victor.vega@acme.example"}'
eq "no answer from Sentry: 502" "$STATUS" 502
eq "  ... sentry_error" "$(echo "$BODY" | jq -r .error.code)" sentry_error
eq "  ... says the team was created" "$(echo "$BODY" | jq -r .team_created)" true
eq "  ... the team stays" "$(team_exists analytics)" 200
eq "  ... failure audited" "$(audit_count project.failed project:analytics-api)" 1
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null
post /api/v1/projects '{"name":"analytics-api","team":"Analytics","requester":"victor.vega@acme.example"}'
eq "  ... the repeat: 201 into the existing team" "$(echo "$STATUS $(echo "$BODY" | jq -r .decision.team.source)")" "201 named"
curl -s -X POST "$SIM_URL/_sim/faults" -d '{"match":"GET /api/0/organizations/acme/projects/","status":503,"count":10}' >/dev/null
post /api/v1/projects '{"name":"warehouse"}'
eq "Sentry unreadable: 502" "$STATUS" 502
post /api/v1/projects '{"name":"prod"}'
eq "  ... a bad name is still a 422 (checked before Sentry is read)" "$STATUS" 422
curl -s -X DELETE "$SIM_URL/_sim/faults" >/dev/null
post /api/v1/projects '{"name":"warehouse","team":"payments"}'
eq "after the faults: 201" "$STATUS" 201

# --- teams ------------------------------------------------------------------------------
s1=$(seq_now)
post "/api/v1/teams?dry_run=true" '{"name":"Growth"}'
eq "team dry run: 200" "$STATUS" 200
eq "team dry run: slug" "$(echo "$BODY" | jq -r .decision.slug)" growth
eq "team dry run: writes nothing" "$(writes_since "$s1")" 0
post /api/v1/teams '{"name":"Growth"}'
eq "team create: 201" "$STATUS" 201
eq "  ... in Sentry" "$(team_exists growth)" 200
post /api/v1/teams '{"name":"growth"}'
eq "team again: 409" "$STATUS" 409
post /api/v1/teams '{"name":"Observabilty"}'
eq "team typo: 409" "$STATUS" 409
eq "  ... names the team" "$(echo "$BODY" | jq -r '.conflicts[0].slug')" observability
post /api/v1/teams '{"name":"Data","requester":"alice.anderson@acme.example"}'
eq "team by a non-creator: 403" "$STATUS" 403
post /api/v1/teams '{"name":"Data","requester":"wendy.wu@acme.example"}'
eq "team by a creator: 201" "$STATUS" 201
post /api/v1/teams '{"name":"42"}'
eq "all-digit team: 422" "$STATUS" 422
post /api/v1/teams '{"name":"x","team":"y"}'
eq "team: unknown field: 400" "$STATUS" 400

# --- projects lint ---------------------------------------------------------------------------
lint() { RC=0; OUT=$("$SB_BIN" --config "$T/p.yaml" --log-level warn projects lint "$@" 2>"$T/lint.err") || RC=$?; }
lint
eq "lint of the org so far: clean" "$RC" 0
contains "lint: summary" "$OUT" "0 violations in"
cat >"$T/messy.json" <<'JSON'
{"sentry": {"org": "acme",
  "teams": [{"slug": "acme", "name": "Acme"}, {"slug": "platform", "name": "Platform"}, {"slug": "web", "name": "Web"}],
  "members": [{"email": "ops-contact@acme.example", "orgRole": "owner", "teams": ["acme"]}],
  "projects": [
    {"slug": "api", "name": "api", "teams": ["platform"]},
    {"slug": "api-gprd", "name": "api-gprd", "teams": ["platform"]},
    {"slug": "api-gstg", "name": "API gstg", "teams": ["platform"]},
    {"slug": "web-prod", "name": "Web prod", "teams": ["web"]},
    {"slug": "orphan", "name": "orphan", "teams": []},
    {"slug": "billing-worker", "name": "billing-worker", "teams": ["acme"]},
    {"slug": "billing_worker", "name": "billing_worker", "teams": ["acme"]},
    {"slug": "checkout-service", "name": "checkout-service", "teams": ["acme"]},
    {"slug": "checkout-servce", "name": "checkout-servce", "teams": ["acme"]},
    {"slug": "search", "name": "search", "teams": ["acme"]}]}}
JSON
http POST "$SIM_URL/_sim/state" -d @"$T/messy.json"
eq "messy org loaded" "$STATUS" 200
lint
eq "lint of a messy org: exit 5" "$RC" 5
contains "lint: env split" "$OUT" '"api", "api-gprd" and "api-gstg" are one application ("api") split by environment'
contains "lint: named after an environment" "$OUT" 'the project "web-prod" is named after an environment'
contains "lint: no team" "$OUT" 'the project "orphan" has no team'
contains "lint: separators" "$OUT" '"billing-worker" and "billing_worker" have the same name but for separators'
contains "lint: typo" "$OUT" '"checkout-servce" and "checkout-service" are near-duplicates (1 edit apart)'
lint --output json
eq "lint json: exit 5" "$RC" 5
eq "lint json: counts" "$(echo "$OUT" | jq -c .counts)" '{"env_split":1,"env_suffix":1,"no_team":1,"near_duplicate":2}'
eq "lint json: the split projects" "$(echo "$OUT" | jq -c '.violations[] | select(.kind == "env_split") | .projects')" '["api","api-gprd","api-gstg"]'
# a new project in a messy org is still checked against every project
post "/api/v1/projects?dry_run=true" '{"name":"api-pre"}'
eq "api-pre against api/api-gprd/api-gstg: 409" "$STATUS" 409
eq "  ... every collision listed" "$(echo "$BODY" | jq '.conflicts | length')" 3
# lint reads every page (more than 100 projects)
jq -n '{sentry: {org: "acme", teams: [{slug: "acme", name: "Acme"}],
  projects: [range(0; 230) | {slug: "service-\(.)-x\(. * 7 % 1000)", name: "service \(.)", teams: ["acme"]}]}}' >"$T/big.json"
http POST "$SIM_URL/_sim/state" -d @"$T/big.json"
lint --output json
eq "lint: 230 projects read over three pages" "$(echo "$OUT" | jq .projects)" 230
"$SB_BIN" --config "$T/p.yaml" projects >/dev/null 2>&1 && RC=0 || RC=$?
eq "projects without a subcommand: usage" "$RC" 2

stop_bridge b
eq "bridge stops cleanly" "$STOP_RC" 0
finish
