package config

import (
	"fmt"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
)

// HAProxy checks each enabled proxy once the whole configuration is read
// and warns of settings that will not do what they seem to: a side with
// no timeout, a log format with nowhere to send its lines, a capture of
// request contents that does not wait for them. Under "global
// zero-warning" those warnings refuse the configuration, so lb gives the
// same ones, on the same proxies.

func init() {
	finishers = append(finishers, (*parser).warnProxies)
}

// missingTimeouts is the body of the missing timeouts warning, after its
// first line.
const missingTimeouts = `
   | While not properly invalid, you will certainly encounter various problems
   | with such a configuration. To fix this, please ensure that all following
   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.`

// warnProxies warns, for each enabled proxy, as HAProxy does.
func (p *parser) warnProxies() {
	for _, px := range p.cfg.Proxies {
		if px.Disabled {
			continue
		}
		if px.missesTimeouts() {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("missing timeouts for %s '%s'.%s", proxyWord(px), px.Name, missingTimeouts))
		}
		if px.Kind.IsFrontend() && px.hasLogFormat() && !p.hasLogTarget(px) {
			p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("log format ignored for %s '%s' since it has no log address.", proxyWord(px), px.Name))
		}
		if px.Stick.InspectDelay == 0 {
			for _, r := range px.Stick.ContentRules {
				if r.Action == "capture" && acl.ReadsRequestContent(r.Key) {
					p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s '%s' : a 'tcp-request capture' rule explicitly depending on request contents without any 'tcp-request inspect-delay' setting. This means that this rule will randomly find its contents. This can be fixed by setting the tcp-request inspect-delay.", proxyWord(px), px.Name))
				}
			}
		}
	}
}

// missesTimeouts reports whether a proxy lacks a timeout HAProxy wants
// set: a frontend's client timeout; a backend with servers its connect
// timeout and its server one, which in mode tcp a tunnel timeout may
// stand for.
func (px *Proxy) missesTimeouts() bool {
	t := px.Timeouts
	if px.Kind.IsFrontend() && t.Client == 0 {
		return true
	}
	if px.Kind.IsBackend() && len(px.Servers) > 0 {
		return t.Connect == 0 || (t.Server == 0 && (px.Mode == "http" || t.Tunnel == 0))
	}
	return false
}

// hasLogFormat reports whether the proxy writes a traffic line: a
// log-format, or option tcplog, httplog or httpslog.
func (px *Proxy) hasLogFormat() bool {
	return len(px.LogFormat) > 0 || px.HTTP.Log || px.Options.TCPLog
}

// hasLogTarget reports whether the proxy has somewhere to send its lines:
// its own log targets, or the global ones through "log global".
func (p *parser) hasLogTarget(px *Proxy) bool {
	return len(px.Logs) > 0 || (px.LogGlobal && len(p.cfg.Global.Logs) > 0)
}
