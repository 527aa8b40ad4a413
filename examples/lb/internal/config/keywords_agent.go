package config

import (
	"errors"
	"fmt"
	"net/netip"
)

// The agent check's server options: "agent-check" and "no-agent-check",
// "agent-port", "agent-addr", "agent-inter" and "agent-send", on server
// lines and default-server alike.

func init() {
	serverOptions["agent-check"] = serverOption{0, func(s *Server, _ []string) error { s.AgentCheck = true; return nil }}
	serverOptions["no-agent-check"] = serverOption{0, func(s *Server, _ []string) error {
		// As in HAProxy, dropping the agent drops its send string too.
		s.AgentCheck, s.AgentSend = false, ""
		return nil
	}}
	serverOptions["agent-port"] = serverOption{1, func(s *Server, a []string) error { return oneInt(a, 1, 65535, &s.AgentPort) }}
	serverOptions["agent-addr"] = serverOption{1, func(s *Server, a []string) error {
		ip, err := netip.ParseAddr(a[0])
		if err != nil {
			return fmt.Errorf("'%s' is not an IP address (agent-addr takes no port: see agent-port)", a[0])
		}
		s.AgentAddr = ip.String()
		return nil
	}}
	serverOptions["agent-inter"] = serverOption{1, func(s *Server, a []string) error { return positiveTime(a[0], &s.AgentInter) }}
	serverOptions["agent-send"] = serverOption{1, func(s *Server, a []string) error {
		if a[0] == "" {
			return errors.New("expects a string as argument")
		}
		s.AgentSend = a[0]
		return nil
	}}
	finishers = append(finishers, (*parser).validateAgentCheck)
}

// validateAgentCheck refuses, as HAProxy does, an agent check without a
// port to reach the agent at: neither agent-port nor port.
func (p *parser) validateAgentCheck() {
	for _, px := range p.cfg.Proxies {
		if !px.Kind.IsBackend() {
			continue
		}
		for _, s := range px.Servers {
			if s.AgentCheck && s.AgentPort == 0 && s.CheckPort == 0 {
				p.pos = s.Pos
				p.errorf("agent-check", ErrBadValue, "%s '%s': server '%s' does not have agent port: 'agent-check' needs 'agent-port' or 'port'", px.Kind, px.Name, s.Name)
			}
		}
	}
}
