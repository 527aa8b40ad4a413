package config

import (
	"fmt"
	"strings"
)

// condFrame is one open .if block.
type condFrame struct {
	// active is whether the current branch's lines are read (false too
	// when the enclosing block's are not).
	active bool
	// decided is whether a branch was taken, or the enclosing block is
	// skipped: the next .elif is then not evaluated.
	decided bool
	// sawElse is whether .else was read.
	sawElse bool
}

// condBlocks are the .if blocks open in one file.
type condBlocks []condFrame

// skipping reports whether the current line is in a branch not taken.
func (c condBlocks) skipping() bool { return len(c) > 0 && !c[len(c)-1].active }

// directive handles a line starting with '.', as HAProxy's
// preprocessor: .if/.elif/.else/.endif open, switch and close blocks;
// .diag, .notice, .warning and .alert print their message when read.
// It returns false when the parse of the configuration must stop, as
// HAProxy stops at a block or condition error and at .alert.
func (p *parser) directive(words []string, conds *condBlocks) bool {
	kw := words[0]
	c := *conds
	top := func() *condFrame { return &c[len(c)-1] }
	noArgs := func() bool {
		if len(words) > 1 {
			p.errorf(kw, ErrBadValue, "Unexpected argument '%s' for '%s'", words[1], kw)
			return false
		}
		return true
	}
	switch kw {
	case ".if":
		if len(c) >= maxNestedConds-1 {
			p.errorf(kw, ErrBadValue, "too many nested '.if', max is %d", maxNestedConds)
			return false
		}
		if c.skipping() {
			*conds = append(c, condFrame{decided: true})
			return true
		}
		v, ok := p.condition(kw, words)
		if !ok {
			return false
		}
		*conds = append(c, condFrame{active: v, decided: v})
		return true
	case ".elif":
		if len(c) == 0 {
			p.errorf(kw, ErrBadValue, "lone '.elif' with no matching '.if'")
			return false
		}
		if top().sawElse {
			p.errorf(kw, ErrBadValue, "'.elif' after '.else' is not permitted")
			return false
		}
		if top().decided {
			top().active = false
			return true
		}
		v, ok := p.condition(kw, words)
		if !ok {
			return false
		}
		top().active, top().decided = v, v
		return true
	case ".else":
		if len(c) == 0 {
			p.errorf(kw, ErrBadValue, "lone '.else' with no matching '.if'")
			return false
		}
		if top().sawElse {
			p.errorf(kw, ErrBadValue, "'.else' after '.else' is not permitted")
			return false
		}
		if !noArgs() {
			p.condOpenAtStop = true
			return false
		}
		top().sawElse = true
		top().active = !top().decided
		top().decided = true
		return true
	case ".endif":
		if !noArgs() {
			p.condOpenAtStop = true
			return false
		}
		if len(c) == 0 {
			p.errorf(kw, ErrBadValue, "lone '.endif' with no matching '.if'")
			return false
		}
		*conds = c[:len(c)-1]
		return true
	}
	if c.skipping() {
		return true
	}
	switch kw {
	case ".diag", ".notice", ".warning", ".alert":
		if len(words) > 2 {
			p.errorf(kw, ErrBadValue, "Unexpected argument '%s' for '%s'. Use quotes if the message should contain spaces", words[2], kw)
			return true
		}
		msg := ""
		if len(words) > 1 {
			msg = words[1]
		}
		switch kw {
		case ".notice":
			p.cfg.Notices = append(p.cfg.Notices, fmt.Sprintf("%s: '%s'", p.pos, msg))
		case ".warning":
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: '%s'.", p.pos, msg))
		case ".alert":
			p.errorf(kw, ErrBadValue, "'%s'", msg)
			return false
		}
		// .diag speaks only in HAProxy's diagnostic mode (-dD), which lb
		// does not have.
		return true
	}
	p.errorf(kw, ErrUnknownKeyword, "unknown directive '%s'", kw)
	return false
}

// condition evaluates a .if or .elif line's condition: its words, joined
// by spaces as HAProxy joins them.
func (p *parser) condition(kw string, words []string) (bool, bool) {
	expr := strings.Join(words[1:], " ")
	v, err := evalCond(expr)
	if err != nil {
		ce := err.(*condError)
		p.errorf(kw, ErrBadValue, "%s in '%s' at position %d", ce.msg, kw, ce.pos+1)
		return false, false
	}
	return v, true
}
