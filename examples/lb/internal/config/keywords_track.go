package config

import "strings"

// The server option "track [BACKEND/]SERVER": the server takes the
// operational state of another one, which its own checks (or its agent)
// set, instead of running checks of its own.

func init() {
	serverOptions["track"] = serverOption{1, func(s *Server, a []string) error { s.Track = a[0]; return nil }}
	finishers = append(finishers, (*parser).checkTracks)
}

// trackTarget is the server s's "track" names, and the names it was
// looked up by; nil when there is none such. px is s's own proxy.
func (c *Config) trackTarget(px *Proxy, s *Server) (be *Proxy, srv *Server, bname, sname string) {
	bname, sname = px.Name, s.Track
	if i := strings.IndexByte(s.Track, '/'); i >= 0 {
		bname, sname = s.Track[:i], s.Track[i+1:]
	}
	if be = c.Proxy(bname, KindBackend); be == nil {
		return nil, nil, bname, sname
	}
	for _, x := range be.Servers {
		if x.Name == sname {
			return be, x, bname, sname
		}
	}
	return be, nil, bname, sname
}

// checkTracks checks every "track" as HAProxy does: the named backend and
// server exist, the server has a check or an agent or tracks one in its
// turn, no chain loops back, and the tracking server runs no check of its
// own. It fills TrackBackend and TrackServer.
func (p *parser) checkTracks() {
	for _, px := range p.cfg.Proxies {
		for _, s := range px.Servers {
			if s.Track == "" {
				continue
			}
			p.pos = s.Pos
			fail := func(format string, a ...any) {
				p.errorf("server", ErrReference, "'server %s/%s' : "+format, append([]any{px.Name, s.Name}, a...)...)
			}
			if s.Check {
				fail("unable to enable checks and tracking at the same time!")
				continue
			}
			be, t, bname, sname := p.cfg.trackTarget(px, s)
			switch {
			case be == nil:
				fail("unable to find required proxy '%s' for tracking.", bname)
				continue
			case t == nil:
				fail("unable to find required server '%s' for tracking.", sname)
				continue
			case !t.Check && !t.AgentCheck && t.Track == "":
				fail("unable to use %s/%s for tracking as it does not have any check nor agent enabled.", bname, sname)
				continue
			}
			// Walk the chain from the target: reaching s again is a loop.
			// A chain longer than the servers there are loops elsewhere,
			// which that loop's own server reports.
			cur, curPx, n := t, be, 0
			for cur != nil && cur != s && cur.Track != "" && n <= p.servers() {
				curPx, cur, _, _ = p.cfg.trackTarget(curPx, cur)
				n++
			}
			if cur == s {
				fail("unable to track %s/%s as it belongs to a tracking chain looping back to %s/%s.", bname, sname, px.Name, s.Name)
				continue
			}
			s.TrackBackend, s.TrackServer = be.Name, t.Name
		}
	}
}

// servers counts the servers of every proxy.
func (p *parser) servers() int {
	n := 0
	for _, px := range p.cfg.Proxies {
		n += len(px.Servers)
	}
	return n
}
