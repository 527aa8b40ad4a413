package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// SPOEEngine is the engine of a "filter spoe [engine NAME] config FILE"
// line: one scope of its file, holding the agent, its messages and its
// groups.
type SPOEEngine struct {
	Pos
	// Name is the engine's name: the filter's "engine", else the
	// agent's name.
	Name string
	// File is the SPOE configuration file.
	File  string
	Agent SPOEAgent
	// Messages and Groups are the scope's spoe-message and spoe-group
	// sections by name.
	Messages map[string]*SPOEMessage
	Groups   map[string]*SPOEGroup
	// Events lists, for each event name, the agent's messages that it
	// sends, in the agent's order.
	Events map[string][]*SPOEMessage
	// ACLs are the scope's "acl" lines, which the messages' conditions
	// use.
	ACLs acl.Set
}

// SPOEAgent is a "spoe-agent" section.
type SPOEAgent struct {
	Pos
	Name string
	// Messages and Groups are the names its "messages" and "groups"
	// lines list.
	Messages, Groups []string
	// Backend is use-backend's backend, which must be in mode tcp.
	Backend string
	// VarPrefix is put between a variable's scope and its name
	// (default: the agent's name).
	VarPrefix string
	// SetOnError, SetProcessTime and SetTotalTime name the txn
	// variables (under VarPrefix) of the option of the same name, ""
	// for none.
	SetOnError, SetProcessTime, SetTotalTime string
	// ContinueOnError keeps the engine on for the rest of the
	// transaction after an error; ForceSetVar lets the agent set
	// variables nothing else names.
	ContinueOnError, ForceSetVar bool
	// Pipelining and Async are announced to the agents (both on by
	// default).
	Pipelining, Async bool
	// RegisterVarNames are names (without scope or prefix) the agent may
	// set although nothing else names them.
	RegisterVarNames []string
	// HelloTimeout, IdleTimeout and ProcessingTimeout are the "timeout
	// hello|idle|processing" lines.
	HelloTimeout, IdleTimeout, ProcessingTimeout time.Duration
	// MaxFrameSize is the largest frame announced (0: tune.bufsize-4);
	// MaxWaiting bounds the frames in flight per connection (0: 20).
	MaxFrameSize, MaxWaiting int
	// MaxConnRate bounds the connections the engine opens per second,
	// and MaxErrRate the errors per second past which it stops
	// processing (0: no limit).
	MaxConnRate, MaxErrRate int
	// Logs are the agent's own "log" targets, and LogGlobal its "log
	// global": where the line of each processing goes. With neither,
	// the agent logs nothing.
	Logs      []Log
	LogGlobal bool
	// DontLogNormal leaves out the lines of processings that succeeded
	// (option dontlog-normal).
	DontLogNormal bool
}

// SPOEArg is one argument of a message: an optional name and a sample
// expression.
type SPOEArg struct {
	Name, Expr string
}

// SPOEMessage is a "spoe-message" section.
type SPOEMessage struct {
	Pos
	Name string
	Args []SPOEArg
	// Event is the event that sends it ("" for a message sent only by
	// its group), and Cond the event's condition, nil for none.
	Event string
	Cond  *acl.Cond
}

// SPOEGroup is a "spoe-group" section.
type SPOEGroup struct {
	Pos
	Name     string
	Messages []*SPOEMessage
	names    []string
}

// spoeEvents are the events a message may name (on-tcp-response runs in
// mode tcp only).
var spoeEvents = map[string]bool{
	"on-client-session": true, "on-server-session": true,
	"on-frontend-tcp-request": true, "on-backend-tcp-request": true,
	"on-tcp-response": true, "on-frontend-http-request": true,
	"on-backend-http-request": true, "on-http-response": true,
}

