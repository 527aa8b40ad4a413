package main

import (
	stdtls "crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropNoTLSVersionWordsMatchHAProxy: no-tlsv10, no-tlsv11,
// no-tlsv12 and no-tlsv13 on bind and server lines, alone or together in
// any order, leave the same protocol versions under haproxy and lb (a
// lone word used to look like a hole in the range to lb).
func TestInteropNoTLSVersionWordsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "vers")
	crt := pki.issue("site.pem", "localhost", []string{"localhost"}, false, false)
	// The server answers with the version its client negotiated.
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, stdtls.VersionName(r.TLS.Version))
	}))
	backend.TLS = &stdtls.Config{MinVersion: stdtls.VersionTLS10}
	backend.StartTLS()
	t.Cleanup(backend.Close)
	srv := strings.TrimPrefix(backend.URL, "https://")
	binds := []string{"no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11", "no-tlsv11", "no-tlsv11 no-tlsv10", "no-tlsv12", "no-tlsv13 no-tlsv11"}
	servers := []string{"no-tlsv13", "no-tlsv10 no-tlsv11", "no-tlsv12"}
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 1+len(binds)+len(servers))
		var cfg strings.Builder
		fmt.Fprintf(&cfg, `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend probe
    bind 127.0.0.1:%d
    http-request return status 200
`, p[0])
		for i, o := range binds {
			fmt.Fprintf(&cfg, "frontend tls%d\n    bind 127.0.0.1:%d ssl crt %s %s\n    http-request return status 200 content-type text/plain string ok\n", i, p[1+i], crt, o)
		}
		for i, o := range servers {
			fmt.Fprintf(&cfg, "listen out%d\n    bind 127.0.0.1:%d\n    server s %s ssl verify none %s\n", i, p[1+len(binds)+i], srv, o)
		}
		start(cfg.String())
		for i, o := range binds {
			for _, max := range []uint16{stdtls.VersionTLS11, stdtls.VersionTLS12, stdtls.VersionTLS13} {
				d := &net.Dialer{Timeout: 5 * time.Second}
				c, err := stdtls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", p[1+i]), &stdtls.Config{
					InsecureSkipVerify: true, MinVersion: stdtls.VersionTLS10, MaxVersion: max})
				res := "refused"
				if err == nil {
					res = stdtls.VersionName(c.ConnectionState().Version)
					_ = c.Close()
				}
				got = append(got, fmt.Sprintf("bind %q, client up to %s: %s", o, stdtls.VersionName(max), res))
			}
		}
		client := &http.Client{Timeout: 5 * time.Second}
		for i, o := range servers {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", p[1+len(binds)+i]))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("server %q: %d %s", o, resp.StatusCode, body))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the versions under haproxy, then lb")
	require.Equal(t, `bind "no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11", client up to TLS 1.1: refused`, got[0])
	require.Equal(t, `server "no-tlsv13": 200 TLS 1.2`, got[len(got)-3])
}

// TestInteropCAVerifyFileMatchesHAProxy: a bind line's ca-verify-file
// CAs verify client certificates without being named in the
// certificate request, which names only ca-file's, under haproxy and
// lb.
func TestInteropCAVerifyFileMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	named, hidden, other := newPKI(t, "named"), newPKI(t, "hidden"), newPKI(t, "other")
	crt := named.issue("site.pem", "localhost", []string{"localhost"}, false, false)
	clients := map[string]string{
		"named":  named.issue("c1.pem", "client-named", nil, false, true),
		"hidden": hidden.issue("c2.pem", "client-hidden", nil, false, true),
		"other":  other.issue("c3.pem", "client-other", nil, false, true),
		"none":   "",
	}
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend probe
    bind 127.0.0.1:%d
    http-request return status 200
frontend tls
    bind 127.0.0.1:%d ssl crt %s verify required ca-file %s ca-verify-file %s
    http-request return status 200 content-type text/plain string ok
`, p[0], p[1], crt, named.caFile, hidden.caFile))
		for _, who := range []string{"named", "hidden", "other", "none"} {
			var asked []string
			cfg := &stdtls.Config{InsecureSkipVerify: true, GetClientCertificate: func(cri *stdtls.CertificateRequestInfo) (*stdtls.Certificate, error) {
				for _, dn := range cri.AcceptableCAs {
					var rdn pkix.RDNSequence
					if _, err := asn1.Unmarshal(dn, &rdn); err == nil {
						var name pkix.Name
						name.FillFromRDNSequence(&rdn)
						asked = append(asked, name.CommonName)
					}
				}
				if clients[who] == "" {
					return &stdtls.Certificate{}, nil
				}
				c, err := stdtls.LoadX509KeyPair(clients[who], clients[who])
				return &c, err
			}}
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
			res := "refused"
			resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/", p[1]))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				res = fmt.Sprintf("%d %s", resp.StatusCode, body)
			}
			got = append(got, fmt.Sprintf("%s: %s, asked for %v", who, res, asked))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's verdicts, then lb's")
	require.Equal(t, "hidden: 200 ok, asked for [named]", got[1])
}
