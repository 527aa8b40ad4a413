package balancer

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// checker runs connect-only (Layer 4) health checks on one server every
// inter, counting rise and fall as HAProxy does: health runs from 0 to
// rise+fall-1; a server starts up at health rise (so one failure at start
// takes it down), and once up a failure only takes it down after fall
// consecutive ones.
type checker struct {
	s    *Server
	dial func(ctx context.Context, s *Server) (net.Conn, error)
}

func (c *checker) run(ctx context.Context, first time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.once(ctx)
		t.Reset(c.s.cfg.Inter)
	}
}

func (c *checker) once(ctx context.Context) {
	s := c.s
	timeout := s.be.cfg.Timeouts.Check
	if timeout == 0 {
		timeout = s.cfg.Inter
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	conn, err := c.dial(cctx, s)
	cancel()
	dur := time.Since(start)
	if ctx.Err() != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	if err == nil {
		_ = conn.Close()
		c.success(dur)
		return
	}
	c.failure(err, dur)
}

func (c *checker) success(dur time.Duration) {
	s, b := c.s, c.s.be
	max := s.cfg.Rise + s.cfg.Fall - 1
	b.mu.Lock()
	wasUp := s.up
	if s.health < max {
		s.health++
	}
	goUp := !wasUp && s.health >= s.cfg.Rise
	if goUp {
		s.health = max
	}
	b.mu.Unlock()
	if goUp {
		b.setState(s, true, checkPassed(b), dur)
	}
}

func (c *checker) failure(err error, dur time.Duration) {
	s, b := c.s, c.s.be
	b.mu.Lock()
	goDown := false
	if s.health > s.cfg.Rise {
		s.health--
	} else {
		goDown = s.up
		s.health = 0
	}
	b.mu.Unlock()
	if goDown {
		b.setState(s, false, checkReason(err), dur)
	}
}

// checkReason words a failed check as HAProxy does.
func checkReason(err error) string {
	if r, ok := layer7Reason(err); ok {
		return r
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return "Layer4 timeout"
	}
	var errno syscall.Errno
	info := err.Error()
	if errors.As(err, &errno) {
		info = errno.Error()
		if info != "" {
			info = strings.ToUpper(info[:1]) + info[1:]
		}
	}
	return `Layer4 connection problem, info: "` + info + `"`
}
