#!/usr/bin/env bash
# Connection rate: lb beside haproxy when every request opens a new
# connection, the cost the throughput and idle scripts do not see.
#
# Both proxies run the same file per mode: one listen section on FE_PORT,
# in mode tcp or in mode http (HTTP/1.1), to one server, bench/http/backend
# on SINK_PORT. One listener only: lb's listeners on shared connection
# slots poll before each accept, a cost a second section would add to
# every connection of the first. wrk sends every request
# with "Connection: close", so each request is a new client connection; in
# mode tcp the backend closes after its answer and every client connection
# is a new server connection too, in mode http each proxy keeps or closes
# its server connections as its defaults say (http-reuse safe: a client's
# first request goes on a connection of its own).
#
# The proxy is pinned to PROXY_CPU with nbthread 1 (lb takes GOMAXPROCS
# from it), wrk and the backend to LOAD_CPU. Each round runs, for each
# mode, both proxies one after the other, a fresh process each (a second
# of warm-up, then DUR seconds), lb first in odd rounds and haproxy first
# in even ones, so every lb/haproxy ratio comes from neighbouring runs and
# neither proxy always follows the other. Per run:
#
#   conn/s      wrk's requests per second (one connection each)
#   CPU ms/1k   the proxy's user+system CPU time (/proc/PID/stat) per
#               1000 connections
#   core        the proxy core's busy time (/proc/stat) over the run, as a
#               share of it: the proxy's own + the rest. The rest is
#               softirq work not charged to the proxy (a few %) and
#               whatever else ran there: own near 100 %, the proxy bounds
#               the rate; a large rest, the run was disturbed.
#
# and per mode the medians of the per-round lb/haproxy ratios. A round is
# flagged (d) when the rest took more than DISTURB % of either proxy's
# core, and (!) when wrk reported socket errors or non-2xx answers (listed
# in the table: a rate with errors is not a connection rate); when some
# rounds are flagged, the medians of the others are printed too.
#
# Before each run the script waits (up to 65 s) while more than TW_MAX
# client-side TIME_WAIT sockets (local port in the ephemeral range, peer
# one of the script's ports) hold ephemeral ports, so that port exhaustion
# on a machine without tcp_tw_reuse shows as a wait, not as connect errors.
#
# With STRACE=1, one more phase per proxy and mode after the rounds:
# strace -c -f -p PID while wrk runs STRACE_DUR seconds, printing system
# calls per connection (all calls / accept4 calls that returned a
# connection) and the top calls per
# connection. strace slows the proxy many times over: that phase's rates
# mean nothing, its counts per connection do.
#
# Environment: DUR (seconds per run, default 5), ROUNDS (default 3), CONNS
# (wrk connections, default 50), MODES (default "tcp http"), PROXIES
# (default "lb haproxy"; the ratios need both), PROXY_CPU / LOAD_CPU
# (default 1 / 0), HAPROXY (binary), LB_BIN (a prebuilt lb instead of
# building ./examples/lb), STRACE (1: the strace phase), STRACE_DUR
# (default 3), STRACE_TOP (calls listed, default 8), DISTURB (default 25),
# TW_MAX (default half the ephemeral range), FE_PORT / SINK_PORT (default
# 18850 / 18851).
# The result arrays are read through get, by name.
# shellcheck disable=SC2034
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
DUR=${DUR:-5}
DISTURB=${DISTURB:-25}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-50}
MODES=${MODES:-tcp http}
PROXIES=${PROXIES:-lb haproxy}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
STRACE=${STRACE:-0}
STRACE_DUR=${STRACE_DUR:-3}
STRACE_TOP=${STRACE_TOP:-8}
FE_PORT=${FE_PORT:-18850}
SINK_PORT=${SINK_PORT:-18851}
CLK_TCK=$(getconf CLK_TCK)
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range
TW_MAX=${TW_MAX:-$(((EPH_HI - EPH_LO + 1) / 2))}
TW_REUSE=$(cat /proc/sys/net/ipv4/tcp_tw_reuse)

