#!/usr/bin/env bash
# HTTP benchmark: lb beside haproxy and httputil.ReverseProxy, in front of
# the same Go server, in one run.
#
#   HTTP/1.1 keep-alive: wrk, requests per second and p99 latency
#   HTTP/2 (prior knowledge, client side): h2load, requests per second
#
# Each proxy is pinned to CPU 0 (taskset) and runs one thread (lb with
# GOMAXPROCS=1, haproxy with nbthread 1); the server and the load
# generator share CPU 1. Figures are printed as a markdown table with
# ratios to haproxy and to httputil, and the CPU time each proxy spent
# per 1000 requests (user+system, from /proc): with the server and the
# load generator sharing one core, the rates of lb and haproxy often
# meet at what that core allows, and the CPU cost tells them apart.
#
# With CACHE=1 both balancers keep the server's answer in a cache section
# (http-request cache-use, http-response cache-store) and serve it again:
# the figures are then those of cache hits.
#
# With SPOE=1 both balancers ask a SPOE agent (bench/http/spoa, beside the
# server on CPU 1) about each request before passing it on (filter spoe,
# http-request send-spoe-group, a deny on the variable it sets): the
# figures are then those of an offloaded decision per request.
#
# Usage: [CACHE=1] [SPOE=1] bench/http/run.sh [seconds per run, default 5]
set -eu
DUR=${1:-5}
CACHE=${CACHE:-0}
SPOE=${SPOE:-0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
bench_init
# bench_init cleans up on EXIT; an interrupt only has to end the script.
trap 'exit 130' INT TERM

for t in wrk h2load haproxy taskset; do
	command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }
done
go_build "$ROOT" ./examples/lb
go_build "$ROOT/bench" ./http/backend ./http/rproxy ./http/spoa

BE=127.0.0.1:18800
LB1=127.0.0.1:18801 LB2=127.0.0.1:18802
HP1=127.0.0.1:18803 HP2=127.0.0.1:18804
RP=127.0.0.1:18805
AG=127.0.0.1:18806

cat > "$WORK/spoe.conf" <<SPOE
[e]
spoe-agent a
    groups g
    timeout hello 2s
    timeout idle 2m
    timeout processing 1s
    use-backend agents
spoe-message check
    args ip=src path=path
spoe-group g
    messages check
SPOE
# spoe prints the lines a section needs for SPOE=1: $1 "fe" or "be".
spoe() {
	[ "$SPOE" = 1 ] || return 0
	case $1 in
	fe) printf '    filter spoe engine e config %s\n    http-request send-spoe-group e g\n    http-request deny if { var(sess.a.score) -m int lt 20 }\n' "$WORK/spoe.conf" ;;
	be) printf 'backend agents\n    mode tcp\n    server a %s\n' "$AG" ;;
	esac
}

cfg() { # $1 = 1 for haproxy (nbthread), $2 h1 port, $3 h2 port
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
frontend h1
    bind $2
$(spoe fe)
    default_backend be
frontend h2
    bind $3 proto h2
$(spoe fe)
    default_backend be
$(spoe be)
backend be
    http-reuse always
$( [ "$CACHE" = 1 ] && printf '    http-request cache-use c\n    http-response set-header cache-control max-age=60\n    http-response cache-store c\n' )
    server s1 $BE
CFG
}
cfg 0 $LB1 $LB2 > "$WORK/lb.cfg"
cfg 1 $HP1 $HP2 > "$WORK/haproxy.cfg"

taskset -c 1 "$WORK/backend" -addr $BE -name s1 & PIDS+=($!)
taskset -c 1 "$WORK/spoa" -addr $AG & PIDS+=($!)
GOMAXPROCS=1 taskset -c 0 "$WORK/lb" -f "$WORK/lb.cfg" & PIDS+=($!); LBPID=$!
taskset -c 0 haproxy -db -f "$WORK/haproxy.cfg" & PIDS+=($!); HPPID=$!
GOMAXPROCS=1 taskset -c 0 "$WORK/rproxy" -addr $RP -target http://$BE & PIDS+=($!); RPPID=$!
sleep 1

# perk prints CPU milliseconds per 1000 requests: ticks, rate, seconds.
perk() { awk -v t="$1" -v r="$2" -v d="$DUR" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (r > 0) printf "%.1f", t * 1000 / hz * 1000 / (r * d); else print "-" }'; }

# wrk prints "Requests/sec: N" and, with --latency, "99% Xms". $2 is
# the proxy's pid, whose CPU time over the run is measured.
runwrk() {
	c0=$( [ -n "${2:-}" ] && cpu_ticks "$2" || echo 0 )
	out=$(taskset -c 1 wrk -t1 -c50 -d"${DUR}s" --latency "http://$1/" 2>&1)
	c1=$( [ -n "${2:-}" ] && cpu_ticks "$2" || echo 0 )
	rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%d", $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	echo "$rps $p99 $(perk $((c1 - c0)) "$rps")"
}
runh2() {
	c0=$(cpu_ticks "$2")
	out=$(taskset -c 1 h2load -D "$DUR" -c 10 -m 10 -t 1 "http://$1/" 2>&1)
	c1=$(cpu_ticks "$2")
	rps=$(echo "$out" | awk '/^finished in/ {gsub(",","",$4); printf "%d", $4}')
	echo "$rps $(perk $((c1 - c0)) "$rps")"
}

for a in $BE $LB1 $HP1 $RP; do taskset -c 1 wrk -t1 -c10 -d1s "http://$a/" >/dev/null; done # warm up
# Each run prints its figures as words, which set -- splits into $1, $2, ...
# shellcheck disable=SC2046
{
	set -- $(runwrk $BE); BE_RPS=$1 BE_P99=$2
	set -- $(runwrk $LB1 $LBPID); LB_RPS=$1 LB_P99=$2 LB_CPU=$3
	set -- $(runwrk $HP1 $HPPID); HP_RPS=$1 HP_P99=$2 HP_CPU=$3
	set -- $(runwrk $RP $RPPID); RP_RPS=$1 RP_P99=$2 RP_CPU=$3
	set -- $(runh2 $LB2 $LBPID); LB_H2=$1 LB_H2CPU=$2
	set -- $(runh2 $HP2 $HPPID); HP_H2=$1 HP_H2CPU=$2
}

# Unlike lib.sh's ratio, "-" where there is no figure, as in results/http.md.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo "| path | req/s | p99 | lb / this | proxy CPU ms per 1k req |"
echo "|---|---|---|---|---|"
echo "| HTTP/1.1 server alone (wrk -c50) | $BE_RPS | $BE_P99 | $(ratio "$LB_RPS" "$BE_RPS") | - |"
echo "| HTTP/1.1 through lb | $LB_RPS | $LB_P99 | 1.00 | $LB_CPU |"
echo "| HTTP/1.1 through haproxy 2.6 | $HP_RPS | $HP_P99 | $(ratio "$LB_RPS" "$HP_RPS") | $HP_CPU |"
echo "| HTTP/1.1 through httputil.ReverseProxy | $RP_RPS | $RP_P99 | $(ratio "$LB_RPS" "$RP_RPS") | $RP_CPU |"
echo "| HTTP/2 client (h2load -c10 -m10) through lb | $LB_H2 | - | 1.00 | $LB_H2CPU |"
echo "| HTTP/2 client through haproxy 2.6 | $HP_H2 | - | $(ratio "$LB_H2" "$HP_H2") | $HP_H2CPU |"
