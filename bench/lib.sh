# shellcheck shell=bash
# Shell functions the benchmark scripts share. A bash script sources it once
# it has set ROOT (the repository root):
#
#	. "$ROOT/bench/lib.sh"
#
# Sourcing only defines functions; nothing runs. Variables the functions read:
# WORK (set by bench_init), PROXY_CPU and LOAD_CPU (cores for taskset),
# HAPROXY (haproxy binary), FE_PORT (the proxy's listening port), SINK_PORT,
# IDLE_CONNS, IDLE_SERVER_CONNS, LB_BIN.
#
# bench_init             makes the work directory WORK, empties PIDS (the
#                        background processes to stop at exit), PROXY_PID and
#                        IDLER_PID, and runs bench_cleanup on EXIT.
# bench_cleanup          stops PIDS, PROXY_PID and IDLER_PID, waits for every
#                        child and removes WORK.
# require_free_ports PORT...
#                        exits if ss shows a listener on any PORT (or if ss
#                        is missing): the figures would be another process's.
# refuse_open_port PORT  exits if a connection to 127.0.0.1:PORT succeeds.
# wait_port PORT         waits up to 10 s for 127.0.0.1:PORT to accept.
# go_build DIR PKG...    builds each main package (relative to DIR) into
#                        WORK, named after the package's last element.
# build_lb               puts lb in WORK/lb: a copy of LB_BIN when set, else
#                        built from ./examples/lb.
# make_cert KIND NAME    writes a self-signed certificate for
#                        bench.example.org (KIND ecdsa: P-256, rsa:
#                        RSA-2048) to WORK/NAME.crt, its key to WORK/NAME.key
#                        and both in one PEM, as haproxy's crt reads it, to
#                        WORK/NAME.pem.
# start_sink             starts bench/tcp/tcpload's sink (WORK/tcpload) on
#                        LOAD_CPU at SINK_PORT, adds it to PIDS, waits for it;
#                        with SINK_SPLICE=1 the sink splices what it receives
#                        into /dev/null instead of reading it; RSIZE sets
#                        the bytes per read(2) otherwise (default 262144).
# start_proxy NAME CFG   starts haproxy or lb (WORK/lb) on PROXY_CPU with the
#                        file CFG, logging to WORK/NAME.log; sets PROXY_PID
#                        and waits for FE_PORT. Exits if FE_PORT is already
#                        open before the start or the proxy dies at start.
# stop_proxy             stops PROXY_PID, empties it, lets the port settle.
# idle_rss NAME CFG TRIES CMD...
#                        starts proxy NAME on CFG and reads its resident
#                        memory (RSS0, KiB); runs CMD in the background (it
#                        opens IDLE_CONNS idle connections to the proxy and
#                        creates WORK/ready once all are open), waits up to
#                        TRIES tenths of a second for it, waits
#                        IDLE_SETTLE seconds (default 3), reads the memory
#                        again (RSS1) and sets RSS_PER to the KiB per
#                        connection; then stops CMD and the proxy. Before
#                        the settling wait it waits for the proxy's
#                        IDLE_SERVER_CONNS (default IDLE_CONNS; 0: none)
#                        connections to SINK_PORT to be open.
# server_conns_open PORT N TRIES
#                        waits up to TRIES tenths of a second for N
#                        established connections to 127.0.0.1:PORT (ss).
# cpu_ticks PID          prints PID's user+system CPU time in clock ticks.
# cpu_ns PID             prints the time PID's threads have run, in
#                        nanoseconds, from the scheduler (schedstat): exact
#                        where the ticks are sampled every 10 ms. Threads
#                        that have exited are not counted (Go's rarely exit).
# core_ticks CPUS        prints the clock ticks the cores CPUS (one, or a
#                        comma-separated list) have spent busy (all
#                        of /proc/stat's columns but idle and iowait): its
#                        processes, its interrupts and softirqs, and
#                        anything else that ran there.
# rss_kib PID            prints PID's resident memory in KiB.
# field NAME TEXT        prints the number in NAME=NUMBER within TEXT (the
#                        load tools' one-line reports).
# ratio A B              prints A / B with two decimals, or n/a when either
#                        is empty or B is 0.
# get ARRAY KEY          prints ARRAY[KEY] of an associative array, or
#                        nothing when unset.

bench_init() {
	WORK=$(mktemp -d)
	PIDS=()
	PROXY_PID=
	IDLER_PID=
	trap bench_cleanup EXIT
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]}" $PROXY_PID $IDLER_PID; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}

