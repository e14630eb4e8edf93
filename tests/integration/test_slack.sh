#!/usr/bin/env bash
# Slack alert routing (issue 8): the `routes` CLI on a route tree, config
# errors naming file and line, and (below) the Sentry intake.
source "$(dirname "$0")/lib.sh"

# ---- routes show / routes test (offline) ----
cat >"$T/routes.yaml" <<'YAML'
routing:
  receivers:
    - { name: default, channel: "#alerts" }
    - { name: backend, channel: "#backend" }
    - { name: backend-prod, channel: C0BACKPROD }
    - { name: oncall, email: "oncall@acme.example" }
    - { name: audit, channel: "#audit" }
  time_intervals:
    - { name: nights, location: Europe/Madrid, times: ["00:00-07:00"] }
  route:
    receiver: default
    group_wait: 10s
    routes:
      - matchers: ['alert_rule=~"audit.*"']
        receiver: audit
        continue: true
      - matchers: ["team=backend"]
        receiver: backend
        group_interval: 10m
        routes:
          - matchers: ["environment=production", 'level=~"error|fatal"']
            receiver: backend-prod
            mute_time_intervals: [nights]
      - matchers: ["level=fatal"]
        receiver: oncall
YAML
routes() { "$SB_BIN" --config "$T/routes.yaml" routes "$@" 2>"$T/routes.err"; }

out=$(routes show)
contains "show prints the root" "$out" "routing.route
  receiver=default -> channel #alerts"
contains "show prints a nested node with its matchers" "$out" \
	'routing.route.routes[1].routes[0]  [environment=production, level=~"error|fatal"]'
contains "show marks inherited values" "$out" "group_wait=(10s) group_interval=(10m)"
contains "show prints continue" "$out" "continue"

out=$(routes test --at 2026-11-23T12:00:00Z project=api issue=7 team=backend environment=production level=error)
contains "test: nested receiver" "$out" "1 receiver:
  backend-prod  channel C0BACKPROD"
contains "test: the path" "$out" \
	'path: routing.route > routing.route.routes[1] {team=backend} > routing.route.routes[1].routes[0] {environment=production, level=~"error|fatal"}'
contains "test: group key" "$out" 'group: routing.route.routes[1].routes[0]{project="api",issue="7"}'
contains "test: inherited timers" "$out" "timers: group_wait=10s group_interval=10m repeat_interval=4h"
not_contains "test: not muted at noon" "$out" "MUTED"

out=$(routes test --at 2026-11-23T05:00:00Z project=api team=backend environment=production level=error)
contains "test: muted at night in Madrid" "$out" 'muted by time interval "nights"'

# A Sentry event_alert webhook body (sentry-api.md 6.3): tags are pairs,
# the project is a numeric id, the rule is data.triggered_rule.
cat >"$T/event_alert.json" <<'JSON'
{"action": "triggered", "installation": {"uuid": "i-1"},
 "data": {"event": {"event_id": "e1", "project": 42, "issue_id": "1001", "level": "fatal",
   "title": "ZeroDivisionError", "culprit": "app.views in index", "environment": "production",
   "web_url": "https://sentry.example/organizations/acme/issues/1001/events/e1/",
   "tags": [["level", "fatal"], ["customer", "acme"]]},
  "triggered_rule": "audit fatal errors"},
 "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}
JSON
out=$(routes test --alert "$T/event_alert.json" --at 2026-11-23T12:00:00Z)
contains "webhook: continue reaches two receivers" "$out" "2 receivers:
  audit  channel #audit"
contains "webhook: then on-call by DM" "$out" "oncall  dm oncall@acme.example"
contains "webhook: tags read from pairs" "$out" 'tag:customer="acme"'
contains "webhook: project id note" "$out" "project id 42"
out=$(routes test --alert "$T/event_alert.json" --at 2026-11-23T12:00:00Z project=api team=backend)
contains "webhook + label overrides" "$out" "backend-prod  channel C0BACKPROD"

echo '{"project": "web", "team": ["a", "b"], "tags": {"customer": "acme"}}' >"$T/flat.json"
out=$(routes test --alert "$T/flat.json")
contains "flat alert: root receiver" "$out" "1 receiver:
  default  channel #alerts"

set +e
routes test bogus=1 >/dev/null; rc=$?
set -e
eq "unknown label exit 2" "$rc" 2
contains "unknown label message" "$(cat "$T/routes.err")" 'unknown label "bogus"'
echo '{"project": 5}' >"$T/bad.json"
set +e
routes test --alert "$T/bad.json" >/dev/null; rc=$?
set -e
eq "bad alert exit 2" "$rc" 2
contains "bad alert names the file" "$(cat "$T/routes.err")" "$T/bad.json: \"project\" must be a string"

# Config errors name file and line.
cat >"$T/badroutes.yaml" <<'YAML'
routing:
  receivers:
    - { name: default, channel: "#alerts" }
  route:
    receiver: default
    group_wait: 10 minutes
    routes:
      - matchers: ['level=~"(oops"']
        receiver: nobody
YAML
set +e
"$SB_BIN" --config "$T/badroutes.yaml" routes show >/dev/null 2>"$T/bad.err"; rc=$?
set -e
eq "invalid routing config exit 78" "$rc" 78
bad=$(cat "$T/badroutes.yaml" >/dev/null; cat "$T/bad.err")
contains "bad duration named by line" "$bad" "badroutes.yaml:6: routing.route.group_wait"
contains "bad regex named by line" "$bad" "badroutes.yaml:8: routing.route.routes[0].matchers[0]: invalid matcher"
contains "unknown receiver named by line" "$bad" "badroutes.yaml:9: routing.route.routes[0].receiver: unknown receiver \"nobody\""

finish
