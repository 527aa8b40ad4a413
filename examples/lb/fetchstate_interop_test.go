package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/examples/lb/internal/balancer"
	"github.com/proxyblocks/proxyblocks/examples/lb/internal/config"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// stateFetchCfg exercises the identity, state and timeout fetches: the
// frontend's rules read the frontend's side, the backend's its own, and
// what each saw comes back in response headers, with what the response
// rules see.
func stateFetchCfg(probe, port int, srv, refused string) string {
	return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 7s
listen probe
    bind 127.0.0.1:%d
    http-request return status 200 hdr X-C "%%[fe_conn(f)]" hdr X-Up "%%[srv_is_up(b/s2)]"
frontend f
    bind 127.0.0.1:%d name front id 7
    http-request set-var-fmt(txn.f) "fe=%%[fe_name] feid=%%[fe_id] defbe=%%[fe_defbe] so=%%[so_name] soid=%%[so_id] ctm=%%[fe_client_timeout] stop=%%[stopping] thr=%%[thread] proc=%%[proc] nbproc=%%[nbproc] feconn=%%[fe_conn] beconn=%%[be_conn(b)] up=%%[srv_is_up(b/s1)] maint=%%[srv_is_up(b/s3)] q=%%[queue(b)] slots=%%[connslots(b2)] free=%%[be_conn_free(b2)] s2up=%%[srv_is_up(b/s2)] nb=%%[nbsrv(b)] bslots=%%[connslots(b)] bfree=%%[be_conn_free(b)] s2w=%%[srv_weight(b/s2)] s2c=%%[srv_conn_free(b/s2)] slots3=%%[connslots(b3)] free3=%%[be_conn_free(b3)]"
    http-request set-var-fmt(txn.rate) "fereq=%%[fe_req_rate] fesess=%%[fe_sess_rate(f)] berate=%%[be_sess_rate(b)] srate=%%[srv_sess_rate(b/s1)]" if { path / }
    use_backend b2 if { path_beg /b2 }
    default_backend b
    http-after-response set-header X-F "%%[var(txn.f)]"
    http-after-response set-header X-Rate "%%[var(txn.rate)]"
    http-after-response set-header X-A "srv=%%[srv_name] srvid=%%[srv_id] be=%%[be_name] beid=%%[be_id] cst=%%[cur_server_timeout] ctt=%%[cur_tunnel_timeout] sc=%%[srv_conn(b/s1)] bc=%%[be_conn(b)]"
backend b
    timeout tunnel 9s
    stick-table type ip size 100 expire 1m
    http-request track-sc0 src
    http-request set-timeout tunnel 3s if { path_beg /t }
    http-request set-timeout server 4s if { path_beg /s }
    http-request set-var-fmt(txn.b) "be=%%[be_name] beid=%%[be_id] bst=%%[be_server_timeout] btt=%%[be_tunnel_timeout] cst=%%[cur_server_timeout] ctt=%%[cur_tunnel_timeout] beconn=%%[be_conn] q=%%[queue] aq=%%[avg_queue] sc=%%[srv_conn(s1)] sfree=%%[srv_conn_free(s1)] sq=%%[srv_queue(s1)] sw=%%[srv_weight(s1)] siw=%%[srv_iweight(s1)] suw=%%[srv_uweight(s1)] s3w=%%[srv_weight(s3)] tc=%%[table_cnt] ta=%%[table_avl(b)] nb=%%[nbsrv]"
    http-response set-header X-B "%%[var(txn.b)]"
    http-response set-header X-R "srv=%%[srv_name] srvid=%%[srv_id] sc=%%[srv_conn(s1)] beconn=%%[be_conn] free=%%[be_conn_free] slots=%%[connslots]"
    server s1 %s maxconn 10 weight 3 id 5
    server s3 %s weight 2 disabled
    server s2 %s check inter 100ms fall 1 rise 1
backend b2
    http-request return status 200 hdr X-R "be=%%[be_name] beid=%%[be_id]"
    server x %s maxconn 4 maxqueue 6
    server y %s maxconn 3 maxqueue 2
backend b3
    server m %s maxconn 4 maxqueue 5 disabled
    server n %s maxconn 2 maxqueue 3
`, probe, port, srv, srv, refused, srv, srv, srv, srv)
}

// TestInteropStateFetchesMatchHAProxy: the identity fetches (fe_name,
// be_id, srv_name, so_name...), the server, backend, frontend and table
// figures (srv_is_up, be_conn, connslots, table_cnt...), the process
// ones and the timeouts give what haproxy's give, in request, response
// and after-response rules.
func TestInteropStateFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {}), "http://")
	paths := []string{"/", "/t", "/s", "/b2"}
	run := func(probe, addr string) []string {
		// The checked server that refuses connections is down first.
		require.Eventually(t, func() bool {
			b := oneShot(t, probe, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			return strings.Contains(strings.ToLower(string(b)), "\r\nx-up: 0\r\n")
		}, 10*time.Second, 10*time.Millisecond)
		var out []string
		for _, p := range paths {
			// The frontend's last connection is over before the next.
			require.Eventually(t, func() bool {
				b := oneShot(t, probe, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
				return strings.Contains(strings.ToLower(string(b)), "\r\nx-c: 0\r\n")
			}, 5*time.Second, 5*time.Millisecond)
			b := oneShot(t, addr, "GET "+p+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			head, _, _ := strings.Cut(string(b), "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n") {
				// haproxy writes the names in lower case.
				if name, v, _ := strings.Cut(line, ":"); strings.HasPrefix(strings.ToLower(name), "x-") {
					out = append(out, p+" "+strings.ToLower(name)+":"+v)
				}
			}
		}
		return out
	}
	p := freePorts(t, 2)
	refused := testnet.RefusedAddr(t)
	startHAProxyReady(t, stateFetchCfg(p[0], p[1], srv, refused))
	want := run(fmt.Sprintf("127.0.0.1:%d", p[0]), fmt.Sprintf("127.0.0.1:%d", p[1]))
	lb, _, _ := startInProcess(t, stateFetchCfg(0, 0, srv, refused))
	got := run(lb.Addrs("probe")[0].String(), lb.Addrs("f")[0].String())
	require.Equal(t, want, got, "haproxy's headers, then lb's")
	require.Contains(t, got, "/ x-f: fe=f feid=2 defbe=b so=front soid=7 ctm=5000 stop=0 thr=0 proc=1 nbproc=1 feconn=1 beconn=0 up=1 maint=0 q=0 slots=15 free=7 s2up=0 nb=1 bslots=-1 bfree=10 s2w=1 s2c=-1 slots3=5 free3=2")
	require.Contains(t, got, "/b2 x-r: be=b2 beid=4")
}

// TestInteropStateFetchRefsMatchHAProxy: a state fetch naming a proxy,
// server or table that does not exist, or standing for a proxy of the
// wrong kind, is refused at start by haproxy and by lb, both naming it.
func TestInteropStateFetchRefsMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	base := `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:1
    %s
    default_backend b
backend b
    server s 127.0.0.1:1
`
	for _, tc := range []struct{ line, want string }{
		{"acl up srv_is_up(nobe/s)", "unable to find proxy 'nobe'"},
		{"acl up srv_is_up(b/nos)", "unable to find server 'nos' in proxy 'b'"},
		{"acl up srv_is_up(s)", "unable to find server 's' in proxy 'f'"},
		{"http-request set-header x %[be_conn(zz)]", "unable to find backend 'zz'"},
		{"http-request set-header x %[table_cnt(b)]", "unable to find table 'b'"},
		{"http-request set-header x %[fe_conn(b)]", "unable to find frontend 'b'"},
		{"http-request deny if { be_conn gt 3 }", "proxy 'f', referenced in arg 1 of"},
		{"http-request set-header x %[queue,add(1)]", "has not backend capability"},
		{"http-request set-header x %[srv_queue(b/s)] if { srv_conn_free(b/s) gt 0 } { fe_sess_rate(f) ge 0 }", ""},
	} {
		t.Run(tc.line, func(t *testing.T) {
			text := fmt.Sprintf(base, tc.line)
			path := writeFile(t, "h.cfg", text)
			hout, herr := exec.Command(bin, "-c", "-f", path).CombinedOutput()
			_, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if tc.want == "" {
				require.NoError(t, herr, "haproxy takes it: %s", hout)
				require.NoError(t, err)
				return
			}
			require.Error(t, herr, "haproxy refuses it")
			require.Contains(t, string(hout), tc.want)
			require.Error(t, err, "lb refuses it")
			require.Contains(t, err.Error(), tc.want)
			require.Regexp(t, regexp.MustCompile(`lb\.cfg:8\b`), err.Error(), "the line is named")
		})
	}
}

// TestInteropStateFetchPlacesMatchHAProxy: an http-request rule's
// expression reading the server, or in a frontend the backend, and a
// use_backend name reading the backend, are refused by haproxy and by
// lb; response rules and conditions take them.
func TestInteropStateFetchPlacesMatchHAProxy(t *testing.T) {
	bin := haproxyBin(t)
	for _, tc := range []struct{ kind, line, want string }{
		{"frontend", "http-request set-header x %[be_name]", "needs 'backend'"},
		{"listen", "http-request set-header x %[be_name]", ""},
		{"backend", "http-request set-header x %[srv_name]", "needs 'server'"},
		{"listen", "http-request set-var(txn.x) srv_id", "extracts information from 'server'"},
		{"frontend", "http-request set-header x %[cur_server_timeout]", "needs 'backend'"},
		{"backend", "http-request set-header x %[cur_server_timeout]", ""},
		{"listen", "use_backend %[be_name]", "needs 'backend'"},
		{"frontend", "http-response set-header x %[srv_name]", ""},
		{"frontend", "http-request deny if { srv_name s }", ""},
		{"frontend", "http-request set-header x %[res.hdr_val(x)]", "needs 'HTTP response headers'"},
		{"frontend", "http-response set-header x %[hdr_val(x)]", "needs 'HTTP request headers'"},
		{"frontend", "http-after-response set-header x %[req.hdrs]", "needs 'HTTP request headers'"},
		{"frontend", "http-request set-header x %[res.comp]", "needs 'HTTP response'"},
		{"frontend", "http-request set-var(txn.x) res.ver", "extracts information from 'HTTP response headers'"},
		{"frontend", "http-response set-var(txn.x) urlp(a)", "extracts information from 'HTTP request headers'"},
		{"frontend", "tcp-request content set-var(sess.x) srv_name", "extracts information from 'server'"},
		{"frontend", "tcp-request content set-var(sess.x) be_name", "extracts information from 'backend'"},
		{"listen", "tcp-request content set-var(sess.x) be_name", ""},
		{"backend", "tcp-request content set-var(sess.x) be_id", ""},
		{"frontend", "http-response set-header x %[res.hdr_val(x)]", ""},
		{"frontend", "http-request set-header x %[last_rule_line]", ""},
	} {
		t.Run(tc.kind+" "+tc.line, func(t *testing.T) {
			bind, srv := "    bind 127.0.0.1:1\n", "    server s 127.0.0.1:1\n"
			switch tc.kind {
			case "frontend":
				srv = "    default_backend b\n"
			case "backend":
				bind = ""
				srv += "frontend fx\n    bind 127.0.0.1:1\n    default_backend p\n"
			}
			text := fmt.Sprintf("defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n%s p\n%s    %s\n%sbackend b\n    server s 127.0.0.1:1\n", tc.kind, bind, tc.line, srv)
			hout, herr := exec.Command(bin, "-c", "-f", writeFile(t, "h.cfg", text)).CombinedOutput()
			_, err := config.Parse(config.Source{Name: "lb.cfg", Data: []byte(text)})
			if tc.want == "" {
				require.NoError(t, herr, "haproxy takes it: %s", hout)
				require.NoError(t, err)
				return
			}
			require.Error(t, herr, "haproxy refuses it")
			require.Contains(t, string(hout), tc.want)
			require.Error(t, err, "lb refuses it")
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestInteropStateFetchesTCPMatchHAProxy: in mode tcp, a backend's
// content rules and the log line read the identity fetches and the
// timeouts as haproxy's do.
func TestInteropStateFetchesTCPMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	cfg := func(probe, port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    mode tcp
    timeout connect 5s
    timeout client 5s
    timeout server 6s
listen probe
    bind 127.0.0.1:%d
    server p %s
frontend t
    bind 127.0.0.1:%d name tb id 9
    default_backend b
    log-format "tcp fe=%%[fe_name]/%%[fe_id] defbe=%%[fe_defbe] so=%%[so_name]/%%[so_id] be=%%[be_name]/%%[be_id] srv=%%[srv_name]/%%[srv_id] bst=%%[be_server_timeout] btt=%%[be_tunnel_timeout] cst=%%[cur_server_timeout] ctt=%%[cur_tunnel_timeout] fct=%%[fe_client_timeout] up=%%[srv_is_up(b/a)] iw=%%[srv_iweight(b/a)] var=%%[var(sess.b)] c=%%[var(sess.c)] lc=%%[be_conn(b)] sc=%%[srv_conn(b/a)] fc=%%[fe_conn] end"
backend b
    timeout tunnel 7s
    tcp-request content set-var(sess.b) be_name
    tcp-request content set-var(sess.c) be_conn
    server a %s id 3 weight 4
`, probe, echo, port, echo)
	}
	run := func(start func(text string) func() string, addr func() string) []string {
		out := start("")
		c, err := net.Dial("tcp", addr())
		require.NoError(t, err)
		roundTrip(t, c, "hello")
		require.NoError(t, c.Close())
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "tcp ") {
					lines = append(lines, l)
				}
			}
			return len(lines) == 1
		}, 10*time.Second, 10*time.Millisecond, "one traffic line")
		return lines
	}
	p := freePorts(t, 2)
	want := run(func(string) func() string { return startHAProxyReady(t, cfg(p[0], p[1])) },
		func() string { return fmt.Sprintf("127.0.0.1:%d", p[1]) })
	var lb *balancer.Balancer
	got := run(func(string) func() string {
		var logs *bytes.Buffer
		var mu *sync.Mutex
		lb, logs, mu = startInProcess(t, cfg(0, 0))
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}, func() string { return lb.Addrs("t")[0].String() })
	require.Equal(t, want, got, "haproxy's line, then lb's")
	require.Equal(t, "tcp fe=t/2 defbe=b so=tb/9 be=b/3 srv=a/3 bst=6000 btt=7000 cst=0 ctt=0 fct=5000 up=1 iw=4 var=b c=1 lc=1 sc=1 fc=1 end", got[0])
}

