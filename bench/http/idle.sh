#!/usr/bin/env bash
# Idle HTTP keep-alive memory: lb beside haproxy on one config.
#
# Each proxy in turn serves IDLE_CONNS client connections that have had
# one answer and then stay open, waiting for a next request that does not
# come (timeout http-keep-alive 120s): over HTTP/1.1, over HTTP/2 with
# prior knowledge, and over TLS (an ECDSA P-256 certificate, bind ... ssl
# alpn h2,http/1.1) as HTTP/1.1 and as HTTP/2 after ALPN (PROTOS, default
# "h1 h2 h1-tls h2-tls"). The figure is the growth of the proxy's
# resident memory per connection, read once the connections are open and
# a few seconds have passed; the proxies keep or close their idle server
# connections as their own policies say.
#
# Usage: bench/http/idle.sh
#   IDLE_CONNS (default 5000), PROXY_CPU / LOAD_CPU (cores for taskset,
#   default 1 / 0), HAPROXY (binary path), LB_BIN (a built lb to use
#   instead of building one), FE_PORT / H2_PORT / TLS_PORT / SINK_PORT
#   (ports).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
IDLE_CONNS=${IDLE_CONNS:-5000}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
FE_PORT=${FE_PORT:-18821}
H2_PORT=${H2_PORT:-18822}
TLS_PORT=${TLS_PORT:-18823}
SINK_PORT=${SINK_PORT:-18820}
PROTOS=${PROTOS:-h1 h2 h1-tls h2-tls}
# The proxies need not hold a server connection per client.
IDLE_SERVER_CONNS=0

bench_init
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"
for t in haproxy taskset ss openssl; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
require_free_ports "$FE_PORT" "$H2_PORT" "$TLS_PORT" "$SINK_PORT"

echo "building lb, the backend and tcpload..." >&2
build_lb
go_build "$ROOT/bench" ./http/backend ./tcp/tcpload
make_cert ecdsa idle

taskset -c "$LOAD_CPU" "$WORK/backend" -addr "127.0.0.1:$SINK_PORT" -name s1 >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$SINK_PORT"

cat >"$WORK/idle.cfg" <<CFG
global
    maxconn 9900
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 120s
frontend fe
    bind 127.0.0.1:$FE_PORT
    default_backend be
frontend fe2
    bind 127.0.0.1:$H2_PORT proto h2
    default_backend be
frontend fe3
    bind 127.0.0.1:$TLS_PORT ssl crt $WORK/idle.pem alpn h2,http/1.1
    default_backend be
backend be
    server s1 127.0.0.1:$SINK_PORT
CFG

declare -A RSS
for proto in $PROTOS; do
	case $proto in
	h1) port=$FE_PORT flags=(-http) ;;
	h2) port=$H2_PORT flags=(-h2) ;;
	h1-tls) port=$TLS_PORT flags=(-http -tls) ;;
	h2-tls) port=$TLS_PORT flags=(-h2 -tls) ;;
	*) echo "unknown protocol $proto in PROTOS (h1 h2 h1-tls h2-tls)" >&2; exit 1 ;;
	esac
	for proxy in haproxy lb; do
		idle_rss "$proxy" "$WORK/idle.cfg" 1800 \
			"$WORK/tcpload" idle "${flags[@]}" -addr "127.0.0.1:$port" -conns "$IDLE_CONNS" -ready "$WORK/ready"
		RSS[$proxy.$proto]=$RSS_PER
		echo "$proxy $proto idle: rss ${RSS0} KiB -> ${RSS1} KiB over $IDLE_CONNS keep-alive connections" >&2
	done
done

echo
echo "idle keep-alive connections: $IDLE_CONNS, each after one answer; proxy pinned to CPU $PROXY_CPU, nbthread 1"
echo
echo "| measure | haproxy | lb | lb / haproxy |"
echo "|---|---|---|---|"
for proto in $PROTOS; do
	case $proto in
	h1) name="HTTP/1.1" ;;
	h2) name="HTTP/2" ;;
	h1-tls) name="HTTP/1.1 over TLS" ;;
	h2-tls) name="HTTP/2 over TLS" ;;
	esac
	echo "| RSS per idle $name connection (KiB) | ${RSS[haproxy.$proto]} | ${RSS[lb.$proto]} | $(ratio "${RSS[lb.$proto]}" "${RSS[haproxy.$proto]}") |"
done
