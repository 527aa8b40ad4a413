package freq

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock gives the current date in milliseconds as a wrapping uint32 tick.
//
// Counters only ever compare two dates by subtraction, so the origin of the
// tick does not matter and wrapping every 49.7 days is harmless, as long as
// a counter is not left idle for more than about 24 days (2^31 ms) and then
// read before it is written again.
type Clock interface {
	// NowMs returns the current date in milliseconds.
	NowMs() uint32
}

// SystemClock is the default clock: monotonic milliseconds since the
// package was initialised. It reads only the monotonic clock (one vDSO
// call, no wall-clock read and no allocation), so it is unaffected by
// wall-clock steps. It may return 0.
var SystemClock Clock = systemClock{}

// processStart carries a monotonic reading, which makes time.Since read
// only the monotonic clock.
var processStart = time.Now()

type systemClock struct{}

// NowMs returns the milliseconds elapsed since the package was initialised,
// truncated to 32 bits.
func (systemClock) NowMs() uint32 {
	return uint32(time.Since(processStart) / time.Millisecond)
}

// nowMs is the system clock without the interface call, for the counters
// bound to SystemClock.
func nowMs() uint32 {
	return uint32(time.Since(processStart) / time.Millisecond)
}

// FakeClock is a Clock that only moves when told to, for deterministic
// tests. It is safe for concurrent use; the zero value reads 0.
type FakeClock struct {
	ms atomic.Uint32
}

// NewFakeClock returns a FakeClock reading ms.
func NewFakeClock(ms uint32) *FakeClock {
	c := &FakeClock{}
	c.ms.Store(ms)
	return c
}

// NowMs returns the date the clock was last set or advanced to.
func (c *FakeClock) NowMs() uint32 { return c.ms.Load() }

// Set moves the clock to ms, forwards or backwards.
func (c *FakeClock) Set(ms uint32) { c.ms.Store(ms) }

// Advance moves the clock ms milliseconds forwards, wrapping at 2^32.
func (c *FakeClock) Advance(ms uint32) { c.ms.Add(ms) }

// cellClock is a Clock whose date is one atomic word in memory, which
// counters load directly instead of making an interface call.
type cellClock interface {
	Clock
	cell() *atomic.Uint32
}

func (c *FakeClock) cell() *atomic.Uint32 { return &c.ms }

// CoarseClock is a Clock read from memory: a goroutine refreshes it from
// the monotonic clock at a fixed resolution, so reading it costs one
// atomic load instead of a clock read (tens of nanoseconds on virtual
// machines). It is HAProxy's now_ms: a date cached once per loop. Its
// dates are those of SystemClock, at most one resolution late.
//
// The refreshing goroutine runs until Close.
type CoarseClock struct {
	ms   atomic.Uint32
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewCoarseClock starts a CoarseClock refreshed every resolution, which
// is raised to a millisecond if below; Close stops it.
func NewCoarseClock(resolution time.Duration) *CoarseClock {
	resolution = max(resolution, time.Millisecond)
	c := &CoarseClock{stop: make(chan struct{}), done: make(chan struct{})}
	c.ms.Store(nowMs())
	go c.run(resolution)
	return c
}

func (c *CoarseClock) run(resolution time.Duration) {
	defer close(c.done)
	t := time.NewTicker(resolution)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.ms.Store(nowMs())
		case <-c.stop:
			return
		}
	}
}

// NowMs returns the date of the last refresh.
func (c *CoarseClock) NowMs() uint32 { return c.ms.Load() }

func (c *CoarseClock) cell() *atomic.Uint32 { return &c.ms }

// Close stops the refreshing goroutine and waits for it to exit; the clock
// then stays at its last date. It is safe to call more than once.
func (c *CoarseClock) Close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

// CachedClock is a Clock for hot paths that read the date on every
// operation, in processes that are often idle. It reads the monotonic
// clock, as SystemClock does, until it is read several times within one
// millisecond; it then caches the date in memory, refreshed every
// millisecond by a goroutine, and a read costs one load. The goroutine
// stops when about 64 ms pass with no read, so an idle process has
// nothing ticking, and the next busy spell starts it again.
//
// While cached, dates are those of SystemClock at most one refresh late:
// about a millisecond, more when every processor is busy and the
// refreshing goroutine waits for its turn. This is HAProxy's now_ms, a
// date taken once per loop. Close stops the goroutine for good; the clock
// then reads the monotonic clock on every call. The zero value is ready to
// use.
type CachedClock struct {
	// word holds the cached date in its high half and the flags
	// cachedOn and cachedAlive in its low one, so that a read is one
	// load. A plain word read with sync/atomic keeps NowMs small enough
	// to be inlined; the empty array gives it atomic.Uint64's alignment.
	_    [0]atomic.Uint64
	word uint64

	// slowMs and slowN count the uncached reads of the current
	// millisecond, to tell a busy spell.
	slowMs atomic.Uint32
	slowN  atomic.Uint32

	mu     sync.Mutex // guards stop and closed; held to start or stop
	stop   chan struct{}
	closed bool
	wg     sync.WaitGroup
}