for mode in $MODES; do
	case $mode in
	tcp | http) ;;
	*) echo "MODES: tcp and http only, not $mode" >&2; exit 2 ;;
	esac
done
tools=(wrk taskset ss "$HAPROXY")
[ "$STRACE" = 1 ] && tools+=(strace)
for t in "${tools[@]}"; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
# Refuse ports something already listens on: the figures would be
# another process's.
require_free_ports "$FE_PORT" "$SINK_PORT"

bench_init
# wrk and strace run in the background so that an interrupt ends them at
# once; strace is stopped (and so detached) before the proxy it traces.
WRK_PID=
STRACE_PID=
connrate_cleanup() {
	[ -n "$STRACE_PID" ] && { kill -INT "$STRACE_PID" 2>/dev/null || true; wait "$STRACE_PID" 2>/dev/null || true; }
	[ -n "$WRK_PID" ] && { kill "$WRK_PID" 2>/dev/null || true; }
	bench_cleanup
}
trap connrate_cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)"

echo "building lb and the backend..." >&2
build_lb
go_build "$ROOT/bench" ./http/backend

for mode in $MODES; do
	cat >"$WORK/$mode.cfg" <<CFG
global
    maxconn 4000
    nbthread 1
defaults
    mode $mode
    timeout connect 5s
    timeout client 30s
    timeout server 30s
listen bench
    bind 127.0.0.1:$FE_PORT
    server s1 127.0.0.1:$SINK_PORT
CFG
done

taskset -c "$LOAD_CPU" "$WORK/backend" -addr "127.0.0.1:$SINK_PORT" -name s1 >"$WORK/backend.log" 2>&1 &
PIDS+=($!)
wait_port "$SINK_PORT"

# client_tw prints how many TIME_WAIT sockets hold an ephemeral port
# towards one of the script's ports: those a connect(2) to the same place
# may not reuse (with tcp_tw_reuse 0) or must search past.
client_tw() {
	ss -Htan state time-wait "( dport = :$FE_PORT or dport = :$SINK_PORT )" |
		awk -v lo="$EPH_LO" -v hi="$EPH_HI" '{ n = split($3, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi) c++ } END { print c + 0 }'
}

# tw_guard waits while client_tw is above TW_MAX, at most 65 s (TIME_WAIT
# lasts 60 s).
tw_guard() {
	local n
	n=$(client_tw)
	[ "$n" -le "$TW_MAX" ] && return 0
	echo "$n client-side TIME_WAIT sockets (TW_MAX $TW_MAX): waiting for them to expire" >&2
	for _ in $(seq 1 65); do
		sleep 1
		n=$(client_tw)
		[ "$n" -le "$TW_MAX" ] && return 0
	done
	echo "still $n client-side TIME_WAIT sockets; going on, expect connect errors" >&2
}

# wrk_run SECONDS OUT: wrk with a new connection per request, in the
# background so that an interrupt stops it at once.
wrk_run() {
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${1}s" -H 'Connection: close' \
		"http://127.0.0.1:$FE_PORT/" >"$2" 2>&1 &
	WRK_PID=$!
	local rc=0
	wait "$WRK_PID" || rc=$?
	WRK_PID=
	# Above 128: wrk or the wait ended by a signal, an interrupt.
	[ "$rc" -gt 128 ] && exit 130
	[ "$rc" = 0 ] || { echo "wrk failed: $(cat "$2")" >&2; exit 1; }
}

# wrk_errors FILE prints wrk's socket errors and non-2xx answers as
# "connect 0 read 0 write 0 timeout 0 non2xx 0".
wrk_errors() {
	awk '/Socket errors:/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 }
		/Non-2xx or 3xx responses:/ { n = $NF }
		END { printf "connect %d read %d write %d timeout %d non2xx %d\n", c, r, w, t, n }' "$1"
}

