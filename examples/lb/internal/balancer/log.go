package balancer

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// Syslog levels used by the messages the balancer emits.
const (
	levelEmerg   = 0
	levelAlert   = 1
	levelErr     = 3
	levelWarning = 4
	levelNotice  = 5
	levelInfo    = 6
)

// logSet is where one proxy's logs go: its own targets plus the global ones
// when it says "log global". Writes are serialised so lines never interleave.
type logSet struct {
	targets []logTarget
	slog    *slog.Logger
	host    string // log-send-hostname; empty leaves it out
	tag     string // log-tag, "haproxy" by default
	pid     int
}

type logTarget struct {
	cfg config.Log
	w   *lockedWriter
	// ring is the ring a "ring@NAME" target writes to, nil otherwise.
	ring *ringSink
	// lines counts the lines offered to a target with a sample.
	lines *atomic.Uint64
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(b)
}

// close closes the output when it is a syslog socket, and discards what
// is then written to it; stdout and stderr stay open.
func (l *lockedWriter) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.w.(*syslogConn); ok {
		_ = c.Close()
		l.w = io.Discard
	}
}

// syslogConn sends each line as one datagram to a syslog server, over UDP
// or a UNIX datagram socket. A line that cannot be sent is dropped, as
// HAProxy drops it. A UNIX socket is dialed when a line is to be sent and
// again after a failure, so that logging resumes once the syslog daemon
// (re)creates its socket; while it is missing, dials are a second apart,
// so that a busy balancer does not try once per line.
type syslogConn struct {
	network, address string
	c                net.Conn
	redial           time.Time // no dial before this
}

// syslogRedial is the wait between dials of a missing UNIX socket.
const syslogRedial = time.Second

// dialSyslog opens a syslog target. A UDP address is resolved and its
// socket opened now, so that a bad host name stops the start; a UNIX
// socket may not exist yet.
func dialSyslog(network, address string) (*syslogConn, error) {
	s := &syslogConn{network: network, address: address}
	if network != "unixgram" {
		c, err := net.Dial(network, address)
		if err != nil {
			return nil, err
		}
		s.c = c
	}
	return s, nil
}

func (s *syslogConn) Write(b []byte) (int, error) {
	if s.c == nil {
		now := time.Now()
		if now.Before(s.redial) {
			return 0, net.ErrClosed
		}
		c, err := net.Dial(s.network, s.address)
		if err != nil {
			s.redial = now.Add(syslogRedial)
			return 0, err
		}
		s.c = c
	}
	n, err := s.c.Write(b)
	if err != nil && s.network == "unixgram" {
		_ = s.c.Close()
		s.c, s.redial = nil, time.Now().Add(syslogRedial)
	}
	return n, err
}

func (s *syslogConn) Close() error {
	if s.c == nil {
		return nil
	}
	err := s.c.Close()
	s.c = nil
	return err
}

// event logs a server state message: to the log targets and, as a warning,
// to the debug logger (HAProxy prints these on stderr too).
func (ls *logSet) event(level int, msg string) {
	if ls.slog != nil {
		ls.slog.Warn(msg)
	}
	ls.emit(level, msg)
}

// emit sends one line to every target whose level lets it through.
func (ls *logSet) emit(level int, msg string) {
	for _, t := range ls.targets {
		if t.cfg.Level != "" && level > config.Level(t.cfg.Level) {
			continue
		}
		if t.lines != nil && !t.cfg.Sample.Keep(t.lines.Add(1)-1) {
			continue
		}
		if t.ring != nil {
			// The ring adds its own header; the target's length cuts
			// the message alone, keeping a byte as for the newline.
			max := t.cfg.Len
			if max == 0 {
				max = 1024
			}
			line := msg
			if len(line) > max-1 {
				line = line[:max-1]
			}
			t.ring.log(logMeta{host: ls.host, tag: ls.tag, pid: ls.pid}, config.Facility(t.cfg.Facility), level, []byte(line))
			continue
		}
		t.w.write(ls.frame(t.cfg, level, msg))
	}
}

