package config

import (
	"errors"
	"fmt"
	"strconv"
)

// Global keywords that tune HAProxy's own machinery. Those lb has an
// equivalent for set it; those it has none for are read, checked as
// HAProxy checks them, and met with a warning saying why they change
// nothing, so that a configuration written for HAProxy runs unchanged
// and its reader knows what lb made of it.

// noEffect are the keywords lb reads and warns about: how many arguments
// each takes (-1 for any), and why it changes nothing in lb.
var noEffect = map[string]struct {
	args int
	why  string
}{
	"tune.idletimer":                 {1, "lb sizes its reads without an idle timer"},
	"tune.maxaccept":                 {1, "each lb listener accepts as its goroutine is scheduled"},
	"tune.runqueue-depth":            {1, "lb's tasks are goroutines, which the Go runtime schedules"},
	"tune.recv_enough":               {1, "lb forwards what a read brings at once"},
	"tune.listener.multi-queue":      {1, "lb's listeners have one accept queue each"},
	"tune.lua.maxmem":                {1, "lb runs no Lua"},
	"noepoll":                        {0, "the Go runtime chooses the poller"},
	"busy-polling":                   {0, "the Go runtime chooses how to wait"},
	"numa-cpu-mapping":               {0, "lb does not bind threads to NUMA nodes"},
	"insecure-fork-wanted":           {0, "lb never forks"},
	"expose-experimental-directives": {0, "lb has no experimental directive"},
	"profiling.tasks":                {1, "lb has no task profiler"},
	"nogetaddrinfo":                  {0, "lb resolves names with Go's resolver"},
	"max-spread-checks":              {1, "lb spreads its first checks over each server's interval"},
	"grace":                          {1, "lb stops accepting at once on SIGUSR1"},
	"maxsslconn":                     {1, "lb does not count TLS connections apart from the others"},
	"maxcomprate":                    {1, "lb does not rate-limit compression"},
	"maxcompcpuusage":                {1, "lb does not meter compression's CPU"},
	"maxzlibmem":                     {1, "lb's compressors are not accounted for apart"},
	"master-worker":                  {-1, "lb runs as one process"},
	"httpclient.resolvers.prefer":    {1, "lb has no HTTP client"},
	"httpclient.resolvers.id":        {1, "lb has no HTTP client"},
	"httpclient.ssl.verify":          {1, "lb has no HTTP client"},
	"httpclient.ssl.ca-file":         {1, "lb has no HTTP client"},
}

// refusedGlobal are keywords lb refuses with the reason, rather than as
// unknown.
var refusedGlobal = map[string]string{
	"localpeer": "lb reads no peers sections and syncs no stick table",
	"unix-bind": "lb binds no UNIX sockets",
	"nbproc":    "nbproc is not supported any more since HAProxy 2.5; threads are used instead",
}

func init() {
	for kw, ne := range noEffect {
		globalKeywords[kw] = func(p *parser, a []string) error {
			if ne.args >= 0 && len(a) != ne.args {
				return fmt.Errorf("'%s' expects %d argument(s)", kw, ne.args)
			}
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: '%s' has no effect: %s", p.pos, kw, ne.why))
			return nil
		}
	}
	for kw, why := range refusedGlobal {
		globalKeywords[kw] = func(*parser, []string) error { return fmt.Errorf("%w: %s", ErrUnsupported, why) }
	}
	globalKeywords["quiet"] = func(p *parser, a []string) error {
		p.cfg.Global.Quiet = true
		return noArgs(a)
	}
	globalKeywords["zero-warning"] = func(p *parser, a []string) error {
		p.cfg.Global.ZeroWarning = true
		return noArgs(a)
	}
	globalKeywords["strict-limits"] = func(p *parser, a []string) error {
		p.cfg.Global.StrictLimits = true
		return noArgs(a)
	}
	globalKeywords["set-dumpable"] = func(p *parser, a []string) error {
		p.cfg.Global.SetDumpable = true
		return noArgs(a)
	}
	globalKeywords["tune.h2.initial-window-size"] = func(p *parser, a []string) error {
		return h2Setting(a, 1, 1<<31-1, &p.cfg.Global.H2InitialWindow)
	}
	globalKeywords["tune.h2.max-concurrent-streams"] = func(p *parser, a []string) error {
		return h2Setting(a, 1, 1<<31-1, &p.cfg.Global.H2MaxStreams)
	}
	globalKeywords["tune.comp.maxlevel"] = func(p *parser, a []string) error {
		return oneInt(a, 1, 9, &p.cfg.Global.CompMaxLevel)
	}
}

// h2Setting reads one HTTP/2 setting's value within [lo, hi].
func h2Setting(a []string, lo, hi int, dst *uint32) error {
	if len(a) != 1 {
		return errors.New("expects an integer")
	}
	n, err := strconv.Atoi(a[0])
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("'%s' is not an integer in range %d..%d", a[0], lo, hi)
	}
	*dst = uint32(n)
	return nil
}
