#!/usr/bin/env bash
# Start-up and shutdown under adverse conditions, and the CLI: a database
# that is down at start (503 on /readyz, retry, recovery), two replicas
# migrating one database at once, `migrate`, `check-config`, exit codes.
source "$(dirname "$0")/lib.sh"
export BRIDGE_ADMIN_TOKEN="it-admin-token-0123456789"

# --- CLI basics -------------------------------------------------------------
rc=0; out=$("$SB_BIN" --help) || rc=$?
eq "--help exits 0" "$rc" 0
contains "--help lists commands" "$out" "check-config"
for c in serve sync migrate check-config version; do
	rc=0; "$SB_BIN" "$c" --help >/dev/null || rc=$?
	eq "$c --help exits 0" "$rc" 0
done
rc=0; "$SB_BIN" frobnicate 2>/dev/null || rc=$?
eq "unknown command exits 2" "$rc" 2
rc=0; out=$("$SB_BIN" version) || rc=$?
contains "version prints" "$out" "sentry-bridge "

# --- a database that is down at start ----------------------------------------
# The database does not exist yet: connections fail until it is created.
PGOPTIONS="-c client_min_messages=warning" psql "$SB_TEST_PG_DSN" -qAt -c "DROP DATABASE IF EXISTS it_late" >/dev/null
late="${SB_TEST_PG_DSN/dbname=sentry_bridge/dbname=it_late}"
port=$(free_port)
URL="http://127.0.0.1:$port"
write_config "$T/late.yaml" "$port" "$late"
start_bridge late "$T/late.yaml"
http GET "$URL/healthz"
eq "alive while the database is down" "$STATUS" 200
http GET "$URL/readyz"
eq "readyz 503 while the database is down" "$STATUS" 503
contains "readyz says why" "$BODY" '"reason":"database unreachable"'
http GET "$URL/api/v1/jobs" -H "Authorization: Bearer $BRIDGE_ADMIN_TOKEN"
eq "API answers 503 while the database is down" "$STATUS" 503
contains "503 JSON error" "$BODY" '"code":"database_unavailable"'
sleep 1
contains "clear log line" "$(log_of late)" 'database unreachable; /readyz answers 503'
psql "$SB_TEST_PG_DSN" -qAt -c "CREATE DATABASE it_late" >/dev/null
check "ready after the database appears" wait_ready "$URL" 40
eq "migrated on start" "$(psql "$late" -qAt -c 'SELECT max(version) FROM schema_migrations' 2>&1)" "$LATEST"
stop_bridge late
eq "SIGTERM exits 0" "$STOP_RC" 0

# --- two replicas start on one empty database at once --------------------------
db=$(fresh_db it_replicas)
p1=$(free_port); p2=$(free_port)
write_config "$T/r1.yaml" "$p1" "$db"
write_config "$T/r2.yaml" "$p2" "$db"
launch_bridge r1 "$T/r1.yaml"
launch_bridge r2 "$T/r2.yaml"
wait_healthy r1
wait_healthy r2
check "replica 1 ready" wait_ready "http://127.0.0.1:$p1" 20
check "replica 2 ready" wait_ready "http://127.0.0.1:$p2" 20
eq "each migration applied once" "$(psql "$db" -qAt -c 'SELECT count(*) FROM schema_migrations')" "$NMIGRATIONS"
sleep 2
l1=$(curl -s "http://127.0.0.1:$p1/metrics" | grep '^sb_leader ' | cut -d' ' -f2)
l2=$(curl -s "http://127.0.0.1:$p2/metrics" | grep '^sb_leader ' | cut -d' ' -f2)
eq "exactly one scheduler leader" "$((l1 + l2))" 1
# the leader goes away: the other takes over
if [ "$l1" = 1 ]; then stop_bridge r1; other=$p2; else stop_bridge r2; other=$p1; fi
ok=0
for _ in $(seq 1 50); do
	if curl -s "http://127.0.0.1:$other/metrics" | grep -q '^sb_leader 1'; then ok=1; break; fi
	sleep 0.1