// frame adds the header the target's format asks for. raw has none.
func (ls *logSet) frame(c config.Log, level int, msg string) []byte {
	max := c.Len
	if max == 0 {
		max = 1024
	}
	pri := config.Facility(c.Facility)*8 + level
	now := time.Now()
	var b []byte
	switch c.Format {
	case "raw":
	case "short":
		// HAProxy's short header carries the level alone.
		b = fmt.Appendf(b, "<%d>", level)
	case "priority":
		b = fmt.Appendf(b, "<%d>", pri)
	case "timed":
		b = fmt.Appendf(b, "<%d>%s ", level, now.Format("2006-01-02T15:04:05.000000-07:00"))
	case "iso":
		b = fmt.Appendf(b, "%s ", now.Format("2006-01-02T15:04:05.000000-07:00"))
	case "rfc5424":
		host := ls.host
		if host == "" {
			host = "-"
		}
		b = fmt.Appendf(b, "<%d>1 %s %s %s %d - - ", pri, now.Format("2006-01-02T15:04:05.000000-07:00"), host, ls.tag, ls.pid)
	case "local":
		b = fmt.Appendf(b, "<%d>%s %s[%d]: ", pri, now.Format(time.Stamp), ls.tag, ls.pid)
	default: // rfc3164
		b = fmt.Appendf(b, "<%d>%s ", pri, now.Format(time.Stamp))
		if ls.host != "" {
			b = append(b, ls.host...)
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%s[%d]: ", ls.tag, ls.pid)
	}
	b = append(b, msg...)
	if len(b) > max-1 {
		b = b[:max-1]
	}
	return append(b, '\n')
}

func (ls *logSet) enabled() bool { return len(ls.targets) > 0 }

// tcpLog is what one connection's tcplog line reports.
type tcpLog struct {
	trafficLine
	accept time.Time
	tt     time.Duration
	// bytesIn is what the client sent (%U); th the handshake time (%Th).
	bytesIn int64
	th      time.Duration
}

// trafficLine is what a TCP session's and an HTTP request's traffic lines
// share, in tcplog, httplog and log-format alike.
type trafficLine struct {
	client   netip.AddrPort
	luid     uint16 // the listener's id, a UNIX client's port
	frontend string
	backend  string
	server   string // "<NOSRV>" when none was reached
	tw, tc   time.Duration
	twSet    bool
	tcSet    bool
	bytesOut int64 // server to client
	term     [2]byte
	actconn  int
	feconn   int
	beconn   int
	srvconn  int
	retries  int
	redisp   bool
	srvQueue int
	beQueue  int
	// asap marks a line written as soon as the server connection was
	// up (option logasap): Tt and the byte count carry a '+'.
	asap bool
	// level is what a set-log-level rule chose: the level plus one, -1
	// for silent, 0 when no rule did.
	level int
}

// appendClient appends a client's address and port as HAProxy's lines
// show them: "unix:" and the listener's id for a UNIX client.
func appendClient(b []byte, client netip.AddrPort, luid uint16) []byte {
	if !client.IsValid() && luid != 0 {
		b = append(b, "unix:"...)
		return strconv.AppendUint(b, uint64(luid), 10)
	}
	b = append(b, client.Addr().Unmap().String()...)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(client.Port()), 10)
}

// format renders HAProxy's tcplog format:
// %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
func (l *tcpLog) format() string {
	b := make([]byte, 0, 160)
	b = appendClient(b, l.client, l.luid)
	b = append(b, " ["...)
	b = l.accept.AppendFormat(b, "02/Jan/2006:15:04:05.000")
	b = append(b, "] "...)
	b = append(b, l.frontend...)
	b = append(b, ' ')
	b = append(b, l.backend...)
	b = append(b, '/')
	b = append(b, l.server...)
	b = append(b, ' ')
	b = appendMs(b, l.tw, l.twSet)
	b = append(b, '/')
	b = appendMs(b, l.tc, l.tcSet)
	b = append(b, '/')
	if l.asap {
		b = append(b, '+')
	}
	b = appendMs(b, l.tt, true)
	b = append(b, ' ')
	if l.asap {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, l.bytesOut, 10)
	b = append(b, ' ', l.term[0], l.term[1], ' ')
	b = strconv.AppendInt(b, int64(l.actconn), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.feconn), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.beconn), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.srvconn), 10)
	b = append(b, '/')
	if l.redisp {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(l.retries), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(l.srvQueue), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(l.beQueue), 10)
	return string(b)
}

// trafficLevel is the level of a traffic line, or -1 when the line is
// not to be written: HAProxy counts a connection (an HTTP request) as
// gone wrong when it was redispatched, ended on an error or a timeout
// (a termination code other than '-' or 'L' first), was retried without
// ending on one, or got a status of 500 or more (status 0 when none
// applies). option dontlog-normal leaves the others out; option
// log-separate-errors puts the wrong ones at the err level.
func trafficLevel(o *config.Options, l *trafficLine, status int) int {
	wrong := l.redisp || (l.term[0] != '-' && l.term[0] != 'L') || (l.term[0] == '-' && l.retries > 0) || status >= 500
	switch {
	case !wrong && o.DontLogNormal:
		return -1
	case l.level != 0:
		// set-log-level: silent (-1) leaves the line out.
		return l.level - 1
	case wrong && o.LogSeparateErrors:
		return levelErr
	}
	return levelInfo
}

func appendMs(b []byte, d time.Duration, set bool) []byte {
	if !set {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, d.Milliseconds(), 10)
}

func newLogSet(cfg *config.Config, px *config.Proxy, sl *slog.Logger, writerFor func(config.Log) *lockedWriter) *logSet {
	tag := cfg.Global.LogTag
	if px != nil && px.LogTag != "" {
		tag = px.LogTag
	}
	if tag == "" {
		tag = "haproxy"
	}
	ls := &logSet{slog: sl, host: cfg.Global.LogSendHostname, tag: tag, pid: os.Getpid()}
	var logs []config.Log
	if px == nil {
		logs = append(logs, cfg.Global.Logs...)
	} else {
		logs = append(logs, px.GlobalLogs(&cfg.Global)...)
	}
	if px != nil {
		logs = append(logs, px.Logs...)
	}
	for _, l := range logs {
		t := logTarget{cfg: l, w: writerFor(l)}
		if rs, ok := t.w.w.(*ringSink); ok {
			t.ring = rs
		}
		if l.Sample != nil {
			t.lines = new(atomic.Uint64)
		}
		ls.targets = append(ls.targets, t)
	}
	return ls
}
