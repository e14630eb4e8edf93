#!/usr/bin/env bash
# tests/run.sh: everything `make check` runs, in order, against a private
# PostgreSQL that this script starts and always stops.
#
#   1. test registration check (no START_TEST left out)
#   2. unit suites (Check), under ASan+UBSan, some against PostgreSQL
#   3. the simulator's self-test against its documented contracts
#   4. integration tests: the real sentry-bridge binary, PostgreSQL, the simulators
#   5. fuzz corpus replay (every seed of every parser, as a regression test)
#   6. browser tests: the web console in headless Chromium (tests/browser/run.sh)
#
# SB_VALGRIND=1 runs the release build under valgrind instead of ASan (and
# leaves the browser tests out). SB_TESTS="unit integration" limits what
# runs; SB_ONLY=sync runs only the integration scripts (and browser flows)
# whose name contains "sync".
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

variant=asan
wrap=()
if [ "${SB_VALGRIND:-}" = 1 ]; then
	variant=release
	export SB_HTTP_MAX_TIME=60 # RSA signing and verification take seconds under valgrind
	wrap=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
		--errors-for-leak-kinds=definite --suppressions="$top/tests/valgrind.supp")
fi
export SB_BIN="$top/build/$variant/sentry-bridge"
export SB_SIM_BIN="$top/build/$variant/sentry-bridge-sim"
export SB_SRCDIR="$top"
export SB_WRAP="${wrap[*]:-}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
default_tests="registration unit sim integration fuzz browser"
[ "${SB_VALGRIND:-}" = 1 ] && default_tests="registration unit sim integration fuzz"
what=${SB_TESTS:-$default_tests}

work=$(mktemp -d /tmp/sb-check.XXXXXX)
chmod 755 "$work"
export SB_TEST_WORK="$work"
cleanup() {
	rc=$?
	# stop anything the tests left running in our process group
	for pidf in "$work"/*.pid; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
	done
	if [ $rc -ne 0 ] && [ -d "$work/pg" ]; then
		echo "---- PostgreSQL log (tests failed) ----" >&2
		scripts/pg.sh log "$work/pg" | tail -n 50 >&2 || true
	fi
	scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work" 2>/dev/null || true
	exit $rc
}
trap cleanup EXIT INT TERM

step() { printf '\n==== %s ====\n' "$*"; }

if [[ " $what " == *" registration "* ]]; then
	step "test registration"
	tests/unit/check_registration.sh
fi

step "starting a private PostgreSQL in $work/pg"
export SB_TEST_PG_DSN
SB_TEST_PG_DSN=$(scripts/pg.sh start "$work/pg")
echo "$SB_TEST_PG_DSN"

if [[ " $what " == *" unit "* ]]; then
	step "unit tests"
	CK_DEFAULT_TIMEOUT=60 ${SB_WRAP} "build/$variant/check_unit"
fi

if [[ " $what " == *" sim "* ]]; then
	step "simulator self-test"
	tests/sim/selftest.sh "$SB_SIM_BIN"
fi

if [[ " $what " == *" integration "* ]]; then
	for t in tests/integration/test_*.sh; do
		[[ -n "${SB_ONLY:-}" && "$(basename "$t")" != *"$SB_ONLY"* ]] && continue
		step "integration: $(basename "$t")"
		"$t"
	done
fi

if [[ " $what " == *" fuzz "* ]]; then
	step "fuzz corpus replay"
	for d in tests/fuzz/corpus/*/; do
		t=$(basename "$d")
		printf '%s: ' "$t"
		${SB_WRAP} "build/$variant/fuzz_$t" "$d"
	done
fi

if [[ " $what " == *" browser "* ]]; then
	step "browser tests (headless Chromium)"
	tests/browser/run.sh
fi

step "all tests passed"
