package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/acl"
	"github.com/stretchr/testify/require"
)

// TestInteropNotAndDebugConvertersMatchHAProxy: the not converter
// negates a sample read as a boolean, and debug(prefix,stderr|stdout)
// passes its sample on and writes it, as haproxy 2.6 does.
func TestInteropNotAndDebugConvertersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	var mu sync.Mutex
	var dbg bytes.Buffer
	old := acl.DebugOutput
	acl.DebugOutput = func(string) io.Writer { return lockedWriter{&mu, &dbg} }
	t.Cleanup(func() { acl.DebugOutput = old })
	lines := regexp.MustCompile(`(?m)^\[debug\] .*$`)
	run := func(start func(text string) func() string) (got []string) {
		p := freePorts(t, 1)
		out := start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    acl plain ssl_fc,not
    http-request set-var(txn.x) path,url_dec,debug(path,stderr)
    http-request set-var(txn.y) src,debug(ip,stdout)
    http-request set-var(txn.z) int(-4),debug(,stderr)
    http-request set-var(txn.w) always_true,not,debug(b,stderr)
    http-request return status 200 content-type text/plain lf-string "%%[var(txn.x),length] %%[var(txn.y)] %%[var(txn.z)] %%[always_false,not] %%[str(abc),not] %%[int(3),not] %%[str(12),not]" if plain
`, p[0]))
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/a%%0Ab%%22%%5C%%7F%%C3%%A9", p[0]))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got = append(got, fmt.Sprintf("%d %q", resp.StatusCode, body))
		// The lines come before the answer: wait for the four.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			found := lines.FindAllString(out(), -1)
			if len(found) >= 4 || time.Now().After(deadline) {
				return append(got, found...)
			}
		}
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return dbg.String() }
	})
	require.Equal(t, want, got, "haproxy's answer and debug lines, then lb's")
	require.Equal(t, "[debug] b: type=bool <0>", got[len(got)-1])
	require.Equal(t, `200 "9 127.0.0.1 -4 1 1 0 0"`, got[0])
}

// TestInteropKeywordMatchOverrideMatchesHAProxy: -m replaces the match
// method of an ACL keyword ("hdr_dir(Referer) -m dom t.co" matches as
// "hdr(Referer) -m dom t.co"), under haproxy and lb.
func TestInteropKeywordMatchOverrideMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	referers := []string{"https://t.co/abc", "t.co", "a/t.co/b", "https://example.com/t.co", "x.t.co"}
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 1)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request set-header X-Dom 1 if { hdr_dir(Referer) -m dom t.co }
    http-request set-header X-Beg 1 if { path_end -m beg /a }
    http-request return status 200 content-type text/plain lf-string "dom=%%[req.hdr(x-dom)] beg=%%[req.hdr(x-beg)]"
`, p[0]))
		client := &http.Client{Timeout: 5 * time.Second}
		for _, r := range referers {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/ab", p[0]), nil)
			require.NoError(t, err)
			req.Header.Set("Referer", r)
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, r+": "+string(body))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's matches, then lb's")
	require.Equal(t, "a/t.co/b: dom=1 beg=1", got[2])
	require.Equal(t, "https://example.com/t.co: dom=1 beg=1", got[3])
}

// TestInteropHTTPErrorAndReturnErrorfileMatchHAProxy: http-error sets a
// status's answer in a proxy (string, file, errorfile, fields), and a
// return rule may send an errorfile's whole response, logged with the
// rule's status, under haproxy and lb.
func TestInteropHTTPErrorAndReturnErrorfileMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	gone := writeFile(t, "gone.http", "HTTP/1.1 410 Gone\r\nContent-Type: text/plain\r\nX-From: file\r\nContent-Length: 5\r\n\r\ngone\n")
	page := writeFile(t, "page.html", "<p>forbidden</p>\n")
	run := func(start func(text string) func() string) (got []string) {
		p := freePorts(t, 2)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "%%ST %%HU"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    http-error status 503 content-type "text/plain; charset=utf-8" string "down for now" hdr X-A b
frontend f
    bind 127.0.0.1:%d
    http-error status 403 content-type text/html lf-file %s
    http-error status 404 errorfile %s
    http-request deny if { path /d }
    http-request deny deny_status 404 if { path /n }
    http-request return status 404 errorfile %s if { path /r }
    http-response return status 200 errorfile %s if { status 503 }
    default_backend b
backend b
    server s 127.0.0.1:%d
`, p[0], page, gone, gone, gone, p[1]))
		client := &http.Client{Timeout: 5 * time.Second}
		for _, path := range []string{"/x", "/d", "/n", "/r"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p[0], path))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s: %s ct=%q x-a=%q x-from=%q %q", path, resp.Status,
				resp.Header.Get("Content-Type"), resp.Header.Get("X-A"), resp.Header.Get("X-From"), body))
		}
		logs := regexp.MustCompile(`(?m)^\d{3} /\w$`)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			found := logs.FindAllString(out(), -1)
			if len(found) >= 4 || time.Now().After(deadline) {
				// A line is written once its answer went out: the next
				// request's may come first. Each names its path.
				sort.Strings(found)
				return append(got, found...)
			}
		}
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's answers and log lines, then lb's")
	require.Equal(t, `/r: 410 Gone ct="text/plain" x-a="" x-from="file" "gone\n"`, got[3])
}
