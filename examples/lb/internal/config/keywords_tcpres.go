package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/lua"
)

// The "tcp-response" keyword: rules a backend runs on what its server
// sends, before it reaches the client: the bytes in mode tcp (the
// balancer's content_res.go), each response in mode http
// (http_content_res.go).

func init() {
	// Every section kind reaches the parser, which words the refusals of
	// frontends and defaults as haproxy does.
	proxyKeywords["tcp-response"] = proxyKeyword{kAll, parseTCPResponse}
}

// tcpResponseActions is haproxy 2.6's list of tcp-response content
// actions, in the order its error message gives them.
const tcpResponseActions = "'accept', 'close', 'reject', 'ot-group', 'set-log-level', 'set-nice', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', 'send-spoe-group', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-mark', 'set-tos', 'silent-drop'"

// parseTCPResponse reads "tcp-response inspect-delay <time>" and
// "tcp-response content <action> [{if|unless} <cond>]", in backends and
// listen sections only, as in haproxy.
func parseTCPResponse(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 || (a[0] != "inspect-delay" && a[0] != "content") {
		got := ""
		if len(a) > 0 {
			got = a[0]
		}
		return fmt.Errorf("'tcp-response' expects 'inspect-delay' or 'content' in %s '%s' (got '%s')", px.Kind, px.Name, got)
	}
	stage := a[0]
	switch {
	case px.Kind == KindDefaults && px.Name != "" && stage == "content":
		return fmt.Errorf("%w: 'tcp-response %s' in a defaults section (lb's defaults sections carry no rules)", ErrUnsupported, stage)
	case px.Kind == KindDefaults && px.Name != "":
		// The delay, which the sections from it inherit.
	case !px.Kind.IsBackend():
		return fmt.Errorf("%w: tcp-response %s is only allowed in 'backend' sections or 'defaults' section with a name", ErrMisplaced, stage)
	}
	if stage == "inspect-delay" {
		if len(a) < 2 {
			return fmt.Errorf("'tcp-response inspect-delay' expects a positive delay in milliseconds, in %s '%s'", px.Kind, px.Name)
		}
		d, err := ParseTime(a[1])
		if err != nil {
			return fmt.Errorf("'tcp-response inspect-delay' expects a positive delay in milliseconds, in %s '%s' (%w)", px.Kind, px.Name, err)
		}
		// As haproxy, words after the time are not read, and a second
		// delay does not replace the first.
		if px.Stick.ResponseDelay != 0 {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: ignoring tcp-response inspect-delay (was already defined) in %s '%s'", p.pos, px.Kind, px.Name))
			return nil
		}
		px.Stick.ResponseDelay = d
		return nil
	}
	r, err := parseResponseRule(p, px, a[1:])
	if err != nil {
		return err
	}
	r.Pos = p.pos
	px.Stick.ResponseRules = appendOwn(px.Stick.ResponseRules, r)
	return nil
}

// parseResponseRule reads one "tcp-response content" rule's action, its
// arguments and its condition.
func parseResponseRule(p *parser, px *Proxy, a []string) (ConnRule, error) {
	words, cond, err := acl.SplitCond(a, &px.ACLs)
	if err != nil {
		return ConnRule{}, err
	}
	action := ""
	if len(words) > 0 {
		action = words[0]
	}
	r := ConnRule{Action: action, Cond: cond}
	var args []string
	if len(words) > 1 {
		args = words[1:]
	}
	onlyCond := func() error {
		if len(args) > 0 {
			return fmt.Errorf("'tcp-response content %s' only accepts 'if' or 'unless', in %s '%s' (got '%s')", action, px.Kind, px.Name, args[0])
		}
		return nil
	}
	switch {
	case action == "accept" || action == "reject" || action == "close":
		return r, onlyCond()
	case action == "silent-drop":
		return r, onlyCond()
	case action == "set-log-level":
		r.LogLevel, err = parseSetLogLevel(args)
		return r, err
	case action == "set-nice":
		// The nice value orders haproxy's tasks; lb has no such
		// scheduler, so it is read and checked, and changes nothing.
		n, err := parseNice(args)
		r.Num = int64(n)
		return r, err
	case action == "set-mark" || action == "set-tos":
		// On the client's socket, as in the tcp-request rules.
		r.Num, err = parseMarkTOS(action, args)
		return r, err
	case strings.HasPrefix(action, "lua."):
		if err := p.luaAction(action, lua.StageTCPRes, args); err != nil {
			return r, err
		}
		r.Var, r.Action, r.Args = strings.TrimPrefix(action, "lua."), "lua", args
		return r, nil
	case action == "ot-group":
		return r, fmt.Errorf("%w: 'tcp-response content %s' (lb runs no OpenTracing)", ErrUnsupported, action)
	case action == "sc-inc-gpc" || strings.HasPrefix(action, "sc-inc-gpc(") || action == "sc-set-gpt" || strings.HasPrefix(action, "sc-set-gpt("):
		if err := parseConnArrayAction(px.ACLs.Refs, &r, args, a); err != nil {
			return r, err
		}
		return r, misplacedInResponse(r.Key)
	case strings.HasPrefix(action, "sc-inc-gpc0") || strings.HasPrefix(action, "sc-inc-gpc1") || strings.HasPrefix(action, "sc-set-gpt0"):
		if err := parseConnStickAction(px.ACLs.Refs, &r, args); err != nil {
			return r, err
		}
		return r, misplacedInResponse(r.Key)
	case strings.HasPrefix(action, "set-var(") || strings.HasPrefix(action, "set-var-fmt(") || strings.HasPrefix(action, "unset-var("):
		return r, parseConnVarAction(px.ACLs.Refs, &r, args)
	case action == "send-spoe-group":
		if len(args) != 2 {
			return r, errors.New("expects 2 arguments: <engine-id> <group-id>")
		}
		r.Var, r.Key = args[0], args[1]
		return r, nil
	}
	return r, fmt.Errorf("%w: 'tcp-response content' expects %s in %s '%s' (got '%s')", ErrUnknownKeyword, tcpResponseActions, px.Kind, px.Name, action)
}

// misplacedInResponse refuses, in haproxy's words, a response rule's
// expression whose fetch reads the request buffer.
func misplacedInResponse(expr string) error {
	src := requestBufferOf(expr)
	if src == "" {
		return nil
	}
	name, _, _ := strings.Cut(expr, ",")
	name, _, _ = strings.Cut(name, "(")
	return fmt.Errorf("%w: fetch method '%s' extracts information from '%s', none of which is available here", ErrMisplaced, name, src)
}

// requestBufferOf returns "request buffer" when expr's fetch reads what
// the client sent, which a response rule cannot see, "" otherwise.
func requestBufferOf(expr string) string {
	name, _, _ := strings.Cut(expr, ",")
	name, _, _ = strings.Cut(name, "(")
	if n := messageNeeds[name]; n == "request buffer" {
		return n
	}
	return ""
}