const (
	// cachedOn is set while the high half of the word is the date to
	// serve. The refresher clears it every cachedLookTicks; the next read
	// sets it again, which tells the refresher that the clock is in use.
	cachedOn = 1 << 0
	// cachedAlive is set while the refresher runs.
	cachedAlive = 1 << 1
	cachedFlags = cachedOn | cachedAlive

	// cachedStartReads uncached reads within one millisecond start the
	// refresher.
	cachedStartReads = 8
	// cachedLookTicks is how many refreshes pass between two looks at
	// whether the clock was read.
	cachedLookTicks = 64
)

// NewCachedClock returns a CachedClock; its refresher starts on the first
// busy spell.
func NewCachedClock() *CachedClock { return &CachedClock{} }

// NowMs returns the cached date while the refresher runs, and otherwise
// reads the monotonic clock.
func (c *CachedClock) NowMs() uint32 {
	if w := atomic.LoadUint64(&c.word); w&cachedOn != 0 {
		return uint32(w >> 32)
	}
	return c.slow()
}

// slow is NowMs off its fast path. It reads the monotonic clock. If the
// refresher runs (this is the first read after one of its looks), the
// read caches its date and serves the cached one again; otherwise it
// starts the refresher when reads come thick enough.
func (c *CachedClock) slow() uint32 {
	now := nowMs()
	for {
		w := atomic.LoadUint64(&c.word)
		if w&cachedAlive == 0 {
			break
		}
		if atomic.CompareAndSwapUint64(&c.word, w, later(w, now)|cachedFlags) {
			return now
		}
	}
	if c.slowMs.Load() != now {
		c.slowMs.Store(now)
		c.slowN.Store(1)
		return now
	}
	if c.slowN.Add(1) >= cachedStartReads {
		c.start()
	}
	return now
}

// later returns the date word's high half holding the later of w's date
// and now, with no flags: the cached date never goes back, so a read
// never returns a date earlier than one returned before it.
func later(w uint64, now uint32) uint64 {
	if int32(now-uint32(w>>32)) < 0 {
		return w &^ (1<<32 - 1)
	}
	return uint64(now) << 32
}

func (c *CachedClock) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if atomic.LoadUint64(&c.word)&cachedAlive != 0 || c.closed {
		return
	}
	atomic.StoreUint64(&c.word, uint64(nowMs())<<32|cachedFlags)
	c.stop = make(chan struct{})
	c.wg.Add(1)
	go c.run(c.stop)
}

func (c *CachedClock) run(stop chan struct{}) {
	defer c.wg.Done()
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		// Readers may set cachedOn meanwhile: keep the flags.
		now := nowMs()
		var w uint64
		for {
			w = atomic.LoadUint64(&c.word)
			if atomic.CompareAndSwapUint64(&c.word, w, later(w, now)|w&cachedFlags) {
				break
			}
		}
		if n%cachedLookTicks != 0 {
			continue
		}
		if w&cachedOn != 0 {
			// In use: serve on after one read proves it still is.
			atomic.AndUint64(&c.word, ^uint64(cachedOn))
			continue
		}
		c.mu.Lock()
		// Close may have stopped this run already.
		if c.stop == stop {
			atomic.AndUint64(&c.word, ^uint64(cachedFlags))
			c.stop = nil
		}
		c.mu.Unlock()
		return
	}
}

// Cached reports whether the clock is in a busy spell: its refresher runs
// and reads are served from memory (the first read after each of the
// refresher's looks excepted).
func (c *CachedClock) Cached() bool { return atomic.LoadUint64(&c.word)&cachedAlive != 0 }

// Close stops the refresher, if it runs, and waits for it to exit; later
// reads take the monotonic clock. It is safe to call more than once.
func (c *CachedClock) Close() error {
	c.mu.Lock()
	c.closed = true
	atomic.AndUint64(&c.word, ^uint64(cachedFlags))
	if c.stop != nil {
		close(c.stop)
		c.stop = nil
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}