// parseSPOEFilter reads "spoe [engine NAME] config FILE" (after
// "filter") and the file's scope for the engine.
func parseSPOEFilter(p *parser, px *Proxy, a []string) error {
	var name, file string
	for i := 1; i < len(a); i += 2 {
		if i+1 >= len(a) {
			return fmt.Errorf("'%s' expects an argument", a[i])
		}
		switch a[i] {
		case "engine":
			name = a[i+1]
		case "config":
			file = a[i+1]
		default:
			return fmt.Errorf("unknown option '%s' (expects 'engine <name>' or 'config <file>')", a[i])
		}
	}
	if file == "" {
		return errors.New("'config' is required: filter spoe [engine <name>] config <file>")
	}
	for _, f := range px.Filters {
		if f.Type == "spoe" && name != "" && f.Engine.Name == name {
			return fmt.Errorf("the SPOE engine '%s' is already declared at %s", name, f.Pos)
		}
	}
	data, err := os.ReadFile(inDir(p.baseDir, file))
	if err != nil {
		return fmt.Errorf("cannot read the SPOE configuration: %w", err)
	}
	e, errs := p.parseSPOEFile(file, data, name)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	e.Pos = p.pos
	px.Filters = append(px.Filters, Filter{Pos: p.pos, Type: "spoe", Name: e.Name, Engine: e})
	return nil
}

