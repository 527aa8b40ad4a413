package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// HTTP/1 header names are case-insensitive, but some peers insist on one
// spelling. "h1-case-adjust FROM TO" (global) and the lines of
// "h1-case-adjust-file FILE" give the spelling of a name; "option
// h1-case-adjust-bogus-client" (frontend) and "option
// h1-case-adjust-bogus-server" (backend) have the names sent to that side
// over HTTP/1 written so. The file is read once the configuration is, as
// HAProxy reads it, and an entry it repeats is an error. As in HAProxy,
// entries are told apart by FROM as written, and only those whose FROM
// is in lower case apply: HAProxy looks names up in lower case.

func init() {
	globalKeywords["h1-case-adjust"] = func(p *parser, a []string) error {
		if len(a) < 2 {
			return errors.New("'h1-case-adjust' expects <from> and <to> as argument")
		}
		if len(a) > 2 {
			return fmt.Errorf("'h1-case-adjust' cannot handle unexpected argument '%s'", a[2])
		}
		return p.cfg.Global.addCaseAdjust(a[0], a[1])
	}
	globalKeywords["h1-case-adjust-file"] = func(p *parser, a []string) error {
		if len(a) != 1 {
			return errors.New("'h1-case-adjust-file' expects <file> as argument")
		}
		p.h1CaseFile, p.h1CaseFilePos = inDir(p.baseDir, a[0]), p.pos
		return nil
	}
	finishers = append(finishers, (*parser).readCaseAdjustFile)
	optionKeywords["h1-case-adjust-bogus-client"] = optionKeyword{KindFrontend, flag(func(o *Options) *bool { return &o.H1CaseAdjustClient })}
	optionKeywords["h1-case-adjust-bogus-server"] = optionKeyword{KindBackend, flag(func(o *Options) *bool { return &o.H1CaseAdjustServer })}
	ignoredOptions["h1-case-adjust-bogus-client"] = "cap"
	ignoredOptions["h1-case-adjust-bogus-server"] = "cap"
}

// addCaseAdjust adds the spelling to of the header name from, which may
// differ from it in case only.
func (g *Global) addCaseAdjust(from, to string) error {
	if !strings.EqualFold(from, to) {
		return errors.New("<from> and <to> must not differ execpt the case")
	}
	if _, dup := g.H1CaseAdjust[from]; dup {
		return fmt.Errorf("duplicate entry '%s'", from)
	}
	if g.H1CaseAdjust == nil {
		g.H1CaseAdjust = map[string]string{}
	}
	g.H1CaseAdjust[from] = to
	return nil
}

// readCaseAdjustFile reads the last h1-case-adjust-file: on each line
// that is not blank or a comment, a name, blanks, and its spelling up to
// the end of the line.
func (p *parser) readCaseAdjustFile() {
	if p.h1CaseFile == "" {
		return
	}
	p.pos = p.h1CaseFilePos
	fail := func(format string, a ...any) {
		p.errorf("h1-case-adjust-file", ErrBadValue, "h1-headers-case-adjust-file '%s' : "+format, append([]any{p.h1CaseFile}, a...)...)
	}
	data, err := os.ReadFile(p.h1CaseFile)
	if err != nil {
		fail("failed to open file: %v", err)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' || line[0] == '\r' {
			continue
		}
		from, to := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			from, to = line[:i], strings.TrimRight(strings.TrimLeft(line[i:], " \t"), " \t\r")
		}
		if to == "" {
			fail("expect <to> at line %d", n)
			return
		}
		if err := p.cfg.Global.addCaseAdjust(from, to); err != nil {
			fail("%v at line %d", err, n)
			return
		}
	}
	if err := sc.Err(); err != nil {
		fail("%v", err)
	}
}
