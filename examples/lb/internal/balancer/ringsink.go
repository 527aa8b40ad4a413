package balancer

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/ring"
)

// ringSink is a "ring" section at run time: the buffer "log ring@NAME"
// fills, "show events" prints and the section's servers drain.
type ringSink struct {
	cfg  *config.RingSection
	ring *ring.Ring
	// mu serialises writes, so that a line and the count of lines
	// dropped before it go in in order.
	mu sync.Mutex
	// dropped counts the lines the ring refused since the last
	// "N events dropped" line made it in.
	dropped uint64
}

// ringRedial is the wait before a ring dials a server again after a
// failed or lost connection.
const ringRedial = time.Second

func newRingSink(rc *config.RingSection) *ringSink {
	return &ringSink{cfg: rc, ring: ring.New(rc.Size)}
}

// Write is for the lockedWriter holding the ring, which logSet.emit
// never writes to: it writes through log.
func (s *ringSink) Write(b []byte) (int, error) { return len(b), nil }

// logMeta is what a ring's header says of the process.
type logMeta struct {
	host, tag string
	pid       int
}

// log puts one log line in the ring, behind the header of the ring's
// format, msg already cut to the target's length. As HAProxy does, a
// line the ring refuses is counted, and the count is written as a
// line of its own before the next line that fits.
func (s *ringSink) log(m logMeta, facility, level int, msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.dropped > 0 {
		plural := ""
		if s.dropped > 1 {
			plural = "s"
		}
		note := fmt.Appendf(nil, "%d event%s dropped", s.dropped, plural)
		if !s.ring.Write(s.line(m, facility, levelNotice, note, now)) {
			s.dropped++
			return
		}
		s.dropped = 0
	}
	if !s.ring.Write(s.line(m, facility, level, msg, now)) {
		s.dropped++
	}
}

// line builds the ring's header and msg, cut to the ring's maxlen.
func (s *ringSink) line(m logMeta, facility, level int, msg []byte, now time.Time) []byte {
	pri := facility*8 + level
	iso := func(b []byte) []byte { return now.AppendFormat(b, "2006-01-02T15:04:05.000000-07:00") }
	b := make([]byte, 0, 64+len(msg))
	switch s.cfg.Format {
	case "rfc3164":
		host := m.host
		if host == "" {
			host = "localhost"
		}
		b = fmt.Appendf(b, "<%d>%s %s %s[%d]: ", pri, now.Format(time.Stamp), host, m.tag, m.pid)
	case "rfc5424":
		host := m.host
		if host == "" {
			host = "-"
		}
		b = fmt.Appendf(b, "<%d>1 ", pri)
		b = iso(b)
		b = fmt.Appendf(b, " %s %s %d - - ", host, m.tag, m.pid)
	case "local":
		b = fmt.Appendf(b, "<%d>%s %s[%d]: ", pri, now.Format(time.Stamp), m.tag, m.pid)
	case "short":
		b = fmt.Appendf(b, "<%d>", level)
	case "priority":
		b = fmt.Appendf(b, "<%d>", pri)
	case "timed":
		b = fmt.Appendf(b, "<%d>", level)
		b = append(iso(b), ' ')
	case "iso":
		b = append(iso(b), ' ')
	}
	b = append(b, msg...)
	if len(b) > s.cfg.MaxLen {
		b = b[:s.cfg.MaxLen]
	}
	return b
}

// startRings makes each ring section's buffer, and starts sending its
// lines to its servers.
func (b *Balancer) startRings() {
	b.rings = map[string]*ringSink{}
	for _, rc := range b.cfg.Rings {
		s := newRingSink(rc)
		b.rings[rc.Name] = s
		for _, srv := range rc.Servers {
			f := &ringForwarder{sink: s, srv: srv}
			b.ringWG.Add(1)
			go func() {
				defer b.ringWG.Done()
				f.run(b.ctx)
			}()
		}
	}
}

// stopRings stops the servers' connections; b.ctx is done by then.
func (b *Balancer) stopRings() {
	b.ringWG.Wait()
}

// ringForwarder sends a ring's lines to one of its servers, in order,
// from the oldest the ring holds when it first connects. Across lost
// connections it resumes where it stopped, holding the ring's oldest
// lines back from being dropped meanwhile, as HAProxy does.
type ringForwarder struct {
	sink *ringSink
	srv  *config.RingServer
	rd   *ring.Reader
}

func (f *ringForwarder) run(ctx context.Context) {
	defer func() {
		if f.rd != nil {
			f.rd.Close()
		}
	}()
	for ctx.Err() == nil {
		if c, err := f.dial(ctx); err == nil {
			f.serve(ctx, c)
		}
		select {
		case <-ctx.Done():
		case <-time.After(ringRedial):
		}
	}
}

func (f *ringForwarder) dial(ctx context.Context) (net.Conn, error) {
	network, addr := "tcp", f.srv.Addr
	switch {
	case strings.HasPrefix(addr, config.UnixPrefix):
		network, addr = "unix", strings.TrimPrefix(addr, config.UnixPrefix)
	case strings.HasPrefix(addr, config.AbnsPrefix):
		network, addr = "unix", "@"+strings.TrimPrefix(addr, config.AbnsPrefix)
	}
	d := net.Dialer{Timeout: f.sink.cfg.TimeoutConnect}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil || !f.srv.SSL.Enabled {
		return c, err
	}
	// "ssl": the lines go over TLS, the handshake within timeout
	// connect too.
	tc := f.srv.SSL.Outbound.Client(c)
	hctx, cancel := ctx, context.CancelFunc(func() {})
	if t := f.sink.cfg.TimeoutConnect; t > 0 {
		hctx, cancel = context.WithTimeout(ctx, t)
	}
	defer cancel()
	if err := tc.Handshake(hctx); err != nil {
		_ = tc.Close()
		return nil, err
	}
	return tc, nil
}

