package main

import (
	"bufio"
	"bytes"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"

	"github.com/stretchr/testify/require"
)

// tapHello returns, in upper-case hexadecimal, the random and the session
// id of the first hello of type typ in the plaintext records of raw.
func tapHello(t *testing.T, raw []byte, typ byte) (random, sid string) {
	t.Helper()
	r, id := testnet.HelloIDs(t, raw, typ)
	return fmt.Sprintf("%X", r), fmt.Sprintf("%X", id)
}

// keyLogLines maps an NSS key log's labels to their secrets.
func keyLogLines(log string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(log, "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			m[f[0]] = f[2]
		}
	}
	return m
}

const keyLogFormat = `cr=%[ssl_fc_client_random,hex] sr=%[ssl_fc_server_random,hex] sid=%[ssl_fc_session_id,hex] sk=%[ssl_fc_session_key,hex] ` +
	`chts=%[ssl_fc_client_handshake_traffic_secret] shts=%[ssl_fc_server_handshake_traffic_secret] ` +
	`cts0=%[ssl_fc_client_traffic_secret_0] sts0=%[ssl_fc_server_traffic_secret_0] ` +
	`exp=%[ssl_fc_exporter_secret] cets=%[ssl_fc_client_early_traffic_secret] eexp=%[ssl_fc_early_exporter_secret]`

// The key material fetches give what the client itself knows of its
// connection (the randoms of the hellos it saw, the TLS 1.2 session id it
// received, its key log; a resumed TLS 1.2 session's master secret is
// the first connection's), under haproxy and lb, TLS 1.2 and 1.3, with
// and without tune.ssl.keylog; the TLS 1.3 secrets only with it. Where
// haproxy gives what OpenSSL keeps to itself (TLS 1.3's session id,
// session key and exporter secret), it has the length OpenSSL's has and
// lb none.
func TestInteropKeyLogFetchesMatchClient(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "fe")
	pem := pki.issue("fe.pem", "localhost", []string{"localhost"}, false, false)
	for _, keylog := range []bool{false, true} {
		for _, lb := range []bool{false, true} {
			p := freePorts(t, 1)
			global := ""
			if keylog {
				global = "global\n    tune.ssl.keylog on\n"
			}
			text := fmt.Sprintf(`%sdefaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d ssl crt %s curves P-256
    http-request return status 200 content-type text/plain lf-string "%s"
`, global, p[0], pem, keyLogFormat)
			if lb {
				startInProcess(t, text)
			} else {
				startHAProxyReady(t, text)
			}
			for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
				cache := stdtls.NewLRUClientSessionCache(1)
				master := ""
				for i := range 2 {
					name := fmt.Sprintf("lb=%v keylog=%v %x #%d", lb, keylog, v, i)
					raw, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]))
					require.NoError(t, err)
					w := &testnet.Tap{Conn: raw}
					var log bytes.Buffer
					c := stdtls.Client(w, &stdtls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v, KeyLogWriter: &log, ClientSessionCache: cache})
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
					require.NoError(t, err)
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					require.NoError(t, err, name)
					body, _ := io.ReadAll(resp.Body)
					_ = c.Close()
					require.Equal(t, i == 1, c.ConnectionState().DidResume, name)
					got := map[string]string{}
					for _, f := range strings.Fields(string(body)) {
						k, val, _ := strings.Cut(f, "=")
						got[k] = val
					}
					cr, _ := tapHello(t, w.Out.Bytes(), 1)
					sr, sid := tapHello(t, w.In.Bytes(), 2)
					kl := keyLogLines(log.String())
					want := map[string]string{"cr": cr, "sr": sr, "sid": "", "sk": "", "chts": "", "shts": "", "cts0": "", "sts0": "", "exp": "", "cets": "", "eexp": ""}
					if v == stdtls.VersionTLS12 {
						want["sid"] = sid
						if i == 0 {
							master = strings.ToUpper(kl["CLIENT_RANDOM"])
							require.NotEmpty(t, master)
						}
						want["sk"] = master
					} else {
						if keylog {
							want["chts"], want["shts"] = kl["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], kl["SERVER_HANDSHAKE_TRAFFIC_SECRET"]
							want["cts0"], want["sts0"] = kl["CLIENT_TRAFFIC_SECRET_0"], kl["SERVER_TRAFFIC_SECRET_0"]
						}
						if !lb {
							// OpenSSL's own session id and
							// resumption secret, and the exporter
							// secret, which the client cannot check.
							require.Len(t, got["sid"], 64, name)
							require.Contains(t, []int{64, 96}, len(got["sk"]), name)
							want["sid"], want["sk"] = got["sid"], got["sk"]
							if keylog {
								require.Contains(t, []int{64, 96}, len(got["exp"]), name)
								want["exp"] = got["exp"]
							}
						}
					}
					require.Equal(t, want, got, name)
				}
			}
		}
	}
}

