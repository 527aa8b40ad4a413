package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
	"github.com/proxyblocks/proxyblocks/stick"
)

// The keywords of stick tables, ACLs, connection rules, persistence and
// the runtime socket. They are added to the tables from here;
// keywords.go's init runs first (files are initialised in name order).

func init() {
	proxyKeywords["acl"] = proxyKeyword{KindFrontend | KindBackend, func(_ *parser, px *Proxy, a []string) error {
		return px.ACLs.Add(a)
	}}
	proxyKeywords["stick-table"] = proxyKeyword{KindFrontend | KindBackend, parseStickTable}
	proxyKeywords["tcp-request"] = proxyKeyword{KindFrontend | KindBackend | KindDefaults, parseTCPRequest}
	proxyKeywords["stick"] = proxyKeyword{KindBackend, parseStick}
	globalKeywords["stats"] = parseStatsGlobal
	proxyKeywords["stats"] = proxyKeyword{kAll, parseStatsPage}
	finishers = append(finishers, (*parser).checkStick, (*parser).checkContentRules)
}

func parseStickTable(p *parser, px *Proxy, a []string) error {
	if px.Stick.Table != nil {
		return fmt.Errorf("%w: only one stick-table per proxy (the first at %s)", ErrReference, px.Stick.Table.Pos)
	}
	cfg, err := stick.ParseConfig(tableTimes(a))
	if err != nil {
		return err
	}
	cfg.Name = px.Name
	px.Stick.Table = &StickTable{Pos: p.pos, Config: cfg}
	return nil
}

