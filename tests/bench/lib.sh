# tests/bench/lib.sh: what the service benchmarks share. Source it from the
# top of the checkout.
#
#   bench_start NAME SIM_ARGS...  a work dir ($work, removed at exit), the
#                                 simulator ($sim), a private PostgreSQL ($dsn)
#                                 and a free port for the service ($port, $url)
#   bench_serve CONFIG            `serve` in the background ($sb_pid), ready

bench_cleanup() {
	[ -n "${sb_pid:-}" ] && kill "$sb_pid" 2>/dev/null
	[ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null
	wait 2>/dev/null || true
	scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}

bench_start() {
	local name=$1
	shift
	work=$(mktemp -d "/tmp/sb-bench-$name.XXXXXX")
	chmod 755 "$work"
	sim_pid="" sb_pid=""
	trap bench_cleanup EXIT
	build/release/sentry-bridge-sim --listen 127.0.0.1:0 --port-file "$work/sim.port" --quiet "$@" 2>"$work/sim.log" &
	sim_pid=$!
	for _ in $(seq 1 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
	sim="http://127.0.0.1:$(cat "$work/sim.port")"
	dsn=$(scripts/pg.sh start "$work/pg")
	# below the kernel's ephemeral range, like the tests' free_port
	port=$(shuf -i 20000-32000 -n 1)
	url="http://127.0.0.1:$port"
}

bench_serve() {
	build/release/sentry-bridge --config "$1" serve 2>"$work/serve.log" &
	sb_pid=$!
	for _ in $(seq 1 100); do curl -fs -o /dev/null "$url/readyz" && break; sleep 0.1; done
}
