#!/usr/bin/env bash
# Runs one TCP-mode configuration under haproxy and under lb, side by side,
# and prints for each: throughput and proxy CPU seconds per GiB moved (with
# and without splice), and resident memory per idle proxied connection.
# Figures for lb are also given as a ratio to haproxy's, and throughput as a
# ratio to "direct" (the pusher straight to the sink, no proxy).
#
# A third contender, gocopy (bench/tcp/gocopy: io.Copy both ways between
# two *net.TCPConn, which splices; with -copy a plain 32 KiB buffer copy),
# shows what the Go runtime alone reaches on the same machine. It reads no
# configuration and is left out of the idle measurement (it holds a pipe
# per direction for a connection's whole life: 4 fds per connection).
#
# Environment: SIZE (bytes per transfer, default 1 GiB), CONNS (parallel
# connections for the transfer, default 4), IDLE_CONNS (default 9800: the
# proxy needs two fds per connection and the hard fd limit here is 20000),
# PROXY_CPU / LOAD_CPU (cores for taskset; LOAD_CPU may be a list such as
# 0,1, which lets the load share the proxy's core), HAPROXY (binary path), PROXIES
# (default "haproxy lb gocopy"), MODES (transfer modes, default "copy splice
# splicebuf"; empty skips the transfers; splicebuf is splice with
# tune.rcvbuf.client/server and tune.sndbuf.client/server set to SOCKBUF,
# default 1048576, in place of the kernel's automatic sizing), IDLE (1 to measure idle memory, the default), LB_BIN
# (a prebuilt lb binary instead of building ./examples/lb), SINK_SPLICE (1:
# the sink splices into /dev/null instead of reading, for direct and
# proxied alike; the load core then spends nothing on copying to the sink,
# the part of its work that grows most per byte when proxied: the bytes
# wait longer in flight, so they are colder, and arrive in page-sized
# pieces from the proxy's splice), WSIZE (bytes per write(2) of the pusher,
# default 262144; a smaller write costs the load core more per byte, direct
# and proxied alike), RSIZE (bytes per read(2) of the sink, default
# 262144), SINK_SUM (1: the sink folds every byte it reads into an Adler-32
# checksum, as a client that uses what it receives would; the load core then
# spends about 0.4 s more per GiB, direct and proxied alike, which brings
# "direct" near the 1650 MiB/s of the aim's reference figures), GLOBAL (one
# more line for the global section of the file both proxies run, such as
# "tune.pipesize 65536").
# "proxy CPU s per GiB" is the proxy's user+system time from /proc/PID/stat,
# sampled in 10 ms ticks (one tick is 4 % of a 1 GiB splice transfer);
# the "(scheduler)" row is the same time as the scheduler adds it up in
# nanoseconds (/proc/PID/task/*/schedstat), softirqs run in the proxy's
# context included as in the ticks.
# The "load CPU s per GiB" row is the busy time of LOAD_CPU (pusher, sink,
# and the softirqs that run there, for the proxy's sockets too) per GiB
# moved: the core that bounds every proxied rate, and the cost of a byte
# to it, direct and proxied. It counts whatever else ran on that core too.
# The result arrays are read through get, by name.
# shellcheck disable=SC2034
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
SIZE=${SIZE:-1073741824}
CONNS=${CONNS:-4}
IDLE_CONNS=${IDLE_CONNS:-9800}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
PROXIES=${PROXIES:-haproxy lb gocopy}
MODES=${MODES-copy splice splicebuf}
SOCKBUF=${SOCKBUF:-1048576}
WSIZE=${WSIZE:-262144}
IDLE=${IDLE:-1}
FE_PORT=${FE_PORT:-18300}
SINK_PORT=${SINK_PORT:-18301}
CLK_TCK=$(getconf CLK_TCK)

# Refuse to start on a port something already listens on: the figures
# would be another process's, and a proxy left from an earlier run would
# keep the port.
require_free_ports "$FE_PORT" "$SINK_PORT"

