package main

import (
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropHelloCaptureFetchesMatchHAProxy: with
// tune.ssl.capture-buffer-size, what a TLS client offered (its hello's
// version, suites, extensions, groups and point formats, the JA3
// fingerprint's parts) reads the same under haproxy and lb, for TLS 1.2
// and 1.3 clients and a buffer that holds part of it; without the
// setting there is nothing to read.
func TestInteropHelloCaptureFetchesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := opensslPKI(t)
	line := `v=%[ssl_fc_protocol_hello_id] bin=%[ssl_fc_cipherlist_bin,hex] bin1=%[ssl_fc_cipherlist_bin(1),hex] ` +
		`hex=%[ssl_fc_cipherlist_hex] str=%[ssl_fc_cipherlist_str] str1=%[ssl_fc_cipherlist_str(1)] xxh=%[ssl_fc_cipherlist_xxh] ` +
		`ext=%[ssl_fc_extlist_bin,hex] ext1=%[ssl_fc_extlist_bin(1),hex] ec=%[ssl_fc_eclist_bin,hex] ec1=%[ssl_fc_eclist_bin(1),hex] ` +
		`ecf=%[ssl_fc_ecformats_bin,hex]`
	clients := map[string]*stdtls.Config{
		"tls12": {InsecureSkipVerify: true, ServerName: "localhost", MaxVersion: stdtls.VersionTLS12,
			CipherSuites:     []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, stdtls.TLS_RSA_WITH_AES_128_CBC_SHA},
			CurvePreferences: []stdtls.CurveID{stdtls.CurveP256, stdtls.X25519}},
		"tls13": {InsecureSkipVerify: true, ServerName: "localhost", MinVersion: stdtls.VersionTLS13,
			CurvePreferences: []stdtls.CurveID{stdtls.X25519}},
	}
	run := func(size string, start func(text string)) map[string]string {
		port := freePorts(t, 1)[0]
		global := ""
		if size != "" {
			global = "global\n    tune.ssl.capture-buffer-size " + size + "\n"
		}
		start(fmt.Sprintf(`%sdefaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d ssl crt %s
    http-request return status 200 content-type text/plain lf-string "%s"
`, global, port, filepath.Join(dir, "server.pem"), strings.ReplaceAll(line, `"`, `\"`)))
		out := map[string]string{}
		for name, cfg := range clients {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg.Clone(), DisableKeepAlives: true}}
			resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
			require.NoError(t, err, name)
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.NoError(t, err)
			out[name] = string(b)
		}
		return out
	}
	for _, size := range []string{"", "96", "10"} {
		want := run(size, func(text string) { startHAProxyReady(t, text) })
		got := run(size, func(text string) { startInProcess(t, text) })
		require.Equal(t, want, got, "capture size %q: haproxy's answers, then lb's", size)
		if size == "" {
			require.Equal(t, "v= bin= bin1= hex= str= str1= xxh= ext= ext1= ec= ec1= ecf=", got["tls12"])
		}
		if size == "96" {
			require.Contains(t, got["tls12"], "v=771 bin=C02FCCA8002F")
			require.Contains(t, got["tls12"], "str=ECDHE-RSA-AES128-GCM-SHA256,ECDHE-RSA-CHACHA20-POLY1305,AES128-SHA ")
			require.Contains(t, got["tls12"], "ec=001D0017 ")
		}
	}
}
