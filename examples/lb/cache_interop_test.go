package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cacheServer answers every request with a body naming the request's
// number and the query; the query sets the status (s=N), adds fields
// (h=Name:value, repeated), writes a body of n bytes (n=N) without a
// length (chunked=1), and, under /ce, sets Content-Encoding from the
// first coding the request accepts.
func cacheServer(t *testing.T) (addr string, count *atomic.Int64) {
	count = new(atomic.Int64)
	return strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := count.Add(1)
		q := r.URL.Query()
		h := w.Header()
		for _, kv := range q["h"] {
			k, v, _ := strings.Cut(kv, ":")
			h.Add(k, v)
		}
		if r.URL.Path == "/ce" {
			if ae, _, _ := strings.Cut(r.Header.Get("Accept-Encoding"), ","); ae != "" {
				h.Set("Content-Encoding", strings.TrimSpace(ae))
			}
		}
		body := fmt.Sprintf("response %d to %s %s\n", n, r.Method, r.URL.RequestURI())
		if size, err := strconv.Atoi(q.Get("n")); err == nil {
			body = strings.Repeat("x", size)
		}
		if q.Get("chunked") == "" {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
		status := 200
		if s := q.Get("s"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		w.WriteHeader(status)
		if q.Get("chunked") != "" {
			_, _ = io.WriteString(w, body[:len(body)/2])
			w.(http.Flusher).Flush()
			body = body[len(body)/2:]
		}
		_, _ = io.WriteString(w, body)
	}), "http://"), count
}

