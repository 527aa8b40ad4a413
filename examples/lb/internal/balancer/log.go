package balancer

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
)

// Syslog levels used by the messages the balancer emits.
const (
	levelEmerg   = 0
	levelAlert   = 1
	levelWarning = 4
	levelNotice  = 5
	levelInfo    = 6
)

// logSet is where one proxy's logs go: its own targets plus the global ones
// when it says "log global". Writes are serialised so lines never interleave.
type logSet struct {
	targets []logTarget
	slog    *slog.Logger
	host    string
	pid     int
}

type logTarget struct {
	cfg config.Log
	w   *lockedWriter
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
		b = fmt.Appendf(b, "<%d>", pri)
	case "rfc5424":
		b = fmt.Appendf(b, "<%d>1 %s %s haproxy %d - - ", pri, now.Format("2006-01-02T15:04:05.000000-07:00"), ls.host, ls.pid)
	case "local":
		b = fmt.Appendf(b, "<%d>%s haproxy[%d]: ", pri, now.Format(time.Stamp), ls.pid)
	default: // rfc3164
		b = fmt.Appendf(b, "<%d>%s %s haproxy[%d]: ", pri, now.Format(time.Stamp), ls.host, ls.pid)
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
	client   netip.AddrPort
	accept   time.Time
	frontend string
	backend  string
	server   string // "<NOSRV>" when none was reached
	tw, tc   time.Duration
	twSet    bool
	tcSet    bool
	tt       time.Duration
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
}

// format renders HAProxy's tcplog format:
// %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
func (l *tcpLog) format() string {
	b := make([]byte, 0, 160)
	b = append(b, l.client.Addr().Unmap().String()...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(l.client.Port()), 10)
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
	b = appendMs(b, l.tt, true)
	b = append(b, ' ')
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

func appendMs(b []byte, d time.Duration, set bool) []byte {
	if !set {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, d.Milliseconds(), 10)
}

func newLogSet(cfg *config.Config, px *config.Proxy, stdout, stderr io.Writer, sl *slog.Logger, writerFor func(io.Writer) *lockedWriter) *logSet {
	host, _ := os.Hostname()
	ls := &logSet{slog: sl, host: host, pid: os.Getpid()}
	var logs []config.Log
	if px == nil || px.LogGlobal {
		logs = append(logs, cfg.Global.Logs...)
	}
	if px != nil {
		logs = append(logs, px.Logs...)
	}
	for _, l := range logs {
		w := stdout
		if l.Target == "stderr" {
			w = stderr
		}
		ls.targets = append(ls.targets, logTarget{cfg: l, w: writerFor(w)})
	}
	return ls
}
