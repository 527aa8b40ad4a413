package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cookieCfg: ins (insert indirect nocache httponly, domain), pfx (prefix),
// rw (rewrite) and psv (insert preserve postonly), each in front of the
// same servers; s3 has no cookie value. The log shows the server and
// %tsc, whose last two characters are the cookie's outcome.
func cookieCfg(p []int, srv []string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "%%f %%s %%tsc %%ST"
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen ins
    bind 127.0.0.1:%d
    cookie SRV insert indirect nocache httponly domain .example.com
    server s1 %s cookie a
    server s2 %s cookie b
    server s3 %s
listen pfx
    bind 127.0.0.1:%d
    cookie JSESSIONID prefix
    server s1 %s cookie a
    server s2 %s cookie b
listen rw
    bind 127.0.0.1:%d
    cookie SRV rewrite
    server s1 %s cookie a
    server s2 %s cookie b
listen psv
    bind 127.0.0.1:%d
    cookie SRV insert preserve postonly secure attr SameSite=Lax
    server s1 %s cookie a
    server s2 %s cookie b
`, p[0], srv[0], srv[1], srv[2], p[1], srv[0], srv[1], p[2], srv[0], srv[1], p[3], srv[0], srv[1])
}

// TestInteropCookieMatchesHAProxy sends the same requests through haproxy
// and lb: the same server answers each, the server sees the same Cookie
// field, the client gets the same Set-Cookie and Cache-control fields,
// and the log's cookie flags read the same.
func TestInteropCookieMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var srv []string
	for _, name := range []string{"s1", "s2", "s3"} {
		addr := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			if v := r.URL.Query().Get("set"); v != "" {
				w.Header().Add("Set-Cookie", v)
			}
			for q, h := range map[string]string{"cc": "Cache-Control", "exp": "Expires", "etag": "ETag", "lm": "Last-Modified"} {
				if v := r.URL.Query().Get(q); v != "" {
					w.Header().Set(h, v)
				}
			}
			_, _ = fmt.Fprintf(w, "%s saw %q", name, r.Header.Values("Cookie"))
		})
		srv = append(srv, addr)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	type ask struct {
		section      int
		method, path string
		cookie       string
	}
	asks := []ask{
		{0, "GET", "/", ""},
		{0, "GET", "/", "SRV=b"},
		{0, "GET", "/", "x=1; SRV=a; y=2"},
		{0, "GET", "/", "SRV=zz"},
		{0, "GET", "/?cc=no-cache", ""},
		{0, "POST", "/", ""},
		{0, "GET", "/?set=SRV%3Dserver%3B+path%3D%2F", ""},
		{0, "GET", "/?set=SRV%3Dserver", "SRV=a"},
		{0, "GET", "/?cc=public", "SRV="},
		{0, "GET", "/?cc=max-age%3D60", ""},
		{0, "GET", "/?cc=public,+max-age%3D0", ""},
		{0, "GET", "/?exp=Thu,+01+Jan+2099+00:00:00+GMT", ""},
		{0, "GET", "/?etag=x", "SRV=zz"},
		{0, "GET", "/?lm=Thu,+01+Jan+2009+00:00:00+GMT&cc=no-store", ""},
		{0, "POST", "/?etag=x", ""},
		{1, "GET", "/?set=JSESSIONID%3Dsess1%3B+Path%3D%2Fapp", ""},
		{1, "GET", "/", "JSESSIONID=b~sess9; other=1"},
		{1, "GET", "/", "JSESSIONID=nodelim"},
		{2, "GET", "/?set=SRV%3Dmine%3B+HttpOnly", ""},
		{2, "GET", "/?set=SRV%3Dmine", "SRV=b"},
		{3, "GET", "/", ""},
		{3, "POST", "/", ""},
		{3, "POST", "/?set=SRV%3Dserver", ""},
	}
	run := func(p []int) []string {
		var got []string
		for _, a := range asks {
			req, err := http.NewRequest(a.method, fmt.Sprintf("http://127.0.0.1:%d%s", p[a.section], a.path), nil)
			require.NoError(t, err)
			if a.cookie != "" {
				req.Header.Set("Cookie", a.cookie)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%v -> %d %s | set %q | cc %q", a, resp.StatusCode, body, resp.Header.Values("Set-Cookie"), resp.Header.Values("Cache-Control")))
		}
		return got
	}
	pick := func(l string) (string, bool) {
		f := strings.Fields(l)
		return l, len(f) == 4 && (f[0] == "ins" || f[0] == "pfx" || f[0] == "rw" || f[0] == "psv")
	}
	ports := freePorts(t, 8)
	hp, lp := ports[:4], ports[4:]
	haOut := startHAProxy(t, cookieCfg(hp, srv), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", hp[3])) })
	want := run(hp)
	lbOut := lbLogs(t)(cookieCfg(lp, srv))
	got := run(lp)
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, sortedLines(t, haOut, len(asks), pick), sortedLines(t, lbOut, len(asks), pick), "haproxy's log lines, then lb's")
	all := strings.Join(got, "\n")
	require.Contains(t, all, "SRV=a; path=/; domain=.example.com; HttpOnly", "a cookie was inserted")
	require.Contains(t, all, `cc ["max-age=60" "private"]`, "nocache marked a cacheable answer private")
}
