package balancer

import (
	"runtime/debug"
	"time"
)

// trimEvery is how often the balancer looks whether a burst of new
// connections is over; a variable so that tests may shorten it.
var trimEvery = time.Second

// trimGap is the least number of trimEvery periods between two trims:
// each runs a full collection, whose cost grows with the live heap, and
// a balancer whose few clients come and go every few seconds (a monitor
// polling over a kept-alive connection, say) would otherwise bring one
// each time. A variable so that tests may change it.
var trimGap = 30

// trimKeep is how many idle buffers the pool keeps when it is trimmed:
// enough for the next connections' first bytes.
const trimKeep = 64

// trimmer gives memory back once a burst of new connections is over: a
// whole period without an accept, and with every session settled, after
// one with some. A burst leaves the buffer pool as many idle buffers as
// it had in flight at its peak, and the collector's heap grown to twice
// what was live at its last cycle, on top of which the connections that
// stay now sit idle. The pool is trimmed to trimKeep and
// debug.FreeOSMemory runs one collection and returns the free pages, so
// that what an idle balancer holds is what its connections need. HTTP/1
// clients going idle count as new connections: each hand-off lets a
// goroutine go with the stack its requests grew, so clients that
// connected long before and all went idle since are trimmed after too.
// A balancer that keeps accepting never trims, and one that does so in
// bursts trims once after each, at most once every trimGap periods.
func (b *Balancer) trimmer() {
	defer b.wg.Done()
	t := time.NewTicker(trimEvery)
	defer t.Stop()
	// The counters start at zero, and this goroutine may start after the
	// first accepts: those count as a burst too.
	var last uint64
	dirty := false
	wait := 0 // periods before the next trim may run
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		// Stream workers beyond a few leave once a period: they wait
		// for the rest of a burst of streams, not for the next burst.
		b.streamWorkers.dismiss(streamWorkersKeep)
		if wait > 0 {
			wait--
		}
		// Sessions still setting up count as the burst: the goroutines
		// dialing a slow server free their stacks only when they settle,
		// and memory freed after the trim would stay with the process.
		n := b.accepts.Load() + b.httpHandOffs.Load()
		if n != last || b.starting.Load() > 0 {
			last, dirty = n, true
			continue
		}
		if !dirty || wait > 0 {
			continue
		}
		dirty, wait = false, trimGap
		b.pool.Trim(trimKeep)
		debug.FreeOSMemory()
		b.trims.Add(1)
	}
}
