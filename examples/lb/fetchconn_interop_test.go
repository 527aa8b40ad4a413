package main

import (
	"bufio"
	"context"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/proxyblocks/proxyblocks/conn"
)

// connFetchLine is the response header the connection fetch tests echo.
const connFetchLine = `src=%[src] sp=%[src_port] dst=%[dst] dp=%[dst_port] fsrc=%[fc_src] fsp=%[fc_src_port] fdst=%[fc_dst] fdp=%[fc_dst_port] ` +
	`rp=%[fc_rcvd_proxy] auth=%[fc_pp_authority] uid=%[fc_pp_unique_id] sl=%[src_is_local] dl=%[dst_is_local] fsl=%[fc_src_is_local] fdl=%[fc_dst_is_local] ` +
	`hm=%[fc_http_major] bs=%[bc_src] bsp=%[bc_src_port] bd=%[bc_dst] bdp=%[bc_dst_port] bhm=%[bc_http_major] upd=%[src_updt_conn_cnt(t)] upd2=%[src_updt_conn_cnt(t)] upn=%[src_updt_conn_cnt(n)]`

// TestInteropConnFetchesMatchHAProxy sends requests with a PROXY v2
// header carrying AUTHORITY and UNIQUE_ID TLVs, a PROXY v1 header, and
// none, to haproxy and lb, which echo the connection fetches in a
// response header: the PROXY addresses feed src and dst but not fc_src
// and fc_dst (the socket's), the bc_* fetches name the server
// connection the server saw, and the lines must be equal once the
// ephemeral ports are put back as names.
func TestInteropConnFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Peer", r.RemoteAddr)
		_, _ = io.WriteString(w, "ok")
	})
	cases := []struct {
		name string
		pp   func() []byte
	}{
		{"v2", func() []byte {
			h := conn.NewProxyHeader(netip.MustParseAddrPort("192.0.2.77:4444"), netip.MustParseAddrPort("127.0.0.1:8080"))
			h.Version = 2
			require.NoError(t, h.AddTLV(conn.TLVAuthority, []byte("www.example.com")))
			require.NoError(t, h.AddTLV(conn.TLVUniqueID, []byte("id-42")))
			b, err := h.AppendTo(nil)
			require.NoError(t, err)
			return b
		}},
		{"v2empty", func() []byte {
			h := conn.NewProxyHeader(netip.MustParseAddrPort("[2001:db8::5]:1234"), netip.MustParseAddrPort("[::1]:80"))
			h.Version = 2
			require.NoError(t, h.AddTLV(conn.TLVAuthority, nil))
			b, err := h.AppendTo(nil)
			require.NoError(t, err)
			return b
		}},
		{"v1", func() []byte { return []byte("PROXY TCP4 127.0.0.1 198.51.100.9 5555 443\r\n") }},
		{"unknown", func() []byte { return []byte("PROXY UNKNOWN\r\n") }},
		{"none", nil},
	}
	run := func(start func(text string)) []string {
		ports := freePorts(t, 2)
		start(fmt.Sprintf(`%sfrontend f
    bind 127.0.0.1:%d accept-proxy
    bind 127.0.0.1:%d
    http-response set-header X-Conn "%s"
    default_backend b
backend b
    server s %s
backend t
    stick-table type ip size 100 expire 1m store conn_cnt
backend n
    stick-table type ip size 100 expire 1m store gpc0
`, httpDefaults, ports[0], ports[1], connFetchLine, web))
		var out []string
		for _, tc := range cases {
			port := ports[0]
			if tc.pp == nil {
				port = ports[1]
			}
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if tc.pp != nil {
				_, err = c.Write(tc.pp())
				require.NoError(t, err)
			}
			_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err, tc.name)
			_ = resp.Body.Close()
			_ = c.Close()
			line := resp.Header.Get("X-Conn")
			// The ephemeral ports: the client's own, and the server
			// connection's, which the server saw.
			_, cport, _ := net.SplitHostPort(c.LocalAddr().String())
			_, bport, _ := net.SplitHostPort(resp.Header.Get("X-Peer"))
			require.NotEmpty(t, bport)
			line = strings.Replace(line, "fsp="+cport+" ", "fsp=CLIENT ", 1)
			line = strings.Replace(line, "bsp="+bport+" ", "bsp=SERVER ", 1)
			if tc.pp == nil || tc.name == "unknown" {
				line = strings.Replace(line, "sp="+cport+" ", "sp=CLIENT ", 1)
			}
			line = strings.ReplaceAll(line, fmt.Sprint(ports[0]), "PPORT")
			line = strings.ReplaceAll(line, fmt.Sprint(ports[1]), "PORT")
			line = strings.ReplaceAll(line, web[strings.LastIndex(web, ":")+1:], "WEB")
			out = append(out, tc.name+": "+line)
		}
		return out
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	assert.Equal(t, want, got)
	t.Logf("haproxy: %q", want)
	require.Len(t, got, len(cases))
	assert.Equal(t, "v2: src=192.0.2.77 sp=4444 dst=127.0.0.1 dp=8080 fsrc=127.0.0.1 fsp=CLIENT fdst=127.0.0.1 fdp=PPORT "+
		"rp=1 auth=www.example.com uid=id-42 sl=0 dl=1 fsl=1 fdl=1 hm=1 bs=127.0.0.1 bsp=SERVER bd=127.0.0.1 bdp=WEB bhm=1 upd=1 upd2=2 upn=", got[0])
	assert.Contains(t, got[4], "rp=0 auth= uid= ")
}

