package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// RingSection is a "ring" section: an in-memory buffer of log lines
// that "log ring@NAME" targets fill, "show events NAME" prints and the
// section's servers receive over TCP.
type RingSection struct {
	Pos
	Name string
	// Description is what "show events" lists for the ring; the name
	// when unset.
	Description string
	// Format is the header the ring puts before each line, as a log
	// target's format ("raw" by default).
	Format string
	// MaxLen caps a line, header included (16384 by default, at most
	// Size).
	MaxLen int
	// Size is the buffer's size in bytes (16384 by default); the
	// oldest lines make room for new ones.
	Size int
	// TimeoutConnect and TimeoutServer bound the connection to a
	// server and each write to it; 0 means none.
	TimeoutConnect, TimeoutServer time.Duration
	// Servers receive the ring's lines.
	Servers []*RingServer
}

// RingServer is a ring's "server NAME ADDR [options]" line.
type RingServer struct {
	Pos
	Name string
	// Addr is where lines go: HOST:PORT, or unix@PATH or abns@NAME.
	Addr string
	// OctetCount frames each line as "LEN LINE" ("log-proto
	// octet-count"); otherwise each line ends with a newline.
	OctetCount bool
	// SSL is the line's TLS side ("ssl" and the server TLS options):
	// when Enabled, lines go over TLS with its Outbound, built when
	// parsing ends.
	SSL ServerSSL
}

// defaultRingSize is a ring's size and line length when its section
// sets none: HAProxy's buffer size.
const defaultRingSize = 16384

// builtinSinks are the event sinks HAProxy always has, which a ring may
// not be named after.
var builtinSinks = []string{"stdout", "stderr", "buf0"}

