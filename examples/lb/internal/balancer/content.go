package balancer

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// TCP-mode content inspection: the "tcp-request content" rules look at
// the client's first bytes (a TLS ClientHello's server name, say) and may
// wait up to "tcp-request inspect-delay" for them; then "use_backend"
// picks the backend. The bytes are peeked, never taken, so they reach the
// server as they came, spliced or copied, with nothing to put back.

// contentCtx is what content rules and TCP-mode use_backend conditions
// read: the session's addresses and tracked entries, and the first bytes.
type contentCtx struct {
	*tracked
	data  []byte
	final bool
	may   bool
}

// Payload returns the bytes peeked so far, and whether no more will be
// waited for.
func (c *contentCtx) Payload() ([]byte, bool) { return c.data, c.final }

// MayChange notes that a fetch needs more bytes than there are.
func (c *contentCtx) MayChange() { c.may = true }

var _ acl.ContentContext = (*contentCtx)(nil)

// contentVerdict runs the content rules on what ctx holds: the first rule
// whose condition holds decides (accept or reject); a rule that does not
// hold on too few bytes makes the verdict wait, unless the bytes are
// final. With no rule deciding, the connection is accepted.
func contentVerdict(rules []config.ConnRule, ctx *contentCtx) (verdict string, wait bool) {
	for _, r := range rules {
		ctx.may = false
		if r.Cond.Eval(ctx) {
			return r.Action, false
		}
		if ctx.may && !ctx.final {
			return "", true
		}
	}
	return "accept", false
}

// inspect runs the frontend's content rules and its use_backend rules,
// and sets the session's backend. It reports false when a rule rejects
// the connection (or the client left while it waited), with term set.
func (s *session) inspect() bool {
	fe := s.fe
	rules, uses := fe.cfg.Stick.ContentRules, fe.cfg.HTTP.UseBackends
	if len(rules) == 0 && len(uses) == 0 {
		return true
	}
	ctx := &contentCtx{tracked: s.ruleCtx(fe.cfg.Name), final: true}
	// Only a raw socket shows the client's own bytes; through TLS the
	// content fetches find nothing, at once.
	if rc, raw := s.client.Raw(); len(rules) > 0 && raw {
		switch s.runContentRules(rc, rules, ctx) {
		case "":
			s.term = [2]byte{'C', 'R'}
			return false
		case "reject":
			s.b.log.Debug("content rejected", "frontend", fe.cfg.Name, "client", ctx.src)
			s.term = [2]byte{'P', 'R'}
			return false
		}
	}
	// As in HAProxy, use_backend runs once, on what the rules waited for;
	// a dynamic name that names no backend leaves the default one.
	for i, u := range uses {
		if !u.Cond.Eval(ctx) {
			continue
		}
		if fe.useDyn == nil || fe.useDyn[i] == nil {
			s.be = s.b.backends[u.Backend]
		} else if be, _ := s.b.dynamicBackend(fe.useDyn[i], ctx, nil, "tcp"); be != nil {
			s.be = be
		}
		break
	}
	return true
}

// runContentRules peeks at the client's bytes through rc and runs the
// content rules on them, waiting for more (up to inspect-delay) while a
// rule cannot decide yet. It returns the verdict, or "" when the client
// failed meanwhile.
func (s *session) runContentRules(rc syscall.RawConn, rules []config.ConnRule, ctx *contentCtx) string {
	size := s.b.cfg.Global.BufSize
	if size <= 0 {
		size = buffer.DefaultSize
	}
	buf := make([]byte, size)
	var deadline time.Time
	if d := s.fe.cfg.Stick.InspectDelay; d > 0 {
		deadline = s.accepted.Add(d)
		_ = s.client.SetReadDeadline(deadline)
		defer func() { _ = s.client.SetReadDeadline(time.Time{}) }()
	}
	expired := false
	for {
		n, ended, err := peekNow(rc, buf)
		if err != nil {
			return ""
		}
		ctx.data = buf[:n]
		ctx.final = ended || expired || n == len(buf) || deadline.IsZero()
		verdict, wait := contentVerdict(rules, ctx)
		if !wait {
			return verdict
		}
		if err := waitMore(rc, buf, n); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return ""
			}
			expired = true
		}
	}
}

// peekNow peeks at what the socket holds, without taking it or waiting,
// into buf, and returns the count; ended reports the client's end of
// stream with nothing before it, or with bytes before it (CLOSE_WAIT).
func peekNow(rc syscall.RawConn, buf []byte) (n int, ended bool, err error) {
	cerr := rc.Control(func(fd uintptr) {
		n, ended, err = peekFD(fd, buf)
	})
	if err == nil {
		err = cerr
	}
	return n, ended, err
}

// waitMore waits until the socket holds more than have bytes, its end,
// an error, or the read deadline.
func waitMore(rc syscall.RawConn, buf []byte, have int) error {
	return rc.Read(func(fd uintptr) bool {
		n, ended, err := peekFD(fd, buf)
		return err != nil || ended || n > have
	})
}

func peekFD(fd uintptr, buf []byte) (n int, ended bool, err error) {
	m, _, e := unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	switch {
	case e == unix.EAGAIN:
		return 0, false, nil
	case e != nil:
		return 0, false, e
	case m == 0:
		return 0, true, nil
	}
	// Bytes queued before a FIN: the socket says so by its state.
	return m, peerSentFIN(fd), nil
}