declare -A RATE CPUK BUSY OTHER ERRS
# measure NAME MODE ROUND: one run on the proxy already started.
measure() {
	local name=$1 mode=$2 round=$3 out=$WORK/wrk.out t0 t1 c0 c1 w0 w1 reqs rate errs key
	key=$name.$mode.$round
	tw_guard
	w0=$EPOCHREALTIME
	c0=$(core_ticks "$PROXY_CPU")
	t0=$(cpu_ticks "$PROXY_PID")
	wrk_run "$DUR" "$out"
	t1=$(cpu_ticks "$PROXY_PID")
	c1=$(core_ticks "$PROXY_CPU")
	w1=$EPOCHREALTIME
	# "  123456 requests in 5.00s, 12.34MB read"
	reqs=$(awk '/ requests in / { print $1 }' "$out")
	rate=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$out")
	errs=$(wrk_errors "$out")
	RATE[$key]=$rate
	CPUK[$key]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.1f", t * 1000 / hz / (n / 1000); else print "" }')
	read -r "BUSY[$key]" "OTHER[$key]" < <(awk -v t=$((t1 - t0)) -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" \
		'BEGIN { s = b - a; o = c - t; if (o < 0) o = 0; printf "%d %d\n", 100 * t / hz / s, 100 * o / hz / s }')
	[ "$errs" = "connect 0 read 0 write 0 timeout 0 non2xx 0" ] || ERRS[$key]=$errs
	echo "round $round $name $mode: $rate conn/s, ${CPUK[$key]} CPU ms per 1k, core ${BUSY[$key]}+${OTHER[$key]} %, $reqs requests, errors: $errs" >&2
}

# start NAME MODE: start_proxy on MODE's file and a second of warm-up, so
# that the run does not pay for the process's start.
start() {
	start_proxy "$1" "$WORK/$2.cfg"
	wrk_run 1 "$WORK/warm.out"
}

echo "tcp_tw_reuse $TW_REUSE, ephemeral ports $EPH_LO-$EPH_HI, client-side TIME_WAIT now $(client_tw)" >&2
# order ROUND prints PROXIES, reversed in even rounds.
order() {
	local -a p
	read -r -a p <<<"$PROXIES"
	if [ $(($1 % 2)) = 0 ]; then
		local i
		for ((i = ${#p[@]} - 1; i >= 0; i--)); do echo "${p[i]}"; done
	else
		printf '%s\n' "${p[@]}"
	fi
}
for round in $(seq 1 "$ROUNDS"); do
	for mode in $MODES; do
		for proxy in $(order "$round"); do
			start "$proxy" "$mode"
			measure "$proxy" "$mode" "$round"
			stop_proxy
		done
	done
done

# strace_phase NAME MODE: calls per connection under strace -c -f.
declare -A SC_PER SC_TOP SC_ACC
strace_phase() {
	local name=$1 mode=$2 so=$WORK/strace.$1.$2 acc
	tw_guard
	strace -c -f -p "$PROXY_PID" -o "$so" 2>"$WORK/strace.err" &
	STRACE_PID=$!
	# strace names each thread it attaches to; wait for the first.
	for _ in $(seq 1 50); do grep -q attached "$WORK/strace.err" 2>/dev/null && break; sleep 0.1; done
	sleep 0.2
	wrk_run "$STRACE_DUR" "$WORK/wrk.strace"
	kill -INT "$STRACE_PID" 2>/dev/null || true
	wait "$STRACE_PID" 2>/dev/null || true
	STRACE_PID=
	# strace -c: "% time seconds usecs/call calls [errors] syscall", then
	# a dashed line and "total". An accept4 that failed (EAGAIN: nothing
	# waiting) is a call but no connection.
	acc=$(awk '$NF == "accept4" && $4 ~ /^[0-9]+$/ { print $4 - (NF == 6 ? $5 : 0) }' "$so")
	SC_ACC[$name.$mode]=${acc:-0}
	if [ -z "$acc" ] || [ "$acc" = 0 ]; then
		echo "$name $mode: no accept4 under strace: $(cat "$WORK/strace.err")" >&2
		return
	fi
	SC_PER[$name.$mode]=$(awk -v n="$acc" '$NF == "total" { printf "%.2f", $4 / n }' "$so")
	SC_TOP[$name.$mode]=$(awk -v n="$acc" 'NR > 2 && $NF != "total" && NF >= 5 && $4 ~ /^[0-9]+$/ { printf "%s %.2f\n", $NF, $4 / n }' "$so" |
		sort -k2 -n -r | sed -n "1,${STRACE_TOP}p" | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')
	echo "$name $mode under strace: $acc connections, errors: $(wrk_errors "$WORK/wrk.strace")" >&2
	awk -v n="$acc" 'NR > 2 && $NF != "total" && NF >= 5 && $4 ~ /^[0-9]+$/ {
		err = (NF == 6) ? $5 : 0; printf "  %-16s %9d calls %8d errors %7.2f per connection\n", $NF, $4, err, $4 / n }' "$so" |
		sort -k2 -n -r | sed -n "1,${STRACE_TOP}p" >&2
}
if [ "$STRACE" = 1 ]; then
	for mode in $MODES; do
		for proxy in $PROXIES; do
			start "$proxy" "$mode"
			strace_phase "$proxy" "$mode"
			stop_proxy
		done
	done
fi

median() { tr ' ' '\n' | awk 'NF && $1 != "n/a"' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "new connection per request (wrk -t1 -c$CONNS -H 'Connection: close', ${DUR}s per run), proxy on CPU $PROXY_CPU (nbthread 1), wrk and bench/http/backend on CPU $LOAD_CPU; $ROUNDS rounds, lb first in odd rounds, haproxy first in even ones"
for mode in $MODES; do
	echo
	echo "mode $mode:"
	echo
	echo "| round | lb conn/s | haproxy conn/s | rate lb / haproxy | lb CPU ms/1k conn | haproxy CPU ms/1k conn | CPU lb / haproxy | lb core, own+rest | haproxy core, own+rest | wrk errors |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	rr="" cr="" rr_ok="" cr_ok="" flagged=0
	for round in $(seq 1 "$ROUNDS"); do
		lr=$(get RATE "lb.$mode.$round"); hr=$(get RATE "haproxy.$mode.$round")
		lc=$(get CPUK "lb.$mode.$round"); hc=$(get CPUK "haproxy.$mode.$round")
		lo=$(get OTHER "lb.$mode.$round"); ho=$(get OTHER "haproxy.$mode.$round")
		le=$(get ERRS "lb.$mode.$round"); he=$(get ERRS "haproxy.$mode.$round")
		flag="" errs="none"
		if [ -n "$le$he" ]; then
			flag+=" (!)" errs="${le:+lb: $le}${le:+${he:+; }}${he:+haproxy: $he}"
		fi
		[ "${lo:-0}" -gt "$DISTURB" ] || [ "${ho:-0}" -gt "$DISTURB" ] && flag+=" (d)"
		r1=$(ratio "$lr" "$hr"); r2=$(ratio "$lc" "$hc")
		rr+=" $r1" cr+=" $r2"
		if [ -z "$flag" ]; then rr_ok+=" $r1" cr_ok+=" $r2"; else flagged=$((flagged + 1)); fi
		echo "| $round$flag | $lr | $hr | $r1 | $lc | $hc | $r2 | $(get BUSY "lb.$mode.$round")+$lo % | $(get BUSY "haproxy.$mode.$round")+$ho % | $errs |"
	done
	echo "| median of ratios | | | $(median <<<"$rr") | | | $(median <<<"$cr") | | | |"
	if [ "$flagged" -gt 0 ]; then
		echo "| median, $((ROUNDS - flagged)) unflagged rounds | | | $(median <<<"$rr_ok") | | | $(median <<<"$cr_ok") | | | |"
	fi
done

if [ "$STRACE" = 1 ]; then
	echo
	echo "system calls per connection under strace -c -f (${STRACE_DUR}s of wrk per row; all calls / accept4 calls that returned a connection)"
	echo
	echo "| mode | proxy | connections | calls per connection | top calls per connection |"
	echo "|---|---|---|---|---|"
	for mode in $MODES; do
		for proxy in $PROXIES; do
			echo "| $mode | $proxy | $(get SC_ACC "$proxy.$mode") | $(get SC_PER "$proxy.$mode") | $(get SC_TOP "$proxy.$mode") |"
		done
	done
fi