// parseSPOEFile reads the scope "[name]" of a SPOE file, or the whole
// file when name is "" (which must then hold no scope).
func (p *parser) parseSPOEFile(file string, data []byte, name string) (*SPOEEngine, []error) {
	e := &SPOEEngine{Name: name, File: file, Messages: map[string]*SPOEMessage{}, Groups: map[string]*SPOEGroup{}, Events: map[string][]*SPOEMessage{}}
	e.ACLs.Refs = p.cfg.Patterns
	var (
		errs     []error
		inScope  = name == ""
		agent    *SPOEAgent
		msg      *SPOEMessage
		grp      *SPOEGroup
		section  string
		agentSet bool
	)
	fail := func(pos Pos, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %w: "+format, append([]any{pos, ErrBadValue}, a...)...))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		pos := Pos{File: file, Line: line}
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "[") {
			scope, ok := strings.CutSuffix(text, "]")
			if !ok || len(scope) < 2 {
				fail(pos, "invalid SPOE scope '%s'", text)
				continue
			}
			if name == "" {
				fail(pos, "SPOE scope '%s' found, but the filter names no engine", text)
				continue
			}
			inScope = strings.TrimSpace(scope[1:]) == name
			section = ""
			continue
		}
		if !inScope {
			continue
		}
		words, err := splitLine(sc.Text(), lineCtx{file: file, line: line, section: section})
		if err != nil {
			fail(pos, "%v", err)
			continue
		}
		if len(words) == 0 {
			continue
		}
		kw, args := words[0], words[1:]
		switch kw {
		case "spoe-agent":
			if agentSet {
				fail(pos, "only one 'spoe-agent' per SPOE scope (the first at %s)", agent.Pos)
				section = ""
				continue
			}
			if len(args) != 1 {
				fail(pos, "'spoe-agent' expects a <name>")
				continue
			}
			agentSet, section = true, kw
			e.Agent = SPOEAgent{Pos: pos, Name: args[0], Pipelining: true, Async: true}
			agent = &e.Agent
			continue
		case "spoe-message":
			if len(args) != 1 {
				fail(pos, "'spoe-message' expects a <name>")
				continue
			}
			if m := e.Messages[args[0]]; m != nil {
				fail(pos, "SPOE message '%s' already declared at %s", args[0], m.Pos)
				continue
			}
			section = kw
			msg = &SPOEMessage{Pos: pos, Name: args[0]}
			e.Messages[msg.Name] = msg
			continue
		case "spoe-group":
			if len(args) != 1 {
				fail(pos, "'spoe-group' expects a <name>")
				continue
			}
			if g := e.Groups[args[0]]; g != nil {
				fail(pos, "SPOE group '%s' already declared at %s", args[0], g.Pos)
				continue
			}
			section = kw
			grp = &SPOEGroup{Pos: pos, Name: args[0]}
			e.Groups[grp.Name] = grp
			continue
		}
		var err2 error
		switch section {
		case "spoe-agent":
			err2 = parseSPOEAgentLine(pos, agent, kw, args)
		case "spoe-message":
			err2 = e.parseSPOEMessageLine(msg, kw, args)
		case "spoe-group":
			if kw != "messages" {
				err2 = fmt.Errorf("%w: '%s' in a spoe-group section (only 'messages')", ErrUnknownKeyword, kw)
			} else {
				grp.names = append(grp.names, args...)
			}
		default:
			err2 = fmt.Errorf("%w: '%s' outside any SPOE section", ErrUnknownKeyword, kw)
		}
		if err2 != nil {
			for _, s := range []error{ErrUnknownKeyword, ErrUnsupported} {
				if errors.Is(err2, s) {
					errs = append(errs, fmt.Errorf("%s: %w", pos, err2))
					err2 = nil
					break
				}
			}
			if err2 != nil {
				fail(pos, "'%s': %v", kw, err2)
			}
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if !agentSet {
		return nil, []error{fmt.Errorf("%w: no SPOE agent found in file %s", ErrBadValue, file)}
	}
	a := &e.Agent
	if e.Name == "" {
		e.Name = a.Name
	}
	if a.VarPrefix == "" {
		a.VarPrefix = a.Name
	}
	if a.Backend == "" {
		return nil, []error{fmt.Errorf("%w: no backend declared for SPOE agent '%s' declared at %s", ErrReference, a.Name, a.Pos)}
	}
	if a.HelloTimeout == 0 || a.IdleTimeout == 0 || a.ProcessingTimeout == 0 {
		p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: missing timeouts for SPOE agent '%s' declared at %s: set 'hello', 'idle' and 'processing'", p.pos, a.Name, a.Pos))
	}
	for _, n := range a.Messages {
		m := e.Messages[n]
		if m == nil {
			return nil, []error{fmt.Errorf("%w: SPOE agent '%s' uses the undefined SPOE message '%s' at %s", ErrReference, a.Name, n, a.Pos)}
		}
		if m.Event == "" {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: ignoring SPOE message '%s' without event at %s", p.pos, n, m.Pos))
			continue
		}
		e.Events[m.Event] = append(e.Events[m.Event], m)
	}
	for _, n := range a.Groups {
		g := e.Groups[n]
		if g == nil {
			return nil, []error{fmt.Errorf("%w: SPOE agent '%s' uses the undefined SPOE group '%s' at %s", ErrReference, a.Name, n, a.Pos)}
		}
		for _, mn := range g.names {
			m := e.Messages[mn]
			if m == nil {
				return nil, []error{fmt.Errorf("%w: SPOE group '%s' uses the undefined SPOE message '%s' at %s", ErrReference, g.Name, mn, g.Pos)}
			}
			g.Messages = append(g.Messages, m)
		}
	}
	// Groups the agent does not list cannot be sent.
	for n := range e.Groups {
		if !slices.Contains(a.Groups, n) {
			delete(e.Groups, n)
		}
	}
	return e, nil
}

// spoeVarName checks a variable name without scope, as the options and
// register-var-names take it.
func spoeVarName(s string) error {
	if s == "" {
		return errors.New("expects a variable name")
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("invalid character '%c' in '%s' (only 'a-z', 'A-Z', '0-9', '.' and '_')", c, s)
		}
	}
	return nil
}

