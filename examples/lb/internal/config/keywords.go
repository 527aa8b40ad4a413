package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// The keyword tables. Adding a keyword is adding an entry: the parser finds
// it by name, checks the section kind against kinds, and calls parse with
// the words after the keyword.

// globalKeywords are the keywords of the global section.
var globalKeywords = map[string]func(p *parser, args []string) error{
	"maxconn": func(p *parser, a []string) error {
		return oneInt(a, 0, 1<<30, &p.cfg.Global.MaxConn)
	},
	"nbthread": func(p *parser, a []string) error {
		return oneInt(a, 1, 4096, &p.cfg.Global.NbThread)
	},
	"log": func(p *parser, a []string) error {
		l, err := parseLog(p.pos, a)
		if err != nil {
			return err
		}
		p.cfg.Global.Logs = append(p.cfg.Global.Logs, l)
		return nil
	},
	"tune.bufsize": func(p *parser, a []string) error {
		if err := oneSize(a, &p.cfg.Global.BufSize); err != nil {
			return err
		}
		if p.cfg.Global.BufSize < 1024 {
			return fmt.Errorf("%d too small (at least 1024)", p.cfg.Global.BufSize)
		}
		return nil
	},
	"tune.ssl.default-dh-param": func(p *parser, a []string) error {
		var n int
		if err := oneInt(a, 0, 1<<20, &n); err != nil {
			return err
		}
		if n < 1024 {
			return fmt.Errorf("expects a value >= 1024, not %d", n)
		}
		// Go's TLS has no finite-field Diffie-Hellman key exchange, so
		// there are no DHE parameters to size: left alone.
		return nil
	},
	"ssl-dh-param-file": parseDHParamFile,
	"cpu-map":           parseCPUMap,
	"tune.maxrewrite":   func(p *parser, a []string) error { return oneInt(a, 0, 1<<30, &p.cfg.Global.MaxRewrite) },
	"tune.http.maxhdr": func(p *parser, a []string) error {
		return oneInt(a, 1, 32767, &p.cfg.Global.MaxHTTPHeaders)
	},
	"tune.pipesize":      func(p *parser, a []string) error { return oneSize(a, &p.cfg.Global.PipeSize) },
	"maxpipes":           func(p *parser, a []string) error { return oneInt(a, 0, 1<<30, &p.cfg.Global.MaxPipes) },
	"tune.rcvbuf.client": func(p *parser, a []string) error { return oneSize(a, &p.cfg.Global.RcvBufClient) },
	"tune.rcvbuf.server": func(p *parser, a []string) error { return oneSize(a, &p.cfg.Global.RcvBufServer) },
	"tune.sndbuf.client": func(p *parser, a []string) error { return oneSize(a, &p.cfg.Global.SndBufClient) },
	"tune.sndbuf.server": func(p *parser, a []string) error { return oneSize(a, &p.cfg.Global.SndBufServer) },
	"daemon": func(p *parser, a []string) error {
		p.cfg.Global.Daemon = true
		return noArgs(a)
	},
	"pidfile": func(p *parser, a []string) error { return oneString(a, "file name", &p.cfg.Global.PidFile) },
	"chroot":  func(p *parser, a []string) error { return oneString(a, "directory", &p.cfg.Global.Chroot) },
	"server-state-file": func(p *parser, a []string) error {
		return oneString(a, "file name", &p.cfg.Global.ServerStateFile)
	},
	"server-state-base": func(p *parser, a []string) error {
		return oneString(a, "directory", &p.cfg.Global.ServerStateBase)
	},
	"user":  func(p *parser, a []string) error { return lookupID(a, false, &p.cfg.Global.UID) },
	"uid":   func(p *parser, a []string) error { return oneInt(a, 0, 1<<31-1, &p.cfg.Global.UID) },
	"group": func(p *parser, a []string) error { return lookupID(a, true, &p.cfg.Global.GID) },
	"gid":   func(p *parser, a []string) error { return oneInt(a, 0, 1<<31-1, &p.cfg.Global.GID) },
	"log-send-hostname": func(p *parser, a []string) error {
		switch len(a) {
		case 0:
			h, err := os.Hostname()
			if err != nil {
				return fmt.Errorf("cannot read the host name: %w", err)
			}
			p.cfg.Global.LogSendHostname = h
		case 1:
			p.cfg.Global.LogSendHostname = a[0]
		default:
			return errors.New("expects at most one host name")
		}
		return nil
	},
	"log-tag": func(p *parser, a []string) error { return oneString(a, "tag", &p.cfg.Global.LogTag) },
	"nosplice": func(p *parser, a []string) error {
		p.cfg.Global.NoSplice = true
		return noArgs(a)
	},
	"noreuseport": func(p *parser, a []string) error {
		p.cfg.Global.NoReusePort = true
		return noArgs(a)
	},
	"hard-stop-after": func(p *parser, a []string) error {
		if len(a) != 1 {
			return errors.New("expects a time")
		}
		d, err := ParseTime(a[0])
		if err != nil {
			return err
		}
		p.cfg.Global.HardStopAfter = d
		return nil
	},
	"ulimit-n":    func(p *parser, a []string) error { return oneInt(a, 0, 1<<30, &p.cfg.Global.UlimitN) },
	"maxconnrate": func(p *parser, a []string) error { return oneInt(a, 0, 1<<30, &p.cfg.Global.MaxConnRate) },
	"maxsslrate":  func(p *parser, a []string) error { return oneInt(a, 0, 1<<30, &p.cfg.Global.MaxSSLRate) },
	"maxsessrate": func(p *parser, a []string) error { return oneInt(a, 0, 1<<30, &p.cfg.Global.MaxSessRate) },
	"spread-checks": func(p *parser, a []string) error {
		if len(a) != 1 {
			return errors.New("expects a percentage in range 0..50")
		}
		n, err := strconv.Atoi(a[0])
		if err != nil || n < 0 || n > 50 {
			return fmt.Errorf("'%s' is not a percentage in range 0..50", a[0])
		}
		p.cfg.Global.SpreadChecks = n
		return nil
	},
	"node": func(p *parser, a []string) error { return oneString(a, "name", &p.cfg.Global.Node) },
	// setenv, presetenv, unsetenv and resetenv change the environment as the file
	// is read, so later ${NAME} expansions see the change, as in HAProxy.
	"setenv": func(_ *parser, a []string) error {
		if len(a) != 2 || a[0] == "" {
			return errors.New("'setenv' expects a name and a value")
		}
		return os.Setenv(a[0], a[1])
	},
	"presetenv": func(_ *parser, a []string) error {
		if len(a) != 2 || a[0] == "" {
			return errors.New("'presetenv' expects a name and a value")
		}
		if _, set := os.LookupEnv(a[0]); set {
			return nil
		}
		return os.Setenv(a[0], a[1])
	},
	// resetenv clears the environment but for the names given.
	"resetenv": func(_ *parser, a []string) error {
		for _, kv := range os.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(a, name) {
				if err := os.Unsetenv(name); err != nil {
					return err
				}
			}
		}
		return nil
	},
	"insecure-setuid-wanted": func(p *parser, a []string) error {
		if len(a) > 0 {
			return fmt.Errorf("'insecure-setuid-wanted' cannot handle unexpected argument '%s'", a[0])
		}
		p.cfg.Global.InsecureSetuidWanted = true
		return nil
	},
	"unsetenv": func(_ *parser, a []string) error {
		if len(a) == 0 {
			return errors.New("'unsetenv' expects at least one variable name")
		}
		for _, n := range a {
			if err := os.Unsetenv(n); err != nil {
				return err
			}
		}
		return nil
	},
	"description": func(p *parser, a []string) error {
		if len(a) == 0 {
			return errors.New("expects a string")
		}
		p.cfg.Global.Description = strings.Join(a, " ")
		return nil
	},
}

