package config

import (
	"errors"
	"fmt"
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
// MAX_TCP_KEEPINTVL in seconds, MAX_TCP_KEEPCNT). HAProxy takes larger
// values and the setsockopt that fails leaves the system's value without
// a word; lb refuses them where they are written.
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
		proxyKeywords[side.name+"-idle"] = proxyKeyword{side.kinds, func(_ *parser, px *Proxy, a []string) error {
			return keepAliveTime(a, &ka(px).Idle)
		}}
		proxyKeywords[side.name+"-intvl"] = proxyKeyword{side.kinds, func(_ *parser, px *Proxy, a []string) error {
			return keepAliveTime(a, &ka(px).Interval)
		}}
		proxyKeywords[side.name+"-cnt"] = proxyKeyword{side.kinds, func(_ *parser, px *Proxy, a []string) error {
			return oneInt(a, 0, maxKeepAliveCount, &ka(px).Count)
		}}
	}
}

// keepAliveTime parses the time of a *tcpka-idle or *tcpka-intvl line:
// seconds when no unit is given (unlike timeouts, in milliseconds), 0 for
// the system's value, at most what the kernel accepts.
func keepAliveTime(a []string, dst *time.Duration) error {
	if len(a) != 1 {
		return errors.New("expects one time (in seconds unless a unit is given)")
	}
	tooLarge := fmt.Errorf("%s is more than the kernel accepts (%ds)", a[0], maxKeepAliveSeconds)
	if s := a[0]; s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > maxKeepAliveSeconds {
			return tooLarge
		}
		*dst = time.Duration(n) * time.Second
		return nil
	}
	d, err := ParseTime(a[0])
	if err != nil {
		return err
	}
	if d > maxKeepAliveSeconds*time.Second {
		return tooLarge
	}
	*dst = d
	return nil
}
