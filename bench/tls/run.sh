#!/usr/bin/env bash
# Runs one TLS-terminating configuration under haproxy and under lb, side
# by side, and prints for each: full TLS handshakes per second with an
# ECDSA P-256 and with an RSA-2048 certificate, resumed handshakes per
# second (TLS 1.3 tickets, ECDSA), and resident memory per idle TLS
# connection. lb's figures are also given as a ratio to haproxy's.
#
# The proxy is pinned to one core (PROXY_CPU) with nbthread 1, the load
# client (bench/tls/tlsload) to another (LOAD_CPU). Both proxies get the
# same file: a listen section with "bind ... ssl crt" in front of a plain
# sink server. Clients offer X25519 only and TLS 1.3, so both proxies do
# the same key exchange (OpenSSL 3.0 has no ML-KEM).
#
# Environment: DURATION (seconds per handshake run, default 5), WORKERS
# (concurrent client handshakes, default 32), ROUNDS (handshake runs per
# proxy, alternating between proxies; the best is kept, as other work on a
# shared machine only ever slows a run down, default 3), IDLE_CONNS (default 9800:
# two fds per connection in the proxy and a hard limit of 20000 here),
# PROXY_CPU / LOAD_CPU, HAPROXY (binary), PROXIES (default "haproxy lb"),
# TESTS (default "ecdsa rsa resume"; empty skips), IDLE (1 to measure idle memory, the
# default), LB_BIN (a prebuilt lb instead of building ./examples/lb).
# The result arrays are read through get, by name.
# shellcheck disable=SC2034
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-32}
IDLE_CONNS=${IDLE_CONNS:-9800}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
PROXIES=${PROXIES:-haproxy lb}
TESTS=${TESTS-ecdsa rsa resume}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-1}
FE_PORT=${FE_PORT:-18443}
SINK_PORT=${SINK_PORT:-18444}

bench_init

ulimit -n "$(ulimit -Hn)"

echo "building lb, tcpload and tlsload..." >&2
build_lb
go_build "$ROOT/bench" ./tcp/tcpload ./tls/tlsload

# Self-signed certificates, ECDSA P-256 and RSA-2048.
make_cert ecdsa ecdsa
make_cert rsa rsa

# config CERT: the same file for both proxies.
config() {
	cat <<CFG
global
    maxconn 9900
    nbthread 1
    tune.bufsize 16384
    tune.ssl.cachesize 20000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen bench
    bind 127.0.0.1:$FE_PORT ssl crt $WORK/$1.pem
    server sink 127.0.0.1:$SINK_PORT
CFG
}

start_sink

declare -A RATE RSS_PER_CONN
for test in $TESTS; do
	cert=$test resume=()
	[ "$test" = resume ] && cert=ecdsa resume=(-resume)
	config "$cert" >"$WORK/$test.cfg"
	for round in $(seq 1 "$ROUNDS"); do
		for proxy in $PROXIES; do
			start_proxy "$proxy" "$WORK/$test.cfg"
			out=$(taskset -c "$LOAD_CPU" "$WORK/tlsload" hs -addr "127.0.0.1:$FE_PORT" \
				-workers "$WORKERS" -duration "${DURATION}s" "${resume[@]}")
			stop_proxy
			rate=$(field rate "$out")
			best=${RATE[$proxy.$test]:-0}
			RATE[$proxy.$test]=$(awk -v a="$rate" -v b="$best" 'BEGIN {print (a > b) ? a : b}')
			echo "$proxy $test round $round: $out" >&2
		done
	done
done

config ecdsa >"$WORK/idle.cfg"
[ "$IDLE" = 1 ] || PROXIES_IDLE=""
for proxy in ${PROXIES_IDLE-$PROXIES}; do
	idle_rss "$proxy" "$WORK/idle.cfg" 1200 taskset -c "$LOAD_CPU" \
		"$WORK/tlsload" idle -addr "127.0.0.1:$FE_PORT" -conns "$IDLE_CONNS" -ready "$WORK/ready"
	RSS_PER_CONN[$proxy]=$RSS_PER
	echo "$proxy idle: rss ${RSS0} KiB -> ${RSS1} KiB over $IDLE_CONNS TLS connections" >&2
done

echo
echo "TLS 1.3, X25519, proxy pinned to CPU $PROXY_CPU (nbthread 1), client on CPU $LOAD_CPU, $WORKERS concurrent handshakes, best of $ROUNDS runs of ${DURATION}s"
echo
echo "| measure | haproxy | lb | lb / haproxy |"
echo "|---|---|---|---|"
for test in $TESTS; do
	case $test in
	ecdsa) name="full handshakes/s, ECDSA P-256" ;;
	rsa) name="full handshakes/s, RSA-2048" ;;
	resume) name="resumed handshakes/s (ticket), ECDSA P-256" ;;
	esac
	h=$(get RATE "haproxy.$test"); l=$(get RATE "lb.$test")
	echo "| $name | $h | $l | $(ratio "$l" "$h") |"
done
if [ "$IDLE" = 1 ]; then
	h=$(get RSS_PER_CONN haproxy); l=$(get RSS_PER_CONN lb)
	echo "| RSS per idle TLS connection (KiB), $IDLE_CONNS conns | $h | $l | $(ratio "$l" "$h") |"
fi