// parseTCPRequest reads "tcp-request connection|session ACTION [ARGS]
// [if|unless COND]". The connection stage runs on the bare socket, the
// session stage after the handshake (so the ssl_* fetches see the TLS
// session), both in frontends only; the content stage, in mode tcp, on
// the first bytes the client sends (the balancer's content.go).
func parseTCPRequest(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects 'tcp-request connection|session|content <action> [{if | unless} <condition>]' or 'tcp-request inspect-delay <time>'")
	}
	stage := a[0]
	if px.Kind == KindDefaults {
		// As in haproxy, a named defaults section sets the delay its
		// sections inherit; lb's defaults sections carry no rules.
		switch {
		case stage == "inspect-delay" && px.Name == "":
			return fmt.Errorf("%w: tcp-request inspect-delay is not allowed in anonymous 'defaults' sections", ErrMisplaced)
		case stage != "inspect-delay":
			return fmt.Errorf("%w: 'tcp-request %s' in a defaults section (lb's defaults sections carry no rules)", ErrUnsupported, stage)
		}
	}
	switch stage {
	case "inspect-delay":
		if len(a) != 2 {
			return errors.New("'tcp-request inspect-delay' expects a time")
		}
		d, err := ParseTime(a[1])
		if err != nil {
			return fmt.Errorf("'tcp-request inspect-delay': %w", err)
		}
		px.Stick.InspectDelay = d
		return nil
	case "connection", "session":
		// A listen section is a frontend too.
		if !px.Kind.IsFrontend() {
			return fmt.Errorf("'tcp-request %s' is not allowed because %s '%s' is not a frontend (only content rules and inspect-delay are)", stage, px.Kind, px.Name)
		}
	case "content":
	default:
		return fmt.Errorf("%w: 'tcp-request %s' (only connection, session, content and inspect-delay)", ErrUnsupported, a[0])
	}
	words, cond, err := acl.SplitCond(a[1:], &px.ACLs)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("'tcp-request %s' expects an action (accept, reject, silent-drop, track-sc0, track-sc1, track-sc2)", stage)
	}
	r := ConnRule{Pos: p.pos, Action: words[0], Cond: cond}
	args := words[1:]
	switch {
	case r.Action == "accept" || r.Action == "reject":
		if len(args) > 0 {
			return fmt.Errorf("'%s' takes no argument, got '%s'", r.Action, args[0])
		}
	case strings.HasPrefix(r.Action, "sc-inc-gpc0") || strings.HasPrefix(r.Action, "sc-inc-gpc1") || strings.HasPrefix(r.Action, "sc-set-gpt0"):
		if err := parseConnStickAction(px.ACLs.Refs, &r, args); err != nil {
			return err
		}
	case strings.HasPrefix(r.Action, "sc-inc-gpc") || strings.HasPrefix(r.Action, "sc-set-gpt"):
		if err := parseConnArrayAction(px.ACLs.Refs, &r, args, a); err != nil {
			return err
		}
	case r.Action == "expect-proxy":
		// The PROXY header is read before the session and content
		// stages exist, so only a connection rule can ask for it.
		if stage != "connection" {
			return fmt.Errorf("'expect-proxy layer4' is not allowed in 'tcp-request %s' rules", stage)
		}
		if len(args) != 1 || args[0] != "layer4" {
			got := "nothing"
			if len(args) > 0 {
				got = "'" + args[0] + "'"
			}
			return fmt.Errorf("'tcp-request connection expect-proxy' only supports 'layer4' (got %s)", got)
		}
	case strings.HasPrefix(r.Action, "set-var(") || strings.HasPrefix(r.Action, "set-var-fmt(") || strings.HasPrefix(r.Action, "unset-var("):
		// At every stage, as in HAProxy; before the stream exists only
		// sess and proc variables are kept.
		if err := parseConnVarAction(px.ACLs.Refs, &r, args); err != nil {
			return err
		}
	case r.Action == "set-mark" || r.Action == "set-tos":
		if r.Num, err = parseMarkTOS(r.Action, args); err != nil {
			return err
		}
	case r.Action == "set-src" || r.Action == "set-src-port" || r.Action == "set-dst" || r.Action == "set-dst-port" ||
		stage == "content" && (r.Action == "set-priority-class" || r.Action == "set-priority-offset"):
		if len(args) != 1 {
			return fmt.Errorf("'%s' expects one sample expression", r.Action)
		}
		if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(args[0]); err != nil {
			return fmt.Errorf("'%s': %w", r.Action, err)
		}
		r.Key = args[0]
	case stage == "content" && r.Action == "set-nice":
		n, err := parseNice(args)
		if err != nil {
			return err
		}
		r.Num = int64(n)
	case r.Action == "silent-drop":
		if len(args) > 0 {
			if args[0] != "rst-ttl" || len(args) != 2 {
				return fmt.Errorf("'silent-drop' expects nothing or 'rst-ttl <ttl>', got '%s'", strings.Join(args, " "))
			}
			n, err := parseInt(args[1], 1, 255)
			if err != nil {
				return fmt.Errorf("silent-drop rst-ttl: %w", err)
			}
			r.RSTTTL = n
		}
	case stage == "content" && r.Action == "capture":
		// "capture <sample> len <length>": the frontend's next request
		// capture slot, as http-request capture's len form.
		if len(args) != 3 || args[1] != "len" {
			return errors.New("'tcp-request content capture' expects <expression> 'len' <length>")
		}
		if !px.Kind.IsFrontend() {
			return fmt.Errorf("'tcp-request content capture': proxy '%s' has no frontend capability", px.Name)
		}
		if _, _, err := px.ACLs.Refs.CheckView().CompileFetch(args[0]); err != nil {
			return fmt.Errorf("'tcp-request content capture': %w", err)
		}
		n := atoi(args[2])
		if n <= 0 {
			return errors.New("'tcp-request content capture': length must be > 0")
		}
		r.Key, r.Slot = args[0], len(px.HTTP.CaptureRequest)
		px.HTTP.CaptureRequest = appendOwn(px.HTTP.CaptureRequest, HeaderCapture{Len: n})
	case stage == "content" && r.Action == "send-spoe-group":
		if len(args) != 2 {
			return errors.New("'send-spoe-group' expects 2 arguments: <engine-id> <group-id>")
		}
		r.Var, r.Key = args[0], args[1]
	case stage == "content" && isDoResolve(r.Action):
		r.Action = "do-resolve"
		if r.Var, r.Resolve, r.Key, err = parseDoResolve(px.ACLs.Refs, "tcp-request content", words[0], args); err != nil {
			return err
		}
	case stage == "content" && r.Action == "switch-mode":
		if r.Key, err = parseSwitchMode(px, args); err != nil {
			return err
		}
	case stage == "content" && strings.HasPrefix(r.Action, "lua."):
		if err := p.luaAction(r.Action, lua.StageTCPReq, args); err != nil {
			return err
		}
		r.Var, r.Action, r.Args = strings.TrimPrefix(r.Action, "lua."), "lua", args
	case stage == "content" && r.Action == "use-service":
		// haproxy 2.6's one service, the Prometheus exporter, answers
		// HTTP requests only.
		switch {
		case len(args) == 0:
			return errors.New("'tcp-request' expects a service name")
		case strings.HasPrefix(args[0], "lua."):
			if len(args) > 1 {
				return fmt.Errorf("'use-service %s': unexpected '%s'", args[0], strings.Join(args[1:], " "))
			}
			if err := p.luaService(args[0], false); err != nil {
				return err
			}
			r.Var = args[0]
		case args[0] == ServicePrometheus:
			//lint:ignore ST1005 haproxy's words
			return errors.New("Prometheus exporter service only available on 'http-request' rulesets")
		default:
			return errors.New("'content' unknown service name")
		}
	case stage == "content" && r.Action == "set-log-level":
		if r.LogLevel, err = parseSetLogLevel(args); err != nil {
			return err
		}
	case stage == "content" && r.Action != "accept" && r.Action != "reject" && !strings.HasPrefix(r.Action, "track-sc"):
		return fmt.Errorf("%w: 'tcp-request content %s' (only accept, reject, capture, track-sc0, track-sc1, track-sc2, sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0, set-var, set-var-fmt, unset-var, set-log-level, set-mark, set-tos, set-nice, set-src, set-src-port, set-dst, set-dst-port, set-priority-class, set-priority-offset, silent-drop, send-spoe-group, do-resolve and switch-mode)", ErrUnsupported, r.Action)
	case strings.HasPrefix(r.Action, "track-sc"):
		n, err := strconv.Atoi(strings.TrimPrefix(r.Action, "track-sc"))
		if err != nil || n < 0 || n >= acl.Slots {
			return fmt.Errorf("%w: action '%s' (track-sc0, track-sc1 or track-sc2)", ErrUnknownKeyword, r.Action)
		}
		r.Slot, r.Action = n, "track-sc"
		// Content rules may track any sample (checkStick checks that it
		// can be a key of the table); the earlier stages track src.
		parse := parseKeyTable
		if stage == "content" {
			parse = func(args []string) (string, string, error) { return parseSampleKeyTable(px.ACLs.Refs, args) }
		}
		if r.Key, r.Table, err = parse(args); err != nil {
			return fmt.Errorf("'%s': %w", words[0], err)
		}
	default:
		return fmt.Errorf("%w: 'tcp-request %s %s' (accept, reject, silent-drop, expect-proxy layer4, track-sc0, track-sc1, track-sc2, sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0, set-var, set-var-fmt, unset-var, set-mark, set-tos, set-src, set-src-port, set-dst, set-dst-port)", ErrUnknownKeyword, stage, r.Action)
	}
	switch stage {
	case "session":
		px.Stick.SessRules = appendOwn(px.Stick.SessRules, r)
		return nil
	case "content":
		px.Stick.ContentRules = appendOwn(px.Stick.ContentRules, r)
		return nil
	}
	px.Stick.ConnRules = appendOwn(px.Stick.ConnRules, r)
	return nil
}

