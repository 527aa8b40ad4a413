package buffer

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrPoolExhausted is returned by [Pool.Get] when the pool's cap on
// buffers in use is reached.
var ErrPoolExhausted = errors.New("buffer: pool exhausted")

// PoolConfig sets up a [Pool].
type PoolConfig struct {
	// Size is the size of every buffer (tune.bufsize); DefaultSize when 0.
	Size int
	// Reserve is the rewrite reserve of every buffer (tune.maxrewrite);
	// DefaultReserve when 0, clamped to half of Size. Use a negative value
	// for no reserve.
	Reserve int
	// Max caps the buffers in use at once; 0 means no cap.
	Max int
	// MaxIdle caps the buffers kept for reuse; beyond it, returned buffers
	// are left to the garbage collector. 0 means 1024.
	MaxIdle int
}

// PoolStats is a snapshot of a pool's counters.
type PoolStats struct {
	// InUse is the number of buffers handed out and not yet returned.
	InUse int
	// Idle is the number of buffers waiting in the pool for reuse.
	Idle int
	// Allocated counts buffers the pool ever allocated.
	Allocated uint64
	// Waiting is the number of callers blocked in GetWait.
	Waiting int
}

// Pool hands out buffers of one size, reusing returned ones. A warm pool
// neither allocates nor frees. It is safe for concurrent use.
type Pool struct {
	size, reserve, max, maxIdle int

	mu        sync.Mutex
	idle      []*Buffer
	inUse     int
	allocated uint64
	// waiters receive returned buffers in arrival order while the pool is
	// at its cap, as HAProxy's buffer wait queue does.
	waiters []chan *Buffer
}

// NewPool returns a pool configured by cfg.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Size < 0 || cfg.Max < 0 || cfg.MaxIdle < 0 {
		return nil, fmt.Errorf("buffer: bad pool config: size %d, max %d, max idle %d must not be negative", cfg.Size, cfg.Max, cfg.MaxIdle)
	}
	p := &Pool{size: cfg.Size, reserve: cfg.Reserve, max: cfg.Max, maxIdle: cfg.MaxIdle}
	if p.size == 0 {
		p.size = DefaultSize
	}
	switch {
	case p.reserve == 0:
		p.reserve = DefaultReserve
	case p.reserve < 0:
		p.reserve = 0
	}
	p.reserve = min(p.reserve, p.size/2)
	if p.maxIdle == 0 {
		p.maxIdle = 1024
	}
	return p, nil
}

var (
	defaultPoolOnce sync.Once
	defaultPool     *Pool
)

// DefaultPool returns a process-wide pool of DefaultSize buffers with no
// cap, for callers that do not manage their own.
func DefaultPool() *Pool {
	defaultPoolOnce.Do(func() {
		defaultPool, _ = NewPool(PoolConfig{})
	})
	return defaultPool
}

// BufSize is the size of the pool's buffers.
func (p *Pool) BufSize() int { return p.size }

// Get returns an empty buffer, or ErrPoolExhausted when the cap on buffers
// in use is reached.
func (p *Pool) Get() (*Buffer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max > 0 && p.inUse >= p.max {
		return nil, fmt.Errorf("%w: %d buffers of %d bytes in use", ErrPoolExhausted, p.inUse, p.size)
	}
	return p.takeLocked(), nil
}

func (p *Pool) takeLocked() *Buffer {
	p.inUse++
	if n := len(p.idle); n > 0 {
		b := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		b.free = false
		return b
	}
	p.allocated++
	return &Buffer{area: make([]byte, p.size), reserve: p.reserve, pool: p}
}

// Trim lets go of the idle buffers beyond keep, leaving them to the
// garbage collector, and returns how many it dropped. A burst of traffic
// leaves as many idle buffers as it had in flight at its peak; a caller
// that sees the burst over (HAProxy trims its pools when memory runs
// short) gives that memory back with Trim and a collection.
func (p *Pool) Trim(keep int) int {
	keep = max(keep, 0)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle) - keep
	if n <= 0 {
		return 0
	}
	clear(p.idle[keep:])
	p.idle = append([]*Buffer(nil), p.idle[:keep]...)
	return n
}

// GetWait returns an empty buffer, waiting for one to be returned while
// the pool is at its cap, until ctx is done.
func (p *Pool) GetWait(ctx context.Context) (*Buffer, error) {
	p.mu.Lock()
	if p.max == 0 || p.inUse < p.max {
		b := p.takeLocked()
		p.mu.Unlock()
		return b, nil
	}
	ch := make(chan *Buffer, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	select {
	case b := <-ch:
		return b, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	// A buffer handed over between the wake-up and the removal belongs to
	// this caller; give it back so it is not lost.
	select {
	case b := <-ch:
		p.Put(b)
	default:
	}
	return nil, fmt.Errorf("buffer: waiting for a buffer: %w", ctx.Err())
}

// Put returns b to the pool, emptied. Putting nil, a buffer of another
// pool, or a buffer already returned does nothing.
func (p *Pool) Put(b *Buffer) {
	if b == nil || b.pool != p {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.free {
		return
	}
	b.Reset()
	b.reserve = p.reserve
	if len(p.waiters) > 0 {
		// Hand over directly: the buffer stays in use.
		w := p.waiters[0]
		copy(p.waiters, p.waiters[1:])
		p.waiters[len(p.waiters)-1] = nil
		p.waiters = p.waiters[:len(p.waiters)-1]
		w <- b
		return
	}
	p.inUse--
	b.free = true
	if len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, b)
	}
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{InUse: p.inUse, Idle: len(p.idle), Allocated: p.allocated, Waiting: len(p.waiters)}
}
