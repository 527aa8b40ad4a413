package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropBareBalanceIsRoundRobin: a "balance" line without an
// algorithm means roundrobin, overriding the one the defaults set, under
// haproxy and lb (real-world configurations carry the bare keyword).
func TestInteropBareBalanceIsRoundRobin(t *testing.T) {
	haproxyBin(t)
	srv := nameServers(t, 3, false)
	run := func(start func(text string)) []string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode tcp
    balance source
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    mode http
    bind 127.0.0.1:%d
    http-request return status 200
listen bare
    bind 127.0.0.1:%d
    balance
    server s1 %s
    server s2 %s
    server s3 %s
`, p[0], p[1], srv[0], srv[1], srv[2]))
		var got []string
		for range 6 {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[1]))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			_ = c.Close()
			got = append(got, strings.TrimSpace(line))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the servers haproxy chose, then lb's")
	require.Equal(t, []string{"s1", "s2", "s3", "s1", "s2", "s3"}, got)
}

// predefinedACLs are HAProxy 2.6's predefined ACLs an HTTP request can
// meet.
var predefinedACLs = []string{"TRUE", "FALSE", "LOCALHOST", "HTTP", "HTTP_1.0", "HTTP_1.1", "HTTP_2.0",
	"HTTP_CONTENT", "HTTP_URL_ABS", "HTTP_URL_SLASH", "HTTP_URL_STAR", "METH_CONNECT", "METH_DELETE",
	"METH_GET", "METH_HEAD", "METH_OPTIONS", "METH_POST", "METH_PUT", "METH_TRACE"}

// TestInteropPredefinedACLsMatchHAProxy: each of haproxy 2.6's
// predefined ACLs holds for the same requests under lb, in an HTTP
// proxy, and HTTP tells an HTTP/1 request from other bytes in a TCP
// proxy's content rules.
func TestInteropPredefinedACLsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", strings.Join(r.Header.Values("X-Acl"), " "))
	}), "http://")
	tcpSrv := nameServers(t, 1, false)
	requests := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		"PUT /p HTTP/1.0\r\nContent-Length: 2\r\n\r\nab",
		"DELETE /d HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"TRACE / HTTP/1.1\r\nHost: a\r\n\r\n",
		"PATCH /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
	}
	tcpInputs := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\x16\x03\x01\x00\x05hello",
		"hello world\n",
	}
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 3)
		var rules strings.Builder
		for _, name := range predefinedACLs {
			fmt.Fprintf(&rules, "    http-request add-header X-Acl %s if %s\n", name, name)
		}
		start(fmt.Sprintf(`defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    mode http
    bind 127.0.0.1:%d
%s    server s1 %s
listen v6
    mode http
    bind [::1]:%d
%s    server s1 %s
listen tcp
    mode tcp
    bind 127.0.0.1:%d
    tcp-request inspect-delay 3s
    tcp-request content accept if HTTP
    tcp-request content reject
    server s1 %s
`, p[0], rules.String(), echo, p[1], rules.String(), echo, p[2], tcpSrv[0]))
		ask := func(addr, req string) string {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.WriteString(c, req)
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(req)[0]})
			require.NoError(t, err, "%q", req)
			_ = resp.Body.Close()
			return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("X-Seen"))
		}
		for _, req := range requests {
			got = append(got, fmt.Sprintf("%q: %s", strings.SplitN(req, "\r\n", 2)[0], ask(fmt.Sprintf("127.0.0.1:%d", p[0]), req)))
		}
		got = append(got, "v6: "+ask(fmt.Sprintf("[::1]:%d", p[1]), requests[0]))
		for _, in := range tcpInputs {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[2]))
			_, err := io.WriteString(c, in)
			require.NoError(t, err)
			b, _ := io.ReadAll(c)
			got = append(got, fmt.Sprintf("tcp %q: %q", in, b))
		}
		// An HTTP request sent in two parts is waited for.
		c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[2]))
		_, err := io.WriteString(c, "GET /slow HT")
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
		_, err = io.WriteString(c, "TP/1.1\r\nHost: a\r\n\r\n")
		require.NoError(t, err)
		b, _ := io.ReadAll(c)
		return append(got, fmt.Sprintf("tcp split: %q", b))
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the ACLs that held under haproxy, then lb")
	require.Equal(t, `"GET / HTTP/1.1": 200 TRUE LOCALHOST HTTP HTTP_1.1 HTTP_URL_SLASH METH_GET`, got[0])
	require.Equal(t, `"HEAD /x HTTP/1.1": 200 TRUE LOCALHOST HTTP HTTP_1.1 HTTP_URL_SLASH METH_GET METH_HEAD`, got[1])
}

// TestInteropRedirectOptionsBeforeTypeMatchHAProxy: a redirect rule may
// give its code and options before its type (location, prefix or
// scheme); haproxy and lb answer the same redirects.
func TestInteropRedirectOptionsBeforeTypeMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 1)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:%d
    http-request redirect code 301 location /moved if { path /a }
    http-request redirect drop-query code 303 prefix /p if { path /b }
    http-request redirect set-cookie seen=1 code 308 scheme https if { path /c }
    http-request redirect code 307 location /first location /second if { path /d }
    redirect code 302 location /old-style if { path /e }
    http-request return status 200 if { path /f }
`, p[0]))
		client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, path := range []string{"/a", "/b?q=1", "/c", "/d", "/e", "/f"} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", p[0], path), nil)
			require.NoError(t, err)
			req.Host = "example.com"
			resp, err := client.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Set-Cookie")))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's redirects, then lb's")
	require.Equal(t, `/a: 301 "/moved" ""`, got[0])
}