type proxyKeyword struct {
	kinds Kind // section kinds accepting it (KindDefaults included if defaults may set it)
	parse func(p *parser, px *Proxy, args []string) error
}

const (
	kAll   = KindDefaults | KindFrontend | KindBackend
	kFeDef = KindDefaults | KindFrontend
	kBeDef = KindDefaults | KindBackend
)

var proxyKeywords map[string]proxyKeyword

func init() {
	// Built in init because "option" and "timeout" refer back to tables.
	proxyKeywords = map[string]proxyKeyword{
		"mode": {kAll, func(_ *parser, px *Proxy, a []string) error {
			if len(a) != 1 {
				return errors.New("expects 'tcp' or 'http'")
			}
			switch a[0] {
			case "tcp", "http":
			default:
				return fmt.Errorf("unknown mode '%s' (expects 'tcp' or 'http')", a[0])
			}
			px.Mode = a[0]
			return nil
		}},
		"bind":            {KindFrontend, parseBind},
		"server":          {KindBackend, parseServer},
		"server-template": {KindBackend, parseServerTemplate},
		"maxconn":         {kFeDef, func(_ *parser, px *Proxy, a []string) error { return oneInt(a, 0, 1<<30, &px.MaxConn) }},
		"fullconn":        {kBeDef, func(_ *parser, px *Proxy, a []string) error { return oneInt(a, 0, 1<<30, &px.FullConn) }},
		"disabled":        {kAll, func(_ *parser, px *Proxy, a []string) error { px.Disabled = true; return noArgs(a) }},
		"enabled":         {kAll, func(_ *parser, px *Proxy, a []string) error { px.Disabled = false; return noArgs(a) }},
		"backlog":         {kFeDef, func(_ *parser, px *Proxy, a []string) error { return oneInt(a, 1, 1<<30, &px.Backlog) }},
		"description": {KindFrontend | KindBackend, func(_ *parser, px *Proxy, a []string) error {
			if len(a) == 0 {
				return errors.New("expects a string")
			}
			px.Description = strings.Join(a, " ")
			return nil
		}},
		"id": {KindFrontend | KindBackend, func(p *parser, px *Proxy, a []string) error {
			px.IDPos = p.pos
			return oneInt(a, 1, 1<<31-1, &px.ID)
		}},
		"source": {kBeDef, func(_ *parser, px *Proxy, a []string) error {
			if len(a) != 1 {
				return fmt.Errorf("%w: 'source' takes one address (usesrc and interface are not supported)", ErrUnsupported)
			}
			addr, err := ParseAddr(a[0], false)
			if err != nil {
				return err
			}
			px.Source = addr
			return nil
		}},
		"rate-limit": {kFeDef, func(_ *parser, px *Proxy, a []string) error {
			if len(a) == 0 || a[0] != "sessions" {
				return errors.New("expects 'rate-limit sessions <rate>' (only 'sessions' is supported)")
			}
			return oneInt(a[1:], 0, 1<<30, &px.RateLimitSessions)
		}},
		// unique-id-format and unique-id-header: a backend checks them
		// and, as HAProxy's, leaves them unused (the frontend's make the
		// ID and its header).
		"unique-id-format": {kAll, func(p *parser, px *Proxy, a []string) error {
			if len(a) == 0 {
				return errors.New("unique-id-format expects an argument")
			}
			if len(a) > 1 {
				return errors.New("unique-id-format expects only one argument, don't forget to escape spaces")
			}
			f, err := ParseLogFormat(a[0])
			if err != nil {
				return err
			}
			for _, it := range f {
				if fetch, _, err := acl.CompileFetch(it.Expr); it.Expr != "" && err == nil && fetch.Name == "unique-id" {
					return errors.New("the format may not use the unique-id fetch, which it makes")
				}
			}
			if px.Kind != KindBackend {
				px.UniqueIDFormat = f
			}
			return nil
		}},
		"log-tag": {kAll, func(p *parser, px *Proxy, a []string) error {
			return oneString(a, "tag", &px.LogTag)
		}},
		// Read, and warned about: nothing for lb to do with them.
		"bind-process": {kAll, func(p *parser, px *Proxy, a []string) error {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'bind-process' has no effect, is deprecated, and will be removed in version 2.7.", p.pos))
			return nil
		}},
		"http-send-name-header": {kBeDef, func(p *parser, px *Proxy, a []string) error {
			if len(a) != 1 {
				return errors.New("'http-send-name-header' requires a header string")
			}
			px.SendNameHeader = a[0]
			return nil
		}},
		"unique-id-header": {kAll, func(p *parser, px *Proxy, a []string) error {
			if len(a) == 0 {
				return errors.New("unique-id-header expects an argument")
			}
			if px.Kind != KindBackend {
				px.UniqueIDHeader = a[0] // words after the name are not read
			}
			return nil
		}},
		"log-format": {kFeDef, func(p *parser, px *Proxy, a []string) error {
			if len(a) != 1 {
				return errors.New("expects exactly one argument (quote the format)")
			}
			f, err := ParseLogFormat(a[0])
			if err != nil {
				return err
			}
			if px.Kind == KindFrontend {
				// nbsrv without a name counts the proxy's own servers:
				// a frontend has none, and haproxy refuses it there.
				for _, it := range f {
					name, arg, _ := strings.Cut(it.Expr, "(")
					if name, _, _ = strings.Cut(name, ","); name == "nbsrv" && (arg == "" || strings.HasPrefix(arg, ")")) {
						return fmt.Errorf("fetch 'nbsrv' needs a backend name here: %s '%s' has no servers", px.Kind, px.Name)
					}
				}
			}
			px.LogFormat, px.LogFormatPos = f, p.pos
			return nil
		}},
		"default_backend": {kFeDef, func(p *parser, px *Proxy, a []string) error {
			if len(a) != 1 {
				return errors.New("expects a backend name")
			}
			px.DefaultBackend, px.DefaultBackendPos = a[0], p.pos
			return nil
		}},
		"balance": {kBeDef, func(_ *parser, px *Proxy, a []string) error {
			if len(a) == 0 {
				// As in HAProxy, a bare "balance" means roundrobin.
				px.Balance = "roundrobin"
				return nil
			}
			if len(a) != 1 {
				return errors.New("expects an algorithm (roundrobin, static-rr, leastconn, first, source)")
			}
			if _, ok := balanceAlgorithms[a[0]]; !ok {
				return fmt.Errorf("unknown algorithm '%s' (supported: %s)", a[0], strings.Join(sortedKeys(balanceAlgorithms), ", "))
			}
			px.Balance = a[0]
			return nil
		}},
		"cookie": {kBeDef, parseCookie},
		"dynamic-cookie-key": {kBeDef, func(_ *parser, px *Proxy, a []string) error {
			// Words after the key are ignored, as HAProxy ignores them.
			if len(a) == 0 || a[0] == "" {
				return errors.New("'dynamic-cookie-key' expects <secret_key> as argument")
			}
			px.DynamicCookieKey = a[0]
			return nil
		}},
		// persist: as in HAProxy, words after a bare rdp-cookie are not
		// read (after rdp-cookie(NAME) they are refused), and a frontend
		// checks the line and has no use for it.
		"persist": {kAll, func(_ *parser, px *Proxy, a []string) error {
			switch {
			case len(a) == 0:
				return errors.New("missing persist method")
			case !strings.HasPrefix(a[0], "rdp-cookie"):
				return fmt.Errorf("unknown persist method '%s' (rdp-cookie is)", a[0])
			case len(a) > 1 && strings.Contains(a[0], "("):
				return fmt.Errorf("'persist' cannot handle unexpected argument '%s'", a[1])
			}
			name, err := rdpCookieName(a[0][len("rdp-cookie"):], "msts")
			if err != nil {
				return errors.New("persist rdp-cookie(name)' requires an rdp cookie name")
			}
			if px.Kind != KindFrontend {
				px.PersistRDPCookie = name
			}
			return nil
		}},
		"retries":  {kBeDef, func(_ *parser, px *Proxy, a []string) error { return oneInt(a, 0, 1000, &px.Retries) }},
		"retry-on": {kBeDef, parseRetryOn},
		"load-server-state-from-file": {kBeDef, func(_ *parser, px *Proxy, a []string) error {
			if len(a) != 1 || a[0] != "global" && a[0] != "local" && a[0] != "none" {
				return errors.New("expects 'global', 'local' or 'none'")
			}
			px.LoadServerState = a[0]
			return nil
		}},
		"server-state-file-name": {kBeDef, func(_ *parser, px *Proxy, a []string) error {
			switch len(a) {
			case 0:
				px.ServerStateFileName = "use-backend-name"
			case 1:
				px.ServerStateFileName = a[0]
			default:
				return errors.New("expects at most one file name")
			}
			return nil
		}},
		"timeout": {kAll, parseTimeout},
		"option":  {kAll, nil}, // dispatched to optionKeywords by the parser
		"log": {kAll, func(p *parser, px *Proxy, a []string) error {
			if len(a) == 1 && a[0] == "global" {
				px.LogGlobal, px.logGlobalAt = true, len(p.cfg.Global.Logs)
				return nil
			}
			l, err := parseLog(p.pos, a)
			if err != nil {
				return err
			}
			px.Logs = append(px.Logs, l)
			return nil
		}},
		"default-server": {kBeDef, func(_ *parser, px *Proxy, a []string) error {
			return parseServerOptions(&px.DefaultServer, a)
		}},
	}
}

