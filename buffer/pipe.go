package buffer

import (
	"errors"
	"fmt"
	"sync"
)

// ErrPipeLimit is returned by [PipePool.Get] when the cap on pipes in use
// (maxpipes) is reached; the caller is expected to fall back to a buffer.
var ErrPipeLimit = errors.New("buffer: pipe limit reached")

// ErrPoolClosed is returned by [PipePool.Get] after [PipePool.Close].
var ErrPoolClosed = errors.New("buffer: pipe pool closed")

// Pipe is a non-blocking, close-on-exec kernel pipe used to move bytes
// between two sockets with splice(2), counting the bytes inside so a
// non-empty pipe is never reused.
//
// A Pipe is not safe for concurrent use.
type Pipe struct {
	rfd, wfd int
	data     int
	capacity int
	pool     *PipePool
	free     bool
	closed   bool
}

// NewPipe creates an unpooled pipe and asks the kernel for a capacity of
// size bytes (tune.pipesize) when size is positive. The kernel rounds the
// size up to a power of two pages, and may refuse sizes above
// /proc/sys/fs/pipe-max-size for unprivileged processes; then the pipe
// keeps its default size, as HAProxy does.
//
// Kernel pipes that splice(2) can use exist on Linux only; elsewhere
// NewPipe returns an error that wraps [errors.ErrUnsupported], and
// callers move bytes through buffers instead.
func NewPipe(size int) (*Pipe, error) {
	rfd, wfd, err := sysPipe(size)
	if err != nil {
		return nil, fmt.Errorf("buffer: creating a pipe: %w", err)
	}
	p := &Pipe{rfd: rfd, wfd: wfd}
	c, err := p.Size()
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	p.capacity = c
	return p, nil
}

// Len is the number of bytes in the pipe.
func (p *Pipe) Len() int { return p.data }

// Cap is the pipe's capacity as the kernel reported it at creation.
func (p *Pipe) Cap() int { return p.capacity }

// ReadFD is the pipe's read end.
func (p *Pipe) ReadFD() int { return p.rfd }

// WriteFD is the pipe's write end.
func (p *Pipe) WriteFD() int { return p.wfd }

// Size asks the kernel for the pipe's capacity (F_GETPIPE_SZ).
func (p *Pipe) Size() (int, error) {
	n, err := sysPipeSize(p.wfd)
	if err != nil {
		return 0, fmt.Errorf("buffer: reading pipe size: %w", err)
	}
	return n, nil
}

// SpliceFrom moves up to n bytes from the file descriptor fd (a socket)
// into the pipe with one splice(2). It returns 0 and no error when fd
// reached end of file, and unix.EAGAIN unwrapped when fd has nothing to
// read (or the pipe is full), so callers can wait for readiness.
func (p *Pipe) SpliceFrom(fd, n int) (int, error) {
	m, err := sysSplice(fd, p.wfd, n)
	if m > 0 {
		p.data += m
	}
	return m, err
}

// SpliceTo moves up to n bytes from the pipe to the file descriptor fd (a
// socket) with one splice(2). It returns unix.EAGAIN unwrapped when fd
// cannot take more.
func (p *Pipe) SpliceTo(fd, n int) (int, error) {
	m, err := sysSplice(p.rfd, fd, min(n, p.data))
	if m > 0 {
		p.data -= m
	}
	return m, err
}

// Write puts b into the pipe without blocking. It returns unix.EAGAIN when
// the pipe is full.
func (p *Pipe) Write(b []byte) (int, error) {
	n, err := sysWrite(p.wfd, b)
	if n > 0 {
		p.data += n
	}
	return max(n, 0), err
}

// Read takes bytes out of the pipe without blocking. It returns
// unix.EAGAIN when the pipe is empty.
func (p *Pipe) Read(b []byte) (int, error) {
	n, err := sysRead(p.rfd, b)
	if n > 0 {
		p.data -= n
	}
	return max(n, 0), err
}

// Close closes both ends. It is safe to call twice.
func (p *Pipe) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	err1 := sysClose(p.rfd)
	err2 := sysClose(p.wfd)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("buffer: closing pipe: %w", err)
	}
	return nil
}

// Release gives a pooled pipe back to its pool, and closes an unpooled one.
func (p *Pipe) Release() {
	if p.pool != nil {
		p.pool.Put(p)
		return
	}
	_ = p.Close()
}