// TestInteropConditionOperatorsMatchHAProxy: conditions read "or" in
// any case and "||", and exclamation marks alone, doubled or left at
// the end, as haproxy does.
func TestInteropConditionOperatorsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	conds := []string{"a OR b", "a Or b", "a || b", "! a", "!!a", "! !a", "a !", "a or", "or b", "! or b",
		"!a OR !b", "a b or !a !b", "or", "!"}
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 1)
		var rules, out strings.Builder
		for i, c := range conds {
			fmt.Fprintf(&rules, "    http-request set-header X-%d 1 if %s\n", i, c)
			fmt.Fprintf(&out, "%d=%%[req.fhdr(x-%d)] ", i, i)
		}
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:%d
    acl a path /a /ab
    acl b path /b /ab
%s    http-request set-header X-U 1 unless or
    http-request return status 200 content-type text/plain lf-string "%su=%%[req.fhdr(x-u)]"
`, p[0], rules.String(), out.String()))
		client := &http.Client{Timeout: 5 * time.Second}
		for _, path := range []string{"/a", "/b", "/ab", "/c"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p[0], path))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, path+": "+string(body))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the conditions that held under haproxy, then lb")
	require.Equal(t, "/c: 0= 1= 2= 3=1 4= 5= 6= 7= 8= 9= 10=1 11=1 12= 13= u=1", got[3])
}

// TestInteropStatsWordsMatchHAProxy: "stats realm" takes its first word
// and ignores the rest, "stats show-desc" joins its words, "stats
// show-node" takes its first, under haproxy and lb.
func TestInteropStatsWordsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	// The pages differ in layout: what they show is compared.
	node := regexp.MustCompile(`Statistics Report for [^<]* on (\w+)`)
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 1)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen st
    bind 127.0.0.1:%d
    stats enable
    stats uri /st extra
    stats realm Haproxy Manager
    stats auth u:p
    stats show-desc Stats for  ocp4 cluster
    stats show-node N1 other words
`, p[0]))
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/st", p[0]))
		require.NoError(t, err)
		_ = resp.Body.Close()
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate")))
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/st", p[0]), nil)
		require.NoError(t, err)
		req.SetBasicAuth("u", "p")
		resp, err = client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		m := node.FindSubmatch(body)
		require.NotNil(t, m, "%s", body)
		return append(got, fmt.Sprintf("%d node=%s desc=%v other=%v", resp.StatusCode, m[1],
			strings.Contains(string(body), "Stats for ocp4 cluster"), strings.Contains(string(body), "N1 other")))
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's stats page, then lb's")
	require.Equal(t, []string{`401 Basic realm="Haproxy"`, "200 node=N1 desc=true other=false"}, got)
}