// serve writes lines to c until the connection fails, the server
// closes it, or ctx ends.
func (f *ringForwarder) serve(ctx context.Context, c net.Conn) {
	if f.rd == nil {
		f.rd = f.sink.ring.NewReader(false)
	}
	// What the server sends is read and dropped; its end, or an error,
	// ends the connection.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_, _ = io.Copy(io.Discard, c)
	}()
	defer func() {
		_ = c.Close()
		<-gone
	}()
	var msgs [][]byte
	var out []byte
	for {
		var wait <-chan struct{}
		msgs, wait = f.rd.Next(msgs[:0], 64)
		if len(msgs) > 0 {
			out = out[:0]
			for _, m := range msgs {
				if f.srv.OctetCount {
					out = strconv.AppendInt(out, int64(len(m)), 10)
					out = append(out, ' ')
					out = append(out, m...)
				} else {
					out = append(out, m...)
					out = append(out, '\n')
				}
			}
			if t := f.sink.cfg.TimeoutServer; t > 0 {
				_ = c.SetWriteDeadline(time.Now().Add(t))
			}
			if _, err := c.Write(out); err != nil {
				return
			}
			continue
		}
		select {
		case <-wait:
		case <-gone:
			return
		case <-ctx.Done():
			return
		}
	}
}

// showEvents answers "show events [NAME [-w] [-n]]": without a name, the
// event sinks, HAProxy's three built-in ones then the rings; with one,
// that ring's lines, the oldest first. With -w it returns a reader at
// the end of what it printed, for the socket to print new lines as they
// come until the client sends anything; the caller closes it.
func (b *Balancer) showEvents(w io.Writer, level string, words []string) *ring.Reader {
	// HAProxy's messages end with the newline that ends every
	// answer; a ring's lines come before it.
	if len(words) < 3 {
		var sb strings.Builder
		sb.WriteString("Supported events sinks are listed below. Add -w(wait), -n(new). Any key to stop\n")
		fmt.Fprintf(&sb, "    %-10s : type=fd, 0 dropped, standard output (fd#1)\n", "stdout")
		fmt.Fprintf(&sb, "    %-10s : type=fd, 0 dropped, standard output (fd#2)\n", "stderr")
		fmt.Fprintf(&sb, "    %-10s : type=buffer, 0 dropped, in-memory ring buffer\n", "buf0")
		for _, rc := range b.cfg.Rings {
			var dropped uint64
			if s := b.rings[rc.Name]; s != nil {
				s.mu.Lock()
				dropped = s.dropped
				s.mu.Unlock()
			}
			fmt.Fprintf(&sb, "    %-10s : type=buffer, %d dropped, %s\n", rc.Name, dropped, rc.Description)
		}
		_, _ = io.WriteString(w, sb.String())
		return nil
	}
	if cliLevels[level] < cliLevels["operator"] {
		_, _ = io.WriteString(w, "Permission denied\n")
		return nil
	}
	name := words[2]
	var r *ring.Ring
	switch name {
	case "stdout", "stderr":
		_, _ = io.WriteString(w, "Nothing to report for this sink")
		return nil
	case "buf0":
		// HAProxy's traces go there; lb has none, so it stays empty.
		r = ring.New(1 << 20)
	default:
		s := b.rings[name]
		if s == nil {
			_, _ = io.WriteString(w, "No such event sink")
			return nil
		}
		r = s.ring
	}
	wait, seekNew := false, false
	for _, o := range words[3:] {
		switch o {
		case "-w":
			wait = true
		case "-n":
			seekNew = true
		case "-nw", "-wn":
			wait, seekNew = true, true
		default:
			_, _ = io.WriteString(w, "unknown option")
			return nil
		}
	}
	rd := r.NewReader(seekNew)
	msgs, _ := rd.Next(nil, 0)
	for _, m := range msgs {
		_, _ = w.Write(m)
		_, _ = w.Write([]byte{'\n'})
	}
	if !wait {
		rd.Close()
		return nil
	}
	return rd
}

// followEvents prints the lines a "show events NAME -w" reader gets,
// flushing each batch, until the client sends a byte or goes, or the
// balancer stops.
func (b *Balancer) followEvents(cn net.Conn, r io.Reader, w interface {
	io.Writer
	Flush() error
}, rd *ring.Reader) {
	defer rd.Close()
	// Wait mode has no idle timeout: it ends with the client.
	_ = cn.SetReadDeadline(time.Time{})
	key := make(chan struct{})
	go func() {
		defer close(key)
		var one [1]byte
		_, _ = r.Read(one[:])
	}()
	defer func() {
		// A client that sent nothing, at the balancer's stop: wake
		// the read to end it.
		_ = cn.SetReadDeadline(time.Now())
		<-key
	}()
	var msgs [][]byte
	for {
		var wait <-chan struct{}
		msgs, wait = rd.Next(msgs[:0], 0)
		for _, m := range msgs {
			_, _ = w.Write(m)
			_, _ = w.Write([]byte{'\n'})
		}
		if err := w.Flush(); err != nil {
			return
		}
		select {
		case <-wait:
		case <-key:
			return
		case <-b.ctx.Done():
			return
		}
	}
}