// Ring returns the ring section with that name, or nil.
func (c *Config) Ring(name string) *RingSection {
	for _, r := range c.Rings {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func init() {
	finishers = append(finishers, (*parser).checkRings, (*parser).finishRingTLS)
}

func (p *parser) startRing(args []string) {
	p.section, p.cur, p.ring = "ring", nil, nil
	if len(args) == 0 || args[0] == "" {
		p.errorf("ring", ErrBadValue, "missing ring name")
		return
	}
	name := args[0]
	if err := checkName(name); err != nil {
		p.errorf("ring", ErrBadValue, "invalid ring name '%s': %v", name, err)
		return
	}
	for _, b := range builtinSinks {
		if b == name {
			p.errorf("ring", ErrReference, "sink named '%s' already exists", name)
			return
		}
	}
	if prev := p.cfg.Ring(name); prev != nil {
		p.errorf("ring", ErrReference, "sink named '%s' already exists (declared at %s)", name, prev.Pos)
		return
	}
	p.ring = &RingSection{Pos: p.pos, Name: name, Description: name, Format: "raw", MaxLen: defaultRingSize, Size: defaultRingSize}
	p.cfg.Rings = append(p.cfg.Rings, p.ring)
}

// ringLine reads one line of the current ring section.
func (p *parser) ringLine(words []string) {
	r := p.ring
	if r == nil {
		return // the section's own line failed
	}
	kw, a := words[0], words[1:]
	if err := p.ringKeyword(r, kw, a); err != nil {
		p.fail(kw, fmt.Sprintf("'%s' in ring '%s'", kw, r.Name), err)
	}
}

// atol reads a number as C's atol does: leading digits (after an
// optional sign), 0 when there are none.
func atol(s string) int64 {
	s = strings.TrimLeft(s, " \t")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (math.MaxInt64-9)/10 {
			break
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

func arg(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return ""
}

func (p *parser) ringKeyword(r *RingSection, kw string, a []string) error {
	switch kw {
	case "size":
		n := atol(arg(a, 0))
		switch {
		case n == 0:
			return fmt.Errorf("invalid size '%s' for new sink buffer", arg(a, 0))
		case n < 0 || n > math.MaxInt32:
			return fmt.Errorf("fail to set sink buffer size '%d' for ring '%s'", r.Size, r.Name)
		case int(n) < r.Size:
			// HAProxy only grows a ring: it says so as a warning,
			// yet refuses the configuration.
			return fmt.Errorf("ignoring new size '%d' that is smaller than current size '%d' for ring '%s'", n, r.Size, r.Name)
		}
		r.Size = int(n)
	case "maxlen":
		// Read as an unsigned int, as HAProxy keeps it.
		n := uint32(atol(arg(a, 0)))
		if n == 0 {
			return fmt.Errorf("invalid size '%s' for new sink buffer", arg(a, 0))
		}
		r.MaxLen = int(n)
	case "format":
		if !logFormats[arg(a, 0)] {
			return fmt.Errorf("unknown format '%s'", arg(a, 0))
		}
		r.Format = a[0]
	case "description":
		if arg(a, 0) == "" {
			return errors.New("missing ring description text")
		}
		r.Description = a[0]
	case "timeout":
		// Only these two; HAProxy passes over any other.
		if which := arg(a, 0); which == "connect" || which == "server" {
			if arg(a, 1) == "" {
				return fmt.Errorf("'timeout %s' expects <time> as argument", which)
			}
			d, err := strictTime(a[1])
			if err != nil {
				return fmt.Errorf("'timeout %s': %w", which, err)
			}
			if which == "connect" {
				r.TimeoutConnect = d
			} else {
				r.TimeoutServer = d
			}
		}
	case "server":
		return p.ringServer(r, a)
	default:
		return fmt.Errorf("%w: unknown statement '%s'", ErrUnknownKeyword, kw)
	}
	return nil
}

// strictTime reads a time as HAProxy's sections other than the proxies
// do: a number and an optional unit, nothing after it.
func strictTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	units := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[s[i:]]
	if i == 0 || !ok {
		c := byte(0)
		if i < len(s) {
			c = s[i]
		}
		return 0, fmt.Errorf("unexpected character '%c' in '%s'", c, s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 63)
	if err != nil || n > uint64(math.MaxInt32)*uint64(time.Millisecond)/uint64(u) {
		return 0, fmt.Errorf("timer overflow in '%s', maximum value is 2147483647 ms (~24.8 days)", s)
	}
	d := time.Duration(n) * u
	if d > 0 && d < time.Millisecond {
		return 0, fmt.Errorf("timer underflow in '%s', minimum non-null value is 1 ms", s)
	}
	return d, nil
}

// ringServer reads a ring's "server NAME ADDR [options]": a stream
// address, and the options of a backend's server, which lb checks and,
// but for ssl and the TLS options, does not apply, plus "log-proto".
func (p *parser) ringServer(r *RingSection, a []string) error {
	if len(a) < 2 {
		return errors.New("'server' expects <name> and <addr>[:<port>] as arguments")
	}
	rs := &RingServer{Pos: p.pos, Name: a[0]}
	opts := make([]string, 0, len(a))
	for i := 2; i < len(a); i++ {
		if a[i] != "log-proto" {
			opts = append(opts, a[i])
			continue
		}
		switch v := arg(a, i+1); v {
		case "legacy", "octet-count":
			rs.OctetCount = v == "octet-count"
		default:
			return fmt.Errorf("'server %s/%s' : 'log-proto' expects one of 'legacy' or 'octet-count' but got '%s'", r.Name, a[0], v)
		}
		i++
	}
	addr := a[1]
	if pfx, _, ok := strings.Cut(addr, "@"); ok && (pfx == "udp" || pfx == "udp4" || pfx == "udp6" || pfx == "quic4" || pfx == "quic6") {
		return fmt.Errorf("'server %s/%s' : dgram-type address not acceptable in '%s'", r.Name, a[0], addr)
	}
	px := &Proxy{Kind: KindBackend, Name: r.Name}
	if err := parseServer(p, px, append([]string{a[0], addr}, opts...)); err != nil {
		return fmt.Errorf("'server %s/%s' : %w", r.Name, a[0], err)
	}
	for _, o := range r.Servers {
		if o.Name == a[0] {
			return fmt.Errorf("%w: ring '%s', another server named '%s' was already defined at %s", ErrReference, r.Name, a[0], o.Pos)
		}
	}
	rs.Addr = px.Servers[0].Addr
	if ssl := px.Servers[0].SSL; ssl.Enabled {
		rs.SSL = ServerSSL{Enabled: true, Config: ssl.Config}
	}
	r.Servers = append(r.Servers, rs)
	return nil
}

// finishRingTLS builds the TLS side of the ring servers with "ssl", with
// the global defaults, as for a backend's servers.
func (p *parser) finishRingTLS() {
	for _, r := range p.cfg.Rings {
		for _, rs := range r.Servers {
			if !rs.SSL.Enabled {
				continue
			}
			p.pos = rs.Pos
			out, err := tls.NewOutbound(rs.SSL.Config, p.cfg.Global.SSL)
			if err != nil {
				if errors.Is(err, tls.ErrNoCAFile) {
					err = fmt.Errorf("verify is enabled by default but no CA file specified; set 'ca-file', or 'verify none' on the server line, or 'ssl-server-verify none' in the global section: %w", err)
				}
				p.fail("server", fmt.Sprintf("ring '%s': server '%s'", r.Name, rs.Name), err)
				continue
			}
			rs.SSL.Outbound = out
		}
	}
}

// checkRings warns, as HAProxy does once every section is read, of a
// line length beyond the ring's size, and of a ring whose servers lack
// a timeout.
func (p *parser) checkRings() {
	for _, r := range p.cfg.Rings {
		if r.MaxLen > r.Size {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("ring '%s' event max length '%d' exceeds size, forced to size '%d'.", r.Name, r.MaxLen, r.Size))
			r.MaxLen = r.Size
		}
		if len(r.Servers) > 0 && (r.TimeoutConnect == 0 || r.TimeoutServer == 0) {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("missing timeouts for backend '%s'.", r.Name))
		}
	}
}

// CheckLogRings returns an error for each "log ring@NAME" naming no
// ring section: HAProxy's -c passes over it, its start does not.
func (c *Config) CheckLogRings() error {
	var errs []error
	check := func(ls []Log, where string) {
		for _, l := range ls {
			if strings.HasPrefix(l.Target, "ring@") {
				if c.Ring(l.Ring) == nil {
					errs = append(errs, &Error{Pos: l.Pos, Keyword: "log", Err: fmt.Errorf("%w: %s uses unknown ring named '%s'", ErrReference, where, l.Ring)})
				}
			}
		}
	}
	check(c.Global.Logs, "global log server")
	for _, px := range c.Proxies {
		check(px.Logs, fmt.Sprintf("log server declared in proxy section '%s'", px.Name))
	}
	return errors.Join(errs...)
}
