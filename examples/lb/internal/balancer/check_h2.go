package balancer

import (
	"context"
	"io"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/mux"
	"github.com/proxyblocks/proxyblocks/mux/h2"
	"github.com/proxyblocks/proxyblocks/mux/htx"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// HTTP/2 health checks. As in HAProxy, an HTTP check speaks HTTP/2 when
// the server's "proto h2" (or "check-proto h2") says so, when an
// "http-check connect" rule's proto does, or when the ALPN agreed on
// names h2 and the check chose its ALPN list itself ("check-alpn", an
// http-check connect's "alpn"); the server's own alpn alone does not
// make a check speak HTTP/2. The request is one stream with the fields
// and body the check sends over HTTP/1, and the answer is judged by the
// same rules.

// checkSpeaksH2 reports whether a check on t speaks HTTP/2: proto, when
// set, decides; else the ALPN agreed on does when alpnPicks.
func checkSpeaksH2(t xprt.Transport, proto string, alpnPicks bool) bool {
	if proto != "" {
		return proto == "h2"
	}
	return alpnPicks && t.Info().ALPN == "h2"
}

// serverCheckProto is the mux a server's checks speak unless a connect
// rule says otherwise: check-proto, else the server's proto.
func (s *Server) serverCheckProto() string {
	if s.cfg.CheckProto != "" {
		return s.cfg.CheckProto
	}
	return s.cfg.Proto
}

// httpCheckH2 sends hc's request as one HTTP/2 stream on t and judges
// the answer as httpCheck does.
func httpCheckH2(ctx context.Context, t xprt.Transport, hc *config.HTTPCheck, state string, soft404 bool) (int, error) {
	m, err := h2.New(t, mux.SideBack, h2.Config{})
	if err != nil {
		return 0, &layer7Error{reason: `Layer4 connection problem, info: "` + err.Error() + `"`}
	}
	// The mux is stopped by closing it, which the check's end or the
	// balancer's stop does at once.
	defer m.Close()
	defer context.AfterFunc(ctx, func() { _ = m.Close() })()
	// As over HTTP/1, a failed exchange is a bare invalid response.
	timedOut := func(error) error {
		if ctx.Err() != nil {
			return checkTimeout(hc)
		}
		return &layer7Error{reason: "Layer7 invalid response"}
	}
	st, err := m.Open(ctx)
	if err != nil {
		return 0, timedOut(err)
	}
	hs, ok := st.(mux.HTTPStream)
	if !ok {
		return 0, &layer7Error{reason: "Layer7 invalid response"}
	}
	req := checkRequestH2(hc, state)
	if err := hs.WriteRequest(req); err != nil {
		return 0, timedOut(err)
	}
	if hc.Body != "" {
		if _, err := io.WriteString(hs, hc.Body); err != nil {
			return 0, timedOut(err)
		}
	}
	if err := hs.Finish(nil); err != nil {
		return 0, timedOut(err)
	}
	var resp htx.Message
	for {
		if err := hs.ReadResponse(&resp); err != nil {
			return 0, timedOut(err)
		}
		if resp.Status >= 200 {
			break
		}
		resp.Reset() // an interim answer
	}
	return judgeHTTPCheck(hc, &resp, soft404, func() ([]byte, error) {
		want := int64(httpCheckMax)
		if resp.Flags&htx.FlagContentLength != 0 && resp.ContentLength < want {
			want = resp.ContentLength
		}
		body, err := io.ReadAll(io.LimitReader(hs, want))
		if err != nil && ctx.Err() != nil {
			return nil, &layer7Error{reason: "Layer7 timeout"}
		}
		return body, nil
	})
}

// checkRequestH2 is hc's request as an HTTP/2 stream carries it: the
// fields checkRequest writes, the host as the authority, without the
// HTTP/1 connection field, a body's length when there is one.
func checkRequestH2(hc *config.HTTPCheck, state string) *htx.Message {
	req := &htx.Message{Flags: htx.FlagRequest}
	req.SetRequest(hc.Method, "", "", hc.URI)
	eachCheckField(hc, state, func(name, value string) {
		if name != "connection" {
			req.Add(name, value)
		}
	})
	if hc.Body == "" {
		req.Flags |= htx.FlagBodyless
		return req
	}
	// The mux writes the length from ContentLength.
	req.Flags |= htx.FlagContentLength
	req.ContentLength = int64(len(hc.Body))
	return req
}
