package config

import (
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
	"github.com/stretchr/testify/require"
)

func TestSSLKeywordErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		sentinel   error
		want       string
	}{
		{"bad version", "frontend fe\n    bind :8443 ssl ssl-min-ver TLSv9\n", ErrBadValue, "lb.cfg:2: "},
		{"missing value", "frontend fe\n    bind :8443 ssl crt\n", ErrBadValue, "expects 1 argument"},
		{"unknown bind option", "frontend fe\n    bind :8443 ssl crtx a.pem\n", ErrUnknownKeyword, "crtx"},
		{"bad verify on server", "backend be\n    server s 127.0.0.1:1 ssl verify optional ca-file x\n", ErrBadValue, "none or required"},
		{"bad sni", "backend be\n    server s 127.0.0.1:1 ssl verify none sni nosuch(host)\n", ErrBadValue, "nosuch"},
		{"empty str()", "backend be\n    server s 127.0.0.1:1 ssl verify none sni str()\n", ErrBadValue, "needs a value"},
		{"no ca-file", "backend be\n    server s 127.0.0.1:1 ssl\n", ErrBadValue, "no CA file"},
		{"bad lifetime", "global\n    tune.ssl.lifetime soon\n", ErrBadValue, "lb.cfg:2: "},
		{"global in proxy", "frontend fe\n    ssl-default-bind-ciphers HIGH\n", ErrMisplaced, "global only"},
		{"bad default options", "global\n    ssl-default-bind-options no-such-option\n", ErrBadValue, "no-such-option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.Error(t, err)
			require.True(t, errors.Is(err, tc.sentinel), "%v is not %v", err, tc.sentinel)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSSLKeywordsModel(t *testing.T) {
	c := mustParse(t, `global
    ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets
    ssl-server-verify none
    tune.ssl.cachesize 500
    tune.ssl.lifetime 2m
defaults
    timeout client 7s
frontend fe
    bind :8443 crt a.pem alpn h2
    default_backend be
backend be
    default-server ssl sni ssl_fc_sni,lower
    server a 127.0.0.1:1
    server b 127.0.0.1:2 no-ssl send-proxy-v2-ssl-cn
    server c 127.0.0.1:3 sni str(API.example.org)
`+beTimeouts)
	g := c.Global.SSL
	require.NotNil(t, g)
	require.Equal(t, tls.Options{MinVersion: 0x0304, NoTLSTickets: true}, g.BindOptions)
	require.Equal(t, tls.VerifyNone, g.ServerVerify)
	require.Equal(t, 500, g.CacheSize)
	require.Equal(t, 2*time.Minute, g.Lifetime)
	require.Empty(t, c.Warnings, "haproxy ignores TLS options without ssl without a word")
	bind := c.Proxies[0].Binds[0]
	require.False(t, bind.SSL.Enabled)
	require.Nil(t, bind.SSL.Inbound, "a plain bind builds nothing")

	srv := c.Proxies[1].Servers
	require.True(t, srv[0].SSL.Enabled)
	require.NotNil(t, srv[0].SSL.Outbound)
	require.Equal(t, "ssl.example.org", srv[0].SSL.SNI.Eval("SSL.Example.ORG"))
	require.False(t, srv[1].SSL.Enabled)
	require.Nil(t, srv[1].SSL.Outbound)
	require.True(t, srv[1].SSL.SendProxyV2SSL && srv[1].SSL.SendProxyV2SSLCN)
	require.Equal(t, "API.example.org", srv[2].SSL.SNI.Eval("ignored"))
	require.Equal(t, "API.example.org", srv[2].SSL.Config.SNI, "a constant is also the name verified")
}

func ExampleParseSNIExpr() {
	for _, s := range []string{"str(backend.example.org)", "ssl_fc_sni,lower"} {
		e, err := ParseSNIExpr(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s -> %q\n", s, e.Eval("WWW.Example.COM"))
	}
	e, _ := ParseSNIExpr("req.hdr(host),lower")
	fmt.Println(e.Fetch, e.Value)
	_, err := ParseSNIExpr("nosuchfetch")
	fmt.Println(errors.Is(err, acl.ErrUnknownFetch))
	// Output:
	// str(backend.example.org) -> "backend.example.org"
	// ssl_fc_sni,lower -> "www.example.com"
	// expr req.hdr(host),lower
	// true
}

// TestDHParamFile: ssl-dh-param-file takes a file of PEM DH parameters,
// left unused with a warning; a missing or wrong file is an error, as in
// HAProxy.
func TestDHParamFile(t *testing.T) {
	dir := t.TempDir()
	// A tiny group is accepted as well as a real one: lb does not use it.
	der, err := asn1.Marshal(struct{ P, G *big.Int }{big.NewInt(23), big.NewInt(5)})
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	good := write("dh.pem", "DH PARAMETERS", der)
	notDH := write("cert.pem", "CERTIFICATE", der)
	bad := write("bad.pem", "DH PARAMETERS", []byte("not DER"))
	c := mustParse(t, "global\n    ssl-dh-param-file "+good+"\n")
	require.Empty(t, c.Warnings)
	for text, want := range map[string]string{
		"global\n    ssl-dh-param-file\n":                         "expects a file path as an argument",
		"global\n    ssl-dh-param-file " + good + " x\n":          "cannot handle unexpected argument 'x'",
		"global\n    ssl-dh-param-file " + dir + "/missing.pem\n": "unable to load DH parameters from file <" + dir + "/missing.pem>: open",
		"global\n    ssl-dh-param-file " + notDH + "\n":           "unable to load DH parameters from file <" + notDH + ">: no PEM block of DH PARAMETERS",
		"global\n    ssl-dh-param-file " + bad + "\n":             "unable to load DH parameters from file <" + bad + ">: malformed DH PARAMETERS",
	} {
		_, err := parse(t, text)
		require.Error(t, err, text)
		require.Contains(t, err.Error(), "lb.cfg:2: ", text)
		require.Contains(t, err.Error(), want, text)
	}
}