require_free_ports() {
	local port
	for port in "$@"; do
		if ! command -v ss >/dev/null; then
			echo "${0##*/}: ss (iproute2) is needed to check that port $port is free" >&2
			exit 1
		fi
		if [ -n "$(ss -ltnH "sport = :$port")" ]; then
			echo "${0##*/}: port $port is already listened on (ss -ltnp 'sport = :$port' tells by what);" \
				"stop it or set FE_PORT/SINK_PORT" >&2
			exit 1
		fi
	done
}

refuse_open_port() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		echo "port $1 is already in use: stop what listens there first" >&2
		exit 1
	fi
}

wait_port() {
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "port $1 never opened" >&2
	return 1
}

go_build() {
	(cd "$1" && go build -o "$WORK/" "${@:2}")
}

build_lb() {
	if [ -n "${LB_BIN:-}" ]; then
		cp "$LB_BIN" "$WORK/lb"
	else
		go_build "$ROOT" ./examples/lb
	fi
}

make_cert() {
	local newkey
	case $1 in
	ecdsa) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
	rsa) newkey=(-newkey rsa:2048) ;;
	esac
	openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=bench.example.org \
		-addext subjectAltName=DNS:bench.example.org \
		-keyout "$WORK/$2.key" -out "$WORK/$2.crt" 2>/dev/null
	cat "$WORK/$2.crt" "$WORK/$2.key" >"$WORK/$2.pem"
}

start_sink() {
	local flags=()
	[ "${SINK_SPLICE:-0}" = 1 ] && flags=(-splice)
	[ -n "${RSIZE:-}" ] && flags+=(-rsize "$RSIZE")
	[ "${SINK_SUM:-0}" = 1 ] && flags+=(-sum)
	taskset -c "$LOAD_CPU" "$WORK/tcpload" sink -listen "127.0.0.1:$SINK_PORT" "${flags[@]}" &
	PIDS+=($!)
	wait_port "$SINK_PORT"
}

start_proxy() {
	# haproxy binds with SO_REUSEPORT: a proxy left over from an earlier
	# run would silently share the port and falsify the figures.
	refuse_open_port "$FE_PORT"
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
	# Let the port leave its listening state before the next run.
	sleep 0.3
}

idle_rss() {
	local name=$1 cfg=$2 tries=$3
	shift 3
	start_proxy "$name" "$cfg"
	sleep 0.5
	RSS0=$(rss_kib "$PROXY_PID")
	rm -f "$WORK/ready"
	"$@" &
	IDLER_PID=$!
	for _ in $(seq 1 "$tries"); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
	[ -f "$WORK/ready" ] || { echo "idle connections never all opened" >&2; exit 1; }
	# The client's connections are open; the proxy's own to the sink may
	# still be on their way (a sink slow to accept drops SYNs, which come
	# again a second or more later). Read the proxy once it holds them all.
	if [ "${IDLE_SERVER_CONNS-$IDLE_CONNS}" -gt 0 ]; then
		server_conns_open "$SINK_PORT" "${IDLE_SERVER_CONNS-$IDLE_CONNS}" 300 ||
			echo "$name: not every server connection opened before the reading" >&2
	fi
	# An idle proxy is read once settled: lb gives back what the burst of
	# opening left behind about a second after the last accept.
	sleep "${IDLE_SETTLE:-3}"
	RSS1=$(rss_kib "$PROXY_PID")
	kill "$IDLER_PID"; wait "$IDLER_PID" 2>/dev/null || true
	IDLER_PID=
	stop_proxy
	# Read by the sourcing script.
	# shellcheck disable=SC2034
	RSS_PER=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$IDLE_CONNS" 'BEGIN {printf "%.2f", (b - a) / n}')
}

server_conns_open() {
	local port=$1 want=$2 tries=$3 n=0
	for _ in $(seq 1 "$tries"); do
		n=$(ss -Htn state established "dport = :$port" | wc -l)
		[ "$n" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{t += $1} END {printf "%d\n", t}'; }
core_ticks() {
	awk -v list=",$1," '$1 ~ /^cpu[0-9]+$/ && index(list, "," substr($1, 4) ",") {t += $2 + $3 + $4 + $7 + $8 + $9} END {print t + 0}' /proc/stat
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

field() { sed -E "s/.*$1=([0-9.]+).*/\\1/" <<<"$2"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
get() { local -n arr=$1; echo "${arr[$2]:-}"; }
