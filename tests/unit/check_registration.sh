#!/usr/bin/env bash
# Fails when a START_TEST in tests/unit or tests/integration is never added
# with tcase_add_test (a test that compiles but silently never runs), or
# when a *_suite() is defined but not run by its runner.
set -euo pipefail
cd "$(dirname "$0")/../.."
rc=0
for f in tests/unit/check_*.c tests/integration/check_*.c; do
	[ -f "$f" ] || continue
	for t in $(sed -n 's/^START_TEST(\([a-zA-Z0-9_]*\)).*/\1/p' "$f"); do
		if ! grep -Eq "tcase_add_(loop_)?test(_raise_signal|_exit)?\([^,]*, *$t[,)]" "$f"; then
			echo "$f: test $t is never registered with tcase_add_test" >&2
			rc=1
		fi
	done
done
for s in $(sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void)$/\1/p' tests/unit/check_*.c); do
	if ! grep -q "$s()" tests/unit/check_main.c; then
		echo "tests/unit: suite $s is not run by check_main.c" >&2
		rc=1
	fi
done
exit $rc
