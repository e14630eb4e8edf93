#!/usr/bin/env bash
# scripts/run-embedded.sh: what `make run` does. Runs sentry-bridge on its
# embedded default: a private PostgreSQL under run/pg (reused across runs),
# the upstream simulators seeded with the demo organisation "acme", and
# `sentry-bridge serve` with a demo config pointing at them. Ctrl-C (or
# SIGTERM) stops all three.
#
# Environment: SB_PORT (default 8080), SB_SIM_PORT (default 8081),
# SB_RUN_DIR (default ./run), SB_BUILD (default build/release).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
run=${SB_RUN_DIR:-$top/run}
build=${SB_BUILD:-build/release}
port=${SB_PORT:-8080}
sim_port=${SB_SIM_PORT:-8081}
mkdir -p "$run"
run=$(cd "$run" && pwd)

pids=()
stopping=0
stop_all() {
	[ $stopping -eq 1 ] && return
	stopping=1
	echo
	echo "sentry-bridge: stopping..."
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	scripts/pg.sh stop "$run/pg" || true
	echo "sentry-bridge: stopped (data kept in $run; \`make distclean\` removes it)"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

echo "sentry-bridge: starting PostgreSQL in $run/pg"
scripts/pg.sh start "$run/pg" >/dev/null

echo "sentry-bridge: starting the simulators on 127.0.0.1:$sim_port (demo organisation \"acme\")"
rm -f "$run/sim.port"
"$build/sentry-bridge-sim" --listen "127.0.0.1:$sim_port" --port-file "$run/sim.port" --demo --quiet \
	2>"$run/sim.log" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$run/sim.port" ] && break; sleep 0.1; done
[ -s "$run/sim.port" ] || { echo "sentry-bridge: the simulator did not start; see $run/sim.log" >&2; exit 1; }
sim="http://127.0.0.1:$(cat "$run/sim.port")"

# The demo config: every upstream is the simulator, secrets are the
# simulator's fixed demo values, passed through the environment like real ones.
sed -e "s#@PORT@#$port#g" -e "s#@SIM@#$sim#g" -e "s#@RUN@#$run#g" deploy/demo.yaml.in >"$run/demo.yaml"
cat >"$run/demo.env" <<ENV
BRIDGE_ADMIN_TOKEN=demo-admin-token
OKTA_API_TOKEN=sim-okta-token
OKTA_HOOK_SECRET=demo-okta-hook-secret
SENTRY_TOKEN=sim-sentry-token
SENTRY_CLIENT_SECRET=demo-sentry-client-secret
GITLAB_TOKEN=demo-gitlab-token
SLACK_BOT_TOKEN=xoxb-sim-slack-token
CONSOLE_OIDC_SECRET=sim-console-secret
SLACK_SIGNING_SECRET=demo-slack-signing-secret
ENV
set -a
# shellcheck disable=SC1091
. "$run/demo.env"
set +a

echo "sentry-bridge: starting sentry-bridge on 127.0.0.1:$port (log: $run/bridge.log)"
"$build/sentry-bridge" --config "$run/demo.yaml" --log-format text serve 2> >(tee "$run/bridge.log" >&2) &
pids+=($!)
bridge_pid=$!
for _ in $(seq 1 600); do
	curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
	kill -0 "$bridge_pid" 2>/dev/null || { echo "sentry-bridge exited; see $run/bridge.log" >&2; exit 1; }
	sleep 0.1
done

# The simulated Okta delivers its changes to the bridge, as a real Okta
# event hook would (verified first, like Okta does).
hook=$(curl -s -X POST "$sim/_sim/okta/event-hooks" -H 'Content-Type: application/json' \
	--data "{\"url\":\"http://127.0.0.1:$port/hooks/okta\",\"secret\":\"$OKTA_HOOK_SECRET\"}" || true)
case "$hook" in
*'"verified":true'*) hook_state="registered and verified: Okta changes reach the bridge in real time" ;;
*) hook_state="not registered ($hook)" ;;
esac

cat <<MSG

sentry-bridge is running on its embedded default.
  service     http://127.0.0.1:$port       (/healthz, /readyz, /metrics)
  admin API   http://127.0.0.1:$port/api/v1   (Authorization: Bearer demo-admin-token)
  simulators  $sim                (Okta /api/v1, Sentry /api/0, control /_sim)
  database    $(scripts/pg.sh dsn "$run/pg")
  config      $run/demo.yaml
  Okta hook   $hook_state

Try:  curl -s http://127.0.0.1:$port/readyz
      env \$(cat $run/demo.env) $build/sentry-bridge --config $run/demo.yaml sync --dry-run
      curl -s -X POST -H 'Authorization: Bearer demo-admin-token' http://127.0.0.1:$port/api/v1/sync
      curl -s -H 'Authorization: Bearer demo-admin-token' http://127.0.0.1:$port/api/v1/sync/runs
      # an Okta change, delivered by the event hook: bob becomes a manager in Sentry within a second
      curl -s -X POST $sim/_sim/okta/memberships -d '{"add":[{"user":"bob.brown@acme.example","group":"okta-sentry-admin-users"}]}'
      curl -s -H 'Authorization: Bearer demo-admin-token' 'http://127.0.0.1:$port/api/v1/audit?limit=3'
Press Ctrl-C to stop everything.
MSG

wait "$bridge_pid" || true
