package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTTPKeywordsModel(t *testing.T) {
	cfg, err := ParseFiles(filepath.Join("..", "..", "testdata", "http.cfg"))
	require.NoError(t, err)
	www := cfg.Proxy("www", KindFrontend)
	require.Equal(t, "http", www.Mode)
	require.True(t, www.HTTP.ForwardFor)
	require.True(t, www.HTTP.Log)
	require.Equal(t, "h2", www.Binds[1].Proto)
	require.Len(t, www.HTTP.RequestRules, 9)
	require.Equal(t, HTTPRule{Pos: Pos{www.Pos.File, 30}, Action: "set-header", Name: "X-Forwarded-Proto", Value: "http"}, www.HTTP.RequestRules[5])
	require.Equal(t, 429, www.HTTP.RequestRules[1].Status)
	require.NotNil(t, www.HTTP.RequestRules[1].Cond)
	require.Equal(t, []byte("pong"), www.HTTP.RequestRules[2].Body)
	require.Equal(t, "location", www.HTTP.RequestRules[3].RedirectType)
	require.Equal(t, 301, www.HTTP.RequestRules[3].Status)
	require.Len(t, www.HTTP.ResponseRules, 2)
	require.Len(t, www.HTTP.UseBackends, 2)
	require.Equal(t, "api", www.HTTP.UseBackends[0].Backend)
	require.Equal(t, 10e9, float64(www.Timeouts.HTTPRequest))
	require.NotNil(t, www.HTTP.ErrorFile(503), "errorfile inherited from defaults")

	web := cfg.Proxy("web", KindBackend)
	require.Equal(t, &HTTPCheck{Method: "GET", URI: "/health", Version: "HTTP/1.0", Expects: []HTTPExpect{{Kind: "status", Statuses: [][2]int{{200, 200}}}}}, web.HTTP.Check)
	require.Equal(t, "safe", web.HTTP.Reuse)
	api := cfg.Proxy("api", KindBackend)
	require.Equal(t, "hdr", api.Balance)
	require.Equal(t, "X-User", api.HTTP.BalanceArg)
	require.Equal(t, "consistent", api.HTTP.HashType)
	require.Equal(t, ConnServerClose, api.HTTP.ConnMode)
	require.Equal(t, "h2", api.Servers[0].Proto)
	require.Equal(t, ConnClose, cfg.Proxy("static", KindBackend).HTTP.ConnMode)
	require.Equal(t, "userid", cfg.Proxy("params", KindBackend).HTTP.BalanceArg)
	require.Equal(t, "random", cfg.Proxy("rand", KindBackend).Balance)
	require.Equal(t, ConnKeepAlive, www.HTTP.ConnMode)
}