// parseKeyTable reads "src [table NAME]": the key of connection and
// session rules' track-sc, which track the client's address only.
func parseKeyTable(args []string) (key, table string, err error) {
	if len(args) == 0 {
		return "", "", errors.New("expects a key fetch ('src')")
	}
	if key, table, err = parseSampleKeyTable(nil, args); err != nil {
		return "", "", err
	}
	if key != "src" {
		return "", "", fmt.Errorf("%w: key '%s' (only 'src')", ErrUnsupported, key)
	}
	return key, table, nil
}

// parseStick reads "stick on|match|store-request|store-response KEY
// [table NAME] [if|unless COND]", KEY any sample expression.
func parseStick(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects 'stick on|match|store-request|store-response <key> [table <name>] [{if | unless} <condition>]'")
	}
	r := StickRule{Pos: p.pos}
	switch a[0] {
	case "on":
		r.Match, r.Store = true, true
	case "match":
		r.Match = true
	case "store-request":
		r.Store = true
	case "store-response":
		r.StoreResponse = true
	default:
		return fmt.Errorf("%w: 'stick %s' (on, match, store-request, store-response)", ErrUnknownKeyword, a[0])
	}
	words, cond, err := acl.SplitCond(a[1:], &px.ACLs)
	if err != nil {
		return err
	}
	r.Cond = cond
	// Any sample may be the key (a cookie, a header); checkStick checks
	// that the table's type can take it.
	if r.Key, r.Table, err = parseSampleKeyTable(px.ACLs.Refs, words); err != nil {
		return fmt.Errorf("'stick %s': %w", a[0], err)
	}
	px.Stick.Rules = appendOwn(px.Stick.Rules, r)
	return nil
}

