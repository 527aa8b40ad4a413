package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// dstPeers listens on port of 127.0.0.1 to 127.0.0.4 (a free port on
// all): each connection's first line is answered with the peer's address
// and that line ("127.0.0.3 hi"), or with httpMode each request with the
// peer's address and the request's path, on a kept connection.
func dstPeers(t *testing.T, httpMode bool) int {
	t.Helper()
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}
	for range 20 {
		port := freePorts(t, 1)[0]
		var lns []net.Listener
		for _, ip := range ips {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < len(ips) {
			for _, ln := range lns {
				_ = ln.Close()
			}
			continue
		}
		for i, ln := range lns {
			ip := ips[i]
			t.Cleanup(func() { _ = ln.Close() })
			if httpMode {
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = fmt.Fprintf(w, "%s %s", ip, r.URL.Path)
				})}
				go func() { _ = srv.Serve(ln) }()
				t.Cleanup(func() { _ = srv.Close() })
				continue
			}
			stop := testnet.Accept(ln, func(c net.Conn) {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = fmt.Fprintf(c, "%s %s\n", ip, strings.TrimSpace(line))
			})
			t.Cleanup(stop)
		}
		return port
	}
	t.Fatal("no port free on 127.0.0.1 to 127.0.0.4")
	return 0
}

// dstLogs starts text under haproxy or lb (with its stats socket) and
// returns its log output.
type dstStart func(text, sock string) func() string

func dstUnder(t *testing.T) (haproxy, lb dstStart) {
	return func(text, sock string) func() string { return startHAProxySocket(t, text, sock) },
		func(text, _ string) func() string {
			_, logs, mu := startInProcess(t, text)
			return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
		}
}

