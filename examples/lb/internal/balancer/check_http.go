package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux/h1"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// HTTP health checks (option httpchk): a request on the check's
// connection, and the status line of the answer compared with http-check
// expect status, or any 2xx or 3xx by default, as HAProxy does.

// layer7Error is a failed HTTP check, worded as HAProxy words it.
type layer7Error struct{ reason string }

func (e *layer7Error) Error() string { return e.reason }

func layer7Reason(err error) (string, bool) {
	var l7 *layer7Error
	if errors.As(err, &l7) {
		return l7.reason, true
	}
	return "", false
}

// checkPassed words a passed check: Layer7 for an HTTP check, Layer6
// for a TLS handshake, Layer4 for a bare connect.
func checkPassed(s *Server) string {
	if tc := s.be.cfg.TCPCheck; tc != nil {
		if tc.Redis {
			return `Layer7 check passed, code: 0, info: "Redis server is ok"`
		}
		if last := lastTCPCheckAction(s.be.cfg.TCPCheckRules); last != nil {
			// As in HAProxy: an explicit connect as the last step passes
			// at its layer, anything else at Layer 7.
			if last.Action != config.TCPCheckConnect {
				return `Layer7 check passed, code: 0, info: "(tcp-check)"`
			}
			if last.Default && s.cfg.SSL.Enabled {
				return `Layer6 check passed, info: "(tcp-check)"`
			}
			return `Layer4 check passed, info: "(tcp-check)"`
		}
	}
	switch {
	case s.be.cfg.HTTP.Check != nil:
		return "Layer7 check passed"
	case s.cfg.SSL.Enabled:
		return "Layer6 check passed"
	}
	return "Layer4 check passed"
}

// httpCheck sends the check request on c and reads the answer's head.
func httpCheck(ctx context.Context, c xprt.Transport, hc *config.HTTPCheck) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	// The balancer's stop ends a blocked exchange at once.
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })()
	req := hc.Method + " " + hc.URI + " " + hc.Version + "\r\n"
	if hc.Host != "" {
		req += "Host: " + strings.TrimSpace(hc.Host) + "\r\n"
	} else if hc.Version == "HTTP/1.1" {
		req += "Host: localhost\r\n"
	}
	req += "Connection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return &layer7Error{reason: `Layer4 connection problem, info: "` + err.Error() + `"`}
	}
	var (
		p    h1.Parser
		resp htx.Message
		buf  = make([]byte, 0, 4096)
		tmp  = make([]byte, 4096)
	)
	reqFlags := htx.FlagRequest
	if hc.Method == "HEAD" {
		reqFlags |= htx.FlagHead
	}
	for {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if _, perr := p.ParseResponse(buf, &resp, reqFlags); perr == nil {
			break
		} else if !errors.Is(perr, h1.ErrNeedMore) {
			return &layer7Error{reason: "Layer7 invalid response, info: \"" + firstLine(buf) + "\""}
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				return &layer7Error{reason: "Layer7 timeout"}
			}
			if len(buf) == 0 {
				return &layer7Error{reason: `Layer7 invalid response, info: "` + err.Error() + `"`}
			}
			return &layer7Error{reason: "Layer7 invalid response, info: \"" + firstLine(buf) + "\""}
		}
		if len(buf) > 16384 {
			return &layer7Error{reason: "Layer7 invalid response, info: \"head too large\""}
		}
	}
	ok := resp.Status >= 200 && resp.Status < 400
	if hc.ExpectStatus != 0 {
		ok = resp.Status == hc.ExpectStatus
	}
	if !ok {
		return &layer7Error{reason: fmt.Sprintf("Layer7 wrong status, code: %d, info: \"%s\"", resp.Status, resp.Reason())}
	}
	return nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return strconv.Quote(s)[1 : len(strconv.Quote(s))-1]
}
