// Package freq compares proxyblocks/freq's rate counters with
// golang.org/x/time/rate's token bucket and with a mutex-guarded counter
// running the same sliding-window algorithm, in one benchmark run.
//
// Run with:
//
//	cd bench && go test -run '^$' -bench . -benchmem ./freq/
package freq