// TestInteropAnyAddrServerMatchesHAProxy: a server at 0.0.0.0 (or "*")
// connects to the address the client reached, the bind's own or the one
// tcp-request content set-dst gave, with the server line's port, or with
// none the client's (port mapping, +N included); send-proxy tells that
// destination; balance alternates it with a server that has an address.
// The peer answering, the log's %si:%sp, "show servers state" and the
// health checks (a fixed port's go to the local host, as a connect to
// 0.0.0.0 does; port 0 fails) read the same under haproxy and lb.
func TestInteropAnyAddrServerMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start dstStart) []string {
		sp := dstPeers(t, false)
		p := freePorts(t, 6)
		sock := filepath.Join(t.TempDir(), "admin.sock")
		text := fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode tcp
    log global
    log-format "dt %%f %%s %%si:%%sp %%fi"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen own
    bind 127.0.0.2:%d
    bind 127.0.0.3:%d
    server s 0.0.0.0:%d
listen checks
    bind 127.0.0.1:%d
    server s 0.0.0.0:%d check inter 100ms
    server z 0.0.0.0 check inter 100ms
listen setdst
    bind 127.0.0.1:%d
    tcp-request content set-dst ipv4(127.0.0.4)
    server s *:%d
listen mapped
    bind 127.0.0.1:%d
    tcp-request content set-dst ipv4(127.0.0.3)
    tcp-request content set-dst-port int(%d)
    server s 0.0.0.0:+1
listen proxied
    bind 127.0.0.1:%d
    tcp-request content set-dst ipv4(127.0.0.2)
    server s 0.0.0.0:%d send-proxy
listen rr
    bind 127.0.0.2:%d
    balance roundrobin
    server a 0.0.0.0:%d
    server b 127.0.0.4:%d
`, sock, p[0], p[0], sp, p[5], sp, p[1], sp, p[2], sp-1, p[3], sp, p[4], sp, sp)
		out := start(text, sock)
		mask := strings.NewReplacer(strconv.Itoa(sp), "SP")
		var got []string
		ask := func(src, addr string) {
			c := dialFrom(t, src, addr)
			_, err := c.Write([]byte("hi\n"))
			require.NoError(t, err)
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			line = strings.TrimSpace(line)
			if f := strings.Fields(line); len(f) == 7 && f[1] == "PROXY" {
				f[5], f[6] = "SPORT", "DPORT" // the client's port, the bind's
				line = strings.Join(f, " ")
			}
			got = append(got, mask.Replace(line))
		}
		ask("127.0.0.1", fmt.Sprintf("127.0.0.2:%d", p[0]))
		ask("127.0.0.1", fmt.Sprintf("127.0.0.3:%d", p[0]))
		ask("127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[1]))
		ask("127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[2]))
		ask("127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[3]))
		for range 4 {
			ask("127.0.0.1", fmt.Sprintf("127.0.0.2:%d", p[4]))
		}
		lines := sortedLines(t, out, 9, withPrefix("dt "))
		for _, l := range lines {
			got = append(got, mask.Replace(l))
		}
		// The checks: s up (its port on the local host), z down (port 0).
		var state []string
		require.Eventually(t, func() bool {
			state = state[:0]
			down := false
			for _, l := range strings.Split(cliCommand(t, sock, "show servers state"), "\n") {
				f := strings.Fields(l)
				if len(f) < 19 || strings.HasPrefix(f[0], "#") {
					continue
				}
				// be, server, srv_addr, srv_op_state, srv_port
				state = append(state, mask.Replace(strings.Join([]string{f[1], f[3], f[4], f[5], f[18]}, " ")))
				down = down || f[1] == "checks" && f[3] == "z" && f[5] == "0"
			}
			return down
		}, 10*time.Second, 20*time.Millisecond)
		return append(got, state...)
	}
	haproxy, lb := dstUnder(t)
	want := run(haproxy)
	t.Logf("haproxy:\n%s", strings.Join(want, "\n"))
	require.Equal(t, []string{"127.0.0.2 hi", "127.0.0.3 hi", "127.0.0.4 hi", "127.0.0.3 hi"}, want[:4], "haproxy's peers")
	got := run(lb)
	require.Equal(t, want, got, "haproxy's answers, log lines and server states, then lb's")
}

// TestInteropHTTPSetDstAnyAddrMatchesHAProxy: in mode http, the requests
// on one client connection go each to the destination http-request
// set-dst (from a header, or from a do-resolve of the Host) gave it, a
// kept server connection never carrying a request to another, under
// http-reuse always as under safe; with no set-dst, the bind's address.
func TestInteropHTTPSetDstAnyAddrMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start dstStart) []string {
		sp := dstPeers(t, true)
		dns := startFakeDNS(t, "127.0.0.2")
		dns.mu.Lock()
		dns.names = map[string]string{"c.example.": "127.0.0.3", "d.example.": "127.0.0.4"}
		dns.mu.Unlock()
		p := freePorts(t, 4)
		sock := filepath.Join(t.TempDir(), "admin.sock")
		text := fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
resolvers dns
    nameserver ns1 %s
    resolve_retries 2
    timeout retry 200ms
    hold valid 1h
defaults
    mode http
    log global
    log-format "dt %%f %%s %%si:%%sp %%HP"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen always
    bind 127.0.0.1:%d
    http-reuse always
    http-request set-dst hdr(x-dst)
    server s 0.0.0.0:%d
listen safe
    bind 127.0.0.1:%d
    http-reuse safe
    http-request set-dst hdr(x-dst)
    server s 0.0.0.0:%d
listen resolve
    bind 127.0.0.1:%d
    http-request do-resolve(txn.dstip,dns,ipv4) hdr(host),host_only
    http-request set-dst var(txn.dstip)
    server clear 0.0.0.0:%d
listen own
    bind 127.0.0.4:%d
    server s 0.0.0.0:%d
`, sock, dns.addr, p[0], sp, p[1], sp, p[2], sp, p[3], sp)
		out := start(text, sock)
		mask := strings.NewReplacer(strconv.Itoa(sp), "SP")
		var got []string
		keepAlive := func(addr string, reqs ...string) {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			require.NoError(t, err)
			defer c.Close()
			br := bufio.NewReader(c)
			for _, r := range reqs {
				path, hdr, _ := strings.Cut(r, " ")
				_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\n%s\r\n\r\n", path, hdr)
				require.NoError(t, err)
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err, r)
				body := make([]byte, resp.ContentLength)
				_, err = io.ReadFull(br, body)
				require.NoError(t, err)
				got = append(got, fmt.Sprintf("%s %d %s", r, resp.StatusCode, body))
			}
		}
		for _, port := range p[:2] {
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			keepAlive(addr, "/2 host: x\r\nx-dst: 127.0.0.2", "/3 host: x\r\nx-dst: 127.0.0.3", "/2b host: x\r\nx-dst: 127.0.0.2", "/3b host: x\r\nx-dst: 127.0.0.3")
		}
		keepAlive(fmt.Sprintf("127.0.0.1:%d", p[2]), "/c host: c.example:8080", "/d host: d.example", "/other host: other.example", "/c2 host: c.example")
		keepAlive(fmt.Sprintf("127.0.0.4:%d", p[3]), "/own host: x", "/own2 host: x")
		for _, l := range sortedLines(t, out, 14, withPrefix("dt ")) {
			got = append(got, mask.Replace(l))
		}
		return got
	}
	haproxy, lb := dstUnder(t)
	want := run(haproxy)
	t.Logf("haproxy:\n%s", strings.Join(want, "\n"))
	require.Contains(t, want[1], "200 127.0.0.3 /3", "haproxy went to the second destination")
	got := run(lb)
	require.Equal(t, want, got, "haproxy's answers and log lines, then lb's")
}

