#!/usr/bin/env bash
# System calls a proxy makes per HTTP/1.1 request: strace -f -c on lb or
# haproxy (one thread) while h2load --h1 sends N keep-alive requests over
# 10 connections through it to bench/http/backend.
#
# Usage: bench/http/syscalls.sh lb|haproxy [requests, default 20000]
set -eu
WHO=${1:?lb or haproxy}
N=${2:-20000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$ROOT/bench/lib.sh"
bench_init
BE=127.0.0.1:18820 FE=127.0.0.1:18821
for t in strace h2load; do command -v "$t" >/dev/null || { echo "missing $t" >&2; exit 1; }; done
go_build "$ROOT/bench" ./http/backend
cat > "$WORK/p.cfg" <<CFG
global
$( [ "$WHO" = haproxy ] && echo "    nbthread 1" )
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend f
    bind $FE
    default_backend be
backend be
    http-reuse always
    server s1 $BE
CFG
case $WHO in
lb) go_build "$ROOT" ./examples/lb; CMD=("$WORK/lb" -f "$WORK/p.cfg") ;;
haproxy) CMD=(haproxy -db -f "$WORK/p.cfg") ;;
*) echo "lb or haproxy" >&2; exit 2 ;;
esac
"$WORK/backend" -addr $BE -name s1 & BPID=$!
GOMAXPROCS=1 strace -f -c -o "$WORK/strace.out" "${CMD[@]}" & SPID=$!
sleep 1.5
h2load --h1 -n "$N" -c 10 -t 1 "http://$FE/" | grep -E "^finished|^requests:"
# shellcheck disable=SC2046 # one pid or more, each its own word
kill $(pgrep -P $SPID); sleep 1; kill $BPID; wait 2>/dev/null || true
awk -v n="$N" 'NR > 2 && $NF != "total" && NF >= 5 && $4 ~ /^[0-9]+$/ {
	err = (NF == 6) ? $5 : 0; printf "%-14s %8d calls %8d errors %6.2f per request\n", $NF, $4, err, $4 / n }' "$WORK/strace.out" |
	sort -k2 -n -r | sed -n 1,8p
