package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/assert"
)

// checkRecorder is an HTTP check server that notes every request it
// reads: which server, its rank on its connection, the TLS server name
// asked for, and its bytes (a PROXY header before it as "PROXY"). It
// answers each with a 200.
type checkRecorder struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (r *checkRecorder) serve(name string, cfg *tls.Config) func(c *net.TCPConn) {
	return func(tc *net.TCPConn) {
		var c net.Conn = tc
		sni := ""
		if cfg != nil {
			s := tls.Server(tc, cfg)
			if s.Handshake() != nil {
				return
			}
			c, sni = s, " sni="+s.ConnectionState().ServerName
		}
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			var raw strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "PROXY ") && n == 1 && raw.Len() == 0 {
					// The check's own port varies: CPORT.
					f := strings.Fields(line)
					if len(f) == 6 {
						f[4] = "CPORT"
					}
					raw.WriteString(strings.Join(f, " ") + "|")
					continue
				}
				raw.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String()[strings.Index(raw.String(), "|")+1:])))
			if err == nil && req.ContentLength > 0 {
				body := make([]byte, req.ContentLength)
				if _, err := io.ReadFull(br, body); err != nil {
					return
				}
				raw.Write(body)
			}
			r.mu.Lock()
			r.seen[fmt.Sprintf("%s#%d%s %q", name, n, sni, raw.String())] = true
			r.mu.Unlock()
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	}
}

