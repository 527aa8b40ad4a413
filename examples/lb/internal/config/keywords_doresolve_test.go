package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDoResolve(t *testing.T) {
	const res = "resolvers dns\n    nameserver ns1 127.0.0.1:53\n"
	cfg, err := parse(t, res+"frontend f\n    mode http\n    bind 127.0.0.1:0\n"+
		"    http-request do-resolve(txn.ip,dns,ipv4) req.hdr(host),lower if TRUE\n"+
		"    http-request do-resolve(txn.ip6,dns) req.hdr(x)\n"+
		"    tcp-request content do-resolve(sess.ip,dns) str(a.example)\n")
	require.NoError(t, err)
	px := cfg.Proxy("f", KindFrontend)
	r := px.HTTP.RequestRules
	require.Len(t, r, 2)
	require.Equal(t, []string{"do-resolve", "txn.ip", "req.hdr(host),lower", "dns", "ipv4"}, []string{r[0].Action, r[0].Name, r[0].Value, r[0].Resolve.Resolvers, r[0].Resolve.Prefer})
	require.NotNil(t, r[0].Cond)
	require.Equal(t, DoResolve{Resolvers: "dns", Prefer: "ipv6"}, r[1].Resolve, "IPv6 first by default")
	c := px.Stick.ContentRules[0]
	require.Equal(t, []string{"do-resolve", "sess.ip", "str(a.example)"}, []string{c.Action, c.Var, c.Key})
	require.Equal(t, DoResolve{Resolvers: "dns", Prefer: "ipv6"}, c.Resolve)

	for _, tc := range []struct{ line, want string }{
		{"http-request do-resolve(txn.ip) hdr(host)", "Can't parse 'do-resolve(txn.ip)'"},
		{"http-request do-resolve(txn.ip,dns,ipv5) hdr(host)", "Can't parse 'do-resolve(txn.ip,dns,ipv5)'"},
		{"http-request do-resolve(txn.ip,dns)", "Can't parse ''"},
		{"http-request do-resolve(txn.ip,dns) a b", "found 'b'"},
		{"http-request do-resolve(txn.ip,dns) nosuch", "nosuch"},
		{"http-request do-resolve(txn.ip,other) hdr(host)", "lb.cfg:6: bad reference: Proxy 'f': Can't find resolvers section 'other' for do-resolve action."},
		{"tcp-request content do-resolve(txn.ip,other) str(x)", "lb.cfg:6: bad reference: Proxy 'f': Can't find resolvers section 'other'"},
		{"tcp-request session do-resolve(txn.ip,dns) str(x)", "unknown keyword"},
		{"http-response do-resolve(txn.ip,dns) str(x)", "not supported"},
	} {
		_, err := parse(t, res+"frontend f\n    mode http\n    bind 127.0.0.1:0\n    "+tc.line+"\n")
		require.ErrorContains(t, err, tc.want, tc.line)
	}
}

func TestSwitchMode(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode tcp\n    bind 127.0.0.1:0\n    tcp-request content switch-mode http proto h2 if TRUE\n    http-request set-header x y\n    default_backend b\nbackend b\n    mode http\n    server s 127.0.0.1:1\n"+
		"listen l\n    mode tcp\n    bind 127.0.0.1:0\n    tcp-request content switch-mode http\n    server s 127.0.0.1:1\n")
	require.NoError(t, err)
	r := cfg.Proxy("f", KindFrontend).Stick.ContentRules[0]
	require.Equal(t, []string{"switch-mode", "h2"}, []string{r.Action, r.Key})
	require.NotNil(t, r.Cond)
	var ignored, noBackend int
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "are ignored in mode tcp") {
			ignored++
		}
		if strings.Contains(w, "lb.cfg:10: Proxy 'l' : 'switch-mode http' configured for a tcp proxy with no backend") {
			noBackend++
		}
	}
	require.Equal(t, 0, ignored, "a switching frontend runs its HTTP rules: %q", cfg.Warnings)
	require.Equal(t, 1, noBackend, "%q", cfg.Warnings)

	for _, tc := range []struct{ text, want string }{
		{"backend b\n    tcp-request content switch-mode http\n", "'tcp-request switch-mode' not allowed because backend 'b' has no frontend capability"},
		{"frontend f\n    bind 127.0.0.1:0\n    tcp-request content switch-mode http proto fcgi\n", "MUX protocol 'fcgi'"},
		{"frontend f\n    bind 127.0.0.1:0\n    tcp-request content use-service prometheus-exporter\n", "only available on 'http-request' rulesets"},
	} {
		_, err := parse(t, tc.text)
		require.ErrorContains(t, err, tc.want, tc.text)
	}
}