// TestInteropDispatchTransparentMatchesHAProxy: a backend without
// balance sends its connections to its dispatch address, or with option
// transparent to the address the client reached (here moved to the
// peers' port by set-dst-port), its servers only through use-server; the
// peers answering and the log lines (<NOSRV>, %si) read the same.
func TestInteropDispatchTransparentMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start dstStart) []string {
		sp := dstPeers(t, false)
		p := freePorts(t, 3)
		sock := filepath.Join(t.TempDir(), "admin.sock")
		text := fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode tcp
    log global
    log-format "dt %%f %%b/%%s %%si:%%sp"
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen dispatched
    bind 127.0.0.1:%d
    dispatch 127.0.0.2:%d
    server s 127.0.0.3:%d
    use-server s if { src 127.0.0.4 }
listen transparent
    bind 127.0.0.4:%d
    tcp-request content set-dst-port int(%d)
    option transparent
`, sock, p[0], sp, sp, p[1], sp)
		out := start(text, sock)
		mask := strings.NewReplacer(strconv.Itoa(sp), "SP")
		var got []string
		for _, c := range [][2]string{{"127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[0])}, {"127.0.0.4", fmt.Sprintf("127.0.0.1:%d", p[0])}, {"127.0.0.1", fmt.Sprintf("127.0.0.4:%d", p[1])}} {
			conn := dialFrom(t, c[0], c[1])
			_, err := conn.Write([]byte("hi\n"))
			require.NoError(t, err)
			line, _ := bufio.NewReader(conn).ReadString('\n')
			_ = conn.Close()
			got = append(got, strings.TrimSpace(line))
		}
		for _, l := range sortedLines(t, out, 3, withPrefix("dt ")) {
			got = append(got, mask.Replace(l))
		}
		return got
	}
	haproxy, lb := dstUnder(t)
	want := run(haproxy)
	t.Logf("haproxy:\n%s", strings.Join(want, "\n"))
	require.Equal(t, []string{"127.0.0.2 hi", "127.0.0.3 hi", "127.0.0.4 hi"}, want[:3], "haproxy's peers")
	got := run(lb)
	require.Equal(t, want, got, "haproxy's answers and log lines, then lb's")
}

// TestInteropDispatchConfigMatchesHAProxy: the dispatch, option
// transparent and 0.0.0.0 server lines haproxy 2.6 takes, warns of and
// refuses, lb likewise, with haproxy's words.
func TestInteropDispatchConfigMatchesHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	for _, tc := range []struct{ fe, be, words string }{
		{"", "dispatch 127.0.0.1:80", ""},
		{"", "dispatch 127.0.0.1:80\n    server s 127.0.0.1:1", ""},
		{"", "dispatch 127.0.0.1:80\n    balance roundrobin", "dispatch address of backend 'b' will be ignored in balance mode."},
		{"", "dispatch 127.0.0.1", "missing port specification in '127.0.0.1'"},
		{"", "dispatch 127.0.0.1:0", "invalid port '0'"},
		{"", "dispatch 127.0.0.1:+1", "port offset not permitted here in '127.0.0.1:+1'"},
		{"", "dispatch 127.0.0.1:80 x", "'dispatch' cannot handle unexpected argument 'x'"},
		{"", "dispatch", "'' resolves to an empty address (environment variable missing?)"},
		{"dispatch 127.0.0.1:80", "server s 127.0.0.1:1", "'dispatch' ignored because frontend 'f' has no backend capability."},
		{"", "option transparent", ""},
		{"", "option transparent\n    server s 127.0.0.1:1", ""},
		{"", "option transparent\n    balance roundrobin", "backend 'b' cannot use both transparent and balance mode."},
		{"", "option transparent\n    no option transparent\n    balance first", ""},
		{"option transparent", "server s 127.0.0.1:1", "'transparent' ignored because frontend 'f' has no backend capability."},
		{"", "server s 0.0.0.0:80 check", ""},
		{"", "server s 0.0.0.0 check", ""},
		{"", "server s *:80 send-proxy", ""},
		{"", "server s 127.0.0.2 check", "server 's' has neither service port nor check port"},
	} {
		t.Run(tc.fe+" "+tc.be, func(t *testing.T) {
			text := fmt.Sprintf("defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\nfrontend f\n    bind 127.0.0.1:19999\n    %s\n    default_backend b\nbackend b\n    %s\n", tc.fe, tc.be)
			hout, herr := exec.Command(bin, "-c", "-f", writeFile(t, "h.cfg", text)).CombinedOutput()
			cfg, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if herr != nil {
				require.Error(t, err, "haproxy refuses it: %s", hout)
				require.Contains(t, err.Error(), tc.words)
				require.Contains(t, string(hout), tc.words)
				return
			}
			require.NoError(t, err, "haproxy takes it: %s", hout)
			warned := strings.Contains(string(hout), "[WARNING]")
			require.Equal(t, warned, len(cfg.Warnings) > 0, "haproxy: %s\nlb: %q", hout, cfg.Warnings)
			if warned {
				require.Contains(t, string(hout), tc.words)
				require.Contains(t, strings.Join(cfg.Warnings, "\n"), tc.words)
			}
		})
	}
}
