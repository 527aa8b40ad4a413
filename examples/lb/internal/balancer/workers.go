package balancer

import "sync/atomic"

// maxIdleWorkers bounds the goroutines kept waiting for work.
const maxIdleWorkers = 8

// workers keeps goroutines that ran a session, or a tunnel's direction,
// for the next one. A new goroutine starts on a 2 KiB stack, which a
// session grows twice before it reaches a server (the handshake phase,
// then the dial) and a tunnel's end grows again, the runtime copying the
// stack each time; a goroutine that did this work before already has the
// stack it takes. At most maxIdleWorkers wait, so an idle balancer keeps
// a few small stacks and no more; Close ends them.
type workers struct {
	next chan func() // unbuffered: a send succeeds only if one waits
	idle atomic.Int32
	goFn func(func()) // Balancer.spawn, as a tunnel's TunnelConfig.Go
}

// spawn runs f on a waiting worker, or on a new goroutine.
func (b *Balancer) spawn(f func()) {
	select {
	case b.workers.next <- f:
		return
	default:
	}
	b.wg.Add(1)
	go b.work(f)
}

// work runs f, then what comes next, until nothing comes while enough
// other workers wait, or the balancer closes.
func (b *Balancer) work(f func()) {
	defer b.wg.Done()
	w := &b.workers
	for {
		f()
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case f = <-w.next:
			w.idle.Add(-1)
		case <-b.ctx.Done():
			w.idle.Add(-1)
			return
		}
	}
}
