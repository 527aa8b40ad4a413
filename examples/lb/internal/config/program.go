package config

import (
	"errors"
	"fmt"
)

// Program is a "program" section: a command lb starts next to the
// balancer in master-worker mode, as HAProxy's master does.
type Program struct {
	Pos
	Name string
	// Command is the command and its arguments ("command"); the last
	// line wins, as in HAProxy.
	Command []string
	// UID and GID are the user and group the command runs as ("user",
	// "group"), -1 when not set: lb's own.
	UID, GID int
	// StartOnReload starts a new instance of the command on each
	// reload ("option start-on-reload", the default; "no option
	// start-on-reload" clears it).
	StartOnReload bool
}

func init() {
	finishers = append(finishers, (*parser).checkPrograms)
}

// parseMasterWorker reads "master-worker [no-exit-on-failure]".
func parseMasterWorker(p *parser, a []string) error {
	if len(a) > 1 {
		return fmt.Errorf("'master-worker' cannot handle unexpected argument '%s'", a[1])
	}
	if len(a) == 1 {
		if a[0] != "no-exit-on-failure" {
			return errors.New("'master-worker' only supports 'no-exit-on-failure' option")
		}
		p.cfg.Global.NoExitOnFailure = true
	}
	p.cfg.Global.MasterWorker = true
	return nil
}

// startProgram opens a "program NAME" section.
func (p *parser) startProgram(args []string) {
	p.section, p.cur, p.prog = "program", nil, nil
	switch {
	case len(args) == 0:
		p.errorf("program", ErrBadValue, "'program' expects an <id> argument")
		return
	case len(args) > 1:
		p.errorf("program", ErrBadValue, "'program' cannot handle unexpected argument '%s'", args[1])
		return
	}
	for _, prev := range p.cfg.Programs {
		if prev.Name == args[0] {
			p.errorf("program", ErrReference, "'%s' program section already exists in the configuration (first declared at %s)", args[0], prev.Pos)
			return
		}
	}
	p.prog = &Program{Pos: p.pos, Name: args[0], UID: -1, GID: -1, StartOnReload: true}
	p.cfg.Programs = append(p.cfg.Programs, p.prog)
}

// programLine reads one line of the current program section.
func (p *parser) programLine(words []string) {
	pr := p.prog
	if pr == nil {
		return // the section's own line failed
	}
	neg := false
	if words[0] == "no" && len(words) > 1 && words[1] == "option" {
		neg, words = true, words[1:]
	}
	kw, a := words[0], words[1:]
	what := fmt.Sprintf("'%s' in 'program' section", kw)
	switch kw {
	case "command":
		if len(a) == 0 {
			p.errorf(kw, ErrBadValue, "%s: expects a command with optional arguments separated in words", what)
			return
		}
		pr.Command = append([]string(nil), a...)
	case "option":
		switch {
		case len(a) == 0:
			p.errorf(kw, ErrBadValue, "%s: expects an option name", what)
		case a[0] != "start-on-reload":
			p.errorf(kw, ErrUnknownKeyword, "unknown option '%s' in 'program' section", a[0])
		case len(a) > 1:
			p.errorf(kw, ErrBadValue, "'option start-on-reload' cannot handle unexpected argument '%s'", a[1])
		default:
			pr.StartOnReload = !neg
		}
	case "user", "group":
		dst, name := &pr.UID, "user/uid"
		if kw == "group" {
			dst, name = &pr.GID, "group/gid"
		}
		if len(a) > 1 {
			p.errorf(kw, ErrBadValue, "%s: cannot handle unexpected argument '%s'", what, a[1])
			return
		}
		if *dst != -1 {
			// HAProxy alerts and keeps the first one.
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: %s already specified, the first one is kept.", p.pos, name))
			return
		}
		if err := lookupID(a, kw == "group", dst); err != nil {
			p.fail(kw, what, err)
		}
	case "no":
		p.errorf(kw, ErrBadValue, "'no' in 'program' section: negation is only supported for 'option start-on-reload'")
	default:
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' in 'program' section", kw)
	}
}

// checkPrograms refuses a program section without a command.
func (p *parser) checkPrograms() {
	for _, pr := range p.cfg.Programs {
		if pr.Command == nil {
			p.errs = append(p.errs, &Error{Pos: pr.Pos, Keyword: "program", Err: fmt.Errorf("%w: the program section '%s' lacks a command to launch", ErrBadValue, pr.Name)})
		}
	}
}
