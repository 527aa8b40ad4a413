package balancer

import "sync/atomic"

// maxIdleWorkers bounds the goroutines kept waiting for a session.
const maxIdleWorkers = 8

// maxIdleStreamWorkers bounds the goroutines kept waiting for an HTTP/2
// stream, and streamWorkersKeep is how many of them stay once the
// trimmer's period passed (trim.go): a client multiplexes tens of
// streams at once, each on a worker, and finished ones wait for the next
// streams of the burst rather than leave, but not for long.
const (
	maxIdleStreamWorkers = 128
	streamWorkersKeep    = maxIdleWorkers
)

// workers keeps goroutines that ran a session, or a tunnel's direction,
// for the next one. A new goroutine starts on a 2 KiB stack, which a
// session grows twice before it reaches a server (the handshake phase,
// then the dial) and a tunnel's end grows again, the runtime copying the
// stack each time; a goroutine that did this work before already has the
// stack it takes. At most max wait, so an idle balancer keeps a few
// small stacks and no more; Close ends them.
type workers struct {
	next chan func() // unbuffered: a send succeeds only if one waits
	// leave dismisses a waiting worker (dismiss).
	leave chan struct{}
	idle  atomic.Int32
	max   int32
	goFn  func(func()) // Balancer.spawn, as a tunnel's TunnelConfig.Go
}

func newWorkers(max int32) workers {
	return workers{next: make(chan func()), leave: make(chan struct{}), max: max}
}

// spawn runs f on a waiting session worker, or on a new goroutine.
func (b *Balancer) spawn(f func()) { b.workers.spawn(b, f) }

// spawnStream runs f, an HTTP/2 stream's exchange, on a waiting stream
// worker, or on a new goroutine. Over HTTP/2 each request is a stream of
// its own; on new goroutines the runtime grew and copied the stack of
// every one (runtime.newstack and copystack took some 15 % of lb's CPU
// serving cache hits to h2load).
func (b *Balancer) spawnStream(f func()) { b.streamWorkers.spawn(b, f) }

func (w *workers) spawn(b *Balancer, f func()) {
	select {
	case w.next <- f:
		return
	default:
	}
	b.wg.Add(1)
	go w.work(b, f)
}

// work runs f, then what comes next, until nothing comes while enough
// other workers wait, the worker is dismissed, or the balancer closes.
func (w *workers) work(b *Balancer, f func()) {
	defer b.wg.Done()
	for {
		f()
		f = nil // nothing of the last function stays reachable
		if w.idle.Add(1) > w.max {
			w.idle.Add(-1)
			return
		}
		select {
		case f = <-w.next:
			w.idle.Add(-1)
		case <-w.leave:
			w.idle.Add(-1)
			return
		case <-b.ctx.Done():
			w.idle.Add(-1)
			return
		}
	}
}

// dismiss sends away the waiting workers beyond keep.
func (w *workers) dismiss(keep int32) {
	// Counted once: a dismissed worker leaves the count a moment after
	// it took the word.
	for n := w.idle.Load() - keep; n > 0; n-- {
		select {
		case w.leave <- struct{}{}:
		default:
			return
		}
	}
}
