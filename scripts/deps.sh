#!/usr/bin/env bash
# scripts/deps.sh: make sure the Debian packages sentry-bridge needs are present.
#
#   scripts/deps.sh build   packages to compile the daemon and the simulators
#   scripts/deps.sh run     build + what `make run` needs (PostgreSQL server)
#   scripts/deps.sh check   run + what `make check` needs (curl, valgrind), and
#                           for the browser tests chromium, a font, Node.js and npm
#
# As root, missing packages are installed with apt-get. Otherwise the script
# stops with the exact apt-get command to run; only the browser tests'
# packages are optional then (tests/browser/run.sh skips, saying why). It
# never touches anything else.
set -euo pipefail

level=${1:-build}
build_pkgs=(gcc make pkg-config libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
	libpq-dev libssl-dev libcjose-dev libyaml-dev check)
run_pkgs=(postgresql curl util-linux)
check_pkgs=(valgrind jq prometheus python3 openssl)
# The browser tests (tests/browser): Debian's chromium (Playwright drives
# /usr/bin/chromium; it never downloads a browser) and a font to render with.
browser_pkgs=(chromium fonts-dejavu-core)
# Node.js 18+ and npm: Debian 12's nodejs and npm packages, unless node and
# npm are there already (e.g. NodeSource's nodejs, which carries npm and
# conflicts with Debian's npm package).
command -v node >/dev/null || browser_pkgs+=(nodejs)
command -v npm >/dev/null || browser_pkgs+=(npm)

want=("${build_pkgs[@]}")
case "$level" in
build) ;;
run) want+=("${run_pkgs[@]}") ;;
check) want+=("${run_pkgs[@]}" "${check_pkgs[@]}") ;;
*) echo "usage: $0 build|run|check" >&2; exit 2 ;;
esac

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
missing=()
for p in "${want[@]}"; do
	installed "$p" || missing+=("$p")
done
optional=()
if [ "$level" = check ]; then
	for p in "${browser_pkgs[@]}"; do
		installed "$p" || optional+=("$p")
	done
fi
if [ "$(id -u)" -ne 0 ]; then
	if [ ${#optional[@]} -ne 0 ]; then
		echo "sentry-bridge: the browser tests will be skipped: missing ${optional[*]}" >&2
		echo "  (sudo apt-get install --no-install-recommends ${optional[*]})" >&2
	fi
	optional=()
fi
missing+=("${optional[@]}")
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "sentry-bridge: missing Debian packages: ${missing[*]}" >&2
	echo "Install them with:" >&2
	echo "  sudo apt-get update && sudo $cmd" >&2
	exit 1
fi
echo "sentry-bridge: installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Installing the postgresql package must not start a system cluster we do not
# use: policy-rc.d forbids service starts for the duration of the install.
prc=/usr/sbin/policy-rc.d
own_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc"
	chmod +x "$prc"
	own_prc=1
fi
trap '[ $own_prc -eq 1 ] && rm -f "$prc"' EXIT
apt-get update -qq
# shellcheck disable=SC2086
$cmd -qq
