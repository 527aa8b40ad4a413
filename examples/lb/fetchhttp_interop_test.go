package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// httpFetchRequests are requests whose line and fields the HTTP fetches
// read in different ways: absolute targets, repeated and listed fields,
// numbers and addresses with junk around them, cookies, credentials.
var httpFetchRequests = []string{
	"GET http://1.2.3.4:81/p/a?q=1&n=42x&k=v;k=w&q=2 HTTP/1.1\r\nHost: 1.2.3.4:81\r\nX-N: 12abc, 7\r\nX-Ip: 10.0.0.1:80, ::1\r\nCookie: a=5; b=x\r\nAuthorization: Bearer tok123\r\nX-Tok: Bearer zz\r\n",
	"GET /?a;b=2 HTTP/1.1\r\nHost: h\r\nX-N: 1 2\r\nX-N: +5\r\nX-N: 12-3\r\nX-Ip: 1.2.3.4:99999\r\nX-Ip: 1.2.3.4:80\r\nCookie: a=; b=1\r\nAuthorization: bearer x\r\n",
	"GET https://1.2.3.4/x HTTP/1.1\r\nHost: 1.2.3.4\r\nX-N: 99999999999\r\nX-Ip: 01.2.3.4\r\nCookie: a=\"5\"\r\nAuthorization: B dTpw\r\n",
	"GET http://host.example/p HTTP/1.1\r\nHost: host.example\r\nX-Ip: 1.2.3.4.5\r\nAuthorization: Digest a=b\r\n",
	"GET /x?q&q=2 HTTP/1.1\r\nHost: Ab.C\r\nX-Ip: 1.2.3\r\nX-Ip: ::ffff:1.2.3.4\r\nAuthorization: basic\r\nCookie: a=1; a=-2\r\n",
	"GET /x HTTP/1.0\r\nAuthorization: Bearer  a b\r\nUser-Agent: t\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\nX-N: -\r\n",
	"GET /it?q=1&k=v;k=w&q=2 HTTP/1.1\r\nHost: h\r\n",
	"GET /ck HTTP/1.1\r\nHost: h\r\nCookie: a=\r\n",
	"GET /ck HTTP/1.1\r\nHost: h\r\nCookie: b=1; a=\r\n",
}

// TestInteropHTTPFetchesMatchHAProxy: the request fetches hdr_val,
// hdr_ip, req.hdr_names, req.hdrs, req.hdrs_bin, cook_val, urlp,
// urlp_val, url_ip, url_port, pathq, baseq, base32, url32, their +src
// forms, http_first_req, http_auth_type, http_auth_bearer,
// req.proto_http and meth give what haproxy's give.
func TestInteropHTTPFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 7s
frontend f
    bind 127.0.0.1:%d
    http-request return status 200 hdr x-p "up=%%[url_param(q)] up2=%%[url_param] up3=%%[url_param(k,;)] up4=%%[urlp(k)]" if { path /it } { url_param(q) 2 } { urlp_val(q) eq 2 } !{ urlp(k,;) v }
    http-request return status 200 hdr x-a "hv=%%[hdr_val(x-n)] hv1=%%[hdr_val(x-n,1)] hv2=%%[req.hdr_val(x-n,-2)] hip=%%[hdr_ip(x-ip)] hip1=%%[req.hdr_ip(x-ip,1)] cv=%%[cook_val(a)] rcv=%%[req.cook_val] first=%%[http_first_req] at=%%[http_auth_type] ab=%%[http_auth_bearer] ab2=%%[http_auth_bearer(x-tok)] ph=%%[req.proto_http] meth=%%[meth(GET)] meth2=%%[meth(get)]" hdr x-u "urlp=%%[urlp(q)] urlp2=%%[urlp] urlpv=%%[urlp_val(n)] urlpd=%%[urlp(k,;)] urlpd2=%%[urlp(,;)] uip=%%[url_ip] uport=%%[url_port] pathq=%%[pathq] baseq=%%[baseq] b32=%%[base32] u32=%%[url32] b32s=%%[base32+src,hex] u32s=%%[url32+src,hex]" hdr x-n "names=%%[req.hdr_names] names2=%%[req.hdr_names(;)]" hdr x-h "%%[req.hdrs,hex]" hdr x-b "%%[req.hdrs_bin,hex]" hdr x-acl "%%[str(ok)]" if { hdr_val(x-n) gt 10 } || { hdr_ip(x-ip) 1.2.3.0/24 } || { cook_val(a) lt 0 }
    http-request return status 200 hdr x-a "hv=%%[hdr_val(x-n)] hip=%%[hdr_ip(x-ip)] cv=%%[cook_val(a)] first=%%[http_first_req] c=%%[cook(a)] cc=%%[cook_cnt(a)] any=%%[cook_val]"
