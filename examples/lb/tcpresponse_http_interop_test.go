package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// respServer answers each HTTP/1.1 request of a connection with 200 and
// a five-byte body, head and body in one write; a path holding "slow"
// waits a second first, one holding "split" sends the body 200ms after
// the head.
func respServer(t *testing.T) string {
	t.Helper()
	return checkPeer(t, func(c *net.TCPConn) {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			const head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Srv: s1\r\n\r\n"
			switch {
			case strings.Contains(req.URL.Path, "slow"):
				time.Sleep(time.Second)
				_, _ = io.WriteString(c, head+"hello")
			case strings.Contains(req.URL.Path, "split"):
				_, _ = io.WriteString(c, head)
				time.Sleep(200 * time.Millisecond)
				_, _ = io.WriteString(c, "hello")
			default:
				_, _ = io.WriteString(c, head+"hello")
			}
		}
	})
}

// TestInteropTCPResponseHTTPModeMatchesHAProxy runs "tcp-response
// content" rules in HTTP backends under haproxy and lb: the rules run
// for each response, first before it (a reject there hands the client
// nothing), then, when a condition waits, on the head, where res.len is
// the response's HTX size (head alone, or with the body that came along)
// and res.payload finds nothing; after the inspect delay they decide on
// nothing. close answers 502 before the response and lets it go on
// after its head. The client's view (status, the headers the variables
// fill, or the connection closed without an answer) and the log lines
// (status, bytes, termination state) must read the same.
func TestInteropTCPResponseHTTPModeMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := respServer(t)
	ports := freePorts(t, 2)
	text := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    use_backend %%[path,field(2,/)]
backend rej
    tcp-response content reject
    server s %[2]s
backend early
    tcp-response content reject if { res.len eq 0 }
    server s %[2]s
backend len
    tcp-response inspect-delay 2s
    tcp-response content set-var(txn.l) res.len if { res.len gt 0 }
    tcp-response content set-var(txn.p) res.payload(0,4) if { res.len gt 0 }
    tcp-response content set-var(txn.f) str(first)
    http-response set-header x-len "%%[var(txn.l)]"
    http-response set-header x-p "%%[var(txn.p)]"
    http-response set-header x-f "%%[var(txn.f)]"
    server s %[2]s
backend waitrej
    tcp-response inspect-delay 2s
    tcp-response content accept if { res.len gt 100000 }
    tcp-response content reject
    server s %[2]s
backend payload
    tcp-response inspect-delay 2s
    tcp-response content reject if { res.payload(0,4) -m str HTTP }
    server s %[2]s
backend close
    tcp-response content close
    server s %[2]s
backend closehead
    tcp-response inspect-delay 2s
    tcp-response content close if { res.len gt 0 }
    server s %[2]s
backend expire
    tcp-response inspect-delay 300ms
    tcp-response content reject if { res.len gt 0 }
    server s %[2]s
backend expirerej
    tcp-response inspect-delay 300ms
    tcp-response content accept if { res.len gt 0 }
    tcp-response content reject
    server s %[2]s
backend quiet
    tcp-response content set-log-level silent
    tcp-response content set-var-fmt(txn.f) "fmt-%%[var(txn.f)]-%%[res.len]"
    http-response set-header x-f "%%[var(txn.f)]"
    server s %[2]s
`, port, srv)
	}
	targets := []string{"/rej/a", "/early/a", "/len/a", "/len/split", "/waitrej/a", "/payload/a", "/close/a", "/closehead/a", "/expire/slow", "/expirerej/slow", "/quiet/a"}
	run := func(port int, start func(string)) (answers []string) {
		start(text(port))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for _, target := range targets {
			resp := string(oneShot(t, addr, "GET "+target+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
			status, _, _ := strings.Cut(resp, "\r\n")
			answers = append(answers, fmt.Sprintf("%s -> %q len=%s p=%s f=%s", target, status, headerValue(resp, "x-len"), headerValue(resp, "x-p"), headerValue(resp, "x-f")))
		}
		// The rules run for each response of a kept connection.
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			_, err := io.WriteString(c, "GET /len/ka HTTP/1.1\r\nhost: x\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			answers = append(answers, fmt.Sprintf("keep-alive %d -> %d len=%s", i, resp.StatusCode, resp.Header.Get("x-len")))
		}
		return answers
	}
	lines := func(out func() string) []string {
		var got []string
		require.Eventually(t, func() bool {
			got = got[:0]
			for _, l := range strings.Split(out(), "\n") {
				if f := strings.Fields(l); len(f) > 10 && strings.Contains(l, `"GET `) {
					// client, frontend, backend/server, status, bytes,
					// termination state, request line
					host, _, _ := strings.Cut(f[0], ":")
					got = append(got, strings.Join(append([]string{host, f[2], f[3], f[5], f[6], f[9]}, f[12:]...), " "))
				}
			}
			return len(got) >= len(targets)+1 // /quiet/a logs nothing
		}, 5*time.Second, 10*time.Millisecond)
		slices.Sort(got)
		return got
	}
	haOut := startHAProxyReady(t, text(ports[0]))
	haAnswers := run(ports[0], func(string) {})
	haLines := lines(haOut)
	var lbOut func() string
	lbAnswers := run(ports[1], func(cfg string) {
		_, logs, mu := startInProcess(t, cfg)
		lbOut = func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	lbLines := lines(lbOut)
	assert.Equal(t, haAnswers, lbAnswers, "the answers, haproxy's then lb's")
	assert.Equal(t, haLines, lbLines, "the log lines, haproxy's then lb's")
	// What the comparison rests on, as haproxy does it.
	assert.Contains(t, haAnswers, `/rej/a -> "" len= p= f=`, "a reject hands the client nothing")
	assert.Contains(t, haAnswers, `/len/a -> "HTTP/1.1 200 OK" len=61 p= f=first`, "the head's HTX size and the body with it")
	assert.Contains(t, haAnswers, `/len/split -> "HTTP/1.1 200 OK" len=56 p= f=first`, "the head's alone")
	assert.Contains(t, haAnswers, `/close/a -> "HTTP/1.1 502 Bad Gateway" len= p= f=`)
	assert.Contains(t, haAnswers, `/closehead/a -> "HTTP/1.1 200 OK" len= p= f=`)
	assert.Contains(t, haAnswers, `/expire/slow -> "HTTP/1.1 200 OK" len= p= f=`)
	assert.Contains(t, haAnswers, `/quiet/a -> "HTTP/1.1 200 OK" len= p= f=fmt--0`, "set-var-fmt before the response")
	assert.NotContains(t, haOut(), "/quiet/a", "set-log-level silent")
	assert.Contains(t, haOut(), "L6 sample fetches ignored on HTTP proxies")
}
