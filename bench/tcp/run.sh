#!/usr/bin/env bash
# Runs one TCP-mode configuration under haproxy and under lb, side by side,
# and prints for each: throughput and proxy CPU seconds per GiB moved (with
# and without splice), and resident memory per idle proxied connection.
# Figures for lb are also given as a ratio to haproxy's, and throughput as a
# ratio to "direct" (the pusher straight to the sink, no proxy).
#
# Environment: SIZE (bytes per transfer, default 1 GiB), CONNS (parallel
# connections for the transfer, default 4), IDLE_CONNS (default 9900: the
# proxy needs two fds per connection and the hard fd limit here is 20000),
# PROXY_CPU / LOAD_CPU (cores for taskset), HAPROXY (binary path), PROXIES
# (default "haproxy lb"), MODES (transfer modes, default "copy splice"; empty
# skips the transfers), IDLE (1 to measure idle memory, the default), LB_BIN
# (a prebuilt lb binary instead of building ./examples/lb).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIZE=${SIZE:-1073741824}
CONNS=${CONNS:-4}
IDLE_CONNS=${IDLE_CONNS:-9800}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
PROXIES=${PROXIES:-haproxy lb}
MODES=${MODES-copy splice}
IDLE=${IDLE:-1}
FE_PORT=${FE_PORT:-18300}
SINK_PORT=${SINK_PORT:-18301}
CLK_TCK=$(getconf CLK_TCK)

# Refuse to start on a port something already listens on: the figures
# would be another process's, and a proxy left from an earlier run would
# keep the port.
for port in "$FE_PORT" "$SINK_PORT"; do
	if ! command -v ss >/dev/null; then
		echo "run.sh: ss (iproute2) is needed to check that port $port is free" >&2
		exit 1
	fi
	if [ -n "$(ss -ltnH "sport = :$port")" ]; then
		echo "run.sh: port $port is already listened on (ss -ltnp 'sport = :$port' tells by what);" \
			"stop it or set FE_PORT/SINK_PORT" >&2
		exit 1
	fi
done

WORK=$(mktemp -d)
PIDS=()
PROXY_PID=
IDLER_PID=
# On any exit, stop the sink, the proxy under test and the idle client.
cleanup() {
	for p in "${PIDS[@]}" $PROXY_PID $IDLER_PID; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"

echo "building lb and tcpload..." >&2
if [ -n "${LB_BIN:-}" ]; then
	cp "$LB_BIN" "$WORK/lb"
else
	(cd "$ROOT" && go build -o "$WORK/lb" ./examples/lb)
fi
(cd "$ROOT/bench" && go build -o "$WORK/tcpload" ./tcp/tcpload)

# config SPLICE_LINE: the same file for both proxies.
config() {
	cat <<CFG
global
    maxconn 9900
    maxpipes 32
    nbthread 1
    tune.bufsize 16384
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen bench
    bind 127.0.0.1:$FE_PORT
    $1
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

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_proxy NAME CFGFILE -> sets PROXY_PID
start_proxy() {
	case $1 in
	haproxy) taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "$2" >"$WORK/$1.log" 2>&1 & ;;
	lb) taskset -c "$PROXY_CPU" "$WORK/lb" -f "$2" >"$WORK/$1.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	wait_port "$FE_PORT"
}

stop_proxy() {
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	PROXY_PID=
	# Let the port leave TIME_WAIT-free listening state before the next run.
	sleep 0.3
}

taskset -c "$LOAD_CPU" "$WORK/tcpload" sink -listen "127.0.0.1:$SINK_PORT" &
PIDS+=($!)
wait_port "$SINK_PORT"

declare -A MIBPS CPU_PER_GIB RSS_PER_CONN
push() { taskset -c "$LOAD_CPU" "$WORK/tcpload" push -addr "127.0.0.1:$1" -bytes "$SIZE" -conns "$CONNS"; }
if [ -n "$MODES" ]; then
	# The ceiling: the same pusher straight to the sink, on the same core.
	out=$(push "$SINK_PORT")
	MIBPS[direct]=$(sed -E 's/.*MiBps=([0-9.]+).*/\1/' <<<"$out")
	echo "direct: $out" >&2
fi
for mode in $MODES; do
	line="# no splice"
	# Forced splicing in both directions: splice-auto leaves the decision to
	# each proxy's own heuristics, which would blur the comparison.
	[ "$mode" = splice ] && line=$'option splice-request\n    option splice-response'
	config "$line" >"$WORK/$mode.cfg"
	for proxy in $PROXIES; do
		start_proxy "$proxy" "$WORK/$mode.cfg"
		t0=$(cpu_ticks "$PROXY_PID")
		out=$(push "$FE_PORT")
		t1=$(cpu_ticks "$PROXY_PID")
		stop_proxy
		mibps=$(sed -E 's/.*MiBps=([0-9.]+).*/\1/' <<<"$out")
		cpu=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v b="$SIZE" 'BEGIN {printf "%.3f", d / hz / (b / 1073741824)}')
		MIBPS[$proxy.$mode]=$mibps
		CPU_PER_GIB[$proxy.$mode]=$cpu
		echo "$proxy $mode: $out cpu_s_per_GiB=$cpu" >&2
	done
done

config "# idle" >"$WORK/idle.cfg"
[ "$IDLE" = 1 ] || PROXIES_IDLE=""
for proxy in ${PROXIES_IDLE-$PROXIES}; do
	start_proxy "$proxy" "$WORK/idle.cfg"
	sleep 0.5
	r0=$(rss_kib "$PROXY_PID")
	rm -f "$WORK/ready"
	"$WORK/tcpload" idle -addr "127.0.0.1:$FE_PORT" -conns "$IDLE_CONNS" -ready "$WORK/ready" &
	idler=$!
	IDLER_PID=$idler
	for _ in $(seq 1 600); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
	[ -f "$WORK/ready" ] || { echo "idle connections never all opened" >&2; exit 1; }
	r1=$(rss_kib "$PROXY_PID")
	kill "$idler"; wait "$idler" 2>/dev/null || true
	IDLER_PID=
	stop_proxy
	RSS_PER_CONN[$proxy]=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" 'BEGIN {printf "%.2f", (b - a) / n}')
	echo "$proxy idle: rss ${r0} KiB -> ${r1} KiB over $IDLE_CONNS connections" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
get() { local -n arr=$1; echo "${arr[$2]:-}"; }

echo
echo "transfer: $SIZE bytes over $CONNS connections, proxy pinned to CPU $PROXY_CPU, nbthread 1"
echo
echo "| measure | direct | haproxy | lb | lb / haproxy | lb / direct |"
echo "|---|---|---|---|---|---|"
for mode in $MODES; do
	h=$(get MIBPS "haproxy.$mode"); l=$(get MIBPS "lb.$mode"); d=$(get MIBPS direct)
	echo "| throughput, $mode (MiB/s) | $d | $h | $l | $(ratio "$l" "$h") | $(ratio "$l" "$d") |"
	h=$(get CPU_PER_GIB "haproxy.$mode"); l=$(get CPU_PER_GIB "lb.$mode")
	echo "| proxy CPU s per GiB, $mode | | $h | $l | $(ratio "$l" "$h") | |"
done
if [ "$IDLE" = 1 ]; then
	h=$(get RSS_PER_CONN haproxy); l=$(get RSS_PER_CONN lb)
	echo "| RSS per idle proxied connection (KiB), $IDLE_CONNS conns | | $h | $l | $(ratio "$l" "$h") | |"
fi