# On any exit, stop the sink, the proxy under test and the idle client.
bench_init
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"

echo "building lb and tcpload..." >&2
build_lb
go_build "$ROOT/bench" ./tcp/tcpload ./tcp/gocopy

# config SPLICE_LINE [GLOBAL_LINE]: the same file for both proxies.
config() {
	cat <<CFG
global
    maxconn 9900
    maxpipes 32
    nbthread 1
    tune.bufsize 16384
    ${2:-# kernel socket buffer sizing}
    ${GLOBAL:-# no extra global line}
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

# start NAME MODE CFG: start_proxy, or gocopy on the same core.
start() {
	if [ "$1" != gocopy ]; then
		start_proxy "$1" "$3"
		return
	fi
	refuse_open_port "$FE_PORT"
	local flags=()
	case $2 in
	copy) flags=(-copy) ;;
	splicebuf) flags=(-rcvbuf "$SOCKBUF" -sndbuf "$SOCKBUF") ;;
	esac
	taskset -c "$PROXY_CPU" "$WORK/gocopy" -listen "127.0.0.1:$FE_PORT" \
		-connect "127.0.0.1:$SINK_PORT" "${flags[@]}" >"$WORK/gocopy.log" 2>&1 &
	PROXY_PID=$!
	wait_port "$FE_PORT"
}

start_sink

declare -A MIBPS CPU_PER_GIB CPU_NS_PER_GIB LOAD_PER_GIB RSS_PER_CONN
push() { taskset -c "$LOAD_CPU" "$WORK/tcpload" push -addr "127.0.0.1:$1" -bytes "$SIZE" -conns "$CONNS" -wsize "$WSIZE"; }
# per_gib TICKS: clock ticks spent on the transfer, as seconds per GiB moved.
per_gib() { awk -v d="$1" -v hz="$CLK_TCK" -v b="$SIZE" 'BEGIN {printf "%.3f", d / hz / (b / 1073741824)}'; }
for mode in $MODES; do
	# The ceiling: the same pusher straight to the sink, on the same core,
	# measured again for each mode, since the machine's load drifts.
	l0=$(core_ticks "$LOAD_CPU")
	out=$(push "$SINK_PORT")
	l1=$(core_ticks "$LOAD_CPU")
	MIBPS[direct.$mode]=$(field MiBps "$out")
	LOAD_PER_GIB[direct.$mode]=$(per_gib $((l1 - l0)))
	echo "direct ($mode): $out load_cpu_s_per_GiB=${LOAD_PER_GIB[direct.$mode]}" >&2
	line="# no splice"
	# Forced splicing in both directions: splice-auto leaves the decision to
	# each proxy's own heuristics, which would blur the comparison.
	[ "$mode" != copy ] && line=$'option splice-request\n    option splice-response'
	glob=""
	[ "$mode" = splicebuf ] && glob="tune.rcvbuf.client $SOCKBUF
    tune.rcvbuf.server $SOCKBUF
    tune.sndbuf.client $SOCKBUF
    tune.sndbuf.server $SOCKBUF"
	config "$line" "$glob" >"$WORK/$mode.cfg"
	for proxy in $PROXIES; do
		start "$proxy" "$mode" "$WORK/$mode.cfg"
		t0=$(cpu_ticks "$PROXY_PID")
		n0=$(cpu_ns "$PROXY_PID")
		l0=$(core_ticks "$LOAD_CPU")
		out=$(push "$FE_PORT")
		l1=$(core_ticks "$LOAD_CPU")
		n1=$(cpu_ns "$PROXY_PID")
		t1=$(cpu_ticks "$PROXY_PID")
		stop_proxy
		mibps=$(field MiBps "$out")
		cpu=$(per_gib $((t1 - t0)))
		MIBPS[$proxy.$mode]=$mibps
		CPU_PER_GIB[$proxy.$mode]=$cpu
		CPU_NS_PER_GIB[$proxy.$mode]=$(awk -v d=$((n1 - n0)) -v b="$SIZE" 'BEGIN {printf "%.3f", d / 1e9 / (b / 1073741824)}')
		LOAD_PER_GIB[$proxy.$mode]=$(per_gib $((l1 - l0)))
		echo "$proxy $mode: $out cpu_s_per_GiB=$cpu sched_cpu_s_per_GiB=${CPU_NS_PER_GIB[$proxy.$mode]} load_cpu_s_per_GiB=${LOAD_PER_GIB[$proxy.$mode]}" >&2
	done
done

config "# idle" >"$WORK/idle.cfg"
[ "$IDLE" = 1 ] || PROXIES_IDLE=""
for proxy in ${PROXIES_IDLE-${PROXIES//gocopy/}}; do
	idle_rss "$proxy" "$WORK/idle.cfg" 600 \
		"$WORK/tcpload" idle -addr "127.0.0.1:$FE_PORT" -conns "$IDLE_CONNS" -ready "$WORK/ready"
	RSS_PER_CONN[$proxy]=$RSS_PER
	echo "$proxy idle: rss ${RSS0} KiB -> ${RSS1} KiB over $IDLE_CONNS connections" >&2
done

echo
sink="read(2) into a ${RSIZE:-262144}-byte buffer"
[ "${SINK_SUM:-0}" = 1 ] && sink="$sink, Adler-32 over every byte"
[ "${SINK_SPLICE:-0}" = 1 ] && sink="splice(2) into /dev/null"
echo "transfer: $SIZE bytes over $CONNS connections, proxy pinned to CPU $PROXY_CPU, load on CPU $LOAD_CPU, nbthread 1, sink: $sink${GLOBAL:+, global: $GLOBAL}"
echo
echo "| measure | direct | haproxy | lb | gocopy | lb / haproxy | lb / gocopy | lb / direct | gocopy / direct |"
echo "|---|---|---|---|---|---|---|---|---|"
for mode in $MODES; do
	h=$(get MIBPS "haproxy.$mode"); l=$(get MIBPS "lb.$mode"); g=$(get MIBPS "gocopy.$mode"); d=$(get MIBPS "direct.$mode")
	echo "| throughput, $mode (MiB/s) | $d | $h | $l | $g | $(ratio "$l" "$h") | $(ratio "$l" "$g") | $(ratio "$l" "$d") | $(ratio "$g" "$d") |"
	h=$(get CPU_PER_GIB "haproxy.$mode"); l=$(get CPU_PER_GIB "lb.$mode"); g=$(get CPU_PER_GIB "gocopy.$mode")
	echo "| proxy CPU s per GiB, $mode | | $h | $l | $g | $(ratio "$l" "$h") | $(ratio "$l" "$g") | | |"
	h=$(get CPU_NS_PER_GIB "haproxy.$mode"); l=$(get CPU_NS_PER_GIB "lb.$mode"); g=$(get CPU_NS_PER_GIB "gocopy.$mode")
	echo "| proxy CPU s per GiB (scheduler), $mode | | $h | $l | $g | $(ratio "$l" "$h") | $(ratio "$l" "$g") | | |"
	h=$(get LOAD_PER_GIB "haproxy.$mode"); l=$(get LOAD_PER_GIB "lb.$mode"); g=$(get LOAD_PER_GIB "gocopy.$mode"); d=$(get LOAD_PER_GIB "direct.$mode")
	echo "| load CPU s per GiB, $mode | $d | $h | $l | $g | $(ratio "$l" "$h") | $(ratio "$l" "$g") | $(ratio "$l" "$d") | $(ratio "$g" "$d") |"
done
if [ "$IDLE" = 1 ]; then
	h=$(get RSS_PER_CONN haproxy); l=$(get RSS_PER_CONN lb)
	echo "| RSS per idle proxied connection (KiB), $IDLE_CONNS conns | | $h | $l | | $(ratio "$l" "$h") | | | |"
fi