// TestInteropConnFetchesTCPAndH2MatchHAProxy: in TCP mode the log line's
// fc_http_major has no sample while the bc_* fetches name the server
// connection, dst_conn counts the connections open on the listener, and
// an HTTP/2 client reads fc_http_major 2 with an HTTP/1 server
// connection behind it.
func TestInteropConnFetchesTCPAndH2MatchHAProxy(t *testing.T) {
	haproxyBin(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Peer", r.RemoteAddr)
		_, _ = io.WriteString(w, "ok")
	})
	cfg := func(ports []int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend ft
    mode tcp
    bind 127.0.0.1:%d
    log global
    log-format "T hm=%%[fc_http_major] bhm=%%[bc_http_major] rp=%%[fc_rcvd_proxy] dc=%%[dst_conn] bs=%%[bc_src] bsp=%%[bc_src_port] bd=%%[bc_dst] bdp=%%[bc_dst_port]"
    tcp-request content set-var(sess.dc) dst_conn
    default_backend bt
backend bt
    mode tcp
    server s %s
frontend fh
    mode http
    bind 127.0.0.1:%d proto h2
    log global
    log-format "H hm=%%[fc_http_major] bhm=%%[bc_http_major] bs=%%[bc_src] bsp=%%[bc_src_port] bd=%%[bc_dst] bdp=%%[bc_dst_port]"
    http-response set-header X-Conn "hm=%%[fc_http_major] bhm=%%[bc_http_major] bs=%%[bc_src] bsp=%%[bc_src_port]"
    default_backend bh
backend bh
    mode http
    server s %s
`, ports[0], web, ports[1], web)
	}
	type result struct{ log, h2, h2log string }
	run := func(start func(text string, ports []int) func() string) result {
		ports := freePorts(t, 2)
		out := start(cfg(ports), ports)
		// Two clients at once on the TCP frontend: the second sees two
		// connections on the listener.
		hold, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		require.NoError(t, err)
		defer hold.Close()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		_ = c.Close()
		_, bport, _ := net.SplitHostPort(resp.Header.Get("X-Peer"))
		// logLine waits for the line of the connection whose server
		// side had port bport, and names the ports.
		logLine := func(prefix, bport string) string {
			var line string
			require.Eventually(t, func() bool {
				for _, l := range strings.Split(out(), "\n") {
					if strings.HasPrefix(l, prefix) && strings.Contains(l, "bsp="+bport+" ") {
						line = l
						return true
					}
				}
				return false
			}, 5*time.Second, 10*time.Millisecond, "the log line %q with bsp=%s in %s", prefix, bport, out())
			line = strings.Replace(line, "bsp="+bport+" ", "bsp=SERVER ", 1)
			return strings.ReplaceAll(line, web[strings.LastIndex(web, ":")+1:], "WEB")
		}
		tcpLine := logLine("T ", bport)

		h2, h2port, err := h2cGet(fmt.Sprintf("127.0.0.1:%d", ports[1]))
		require.NoError(t, err)
		return result{tcpLine, h2, logLine("H ", h2port)}
	}
	want := run(func(text string, ports []int) func() string {
		addr := fmt.Sprintf("127.0.0.1:%d", ports[1])
		return startHAProxy(t, text, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				_ = c.Close()
			}
			return err == nil
		})
	})
	got := run(func(text string, _ []int) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string {
			mu.Lock()
			defer mu.Unlock()
			return logs.String()
		}
	})
	assert.Equal(t, want, got)
	assert.Equal(t, "T hm=- bhm=- rp=0 dc=2 bs=127.0.0.1 bsp=SERVER bd=127.0.0.1 bdp=WEB", got.log)
	assert.Equal(t, "hm=2 bhm=1 bs=127.0.0.1 bsp=SERVER", got.h2)
	assert.Equal(t, "H hm=2 bhm=1 bs=127.0.0.1 bsp=SERVER bd=127.0.0.1 bdp=WEB", got.h2log)
}

// h2cGet sends one HTTP/2 request without TLS to addr and returns the
// X-Conn header of the response, the server connection's port named,
// and that port.
func h2cGet(addr string) (xconn, bport string, err error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *stdtls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	// The server connection's port, which the server saw, as a name.
	_, bport, _ = net.SplitHostPort(resp.Header.Get("X-Peer"))
	return strings.Replace(resp.Header.Get("X-Conn"), "bsp="+bport, "bsp=SERVER", 1), bport, nil
}
