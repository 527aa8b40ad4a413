package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTTPCheckConnect(t *testing.T) {
	parse := func(rules string) (*Config, error) {
		return Parse(Source{Name: "t.cfg", Data: []byte("backend b\n    option httpchk GET /opt\n" + rules + "    server s 127.0.0.1:80 check verify none\n")})
	}
	cfg, err := parse(`    http-check connect
    http-check send uri /a hdr x-a 1
    http-check expect status 200
    http-check connect port 8443 addr 127.0.0.2 ssl sni check.example send-proxy via-socks4 linger comment two
    http-check send meth HEAD uri /b
`)
	require.NoError(t, err)
	hc := cfg.Proxy("b", KindBackend).HTTP.Check
	require.True(t, hc.Sequenced())
	require.Len(t, hc.Rules, 5)
	// The first send completes option httpchk's request; the second has
	// its own, from the defaults on.
	require.Equal(t, [3]string{"GET", "/a", "HTTP/1.0"}, [3]string{hc.Method, hc.URI, hc.Version})
	require.Equal(t, [][2]string{{"x-a", "1"}}, hc.Headers)
	require.Equal(t, [3]string{"HEAD", "/b", "HTTP/1.0"}, [3]string{hc.Rules[4].Request.Method, hc.Rules[4].Request.URI, hc.Rules[4].Request.Version})
	c := hc.Rules[3].Connect
	require.Equal(t, TCPCheckRule{Pos: c.Pos, Action: TCPCheckConnect, Port: 8443, Addr: "127.0.0.2", SSL: true, SNI: "check.example",
		SendProxy: true, ViaSOCKS4: true, Linger: true, Comment: "two", MinRecv: -1}, c)
	require.Equal(t, 6, hc.Rules[3].Pos.Line)
	// The TLS settings of a server without ssl are built for the check.
	require.NotNil(t, cfg.Proxy("b", KindBackend).Servers[0].SSL.Outbound)

	// Without a connect, the rules are not kept.
	cfg, err = parse("    http-check send uri /a\n    http-check expect status 200\n")
	require.NoError(t, err)
	require.Nil(t, cfg.Proxy("b", KindBackend).HTTP.Check.Rules)

	// A comment names the rule just after it; an expect's own comment
	// may come before or after its pattern.
	cfg, err = parse("    http-check comment not-mine\n    http-check send uri /a\n    http-check comment mine\n    http-check expect status 200\n    http-check expect comment own string ok\n    http-check expect ! rstring x comment after\n")
	require.NoError(t, err)
	exp := cfg.Proxy("b", KindBackend).HTTP.Check.Expects
	require.Equal(t, []string{"mine", "own", "after"}, []string{exp[0].Comment, exp[1].Comment, exp[2].Comment})
	require.Equal(t, "ok", exp[1].String)
	require.True(t, exp[2].Inverse)

	for rules, want := range map[string]string{
		"    http-check comment c\n    http-check connect\n    http-check expect status 200\n":       "unable to add http-check expect rule at step 3 (missing send rule)",
		"    http-check expect status 200 comment\n":                                                 "option 'comment' expects an argument",
		"    http-check send uri /a\n    http-check expect status 200\n    http-check send uri /b\n": "t.cfg:5: ",
		"    http-check connect\n    http-check expect status 200\n":                                 "unable to add http-check expect rule at step 2 (missing send rule)",
		"    http-check send uri /a\n    http-check connect\n":                                       "first step MUST also be a 'connect'",
		"    http-check connect\n    http-check send uri /a\n    http-check connect\n":               "unable to add http-check connect rule at step 3 (missing expect rule)",
		"    http-check send uri /a\n    http-check send uri /b\n":                                   "unable to add http-check send rule at step 2 (missing connect rule)",
		"    http-check connect port 0\n":                                                            "expects a valid TCP port (from range 1 to 65535) or a sample expression, got 0",
		"    http-check connect port src_port\n":                                                     "port expression 'src_port'",
		"    http-check connect alpn h2,\n":                                                          "'http-check connect' alpn",
		"    http-check connect proto h3\n":                                                          "'http-check connect' proto: unknown protocol 'h3'",
		"    http-check connect bogus\n":                                                             "but got 'bogus' as argument",
		"    http-check connect sni\n":                                                               "option 'sni' expects an argument",
		"    http-check connect addr nowhere\n":                                                      "'nowhere' is not an IP address",
	} {
		_, err := parse(rules)
		require.ErrorContains(t, err, "t.cfg:", rules)
		require.ErrorContains(t, err, want, rules)
	}
	// tcp-check connect takes the same options.
	cfg, err = Parse(Source{Name: "t.cfg", Data: []byte("backend b\n    option tcp-check\n    tcp-check connect port 443 ssl sni a.example send-proxy via-socks4 linger\n    server s 127.0.0.1:80 check verify none\n")})
	require.NoError(t, err)
	r := cfg.Proxy("b", KindBackend).TCPCheckRules[0]
	require.True(t, r.SSL && r.SendProxy && r.ViaSOCKS4 && r.Linger)
	require.Equal(t, "a.example", r.SNI)
	require.NotNil(t, cfg.Proxy("b", KindBackend).Servers[0].SSL.Outbound)
}
