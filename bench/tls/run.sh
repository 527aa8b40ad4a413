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
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
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

WORK=$(mktemp -d)
PIDS=()
PROXY_PID=
cleanup() {
	for p in "${PIDS[@]}" $PROXY_PID; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

ulimit -n "$(ulimit -Hn)"

echo "building lb, tcpload and tlsload..." >&2
if [ -n "${LB_BIN:-}" ]; then
	cp "$LB_BIN" "$WORK/lb"
else
	(cd "$ROOT" && go build -o "$WORK/lb" ./examples/lb)
fi
(cd "$ROOT/bench" && go build -o "$WORK/tcpload" ./tcp/tcpload && go build -o "$WORK/tlsload" ./tls/tlsload)

# Self-signed certificates, the key after the certificate in one PEM as
# haproxy's crt reads it.
for kind in ecdsa rsa; do
	case $kind in
	ecdsa) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
	rsa) newkey=(-newkey rsa:2048) ;;
	esac
	openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=bench.example.org \
		-addext subjectAltName=DNS:bench.example.org \
		-keyout "$WORK/$kind.key" -out "$WORK/$kind.crt" 2>/dev/null
	cat "$WORK/$kind.crt" "$WORK/$kind.key" >"$WORK/$kind.pem"
done

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

wait_port() {
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "port $1 never opened" >&2
	return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_proxy NAME CFGFILE -> sets PROXY_PID
start_proxy() {
	# haproxy binds with SO_REUSEPORT: a proxy left over from an earlier
	# run would silently share the port and falsify the figures.
	if (exec 3<>"/dev/tcp/127.0.0.1/$FE_PORT") 2>/dev/null; then
		echo "port $FE_PORT is already in use: stop what listens there first" >&2
		exit 1
	fi
	case $1 in
	haproxy) taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "$2" >"$WORK/$1.log" 2>&1 & ;;
	lb) taskset -c "$PROXY_CPU" "$WORK/lb" -f "$2" >"$WORK/$1.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	wait_port "$FE_PORT"
	kill -0 "$PROXY_PID" || { echo "$1 exited at start: $(cat "$WORK/$1.log")" >&2; exit 1; }
}

stop_proxy() {
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	PROXY_PID=
	sleep 0.3
}

taskset -c "$LOAD_CPU" "$WORK/tcpload" sink -listen "127.0.0.1:$SINK_PORT" &
PIDS+=($!)
wait_port "$SINK_PORT"

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
			rate=$(sed -E 's/.*rate=([0-9.]+).*/\1/' <<<"$out")
			best=${RATE[$proxy.$test]:-0}
			RATE[$proxy.$test]=$(awk -v a="$rate" -v b="$best" 'BEGIN {print (a > b) ? a : b}')
			echo "$proxy $test round $round: $out" >&2
		done
	done
done

config ecdsa >"$WORK/idle.cfg"
[ "$IDLE" = 1 ] || PROXIES_IDLE=""
for proxy in ${PROXIES_IDLE-$PROXIES}; do
	start_proxy "$proxy" "$WORK/idle.cfg"
	sleep 0.5
	r0=$(rss_kib "$PROXY_PID")
	rm -f "$WORK/ready"
	taskset -c "$LOAD_CPU" "$WORK/tlsload" idle -addr "127.0.0.1:$FE_PORT" -conns "$IDLE_CONNS" -ready "$WORK/ready" &
	idler=$!
	for _ in $(seq 1 1200); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
	[ -f "$WORK/ready" ] || { echo "idle connections never all opened" >&2; exit 1; }
	r1=$(rss_kib "$PROXY_PID")
	kill "$idler"; wait "$idler" 2>/dev/null || true
	stop_proxy
	RSS_PER_CONN[$proxy]=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" 'BEGIN {printf "%.2f", (b - a) / n}')
	echo "$proxy idle: rss ${r0} KiB -> ${r1} KiB over $IDLE_CONNS TLS connections" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
get() { local -n arr=$1; echo "${arr[$2]:-}"; }

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