// parseSampleKeyTable reads "KEY [table NAME]" where KEY is any sample
// expression: the key of stick rules and of content rules' track-sc.
func parseSampleKeyTable(rs *acl.Refs, args []string) (key, table string, err error) {
	if len(args) == 0 {
		return "", "", errors.New("expects a key fetch ('src', 'req.cook(NAME)'...)")
	}
	if _, _, err := rs.CheckView().CompileFetch(args[0]); err != nil {
		return "", "", err
	}
	switch {
	case len(args) == 1:
	case len(args) == 3 && args[1] == "table":
		table = args[2]
	default:
		return "", "", fmt.Errorf("unexpected '%s' after the key (expected 'table <name>')", strings.Join(args[1:], " "))
	}
	return args[0], table, nil
}

// parseStatsGlobal reads "stats socket PATH|ADDR:PORT [mode M] [level L]" and
// "stats timeout T" in the global section.
func parseStatsGlobal(p *parser, a []string) error {
	if len(a) == 0 {
		return errors.New("expects 'stats socket <path> [mode <mode>] [level <level>]'")
	}
	switch a[0] {
	case "timeout":
		if len(a) != 2 {
			return errors.New("'stats timeout' expects a time")
		}
		d, err := ParseTime(a[1])
		if err != nil {
			return fmt.Errorf("'stats timeout': %w", err)
		}
		if d <= 0 {
			return fmt.Errorf("'stats timeout %s': expects a time greater than 0", a[1])
		}
		p.cfg.Global.StatsTimeout = d
		return nil
	case "bind-process":
		return statsBindProcess(a[1:])
	case "maxconn":
		// The stats sockets' connection limit: lb takes it, checked as
		// HAProxy checks it, with no effect.
		if len(a) < 2 {
			return errors.New("'stats maxconn' expects a positive value")
		}
		if n, err := strconv.Atoi(a[1]); err != nil || n <= 0 {
			return errors.New("'stats maxconn' expects a positive value")
		}
		return nil
	case "socket":
	default:
		return fmt.Errorf("%w: 'stats %s' in global (socket, timeout, maxconn, bind-process)", ErrUnknownKeyword, a[0])
	}
	if len(a) < 2 {
		return errors.New("'stats socket' expects a path or an address")
	}
	path, err := envAddr(a[1])
	if err != nil {
		return err
	}
	s := StatsSocket{Pos: p.pos, Network: "unix", Level: "operator", UID: -1, GID: -1}
	if unix, ok, err := unixAddr(path); ok {
		if err != nil {
			return fmt.Errorf("stats socket: %w", err)
		}
		if strings.HasPrefix(unix, AbnsPrefix) {
			return fmt.Errorf("%w: stats socket on '%s' (an abstract socket; unix and TCP ones are)", ErrUnsupported, path)
		}
		s.Path = strings.TrimPrefix(unix, UnixPrefix)
	} else {
		// Anything else is a TCP address: ipv4@, ipv6@, ADDR:PORT,
		// :PORT or *:PORT.
		if s.Path, err = ParseAddr(path, true); err != nil {
			return fmt.Errorf("stats socket: %w", err)
		}
		s.Network = "tcp"
	}
	for i := 2; i < len(a); i += 2 {
		if i+1 >= len(a) {
			return fmt.Errorf("stats socket option '%s' expects a value", a[i])
		}
		v := a[i+1]
		switch a[i] {
		case "mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil || m > 0o777 {
				return fmt.Errorf("stats socket mode '%s': expects an octal mode such as 600", v)
			}
			s.Mode = uint32(m)
		case "level":
			switch v {
			case "user", "operator", "admin":
				s.Level = v
			default:
				return fmt.Errorf("stats socket level '%s': expects user, operator or admin", v)
			}
		case "user":
			if err := lookupID([]string{v}, false, &s.UID); err != nil {
				return fmt.Errorf("stats socket user: %w", err)
			}
		case "group":
			if err := lookupID([]string{v}, true, &s.GID); err != nil {
				return fmt.Errorf("stats socket group: %w", err)
			}
		case "uid", "gid":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("stats socket %s '%s': expects a number", a[i], v)
			}
			if a[i] == "uid" {
				s.UID = n
			} else {
				s.GID = n
			}
		case "expose-fd":
			if v != "listeners" {
				return fmt.Errorf("stats socket expose-fd '%s': expects 'listeners'", v)
			}
			// The listeners go to a new process started with -x, which lb
			// has not: left alone.
		default:
			return fmt.Errorf("%w: stats socket option '%s' (mode, level, user, uid, group, gid, expose-fd)", ErrUnsupported, a[i])
		}
	}
	p.cfg.Global.StatsSockets = append(p.cfg.Global.StatsSockets, s)
	return nil
}