// balanceAlgorithms lists the accepted "balance" values.
var balanceAlgorithms = map[string]struct{}{
	"roundrobin": {}, "static-rr": {}, "leastconn": {}, "first": {}, "source": {},
}

type optionKeyword struct {
	kinds Kind
	parse func(px *Proxy, args []string, on bool) error
}

func flag(get func(*Options) *bool) func(*Proxy, []string, bool) error {
	return func(px *Proxy, a []string, on bool) error {
		if err := noArgs(a); err != nil {
			return err
		}
		*get(&px.Options) = on
		return nil
	}
}

// optionKeywords are the "option X" (and "no option X") switches.
var optionKeywords = map[string]optionKeyword{
	"tcplog": {KindFrontend, func(px *Proxy, a []string, on bool) error {
		if err := flag(func(o *Options) *bool { return &o.TCPLog })(px, a, on); err != nil || !on {
			return err
		}
		// As in HAProxy, the later of log-format and the option wins.
		px.LogFormat = nil
		return nil
	}},
	"dontlognull":         {KindFrontend, flag(func(o *Options) *bool { return &o.DontLogNull })},
	"http-ignore-probes":  {KindFrontend, flag(func(o *Options) *bool { return &o.IgnoreProbes })},
	"disable-h2-upgrade":  {KindFrontend, flag(func(o *Options) *bool { return &o.DisableH2Upgrade })},
	"dontlog-normal":      {KindFrontend, flag(func(o *Options) *bool { return &o.DontLogNormal })},
	"log-separate-errors": {KindFrontend, flag(func(o *Options) *bool { return &o.LogSeparateErrors })},
	"log-health-checks":   {kBeDef, flag(func(o *Options) *bool { return &o.LogHealthChecks })},
	"logasap":             {kFeDef, flag(func(o *Options) *bool { return &o.LogASAP })},
	"splice-auto":         {kAll, flag(func(o *Options) *bool { return &o.SpliceAuto })},
	"splice-request":      {kAll, flag(func(o *Options) *bool { return &o.SpliceRequest })},
	"splice-response":     {kAll, flag(func(o *Options) *bool { return &o.SpliceResponse })},
	"allbackups":          {KindBackend, flag(func(o *Options) *bool { return &o.AllBackups })},
	"persist":             {KindBackend, flag(func(o *Options) *bool { return &o.Persist })},
	"prefer-last-server":  {KindBackend, flag(func(o *Options) *bool { return &o.PreferLastServer })},
	"nolinger":            {kAll, flag(func(o *Options) *bool { return &o.NoLinger })},
	"tcp-smart-connect":   {KindBackend, flag(func(o *Options) *bool { return &o.SmartConnect })},
	"abortonclose":        {KindBackend, flag(func(o *Options) *bool { return &o.AbortOnClose })},
	"contstats":           {KindFrontend, flag(func(o *Options) *bool { return &o.ContStats })},
	"http-buffer-request": {kAll, flag(func(o *Options) *bool { return &o.BufferRequest })},
	"tcp-smart-accept": {KindFrontend, func(px *Proxy, a []string, on bool) error {
		if err := noArgs(a); err != nil {
			return err
		}
		px.Options.SmartAccept, px.Options.SmartAcceptSet = on, true
		return nil
	}},
	"redispatch": {KindBackend, func(px *Proxy, a []string, on bool) error {
		// "option redispatch [interval]": every interval-th retry moves
		// (interval > 0), the last -interval-th before the end (< 0; -1,
		// the last retry, by default), none (0).
		if len(a) > 1 {
			return fmt.Errorf("expects at most one interval, not '%s'", strings.Join(a, " "))
		}
		px.Options.Redispatch, px.Options.RedispatchAfter = on, -1
		if len(a) == 1 {
			n, err := strconv.Atoi(a[0])
			if err != nil {
				return fmt.Errorf("redispatch interval '%s' is not an integer", a[0])
			}
			px.Options.RedispatchAfter = n
			px.Options.Redispatch = on && n != 0
		}
		return nil
	}},
}

