#!/usr/bin/env bash
# CPU per HTTP/2 request of several lb binaries (and haproxy), alternated:
# every round runs each binary in turn under the same h2load load
# (-c10 -m10, prior knowledge), so that a machine busy with other work
# weighs on all of them alike. For each run it prints the requests per
# second, the proxy's CPU milliseconds per 1000 requests (the time its
# threads ran, from schedstat) and its read(2) and write(2) calls per
# request (/proc/PID/io; haproxy's recv and send are not counted there);
# then each binary's median and range over the rounds.
#
# The proxy is pinned to CPU 0 (lb with GOMAXPROCS=1, haproxy with
# nbthread 1); bench/http/backend and h2load share CPU 1. With CACHE=1
# (the default) a cache section answers every request after the first,
# as with CACHE=1 bench/http/run.sh: what is measured is the proxy alone.
#
# Usage: [CACHE=0] bench/http/abcpu.sh SECONDS ROUNDS BIN...
# (a BIN named haproxy runs haproxy from PATH)
set -eu
DUR=${1:?seconds per run}
ROUNDS=${2:?rounds}
shift 2
[ $# -gt 0 ] || { echo "no binary to measure" >&2; exit 2; }
CACHE=${CACHE:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
bench_init
trap 'exit 130' INT TERM
for t in h2load taskset; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
go_build "$ROOT/bench" ./http/backend

BE=127.0.0.1:18810 FE=127.0.0.1:18811
cfg() { # $1 = 1 for haproxy (nbthread)
	cat <<CFG
global
    maxconn 4000
$( [ "$1" = 1 ] && echo "    nbthread 1" )
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
$( [ "$CACHE" = 1 ] && printf 'cache c\n    total-max-size 16\n' )
frontend h2
    bind $FE proto h2
    default_backend be
backend be
    http-reuse always
$( [ "$CACHE" = 1 ] && printf '    http-request cache-use c\n    http-response set-header cache-control max-age=60\n    http-response cache-store c\n' )
    server s1 $BE
CFG
}
cfg 0 > "$WORK/lb.cfg"
cfg 1 > "$WORK/haproxy.cfg"

taskset -c 1 "$WORK/backend" -addr $BE -name s1 & PIDS+=($!)
sleep 0.3

calls() { awk '/^syscr/ {r = $2} /^syscw/ {w = $2} END {print r + 0, w + 0}' "/proc/$1/io"; }

for r in $(seq 1 "$ROUNDS"); do
	for b in "$@"; do
		if [ "$b" = haproxy ]; then
			taskset -c 0 haproxy -db -f "$WORK/haproxy.cfg" & PROXY_PID=$!
		else
			GOMAXPROCS=1 taskset -c 0 "$b" -f "$WORK/lb.cfg" & PROXY_PID=$!
		fi
		wait_port "${FE##*:}"
		taskset -c 1 h2load -n 2000 -c 10 -m 10 -t 1 "http://$FE/" >/dev/null # warm up
		c0=$(cpu_ns "$PROXY_PID")
		read -r r0 w0 < <(calls "$PROXY_PID")
		out=$(taskset -c 1 h2load -D "$DUR" -c 10 -m 10 -t 1 "http://$FE/" 2>&1)
		c1=$(cpu_ns "$PROXY_PID")
		read -r r1 w1 < <(calls "$PROXY_PID")
		stop_proxy
		n=$(echo "$out" | awk '/^requests:/ {print $4}')
		rps=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); printf "%d", $4}')
		awk -v r="$r" -v b="${b##*/}" -v n="${n:-0}" -v rps="${rps:-0}" -v c=$((c1 - c0)) -v rd=$((r1 - r0)) -v wr=$((w1 - w0)) 'BEGIN {
			if (n == 0) { printf "round %d %-12s failed\n", r, b; exit }
			printf "round %d %-12s req/s %7d  cpu-ms/1k %6.2f  reads/req %.3f  writes/req %.3f\n", r, b, rps, c / 1e6 * 1000 / n, rd / n, wr / n }' |
			tee -a "$WORK/runs"
	done
done
echo
for b in "$@"; do
	awk -v b="${b##*/}" '$3 == b && $6 == "cpu-ms/1k" {print $7}' "$WORK/runs" | sort -n |
		awk -v b="${b##*/}" '{a[NR] = $1} END {
			if (NR == 0) exit
			m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			printf "%-12s cpu-ms/1k median %.2f, range %.2f-%.2f over %d rounds\n", b, m, a[1], a[NR], NR }'
done
