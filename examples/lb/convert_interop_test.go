package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// convertCfg sets one field per converter from the request's X-In field
// and its client address, and tests one in an ACL.
func convertCfg(port int, echo string) string {
	return fmt.Sprintf(httpDefaults+`frontend fe
    bind 127.0.0.1:%d
    http-request set-header X-Case "%%[req.hdr(x-in),lower]|%%[req.hdr(x-in),upper]|%%[req.hdr(x-in),length]"
    http-request set-header X-Field "%%[req.hdr(x-in),field(2,/)]|%%[req.hdr(x-in),field(-1,/)]|%%[req.hdr(x-in),field(2,/.,2)]|%%[req.hdr(x-in),field(2,/,0)]|%%[req.hdr(x-in),field(9,/)]"
    http-request set-header X-Word "%%[req.hdr(x-in),word(1,/)]|%%[req.hdr(x-in),word(-2,/.)]|%%[req.hdr(x-in),word(2,/,2)]|%%[req.hdr(x-in),word(-2,/,2)]|%%[req.hdr(x-in),field(-2,/,2)]"
    http-request set-header X-Re "%%[req.hdr(x-in),regsub(/+,_)]|%%[req.hdr(x-in),regsub(/+,_,g)]|%%[req.hdr(x-in),regsub(\.,_DOT_,g)]|%%[req.hdr(x-in),regsub(A,x,gi)]"
    http-request set-header X-Enc "%%[req.hdr(x-in),base64]|%%[req.hdr(x-in),base64,b64dec]|%%[req.hdr(x-in),hex]|%%[req.hdr(x-in),json]|%%[req.hdr(x-in),bytes(2,3)]|%%[req.hdr(x-pct),url_dec]"
    http-request set-header X-Num "%%[req.hdr(x-in),length,add(3)]|%%[req.hdr(x-in),length,mul(2),sub(1)]|%%[req.hdr(x-in),length,div(4)]|%%[req.hdr(x-in),length,mod(4)]|%%[src,ipmask(24)]|%%[src,ipmask(255.255.0.0)]|%%[int(42),add(1)]|%%[str(abc),upper]|%%[bool(1)]|%%[env(LB_CONV_TEST)]"
    http-request set-header X-Acl yes if { req.hdr(x-in),lower -m sub /abc. } { req.hdr(x-in),length gt 5 }
    default_backend be
backend be
    server s1 %s
`, port, echo)
}

// TestInteropConvertersMatchHAProxy: the same converter chains give the
// same values under haproxy and lb.
func TestInteropConvertersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	t.Setenv("LB_CONV_TEST", "from-env")
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"X-Case", "X-Field", "X-Word", "X-Re", "X-Enc", "X-Num", "X-Acl"} {
			_, _ = fmt.Fprintf(w, "%s=%q\n", h, r.Header.Values(h))
		}
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	run := func(port int) []string {
		var got []string
		for _, in := range []string{"/Path/To/ABC.Txt", "a//b/c.d", "noslash", "é\"/x\\y"} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
			require.NoError(t, err)
			req.Header.Set("X-In", in)
			req.Header.Set("X-Pct", url.QueryEscape(in)+"%2F+")
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, in+":\n"+string(body))
		}
		return got
	}
	ports := freePorts(t, 2)
	startHAProxy(t, convertCfg(ports[0], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	startInProcess(t, convertCfg(ports[1], echo))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's values, then lb's")
	require.Contains(t, strings.Join(got, "\n"), `X-Acl=["yes"]`)
	require.Contains(t, strings.Join(got, "\n"), "|43|ABC|1|from-env")
}