done
eq "leadership moves when the leader stops" "$ok" 1

# --- migrate and check-config -------------------------------------------------
db=$(fresh_db it_migrate)
write_config "$T/m.yaml" "$(free_port)" "$db"
rc=0; "$SB_BIN" --config "$T/m.yaml" migrate --status >/dev/null 2>&1 || rc=$?
eq "migrate --status on an empty database exits 4" "$rc" 4
rc=0; out=$("$SB_BIN" --config "$T/m.yaml" migrate 2>&1) || rc=$?
eq "migrate exits 0" "$rc" 0
contains "migrate reports" "$out" "applied $NMIGRATIONS migration(s); schema version $LATEST"
rc=0; out=$("$SB_BIN" --config "$T/m.yaml" migrate 2>&1) || rc=$?
contains "migrate again applies nothing" "$out" "applied 0 migration(s)"
rc=0; "$SB_BIN" --config "$T/m.yaml" migrate --status >/dev/null 2>&1 || rc=$?
eq "migrate --status when current exits 0" "$rc" 0
write_config "$T/down.yaml" "$(free_port)" "host=/nonexistent port=1 dbname=x"
rc=0; out=$("$SB_BIN" --config "$T/down.yaml" migrate 2>&1) || rc=$?
eq "migrate with the database down exits 4" "$rc" 4
contains "migrate says why" "$out" "cannot connect to PostgreSQL"

rc=0; out=$("$SB_BIN" --config "$T/m.yaml" check-config 2>/dev/null) || rc=$?
eq "check-config exits 0" "$rc" 0
contains "check-config redacts the admin token" "$out" "redacted"
not_contains "check-config never prints the token" "$out" "$BRIDGE_ADMIN_TOKEN"
rc=0; out=$(env -u BRIDGE_ADMIN_TOKEN "$SB_BIN" --config "$T/m.yaml" check-config 2>&1) || rc=$?
eq "missing secret exits 78" "$rc" 78
contains "missing secret names file, line and variable" "$out" "m.yaml:4: admin_token_env"
contains "missing secret names the variable" "$out" "BRIDGE_ADMIN_TOKEN"
printf 'listen: "127.0.0.1:1"\ndatabse_url: ""\nadmin_token_env: BRIDGE_ADMIN_TOKEN\n' >"$T/typo.yaml"
rc=0; out=$("$SB_BIN" --config "$T/typo.yaml" check-config 2>&1) || rc=$?
eq "unknown key exits 78" "$rc" 78
contains "unknown key names file and line" "$out" "typo.yaml:2:"
contains "unknown key suggests" "$out" "database_url"
rc=0; out=$("$SB_BIN" --config "$T/missing.yaml" check-config 2>&1) || rc=$?
eq "missing config file exits 78" "$rc" 78
contains "missing config file named" "$out" "missing.yaml"
# An Okta OAuth key that does not fit the algorithm stops check-config.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
printf 'listen: "127.0.0.1:1"\nokta:\n  base_url: "https://example.okta.com"\n  oauth:\n    client_id: "0oa1"\n    private_key_file: %s\n    algorithm: %s\n' \
	"$T/ec.pem" RS256 >"$T/oauth.yaml"
rc=0; out=$("$SB_BIN" --config "$T/oauth.yaml" check-config 2>&1) || rc=$?
eq "an EC key for RS256 exits 78" "$rc" 78
contains "says which key type fits" "$out" "ES256"
sed -i 's/RS256/ES256/' "$T/oauth.yaml"
rc=0; out=$("$SB_BIN" --config "$T/oauth.yaml" check-config 2>&1) || rc=$?
eq "an EC key for ES256 is valid" "$rc" 0
not_contains "the key is never printed" "$out" "$(sed -n 2p "$T/ec.pem")"
rc=0; out=$(SENTRY_BRIDGE_CONFIG="$T/m.yaml" "$SB_BIN" check-config 2>&1) || rc=$?
eq "SENTRY_BRIDGE_CONFIG is honoured" "$rc" 0

finish
