#!/usr/bin/env bash
# Handshakes per second through lb with the shared TLS session cache
# (ssl-session-cache shm PATH): full handshakes, sessions resumed from the
# cache, and, for comparison, sessions resumed from lb's default
# tickets (no cache), for TLS 1.3 and TLS 1.2. Prints the median of
# ROUNDS runs of each.
#
# lb is pinned to PROXY_CPU with nbthread 1, the load client
# (bench/tls/tlsload) to LOAD_CPU, ECDSA P-256 certificate, X25519.
#
# Environment: DURATION (seconds per run, default 3), WORKERS (default
# 32), ROUNDS (default 5), PROXY_CPU / LOAD_CPU, FE_PORT, SINK_PORT,
# LB_BIN (a prebuilt lb instead of building ./examples/lb).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
DURATION=${DURATION:-3}
WORKERS=${WORKERS:-32}
ROUNDS=${ROUNDS:-5}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
FE_PORT=${FE_PORT:-18453}
SINK_PORT=${SINK_PORT:-18454}

bench_init

echo "building lb, tcpload and tlsload..." >&2
build_lb
go_build "$ROOT/bench" ./tcp/tcpload ./tls/tlsload

make_cert ecdsa site

# config CACHE_LINE
config() {
	cat <<CFG
global
    nbthread 1
    tune.ssl.cachesize 20000
$1
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen bench
    bind 127.0.0.1:$FE_PORT ssl crt $WORK/site.pem
    server sink 127.0.0.1:$SINK_PORT
CFG
}
config "    ssl-session-cache shm $WORK/ssl.cache" >"$WORK/cache.cfg"
config "" >"$WORK/tickets.cfg"

refuse_open_port "$FE_PORT"
start_sink

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run NAME CFG TLSVER [-resume]
declare -A RATE
run() {
	local name=$1 cfg=$2 ver=$3
	shift 3
	local rates=()
	for round in $(seq 1 "$ROUNDS"); do
		start_proxy lb "$WORK/$cfg.cfg"
		out=$(taskset -c "$LOAD_CPU" "$WORK/tlsload" hs -addr "127.0.0.1:$FE_PORT" -tls "$ver" \
			-workers "$WORKERS" -duration "${DURATION}s" "$@")
		stop_proxy
		echo "$name TLS $ver round $round: $out" >&2
		rates+=("$(field rate "$out")")
	done
	RATE[$name.$ver]=$(printf '%s\n' "${rates[@]}" | median)
}

for ver in 1.3 1.2; do
	run full cache "$ver"
	run cache cache "$ver" -resume
	run tickets tickets "$ver" -resume
done

echo
echo "lb on CPU $PROXY_CPU (nbthread 1), tlsload on CPU $LOAD_CPU, $WORKERS concurrent handshakes, median of $ROUNDS runs of ${DURATION}s, ECDSA P-256, X25519"
echo
echo "| TLS | full /s | resumed from ssl-session-cache /s | resumed from tickets (no cache) /s | cache / full | cache / tickets |"
echo "|---|---|---|---|---|---|"
for ver in 1.3 1.2; do
	f=${RATE[full.$ver]} c=${RATE[cache.$ver]} k=${RATE[tickets.$ver]}
	echo "| $ver | $f | $c | $k | $(ratio "$c" "$f") | $(ratio "$c" "$k") |"
done