`, port)
	}
	run := func(addr string) []string {
		var out []string
		for _, r := range httpFetchRequests {
			b := oneShot(t, addr, r+"Connection: close\r\n\r\n")
			out = append(out, fetchHeaders(string(b))...)
		}
		// The second request of a connection is not the first.
		b := oneShot(t, addr, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		return append(out, fetchHeaders(string(b))...)
	}
	want, got := haproxyThenLB(t, cfg, run)
	require.Equal(t, want, got, "haproxy's headers, then lb's")
	require.Contains(t, got, "x-p: up=1 up2=1 up3=w up4=v", "an ACL tries every occurrence")
	require.Contains(t, got, "x-u: urlp=1 urlp2=1 urlpv=42 urlpd=w urlpd2=w uip=1.2.3.4 uport=81 pathq=/p/a?q=1&n=42x&k=v;k=w&q=2 baseq=1.2.3.4:81/p/a?q=1&n=42x&k=v;k=w&q=2 b32=256080245 u32=1579565006 b32s=0F4379757F000001 u32s=5E263FCE7F000001")
}

// fetchHeaders returns the status line and the x- fields of a response,
// names in lower case as haproxy writes them.
func fetchHeaders(resp string) []string {
	var out []string
	for _, one := range strings.SplitAfter(resp, "\r\n\r\n") {
		head := strings.TrimSuffix(one, "\r\n\r\n")
		for i, line := range strings.Split(head, "\r\n") {
			name, v, _ := strings.Cut(line, ":")
			switch {
			case i == 0 && line != "":
				out = append(out, line)
			case strings.HasPrefix(strings.ToLower(name), "x-"):
				out = append(out, strings.ToLower(name)+":"+v)
			}
		}
	}
	return out
}

// TestInteropHTTPResponseFetchesMatchHAProxy: the response fetches
// res.hdr_val, shdr_val, res.hdr_ip, shdr_ip, res.hdr_cnt, shdr_cnt,
// res.fhdr, res.fhdr_cnt, res.cook_cnt, res.cook_val, scook_cnt,
// scook_val, res.hdr_names, res.hdrs, res.hdrs_bin, res.ver, resp_ver
// and capture.res.ver give what haproxy's give.
func TestInteropHTTPResponseFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-N"] = []string{"12abc, 7", "-3"}
		h["X-Ip"] = []string{"10.0.0.1:80", "::1"}
		h["Set-Cookie"] = []string{"a=5; Path=/", "b=x", "a=9x; Max-Age=1"}
		h["Date"] = nil
		h["Content-Type"] = nil
		if r.URL.Path == "/b" {
			h["X-N"] = []string{"x"}
			h["Set-Cookie"] = nil
		}
	}), "http://")
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 7s
frontend f
    bind 127.0.0.1:%d
    http-request set-var(txn.cv) capture.res.ver
    http-response set-header x-a "hv=%%[res.hdr_val(x-n)] hv1=%%[shdr_val(x-n,1)] hip=%%[res.hdr_ip(x-ip)] hip1=%%[shdr_ip(x-ip,1)] cnt=%%[res.hdr_cnt(x-n)] scnt=%%[shdr_cnt] fh=%%[res.fhdr(x-n)] fh1=%%[res.fhdr(x-n,1)] fcnt=%%[res.fhdr_cnt(x-n)] ccnt=%%[res.cook_cnt] ccnt2=%%[scook_cnt(a)] cv=%%[res.cook_val(a)] scv=%%[scook_val] ver=%%[res.ver] ver2=%%[resp_ver] cver=%%[capture.res.ver] reqcver=%%[var(txn.cv)]"
    http-response set-header x-n "%%[res.hdr_names] %%[res.hdr_names(|)]"
    http-response set-header x-h "%%[res.hdrs,hex]"
    http-response set-header x-b "%%[res.hdrs_bin,hex]"
    http-response set-header x-acl ok if { res.hdr_val(x-n) gt 10 } || { shdr_ip(x-ip) 10.0.0.0/8 } || { scook_val(a) eq 9 }
    default_backend b
backend b
    server s %s
`, port, srv)
	}
	run := func(addr string) []string {
		var out []string
		for _, p := range []string{"/a", "/b"} {
			b := oneShot(t, addr, "GET "+p+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			out = append(out, fetchHeaders(string(b))...)
		}
		return out
	}
	want, got := haproxyThenLB(t, cfg, run)
	require.Equal(t, want, got, "haproxy's headers, then lb's")
	require.Contains(t, got, "x-acl: ok")
}

// TestInteropCompressionFetchesMatchHAProxy: res.comp and res.comp_algo
// tell, in the response rules and after them, whether the response is
// compressed and how, as haproxy's do.
func TestInteropCompressionFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/"+strings.TrimPrefix(r.URL.Path, "/"))
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}), "http://")
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 7s
frontend f
    bind 127.0.0.1:%d
    compression algo gzip deflate
    compression type text/html
    http-response set-header x-r "comp=%%[res.comp] algo=%%[res.comp_algo]"
    http-after-response set-header x-a "comp=%%[res.comp] algo=%%[res.comp_algo]"
    default_backend b