// TestInteropLastRuleMatchesHAProxy: last_rule_line names the last
// allow, deny or tarpit rule that matched, request or response, and
// nothing after a return, an auth or a redirect, as haproxy's does;
// last_rule_file names the file.
func TestInteropLastRuleMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {}), "http://")
	cfg := func(port int) string {
		// nbthread is written here, so that haproxy is run on the
		// lines lb reads.
		return fmt.Sprintf(`global
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 7s
    timeout tarpit 10ms
frontend f
    bind 127.0.0.1:%d
    http-request set-var(txn.p) path
    http-request set-header x-a 1
    http-request deny if { path /deny }
    http-request allow if { path /allow }
    http-request tarpit if { path /tarpit }
    http-request return status 200 if { path /ret }
    http-request auth if { path /auth }
    http-request redirect location /x if { path /redir }
    http-after-response set-header x-lr "line=%%[last_rule_line]"
    http-after-response set-header x-lf "%%[last_rule_file]"
    default_backend b
backend b
    http-request return status 201 if { path /bret }
    http-response deny if { var(txn.p) -m str /rdeny }
    http-response redirect location /y if { var(txn.p) -m str /rredir }
    http-response allow if { status 200 } !{ var(txn.p) -m str /nallow }
    server s %s
`, port, srv)
	}
	paths := []string{"/", "/deny", "/allow", "/tarpit", "/ret", "/auth", "/redir", "/bret", "/rdeny", "/rredir", "/nallow"}
	run := func(addr string) (lines, files []string) {
		for _, p := range paths {
			b := oneShot(t, addr, "GET "+p+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			for _, h := range fetchHeaders(string(b)) {
				if v, ok := strings.CutPrefix(h, "x-lf: "); ok {
					files = append(files, v)
				} else {
					lines = append(lines, p+" "+h)
				}
			}
		}
		return lines, files
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	runHAProxy(t, cfg(hp), hpAddr)
	want, hfiles := run(hpAddr)
	lb, _, _ := startInProcess(t, cfg(0))
	got, files := run(lb.Addrs("f")[0].String())
	require.Equal(t, want, got, "haproxy's status lines and last rules, then lb's")
	require.Contains(t, got, "/deny x-lr: line=13")
	require.Contains(t, got, "/ x-lr: line=26", "the response's allow")
	require.Equal(t, len(hfiles), len(files), "a file wherever there is a line")
	named := 0
	for i := range files {
		if strings.TrimSpace(hfiles[i]) == "" {
			require.Empty(t, strings.TrimSpace(files[i]), "no file where haproxy has none")
			continue
		}
		named++
		require.True(t, strings.HasSuffix(hfiles[i], ".cfg"), hfiles[i])
		require.Equal(t, "lb.cfg", files[i], "the file lb read")
	}
	require.Equal(t, 5, named)
}

// TestInteropStateFetchesRuntimeMatchHAProxy: the runtime API's weight
// and state changes reach srv_weight, srv_uweight (not srv_iweight) and
// srv_is_up as haproxy's.
func TestInteropStateFetchesRuntimeMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(sock string, port int) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    http-request return status 200 hdr x-w "w=%%[srv_weight(l/s)] iw=%%[srv_iweight(l/s)] uw=%%[srv_uweight(l/s)] up=%%[srv_is_up(l/s)] nb=%%[nbsrv] free=%%[be_conn_free] id=%%[be_id]"
    server s 127.0.0.1:1 weight 4 maxconn 5
    server t 127.0.0.1:1 weight 6
`, sock, port)
	}
	run := func(sock, addr string) []string {
		var out []string
		ask := func(step string) {
			b := oneShot(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			for _, h := range fetchHeaders(string(b)) {
				if strings.HasPrefix(h, "x-w:") {
					out = append(out, step+" "+h)
				}
			}
		}
		ask("start")
		for _, cmd := range []string{"set server l/s weight 2", "set server l/s state drain", "set server l/s state maint", "set server l/s state ready", "set weight l/s 0"} {
			cliCommand(t, sock, cmd)
			ask(cmd)
		}
		return out
	}
	hsock := filepath.Join(t.TempDir(), "h.sock")
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	runHAProxy(t, cfg(hsock, hp), hpAddr)
	want := run(hsock, hpAddr)
	lsock := filepath.Join(t.TempDir(), "l.sock")
	lb, _, _ := startInProcess(t, cfg(lsock, 0))
	got := run(lsock, lb.Addrs("l")[0].String())
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Len(t, got, 6)
	require.Equal(t, "set server l/s weight 2 x-w: w=2 iw=4 uw=2 up=1 nb=2 free=-1 id=2", got[1])
}