func parseSPOEAgentLine(pos Pos, a *SPOEAgent, kw string, args []string) error {
	one := func() (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("expects one argument")
		}
		return args[0], nil
	}
	switch kw {
	case "messages":
		if len(args) == 0 {
			return errors.New("expects a list of message names")
		}
		a.Messages = append(a.Messages, args...)
	case "groups":
		if len(args) == 0 {
			return errors.New("expects a list of group names")
		}
		a.Groups = append(a.Groups, args...)
	case "use-backend":
		v, err := one()
		if err != nil {
			return err
		}
		a.Backend = v
	case "timeout":
		if len(args) != 2 {
			return errors.New("expects 'hello', 'idle' or 'processing' and a time")
		}
		d, err := ParseTime(args[1])
		if err != nil {
			return fmt.Errorf("'timeout %s': %w", args[0], err)
		}
		switch args[0] {
		case "hello":
			a.HelloTimeout = d
		case "idle":
			a.IdleTimeout = d
		case "processing":
			a.ProcessingTimeout = d
		default:
			return fmt.Errorf("'timeout' supports 'hello', 'idle' or 'processing' (got '%s')", args[0])
		}
	case "max-frame-size":
		v, err := one()
		if err != nil {
			return err
		}
		n, err := parseInt(v, 256, DefaultBufSize-4)
		if err != nil {
			return err
		}
		a.MaxFrameSize = n
	case "max-waiting-frames":
		v, err := one()
		if err != nil {
			return err
		}
		n, err := parseInt(v, 1, 1<<20)
		if err != nil {
			return err
		}
		a.MaxWaiting = n
	case "register-var-names":
		if len(args) == 0 {
			return errors.New("expects one or more variable names")
		}
		for _, v := range args {
			if err := spoeVarName(v); err != nil {
				return err
			}
		}
		a.RegisterVarNames = append(a.RegisterVarNames, args...)
	case "maxconnrate", "maxerrrate":
		if len(args) == 0 {
			return errors.New("expects an integer argument")
		}
		if len(args) > 1 {
			return fmt.Errorf("cannot handle unexpected argument '%s'", args[1])
		}
		n, err := parseInt(args[0], 0, 1<<31-1)
		if err != nil {
			return err
		}
		if kw == "maxconnrate" {
			a.MaxConnRate = n
		} else {
			a.MaxErrRate = n
		}
	case "log":
		if len(args) == 1 && args[0] == "global" {
			a.LogGlobal = true
			return nil
		}
		l, err := parseLog(pos, args)
		if err != nil {
			return err
		}
		a.Logs = append(a.Logs, l)
	case "option", "no":
		neg := kw == "no"
		if neg && len(args) == 1 && args[0] == "log" {
			// "no log": the agent logs nothing.
			a.Logs, a.LogGlobal = nil, false
			return nil
		}
		if neg {
			if len(args) == 0 || args[0] != "option" {
				return fmt.Errorf("%w: 'no %s'", ErrUnknownKeyword, strings.Join(args, " "))
			}
			args = args[1:]
		}
		if len(args) == 0 {
			return errors.New("expects an option name")
		}
		opt, rest := args[0], args[1:]
		switch opt {
		case "pipelining":
			a.Pipelining = !neg
		case "async":
			a.Async = !neg
		case "send-frag-payload":
			// lb never fragments frames.
		case "dontlog-normal":
			a.DontLogNormal = !neg
		case "continue-on-error", "force-set-var", "var-prefix", "set-on-error", "set-process-time", "set-total-time":
			if neg {
				return fmt.Errorf("'no option %s' is not supported", opt)
			}
			switch opt {
			case "continue-on-error":
				a.ContinueOnError = true
			case "force-set-var":
				a.ForceSetVar = true
			default:
				if len(rest) != 1 {
					return fmt.Errorf("'option %s' expects a name", opt)
				}
				if err := spoeVarName(rest[0]); err != nil {
					return fmt.Errorf("'option %s': %w", opt, err)
				}
				switch opt {
				case "var-prefix":
					a.VarPrefix = rest[0]
				case "set-on-error":
					a.SetOnError = rest[0]
				case "set-process-time":
					a.SetProcessTime = rest[0]
				case "set-total-time":
					a.SetTotalTime = rest[0]
				}
				return nil
			}
		default:
			return fmt.Errorf("%w: option '%s' in a spoe-agent section", ErrUnknownKeyword, opt)
		}
		if len(rest) > 0 {
			return fmt.Errorf("'option %s' takes no argument", opt)
		}
	default:
		return fmt.Errorf("%w: '%s' in a spoe-agent section", ErrUnknownKeyword, kw)
	}
	return nil
}