// The ssl_bc_* key material fetches give what the server, a Go TLS server
// logging its keys, knows of the connection the proxy made to it: the
// randoms, the TLS 1.2 session id it sent and master secret (the first
// connection's on a resumption), under haproxy and lb.
func TestInteropBackKeyLogFetchesMatchServer(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "be")
	pem := pki.issue("be.pem", "localhost", []string{"localhost"}, false, false)
	cert, err := stdtls.LoadX509KeyPair(pem, pem)
	require.NoError(t, err)
	for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
		base := &stdtls.Config{Certificates: []stdtls.Certificate{cert}, MaxVersion: v, CurvePreferences: []stdtls.CurveID{stdtls.CurveP256}}
		base.SetSessionTicketKeys([][32]byte{{1}})
		var master string
		// Each connection answers with what the server saw of it.
		srv := serveEach(t, func(raw net.Conn) {
			w := &testnet.Tap{Conn: raw}
			var log bytes.Buffer
			cfg := base.Clone()
			cfg.KeyLogWriter = &log
			c := stdtls.Server(w, cfg)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if c.Handshake() != nil {
				return
			}
			cr, _ := tapHello(t, w.In.Bytes(), 1)
			sr, sid := tapHello(t, w.Out.Bytes(), 2)
			kl := keyLogLines(log.String())
			line := fmt.Sprintf("cr=%s sr=%s", cr, sr)
			if v == stdtls.VersionTLS12 {
				if !c.ConnectionState().DidResume {
					master = strings.ToUpper(kl["CLIENT_RANDOM"])
				}
				line += fmt.Sprintf(" sid=%s sk=%s", sid, master)
			} else {
				line += " sid= sk="
			}
			br := bufio.NewReader(c)
			for {
				l, err := br.ReadString('\n')
				if err != nil || l == "\r\n" {
					break
				}
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(line), line)
		})
		for _, lb := range []bool{false, true} {
			p := freePorts(t, 1)
			text := fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    http-reuse never
frontend f
    bind 127.0.0.1:%d
    http-response set-header X-Keys "cr=%%[ssl_bc_client_random,hex] sr=%%[ssl_bc_server_random,hex] sid=%%[ssl_bc_session_id,hex] sk=%%[ssl_bc_session_key,hex]"
    default_backend b
backend b
    server s %s ssl verify none
`, p[0], srv)
			if lb {
				startInProcess(t, text)
			} else {
				startHAProxyReady(t, text)
			}
			for i := range 2 {
				name := fmt.Sprintf("lb=%v %x #%d", lb, v, i)
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", p[0]))
				require.NoError(t, err, name)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				got := resp.Header.Get("X-Keys")
				if v == stdtls.VersionTLS12 && !lb {
					// With a ticket, an OpenSSL client names
					// the session with a hash of the ticket,
					// not with the id on the wire.
					f := strings.Fields(got)
					require.Len(t, f, 4, name)
					require.Len(t, f[2], len("sid=")+64, name)
					_, wsid, _ := strings.Cut(string(body), " sid=")
					wsid, _, _ = strings.Cut(wsid, " ")
					got = strings.Replace(got, f[2], "sid="+wsid, 1)
				}
				if v == stdtls.VersionTLS13 && !lb {
					// OpenSSL's own session id and resumption
					// secret, which the server never sees.
					f := strings.Fields(got)
					require.Len(t, f, 4, name)
					require.Len(t, f[2], len("sid=")+64, name)
					require.Contains(t, []int{64, 96}, len(f[3])-len("sk="), name+": the suite's hash size")
					got = f[0] + " " + f[1] + " sid= sk="
				}
				require.Equal(t, string(body), strings.TrimSpace(got), name)
			}
		}
	}
}