func TestHTTPKeywordErrors(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      error
		msg       string
	}{
		{"unknown action", "frontend f\n  mode http\n  http-request frobnicate\n", ErrUnsupported, "test.cfg:3:"},
		{"set-header without value", "frontend f\n  http-request set-header X\n", ErrBadValue, "test.cfg:2:"},
		{"rules in defaults", "defaults\n  http-request deny\n", ErrMisplaced, "test.cfg:2:"},
		{"unknown fetch", "frontend f\n  http-request deny if { pathh /x }\n", ErrBadValue, "test.cfg:2:"},
		{"bad redirect code", "frontend f\n  http-request redirect location / code 305\n", ErrBadValue, "test.cfg:2:"},
		{"return body without type", "frontend f\n  http-request return string x\n", ErrBadValue, "test.cfg:2:"},
		{"use_backend unknown", "frontend f\n  mode http\n  bind :1\n  use_backend nope if { path / }\n", ErrReference, "test.cfg:4: bad reference: frontend 'f': unable to find required use_backend 'nope'"},
		{"bad reuse", "backend b\n  http-reuse sometimes\n", ErrBadValue, "test.cfg:2:"},
		{"bad hash-type", "backend b\n  hash-type ring\n", ErrBadValue, "test.cfg:2:"},
		{"bad proto", "frontend f\n  bind :1 proto h3\n", ErrBadValue, "test.cfg:2:"},
		{"bad balance hdr", "backend b\n  balance hdr(\n", ErrBadValue, "test.cfg:2:"},
		{"errorfile status", "defaults\n  errorfile 302 /dev/null\n", ErrBadValue, "test.cfg:2:"},
		{"errorfile missing", "defaults\n  errorfile 503 /nonexistent/503.http\n", ErrBadValue, "test.cfg:2:"},
		{"expect on a log-format header", "backend b\n  http-check expect hdr name %[var(txn.x)]\n", ErrUnsupported, "test.cfg:2:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(Source{Name: "test.cfg", Data: []byte(tc.cfg)})
			require.Error(t, err)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestHTTPCheckSendExpect(t *testing.T) {
	cfg, err := Parse(Source{Name: "test.cfg", Data: []byte(`
defaults
    mode http
    option httpchk
    http-check expect status 200
backend inherits
    server s 127.0.0.1:1 check
backend own
    http-check send meth GET uri /health ver HTTP/1.1 hdr Host example.com hdr X-Check yes body ping
    http-check expect ! rstatus ^5
    http-check expect string ok
    option httpchk HEAD /
    server s 127.0.0.1:1 check
backend ranges
    http-check expect status 200-299,404
    server s 127.0.0.1:1 check
`)})
	require.NoError(t, err)
	in := cfg.Proxy("inherits", KindBackend).HTTP.Check
	require.Equal(t, []HTTPExpect{{Kind: "status", Statuses: [][2]int{{200, 200}}}}, in.Expects)
	own := cfg.Proxy("own", KindBackend).HTTP.Check
	require.Equal(t, "HEAD", own.Method, "option httpchk, read later, sets the request line")
	require.Equal(t, "/", own.URI)
	require.Equal(t, "example.com", own.Host)
	require.Equal(t, [][2]string{{"X-Check", "yes"}}, own.Headers)
	require.Equal(t, "ping", own.Body)
	require.Len(t, own.Expects, 2, "the section's rules replace the defaults'")
	require.True(t, own.Expects[0].Inverse)
	require.True(t, own.Expects[0].Regexp.MatchString("503"))
	require.Equal(t, HTTPExpect{Kind: "string", String: "ok"}, own.Expects[1])
	require.True(t, own.Expects[1].Body())
	require.Equal(t, [][2]int{{200, 299}, {404, 404}}, cfg.Proxy("ranges", KindBackend).HTTP.Check.Expects[0].Statuses)

	for _, tt := range []struct{ line, want string }{
		{"http-check expect", "expects [!] status"},
		{"http-check expect status 20x", "status"},
		{"http-check expect status 300-200", "status"},
		{"http-check expect rstring (", "bad regular expression"},
		{"http-check expect hdr name x value %[str(y)]", "not supported"},
		{"http-check expect hdr name -m dom x", "unknown matching method 'dom'"},
		{"http-check send uri health", "must start with '/'"},
		{"http-check send hdr X", "expects a name and a value"},
		{"http-check send frob x", "unknown option 'frob'"},
		{"http-check disable-on-404 x", "takes no argument"},
		{"http-check comment", "expects one argument"},
		{"http-check frob", "unknown action 'frob'"},
	} {
		_, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  " + tt.line + "\n")})
		require.ErrorContains(t, err, "test.cfg:2:", tt.line)
		require.ErrorContains(t, err, tt.want, tt.line)
	}
}

// balance random takes HAProxy's draws: 2 unless given, at least 1.
func TestBalanceRandomDraws(t *testing.T) {
	for word, want := range map[string]int{"random": 2, "random()": 2, "random(1)": 1, "random(3)": 3, "random(0x4)": 4} {
		cfg, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  balance " + word + "\n")})
		require.NoError(t, err, word)
		require.Equal(t, want, cfg.Proxy("b", KindBackend).HTTP.RandomDraws, word)
	}
	for word, msg := range map[string]string{
		"random(0)":  "test.cfg:2: bad value: 'balance' in 'backend' section: random : number of draws must be at least 1",
		"random(-2)": "number of draws must be at least 1",
		"random(3":   "random : missing closing parenthesis",
		"random(3)x": "random : unexpected character 'x' after argument",
		"random(a)":  "random : unexpected character 'a' after argument",
	} {
		_, err := Parse(Source{Name: "test.cfg", Data: []byte("backend b\n  balance " + word + "\n")})
		require.ErrorIs(t, err, ErrBadValue, word)
		require.Contains(t, err.Error(), msg, word)
	}
}

func TestSetSrcRule(t *testing.T) {
	cfg, err := parse(t, "frontend f\n    mode http\n    http-request set-src hdr(x-real-ip) if { req.hdr(x-real-ip) -m found }\n")
	require.NoError(t, err)
	r := cfg.Proxy("f", KindFrontend).HTTP.RequestRules[0]
	require.Equal(t, "set-src", r.Action)
	require.Equal(t, "hdr(x-real-ip)", r.Value)
	require.NotNil(t, r.Cond)
	for text, msg := range map[string]string{
		"frontend f\n    mode http\n    http-request set-src\n":          "lb.cfg:3: ",
		"frontend f\n    mode http\n    http-request set-src nosuch()\n": "'set-src'",
		"frontend f\n    mode http\n    http-response set-src src\n":     "http-response set-src",
	} {
		_, err := parse(t, text)
		require.ErrorContains(t, err, msg, text)
	}
}
