package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Global keywords that tune HAProxy's own machinery. Those lb has an
// equivalent for set it; those it has none for are read, checked as
// HAProxy checks them, and left without effect and without a warning
// (HAProxy gives none, and "zero-warning" must not stop a configuration
// it starts), so that a configuration written for HAProxy runs
// unchanged; the reasons below say why each changes nothing.

// noEffect are the keywords lb reads and leaves alone: how many arguments
// each takes (-1 for any), and why it changes nothing in lb.
var noEffect = map[string]struct {
	args int
	why  string
}{
	"tune.idletimer":                 {1, "lb sizes its reads without an idle timer"},
	"tune.maxaccept":                 {1, "each lb listener accepts as its goroutine is scheduled"},
	"tune.maxpollevents":             {1, "the Go runtime sizes its poller's batches"},
	"tune.ssl.maxrecord":             {1, "Go's TLS sizes its records itself"},
	"tune.runqueue-depth":            {1, "lb's tasks are goroutines, which the Go runtime schedules"},
	"tune.recv_enough":               {1, "lb forwards what a read brings at once"},
	"tune.listener.multi-queue":      {1, "lb's listeners have one accept queue each"},
	"noepoll":                        {0, "the Go runtime chooses the poller"},
	"busy-polling":                   {0, "the Go runtime chooses how to wait"},
	"numa-cpu-mapping":               {0, "lb does not bind threads to NUMA nodes"},
	"expose-experimental-directives": {0, "lb has no experimental directive"},
	"profiling.tasks":                {1, "lb has no task profiler"},
	"nogetaddrinfo":                  {0, "lb resolves names with Go's resolver"},
	"max-spread-checks":              {1, "lb spreads its first checks over each server's interval"},
	"grace":                          {1, "lb stops accepting at once on SIGUSR1"},
	"maxsslconn":                     {1, "lb does not count TLS connections apart from the others"},
	"maxcomprate":                    {1, "lb does not rate-limit compression"},
	"maxcompcpuusage":                {1, "lb does not meter compression's CPU"},
	"maxzlibmem":                     {1, "lb's compressors are not accounted for apart"},
	"mworker-max-reloads":            {1, "lb reloads inside its one process, which has no old workers to stop"},
	"httpclient.resolvers.prefer":    {1, "the scripts' HTTP client resolves names with Go's resolver"},
	"httpclient.resolvers.id":        {1, "the scripts' HTTP client resolves names with Go's resolver"},
	"httpclient.ssl.verify":          {1, "the scripts' HTTP client verifies servers with Go's TLS defaults"},
	"httpclient.ssl.ca-file":         {1, "the scripts' HTTP client trusts the system's CAs"},
}

// refusedGlobal are keywords lb refuses with the reason, rather than as
// unknown.
var refusedGlobal = map[string]string{
	"nbproc": "nbproc is not supported any more since HAProxy 2.5; threads are used instead",
}

func init() {
	for kw, ne := range noEffect {
		globalKeywords[kw] = func(p *parser, a []string) error {
			if ne.args >= 0 && len(a) != ne.args {
				return fmt.Errorf("'%s' expects %d argument(s)", kw, ne.args)
			}
			return nil
		}
	}
	for kw, why := range refusedGlobal {
		globalKeywords[kw] = func(*parser, []string) error { return fmt.Errorf("%w: %s", ErrUnsupported, why) }
	}
	globalKeywords["master-worker"] = parseMasterWorker
	globalKeywords["unix-bind"] = parseUnixBind
	finishers = append(finishers, (*parser).applyUnixBind)
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

// UnixBind holds "unix-bind": defaults for the UNIX sockets bind lines
// open.
type UnixBind struct {
	// Prefix goes before every socket path, as HAProxy puts it.
	Prefix string
	// Mode, UID and GID are the file's mode and owner when the bind line
	// sets none; -1 leaves them as the process creates them.
	Mode, UID, GID int
}

// parseUnixBind reads "unix-bind [prefix P] [mode M] [user U|uid N]
// [group G|gid N]".
func parseUnixBind(p *parser, a []string) error {
	u := UnixBind{Mode: -1, UID: -1, GID: -1}
	if len(a) == 0 || len(a)%2 != 0 {
		return errors.New("expects pairs of 'prefix', 'mode', 'user', 'uid', 'group' or 'gid' and a value")
	}
	for i := 0; i < len(a); i += 2 {
		v := a[i+1 : i+2]
		var err error
		switch a[i] {
		case "prefix":
			u.Prefix = v[0]
		case "mode":
			n, perr := strconv.ParseUint(v[0], 8, 32)
			if perr != nil || n > 0o7777 {
				err = fmt.Errorf("'%s' is not an octal file mode", v[0])
			}
			u.Mode = int(n)
		case "uid":
			err = oneInt(v, 0, 1<<31-1, &u.UID)
		case "gid":
			err = oneInt(v, 0, 1<<31-1, &u.GID)
		case "user":
			err = lookupID(v, false, &u.UID)
		case "group":
			err = lookupID(v, true, &u.GID)
		default:
			err = fmt.Errorf("unknown option '%s'", a[i])
		}
		if err != nil {
			return err
		}
	}
	p.cfg.Global.UnixBind = u
	return nil
}

// applyUnixBind gives the UNIX sockets of bind lines the unix-bind
// defaults: the prefix before their path, and a mode and owner the line
// does not set.
func (p *parser) applyUnixBind() {
	u := p.cfg.Global.UnixBind
	for _, px := range p.cfg.Proxies {
		for i := range px.Binds {
			b := &px.Binds[i]
			unix := false
			for j, addr := range b.Addrs {
				if path, ok := strings.CutPrefix(addr, UnixPrefix); ok {
					unix = true
					if u.Prefix != "" {
						// As HAProxy, before any path, absolute ones too.
						b.Addrs[j] = UnixPrefix + u.Prefix + path
					}
				}
			}
			if !unix {
				continue
			}
			if b.UnixMode < 0 {
				b.UnixMode = u.Mode
			}
			if b.UnixUID < 0 {
				b.UnixUID = u.UID
			}
			if b.UnixGID < 0 {
				b.UnixGID = u.GID
			}
		}
	}
}
