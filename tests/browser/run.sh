#!/usr/bin/env bash
# tests/browser/run.sh: the web console in a real browser (issue 10).
#
# Starts the simulator (Okta with its OIDC authorization server, Sentry), a
# fresh database on the private PostgreSQL of tests/run.sh and the real
# sentry-bridge, then runs every tests/browser/flow_*.mjs with Node against
# them: Playwright (playwright-core from npm, pinned in package.json and
# package-lock.json, installed by `npm ci`) drives Debian's headless
# /usr/bin/chromium. Playwright never downloads a browser.
#
# Run through tests/run.sh (`make check`, or `make check-browser` for this
# stage alone). SB_SCREENSHOTS names the directory for the screenshots of
# every page visited (default build/screenshots); SB_DOC_SCREENSHOTS=1
# also copies the few pages docs/console.md shows into docs/screenshots/.
# SB_ONLY=<substring> runs only the flows whose file name contains it.
#
# Without chromium or Node (a non-root run on a machine without them) the
# stage is skipped with a message; as root `make check` installs them
# (scripts/deps.sh), so there a missing browser is a failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CHROMIUM=${SB_CHROMIUM:-/usr/bin/chromium}

# --- what the stage needs --------------------------------------------------------------------------
missing=()
[ -x "$CHROMIUM" ] || missing+=("chromium ($CHROMIUM)")
if command -v node >/dev/null; then
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$node_major" -ge 18 ] || missing+=("Node.js 18 or later (found $(node --version))")
else
	missing+=("node")
fi
command -v npm >/dev/null || missing+=("npm")
if [ ${#missing[@]} -ne 0 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "browser tests: missing ${missing[*]}; scripts/deps.sh check installs them as root" >&2
		exit 1
	fi
	echo "SKIP browser tests: missing ${missing[*]}."
	echo "  Install with: sudo apt-get install chromium nodejs npm   (or run make check as root)"
	exit 0
fi

# --- Playwright from the lock file ------------------------------------------------------------------
# `npm ci` only when the lock file changed since the last install (the stamp
# is the lock file's digest), never a browser download.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp="$here/node_modules/.sb-lock-sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
	echo "  npm ci (tests/browser/package-lock.json)"
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
	echo "$want" >"$stamp"
fi

# --- the service under test ----------------------------------------------------------------------------
source "$top/tests/integration/lib.sh"
TEST_NAME=browser
export BRIDGE_ADMIN_TOKEN="browser-admin-token-0123456789"
export OKTA_API_TOKEN=sim-okta-token SENTRY_TOKEN=sim-sentry-token OIDC_SECRET=sim-console-secret

start_sim sim --demo
db=$(fresh_db browser_console)
port=$(free_port)
URL="http://127.0.0.1:$port"
write_config "$T/c.yaml" "$port" "$db" "$(console_config "routing:
  receivers:
    - { name: default, channel: \"#alerts\" }
    - { name: payments, channel: \"#payments\" }
    - { name: oncall, email: \"oncall@acme.example\" }
  route:
    receiver: default
    routes:
      - { matchers: [\"level=fatal\"], receiver: oncall }
      - { matchers: [\"team=payments\"], receiver: payments }")"

rc=0
"$SB_BIN" --config "$T/c.yaml" --log-level warn sync >/dev/null 2>"$T/sync.err" || rc=$?
eq "the first sync fills the mirrors" "$rc" 0
start_bridge b "$T/c.yaml"
check "the bridge is ready" wait_ready "$URL" 20

# --- the flows ---------------------------------------------------------------------------------------------
shots=${SB_SCREENSHOTS:-$top/build/screenshots}
mkdir -p "$shots"
[ -z "${SB_SCREENSHOTS:-}" ] && rm -f "$shots"/*.png
export SB_URL="$URL" SB_SIM_URL="$SIM_URL" SB_DB="$db" SB_SCREENSHOTS="$shots" SB_CHROMIUM="$CHROMIUM"
for f in "$here"/flow_*.mjs; do
	[[ -n "${SB_ONLY:-}" && "$(basename "$f")" != *"$SB_ONLY"* ]] && continue
	echo "  -- $(basename "$f")"
	rc=0
	node "$f" || rc=$?
	eq "$(basename "$f") ran to its end" "$rc" 0
done

if [ "${SB_DOC_SCREENSHOTS:-}" = 1 ]; then
	# The pages docs/console.md shows (see flow_console.mjs for the names).
	mkdir -p "$top/docs/screenshots"
	for n in request-refused my-access-granted my-access-phone approvals-waiting audit-approval sync-plan \
		alerts-silence; do
		f=$(ls "$shots"/console-[0-9][0-9]-"$n".png 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then cp "$f" "$top/docs/screenshots/$n.png"; else echo "  (no $n page in this build)"; fi
	done
	echo "  copied the documentation's screenshots into docs/screenshots/"
fi

stop_bridge b
eq "the bridge stops cleanly" "$STOP_RC" 0
not_contains "no sanitizer report" "$(log_of b)" "Sanitizer"
echo "  screenshots: $shots ($(ls "$shots"/*.png 2>/dev/null | wc -l) pages); the stage took ${SECONDS} s"
finish