// timeoutKeywords map "timeout X" to the field it sets.
var timeoutKeywords = map[string]struct {
	kinds Kind
	field func(*Timeouts) *timeDur
}{
	"connect":    {KindBackend, func(t *Timeouts) *timeDur { return &t.Connect }},
	"client":     {KindFrontend, func(t *Timeouts) *timeDur { return &t.Client }},
	"server":     {KindBackend, func(t *Timeouts) *timeDur { return &t.Server }},
	"tunnel":     {KindBackend, func(t *Timeouts) *timeDur { return &t.Tunnel }},
	"queue":      {KindBackend, func(t *Timeouts) *timeDur { return &t.Queue }},
	"check":      {KindBackend, func(t *Timeouts) *timeDur { return &t.Check }},
	"client-fin": {KindFrontend, func(t *Timeouts) *timeDur { return &t.ClientFin }},
	"server-fin": {KindBackend, func(t *Timeouts) *timeDur { return &t.ServerFin }},
}

// parseTimeout reads "timeout <name> <time>". A timeout for the side a
// section lacks (client in a backend, server in a frontend) is ignored
// with HAProxy's warning once its value has been checked.
func parseTimeout(p *parser, px *Proxy, a []string) error {
	if len(a) != 2 {
		return errors.New("expects 'timeout <name> <time>'")
	}
	t, ok := timeoutKeywords[a[0]]
	if !ok {
		return fmt.Errorf("%w: timeout '%s' (known: %s)", ErrUnknownKeyword, a[0], strings.Join(sortedKeys(timeoutKeywords), ", "))
	}
	d, err := ParseTime(a[1])
	if err != nil {
		return err
	}
	if px.Kind != KindDefaults && t.kinds&px.Kind == 0 {
		kind, missing := capabilityNames(px.Kind)
		p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'timeout %s' will be ignored because %s '%s' has no %s capability", p.pos, a[0], kind, px.Name, missing))
		return nil
	}
	*t.field(&px.Timeouts) = d
	return nil
}

// bindOptions are the words after a bind address.
var bindOptions = map[string]struct {
	args  int
	apply func(b *Bind, a []string) error
}{
	"accept-proxy": {0, func(b *Bind, _ []string) error { b.AcceptProxy = true; return nil }},
	"backlog":      {1, func(b *Bind, a []string) error { return oneInt(a, 1, 1<<30, &b.Backlog) }},
	"defer-accept": {0, func(b *Bind, _ []string) error { b.DeferAccept = true; return nil }},
	"tfo":          {0, func(b *Bind, _ []string) error { b.FastOpen = true; return nil }},
	"tcp-ut": {1, func(b *Bind, a []string) error {
		d, err := ParseTime(a[0]) // 0 keeps the system's
		b.UserTimeout = d
		return err
	}},
	"mss": {1, func(b *Bind, a []string) error {
		n, err := strconv.Atoi(a[0])
		if err != nil || n == 0 || n > 65535 || n < -65535 {
			return errors.New("expects an MSS with an absolute value between 1 and 65535")
		}
		b.MaxSeg = n
		return nil
	}},
	"interface":   {1, func(b *Bind, a []string) error { b.Interface = a[0]; return nil }},
	"transparent": {0, func(b *Bind, _ []string) error { b.Transparent = true; return nil }},
	"v4v6":        {0, func(b *Bind, _ []string) error { b.V6Only = "v4v6"; return nil }},
	"v6only":      {0, func(b *Bind, _ []string) error { b.V6Only = "v6only"; return nil }},
	"id":          {1, func(b *Bind, a []string) error { return oneInt(a, 1, math.MaxInt32, &b.ID) }},
	// The owner and mode of a UNIX socket's file.
	"mode": {1, func(b *Bind, a []string) error {
		n, err := strconv.ParseUint(a[0], 8, 32)
		if err != nil || n > 0o7777 {
			return fmt.Errorf("'%s' is not an octal file mode", a[0])
		}
		b.UnixMode = int(n)
		return nil
	}},
	"uid":     {1, func(b *Bind, a []string) error { return oneInt(a, 0, math.MaxInt32, &b.UnixUID) }},
	"gid":     {1, func(b *Bind, a []string) error { return oneInt(a, 0, math.MaxInt32, &b.UnixGID) }},
	"user":    {1, func(b *Bind, a []string) error { return lookupID(a, false, &b.UnixUID) }},
	"group":   {1, func(b *Bind, a []string) error { return lookupID(a, true, &b.UnixGID) }},
	"nice":    {1, func(b *Bind, a []string) error { return oneInt(a, -1024, 1024, &b.Nice) }},
	"maxconn": {1, func(b *Bind, a []string) error { return oneInt(a, 1, 1<<30, &b.MaxConn) }},
	"name":    {1, func(b *Bind, a []string) error { b.Name = a[0]; return nil }},
}