// requests returns what the servers read, sorted, once each.
func (r *checkRecorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// httpCheckConnectCfg has a backend per sequence of http-check rules; each
// sends its own paths, so that the servers' notes tell them apart.
func httpCheckConnectCfg(fePort int, a, b, tlsSrv, refused string) string {
	be := func(name, rules, server string) string {
		return "backend " + name + "\n    option log-health-checks\n" + rules + "    server s " + server + "\n"
	}
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
    default-server inter 200ms fall 1 rise 1
frontend f
    bind 127.0.0.1:%d
    default_backend two_groups
`, fePort) +
		be("two_groups", "    option httpchk\n    http-check connect\n    http-check send meth GET uri /two/a\n    http-check expect status 200\n    http-check connect port "+port(b)+"\n    http-check send meth GET uri /two/b ver HTTP/1.1 hdr x-second 2\n    http-check expect status 200\n", a+" check") +
		be("second_fails", "    option httpchk\n    http-check connect\n    http-check send uri /fail/a\n    http-check expect status 200\n    http-check connect port "+port(b)+"\n    http-check send uri /fail/b\n    http-check expect status 201\n", a+" check") +
		be("option_request", "    option httpchk GET /opt HTTP/1.1\n    http-check connect port "+port(b)+"\n", a+" check") +
		be("first_merged", "    option httpchk POST /merged HTTP/1.1\n    http-check connect\n    http-check send hdr x-first 1\n    http-check expect status 200\n    http-check connect port "+port(b)+"\n    http-check send hdr x-later 2\n", a+" check") +
		be("tls", "    option httpchk\n    http-check connect port "+port(tlsSrv)+" ssl sni check.example\n    http-check send meth GET uri /tls\n    http-check expect status 200\n", a+" check verify none") +
		be("tls_default", "    option httpchk\n    http-check connect default\n    http-check send meth GET uri /tls-default\n", tlsSrv+" check ssl verify none check-sni default.example") +
		be("trailing_connect", "    option httpchk\n    http-check connect\n    http-check send uri /trail\n    http-check expect status 200\n    http-check connect port "+port(b)+"\n", a+" check") +
		be("refused", "    option httpchk\n    http-check connect\n    http-check send uri /refused\n    http-check expect status 200\n    http-check connect port "+port(refused)+" comment second\n    http-check send uri /never\n    http-check expect status 200\n", a+" check") +
		be("ssl_plain", "    option httpchk\n    http-check connect port "+port(b)+" ssl\n    http-check send uri /ssl-plain\n", a+" check verify none") +
		be("default_port", "    option httpchk\n    http-check connect default\n    http-check send uri /default-port\n", a+" check port "+port(b)) +
		be("addr_port", "    option httpchk\n    http-check connect addr 127.0.0.1 port "+port(b)+"\n    http-check send uri /addr-port\n", "127.0.0.2 check") +
		be("send_proxy", "    option httpchk\n    http-check connect port "+port(b)+" send-proxy linger\n    http-check send uri /proxied\n", a+" check") +
		be("comment_expect", "    option httpchk\n    http-check send uri /comment\n    http-check comment before-expect\n    http-check expect status 201\n", a+" check") +
		be("own_comment", "    option httpchk\n    http-check send uri /own-comment\n    http-check expect string nothing comment own\n", a+" check") +
		be("comment_first", "    option httpchk\n    http-check comment first\n    http-check connect port "+port(b)+"\n    http-check send uri /comment-first\n    http-check expect status 200\n", a+" check")
}

// httpCheckConnectLines are the backends' first check lines.
const httpCheckConnectLines = 15

func runHTTPCheckConnect(t *testing.T, start func(text string) func() string) (checks, requests []string) {
	t.Helper()
	rec := &checkRecorder{seen: map[string]bool{}}
	serverTLS, _ := testcert.Configs(t, "check.example")
	a, _ := testnet.Peer(t, rec.serve("A", nil))
	b, _ := testnet.Peer(t, rec.serve("B", nil))
	tlsSrv, _ := testnet.Peer(t, rec.serve("TLS", serverTLS))
	out := start(httpCheckConnectCfg(testnet.FreePorts(t, 1)[0], a, b, tlsSrv, testnet.RefusedAddr(t)))
	checks = checkLines(t, out, httpCheckConnectLines, "Health check for ")
	// The servers listen on new ports in each run.
	names := strings.NewReplacer(" "+port(a)+"|", " A|", " "+port(b)+"|", " B|")
	for _, r := range rec.requests() {
		requests = append(requests, names.Replace(r))
	}
	return checks, requests
}

// port is the port of a host:port address.
func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestInteropHTTPCheckConnectMatchesHAProxy runs http-check sequences
// with connect rules under haproxy and lb: two connections to two ports
// in one check, a failure in the second group, option httpchk's request
// on the connect's port, the first send merged with it and the later ones
// from the defaults, a TLS connection to a TLS check server with its SNI,
// a default connect to a server's TLS check, a connect that ends the
// rules, a refused second connect, TLS to a plain server, port and addr
// overrides, a PROXY header, and comments, which end the info of the
// expect they name. The servers must read the same requests
// (bytes, how many a connection, the SNI) and the servers' check lines
// must say the same.
func TestInteropHTTPCheckConnectMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	haChecks, haReqs := runHTTPCheckConnect(t, haproxyLogs(t))
	lbChecks, lbReqs := runHTTPCheckConnect(t, lbLogs(t))
	assert.Equal(t, haChecks, lbChecks, "the check lines: haproxy's, then lb's")
	assert.Equal(t, haReqs, lbReqs, "the requests the check servers read")
	all := strings.Join(lbChecks, "\n")
	for _, want := range []string{
		"Health check for server two_groups/s succeeded, reason: Layer7 check passed, code: 200,",
		`Health check for server second_fails/s failed, reason: Layer7 wrong status, code: 200, info: "OK",`,
		`Health check for server trailing_connect/s succeeded, reason: Layer4 check passed, info: "(tcp-check)",`,
		`Health check for server refused/s failed, reason: Layer4 connection problem, info: "Connection refused",`,
		"Health check for server ssl_plain/s failed, reason: Layer6 timeout,",
		"Health check for server tls/s succeeded, reason: Layer7 check passed, code: 200,",
		`Health check for server comment_expect/s failed, reason: Layer7 wrong status, code: 200, info: "OK comment: before-expect",`,
		`Health check for server own_comment/s failed, reason: Layer7 invalid response, info: "HTTP content check did not match comment: own",`,
	} {
		assert.Contains(t, all, want)
	}
	reqs := strings.Join(lbReqs, "\n")
	for _, want := range []string{
		`A#1 "GET /two/a HTTP/1.0\r\n\r\n"`,
		`B#1 "GET /two/b HTTP/1.1\r\nx-second: 2\r\nconnection: close\r\n\r\n"`,
		`B#1 "GET /opt HTTP/1.1\r\nconnection: close\r\n\r\n"`,
		`A#1 "POST /merged HTTP/1.1\r\nx-first: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"`,
		`B#1 "OPTIONS / HTTP/1.0\r\nx-later: 2\r\n\r\n"`,
		`TLS#1 sni=check.example "GET /tls HTTP/1.0\r\n\r\n"`,
		`TLS#1 sni=default.example "GET /tls-default HTTP/1.0\r\n\r\n"`,
		`B#1 "PROXY TCP4 127.0.0.1 127.0.0.1 CPORT B|OPTIONS /proxied HTTP/1.0\r\n\r\n"`,
		`B#1 "OPTIONS /addr-port HTTP/1.0\r\n\r\n"`,
	} {
		assert.Contains(t, reqs, want)
	}
	assert.NotContains(t, reqs, "/never")
}