backend b
    server s %s
`, port, srv)
	}
	run := func(addr string) []string {
		var out []string
		for _, r := range []string{
			"GET /html HTTP/1.1\r\nHost: h\r\nAccept-Encoding: deflate, gzip\r\n",
			"GET /html HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n",
			"GET /plain HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n",
			"GET /html HTTP/1.1\r\nHost: h\r\n",
		} {
			b := oneShot(t, addr, r+"Connection: close\r\n\r\n")
			head, _, _ := strings.Cut(string(b), "\r\n\r\n")
			out = append(out, fetchHeaders(head+"\r\n\r\n")...)
		}
		return out
	}
	want, got := haproxyThenLB(t, cfg, run)
	require.Equal(t, want, got, "haproxy's headers, then lb's")
	require.Equal(t, []string{"HTTP/1.1 200 OK", "x-r: comp=1 algo=deflate", "x-a: comp=1 algo=deflate"}, got[:3])
}

// TestInteropProtoHTTPInTCPMatchesHAProxy: in mode tcp, req.proto_http
// tells a whole HTTP request head from other bytes, waiting for the rest
// of a head that is not whole yet, as haproxy's does.
func TestInteropProtoHTTPInTCPMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	names := nameServers(t, 2, false)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    tcp-request inspect-delay 2s
    tcp-request content accept if { req.proto_http }
    tcp-request content accept if { req.len gt 40 }
    use_backend web if { req.proto_http }
    default_backend other
backend web
    server s1 %s
backend other
    server s2 %s
`, port, names[0], names[1])
	}
	run := func(addr string) []string {
		var out []string
		for _, parts := range [][]string{
			{"GET / HTTP/1.1\r\nHost: h\r\n\r\n"},
			{"GET / HTTP/1.1\r\nHo", "st: h\r\n\r\n"},
			{"hello there, this is not an HTTP request at all\r\n\r\n"},
			{"GET /\r\n\r\n"},
		} {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			for i, p := range parts {
				if i > 0 {
					time.Sleep(100 * time.Millisecond) // the first part is inspected alone
				}
				_, err := c.Write([]byte(p))
				require.NoError(t, err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			_ = c.Close()
			out = append(out, strings.TrimSpace(string(b)))
		}
		return out
	}
	want, got := haproxyThenLB(t, cfg, run)
	require.Equal(t, want, got, "the servers haproxy chose, then lb's")
	require.Equal(t, []string{"s1", "s1", "s2"}, got[:3])
}

// TestInteropHTTP2FetchesMatchHAProxy: on HTTP/2, where haproxy turns
// :authority into a Host field and writes the target in absolute form,
// the HTTP fetches read them so, and no stream is a first request.
func TestInteropHTTP2FetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 7s
frontend f
    bind 127.0.0.1:%d proto h2
    http-request return status 200 hdr x-u "uip=%%[url_ip] uport=%%[url_port] pathq=%%[pathq] baseq=%%[baseq] b32=%%[base32] u32=%%[url32] names=%%[req.hdr_names] first=%%[http_first_req]" hdr x-h "%%[req.hdrs,hex]" hdr x-b "%%[req.hdrs_bin,hex]"
`, port)
	}
	run := func(addr string) []string {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
		var out []string
		// Authorities apart from the proxy's own address, whose port
		// differs between the two.
		for _, u := range []string{"http://1.2.3.4:81/a?x=1", "http://name.example/c"} {
			req, err := http.NewRequest("GET", u, nil)
			require.NoError(t, err)
			req.Header.Set("X-T", "1")
			resp, err := c.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			out = append(out, u+" "+resp.Header.Get("X-U"), resp.Header.Get("X-H"), resp.Header.Get("X-B"))
		}
		return out
	}
	want, got := haproxyThenLB(t, cfg, run)
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got[0], "uip=1.2.3.4 uport=81 pathq=/a?x=1 baseq=1.2.3.4:81/a?x=1")
	require.Contains(t, got[0], "first=0")
}

// haproxyThenLB runs the configuration cfg makes for a port under
// haproxy, then under lb (on a port of its own, frontend "f"), and
// returns what run read through each: haproxy's, then lb's.
func haproxyThenLB(t *testing.T, cfg func(port int) string, run func(addr string) []string) (want, got []string) {
	t.Helper()
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	runHAProxy(t, cfg(hp), hpAddr)
	want = run(hpAddr)
	lb, _, _ := startInProcess(t, cfg(0))
	got = run(lb.Addrs("f")[0].String())
	return want, got
}