func (e *SPOEEngine) parseSPOEMessageLine(m *SPOEMessage, kw string, args []string) error {
	switch kw {
	case "acl":
		return e.ACLs.Add(args)
	case "args":
		for _, w := range args {
			arg := SPOEArg{Expr: w}
			if i := strings.IndexByte(w, '='); i >= 0 && !strings.ContainsAny(w[:i], "(,") {
				arg.Name, arg.Expr = w[:i], w[i+1:]
			}
			if _, _, err := e.ACLs.Refs.CompileFetch(arg.Expr); err != nil {
				return err
			}
			m.Args = append(m.Args, arg)
		}
		if len(m.Args) > 255 {
			return errors.New("a message carries at most 255 arguments")
		}
	case "event":
		if len(args) == 0 {
			return errors.New("expects an event name")
		}
		if !spoeEvents[args[0]] {
			return fmt.Errorf("unknown event '%s'", args[0])
		}
		m.Event = args[0]
		if len(args) > 1 {
			cond, err := acl.ParseCond(args[1:], &e.ACLs)
			if err != nil {
				return err
			}
			m.Cond = cond
		}
	default:
		return fmt.Errorf("%w: '%s' in a spoe-message section", ErrUnknownKeyword, kw)
	}
	return nil
}

// checkSPOE resolves each SPOE engine's backend and each send-spoe-group
// rule's engine and group, as HAProxy does once every section is read.
func (p *parser) checkSPOE() {
	for _, px := range p.cfg.Proxies {
		for _, f := range px.Filters {
			if f.Type != "spoe" {
				continue
			}
			a := f.Engine.Agent
			be := p.cfg.Proxy(a.Backend, KindBackend)
			p.pos = f.Pos
			switch {
			case be == nil:
				p.errorf("filter", ErrReference, "proxy '%s': unknown backend '%s' used by SPOE agent '%s' declared at %s", px.Name, a.Backend, a.Name, a.Pos)
			case be.Mode == "http":
				p.errorf("filter", ErrReference, "proxy '%s': backend '%s' used by SPOE agent '%s' declared at %s does not support HTTP mode", px.Name, a.Backend, a.Name, a.Pos)
			}
		}
		check := func(pos Pos, kw, engine, group string) {
			p.pos = pos
			e := px.SPOEEngine(engine)
			switch {
			case e == nil:
				p.errorf(kw, ErrReference, "proxy '%s': unable to find SPOE engine '%s' used by the send-spoe-group '%s'", px.Name, engine, group)
			case e.Groups[group] == nil:
				p.errorf(kw, ErrReference, "proxy '%s': unable to find SPOE group '%s' into SPOE engine '%s' configuration", px.Name, group, engine)
			}
		}
		for _, rules := range [][]HTTPRule{px.HTTP.RequestRules, px.HTTP.ResponseRules} {
			for _, r := range rules {
				if r.Action == "send-spoe-group" {
					check(r.Pos, "http-request", r.Name, r.Value)
				}
			}
		}
		for _, r := range px.Stick.ContentRules {
			if r.Action == "send-spoe-group" {
				check(r.Pos, "tcp-request", r.Var, r.Key)
			}
		}
		for _, r := range px.Stick.ResponseRules {
			if r.Action == "send-spoe-group" {
				check(r.Pos, "tcp-response", r.Var, r.Key)
			}
		}
	}
}

// SPOEEngine returns the proxy's SPOE engine of that name, or nil.
func (px *Proxy) SPOEEngine(name string) *SPOEEngine {
	for _, f := range px.Filters {
		if f.Type == "spoe" && f.Engine.Name == name {
			return f.Engine
		}
	}
	return nil
}

func init() {
	finishers = append(finishers, (*parser).checkSPOE)
}
