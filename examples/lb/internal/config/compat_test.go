package config

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// compatCfg wraps lines in an HTTP frontend.
func compatCfg(lines string) string {
	return "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind :8080\n" + lines
}

// A redirect rule takes its type and options in any order; a missing
// type or type argument is named.
func TestRedirectOptionsInAnyOrder(t *testing.T) {
	c := mustParse(t, compatCfg("    http-request redirect code 301 drop-query location /x if { path /a }\n"))
	r := c.Proxies[0].HTTP.RequestRules[0]
	require.Equal(t, "location", r.RedirectType)
	require.Equal(t, "/x", r.Value)
	require.Equal(t, 301, r.Status)
	require.True(t, r.Redirect.DropQuery)

	_, err := parse(t, compatCfg("    http-request redirect code 301\n"))
	require.ErrorContains(t, err, "lb.cfg:8")
	require.ErrorContains(t, err, "expects a redirection type")
	_, err = parse(t, compatCfg("    http-request redirect code 301 location\n"))
	require.ErrorContains(t, err, "missing argument for 'location'")
}

// A server's "addr" may name a host: Resolve gives it the host's first
// address, and a name that does not resolve is an error at the line.
func TestServerCheckAddrHostName(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "checker.example" {
			return []netip.Addr{netip.MustParseAddr("192.0.2.7")}, nil
		}
		return nil, errors.New("no such host")
	}
	c := mustParse(t, "backend b\n  server s 127.0.0.1:1 check addr checker.example port 99\n")
	require.NoError(t, c.Resolve(context.Background(), lookup))
	require.Equal(t, "192.0.2.7", c.Proxies[0].Servers[0].CheckAddr)

	c = mustParse(t, "backend b\n  server s 127.0.0.1:1 check addr nowhere.example\n")
	err := c.Resolve(context.Background(), lookup)
	require.ErrorContains(t, err, "lb.cfg:2")
	require.ErrorContains(t, err, "'server b/s' : 'addr' : invalid address: 'nowhere.example'")
}

// A time whose unit is followed by more characters is read as that
// unit, with HAProxy 2.6's warning at the line, wherever a time is read.
func TestTimeUnitSuffixWarns(t *testing.T) {
	c := mustParse(t, `global
    hard-stop-after 1min
defaults
    mode http
    timeout connect 5sec
    timeout client 15min
backend b
    stick-table type ip size 1k expire 10mins
    server s 127.0.0.1:1 check inter 2sec
    timeout server 1s
`)
	require.Equal(t, time.Minute, c.Global.HardStopAfter)
	b := c.Proxy("b", KindBackend)
	require.Equal(t, 5*time.Second, b.Timeouts.Connect)
	require.Equal(t, 15*time.Minute, b.Timeouts.Client)
	require.Equal(t, 10*time.Minute, b.Stick.Table.Config.Expire)
	require.Equal(t, 2*time.Second, b.Servers[0].Inter)
	require.Equal(t, []string{
		"lb.cfg:2: unexpected character 'i' after the timer value '1min', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.",
		"lb.cfg:5: unexpected character 'e' after the timer value '5sec', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.",
		"lb.cfg:6: unexpected character 'i' after the timer value '15min', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.",
		"lb.cfg:8: unexpected character 'i' after the timer value '10mins', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.",
		"lb.cfg:9: unexpected character 'e' after the timer value '2sec', only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) are supported. This will be reported as an error in next versions.",
	}, c.Warnings)
	// No unit before the other characters is still an error.
	_, err := parse(t, "defaults\n    timeout client 10x\n")
	require.ErrorContains(t, err, `invalid time "10x": unknown unit "x"`)
}

// http-error takes a fixed answer for an error status; log-format
// bodies and statuses without an error page are refused by name.
func TestHTTPErrorKeyword(t *testing.T) {
	c := mustParse(t, compatCfg(`    http-error status 503 content-type text/plain string down hdr X-A b
`))
	ef := c.Proxies[0].HTTP.ErrorFiles
	require.Len(t, ef, 1)
	require.Equal(t, 503, ef[0].Status)
	require.Equal(t, "down", string(ef[0].Reply.Body))
	for line, want := range map[string]string{
		"    http-error status 302 content-type text/plain string x\n":          "status code '302' not handled",
		"    http-error status 503 string x\n":                                  "needs 'content-type'",
		"    http-error status 503 content-type text/plain lf-string %[path]\n": "log-format body",
		"    http-error status 503 hdr X-A %[path]\n":                           "log-format value",
		"    http-error content-type text/plain\n":                              "expects 'status <code>' first",
		"    http-request deny errorfile /nonexistent\n":                        "not supported",
	} {
		_, err := parse(t, compatCfg(line))
		require.ErrorContains(t, err, want, line)
		require.ErrorContains(t, err, "lb.cfg:8", line)
	}
}

// stats http-request rules exclude stats auth and realm, as in HAProxy,
// in either order; their words are checked.
func TestStatsHTTPRequestRules(t *testing.T) {
	c := mustParse(t, compatCfg("    stats enable\n    stats http-request auth realm R if TRUE\n    stats http-request allow\n"))
	rules := c.Proxies[0].HTTP.Stats.Rules
	require.Len(t, rules, 2)
	require.Equal(t, "R", rules[0].Realm)
	require.Equal(t, "allow", rules[1].Action)
	for _, lines := range []string{
		"    stats auth u:p\n    stats http-request allow\n",
		"    stats http-request allow\n    stats auth u:p\n",
		"    stats http-request allow\n    stats realm R\n",
	} {
		_, err := parse(t, compatCfg(lines))
		require.ErrorContains(t, err, "stats 'auth'/'realm' and 'http-request' can't be used at the same time", lines)
	}
	_, err := parse(t, compatCfg("    stats http-request tarpit\n"))
	require.ErrorContains(t, err, "expects 'allow', 'deny' or 'auth")
}