// PipePoolConfig sets up a [PipePool].
type PipePoolConfig struct {
	// Size is the capacity asked for each pipe (tune.pipesize); 0 keeps
	// the kernel default (64 KiB on Linux).
	Size int
	// Max caps the pipes in use at once (maxpipes); 0 means no cap. Each
	// pipe costs two file descriptors.
	Max int
	// MaxIdle caps the pipes kept open for reuse; beyond it, returned
	// pipes are closed. 0 means Max, or 64 when Max is 0.
	MaxIdle int
}

// PipeStats is a snapshot of a pipe pool's counters.
type PipeStats struct {
	// InUse is the number of pipes handed out and not yet returned.
	InUse int
	// Idle is the number of open pipes waiting for reuse.
	Idle int
	// Created counts pipes ever created.
	Created uint64
	// Killed counts pipes closed because they were returned with data
	// inside, or returned beyond MaxIdle.
	Killed uint64
	// Refused counts Get calls refused at the cap.
	Refused uint64
}

// PipePool hands out kernel pipes, keeping empty returned ones open for
// reuse. It is safe for concurrent use.
type PipePool struct {
	size, max, maxIdle int

	mu      sync.Mutex
	idle    []*Pipe
	inUse   int
	created uint64
	killed  uint64
	refused uint64
	closed  bool
}

// NewPipePool returns a pipe pool configured by cfg.
func NewPipePool(cfg PipePoolConfig) (*PipePool, error) {
	if cfg.Size < 0 || cfg.Max < 0 || cfg.MaxIdle < 0 {
		return nil, fmt.Errorf("buffer: bad pipe pool config: size %d, max %d, max idle %d must not be negative", cfg.Size, cfg.Max, cfg.MaxIdle)
	}
	p := &PipePool{size: cfg.Size, max: cfg.Max, maxIdle: cfg.MaxIdle}
	if p.maxIdle == 0 {
		p.maxIdle = p.max
		if p.maxIdle == 0 {
			p.maxIdle = 64
		}
	}
	return p, nil
}

// Get returns an empty pipe: a pooled one, or a new one while fewer than
// Max are in use. At the cap it returns ErrPipeLimit.
func (pp *PipePool) Get() (*Pipe, error) {
	pp.mu.Lock()
	if pp.closed {
		pp.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if pp.max > 0 && pp.inUse >= pp.max {
		pp.refused++
		pp.mu.Unlock()
		return nil, fmt.Errorf("%w: %d pipes in use (maxpipes %d)", ErrPipeLimit, pp.inUse, pp.max)
	}
	pp.inUse++
	if n := len(pp.idle); n > 0 {
		p := pp.idle[n-1]
		pp.idle[n-1] = nil
		pp.idle = pp.idle[:n-1]
		pp.mu.Unlock()
		p.free = false
		return p, nil
	}
	pp.mu.Unlock()

	// Creating takes system calls; do it outside the lock. The slot is
	// already counted in inUse, so the cap holds.
	p, err := NewPipe(pp.size)
	if err != nil {
		pp.mu.Lock()
		pp.inUse--
		pp.mu.Unlock()
		return nil, err
	}
	p.pool = pp
	pp.mu.Lock()
	pp.created++
	pp.mu.Unlock()
	return p, nil
}

// Put returns p to the pool. A pipe with bytes still inside is closed
// rather than reused, since its bytes belong to another stream. Putting
// nil, a pipe of another pool, or a pipe already returned does nothing.
func (pp *PipePool) Put(p *Pipe) {
	if p == nil || p.pool != pp {
		return
	}
	pp.mu.Lock()
	if p.free {
		pp.mu.Unlock()
		return
	}
	p.free = true
	pp.inUse--
	if p.data == 0 && !pp.closed && len(pp.idle) < pp.maxIdle {
		pp.idle = append(pp.idle, p)
		pp.mu.Unlock()
		return
	}
	pp.killed++
	pp.mu.Unlock()
	_ = p.Close()
}

// Close closes the pooled pipes and makes later Get calls fail. Pipes in
// use are closed when they are returned.
func (pp *PipePool) Close() error {
	pp.mu.Lock()
	idle := pp.idle
	pp.idle = nil
	pp.closed = true
	pp.mu.Unlock()
	var errs []error
	for _, p := range idle {
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats returns a snapshot of the pool's counters.
func (pp *PipePool) Stats() PipeStats {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return PipeStats{InUse: pp.inUse, Idle: len(pp.idle), Created: pp.created, Killed: pp.killed, Refused: pp.refused}
}
