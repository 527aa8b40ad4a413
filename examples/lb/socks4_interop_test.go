package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// socks4Seen is what one run of socks4Cfg shows: the requests each SOCKS4
// proxy read, what the clients and the servers saw, the traffic log
// lines and the health checks' lines, all made comparable.
type socks4Seen struct {
	Requests map[string][]string
	Client   map[string]string
	Server   []string
	Traffic  []string
	Checks   []string
}

// socks4Cfg has a proxy per case, each with its own SOCKS4 proxies (px)
// so that their requests tell the cases apart: traffic through a proxy
// that grants (TCP with send-proxy, HTTP, HTTPS with send-proxy), one
// that refuses, and checks
// through proxies that grant, refuse, close or stay silent, and past a
// refusing one without check-via-socks4.
func socks4Cfg(ports []int, px map[string]string, tcpSrv, httpSrv, tlsSrv string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    timeout connect 300ms
    timeout client 5s
    timeout server 5s
    timeout check 300ms
    default-server inter 200ms fall 1 rise 1
listen tcp_ok
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    server s %s socks4 %s send-proxy
listen tcp_refused
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    server s %s socks4 %s
listen tcp_silent
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    server s %s socks4 %s
listen tcp_closed
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    server s %s socks4 %s
listen tcp_v6
    mode tcp
    option tcplog
    bind 127.0.0.1:%d
    server s [::1]:1 socks4 %s
listen http_ok
    mode http
    option httplog
    bind 127.0.0.1:%d
    default-server socks4 %s
    server s %s
listen https_ok
    mode http
    option httplog
    bind 127.0.0.1:%d
    server s %s ssl verify none send-proxy socks4 %s
listen http_refused
    mode http
    option httplog
    bind 127.0.0.1:%d
    server s %s socks4 %s
backend chk_ok
    option log-health-checks
    server s %s socks4 %s check check-via-socks4
backend chk_refused
    option log-health-checks
    server s %s socks4 %s check check-via-socks4
backend chk_closed
    option log-health-checks
    server s %s socks4 %s check check-via-socks4
backend chk_silent
    option log-health-checks
    server s %s socks4 %s check check-via-socks4
backend chk_direct
    option log-health-checks
    server s %s socks4 %s check
backend chk_proxy
    option log-health-checks
    server s %s socks4 %s check check-via-socks4 send-proxy
backend chk_v6
    option log-health-checks
    server s [::1]:1 socks4 %s check check-via-socks4
`, ports[0], tcpSrv, px["tcp_ok"], ports[1], tcpSrv, px["tcp_refused"],
		ports[4], tcpSrv, px["tcp_silent"], ports[5], tcpSrv, px["tcp_closed"], ports[6], px["tcp_v6"],
		ports[2], px["http_ok"], httpSrv, ports[7], tlsSrv, px["https_ok"], ports[3], httpSrv, px["http_refused"],
		tcpSrv, px["chk_ok"], tcpSrv, px["chk_refused"], tcpSrv, px["chk_closed"],
		tcpSrv, px["chk_silent"], tcpSrv, px["chk_direct"], tcpSrv, px["chk_proxy"], px["chk_v6"])
}

// socks4Modes are how each case's proxy answers.
var socks4Modes = map[string]testnet.SOCKS4Mode{
	"tcp_ok": testnet.SOCKS4Grant, "tcp_refused": testnet.SOCKS4Reject,
	"tcp_silent": testnet.SOCKS4Silent, "tcp_closed": testnet.SOCKS4Close,
	"tcp_v6": testnet.SOCKS4Grant, "chk_v6": testnet.SOCKS4Grant,
	"http_ok": testnet.SOCKS4Grant, "http_refused": testnet.SOCKS4Reject, "https_ok": testnet.SOCKS4Grant,
	"chk_ok": testnet.SOCKS4Grant, "chk_refused": testnet.SOCKS4Reject,
	"chk_closed": testnet.SOCKS4Close, "chk_silent": testnet.SOCKS4Silent,
	"chk_direct": testnet.SOCKS4Reject, "chk_proxy": testnet.SOCKS4Grant,
}

var (
	// tcpLogRe takes a tcplog line apart: the client's port, the date,
	// the timers and the connection counts vary; the retries stay.
	tcpLogRe = regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]+\] (\S+ \S+) (\S+) (\d+) (\S+) \d+/\d+/\d+/\d+/(\d+) (\d+/\d+)$`)
	// httpLogRe does so for an httplog line.
	httpLogRe = regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]+\] (\S+ \S+) (\S+) (\d+) (\d+) (\S+ \S+) (\S+) \d+/\d+/\d+/\d+/(\d+) (\d+/\d+) (".*")$`)
	// errnoRe is the system error haproxy may add to a SOCKS4 failure's
	// info: whatever errno held then, often left by another call.
	errnoRe = regexp.MustCompile(`(SOCKS4 Proxy (?:deny the request|read error during handshake|write error during handshake|handshake aborted by server)) \([^)]*\)`)
)

// timers words a timer field as "-1" for a timer that did not run, "N"
// for one that did.
func timers(f string) string {
	parts := strings.Split(f, "/")
	for i, p := range parts {
		if p != "-1" {
			parts[i] = "N"
		}
	}
	return strings.Join(parts, "/")
}

func runSocks4(t *testing.T, start func(text string) func() string) socks4Seen {
	t.Helper()
	seen := socks4Seen{Requests: map[string][]string{}, Client: map[string]string{}}
	var mu sync.Mutex
	// The TCP server reads the PROXY header and a line, and answers.
	tcpSrv := checkPeer(t, func(c *net.TCPConn) {
		r := bufio.NewReader(c)
		hdr, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(hdr, "PROXY ") {
			return // a health check's bare connect, or one without header
		}
		line, _ := r.ReadString('\n')
		f := strings.Fields(hdr)
		if len(f) == 6 {
			f[4] = "CPORT" // the client's port
		}
		mu.Lock()
		seen.Server = append(seen.Server, strings.Join(f, " ")+" | "+strings.TrimSpace(line))
		mu.Unlock()
		_, _ = c.Write([]byte("got " + line))
	})
	httpSrv := checkPeer(t, func(c *net.TCPConn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		mu.Lock()
		seen.Server = append(seen.Server, fmt.Sprintf("%s %s %s host=%s", req.Method, req.URL, req.Proto, req.Host))
		mu.Unlock()
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n"))
	})
	// The TLS server reads a PROXY header, then TLS and a request.
	serverTLS, _ := testcert.Configs(t, "localhost")
	tlsSrv := checkPeer(t, func(c *net.TCPConn) {
		var hdr []byte
		for b := make([]byte, 1); len(hdr) < 108 && (len(hdr) == 0 || hdr[len(hdr)-1] != '\n'); {
			if _, err := c.Read(b); err != nil {
				return
			}
			hdr = append(hdr, b[0])
		}
		tc := tls.Server(c, serverTLS)
		req, err := http.ReadRequest(bufio.NewReader(tc))
		if err != nil {
			return
		}
		f := strings.Fields(string(hdr))
		if len(f) == 6 {
			f[4] = "CPORT"
		}
		mu.Lock()
		seen.Server = append(seen.Server, fmt.Sprintf("TLS %s | %s %s %s", strings.Join(f, " "), req.Method, req.URL, req.Proto))
		mu.Unlock()
		_, _ = tc.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\ntls\n"))
		_ = tc.Close()
	})
	proxies := map[string]*testnet.SOCKS4Proxy{}
	addrs := map[string]string{}
	for name, mode := range socks4Modes {
		proxies[name] = testnet.StartSOCKS4(t, mode)
		addrs[name] = proxies[name].Addr
	}
	ports := testnet.FreePorts(t, 8)
	out := start(socks4Cfg(ports, addrs, tcpSrv, httpSrv, tlsSrv))

	// The checks settle first: every checked server reports its state.
	checks := checkLines(t, out, 7, "Health check for ")
	for _, l := range checks {
		seen.Checks = append(seen.Checks, errnoRe.ReplaceAllString(l, "$1"))
	}

	tcp := func(port int) string {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Write([]byte("hello\n"))
		require.NoError(t, err)
		b, err := io.ReadAll(c)
		if err != nil {
			return fmt.Sprintf("%q, %v", b, err)
		}
		return fmt.Sprintf("%q", b)
	}
	seen.Client["tcp_ok"] = tcp(ports[0])
	seen.Client["tcp_refused"] = tcp(ports[1])
	seen.Client["tcp_silent"] = tcp(ports[4])
	seen.Client["tcp_closed"] = tcp(ports[5])
	seen.Client["tcp_v6"] = tcp(ports[6])
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for name, port := range map[string]int{"http_ok": ports[2], "http_refused": ports[3], "https_ok": ports[7]} {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/path?q=1", port))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		seen.Client[name] = fmt.Sprintf("%d %q", resp.StatusCode, strings.Split(string(body), "\n")[0])
	}

	// Each traffic case logs a line.
	require.Eventually(t, func() bool {
		seen.Traffic = seen.Traffic[:0]
		for _, l := range strings.Split(out(), "\n") {
			if m := tcpLogRe.FindStringSubmatch(l); m != nil {
				seen.Traffic = append(seen.Traffic, strings.Join([]string{m[1], timers(m[2]), m[3], m[4], "retries=" + m[5], m[6]}, " "))
			} else if m := httpLogRe.FindStringSubmatch(l); m != nil {
				seen.Traffic = append(seen.Traffic, strings.Join([]string{m[1], timers(m[2]), m[3], m[4], m[5], m[6], "retries=" + m[7], m[8], m[9]}, " "))
			}
		}
		return len(seen.Traffic) == 8
	}, 10*time.Second, 20*time.Millisecond, "eight traffic lines in:\n%s", out())
	sort.Strings(seen.Traffic)

	// The requests each proxy read, once each: the checks repeat theirs.
	for name, p := range proxies {
		var reqs []string
		for _, r := range p.Requests() {
			r = testnet.SOCKS4Request(r)
			if !contains(reqs, r) {
				reqs = append(reqs, r)
			}
		}
		seen.Requests[name] = reqs
	}
	// The servers and the frontends listen on new ports in each run.
	_, tcpPort, _ := net.SplitHostPort(tcpSrv)
	_, httpPort, _ := net.SplitHostPort(httpSrv)
	_, tlsPort, _ := net.SplitHostPort(tlsSrv)
	norm := strings.NewReplacer(" "+tcpPort+" ", " TCPSRV ", " "+httpPort+" ", " HTTPSRV ", " "+tlsPort+" ", " TLSSRV ",
		fmt.Sprint(ports[2]), "FE", " "+fmt.Sprint(ports[0]), " FE", " "+fmt.Sprint(ports[7]), " FE")
	for name, reqs := range seen.Requests {
		for i := range reqs {
			reqs[i] = norm.Replace(reqs[i])
		}
		seen.Requests[name] = reqs
	}
	mu.Lock()
	defer mu.Unlock()
	// Once each: the checks repeat theirs.
	var server []string
	for _, l := range seen.Server {
		if l = norm.Replace(l); !contains(server, l) {
			server = append(server, l)
		}
	}
	sort.Strings(server)
	seen.Server = server
	return seen
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInteropSocks4MatchesHAProxy: servers reached through SOCKS4
// proxies, under haproxy and lb: the request each proxy reads (the
// server's address and port, user id "HAProxy"), what clients and
// servers see (the PROXY header through the proxy), the tcplog and
// httplog lines of a granted and of a refused connection (SC after the
// retries), of a proxy that closes (SC) and of one that stays silent past
// timeout connect (sC), and of an IPv6 server, which SOCKS4 cannot name
// (SC, the proxy asked nothing), and the checks through the proxy (check-via-socks4): passed
// when it grants, with a PROXY header of the check's own addresses under
// send-proxy, a socket error when it refuses or closes, a Layer7 timeout
// when it stays silent, and past it without check-via-socks4.
func TestInteropSocks4MatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	ha := runSocks4(t, haproxyLogs(t))
	lb := runSocks4(t, lbLogs(t))
	assert.Equal(t, ha.Requests, lb.Requests, "the proxies' requests: haproxy's, then lb's")
	assert.Equal(t, ha.Client, lb.Client, "what the clients saw")
	assert.Equal(t, ha.Server, lb.Server, "what the servers saw")
	assert.Equal(t, ha.Traffic, lb.Traffic, "the traffic logs")
	assert.Equal(t, ha.Checks, lb.Checks, "the checks' logs")
	// And what they say, that both could not get wrong alike.
	assert.Contains(t, lb.Checks, `Health check for server chk_refused/s failed, reason: Socket error, info: "SOCKS4 Proxy deny the request", check duration: N, status: 0/1 DOWN.`)
	assert.Empty(t, lb.Requests["chk_direct"], "checks without check-via-socks4 go straight to the server")
	assert.Equal(t, `"got hello\n"`, lb.Client["tcp_ok"])
	assert.Contains(t, lb.Checks, `Health check for server chk_v6/s failed, reason: Layer4 connection problem, info: "General socket error (Invalid argument)", check duration: N, status: 0/1 DOWN.`)
	assert.Empty(t, lb.Requests["tcp_v6"])
	assert.Equal(t, `200 "tls"`, lb.Client["https_ok"], "TLS to the server through the proxy")
	assert.Contains(t, lb.Server, "TLS PROXY TCP4 127.0.0.1 127.0.0.1 CPORT FE | GET /path?q=1 HTTP/1.1", "the PROXY header, then TLS")
	assert.Contains(t, lb.Traffic, "tcp_silent tcp_silent/s N/-1/N 0 sC retries=3 0/0")
	assert.Contains(t, lb.Server, "PROXY TCP4 127.0.0.1 127.0.0.1 CPORT TCPSRV | ", "a check's header through the proxy names the server")
}

// TestInteropSocks4ConfigMatchesHAProxy: the lines haproxy takes or
// refuses, lb takes or refuses too.
func TestInteropSocks4ConfigMatchesHAProxy(t *testing.T) {
	for _, line := range []string{
		"server s 127.0.0.1:80 socks4 127.0.0.1:1080",
		"server s 127.0.0.1:80 socks4 localhost:1080 check check-via-socks4",
		"server s 127.0.0.1:80 socks4 [::1]:1080",
		"server s 127.0.0.1:80 socks4 ipv4@127.0.0.1:1080",
		"server s 127.0.0.1:80 socks4 *:1080",
		"server s 127.0.0.1:80 check-via-socks4",
		"default-server socks4 127.0.0.1:1080 check-via-socks4\n    server s 127.0.0.1:80",
		"server-template s 2 127.0.0.1:80 socks4 127.0.0.1:1080",
		"server s 127.0.0.1:80 socks4 127.0.0.1",
		"server s 127.0.0.1:80 socks4",
		"server s 127.0.0.1:80 socks4 127.0.0.1:0",
		"server s 127.0.0.1:80 socks4 127.0.0.1:1080-1090",
		"server s 127.0.0.1:80 socks4 127.0.0.1:+1",
		"server s 127.0.0.1:80 no-check-via-socks4",
	} {
		t.Run(line, func(t *testing.T) {
			text := strings.Replace(parityBase, "    server s 127.0.0.1:2\n", "    "+line+"\n", 1)
			checkParity(t, text)
		})
	}
	// A host name that does not resolve is refused at start, as haproxy
	// refuses it.
	text := strings.Replace(parityBase, "    server s 127.0.0.1:2\n", "    server s 127.0.0.1:80 socks4 nosuchhost.invalid:1080\n", 1)
	out, herr := exec.Command(haproxyBin(t), "-c", "-f", writeFile(t, "p.cfg", text)).CombinedOutput()
	require.Error(t, herr)
	require.Contains(t, string(out), "invalid address: 'nosuchhost.invalid'")
	cfg, err := config.Parse(config.Source{Name: "p.cfg", Data: []byte(text)})
	require.NoError(t, err)
	err = cfg.Resolve(t.Context(), config.SystemLookup)
	require.ErrorContains(t, err, "p.cfg:10")
	require.ErrorContains(t, err, "'socks4 nosuchhost.invalid:1080' : invalid address: 'nosuchhost.invalid'")
}
