package config

import (
	"errors"
	"fmt"
)

// External checks: "option external-check" in a backend runs
// "external-check command" for each check of each server. As in HAProxy
// 2.6, the global section must allow them ("external-check", which takes
// no argument there), and a proxy without "insecure-fork-wanted" in the
// global section is warned that its checks will likely fail (HAProxy
// refuses to fork without it; lb runs the command all the same).

func init() {
	globalKeywords["external-check"] = func(p *parser, a []string) error {
		if len(a) > 0 {
			return fmt.Errorf("'external-check' cannot handle unexpected argument '%s'", a[0])
		}
		p.cfg.Global.ExternalCheck = true
		return nil
	}
	globalKeywords["insecure-fork-wanted"] = func(p *parser, a []string) error {
		p.cfg.Global.InsecureForkWanted = true
		return noArgs(a)
	}
	proxyKeywords["external-check"] = proxyKeyword{kBeDef, func(_ *parser, px *Proxy, a []string) error {
		if len(a) == 0 {
			return errors.New("expects 'command' or 'path'")
		}
		if len(a) < 2 {
			return fmt.Errorf("missing argument after '%s'", a[0])
		}
		if len(a) > 2 {
			return fmt.Errorf("'external-check' cannot handle unexpected argument '%s'", a[2])
		}
		switch a[0] {
		case "command":
			px.ExternalCheckCommand = a[1]
		case "path":
			px.ExternalCheckPath = a[1]
		default:
			return fmt.Errorf("'external-check': unknown argument '%s', expects 'command' or 'path'", a[0])
		}
		return nil
	}}
	finishers = append(finishers, (*parser).validateExternalCheck)
}

// validateExternalCheck refuses, as HAProxy does, an external check the
// global section does not allow or that has no command, warns about one
// without insecure-fork-wanted, and about a command no check will run.
func (p *parser) validateExternalCheck() {
	for _, px := range p.cfg.Proxies {
		if !px.Kind.IsBackend() {
			continue
		}
		ext := px.TCPCheck != nil && px.TCPCheck.External
		if !ext {
			if px.ExternalCheckCommand != "" {
				p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("'external-check command' will be ignored for %s '%s' (requires 'option external-check').", proxyWord(px), px.Name))
			}
			continue
		}
		p.pos = px.Pos
		if !p.cfg.Global.InsecureForkWanted {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("Proxy '%s' : 'insecure-fork-wanted' not enabled in the global section, 'option external-check' will likely fail.", px.Name))
		}
		switch {
		case !p.cfg.Global.ExternalCheck:
			p.errorf("option", ErrReference, "Proxy '%s' : 'option external-check' unable to find required 'global.external-check'.", px.Name)
		case px.ExternalCheckCommand == "":
			p.errorf("option", ErrReference, "Proxy '%s' : 'option external-check' unable to find required 'external-check command'.", px.Name)
		}
	}
}