// cacheCfg: listen c caches in "c" (no Vary); listen v in "v", which
// keeps variants.
func cacheCfg(c, v int, srvC, srvV string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
cache c
    total-max-size 1
    max-object-size 3000
    max-age 240
cache v
    total-max-size 1
    process-vary on
    max-secondary-entries 2
listen c
    bind 127.0.0.1:%d
    http-request cache-use c if !{ path_beg /nocache }
    http-response cache-store c
    http-response set-header x-hit %%[res.cache_hit]
    http-response set-header x-cache %%[res.cache_name]
    server s %s
listen v
    bind 127.0.0.1:%d
    http-request cache-use v
    http-response cache-store v
    server s %s
`, c, srvC, v, srvV)
}

// cacheDate hides the values that differ between two runs: dates, the
// Age a hit gets (a second may tick between a store and its hit in one
// run and not in the other; httpcache's tests check the Age itself) and
// the log's timers and counts.
var (
	cacheDate     = regexp.MustCompile(`(?i)^(date|last-modified|expires|age): .*`)
	cacheLogNoise = regexp.MustCompile(`^\S+ \[[^]]+\] (\S+ \S+) \S+ (\d+) \S+ - - (\S+) .*(".*")$`)
)

// rawExchange sends one request on a new connection and returns the
// response: the status line, the fields as "name: value" with lower-case
// names, sorted, and the body.
func rawExchange(t *testing.T, addr, method, target string, fields ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nhost: cache.test\r\n"
	for _, f := range fields {
		req += f + "\r\n"
	}
	_, err = io.WriteString(c, req+"connection: close\r\n\r\n")
	require.NoError(t, err)
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	require.NoError(t, err, "%s %s", method, target)
	var hdrs []string
	chunked := false
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		k, v = strings.ToLower(k), strings.TrimSpace(v)
		switch {
		case k == "connection":
			continue
		case k == "transfer-encoding":
			chunked = true
		}
		hdrs = append(hdrs, cacheDate.ReplaceAllString(k+": "+v, "$1: D"))
	}
	slices.Sort(hdrs)
	var body []byte
	if method != "HEAD" && !strings.Contains(status, " 304 ") {
		if chunked {
			body, err = io.ReadAll(httpChunked(r))
		} else {
			body, err = io.ReadAll(r)
		}
		require.NoError(t, err)
	}
	if len(body) > 200 {
		body = []byte(fmt.Sprintf("%d bytes", len(body)))
	}
	return strings.TrimSpace(status) + "\n" + strings.Join(hdrs, "\n") + "\n\n" + string(body)
}

// httpChunked decodes a chunked body.
func httpChunked(r *bufio.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if n == 0 {
				pw.Close()
				return
			}
			if _, err := io.CopyN(pw, r, n); err != nil {
				pw.CloseWithError(err)
				return
			}
			_, _ = r.Discard(2)
		}
	}()
	return pr
}

// TestInteropCacheMatchesHAProxy sends the same requests through
// haproxy and lb on one configuration with two caches and compares what
// comes back: which responses are kept and served again (with Age,
// res.cache_hit and res.cache_name), which are not (statuses other than
// 200, no lifetime and no validator, private and no-store, too large, a
// Vary without process-vary, a request with no-cache, Authorization or
// Pragma), a server's Age, conditional requests answered 304, HEAD, an
// unsafe method dropping the entry, an Expires in the past, variants by
// Accept-Encoding; then the log lines and the cache counters of the
// statistics.
func TestInteropCacheMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	lastMod := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	before := time.Now().Add(-2 * time.Hour).UTC().Format(http.TimeFormat)
	after := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	esc := func(s string) string { return strings.ReplaceAll(s, " ", "%20") }
	type step struct {
		listen, method, target string
		fields                 []string
	}
	var steps []step
	get := func(target string, fields ...string) {
		steps = append(steps, step{"c", "GET", target, fields})
	}
	twice := func(target string, fields ...string) { get(target, fields...); get(target, fields...) }
	twice("/fresh?h=Cache-Control:max-age=100")
	steps = append(steps, step{"c", "HEAD", "/fresh?h=Cache-Control:max-age=100", nil})
	twice("/nolifetime")
	twice("/cookie?h=Set-Cookie:a=1&h=Cache-Control:max-age=100")
	twice("/notfound?s=404&h=Cache-Control:max-age=100")
	twice("/age?h=Age:30&h=Cache-Control:max-age=100")
	twice("/agezero?h=Age:0&h=Cache-Control:max-age=100")
	twice("/stale?h=Age:300&h=Cache-Control:max-age=100")
	twice("/etag?h=ETag:%22e1%22")
	get("/etag?h=ETag:%22e1%22", `if-none-match: "e1"`)
	get("/etag?h=ETag:%22e1%22", `if-none-match: W/"e1"`)
	get("/etag?h=ETag:%22e1%22", `if-none-match: "zz", "e1"`)
	get("/etag?h=ETag:%22e1%22", `if-none-match: "zz"`)
	get("/etag?h=ETag:%22e1%22", `if-none-match: *`)
	twice("/lm?h=Last-Modified:" + esc(lastMod))
	get("/lm?h=Last-Modified:"+esc(lastMod), "if-modified-since: "+after)
	get("/lm?h=Last-Modified:"+esc(lastMod), "if-modified-since: "+before)
	twice("/private?h=Cache-Control:private,max-age=100")
	twice("/nostore?h=Cache-Control:no-store")
	twice("/maxage0?h=Cache-Control:max-age=0")
	twice("/public?h=Cache-Control:public&h=ETag:%22p%22")
	twice("/pragma?h=Pragma:no-cache&h=Cache-Control:max-age=100")
	twice("/vary?h=Vary:accept-encoding&h=Cache-Control:max-age=100")
	twice("/big?n=4000&h=Cache-Control:max-age=100")
	twice("/bigchunked?n=4000&chunked=1&h=Cache-Control:max-age=100")
	twice("/smallchunked?n=100&chunked=1&h=Cache-Control:max-age=100")
	twice("/expired?h=Expires:" + esc(past))
	twice("/expires?h=Expires:" + esc(future))
	twice("/smaxage?h=Cache-Control:s-maxage=50")
	// A request that bypasses the cache is neither served nor stored.
	get("/bypass?h=Cache-Control:max-age=100", "cache-control: no-cache")
	get("/bypass?h=Cache-Control:max-age=100")
	get("/fresh?h=Cache-Control:max-age=100", "cache-control: max-age=0")
	get("/fresh?h=Cache-Control:max-age=100", "authorization: Basic YTpi")
	get("/fresh?h=Cache-Control:max-age=100", "pragma: no-cache")
	get("/nocache/x?h=Cache-Control:max-age=100")
	// An unsafe method that succeeds drops the entry.
	steps = append(steps, step{"c", "POST", "/fresh?h=Cache-Control:max-age=100", []string{"content-length: 0"}})
	get("/fresh?h=Cache-Control:max-age=100")
	get("/fresh?h=Cache-Control:max-age=100")
	steps = append(steps, step{"c", "PUT", "/etag?h=ETag:%22e1%22&s=500", []string{"content-length: 0"}})
	get("/etag?h=ETag:%22e1%22")
	// Variants by Accept-Encoding, two at most.
	vget := func(fields ...string) {
		steps = append(steps, step{"v", "GET", "/ce?h=Vary:accept-encoding&h=Cache-Control:max-age=100", fields})
	}
	vget("accept-encoding: gzip")
	vget("accept-encoding: gzip")
	vget("accept-encoding: br, gzip")
	vget("accept-encoding: gzip;q=0, br")
	vget("accept-encoding: br")
	vget("accept-encoding: deflate")
	vget("accept-encoding: deflate")
	vget()
	vget("accept-encoding: identity")
	steps = append(steps, step{"v", "GET", "/ref?h=Vary:referer&h=Cache-Control:max-age=100", []string{"referer: /a"}})
	steps = append(steps, step{"v", "GET", "/ref?h=Vary:referer&h=Cache-Control:max-age=100", []string{"referer: /a"}})
	steps = append(steps, step{"v", "GET", "/other?h=Vary:user-agent&h=Cache-Control:max-age=100", nil})
	steps = append(steps, step{"v", "GET", "/other?h=Vary:user-agent&h=Cache-Control:max-age=100", nil})

	type outcome struct {
		responses []string
		log       []string
		stats     []string
	}
	run := func(start func(text string) (out func() string, stats func() []string)) outcome {
		srvC, _ := cacheServer(t)
		srvV, _ := cacheServer(t)
		ports := freePorts(t, 2)
		out, stats := start(cacheCfg(ports[0], ports[1], srvC, srvV))
		addr := map[string]string{"c": fmt.Sprintf("127.0.0.1:%d", ports[0]), "v": fmt.Sprintf("127.0.0.1:%d", ports[1])}
		var o outcome
		for _, s := range steps {
			o.responses = append(o.responses, s.method+" "+s.target+" "+strings.Join(s.fields, "|")+"\n"+rawExchange(t, addr[s.listen], s.method, s.target, s.fields...))
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := cacheLogNoise.FindStringSubmatch(l); m != nil {
					lines = append(lines, strings.Join(m[1:], " "))
				}
			}
			return len(lines) == len(steps)
		}, 10*time.Second, 20*time.Millisecond, "%d log lines of %d in:\n%s", len(lines), len(steps), out())
		slices.Sort(lines)
		o.log = lines
		o.stats = stats()
		return o
	}
	// counts reads each proxy's cache_lookups and cache_hits from "show
	// stat".
	counts := func(csv string) []string {
		_, rows, _ := statTable(t, csv)
		var out []string
		for _, px := range []string{"c", "v"} {
			for _, sv := range []string{"FRONTEND", "BACKEND"} {
				r := rows[px+"/"+sv]
				out = append(out, fmt.Sprintf("%s/%s %s/%s", px, sv, r["cache_lookups"], r["cache_hits"]))
			}
		}
		return out
	}
	haStart := func(text string) (func() string, func() []string) {
		sock := filepath.Join(t.TempDir(), "haproxy.sock")
		text = strings.Replace(text, "global\n", "global\n    stats socket "+sock+"\n", 1)
		out := startHAProxySocket(t, text, sock)
		return out, func() []string { return counts(cliCommand(t, sock, "show stat")) }
	}
	lbStart := func(text string) (func() string, func() []string) {
		b, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() },
			func() []string { return counts(b.RunCommand("admin", "show stat")) }
	}
	want := run(haStart)
	got := run(lbStart)
	for i := range want.responses {
		require.Equal(t, want.responses[i], got.responses[i], "step %d: haproxy's response, then lb's", i)
	}
	require.Equal(t, want.log, got.log, "log lines")
	require.Equal(t, want.stats, got.stats, "cache_lookups/cache_hits")
	hits := 0
	for _, r := range got.responses {
		if strings.Contains(r, "\nx-cache: c\n") {
			hits++
			require.Contains(t, r, "\nage: D\n", "a hit has an Age")
		}
	}
	require.GreaterOrEqual(t, hits, 10, "responses served from the cache")
}
