package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// HTTPErrorsSection is an "http-errors NAME" section: errorfile lines
// that proxies import with "errorfiles NAME [CODE...]".
type HTTPErrorsSection struct {
	Pos
	Name  string
	Files []ErrorFile
}

// HTTPErrorsSection returns the http-errors section with that name, or
// nil.
func (c *Config) HTTPErrorsSection(name string) *HTTPErrorsSection {
	for _, s := range c.HTTPErrors {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func init() {
	proxyKeywords["errorfiles"] = proxyKeyword{kAll, parseErrorFiles}
	finishers = append(finishers, (*parser).expandErrorFiles)
}

// startHTTPErrors opens an "http-errors NAME" section.
func (p *parser) startHTTPErrors(args []string) {
	p.section, p.cur, p.httpErrors = "http-errors", nil, nil
	if len(args) != 1 {
		p.errorf("http-errors", ErrBadValue, "'http-errors' expects <name>")
		return
	}
	if err := checkName(args[0]); err != nil {
		p.errorf("http-errors", ErrBadValue, "'http-errors %s': %v", args[0], err)
		return
	}
	if prev := p.cfg.HTTPErrorsSection(args[0]); prev != nil {
		p.errorf("http-errors", ErrReference, "http-errors section '%s' has the same name as the one declared at %s", args[0], prev.Pos)
		return
	}
	p.httpErrors = &HTTPErrorsSection{Pos: p.pos, Name: args[0]}
	p.cfg.HTTPErrors = append(p.cfg.HTTPErrors, p.httpErrors)
}

// httpErrorsLine reads one line of the current http-errors section:
// "errorfile <code> <file>" is the one keyword there.
func (p *parser) httpErrorsLine(words []string) {
	s := p.httpErrors
	if s == nil {
		return // the section's own line failed
	}
	kw := words[0]
	if kw != "errorfile" {
		p.errorf(kw, ErrUnknownKeyword, "unknown keyword '%s' in 'http-errors' section (only 'errorfile')", kw)
		return
	}
	ef, err := readErrorFile(p.pos, p.baseDir, words[1:])
	if err != nil {
		p.fail(kw, "'errorfile' in 'http-errors' section", err)
		return
	}
	s.Files = append(s.Files, ef)
}

// parseErrorFiles reads "errorfiles <name> [<code> ...]": the error
// files of an http-errors section, all or those of the codes given,
// taking their place among the proxy's errorfile lines; the section may
// come later in the files.
func parseErrorFiles(p *parser, px *Proxy, a []string) error {
	if len(a) == 0 {
		return errors.New("expects <name> as argument")
	}
	ef := ErrorFile{Pos: p.pos, Path: "errorfiles " + a[0], from: a[0]}
	for _, c := range a[1:] {
		code, err := strconv.Atoi(c)
		if err != nil || !errorFileStatuses[code] {
			return fmt.Errorf("status code '%s' cannot be overridden (supported: %s)", c, errorStatusList)
		}
		ef.codes = append(ef.codes, code)
	}
	px.HTTP.ErrorFiles = appendOwn(px.HTTP.ErrorFiles, ef)
	return nil
}

// expandErrorFiles replaces each proxy's errorfiles lines by the error
// files they import, in place, so that the last line for a status wins
// whichever form it takes.
func (p *parser) expandErrorFiles() {
	for _, px := range p.cfg.Proxies {
		var out []ErrorFile
		changed := false
		for _, ef := range px.HTTP.ErrorFiles {
			if ef.from == "" {
				out = append(out, ef)
				continue
			}
			changed = true
			s := p.cfg.HTTPErrorsSection(ef.from)
			if s == nil {
				p.pos = ef.Pos
				p.errorf("errorfiles", ErrReference, "%s '%s': unable to find global 'http-errors' section '%s'", px.Kind, px.Name, ef.from)
				continue
			}
			for _, f := range s.Files {
				if len(ef.codes) == 0 || slices.Contains(ef.codes, f.Status) {
					out = append(out, f)
				}
			}
		}
		if changed {
			px.HTTP.ErrorFiles = out
		}
	}
}
