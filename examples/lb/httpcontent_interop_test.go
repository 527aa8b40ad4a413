package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropHTTPContentRulesMatchHAProxy runs "tcp-request content"
// rules in mode http, a frontend's and a backend's, under haproxy and
// lb: they run for each request of a keep-alive connection, read its
// HTTP fields, track it (a connection per request, and the request
// unless rejected), set variables, stop at accept, and reject by closing
// the connection with a <BADREQ> line. The answers' fields, the log
// lines and the stick table must read the same, and lb warns of the
// track-sc rule that reads nothing of the request as haproxy does.
func TestInteropHTTPContentRulesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	ports := freePorts(t, 2)
	dir := t.TempDir()
	text := func(port int, sock string) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    tcp-request content track-sc0 src table st
    tcp-request content track-sc1 req.hdr(x-user) table su if { req.hdr(x-user) -m found }
    tcp-request content set-var(txn.p) path
    tcp-request content reject if { path /bad }
    tcp-request content accept if { path_beg /acc }
    tcp-request content set-var(txn.q) str(after)
    http-request set-header x-p "%%[var(txn.p)]-%%[var(txn.q)]-%%[sc0_http_req_cnt]-%%[sc0_conn_cnt]-%%[sc1_conn_cnt]"
    http-response set-header x-p "%%[var(txn.p)]-%%[var(txn.q)]-%%[var(txn.b)]-%%[sc0_http_req_cnt]-%%[sc0_conn_cnt]"
    use_backend b2 if { path_beg /b2 }
    default_backend b
backend b
    server s %s
backend b2
    tcp-request content set-var(txn.b) str(b2)
    tcp-request content reject if { path /b2/bad }
    server s %s
backend st
    stick-table type ip size 10 store http_req_cnt,conn_cnt,conn_cur
backend su
    stick-table type string len 16 size 10 store http_req_cnt,conn_cnt
`, sock, port, srv, srv)
	}
	run := func(port int, sock string, start func(string)) (answers []string) {
		start(text(port, sock))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for _, target := range []string{"/a", "/acc", "/c", "/b2/x"} {
			_, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nhost: x\r\nx-user: u1\r\n\r\n")
			require.NoError(t, err)
			n, err := c.Read(buf)
			require.NoError(t, err)
			answers = append(answers, target+" -> "+headerValue(string(buf[:n]), "x-p"))
		}
		_ = c.Close()
		for _, target := range []string{"/bad", "/b2/bad"} {
			resp := oneShot(t, addr, "GET "+target+" HTTP/1.1\r\nhost: x\r\n\r\n")
			answers = append(answers, fmt.Sprintf("%s -> %d bytes", target, len(resp)))
		}
		return answers
	}
	// table reads the stick tables once every request is over: an
	// answer reaches the client a moment before its exchange lets go of
	// the entries it tracks.
	table := func(sock string) string {
		var st string
		assert.Eventually(t, func() bool {
			st = cliCommand(t, sock, "show table st") + cliCommand(t, sock, "show table su")
			return !strings.Contains(st, " use=1 ")
		}, 5*time.Second, 10*time.Millisecond, "the entries let go")
		return regexp.MustCompile(`(?m)^0x[0-9a-f]+: `).ReplaceAllString(st, "")
	}
	lines := func(out func() string) []string {
		var got []string
		require.Eventually(t, func() bool {
			got = got[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, `"GET `) || strings.Contains(l, "<BADREQ>") {
					got = append(got, normalizeHTTPLog(l))
				}
			}
			return len(got) >= 6
		}, 5*time.Second, 10*time.Millisecond)
		// Log lines come as exchanges end, which the client does not
		// order: keep-alive ones after the others at times.
		slices.Sort(got)
		return got
	}
	var haOut func() string
	haAnswers := run(ports[0], filepath.Join(dir, "ha.sock"), func(cfg string) { haOut = startHAProxySocket(t, cfg, filepath.Join(dir, "ha.sock")) })
	haLines := lines(haOut)
	haTable := table(filepath.Join(dir, "ha.sock"))
	var lbOut func() string
	lbAnswers := run(ports[1], filepath.Join(dir, "lb.sock"), func(cfg string) {
		_, logs, mu := startInProcess(t, cfg)
		lbOut = func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	lbLines := lines(lbOut)
	lbTable := table(filepath.Join(dir, "lb.sock"))
	assert.Equal(t, haAnswers, lbAnswers, "the answers, haproxy's then lb's")
	assert.Equal(t, haTable, lbTable, "the tables")
	assert.Equal(t, haLines, lbLines, "the log lines")
	assert.Contains(t, haAnswers, "/acc -> /acc---2-2", "accept ends the content rules")
	assert.Contains(t, haOut(), "should be executed at the session level")
}

// headerValue returns the value of the first field called name in an
// HTTP/1 response.
func headerValue(resp, name string) string {
	head, _, _ := strings.Cut(resp, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// normalizeHTTPLog keeps what an httplog line says, less its client
// port, date, timers and byte count (haproxy counts the server's
// answer, before the response rules add to it).
func normalizeHTTPLog(l string) string {
	f := strings.Fields(l)
	if len(f) < 10 {
		return l
	}
	host, _, _ := strings.Cut(f[0], ":")
	return strings.Join(append([]string{host, f[2], f[3], f[5], f[9]}, f[12:]...), " ")
}
