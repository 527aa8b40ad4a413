package balancer

import (
	"sync/atomic"
	"time"
)

// timeSamples is the width of the sliding window the time averages are
// kept over, HAProxy's TIME_STATS_SAMPLES.
const timeSamples = 512

// timeStats keeps a backend's or a server's average times, in
// milliseconds, as HAProxy keeps them: each sum decays by a
// 1/timeSamples share per new sample once the window is full, and grows
// without decay before, so the average reads exact while few samples
// exist. The maximums are the largest single samples. Both arrays go in
// the columns' order: queue (Tw), connect (Tc), response head (Tr; 0 in
// TCP mode) and total (Tt).
type timeStats struct {
	sum [4]atomic.Uint64
	max [4]atomic.Uint32
}

// add records one sample of each time; count is how many samples the
// owner has had so far, this one included (its requests in HTTP mode,
// its balanced connections in TCP mode), which selects the window.
func (ts *timeStats) add(count uint64, v [4]time.Duration) {
	var n uint64
	if count > timeSamples {
		n = timeSamples
	}
	for i, d := range v {
		ms := uint64(max(d.Milliseconds(), 0))
		swrateAdd(&ts.sum[i], n, ms)
		maxU32(&ts.max[i], uint32(min(ms, 1<<32-1)))
	}
}

// avg is the average of one time given the owner's sample count.
func (ts *timeStats) avg(i int, count uint64) uint64 {
	n := uint64(timeSamples)
	if count > 0 && count < timeSamples {
		n = count
	}
	return (ts.sum[i].Load() + n - 1) / n
}

// swrateAdd adds v to a sliding sum over n samples (n 0: no decay), as
// HAProxy's swrate_add_dynamic.
func swrateAdd(sum *atomic.Uint64, n, v uint64) {
	for {
		old := sum.Load()
		next := old + v
		if n > 0 {
			next = old - (old+n-1)/n + v
		}
		if sum.CompareAndSwap(old, next) {
			return
		}
	}
}

// countTimes adds a finished session's or request's times to its
// backend and server, in the columns' order; the caller leaves out those
// that reached no server, and (HTTP) those that had no response head.
func countTimes(be *Backend, srv *Server, v [4]time.Duration) {
	httpMode := be.cfg.Mode == "http"
	if srv != nil {
		srv.st.times.add(srv.st.samples(httpMode, true), v)
	}
	be.st.times.add(be.st.samples(httpMode, false), v)
}

// samples is the count the time averages divide by, as HAProxy's
// cum_req and cum_lbconn: in HTTP mode the requests (for a server, the
// responses it gave), in TCP mode the balanced connections.
func (c *counters) samples(httpMode, server bool) uint64 {
	switch {
	case !httpMode:
		return c.lbtot.Load()
	case server:
		return c.reqTot.Load()
	}
	return c.cum.Load()
}

// setTimes sets a backend's or a server's time columns.
func (r statRow) setTimes(c *counters, httpMode, server bool) {
	n := c.samples(httpMode, server)
	for i, name := range [...]string{"qtime", "ctime", "rtime", "ttime"} {
		r.setU(name, c.times.avg(i, n))
	}
	for i, name := range [...]string{"qtime_max", "ctime_max", "rtime_max", "ttime_max"} {
		r.setU(name, uint64(c.times.max[i].Load()))
	}
}