// checkStick resolves table references once every proxy is known: a
// rule without "table" needs a table in its own proxy, and a named table
// must exist.
func (p *parser) checkStick() {
	tableOf := func(px *Proxy, name string) *StickTable {
		if name == "" {
			return px.Stick.Table
		}
		return p.cfg.StickTable(name)
	}
	check := func(px *Proxy, pos Pos, kw, table string) {
		if tableOf(px, table) != nil {
			return
		}
		p.pos = pos
		if table == "" {
			p.errorf(kw, ErrReference, "%s '%s': '%s' needs a stick-table in the proxy or 'table <name>'", px.Kind, px.Name, kw)
			return
		}
		p.errorf(kw, ErrReference, "%s '%s': '%s' refers to table '%s', which no proxy nor peers section declares", px.Kind, px.Name, kw, table)
	}
	// keyType refuses a track-sc key whose type cannot become the
	// table's (a boolean for an address, say), as HAProxy does.
	keyType := func(px *Proxy, pos Pos, kw, key, table string, slot int) {
		st := tableOf(px, table)
		if st == nil {
			return
		}
		if f, _, err := p.cfg.Patterns.CheckView().CompileFetch(key); err == nil && !acl.KeyConvertible(f.Type, st.Config.Type) {
			p.pos = pos
			p.errorf(kw, ErrBadValue, "%s '%s': stick-table '%s' (type %s) uses a type incompatible with the 'track-sc%d' key '%s' (%s)",
				px.Kind, px.Name, st.Config.Name, st.Config.Type, slot, key, f.Type)
		}
	}
	for _, px := range p.cfg.Proxies {
		for _, rules := range [][]ConnRule{px.Stick.ConnRules, px.Stick.SessRules, px.Stick.ContentRules} {
			for _, r := range rules {
				if r.Action == "track-sc" {
					check(px, r.Pos, "tcp-request", r.Table)
					keyType(px, r.Pos, "tcp-request", r.Key, r.Table, r.Slot)
				}
			}
		}
		for _, r := range px.Stick.Rules {
			check(px, r.Pos, "stick", r.Table)
			if st := tableOf(px, r.Table); st != nil {
				if f, _, err := p.cfg.Patterns.CheckView().CompileFetch(r.Key); err == nil && !acl.KeyConvertible(f.Type, st.Config.Type) {
					p.pos = r.Pos
					p.errorf("stick", ErrBadValue, "%s '%s': stick-table '%s' (type %s) uses a type incompatible with the 'stick' key '%s' (%s)",
						px.Kind, px.Name, st.Config.Name, st.Config.Type, r.Key, f.Type)
				}
			}
		}
		for _, rules := range [...]struct {
			kind  string
			rules []HTTPRule
		}{{"http-request", px.HTTP.RequestRules}, {"http-response", px.HTTP.ResponseRules}} {
			for _, r := range rules.rules {
				if r.Action != "track-sc" {
					continue
				}
				check(px, r.Pos, rules.kind, r.Table)
				keyType(px, r.Pos, rules.kind, r.Value, r.Table, r.Slot)
			}
		}
	}
}

