#!/usr/bin/env bash
# The daemon's HTTP surface, lifecycle and admin API against a real
# PostgreSQL: health and readiness, request ids, JSON errors, body limits,
# metrics, admin authentication, the job queue API, graceful SIGTERM.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
db=$(fresh_db it_serve)
URL="http://127.0.0.1:$port"
write_config "$T/bridge.yaml" "$port" "$db" "server:
  max_body_bytes: 1KiB"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"

start_bridge bridge "$T/bridge.yaml"
check "ready within 20 s" wait_ready "$URL" 20

http GET "$URL/healthz"
eq "healthz 200" "$STATUS" 200
contains "healthz body" "$BODY" '"status":"ok"'
rid=$(header X-Request-Id)
check "generated request id is 32 hex chars" bash -c "[[ '$rid' =~ ^[0-9a-f]{32}$ ]]"

http GET "$URL/readyz" -H 'X-Request-Id: caller-id-1'
eq "readyz 200" "$STATUS" 200
contains "readyz schema version" "$BODY" "\"schema_version\":$LATEST"
eq "caller request id echoed" "$(header X-Request-Id)" "caller-id-1"
http GET "$URL/healthz" -H 'X-Request-Id: bad id with spaces'
check "malformed request id replaced" bash -c "[[ '$(header X-Request-Id)' =~ ^[0-9a-f]{32}$ ]]"

http GET "$URL/nope"
eq "unknown path 404" "$STATUS" 404
contains "404 JSON error" "$BODY" '{"error":{"code":"not_found"'
eq "404 content type" "$(header Content-Type)" "application/json"
http DELETE "$URL/healthz"
eq "wrong method 405" "$STATUS" 405
eq "405 Allow header" "$(header Allow)" "GET"

# Bodies over server.max_body_bytes (1 KiB here): declared and chunked.
big=$(head -c 5000 /dev/zero | tr '\0' 'x')
http POST "$URL/api/v1/jobs/1/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" --data "$big"
eq "oversized body 413" "$STATUS" 413
contains "413 JSON error" "$BODY" '"code":"payload_too_large"'
http POST "$URL/api/v1/jobs/1/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN" \
	-H 'Transfer-Encoding: chunked' --data-binary "$big"
eq "oversized chunked body 413" "$STATUS" 413

# Admin API authentication (constant-time bearer token).
http GET "$URL/api/v1/jobs"
eq "no token 401" "$STATUS" 401
contains "401 JSON error" "$BODY" '"code":"unauthorized"'
http GET "$URL/api/v1/jobs" -H "Authorization: Bearer wrong-token"
eq "wrong token 401" "$STATUS" 401
http GET "$URL/api/v1/jobs" -H "Authorization: Bearer ${BRIDGE_ADMIN_TOKEN}x"
eq "token with extra byte 401" "$STATUS" 401
http GET "$URL/api/v1/jobs?status=dead" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "jobs list 200" "$STATUS" 200
eq "jobs list empty" "$BODY" '{"jobs":[]}'
http GET "$URL/api/v1/jobs?status=bogus" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "bad status 400" "$STATUS" 400
http GET "$URL/api/v1/jobs?limit=0" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "bad limit 400" "$STATUS" 400
http POST "$URL/api/v1/jobs/abc/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "non-numeric job id 400" "$STATUS" 400

# A dead job (of a kind this replica has no handler for) is visible and replayable.
psql "$db" -qAt -c "INSERT INTO jobs (kind, status, max_attempts, attempts, last_error) VALUES ('it.kind', 'dead', 3, 3, 'boom')"
http GET "$URL/api/v1/jobs?status=dead" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
contains "dead job listed" "$BODY" '"last_error":"boom"'
id=$(psql "$db" -qAt -c "SELECT id FROM jobs WHERE kind = 'it.kind'")
http POST "$URL/api/v1/jobs/$id/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "replay 202" "$STATUS" 202
eq "replayed job queued" "$(psql "$db" -qAt -c "SELECT status || ':' || attempts FROM jobs WHERE id = $id")" "queued:0"
http POST "$URL/api/v1/jobs/$id/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "replay of a job that is not dead 404" "$STATUS" 404
http GET "$URL/api/v1/audit?target=job:$id" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
contains "replay audited" "$BODY" '"action":"job.replay"'

# Inbox API.
psql "$db" -qAt -c "INSERT INTO inbox (source, external_id, kind, payload, status, last_error) VALUES ('okta', 'u-1', 'user.lifecycle.activate', '{}', 'dead', 'gave up')"
http GET "$URL/api/v1/inbox?status=dead" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
contains "dead inbox item listed" "$BODY" '"external_id":"u-1"'
iid=$(psql "$db" -qAt -c "SELECT id FROM inbox WHERE external_id = 'u-1'")
http POST "$URL/api/v1/inbox/$iid/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "inbox replay 202" "$STATUS" 202
eq "inbox replay queues its job" "$(psql "$db" -qAt -c "SELECT kind FROM jobs WHERE payload->>'inbox_id' = '$iid'")" "inbox.okta"
http POST "$URL/api/v1/inbox/999999/replay" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "unknown inbox item 404" "$STATUS" 404

# Metrics in Prometheus text format.
http GET "$URL/metrics"
eq "metrics 200" "$STATUS" 200
contains "metrics content type" "$(header Content-Type)" "text/plain; version=0.0.4"
contains "request counter by route" "$BODY" 'sb_http_requests_total{route="/healthz",method="GET",status="200"}'
contains "413 counted" "$BODY" 'route="(body too large)",method="POST",status="413"'
contains "latency histogram" "$BODY" 'sb_http_request_duration_seconds_bucket{route="/readyz",method="GET",le="0.005"}'
contains "leader gauge" "$BODY" 'sb_leader 1'
if command -v promtool >/dev/null; then
	check "promtool accepts /metrics" bash -c "curl -s '$URL/metrics' | promtool check metrics"
fi

# Secrets never reach the log.
not_contains "admin token not logged" "$(log_of bridge)" "$BRIDGE_ADMIN_TOKEN"
contains "JSON log lines" "$(log_of bridge | head -n 1)" '{"ts":"'

# Graceful stop: a slow request in flight finishes, then exit 0.
stop_bridge bridge
eq "SIGTERM exits 0" "$STOP_RC" 0
contains "stop logged" "$(log_of bridge)" '"msg":"stopped"'

finish
