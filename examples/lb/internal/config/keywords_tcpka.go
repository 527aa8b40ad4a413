package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TCP keepalive: "option tcpka", "option clitcpka", "option srvtcpka" and
// the clitcpka-* and srvtcpka-* timings, in the sections HAProxy accepts
// them: the client side in defaults, frontend and listen, the server side
// in defaults, backend and listen, tcpka in all four. Where HAProxy only
// warns that a keyword is ignored in a section, lb stops, as for every
// misplaced keyword.

// Linux's bounds on the keepalive socket options (MAX_TCP_KEEPIDLE and
// MAX_TCP_KEEPINTVL in seconds, MAX_TCP_KEEPCNT). HAProxy takes values
// beyond them, and the setsockopt that the kernel refuses leaves the
// system's value without a word. lb takes the same lines, keeps the
// system's value the same way, and says so in a warning.
const (
	maxKeepAliveSeconds = 32767
	maxKeepAliveCount   = 127
)

func init() {
	optionKeywords["tcpka"] = optionKeyword{kAll, func(px *Proxy, a []string, on bool) error {
		if err := noArgs(a); err != nil {
			return err
		}
		if !on {
			// HAProxy has no negation for tcpka either: what a defaults
			// section turned on is turned off one side at a time.
			return errors.New("cannot be negated: use 'no option clitcpka' and 'no option srvtcpka'")
		}
		// Each side the section has, as in HAProxy: a frontend gets the
		// client side, a backend the server side, defaults and listen both.
		if px.Kind == KindDefaults || px.Kind.IsFrontend() {
			px.CliTCPKA.On = true
		}
		if px.Kind == KindDefaults || px.Kind.IsBackend() {
			px.SrvTCPKA.On = true
		}
		return nil
	}}
	sides := []struct {
		name   string
		option Kind // the option's sections (defaults always takes options)
		kinds  Kind // the timings' sections
		ka     func(*Proxy) *TCPKeepAlive
	}{
		{"clitcpka", KindFrontend, kFeDef, func(px *Proxy) *TCPKeepAlive { return &px.CliTCPKA }},
		{"srvtcpka", KindBackend, kBeDef, func(px *Proxy) *TCPKeepAlive { return &px.SrvTCPKA }},
	}
	for _, side := range sides {
		ka := side.ka
		optionKeywords[side.name] = optionKeyword{side.option, func(px *Proxy, a []string, on bool) error {
			if err := noArgs(a); err != nil {
				return err
			}
			ka(px).On = on
			return nil
		}}
		name := side.name
		proxyKeywords[name+"-idle"] = proxyKeyword{side.kinds, func(p *parser, px *Proxy, a []string) error {
			return keepAliveTime(p, name+"-idle", "tcp_keepalive_time", a, &ka(px).Idle)
		}}
		proxyKeywords[name+"-intvl"] = proxyKeyword{side.kinds, func(p *parser, px *Proxy, a []string) error {
			return keepAliveTime(p, name+"-intvl", "tcp_keepalive_intvl", a, &ka(px).Interval)
		}}
		proxyKeywords[name+"-cnt"] = proxyKeyword{side.kinds, func(p *parser, px *Proxy, a []string) error {
			return keepAliveCount(p, name+"-cnt", a, &ka(px).Count)
		}}
	}
}

// keepAliveTime parses the time of a *tcpka-idle or *tcpka-intvl line:
// seconds when no unit is given (unlike timeouts, in milliseconds), 0 for
// the system's value. A time the kernel would refuse leaves the system's
// value (sysctl names it), with a warning.
func keepAliveTime(p *parser, kw, sysctl string, a []string, dst *time.Duration) error {
	if len(a) != 1 {
		return errors.New("expects one time (in seconds unless a unit is given)")
	}
	var d time.Duration
	if s := a[0]; s != "" && strings.Trim(s, "0123456789") == "" {
		// HAProxy reads a bare number as seconds into 32 bits.
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > math.MaxInt32 {
			return fmt.Errorf("invalid time %q: too large (at most %d s)", s, math.MaxInt32)
		}
		d = time.Duration(n) * time.Second
	} else {
		var err error
		if d, err = ParseTime(s); err != nil {
			return err
		}
	}
	if d > maxKeepAliveSeconds*time.Second {
		p.warnKeepAlive(kw, a[0], fmt.Sprintf("more than Linux takes (%ds)", maxKeepAliveSeconds), sysctl)
		d = 0
	}
	*dst = d
	return nil
}

// keepAliveCount parses the probe count of a *tcpka-cnt line, 0 for the
// system's. A count the kernel would refuse (below 1 or above 127)
// leaves the system's value, with a warning.
func keepAliveCount(p *parser, kw string, a []string, dst *int) error {
	if len(a) != 1 {
		return errors.New("expects one number")
	}
	n, err := strconv.Atoi(a[0])
	if err != nil {
		return fmt.Errorf("invalid number %q", a[0])
	}
	if n < 0 || n > maxKeepAliveCount {
		p.warnKeepAlive(kw, a[0], fmt.Sprintf("outside what Linux takes (1..%d)", maxKeepAliveCount), "tcp_keepalive_probes")
		n = 0
	}
	*dst = n
	return nil
}

// warnKeepAlive records that a keepalive value is one the kernel refuses.
func (p *parser) warnKeepAlive(kw, value, why, sysctl string) {
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s: '%s %s': %s; the system's value (net.ipv4.%s) applies, as in HAProxy, whose setsockopt fails", p.pos, kw, value, why, sysctl))
}
