package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropCheckCacheMatchesHAProxy: under option checkcache, the
// answer of a GET or HEAD that a cache could keep (a cacheable status,
// nothing forbidding it, and a lifetime or validator) and that sets a
// cookie is replaced by the balancer's page for that status and logged
// PH, as haproxy 2.6 does it; any other passes. Each case asks both
// balancers for the same answer and compares what the client gets and
// the log line's status and flags.
func TestInteropCheckCacheMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	// The server answers with the status s and the fields h of the
	// query.
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		for _, h := range r.URL.Query()["h"] {
			k, v, _ := strings.Cut(h, ":")
			w.Header().Add(k, v)
		}
		status, _ := strconv.Atoi(r.URL.Query().Get("s"))
		w.WriteHeader(max(status, 200))
		_, _ = io.WriteString(w, "from the server")
	})
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "%%ci %%HM %%ST %%tsc %%HU"
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen li
    bind 127.0.0.1:%d
    option checkcache
    errorfile 404 %s
    server s %s
`, port, writeFile(t, "404.http", "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nnot here\n"), web)
	}
	hp := freePort(t)
	out := startHAProxy(t, cfg(hp), func() bool { return true })
	b, logs, mu := startInProcess(t, cfg(0))
	lbLog := func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
	const ck = "h=Set-Cookie:a=b"
	const fresh = "&h=Cache-Control:max-age=10"
	cases := []struct{ method, query string }{
		{"GET", ck + fresh},
		{"HEAD", ck + fresh},
		{"POST", ck + fresh},
		{"PUT", ck + fresh},
		{"GET", ck},
		{"GET", fresh},
		{"GET", "h=Set-Cookie2:a=b" + fresh},
		{"GET", ck + "&h=Cache-Control:s-maxage=10"},
		{"GET", ck + "&h=Expires:0"},
		{"GET", ck + "&h=Last-Modified:x"},
		{"GET", ck + "&h=ETag:x"},
		{"GET", ck + "&h=Cache-Control:public"},
		{"GET", ck + "&h=Cache-Control:public, max-age=10"},
		{"GET", ck + "&h=Cache-Control:MAX-AGE=10"},
		{"GET", ck + fresh + "&h=Cache-Control:private"},
		{"GET", ck + "&h=Cache-Control:max-age=10, no-store"},
		{"GET", ck + "&h=Cache-Control:no-cache&h=Expires:0"},
		{"GET", ck + "&h=Cache-Control:max-age=0&h=Expires:0"},
		{"GET", ck + "&h=Cache-Control:s-maxage=0&h=ETag:x"},
		{"GET", ck + fresh + `&h=Cache-Control:no-cache="set-cookie"`},
		{"GET", ck + fresh + `&h=Cache-Control:no-cache="Set-Cookie, x"`},
		{"GET", ck + "&h=Pragma:no-cache&h=Expires:0"},
		{"GET", ck + fresh + "&h=Vary:accept"},
	}
	for _, s := range []int{201, 203, 204, 206, 300, 301, 302, 303, 307, 404, 405, 410, 414, 500, 501, 503} {
		cases = append(cases, struct{ method, query string }{"GET", ck + fresh + "&s=" + strconv.Itoa(s)})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(addr, method, query string) string {
		req, err := http.NewRequest(method, "http://"+addr+"/?"+query, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return fmt.Sprintf("%d %q", resp.StatusCode, body)
	}
	// The log line of a request, by its URI. (The format starts with
	// %ci: haproxy 2.6 writes no line for a blocked response under some
	// formats without it, "%HM %ST" say.)
	line := func(log func() string, method, query string) string {
		re := regexp.MustCompile(`(?m)^127\.0\.0\.1 ` + method + ` (\d+) (\S+) /\?` + regexp.QuoteMeta(escapeLogURI(query)) + `$`)
		var m []string
		require.Eventually(t, func() bool { m = re.FindStringSubmatch(log()); return m != nil }, 5*time.Second, 10*time.Millisecond, "no log line for %s %s in:\n%s", method, query, log())
		return m[1] + " " + m[2]
	}
	blocked := 0
	for _, c := range cases {
		q := url.Values{}
		for _, kv := range strings.Split(c.query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			q.Add(k, v)
		}
		query := q.Encode()
		h, l := get(fmt.Sprintf("127.0.0.1:%d", hp), c.method, query), get(b.Addrs("li")[0].String(), c.method, query)
		require.Equal(t, h, l, "%s %s: haproxy's answer, then lb's", c.method, c.query)
		hl, ll := line(out, c.method, query), line(lbLog, c.method, query)
		require.Equal(t, hl, ll, "%s %s: haproxy's log, then lb's", c.method, c.query)
		if strings.HasSuffix(hl, " PH--") {
			blocked++
		}
	}
	require.Positive(t, blocked, "no case was blocked")
}

// escapeLogURI writes a query as a log line shows it: '"' and '#' as #XX.
func escapeLogURI(s string) string {
	return strings.NewReplacer(`"`, "#22", "#", "#23").Replace(s)
}