// maxBindRange bounds the ports one "ADDR:LOW-HIGH" may open.
const maxBindRange = 4096

// bindAddrs reads one address of a bind line: ADDR:PORT, or ADDR:LOW-HIGH
// for every port from LOW to HIGH, as HAProxy binds them.
func bindAddrs(s string) ([]string, error) {
	s, err := envAddr(s)
	if err != nil {
		return nil, err
	}
	if addr, ok, err := unixAddr(s); ok {
		if err != nil {
			return nil, err
		}
		return []string{addr}, nil
	}
	colon := strings.LastIndexByte(s, ':')
	dash := strings.IndexByte(s[colon+1:], '-')
	if colon < 0 || dash < 0 {
		addr, err := ParseAddr(s, true)
		return []string{addr}, err
	}
	host, ports := s[:colon], s[colon+1:]
	lo, err1 := parseInt(ports[:dash], 1, 65535)
	hi, err2 := parseInt(ports[dash+1:], 1, 65535)
	if err := cmp.Or(err1, err2); err != nil {
		return nil, fmt.Errorf("address %q: port range: %w", s, err)
	}
	if lo > hi || hi-lo >= maxBindRange {
		return nil, fmt.Errorf("address %q: port range %d-%d: expects LOW-HIGH with LOW <= HIGH, %d ports at most", s, lo, hi, maxBindRange)
	}
	var addrs []string
	for port := lo; port <= hi; port++ {
		addr, err := ParseAddr(host+":"+strconv.Itoa(port), true)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

func parseBind(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects an address (ADDR:PORT)")
	}
	b := Bind{Pos: p.pos, UnixMode: -1, UnixUID: -1, UnixGID: -1}
	for _, one := range strings.Split(a[0], ",") {
		addrs, err := bindAddrs(one)
		if err != nil {
			return err
		}
		b.Addrs = append(b.Addrs, addrs...)
	}
	for i := 1; i < len(a); i++ {
		if a[i] == "process" || a[i] == "thread" {
			// HAProxy 2.6 runs one process: "process" is checked and
			// deprecated, "thread" taken; neither changes anything.
			if i+1 >= len(a) || a[i+1] == "" {
				return fmt.Errorf("'%s' expects a process/thread set", a[i])
			}
			if a[i] == "process" {
				set, thread, slash := strings.Cut(a[i+1], "/")
				if err := statsBindProcess([]string{set}); err != nil {
					return fmt.Errorf("'process' %s", strings.TrimPrefix(err.Error(), "'stats bind-process' "))
				}
				hint := ""
				if slash {
					hint = fmt.Sprintf(" Please use 'thread %s' instead.", thread)
				}
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: 'bind %s' in section '%s' : 'process %s' on 'bind' lines is deprecated and will be removed in 2.7.%s", p.pos, a[0], p.section, a[i+1], hint))
			}
			i++
			continue
		}
		o, ok := bindOptions[a[i]]
		if !ok {
			return fmt.Errorf("%w: bind option '%s'", ErrUnknownKeyword, a[i])
		}
		if len(a)-i-1 < o.args {
			return fmt.Errorf("bind option '%s' expects %d argument(s)", a[i], o.args)
		}
		if err := o.apply(&b, a[i+1:i+1+o.args]); err != nil {
			return fmt.Errorf("bind option '%s': %w", a[i], err)
		}
		i += o.args
	}
	if b.ID != 0 {
		if len(b.Addrs) > 1 {
			return errors.New("'id' can only be used with a single socket")
		}
		for _, o := range px.Binds {
			if o.ID == b.ID {
				return fmt.Errorf("'id' : custom id %d already used at %s ('bind %s')", b.ID, o.Pos, strings.Join(o.Addrs, ","))
			}
		}
	}
	b.SSL.Config.Dir = p.baseDir
	px.Binds = append(px.Binds, b)
	return nil
}

// serverOption is one word after a server address: how many arguments
// follow it and what it sets.
type serverOption struct {
	args  int
	apply func(s *Server, a []string) error
}

// serverOptions are the words after a server address (and on default-server).
var serverOptions = map[string]serverOption{
	"weight":   {1, func(s *Server, a []string) error { return oneInt(a, 0, MaxWeight, &s.Weight) }},
	"maxconn":  {1, func(s *Server, a []string) error { return oneInt(a, 0, 1<<30, &s.MaxConn) }},
	"minconn":  {1, func(s *Server, a []string) error { return oneInt(a, 0, 1<<30, &s.MinConn) }},
	"maxqueue": {1, func(s *Server, a []string) error { return oneInt(a, 0, 1<<30, &s.MaxQueue) }},
	"id":       {1, func(s *Server, a []string) error { return oneInt(a, 1, 1<<30, &s.ID) }},
	"check":    {0, func(s *Server, _ []string) error { s.Check = true; return nil }},
	"no-check": {0, func(s *Server, _ []string) error { s.Check = false; return nil }},
	"rise":     {1, func(s *Server, a []string) error { return oneInt(a, 1, 1<<20, &s.Rise) }},
	"fall":     {1, func(s *Server, a []string) error { return oneInt(a, 1, 1<<20, &s.Fall) }},
	"backup":   {0, func(s *Server, _ []string) error { s.Backup = true; return nil }},
	// The no- forms undo what a default-server line set.
	"no-backup":        {0, func(s *Server, _ []string) error { s.Backup = false; return nil }},
	"no-send-proxy":    {0, func(s *Server, _ []string) error { s.SendProxy = false; return nil }},
	"no-send-proxy-v2": {0, func(s *Server, _ []string) error { s.SendProxyV2 = false; return nil }},
	"no-tfo":           {0, func(s *Server, _ []string) error { s.FastOpen = false; return nil }},
	"check-sni":        {1, func(s *Server, a []string) error { s.CheckSNI = a[0]; return nil }},
	"check-proto": {1, func(s *Server, a []string) error {
		if err := checkProto(a[0]); err != nil {
			return err
		}
		s.CheckProto = a[0]
		return nil
	}},
	"check-alpn": {1, func(s *Server, a []string) (err error) {
		s.CheckALPN, err = tls.ParseALPN(a[0])
		return err
	}},
	"disabled":      {0, func(s *Server, _ []string) error { s.Disabled = true; return nil }},
	"enabled":       {0, func(s *Server, _ []string) error { s.Disabled = false; return nil }},
	"send-proxy":    {0, func(s *Server, _ []string) error { s.SendProxy = true; return nil }},
	"send-proxy-v2": {0, func(s *Server, _ []string) error { s.SendProxyV2 = true; return nil }},
	"tcp-ut": {1, func(s *Server, a []string) error {
		d, err := ParseTime(a[0])
		s.UserTimeout = d
		return err
	}},
	"tfo":           {0, func(s *Server, _ []string) error { s.FastOpen = true; return nil }},
	"pool-max-conn": {1, func(s *Server, a []string) error { return oneInt(a, -1, math.MaxInt32, &s.PoolMaxConn) }},
	"max-reuse":     {1, func(s *Server, a []string) error { return oneInt(a, -1, math.MaxInt32, &s.MaxReuse) }},
	"pool-low-conn": {1, func(s *Server, a []string) error { return oneInt(a, 0, math.MaxInt32, &s.PoolLowConn) }},
	"pool-purge-delay": {1, func(s *Server, a []string) error {
		d, err := ParseTime(a[0])
		s.PoolPurgeDelay = d
		return err
	}},
	"non-stick": {0, func(s *Server, _ []string) error { s.NonStick = true; return nil }},
	"stick":     {0, func(s *Server, _ []string) error { s.NonStick = false; return nil }},
	"inter":     {1, func(s *Server, a []string) error { return positiveTime(a[0], &s.Inter) }},
	"fastinter": {1, func(s *Server, a []string) error { return positiveTime(a[0], &s.FastInter) }},
	"downinter": {1, func(s *Server, a []string) error { return positiveTime(a[0], &s.DownInter) }},
	"init-addr": {1, func(s *Server, a []string) error {
		m, err := initAddrMethods(a[0])
		s.InitAddr = m
		return err
	}},
	"cookie": {1, func(s *Server, a []string) error { return oneString(a, "value", &s.Cookie) }},
	"slowstart": {1, func(s *Server, a []string) error {
		d, err := ParseTime(a[0])
		if err != nil {
			return err
		}
		// HAProxy keeps it in whole seconds, rounded up.
		s.SlowStart = (d + time.Second - 1).Truncate(time.Second)
		return nil
	}},
	"source": {1, func(s *Server, a []string) error {
		addr, err := ParseAddr(a[0], false)
		if err != nil {
			return err
		}
		s.Source = addr
		return nil
	}},
}

func parseServerOptions(s *Server, a []string) error {
	for i := 0; i < len(a); i++ {
		o, ok := serverOptions[a[i]]
		if !ok {
			return fmt.Errorf("%w: server option '%s'", ErrUnknownKeyword, a[i])
		}
		if len(a)-i-1 < o.args {
			return fmt.Errorf("server option '%s' expects %d argument(s)", a[i], o.args)
		}
		if err := o.apply(s, a[i+1:i+1+o.args]); err != nil {
			return fmt.Errorf("server option '%s': %w", a[i], err)
		}
		i += o.args
	}
	return nil
}

func parseServer(p *parser, px *Proxy, a []string) error {
	if len(a) < 2 {
		return errors.New("expects 'server <name> <addr:port> [options]'")
	}
	if err := checkName(a[0]); err != nil {
		return fmt.Errorf("server name '%s': %w", a[0], err)
	}
	s := px.DefaultServer
	s.Name, s.Pos = a[0], p.pos
	addr, mapPorts, err := ParseServerAddr(a[1])
	if err != nil {
		return err
	}
	s.Addr, s.MapPorts = addr, mapPorts
	s.ID = 0
	if err := parseServerOptions(&s, a[2:]); err != nil {
		return err
	}
	if host, port, _ := net.SplitHostPort(addr); mapPorts && port == "0" && strings.HasPrefix(host, "_") && s.Resolvers != "" {
		// An SRV record's name: its records bring the port.
		s.SRV, s.Addr, s.MapPorts, s.Unresolved = host, ":0", false, true
	}
	s.SSL.Config.Dir = p.baseDir
	px.Servers = append(px.Servers, &s)
	return nil
}

// parseServerTemplate reads "server-template <prefix> <num>|<low>-<high>
// <addr>[:<port>] [options]": the servers prefix<low> to prefix<high>
// (prefix1 to prefix<num>), each as a "server" line with the same
// address and options would make it.
func parseServerTemplate(p *parser, px *Proxy, a []string) error {
	if len(a) < 3 {
		return errors.New("'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments")
	}
	lo, hi, ok := templateRange(a[1])
	if !ok {
		return fmt.Errorf("wrong server-template number or range arg '%s'", a[1])
	}
	args := append([]string{""}, a[2:]...)
	for i := lo; i <= hi; i++ {
		args[0] = a[0] + strconv.Itoa(i)
		if err := parseServer(p, px, args); err != nil {
			return err
		}
	}
	return nil
}

// templateRange reads a server-template count ("3": 1 to 3) or range
// ("5-7"), both ends from 1.
func templateRange(s string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, hi = 1, 0
	var err error
	if isRange {
		if lo, err = strconv.Atoi(a); err != nil {
			return 0, 0, false
		}
		b = strings.TrimSpace(b)
	} else {
		b = a
	}
	if hi, err = strconv.Atoi(b); err != nil || lo < 1 || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

func nextID(ss []*Server) int {
	id := 1
	for {
		taken := false
		for _, s := range ss {
			if s.ID == id {
				taken = true
			}
		}
		if !taken {
			return id
		}
		id++
	}
}

// parseLog parses "log <target> [len <n>] [format <fmt>] [sample <r>:<s>]
// <facility> [<level> [<minlevel>]]".
func parseLog(pos Pos, a []string) (Log, error) {
	if len(a) < 2 {
		return Log{}, errors.New("expects 'log <target> [len N] [format F] <facility> [level]' or 'log global'")
	}
	l := Log{Pos: pos, Target: a[0], Format: "rfc3164"}
	if err := parseLogTarget(&l); err != nil {
		return Log{}, err
	}
	a = a[1:]
	for len(a) >= 2 {
		switch a[0] {
		case "len":
			if err := oneInt(a[1:2], 80, 65535, &l.Len); err != nil {
				return Log{}, fmt.Errorf("len: %w", err)
			}
		case "format":
			if !logFormats[a[1]] {
				return Log{}, fmt.Errorf("unknown log format '%s'", a[1])
			}
			l.Format = a[1]
		case "sample":
			smp, err := parseLogSample(a[1])
			if err != nil {
				return Log{}, err
			}
			l.Sample = smp
		default:
			goto facility
		}
		a = a[2:]
	}
facility:
	if len(a) == 0 {
		return Log{}, errors.New("missing log facility")
	}
	if _, ok := facilities[a[0]]; !ok {
		return Log{}, fmt.Errorf("unknown log facility '%s'", a[0])
	}
	l.Facility = a[0]
	a = a[1:]
	for i, lv := range a {
		if i > 1 {
			return Log{}, fmt.Errorf("unexpected '%s' after log level", lv)
		}
		if _, ok := levels[lv]; !ok {
			return Log{}, fmt.Errorf("unknown log level '%s'", lv)
		}
		if i == 0 {
			l.Level = lv
		}
	}
	return l, nil
}

// lookupID resolves the one user (or, with group, group) name in a to
// its numeric id, as "user" and "group" do, and stores it in dst.
func lookupID(a []string, group bool, dst *int) error {
	what := "user"
	if group {
		what = "group"
	}
	if len(a) != 1 {
		return fmt.Errorf("expects one %s name", what)
	}
	var id string
	var err error
	if group {
		var g *user.Group
		if g, err = user.LookupGroup(a[0]); err == nil {
			id = g.Gid
		}
	} else {
		var u *user.User
		if u, err = user.Lookup(a[0]); err == nil {
			id = u.Uid
		}
	}
	if err != nil {
		return fmt.Errorf("cannot find %s id for '%s': %w", what, a[0], err)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return fmt.Errorf("%s '%s': id '%s' is not a number", what, a[0], id)
	}
	*dst = n
	return nil
}

// oneString stores the one non-empty argument in a, a what, in dst.
func oneString(a []string, what string, dst *string) error {
	if len(a) != 1 || a[0] == "" {
		return fmt.Errorf("expects one %s", what)
	}
	*dst = a[0]
	return nil
}

// parseLogTarget reads l.Target as HAProxy does: stdout or stderr (also
// fd@1 and fd@2), a UNIX datagram socket (an absolute path, or unix@PATH),
// or a UDP address (IP[:PORT], HOST[:PORT], or with the prefix udp@, udp4@,
// udp6@, ipv4@ or ipv6@; the port defaults to 514).
func parseLogTarget(l *Log) error {
	t, err := envAddr(l.Target)
	if err != nil {
		return err
	}
	l.Target = t
	if name, ok := strings.CutPrefix(t, "ring@"); ok {
		// Checked when starting: HAProxy's -c takes an unknown ring.
		l.Ring = name
		return nil
	}
	switch t {
	case "stdout", "fd@1":
		l.Target = "stdout"
		return nil
	case "stderr", "fd@2":
		l.Target = "stderr"
		return nil
	}
	if strings.HasPrefix(t, "/") {
		l.Network, l.Address = "unixgram", t
		return nil
	}
	prefix, rest, found := strings.Cut(t, "@")
	if !found {
		prefix, rest = "", t
	}
	switch {
	case prefix == "unix":
		if rest == "" {
			return fmt.Errorf("log target '%s': missing socket path", t)
		}
		l.Network, l.Address = "unixgram", rest
		return nil
	case prefix == "", prefix == "udp", prefix == "udp4", prefix == "udp6", prefix == "ipv4", prefix == "ipv6":
		network := "udp"
		switch prefix {
		case "udp4", "ipv4":
			network = "udp4"
		case "udp6", "ipv6":
			network = "udp6"
		}
		host, port := rest, "514"
		if h, p, err := net.SplitHostPort(rest); err == nil {
			host, port = h, p
		} else if strings.Count(rest, ":") == 1 {
			return fmt.Errorf("log target '%s': %v", t, err)
		}
		if host == "" {
			return fmt.Errorf("log target '%s': missing address", t)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("log target '%s': invalid port '%s'", t, port)
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			if (network == "udp4" && !ip.Is4()) || (network == "udp6" && ip.Is4()) {
				return fmt.Errorf("log target '%s': address family does not match '%s@'", t, prefix)
			}
		}
		l.Network, l.Address = network, net.JoinHostPort(host, port)
		return nil
	}
	return fmt.Errorf("%w: log target '%s' (stdout, stderr, a UNIX datagram socket or a UDP address)", ErrUnsupported, t)
}

// logFormats are the log header formats of log targets and rings.
var logFormats = map[string]bool{
	"raw": true, "short": true, "rfc3164": true, "rfc5424": true, "local": true,
	"iso": true, "timed": true, "priority": true,
}

// parseLogSample reads a log target's "sample RANGES:SIZE": RANGES are
// line numbers N or N-M, comma-separated, from 1, none over SIZE.
func parseLogSample(v string) (*LogSample, error) {
	rgs, size, ok := strings.Cut(v, ":")
	if !ok {
		return nil, errors.New("missing sample size")
	}
	if rgs == "" {
		return nil, errors.New("no sampling ranges given")
	}
	smp := &LogSample{}
	for _, rg := range strings.Split(rgs, ",") {
		lo, hi, isRange := strings.Cut(rg, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 1 || h < l {
			return nil, fmt.Errorf("wrong sample range '%s'", rg)
		}
		smp.Ranges = append(smp.Ranges, [2]int{l, h})
	}
	n, err := strconv.Atoi(size)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("wrong sample size '%s' for sample range '%s'", size, rgs)
	}
	smp.Size = n
	sort.Slice(smp.Ranges, func(i, j int) bool { return smp.Ranges[i][0] < smp.Ranges[j][0] })
	for i := 1; i < len(smp.Ranges); i++ {
		if smp.Ranges[i][0] <= smp.Ranges[i-1][1] {
			return nil, errors.New("ranges are overlapping")
		}
	}
	if max := smp.Ranges[len(smp.Ranges)-1][1]; max > n {
		return nil, fmt.Errorf("sample size %d should be greater or equal to %d the maximum of the high ranges limits", n, max)
	}
	return smp, nil
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "auth2": 10, "ftp": 11, "ntp": 12, "audit": 13, "alert": 14, "cron2": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Facility returns the syslog facility number of a name, -1 when unknown.
func Facility(name string) int {
	if f, ok := facilities[name]; ok {
		return f
	}
	return -1
}

var levels = map[string]int{"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

// Level returns the syslog level number of a name, 7 (debug) when empty.
func Level(name string) int {
	if l, ok := levels[name]; ok {
		return l
	}
	return 7
}

type timeDur = time.Duration

// positiveTime parses a time that must be more than 0 into dst.
func positiveTime(v string, dst *time.Duration) error {
	d, err := ParseTime(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return errors.New("must be greater than 0")
	}
	*dst = d
	return nil
}

// parseRetryOn reads "retry-on", whose list replaces the inherited one.
func parseRetryOn(_ *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects a list of conditions")
	}
	var r RetryOn
	for i, w := range a {
		switch w {
		case "none":
			if i != 0 || len(a) > 1 {
				return errors.New("'none' is only usable alone")
			}
		case "conn-failure":
			r |= RetryConnFailure
		case "empty-response":
			r |= RetryEmptyResponse
		case "junk-response":
			r |= RetryJunkResponse
		case "response-timeout":
			r |= RetryResponseTimeout
		case "0rtt-rejected":
			r |= Retry0RTTRejected
		case "all-retryable-errors":
			r |= RetryAllErrors
		default:
			n, err := strconv.Atoi(w)
			if err != nil || RetryStatus(n) == 0 {
				return fmt.Errorf("unknown keyword '%s'", w)
			}
			r |= RetryStatus(n)
		}
	}
	px.RetryOn = r
	return nil
}

func oneInt(a []string, lo, hi int, dst *int) error {
	if len(a) != 1 {
		return errors.New("expects one number")
	}
	n, err := parseInt(a[0], lo, hi)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

func oneSize(a []string, dst *int) error {
	if len(a) != 1 {
		return errors.New("expects one size")
	}
	n, err := ParseSize(a[0])
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

func noArgs(a []string) error {
	if len(a) != 0 {
		return fmt.Errorf("unexpected argument '%s'", a[0])
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// parseCookie reads "cookie NAME [options]" as HAProxy does.
func parseCookie(_ *parser, px *Proxy, a []string) error {
	if len(a) == 0 || a[0] == "" {
		return errors.New("'cookie' expects <cookie_name> as argument")
	}
	c := &CookiePersist{Name: a[0]}
	for i := 1; i < len(a); i++ {
		switch a[i] {
		case "insert", "rewrite", "prefix":
			if c.Mode != "" && c.Mode != a[i] {
				return errors.New("cookie 'rewrite', 'insert' and 'prefix' modes are incompatible")
			}
			c.Mode = a[i]
		case "indirect":
			c.Indirect = true
		case "nocache":
			c.NoCache = true
		case "postonly":
			c.PostOnly = true
		case "preserve":
			c.Preserve = true
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		case "domain", "attr":
			if i+1 >= len(a) || a[i+1] == "" {
				return fmt.Errorf("'%s' requires an argument", a[i])
			}
			i++
			if a[i-1] == "domain" {
				c.Domains = append(c.Domains, a[i])
			} else {
				if strings.ContainsAny(a[i], ";\r\n") {
					return fmt.Errorf("'attr' value '%s' contains a forbidden character", a[i])
				}
				c.Attrs = append(c.Attrs, a[i])
			}
		case "maxidle", "maxlife":
			if i+1 >= len(a) {
				return fmt.Errorf("'cookie' option '%s' expects a time", a[i])
			}
			v := a[i+1]
			if _, err := strconv.Atoi(v); err == nil {
				v += "s" // seconds unless told, as haproxy reads them
			}
			d, err := ParseTime(v)
			if err != nil || d < time.Second {
				return fmt.Errorf("'cookie' option '%s': bad time '%s'", a[i], a[i+1])
			}
			d = d.Truncate(time.Second)
			if a[i] == "maxidle" {
				c.MaxIdle = d
			} else {
				c.MaxLife = d
			}
			i++
		case "dynamic":
			c.Dynamic = true
		default:
			return fmt.Errorf("'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'httponly', 'secure' and 'attr' options, not '%s'", a[i])
		}
	}
	px.Cookie = c
	return nil
}

// parseCPUMap reads "cpu-map [auto:]PROCESS[/THREAD] CPU...": lb runs
// one process, so a line for process 1 (or all) adds its CPUs to the set
// the process is bound to; the threads' own mapping, which the Go
// scheduler does not allow, is approximated by that union, as a warning
// says.
func parseCPUMap(p *parser, a []string) error {
	if len(a) < 2 {
		return errors.New("expects a process/thread set and a CPU set")
	}
	ref := strings.TrimPrefix(a[0], "auto:")
	proc, thread, _ := strings.Cut(ref, "/")
	procs, err := cpuList([]string{proc}, 64)
	if proc != "all" && proc != "odd" && proc != "even" && err != nil {
		return fmt.Errorf("invalid process set '%s': %w", proc, err)
	}
	if thread != "" {
		if _, err := cpuList([]string{thread}, 4096); err != nil && thread != "all" && thread != "odd" && thread != "even" {
			return fmt.Errorf("invalid thread set '%s': %w", thread, err)
		}
	}
	cpus, err := cpuList(a[1:], 4096)
	if err != nil {
		return fmt.Errorf("invalid CPU set: %w", err)
	}
	if proc == "all" || proc == "odd" || slices.Contains(procs, 1) {
		for _, c := range cpus {
			if !slices.Contains(p.cfg.Global.CPUs, c) {
				p.cfg.Global.CPUs = append(p.cfg.Global.CPUs, c)
			}
		}
		slices.Sort(p.cfg.Global.CPUs)
		// A thread's own set binds the whole process too: lb's threads
		// are not mapped one by one.
	}
	return nil
}

// cpuList reads numbers and ranges (N, N-M, as in "0-3 6"), each below
// limit.
func cpuList(a []string, limit int) ([]int, error) {
	var out []int
	for _, w := range a {
		for _, part := range strings.Split(w, ",") {
			lo, hi, isRange := strings.Cut(part, "-")
			l, err := strconv.Atoi(lo)
			if err != nil || l < 0 {
				return nil, fmt.Errorf("'%s' is not a number or a range", part)
			}
			h := l
			if isRange {
				if h, err = strconv.Atoi(hi); err != nil || h < l {
					return nil, fmt.Errorf("'%s' is not a range", part)
				}
			}
			if h >= limit {
				return nil, fmt.Errorf("'%s' is out of range (0-%d)", part, limit-1)
			}
			for i := l; i <= h; i++ {
				out = append(out, i)
			}
		}
	}
	return out, nil
}