// TestInteropHTTPCheckConnectConfigMatchesHAProxy: the sequences haproxy
// takes or refuses, lb takes or refuses too.
func TestInteropHTTPCheckConnectConfigMatchesHAProxy(t *testing.T) {
	const be = `defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend fe
    bind 127.0.0.1:18001
    default_backend be
backend be
    option httpchk
`
	for name, rules := range map[string]string{
		"two groups":                "http-check connect\nhttp-check send uri /a\nhttp-check expect status 200\nhttp-check connect port 81\nhttp-check send uri /b\nhttp-check expect status 200",
		"connect alone":             "http-check connect port 81",
		"options":                   "http-check connect default port 81 addr 127.0.0.1 send-proxy via-socks4 ssl sni a.example linger comment c",
		"send after expect":         "http-check send uri /a\nhttp-check expect status 200\nhttp-check send uri /b",
		"two sends":                 "http-check send uri /a\nhttp-check send hdr x y",
		"expect after connect":      "http-check connect\nhttp-check expect status 200",
		"connect after send":        "http-check connect\nhttp-check send uri /a\nhttp-check connect port 81",
		"connect not first":         "http-check send uri /a\nhttp-check expect status 200\nhttp-check connect port 81",
		"connect after connect":     "http-check connect\nhttp-check connect port 81",
		"port zero":                 "http-check connect port 0",
		"bad addr":                  "http-check connect addr nowhere",
		"unknown option":            "http-check connect bogus",
		"no port, connect has one":  "http-check connect port 81",
		"no port, connect and send": "http-check connect port 81\nhttp-check send uri /",
		"no port, second has none":  "http-check connect port 81\nhttp-check send uri /\nhttp-check expect status 200\nhttp-check connect",
		"no port, none":             "http-check connect",
		"comment first":             "http-check comment c\nhttp-check connect port 81",
		"comment counts as a step":  "http-check comment c\nhttp-check connect\nhttp-check expect status 200",
		"comment without text":      "http-check comment",
	} {
		t.Run(name, func(t *testing.T) {
			server := "    server s 127.0.0.1:80 check verify none\n"
			if strings.HasPrefix(name, "no port") {
				server = "    server s 127.0.0.1 check\n"
			}
			text := be + "    " + strings.ReplaceAll(rules, "\n", "\n    ") + "\n" + server
			checkParity(t, text)
		})
	}
}

// TestInteropTCPCheckConnectOptionsMatchesHAProxy: the options of a
// tcp-check connect under haproxy and lb: TLS with a server name to a
// TLS server, TLS as the last rule, a PROXY header through the server's
// SOCKS4 proxy (via-socks4), and that proxy refusing. The servers and the
// proxies must read the same, and the check lines say the same.
func TestInteropTCPCheckConnectOptionsMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string) func() string) (checks, requests []string) {
		rec := &checkRecorder{seen: map[string]bool{}}
		serverTLS, _ := testcert.Configs(t, "check.example")
		a, _ := testnet.Peer(t, rec.serve("A", nil))
		tlsSrv, _ := testnet.Peer(t, rec.serve("TLS", serverTLS))
		grant := testnet.StartSOCKS4(t, testnet.SOCKS4Grant)
		refuse := testnet.StartSOCKS4(t, testnet.SOCKS4Reject)
		be := func(name, rules, server string) string {
			return "backend " + name + "\n    option log-health-checks\n    option tcp-check\n" + rules + "    server s " + server + "\n"
		}
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
    default-server inter 200ms fall 1 rise 1
frontend f
    bind 127.0.0.1:%d
    default_backend t_ssl
`, testnet.FreePorts(t, 1)[0]) +
			be("t_ssl", "    tcp-check connect port "+port(tlsSrv)+" ssl sni check.example\n    tcp-check send GET\\ /t-ssl\\ HTTP/1.0\\r\\n\\r\\n\n    tcp-check expect string 200\n", a+" check verify none") +
			be("t_ssl_last", "    tcp-check connect port "+port(tlsSrv)+" ssl\n", a+" check verify none") +
			be("t_socks", "    tcp-check connect via-socks4 send-proxy linger\n    tcp-check send GET\\ /t-socks\\ HTTP/1.0\\r\\n\\r\\n\n    tcp-check expect string 200\n", a+" check socks4 "+grant.Addr) +
			be("t_socks_refused", "    tcp-check connect via-socks4\n    tcp-check send GET\\ /never\\ HTTP/1.0\\r\\n\\r\\n\n    tcp-check expect string 200\n", a+" check socks4 "+refuse.Addr))
		for _, l := range checkLines(t, out, 4, "Health check for ") {
			checks = append(checks, errnoRe.ReplaceAllString(l, "$1"))
		}
		names := strings.NewReplacer(" "+port(a)+"|", " A|")
		for _, r := range rec.requests() {
			requests = append(requests, names.Replace(r))
		}
		for _, p := range []*testnet.SOCKS4Proxy{grant, refuse} {
			if r := p.Requests(); len(r) > 0 {
				requests = append(requests, strings.Replace(testnet.SOCKS4Request(r[0]), port(a), "A", 1))
			}
		}
		return checks, requests
	}
	haChecks, haReqs := run(haproxyLogs(t))
	lbChecks, lbReqs := run(lbLogs(t))
	assert.Equal(t, haChecks, lbChecks, "the check lines: haproxy's, then lb's")
	assert.Equal(t, haReqs, lbReqs, "what the servers and the proxies read")
	assert.Contains(t, lbReqs, `A#1 "PROXY TCP4 127.0.0.1 127.0.0.1 CPORT A|GET /t-socks HTTP/1.0\r\n\r\n"`)
	assert.Contains(t, lbReqs, `TLS#1 sni=check.example "GET /t-ssl HTTP/1.0\r\n\r\n"`)
	assert.Contains(t, strings.Join(lbChecks, "\n"), `Health check for server t_socks_refused/s failed, reason: Socket error, info: "SOCKS4 Proxy deny the request at step 1 of tcp-check (connect)"`)
	assert.Contains(t, strings.Join(lbChecks, "\n"), `Health check for server t_ssl_last/s succeeded, reason: Layer6 check passed, info: "(tcp-check)"`)
}