// checkContentRules warns, as haproxy does, of a "tcp-request content track-sc" rule of
// an HTTP frontend that reads nothing of the request: it runs for each
// request, where a "tcp-request session" rule would count the
// connection, invalid requests included.
func (p *parser) checkContentRules() {
	for _, px := range p.cfg.Proxies {
		if px.Mode == "http" && px.Kind.IsFrontend() {
			for _, r := range px.Stick.ContentRules {
				if r.Action == "track-sc" && !acl.ReadsRequest(r.Key) && len(r.Cond.RequestOnly()) == 0 {
					p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: %s '%s' : a 'tcp-request content track-sc*' rule not depending on request contents for an HTTP frontend should be executed at the session level, using a 'tcp-request session' rule (mandatory to track invalid HTTP requests).", r.Pos, px.Kind, px.Name))
				}
			}
		}
	}
}

// statsBindProcess checks "stats bind-process <set>..." as HAProxy 2.6
// does, which runs one process: each word is all, odd, even, 1 or a
// range of 1 alone. The line has no other effect, in HAProxy as in lb.
func statsBindProcess(words []string) error {
	for _, w := range words {
		switch {
		case w == "all" || w == "odd" || w == "even" || w == "1" || w == "1-" || w == "1-1":
		case strings.Trim(w, "0123456789-") == "" && w != "":
			return fmt.Errorf("'stats bind-process' : '%s' is not a valid number/range%s", w, ". It supports numbers from 1 to 1.")
		default:
			return fmt.Errorf("'stats bind-process' : '%s' is not a valid number/range%s", w, ".")
		}
	}
	return nil
}

// parseConnStickAction reads the scalar stick counter actions of the
// tcp-request and tcp-response rules, sc-inc-gpc0(N), sc-inc-gpc1(N) and
// sc-set-gpt0(N) VALUE, as haproxy reads them: "(N)" names the counter,
// 0 without it; the value is an integer or a sample expression.
func parseConnStickAction(rs *acl.Refs, r *ConnRule, args []string) error {
	word := r.Action
	tmp := HTTPRule{Action: r.Action}
	if err := parseStickAction(&tmp); err != nil {
		return err
	}
	r.Action, r.Slot = tmp.Action, tmp.Slot
	if r.Action != "sc-set-gpt0" {
		if len(args) > 0 {
			return fmt.Errorf("'%s' takes no argument, got '%s'", word, args[0])
		}
		return nil
	}
	if len(args) != 1 {
		return fmt.Errorf("'%s' expects an integer or a sample expression", word)
	}
	if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
		if _, _, err := rs.CheckView().CompileFetch(args[0]); err != nil {
			return fmt.Errorf("'%s': %w", word, err)
		}
	}
	r.Key = args[0]
	return nil
}

// parseConnVarAction reads set-var(NAME) EXPR, set-var-fmt(NAME) FMT and
// unset-var(NAME) in the tcp-request and tcp-response rules.
func parseConnVarAction(rs *acl.Refs, r *ConnRule, args []string) error {
	verb, name, ok := strings.Cut(strings.TrimSuffix(r.Action, ")"), "(")
	if !ok || !strings.HasSuffix(r.Action, ")") {
		return fmt.Errorf("'%s': expects '%s(<scope>.<name>)'", r.Action, verb)
	}
	if _, _, err := acl.ParseVarName(name); err != nil {
		return fmt.Errorf("'%s': %w", r.Action, err)
	}
	r.Action, r.Var = verb, name
	switch {
	case verb == "unset-var" && len(args) > 0:
		return fmt.Errorf("'unset-var' takes no argument, got '%s'", args[0])
	case verb == "set-var" && len(args) != 1:
		return fmt.Errorf("'set-var(%s)' expects one sample expression", name)
	case verb == "set-var":
		if _, _, err := rs.CheckView().CompileFetch(args[0]); err != nil {
			return fmt.Errorf("'set-var(%s)': %w", name, err)
		}
		r.Key = args[0]
	case verb == "set-var-fmt" && len(args) != 1:
		return fmt.Errorf("'set-var-fmt(%s)' expects one format string", name)
	case verb == "set-var-fmt":
		r.Key = args[0]
	}
	return nil
}

// parseNice reads set-nice's value as haproxy does, with C's atoi ("x"
// is 0), kept within -1024..1024. The nice value orders haproxy's tasks;
// lb has no such scheduler, so it is read and changes nothing.
func parseNice(args []string) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("'set-nice' expects exactly 1 argument (integer value)")
	}
	return max(-1024, min(1024, atoi(args[0]))), nil
}
